//! Error mapping, retries, idempotency and rate limiting, over a fake transport.

mod common;

use std::str::FromStr;

use ballast_core::planner::Side;
use ballast_core::{Price, Qty, Span};
use ballast_exchange::{ClientOrderId, Exchange, ExchangeError, OrderKind, OrderRequest, OrderStatus};
use ballast_gate::{HttpResponse, KeyCheck, Method, TransportError, sign};
use common::*;
use rust_decimal::Decimal;
use serde_json::json;

fn limit_buy(id: &str) -> OrderRequest {
    OrderRequest {
        client_id: ClientOrderId::new(id).unwrap(),
        base: asset("BTC"),
        quote: asset("USDT"),
        side: Side::Buy,
        qty: Qty(Decimal::from_str("0.001").unwrap()),
        kind: OrderKind::Limit { price: Price(Decimal::from(50_000)) },
        expires_at: None,
    }
}

fn accepted(text: &str) -> String {
    order_json("777", text, "BTC_USDT", "buy", "limit", "0.001", "50000", "0.001", "open", "open").to_string()
}

fn err_body(label: &str) -> String {
    format!(r#"{{"label":"{label}","message":"msg {label}"}}"#)
}

fn posts(env: &Env) -> usize {
    env.fake.requests().iter().filter(|r| r.method == Method::Post).count()
}

/// POST /spot/orders answered with `answer`: what place() returns.
fn place_with(
    answer: Result<HttpResponse, TransportError>,
) -> (Result<ballast_exchange::OrderReport, ExchangeError>, Env) {
    let env = common::env();
    unknown_order(&env.fake, "t-o1");
    env.fake.on(Method::Post, "/spot/orders", answer);
    let r = env.gate.place(&limit_buy("o1"));
    (r, env)
}

#[test]
fn place_error_table() {
    let api = |status: u16, label: &str| Ok(HttpResponse::new(status, err_body(label)));
    let cases: Vec<(Result<HttpResponse, TransportError>, &str)> = vec![
        (api(400, "BALANCE_NOT_ENOUGH"), "Rejected"),
        (api(400, "INVALID_PARAM_VALUE"), "Rejected"),
        (api(400, "INVALID_PRECISION"), "Rejected"),
        (api(400, "INVALID_AMOUNT"), "Rejected"),
        (api(401, "INVALID_KEY"), "Auth"),
        (api(401, "INVALID_SIGNATURE"), "Auth"),
        (api(403, "FORBIDDEN"), "Auth"),
        (api(400, "INVALID_CURRENCY_PAIR"), "NotFound"),
        (api(429, "TOO_MANY_REQUESTS"), "RateLimited"),
        (api(500, "SERVER_ERROR"), "OutcomeUnknown"),
        (Ok(HttpResponse::new(502, "<html>bad gateway</html>")), "OutcomeUnknown"),
        (Ok(HttpResponse::new(200, "not json")), "OutcomeUnknown"),
        (Err(TransportError::MaybeSent("timeout".into())), "OutcomeUnknown"),
        (Err(TransportError::NotSent("connect timeout".into())), "Unavailable"),
        (Err(TransportError::NotSent("refused".into())), "Unavailable"),
    ];
    for (answer, want) in cases {
        let shown = format!("{answer:?}");
        let (r, env) = place_with(answer);
        let e = r.unwrap_err();
        let kind = match &e {
            ExchangeError::Rejected(m) => {
                assert!(m.contains("msg"), "{m}");
                "Rejected"
            }
            ExchangeError::Auth(_) => "Auth",
            ExchangeError::NotFound(_) => "NotFound",
            ExchangeError::RateLimited { .. } => "RateLimited",
            ExchangeError::OutcomeUnknown(_) => "OutcomeUnknown",
            ExchangeError::Unavailable(_) => "Unavailable",
            ExchangeError::Duplicate(_) => "Duplicate",
        };
        assert_eq!(kind, want, "{shown} -> {e:?}");
        assert_eq!(posts(&env), 1, "the adapter never resends a POST: {shown}");
    }
}

#[test]
fn rejected_message_carries_label() {
    let (r, _) = place_with(Ok(HttpResponse::new(400, err_body("BALANCE_NOT_ENOUGH"))));
    assert_eq!(r.unwrap_err(), ExchangeError::Rejected("BALANCE_NOT_ENOUGH: msg BALANCE_NOT_ENOUGH".into()));
}

#[test]
fn read_errors_are_unavailable_not_unknown() {
    for answer in [
        Ok(HttpResponse::new(503, err_body("SERVER_ERROR"))),
        Err(TransportError::MaybeSent("timeout".into())),
        Ok(HttpResponse::new(200, "{oops")),
    ] {
        let env = common::env();
        env.fake.on(Method::Get, "/spot/accounts", answer);
        assert!(matches!(env.gate.balances(), Err(ExchangeError::Unavailable(_))));
    }
}

#[test]
fn retry_after_and_default_wait() {
    let env = common::env();
    env.fake.on(
        Method::Get,
        "/spot/accounts",
        Ok(HttpResponse::new(429, err_body("TOO_MANY_REQUESTS")).with_header("Retry-After", "3")),
    );
    assert_eq!(env.gate.balances(), Err(ExchangeError::RateLimited { retry_after_ms: 3000 }));
    let env = env_with(|c| c.default_retry_after_ms = 1234);
    env.fake.json(Method::Get, "/spot/accounts", 429, "");
    assert_eq!(env.gate.balances(), Err(ExchangeError::RateLimited { retry_after_ms: 1234 }));
}

#[test]
fn expired_request_resyncs_and_retries_once() {
    let env = common::env();
    unknown_order(&env.fake, "t-o1");
    env.fake.json(Method::Post, "/spot/orders", 400, &err_body("REQUEST_EXPIRED"));
    env.fake.json(Method::Post, "/spot/orders", 201, &accepted("t-o1"));
    let r = env.gate.place(&limit_buy("o1")).unwrap();
    assert_eq!(r.status, OrderStatus::New);
    assert_eq!(r.venue_id, "777");
    assert_eq!(posts(&env), 2);
    let syncs = env.fake.requests().iter().filter(|r| r.url.ends_with("/spot/time")).count();
    assert_eq!(syncs, 2, "initial sync + resync");

    // Expired twice: give up after one retry.
    let env = common::env();
    unknown_order(&env.fake, "t-o1");
    env.fake.json(Method::Post, "/spot/orders", 400, &err_body("REQUEST_EXPIRED"));
    assert!(matches!(env.gate.place(&limit_buy("o1")), Err(ExchangeError::Unavailable(_))));
    assert_eq!(posts(&env), 2);
}

#[test]
fn query_not_found_is_none_and_found_by_text() {
    let env = common::env();
    unknown_order(&env.fake, "t-nope");
    assert_eq!(env.gate.query(&ClientOrderId::new("nope").unwrap(), &asset("BTC"), &asset("USDT")), Ok(None));

    // Gate no longer answers by text for a finished order: found in the finished list.
    let env = common::env();
    env.fake.json(Method::Get, "/spot/orders/t-old", 404, &err_body("ORDER_NOT_FOUND"));
    let done = order_json("55", "t-old", "BTC_USDT", "sell", "limit", "0.5", "60000", "0", "closed", "filled");
    let other = order_json("56", "t-other", "BTC_USDT", "sell", "limit", "0.5", "60000", "0", "closed", "filled");
    env.fake.json(Method::Get, "/spot/orders", 200, &format!("[{other},{done}]"));
    let trades = r#"[{"id":"1","create_time_ms":"1700000000000.5","amount":"0.5","price":"60000","fee":"30","fee_currency":"USDT"}]"#;
    env.fake.json(Method::Get, "/spot/my_trades", 200, trades);
    let r = env.gate.query(&ClientOrderId::new("old").unwrap(), &asset("BTC"), &asset("USDT")).unwrap().unwrap();
    assert_eq!(
        (r.venue_id.as_str(), r.status, r.filled.0),
        ("55", OrderStatus::Filled, Decimal::from_str("0.5").unwrap())
    );
    assert_eq!(r.fills.len(), 1);
    assert_eq!(r.fills[0].time.0, 1_700_000_000_000);
    // Now the Gate id is known: the next query asks by id.
    env.fake.json(Method::Get, "/spot/orders/55", 200, &done.to_string());
    env.gate.query(&ClientOrderId::new("old").unwrap(), &asset("BTC"), &asset("USDT")).unwrap().unwrap();
    assert!(sent(&env.fake).last().is_some_and(|r| path(&r.url) == "/spot/my_trades"));
    assert!(sent(&env.fake).iter().any(|r| path(&r.url) == "/spot/orders/55"));
}

#[test]
fn an_existing_client_id_is_a_duplicate_and_nothing_is_sent() {
    let env = common::env();
    env.fake.json(Method::Get, "/spot/orders/t-o1", 200, &accepted("t-o1"));
    assert_eq!(env.gate.place(&limit_buy("o1")), Err(ExchangeError::Duplicate("o1".into())));
    assert_eq!(posts(&env), 0);
}

#[test]
fn signed_requests_carry_key_timestamp_and_signature() {
    let env = common::env();
    unknown_order(&env.fake, "t-o1");
    env.fake.json(Method::Post, "/spot/orders", 201, &accepted("t-o1"));
    env.gate.place(&limit_buy("o1")).unwrap();
    for r in sent(&env.fake) {
        let ts: i64 = header(&r, "Timestamp").unwrap().parse().unwrap();
        assert_eq!(ts, T0 / 1000);
        assert_eq!(header(&r, "KEY"), Some("test-key"));
        let query = r.url.split_once('?').map(|(_, q)| q).unwrap_or("");
        let p = format!("/api/v4{}", path(&r.url));
        let want = sign("test-secret", r.method.as_str(), &p, query, &r.body, ts);
        assert_eq!(header(&r, "SIGN"), Some(want.as_str()), "{}", r.url);
    }
    // Public endpoints are not signed.
    let time = env.fake.requests().into_iter().find(|r| r.url.ends_with("/spot/time")).unwrap();
    assert!(header(&time, "SIGN").is_none() && header(&time, "KEY").is_none());
}

#[test]
fn local_order_budget_refuses_before_sending() {
    let env = env_with(|c| c.orders_per_sec = 2);
    for id in ["a", "b", "c"] {
        unknown_order(&env.fake, &format!("t-{id}"));
    }
    env.fake.json(Method::Post, "/spot/orders", 201, &accepted("t-x"));
    env.gate.place(&limit_buy("a")).unwrap();
    env.gate.place(&limit_buy("b")).unwrap();
    assert_eq!(env.gate.place(&limit_buy("c")), Err(ExchangeError::RateLimited { retry_after_ms: 1000 }));
    assert_eq!(posts(&env), 2);
    env.clock.advance(Span::from_secs(1));
    env.gate.place(&limit_buy("c")).unwrap();
    assert_eq!(posts(&env), 3);
}

#[test]
fn exhausted_venue_window_blocks_until_reset() {
    let env = common::env();
    let reset_s = (T0 + 5_000) / 1000;
    let resp = HttpResponse::new(200, "[]")
        .with_header("X-Gate-RateLimit-Requests-Remain", "0")
        .with_header("X-Gate-RateLimit-Reset-Timestamp", &reset_s.to_string());
    env.fake.on(Method::Get, "/spot/accounts", Ok(resp));
    env.gate.balances().unwrap();
    let n = env.fake.requests().len();
    assert_eq!(env.gate.balances(), Err(ExchangeError::RateLimited { retry_after_ms: 5_000 }));
    assert_eq!(env.fake.requests().len(), n, "nothing sent");
    env.clock.advance(Span::from_secs(5));
    assert!(env.gate.balances().is_ok());
}

#[test]
fn cancel_maps_states_and_errors() {
    let open = order_json("8", "t-c", "BTC_USDT", "buy", "limit", "1", "10", "0.4", "open", "open");
    let trades =
        r#"[{"id":"1","create_time":"1700000000","amount":"0.6","price":"10","fee":"0.001","fee_currency":"BTC"}]"#;
    // Partially filled then cancelled.
    let env = common::env();
    env.fake.json(Method::Get, "/spot/orders/t-c", 200, &open.to_string());
    env.fake.json(Method::Get, "/spot/my_trades", 200, trades);
    let cancelled = order_json("8", "t-c", "BTC_USDT", "buy", "limit", "1", "10", "0.4", "cancelled", "cancelled");
    env.fake.json(Method::Delete, "/spot/orders/8", 200, &cancelled.to_string());
    let r = env.gate.cancel(&ClientOrderId::new("c").unwrap(), &asset("BTC"), &asset("USDT")).unwrap();
    assert_eq!((r.status, r.filled.0, r.fills.len()), (OrderStatus::Canceled, Decimal::from_str("0.6").unwrap(), 1));
    assert_eq!(r.fills[0].time.0, 1_700_000_000_000);

    // Cancel after a 5xx: outcome unknown.
    let env = common::env();
    env.fake.json(Method::Get, "/spot/orders/t-c", 200, &open.to_string());
    env.fake.json(Method::Get, "/spot/my_trades", 200, trades);
    env.fake.json(Method::Delete, "/spot/orders/8", 500, &err_body("SERVER_ERROR"));
    assert!(matches!(
        env.gate.cancel(&ClientOrderId::new("c").unwrap(), &asset("BTC"), &asset("USDT")),
        Err(ExchangeError::OutcomeUnknown(_))
    ));

    // Unknown order: NotFound.
    let env = common::env();
    unknown_order(&env.fake, "t-zz");
    assert!(matches!(
        env.gate.cancel(&ClientOrderId::new("zz").unwrap(), &asset("BTC"), &asset("USDT")),
        Err(ExchangeError::NotFound(_))
    ));

    // Already final: returned as is, nothing deleted.
    let env = common::env();
    let done = order_json("8", "t-c", "BTC_USDT", "buy", "limit", "1", "10", "0", "closed", "filled");
    env.fake.json(Method::Get, "/spot/orders/t-c", 200, &done.to_string());
    env.fake.json(Method::Get, "/spot/my_trades", 200, trades);
    let r = env.gate.cancel(&ClientOrderId::new("c").unwrap(), &asset("BTC"), &asset("USDT")).unwrap();
    assert_eq!(r.status, OrderStatus::Filled);
    assert!(env.fake.requests().iter().all(|r| r.method != Method::Delete));
}

#[test]
fn statuses_map_from_status_and_finish_as() {
    use ballast_gate::wire::parse_order;
    let (b, q) = (asset("BTC"), asset("USDT"));
    let st = |status: &str, finish: &str, left: &str| {
        let v = order_json("1", "t-s", "BTC_USDT", "sell", "limit", "1", "10", left, status, finish);
        parse_order(&v, &b, &q, vec![]).unwrap().status
    };
    assert_eq!(st("open", "open", "1"), OrderStatus::New);
    assert_eq!(st("open", "open", "0.5"), OrderStatus::PartiallyFilled);
    assert_eq!(st("closed", "filled", "0"), OrderStatus::Filled);
    assert_eq!(st("cancelled", "cancelled", "1"), OrderStatus::Canceled);
    assert_eq!(st("cancelled", "stp", "1"), OrderStatus::Canceled);
    assert_eq!(st("cancelled", "ioc", "0.5"), OrderStatus::Expired);
    assert_eq!(st("cancelled", "small", "0.1"), OrderStatus::Expired);
}

#[test]
fn balances_and_key_check() {
    let env = common::env();
    let body = r#"[{"currency":"BTC","available":"0.5","locked":"0.1"},{"currency":"USDT","available":"100","locked":"0"},{"currency":"not a valid asset name!","available":"1","locked":"0"}]"#;
    env.fake.json(Method::Get, "/spot/accounts", 200, body);
    let b = env.gate.balances().unwrap();
    assert_eq!(b.len(), 2);
    assert_eq!(b[&asset("BTC")].free.0, Decimal::from_str("0.5").unwrap());
    assert_eq!(b[&asset("BTC")].locked.0, Decimal::from_str("0.1").unwrap());
    assert!(matches!(env.gate.check_key(), Ok(KeyCheck::Unknown(m)) if m.contains("cannot withdraw")));

    let env = common::env();
    env.fake.json(Method::Get, "/spot/accounts", 401, &err_body("INVALID_KEY"));
    assert!(matches!(env.gate.check_key(), Err(ExchangeError::Auth(_))));
}

#[test]
fn config_debug_redacts_secrets() {
    let c = ballast_gate::GateConfig::new("my-api-key-123", "my-secret-456");
    let s = format!("{c:?}");
    assert!(!s.contains("my-api-key-123") && !s.contains("my-secret-456"), "{s}");
    let env = common::env();
    let s = format!("{:?}", env.gate);
    assert!(!s.contains("test-secret") && !s.contains("test-key"), "{s}");
}

#[test]
fn client_id_fits_gate_text() {
    let id = ClientOrderId::new(&"x".repeat(26)).unwrap();
    let text = ballast_gate::wire::text_of(&id);
    assert!(text.starts_with("t-") && text.len() <= 28);
}

fn deadline_buy(id: &str, ms_after_t0: i64) -> OrderRequest {
    OrderRequest { expires_at: Some(ballast_core::Timestamp(T0 + ms_after_t0)), ..limit_buy(id) }
}

/// An order's deadline travels as `X-Gate-Exptime` on the server's clock, so Gate
/// refuses the request after it; an order whose deadline has passed is not sent.
#[test]
fn the_deadline_is_the_exptime_header_and_a_passed_one_sends_nothing() {
    let env = common::env();
    unknown_order(&env.fake, "t-o1");
    env.fake.json(Method::Post, "/spot/orders", 201, &accepted("t-o1"));
    env.gate.place(&deadline_buy("o1", 30_000)).unwrap();
    let post = env.fake.requests().into_iter().find(|r| r.method == Method::Post).unwrap();
    // The fake server's clock equals ours (offset 0).
    assert_eq!(header(&post, "X-Gate-Exptime"), Some((T0 + 30_000).to_string().as_str()));
    env.clock.advance(Span::from_secs(31));
    let e = env.gate.place(&deadline_buy("o2", 30_000)).unwrap_err();
    assert!(matches!(&e, ExchangeError::Unavailable(m) if m.contains("acceptance window")), "{e:?}");
    assert_eq!(posts(&env), 1);
}

/// A query that knows when the order was sent searches the finished orders of that
/// time, not just the last 100 of the pair (which a busy pair pushes an old fill out of).
#[test]
fn a_query_by_request_searches_its_time_window() {
    let env = common::env();
    unknown_order(&env.fake, "t-o1");
    let found = order_json("9", "t-o1", "BTC_USDT", "buy", "limit", "0.001", "50000", "0", "closed", "filled");
    env.fake.json(Method::Get, "/spot/orders", 200, &json!([found]).to_string());
    env.fake.json(Method::Get, "/spot/my_trades", 200, "[]");
    let r = env.gate.query_order(&deadline_buy("o1", 30_000));
    let list = env.fake.requests().into_iter().find(|r| path(&r.url) == "/spot/orders").unwrap();
    let p = params(&list.url);
    assert_eq!(p["status"], "finished");
    // From a minute before the window (5 s before the deadline) to a minute after it.
    assert_eq!(p["from"], ((T0 + 30_000 - 5_000 - 60_000) / 1000).to_string());
    assert_eq!(p["to"], ((T0 + 90_000) / 1000 + 1).to_string());
    assert!(r.is_ok(), "{r:?}");
}

/// After a 429 every bot of the venue stays quiet until the wait has passed: nothing
/// is sent meanwhile.
#[test]
fn a_429_keeps_every_call_quiet_until_it_ends() {
    let env = common::env();
    env.fake.on(
        Method::Get,
        "/spot/accounts",
        Ok(HttpResponse::new(429, err_body("TOO_MANY_REQUESTS")).with_header("Retry-After", "4")),
    );
    env.fake.json(Method::Get, "/spot/accounts", 200, "[]");
    assert_eq!(env.gate.balances(), Err(ExchangeError::RateLimited { retry_after_ms: 4000 }));
    let before = env.fake.count();
    env.clock.advance(Span::from_secs(1));
    assert_eq!(env.gate.place(&limit_buy("o1")), Err(ExchangeError::RateLimited { retry_after_ms: 3000 }));
    assert_eq!(env.fake.count(), before, "nothing sent during the quiet period");
    env.clock.advance(Span::from_secs(3));
    env.gate.balances().unwrap();
}

/// The real transport, against a server that reads the order and hangs up: the
/// outcome is unknown. (Gate used to take errors it did not list for "not sent", and
/// the engine then gave the order up for good.)
#[test]
fn a_connection_lost_after_the_order_left_is_an_unknown_outcome() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        for conn in listener.incoming() {
            let mut s = conn.unwrap();
            let mut buf = [0u8; 8192];
            let n = s.read(&mut buf).unwrap();
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            let line = req.lines().next().unwrap_or_default().to_string();
            let (status, body) = if line.starts_with("POST") {
                return req; // the order: read, then hang up without a word
            } else if line.contains("/spot/time") {
                ("200 OK", json!({"server_time": T0}).to_string())
            } else if line.contains("/spot/orders/") {
                ("404 Not Found", err_body("ORDER_NOT_FOUND"))
            } else {
                ("200 OK", "[]".to_string())
            };
            let _ = write!(s, "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        }
        String::new()
    });
    let mut config = ballast_gate::GateConfig::new("k", "s");
    config.base_url = format!("http://127.0.0.1:{port}/api/v4");
    let gate = ballast_gate::Gate::new(
        config,
        std::sync::Arc::new(ballast_gate::UreqTransport::new(std::time::Duration::from_secs(5))),
        std::sync::Arc::new(ballast_exchange::ManualClock::new(ballast_core::Timestamp(T0))),
    );
    let r = gate.place(&limit_buy("o1"));
    assert!(server.join().unwrap().starts_with("POST /api/v4/spot/orders"));
    assert!(matches!(r, Err(ExchangeError::OutcomeUnknown(_))), "{r:?}");
}

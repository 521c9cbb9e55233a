//! Error mapping, rate limits, time resync, signing on the wire and key checks, all
//! against a scripted fake transport.

mod common;

use ballast_binance::{BinanceConfig, TransportError, sign};
use ballast_core::planner::Side;
use ballast_core::{Asset, Price, Qty, Span};
use ballast_exchange::{ClientOrderId, Exchange, ExchangeError, OrderKind, OrderRequest, OrderStatus};
use common::*;
use rust_decimal_macros::dec;
use serde_json::json;

fn a(s: &str) -> Asset {
    Asset::new(s).unwrap()
}

fn cid() -> ClientOrderId {
    ClientOrderId::new("bl1-2-3").unwrap()
}

fn order() -> OrderRequest {
    OrderRequest {
        client_id: cid(),
        base: a("BTC"),
        quote: a("USDT"),
        side: Side::Buy,
        qty: Qty(dec!(0.001)),
        kind: OrderKind::Market,
        expires_at: None,
    }
}

fn err(code: i64, msg: &str) -> String {
    json!({"code": code, "msg": msg}).to_string()
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Place,
    Query,
    Cancel,
    Balances,
}

fn run(op: Op, reply: Result<ballast_binance::HttpResponse, TransportError>) -> (Result<(), ExchangeError>, usize) {
    let (b, fake, _) = setup();
    fake.push(reply);
    let r = match op {
        Op::Place => b.place(&order()).map(|_| ()),
        Op::Query => b.query(&cid(), &a("BTC"), &a("USDT")).map(|o| assert!(o.is_none(), "expected None")),
        Op::Cancel => b.cancel(&cid(), &a("BTC"), &a("USDT")).map(|_| ()),
        Op::Balances => b.balances().map(|_| ()),
    };
    (r, fake.count())
}

#[test]
fn error_mapping_table() {
    use ExchangeError as E;
    type Check = fn(&E) -> bool;
    let rejected: Check = |e| matches!(e, E::Rejected(_));
    type Case = (Op, u16, String, Vec<(&'static str, &'static str)>, Check, &'static str);
    let cases: Vec<Case> = vec![
        (
            Op::Place,
            400,
            err(-2010, "Account has insufficient balance for requested action."),
            vec![],
            rejected,
            "-2010",
        ),
        (Op::Place, 400, err(-1013, "Filter failure: NOTIONAL"), vec![], rejected, "-1013"),
        (Op::Place, 400, err(-1111, "Parameter 'quantity' has too much precision."), vec![], rejected, "-1111"),
        (Op::Place, 400, err(-1100, "Illegal characters found in parameter 'quantity'."), vec![], rejected, "-1100"),
        (Op::Place, 400, err(-2010, "Duplicate order sent."), vec![], |e| *e == E::Duplicate("bl1-2-3".into()), ""),
        (Op::Cancel, 400, err(-2011, "Unknown order sent."), vec![], |e| matches!(e, E::NotFound(_)), "-2011"),
        (
            Op::Balances,
            401,
            err(-2015, "Invalid API-key, IP, or permissions for action."),
            vec![],
            |e| matches!(e, E::Auth(_)),
            "",
        ),
        (Op::Balances, 400, err(-2014, "API-key format invalid."), vec![], |e| matches!(e, E::Auth(_)), "-2014"),
        (
            Op::Balances,
            400,
            err(-2015, "Invalid API-key, IP, or permissions for action."),
            vec![],
            |e| matches!(e, E::Auth(_)),
            "-2015",
        ),
        (
            Op::Balances,
            429,
            err(-1003, "Too many requests"),
            vec![("Retry-After", "7")],
            |e| *e == E::RateLimited { retry_after_ms: 7000 },
            "",
        ),
        (
            Op::Place,
            418,
            err(-1003, "Way too many requests; IP banned"),
            vec![("retry-after", "120")],
            |e| *e == E::RateLimited { retry_after_ms: 120_000 },
            "",
        ),
        (
            Op::Balances,
            429,
            err(-1003, "Too many requests"),
            vec![],
            |e| *e == E::RateLimited { retry_after_ms: 60_000 },
            "",
        ),
        (Op::Place, 503, "Service Unavailable".into(), vec![], |e| matches!(e, E::OutcomeUnknown(_)), "503"),
        (
            Op::Place,
            500,
            err(-1007, "Timeout waiting for response from backend server."),
            vec![],
            |e| matches!(e, E::OutcomeUnknown(_)),
            "-1007",
        ),
        (Op::Cancel, 502, "Bad Gateway".into(), vec![], |e| matches!(e, E::OutcomeUnknown(_)), ""),
        (Op::Balances, 503, "Service Unavailable".into(), vec![], |e| matches!(e, E::Unavailable(_)), ""),
    ];
    for (op, status, body, headers, check, needle) in cases {
        let (r, sent) = run(op, Ok(resp(status, &body, &headers)));
        let e = r.expect_err(&format!("{op:?} {status} {body}"));
        assert!(check(&e), "{op:?} {status} {body} -> {e:?}");
        assert!(e.to_string().contains(needle), "{e} lacks {needle}");
        assert_eq!(sent, 1, "{op:?} {status} {body}: never re-sent");
    }
}

#[test]
fn query_of_an_unknown_order_is_none() {
    let (r, sent) = run(Op::Query, Ok(resp(400, &err(-2013, "Order does not exist."), &[])));
    r.unwrap();
    assert_eq!(sent, 1);
}

#[test]
fn transport_failures() {
    use ExchangeError as E;
    let after = || Err(TransportError::MaybeSent("timeout".into()));
    let (r, sent) = run(Op::Place, after());
    assert!(matches!(r, Err(E::OutcomeUnknown(_))) && sent == 1, "{r:?}");
    let (r, _) = run(Op::Place, Err(TransportError::MaybeSent("connection reset".into())));
    assert!(matches!(r, Err(E::OutcomeUnknown(_))), "{r:?}");
    let (r, _) = run(Op::Place, Err(TransportError::NotSent("connect timeout".into())));
    assert!(matches!(r, Err(E::Unavailable(_))), "{r:?}");
    let (r, _) = run(Op::Place, Err(TransportError::NotSent("refused".into())));
    assert!(matches!(r, Err(E::Unavailable(_))), "{r:?}");
    let (r, _) = run(Op::Balances, after());
    assert!(matches!(r, Err(E::Unavailable(_))), "{r:?}");
    // a 200 whose body cannot be read: the order exists, its report is unknown
    let (r, _) = run(Op::Place, Ok(resp(200, "<html>", &[])));
    assert!(matches!(r, Err(E::OutcomeUnknown(_))), "{r:?}");
}

#[test]
fn weight_budget_refuses_before_sending() {
    let (b, fake, clock) = setup_with(BinanceConfig {
        base_url: "http://fake.invalid".into(),
        weight_limit_per_minute: 1200,
        ..BinanceConfig::default()
    });
    // T0 is 20 s into its minute.
    assert_eq!(T0 % 60_000, 20_000);
    fake.push(Ok(resp(200, r#"{"serverTime": 1700000000000}"#, &[("X-MBX-USED-WEIGHT-1M", "1190")])));
    b.sync_time().unwrap();
    assert_eq!(b.used_weight(), 1190);
    // /api/v3/account weighs 20: 1190 + 20 > 1200
    assert_eq!(b.balances(), Err(ExchangeError::RateLimited { retry_after_ms: 40_000 }));
    assert_eq!(fake.count(), 1, "refused without sending");
    // a light request still fits
    fake.push(Ok(resp(200, r#"{"serverTime": 1700000000000}"#, &[])));
    b.sync_time().unwrap();
    assert_eq!(b.used_weight(), 1191);
    // next minute: the budget is back
    clock.advance(Span::from_secs(40));
    fake.push(Ok(resp(200, r#"{"balances": []}"#, &[("x-mbx-used-weight-1m", "20")])));
    assert!(b.balances().unwrap().is_empty());
    assert_eq!(b.used_weight(), 20);
}

#[test]
fn timestamp_rejection_resyncs_and_retries_once() {
    let (b, fake, _) = setup();
    fake.push(Ok(resp(400, &err(-1021, "Timestamp for this request is outside of the recvWindow."), &[])));
    fake.reply(&json!({"serverTime": T0 + 3000}));
    fake.reply(&json!({"symbol": "BTCUSDT", "orderId": 7, "clientOrderId": "bl1-2-3", "transactTime": T0 + 3000,
        "origQty": "0.001", "executedQty": "0.001", "status": "FILLED", "side": "BUY",
        "fills": [{"price": "84500.01", "qty": "0.001", "commission": "0.00000100", "commissionAsset": "BTC", "tradeId": 99}]}));
    let r = b.place(&order()).unwrap();
    assert_eq!(r.status, OrderStatus::Filled);
    assert_eq!(r.fills.len(), 1);
    assert_eq!(
        (r.fills[0].trade_id.as_str(), r.fills[0].price, r.fills[0].fee),
        ("99", Price(dec!(84500.01)), Qty(dec!(0.000001)))
    );
    assert_eq!(r.fills[0].fee_asset, a("BTC"));
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 3);
    assert!(reqs[1].url.ends_with("/api/v3/time"));
    assert_eq!(split_req(&reqs[0]).2["timestamp"], T0.to_string());
    assert_eq!(split_req(&reqs[2]).2["timestamp"], (T0 + 3000).to_string());
    assert_eq!(b.time_offset_ms(), 3000);

    // only once: a second -1021 after the resync is returned
    let (b, fake, _) = setup();
    fake.push(Ok(resp(400, &err(-1021, "Timestamp outside recvWindow"), &[])));
    fake.reply(&json!({"serverTime": T0}));
    fake.push(Ok(resp(400, &err(-1021, "Timestamp outside recvWindow"), &[])));
    assert!(matches!(b.balances(), Err(ExchangeError::Unavailable(m)) if m.contains("-1021")));
    assert_eq!(fake.count(), 3);
}

#[test]
fn signed_requests_carry_key_and_a_valid_signature() {
    let (b, fake, _) = setup();
    fake.reply(&json!({"balances": [{"asset": "BTC", "free": "0.5", "locked": "0.25"}]}));
    let bal = b.balances().unwrap();
    assert_eq!(bal[&a("BTC")].total(), Qty(dec!(0.75)));
    let req = &fake.requests()[0];
    assert!(req.headers.iter().any(|(k, v)| k == "X-MBX-APIKEY" && v == "test-key-not-real"));
    let (unsigned, sig) = req.url.split_once('?').unwrap().1.rsplit_once("&signature=").unwrap();
    assert_eq!(sig, sign("test-secret-not-real", unsigned));
    assert!(unsigned.contains("recvWindow=5000"));

    // POST: the parameters travel in the body, signed there
    fake.reply(&json!({"symbol": "BTCUSDT", "orderId": 1, "clientOrderId": "bl1-2-3", "origQty": "0.001",
        "executedQty": "0", "status": "NEW", "side": "BUY", "fills": []}));
    b.place(&order()).unwrap();
    let req = &fake.requests()[1];
    assert!(!req.url.contains('?'));
    let (unsigned, sig) = req.body.rsplit_once("&signature=").unwrap();
    assert_eq!(sig, sign("test-secret-not-real", unsigned));
}

#[test]
fn prices_one_and_many() {
    let (b, fake, _) = setup();
    fake.reply(&json!({"symbol": "BTCUSDT", "price": "84500.01000000"}));
    let p = b.prices(&[a("BTC"), a("USDT")], &a("USDT")).unwrap();
    assert_eq!(p[&a("BTC")], Price(dec!(84500.01)));
    assert_eq!(p.len(), 1);
    assert_eq!(split_req(&fake.requests()[0]).2["symbol"], "BTCUSDT");

    fake.reply(&json!([{"symbol": "BTCUSDT", "price": "84500.01"}, {"symbol": "ETHUSDT", "price": "3000.5"}]));
    let p = b.prices(&[a("BTC"), a("ETH")], &a("USDT")).unwrap();
    assert_eq!(p[&a("ETH")], Price(dec!(3000.5)));
    assert_eq!(split_req(&fake.requests()[1]).2["symbols"], r#"["BTCUSDT","ETHUSDT"]"#);

    fake.reply(&json!([{"symbol": "BTCUSDT", "price": "84500.01"}]));
    assert!(matches!(b.prices(&[a("BTC"), a("ETH")], &a("USDT")), Err(ExchangeError::NotFound(_))));
    fake.push(Ok(resp(400, &err(-1121, "Invalid symbol."), &[])));
    assert!(matches!(b.prices(&[a("NOPE")], &a("USDT")), Err(ExchangeError::NotFound(_))));
}

fn restrictions(withdraw: bool, trade: bool) -> serde_json::Value {
    json!({"ipRestrict": false, "createTime": 1698645219000u64, "enableReading": true, "enableWithdrawals": withdraw,
        "enableInternalTransfer": false, "enableMargin": false, "enableFutures": false, "permitsUniversalTransfer": false,
        "enableVanillaOptions": false, "enableFixApiTrade": false, "enableFixReadOnly": false,
        "enableSpotAndMarginTrading": trade, "enablePortfolioMarginTrading": false})
}

#[test]
fn check_key_refuses_a_withdrawing_key() {
    let (b, fake, _) = setup();
    fake.reply(&restrictions(true, true));
    let e = b.check_key().unwrap_err();
    assert_eq!(e, ExchangeError::Auth("this API key can withdraw: create a key without withdrawal permission".into()));
    let (_, path, p) = split_req(&fake.requests()[0]);
    assert_eq!(path, "/sapi/v1/account/apiRestrictions");
    assert!(p.contains_key("signature") && p.contains_key("timestamp"));

    fake.reply(&restrictions(false, false));
    assert!(matches!(b.check_key(), Err(ExchangeError::Auth(m)) if m.contains("cannot trade spot")));

    fake.reply(&restrictions(false, true));
    b.check_key().unwrap();
    fake.reply(&restrictions(false, true));
    let p = b.key_permissions().unwrap();
    assert!(!p.can_withdraw && p.can_trade_spot && !p.ip_restricted);
}

#[test]
fn debug_never_shows_secrets() {
    let config =
        BinanceConfig { api_key: "KEY-abc123".into(), secret: "SECRET-xyz789".into(), ..BinanceConfig::default() };
    let (b, _, _) = setup_with(config.clone());
    for s in [format!("{config:?}"), format!("{b:?}")] {
        assert!(!s.contains("abc123") && !s.contains("xyz789"), "{s}");
        assert!(s.contains("redacted"), "{s}");
    }
}

#[test]
fn cancel_of_a_partial_fill_reads_its_fills() {
    let (b, fake, _) = setup();
    fake.reply(&json!({"symbol": "BTCUSDT", "orderId": 5, "clientOrderId": "other", "origClientOrderId": "bl1-2-3",
        "origQty": "0.002", "executedQty": "0.001", "status": "CANCELED", "side": "SELL"}));
    fake.reply(&json!([{"symbol": "BTCUSDT", "id": 42, "orderId": 5, "price": "90000", "qty": "0.001",
        "commission": "0.09", "commissionAsset": "USDT", "time": T0}]));
    let r = b.cancel(&cid(), &a("BTC"), &a("USDT")).unwrap();
    assert_eq!((r.client_id, r.status, r.filled), (cid(), OrderStatus::Canceled, Qty(dec!(0.001))));
    assert_eq!(r.fills[0].fee, Qty(dec!(0.09)));
    let (m, path, p) = split_req(&fake.requests()[0]);
    assert_eq!((m.as_str(), path.as_str(), p["origClientOrderId"].as_str()), ("DELETE", "/api/v3/order", "bl1-2-3"));
    let (_, path, p) = split_req(&fake.requests()[1]);
    assert_eq!((path.as_str(), p["orderId"].as_str()), ("/api/v3/myTrades", "5"));
}

fn with_deadline(ms_after_t0: i64) -> OrderRequest {
    OrderRequest { expires_at: Some(ballast_core::Timestamp(T0 + ms_after_t0)), ..order() }
}

fn a_fill() -> String {
    json!({"symbol": "BTCUSDT", "orderId": 5, "clientOrderId": "bl1-2-3", "origQty": "0.001", "executedQty": "0.001",
        "status": "FILLED", "side": "BUY", "type": "MARKET", "transactTime": T0, "fills": []})
    .to_string()
}

/// An order's deadline travels as `recvWindow` (the time left until it, at most
/// Binance's 60 s), so Binance refuses the request after it; an order whose deadline
/// has passed is not sent at all.
#[test]
fn the_deadline_is_the_recv_window_and_a_passed_one_sends_nothing() {
    let (b, fake, clock) = setup();
    fake.ok(&a_fill());
    clock.advance(Span::from_secs(1));
    let r = b.place(&with_deadline(30_000)).unwrap();
    assert_eq!(r.created, Some(ballast_core::Timestamp(T0)));
    assert_eq!(split_req(&fake.requests()[0]).2["recvWindow"], "29000");
    fake.ok(&a_fill());
    b.place(&with_deadline(3_600_000)).unwrap();
    assert_eq!(split_req(&fake.requests()[1]).2["recvWindow"], "60000", "capped at Binance's maximum");
    // No deadline: the configured window.
    fake.ok(&a_fill());
    b.place(&order()).unwrap();
    assert_eq!(split_req(&fake.requests()[2]).2["recvWindow"], "5000");
    // Past it: nothing leaves, and the error says the order was not sent.
    clock.advance(Span::from_secs(60));
    let e = b.place(&with_deadline(30_000)).unwrap_err();
    assert!(matches!(&e, ExchangeError::Unavailable(m) if m.contains("acceptance window")), "{e:?}");
    assert_eq!(fake.count(), 3);
}

/// After a 429 (or a 418) every bot of the venue stays quiet until `Retry-After` has
/// passed: the next call fails without a request, and Binance never sees a request
/// during the ban (which it would escalate).
#[test]
fn a_ban_keeps_every_call_quiet_until_it_ends() {
    let (b, fake, clock) = setup();
    fake.push(Ok(resp(429, &err(-1003, "Too many requests."), &[("Retry-After", "7")])));
    assert_eq!(b.balances(), Err(ExchangeError::RateLimited { retry_after_ms: 7000 }));
    clock.advance(Span::from_secs(2));
    assert_eq!(b.place(&order()).unwrap_err(), ExchangeError::RateLimited { retry_after_ms: 5000 });
    assert_eq!(b.balances(), Err(ExchangeError::RateLimited { retry_after_ms: 5000 }));
    assert_eq!(fake.count(), 1, "nothing sent during the ban");
    clock.advance(Span::from_secs(5));
    fake.ok(r#"{"balances": []}"#);
    b.balances().unwrap();
    assert_eq!(fake.count(), 2);

    // A 418 ban, shared through one quiet period by a second adapter (another process).
    let quiet = std::sync::Arc::new(ballast_http::Quiet::new());
    let (b1, f1, _) = setup();
    let b1 = b1.with_quiet(quiet.clone());
    let (b2, f2, _) = setup();
    let b2 = b2.with_quiet(quiet);
    f1.push(Ok(resp(418, &err(-1003, "Way too many requests; IP banned."), &[("Retry-After", "120")])));
    assert!(matches!(b1.balances(), Err(ExchangeError::RateLimited { retry_after_ms: 120_000 })));
    assert!(matches!(b2.place(&order()), Err(ExchangeError::RateLimited { .. })));
    assert_eq!((f1.count(), f2.count()), (1, 0));
}

/// The real transport, against a server that reads the order and hangs up without
/// an answer: the order's outcome is unknown (never "not sent").
#[test]
fn a_connection_lost_after_the_order_left_is_an_unknown_outcome() {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 8192];
        let n = s.read(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).to_string()
    });
    let b = ballast_binance::Binance::new(
        BinanceConfig { base_url: format!("http://127.0.0.1:{port}"), ..BinanceConfig::default() },
        std::sync::Arc::new(ballast_binance::UreqTransport::new(std::time::Duration::from_secs(5))),
        std::sync::Arc::new(ballast_exchange::ManualClock::new(ballast_core::Timestamp(T0))),
    );
    let r = b.place(&order());
    assert!(server.join().unwrap().starts_with("POST /api/v3/order"));
    assert!(matches!(r, Err(ExchangeError::OutcomeUnknown(_))), "{r:?}");
}

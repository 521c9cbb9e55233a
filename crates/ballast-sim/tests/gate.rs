//! The Gate API v4 dialect over loopback, with a minimal blocking client that signs
//! its requests itself (HMAC-SHA512 over `METHOD\nPATH\nQUERY\nhex(SHA512(body))\nTIMESTAMP`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use ballast_core::planner::RulesBook;
use ballast_core::{Asset, Price, Qty, SymbolRules, Timestamp};
use ballast_exchange::ManualClock;
use ballast_exchange::paper::{FixedPrices, PaperConfig, PaperExchange};
use ballast_sim::{FaultConfig, RateLimits, ShutdownHandle, SimConfig, SimState, spawn_local};
use hmac::{Hmac, Mac};
use rust_decimal_macros::dec;
use serde_json::{Value, json};
use sha2::{Digest, Sha512};

const T: i64 = 1_700_000_000_000;
const KEY: &str = "test-key";
const SECRET: &str = "test-secret";

fn sign(secret: &str, method: &str, path: &str, query: &str, body: &str, ts: &str) -> String {
    let hash = hex::encode(Sha512::digest(body.as_bytes()));
    let mut mac = Hmac::<Sha512>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{method}\n{path}\n{query}\n{hash}\n{ts}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn a(s: &str) -> Asset {
    Asset::new(s).unwrap()
}

struct Sim {
    addr: SocketAddr,
    state: Arc<SimState>,
    clock: Arc<ManualClock>,
    agent: ureq::Agent,
    _handle: ShutdownHandle,
}

fn sim(faults: FaultConfig) -> Sim {
    sim_limited(faults, RateLimits::default())
}

fn sim_limited(faults: FaultConfig, limits: RateLimits) -> Sim {
    let clock = Arc::new(ManualClock::new(Timestamp(T)));
    let prices = Arc::new(FixedPrices::new());
    prices.set(&a("BTC"), &a("USDT"), Price(dec!(50000)));
    prices.set(&a("ETH"), &a("USDT"), Price(dec!(2500)));
    let btc = SymbolRules { tick: dec!(0.01), step: dec!(0.00001), min_qty: dec!(0.00001), min_notional: dec!(5) };
    let rules = RulesBook { default: SymbolRules::default(), per_asset: BTreeMap::from([(a("BTC"), btc)]) };
    let config = PaperConfig { rules, ..PaperConfig::default() };
    let ex = PaperExchange::in_memory(config, prices, clock.clone()).unwrap();
    ex.deposit(&a("USDT"), Qty(dec!(10000))).unwrap();
    let cfg = SimConfig { api_key: KEY.into(), secret: SECRET.into(), recv_window_max_ms: 60_000, faults, limits };
    let symbols = vec![(a("BTC"), a("USDT")), (a("ETH"), a("USDT"))];
    let state = Arc::new(SimState::new(Arc::new(ex), clock.clone(), cfg, symbols));
    let (addr, handle) = spawn_local(state.clone());
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(10)))
        .build()
        .into();
    Sim { addr, state, clock, agent, _handle: handle }
}

impl Sim {
    /// Sends a request; signed with `secret` at `ts_ms` when `secret` is given.
    fn call(&self, method: &str, path: &str, query: &str, body: &str, auth: Option<(&str, i64)>) -> (u16, Value) {
        self.call_with(method, path, query, body, auth, &[])
    }

    /// [`Sim::call`] with more headers.
    fn call_with(
        &self,
        method: &str,
        path: &str,
        query: &str,
        body: &str,
        auth: Option<(&str, i64)>,
        extra: &[(&str, String)],
    ) -> (u16, Value) {
        let full = format!("/api/v4{path}");
        let url = if query.is_empty() {
            format!("http://{}{full}", self.addr)
        } else {
            format!("http://{}{full}?{query}", self.addr)
        };
        let mut headers = vec![("Accept".to_string(), "application/json".to_string())];
        if let Some((secret, ts_ms)) = auth {
            let ts = (ts_ms / 1000).to_string();
            headers.push(("KEY".into(), KEY.into()));
            headers.push(("SIGN".into(), sign(secret, method, &full, query, body, &ts)));
            headers.push(("Timestamp".into(), ts));
        }
        headers.extend(extra.iter().map(|(n, v)| (n.to_string(), v.clone())));
        let resp = match method {
            "GET" | "DELETE" => {
                let mut b = if method == "GET" { self.agent.get(&url) } else { self.agent.delete(&url) };
                for (n, v) in &headers {
                    b = b.header(n.as_str(), v.as_str());
                }
                b.call()
            }
            "PATCH" => {
                let mut b = self.agent.patch(&url).header("Content-Type", "application/json");
                for (n, v) in &headers {
                    b = b.header(n.as_str(), v.as_str());
                }
                b.send(body.as_bytes())
            }
            "PUT" => {
                let mut b = self.agent.put(&url).header("Content-Type", "application/json");
                for (n, v) in &headers {
                    b = b.header(n.as_str(), v.as_str());
                }
                b.send(body.as_bytes())
            }
            _ => {
                let mut b = self.agent.post(&url).header("Content-Type", "application/json");
                for (n, v) in &headers {
                    b = b.header(n.as_str(), v.as_str());
                }
                b.send(body.as_bytes())
            }
        };
        let mut resp = resp.expect("an HTTP response");
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    fn signed(&self, method: &str, path: &str, query: &str, body: &str) -> (u16, Value) {
        self.call(method, path, query, body, Some((SECRET, T)))
    }

    fn public(&self, path: &str, query: &str) -> (u16, Value) {
        self.call("GET", path, query, "", None)
    }
}

#[test]
fn time_pairs_and_tickers() {
    let s = sim(FaultConfig::default());
    let (st, v) = s.public("/spot/time", "");
    assert_eq!((st, v["server_time"].as_i64()), (200, Some(T)));
    let (st, v) = s.public("/spot/currency_pairs/BTC_USDT", "");
    assert_eq!(st, 200);
    assert_eq!(v["id"], "BTC_USDT");
    assert_eq!(v["base"], "BTC");
    assert_eq!(v["quote"], "USDT");
    assert_eq!(v["precision"], 2);
    assert_eq!(v["amount_precision"], 5);
    assert_eq!(v["min_base_amount"], "0.00001");
    assert_eq!(v["min_quote_amount"], "5");
    assert_eq!(v["trade_status"], "tradable");
    let (st, v) = s.public("/spot/currency_pairs", "");
    assert_eq!((st, v.as_array().unwrap().len()), (200, 2));
    let (st, v) = s.public("/spot/currency_pairs/DOGE_USDT", "");
    assert_eq!((st, v["label"].as_str()), (400, Some("INVALID_CURRENCY_PAIR")));
    let (st, v) = s.public("/spot/tickers", "currency_pair=ETH_USDT");
    assert_eq!(st, 200);
    assert_eq!(v, json!([v[0].clone()]));
    assert_eq!((v[0]["currency_pair"].as_str(), v[0]["last"].as_str()), (Some("ETH_USDT"), Some("2500")));
    let (_, v) = s.public("/spot/tickers", "");
    assert_eq!(v.as_array().unwrap().len(), 2);
}

#[test]
fn accounts_after_a_deposit_and_a_limit_order_fill() {
    let s = sim(FaultConfig::default());
    s.state.exchange().deposit(&a("ETH"), Qty(dec!(2))).unwrap();
    let (st, v) = s.signed("GET", "/spot/accounts", "", "");
    assert_eq!(st, 200);
    let by: BTreeMap<String, (String, String)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (b["currency"].as_str().unwrap().into(), (b["available"].as_str().unwrap().into(), b["locked"].to_string()))
        })
        .collect();
    assert_eq!(by["USDT"].0, "10000");
    assert_eq!(by["ETH"].0, "2");

    // A crossing limit buy fills at once at the last price (fee 10 bps in USDT).
    let body = json!({"text": "t-buy-1", "currency_pair": "BTC_USDT", "type": "limit", "account": "spot",
        "side": "buy", "amount": "0.01", "price": "50100", "time_in_force": "gtc"})
    .to_string();
    let (st, o) = s.signed("POST", "/spot/orders", "", &body);
    assert_eq!(st, 201, "{o}");
    assert_eq!((o["status"].as_str(), o["finish_as"].as_str()), (Some("closed"), Some("filled")));
    assert_eq!(
        (o["text"].as_str(), o["filled_amount"].as_str(), o["left"].as_str()),
        (Some("t-buy-1"), Some("0.01"), Some("0"))
    );
    assert_eq!(o["filled_total"], "500");
    let id = o["id"].as_str().unwrap().to_string();

    // Lookup by id and by text give the same order.
    let (st, by_id) = s.signed("GET", &format!("/spot/orders/{id}"), "currency_pair=BTC_USDT", "");
    assert_eq!(st, 200);
    let (st, by_text) = s.signed("GET", "/spot/orders/t-buy-1", "currency_pair=BTC_USDT", "");
    assert_eq!(st, 200);
    assert_eq!(by_id, by_text);
    assert_eq!(by_id["id"].as_str(), Some(id.as_str()));

    // Its trade.
    let (st, t) = s.signed("GET", "/spot/my_trades", &format!("currency_pair=BTC_USDT&order_id={id}"), "");
    assert_eq!(st, 200);
    let t = t.as_array().unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!((t[0]["amount"].as_str(), t[0]["price"].as_str()), (Some("0.01"), Some("50000")));
    assert_eq!((t[0]["fee"].as_str(), t[0]["fee_currency"].as_str()), (Some("0.5"), Some("USDT")));
    assert_eq!(t[0]["role"], "taker");

    // The balances moved.
    let (_, v) = s.signed("GET", "/spot/accounts", "currency=USDT", "");
    assert_eq!(v, json!([{"currency": "USDT", "available": "9499.5", "locked": "0", "update_id": 1}]));

    // A finished order is listed as finished, not open.
    let (_, fin) = s.signed("GET", "/spot/orders", "currency_pair=BTC_USDT&status=finished&limit=100", "");
    assert_eq!(fin.as_array().unwrap().len(), 1);
    let (_, open) = s.signed("GET", "/spot/orders", "currency_pair=BTC_USDT&status=open", "");
    assert_eq!(open, json!([]));
}

#[test]
fn ioc_limits_that_do_not_cross_are_cancelled_and_gtc_rest_until_cancelled() {
    let s = sim(FaultConfig::default());
    let body = json!({"text": "t-ioc", "currency_pair": "BTC_USDT", "type": "limit", "side": "buy",
        "amount": "0.01", "price": "49000", "time_in_force": "ioc"})
    .to_string();
    let (st, o) = s.signed("POST", "/spot/orders", "", &body);
    assert_eq!(st, 201);
    assert_eq!((o["status"].as_str(), o["finish_as"].as_str()), (Some("cancelled"), Some("ioc")));
    assert_eq!(o["left"], "0.01");

    let body = json!({"text": "t-gtc", "currency_pair": "BTC_USDT", "type": "limit", "side": "buy",
        "amount": "0.01", "price": "49000"})
    .to_string();
    let (st, o) = s.signed("POST", "/spot/orders", "", &body);
    assert_eq!((st, o["status"].as_str()), (201, Some("open")));
    let (_, v) = s.signed("GET", "/spot/accounts", "currency=USDT", "");
    assert_eq!(v[0]["locked"], "490.49");
    let (_, open) = s.signed("GET", "/spot/open_orders", "", "");
    assert_eq!(open[0]["currency_pair"], "BTC_USDT");
    assert_eq!(open[0]["orders"][0]["text"], "t-gtc");
    let (st, c) = s.signed("DELETE", "/spot/orders/t-gtc", "currency_pair=BTC_USDT", "");
    assert_eq!((st, c["status"].as_str(), c["finish_as"].as_str()), (200, Some("cancelled"), Some("cancelled")));
    let (st, c) = s.signed("DELETE", "/spot/orders/t-gtc", "currency_pair=BTC_USDT", "");
    assert_eq!((st, c["label"].as_str()), (400, Some("ORDER_CANCELLED")));
}

#[test]
fn errors_in_gate_words() {
    let s = sim(FaultConfig::default());
    // Unknown order, by id and by text.
    let (st, v) = s.signed("GET", "/spot/orders/12345", "currency_pair=BTC_USDT", "");
    assert_eq!((st, v["label"].as_str()), (404, Some("ORDER_NOT_FOUND")));
    let (st, v) = s.signed("GET", "/spot/orders/t-nope", "currency_pair=BTC_USDT", "");
    assert_eq!((st, v["label"].as_str()), (404, Some("ORDER_NOT_FOUND")));
    // Bad signature, no headers, wrong key.
    let (st, v) = s.call("GET", "/spot/accounts", "", "", Some(("wrong-secret", T)));
    assert_eq!((st, v["label"].as_str()), (401, Some("INVALID_SIGNATURE")));
    let (st, v) = s.call("GET", "/spot/accounts", "", "", None);
    assert_eq!((st, v["label"].as_str()), (401, Some("MISSING_REQUIRED_HEADER")));
    // A signed body that is altered is refused.
    let (st, v) = s.call("POST", "/spot/orders", "", "{}", Some(("wrong-secret", T)));
    assert_eq!((st, v["label"].as_str()), (401, Some("INVALID_SIGNATURE")));
    // Timestamp more than 60 s away from the sim clock, either way.
    let (st, v) = s.call("GET", "/spot/accounts", "", "", Some((SECRET, T - 61_000)));
    assert_eq!((st, v["label"].as_str()), (403, Some("REQUEST_EXPIRED")));
    let (st, _) = s.call("GET", "/spot/accounts", "", "", Some((SECRET, T + 59_000)));
    assert_eq!(st, 200);
    // Not enough balance.
    let body = json!({"text": "t-big", "currency_pair": "BTC_USDT", "type": "market", "side": "sell", "amount": "1"})
        .to_string();
    let (st, v) = s.signed("POST", "/spot/orders", "", &body);
    assert_eq!((st, v["label"].as_str()), (400, Some("BALANCE_NOT_ENOUGH")));
    // A text without `t-`.
    let body =
        json!({"text": "x", "currency_pair": "BTC_USDT", "side": "buy", "amount": "1", "price": "1"}).to_string();
    let (st, v) = s.signed("POST", "/spot/orders", "", &body);
    assert_eq!((st, v["label"].as_str()), (400, Some("INVALID_PARAM_VALUE")));
    // The sim clock moves on: the same timestamp is now too old.
    s.clock.set(Timestamp(T + 120_000));
    let (st, v) = s.signed("GET", "/spot/accounts", "", "");
    assert_eq!((st, v["label"].as_str()), (403, Some("REQUEST_EXPIRED")));
}

#[test]
fn faults_answer_429_and_lost_replies_still_execute() {
    let s = sim(FaultConfig { rate_429: 1.0, ..FaultConfig::default() });
    let (st, v) = s.public("/spot/time", "");
    assert_eq!((st, v["label"].as_str()), (429, Some("TOO_MANY_REQUESTS")));
    s.state.set_faults(FaultConfig { drop_after_execution: 1.0, ..FaultConfig::default() });
    let body = json!({"text": "t-lost", "currency_pair": "ETH_USDT", "type": "limit", "side": "buy",
        "amount": "1", "price": "2600", "time_in_force": "ioc"})
    .to_string();
    let (st, _) = s.signed("POST", "/spot/orders", "", &body);
    assert_eq!(st, 502);
    s.state.set_faults(FaultConfig::default());
    let (st, o) = s.signed("GET", "/spot/orders/t-lost", "currency_pair=ETH_USDT", "");
    assert_eq!((st, o["status"].as_str(), o["filled_amount"].as_str()), (200, Some("closed"), Some("1")));
}

#[test]
fn the_query_may_be_signed_decoded_as_the_official_sdk_does() {
    let s = sim(FaultConfig::default());
    let ts = (T / 1000).to_string();
    let full = "/api/v4/spot/orders";
    // Sent encoded, signed with the value decoded ("a b"); and signed as sent.
    for signed_query in ["currency_pair=BTC_USDT&status=open&text=a b", "currency_pair=BTC_USDT&status=open&text=a%20b"]
    {
        let url = format!("http://{}{full}?currency_pair=BTC_USDT&status=open&text=a%20b", s.addr);
        let mut resp = s
            .agent
            .get(&url)
            .header("KEY", KEY)
            .header("Timestamp", &ts)
            .header("SIGN", sign(SECRET, "GET", full, signed_query, "", &ts))
            .call()
            .unwrap();
        let body = resp.body_mut().read_to_string().unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{signed_query}: {body}");
    }
    let url = format!("http://{}{full}?currency_pair=BTC_USDT&status=open", s.addr);
    let resp = s
        .agent
        .get(&url)
        .header("KEY", KEY)
        .header("Timestamp", &ts)
        .header("SIGN", sign(SECRET, "GET", full, "currency_pair=ETH_USDT&status=open", "", &ts))
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
}

#[test]
fn text_of_28_characters_with_dots_poc_fok_and_cancel_all() {
    let s = sim(FaultConfig::default());
    let order = |text: &str, price: &str, tif: &str| {
        json!({"text": text, "currency_pair": "BTC_USDT", "type": "limit", "side": "buy", "amount": "0.01",
            "price": price, "time_in_force": tif})
        .to_string()
    };
    // 28 characters after t-, with a dot (more than the paper venue's 26).
    let long = "t-abcdefghij.klmnopqrstuvwxyz0";
    assert_eq!(long.len(), 30);
    let (st, o) = s.signed("POST", "/spot/orders", "", &order(long, "40000", "gtc"));
    assert_eq!((st, o["text"].as_str(), o["status"].as_str()), (201, Some(long), Some("open")), "{o}");
    let (st, q) = s.signed("GET", &format!("/spot/orders/{long}"), "currency_pair=BTC_USDT", "");
    assert_eq!((st, q["id"].clone()), (200, o["id"].clone()));
    let (st, e) = s.signed("POST", "/spot/orders", "", &order("t-abcdefghij.klmnopqrstuvwxyz01", "40000", "gtc"));
    assert_eq!((st, e["label"].as_str()), (400, Some("INVALID_PARAM_VALUE")), "29 is too long");
    // Post-only: refused when it would take, rests otherwise.
    let (st, e) = s.signed("POST", "/spot/orders", "", &order("t-poc1", "50000", "poc"));
    assert_eq!((st, e["label"].as_str()), (400, Some("POC_FILL_IMMEDIATELY")));
    let (st, o) = s.signed("POST", "/spot/orders", "", &order("t-poc2", "41000", "poc"));
    assert_eq!((st, o["status"].as_str(), o["time_in_force"].as_str()), (201, Some("open"), Some("poc")));
    // FOK that does not cross: cancelled at once, finish_as fok.
    let (st, o) = s.signed("POST", "/spot/orders", "", &order("t-fok", "40000", "fok"));
    assert_eq!((st, o["status"].as_str(), o["finish_as"].as_str()), (201, Some("cancelled"), Some("fok")));
    // Cancel all: the two open ones.
    let (st, all) = s.signed("DELETE", "/spot/orders", "currency_pair=BTC_USDT", "");
    assert_eq!(st, 200, "{all}");
    assert_eq!(all.as_array().unwrap().len(), 2);
    assert!(all.as_array().unwrap().iter().all(|o| o["status"] == "cancelled"));
    // The text is free again once its order is final.
    let (st, _) = s.signed("POST", "/spot/orders", "", &order("t-poc2", "41000", "gtc"));
    assert_eq!(st, 201);
    let (st, e) = s.signed("POST", "/spot/orders", "", &order("t-poc2", "41000", "gtc"));
    assert_eq!((st, e["label"].as_str()), (400, Some("INVALID_PARAM_VALUE")), "still open: a duplicate");
}

#[test]
fn market_data_currencies_book_candles_and_unsupported_methods() {
    let s = sim(FaultConfig::default());
    let (st, c) = s.public("/spot/currencies", "");
    assert_eq!(st, 200);
    let names: Vec<&str> = c.as_array().unwrap().iter().map(|x| x["currency"].as_str().unwrap()).collect();
    assert_eq!(names, ["BTC", "ETH", "USDT"]);
    let (st, b) = s.public("/spot/order_book", "currency_pair=BTC_USDT&limit=3");
    assert_eq!(st, 200);
    // Without candles: a tick each side of the last price, 10,000 USDT's worth more at
    // each level (the model of depth.rs).
    assert_eq!(b["bids"], json!([["49999.99", "0.2"], ["49999.98", "0.4"], ["49999.97", "0.6"]]));
    assert_eq!(b["asks"][2][0], "50000.03");
    let (st, k) = s.public("/spot/candlesticks", "currency_pair=BTC_USDT&interval=4h");
    assert_eq!((st, k.clone()), (200, json!([])), "no candle source: no candles");
    let (st, k) = s.public("/spot/candlesticks", "currency_pair=BTC_USDT&interval=2h");
    assert_eq!((st, k["label"].as_str()), (400, Some("INVALID_PARAM_VALUE")));
    for path in
        ["/margin/currency_pairs", "/futures/usdt/contracts", "/delivery/usdt/contracts", "/options/underlyings"]
    {
        assert_eq!(s.public(path, ""), (200, json!([])), "{path}");
    }
    let (st, e) = s.call("PUT", "/spot/orders", "", "{}", None);
    assert_eq!((st, e["label"].as_str()), (405, Some("METHOD_NOT_ALLOWED")));
    let (st, e) = s.public("/spot/nothing", "");
    assert_eq!((st, e["label"].as_str()), (404, Some("NOT_FOUND")));
}

#[test]
fn rate_limit_headers_count_down_in_their_window() {
    let s = sim(FaultConfig::default());
    let get = |path: &str| {
        let resp = s.agent.get(format!("http://{}/api/v4{path}", s.addr)).call().unwrap();
        let h = |n: &str| resp.headers().get(n).and_then(|v| v.to_str().ok()).map(str::to_string).unwrap_or_default();
        (h("X-Gate-RateLimit-Requests-Remain"), h("X-Gate-RateLimit-Limit"), h("X-Gate-RateLimit-Reset-Timestamp"))
    };
    // T is a whole 10 s: the window ends 10 s later (ms).
    assert_eq!(get("/spot/time"), ("199".into(), "200".into(), (T + 10_000).to_string()));
    assert_eq!(get("/spot/time").0, "198");
    // Per endpoint, as Gate's: another endpoint has its own window.
    assert_eq!(get("/spot/currency_pairs").0, "199");
    s.clock.advance(ballast_core::Span::from_secs(10));
    assert_eq!(get("/spot/time").0, "199", "a new window");
}

#[test]
fn over_a_gate_limit_is_429_too_many_requests_per_endpoint_and_per_pair() {
    let limits = RateLimits { gate_requests_per_10s: 3, gate_orders_per_sec: 2, ..RateLimits::default() };
    let s = sim_limited(FaultConfig::default(), limits);
    for _ in 0..3 {
        assert_eq!(s.public("/spot/tickers", "currency_pair=BTC_USDT").0, 200);
    }
    let (st, e) = s.public("/spot/tickers", "currency_pair=BTC_USDT");
    assert_eq!((st, e["label"].as_str()), (429, Some("TOO_MANY_REQUESTS")), "{e:?}");
    let resp = s.agent.get(format!("http://{}/api/v4/spot/tickers", s.addr)).call().unwrap();
    let h = |n: &str| resp.headers().get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
    assert_eq!(
        (resp.status().as_u16(), h("X-Gate-RateLimit-Requests-Remain"), h("X-Gate-RateLimit-Limit")),
        (429, Some("0".into()), Some("3".into()))
    );
    assert_eq!(h("X-Gate-RateLimit-Reset-Timestamp"), Some((T + 10_000).to_string()));
    assert!(h("Retry-After").is_none(), "Gate sends no Retry-After");
    // Other endpoints are not affected.
    assert_eq!(s.public("/spot/order_book", "currency_pair=BTC_USDT").0, 200);
    // Orders: 2 a second per pair; a third on the pair is refused, not placed.
    let order = |pair: &str, text: &str| {
        s.signed(
            "POST",
            "/spot/orders",
            "",
            &json!({"currency_pair": pair, "side": "buy", "amount": "0.001", "price": "40000", "text": text})
                .to_string(),
        )
    };
    assert_eq!(order("BTC_USDT", "t-a").0, 201);
    assert_eq!(order("BTC_USDT", "t-b").0, 201);
    let (st, e) = order("BTC_USDT", "t-c");
    assert_eq!((st, e["label"].as_str()), (429, Some("TOO_MANY_REQUESTS")));
    assert_eq!(s.signed("GET", "/spot/orders/t-c", "currency_pair=BTC_USDT", "").0, 404, "not placed");
    // Another pair has its own window.
    let (st, e) = s.signed(
        "POST",
        "/spot/orders",
        "",
        &json!({"currency_pair": "ETH_USDT", "side": "buy", "amount": "0.01", "price": "2000"}).to_string(),
    );
    assert_eq!(st, 201, "{e:?}");
    // The next second is a new window.
    s.clock.advance(ballast_core::Span::from_secs(1));
    let (st, e) = s.call(
        "POST",
        "/spot/orders",
        "",
        &json!({"currency_pair": "BTC_USDT", "side": "buy", "amount": "0.001", "price": "40000"}).to_string(),
        Some((SECRET, T + 1000)),
    );
    assert_eq!(st, 201, "{e:?}");
    assert_eq!(s.state.injected().get("gate_429"), Some(&3));
}

#[test]
fn amend_changes_an_open_orders_price_and_amount() {
    let s = sim(FaultConfig::default());
    let place = |body: Value| s.signed("POST", "/spot/orders", "", &body.to_string());
    let amend =
        |id: &str, query: &str, body: Value| s.signed("PATCH", &format!("/spot/orders/{id}"), query, &body.to_string());
    let locked = || {
        let (_, v) = s.signed("GET", "/spot/accounts", "currency=USDT", "");
        v[0]["locked"].as_str().unwrap().to_string()
    };
    let (st, o) =
        place(json!({"currency_pair": "BTC_USDT", "side": "buy", "amount": "0.001", "price": "40000", "text": "t-am"}));
    assert_eq!(st, 201, "{o:?}");
    let id = o["id"].as_str().unwrap().to_string();
    // By text, the pair in the body (as gate-api and CCXT send it).
    let (st, o) = amend("t-am", "", json!({"currency_pair": "BTC_USDT", "price": "45000", "amend_text": "up"}));
    assert_eq!(st, 200, "{o:?}");
    assert_eq!(
        (o["id"].as_str(), o["price"].as_str(), o["amount"].as_str()),
        (Some(id.as_str()), Some("45000"), Some("0.001"))
    );
    assert_eq!(
        (o["status"].as_str(), o["amend_text"].as_str(), o["text"].as_str()),
        (Some("open"), Some("up"), Some("t-am"))
    );
    // By id, the pair in the query; the lock follows (amount x price + the 10 bps fee).
    let (st, o) = amend(&id, "currency_pair=BTC_USDT", json!({"amount": "0.002"}));
    assert_eq!((st, o["amount"].as_str(), o["price"].as_str()), (200, Some("0.002"), Some("45000")), "{o:?}");
    assert_eq!(locked(), "90.09");
    let (_, g) = s.signed("GET", &format!("/spot/orders/{id}"), "currency_pair=BTC_USDT", "");
    assert_eq!((g["price"].as_str(), g["amount"].as_str()), (Some("45000"), Some("0.002")));
    // Refused, nothing changed.
    for (body, status, label) in [
        (json!({"currency_pair": "BTC_USDT"}), 400, "INVALID_PARAM_VALUE"),
        (json!({"currency_pair": "BTC_USDT", "price": "45000.001"}), 400, "INVALID_PRECISION"),
        (json!({"currency_pair": "BTC_USDT", "amount": "100"}), 400, "BALANCE_NOT_ENOUGH"),
        (json!({"currency_pair": "BTC_USDT", "amount": "-1"}), 400, "INVALID_PARAM_VALUE"),
        (json!({"price": "45000"}), 400, "MISSING_REQUIRED_PARAM"),
        (json!({"currency_pair": "DOGE_USDT", "price": "45000"}), 400, "INVALID_CURRENCY_PAIR"),
    ] {
        let (st, e) = amend(&id, "", body.clone());
        assert_eq!((st, e["label"].as_str()), (status, Some(label)), "{body}: {e:?}");
    }
    assert_eq!(locked(), "90.09");
    let (st, e) = amend("123456", "", json!({"currency_pair": "BTC_USDT", "price": "1"}));
    assert_eq!((st, e["label"].as_str()), (404, Some("ORDER_NOT_FOUND")));
    // Across the last price (50,000): filled at once, at the last price.
    let (st, o) = amend(&id, "", json!({"currency_pair": "BTC_USDT", "price": "51000"}));
    assert_eq!((st, o["status"].as_str(), o["finish_as"].as_str()), (200, Some("closed"), Some("filled")), "{o:?}");
    assert_eq!(o["avg_deal_price"], "50000");
    assert_eq!(locked(), "0");
    let (st, e) = amend(&id, "", json!({"currency_pair": "BTC_USDT", "price": "40000"}));
    assert_eq!((st, e["label"].as_str()), (400, Some("ORDER_CLOSED")));
    // A post-only order is never made to take. (A new second: the ten placements and
    // amendments a second on the pair are used up.)
    s.clock.advance(ballast_core::Span::from_secs(1));
    let (_, p) = place(
        json!({"currency_pair": "BTC_USDT", "side": "buy", "amount": "0.001", "price": "40000", "time_in_force": "poc"}),
    );
    let (st, e) = amend(p["id"].as_str().unwrap(), "", json!({"currency_pair": "BTC_USDT", "price": "50000"}));
    assert_eq!((st, e["label"].as_str()), (400, Some("POC_FILL_IMMEDIATELY")));
}

/// A request that arrives after its `X-Gate-Exptime` is refused before anything is
/// done, as on Gate: an order ballast gave up on after its deadline can never be placed.
#[test]
fn a_request_after_its_exptime_is_refused_and_places_nothing() {
    let s = sim(FaultConfig::default());
    let body = |text: &str| {
        json!({"text": text, "currency_pair": "ETH_USDT", "type": "limit", "side": "buy", "amount": "0.01",
            "price": "2000", "time_in_force": "gtc"})
        .to_string()
    };
    let late = [("X-Gate-Exptime", (T - 1).to_string())];
    let (st, v) = s.call_with("POST", "/spot/orders", "", &body("t-late"), Some((SECRET, T)), &late);
    assert_eq!((st, v["label"].as_str()), (403, Some("REQUEST_EXPIRED")), "{v}");
    let (st, v) = s.signed("GET", "/spot/orders/t-late", "currency_pair=ETH_USDT", "");
    assert_eq!((st, v["label"].as_str()), (404, Some("ORDER_NOT_FOUND")), "nothing was placed: {v}");
    let in_time = [("X-Gate-Exptime", (T + 5_000).to_string())];
    let (st, v) = s.call_with("POST", "/spot/orders", "", &body("t-ontime"), Some((SECRET, T)), &in_time);
    assert_eq!(st, 201, "{v}");
    let bad = [("X-Gate-Exptime", "soon".to_string())];
    let (st, v) = s.call_with("POST", "/spot/orders", "", &body("t-bad"), Some((SECRET, T)), &bad);
    assert_eq!((st, v["label"].as_str()), (400, Some("INVALID_PARAM_VALUE")), "{v}");
}

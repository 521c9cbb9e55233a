//! The Binance dialect over loopback, with a minimal blocking client that signs its
//! requests itself (SIGNING.md: HMAC-SHA256 over query string + body, hex).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use ballast_core::planner::RulesBook;
use ballast_core::{Asset, Price, Qty, SymbolRules, Timestamp};
use ballast_exchange::ManualClock;
use ballast_exchange::paper::{FixedPrices, PaperConfig, PaperExchange};
use ballast_sim::{FaultConfig, ShutdownHandle, SimConfig, SimState, spawn_local};
use hmac::{Hmac, Mac};
use rust_decimal_macros::dec;
use serde_json::Value;
use sha2::Sha256;

const T: i64 = 1_700_000_000_000;
const KEY: &str = "test-key";
const SECRET: &str = "test-secret";

fn sign(secret: &str, payload: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(payload.as_bytes());
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

struct Reply {
    status: u16,
    retry_after: Option<String>,
    weight: Option<String>,
    body: Value,
}

impl Reply {
    fn code(&self) -> i64 {
        self.body["code"].as_i64().unwrap_or(0)
    }
}

fn sim(faults: FaultConfig) -> Sim {
    let clock = Arc::new(ManualClock::new(Timestamp(T)));
    let prices = Arc::new(FixedPrices::new());
    prices.set(&a("BTC"), &a("USDT"), Price(dec!(50000)));
    prices.set(&a("ETH"), &a("USDT"), Price(dec!(2500)));
    let btc = SymbolRules { tick: dec!(0.01), step: dec!(0.00001), min_qty: dec!(0.00001), min_notional: dec!(5) };
    let rules = RulesBook { default: SymbolRules::default(), per_asset: BTreeMap::from([(a("BTC"), btc)]) };
    let config = PaperConfig { rules, ..PaperConfig::default() };
    let ex = PaperExchange::in_memory(config, prices, clock.clone()).unwrap();
    ex.deposit(&a("USDT"), Qty(dec!(10000))).unwrap();
    let cfg = SimConfig { api_key: KEY.into(), secret: SECRET.into(), recv_window_max_ms: 60_000, faults };
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
    fn reply(resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
        let mut resp = resp.expect("an HTTP response");
        let header = |n: &str| resp.headers().get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
        let (status, retry_after, weight) =
            (resp.status().as_u16(), header("Retry-After"), header("X-MBX-USED-WEIGHT-1M"));
        let text = resp.body_mut().read_to_string().unwrap();
        let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() };
        Reply { status, retry_after, weight, body }
    }

    fn public(&self, path: &str, query: &str) -> Reply {
        let url = if query.is_empty() {
            format!("http://{}{path}", self.addr)
        } else {
            format!("http://{}{path}?{query}", self.addr)
        };
        Self::reply(self.agent.get(&url).call())
    }

    /// A SIGNED request at the sim clock's now: GET/DELETE in the query string, POST in
    /// the body.
    fn signed(&self, method: &str, path: &str, params: &str) -> Reply {
        self.signed_with(method, path, params, T, SECRET, KEY)
    }

    fn signed_with(&self, method: &str, path: &str, params: &str, ts: i64, secret: &str, key: &str) -> Reply {
        let sep = if params.is_empty() { "" } else { "&" };
        let payload = format!("{params}{sep}timestamp={ts}");
        let signed = format!("{payload}&signature={}", sign(secret, &payload));
        let base = format!("http://{}{path}", self.addr);
        let resp = match method {
            "GET" => self.agent.get(format!("{base}?{signed}")).header("X-MBX-APIKEY", key).call(),
            "DELETE" => self.agent.delete(format!("{base}?{signed}")).header("X-MBX-APIKEY", key).call(),
            "POST" => self
                .agent
                .post(&base)
                .header("X-MBX-APIKEY", key)
                .content_type("application/x-www-form-urlencoded")
                .send(signed.as_str()),
            _ => unreachable!(),
        };
        Self::reply(resp)
    }

    fn balances(&self) -> BTreeMap<String, (String, String)> {
        let r = self.signed("GET", "/api/v3/account", "");
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body["balances"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    b["asset"].as_str().unwrap().to_string(),
                    (b["free"].as_str().unwrap().to_string(), b["locked"].as_str().unwrap().to_string()),
                )
            })
            .collect()
    }

    fn trades(&self) -> Vec<Value> {
        let r = self.signed("GET", "/api/v3/myTrades", "symbol=BTCUSDT");
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body.as_array().unwrap().clone()
    }
}

#[test]
fn signing_helper_reproduces_the_official_vector() {
    assert_eq!(
        sign(
            "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j",
            "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
        ),
        "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    );
}

#[test]
fn ping_time_and_weight_header() {
    let s = sim(FaultConfig::default());
    let r = s.public("/api/v3/ping", "");
    assert_eq!((r.status, r.body.clone()), (200, serde_json::json!({})));
    assert_eq!(r.weight.as_deref(), Some("1"));
    let r = s.public("/api/v3/time", "");
    assert_eq!(r.body["serverTime"], T);
    assert_eq!(r.weight.as_deref(), Some("2"));
    s.clock.advance(ballast_core::Span::from_secs(61));
    let r = s.public("/api/v3/time", "");
    assert_eq!(r.body["serverTime"], T + 61_000);
    assert_eq!(r.weight.as_deref(), Some("1"), "a new minute starts a new count");
}

#[test]
fn exchange_info_filters_from_the_rules_book() {
    let s = sim(FaultConfig::default());
    let r = s.public("/api/v3/exchangeInfo", "");
    assert_eq!(r.status, 200);
    let syms = r.body["symbols"].as_array().unwrap();
    assert_eq!(syms.len(), 2);
    let btc = syms.iter().find(|x| x["symbol"] == "BTCUSDT").unwrap();
    assert_eq!(btc["baseAsset"], "BTC");
    assert_eq!(btc["quoteAsset"], "USDT");
    let f = |t: &str| btc["filters"].as_array().unwrap().iter().find(|x| x["filterType"] == t).unwrap().clone();
    assert_eq!(f("PRICE_FILTER")["tickSize"], "0.01000000");
    assert_eq!(f("LOT_SIZE")["stepSize"], "0.00001000");
    assert_eq!(f("LOT_SIZE")["minQty"], "0.00001000");
    assert_eq!(f("MARKET_LOT_SIZE")["stepSize"], "0.00001000");
    assert_eq!(f("NOTIONAL")["minNotional"], "5.00000000");
    let r = s.public("/api/v3/exchangeInfo", "symbol=ETHUSDT");
    assert_eq!(r.body["symbols"][0]["filters"][0]["tickSize"], "0.00000001");
    let r = s.public("/api/v3/exchangeInfo", "symbol=DOGEUSDT");
    assert_eq!((r.status, r.code()), (400, -1121));
}

#[test]
fn ticker_prices() {
    let s = sim(FaultConfig::default());
    let r = s.public("/api/v3/ticker/price", "symbol=BTCUSDT");
    assert_eq!(r.body["price"], "50000.00000000");
    let r = s.public("/api/v3/ticker/price", "");
    assert_eq!(r.body.as_array().unwrap().len(), 2);
}

#[test]
fn account_shows_the_deposit_and_a_market_order_moves_it() {
    let s = sim(FaultConfig::default());
    let acct = s.signed("GET", "/api/v3/account", "");
    assert_eq!(acct.body["canTrade"], true);
    assert_eq!(acct.body["canWithdraw"], false);
    assert_eq!(s.balances()["USDT"], ("10000.00000000".into(), "0.00000000".into()));

    let r = s.signed(
        "POST",
        "/api/v3/order",
        "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01&newClientOrderId=bl1-1-0&newOrderRespType=FULL",
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["status"], "FILLED");
    assert_eq!(r.body["clientOrderId"], "bl1-1-0");
    assert_eq!(r.body["executedQty"], "0.01000000");
    assert_eq!(r.body["cummulativeQuoteQty"], "500.00000000");
    let fill = &r.body["fills"][0];
    assert_eq!(fill["price"], "50000.00000000");
    assert_eq!(fill["qty"], "0.01000000");
    assert_eq!(fill["commission"], "0.50000000");
    assert_eq!(fill["commissionAsset"], "USDT");
    assert!(fill["tradeId"].as_u64().is_some());

    let b = s.balances();
    assert_eq!(b["USDT"].0, "9499.50000000");
    assert_eq!(b["BTC"].0, "0.01000000");

    let order_id = r.body["orderId"].as_u64().unwrap();
    let t = s.signed("GET", "/api/v3/myTrades", &format!("symbol=BTCUSDT&orderId={order_id}"));
    assert_eq!(t.body.as_array().unwrap().len(), 1);
    assert_eq!(t.body[0]["isBuyer"], true);
    assert_eq!(t.body[0]["isMaker"], false);

    let q = s.signed("GET", "/api/v3/order", &format!("symbol=BTCUSDT&orderId={order_id}"));
    assert_eq!((q.body["status"].as_str(), q.body["type"].as_str()), (Some("FILLED"), Some("MARKET")));
}

#[test]
fn duplicate_client_id_is_refused_without_a_second_trade() {
    let s = sim(FaultConfig::default());
    let p = "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01&newClientOrderId=dup-1";
    assert_eq!(s.signed("POST", "/api/v3/order", p).status, 200);
    let r = s.signed("POST", "/api/v3/order", p);
    assert_eq!((r.status, r.code()), (400, -2010));
    assert_eq!(r.body["msg"], "Duplicate order sent.");
    assert_eq!(s.trades().len(), 1);
    assert_eq!(s.balances()["BTC"].0, "0.01000000");
}

#[test]
fn unknown_order_is_2013() {
    let s = sim(FaultConfig::default());
    let r = s.signed("GET", "/api/v3/order", "symbol=BTCUSDT&origClientOrderId=nope");
    assert_eq!((r.status, r.code()), (400, -2013));
    assert_eq!(r.body["msg"], "Order does not exist.");
    let r = s.signed("DELETE", "/api/v3/order", "symbol=BTCUSDT&origClientOrderId=nope");
    assert_eq!((r.status, r.code()), (400, -2011));
}

#[test]
fn bad_signature_or_key_is_401() {
    let s = sim(FaultConfig::default());
    let r = s.signed_with("GET", "/api/v3/account", "", T, "wrong-secret", KEY);
    assert_eq!((r.status, r.code()), (401, -1022));
    let r = s.signed_with("GET", "/api/v3/account", "", T, SECRET, "wrong-key");
    assert_eq!((r.status, r.code()), (401, -2015));
    // A parameter changed after signing.
    let payload = format!("symbol=BTCUSDT&timestamp={T}");
    let url = format!(
        "http://{}/api/v3/openOrders?symbol=ETHUSDT&timestamp={T}&signature={}",
        s.addr,
        sign(SECRET, &payload)
    );
    let r = Sim::reply(s.agent.get(&url).header("X-MBX-APIKEY", KEY).call());
    assert_eq!((r.status, r.code()), (401, -1022));
}

#[test]
fn stale_or_future_timestamp_is_1021() {
    let s = sim(FaultConfig::default());
    let r = s.signed_with("GET", "/api/v3/account", "", T - 10_000, SECRET, KEY);
    assert_eq!((r.status, r.code()), (400, -1021));
    let r = s.signed_with("GET", "/api/v3/account", "recvWindow=20000", T - 10_000, SECRET, KEY);
    assert_eq!(r.status, 200, "a wider recvWindow accepts it");
    let r = s.signed_with("GET", "/api/v3/account", "", T + 5_000, SECRET, KEY);
    assert_eq!((r.status, r.code()), (400, -1021));
    let r = s.signed_with("GET", "/api/v3/account", "recvWindow=70000", T, SECRET, KEY);
    assert_eq!((r.status, r.code()), (400, -1131));
}

#[test]
fn injected_429_carries_retry_after() {
    let s = sim(FaultConfig { rate_429: 1.0, ..FaultConfig::default() });
    let r = s.public("/api/v3/time", "");
    assert_eq!((r.status, r.code()), (429, -1003));
    assert_eq!(r.retry_after.as_deref(), Some("1"));
    assert!(r.weight.is_some());
    s.state.set_faults(FaultConfig::default());
    assert_eq!(s.public("/api/v3/time", "").status, 200);
}

#[test]
fn injected_5xx_does_not_execute() {
    let s = sim(FaultConfig { rate_5xx: 1.0, ..FaultConfig::default() });
    let r = s.signed("POST", "/api/v3/order", "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01&newClientOrderId=x-1");
    assert_eq!(r.status, 503);
    s.state.set_faults(FaultConfig::default());
    let q = s.signed("GET", "/api/v3/order", "symbol=BTCUSDT&origClientOrderId=x-1");
    assert_eq!(q.code(), -2013);
}

#[test]
fn drop_after_execution_is_502_but_the_order_filled() {
    let s = sim(FaultConfig { drop_after_execution: 1.0, seed: 7, ..FaultConfig::default() });
    let r =
        s.signed("POST", "/api/v3/order", "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01&newClientOrderId=lost-1");
    assert_eq!(r.status, 502);
    assert_eq!(r.body, Value::Null, "no body");
    let q = s.signed("GET", "/api/v3/order", "symbol=BTCUSDT&origClientOrderId=lost-1");
    assert_eq!(q.status, 200, "{:?}", q.body);
    assert_eq!(q.body["status"], "FILLED");
    assert_eq!(s.balances()["BTC"].0, "0.01000000");
}

#[test]
fn injected_reject_does_not_execute() {
    let s = sim(FaultConfig { reject_rate: 1.0, ..FaultConfig::default() });
    let r = s.signed("POST", "/api/v3/order", "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01&newClientOrderId=r-1");
    assert_eq!((r.status, r.code()), (400, -2010));
    assert!(s.trades().is_empty());
}

#[test]
fn filter_failures_and_insufficient_balance() {
    let s = sim(FaultConfig::default());
    let place = |p: &str| s.signed("POST", "/api/v3/order", p);
    let r = place("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.000015");
    assert_eq!((r.status, r.code()), (400, -1013));
    assert_eq!(r.body["msg"], "Filter failure: LOT_SIZE");
    let r = place("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.00001");
    assert_eq!(r.body["msg"], "Filter failure: NOTIONAL");
    let r = place("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=40000.001");
    assert_eq!(r.body["msg"], "Filter failure: PRICE_FILTER");
    let r = place("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=1");
    assert_eq!((r.status, r.code()), (400, -2010));
    assert_eq!(r.body["msg"], "Account has insufficient balance for requested action.");
    let r = place("symbol=BTCUSDT&side=HOLD&type=MARKET&quantity=1");
    assert_eq!(r.code(), -1117);
    let r = place("symbol=BTCUSDT&side=BUY&type=MARKET");
    assert_eq!(r.code(), -1102);
    assert!(s.trades().is_empty());
}

#[test]
fn limit_order_rests_shows_in_open_orders_and_cancels() {
    let s = sim(FaultConfig::default());
    let r = s.signed(
        "POST",
        "/api/v3/order",
        "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=40000&newClientOrderId=lim-1",
    );
    assert_eq!(r.body["status"], "NEW", "{:?}", r.body);
    assert_eq!(r.body["fills"], serde_json::json!([]));
    assert_eq!(s.balances()["USDT"].1, "400.40000000");
    let o = s.signed("GET", "/api/v3/openOrders", "symbol=BTCUSDT");
    assert_eq!(o.body.as_array().unwrap().len(), 1);
    assert_eq!(o.body[0]["price"], "40000.00000000");
    assert_eq!(o.body[0]["type"], "LIMIT");
    let c = s.signed("DELETE", "/api/v3/order", "symbol=BTCUSDT&origClientOrderId=lim-1");
    assert_eq!(c.body["status"], "CANCELED", "{:?}", c.body);
    assert_eq!(c.body["origClientOrderId"], "lim-1");
    assert!(s.signed("GET", "/api/v3/openOrders", "").body.as_array().unwrap().is_empty());
    assert_eq!(s.balances()["USDT"], ("10000.00000000".into(), "0.00000000".into()));
}

#[test]
fn api_restrictions_is_configurable() {
    let s = sim(FaultConfig::default());
    let r = s.signed("GET", "/sapi/v1/account/apiRestrictions", "");
    assert_eq!(r.body["enableWithdrawals"], false);
    assert_eq!(r.body["enableSpotAndMarginTrading"], true);
    assert_eq!(r.body["ipRestrict"], false);
    s.state.set_withdrawals_enabled(true);
    let r = s.signed("GET", "/sapi/v1/account/apiRestrictions", "");
    assert_eq!(r.body["enableWithdrawals"], true);
}

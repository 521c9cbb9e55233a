//! The Binance dialect over loopback, with a minimal blocking client that signs its
//! requests itself (SIGNING.md: HMAC-SHA256 over query string + body, hex).

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
fn a_client_id_of_an_open_order_is_a_duplicate_and_free_again_once_final() {
    let s = sim(FaultConfig::default());
    let p = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=40000&newClientOrderId=dup-1";
    let first = s.signed("POST", "/api/v3/order", p);
    assert_eq!(first.status, 200, "{:?}", first.body);
    let r = s.signed("POST", "/api/v3/order", p);
    assert_eq!((r.status, r.code()), (400, -2010));
    assert_eq!(r.body["msg"], "Duplicate order sent.");
    assert_eq!(s.signed("GET", "/api/v3/openOrders", "symbol=BTCUSDT").body.as_array().unwrap().len(), 1);
    // Final (cancelled): Binance lets the id be used again, for a new order.
    assert_eq!(s.signed("DELETE", "/api/v3/order", "symbol=BTCUSDT&origClientOrderId=dup-1").status, 200);
    let again =
        s.signed("POST", "/api/v3/order", "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01&newClientOrderId=dup-1");
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_ne!(again.body["orderId"], first.body["orderId"]);
    assert_eq!(again.body["clientOrderId"], "dup-1");
    // The id names the latest order.
    let q = s.signed("GET", "/api/v3/order", "symbol=BTCUSDT&origClientOrderId=dup-1");
    assert_eq!((q.body["orderId"].clone(), q.body["status"].as_str()), (again.body["orderId"].clone(), Some("FILLED")));
    assert_eq!(s.trades().len(), 1);
}

#[test]
fn client_ids_follow_binance_rules_36_characters_with_dots_colons_slashes() {
    let s = sim(FaultConfig::default());
    // ccxt's and python-binance's default ids are 32 characters; Binance allows 36.
    for id in ["x-R4BD3S82a1b2c3d4e5f6a7b8c9d0e1f2", "web_0123456789abcdef0123456789abcdef", "a.b:c/d_e-f"] {
        let r = s.signed(
            "POST",
            "/api/v3/order",
            &format!(
                "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001&newClientOrderId={}",
                id.replace(':', "%3A").replace('/', "%2F")
            ),
        );
        assert_eq!(r.status, 200, "{id}: {:?}", r.body);
        assert_eq!(r.body["clientOrderId"], id);
        let q = s.signed(
            "GET",
            "/api/v3/order",
            &format!("symbol=BTCUSDT&origClientOrderId={}", id.replace(':', "%3A").replace('/', "%2F")),
        );
        assert_eq!((q.status, q.body["clientOrderId"].as_str()), (200, Some(id)));
    }
    for bad in ["0123456789012345678901234567890123456", "has%20space", "star*"] {
        let r = s.signed(
            "POST",
            "/api/v3/order",
            &format!("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001&newClientOrderId={bad}"),
        );
        assert_eq!((r.status, r.code()), (400, -1100), "{bad}");
        assert!(r.body["msg"].as_str().unwrap().contains("newClientOrderId"));
    }
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
fn bad_signature_is_400_and_bad_key_401() {
    let s = sim(FaultConfig::default());
    // Binance answers a wrong signature with HTTP 400 (a bad key is 401).
    let r = s.signed_with("GET", "/api/v3/account", "", T, "wrong-secret", KEY);
    assert_eq!((r.status, r.code()), (400, -1022));
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
    assert_eq!((r.status, r.code()), (400, -1022));
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

#[test]
fn order_types_quote_qty_ioc_fok_limit_maker() {
    let s = sim(FaultConfig::default());
    // quoteOrderQty: 1000 USDT at 50,000 buys 0.02 BTC.
    let r = s.signed("POST", "/api/v3/order", "symbol=BTCUSDT&side=BUY&type=MARKET&quoteOrderQty=1000");
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        (r.body["executedQty"].as_str(), r.body["origQuoteOrderQty"].as_str()),
        (Some("0.02000000"), Some("1000.00000000"))
    );
    let r = s.signed("POST", "/api/v3/order", "symbol=BTCUSDT&side=BUY&type=MARKET&quoteOrderQty=1000&quantity=1");
    assert_eq!((r.status, r.code()), (400, -1106));
    // IOC and FOK that do not cross expire at once, unfilled.
    for tif in ["IOC", "FOK"] {
        let r = s.signed(
            "POST",
            "/api/v3/order",
            &format!("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce={tif}&quantity=0.01&price=40000"),
        );
        assert_eq!(
            (r.status, r.body["status"].as_str(), r.body["timeInForce"].as_str()),
            (200, Some("EXPIRED"), Some(tif))
        );
        assert_eq!(r.body["executedQty"], "0.00000000");
    }
    // A crossing IOC fills.
    let r = s.signed(
        "POST",
        "/api/v3/order",
        "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=IOC&quantity=0.01&price=51000",
    );
    assert_eq!(r.body["status"], "FILLED");
    // LIMIT_MAKER: refused when it would take, rests otherwise; ACK by default.
    let r = s.signed("POST", "/api/v3/order", "symbol=BTCUSDT&side=BUY&type=LIMIT_MAKER&quantity=0.01&price=50000");
    assert_eq!((r.status, r.code()), (400, -2010));
    assert_eq!(r.body["msg"], "Order would immediately match and take.");
    let r = s.signed("POST", "/api/v3/order", "symbol=BTCUSDT&side=BUY&type=LIMIT_MAKER&quantity=0.01&price=49000");
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body.get("status").is_none(), "ACK by default for LIMIT_MAKER");
    let q = s.signed("GET", "/api/v3/order", &format!("symbol=BTCUSDT&orderId={}", r.body["orderId"]));
    assert_eq!((q.body["type"].as_str(), q.body["status"].as_str()), (Some("LIMIT_MAKER"), Some("NEW")));
    // Unsupported types are -1020, unknown ones -1116.
    let r = s.signed("POST", "/api/v3/order", "symbol=BTCUSDT&side=BUY&type=STOP_LOSS&quantity=0.01&stopPrice=1");
    assert_eq!((r.status, r.code()), (400, -1020));
    let r = s.signed("POST", "/api/v3/order", "symbol=BTCUSDT&side=BUY&type=NOPE&quantity=0.01");
    assert_eq!((r.status, r.code()), (400, -1116));
}

#[test]
fn order_test_all_orders_and_cancel_all() {
    let s = sim(FaultConfig::default());
    let r = s.signed("POST", "/api/v3/order/test", "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01");
    assert_eq!((r.status, r.body.clone()), (200, serde_json::json!({})));
    let r = s.signed("POST", "/api/v3/order/test", "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=0.01");
    assert_eq!((r.status, r.code()), (400, -1102), "a test order is checked");
    assert!(s.trades().is_empty());
    let r = s.signed("DELETE", "/api/v3/openOrders", "symbol=BTCUSDT");
    assert_eq!((r.status, r.code()), (400, -2011), "nothing to cancel");
    for price in ["40000", "41000"] {
        let p = format!("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price={price}");
        assert_eq!(s.signed("POST", "/api/v3/order", &p).status, 200);
    }
    assert_eq!(s.signed("POST", "/api/v3/order", "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01").status, 200);
    let r = s.signed("DELETE", "/api/v3/openOrders", "symbol=BTCUSDT");
    assert_eq!(r.status, 200, "{:?}", r.body);
    let cancelled: Vec<&str> = r.body.as_array().unwrap().iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(cancelled, ["CANCELED", "CANCELED"]);
    let all = s.signed("GET", "/api/v3/allOrders", "symbol=BTCUSDT");
    let st: Vec<&str> = all.body.as_array().unwrap().iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(st, ["CANCELED", "CANCELED", "FILLED"]);
    let all = s.signed("GET", "/api/v3/allOrders", "symbol=BTCUSDT&limit=1");
    assert_eq!(all.body.as_array().unwrap().len(), 1);
    assert_eq!(all.body[0]["status"], "FILLED", "the newest");
}

#[test]
fn my_trades_since_a_time_on_the_one_clock() {
    let s = sim(FaultConfig::default());
    let r = s.signed("POST", "/api/v3/order", "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01");
    assert_eq!(r.body["transactTime"], T, "order times are the clock serverTime gives");
    let t = s.signed("GET", "/api/v3/myTrades", &format!("symbol=BTCUSDT&startTime={}", T - 3_600_000));
    assert_eq!(t.body.as_array().unwrap().len(), 1);
    assert_eq!(t.body[0]["time"], T);
    let t = s.signed("GET", "/api/v3/myTrades", &format!("symbol=BTCUSDT&startTime={}", T + 1));
    assert!(t.body.as_array().unwrap().is_empty());
}

#[test]
fn market_data_book_tickers_trades() {
    let s = sim(FaultConfig::default());
    let d = s.public("/api/v3/depth", "symbol=BTCUSDT&limit=5");
    assert_eq!(d.status, 200, "{:?}", d.body);
    assert_eq!(d.body["bids"].as_array().unwrap().len(), 5);
    // Without candles: one tick each side of the last price, a tick apart, 10,000
    // USDT's worth at the best level, twice that at the next (the model of depth.rs).
    assert_eq!(d.body["bids"][0], serde_json::json!(["49999.99000000", "0.20000000"]));
    assert_eq!(d.body["bids"][1], serde_json::json!(["49999.98000000", "0.40000000"]));
    assert_eq!(d.body["asks"][0], serde_json::json!(["50000.01000000", "0.19999000"]));
    assert_eq!(d.body["asks"][1][0], "50000.02000000");
    let b = s.public("/api/v3/ticker/bookTicker", "symbol=BTCUSDT");
    assert_eq!(
        (b.body["bidPrice"].as_str(), b.body["bidQty"].as_str(), b.body["askPrice"].as_str()),
        (Some("49999.99000000"), Some("0.20000000"), Some("50000.01000000"))
    );
    assert_eq!(s.public("/api/v3/depth", "symbol=BTCUSDT&limit=1000").body["asks"].as_array().unwrap().len(), 1000);
    let t = s.public("/api/v3/ticker/24hr", "symbol=ETHUSDT");
    assert_eq!(t.body["lastPrice"], "2500.00000000");
    let t = s.public("/api/v3/ticker/price", "symbols=%5B%22ETHUSDT%22%5D");
    assert_eq!(t.body.as_array().unwrap().len(), 1);
    assert_eq!(t.body[0]["symbol"], "ETHUSDT");
    let a = s.public("/api/v3/avgPrice", "symbol=BTCUSDT");
    assert_eq!(a.body["price"], "50000.00000000");
    assert!(s.public("/api/v3/trades", "symbol=BTCUSDT").body.as_array().unwrap().is_empty());
    s.signed("POST", "/api/v3/order", "symbol=BTCUSDT&side=SELL&type=MARKET&quantity=0.01");
    s.signed("POST", "/api/v3/order", "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01");
    let t = s.public("/api/v3/trades", "symbol=BTCUSDT");
    assert_eq!(t.body.as_array().unwrap().len(), 1, "the account's own fills: {:?}", t.body);
    assert_eq!(t.body[0]["qty"], "0.01000000");
    assert_eq!(s.public("/api/v3/aggTrades", "symbol=BTCUSDT").body.as_array().unwrap().len(), 1);
}

#[test]
fn unknown_routes_and_methods_are_unsupported_not_server_errors() {
    let s = sim(FaultConfig::default());
    let r = s.public("/api/v3/nothing", "");
    assert_eq!((r.status, r.code()), (404, -1020));
    let r = Sim::reply(s.agent.put(format!("http://{}/api/v3/ticker/price", s.addr)).send(""));
    assert_eq!((r.status, r.code()), (400, -1020));
    assert_eq!(r.body["msg"], "This operation is not supported.");
    // What ccxt's load_markets asks for beyond spot: answered, empty.
    assert_eq!(s.public("/fapi/v1/exchangeInfo", "").body["symbols"], serde_json::json!([]));
    assert_eq!(s.public("/dapi/v1/exchangeInfo", "").body["symbols"], serde_json::json!([]));
    let m = Sim::reply(
        s.agent.get(format!("http://{}/sapi/v1/margin/allPairs", s.addr)).header("X-MBX-APIKEY", KEY).call(),
    );
    assert_eq!((m.status, m.body.clone()), (200, serde_json::json!([])));
    let c = s.signed("GET", "/sapi/v1/capital/config/getall", "");
    assert!(c.body.as_array().unwrap().iter().any(|x| x["coin"] == "BTC"), "{:?}", c.body);
}

#[test]
fn numbers_have_binance_precision_and_zero_balances_are_listed_by_default() {
    let s = sim(FaultConfig::default());
    // 8 decimals at least; never cut (fills must add up to the balances).
    s.state.exchange().deposit(&a("USDT"), Qty(dec!(0.123456789123))).unwrap();
    let b = s.balances();
    assert_eq!(b["USDT"].0, "10000.123456789123");
    assert_eq!(b["BTC"].0, "0.00000000", "omitZeroBalances is false by default");
    let r = s.signed("GET", "/api/v3/account", "omitZeroBalances=true");
    assert!(r.body["balances"].as_array().unwrap().iter().all(|x| x["asset"] != "BTC"));
    let r = s.signed("GET", "/api/v3/account", "omitZeroBalances=maybe");
    assert_eq!((r.status, r.code()), (400, -1100));
}

#[test]
fn weight_and_order_count_headers_and_retry_after_to_the_minute_end() {
    let s = sim(FaultConfig::default());
    let url = format!("http://{}/api/v3/order", s.addr);
    let payload = format!("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001&timestamp={T}");
    let body = format!("{payload}&signature={}", sign(SECRET, &payload));
    let resp = s
        .agent
        .post(&url)
        .header("X-MBX-APIKEY", KEY)
        .content_type("application/x-www-form-urlencoded")
        .send(body.as_str())
        .unwrap();
    let h = |n: &str| resp.headers().get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
    assert_eq!(h("X-MBX-ORDER-COUNT-10S").as_deref(), Some("1"));
    assert_eq!(h("X-MBX-ORDER-COUNT-1D").as_deref(), Some("1"));
    assert_eq!(h("X-MBX-USED-WEIGHT").as_deref(), Some("1"));
    // Spend the minute's weight: the 429 says to wait until the minute ends (T is
    // 20 s into its minute: 40 s left).
    assert_eq!(T.rem_euclid(60_000), 20_000);
    let mut last = s.public("/api/v3/exchangeInfo", "");
    for _ in 0..300 {
        if last.status == 429 {
            break;
        }
        last = s.public("/api/v3/exchangeInfo", "");
    }
    assert_eq!(last.status, 429);
    assert_eq!(last.retry_after.as_deref(), Some("40"));
}

#[test]
fn a_signature_over_the_decoded_values_is_accepted_as_python_binance_signs() {
    let s = sim(FaultConfig::default());
    let decoded = format!("newClientOrderId=a:b/c&quantity=0.001&side=BUY&symbol=BTCUSDT&timestamp={T}&type=MARKET");
    let sent = decoded.replace("a:b/c", "a%3Ab%2Fc");
    let body = format!("{sent}&signature={}", sign(SECRET, &decoded));
    let r = Sim::reply(
        s.agent
            .post(format!("http://{}/api/v3/order", s.addr))
            .header("X-MBX-APIKEY", KEY)
            .content_type("application/x-www-form-urlencoded")
            .send(body.as_str()),
    );
    assert_eq!((r.status, r.body["clientOrderId"].as_str()), (200, Some("a:b/c")), "{:?}", r.body);
    // A signature over other values is still refused.
    let body = format!("{sent}&signature={}", sign(SECRET, &decoded.replace("0.001", "0.002")));
    let r = Sim::reply(
        s.agent
            .post(format!("http://{}/api/v3/order", s.addr))
            .header("X-MBX-APIKEY", KEY)
            .content_type("application/x-www-form-urlencoded")
            .send(body.as_str()),
    );
    assert_eq!((r.status, r.code()), (400, -1022));
}

#[test]
fn exchange_info_lists_the_enforced_limits_binance_defaults() {
    let s = sim(FaultConfig::default());
    let r = s.public("/api/v3/exchangeInfo", "");
    let limits: Vec<(String, i64, u64)> = r.body["rateLimits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["rateLimitType"].as_str().unwrap().to_string(),
                l["intervalNum"].as_i64().unwrap(),
                l["limit"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        limits,
        vec![("REQUEST_WEIGHT".into(), 1, 6000), ("ORDERS".into(), 10, 100), ("ORDERS".into(), 1, 200_000)]
    );
}

#[test]
fn over_the_weight_a_429_until_the_minute_ends_then_abuse_is_banned_with_418() {
    let limits = RateLimits { weight_per_minute: 10, ban_after_429s: 2, ban_secs: 120, ..RateLimits::default() };
    let s = sim_limited(FaultConfig::default(), limits);
    // T is 20 s into its minute. Ten pings are the minute's weight.
    for i in 1..=10 {
        let r = s.public("/api/v3/ping", "");
        assert_eq!((r.status, r.weight.as_deref()), (200, Some(i.to_string().as_str())));
    }
    let r = s.public("/api/v3/ping", "");
    assert_eq!((r.status, r.code(), r.retry_after.as_deref()), (429, -1003, Some("40")), "{:?}", r.body);
    assert!(r.body["msg"].as_str().unwrap().contains("request weight per 1 MINUTE is 10"), "{:?}", r.body);
    // Retry-After counts down to the minute's end.
    s.clock.set(Timestamp(T + 15_500));
    let r = s.public("/api/v3/ping", "");
    assert_eq!((r.status, r.retry_after.as_deref()), (429, Some("25")));
    // A third 429 in the minute is one too many: banned for 2 minutes.
    let r = s.public("/api/v3/ping", "");
    assert_eq!((r.status, r.code(), r.retry_after.as_deref()), (418, -1003, Some("120")), "{:?}", r.body);
    let until = T + 15_500 + 120_000;
    assert!(r.body["msg"].as_str().unwrap().contains(&format!("banned until {until}")), "{:?}", r.body);
    // Every request during the ban, even in a new minute, is 418, counting down.
    s.clock.set(Timestamp(T + 100_000));
    let r = s.signed_with("GET", "/api/v3/account", "", T + 100_000, SECRET, KEY);
    assert_eq!((r.status, r.retry_after.as_deref()), (418, Some("36")));
    // After it, a fresh minute serves again.
    s.clock.set(Timestamp(until));
    assert_eq!(s.public("/api/v3/ping", "").status, 200);
    // The next ban is twice as long.
    for _ in 0..12 {
        s.public("/api/v3/ping", "");
    }
    let r = s.public("/api/v3/ping", "");
    assert_eq!((r.status, r.retry_after.as_deref()), (418, Some("240")));
    let injected = s.state.injected();
    assert_eq!((injected.get("weight_429"), injected.get("weight_418")), (Some(&4), Some(&4)), "{injected:?}");
}

#[test]
fn unfilled_orders_over_the_10s_limit_are_1015_and_a_fill_frees_its_place() {
    let limits = RateLimits { orders_per_10s: 2, ..RateLimits::default() };
    let s = sim_limited(FaultConfig::default(), limits);
    let order = |params: &str, at: i64| s.signed_with("POST", "/api/v3/order", params, at, SECRET, KEY);
    let rest = |id: &str, at: i64| {
        order(
            &format!(
                "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=40000&newClientOrderId={id}"
            ),
            at,
        )
    };
    let market = "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001";
    let counts = |at: i64| {
        let r = s.signed_with("GET", "/api/v3/rateLimit/order", "", at, SECRET, KEY);
        (r.body[0]["count"].as_u64().unwrap(), r.body[1]["count"].as_u64().unwrap())
    };
    assert_eq!(rest("a", T).status, 200);
    // A market order fills at once: it counts at placement and is off the count by
    // the next placement, as Binance's unfilled order count.
    assert_eq!(order(market, T).status, 200);
    assert_eq!(rest("b", T).status, 200);
    let r = rest("c", T);
    assert_eq!((r.status, r.code()), (429, -1015), "{:?}", r.body);
    assert_eq!(r.body["msg"], "Too many new orders; current limit is 2 orders per 10 SECOND.");
    // T is at the start of its 10-second window.
    assert_eq!(r.retry_after.as_deref(), Some("10"));
    assert_eq!(s.signed("GET", "/api/v3/order", "symbol=BTCUSDT&origClientOrderId=c").code(), -2013, "not placed");
    assert_eq!(counts(T), (2, 2));
    // A cancelled order never filled: it still counts.
    assert_eq!(s.signed("DELETE", "/api/v3/order", "symbol=BTCUSDT&origClientOrderId=b").status, 200);
    assert_eq!(rest("d", T).code(), -1015);
    // The next window is fresh; the day keeps its count.
    let later = T + 10_000;
    s.clock.set(Timestamp(later));
    assert_eq!(rest("e", later).status, 200);
    assert_eq!(counts(later), (1, 3));
}

/// `POST /sapi/v1/asset/dust` needs its `asset`s, and converts only into a BNB the sim
/// can price: here it serves no BNB market, so the request is refused naming BNB and
/// nothing is converted (the conversion itself, through the adapter: `ballast`'s
/// `venue_dust_pairs.rs`).
#[test]
fn dust_needs_assets_and_a_bnb_market_and_refuses_whole() {
    let s = sim(FaultConfig::default());
    let r = s.signed("POST", "/api/v3/order", "symbol=ETHUSDT&side=BUY&type=MARKET&quantity=0.001");
    assert_eq!(r.status, 200, "{:?}", r.body);
    let before = s.balances();
    let r = s.signed("POST", "/sapi/v1/asset/dust", "");
    assert_eq!((r.status, r.code()), (400, -1102), "{:?}", r.body);
    let used = |r: &Reply| r.weight.as_deref().unwrap().parse::<u64>().unwrap();
    let first = used(&r);
    let r = s.signed("POST", "/sapi/v1/asset/dust", "asset=ETH,BTC");
    assert_eq!((r.status, r.code()), (400, -2010), "{:?}", r.body);
    assert!(r.body["msg"].as_str().unwrap().contains("BNB"), "{:?}", r.body);
    assert_eq!(used(&r) - first, 10, "weight 10, as Binance's");
    assert_eq!(s.balances(), before, "nothing converted");
}

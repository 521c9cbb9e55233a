//! The adapter against CCXT's recorded Gate fixtures (tests/fixtures/ccxt, MIT, see
//! LICENSE.txt there): the requests we build for the same input, our reading of the
//! recorded responses, and the rules of the recorded markets.

mod common;

use std::str::FromStr;
use std::sync::Arc;

use ballast_core::planner::Side;
use ballast_core::{Price, Qty, Timestamp};
use ballast_exchange::{ClientOrderId, Exchange, ManualClock, OrderKind, OrderRequest, OrderStatus};
use ballast_gate::{Gate, GateConfig, Method, wire};
use ballast_http::FakeTransport;
use common::*;
use rust_decimal::Decimal;
use serde_json::{Value, json};

fn dec(v: &Value) -> Decimal {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    ballast_core::money::parse_decimal(&s).unwrap()
}

fn symbol(s: &str) -> (ballast_core::Asset, ballast_core::Asset) {
    let (b, q) = s.split_once('/').unwrap();
    (asset(b), asset(q))
}

/// Spot createOrder entries that map onto our API (limit buy/sell, market sell):
/// our POST body equals CCXT's, `text` (a skipKey) aside, and `text` is `t-<id>`.
#[test]
fn create_order_bodies_match_ccxt() {
    let req = fixture("request");
    let skip: Vec<String> =
        req["skipKeys"].as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_string()).collect();
    for description in ["Spot limit buy order", "Spot limit sell order", "Spot market sell order"] {
        let e = entry(&req, "createOrder", description);
        let input = e["input"].as_array().unwrap();
        let (base, quote) = symbol(input[0].as_str().unwrap());
        let kind = match input[1].as_str().unwrap() {
            "limit" => OrderKind::Limit { price: Price(dec(&input[4])) },
            _ => OrderKind::Market,
        };
        let side = if input[2] == "buy" { Side::Buy } else { Side::Sell };
        let cid = ClientOrderId::new("bl1-2-0").unwrap();
        let order = OrderRequest {
            client_id: cid.clone(),
            base,
            quote,
            side,
            qty: Qty(dec(&input[3])),
            kind,
            expires_at: None,
        };

        let env = env();
        unknown_order(&env.fake, "t-bl1-2-0");
        let pair = wire::pair_id(&order.base, &order.quote);
        let reply =
            order_json("1", "t-bl1-2-0", &pair, input[2].as_str().unwrap(), "limit", "1", "1", "1", "open", "open");
        env.fake.json(Method::Post, "/spot/orders", 201, &reply.to_string());
        env.gate.place(&order).unwrap();

        let post = sent(&env.fake).into_iter().find(|r| r.method == Method::Post).unwrap();
        assert_eq!(post.url, e["url"].as_str().unwrap().replace("https://api.gateio.ws/api/v4", BASE), "{description}");
        let mut ours: Value = serde_json::from_str(&post.body).unwrap();
        assert_eq!(ours["text"], "t-bl1-2-0");
        let mut theirs: Value = serde_json::from_str(e["output"].as_str().unwrap()).unwrap();
        for k in &skip {
            ours.as_object_mut().unwrap().remove(k);
            theirs.as_object_mut().unwrap().remove(k);
        }
        assert_eq!(ours, theirs, "{description}");
    }
}

/// CCXT sends market buys as a quote amount (`amount` = cost); we keep the base
/// quantity exact with an IOC limit at last price + slippage, rounded up to the tick.
#[test]
fn market_buy_is_an_ioc_limit_with_an_exact_base_quantity() {
    let markets = fixture("markets");
    let env = env();
    unknown_order(&env.fake, "t-mb");
    env.fake.json(Method::Get, "/spot/currency_pairs/BTC_USDT", 200, &markets["BTC/USDT"]["info"].to_string());
    env.fake.json(Method::Get, "/spot/tickers", 200, r#"[{"currency_pair":"BTC_USDT","last":"73373.9"}]"#);
    let reply = order_json("9", "t-mb", "BTC_USDT", "buy", "limit", "0.0001", "73740.8", "0.0001", "cancelled", "ioc");
    env.fake.json(Method::Post, "/spot/orders", 201, &reply.to_string());
    let order = OrderRequest {
        client_id: ClientOrderId::new("mb").unwrap(),
        base: asset("BTC"),
        quote: asset("USDT"),
        side: Side::Buy,
        qty: Qty(Decimal::from_str("0.0001").unwrap()),
        kind: OrderKind::Market,
        expires_at: None,
    };
    let r = env.gate.place(&order).unwrap();
    assert_eq!(r.status, OrderStatus::Expired);
    let post = sent(&env.fake).into_iter().find(|r| r.method == Method::Post).unwrap();
    let body: Value = serde_json::from_str(&post.body).unwrap();
    // 73373.9 * 1.005 = 73740.7695 -> up to the 0.1 tick.
    let expected = json!({"text":"t-mb","currency_pair":"BTC_USDT","account":"spot","side":"buy","amount":"0.0001",
        "type":"limit","price":"73740.8","time_in_force":"ioc"});
    assert_eq!(body, expected);
}

/// Read requests: same endpoint and parameters as CCXT (extras listed explicitly).
#[test]
fn read_requests_match_ccxt() {
    let req = fixture("request");
    let env = env();
    let (btc, usdt, ltc) = (asset("BTC"), asset("USDT"), asset("LTC"));

    // fetchTicker: /spot/tickers?currency_pair=BTC_USDT
    env.fake.json(Method::Get, "/spot/tickers", 200, r#"[{"currency_pair":"BTC_USDT","last":"1"}]"#);
    env.gate.prices(std::slice::from_ref(&btc), &usdt).unwrap();
    // fetchBalance: /spot/accounts
    env.fake.json(Method::Get, "/spot/accounts", 200, "[]");
    env.gate.balances().unwrap();
    // fetchOrder (by text instead of id) and the closed-orders scan.
    unknown_order(&env.fake, "t-q1");
    assert_eq!(env.gate.query(&ClientOrderId::new("q1").unwrap(), &ltc, &usdt).unwrap(), None);
    // open orders
    env.gate.open_orders(&ltc, &usdt).unwrap();

    let ours = sent(&env.fake);
    let find = |p: &str, extra: &[(&str, &str)]| {
        ours.iter()
            .find(|r| {
                path(&r.url) == p && extra.iter().all(|(k, v)| params(&r.url).get(*k).map(String::as_str) == Some(*v))
            })
            .unwrap_or_else(|| panic!("no request {p}"))
            .clone()
    };
    let check =
        |method: &str, description: &str, ours: &ballast_gate::HttpRequest, id_map: Option<&str>, extras: &[&str]| {
            let e = entry(&req, method, description);
            let url = e["url"].as_str().unwrap();
            let mut their_path = path(url);
            if let Some(ours_id) = id_map {
                let (dir, _) = their_path.rsplit_once('/').unwrap();
                their_path = format!("{dir}/{ours_id}");
            }
            assert_eq!(path(&ours.url), their_path, "{description}");
            let mut mine = params(&ours.url);
            for x in extras {
                mine.remove(*x);
            }
            assert_eq!(mine, params(url), "{description}");
        };
    check("fetchTicker", "Fetch Ticker - spot", &find("/spot/tickers", &[]), None, &[]);
    check("fetchBalance", "Fetch spot Balance", &find("/spot/accounts", &[]), None, &[]);
    let q = find("/spot/orders/t-q1", &[]);
    let e = entry(&req, "fetchOrder", "Fetch Order - spot");
    // Same parameters, for LTC_USDT instead of BTC_USDT.
    let mut theirs = params(e["url"].as_str().unwrap());
    theirs.insert("currency_pair".into(), "LTC_USDT".into());
    assert_eq!(params(&q.url), theirs);
    check(
        "fetchClosedOrders",
        "Spot closed orders",
        &find("/spot/orders", &[("status", "finished")]),
        None,
        &["limit"],
    );
    // CCXT reads /spot/open_orders (all pairs, grouped); we read the documented per-pair
    // /spot/orders?status=open with the same parameters.
    let open = find("/spot/orders", &[("status", "open")]);
    let e = entry(&req, "fetchOpenOrders", "Spot open orders");
    let mut mine = params(&open.url);
    mine.remove("limit");
    assert_eq!(mine, params(e["url"].as_str().unwrap()));
}

/// cancelOrder: DELETE /spot/orders/{id}?account=spot&currency_pair=...
#[test]
fn cancel_request_matches_ccxt() {
    let req = fixture("request");
    let e = entry(&req, "cancelOrder", "Cancel Order - spot");
    let env = env();
    let open = order_json("d82cc6af", "t-c1", "BTC_USDT", "buy", "limit", "0.1", "50000", "0.1", "open", "open");
    env.fake.json(Method::Get, "/spot/orders/t-c1", 200, &open.to_string());
    let cancelled =
        order_json("d82cc6af", "t-c1", "BTC_USDT", "buy", "limit", "0.1", "50000", "0.1", "cancelled", "cancelled");
    env.fake.json(Method::Delete, "/spot/orders/d82cc6af", 200, &cancelled.to_string());
    let r = env.gate.cancel(&ClientOrderId::new("c1").unwrap(), &asset("BTC"), &asset("USDT")).unwrap();
    assert_eq!(r.status, OrderStatus::Canceled);
    let del = sent(&env.fake).into_iter().find(|r| r.method == Method::Delete).unwrap();
    assert_eq!(path(&del.url), "/spot/orders/d82cc6af");
    assert_eq!(params(&del.url), params(e["url"].as_str().unwrap()));
}

/// fetchMyTrades "Spot trade": our fills equal CCXT's trades (same order, amounts, fees).
#[test]
fn trades_match_ccxt() {
    let resp = fixture("response");
    let e = entry(&resp, "fetchMyTrades", "Spot trade");
    let fills = wire::parse_trades(&e["httpResponse"]).unwrap();
    let parsed = e["parsedResponse"].as_array().unwrap();
    assert_eq!(fills.len(), parsed.len());
    for (f, p) in fills.iter().zip(parsed) {
        assert_eq!(f.trade_id, p["id"].as_str().unwrap());
        assert_eq!(f.qty.0, dec(&p["amount"]));
        assert_eq!(f.price.0, dec(&p["price"]));
        assert_eq!(f.fee.0, dec(&p["fee"]["cost"]));
        assert_eq!(f.fee_asset.as_str(), p["fee"]["currency"].as_str().unwrap());
        assert_eq!(f.time.0, p["timestamp"].as_i64().unwrap());
    }
}

/// fetchOpenOrders "default" (grouped /spot/open_orders shape) through the adapter.
#[test]
fn open_orders_match_ccxt() {
    let resp = fixture("response");
    let e = entry(&resp, "fetchOpenOrders", "default");
    let env = env();
    env.fake.json(Method::Get, "/spot/orders", 200, &e["httpResponse"].to_string());
    let orders = env.gate.open_orders(&asset("BTC"), &asset("USDT")).unwrap();
    let parsed = e["parsedResponse"].as_array().unwrap();
    assert_eq!(orders.len(), parsed.len());
    for (o, p) in orders.iter().zip(parsed) {
        assert_eq!(o.venue_id, p["id"].as_str().unwrap());
        assert_eq!(o.client_id.as_str(), p["clientOrderId"].as_str().unwrap());
        assert_eq!(o.side, Side::Sell);
        assert_eq!(p["side"], "sell");
        assert_eq!(o.qty.0, dec(&p["amount"]));
        assert_eq!(o.filled.0, dec(&p["filled"]));
        assert_eq!(p["status"], "open");
        assert_eq!(o.status, OrderStatus::New);
        assert!(o.fills.is_empty());
    }
}

/// fetchClosedOrders "spot closed orders": a Gate market BUY (amount in quote) whose
/// trades are the fetchMyTrades fixture (same order id). CCXT estimates the base
/// quantity as filled_total / avg_deal_price (0.0734928...); we sum the trades, which
/// is exact (0.0735), and agree with CCXT to 1e-4.
#[test]
fn closed_market_buy_matches_ccxt() {
    let resp = fixture("response");
    let e = entry(&resp, "fetchClosedOrders", "spot closed orders");
    let trades = entry(&resp, "fetchMyTrades", "Spot trade");
    let env = env();
    env.fake.json(Method::Get, "/spot/orders", 200, &e["httpResponse"].to_string());
    env.fake.json(Method::Get, "/spot/my_trades", 200, &trades["httpResponse"].to_string());
    let raw = &e["httpResponse"][0];
    let fills = wire::parse_trades(&trades["httpResponse"]).unwrap();
    let o = wire::parse_order(raw, &asset("LTC"), &asset("USDT"), fills).unwrap();
    let p = &e["parsedResponse"][0];
    assert_eq!(o.venue_id, p["id"].as_str().unwrap());
    assert_eq!(o.client_id.as_str(), p["clientOrderId"].as_str().unwrap());
    assert_eq!(p["status"], "closed");
    assert_eq!(o.status, OrderStatus::Filled);
    assert_eq!(o.side, Side::Buy);
    assert_eq!(o.filled.0, Decimal::from_str("0.0735").unwrap());
    assert!((o.filled.0 - dec(&p["filled"])).abs() < Decimal::from_str("0.0001").unwrap());
    assert_eq!(o.qty, o.filled);
    // Fees: CCXT's LTC fee entry equals the sum of the fills' fees.
    let fee: Decimal = o.fills.iter().map(|f| f.fee.0).sum();
    let ltc_fee = p["fees"].as_array().unwrap().iter().find(|f| f["currency"] == "LTC").unwrap();
    assert_eq!(fee, dec(&ltc_fee["cost"]));
    // And the adapter fetches those trades for an executed order.
    let v = env.gate.open_orders(&asset("LTC"), &asset("USDT")).unwrap();
    assert_eq!(v[0].fills.len(), 2);
    let trades_req = sent(&env.fake).into_iter().find(|r| path(&r.url) == "/spot/my_trades").unwrap();
    assert_eq!(params(&trades_req.url).get("order_id").map(String::as_str), Some("497245022561"));
}

/// fetchTicker "public spot ticker": the price is CCXT's `last`.
#[test]
fn ticker_matches_ccxt() {
    let resp = fixture("response");
    let e = entry(&resp, "fetchTicker", "public spot ticker");
    let env = env();
    env.fake.json(Method::Get, "/spot/tickers", 200, &e["httpResponse"].to_string());
    let prices = env.gate.prices(&[asset("BTC"), asset("USDT")], &asset("USDT")).unwrap();
    assert_eq!(prices.len(), 1);
    assert_eq!(prices[&asset("BTC")].0, dec(&e["parsedResponse"]["last"]));
}

/// fetchTime: the server time, and the signed Timestamp follows the server clock.
#[test]
fn server_time_matches_ccxt_and_sets_the_timestamp() {
    let resp = fixture("response");
    let e = entry(&resp, "fetchTime", "fetch time response");
    assert_eq!(wire::parse_server_time(&e["httpResponse"]).unwrap(), e["parsedResponse"].as_i64().unwrap());

    // The server is 30 s ahead of our clock: the signed Timestamp follows the server.
    let fake = Arc::new(FakeTransport::new(BASE));
    fake.json(Method::Get, "/spot/time", 200, &json!({"server_time": T0 + 30_000}).to_string());
    fake.json(Method::Get, "/spot/accounts", 200, "[]");
    let clock = Arc::new(ManualClock::new(Timestamp(T0)));
    let mut config = GateConfig::new("k", "s");
    config.base_url = BASE.to_string();
    let gate = Gate::new(config, fake.clone(), clock);
    gate.balances().unwrap();
    let req = sent(&fake).into_iter().find(|r| path(&r.url) == "/spot/accounts").unwrap();
    assert_eq!(header(&req, "Timestamp"), Some(((T0 + 30_000) / 1000).to_string().as_str()));
}

/// markets/gate.json spot pairs: our rules equal CCXT's precision and limits.
#[test]
fn rules_match_ccxt_markets() {
    let markets = fixture("markets");
    let mut n = 0;
    for (sym, m) in markets.as_object().unwrap() {
        if m["spot"] != true {
            continue;
        }
        n += 1;
        let r = wire::parse_rules(&m["info"]).unwrap();
        assert_eq!(r.tick, dec(&m["precision"]["price"]), "{sym}");
        assert_eq!(r.step, dec(&m["precision"]["amount"]), "{sym}");
        assert_eq!(r.min_qty, dec(&m["limits"]["amount"]["min"]), "{sym}");
        assert_eq!(r.min_notional, dec(&m["limits"]["cost"]["min"]), "{sym}");
    }
    assert_eq!(n, 7);

    let env = env();
    env.fake.json(Method::Get, "/spot/currency_pairs/ETH_USDT", 200, &markets["ETH/USDT"]["info"].to_string());
    let r = env.gate.rules(&asset("ETH"), &asset("USDT")).unwrap();
    assert_eq!(r.tick, Decimal::from_str("0.01").unwrap());
    env.gate.rules(&asset("ETH"), &asset("USDT")).unwrap();
    assert_eq!(sent(&env.fake).len(), 1, "rules are cached");
}

/// A post-only order: CCXT's "Spot limit buy order" body with `time_in_force: poc`
/// (Gate API v4 "Create an order": poc, PendingOrCancelled, a post-only order).
#[test]
fn post_only_is_a_poc_limit_order() {
    let req = fixture("request");
    let e = entry(&req, "createOrder", "Spot limit buy order");
    let input = e["input"].as_array().unwrap();
    let (base, quote) = symbol(input[0].as_str().unwrap());
    let order = OrderRequest {
        client_id: ClientOrderId::new("bl1-2-0r1").unwrap(),
        base,
        quote,
        side: Side::Buy,
        qty: Qty(dec(&input[3])),
        kind: OrderKind::PostOnly { price: Price(dec(&input[4])) },
        expires_at: None,
    };
    let env = env();
    unknown_order(&env.fake, "t-bl1-2-0r1");
    let pair = wire::pair_id(&order.base, &order.quote);
    let reply = order_json("1", "t-bl1-2-0r1", &pair, "buy", "limit", "1", "1", "1", "open", "open");
    env.fake.json(Method::Post, "/spot/orders", 201, &reply.to_string());
    let r = env.gate.place(&order).unwrap();
    assert_eq!(r.status, OrderStatus::New);
    let post = sent(&env.fake).into_iter().find(|r| r.method == Method::Post).unwrap();
    let ours: Value = serde_json::from_str(&post.body).unwrap();
    let mut theirs: Value = serde_json::from_str(e["output"].as_str().unwrap()).unwrap();
    theirs["time_in_force"] = json!("poc");
    theirs["text"] = json!("t-bl1-2-0r1");
    for k in req["skipKeys"].as_array().unwrap() {
        theirs.as_object_mut().unwrap().remove(k.as_str().unwrap());
    }
    let mut ours = ours;
    for k in req["skipKeys"].as_array().unwrap() {
        ours.as_object_mut().unwrap().remove(k.as_str().unwrap());
    }
    assert_eq!(ours, theirs);
}

/// The touch from CCXT's recorded ticker: `highest_bid` and `lowest_ask`.
#[test]
fn the_touch_is_the_tickers_bid_and_ask() {
    let resp = fixture("response");
    let e = entry(&resp, "fetchTicker", "public spot ticker");
    let env = env();
    env.fake.json(Method::Get, "/spot/tickers", 200, &e["httpResponse"].to_string());
    let t = env.gate.best_bid_ask(&asset("BTC"), &asset("USDT")).unwrap();
    assert_eq!((t.bid.0, t.ask.0), (dec(&e["parsedResponse"]["bid"]), dec(&e["parsedResponse"]["ask"])));
    // A side without orders is an error naming it, not a zero price.
    let empty = r#"[{"currency_pair":"BTC_USDT","last":"1","highest_bid":"","lowest_ask":"2"}]"#;
    let e = wire::parse_touch(&serde_json::from_str(empty).unwrap(), "BTC_USDT").unwrap_err();
    assert!(e.contains("highest_bid"), "{e}");
}

/// `GET /spot/fee`: the GT-deducted rates when `gt_discount` is on, else the plain ones.
#[test]
fn fee_rates_follow_the_gt_deduction() {
    let env = env();
    let body = r#"{"user_id":1,"taker_fee":"0.002","maker_fee":"0.002","gt_discount":true,"gt_taker_fee":"0.0015","gt_maker_fee":"0.0015","loan_fee":"0.18","point_type":"1"}"#;
    env.fake.json(Method::Get, "/spot/fee", 200, body);
    let r = env.gate.fee_rates(&asset("BTC"), &asset("USDT")).unwrap();
    assert_eq!((r.maker.to_string(), r.taker.to_string()), ("0.0015".into(), "0.0015".into()));
    assert_eq!(r.discount_asset, Some(asset("GT")));
    let req = sent(&env.fake).into_iter().find(|r| path(&r.url) == "/spot/fee").unwrap();
    assert_eq!(params(&req.url)["currency_pair"], "BTC_USDT");
    assert!(header(&req, "SIGN").is_some());
    let plain: Value = serde_json::from_str(&body.replace("\"gt_discount\":true", "\"gt_discount\":false")).unwrap();
    let r = wire::parse_fee(&plain).unwrap();
    assert_eq!((r.maker.to_string(), r.discount_asset), ("0.002".into(), None));
}

/// `POST /wallet/small_balance` with the currencies; what it gave is read from the
/// latest record of each in `/wallet/small_balance_history`.
#[test]
fn dust_is_converted_into_gt_and_read_back_from_the_history() {
    let env = env();
    env.fake.json(Method::Post, "/wallet/small_balance", 200, "");
    let history = r#"[{"id":"1","create_time":1706670000,"currency":"FLOKI","amount":"1.0","gt_amount":"0.0001"},
        {"id":"2","create_time":1706670777,"currency":"FLOKI","amount":"182.294","gt_amount":"0.001079"},
        {"id":"3","create_time":1706670777,"currency":"MBLK","amount":"0.5","gt_amount":"0.0002"}]"#;
    env.fake.json(Method::Get, "/wallet/small_balance_history", 200, history);
    let c = env.gate.convert_dust(&[asset("FLOKI"), asset("MBLK")], &asset("USDT")).unwrap();
    assert_eq!(c.into, asset("GT"));
    assert_eq!(c.converted[0].0, asset("FLOKI"));
    assert_eq!((c.converted[0].1.0.to_string(), c.converted[0].2.0.to_string()), ("182.294".into(), "0.001079".into()));
    let post = sent(&env.fake).into_iter().find(|r| r.method == Method::Post).unwrap();
    let body: Value = serde_json::from_str(&post.body).unwrap();
    assert_eq!(body, json!({"currency": ["FLOKI", "MBLK"]}));
}

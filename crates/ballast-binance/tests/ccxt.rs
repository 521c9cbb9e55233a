//! CCXT's recorded Binance spot requests, responses and markets (MIT, see
//! tests/fixtures/ccxt/README.md) mapped onto ballast's API.

mod common;

use std::collections::BTreeMap;

use ballast_core::money::parse_decimal;
use ballast_core::planner::Side;
use ballast_core::rules::PriceRounding;
use ballast_core::{Asset, Price, Qty, SymbolRules};
use ballast_exchange::{ClientOrderId, Exchange, OrderKind, OrderRequest, OrderStatus};
use common::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::{Value, json};

fn a(s: &str) -> Asset {
    Asset::new(s).unwrap()
}

fn pair(ccxt_symbol: &str) -> (Asset, Asset) {
    let (b, q) = ccxt_symbol.split_once('/').unwrap();
    (a(b), a(q))
}

fn num(v: &Value) -> Decimal {
    parse_decimal(&v.to_string()).unwrap().normalize()
}

fn cid() -> ClientOrderId {
    ClientOrderId::new("bl1-2-3").unwrap()
}

/// CCXT's parameters minus the keys that vary (the file's skipKeys).
fn ccxt_params(file: &Value, e: &Value) -> (String, String, BTreeMap<String, String>) {
    let http = match e["method"].as_str().unwrap() {
        "createOrder" => "POST",
        "cancelOrder" => "DELETE",
        _ => "GET",
    };
    let (m, path, mut p) = split(http, e["url"].as_str().unwrap(), e["output"].as_str());
    for k in file["skipKeys"].as_array().unwrap() {
        p.remove(k.as_str().unwrap());
    }
    (m, path, p)
}

fn ours(req: &ballast_binance::HttpRequest) -> (String, String, BTreeMap<String, String>) {
    let (m, path, mut p) = split_req(req);
    for k in ["signature", "timestamp", "recvWindow", "newClientOrderId"] {
        assert!(p.remove(k).is_some(), "signed request without {k}");
    }
    (m, path, p)
}

/// Rules of a CCXT market, served as an exchangeInfo reply.
fn rules_of(b: &ballast_binance::Binance, fake: &Fake, markets: &Value, symbol: &str) -> SymbolRules {
    fake.reply(&json!({"symbols": [markets[symbol]["info"].clone()]}));
    let (base, quote) = pair(symbol);
    b.rules(&base, &quote).unwrap()
}

fn order_reply() -> Value {
    json!({"symbol": "X", "orderId": 1, "clientOrderId": "bl1-2-3", "transactTime": 1, "origQty": "1",
           "executedQty": "0", "status": "NEW", "side": "BUY", "fills": []})
}

#[test]
fn create_order_requests_match_ccxt() {
    let file = fixture("request");
    let markets = fixture("markets");
    // Left out: "Spot market buy order" (CCXT sends quoteOrderQty for a market buy,
    // ballast a base quantity), and entries with options ballast does not have
    // (iceberg, postOnly, trigger prices, test endpoint, trailing stops).
    for d in ["Spot limit buy order", "spot order with weird amount", "spot order with weird price/amount"] {
        let e = entry(&file, "createOrder", d);
        let input = e["input"].as_array().unwrap();
        let sym = input[0].as_str().unwrap();
        let (b, fake, _) = setup();
        let rules = rules_of(&b, &fake, &markets, sym);
        let (base, quote) = pair(sym);
        let qty = rules.floor_qty(Qty(num(&input[3])));
        let price = rules.round_price(Price(num(&input[4])), PriceRounding::Nearest);
        assert_eq!(input[1], "limit");
        let side = if input[2] == "buy" { Side::Buy } else { Side::Sell };
        fake.reply(&order_reply());
        b.place(&OrderRequest {
            client_id: cid(),
            base,
            quote,
            side,
            qty,
            kind: OrderKind::Limit { price },
            expires_at: None,
        })
        .unwrap();
        let reqs = fake.requests();
        let got = ours(&reqs[1]);
        assert_eq!(split_req(&reqs[1]).2["newClientOrderId"], "bl1-2-3");
        assert_eq!(got, ccxt_params(&file, e), "{d}");
    }
}

#[test]
fn market_order_request_sends_base_quantity() {
    let (b, fake, _) = setup();
    fake.reply(&order_reply());
    let o = OrderRequest {
        client_id: cid(),
        base: a("LTC"),
        quote: a("USDT"),
        side: Side::Sell,
        qty: Qty(dec!(0.200)),
        kind: OrderKind::Market,
        expires_at: None,
    };
    b.place(&o).unwrap();
    let (m, path, p) = ours(&fake.requests()[0]);
    assert_eq!((m.as_str(), path.as_str()), ("POST", "/api/v3/order"));
    let want: BTreeMap<String, String> = [
        ("symbol", "LTCUSDT"),
        ("side", "SELL"),
        ("type", "MARKET"),
        ("quantity", "0.2"),
        ("newOrderRespType", "FULL"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(p, want);
}

#[test]
fn read_requests_match_ccxt() {
    let file = fixture("request");
    let (b, fake, _) = setup();

    fake.reply(&json!({"balances": []}));
    b.balances().unwrap();
    assert_eq!(
        ours_unsigned_client(&fake.requests()[0]),
        ccxt_params(&file, entry(&file, "fetchBalance", "Spot fetch balance"))
    );

    fake.reply(&json!([]));
    b.open_orders(&a("LTC"), &a("USDT")).unwrap();
    assert_eq!(
        ours_unsigned_client(&fake.requests()[1]),
        ccxt_params(&file, entry(&file, "fetchOpenOrders", "Spot one orders"))
    );

    fake.reply(&json!({"serverTime": T0}));
    b.sync_time().unwrap();
    let (m, path, p) = split_req(&fake.requests()[2]);
    assert_eq!((m, path, p), ccxt_params(&file, entry(&file, "fetchTime", "fetchTime")));

    // query: the order by client id, then its trades by order id (CCXT fetchOrderTrades).
    fake.reply(&json!({"symbol": "LTCUSDT", "orderId": 3010478906u64, "clientOrderId": "bl1-2-3", "origQty": "0.1",
        "executedQty": "0.1", "status": "FILLED", "side": "BUY", "time": 1}));
    fake.reply(&json!([]));
    b.query(&cid(), &a("LTC"), &a("USDT")).unwrap().unwrap();
    let reqs = fake.requests();
    assert_eq!(
        ours_unsigned_client(&reqs[4]),
        ccxt_params(&file, entry(&file, "fetchOrderTrades", "spot order trades"))
    );
    // CCXT's fetchOrder and cancelOrder name the order by orderId; ballast by the
    // client id it chose (origClientOrderId). Everything else is the same.
    let (m, path, mut p) = ours_unsigned_client(&reqs[3]);
    let (cm, cpath, mut cp) = ccxt_params(&file, entry(&file, "fetchOrder", "Spot fetchOrder"));
    assert_eq!((m, path), (cm, cpath));
    assert_eq!(p.remove("origClientOrderId").as_deref(), Some("bl1-2-3"));
    assert!(cp.remove("orderId").is_some());
    assert_eq!(p, cp);

    fake.reply(
        &json!({"symbol": "LTCUSDT", "orderId": 464950, "clientOrderId": "cancel-id", "origClientOrderId": "bl1-2-3",
        "origQty": "0.2", "executedQty": "0", "status": "CANCELED", "side": "BUY"}),
    );
    let r = b.cancel(&cid(), &a("LTC"), &a("USDT")).unwrap();
    assert_eq!((r.client_id, r.status), (cid(), OrderStatus::Canceled));
    let (m, path, mut p) = ours_unsigned_client(&fake.requests()[5]);
    let (cm, cpath, mut cp) = ccxt_params(&file, entry(&file, "cancelOrder", "Spot cancelOrder"));
    assert_eq!((m, path), (cm, cpath));
    assert_eq!(p.remove("origClientOrderId").as_deref(), Some("bl1-2-3"));
    assert!(cp.remove("orderId").is_some());
    assert_eq!(p, cp);
}

/// Our signed read request minus signature, timestamp and recvWindow.
fn ours_unsigned_client(req: &ballast_binance::HttpRequest) -> (String, String, BTreeMap<String, String>) {
    let (m, path, mut p) = split_req(req);
    for k in ["signature", "timestamp", "recvWindow"] {
        assert!(p.remove(k).is_some(), "signed request without {k}");
    }
    (m, path, p)
}

fn ccxt_status(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::New | OrderStatus::PartiallyFilled => "open",
        OrderStatus::Filled => "closed",
        OrderStatus::Canceled => "canceled",
        OrderStatus::Rejected => "rejected",
        OrderStatus::Expired => "expired",
    }
}

#[test]
fn create_order_response_matches_ccxt() {
    let file = fixture("response");
    let e = entry(&file, "createOrder", "spot +selfTradePrevention +iceberg");
    let (b, fake, _) = setup();
    fake.reply(&e["httpResponse"]);
    let o = OrderRequest {
        client_id: cid(),
        base: a("SOL"),
        quote: a("USDT"),
        side: Side::Buy,
        qty: Qty(dec!(0.05)),
        kind: OrderKind::Limit { price: Price(dec!(241)) },
        expires_at: None,
    };
    let r = b.place(&o).unwrap();
    let p = &e["parsedResponse"];
    assert_eq!(r.venue_id, p["id"].as_str().unwrap());
    assert_eq!(ccxt_status(r.status), p["status"]);
    assert_eq!(r.qty.0, num(&p["amount"]));
    assert_eq!(r.filled.0, num(&p["filled"]));
    assert_eq!(r.side, Side::Buy);
    assert!(r.fills.is_empty() && p["trades"].as_array().unwrap().is_empty() && p["average"].is_null());
}

#[test]
fn fetch_order_response_matches_ccxt() {
    let file = fixture("response");
    let e = entry(&file, "fetchOrder", "Fetch spot closed order");
    let (b, fake, _) = setup();
    fake.reply(&e["httpResponse"]);
    fake.reply(&json!([])); // the fixture has no trades for this order
    let r = b.query(&cid(), &a("LTC"), &a("USDT")).unwrap().unwrap();
    let p = &e["parsedResponse"];
    assert_eq!(r.venue_id, p["id"].as_str().unwrap());
    assert_eq!(ccxt_status(r.status), p["status"]);
    assert_eq!((r.qty.0, r.filled.0), (num(&p["amount"]), num(&p["filled"])));
    assert_eq!(r.side, Side::Sell);
    assert_eq!(r.client_id, cid());
}

#[test]
fn my_trades_response_matches_ccxt_fills_and_fee() {
    let file = fixture("response");
    let e = entry(&file, "fetchMyTrades", "Spot private trade");
    let (b, fake, _) = setup();
    fake.reply(&json!({"symbol": "LTCUSDT", "orderId": "3784695242", "clientOrderId": "bl1-2-3", "origQty": "0.2",
        "executedQty": "0.2", "status": "FILLED", "side": "SELL"}));
    fake.reply(&e["httpResponse"]);
    let r = b.query(&cid(), &a("LTC"), &a("USDT")).unwrap().unwrap();
    assert_eq!(split_req(&fake.requests()[1]).2["orderId"], "3784695242");
    let t = &e["parsedResponse"][0];
    assert_eq!(r.fills.len(), 1);
    let f = &r.fills[0];
    assert_eq!(f.trade_id, t["id"].as_str().unwrap());
    assert_eq!((f.qty.0, f.price.0), (num(&t["amount"]), num(&t["price"])));
    assert_eq!(f.fee.0, num(&t["fee"]["cost"]));
    assert_eq!(f.fee_asset.as_str(), t["fee"]["currency"]);
    assert_eq!(f.time.0, t["timestamp"].as_i64().unwrap());
    // the average price CCXT would report: cost / amount
    let avg = (f.qty.0 * f.price.0) / f.qty.0;
    assert_eq!(avg, num(&t["cost"]) / num(&t["amount"]));
}

#[test]
fn open_orders_response_matches_ccxt() {
    let file = fixture("response");
    let e = entry(&file, "fetchOpenOrders", "Fetch spot open orders");
    let (b, fake, _) = setup();
    // CCXT's broker id (32 characters) is no ballast id: such orders are skipped...
    fake.reply(&e["httpResponse"]);
    assert!(b.open_orders(&a("LTC"), &a("USDT")).unwrap().is_empty());
    // ...and read when the id is one of ours.
    let mut reply = e["httpResponse"].clone();
    reply[0]["clientOrderId"] = json!("bl1-2-3");
    fake.reply(&reply);
    let list = b.open_orders(&a("LTC"), &a("USDT")).unwrap();
    let p = &e["parsedResponse"][0];
    assert_eq!(list.len(), 1);
    let r = &list[0];
    assert_eq!((r.venue_id.as_str(), r.client_id.clone()), (p["id"].as_str().unwrap(), cid()));
    assert_eq!(ccxt_status(r.status), p["status"]);
    assert_eq!((r.qty.0, r.filled.0), (num(&p["amount"]), num(&p["filled"])));
}

#[test]
fn balance_response_matches_ccxt() {
    let file = fixture("response");
    let e = entry(&file, "fetchBalance", "Spot balance");
    let (b, fake, _) = setup();
    fake.reply(&e["httpResponse"]);
    let bal = b.balances().unwrap();
    let p = &e["parsedResponse"];
    let assets: Vec<&String> = p["free"].as_object().unwrap().keys().collect();
    assert_eq!(bal.len(), assets.len());
    for name in assets {
        let got = bal[&a(name)];
        assert_eq!(got.free.0, num(&p[name]["free"]), "{name} free");
        assert_eq!(got.locked.0, num(&p[name]["used"]), "{name} used");
        assert_eq!(got.total().0, num(&p[name]["total"]), "{name} total");
    }
}

#[test]
fn rules_of_every_spot_market_match_ccxt() {
    let markets = fixture("markets");
    let mut n = 0;
    for (sym, m) in markets.as_object().unwrap() {
        if m["spot"] != true {
            continue;
        }
        n += 1;
        let (b, fake, _) = setup();
        let r = rules_of(&b, &fake, &markets, sym);
        let p10 = |digits: &Value| Decimal::new(1, digits.as_u64().unwrap() as u32);
        assert_eq!(r.tick, p10(&m["precision"]["price"]), "{sym} tick");
        assert_eq!(r.step, p10(&m["precision"]["amount"]).normalize(), "{sym} step");
        assert_eq!(r.min_qty, num(&m["limits"]["amount"]["min"]), "{sym} min qty");
        assert_eq!(r.min_notional, num(&m["limits"]["cost"]["min"]), "{sym} min notional");
        let (_, path, p) = split_req(&fake.requests()[0]);
        assert_eq!((path.as_str(), p["symbol"].as_str()), ("/api/v3/exchangeInfo", m["id"].as_str().unwrap()));
        // cached: no second request
        let (base, quote) = pair(sym);
        assert_eq!(b.rules(&base, &quote).unwrap(), r);
        assert_eq!(fake.count(), 1);
    }
    assert_eq!(n, 7);
    let (b, fake, _) = setup();
    let r = rules_of(&b, &fake, &markets, "BTC/USDT");
    assert_eq!(r, SymbolRules { tick: dec!(0.01), step: dec!(0.00001), min_qty: dec!(0.00001), min_notional: dec!(5) });
}

/// A post-only order is CCXT's "Spot limit buy with postOnly": `type=LIMIT_MAKER` with
/// quantity and price and no timeInForce (Binance "New order (TRADE)": LIMIT_MAKER
/// orders are rejected if they would immediately match and trade as a taker).
#[test]
fn post_only_is_a_limit_maker_order_like_ccxt() {
    let file = fixture("request");
    let e = entry(&file, "createOrder", "Spot limit buy with postOnly");
    let input = e["input"].as_array().unwrap();
    let (b, fake, _) = setup();
    fake.reply(&order_reply());
    let (base, quote) = pair(input[0].as_str().unwrap());
    b.place(&OrderRequest {
        client_id: cid(),
        base,
        quote,
        side: Side::Buy,
        qty: Qty(num(&input[3])),
        kind: OrderKind::PostOnly { price: Price(num(&input[4])) },
        expires_at: None,
    })
    .unwrap();
    let got = ours(&fake.requests()[0]);
    assert_eq!(got, ccxt_params(&file, e));
    assert!(!got.2.contains_key("timeInForce"));
}

/// The touch: `bidPrice` and `askPrice` of CCXT's recorded spot ticker (the
/// bookTicker's fields), asked at `GET /api/v3/ticker/bookTicker?symbol=`.
#[test]
fn the_touch_is_the_book_tickers_bid_and_ask() {
    let resp = fixture("response");
    let e = entry(&resp, "fetchTicker", "public spot ticker");
    let (b, fake, _) = setup();
    fake.reply(&e["httpResponse"]);
    let t = b.best_bid_ask(&a("BTC"), &a("USDT")).unwrap();
    assert_eq!((t.bid.0, t.ask.0), (dec!(73369.83), dec!(73369.84)));
    let (m, path, p) = split_req(&fake.requests()[0]);
    assert_eq!((m.as_str(), path.as_str(), p["symbol"].as_str()), ("GET", "/api/v3/ticker/bookTicker", "BTCUSDT"));
    // An empty side is an error naming the field.
    fake.reply(&json!({"symbol": "BTCUSDT", "bidPrice": "0.00000000", "askPrice": "1.0"}));
    let err = b.best_bid_ask(&a("BTC"), &a("USDT")).unwrap_err();
    assert!(err.to_string().contains("bidPrice"), "{err}");
}

/// The effective commission from `GET /api/v3/account/commission`, on the response of
/// Binance's documentation ("Query Commission Rates (USER_DATA)"): with the BNB discount
/// enabled for the account and the symbol, standard x discount + tax.
#[test]
fn fee_rates_are_the_accounts_commission_with_its_discount() {
    let (b, fake, _) = setup();
    let doc = json!({
        "symbol": "BTCUSDT",
        "standardCommission": {"maker": "0.00000010", "taker": "0.00000020", "buyer": "0.00000030", "seller": "0.00000040"},
        "taxCommission": {"maker": "0.00000112", "taker": "0.00000114", "buyer": "0.00000118", "seller": "0.00000116"},
        "discount": {"enabledForAccount": true, "enabledForSymbol": true, "discountAsset": "BNB", "discount": "0.75000000"}
    });
    fake.reply(&doc);
    let r = b.fee_rates(&a("BTC"), &a("USDT")).unwrap();
    assert_eq!((r.maker, r.taker), (dec!(0.0000011950), dec!(0.0000012900)));
    assert_eq!(r.discount_asset, Some(a("BNB")));
    let (m, path, p) = split_req(&fake.requests()[0]);
    assert_eq!((m.as_str(), path.as_str(), p["symbol"].as_str()), ("GET", "/api/v3/account/commission", "BTCUSDT"));
    assert!(p.contains_key("signature"));
    // Without the discount: the standard rates plus tax.
    let mut plain = doc.clone();
    plain["discount"]["enabledForSymbol"] = json!(false);
    let r = ballast_binance::parse::fee_rates(&plain).unwrap();
    assert_eq!((r.maker, r.taker, r.discount_asset), (dec!(0.00000122), dec!(0.00000134), None));
    assert!(ballast_binance::parse::fee_rates(&json!({"symbol": "BTCUSDT"})).is_err());
}

/// `POST /sapi/v1/asset/dust`: one `asset` parameter per coin, and the documented
/// answer ("Dust Transfer (USER_DATA)") read into what was converted into BNB.
#[test]
fn dust_is_converted_into_bnb_with_one_asset_parameter_each() {
    let (b, fake, _) = setup();
    fake.reply(&json!({
        "totalServiceCharge": "0.02102542",
        "totalTransfered": "1.05127099",
        "transferResult": [
            {"amount": "0.03000000", "fromAsset": "ETH", "operateTime": 1563368549307_i64, "serviceChargeAmount": "0.00500000",
             "tranId": 2970932918_i64, "transferedAmount": "0.25000000"},
            {"amount": "0.09000000", "fromAsset": "LTC", "operateTime": 1563368549404_i64, "serviceChargeAmount": "0.01548000",
             "tranId": 2970932918_i64, "transferedAmount": "0.77400000"}
        ]
    }));
    let c = b.convert_dust(&[a("ETH"), a("LTC")], &a("USDT")).unwrap();
    assert_eq!(c.into, a("BNB"));
    assert_eq!(c.charge, Qty(dec!(0.02102542)));
    assert_eq!(
        c.converted,
        vec![(a("ETH"), Qty(dec!(0.03)), Qty(dec!(0.25))), (a("LTC"), Qty(dec!(0.09)), Qty(dec!(0.774)))]
    );
    let req = &fake.requests()[0];
    let text = format!("{} {}", req.url, req.body);
    assert!(text.contains("/sapi/v1/asset/dust"), "{text}");
    assert!(text.contains("asset=ETH") && text.contains("asset=LTC"), "{text}");
}

//! Candlesticks against CCXT's recorded Gate fixtures (fetchOHLCV, spot).

mod common;

use ballast_gate::{Method, wire};
use common::*;
use rust_decimal::Decimal;
use serde_json::Value;

fn n(v: &Value) -> Decimal {
    v.to_string().parse().unwrap()
}

#[test]
fn candles_parse_like_ccxt() {
    let resp = fixture("response");
    let e = entry(&resp, "fetchOHLCV", "public spot ohlcv");
    let candles = wire::parse_candles(&e["httpResponse"]).unwrap();
    let parsed = e["parsedResponse"].as_array().unwrap();
    assert_eq!(candles.len(), parsed.len());
    for (c, p) in candles.iter().zip(parsed) {
        assert_eq!(c.open_time_ms, p[0].as_i64().unwrap());
        assert_eq!(c.open, n(&p[1]));
        assert_eq!(c.high, n(&p[2]));
        assert_eq!(c.low, n(&p[3]));
        assert_eq!(c.close, n(&p[4]));
        assert_eq!(c.volume, n(&p[5]));
        assert!(!c.closed, "the recorded candle was still forming");
    }
}

#[test]
fn candle_requests_carry_ccxt_parameters() {
    let req = fixture("request");
    for (desc, from_to) in [("spot +1d", None), ("spot +1d +since", Some((1_540_000_000i64, 1_626_313_600i64)))] {
        let e = entry(&req, "fetchOHLCV", desc);
        let want = params(e["url"].as_str().unwrap());
        let env = env();
        env.fake.json(Method::Get, "/spot/candlesticks", 200, "[]");
        env.gate.candles(&asset("BTC"), &asset("USDT"), "1d", from_to, None).unwrap();
        let sent = sent(&env.fake).into_iter().find(|r| path(&r.url) == "/spot/candlesticks").unwrap();
        assert_eq!(params(&sent.url), want, "{desc}");
    }
}

#[test]
fn a_bad_candle_row_is_an_error_not_a_panic() {
    for bad in [r#"{"x":1}"#, r#"[["x"]]"#, r#"[["1","2","abc","4","5","6","7","true"]]"#] {
        let v: Value = serde_json::from_str(bad).unwrap();
        assert!(wire::parse_candles(&v).is_err(), "{bad}");
    }
}

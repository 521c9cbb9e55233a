//! Candles on one clock: the replay's bars shifted onto the venue clock (what clients
//! see), the bar the replay is in served open, and intervals made from shorter ones.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use ballast_core::{Asset, Price, Timestamp};
use ballast_exchange::ManualClock;
use ballast_exchange::paper::{FixedPrices, PaperConfig, PaperExchange};
use ballast_sim::{MemoryCandles, SimConfig, SimState, router};
use http_body_util::BodyExt;
use rust_decimal_macros::dec;
use serde_json::Value;
use tower::ServiceExt;

/// 2024-01-01 00:00 UTC, a Monday.
const T0: i64 = 1_704_067_200_000;
const H4: i64 = 4 * 3_600_000;
const DAY: i64 = 86_400_000;
/// The venue clock (wall time in `ballast sim`).
const WALL: i64 = 1_796_000_000_000;

fn a(s: &str) -> Asset {
    Asset::new(s).unwrap()
}

/// 30 days of 4h BTCUSDT bars: bar i opens at 100 + i, high +1, low -1, closes at
/// 100.5 + i, volume 1; the replay 1 h into bar 60 (day 10); the last price 100.
fn state() -> Arc<SimState> {
    let wall = Arc::new(ManualClock::new(Timestamp(WALL)));
    let replay = Arc::new(ManualClock::new(Timestamp(T0 + 10 * DAY + 3_600_000)));
    let prices = Arc::new(FixedPrices::new());
    prices.set(&a("BTC"), &a("USDT"), Price(dec!(100)));
    let ex = PaperExchange::in_memory(PaperConfig::default(), prices, wall.clone()).unwrap();
    let mut candles = MemoryCandles::new();
    let rows = (0..180i64)
        .map(|i| {
            let o = 100 + i;
            [
                (T0 + i * H4).to_string(),
                o.to_string(),
                (o + 1).to_string(),
                (o - 1).to_string(),
                format!("{o}.5"),
                "1".to_string(),
            ]
        })
        .collect();
    candles.insert("BTCUSDT", "4h", rows);
    Arc::new(
        SimState::new(Arc::new(ex), wall, SimConfig::default(), vec![(a("BTC"), a("USDT"))])
            .with_candles(Arc::new(candles))
            .with_replay_clock(replay),
    )
}

async fn get(uri: &str) -> Value {
    let resp = router(state()).oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
    assert!(resp.status().is_success(), "{uri}: {}", resp.status());
    serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap()
}

fn bar(v: &Value) -> (i64, &str, &str, &str, &str, &str) {
    (
        v[0].as_i64().unwrap(),
        v[1].as_str().unwrap(),
        v[2].as_str().unwrap(),
        v[3].as_str().unwrap(),
        v[4].as_str().unwrap(),
        v[5].as_str().unwrap(),
    )
}

#[tokio::test]
async fn the_replayed_bar_is_the_bar_of_now_and_the_history_leads_up_to_it() {
    let k = get("/api/v3/klines?symbol=BTCUSDT&interval=4h&limit=3").await;
    let k = k.as_array().unwrap();
    assert_eq!(k.len(), 3);
    let now_bar = WALL.div_euclid(H4) * H4;
    // The open bar: its open, the last price as close, volume 0.
    assert_eq!(bar(&k[2]), (now_bar, "160.00000000", "160.00000000", "100.00000000", "100.00000000", "0.00000000"));
    assert_eq!(k[2][6].as_i64(), Some(now_bar + H4 - 1));
    assert_eq!(
        bar(&k[1]),
        (now_bar - H4, "159.00000000", "160.00000000", "158.00000000", "159.50000000", "1.00000000")
    );
    assert_eq!(k[0][0].as_i64(), Some(now_bar - 2 * H4));
    // A client's startTime is on the same clock.
    let k = get(&format!("/api/v3/klines?symbol=BTCUSDT&interval=4h&startTime={}", now_bar - H4)).await;
    assert_eq!(k.as_array().unwrap().len(), 2);
    assert_eq!(k[0][1], "159.00000000");
}

#[tokio::test]
async fn intervals_missing_from_the_source_are_made_from_shorter_ones() {
    // 8h: bars 58 and 59 make the closed bar before the open one.
    let k = get("/api/v3/klines?symbol=BTCUSDT&interval=8h&limit=2").await;
    let now8 = WALL.div_euclid(2 * H4) * 2 * H4;
    assert_eq!(
        bar(&k[0]),
        (now8 - 2 * H4, "158.00000000", "160.00000000", "157.00000000", "159.50000000", "2.00000000")
    );
    assert_eq!(bar(&k[1]).1, "160.00000000");
    // 1w: Monday weeks; the first week is bars 0 to 41.
    let k = get("/api/v3/klines?symbol=BTCUSDT&interval=1w&limit=2").await;
    let k = k.as_array().unwrap();
    assert_eq!(k.len(), 2);
    assert_eq!(
        (bar(&k[0]).1, bar(&k[0]).2, bar(&k[0]).3, bar(&k[0]).4, bar(&k[0]).5),
        ("100.00000000", "142.00000000", "99.00000000", "141.50000000", "42.00000000")
    );
    let monday = |t: i64| (t - 4 * DAY).rem_euclid(7 * DAY) == 0;
    assert!(monday(bar(&k[0]).0) && monday(bar(&k[1]).0), "weeks open on Mondays: {k:?}");
    // Gate's candlesticks are the same bars, in seconds.
    let g = get("/api/v4/spot/candlesticks?currency_pair=BTC_USDT&interval=4h&limit=2").await;
    assert_eq!(g[1][0].as_str().unwrap().parse::<i64>().unwrap() * 1000, WALL.div_euclid(H4) * H4);
    assert_eq!((g[1][5].as_str(), g[1][2].as_str(), g[1][7].as_str()), (Some("160"), Some("100"), Some("false")));
    assert_eq!((g[0][5].as_str(), g[0][7].as_str()), (Some("159"), Some("true")));
}

#[tokio::test]
async fn the_24h_ticker_comes_from_the_replayed_day() {
    let t = get("/api/v3/ticker/24hr?symbol=BTCUSDT").await;
    // The six closed bars before the replay's: 54 to 59.
    assert_eq!(t["openPrice"], "154.00000000");
    assert_eq!(t["highPrice"], "160.00000000");
    assert_eq!(t["lowPrice"], "100.00000000", "the last price is lower than the day's bars");
    assert_eq!(t["volume"], "6.00000000");
    assert_eq!(t["closeTime"], WALL);
}

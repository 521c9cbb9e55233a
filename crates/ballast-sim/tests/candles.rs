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
const H1: i64 = 3_600_000;
const H4: i64 = 4 * H1;
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

/// [`state`] with 1h bars too: bar j opens at 1000 + j, high +2, low -2, closes at
/// 1001 + j, volume 2. The replay (1 h into 4h bar 60) is 3 h into day 10: 1h bar 243.
fn state_with_hours() -> Arc<SimState> {
    let wall = Arc::new(ManualClock::new(Timestamp(WALL)));
    let replay = Arc::new(ManualClock::new(Timestamp(T0 + 10 * DAY + 3 * H1)));
    let prices = Arc::new(FixedPrices::new());
    prices.set(&a("BTC"), &a("USDT"), Price(dec!(100)));
    let ex = PaperExchange::in_memory(PaperConfig::default(), prices, wall.clone()).unwrap();
    let mut candles = MemoryCandles::new();
    let rows = |n: i64, step: i64, base: i64, spread: i64, vol: &str| {
        (0..n)
            .map(|i| {
                let o = base + i;
                [
                    (T0 + i * step).to_string(),
                    o.to_string(),
                    (o + spread).to_string(),
                    (o - spread).to_string(),
                    if spread == 1 { format!("{o}.5") } else { (o + 1).to_string() },
                    vol.to_string(),
                ]
            })
            .collect()
    };
    candles.insert("BTCUSDT", "4h", rows(180, H4, 100, 1, "1"));
    candles.insert("BTCUSDT", "1h", rows(720, H1, 1000, 2, "2"));
    Arc::new(
        SimState::new(Arc::new(ex), wall, SimConfig::default(), vec![(a("BTC"), a("USDT"))])
            .with_candles(Arc::new(candles))
            .with_replay_clock(replay),
    )
}

async fn call(state: Arc<SimState>, uri: &str) -> (u16, Value) {
    let resp = router(state).oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
    let status = resp.status().as_u16();
    (status, serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap())
}

async fn get(uri: &str) -> Value {
    let (status, v) = call(state(), uri).await;
    assert_eq!(status, 200, "{uri}: {v}");
    v
}

async fn get_hours(uri: &str) -> Value {
    let (status, v) = call(state_with_hours(), uri).await;
    assert_eq!(status, 200, "{uri}: {v}");
    v
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

#[tokio::test]
async fn intervals_the_source_cannot_serve_are_invalid_not_empty() {
    // 4h bars only: nothing shorter can be made.
    for interval in ["1h", "30m", "1m", "2h", "6h", "1M", "7x"] {
        let (st, v) = call(state(), &format!("/api/v3/klines?symbol=BTCUSDT&interval={interval}&limit=2")).await;
        assert_eq!(
            (st, v["code"].as_i64(), v["msg"].as_str()),
            (400, Some(-1120), Some("Invalid interval.")),
            "{interval}"
        );
    }
    let (st, v) = call(state(), "/api/v4/spot/candlesticks?currency_pair=BTC_USDT&interval=1h&limit=2").await;
    assert_eq!((st, v["label"].as_str()), (400, Some("INVALID_PARAM_VALUE")), "{v}");
    // Gate's default interval is 30m.
    let (st, _) = call(state(), "/api/v4/spot/candlesticks?currency_pair=BTC_USDT").await;
    assert_eq!(st, 400);
    // What can be made from 4h is served.
    for interval in ["4h", "8h", "12h", "1d", "3d", "1w"] {
        let (st, v) = call(state(), &format!("/api/v3/klines?symbol=BTCUSDT&interval={interval}&limit=2")).await;
        assert_eq!((st, v.as_array().map(Vec::len)), (200, Some(2)), "{interval}: {v}");
    }
}

#[tokio::test]
async fn hours_are_served_from_their_own_bars_and_make_2h_and_6h() {
    let now1 = WALL.div_euclid(H1) * H1;
    let k = get_hours("/api/v3/klines?symbol=BTCUSDT&interval=1h&limit=3").await;
    let k = k.as_array().unwrap();
    assert_eq!(k.len(), 3, "limit=3 gives 3 bars, the open one last");
    assert_eq!(
        bar(&k[1]),
        (now1 - H1, "1242.00000000", "1244.00000000", "1240.00000000", "1243.00000000", "2.00000000")
    );
    assert_eq!(bar(&k[2]), (now1, "1243.00000000", "1243.00000000", "100.00000000", "100.00000000", "0.00000000"));
    // 2h: hours 240-241 closed; 242 closed and 243 open make the open bar.
    let now2 = WALL.div_euclid(2 * H1) * 2 * H1;
    let k = get_hours("/api/v3/klines?symbol=BTCUSDT&interval=2h&limit=2").await;
    assert_eq!(
        bar(&k[0]),
        (now2 - 2 * H1, "1240.00000000", "1243.00000000", "1238.00000000", "1242.00000000", "4.00000000")
    );
    assert_eq!(bar(&k[1]), (now2, "1242.00000000", "1244.00000000", "100.00000000", "100.00000000", "2.00000000"));
    // 6h: hours 240 to 242 closed, 243 open.
    let k = get_hours("/api/v3/klines?symbol=BTCUSDT&interval=6h&limit=1").await;
    let now6 = WALL.div_euclid(6 * H1) * 6 * H1;
    assert_eq!(bar(&k[0]), (now6, "1240.00000000", "1244.00000000", "100.00000000", "100.00000000", "6.00000000"));
    // 30m is still beyond the data.
    let (st, v) = call(state_with_hours(), "/api/v3/klines?symbol=BTCUSDT&interval=30m").await;
    assert_eq!((st, v["code"].as_i64()), (400, Some(-1120)));
    // Gate serves its 1h too.
    let g = get_hours("/api/v4/spot/candlesticks?currency_pair=BTC_USDT&interval=1h&limit=2").await;
    assert_eq!((g[0][5].as_str(), g[0][7].as_str(), g[1][7].as_str()), (Some("1242"), Some("true"), Some("false")));
}

#[tokio::test]
async fn the_open_bar_of_a_longer_interval_is_made_of_its_closed_hours() {
    // 4h: closed bars are the source's 4h bars; the open one is hours 240-242 and 243.
    let now4 = WALL.div_euclid(H4) * H4;
    let k = get_hours("/api/v3/klines?symbol=BTCUSDT&interval=4h&limit=2").await;
    assert_eq!(bar(&k[0]), (now4 - H4, "159.00000000", "160.00000000", "158.00000000", "159.50000000", "1.00000000"));
    assert_eq!(bar(&k[1]), (now4, "1240.00000000", "1244.00000000", "100.00000000", "100.00000000", "6.00000000"));
    assert_eq!(k[1][6].as_i64(), Some(now4 + H4 - 1));
    // 1d (made from 4h): the closed day 9 from 4h bars 54-59; today from its hours.
    let k = get_hours("/api/v3/klines?symbol=BTCUSDT&interval=1d&limit=2").await;
    assert_eq!(
        (bar(&k[0]).1, bar(&k[0]).2, bar(&k[0]).3, bar(&k[0]).4, bar(&k[0]).5),
        ("154.00000000", "160.00000000", "153.00000000", "159.50000000", "6.00000000")
    );
    assert_eq!((bar(&k[1]).1, bar(&k[1]).4, bar(&k[1]).5), ("1240.00000000", "100.00000000", "6.00000000"));
}

#[tokio::test]
async fn the_book_spreads_with_the_last_bars_range_and_every_route_shows_the_same_top() {
    // The last closed 4h bar: high 160, low 158, close 159.5, volume 1; last price 100.
    // Half the spread: 1 % of the range (2 / 159.5) of 100, halved = 0.00626959...;
    // the default tick is 1e-8. The best level shows 1,000 USDT (the floor: the bar's
    // quote volume / 10,000 is less), the next 2,000.
    let d = get("/api/v3/depth?symbol=BTCUSDT&limit=2").await;
    assert_eq!(d["bids"], serde_json::json!([["99.99373040", "10.00062699"], ["99.98746080", "20.00250815"]]));
    assert_eq!(d["asks"], serde_json::json!([["100.00626960", "9.99937307"], ["100.01253920", "19.99749247"]]));
    let b = get("/api/v3/ticker/bookTicker?symbol=BTCUSDT").await;
    assert_eq!((b["bidPrice"].as_str(), b["askPrice"].as_str()), (Some("99.99373040"), Some("100.00626960")));
    assert_eq!((b["bidQty"].as_str(), b["askQty"].as_str()), (Some("10.00062699"), Some("9.99937307")));
    let t = get("/api/v3/ticker/24hr?symbol=BTCUSDT").await;
    assert_eq!((t["bidPrice"].as_str(), t["askPrice"].as_str()), (Some("99.99373040"), Some("100.00626960")));
    let g = get("/api/v4/spot/order_book?currency_pair=BTC_USDT&limit=2").await;
    assert_eq!(g["bids"][0], serde_json::json!(["99.9937304", "10.00062699"]));
    assert_eq!(g["asks"][1], serde_json::json!(["100.0125392", "19.99749247"]));
    let g = get("/api/v4/spot/tickers?currency_pair=BTC_USDT").await;
    assert_eq!((g[0]["highest_bid"].as_str(), g[0]["lowest_ask"].as_str()), (Some("99.9937304"), Some("100.0062696")));
    assert_eq!(
        (g[0]["highest_size"].as_str(), g[0]["lowest_size"].as_str()),
        (Some("10.00062699"), Some("9.99937307"))
    );
}

//! The data bundled in the repository's `data/` folder loads, and is what
//! data/SOURCES.md says it is.

use std::path::PathBuf;
use std::time::Instant;

use ballast_backtest::{
    DataError, Interval, align, format_timestamp, load_dir, load_snapshots, parse_date, parse_end_date,
};
use ballast_core::{Asset, Timestamp};
use rust_decimal_macros::dec;

const DAILY: [&str; 21] = [
    "ADA", "ATOM", "AVAX", "BCH", "BNB", "BTC", "DOGE", "DOT", "ETC", "ETH", "LINK", "LTC", "MATIC", "PAXG", "SHIB",
    "SOL", "TRX", "UNI", "XLM", "XMR", "XRP",
];
const FOUR_HOUR: [&str; 11] = ["ADA", "BNB", "BTC", "DOGE", "DOT", "ETH", "LINK", "LTC", "SOL", "TRX", "XRP"];

fn data_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data"))
}

fn assets(symbols: &[&str]) -> Vec<Asset> {
    symbols.iter().map(|s| Asset::new(s).unwrap()).collect()
}

fn t(s: &str) -> Timestamp {
    parse_date(s).unwrap()
}

#[test]
fn all_daily_files_load_and_end_before_the_download_day() {
    let all = load_dir(data_dir().join("binance-spot"), &assets(&DAILY), Interval::D1).unwrap();
    assert_eq!(all.len(), 21);
    for s in &all {
        let (first, last) = s.range().unwrap();
        // The in-progress candle of 2026-01-06 was dropped.
        assert!(last < t("2026-01-06"), "{} ends {}", s.asset, format_timestamp(last));
        // Daily files have no gaps.
        assert_eq!(s.len() as i64, (last.0 - first.0) / 86_400_000 + 1, "{}", s.asset);
    }
    let btc = &all[5];
    assert_eq!(btc.asset.as_str(), "BTC");
    assert_eq!(btc.len(), 3064);
    let first = &btc.candles[0];
    assert_eq!(first.open_time, t("2017-08-17"));
    assert_eq!(
        (first.open, first.high, first.low, first.close, first.volume),
        (dec!(4261.48), dec!(4485.39), dec!(4200.74), dec!(4285.08), dec!(795.150377))
    );
    let last = btc.candles.last().unwrap();
    assert_eq!(format_timestamp(last.open_time), "2026-01-05");
    assert_eq!(last.close, dec!(93859.71));
    // Delisted / migrated coins stop early.
    let end = |sym: &str| format_timestamp(all.iter().find(|s| s.asset.as_str() == sym).unwrap().range().unwrap().1);
    assert_eq!(end("XMR"), "2024-02-19");
    assert_eq!(end("MATIC"), "2024-09-09");
    // SHIB is written in scientific notation.
    let shib = all.iter().find(|s| s.asset.as_str() == "SHIB").unwrap();
    assert_eq!(shib.candles.last().unwrap().close, dec!(0.00000927));
}

#[test]
fn all_four_hour_files_load_and_align() {
    let dir = data_dir().join("binance-spot");
    let started = Instant::now();
    let all = load_dir(&dir, &assets(&FOUR_HOUR), Interval::H4).unwrap();
    eprintln!(
        "loaded the 11 4h files ({} candles) in {:?}",
        all.iter().map(|s| s.len()).sum::<usize>(),
        started.elapsed()
    );
    assert_eq!(all.len(), 11);
    for s in &all {
        assert_eq!(format_timestamp(s.range().unwrap().1), "2026-01-06 08:00:00", "{}", s.asset);
    }
    let btc = &all[2];
    assert_eq!(btc.len(), 18_370);
    // A Binance outage: nothing from 2018-02-08 04:00 to 2018-02-09 04:00.
    assert!(btc.at(t("2018-02-08 00:00")).is_some());
    assert!(btc.slice(t("2018-02-08 04:00"), t("2018-02-09 04:00")).is_empty());
    assert!(btc.at(t("2018-02-09 08:00")).is_some());

    // The outages hit every coin at once: BTC and ETH share their 8 gaps (16 bars), so
    // their clock is the 4h grid minus those 16 bars and no candle is dropped.
    let pair = [all[2].clone(), all[5].clone()];
    assert_eq!(pair[1].asset.as_str(), "ETH");
    let a = align(&pair, None, None).unwrap();
    let grid = |a: &ballast_backtest::Aligned| (a.times.last().unwrap().0 - a.times[0].0) / Interval::H4.millis() + 1;
    assert_eq!((a.times[0], *a.times.last().unwrap()), (t("2017-08-17 04:00"), t("2026-01-06 08:00")));
    assert_eq!(a.len() as i64, grid(&a) - 16);
    assert_eq!(a.dropped, [0, 0]);

    // The clock over all 11 starts with the last listing (DOT, 2020-08-18 20:00); there
    // is no outage after that, so the grid is complete; every coin listed earlier has
    // its earlier candles dropped.
    let a = align(&all, None, None).unwrap();
    assert_eq!(a.times[0], t("2020-08-18 20:00"));
    assert_eq!(*a.times.last().unwrap(), t("2026-01-06 08:00"));
    assert_eq!(a.len() as i64, grid(&a));
    assert_eq!(a.len(), all[4].len());
    for (s, dropped) in all.iter().zip(&a.dropped) {
        assert_eq!(*dropped, s.len() - a.len(), "{}", s.asset);
    }
    assert!(a.times.windows(2).all(|w| w[0] < w[1]));
    assert!(a.closes.iter().all(|c| c.len() == a.len() && c.iter().all(|p| p.is_finite() && *p > 0.0)));
    assert_eq!(a.closes_exact[2].last(), Some(&dec!(93840.0)));

    // A 2021 window, inclusive at both ends.
    let a = align(&all[..2], Some(t("2021-01-01")), Some(parse_end_date("2021-12-31").unwrap())).unwrap();
    assert_eq!(a.times[0], t("2021-01-01"));
    assert_eq!(*a.times.last().unwrap(), t("2021-12-31 20:00"));
}

#[test]
fn daily_alignment_errors_name_the_asset() {
    let all = load_dir(data_dir().join("binance-spot"), &assets(&["BTC", "XMR"]), Interval::D1).unwrap();
    let msg = align(&all, Some(t("2025-01-01")), None).unwrap_err().to_string();
    assert!(
        msg.contains("XMR has no candles between 2025-01-01 and the end (its data: 2019-03-15 to 2024-02-19)"),
        "{msg}"
    );
    let a = align(&all, None, None).unwrap();
    assert_eq!((a.times[0], *a.times.last().unwrap()), (t("2019-03-15"), t("2024-02-19")));
}

#[test]
fn market_caps_at_a_date() {
    let caps = load_snapshots(data_dir().join("cmc-monthly/coinmarketcap_monthly_all_snapshots.csv.gz")).unwrap();
    assert_eq!(caps.len(), 70);
    assert_eq!(caps.dates().next(), Some(t("2020-01-01")));
    assert_eq!(caps.dates().last(), Some(t("2025-10-01")));

    let (date, m) = caps.at(t("2021-06-15"), &assets(&["BTC", "ETH"])).unwrap();
    assert_eq!(format_timestamp(date), "2021-06-01");
    assert_eq!(m[&Asset::new("BTC").unwrap()], dec!(686891021224.9233));
    assert_eq!(m[&Asset::new("ETH").unwrap()], dec!(305798597367.0854));
    // On the snapshot date itself, and one millisecond before.
    assert_eq!(caps.at(t("2021-06-01"), &[]).unwrap().0, t("2021-06-01"));
    assert_eq!(caps.at(Timestamp(t("2021-06-01").0 - 1), &[]).unwrap().0, t("2021-05-01"));

    // BNX is listed twice on 2023-03-01; the larger ("BinaryX (old)", rank 126) is kept.
    let (_, m) = caps.at(t("2023-03-20"), &assets(&["BNX"])).unwrap();
    assert_eq!(m[&Asset::new("BNX").unwrap()], dec!(329710292.97444737));
    assert_eq!(caps.duplicates().len(), 1);
    let d = &caps.duplicates()[0];
    assert_eq!((d.symbol.as_str(), d.kept.name.as_str(), d.dropped.name.as_str()), ("BNX", "BinaryX (old)", "BinaryX"));
    assert_eq!((d.kept.rank, d.dropped.rank), (126, 132));

    // Mixed-case symbols match case-insensitively.
    assert!(caps.snapshot_at(t("2025-10-01")).unwrap().entries.keys().all(|k| k == &k.to_ascii_uppercase()));

    let e = caps.at(t("2019-12-31"), &assets(&["BTC"])).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, DataError::NoSnapshot { .. }), "{msg}");
    assert!(msg.contains("no market-cap snapshot on or before 2019-12-31; the earliest is 2020-01-01"), "{msg}");
    let msg = caps.at(t("2025-06-15"), &assets(&["BTC", "MATIC"])).unwrap_err().to_string();
    assert!(
        msg.contains("MATIC is not in the market-cap snapshot of 2025-06-01 (the latest on or before 2025-06-15)"),
        "{msg}"
    );
    assert!(msg.contains("coinmarketcap_monthly_all_snapshots.csv.gz"), "{msg}");
}

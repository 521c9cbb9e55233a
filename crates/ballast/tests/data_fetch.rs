//! `ballast data fetch`'s core, `ballast_binance::fetch_to_csv`, against ballast-sim over
//! loopback serving the bundled candles: the written CSV loads and equals them, pages
//! through ranges over 1000 bars, resumes an interrupted file, waits out 429s.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ballast_backtest::{Interval, Series, load_file, parse_date, parse_end_date};
use ballast_binance::{Binance, BinanceConfig, FetchReport, UreqTransport, fetch_to_csv};
use ballast_core::Asset;
use ballast_exchange::paper::{FixedPrices, PaperConfig, PaperExchange};
use ballast_exchange::{Clock as _, ManualClock};
use ballast_sim::{FaultConfig, MemoryCandles, ShutdownHandle, SimConfig, SimState, spawn_local};

fn a(s: &str) -> Asset {
    Asset::new(s).unwrap()
}

fn bundled(interval: Interval) -> Series {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../data/binance-spot/BTCUSDT_{interval}.csv.gz"));
    load_file(path, a("BTC"), interval).unwrap()
}

struct Sim {
    state: Arc<SimState>,
    binance: Binance,
    _handle: ShutdownHandle,
}

/// The sim at `now`, serving the bundled BTCUSDT 4h and 1d candles.
fn sim(now: &str) -> Sim {
    let clock = Arc::new(ManualClock::new(parse_date(now).unwrap()));
    let mut candles = MemoryCandles::new();
    for interval in [Interval::H4, Interval::D1] {
        let rows = bundled(interval)
            .candles
            .iter()
            .map(|c| {
                [
                    c.open_time.0.to_string(),
                    c.open.to_string(),
                    c.high.to_string(),
                    c.low.to_string(),
                    c.close.to_string(),
                    c.volume.to_string(),
                ]
            })
            .collect();
        candles.insert("BTCUSDT", interval.as_str(), rows);
    }
    let ex = PaperExchange::in_memory(PaperConfig::default(), Arc::new(FixedPrices::new()), clock.clone()).unwrap();
    let state = Arc::new(
        SimState::new(Arc::new(ex), clock.clone(), SimConfig::default(), vec![(a("BTC"), a("USDT"))])
            .with_candles(Arc::new(candles)),
    );
    let (addr, handle) = spawn_local(state.clone());
    let config = BinanceConfig { base_url: format!("http://{addr}"), ..BinanceConfig::default() };
    // The adapter's clock runs in real time from the sim's "now", so that a ban's
    // quiet period ends once its Retry-After has really passed.
    let binance = Binance::new(config, Arc::new(UreqTransport::default()), Arc::new(Running::from(clock.now())));
    Sim { state, binance, _handle: handle }
}

/// A clock that starts at a given time and runs in real time.
struct Running {
    start: ballast_core::Timestamp,
    began: std::time::Instant,
}

impl From<ballast_core::Timestamp> for Running {
    fn from(start: ballast_core::Timestamp) -> Self {
        Self { start, began: std::time::Instant::now() }
    }
}

impl ballast_exchange::Clock for Running {
    fn now(&self) -> ballast_core::Timestamp {
        ballast_core::Timestamp(self.start.0 + self.began.elapsed().as_millis() as i64)
    }
}

fn range(start: &str, end: &str) -> (i64, i64) {
    (parse_date(start).unwrap().0, parse_end_date(end).unwrap().0)
}

fn expected(interval: Interval, (start, end): (i64, i64), now: i64) -> Vec<ballast_backtest::Candle> {
    let step = interval.millis();
    bundled(interval)
        .candles
        .into_iter()
        .filter(|c| c.open_time.0 >= start && c.open_time.0 <= end && c.open_time.0 + step - 1 <= now)
        .collect()
}

fn fetch(sim: &Sim, interval: Interval, (start, end): (i64, i64), path: &Path) -> FetchReport {
    fetch_to_csv(&sim.binance, "BTCUSDT", interval.as_str(), start, end, path, &|done, total| assert!(done <= total))
        .unwrap()
}

fn out(dir: &tempfile::TempDir, interval: Interval) -> PathBuf {
    dir.path().join(format!("BTCUSDT_{interval}.csv"))
}

#[test]
fn a_quarter_of_4h_bars_loads_and_equals_the_bundled_candles() {
    let sim = sim("2025-01-01");
    let dir = tempfile::tempdir().unwrap();
    let path = out(&dir, Interval::H4);
    let r = range("2024-01-01", "2024-03-31");
    let report = fetch(&sim, Interval::H4, r, &path);
    let want = expected(Interval::H4, r, i64::MAX);
    assert_eq!(want.len(), 91 * 6);
    assert_eq!(load_file(&path, a("BTC"), Interval::H4).unwrap().candles, want);
    assert_eq!((report.requests, report.written, report.resumed_after), (1, 546, None));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("timestamp,open,high,low,close,volume\n2024-01-01 00:00:00,"), "{}", &text[..80]);
    // The last bar of the range is there.
    assert!(text.contains("\n2024-03-31 20:00:00,"));
}

#[test]
fn daily_bars_use_date_only_timestamps() {
    let sim = sim("2025-01-01");
    let dir = tempfile::tempdir().unwrap();
    let path = out(&dir, Interval::D1);
    let r = range("2024-01-01", "2024-03-31");
    fetch(&sim, Interval::D1, r, &path);
    assert_eq!(load_file(&path, a("BTC"), Interval::D1).unwrap().candles, expected(Interval::D1, r, i64::MAX));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.lines().nth(1).unwrap().starts_with("2024-01-01,"), "{text}");
}

#[test]
fn pages_over_1000_bars_and_resumes_a_truncated_file() {
    let sim = sim("2025-01-01");
    let dir = tempfile::tempdir().unwrap();
    let path = out(&dir, Interval::H4);
    let r = range("2023-01-01", "2024-03-31");
    let full = fetch(&sim, Interval::H4, r, &path);
    let want = expected(Interval::H4, r, i64::MAX);
    assert!(want.len() > 2000, "{}", want.len());
    assert_eq!(full.requests, want.len().div_ceil(1000) as u64);
    assert_eq!(full.written, want.len() as u64);
    let complete = std::fs::read(&path).unwrap();
    assert_eq!(load_file(&path, a("BTC"), Interval::H4).unwrap().candles, want);

    // Interrupted mid-row two thirds in: the partial row is dropped, the rest fetched.
    let cut = complete.len() * 2 / 3 + 7;
    std::fs::write(&path, &complete[..cut]).unwrap();
    let resumed = fetch(&sim, Interval::H4, r, &path);
    assert_eq!(std::fs::read(&path).unwrap(), complete);
    assert!(resumed.resumed_after.is_some());
    assert!(resumed.requests < full.requests, "{resumed:?} vs {full:?}");
    assert!(resumed.written < full.written);

    // Complete already: nothing asked, nothing written.
    let again = fetch(&sim, Interval::H4, r, &path);
    assert_eq!((again.requests, again.written), (0, 0));
    assert_eq!(std::fs::read(&path).unwrap(), complete);
}

#[test]
fn never_writes_a_bar_not_closed_yet() {
    // 2024-02-10 02:00: the 00:00 bar closes at 03:59:59.999, so the last one written
    // opened 2024-02-09 20:00.
    let sim = sim("2024-02-10 02:00");
    let dir = tempfile::tempdir().unwrap();
    let path = out(&dir, Interval::H4);
    let r = range("2024-01-01", "2024-03-31");
    let report = fetch(&sim, Interval::H4, r, &path);
    let now = parse_date("2024-02-10 02:00").unwrap().0;
    let want = expected(Interval::H4, r, now);
    assert_eq!(load_file(&path, a("BTC"), Interval::H4).unwrap().candles, want);
    assert_eq!(report.last_open_ms, Some(parse_date("2024-02-09 20:00").unwrap().0));
}

#[test]
fn injected_429s_are_waited_out() {
    let sim = sim("2025-01-01");
    sim.state.set_faults(FaultConfig { rate_429: 0.4, seed: 11, ..FaultConfig::default() });
    let dir = tempfile::tempdir().unwrap();
    let path = out(&dir, Interval::H4);
    let r = range("2023-06-01", "2024-03-31");
    let report = fetch(&sim, Interval::H4, r, &path);
    assert!(report.rate_limit_waits >= 1, "{report:?}");
    assert_eq!(report.waited_ms, report.rate_limit_waits * 1000, "Retry-After: 1 honoured");
    assert_eq!(load_file(&path, a("BTC"), Interval::H4).unwrap().candles, expected(Interval::H4, r, i64::MAX));
}

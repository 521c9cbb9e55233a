//! Candles for `GET /api/v3/klines`: the paper venue only knows last prices, so the
//! history the sim serves comes from a [`CandleSource`] given with
//! [`SimState::with_candles`].

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::SimState;

/// One candle as served: open time in ms as text, then open, high, low, close and
/// base volume as decimal text.
pub type CandleRow = [String; 6];

/// A source of historical candles.
pub trait CandleSource: Send + Sync {
    /// Up to `limit` candles of `symbol` (`BTCUSDT`) at `interval` (`4h`) whose open
    /// time is in `start_ms ..= end_ms`, oldest first.
    fn candles(&self, symbol: &str, interval: &str, start_ms: i64, end_ms: i64, limit: usize) -> Vec<CandleRow>;
}

/// Candles held in memory, by `(symbol, interval)`.
#[derive(Clone, Debug, Default)]
pub struct MemoryCandles {
    series: BTreeMap<(String, String), Vec<(i64, CandleRow)>>,
}

impl MemoryCandles {
    /// No candles.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the candles of `symbol` at `interval`; `rows` are sorted by
    /// open time here. A row whose open time is not an integer is skipped.
    pub fn insert(&mut self, symbol: &str, interval: &str, rows: Vec<CandleRow>) {
        let mut keyed: Vec<(i64, CandleRow)> =
            rows.into_iter().filter_map(|r| r[0].trim().parse::<i64>().ok().map(|t| (t, r))).collect();
        keyed.sort_by_key(|(t, _)| *t);
        self.series.insert((symbol.to_string(), interval.to_string()), keyed);
    }
}

impl CandleSource for MemoryCandles {
    fn candles(&self, symbol: &str, interval: &str, start_ms: i64, end_ms: i64, limit: usize) -> Vec<CandleRow> {
        let Some(rows) = self.series.get(&(symbol.to_string(), interval.to_string())) else { return Vec::new() };
        let from = rows.partition_point(|(t, _)| *t < start_ms);
        rows[from..].iter().take_while(|(t, _)| *t <= end_ms).take(limit).map(|(_, r)| r.clone()).collect()
    }
}

impl SimState {
    /// Serves `GET /api/v3/klines` from `source` (without one, every symbol has no
    /// candles).
    pub fn with_candles(mut self, source: Arc<dyn CandleSource>) -> Self {
        self.candles = Some(source);
        self
    }

    pub(crate) fn candle_source(&self) -> Option<&Arc<dyn CandleSource>> {
        self.candles.as_ref()
    }
}

/// The length in ms of a Binance kline interval; `None` for an unknown one and `1M`.
pub(crate) fn interval_ms(interval: &str) -> Option<i64> {
    const MIN: i64 = 60_000;
    const HOUR: i64 = 60 * MIN;
    const DAY: i64 = 24 * HOUR;
    Some(match interval {
        "1s" => 1000,
        "1m" => MIN,
        "3m" => 3 * MIN,
        "5m" => 5 * MIN,
        "15m" => 15 * MIN,
        "30m" => 30 * MIN,
        "1h" => HOUR,
        "2h" => 2 * HOUR,
        "4h" => 4 * HOUR,
        "6h" => 6 * HOUR,
        "8h" => 8 * HOUR,
        "12h" => 12 * HOUR,
        "1d" => DAY,
        "3d" => 3 * DAY,
        "1w" => 7 * DAY,
        _ => return None,
    })
}

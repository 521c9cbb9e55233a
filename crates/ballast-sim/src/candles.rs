//! Candles for `GET /api/v3/klines`: the paper venue only knows last prices, so the
//! history the sim serves comes from a [`CandleSource`] given with
//! [`SimState::with_candles`].

use std::collections::BTreeMap;
use std::sync::Arc;

use rust_decimal::Decimal;

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

/// A candle as a client sees it: times of the venue clock, exact values.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bar {
    pub open_time: i64,
    pub close_time: i64,
    pub open: Decimal,
    pub high: Decimal,
    pub low: Decimal,
    pub close: Decimal,
    pub volume: Decimal,
    pub closed: bool,
}

/// The last 24 hours of a symbol: open, high, low, base and quote volume.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DayStats {
    pub open: Decimal,
    pub high: Decimal,
    pub low: Decimal,
    pub volume: Decimal,
    pub quote_volume: Decimal,
}

impl SimState {
    /// The candles of `base``quote` (`BTCUSDT`) at `interval` (Binance's name)
    /// whose open time (venue clock) is in `start ..= end`, oldest first, at most
    /// `limit`: up to and including the bar the replay is in, whose close is the last
    /// price, high and low its open and the last price, volume 0. With a replay clock
    /// ([`SimState::with_replay_clock`]) the history is shifted by whole intervals so
    /// that the replay's bar is the bar of now. Without `start`, the `limit` bars up to
    /// `end` (default: now).
    pub(crate) fn bars(
        &self,
        base: &ballast_core::Asset,
        quote: &ballast_core::Asset,
        interval: &str,
        start: Option<i64>,
        end: Option<i64>,
        limit: usize,
    ) -> Vec<Bar> {
        let Some(step) = interval_ms(interval) else { return Vec::new() };
        let symbol = &format!("{base}{quote}");
        let last = self.last_price(base, quote);
        let shift = self.candle_shift(step);
        let replay_now = self.replay_ms();
        let current_open = bucket(replay_now, step);
        let end = end.map_or(current_open, |t| (t - shift).min(current_open));
        let start = match start {
            Some(t) => t - shift,
            None => end.saturating_sub(step.saturating_mul(limit as i64 - 1)),
        };
        let rows = match self.candle_source() {
            Some(src) if start <= end => rows_at(src.as_ref(), symbol, interval, step, start, end, limit),
            _ => Vec::new(),
        };
        let dec = |v: &str| v.trim().parse::<Decimal>().ok();
        rows.iter()
            .filter_map(|r| {
                let open: i64 = r[0].trim().parse().ok()?;
                if open < start || open > end {
                    return None;
                }
                let close_time = open + step - 1;
                let closed = close_time <= replay_now;
                let (o, h, l, c, v) = if closed {
                    (dec(&r[1])?, dec(&r[2])?, dec(&r[3])?, dec(&r[4])?, dec(&r[5])?)
                } else if open == current_open {
                    let o = dec(&r[1])?;
                    let c = last.unwrap_or(o);
                    (o, o.max(c), o.min(c), c, Decimal::ZERO)
                } else {
                    return None;
                };
                Some(Bar {
                    open_time: open + shift,
                    close_time: close_time + shift,
                    open: o,
                    high: h,
                    low: l,
                    close: c,
                    volume: v,
                    closed,
                })
            })
            .collect()
    }

    /// The last 24 hours of `symbol` from the replay's closed 4h candles (those that
    /// closed in the last 24 hours) and the last price (without candles: every price is the last one, volumes 0).
    pub(crate) fn day_stats(&self, symbol: &str, last: Decimal) -> DayStats {
        let day = 86_400_000;
        let step = 4 * 3_600_000;
        let replay_now = self.replay_ms();
        let rows =
            self.candle_source().map(|src| src.candles(symbol, "4h", replay_now - day - step + 1, replay_now, 7));
        let mut st = DayStats { open: last, high: last, low: last, volume: Decimal::ZERO, quote_volume: Decimal::ZERO };
        let mut first = true;
        for r in rows.unwrap_or_default() {
            let d = |i: usize| r[i].trim().parse::<Decimal>().ok();
            let (Some(open_time), Some(o), Some(h), Some(l), Some(c), Some(v)) =
                (r[0].trim().parse::<i64>().ok(), d(1), d(2), d(3), d(4), d(5))
            else {
                continue;
            };
            if open_time + step > replay_now {
                continue;
            }
            if first {
                st.open = o;
                first = false;
            }
            st.high = st.high.max(h);
            st.low = st.low.min(l);
            st.volume += v;
            st.quote_volume += v * c;
        }
        st
    }
}

/// The open time of the bar of `step` ms that holds `t`: a multiple of `step` since the
/// epoch, except weeks, which open on Mondays as Binance's (1970-01-05 was one).
pub(crate) fn bucket(t: i64, step: i64) -> i64 {
    const WEEK: i64 = 7 * 86_400_000;
    let offset = if step == WEEK { 4 * 86_400_000 } else { 0 };
    (t - offset).div_euclid(step) * step + offset
}

/// The source's candles of `symbol` at `interval`; when it has none there, candles made
/// from a shorter interval it has (`1d` for `3d` and `1w`, `4h` for `8h`, `12h` and
/// `1d`): open of the first, highest high, lowest low, close of the last, volumes added.
fn rows_at(
    src: &dyn CandleSource,
    symbol: &str,
    interval: &str,
    step: i64,
    start: i64,
    end: i64,
    limit: usize,
) -> Vec<CandleRow> {
    let rows = src.candles(symbol, interval, start, end, limit);
    if !rows.is_empty() {
        return rows;
    }
    for finer in ["1d", "4h"] {
        let Some(fine) = interval_ms(finer) else { continue };
        if step <= fine || step % fine != 0 {
            continue;
        }
        let per = usize::try_from(step / fine).unwrap_or(usize::MAX);
        let from = bucket(start, step);
        let parts = src.candles(symbol, finer, from, end + step - 1, limit.saturating_mul(per));
        if parts.is_empty() {
            continue;
        }
        let mut out: Vec<(i64, [Decimal; 5])> = Vec::new();
        for r in &parts {
            let d = |i: usize| r[i].trim().parse::<Decimal>().ok();
            let (Some(t), Some(o), Some(h), Some(l), Some(c), Some(v)) =
                (r[0].trim().parse::<i64>().ok(), d(1), d(2), d(3), d(4), d(5))
            else {
                continue;
            };
            let b = bucket(t, step);
            match out.last_mut() {
                Some((open, bar)) if *open == b => {
                    bar[1] = bar[1].max(h);
                    bar[2] = bar[2].min(l);
                    bar[3] = c;
                    bar[4] += v;
                }
                _ => out.push((b, [o, h, l, c, v])),
            }
        }
        return out
            .into_iter()
            .filter(|(t, _)| *t >= start && *t <= end)
            .take(limit)
            .map(|(t, b)| {
                [
                    t.to_string(),
                    b[0].to_string(),
                    b[1].to_string(),
                    b[2].to_string(),
                    b[3].to_string(),
                    b[4].to_string(),
                ]
            })
            .collect();
    }
    Vec::new()
}

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

    /// The intervals (Binance names) the source has candles of for `symbol`. By
    /// default, those of Binance's intervals for which [`Self::candles`] finds one.
    fn intervals(&self, symbol: &str) -> Vec<String> {
        INTERVALS
            .iter()
            .filter(|i| !self.candles(symbol, i, i64::MIN, i64::MAX, 1).is_empty())
            .map(|i| (*i).to_string())
            .collect()
    }
}

/// Binance's kline intervals of a fixed length, shortest first (`1M` has none).
pub(crate) const INTERVALS: [&str; 15] =
    ["1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w"];

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

    fn intervals(&self, symbol: &str) -> Vec<String> {
        self.series
            .iter()
            .filter(|((s, _), rows)| s == symbol && !rows.is_empty())
            .map(|((_, i), _)| i.clone())
            .collect()
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

/// Where the bars of an interval come from for a symbol.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    /// The source's interval the closed bars are read from (the interval itself, or a
    /// shorter one that divides it), and its length.
    source: (String, i64),
    /// The shortest source interval that divides the served one (for the open bar).
    finest: Option<(String, i64)>,
}

/// How bars of `interval` (Binance's name) can be served from source intervals
/// `have`: the interval itself when the source has it, else made from the longest
/// interval the source has that divides it (and whose bars start on its bars' starts:
/// weeks open on Mondays, whole days); `None` when neither exists.
pub(crate) fn plan(have: &[String], interval: &str) -> Option<Plan> {
    let step = interval_ms(interval)?;
    let divides = |i: &String| -> Option<(String, i64)> {
        let f = interval_ms(i)?;
        (f <= step && step % f == 0 && bucket(0, step).rem_euclid(f) == 0).then(|| (i.clone(), f))
    };
    let mut usable: Vec<(String, i64)> = have.iter().filter_map(divides).collect();
    usable.sort_by_key(|(_, f)| *f);
    let finest = usable.first().cloned();
    let source = match usable.iter().find(|(i, _)| i == interval) {
        Some(own) => own.clone(),
        None => usable.last()?.clone(),
    };
    Some(Plan { source, finest })
}

/// One bar being built from source rows: open time, OHLCV, and whether every part of
/// it is a closed source bar.
#[derive(Clone, Copy, Debug)]
struct Agg {
    open_time: i64,
    ohlcv: [Decimal; 5],
}

/// Source `rows` (of `fine` ms) made into bars of `step` ms as they stand at
/// `replay_now`: closed rows in full; the row the replay is in (if any) with its open
/// only; later rows not at all.
fn aggregate(rows: &[CandleRow], step: i64, fine: i64, replay_now: i64) -> Vec<Agg> {
    let mut out: Vec<Agg> = Vec::new();
    for r in rows {
        let d = |i: usize| r[i].trim().parse::<Decimal>().ok();
        let (Some(t), Some(o), Some(h), Some(l), Some(c), Some(v)) =
            (r[0].trim().parse::<i64>().ok(), d(1), d(2), d(3), d(4), d(5))
        else {
            continue;
        };
        if t > replay_now {
            continue;
        }
        let part = if t + fine - 1 <= replay_now { [o, h, l, c, v] } else { [o, o, o, o, Decimal::ZERO] };
        let b = bucket(t, step);
        match out.last_mut() {
            Some(bar) if bar.open_time == b => {
                let x = &mut bar.ohlcv;
                x[1] = x[1].max(part[1]);
                x[2] = x[2].min(part[2]);
                x[3] = part[3];
                x[4] += part[4];
            }
            _ => out.push(Agg { open_time: b, ohlcv: part }),
        }
    }
    out
}

impl SimState {
    /// How `interval` is served for `symbol` (`BTCUSDT`): `Ok(None)` without a candle
    /// source (no history: no bars), `Err(())` when the source cannot serve it.
    fn plan_for(&self, symbol: &str, interval: &str) -> Result<Option<Plan>, ()> {
        let Some(src) = self.candle_source() else { return Ok(None) };
        plan(&src.intervals(symbol), interval).map(Some).ok_or(())
    }

    /// The candles of `base``quote` (`BTCUSDT`) at `interval` (Binance's name) whose
    /// open time (venue clock) is in `start ..= end`, oldest first, at most `limit`,
    /// up to and including the bar the replay is in. Closed bars are the source's own
    /// at that interval, or made from a shorter one it has (open of the first, highest
    /// high, lowest low, close of the last, volumes added; see [`plan`]). The open bar
    /// is made from the closed bars of the shortest source interval within it and the
    /// last price (its close; its high and low include it; the volume of its closed
    /// parts). With a replay clock ([`SimState::with_replay_clock`]) the history is
    /// shifted by whole intervals so that the replay's bar is the bar of now. Without
    /// `start`, the `limit` bars up to `end` (default: now). `None`: an interval the
    /// source cannot serve for this symbol.
    pub(crate) fn bars(
        &self,
        base: &ballast_core::Asset,
        quote: &ballast_core::Asset,
        interval: &str,
        start: Option<i64>,
        end: Option<i64>,
        limit: usize,
    ) -> Option<Vec<Bar>> {
        let step = interval_ms(interval)?;
        let symbol = &format!("{base}{quote}");
        let plan = match self.plan_for(symbol, interval) {
            Err(()) => return None,
            Ok(None) => return Some(Vec::new()),
            Ok(Some(p)) => p,
        };
        let src = self.candle_source()?;
        let last = self.last_price(base, quote);
        let shift = self.candle_shift(step);
        let replay_now = self.replay_ms();
        let current_open = bucket(replay_now, step);
        let end = end.map_or(current_open, |t| (t - shift).min(current_open));
        let start = match start {
            Some(t) => t - shift,
            None => end.saturating_sub(step.saturating_mul(limit as i64 - 1)),
        };
        if start > end {
            return Some(Vec::new());
        }
        let read = |(name, fine): &(String, i64), from: i64| {
            let per = usize::try_from(step / fine).unwrap_or(usize::MAX);
            let rows = src.candles(
                symbol,
                name,
                from,
                end.saturating_add(step - 1).min(replay_now),
                limit.saturating_mul(per).saturating_add(per),
            );
            aggregate(&rows, step, *fine, replay_now)
        };
        let mut bars = read(&plan.source, bucket(start, step));
        // The open bar from the shortest interval's closed parts.
        if let Some(finest) = &plan.finest
            && finest.1 < plan.source.1
            && current_open >= start
            && current_open <= end
            && let Some(open) = read(finest, current_open).into_iter().find(|b| b.open_time == current_open)
        {
            bars.retain(|b| b.open_time != current_open);
            bars.push(open);
        }
        Some(
            bars.into_iter()
                .filter(|b| b.open_time >= start && b.open_time <= end)
                .take(limit)
                .map(|b| {
                    let [o, mut h, mut l, mut c, v] = b.ohlcv;
                    let close_time = b.open_time + step - 1;
                    let closed = close_time <= replay_now;
                    if !closed {
                        c = last.unwrap_or(c);
                        h = h.max(c);
                        l = l.min(c);
                    }
                    Bar {
                        open_time: b.open_time + shift,
                        close_time: close_time + shift,
                        open: o,
                        high: h,
                        low: l,
                        close: c,
                        volume: v,
                        closed,
                    }
                })
                .collect(),
        )
    }

    /// The replay's last closed bar of `symbol` at the shortest interval the source
    /// has, if any: open, high, low, close, volume.
    pub(crate) fn last_closed_bar(&self, symbol: &str) -> Option<[Decimal; 5]> {
        let (name, step) = self.finest_interval(symbol)?;
        let replay_now = self.replay_ms();
        let open = bucket(replay_now, step) - step;
        let rows = self.candle_source()?.candles(symbol, &name, open, open, 1);
        aggregate(&rows, step, step, replay_now).into_iter().find(|b| b.open_time == open).map(|b| b.ohlcv)
    }

    /// The shortest interval the candle source has for `symbol`, with its length.
    fn finest_interval(&self, symbol: &str) -> Option<(String, i64)> {
        let have = self.candle_source()?.intervals(symbol);
        have.into_iter().filter_map(|i| interval_ms(&i).map(|ms| (i, ms))).min_by_key(|(_, ms)| *ms)
    }

    /// The last 24 hours of `symbol` from the replay's closed bars of the shortest
    /// interval the source has (those that closed in the last 24 hours; a day when it
    /// has only days) and the last price (without candles: every price is the last
    /// one, volumes 0).
    pub(crate) fn day_stats(&self, symbol: &str, last: Decimal) -> DayStats {
        let day = 86_400_000;
        let mut st = DayStats { open: last, high: last, low: last, volume: Decimal::ZERO, quote_volume: Decimal::ZERO };
        let Some((name, step)) = self.finest_interval(symbol) else { return st };
        let replay_now = self.replay_ms();
        let span = day.max(step);
        let count = usize::try_from(span / step).unwrap_or(1) + 1;
        let rows = self
            .candle_source()
            .map(|src| src.candles(symbol, &name, replay_now - span - step + 1, replay_now, count))
            .unwrap_or_default();
        let mut first = true;
        for b in aggregate(&rows, step, step, replay_now) {
            if b.open_time + step > replay_now {
                continue;
            }
            let [o, h, l, c, v] = b.ohlcv;
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

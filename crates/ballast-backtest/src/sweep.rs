//! Parameter sweeps: many strategies over the same data, in parallel, ranked.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use crate::backtest::{self, Prepared, Strategy};
use crate::data::Interval;
use crate::sim::Metrics;

/// One configuration of a grid.
#[derive(Clone, Debug)]
pub struct Point {
    /// Candle interval (which prepared data set to run on).
    pub interval: Interval,
    /// The strategy.
    pub strategy: Strategy,
}

impl Point {
    /// The grouping key of HODL: same data, same initial weights, same fee.
    fn hodl_key(&self) -> (Interval, String, String) {
        (self.interval, self.strategy.weights.name(), self.strategy.fee_bps.normalize().to_string())
    }
}

/// The result of one configuration.
#[derive(Clone, Debug)]
pub struct Row {
    /// Index of the configuration in the grid.
    pub index: usize,
    /// The strategy's metrics.
    pub metrics: Metrics,
    /// HODL of the same targets and fee.
    pub hodl: Metrics,
    /// `final / hodl_final - 1`.
    pub excess_vs_hodl: f64,
}

/// What to rank by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RankBy {
    /// Higher is better.
    FinalValue,
    /// Higher is better.
    Cagr,
    /// Higher is better.
    Sharpe,
    /// Higher is better.
    ExcessVsHodl,
    /// Lower is better.
    MaxDrawdown,
    /// Lower is better.
    Volatility,
    /// Lower is better.
    Turnover,
    /// Lower is better.
    FeesPaid,
}

impl RankBy {
    /// Every option, with its name.
    pub const ALL: [(RankBy, &'static str); 8] = [
        (RankBy::FinalValue, "final_value"),
        (RankBy::Cagr, "cagr"),
        (RankBy::Sharpe, "sharpe"),
        (RankBy::ExcessVsHodl, "excess_vs_hodl"),
        (RankBy::MaxDrawdown, "max_drawdown"),
        (RankBy::Volatility, "volatility"),
        (RankBy::Turnover, "turnover"),
        (RankBy::FeesPaid, "fees_paid"),
    ];

    /// The score of a row: higher is always better.
    pub fn score(self, r: &Row) -> f64 {
        let m = &r.metrics;
        let s = match self {
            RankBy::FinalValue => m.final_value,
            RankBy::Cagr => m.cagr,
            RankBy::Sharpe => m.sharpe,
            RankBy::ExcessVsHodl => r.excess_vs_hodl,
            RankBy::MaxDrawdown => -m.max_drawdown,
            RankBy::Volatility => -m.volatility,
            RankBy::Turnover => -m.turnover,
            RankBy::FeesPaid => -m.fees_paid,
        };
        if s.is_nan() { f64::NEG_INFINITY } else { s }
    }
}

impl FromStr for RankBy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim().to_ascii_lowercase().replace('-', "_");
        RankBy::ALL.iter().find(|(_, n)| *n == t).map(|(r, _)| *r).ok_or_else(|| {
            let names: Vec<&str> = RankBy::ALL.iter().map(|(_, n)| *n).collect();
            format!("unknown metric {s:?}; use one of: {}", names.join(", "))
        })
    }
}

impl fmt::Display for RankBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = RankBy::ALL.iter().find(|(r, _)| r == self).map(|(_, n)| *n).unwrap_or("?");
        f.write_str(name)
    }
}

/// Runs every point of a grid on its interval's prepared data, in parallel on the
/// current rayon pool. `tick` is called once per finished configuration (for a
/// progress bar). Results come back in grid order; a configuration that cannot run
/// (say, a calendar interval that is not a whole number of bars) is an error naming it.
pub fn run(
    data: &BTreeMap<Interval, Prepared>,
    points: &[Point],
    tick: &(dyn Fn() + Sync),
) -> Result<Vec<Row>, String> {
    let mut rows = Vec::with_capacity(points.len());
    run_each(data, points.len(), &|i| points[i].clone(), &hodl_points(points), tick, &mut |r| {
        rows.push(r);
        Ok(())
    })?;
    Ok(rows)
}

/// One point of each HODL group of `points` (same data, initial weights and fee).
pub fn hodl_points(points: &[Point]) -> Vec<Point> {
    let mut seen = std::collections::BTreeSet::new();
    points.iter().filter(|p| seen.insert(p.hodl_key())).cloned().collect()
}

/// How many configurations run between two hand-overs to the sink: what a sweep holds
/// in memory at once, whatever the size of the grid.
pub const CHUNK: usize = 16_384;

/// Runs the points `0..n` of a grid given by `point` (so that a grid of any size is
/// never held whole), in parallel chunks of [`CHUNK`], and hands each row to `sink` in
/// grid order as its chunk finishes: memory stays bounded by a chunk. `hodl` holds one
/// point of every HODL group the grid has (see [`hodl_points`]).
pub fn run_each(
    data: &BTreeMap<Interval, Prepared>,
    n: usize,
    point: &(dyn Fn(usize) -> Point + Sync),
    hodl: &[Point],
    tick: &(dyn Fn() + Sync),
    sink: &mut dyn FnMut(Row) -> Result<(), String>,
) -> Result<(), String> {
    // HODL once per (interval, weights, fee).
    let hodl: BTreeMap<(Interval, String, String), Metrics> = hodl
        .par_iter()
        .map(|p| {
            let prep = data.get(&p.interval).ok_or_else(|| format!("no data for interval {}", p.interval))?;
            backtest::hodl(prep, &p.strategy).map(|m| (p.hodl_key(), m))
        })
        .collect::<Result<_, String>>()?;
    let done = AtomicUsize::new(0);
    let mut start = 0;
    while start < n {
        let end = n.min(start + CHUNK);
        let points: Vec<Point> = (start..end).map(point).collect();
        // Runs of neighbours on the same data that can share a pass over it
        // (backtest::metrics_many), a few lane blocks each, in parallel.
        let mut batches: Vec<std::ops::Range<usize>> = Vec::new();
        for (i, p) in points.iter().enumerate() {
            match batches.last_mut() {
                Some(b) if b.len() < BATCH && points[b.start].interval == p.interval => b.end = i + 1,
                _ => batches.push(i..i + 1),
            }
        }
        let rows: Vec<Vec<Result<Row, String>>> = batches
            .into_par_iter()
            .map(|range| {
                let batch = &points[range.clone()];
                let Some(prep) = data.get(&batch[0].interval) else {
                    return vec![Err(format!("no data for interval {}", batch[0].interval))];
                };
                let strategies: Vec<&Strategy> = batch.iter().map(|p| &p.strategy).collect();
                let results = backtest::metrics_many(prep, &strategies);
                batch
                    .iter()
                    .zip(results)
                    .zip(range)
                    .map(|((p, metrics), offset)| {
                        let index = start + offset;
                        let metrics = metrics.map_err(|e| {
                            format!(
                                "{} {} {}: {e}",
                                p.interval,
                                p.strategy.weights.name(),
                                p.strategy.rebalance.label()
                            )
                        })?;
                        let h = hodl
                            .get(&p.hodl_key())
                            .ok_or_else(|| format!("configuration {index}: no HODL run for its weights and fee"))?
                            .clone();
                        let excess_vs_hodl = metrics.final_value / h.final_value - 1.0;
                        done.fetch_add(1, Ordering::Relaxed);
                        tick();
                        Ok(Row { index, metrics, hodl: h, excess_vs_hodl })
                    })
                    .collect()
            })
            .collect();
        for r in rows.into_iter().flatten() {
            sink(r?)?;
        }
        start = end;
    }
    Ok(())
}

/// Neighbouring configurations handed to one worker: a few blocks of
/// [`crate::sim::LANES`] that share a pass over the data.
const BATCH: usize = 4 * crate::sim::LANES;

/// The best `k` rows seen, by a metric, in bounded memory (a heap of `k`): for ranking
/// a grid of any size while its rows stream past.
pub struct TopK {
    k: usize,
    by: RankBy,
    heap: std::collections::BinaryHeap<Ranked>,
}

/// A row in [`TopK`]'s heap: the worst on top (lower score, then later in the grid).
struct Ranked(f64, Row);

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}
impl Eq for Ranked {}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // "Greater" = worse, so that the heap's top is the row to drop.
        other.0.total_cmp(&self.0).then(self.1.index.cmp(&other.1.index))
    }
}

impl TopK {
    /// Keeps the best `k` rows by `by`.
    pub fn new(k: usize, by: RankBy) -> Self {
        Self { k, by, heap: std::collections::BinaryHeap::with_capacity(k.saturating_add(1).min(1 << 20)) }
    }

    /// Offers a row.
    pub fn push(&mut self, row: Row) {
        if self.k == 0 {
            return;
        }
        let r = Ranked(self.by.score(&row), row);
        if self.heap.len() < self.k {
            self.heap.push(r);
        } else if self.heap.peek().is_some_and(|worst| r < *worst) {
            self.heap.pop();
            self.heap.push(r);
        }
    }

    /// The rows kept, best first (as [`rank`] orders them).
    pub fn into_sorted(self) -> Vec<Row> {
        let mut rows: Vec<Row> = self.heap.into_iter().map(|r| r.1).collect();
        rank(&mut rows, self.by);
        rows
    }
}

/// Sorts rows best first by `by` (ties: grid order).
pub fn rank(rows: &mut [Row], by: RankBy) {
    rows.sort_by(|a, b| by.score(b).total_cmp(&by.score(a)).then(a.index.cmp(&b.index)));
}

/// Parses a list or an inclusive range of decimals: `1,2,5` or `0.5:50:0.5`.
pub fn parse_decimal_grid(s: &str) -> Result<Vec<rust_decimal::Decimal>, String> {
    use rust_decimal::Decimal;
    let p = |x: &str| ballast_core::money::parse_decimal(x).map_err(|e| e.to_string());
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|x| !x.is_empty()) {
        let bits: Vec<&str> = part.split(':').collect();
        match bits.as_slice() {
            [one] => out.push(p(one)?),
            [a, b, step] => {
                let (a, b, step) = (p(a)?, p(b)?, p(step)?);
                if step <= Decimal::ZERO || a > b {
                    return Err(format!("range {part:?}: use START:END:STEP with START <= END and STEP > 0"));
                }
                let n = ((b - a) / step).floor();
                if n > Decimal::from(100_000) {
                    return Err(format!("range {part:?} has more than 100,000 values"));
                }
                let mut x = a;
                while x <= b {
                    out.push(x.normalize());
                    x += step;
                }
            }
            _ => return Err(format!("{part:?}: use a value or START:END:STEP")),
        }
    }
    if out.is_empty() {
        return Err("empty list".into());
    }
    Ok(out)
}

/// Parses a list or an inclusive range of spans: `1d,7d` or `4h:2000h:4h`.
pub fn parse_span_grid(s: &str) -> Result<Vec<ballast_core::Span>, String> {
    use ballast_core::Span;
    let p = |x: &str| x.parse::<Span>().map_err(|e| e.to_string());
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|x| !x.is_empty()) {
        let bits: Vec<&str> = part.split(':').collect();
        match bits.as_slice() {
            [one] => out.push(p(one)?),
            [a, b, step] => {
                let (a, b, step) = (p(a)?, p(b)?, p(step)?);
                if step.secs() <= 0 || a > b {
                    return Err(format!("range {part:?}: use START:END:STEP with START <= END and STEP > 0"));
                }
                if (b.secs() - a.secs()) / step.secs() > 100_000 {
                    return Err(format!("range {part:?} has more than 100,000 values"));
                }
                let mut x = a.secs();
                while x <= b.secs() {
                    out.push(Span::from_secs(x));
                    x += step.secs();
                }
            }
            _ => return Err(format!("{part:?}: use a value or START:END:STEP")),
        }
    }
    if out.is_empty() {
        return Err("empty list".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn grids_parse() {
        assert_eq!(parse_decimal_grid("1,2.5").unwrap(), vec![dec!(1), dec!(2.5)]);
        assert_eq!(parse_decimal_grid("0.5:2:0.5").unwrap(), vec![dec!(0.5), dec!(1), dec!(1.5), dec!(2)]);
        assert!(parse_decimal_grid("5:1:1").is_err());
        assert!(parse_decimal_grid("1:2:0").is_err());
        assert!(parse_decimal_grid("x").is_err());
        assert!(parse_decimal_grid("0:1000000:1").is_err());
        let s = parse_span_grid("4h:12h:4h,7d").unwrap();
        assert_eq!(s.iter().map(|x| x.to_string()).collect::<Vec<_>>(), ["4h", "8h", "12h", "7d"]);
    }

    #[test]
    fn rank_names_round_trip() {
        for (r, n) in RankBy::ALL {
            assert_eq!(n.parse::<RankBy>().unwrap(), r);
            assert_eq!(r.to_string(), n);
        }
        assert!("speed".parse::<RankBy>().unwrap_err().contains("sharpe"));
    }
}

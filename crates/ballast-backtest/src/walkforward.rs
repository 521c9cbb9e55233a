//! Walk-forward selection: choose the best configuration of a grid on a rolling
//! in-sample window, judge it on the out-of-sample window that follows, roll on.
//!
//! Windows: the first in-sample window starts at the first bar; each step moves every
//! window forward by the out-of-sample length, so the out-of-sample windows tile the
//! period after the first in-sample window without overlap. The stitched
//! out-of-sample equity (each window's chosen configuration, bought fresh at the
//! window's start with the capital the previous window ended with) is the honest
//! record of the procedure; HODL of the same targets is stitched the same way.

use std::collections::BTreeMap;
use std::sync::Arc;

use ballast_core::{Span, Timestamp};

use crate::backtest::{self, Prepared};
use crate::data::{Aligned, Interval};
use crate::sim::{self, Metrics};
use crate::sweep::{self, Point, RankBy};

/// One step of the walk.
#[derive(Clone, Debug)]
pub struct Window {
    /// In-sample start (inclusive).
    pub is_start: Timestamp,
    /// Out-of-sample start (inclusive); the in-sample window ends just before.
    pub oos_start: Timestamp,
    /// Out-of-sample end (inclusive).
    pub oos_end: Timestamp,
    /// Index of the configuration chosen in sample.
    pub chosen: usize,
    /// Its in-sample score.
    pub is_score: f64,
    /// Its out-of-sample metrics.
    pub oos: Metrics,
    /// HODL's out-of-sample metrics.
    pub oos_hodl: Metrics,
}

/// The result of a walk.
#[derive(Clone, Debug)]
pub struct WalkForward {
    /// Every window.
    pub windows: Vec<Window>,
    /// Metrics of the stitched out-of-sample equity of the chosen configurations.
    pub stitched: Metrics,
    /// The same for HODL.
    pub stitched_hodl: Metrics,
    /// The configuration chosen most often (ties: the most recent choice).
    pub preset: usize,
    /// How many windows chose it.
    pub preset_votes: usize,
    /// The preset held fixed over every out-of-sample window, stitched.
    pub preset_stitched: Metrics,
}

fn index_at_or_after(times: &[Timestamp], t: Timestamp) -> usize {
    times.partition_point(|x| *x < t)
}

fn window_data(
    data: &BTreeMap<Interval, Arc<Aligned>>,
    from: Timestamp,
    to_exclusive: Timestamp,
) -> Result<BTreeMap<Interval, Prepared>, String> {
    let mut out = BTreeMap::new();
    for (interval, d) in data {
        let a = index_at_or_after(&d.times, from);
        let b = index_at_or_after(&d.times, to_exclusive);
        if b < a + 2 {
            return Err(format!("window {} .. {} has fewer than 2 {interval} bars", from.0, to_exclusive.0));
        }
        out.insert(*interval, Prepared::range(d.clone(), a, b - 1)?);
    }
    Ok(out)
}

/// Runs one configuration on one window and returns its value series and HODL's.
fn values(prep: &Prepared, point: &Point) -> Result<(Vec<f64>, Vec<f64>), String> {
    let o = backtest::run(prep, &point.strategy, false)?;
    Ok((o.values, o.hodl_values))
}

fn stitch(parts: &[Vec<f64>], initial: f64, ppy: f64) -> Metrics {
    let mut series: Vec<f64> = Vec::new();
    let mut capital = initial;
    for p in parts {
        if p.is_empty() {
            continue;
        }
        // Each window is bought fresh with the capital carried over (its series
        // starts after the initial fee, which stays in the record).
        let scale = capital / initial;
        series.extend(p.iter().map(|v| v * scale));
        capital = series.last().copied().unwrap_or(capital);
    }
    sim::metrics(&series, initial, ppy, 0, 0.0, 0.0)
}

/// Walks forward over `data` from `start` with in-sample length `is_len` and
/// out-of-sample length `oos_len`, ranking by `rank_by`.
pub fn run(
    data: &BTreeMap<Interval, Arc<Aligned>>,
    points: &[Point],
    start: Timestamp,
    is_len: Span,
    oos_len: Span,
    rank_by: RankBy,
    tick: &(dyn Fn() + Sync),
) -> Result<WalkForward, String> {
    if points.is_empty() {
        return Err("the grid is empty".into());
    }
    let end = data.values().filter_map(|d| d.times.last().copied()).min().ok_or("no data")?;
    let finest = data.keys().map(|i| i.span()).min().ok_or("no data")?;
    let ppy = data.keys().next().map(|i| i.periods_per_year()).unwrap_or(365.0);
    let initial = points[0].strategy.initial.try_into().unwrap_or(10_000.0);
    let mut windows = Vec::new();
    let mut is_start = start;
    loop {
        let oos_start = is_start.plus(is_len);
        let oos_end_excl = oos_start.plus(oos_len);
        if oos_end_excl.0 > end.0 + finest.millis() {
            break;
        }
        let is_data = window_data(data, is_start, oos_start)?;
        let mut rows = sweep::run(&is_data, points, tick)?;
        sweep::rank(&mut rows, rank_by);
        let best = &rows[0];
        let oos_data = window_data(data, oos_start, oos_end_excl)?;
        let p = &points[best.index];
        let prep = &oos_data[&p.interval];
        let o = backtest::run(prep, &p.strategy, false)?;
        windows.push(Window {
            is_start,
            oos_start,
            oos_end: Timestamp(oos_end_excl.0 - 1),
            chosen: best.index,
            is_score: rank_by.score(best),
            oos: o.metrics,
            oos_hodl: o.hodl,
        });
        is_start = is_start.plus(oos_len);
    }
    if windows.is_empty() {
        return Err(format!(
            "the data is too short for one in-sample window of {is_len} and one out-of-sample window of {oos_len}"
        ));
    }
    // The stitched record of the procedure, and of the most-chosen configuration.
    let mut chosen_parts = Vec::new();
    let mut hodl_parts = Vec::new();
    let mut votes: BTreeMap<usize, (usize, usize)> = BTreeMap::new(); // index -> (votes, last window)
    for (k, w) in windows.iter().enumerate() {
        let oos_data = window_data(data, w.oos_start, Timestamp(w.oos_end.0 + 1))?;
        let p = &points[w.chosen];
        let (v, h) = values(&oos_data[&p.interval], p)?;
        chosen_parts.push(v);
        hodl_parts.push(h);
        let e = votes.entry(w.chosen).or_insert((0, 0));
        e.0 += 1;
        e.1 = k;
    }
    let (&preset, &(preset_votes, _)) = votes.iter().max_by_key(|(_, (n, last))| (*n, *last)).ok_or("no windows")?;
    let mut preset_parts = Vec::new();
    for w in &windows {
        let oos_data = window_data(data, w.oos_start, Timestamp(w.oos_end.0 + 1))?;
        let p = &points[preset];
        preset_parts.push(values(&oos_data[&p.interval], p)?.0);
    }
    Ok(WalkForward {
        stitched: stitch(&chosen_parts, initial, ppy),
        stitched_hodl: stitch(&hodl_parts, initial, ppy),
        preset_stitched: stitch(&preset_parts, initial, ppy),
        windows,
        preset,
        preset_votes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stitching_chains_capital() {
        // two windows: +10 % then +10 %, each starting at its own 100
        let parts = vec![vec![100.0, 110.0], vec![100.0, 110.0]];
        let m = stitch(&parts, 100.0, 365.0);
        assert!((m.final_value - 121.0).abs() < 1e-9, "{}", m.final_value);
    }
}

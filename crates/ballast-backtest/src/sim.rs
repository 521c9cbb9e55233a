//! The "ideal" simulation of `shared/BACKTEST.md`, on `f64`, built for speed.
//!
//! Conventions (exactly those of BACKTEST.md):
//! - trades happen at each bar's close; the clock is the aligned bars given;
//! - the first bar buys `initial / (1 + f)` worth at the target weights;
//! - a rebalance trades every asset to exactly its target weight; the value after the
//!   trades solves `V' = V - f * sum_i |w_i V' - q_i p_i|`, iterated to 1e-12;
//! - triggers are checked at every bar close after the first: `calendar N` when at
//!   least N bars passed since the last rebalance (the initial buy counts as one);
//!   `threshold absolute X` when some `|w_i - w*_i| > X/100`; `threshold relative X`
//!   when some `|w_i / w*_i - 1| > X/100`; `hodl` never.
//!
//! Target weights may change over time (market cap, risk-based methods re-estimated on
//! a trailing window): a [`Targets`] source is asked for the weights at the first bar
//! and at every rebalance, and is given only the bar index, so it can only look back.

use ballast_core::DriftKind;

/// When the simulation rebalances.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    /// Never: buy at the first bar and hold.
    Hodl,
    /// Every `bars` bars since the last rebalance.
    Calendar {
        /// Bars between rebalances (at least 1).
        bars: usize,
    },
    /// When some asset drifts strictly past `percent`.
    Threshold {
        /// The threshold, in percent (points for absolute).
        percent: f64,
        /// Absolute points or relative to the target.
        kind: DriftKind,
    },
}

/// Where target weights come from during a run.
pub trait Targets {
    /// The target weights (fractions summing to 1, one per asset in market order) to
    /// use from bar `bar` on. Called at bar 0 and at each rebalance.
    fn at(&mut self, bar: usize) -> Result<Vec<f64>, String>;
}

/// Fixed weights.
#[derive(Clone, Debug)]
pub struct Fixed(pub Vec<f64>);

impl Targets for Fixed {
    fn at(&mut self, _bar: usize) -> Result<Vec<f64>, String> {
        Ok(self.0.clone())
    }
}

/// Prices of `n` assets over `bars` bars, row-major (`prices[t * n + i]`).
#[derive(Clone, Debug)]
pub struct Market {
    /// Bar times, ms since epoch.
    pub times: Vec<i64>,
    /// Number of assets.
    pub n: usize,
    /// Closes, row-major.
    pub prices: Vec<f64>,
}

impl Market {
    /// Builds a market from one close series per asset (all the same length).
    pub fn from_columns(times: Vec<i64>, columns: &[Vec<f64>]) -> Self {
        let n = columns.len();
        let bars = times.len();
        let mut prices = Vec::with_capacity(bars * n);
        for t in 0..bars {
            for c in columns {
                prices.push(c[t]);
            }
        }
        Self { times, n, prices }
    }

    /// Number of bars.
    pub fn bars(&self) -> usize {
        self.times.len()
    }

    /// The closes of bar `t`.
    pub fn row(&self, t: usize) -> &[f64] {
        &self.prices[t * self.n..(t + 1) * self.n]
    }
}

/// One rebalance of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct RebalanceEvent {
    /// Bar index.
    pub bar: usize,
    /// Value before the trades.
    pub value_before: f64,
    /// Notional traded.
    pub traded: f64,
    /// Fees paid.
    pub fees: f64,
}

/// What a run produced.
#[derive(Clone, Debug, Default)]
pub struct Run {
    /// Portfolio value at each bar's close (after any trades of that bar).
    pub values: Vec<f64>,
    /// Rebalances, not counting the initial buy.
    pub rebalances: Vec<RebalanceEvent>,
    /// Fees paid, the initial buy's included.
    pub fees_paid: f64,
    /// Notional traded after the initial buy.
    pub traded: f64,
    /// Weights at each bar's close (row-major), when recording was asked for.
    pub weights: Option<Vec<f64>>,
    /// Target weights in force at each rebalance (and at bar 0), when recording.
    pub targets: Vec<(usize, Vec<f64>)>,
    /// Every trade, when recording: (bar, asset index, signed quantity, price).
    pub trades: Vec<(usize, usize, f64, f64)>,
}

/// Solves `V' = V - f * sum_i |w_i V' - v_i|` by fixed-point iteration.
pub fn post_trade_value(v: f64, values: &[f64], w: &[f64], f: f64) -> f64 {
    let mut vp = v;
    for _ in 0..200 {
        let traded: f64 = w.iter().zip(values).map(|(wi, vi)| (wi * vp - vi).abs()).sum();
        let next = v - f * traded;
        let done = (next - vp).abs() <= 1e-12 * v.abs().max(1.0);
        vp = next;
        if done {
            break;
        }
    }
    vp
}

/// Runs the ideal simulation. `fee` is a fraction (10 bps = 0.001). With `record`, the
/// weights at every bar are kept (for reports).
pub fn run_ideal(
    market: &Market,
    mode: Mode,
    fee: f64,
    initial: f64,
    targets: &mut dyn Targets,
    record: bool,
) -> Result<Run, String> {
    let n = market.n;
    let bars = market.bars();
    if bars == 0 || n == 0 {
        return Err("no bars to simulate".into());
    }
    let mut run = Run { values: Vec::with_capacity(bars), ..Run::default() };
    let mut weights_rec = record.then(|| Vec::with_capacity(bars * n));

    let mut w = checked(targets.at(0)?, n)?;
    let p0 = market.row(0);
    let v0 = initial / (1.0 + fee);
    let mut q: Vec<f64> = (0..n).map(|i| w[i] * v0 / p0[i]).collect();
    if record {
        run.trades.extend((0..n).filter(|&i| q[i] != 0.0).map(|i| (0, i, q[i], p0[i])));
    }
    run.fees_paid = initial - v0;
    run.values.push(v0);
    if record {
        run.targets.push((0, w.clone()));
    }
    if let Some(rec) = weights_rec.as_mut() {
        rec.extend(w.iter().copied());
    }
    let mut last = 0usize;
    let mut vals = vec![0.0; n];
    let (thr, relative) = match mode {
        Mode::Threshold { percent, kind } => (percent / 100.0, kind == DriftKind::Relative),
        _ => (0.0, false),
    };

    for t in 1..bars {
        let p = market.row(t);
        let mut v = 0.0;
        for i in 0..n {
            let x = q[i] * p[i];
            vals[i] = x;
            v += x;
        }
        let due = match mode {
            Mode::Hodl => false,
            Mode::Calendar { bars: every } => t - last >= every,
            Mode::Threshold { .. } => {
                let mut hit = false;
                if relative {
                    for i in 0..n {
                        // |v_i / V / w_i - 1| > X  <=>  |v_i - w_i V| > X w_i V
                        let target = w[i] * v;
                        hit |= (vals[i] - target).abs() > thr * target;
                    }
                } else {
                    let band = thr * v;
                    for i in 0..n {
                        hit |= (vals[i] - w[i] * v).abs() > band;
                    }
                }
                hit
            }
        };
        let mut v_now = v;
        if due {
            let new_w = checked(targets.at(t)?, n)?;
            w = new_w;
            let vp = post_trade_value(v, &vals, &w, fee);
            let traded: f64 = (0..n).map(|i| (w[i] * vp - vals[i]).abs()).sum();
            for i in 0..n {
                let nq = w[i] * vp / p[i];
                if record && nq != q[i] {
                    run.trades.push((t, i, nq - q[i], p[i]));
                }
                q[i] = nq;
            }
            let fees = v - vp;
            run.fees_paid += fees;
            run.traded += traded;
            run.rebalances.push(RebalanceEvent { bar: t, value_before: v, traded, fees });
            if record {
                run.targets.push((t, w.clone()));
            }
            last = t;
            v_now = vp;
        }
        run.values.push(v_now);
        if let Some(rec) = weights_rec.as_mut() {
            for i in 0..n {
                rec.push(q[i] * p[i] / v_now);
            }
        }
    }
    run.weights = weights_rec;
    Ok(run)
}

/// Configurations a [`metrics_fixed`] pass carries side by side.
pub const LANES: usize = 8;

/// The metrics of [`run_ideal`] for each of `modes`, all with the fixed targets `w`
/// (equal or custom weights), the same fee and initial amount: the sweep's kernel.
/// Configurations run [`LANES`] at a time in one pass over the bars, each lane with
/// its own state, so that the bar's prices are read once for all of them and the lanes'
/// independent sums keep the processor busy (one configuration alone is bound by the
/// latency of its running sum). Every figure is computed by the same operations in the
/// same order as [`run_ideal`] and [`metrics`], so the results are the same, bit for
/// bit (tested).
pub fn metrics_fixed(
    market: &Market,
    w: &[f64],
    fee: f64,
    initial: f64,
    modes: &[Mode],
    periods_per_year: f64,
) -> Result<Vec<Metrics>, String> {
    let n = market.n;
    let bars = market.bars();
    if bars == 0 || n == 0 {
        return Err("no bars to simulate".into());
    }
    let w = checked(w.to_vec(), n)?;
    let mut out = Vec::with_capacity(modes.len());
    for block in modes.chunks(LANES) {
        out.extend(lanes(market, &w, fee, initial, block, periods_per_year));
    }
    Ok(out)
}

/// One pass of [`metrics_fixed`] over up to [`LANES`] modes: compiled for AVX2 as well
/// when the processor has it (four lanes per instruction instead of two; no fused
/// multiply-add, which would round differently), chosen at run time.
fn lanes(market: &Market, w: &[f64], fee: f64, initial: f64, modes: &[Mode], ppy: f64) -> Vec<Metrics> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor has AVX2, checked just above.
        return unsafe { lanes_avx2(market, w, fee, initial, modes, ppy) };
    }
    lanes_any(market, w, fee, initial, modes, ppy)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn lanes_avx2(market: &Market, w: &[f64], fee: f64, initial: f64, modes: &[Mode], ppy: f64) -> Vec<Metrics> {
    lanes_any(market, w, fee, initial, modes, ppy)
}

#[inline(always)]
fn lanes_any(market: &Market, w: &[f64], fee: f64, initial: f64, modes: &[Mode], ppy: f64) -> Vec<Metrics> {
    const L: usize = LANES;
    let n = market.n;
    let bars = market.bars();
    let used = modes.len();
    // Per lane: relative threshold (applied to the target), absolute threshold (applied
    // to the value), calendar period; a lane that is not a threshold never hits.
    let mut rel = [0.0f64; L];
    let mut abs = [0.0f64; L];
    let mut threshold = [false; L];
    let mut every = [usize::MAX; L];
    for (l, m) in modes.iter().enumerate() {
        match *m {
            Mode::Hodl => {}
            Mode::Calendar { bars } => every[l] = bars,
            Mode::Threshold { percent, kind } => {
                threshold[l] = true;
                if kind == DriftKind::Relative {
                    rel[l] = percent / 100.0;
                } else {
                    abs[l] = percent / 100.0;
                }
            }
        }
    }
    let p0 = market.row(0);
    let v0 = initial / (1.0 + fee);
    // Quantities and values, asset-major: lane l of asset i at i * L + l.
    let mut q = vec![0.0f64; n * L];
    for i in 0..n {
        q[i * L..(i + 1) * L].fill(w[i] * v0 / p0[i]);
    }
    let mut vals = vec![0.0f64; n * L];
    // Each lane's value at every bar, bar-major (bar t's lanes at t * L ..).
    let mut history = vec![0.0f64; bars * L];
    history[..L].fill(v0);
    let mut fees_paid = [initial - v0; L];
    let mut traded_all = [0.0f64; L];
    let mut rebalances = [0usize; L];
    let mut last = [0usize; L];
    let mut lane_vals = vec![0.0f64; n];
    for (t, now) in history.chunks_exact_mut(L).enumerate().skip(1) {
        let p = market.row(t);
        let mut v = [0.0f64; L];
        for ((qi, xi), &pi) in q.chunks_exact(L).zip(vals.chunks_exact_mut(L)).zip(p) {
            for l in 0..L {
                let x = qi[l] * pi;
                xi[l] = x;
                v[l] += x;
            }
        }
        let mut band = [0.0f64; L];
        for l in 0..L {
            band[l] = abs[l] * v[l];
        }
        let mut hit = [false; L];
        for (xi, &wi) in vals.chunks_exact(L).zip(w) {
            for l in 0..L {
                // As run_ideal: |v_i - w_i V| > X w_i V (relative) or > X V (absolute);
                // the other term is exactly zero.
                let target = wi * v[l];
                hit[l] |= (xi[l] - target).abs() > rel[l] * target + band[l];
            }
        }
        let mut due = [false; L];
        let mut any = false;
        for l in 0..L {
            due[l] = if threshold[l] { hit[l] } else { t - last[l] >= every[l] };
            any |= due[l];
        }
        now.copy_from_slice(&v);
        if !any {
            continue;
        }
        for l in (0..used).filter(|&l| due[l]) {
            for i in 0..n {
                lane_vals[i] = vals[i * L + l];
            }
            let vp = post_trade_value(v[l], &lane_vals, w, fee);
            let traded: f64 = (0..n).map(|i| (w[i] * vp - lane_vals[i]).abs()).sum();
            for i in 0..n {
                q[i * L + l] = w[i] * vp / p[i];
            }
            fees_paid[l] += v[l] - vp;
            traded_all[l] += traded;
            rebalances[l] += 1;
            last[l] = t;
            now[l] = vp;
        }
    }
    // The figures of `metrics`, every lane at once: per lane, the same operations in
    // the same order (sums from -0.0, as the standard library's, bar after bar).
    let mut sum_r = [-0.0f64; L];
    let mut sum_v = [-0.0f64; L];
    let mut peak = [f64::MIN; L];
    let mut drawdown = [0.0f64; L];
    let first: &[f64] = &history[..L];
    for l in 0..L {
        sum_v[l] += first[l];
        peak[l] = peak[l].max(first[l]);
        drawdown[l] = drawdown[l].max(1.0 - first[l] / peak[l]);
    }
    for pair in history.windows(2 * L).step_by(L) {
        let (before, now) = pair.split_at(L);
        for l in 0..L {
            sum_r[l] += now[l] / before[l] - 1.0;
            sum_v[l] += now[l];
            peak[l] = peak[l].max(now[l]);
            drawdown[l] = drawdown[l].max(1.0 - now[l] / peak[l]);
        }
    }
    let returns = bars - 1;
    let mut mean = [0.0f64; L];
    let mut sum_sq = [-0.0f64; L];
    if returns >= 2 {
        for l in 0..L {
            mean[l] = sum_r[l] / returns as f64;
        }
        for pair in history.windows(2 * L).step_by(L) {
            let (before, now) = pair.split_at(L);
            for l in 0..L {
                let d = (now[l] / before[l] - 1.0) - mean[l];
                sum_sq[l] += d * d;
            }
        }
    }
    let last_bar = &history[(bars - 1) * L..];
    (0..used)
        .map(|l| {
            let final_value = last_bar[l];
            let years = (bars - 1) as f64 / ppy;
            let cagr = if years > 0.0 { (final_value / initial).powf(1.0 / years) - 1.0 } else { 0.0 };
            let sd = if returns >= 2 { (sum_sq[l] / (returns - 1) as f64).sqrt() } else { 0.0 };
            let volatility = sd * ppy.sqrt();
            let sharpe = if volatility > 0.0 { mean[l] * ppy / volatility } else { 0.0 };
            let mean_value = sum_v[l] / bars as f64;
            let turnover = if mean_value > 0.0 { traded_all[l] / mean_value } else { 0.0 };
            Metrics {
                final_value,
                cagr,
                volatility,
                sharpe,
                max_drawdown: drawdown[l],
                rebalances: rebalances[l],
                fees_paid: fees_paid[l],
                turnover,
                bars,
            }
        })
        .collect()
}

fn checked(w: Vec<f64>, n: usize) -> Result<Vec<f64>, String> {
    if w.len() != n {
        return Err(format!("{} target weights for {n} assets", w.len()));
    }
    if w.iter().any(|x| !x.is_finite() || *x < 0.0) {
        return Err(format!("target weights must be finite and non-negative: {w:?}"));
    }
    let s: f64 = w.iter().sum();
    if (s - 1.0).abs() > 1e-9 {
        return Err(format!("target weights sum to {s}, not 1"));
    }
    Ok(w)
}

/// The metrics of BACKTEST.md.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Metrics {
    /// Value at the last bar.
    pub final_value: f64,
    /// `(final / initial)^(1/years) - 1`, `years = (bars - 1) / periods_per_year`.
    pub cagr: f64,
    /// Annualised sample standard deviation of bar returns.
    pub volatility: f64,
    /// `mean(r) * periods_per_year / volatility`.
    pub sharpe: f64,
    /// Largest fall from a running peak, as a fraction.
    pub max_drawdown: f64,
    /// Rebalances after the initial buy.
    pub rebalances: usize,
    /// Fees, the initial buy's included.
    pub fees_paid: f64,
    /// Notional traded after the initial buy over the mean value.
    pub turnover: f64,
    /// Number of bars.
    pub bars: usize,
}

/// Computes [`Metrics`] of a value series.
pub fn metrics(
    values: &[f64],
    initial: f64,
    periods_per_year: f64,
    rebalances: usize,
    fees_paid: f64,
    traded: f64,
) -> Metrics {
    let bars = values.len();
    let final_value = values.last().copied().unwrap_or(0.0);
    let years = (bars.saturating_sub(1)) as f64 / periods_per_year;
    let cagr = if years > 0.0 { (final_value / initial).powf(1.0 / years) - 1.0 } else { 0.0 };
    let r: Vec<f64> = values.windows(2).map(|x| x[1] / x[0] - 1.0).collect();
    let (mean, sd) = if r.len() >= 2 {
        let m = r.iter().sum::<f64>() / r.len() as f64;
        let var = r.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (r.len() - 1) as f64;
        (m, var.sqrt())
    } else {
        (0.0, 0.0)
    };
    let volatility = sd * periods_per_year.sqrt();
    let sharpe = if volatility > 0.0 { mean * periods_per_year / volatility } else { 0.0 };
    let mut peak = f64::MIN;
    let mut max_drawdown = 0.0f64;
    for &v in values {
        peak = peak.max(v);
        max_drawdown = max_drawdown.max(1.0 - v / peak);
    }
    let mean_value = if bars > 0 { values.iter().sum::<f64>() / bars as f64 } else { 0.0 };
    let turnover = if mean_value > 0.0 { traded / mean_value } else { 0.0 };
    Metrics { final_value, cagr, volatility, sharpe, max_drawdown, rebalances, fees_paid, turnover, bars }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn market(cols: &[Vec<f64>]) -> Market {
        let times = (0..cols[0].len() as i64).map(|t| t * 86_400_000).collect();
        Market::from_columns(times, cols)
    }

    /// The lane kernel gives the figures of one run at a time, bit for bit, for every
    /// kind of mode, a block that is not full included.
    #[test]
    fn lanes_equal_single_runs_bit_for_bit() {
        // Five random walks (a fixed linear congruential generator), 3,000 bars.
        let mut seed: u64 = 42;
        let mut next = move || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((seed >> 11) as f64 / (1u64 << 53) as f64) - 0.5
        };
        let cols: Vec<Vec<f64>> = (0..5)
            .map(|a| {
                let mut p = 10.0 * (a + 1) as f64;
                (0..3000)
                    .map(|_| {
                        p *= 1.0 + 0.04 * next();
                        p
                    })
                    .collect()
            })
            .collect();
        let m = market(&cols);
        let w = vec![0.3, 0.1, 0.2, 0.25, 0.15];
        let mut modes = vec![Mode::Hodl, Mode::Calendar { bars: 1 }, Mode::Calendar { bars: 7 }];
        for percent in [0.5, 1.0, 2.5, 5.0, 10.0, 30.0] {
            modes.push(Mode::Threshold { percent, kind: DriftKind::Absolute });
            modes.push(Mode::Threshold { percent, kind: DriftKind::Relative });
        }
        assert_eq!(modes.len() % LANES, 7);
        let batch = metrics_fixed(&m, &w, 0.001, 1000.0, &modes, 2190.0).unwrap();
        assert_eq!(batch.len(), modes.len());
        let mut rebalanced = 0;
        for (mode, got) in modes.iter().zip(&batch) {
            let r = run_ideal(&m, *mode, 0.001, 1000.0, &mut Fixed(w.clone()), false).unwrap();
            let want = metrics(&r.values, 1000.0, 2190.0, r.rebalances.len(), r.fees_paid, r.traded);
            assert_eq!(got, &want, "{mode:?}");
            assert!(
                got.final_value.to_bits() == want.final_value.to_bits()
                    && got.sharpe.to_bits() == want.sharpe.to_bits()
            );
            rebalanced += got.rebalances;
        }
        assert!(rebalanced > 3000, "the modes rebalance ({rebalanced})");
        // Weights that are not fractions summing to 1 are refused, as run_ideal refuses them.
        assert!(metrics_fixed(&m, &[0.5; 5], 0.001, 1000.0, &modes, 2190.0).is_err());
    }

    #[test]
    fn hodl_follows_prices() {
        let m = market(&[vec![10.0, 20.0, 40.0], vec![5.0, 5.0, 5.0]]);
        let run = run_ideal(&m, Mode::Hodl, 0.0, 1000.0, &mut Fixed(vec![0.5, 0.5]), false).unwrap();
        assert_eq!(run.values, vec![1000.0, 1500.0, 2500.0]);
        assert!(run.rebalances.is_empty());
    }

    #[test]
    fn calendar_rebalances_every_n_bars_counting_the_initial_buy() {
        let m = market(&[vec![1.0, 2.0, 1.0, 2.0, 1.0], vec![1.0; 5]]);
        let run = run_ideal(&m, Mode::Calendar { bars: 2 }, 0.0, 100.0, &mut Fixed(vec![0.5, 0.5]), false).unwrap();
        let bars: Vec<usize> = run.rebalances.iter().map(|r| r.bar).collect();
        assert_eq!(bars, vec![2, 4]);
    }

    #[test]
    fn zero_fee_rebalance_by_hand() {
        // 50/50 of 100 at (1, 1); A doubles: 50 A-units worth 100 + 50 = 150.
        // Rebalance: 75/75 -> 37.5 A, 75 B. Then A back to 1: 37.5 + 75 = 112.5.
        let m = market(&[vec![1.0, 2.0, 1.0], vec![1.0, 1.0, 1.0]]);
        let mode = Mode::Threshold { percent: 5.0, kind: DriftKind::Absolute };
        let run = run_ideal(&m, mode, 0.0, 100.0, &mut Fixed(vec![0.5, 0.5]), false).unwrap();
        assert_eq!(run.values, vec![100.0, 150.0, 112.5]);
        assert_eq!(run.rebalances.len(), 2);
        assert!((run.traded - (25.0 + 25.0 + 18.75 + 18.75)).abs() < 1e-12);
    }

    #[test]
    fn fee_fixed_point_holds() {
        let vals = [150.0, 50.0];
        let w = [0.5, 0.5];
        let f = 0.001;
        let vp = post_trade_value(200.0, &vals, &w, f);
        let traded: f64 = w.iter().zip(vals).map(|(w, v)| (w * vp - v).abs()).sum();
        assert!((vp - (200.0 - f * traded)).abs() < 1e-9);
        // 50 sold + 50 bought at 0.1 %: about 0.1 paid
        assert!((200.0 - vp - 0.1).abs() < 1e-3);
    }

    #[test]
    fn initial_buy_pays_the_fee() {
        let m = market(&[vec![1.0, 1.0], vec![1.0, 1.0]]);
        let run = run_ideal(&m, Mode::Hodl, 0.001, 1001.0, &mut Fixed(vec![0.5, 0.5]), false).unwrap();
        assert!((run.values[0] - 1000.0).abs() < 1e-9);
        assert!((run.fees_paid - 1.0).abs() < 1e-9);
    }

    #[test]
    fn relative_threshold_is_relative_to_the_target() {
        // 20/80 target; A +20 %: weight 0.2*1.2/(0.24+0.8)=0.2308: relative 15 %, absolute 3.1 points
        let m = market(&[vec![1.0, 1.2], vec![1.0, 1.0]]);
        let rel = Mode::Threshold { percent: 10.0, kind: DriftKind::Relative };
        let abs = Mode::Threshold { percent: 5.0, kind: DriftKind::Absolute };
        assert_eq!(run_ideal(&m, rel, 0.0, 1.0, &mut Fixed(vec![0.2, 0.8]), false).unwrap().rebalances.len(), 1);
        assert_eq!(run_ideal(&m, abs, 0.0, 1.0, &mut Fixed(vec![0.2, 0.8]), false).unwrap().rebalances.len(), 0);
    }

    #[test]
    fn metrics_by_hand() {
        let values = [100.0, 110.0, 99.0, 121.0];
        let m = metrics(&values, 100.0, 365.0, 1, 0.5, 50.0);
        assert!((m.max_drawdown - 0.1).abs() < 1e-12);
        let years = 3.0 / 365.0;
        assert!((m.cagr - (1.21f64.powf(1.0 / years) - 1.0)).abs() < 1e-9);
        let r = [0.1, -0.1, 121.0 / 99.0 - 1.0];
        let mean = r.iter().sum::<f64>() / 3.0;
        let sd = (r.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / 2.0).sqrt();
        assert!((m.volatility - sd * 365f64.sqrt()).abs() < 1e-12);
        assert!((m.sharpe - mean * 365.0 / m.volatility).abs() < 1e-12);
        assert!((m.turnover - 50.0 / 107.5).abs() < 1e-12);
    }
}

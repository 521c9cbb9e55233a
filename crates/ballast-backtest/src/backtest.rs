//! A backtest: a strategy (weights, rebalancing rule, fee) run over aligned candles,
//! with HODL of the same targets alongside.
//!
//! Two modes:
//! - **ideal** ([`crate::sim`]): BACKTEST.md exactly, on `f64`; fractional quantities,
//!   no minimum order size. What independent implementations can check.
//! - **exchange**: the core planner the live bot uses, on exact decimals: per-symbol
//!   step, tick and minimum notional, fee, optional slippage, skipped legs with their
//!   reasons, entry prices, stop-loss and take-profit. What the bot would have done.
//!
//! Target weights may be fixed or re-estimated at each rebalance (market cap from the
//! monthly snapshots; risk-based methods from a trailing window of returns). A weight
//! source is only ever given the data up to the bar it decides at.

use std::collections::BTreeMap;
use std::sync::Arc;

use ballast_core::execution::{Execution, FeeRates};
use ballast_core::guards::Guards;
use ballast_core::planner::{Leg, PairBook, RebalanceTo, RulesBook, Side, Skipped, plan_liquidation};
use ballast_core::policy;
use ballast_core::rules::RuleViolation;
use ballast_core::trigger::{Threshold, Trigger, TriggerState};
use ballast_core::weighting::{self, Method, ReturnMatrix, RiskOptions};
use ballast_core::{
    Asset, Bps, DriftKind, Holdings, Notional, Price, Qty, Span, TargetLimits, TargetWeights, Timestamp, Valuation,
};
use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};

use crate::costs::{CostModel, CostReport, Executor};
use crate::data::Aligned;
use crate::marketcap::MarketCaps;
use crate::sim::{self, Market, Metrics, Mode, Targets};

/// How target weights are chosen.
#[derive(Clone, Debug)]
pub enum WeightSpec {
    /// 1/n each.
    Equal,
    /// Given weights (fractions summing to 1), per asset.
    Custom(BTreeMap<Asset, Decimal>),
    /// Proportional to market cap at each rebalance, from monthly snapshots, with an
    /// optional per-asset cap (a fraction).
    MarketCap {
        /// The snapshots.
        caps: Arc<MarketCaps>,
        /// Largest weight of one asset.
        max_weight: Option<Decimal>,
    },
    /// A risk-based method re-estimated at each rebalance from the trailing
    /// `lookback` bars of returns.
    Risk {
        /// inverse-vol, min-variance, risk-parity or hrp.
        method: Method,
        /// Window length in bars.
        lookback: usize,
        /// Estimator options.
        options: RiskOptions,
    },
}

impl WeightSpec {
    /// The method name.
    pub fn name(&self) -> String {
        match self {
            Self::Equal => "equal".into(),
            Self::Custom(w) => {
                let parts: Vec<String> =
                    w.iter().map(|(a, w)| format!("{a}={}", (w * Decimal::ONE_HUNDRED).normalize())).collect();
                format!("custom:{}", parts.join(","))
            }
            Self::MarketCap { max_weight: None, .. } => "market-cap".into(),
            Self::MarketCap { max_weight: Some(m), .. } => {
                format!("market-cap(max {}%)", (m * Decimal::ONE_HUNDRED).normalize())
            }
            Self::Risk { method, .. } => method.name().into(),
        }
    }
}

/// When to rebalance.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rebalance {
    /// Never (the reference).
    Hodl,
    /// Every `every` (a whole number of bars).
    Calendar {
        /// The interval.
        every: Span,
    },
    /// On drift past a threshold.
    Threshold {
        /// Percent (points for absolute).
        percent: Decimal,
        /// Absolute or relative.
        kind: DriftKind,
    },
}

impl Rebalance {
    /// A short label, e.g. `threshold 5% absolute`, `calendar 7d`, `hodl`.
    pub fn label(&self) -> String {
        match self {
            Self::Hodl => "hodl".into(),
            Self::Calendar { every } => format!("calendar {every}"),
            Self::Threshold { percent, kind } => format!(
                "threshold {}% {}",
                percent.normalize(),
                match kind {
                    DriftKind::Absolute => "absolute",
                    DriftKind::Relative => "relative",
                }
            ),
        }
    }
}

/// Options of the exchange mode.
#[derive(Clone, Debug, Default)]
pub struct ExchangeOptions {
    /// Per-symbol rules.
    pub rules: RulesBook,
    /// Price slippage on every fill, in bps (buys pay more, sells get less).
    pub slippage_bps: Decimal,
    /// Entry prices, stop-loss and take-profit.
    pub guards: Guards,
    /// Rebalance to the target or to the band edge.
    pub to: RebalanceTo,
    /// Threshold mode: minimum time between rebalances.
    pub cooldown: Option<Span>,
    /// Calendar mode: skip a slot unless some asset drifts past this.
    pub min_drift: Option<Threshold>,
    /// What a user does to the bot during the run, by bar (after that bar's own step,
    /// at its prices): the bot's `invest` and `edit`, each followed by the rebalance
    /// the bot does at once.
    pub changes: Vec<(usize, Change)>,
    /// Execution settings: taker or maker-first, direct pairs, new cash first.
    pub execution: Execution,
    /// The venue's cross pairs and their rules (for direct pairs).
    pub pairs: PairBook,
    /// The cost model (maker fee, spread, resting orders); `None` fills every leg at
    /// the close moved by the slippage. Maker-first and direct pairs need one (the
    /// default model is used when it is not given).
    pub costs: Option<CostModel>,
}

/// A user's change to a running bot.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// Quote added (`bot invest --usdt`).
    Invest(Decimal),
    /// New targets and trigger (`bot edit`): fixed weights from then on.
    Edit {
        /// The new target weights (a coin left out is sold whole).
        targets: TargetWeights,
        /// The new trigger.
        trigger: Trigger,
    },
}

/// Ideal or exchange.
#[derive(Clone, Debug)]
pub enum SimMode {
    /// BACKTEST.md exactly.
    Ideal,
    /// The live planner with exchange rules.
    Exchange(Box<ExchangeOptions>),
}

/// A whole backtest configuration.
#[derive(Clone, Debug)]
pub struct Strategy {
    /// Weights.
    pub weights: WeightSpec,
    /// Trigger.
    pub rebalance: Rebalance,
    /// Fee in bps.
    pub fee_bps: Decimal,
    /// Starting cash, in quote.
    pub initial: Decimal,
    /// Ideal or exchange.
    pub mode: SimMode,
}

/// One trade of a backtest.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Trade {
    /// Bar time.
    pub time: Timestamp,
    /// Asset.
    pub asset: Asset,
    /// Buy or sell.
    pub side: Side,
    /// Quantity.
    pub quantity: f64,
    /// Fill price.
    pub price: f64,
    /// Quantity times price.
    pub notional: f64,
    /// Fee in quote.
    pub fee: f64,
    /// The quote of a direct pair's fill (then `price` is in it; `notional` and `fee`
    /// are always valued in the bot's quote).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quote: Option<Asset>,
}

/// A leg the exchange mode skipped.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SkippedLeg {
    /// Bar time.
    pub time: Timestamp,
    /// What and why.
    pub leg: Skipped,
}

/// What a backtest produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The assets, in column order.
    pub assets: Vec<Asset>,
    /// Bar times of the simulated period.
    pub times: Vec<Timestamp>,
    /// Strategy value per bar.
    pub values: Vec<f64>,
    /// HODL value per bar.
    pub hodl_values: Vec<f64>,
    /// Weights per bar, row-major.
    pub weights: Vec<f64>,
    /// Bars with a rebalance.
    pub rebalance_bars: Vec<usize>,
    /// Strategy metrics.
    pub metrics: Metrics,
    /// HODL metrics.
    pub hodl: Metrics,
    /// `final / hodl_final - 1`.
    pub excess_vs_hodl: f64,
    /// Every trade, the initial buy included.
    pub trades: Vec<Trade>,
    /// Skipped legs (exchange mode).
    pub skipped: Vec<SkippedLeg>,
    /// Things the user should know (fallbacks used, a guard that stopped the run).
    pub notes: Vec<String>,
    /// What execution cost (exchange mode with a cost model).
    pub costs: Option<CostReport>,
}

/// Market data prepared for backtests: the aligned closes, and which bars are
/// simulated (earlier bars serve only as history for trailing windows).
#[derive(Clone, Debug)]
pub struct Prepared {
    /// All aligned bars, history included.
    pub data: Arc<Aligned>,
    /// Index of the first simulated bar.
    pub first: usize,
    /// The simulated bars, row-major, for the fast path.
    pub market: Market,
}

impl Prepared {
    /// Prepares `data` for a simulation from the first bar at or after `start` to the
    /// end of the data.
    pub fn new(data: Aligned, start: Option<Timestamp>) -> Result<Self, String> {
        let first = match start {
            Some(s) => data.times.iter().position(|t| *t >= s).ok_or("no bar at or after the start date")?,
            None => 0,
        };
        let last = data.len().saturating_sub(1);
        Self::range(Arc::new(data), first, last)
    }

    /// Simulates bars `first ..= last` of `data`.
    pub fn range(data: Arc<Aligned>, first: usize, last: usize) -> Result<Self, String> {
        if last >= data.len() || last < first + 1 {
            return Err(format!(
                "only {} bar(s) in the period: a backtest needs at least 2",
                (last + 1).saturating_sub(first).min(data.len())
            ));
        }
        let times: Vec<i64> = data.times[first..=last].iter().map(|t| t.0).collect();
        let cols: Vec<Vec<f64>> = data.closes.iter().map(|c| c[first..=last].to_vec()).collect();
        let market = Market::from_columns(times, &cols);
        Ok(Self { data, first, market })
    }

    /// Number of simulated bars.
    pub fn bars(&self) -> usize {
        self.market.bars()
    }
}

/// Converts a calendar interval into whole bars, or says why it cannot.
pub fn every_in_bars(every: Span, bar: Span) -> Result<usize, String> {
    if every.secs() <= 0 || every.secs() % bar.secs() != 0 {
        return Err(format!("--every {every} is not a whole number of {bar} bars"));
    }
    Ok((every.secs() / bar.secs()) as usize)
}

/// The weight source of a strategy over prepared data.
struct Source<'a> {
    spec: &'a WeightSpec,
    prep: &'a Prepared,
    notes: Vec<String>,
    fallbacks: usize,
}

impl Source<'_> {
    /// Weights (fractions, asset order of the data) for simulated bar `bar`.
    fn weights(&mut self, bar: usize) -> Result<Vec<f64>, String> {
        let assets = &self.prep.data.assets;
        let n = assets.len();
        let g = self.prep.first + bar; // index into the full data
        let from_map = |m: &BTreeMap<Asset, Decimal>| -> Vec<f64> {
            assets.iter().map(|a| m.get(a).and_then(|w| w.to_f64()).unwrap_or(0.0)).collect()
        };
        match self.spec {
            WeightSpec::Equal => Ok(vec![1.0 / n as f64; n]),
            WeightSpec::Custom(m) => Ok(from_map(m)),
            WeightSpec::MarketCap { caps, max_weight } => {
                // A snapshot carries end-of-day values of its date: it is known only
                // once that day has ended, so use the latest snapshot whose day ended
                // at or before this bar's close.
                let close = self.prep.data.times[g].0 + self.prep.data.interval.millis();
                let known = Timestamp(close - 86_400_000);
                let (_, by_asset) = caps.at(known, assets).map_err(|e| e.to_string())?;
                let w = weighting::market_cap(&by_asset, *max_weight).map_err(|e| e.to_string())?;
                Ok(from_map(&w))
            }
            WeightSpec::Risk { method, lookback, options } => {
                // Closes up to and including this bar's close: `lookback` returns.
                let lo = g.saturating_sub(*lookback);
                let cols: Vec<Vec<f64>> = self.prep.data.closes.iter().map(|c| c[lo..=g].to_vec()).collect();
                let result = ReturnMatrix::from_closes(assets.clone(), &cols)
                    .and_then(|r| weighting::risk_based(*method, &r, options));
                match result {
                    Ok(m) => Ok(assets.iter().map(|a| m[a]).collect()),
                    Err(e) => {
                        // Not enough history (the start of the data) or a degenerate
                        // window: equal weights this time, and say so.
                        self.fallbacks += 1;
                        if self.fallbacks == 1 {
                            self.notes.push(format!(
                                "{method}: equal weights used where the trailing window could not be estimated (first at bar {bar}: {e})"
                            ));
                        }
                        Ok(vec![1.0 / n as f64; n])
                    }
                }
            }
        }
    }
}

impl Source<'_> {
    /// Exact decimal targets for the exchange mode: equal and custom weights as the
    /// bot computes them (no detour through `f64`); the others from their estimate.
    fn exact(&mut self, bar: usize, quote: &Asset) -> Result<TargetWeights, String> {
        let assets = self.prep.data.assets.clone();
        let map = match self.spec {
            WeightSpec::Equal => weighting::equal(&assets).map_err(|e| e.to_string())?,
            WeightSpec::Custom(m) => m.clone(),
            _ => return targets_from(&assets, &self.weights(bar)?, quote),
        };
        let entries: Vec<(Asset, Decimal)> = map.into_iter().collect();
        let limits = TargetLimits { min_assets: 1, max_assets: entries.len().max(12) };
        TargetWeights::from_fractions(quote, &entries, limits).map_err(|e| e.to_string())
    }
}

impl Targets for Source<'_> {
    fn at(&mut self, bar: usize) -> Result<Vec<f64>, String> {
        self.weights(bar)
    }
}

/// The fast path's trigger for a rebalancing rule on bars of `interval`.
fn ideal_mode(rebalance: Rebalance, interval: crate::data::Interval) -> Result<Mode, String> {
    Ok(match rebalance {
        Rebalance::Hodl => Mode::Hodl,
        Rebalance::Calendar { every } => Mode::Calendar { bars: every_in_bars(every, interval.span())? },
        Rebalance::Threshold { percent, kind } => {
            Mode::Threshold { percent: percent.to_f64().ok_or("threshold")?, kind }
        }
    })
}

/// HODL of a strategy's initial targets, with its fee: the reference of every report.
pub fn hodl(prep: &Prepared, strategy: &Strategy) -> Result<Metrics, String> {
    let fee = strategy.fee_bps.to_f64().ok_or("fee")? / 10_000.0;
    let initial = strategy.initial.to_f64().ok_or("initial")?;
    let mut source = Source { spec: &strategy.weights, prep, notes: vec![], fallbacks: 0 };
    let w0 = source.weights(0)?;
    let r = sim::run_ideal(&prep.market, Mode::Hodl, fee, initial, &mut sim::Fixed(w0), false)?;
    Ok(sim::metrics(&r.values, initial, prep.data.interval.periods_per_year(), 0, r.fees_paid, 0.0))
}

/// The strategy's metrics only (no HODL, nothing recorded): the sweep's fast path.
pub fn metrics_only(prep: &Prepared, strategy: &Strategy) -> Result<Metrics, String> {
    match &strategy.mode {
        SimMode::Ideal => {
            let fee = strategy.fee_bps.to_f64().ok_or("fee")? / 10_000.0;
            let initial = strategy.initial.to_f64().ok_or("initial")?;
            let mode = ideal_mode(strategy.rebalance, prep.data.interval)?;
            let mut source = Source { spec: &strategy.weights, prep, notes: vec![], fallbacks: 0 };
            let r = sim::run_ideal(&prep.market, mode, fee, initial, &mut source, false)?;
            Ok(sim::metrics(
                &r.values,
                initial,
                prep.data.interval.periods_per_year(),
                r.rebalances.len(),
                r.fees_paid,
                r.traded,
            ))
        }
        SimMode::Exchange(_) => run(prep, strategy, false).map(|o| o.metrics),
    }
}

/// The metrics of many strategies on the same data, as [`metrics_only`] gives them
/// one at a time: strategies of the ideal mode with the same fixed targets (equal or
/// custom weights), fee and initial amount run side by side in one pass over the bars
/// ([`sim::metrics_fixed`]); any other strategy on its own. One result per strategy,
/// in order.
pub fn metrics_many(prep: &Prepared, strategies: &[&Strategy]) -> Vec<Result<Metrics, String>> {
    let Some(first) = strategies.first() else { return Vec::new() };
    if strategies.len() > 1 && strategies.iter().all(|s| lanes_together(first, s)) {
        let modes: Result<Vec<Mode>, String> =
            strategies.iter().map(|s| ideal_mode(s.rebalance, prep.data.interval)).collect();
        let fee = first.fee_bps.to_f64().map(|f| f / 10_000.0);
        let initial = first.initial.to_f64();
        let mut source = Source { spec: &first.weights, prep, notes: vec![], fallbacks: 0 };
        if let (Ok(modes), Some(fee), Some(initial), Ok(w)) = (modes, fee, initial, source.weights(0)) {
            let ppy = prep.data.interval.periods_per_year();
            if let Ok(all) = sim::metrics_fixed(&prep.market, &w, fee, initial, &modes, ppy) {
                return all.into_iter().map(Ok).collect();
            }
        }
        // Something does not run: each on its own, so each error names its strategy.
    }
    strategies.iter().map(|s| metrics_only(prep, s)).collect()
}

/// Whether two strategies can share a pass of [`sim::metrics_fixed`].
fn lanes_together(a: &Strategy, b: &Strategy) -> bool {
    fn fixed(s: &Strategy) -> Option<Option<&BTreeMap<Asset, Decimal>>> {
        match (&s.mode, &s.weights) {
            (SimMode::Ideal, WeightSpec::Equal) => Some(None),
            (SimMode::Ideal, WeightSpec::Custom(m)) => Some(Some(m)),
            _ => None,
        }
    }
    match (fixed(a), fixed(b)) {
        (Some(wa), Some(wb)) => wa == wb && a.fee_bps == b.fee_bps && a.initial == b.initial,
        _ => false,
    }
}

/// Runs a backtest and HODL of the same (initial) targets.
pub fn run(prep: &Prepared, strategy: &Strategy, record: bool) -> Result<Outcome, String> {
    let fee = strategy.fee_bps.to_f64().ok_or("fee")? / 10_000.0;
    let initial = strategy.initial.to_f64().ok_or("initial")?;
    if initial <= 0.0 {
        return Err("the initial amount must be greater than zero".into());
    }
    let ppy = prep.data.interval.periods_per_year();
    let mut source = Source { spec: &strategy.weights, prep, notes: vec![], fallbacks: 0 };
    let w0 = source.weights(0)?;
    let hodl_run = sim::run_ideal(&prep.market, Mode::Hodl, fee, initial, &mut sim::Fixed(w0), false)?;
    let hodl = sim::metrics(&hodl_run.values, initial, ppy, 0, hodl_run.fees_paid, 0.0);
    let times: Vec<Timestamp> = prep.data.times[prep.first..prep.first + prep.bars()].to_vec();
    let assets = prep.data.assets.clone();

    let mut costs = None;
    let (values, weights, rebalance_bars, trades, skipped, metrics, mut notes) = match &strategy.mode {
        SimMode::Ideal => {
            let mode = ideal_mode(strategy.rebalance, prep.data.interval)?;
            let r = sim::run_ideal(&prep.market, mode, fee, initial, &mut source, record)?;
            let m = sim::metrics(&r.values, initial, ppy, r.rebalances.len(), r.fees_paid, r.traded);
            let trades = r
                .trades
                .iter()
                .map(|&(bar, i, dq, p)| Trade {
                    time: times[bar],
                    asset: assets[i].clone(),
                    side: if dq > 0.0 { Side::Buy } else { Side::Sell },
                    quantity: dq.abs(),
                    price: p,
                    notional: dq.abs() * p,
                    fee: dq.abs() * p * fee,
                    quote: None,
                })
                .collect();
            let bars = r.rebalances.iter().map(|e| e.bar).collect();
            (r.values, r.weights.unwrap_or_default(), bars, trades, vec![], m, std::mem::take(&mut source.notes))
        }
        SimMode::Exchange(opts) => {
            let ex = run_exchange(prep, strategy, opts, &mut source)?;
            let m = sim::metrics(&ex.values, initial, ppy, ex.rebalance_bars.len(), ex.fees_paid, ex.traded);
            let mut notes = std::mem::take(&mut source.notes);
            notes.extend(ex.notes);
            costs = ex.costs;
            (ex.values, ex.weights, ex.rebalance_bars, ex.trades, ex.skipped, m, notes)
        }
    };
    if let SimMode::Exchange(_) = strategy.mode {
        notes.insert(0, "exchange mode: step, tick and minimum notional applied; results differ from the ideal rules of BACKTEST.md".into());
    }
    if let Some(c) = &costs {
        notes.push(format!(
            "execution costs (cost model of docs/BACKTEST.md): fees {:.2}, spread {:.2}, delay {:.2}: {:.2} bps of {:.2} traded; {:.1} % of {} fills as takers, {} on direct pairs; drift mean {:.2} / worst {:.2} points",
            c.fees,
            c.spread,
            c.delay,
            c.cost_bps(),
            c.traded,
            c.taker_share() * 100.0,
            c.legs,
            c.pair_legs,
            c.mean_drift * 100.0,
            c.max_drift * 100.0
        ));
    }
    let excess_vs_hodl = metrics.final_value / hodl.final_value - 1.0;
    Ok(Outcome {
        assets,
        times,
        values,
        hodl_values: hodl_run.values,
        weights,
        rebalance_bars,
        metrics,
        hodl,
        excess_vs_hodl,
        trades,
        skipped,
        notes,
        costs,
    })
}

struct ExchangeRun {
    values: Vec<f64>,
    weights: Vec<f64>,
    rebalance_bars: Vec<usize>,
    trades: Vec<Trade>,
    skipped: Vec<SkippedLeg>,
    fees_paid: f64,
    traded: f64,
    notes: Vec<String>,
    costs: Option<CostReport>,
}

fn targets_from(assets: &[Asset], w: &[f64], quote: &Asset) -> Result<TargetWeights, String> {
    let map: BTreeMap<Asset, f64> = assets.iter().cloned().zip(w.iter().copied()).collect();
    let dec = weighting::to_decimal(&map).map_err(|e| e.to_string())?;
    let entries: Vec<(Asset, Decimal)> = dec.into_iter().collect();
    let limits = TargetLimits { min_assets: 1, max_assets: entries.len().max(12) };
    TargetWeights::from_fractions(quote, &entries, limits).map_err(|e| e.to_string())
}

/// The exchange mode: the live planner, bar by bar, on exact decimals.
fn run_exchange(
    prep: &Prepared,
    strategy: &Strategy,
    opts: &ExchangeOptions,
    source: &mut Source<'_>,
) -> Result<ExchangeRun, String> {
    let quote = Asset::new("USDT").map_err(|e| e.to_string())?;
    let fee = Bps::new(strategy.fee_bps).map_err(|e| e.to_string())?;
    let slip = opts.slippage_bps / Decimal::from(10_000);
    let assets = prep.data.assets.clone();
    let n = assets.len();
    let bars = prep.bars();
    let trigger = match strategy.rebalance {
        Rebalance::Hodl => None,
        Rebalance::Calendar { every } => Some(Trigger::calendar(every, opts.min_drift).map_err(|e| e.to_string())?),
        Rebalance::Threshold { percent, kind } => {
            let th = Threshold::new(percent, kind).map_err(|e| e.to_string())?;
            Some(Trigger::threshold(th, opts.cooldown).map_err(|e| e.to_string())?)
        }
    };
    opts.guards.validate().map_err(|e| e.to_string())?;
    let net_invested = Notional(strategy.initial);
    let mut out = ExchangeRun {
        values: Vec::with_capacity(bars),
        weights: Vec::with_capacity(bars * n),
        rebalance_bars: vec![],
        trades: vec![],
        skipped: vec![],
        fees_paid: 0.0,
        traded: 0.0,
        notes: vec![],
        costs: None,
    };
    let mut holdings: Holdings = [(quote.clone(), Qty(strategy.initial))].into();
    let mut targets = source.exact(0, &quote)?;
    let mut memory = policy::Memory { trigger: TriggerState::new(prep.data.times[prep.first]), ..Default::default() };
    let mut stopped = false;
    let mut trigger = trigger;
    let mut net_invested = net_invested;
    // Weights fixed by an edit replace the strategy's source.
    let mut fixed: Option<TargetWeights> = None;
    // The cost model: given, or the default one when the execution needs one.
    let model = opts
        .costs
        .clone()
        .or_else(|| (opts.execution.direct_pairs || opts.execution.maker_first()).then(CostModel::default));
    let mut exec = match &model {
        Some(m) => Some(Executor::new(
            prep,
            quote.clone(),
            &opts.rules,
            &opts.pairs,
            fee,
            opts.slippage_bps,
            Some(m),
            &opts.execution,
        )?),
        None => None,
    };
    // The rates the planner weighs: the strategy's fee is the taker rate, the cost
    // model's maker fee the maker rate (without a model, the same rate for both).
    let rates = FeeRates {
        maker: match &model {
            Some(m) => Bps::new(m.maker_fee_bps).map_err(|e| e.to_string())?,
            None => fee,
        },
        taker: fee,
    };
    // A forced reason that came while legs were resting: decided once they are done.
    let mut deferred: Option<String> = None;
    let (mut drift_sum, mut drift_max) = (0.0_f64, 0.0_f64);

    for bar in 0..bars {
        let g = prep.first + bar;
        let now = prep.data.times[g];
        let prices = prep.data.prices_at(g);
        if let Some(x) = exec.as_mut() {
            let before = out.trades.len();
            x.advance(&mut holdings, g, now, &mut out.trades, &mut out.skipped);
            for t in &out.trades[before..] {
                out.fees_paid += t.fee;
                out.traded += t.notional;
            }
            if out.trades.len() > before && out.rebalance_bars.last() != Some(&bar) && bar > 0 {
                out.rebalance_bars.push(bar);
            }
        }
        let busy = exec.as_ref().is_some_and(|x| x.busy());
        let changes: Vec<&Change> = opts.changes.iter().filter(|(b, _)| *b == bar).map(|(_, c)| c).collect();
        // The bar's own step, then one forced step per change.
        for round in 0..=changes.len() {
            let mut force = (bar == 0).then(|| "first buy".to_string());
            if round == 0 && !busy && force.is_none() {
                force = deferred.take();
            }
            if round > 0 {
                match changes[round - 1] {
                    Change::Invest(amount) => {
                        holdings.entry(quote.clone()).or_default().0 += *amount;
                        net_invested = Notional(net_invested.0 + *amount);
                        force = Some(policy::INVESTMENT.into());
                    }
                    Change::Edit { targets: t, trigger: tr } => {
                        fixed = Some(t.clone());
                        targets = t.clone();
                        trigger = Some(*tr);
                        force = Some("parameters edited".into());
                    }
                }
            }
            if stopped {
                continue;
            }
            if busy {
                // Legs are resting: nothing is decided (an investment is rebalanced in
                // once they are done).
                if force.is_some() {
                    deferred = force;
                }
                continue;
            }
            let mut legs_plan = None;
            let priced_pairs = match exec.as_ref() {
                Some(x) if opts.execution.direct_pairs => x.priced_pairs(g),
                _ => opts.pairs.clone(),
            };
            // The bot's own step policy (ballast_core::policy): first buy, entry prices,
            // guards, trigger, plan.
            let input = policy::StepInput {
                now,
                quote: &quote,
                holdings: &holdings,
                prices: &prices,
                targets: &targets,
                rules: &opts.rules,
                fees: rates,
                trigger: trigger.as_ref(),
                to: opts.to,
                guards: &opts.guards,
                net_invested,
                force: force.as_deref(),
                // The backtest invests quote only.
                new_coins: &Default::default(),
                first: bar == 0 && round == 0,
                execution: &opts.execution,
                pairs: &priced_pairs,
            };
            match policy::decide(&input, &mut memory).map_err(|e| e.to_string())? {
                policy::Verdict::Hold => {}
                policy::Verdict::Exit(exit) => {
                    let p =
                        plan_liquidation(&quote, &holdings, &prices, &opts.rules, fee).map_err(|e| e.to_string())?;
                    out.notes.push(format!("{} at {}: {exit}", "guard", crate::dates::format_timestamp(now)));
                    stopped = true;
                    legs_plan = Some(p);
                }
                policy::Verdict::Rebalance { waiting, .. } => {
                    // Weights that change with time are estimated when the bot rebalances.
                    let next = match &fixed {
                        Some(t) => t.clone(),
                        None if bar == 0 => targets.clone(),
                        None => source.exact(bar, &quote)?,
                    };
                    legs_plan = Some(policy::plan(&input, &next, &waiting).map_err(|e| e.to_string())?);
                    targets = next;
                }
            }
            if let Some(p) = legs_plan {
                let traded_before = out.traded;
                for s in &p.skipped {
                    out.skipped.push(SkippedLeg { time: now, leg: s.clone() });
                }
                match exec.as_mut() {
                    Some(x) => {
                        let before = out.trades.len();
                        x.submit(&mut holdings, &p.legs, g, now, &mut out.trades, &mut out.skipped);
                        for t in &out.trades[before..] {
                            out.fees_paid += t.fee;
                            if bar > 0 {
                                out.traded += t.notional;
                            }
                        }
                    }
                    None => {
                        for leg in &p.legs {
                            if let Some(t) = fill(&mut holdings, &quote, leg, slip, fee, opts, &mut out.skipped, now) {
                                out.fees_paid += t.fee;
                                if bar > 0 {
                                    out.traded += t.notional;
                                }
                                out.trades.push(t);
                            }
                        }
                    }
                }
                if bar > 0 && out.traded > traded_before && out.rebalance_bars.last() != Some(&bar) {
                    out.rebalance_bars.push(bar);
                }
            }
        }
        let v = Valuation::new(&quote, &holdings, &prices, Some(&targets)).map_err(|e| e.to_string())?;
        out.values.push(v.total.0.to_f64().unwrap_or(f64::NAN));
        for a in &assets {
            out.weights.push(v.weight(a).0.to_f64().unwrap_or(0.0));
        }
        if bar > 0 {
            let d = ballast_core::Drift::new(&v, &targets).max_absolute().to_f64().unwrap_or(0.0);
            drift_sum += d;
            drift_max = drift_max.max(d);
        }
    }
    if let Some(x) = exec {
        let mut report = x.report;
        report.mean_drift = if bars > 1 { drift_sum / (bars - 1) as f64 } else { 0.0 };
        report.max_drift = drift_max;
        out.costs = Some(report);
    }
    Ok(out)
}

/// Fills a planned leg at the close moved by the slippage, as the paper venue would.
/// A buy that the slipped price makes unaffordable is shrunk to the cash there is
/// (or skipped, with the reason).
#[allow(clippy::too_many_arguments)]
fn fill(
    holdings: &mut Holdings,
    quote: &Asset,
    leg: &Leg,
    slip: Decimal,
    fee: Bps,
    opts: &ExchangeOptions,
    skipped: &mut Vec<SkippedLeg>,
    now: Timestamp,
) -> Option<Trade> {
    let f = fee.fraction();
    let rules = opts.rules.get(&leg.asset);
    let (price, mut qty) = match leg.side {
        Side::Sell => (Price(leg.price.0 * (Decimal::ONE - slip)), leg.quantity),
        Side::Buy => (Price(leg.price.0 * (Decimal::ONE + slip)), leg.quantity),
    };
    let cash = holdings.get(quote).copied().unwrap_or_default().0;
    if leg.side == Side::Buy && qty.0 * price.0 * (Decimal::ONE + f) > cash {
        qty = rules.floor_qty(Qty(cash / (price.0 * (Decimal::ONE + f))));
        if let Some(v) = rules.check(qty, price) {
            skipped.push(SkippedLeg {
                time: now,
                leg: Skipped {
                    asset: leg.asset.clone(),
                    side: Side::Buy,
                    notional: leg.notional,
                    reason: ballast_core::planner::SkipReason::Rule(v),
                },
            });
            return None;
        }
    }
    if qty.0 <= Decimal::ZERO {
        skipped.push(SkippedLeg {
            time: now,
            leg: Skipped {
                asset: leg.asset.clone(),
                side: leg.side,
                notional: leg.notional,
                reason: ballast_core::planner::SkipReason::Rule(RuleViolation::RoundsToZero { step: rules.step }),
            },
        });
        return None;
    }
    let notional = qty.0 * price.0;
    let fee_paid = notional * f;
    let base = holdings.entry(leg.asset.clone()).or_default();
    match leg.side {
        Side::Sell => {
            base.0 -= qty.0;
            holdings.entry(quote.clone()).or_default().0 += notional - fee_paid;
        }
        Side::Buy => {
            base.0 += qty.0;
            holdings.entry(quote.clone()).or_default().0 -= notional + fee_paid;
        }
    }
    Some(Trade {
        time: now,
        asset: leg.asset.clone(),
        side: leg.side,
        quantity: qty.0.to_f64().unwrap_or(0.0),
        price: price.0.to_f64().unwrap_or(0.0),
        notional: notional.to_f64().unwrap_or(0.0),
        fee: fee_paid.to_f64().unwrap_or(0.0),
        quote: None,
    })
}

/// Parses a custom weight list `BTC=50,ETH=30,XRP=20` (percent) into fractions.
pub fn parse_custom(s: &str) -> Result<BTreeMap<Asset, Decimal>, String> {
    let mut out = BTreeMap::new();
    for part in s.split(',').filter(|p| !p.trim().is_empty()) {
        let (a, w) = part.split_once('=').ok_or_else(|| format!("custom weight {part:?}: write ASSET=PERCENT"))?;
        let asset = Asset::new(a).map_err(|e| e.to_string())?;
        let w: Decimal = ballast_core::money::parse_decimal(w).map_err(|e| format!("custom weight of {asset}: {e}"))?;
        if out.insert(asset.clone(), w / Decimal::ONE_HUNDRED).is_some() {
            return Err(format!("custom weight: {asset} is listed twice"));
        }
    }
    let sum: Decimal = out.values().sum();
    if (sum - Decimal::ONE).abs() > Decimal::new(1, 8) {
        return Err(format!("custom weights sum to {}%, not 100%", (sum * Decimal::ONE_HUNDRED).normalize()));
    }
    if out.values().any(|w| *w < Decimal::ZERO) {
        return Err("custom weights cannot be negative".into());
    }
    Ok(out)
}

/// `f64` to `Decimal` for figures shown to users (not for order sizes).
pub fn dec(x: f64) -> Decimal {
    Decimal::from_f64(x).unwrap_or_default()
}

//! `ballast sweep`: a grid of strategies run in parallel and ranked.

use std::collections::BTreeMap;
use std::io::IsTerminal;

use anyhow::{Context, Result, anyhow, bail};
use ballast_backtest::backtest::{Prepared, Rebalance, SimMode, Strategy, WeightSpec};
use ballast_backtest::sweep::{self, Point, RankBy, Row, parse_decimal_grid, parse_span_grid};
use ballast_backtest::{Interval, format_timestamp};
use ballast_core::trigger::{Threshold, Trigger};
use ballast_core::weighting::Shrinkage;
use ballast_core::{Asset, Span};
use rust_decimal::Decimal;
use serde_json::json;

use super::backtest::{DataArgs, KindArg, ModeArg, SimArg, StrategyArgs, exchange_options, prepare, weight_spec};
use super::weights::parse_assets;

/// Output format of a sweep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SweepFormat {
    /// The best rows as a table.
    Table,
    /// Every row as CSV.
    Csv,
    /// Every row as JSON.
    Json,
}

/// The grid flags (shared with `ballast optimize`).
#[derive(Debug, Clone, clap::Args)]
pub struct GridArgs {
    /// Comma-separated assets, e.g. BTC,ETH,XRP.
    #[arg(long, value_delimiter = ',', required = true)]
    pub assets: Vec<String>,
    /// Candle intervals to try: 1d, 4h, 1h.
    #[arg(long, value_delimiter = ',', default_value = "1d")]
    pub intervals: Vec<Interval>,
    /// Weight methods (repeat the flag or separate with commas; custom:A=x,B=y as its own flag).
    #[arg(long = "weights", default_value = "equal")]
    pub weights: Vec<String>,
    /// Modes to try: hodl, calendar, threshold.
    #[arg(long, value_delimiter = ',', default_value = "threshold")]
    pub modes: Vec<ModeArg>,
    /// Thresholds in percent: a list (1,2,5) or a range (0.5:50:0.5).
    #[arg(long, default_value = "1,2,3,5,10")]
    pub thresholds: String,
    /// Threshold kinds: absolute, relative.
    #[arg(long, value_delimiter = ',', default_value = "absolute")]
    pub threshold_kinds: Vec<KindArg>,
    /// Calendar intervals: a list (1d,7d) or a range (4h:28d:4h); 30m ..= 28d.
    #[arg(long, default_value = "1d,7d,28d")]
    pub every: String,
    /// Fees in bps: a list or a range.
    #[arg(long, default_value = "10")]
    pub fees: String,
    /// Starting cash in USDT.
    #[arg(long, default_value = "10000", value_parser = super::amount_arg)]
    pub initial: Decimal,
    /// Risk-based weights: trailing window.
    #[arg(long, default_value = "90d")]
    pub lookback: Span,
    /// Risk-based weights: none or ledoit-wolf.
    #[arg(long, default_value = "none")]
    pub shrinkage: Shrinkage,
    /// Market cap: largest weight, percent.
    #[arg(long)]
    pub max_weight: Option<Decimal>,
    /// ideal (BACKTEST.md, fast) or exchange (the bot's planner with exchange rules).
    #[arg(long, value_enum, default_value_t = SimArg::Ideal)]
    pub sim: SimArg,
    /// Exchange mode: slippage in bps.
    #[arg(long, default_value = "0")]
    pub slippage_bps: Decimal,
}

/// Arguments of `ballast sweep`.
#[derive(Debug, clap::Args)]
pub struct SweepArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub grid: GridArgs,
    /// Rank by: final_value, cagr, sharpe, excess_vs_hodl, max_drawdown, volatility, turnover, fees_paid.
    #[arg(long, default_value = "sharpe")]
    pub rank_by: RankBy,
    /// Rows to show in the table.
    #[arg(long, default_value = "20")]
    pub top: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = SweepFormat::Table)]
    pub format: SweepFormat,
    /// Worker threads (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Do not draw the progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

/// A built grid: its points, the data per interval, and what was left out.
pub struct Grid {
    /// The assets.
    pub assets: Vec<Asset>,
    /// Every configuration.
    pub points: Vec<Point>,
    /// Prepared data per interval.
    pub data: BTreeMap<Interval, Prepared>,
    /// Configurations left out, and why.
    pub notes: Vec<String>,
}

/// Expands the grid flags into configurations and loads the data they need.
pub fn build(data_args: &DataArgs, g: &GridArgs) -> Result<Grid> {
    let assets = parse_assets(&g.assets)?;
    if assets.len() < 2 {
        bail!("--assets: a portfolio needs at least 2 assets");
    }
    let fees = parse_decimal_grid(&g.fees).map_err(|e| anyhow!("--fees: {e}"))?;
    for f in &fees {
        ballast_core::Bps::new(*f).context("--fees")?;
    }
    if g.initial <= Decimal::ZERO {
        bail!("--initial must be greater than zero");
    }
    let mut weight_names: Vec<String> = Vec::new();
    for w in &g.weights {
        if w.starts_with("custom:") {
            weight_names.push(w.clone());
        } else {
            weight_names.extend(w.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string));
        }
    }
    let mut modes = g.modes.clone();
    modes.dedup();
    let mut rebalances: Vec<Rebalance> = Vec::new();
    for m in &modes {
        match m {
            ModeArg::Hodl => rebalances.push(Rebalance::Hodl),
            ModeArg::Calendar => {
                for every in parse_span_grid(&g.every).map_err(|e| anyhow!("--every: {e}"))? {
                    Trigger::calendar(every, None).context("--every")?;
                    rebalances.push(Rebalance::Calendar { every });
                }
            }
            ModeArg::Threshold => {
                let ths = parse_decimal_grid(&g.thresholds).map_err(|e| anyhow!("--thresholds: {e}"))?;
                for k in &g.threshold_kinds {
                    for t in &ths {
                        Threshold::new(*t, (*k).into()).context("--thresholds")?;
                        rebalances.push(Rebalance::Threshold { percent: *t, kind: (*k).into() });
                    }
                }
            }
        }
    }
    let mut data = BTreeMap::new();
    let mut points = Vec::new();
    let mut notes = Vec::new();
    let mut skipped_calendar = 0usize;
    let sim = match g.sim {
        SimArg::Ideal => SimMode::Ideal,
        SimArg::Exchange => {
            let (o, n) = exchange_options(&data_args.rules, &assets, g.slippage_bps)?;
            notes.extend(n);
            SimMode::Exchange(Box::new(o))
        }
    };
    for &interval in &g.intervals {
        if data.contains_key(&interval) {
            continue;
        }
        data.insert(interval, prepare(data_args, &assets, interval)?);
        let sargs = StrategyArgs {
            assets: vec![],
            weights: String::new(),
            mode: ModeArg::Threshold,
            every: None,
            threshold: None,
            threshold_kind: KindArg::Absolute,
            fee_bps: Decimal::ZERO,
            initial: g.initial,
            lookback: g.lookback,
            shrinkage: g.shrinkage,
            max_weight: g.max_weight,
        };
        let mut specs: Vec<WeightSpec> = Vec::new();
        for name in &weight_names {
            let spec = weight_spec(name, &sargs, &data_args.caps, interval)?;
            if let WeightSpec::Custom(m) = &spec
                && m.keys().collect::<Vec<_>>()
                    != assets.iter().collect::<std::collections::BTreeSet<_>>().into_iter().collect::<Vec<_>>()
            {
                bail!("--weights {name}: the custom weights must name exactly the --assets");
            }
            specs.push(spec);
        }
        for spec in &specs {
            for fee in &fees {
                for r in &rebalances {
                    if let Rebalance::Calendar { every } = r
                        && every.secs() % interval.span().secs() != 0
                    {
                        skipped_calendar += 1;
                        continue;
                    }
                    points.push(Point {
                        interval,
                        strategy: Strategy {
                            weights: spec.clone(),
                            rebalance: *r,
                            fee_bps: *fee,
                            initial: g.initial,
                            mode: sim.clone(),
                        },
                    });
                }
            }
        }
    }
    if skipped_calendar > 0 {
        notes.push(format!(
            "{skipped_calendar} calendar configuration(s) left out: --every is not a whole number of bars"
        ));
    }
    if points.is_empty() {
        bail!("the grid is empty");
    }
    Ok(Grid { assets, points, data, notes })
}

/// Runs a grid with an optional progress bar.
pub fn execute(grid: &Grid, threads: Option<usize>, progress: bool) -> Result<Vec<Row>> {
    let bar = if progress && std::io::stderr().is_terminal() {
        let b = indicatif::ProgressBar::new(grid.points.len() as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} configurations  {elapsed} (eta {eta})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads.unwrap_or(0)).build()?;
    let tick = || bar.inc(1);
    let rows = pool.install(|| sweep::run(&grid.data, &grid.points, &tick)).map_err(|e| anyhow!("sweep: {e}"))?;
    bar.finish_and_clear();
    Ok(rows)
}

/// Runs `ballast sweep`.
pub fn run(args: &SweepArgs) -> Result<()> {
    if args.threads == Some(0) {
        bail!("--threads must be at least 1");
    }
    let grid = build(&args.data, &args.grid)?;
    let started = std::time::Instant::now();
    let mut rows = execute(&grid, args.threads, !args.no_progress)?;
    let elapsed = started.elapsed();
    sweep::rank(&mut rows, args.rank_by);
    match args.format {
        SweepFormat::Csv => {
            println!(
                "rank,interval,weights,rebalance,fee_bps,final_value,cagr,volatility,sharpe,max_drawdown,rebalances,fees_paid,turnover,bars,hodl_final_value,excess_vs_hodl"
            );
            for (i, r) in rows.iter().enumerate() {
                let p = &grid.points[r.index];
                let m = &r.metrics;
                println!(
                    "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                    i + 1,
                    p.interval,
                    csv_field(&p.strategy.weights.name()),
                    p.strategy.rebalance.label(),
                    p.strategy.fee_bps.normalize(),
                    m.final_value,
                    m.cagr,
                    m.volatility,
                    m.sharpe,
                    m.max_drawdown,
                    m.rebalances,
                    m.fees_paid,
                    m.turnover,
                    m.bars,
                    r.hodl.final_value,
                    r.excess_vs_hodl
                );
            }
        }
        SweepFormat::Json => {
            let out: Vec<_> = rows
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let p = &grid.points[r.index];
                    let m = &r.metrics;
                    json!({
                        "rank": i + 1, "interval": p.interval.to_string(), "weights": p.strategy.weights.name(),
                        "rebalance": p.strategy.rebalance.label(), "fee_bps": p.strategy.fee_bps.normalize().to_string(),
                        "final_value": m.final_value, "cagr": m.cagr, "volatility": m.volatility, "sharpe": m.sharpe,
                        "max_drawdown": m.max_drawdown, "rebalances": m.rebalances, "fees_paid": m.fees_paid,
                        "turnover": m.turnover, "bars": m.bars, "hodl_final_value": r.hodl.final_value,
                        "excess_vs_hodl": r.excess_vs_hodl,
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        SweepFormat::Table => {
            let (s, e) = grid
                .data
                .values()
                .next()
                .map(|p| {
                    (format_timestamp(p.data.times[p.first]), format_timestamp(p.data.times[p.first + p.bars() - 1]))
                })
                .unwrap_or_default();
            println!(
                "{} configurations on {} ({s} .. {e}) in {:.2} s, ranked by {}",
                rows.len(),
                grid.assets.iter().map(Asset::as_str).collect::<Vec<_>>().join(","),
                elapsed.as_secs_f64(),
                args.rank_by
            );
            println!();
            println!(
                "{:>4} {:<4} {:<16} {:<26} {:>5} {:>14} {:>8} {:>7} {:>8} {:>6} {:>8} {:>9}",
                "rank",
                "bar",
                "weights",
                "rebalance",
                "fee",
                "final value",
                "CAGR",
                "Sharpe",
                "max DD",
                "rebal",
                "turnover",
                "vs HODL"
            );
            for (i, r) in rows.iter().take(args.top).enumerate() {
                let p = &grid.points[r.index];
                let m = &r.metrics;
                println!(
                    "{:>4} {:<4} {:<16} {:<26} {:>5} {:>14.2} {:>7.2}% {:>7.3} {:>7.2}% {:>6} {:>7.2}x {:>+8.2}%",
                    i + 1,
                    p.interval.to_string(),
                    truncate(&p.strategy.weights.name(), 16),
                    p.strategy.rebalance.label(),
                    p.strategy.fee_bps.normalize().to_string(),
                    m.final_value,
                    m.cagr * 100.0,
                    m.sharpe,
                    m.max_drawdown * 100.0,
                    m.rebalances,
                    m.turnover,
                    r.excess_vs_hodl * 100.0
                );
            }
            for n in &grid.notes {
                println!("note: {n}");
            }
        }
    }
    Ok(())
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { s.chars().take(n - 1).collect::<String>() + "…" }
}

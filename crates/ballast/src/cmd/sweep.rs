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
    /// CSV only: write every row as it finishes, in grid order (an `index` column in
    /// place of `rank`), holding no more than a chunk of rows: for grids of any size.
    #[arg(long)]
    pub stream: bool,
    /// Worker threads (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Do not draw the progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

/// A built grid: its axes (never every configuration at once: a point is made from its
/// index, so a grid of 10^7 costs no memory of its own), the data per interval, and
/// what was left out.
pub struct Grid {
    /// The assets.
    pub assets: Vec<Asset>,
    /// Prepared data per interval.
    pub data: BTreeMap<Interval, Prepared>,
    /// Configurations left out, and why.
    pub notes: Vec<String>,
    /// Per interval: its weight specifications and the rebalances that fit its bars.
    blocks: Vec<Block>,
    fees: Vec<Decimal>,
    initial: Decimal,
    sim: SimMode,
    len: usize,
}

/// The configurations of one interval: weights x fees x rebalances, from `start`.
struct Block {
    interval: Interval,
    specs: Vec<WeightSpec>,
    rebalances: Vec<Rebalance>,
    start: usize,
}

/// The largest grid `ballast sweep` runs.
pub const MAX_GRID: usize = 1_000_000_000;

impl Grid {
    /// How many configurations.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the grid has no configuration (never, once built).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Configuration `i` (in grid order: interval, weights, fee, rebalance).
    pub fn point(&self, i: usize) -> Point {
        let b = self.blocks.iter().rev().find(|b| b.start <= i).expect("an index within the grid");
        let k = i - b.start;
        let (r, rest) = (k % b.rebalances.len(), k / b.rebalances.len());
        let (f, w) = (rest % self.fees.len(), rest / self.fees.len());
        Point {
            interval: b.interval,
            strategy: Strategy {
                weights: b.specs[w].clone(),
                rebalance: b.rebalances[r],
                fee_bps: self.fees[f],
                initial: self.initial,
                mode: self.sim.clone(),
            },
        }
    }

    /// Every configuration, made at once (for the small grids of `ballast optimize`).
    pub fn points(&self) -> Vec<Point> {
        (0..self.len).map(|i| self.point(i)).collect()
    }

    /// One configuration of each HODL group (interval, weights, fee).
    pub fn hodl_points(&self) -> Vec<Point> {
        let mut out = Vec::new();
        for b in &self.blocks {
            let per_spec = self.fees.len() * b.rebalances.len();
            for w in 0..b.specs.len() {
                for f in 0..self.fees.len() {
                    out.push(self.point(b.start + w * per_spec + f * b.rebalances.len()));
                }
            }
        }
        out
    }
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
    let mut blocks = Vec::new();
    let mut notes = Vec::new();
    let mut skipped_calendar = 0usize;
    let mut len = 0usize;
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
        let fits: Vec<Rebalance> = rebalances
            .iter()
            .filter(|r| match r {
                Rebalance::Calendar { every } => every.secs() % interval.span().secs() == 0,
                _ => true,
            })
            .copied()
            .collect();
        skipped_calendar += (rebalances.len() - fits.len()) * specs.len() * fees.len();
        if fits.is_empty() || specs.is_empty() || fees.is_empty() {
            continue;
        }
        let size = specs
            .len()
            .checked_mul(fees.len())
            .and_then(|n| n.checked_mul(fits.len()))
            .and_then(|n| n.checked_add(len))
            .filter(|n| *n <= MAX_GRID)
            .ok_or_else(|| anyhow!("the grid has more than {MAX_GRID} configurations; narrow its ranges"))?;
        blocks.push(Block { interval, specs, rebalances: fits, start: len });
        len = size;
    }
    if skipped_calendar > 0 {
        notes.push(format!(
            "{skipped_calendar} calendar configuration(s) left out: --every is not a whole number of bars"
        ));
    }
    if len == 0 {
        bail!("the grid is empty");
    }
    Ok(Grid { assets, data, notes, blocks, fees, initial: g.initial, sim, len })
}

/// The most rows `ballast sweep` ranks whole (CSV and JSON hold every row to rank it;
/// the table keeps only its top rows, and `--stream` none).
pub const MAX_RANKED: usize = 2_000_000;

/// Runs a grid with an optional progress bar, handing every row to `sink` in grid
/// order.
pub fn execute(
    grid: &Grid,
    threads: Option<usize>,
    progress: bool,
    sink: &mut (dyn FnMut(Row) -> Result<(), String> + Send),
) -> Result<()> {
    let bar = if progress && std::io::stderr().is_terminal() {
        let b = indicatif::ProgressBar::new(grid.len() as u64);
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
    let hodl = grid.hodl_points();
    pool.install(|| sweep::run_each(&grid.data, grid.len(), &|i| grid.point(i), &hodl, &tick, sink))
        .map_err(|e| anyhow!("sweep: {e}"))?;
    bar.finish_and_clear();
    Ok(())
}

const CSV_COLUMNS: &str = "interval,weights,rebalance,fee_bps,final_value,cagr,volatility,sharpe,max_drawdown,rebalances,fees_paid,turnover,bars,hodl_final_value,excess_vs_hodl";

/// A row's CSV fields after its rank or index.
fn csv_row(p: &Point, r: &Row) -> String {
    let m = &r.metrics;
    format!(
        "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
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
    )
}

/// Runs `ballast sweep`.
pub fn run(args: &SweepArgs) -> Result<()> {
    if args.threads == Some(0) {
        bail!("--threads must be at least 1");
    }
    if args.stream && args.format != SweepFormat::Csv {
        bail!("--stream writes CSV: use it with --format csv");
    }
    let grid = build(&args.data, &args.grid)?;
    let started = std::time::Instant::now();
    if args.stream {
        use std::io::Write;
        let mut out = std::io::BufWriter::new(std::io::stdout());
        writeln!(out, "index,{CSV_COLUMNS}")?;
        let mut write = |r: Row| -> Result<(), String> {
            writeln!(out, "{},{}", r.index + 1, csv_row(&grid.point(r.index), &r)).map_err(|e| format!("stdout: {e}"))
        };
        execute(&grid, args.threads, !args.no_progress, &mut write)?;
        out.flush()?;
        return Ok(());
    }
    let rows = if args.format == SweepFormat::Table {
        let mut top = sweep::TopK::new(args.top, args.rank_by);
        execute(&grid, args.threads, !args.no_progress, &mut |r| {
            top.push(r);
            Ok(())
        })?;
        top.into_sorted()
    } else {
        if grid.len() > MAX_RANKED {
            bail!(
                "{} configurations are too many to rank whole as {:?} (at most {MAX_RANKED}): use --format csv --stream (every row, in grid order) or the table (the best --top rows)",
                grid.len(),
                args.format
            );
        }
        let mut rows = Vec::with_capacity(grid.len());
        execute(&grid, args.threads, !args.no_progress, &mut |r| {
            rows.push(r);
            Ok(())
        })?;
        sweep::rank(&mut rows, args.rank_by);
        rows
    };
    let elapsed = started.elapsed();
    match args.format {
        SweepFormat::Csv => {
            println!("rank,{CSV_COLUMNS}");
            for (i, r) in rows.iter().enumerate() {
                println!("{},{}", i + 1, csv_row(&grid.point(r.index), r));
            }
        }
        SweepFormat::Json => {
            let out: Vec<_> = rows
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let p = &grid.point(r.index);
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
                grid.len(),
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
                let p = &grid.point(r.index);
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

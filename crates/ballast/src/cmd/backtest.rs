//! `ballast backtest`: a strategy on real history, against HODL of the same targets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use ballast_backtest::backtest::{
    self, ExchangeOptions, Outcome, Prepared, Rebalance, SimMode, Strategy, WeightSpec, parse_custom,
};
use ballast_backtest::sim::Metrics;
use ballast_backtest::{Interval, align, format_timestamp, load_dir, load_snapshots, parse_date, parse_end_date};
use ballast_core::planner::RulesBook;
use ballast_core::trigger::Trigger;
use ballast_core::weighting::{Method, RiskOptions, Shrinkage};
use ballast_core::{Asset, DriftKind, Span};
use rust_decimal::Decimal;
use serde_json::json;

use super::tomlx::Format;
use super::weights::{default_caps_file, default_data_dir, parse_assets};
use crate::config::{BotConfig, load_rules};

/// The shipped Binance-like rules used by the exchange mode.
pub fn default_rules_file() -> PathBuf {
    crate::app::bundle_dir().join("rules/binance-spot.toml")
}

/// Ideal (BACKTEST.md) or exchange (the live planner with exchange rules).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SimArg {
    /// BACKTEST.md exactly: fractional quantities, no minimums.
    Ideal,
    /// The live planner: step, tick, minimum notional, slippage, guards.
    Exchange,
}

/// Rebalancing mode flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeArg {
    /// Never rebalance.
    Hodl,
    /// On a schedule (`--every`).
    Calendar,
    /// On drift (`--threshold`).
    Threshold,
}

/// Drift kind flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum KindArg {
    /// Percentage points.
    Absolute,
    /// Percent of the target weight.
    Relative,
}

impl From<KindArg> for DriftKind {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::Absolute => DriftKind::Absolute,
            KindArg::Relative => DriftKind::Relative,
        }
    }
}

/// Where the data comes from and which period (shared by backtest, sweep, optimize).
#[derive(Debug, Clone, clap::Args)]
pub struct DataArgs {
    /// Folder of candle files `<ASSET>USDT_<interval>.csv[.gz]`.
    #[arg(long, value_name = "DIR", default_value_os_t = default_data_dir())]
    pub data: PathBuf,
    /// First day (YYYY-MM-DD, UTC); earlier bars serve only as history for --lookback.
    #[arg(long)]
    pub start: Option<String>,
    /// Last day, inclusive (YYYY-MM-DD, UTC).
    #[arg(long)]
    pub end: Option<String>,
    /// Market-cap snapshots (CoinMarketCap monthly CSV).
    #[arg(long, value_name = "FILE", default_value_os_t = default_caps_file())]
    pub caps: PathBuf,
    /// Exchange mode: per-symbol rules (TOML, `[rules.ASSET]`).
    #[arg(long, value_name = "FILE", default_value_os_t = default_rules_file())]
    pub rules: PathBuf,
}

/// The strategy flags (when no `--config` is given).
#[derive(Debug, Clone, clap::Args)]
pub struct StrategyArgs {
    /// Comma-separated assets, e.g. BTC,ETH,XRP.
    #[arg(long, value_delimiter = ',')]
    pub assets: Vec<String>,
    /// equal | custom:BTC=50,ETH=30,XRP=20 | market-cap | inverse-vol | min-variance | risk-parity | hrp.
    #[arg(long, default_value = "equal")]
    pub weights: String,
    /// hodl, calendar or threshold.
    #[arg(long, value_enum, default_value_t = ModeArg::Threshold)]
    pub mode: ModeArg,
    /// Calendar interval, e.g. 30m, 4h, 7d (a whole number of bars).
    #[arg(long)]
    pub every: Option<Span>,
    /// Threshold in percent.
    #[arg(long)]
    pub threshold: Option<Decimal>,
    /// absolute (percentage points) or relative (percent of target).
    #[arg(long, value_enum, default_value_t = KindArg::Absolute)]
    pub threshold_kind: KindArg,
    /// Fee in basis points, on every traded notional.
    #[arg(long, default_value = "10")]
    pub fee_bps: Decimal,
    /// Starting cash in USDT.
    #[arg(long, default_value = "10000", value_parser = super::amount_arg)]
    pub initial: Decimal,
    /// Risk-based weights: trailing window re-estimated at each rebalance.
    #[arg(long, default_value = "90d")]
    pub lookback: Span,
    /// Risk-based weights: covariance estimator (none or ledoit-wolf).
    #[arg(long, default_value = "none")]
    pub shrinkage: Shrinkage,
    /// Market cap: largest weight of one asset, percent.
    #[arg(long)]
    pub max_weight: Option<Decimal>,
}

/// What `ballast backtest` can do besides one backtest.
#[derive(Debug, clap::Subcommand)]
pub enum BacktestAction {
    /// Regenerate docs/EXECUTION.md: execution costs of taker-only, maker-first, direct
    /// pairs and new cash first on the bundled 4h data, 2021 to 2025.
    ExecutionReport(ExecutionReportArgs),
}

/// Arguments of `ballast backtest execution-report`.
#[derive(Debug, clap::Args)]
pub struct ExecutionReportArgs {
    /// Write the Markdown here (default: standard output).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Directory of candle files.
    #[arg(long, value_name = "DIR", default_value_os_t = default_data_dir())]
    pub data: PathBuf,
    /// Exchange rules, with the cross pairs under `[pairs]`.
    #[arg(long, value_name = "FILE", default_value_os_t = default_rules_file())]
    pub rules: PathBuf,
}

/// Runs `ballast backtest execution-report`.
pub fn execution_report(args: &ExecutionReportArgs) -> Result<()> {
    let rules = load_rules(&args.rules)?;
    let pairs = crate::config::load_pairs(&args.rules)?;
    let setup = ballast_backtest::execution_report::default_setup().map_err(|e| anyhow!(e))?;
    let md = ballast_backtest::execution_report::render(&args.data, &setup, &rules, &pairs).map_err(|e| anyhow!(e))?;
    match &args.out {
        Some(path) => std::fs::write(path, md).with_context(|| format!("{}: cannot write", path.display()))?,
        None => print!("{md}"),
    }
    Ok(())
}

/// Arguments of `ballast backtest`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BacktestArgs {
    /// Another action than one backtest.
    #[command(subcommand)]
    pub action: Option<BacktestAction>,
    /// A bot configuration file: backtest exactly that bot (exchange mode by default).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["preset", "assets", "weights", "mode", "every", "threshold", "threshold_kind", "fee_bps", "initial", "lookback", "shrinkage", "max_weight"])]
    pub config: Option<PathBuf>,
    /// A shipped preset (see `ballast presets`), invested with --initial.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["assets", "weights", "mode", "every", "threshold", "threshold_kind", "fee_bps", "lookback", "shrinkage", "max_weight"])]
    pub preset: Option<String>,
    #[command(flatten)]
    pub data: DataArgs,
    /// Candle interval: 1d, 4h or 1h (default: 4h with --config, the paper bot's
    /// replay, so the backtest is the bot; 1d otherwise).
    #[arg(long)]
    pub interval: Option<Interval>,
    #[command(flatten)]
    pub strategy: StrategyArgs,
    /// ideal (BACKTEST.md) or exchange (the bot's planner with exchange rules).
    /// Default: exchange with --config, ideal otherwise.
    #[arg(long, value_enum)]
    pub sim: Option<SimArg>,
    /// Exchange mode: slippage in bps on every fill.
    #[arg(long, default_value = "0")]
    pub slippage_bps: Decimal,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write a self-contained HTML report here.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Write every trade as CSV here.
    #[arg(long, value_name = "FILE")]
    pub trades: Option<PathBuf>,
}

/// Loaded, aligned market data for a set of assets and a period.
pub fn prepare(data: &DataArgs, assets: &[Asset], interval: Interval) -> Result<Prepared> {
    let start = data.start.as_deref().map(parse_date).transpose().context("--start")?;
    let end = data.end.as_deref().map(parse_end_date).transpose().context("--end")?;
    if let (Some(s), Some(e)) = (start, end)
        && s > e
    {
        bail!("--start is after --end");
    }
    let series = load_dir(&data.data, assets, interval)?;
    let aligned = align(&series, None, end)?;
    Prepared::new(aligned, start).map_err(|e| anyhow!("{e}"))
}

/// Parses `--weights`.
pub fn weight_spec(s: &str, args: &StrategyArgs, caps_path: &Path, interval: Interval) -> Result<WeightSpec> {
    if let Some(list) = s.strip_prefix("custom:") {
        return parse_custom(list).map(WeightSpec::Custom).map_err(|e| anyhow!("--weights: {e}"));
    }
    let method: Method = s.parse().context("--weights")?;
    if args.max_weight.is_some() && method != Method::MarketCap {
        bail!("--max-weight applies to --weights market-cap only");
    }
    spec_for(method, &BTreeMap::new(), args.lookback, args.shrinkage, args.max_weight, caps_path, interval)
}

fn spec_for(
    method: Method,
    custom: &BTreeMap<Asset, Decimal>,
    lookback: Span,
    shrinkage: Shrinkage,
    max_weight: Option<Decimal>,
    caps_path: &Path,
    interval: Interval,
) -> Result<WeightSpec> {
    Ok(match method {
        Method::Equal => WeightSpec::Equal,
        Method::Custom => {
            if custom.is_empty() {
                bail!("--weights custom needs the weights: custom:BTC=50,ETH=50");
            }
            WeightSpec::Custom(custom.iter().map(|(a, w)| (a.clone(), *w / Decimal::ONE_HUNDRED)).collect())
        }
        Method::MarketCap => WeightSpec::MarketCap {
            caps: Arc::new(load_snapshots(caps_path)?),
            max_weight: max_weight.map(|m| m / Decimal::ONE_HUNDRED),
        },
        m => {
            let bars = lookback.secs() / interval.span().secs();
            if bars < 2 || lookback.secs() % interval.span().secs() != 0 {
                bail!("--lookback {lookback} is not a whole number (at least 2) of {interval} bars");
            }
            WeightSpec::Risk {
                method: m,
                lookback: bars as usize,
                options: RiskOptions { shrinkage, ..RiskOptions::default() },
            }
        }
    })
}

/// Parses the rebalancing flags.
pub fn rebalance_from(
    mode: ModeArg,
    every: Option<Span>,
    threshold: Option<Decimal>,
    kind: KindArg,
) -> Result<Rebalance> {
    Ok(match mode {
        ModeArg::Hodl => Rebalance::Hodl,
        ModeArg::Calendar => {
            if threshold.is_some() {
                bail!("--threshold is for --mode threshold");
            }
            let every = every.ok_or_else(|| anyhow!("--mode calendar needs --every, e.g. --every 7d"))?;
            Trigger::calendar(every, None).context("--every")?;
            Rebalance::Calendar { every }
        }
        ModeArg::Threshold => {
            if every.is_some() {
                bail!("--every is for --mode calendar");
            }
            let percent = threshold.unwrap_or(Decimal::from(5));
            ballast_core::trigger::Threshold::new(percent, kind.into()).context("--threshold")?;
            Rebalance::Threshold { percent, kind: kind.into() }
        }
    })
}

/// Exchange options for a set of assets from a rules file.
pub fn exchange_options(
    rules_path: &Path,
    assets: &[Asset],
    slippage_bps: Decimal,
) -> Result<(ExchangeOptions, Vec<String>)> {
    let book = load_rules(rules_path)?;
    let mut notes = vec![];
    let mut rules = RulesBook::default();
    for a in assets {
        match book.per_asset.get(a) {
            Some(r) => {
                rules.per_asset.insert(a.clone(), *r);
            }
            None => notes.push(format!("no rules for {a} in {}: 8 decimals, no minimums", rules_path.display())),
        }
    }
    if slippage_bps < Decimal::ZERO || slippage_bps > Decimal::from(1000) {
        bail!("--slippage-bps {slippage_bps} is out of range (0 ..= 1000)");
    }
    // The file's cross pairs between these coins (used when a bot trades direct pairs).
    let mut pairs = ballast_core::planner::PairBook::default();
    for (symbol, r) in crate::config::load_pairs(rules_path)?.rules {
        if let Some((b, q)) = symbol.split_once('/')
            && assets.iter().any(|a| a.as_str() == b)
            && assets.iter().any(|a| a.as_str() == q)
        {
            pairs.rules.insert(symbol, r);
        }
    }
    Ok((ExchangeOptions { rules, slippage_bps, pairs, ..ExchangeOptions::default() }, notes))
}

/// A strategy from a bot configuration.
pub fn strategy_from_config(
    cfg: &BotConfig,
    data: &DataArgs,
    interval: Interval,
    exchange: Option<ExchangeOptions>,
) -> Result<Strategy> {
    let w = &cfg.weights;
    let weights = spec_for(w.method, &w.custom, w.lookback, w.shrinkage, w.max_weight, &data.caps, interval)?;
    let (rebalance, cooldown, min_drift) = match cfg.rebalance.trigger {
        Trigger::Threshold { threshold, cooldown } => {
            (Rebalance::Threshold { percent: threshold.percent(), kind: threshold.kind() }, cooldown, None)
        }
        Trigger::Calendar { every, min_drift } => (Rebalance::Calendar { every }, None, min_drift),
    };
    let mode = match exchange {
        Some(mut o) => {
            o.guards = cfg.guards.clone();
            o.to = cfg.rebalance.to;
            o.cooldown = cooldown;
            o.min_drift = min_drift;
            // The bot's execution: maker-first and direct pairs run with the cost model
            // of docs/BACKTEST.md. The fee reserve is not modelled: the backtester
            // charges its fee in the quote (docs/EXECUTION.md).
            o.execution = ballast_core::execution::Execution { fee_reserve: None, ..cfg.execution.clone() };
            SimMode::Exchange(Box::new(o))
        }
        // The ideal rules of BACKTEST.md have no cooldown, gate or guards.
        None => SimMode::Ideal,
    };
    Ok(Strategy { weights, rebalance, fee_bps: cfg.fee.0, initial: cfg.amount, mode })
}

/// Runs `ballast backtest`.
pub fn run(args: &BacktestArgs) -> Result<()> {
    if let Some(BacktestAction::ExecutionReport(a)) = &args.action {
        return execution_report(a);
    }
    let interval = args.interval.unwrap_or(if args.config.is_some() { Interval::H4 } else { Interval::D1 });
    let from_file = match (&args.config, &args.preset) {
        (Some(path), _) => {
            // A profile (a preset file written by `ballast optimize`, an exported bot)
            // has no amount: it is backtested with 1000 quote, as a preset is.
            let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
            let has_amount = text.parse::<toml::Table>().map(|t| t.contains_key("amount")).unwrap_or(true);
            if has_amount {
                Some(BotConfig::load(path)?)
            } else {
                Some(BotConfig::parse_profile(path, &text, Decimal::from(1000))?)
            }
        }
        (None, Some(name)) => Some(super::presets::load(name, args.strategy.initial)?),
        (None, None) => None,
    };
    let (assets, strategy, mut notes) = match from_file {
        Some(cfg) => {
            let default_sim = if args.preset.is_some() { SimArg::Ideal } else { SimArg::Exchange };
            let sim = args.sim.unwrap_or(default_sim);
            let (ex, notes) = match sim {
                SimArg::Exchange => {
                    let (o, n) = exchange_options(&args.data.rules, &cfg.assets, args.slippage_bps)?;
                    (Some(o), n)
                }
                SimArg::Ideal => (None, vec![]),
            };
            let mut notes = notes;
            if sim == SimArg::Ideal
                && (cfg.guards != Default::default()
                    || !matches!(cfg.rebalance.to, ballast_core::planner::RebalanceTo::Target))
            {
                notes.push("ideal mode ignores guards and band-edge rebalancing; use --sim exchange".into());
            }
            (cfg.assets.clone(), strategy_from_config(&cfg, &args.data, interval, ex)?, notes)
        }
        None => {
            let s = &args.strategy;
            let weights = weight_spec(&s.weights, s, &args.data.caps, interval)?;
            let assets = match (&weights, s.assets.is_empty()) {
                (WeightSpec::Custom(m), true) => m.keys().cloned().collect(),
                (_, true) => bail!("--assets is required (or --config FILE)"),
                (WeightSpec::Custom(m), false) => {
                    let a = parse_assets(&s.assets)?;
                    let mut sorted = a.clone();
                    sorted.sort();
                    if sorted != m.keys().cloned().collect::<Vec<_>>() {
                        bail!("--assets and the custom weights name different assets");
                    }
                    a
                }
                (_, false) => parse_assets(&s.assets)?,
            };
            if assets.len() < 2 {
                bail!("--assets: a portfolio needs at least 2 assets");
            }
            let rebalance = rebalance_from(s.mode, s.every, s.threshold, s.threshold_kind)?;
            ballast_core::Bps::new(s.fee_bps).context("--fee-bps")?;
            if s.initial <= Decimal::ZERO {
                bail!("--initial must be greater than zero");
            }
            let (mode, notes) = match args.sim.unwrap_or(SimArg::Ideal) {
                SimArg::Ideal => (SimMode::Ideal, vec![]),
                SimArg::Exchange => {
                    let (o, n) = exchange_options(&args.data.rules, &assets, args.slippage_bps)?;
                    (SimMode::Exchange(Box::new(o)), n)
                }
            };
            (assets, Strategy { weights, rebalance, fee_bps: s.fee_bps, initial: s.initial, mode }, notes)
        }
    };
    let prep = prepare(&args.data, &assets, interval)?;
    let record = args.report.is_some() || args.trades.is_some();
    let outcome = backtest::run(&prep, &strategy, record).map_err(|e| anyhow!("backtest: {e}"))?;
    notes.extend(outcome.notes.iter().cloned());
    if let Some(req) = args.data.start.as_deref()
        && let Some(first) = outcome.times.first()
        && format_timestamp(*first)[..10] != *req
    {
        notes.push(format!(
            "the backtest starts at {} (the first bar where every asset has data)",
            &format_timestamp(*first)[..10]
        ));
    }
    let config = describe(&strategy, &assets, interval, &prep);
    if let Some(path) = &args.trades {
        write_trades(path, &outcome)?;
    }
    if let Some(path) = &args.report {
        write_report(path, &outcome, &config, &notes)?;
    }
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&outcome_json(&outcome, &config, &notes))?),
        Format::Text => print!("{}", render_text(&outcome, &config, &notes)),
    }
    Ok(())
}

/// The configuration of a run as key/value pairs (for reports and JSON).
pub fn describe(strategy: &Strategy, assets: &[Asset], interval: Interval, prep: &Prepared) -> Vec<(String, String)> {
    let names: Vec<&str> = assets.iter().map(Asset::as_str).collect();
    let mut c = vec![
        ("assets".to_string(), names.join(",")),
        ("interval".to_string(), interval.to_string()),
        ("weights".to_string(), strategy.weights.name()),
        ("rebalance".to_string(), strategy.rebalance.label()),
        ("fee_bps".to_string(), strategy.fee_bps.normalize().to_string()),
        ("initial".to_string(), strategy.initial.normalize().to_string()),
        (
            "sim".to_string(),
            match &strategy.mode {
                SimMode::Ideal => "ideal".to_string(),
                SimMode::Exchange(o) => format!("exchange (slippage {} bps)", o.slippage_bps.normalize()),
            },
        ),
    ];
    if let WeightSpec::Risk { lookback, options, .. } = &strategy.weights {
        c.push(("lookback_bars".into(), lookback.to_string()));
        c.push(("shrinkage".into(), options.shrinkage.name().to_string()));
    }
    if let SimMode::Exchange(o) = &strategy.mode {
        if let Some(c2) = o.cooldown {
            c.push(("cooldown".into(), c2.to_string()));
        }
        if let Some(sl) = o.guards.stop_loss_percent {
            c.push(("stop_loss".into(), format!("{}%", sl.normalize())));
        }
        if let Some(tp) = o.guards.take_profit_percent {
            c.push(("take_profit".into(), format!("{}%", tp.normalize())));
        }
    }
    let _ = prep;
    c
}

fn metrics_json(m: &Metrics, start: &str, end: &str) -> serde_json::Value {
    json!({
        "final_value": m.final_value, "cagr": m.cagr, "volatility": m.volatility, "sharpe": m.sharpe,
        "max_drawdown": m.max_drawdown, "rebalances": m.rebalances, "fees_paid": m.fees_paid,
        "turnover": m.turnover, "bars": m.bars, "start": start, "end": end,
    })
}

/// The JSON output of a backtest.
pub fn outcome_json(o: &Outcome, config: &[(String, String)], notes: &[String]) -> serde_json::Value {
    let start = o.times.first().map(|t| format_timestamp(*t)).unwrap_or_default();
    let end = o.times.last().map(|t| format_timestamp(*t)).unwrap_or_default();
    let mut v = metrics_json(&o.metrics, &start, &end);
    let obj = v.as_object_mut().expect("object");
    obj.insert("hodl".into(), metrics_json(&o.hodl, &start, &end));
    obj.insert("excess_vs_hodl".into(), json!(o.excess_vs_hodl));
    obj.insert("config".into(), config.iter().map(|(k, v)| (k.clone(), json!(v))).collect());
    obj.insert("skipped_legs".into(), json!(o.skipped.len()));
    obj.insert("notes".into(), json!(notes));
    v
}

fn fmt_money(x: f64) -> String {
    let s = format!("{:.2}", x.abs());
    let (int, frac) = s.split_once('.').unwrap_or((&s, "00"));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{}{out}.{frac}", if x < 0.0 { "-" } else { "" })
}

/// Metric rows (label, strategy, hodl), formatted for people.
pub fn metric_rows(o: &Outcome) -> Vec<(String, String, String)> {
    let pct = |x: f64| format!("{:.2}%", x * 100.0);
    let (s, h) = (&o.metrics, &o.hodl);
    vec![
        ("final value".into(), fmt_money(s.final_value), fmt_money(h.final_value)),
        ("CAGR".into(), pct(s.cagr), pct(h.cagr)),
        ("volatility (annual)".into(), pct(s.volatility), pct(h.volatility)),
        ("Sharpe".into(), format!("{:.3}", s.sharpe), format!("{:.3}", h.sharpe)),
        ("max drawdown".into(), pct(s.max_drawdown), pct(h.max_drawdown)),
        ("rebalances".into(), s.rebalances.to_string(), h.rebalances.to_string()),
        ("fees paid".into(), fmt_money(s.fees_paid), fmt_money(h.fees_paid)),
        ("turnover".into(), format!("{:.2}x", s.turnover), format!("{:.2}x", h.turnover)),
        ("bars".into(), s.bars.to_string(), h.bars.to_string()),
    ]
}

fn render_text(o: &Outcome, config: &[(String, String)], notes: &[String]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let start = o.times.first().map(|t| format_timestamp(*t)).unwrap_or_default();
    let end = o.times.last().map(|t| format_timestamp(*t)).unwrap_or_default();
    let cfg: Vec<String> = config.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let _ = writeln!(out, "Backtest {start} .. {end}");
    let _ = writeln!(out, "  {}", cfg.join("  "));
    let _ = writeln!(out);
    let _ = writeln!(out, "{:<22} {:>16} {:>16}", "", "rebalancing", "HODL");
    for (label, s, h) in metric_rows(o) {
        let _ = writeln!(out, "{label:<22} {s:>16} {h:>16}");
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "Excess over HODL: {:+.2}%", o.excess_vs_hodl * 100.0);
    if !o.skipped.is_empty() {
        let _ = writeln!(out, "Skipped legs: {} (see --trades / --report)", o.skipped.len());
    }
    for n in notes {
        let _ = writeln!(out, "note: {n}");
    }
    out
}

fn write_trades(path: &Path, o: &Outcome) -> Result<()> {
    let mut text = String::from("time,asset,side,quantity,price,notional,fee\n");
    for t in &o.trades {
        text.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            format_timestamp(t.time),
            t.asset,
            t.side,
            t.quantity,
            t.price,
            t.notional,
            t.fee
        ));
    }
    // Every failure (creating, writing, flushing) names the file.
    std::fs::write(path, text).with_context(|| format!("--trades {}: cannot write", path.display()))
}

fn write_report(path: &Path, o: &Outcome, config: &[(String, String)], notes: &[String]) -> Result<()> {
    std::fs::write(path, report_html(o, config, notes))
        .with_context(|| format!("--report {}: cannot write", path.display()))
}

/// The self-contained HTML report of a backtest.
pub fn report_html(o: &Outcome, config: &[(String, String)], notes: &[String]) -> String {
    let assets: Vec<String> = o.assets.iter().map(|a| a.to_string()).collect();
    let times: Vec<i64> = o.times.iter().map(|t| t.0).collect();
    let mut all_notes: Vec<String> = notes.to_vec();
    let mut by_reason: BTreeMap<String, usize> = BTreeMap::new();
    for s in &o.skipped {
        *by_reason.entry(format!("{} {}: {}", s.leg.side, s.leg.asset, kind_of(&s.leg.reason))).or_default() += 1;
    }
    for (k, n) in by_reason {
        all_notes.push(format!("skipped {n} time(s): {k}"));
    }
    ballast_backtest::report::render(&ballast_backtest::report::ReportInput {
        title: "ballast backtest",
        assets: &assets,
        times: &times,
        values: &o.values,
        hodl_values: &o.hodl_values,
        weights: &o.weights,
        rebalance_bars: &o.rebalance_bars,
        metrics: &metric_rows(o),
        excess_vs_hodl: o.excess_vs_hodl,
        config,
        notes: &all_notes,
        quote: "USDT",
    })
}

fn kind_of(r: &ballast_core::planner::SkipReason) -> String {
    use ballast_core::planner::SkipReason;
    use ballast_core::rules::RuleViolation;
    match r {
        SkipReason::Rule(RuleViolation::BelowMinNotional { min_notional, .. }) => {
            format!("below the minimum order value {}", min_notional.normalize())
        }
        SkipReason::Rule(RuleViolation::BelowMinQty { min_qty, .. }) => {
            format!("below the minimum quantity {}", min_qty.normalize())
        }
        SkipReason::Rule(RuleViolation::RoundsToZero { .. }) => "rounds to zero at the step".into(),
        SkipReason::EntryPrice { entry, .. } => format!("above the entry price {entry}"),
        SkipReason::NoCash => "no cash".into(),
    }
}

//! `ballast optimize`: walk-forward selection over a grid; its output becomes a preset.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use ballast_backtest::backtest::{Rebalance, WeightSpec};
use ballast_backtest::sim::Metrics;
use ballast_backtest::sweep::{Point, RankBy};
use ballast_backtest::{format_timestamp, walkforward};
use ballast_core::{DriftKind, Span};
use serde_json::json;

use super::backtest::DataArgs;
use super::sweep::{GridArgs, build};
use super::tomlx::Format;

/// Arguments of `ballast optimize`.
#[derive(Debug, clap::Args)]
pub struct OptimizeArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub grid: GridArgs,
    /// Choose by: final_value, cagr, sharpe, excess_vs_hodl, max_drawdown, volatility, turnover, fees_paid.
    #[arg(long, default_value = "sharpe")]
    pub rank_by: RankBy,
    /// In-sample window length.
    #[arg(long, default_value = "730d")]
    pub in_sample: Span,
    /// Out-of-sample window length (also the step).
    #[arg(long, default_value = "180d")]
    pub out_of_sample: Span,
    /// Write the most-chosen configuration as a preset file (a profile TOML).
    #[arg(long, value_name = "FILE")]
    pub write_preset: Option<PathBuf>,
    /// The preset's name.
    #[arg(long, default_value = "preset")]
    pub name: String,
    /// The preset's description.
    #[arg(long, default_value = "")]
    pub description: String,
    /// Worker threads (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

fn label(p: &Point) -> String {
    format!(
        "{} {} {} fee {}",
        p.interval,
        p.strategy.weights.name(),
        p.strategy.rebalance.label(),
        p.strategy.fee_bps.normalize()
    )
}

/// Runs `ballast optimize`.
pub fn run(args: &OptimizeArgs) -> Result<()> {
    if args.in_sample.secs() <= 0 || args.out_of_sample.secs() <= 0 {
        bail!("--in-sample and --out-of-sample must be positive");
    }
    if !args.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') || args.name.is_empty() {
        bail!("--name {:?}: use letters, digits, - and _", args.name);
    }
    let grid = build(&args.data, &args.grid)?;
    let points = grid.points();
    let data: BTreeMap<_, _> = grid.data.iter().map(|(i, p)| (*i, Arc::clone(&p.data))).collect();
    let start = grid.data.values().map(|p| p.data.times[p.first]).max().ok_or_else(|| anyhow!("no data"))?;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(args.threads.unwrap_or(0)).build()?;
    let started = std::time::Instant::now();
    let wf = pool
        .install(|| walkforward::run(&data, &points, start, args.in_sample, args.out_of_sample, args.rank_by, &|| {}))
        .map_err(|e| anyhow!("optimize: {e}"))?;
    let elapsed = started.elapsed().as_secs_f64();
    let preset = &points[wf.preset];
    let day = |t: ballast_core::Timestamp| format_timestamp(t)[..10].to_string();
    let period = format!("{} .. {}", day(wf.windows[0].is_start), day(wf.windows.last().expect("windows").oos_end));
    let oos_period =
        format!("{} .. {}", day(wf.windows[0].oos_start), day(wf.windows.last().expect("windows").oos_end));

    if let Some(path) = &args.write_preset {
        let text = preset_toml(args, preset, &wf, &period, &oos_period)?;
        std::fs::write(path, text).with_context(|| format!("--write-preset {}", path.display()))?;
    }
    match args.format {
        Format::Json => {
            let m = |m: &Metrics| json!({"final_value": m.final_value, "cagr": m.cagr, "volatility": m.volatility, "sharpe": m.sharpe, "max_drawdown": m.max_drawdown});
            let out = json!({
                "configurations": points.len(),
                "windows": wf.windows.iter().map(|w| json!({
                    "in_sample_start": day(w.is_start), "out_of_sample_start": day(w.oos_start), "out_of_sample_end": day(w.oos_end),
                    "chosen": label(&points[w.chosen]), "in_sample_score": w.is_score,
                    "out_of_sample": m(&w.oos), "out_of_sample_hodl": m(&w.oos_hodl),
                })).collect::<Vec<_>>(),
                "walk_forward": m(&wf.stitched),
                "hodl": m(&wf.stitched_hodl),
                "preset": label(preset),
                "preset_votes": wf.preset_votes,
                "preset_out_of_sample": m(&wf.preset_stitched),
                "seconds": elapsed,
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        Format::Text => {
            println!(
                "Walk-forward over {} configurations, {} windows ({} in sample, {} out of sample), ranked by {}, {:.2} s",
                points.len(),
                wf.windows.len(),
                args.in_sample,
                args.out_of_sample,
                args.rank_by,
                elapsed
            );
            println!();
            println!(
                "{:<12} {:<12} {:<44} {:>10} {:>10}",
                "in sample", "out of sample", "chosen", "OOS ret", "HODL ret"
            );
            for w in &wf.windows {
                println!(
                    "{:<12} {:<12} {:<44} {:>+9.2}% {:>+9.2}%",
                    day(w.is_start),
                    day(w.oos_start),
                    label(&points[w.chosen]),
                    (w.oos.final_value / args.grid.initial.try_into().unwrap_or(1.0) - 1.0) * 100.0,
                    (w.oos_hodl.final_value / args.grid.initial.try_into().unwrap_or(1.0) - 1.0) * 100.0
                );
            }
            println!();
            let line = |name: &str, m: &Metrics| {
                println!(
                    "{name:<34} CAGR {:>7.2}%  Sharpe {:>6.3}  max DD {:>6.2}%  final {:>12.2}",
                    m.cagr * 100.0,
                    m.sharpe,
                    m.max_drawdown * 100.0,
                    m.final_value
                )
            };
            println!("Out of sample, {oos_period}:");
            line("  walk-forward (chosen per window)", &wf.stitched);
            line("  HODL of the same targets", &wf.stitched_hodl);
            line(&format!("  preset ({} of {} windows)", wf.preset_votes, wf.windows.len()), &wf.preset_stitched);
            println!("Preset: {}", label(preset));
            if let Some(p) = &args.write_preset {
                println!("Written to {}", p.display());
            }
        }
    }
    Ok(())
}

fn preset_toml(
    args: &OptimizeArgs,
    p: &Point,
    wf: &walkforward::WalkForward,
    period: &str,
    oos_period: &str,
) -> Result<String> {
    use std::fmt::Write;
    let s = &p.strategy;
    let mut t = String::new();
    let assets: Vec<String> =
        args.grid.assets.iter().map(|a| format!("\"{}\"", a.trim().to_ascii_uppercase())).collect();
    writeln!(t, "# ballast preset, written by `ballast optimize`. Do not edit by hand: regenerate it.")?;
    writeln!(t, "name = \"{}\"", args.name)?;
    writeln!(t, "description = \"{}\"", args.description.replace('"', "'"))?;
    writeln!(t, "venue = \"paper\"")?;
    writeln!(t, "quote = \"USDT\"")?;
    writeln!(t, "fee_bps = {}", s.fee_bps.normalize())?;
    writeln!(t, "assets = [{}]", assets.join(", "))?;
    writeln!(t)?;
    writeln!(t, "[weights]")?;
    match &s.weights {
        WeightSpec::Equal => writeln!(t, "method = \"equal\"")?,
        WeightSpec::Custom(m) => {
            writeln!(t, "method = \"custom\"")?;
            writeln!(t, "[weights.custom]")?;
            for (a, w) in m {
                writeln!(t, "{a} = {}", (w * rust_decimal::Decimal::ONE_HUNDRED).normalize())?;
            }
        }
        WeightSpec::MarketCap { max_weight, .. } => {
            writeln!(t, "method = \"market-cap\"")?;
            if let Some(m) = max_weight {
                writeln!(t, "max_weight = {}", (m * rust_decimal::Decimal::ONE_HUNDRED).normalize())?;
            }
        }
        WeightSpec::Risk { method, options, .. } => {
            writeln!(t, "method = \"{method}\"")?;
            writeln!(t, "lookback = \"{}\"", args.grid.lookback)?;
            writeln!(t, "shrinkage = \"{}\"", options.shrinkage.name())?;
        }
    }
    writeln!(t)?;
    writeln!(t, "[rebalance]")?;
    match s.rebalance {
        Rebalance::Hodl => bail!("the best configuration is HODL: nothing to rebalance, no preset written"),
        Rebalance::Calendar { every } => {
            writeln!(t, "mode = \"calendar\"")?;
            writeln!(t, "every = \"{every}\"")?;
        }
        Rebalance::Threshold { percent, kind } => {
            writeln!(t, "mode = \"threshold\"")?;
            writeln!(t, "threshold = {}", percent.normalize())?;
            let k = if kind == DriftKind::Absolute { "absolute" } else { "relative" };
            writeln!(t, "threshold_kind = \"{k}\"")?;
        }
    }
    writeln!(t)?;
    writeln!(t, "[preset]")?;
    writeln!(
        t,
        "chosen_by = \"walk-forward on {} candles, {} in sample / {} out of sample, ranked by {}\"",
        p.interval, args.in_sample, args.out_of_sample, args.rank_by
    )?;
    writeln!(t, "period = \"{period}\"")?;
    writeln!(t, "out_of_sample = \"{oos_period}\"")?;
    writeln!(t, "votes = \"{} of {} windows\"", wf.preset_votes, wf.windows.len())?;
    let f = |x: f64| format!("{:.2}%", x * 100.0);
    writeln!(t, "oos_cagr = \"{}\"", f(wf.preset_stitched.cagr))?;
    writeln!(t, "oos_sharpe = \"{:.3}\"", wf.preset_stitched.sharpe)?;
    writeln!(t, "oos_max_drawdown = \"{}\"", f(wf.preset_stitched.max_drawdown))?;
    writeln!(t, "oos_hodl_cagr = \"{}\"", f(wf.stitched_hodl.cagr))?;
    writeln!(t, "walk_forward_cagr = \"{}\"", f(wf.stitched.cagr))?;
    Ok(t)
}

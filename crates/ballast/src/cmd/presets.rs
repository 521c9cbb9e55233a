//! `ballast presets`: the ready-made strategies shipped with ballast.
//!
//! Each preset is a profile (a bot configuration without an amount) written by
//! `ballast optimize` (see docs/PRESETS.md and scripts/presets.sh) and built into the
//! binary.

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use rust_decimal::Decimal;

use crate::config::BotConfig;

/// The shipped presets: (name, TOML).
pub const PRESETS: &[(&str, &str)] = &[
    ("majors-threshold", include_str!("../../../../presets/majors-threshold.toml")),
    ("majors-calendar", include_str!("../../../../presets/majors-calendar.toml")),
    ("top10-equal", include_str!("../../../../presets/top10-equal.toml")),
    ("majors-risk-parity", include_str!("../../../../presets/majors-risk-parity.toml")),
    ("market-cap-capped", include_str!("../../../../presets/market-cap-capped.toml")),
];

/// Arguments of `ballast presets`.
#[derive(Debug, clap::Args)]
pub struct PresetsArgs {
    /// Print this preset's profile (TOML) instead of the list.
    #[arg(value_name = "NAME")]
    pub show: Option<String>,
}

/// The TOML of a preset, or an error listing the names.
pub fn find(name: &str) -> Result<&'static str> {
    PRESETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t).ok_or_else(|| {
        let names: Vec<&str> = PRESETS.iter().map(|(n, _)| *n).collect();
        anyhow!("no preset named {name:?}; the presets are: {}", names.join(", "))
    })
}

/// A preset as a bot configuration investing `amount`.
pub fn load(name: &str, amount: Decimal) -> Result<BotConfig> {
    // A preset file (one `ballast optimize` wrote) is taken as it is.
    let p = Path::new(name);
    if find(name).is_err() && p.is_file() {
        let text = std::fs::read_to_string(p).with_context(|| format!("{name}: cannot read"))?;
        return BotConfig::parse_profile(p, &text, amount);
    }
    BotConfig::parse_profile(Path::new(&format!("preset {name}")), find(name)?, amount)
}

/// Runs `ballast presets`.
pub fn run(args: &PresetsArgs) -> Result<()> {
    if let Some(name) = &args.show {
        print!("{}", find(name)?);
        return Ok(());
    }
    println!(
        "{:<20} {:<42} {:<12} {:<22} {:>9} {:>9} {:>8}",
        "preset", "assets", "weights", "rebalance", "OOS CAGR", "HODL", "votes"
    );
    for (name, _) in PRESETS {
        let c = load(name, Decimal::from(1000))?;
        let assets: Vec<&str> = c.assets.iter().map(|a| a.as_str()).collect();
        let rebalance = match c.rebalance.trigger {
            ballast_core::trigger::Trigger::Threshold { threshold, .. } => match threshold.kind() {
                ballast_core::DriftKind::Absolute => format!("drift > {} points", threshold.percent().normalize()),
                ballast_core::DriftKind::Relative => format!("drift > {}% of target", threshold.percent().normalize()),
            },
            ballast_core::trigger::Trigger::Calendar { every, .. } => format!("every {every}"),
        };
        let get = |k: &str| c.provenance.get(k).cloned().unwrap_or_default();
        println!(
            "{:<20} {:<42} {:<12} {:<22} {:>9} {:>9} {:>8}",
            name,
            assets.join(","),
            c.weights.method.to_string(),
            rebalance,
            get("oos_cagr"),
            get("oos_hodl_cagr"),
            get("votes").replace(" windows", "")
        );
    }
    println!();
    println!("Out-of-sample CAGR of the preset held fixed, next to HODL of the same coins; how each was");
    println!("chosen: docs/PRESETS.md. `ballast presets NAME` prints one; `ballast backtest --preset NAME` runs it.");
    Ok(())
}

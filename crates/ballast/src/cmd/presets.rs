//! `ballast presets`: the ready-made strategies shipped with ballast (the presets
//! themselves live in the application layer, [`ballast_app::presets`]).

use anyhow::Result;
use rust_decimal::Decimal;

pub use ballast_app::presets::{PRESETS, find, load};

/// Arguments of `ballast presets`.
#[derive(Debug, clap::Args)]
pub struct PresetsArgs {
    /// Print this preset's profile (TOML) instead of the list.
    #[arg(value_name = "NAME")]
    pub show: Option<String>,
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

//! The ready-made strategies shipped with ballast.
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
    ("majors-threshold", include_str!("../../../presets/majors-threshold.toml")),
    ("majors-calendar", include_str!("../../../presets/majors-calendar.toml")),
    ("top10-equal", include_str!("../../../presets/top10-equal.toml")),
    ("majors-risk-parity", include_str!("../../../presets/majors-risk-parity.toml")),
    ("market-cap-capped", include_str!("../../../presets/market-cap-capped.toml")),
];

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

//! Profiles: a bot's configuration without an amount, to copy a bot with one command
//! (`bot export`, then `bot create --profile`), as a one-line form or TOML.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;

/// The prefix of the one-line form.
pub const PROFILE_PREFIX: &str = "ballast-profile:1:";

/// The profile of a configuration: its TOML without amount.
pub fn profile_toml(config_toml: &str) -> Result<String> {
    let mut t: toml::Table = config_toml.parse().context("stored configuration")?;
    t.remove("amount");
    Ok(toml::to_string(&t)?)
}

/// The one-line form of a profile.
pub fn profile_line(profile: &str) -> String {
    format!("{PROFILE_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(profile.as_bytes()))
}

/// Reads a profile given as a preset name, a file, or a one-line form.
pub fn read_profile(s: &str) -> Result<(String, String)> {
    if let Some(b) = s.trim().strip_prefix(PROFILE_PREFIX) {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(b.trim())
            .map_err(|e| anyhow!("--profile: the one-line profile is damaged ({e})"))?;
        let text =
            String::from_utf8(bytes).map_err(|_| anyhow!("--profile: the one-line profile is damaged (not UTF-8)"))?;
        return Ok(("profile line".into(), text));
    }
    if let Ok(t) = crate::presets::find(s) {
        return Ok((format!("preset {s}"), t.to_string()));
    }
    let p = Path::new(s);
    // Only a regular file: a device (/dev/zero) or a fifo would be read without end.
    if p.is_file() {
        return Ok((p.display().to_string(), std::fs::read_to_string(p).with_context(|| format!("--profile {s}"))?));
    }
    bail!("--profile {s:?}: not a preset, a file or a one-line profile (`ballast presets` lists the presets)")
}

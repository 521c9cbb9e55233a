//! Many bots from one file (a platform-like setup): `ballast bot create-many FILE`.
//!
//! ```toml
//! # Every entry is a profile (a preset name, a profile file or the one-line form of
//! # `bot export`) with an amount; `count` makes that many bots, named NAME-1 ..
//! # NAME-count (NAME: the entry's `name`, else the profile's).
//! [[bot]]
//! profile = "majors-threshold"
//! amount = "1000"
//! count = 100
//!
//! [[bot]]
//! profile = "top10-equal"
//! amount = "250"
//! name = "wide"
//! ```

use std::path::Path;

use anyhow::{Result, anyhow, bail};
use rust_decimal::Decimal;

use crate::config::BotConfig;

/// The most bots one file may create.
pub const MAX_BOTS: u64 = 100_000;

/// One bot of a fleet file: its configuration and the text it is stored with.
#[derive(Debug)]
pub struct FleetBot {
    /// Its configuration.
    pub config: BotConfig,
    /// The configuration text stored with the bot.
    pub text: String,
}

/// Reads a fleet file's text; `origin` names it in errors (with the entry and key).
pub fn parse_fleet(origin: &Path, text: &str) -> Result<Vec<FleetBot>> {
    let at = origin.display();
    let doc: toml::Table = text.parse().map_err(|e: toml::de::Error| anyhow!("{at}: invalid TOML: {e}"))?;
    if let Some(k) = doc.keys().find(|k| *k != "bot") {
        bail!("{at}: unknown key {k:?}; a fleet file holds [[bot]] entries only");
    }
    let entries = match doc.get("bot") {
        Some(toml::Value::Array(a)) if !a.is_empty() => a,
        _ => bail!("{at}: no [[bot]] entry"),
    };
    let mut out = Vec::new();
    for (n, entry) in entries.iter().enumerate() {
        let n = n + 1;
        let where_ = |key: &str| format!("{at}: bot entry {n}: {key}");
        let Some(t) = entry.as_table() else { bail!("{at}: bot entry {n} is not a table") };
        if let Some(k) = t.keys().find(|k| !["profile", "amount", "name", "count"].contains(&k.as_str())) {
            bail!("{}: unknown key (profile, amount, name and count are known)", where_(k));
        }
        let profile = match t.get("profile") {
            Some(toml::Value::String(s)) => s,
            Some(_) => bail!("{}: must be a string", where_("profile")),
            None => bail!("{}: missing (a preset name, a profile file or a one-line profile)", where_("profile")),
        };
        let amount: Decimal = match t.get("amount") {
            Some(toml::Value::String(s)) => {
                s.trim().parse().map_err(|_| anyhow!("{}: {s:?} is not a number", where_("amount")))?
            }
            Some(toml::Value::Integer(i)) => Decimal::from(*i),
            Some(_) => bail!("{}: must be a number as a string, such as \"1000\"", where_("amount")),
            None => bail!("{}: missing", where_("amount")),
        };
        let count = match t.get("count") {
            None => 1,
            Some(toml::Value::Integer(c)) if *c >= 1 && (*c as u64) <= MAX_BOTS => *c as u64,
            Some(v) => bail!("{}: {v} is not a count from 1 to {MAX_BOTS}", where_("count")),
        };
        let (from, profile_text) =
            crate::profile::read_profile(profile).map_err(|e| anyhow!("{}: {e:#}", where_("profile")))?;
        let mut table: toml::Table = profile_text
            .parse()
            .map_err(|e: toml::de::Error| anyhow!("{}: {from}: invalid TOML: {e}", where_("profile")))?;
        table.remove("preset");
        if table.contains_key("amount") {
            bail!("{}: {from} carries an amount; a profile has none (give it in the entry)", where_("profile"));
        }
        let name = match t.get("name") {
            Some(toml::Value::String(s)) => s.clone(),
            Some(_) => bail!("{}: must be a string", where_("name")),
            None => table.get("name").and_then(|v| v.as_str()).unwrap_or("ballast").to_string(),
        };
        for i in 1..=count {
            let mut table = table.clone();
            let bot_name = if count == 1 { name.clone() } else { format!("{name}-{i}") };
            table.insert("name".into(), toml::Value::String(bot_name));
            table.insert("amount".into(), toml::Value::String(amount.to_string()));
            let text = toml::to_string(&table)?;
            let config = BotConfig::parse_text(Path::new(&where_("profile")), &text)?;
            out.push(FleetBot { config, text });
            if out.len() as u64 > MAX_BOTS {
                bail!("{at}: more than {MAX_BOTS} bots");
            }
        }
    }
    let mut names: Vec<&str> = out.iter().map(|b| b.config.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        bail!("{at}: two bots would be named {:?}; give the entries different names", w[0]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<FleetBot>> {
        parse_fleet(Path::new("fleet.toml"), text)
    }

    #[test]
    fn entries_with_counts_become_named_bots() {
        let bots = parse(
            "[[bot]]\nprofile = \"majors-threshold\"\namount = \"1000\"\ncount = 3\n\n\
             [[bot]]\nprofile = \"top10-equal\"\namount = \"250\"\nname = \"wide\"\n",
        )
        .unwrap();
        let names: Vec<&str> = bots.iter().map(|b| b.config.name.as_str()).collect();
        assert_eq!(names, ["majors-threshold-1", "majors-threshold-2", "majors-threshold-3", "wide"]);
        assert_eq!(bots[0].config.amount, Decimal::from(1000));
        assert_eq!(bots[3].config.amount, Decimal::from(250));
        assert_eq!(bots[3].config.assets.len(), 10);
        // The stored text is a whole configuration of its own.
        let again = BotConfig::parse_stored(&bots[1].text).unwrap();
        assert_eq!(again.name, "majors-threshold-2");
    }

    #[test]
    fn mistakes_name_the_entry_and_key() {
        let cases = [
            ("x = 1", "unknown key \"x\""),
            ("[[bot]]\namount = \"1\"", "bot entry 1: profile: missing"),
            ("[[bot]]\nprofile = \"majors-threshold\"", "bot entry 1: amount: missing"),
            (
                "[[bot]]\nprofile = \"majors-threshold\"\namount = \"ten\"",
                "bot entry 1: amount: \"ten\" is not a number",
            ),
            (
                "[[bot]]\nprofile = \"majors-threshold\"\namount = \"10\"\ncount = 0",
                "bot entry 1: count: 0 is not a count",
            ),
            (
                "[[bot]]\nprofile = \"majors-threshold\"\namount = \"10\"\ncount = 100001",
                "count: 100001 is not a count",
            ),
            ("[[bot]]\nprofile = \"nope\"\namount = \"10\"", "bot entry 1: profile"),
            (
                "[[bot]]\nprofile = \"majors-threshold\"\namount = \"10\"\ncolour = 1",
                "bot entry 1: colour: unknown key",
            ),
            (
                "[[bot]]\nprofile = \"majors-threshold\"\namount = \"10\"\n[[bot]]\nprofile = \"majors-threshold\"\namount = \"20\"",
                "two bots would be named \"majors-threshold\"",
            ),
            ("", "no [[bot]] entry"),
        ];
        for (text, want) in cases {
            let e = format!("{:#}", parse(text).unwrap_err());
            assert!(e.contains(want) && e.contains("fleet.toml"), "{text:?}: {e}");
        }
    }
}

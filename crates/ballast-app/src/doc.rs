//! Reading user TOML files with errors that name the file, the key and the problem.

use std::fmt::Display;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};
use ballast_core::Asset;
use ballast_core::money::parse_decimal;
use rust_decimal::Decimal;
use toml::{Table, Value};

/// A parsed TOML file and its path, for error messages.
pub struct Doc {
    /// The file.
    pub path: PathBuf,
    /// Its top-level table.
    pub root: Table,
}

impl Doc {
    /// Reads and parses a TOML file.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| anyhow!("{}: cannot read: {e}", path.display()))?;
        Self::parse(path, &text)
    }

    /// Parses TOML text that came from `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let root: Table = text
            .parse()
            .map_err(|e: toml::de::Error| anyhow!("{}: invalid TOML: {}", path.display(), e.to_string().trim_end()))?;
        Ok(Self { path: path.to_path_buf(), root })
    }

    /// An error about `key` in this file.
    pub fn err(&self, key: &str, problem: impl Display) -> anyhow::Error {
        anyhow!("{}: {key}: {problem}", self.path.display())
    }

    /// Refuses keys of `table` not in `allowed`.
    pub fn deny_unknown(&self, table: &Table, prefix: &str, allowed: &[&str]) -> Result<()> {
        for k in table.keys() {
            if !allowed.contains(&k.as_str()) {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                return Err(self.err(&key, format!("unknown key (expected one of: {})", allowed.join(", "))));
            }
        }
        Ok(())
    }

    /// A decimal from a string (exact) or a TOML number.
    pub fn decimal(&self, v: &Value, key: &str) -> Result<Decimal> {
        let parsed = match v {
            Value::String(s) => parse_decimal(s).map_err(|e| e.to_string()),
            Value::Integer(i) => Ok(Decimal::from(*i)),
            // Rust prints the shortest text that reads back as the same float, which
            // is what the user typed for any number with up to 15 significant digits.
            Value::Float(f) if f.is_finite() => parse_decimal(&f.to_string()).map_err(|e| e.to_string()),
            Value::Float(f) => Err(format!("{f} is not a finite number")),
            other => Err(format!("expected a number, found {}", other.type_str())),
        };
        parsed.map_err(|e| self.err(key, e))
    }

    /// A non-negative integer.
    pub fn usize(&self, v: &Value, key: &str) -> Result<usize> {
        match v {
            Value::Integer(i) if *i >= 0 => Ok(*i as usize),
            other => Err(self.err(key, format!("expected a whole number >= 0, found {other}"))),
        }
    }

    /// A string.
    pub fn string<'a>(&self, v: &'a Value, key: &str) -> Result<&'a str> {
        v.as_str().ok_or_else(|| self.err(key, format!("expected a string, found {}", v.type_str())))
    }

    /// An asset symbol.
    pub fn asset(&self, v: &Value, key: &str) -> Result<Asset> {
        Asset::new(self.string(v, key)?).map_err(|e| self.err(key, e))
    }

    /// A table.
    pub fn table<'a>(&self, v: &'a Value, key: &str) -> Result<&'a Table> {
        v.as_table().ok_or_else(|| self.err(key, format!("expected a table, found {}", v.type_str())))
    }

    /// The entries of a top-level table keyed by asset: `(asset, value, "table.ASSET")`.
    /// Two keys naming the same asset (`btc` and `BTC`) are an error.
    pub fn asset_table(&self, name: &str, required: bool) -> Result<Vec<(Asset, &Value, String)>> {
        let Some(v) = self.root.get(name) else {
            if required {
                return Err(self.err(name, "missing table"));
            }
            return Ok(vec![]);
        };
        let t = self.table(v, name)?;
        let mut out: Vec<(Asset, &Value, String)> = Vec::new();
        for (k, v) in t {
            let key = format!("{name}.{k}");
            let asset = Asset::new(k).map_err(|e| self.err(&key, e))?;
            if let Some((_, _, first)) = out.iter().find(|(a, _, _)| *a == asset) {
                return Err(self.err(&key, format!("{asset} is listed twice (also as {first})")));
            }
            out.push((asset, v, key));
        }
        Ok(out)
    }
}

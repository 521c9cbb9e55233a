//! Asset symbols.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::CoreError;

/// An asset symbol such as `BTC` or `USDT`: 1 to 20 characters, upper-case letters and
/// digits. Lower-case input is upper-cased, so `btc` and `BTC` are the same asset.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Asset(String);

impl Asset {
    /// Parses and normalises a symbol.
    pub fn new(symbol: &str) -> Result<Self, CoreError> {
        let s = symbol.trim().to_ascii_uppercase();
        if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) {
            return Err(CoreError::InvalidAsset(symbol.to_string()));
        }
        Ok(Self(s))
    }

    /// The symbol.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Asset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Asset {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<String> for Asset {
    type Error = CoreError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(&s)
    }
}

impl From<Asset> for String {
    fn from(a: Asset) -> String {
        a.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_and_validates() {
        assert_eq!(Asset::new(" btc ").unwrap().as_str(), "BTC");
        assert_eq!(Asset::new("1INCH").unwrap().as_str(), "1INCH");
        assert!(Asset::new("").is_err());
        assert!(Asset::new("BTC/USDT").is_err());
        assert!(Asset::new(&"A".repeat(21)).is_err());
    }
}

//! The core's error type. Every variant names the culprit (asset, key, value) and
//! the rule it breaks, so the binary can print it as is.

use thiserror::Error;

/// An error from the core: always bad input, never an internal failure.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CoreError {
    /// Text that should be a number is not one.
    #[error("not a number: {0:?}")]
    NotANumber(String),
    /// A value outside its allowed range.
    #[error("{what} = {value} is out of range (allowed: {range})")]
    OutOfRange {
        /// What the value is (a key or a field).
        what: String,
        /// The value given.
        value: String,
        /// The allowed range, in words.
        range: String,
    },
    /// A symbol that is not a valid asset name.
    #[error("invalid asset symbol {0:?}: use 1 to 20 characters A-Z, 0-9")]
    InvalidAsset(String),
    /// Target weights break a rule.
    #[error("targets: {0}")]
    Targets(String),
    /// A computation would leave the range of the decimal type (about 7.9e28).
    #[error("{0}: the numbers are too large to compute (the amounts or prices are beyond any real portfolio)")]
    Overflow(String),
    /// A price needed for an asset is missing.
    #[error("no price for {0}")]
    MissingPrice(String),
    /// A price that is zero or negative.
    #[error("price of {asset} is {price}: a price must be greater than zero")]
    NonPositivePrice {
        /// The asset.
        asset: String,
        /// The price given.
        price: String,
    },
    /// A negative holding.
    #[error("holding of {asset} is {qty}: a holding cannot be negative")]
    NegativeHolding {
        /// The asset.
        asset: String,
        /// The quantity given.
        qty: String,
    },
    /// Trading rules that make no sense.
    #[error("rules for {asset}: {problem}")]
    Rules {
        /// The asset.
        asset: String,
        /// What is wrong.
        problem: String,
    },
    /// A trigger configuration that is not allowed.
    #[error("trigger: {0}")]
    Trigger(String),
    /// A duration that cannot be parsed.
    #[error("invalid duration {0:?}: use a number and a unit, e.g. 30m, 4h, 7d, 2w")]
    InvalidDuration(String),
    /// Weighting input that cannot produce weights.
    #[error("weights ({method}): {problem}")]
    Weighting {
        /// The weighting method.
        method: String,
        /// What is wrong with the input.
        problem: String,
    },
}

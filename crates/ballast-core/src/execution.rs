//! How a bot executes its plans: the execution settings (`[execution]` of a bot's
//! configuration, and the backtester's exchange mode).
//!
//! - `style`: `taker` (market orders) or `maker_first` (a post-only limit order at the
//!   touch, re-priced every `reprice`, finished as a market order after `deadline`).
//! - `direct_pairs`: a rebalance that sells A and buys B trades the pair A/B (or B/A)
//!   when the venue lists it and one leg is cheaper than two quote legs.
//! - `new_cash_first`: an investment buys the underweight coins first and sells only
//!   what the band still needs (see [`crate::planner::rebalance_with_cash`]).
//!
//! Pure data with its validation; the engine and the backtester act on it.

use serde::{Deserialize, Serialize};

use crate::error::CoreError;
use crate::time::Span;

/// The shortest re-price interval.
pub const MIN_REPRICE: Span = Span::from_secs(5);
/// The longest deadline of a maker-first order.
pub const MAX_DEADLINE: Span = Span::days(7);

/// Market orders, or post-only limit orders first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "style", rename_all = "snake_case")]
pub enum OrderStyle {
    /// Every leg is a market order (pays the taker fee and the spread).
    #[default]
    Taker,
    /// Every leg first rests as a post-only limit order at the touch (the best bid for
    /// a buy, the best ask for a sell), re-priced to the touch every `reprice`; what is
    /// not filled after `deadline` is finished as a market order.
    MakerFirst {
        /// How often a resting order is moved back to the touch.
        reprice: Span,
        /// How long the leg may rest before it is finished as a market order.
        deadline: Span,
    },
}

/// A bot's execution settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Execution {
    /// Taker or maker-first.
    #[serde(flatten)]
    pub style: OrderStyle,
    /// Trade a cross pair (A/B) instead of two quote legs when it is cheaper.
    #[serde(default)]
    pub direct_pairs: bool,
    /// An investment is spent on the underweight coins first.
    #[serde(default = "yes")]
    pub new_cash_first: bool,
}

fn yes() -> bool {
    true
}

impl Default for Execution {
    /// Market orders, no direct pairs, new cash first.
    fn default() -> Self {
        Self { style: OrderStyle::Taker, direct_pairs: false, new_cash_first: true }
    }
}

impl Execution {
    /// Checks the settings: a maker-first `reprice` of at least 5 s, a `deadline` of at
    /// least one `reprice` and at most 7 days. The error names the key.
    pub fn validate(&self) -> Result<(), CoreError> {
        if let OrderStyle::MakerFirst { reprice, deadline } = self.style {
            if reprice < MIN_REPRICE {
                return Err(CoreError::OutOfRange {
                    what: "execution.reprice".into(),
                    value: reprice.to_string(),
                    range: format!("at least {MIN_REPRICE}"),
                });
            }
            if deadline < reprice || deadline > MAX_DEADLINE {
                return Err(CoreError::OutOfRange {
                    what: "execution.deadline".into(),
                    value: deadline.to_string(),
                    range: format!("from the reprice interval ({reprice}) to {MAX_DEADLINE}"),
                });
            }
        }
        Ok(())
    }

    /// True for maker-first.
    pub fn maker_first(&self) -> bool {
        matches!(self.style, OrderStyle::MakerFirst { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maker_first_needs_a_sane_reprice_and_deadline() {
        let mk = |r: Span, d: Span| Execution {
            style: OrderStyle::MakerFirst { reprice: r, deadline: d },
            ..Execution::default()
        };
        assert!(mk(Span::minutes(1), Span::minutes(30)).validate().is_ok());
        let e = mk(Span::from_secs(1), Span::minutes(30)).validate().unwrap_err().to_string();
        assert!(e.contains("execution.reprice"), "{e}");
        let e = mk(Span::minutes(10), Span::minutes(5)).validate().unwrap_err().to_string();
        assert!(e.contains("execution.deadline"), "{e}");
        let e = mk(Span::minutes(10), Span::days(8)).validate().unwrap_err().to_string();
        assert!(e.contains("execution.deadline"), "{e}");
        assert!(Execution::default().validate().is_ok());
    }

    #[test]
    fn round_trips_through_serde_with_defaults() {
        let e: Execution = serde_json::from_str(r#"{"style":"taker"}"#).unwrap();
        assert_eq!(e, Execution::default());
        let m = Execution {
            style: OrderStyle::MakerFirst { reprice: Span::minutes(1), deadline: Span::hours(1) },
            direct_pairs: true,
            new_cash_first: false,
        };
        let text = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<Execution>(&text).unwrap(), m);
    }
}

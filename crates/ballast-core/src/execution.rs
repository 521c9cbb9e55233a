//! How a bot executes its plans: the execution settings (`[execution]` of a bot's
//! configuration, and the backtester's exchange mode).
//!
//! - `style`: `taker` (market orders) or `maker_first` (a post-only limit order at the
//!   touch, re-priced every `reprice`, finished as a market order after `deadline`).
//! - `direct_pairs`: a rebalance that sells A and buys B trades the pair A/B (or B/A)
//!   when the venue lists it and one leg is cheaper than two quote legs.
//! - `new_cash_first`: an investment buys the underweight coins first and sells only
//!   what the band still needs (see [`crate::planner::rebalance_with_cash`]).
//! - `fee_reserve`: keep a small reserve of the venue's fee asset (BNB on Binance, GT
//!   on Gate) so that the venue charges its discounted fee in it ([`FeeReserve`]).
//!
//! Pure data with its validation; the engine and the backtester act on it.

use std::borrow::Cow;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::asset::Asset;
use crate::error::CoreError;
use crate::money::Bps;
use crate::portfolio::Holdings;
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

/// A reserve of the venue's fee asset (BNB on Binance, GT on Gate) that the bot keeps
/// topped up, so that the venue charges its fees in that asset at its discounted rate.
///
/// The one place that decides what the reserve is to the bot: it is the user's money
/// (its value counts in the bot's total value and profit, and a stop that converts
/// everything to the quote sells it), but it is not one of the bot's coins: it has no
/// weight, no drift, and a rebalance never sells it as an off-target holding
/// ([`FeeReserve::coins_only`]). When a plan trades and the reserve is worth less than
/// `min`, one buy leg brings it back to `target`
/// ([`crate::planner::top_up_fee_reserve`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeReserve {
    /// The fee asset.
    pub asset: Asset,
    /// Top up when the reserve is worth less than this, in the bot's quote currency.
    pub min: Decimal,
    /// What a top-up brings the reserve to, in the bot's quote currency.
    pub target: Decimal,
}

impl FeeReserve {
    /// Checks the reserve against the bot: `min` above zero, `target` at least `min`,
    /// the asset neither the quote currency nor one of the bot's coins (a coin's
    /// holdings are rebalanced against its weight, so they cannot also be a reserve).
    /// The error names the key.
    pub fn validate(&self, quote: &Asset, coins: &[Asset]) -> Result<(), CoreError> {
        if self.min <= Decimal::ZERO {
            return Err(CoreError::OutOfRange {
                what: "execution.fee_reserve.min".into(),
                value: self.min.to_string(),
                range: format!("more than 0 {quote}"),
            });
        }
        if self.target < self.min {
            return Err(CoreError::OutOfRange {
                what: "execution.fee_reserve.target".into(),
                value: self.target.to_string(),
                range: format!("at least min ({} {quote})", self.min),
            });
        }
        if &self.asset == quote {
            return Err(CoreError::OutOfRange {
                what: "execution.fee_reserve.asset".into(),
                value: self.asset.to_string(),
                range: format!("not the quote currency {quote}: fees in the quote need no reserve"),
            });
        }
        if coins.contains(&self.asset) {
            return Err(CoreError::OutOfRange {
                what: "execution.fee_reserve.asset".into(),
                value: self.asset.to_string(),
                range: format!(
                    "not one of the bot's coins: {} has a target weight, so its holdings would be rebalanced \
                     against that weight instead of kept as a fee reserve",
                    self.asset
                ),
            });
        }
        Ok(())
    }

    /// The holdings the bot's coins are weighed and rebalanced with: without the
    /// reserve (`reserve` `None`, or the reserve not held: all of them, not copied).
    pub fn coins_only<'a>(reserve: Option<&FeeReserve>, holdings: &'a Holdings) -> Cow<'a, Holdings> {
        match reserve {
            Some(r) if holdings.contains_key(&r.asset) => {
                let mut h = holdings.clone();
                h.remove(&r.asset);
                Cow::Owned(h)
            }
            _ => Cow::Borrowed(holdings),
        }
    }
}

/// A bot's execution settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Keep a reserve of the venue's fee asset topped up ([`FeeReserve`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee_reserve: Option<FeeReserve>,
}

fn yes() -> bool {
    true
}

impl Default for Execution {
    /// Market orders, no direct pairs, new cash first.
    fn default() -> Self {
        Self { style: OrderStyle::Taker, direct_pairs: false, new_cash_first: true, fee_reserve: None }
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

/// The fee rates a bot pays: the venue's (`Exchange::fee_rates`) when it says, else
/// the bot's configured `fee` for both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeRates {
    /// On a fill of a resting (post-only) order.
    pub maker: Bps,
    /// On a fill that takes liquidity (a market order).
    pub taker: Bps,
}

impl FeeRates {
    /// The same rate for makers and takers.
    pub fn flat(fee: Bps) -> Self {
        Self { maker: fee, taker: fee }
    }
}

/// How one leg is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegStyle {
    /// A market order.
    Taker,
    /// A post-only order at the touch, finished as a market order after the deadline.
    Maker,
}

impl std::fmt::Display for LegStyle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LegStyle::Taker => "taker",
            LegStyle::Maker => "maker",
        })
    }
}

/// What is known of one symbol's cost of trading, as fractions of the traded value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SymbolCost {
    /// Half the spread: what a taker pays over the mid and a maker earns.
    pub half_spread: Decimal,
    /// The expected cost of waiting for a maker fill (the mid's move against a resting
    /// order before it fills or is finished as a taker).
    pub wait: Decimal,
}

impl Execution {
    /// The style the bot sends a leg in unless the planner chose otherwise.
    pub fn leg_style(&self) -> LegStyle {
        if self.maker_first() { LegStyle::Maker } else { LegStyle::Taker }
    }

    /// The styles a leg may be sent in: a taker bot sends market orders only; a
    /// maker-first bot rests a leg or, when that is expected to cost more, sends it as
    /// a market order.
    pub fn leg_styles(&self) -> &'static [LegStyle] {
        if self.maker_first() { &[LegStyle::Maker, LegStyle::Taker] } else { &[LegStyle::Taker] }
    }
}

/// The expected cost of one leg, as a fraction of its value: the taker fee plus the
/// half-spread for a market order; the maker fee minus the half-spread (earned at the
/// touch) plus the expected cost of waiting for a resting order.
pub fn expected_cost(style: LegStyle, fees: FeeRates, cost: SymbolCost) -> Decimal {
    match style {
        LegStyle::Taker => fees.taker.fraction() + cost.half_spread,
        LegStyle::Maker => fees.maker.fraction() - cost.half_spread + cost.wait,
    }
}

/// The cheapest style among `styles` for a symbol, with its expected cost (the
/// first listed wins a tie).
pub fn cheapest(styles: &[LegStyle], fees: FeeRates, cost: SymbolCost) -> Option<(LegStyle, Decimal)> {
    styles.iter().map(|s| (*s, expected_cost(*s, fees, cost))).fold(None, |best, (s, c)| match best {
        Some((_, b)) if b <= c => best,
        _ => Some((s, c)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn a_maker_leg_costs_its_fee_less_the_spread_plus_the_wait() {
        let fees = FeeRates { maker: Bps(dec!(2)), taker: Bps(dec!(10)) };
        let c = SymbolCost { half_spread: dec!(0.0003), wait: dec!(0.0005) };
        assert_eq!(expected_cost(LegStyle::Taker, fees, c), dec!(0.0013));
        assert_eq!(expected_cost(LegStyle::Maker, fees, c), dec!(0.0004));
        let maker = Execution {
            style: OrderStyle::MakerFirst { reprice: Span::minutes(1), deadline: Span::hours(1) },
            ..Execution::default()
        };
        assert_eq!(cheapest(maker.leg_styles(), fees, c), Some((LegStyle::Maker, dec!(0.0004))));
        // Waiting that costs more than the fee saved: a market order.
        let slow = SymbolCost { wait: dec!(0.002), ..c };
        assert_eq!(cheapest(maker.leg_styles(), fees, slow), Some((LegStyle::Taker, dec!(0.0013))));
        // A taker bot never rests.
        assert_eq!(cheapest(Execution::default().leg_styles(), fees, c), Some((LegStyle::Taker, dec!(0.0013))));
    }

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
            fee_reserve: Some(FeeReserve { asset: Asset::new("BNB").unwrap(), min: dec!(10), target: dec!(25) }),
        };
        let text = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<Execution>(&text).unwrap(), m);
    }
}

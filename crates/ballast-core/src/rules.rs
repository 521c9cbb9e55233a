//! Exchange trading rules for one symbol and the rounding they impose.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::asset::Asset;
use crate::error::CoreError;
use crate::money::{Notional, Price, Qty};

/// The filters an exchange applies to orders on one symbol (base/quote), in the
/// shape of Binance's `PRICE_FILTER`, `LOT_SIZE` and `NOTIONAL`.
///
/// A zero `tick` or `step` means "no rounding" and a zero minimum means "no minimum".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SymbolRules {
    /// Price increment.
    pub tick: Decimal,
    /// Quantity increment.
    pub step: Decimal,
    /// Smallest order quantity.
    pub min_qty: Decimal,
    /// Smallest order value in the quote currency.
    pub min_notional: Decimal,
}

/// How a price is rounded to the tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PriceRounding {
    /// To the nearest tick (half away from zero).
    Nearest,
    /// Down: for a buy limit, never pay more than asked.
    Down,
    /// Up: for a sell limit, never sell for less than asked.
    Up,
}

impl Default for SymbolRules {
    /// The rules used when an exchange gives none: 8 decimals of quantity and price
    /// (the finest any supported venue uses) and no minimums.
    fn default() -> Self {
        Self { tick: Decimal::new(1, 8), step: Decimal::new(1, 8), min_qty: Decimal::ZERO, min_notional: Decimal::ZERO }
    }
}

impl SymbolRules {
    /// Checks that no field is negative.
    pub fn validate(&self, asset: &Asset) -> Result<(), CoreError> {
        for (name, v) in
            [("tick", self.tick), ("step", self.step), ("min_qty", self.min_qty), ("min_notional", self.min_notional)]
        {
            if v < Decimal::ZERO {
                return Err(CoreError::Rules {
                    asset: asset.to_string(),
                    problem: format!("{name} = {v} is negative"),
                });
            }
        }
        Ok(())
    }

    /// Rounds a quantity down to a whole number of steps (never up: an order must not
    /// sell more than is held or spend more than is there).
    pub fn floor_qty(&self, qty: Qty) -> Qty {
        Qty(floor_to(qty.0, self.step))
    }

    /// Rounds a price to the tick.
    pub fn round_price(&self, price: Price, how: PriceRounding) -> Price {
        if self.tick.is_zero() {
            return price;
        }
        // Checked: at the type's limits (a price near its maximum, a tiny tick) the
        // price is left as it is, and the planner's own checked arithmetic says so.
        let Some(units) = price.0.checked_div(self.tick) else { return price };
        let units = match how {
            PriceRounding::Nearest => {
                units.round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
            }
            PriceRounding::Down => units.floor(),
            PriceRounding::Up if units.fract().is_zero() => units,
            PriceRounding::Up => match units.trunc().checked_add(Decimal::ONE) {
                Some(u) => u,
                None => return price,
            },
        };
        units.checked_mul(self.tick).map(|p| Price(p.normalize())).unwrap_or(price)
    }

    /// Why an order of `qty` at `price` would be refused, if it would.
    pub fn check(&self, qty: Qty, price: Price) -> Option<RuleViolation> {
        if qty.0 <= Decimal::ZERO {
            return Some(RuleViolation::RoundsToZero { step: self.step });
        }
        if qty.0 < self.min_qty {
            return Some(RuleViolation::BelowMinQty { qty, min_qty: self.min_qty });
        }
        let notional = qty * price;
        if notional.0 < self.min_notional {
            return Some(RuleViolation::BelowMinNotional { notional, min_notional: self.min_notional });
        }
        None
    }

    /// The smallest order value these rules accept at `price`: the larger of the
    /// minimum notional and the minimum quantity (or one step) times the price.
    pub fn min_order_value(&self, price: Price) -> Notional {
        let min_units = self.min_qty.max(self.step);
        Notional(self.min_notional.max(min_units * price.0))
    }
}

/// A filter an order breaks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum RuleViolation {
    /// The quantity is zero after rounding down to the step.
    RoundsToZero {
        /// The step size.
        step: Decimal,
    },
    /// Below the minimum quantity.
    BelowMinQty {
        /// The order quantity.
        qty: Qty,
        /// The minimum.
        min_qty: Decimal,
    },
    /// Below the minimum order value.
    BelowMinNotional {
        /// The order value.
        notional: Notional,
        /// The minimum.
        min_notional: Decimal,
    },
}

impl std::fmt::Display for RuleViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::RoundsToZero { step } => write!(f, "quantity rounds to zero at step {}", step.normalize()),
            Self::BelowMinQty { qty, min_qty } => {
                write!(f, "quantity {qty} is below the minimum quantity {}", min_qty.normalize())
            }
            Self::BelowMinNotional { notional, min_notional } => write!(
                f,
                "order value {} is below the minimum order value {}",
                notional.0.round_dp(8).normalize(),
                min_notional.normalize()
            ),
        }
    }
}

/// Rounds `value` down (toward zero for positives) to a multiple of `step`.
pub(crate) fn floor_to(value: Decimal, step: Decimal) -> Decimal {
    if step.is_zero() {
        return value;
    }
    // A huge value over a tiny step has more steps than the decimal type can count:
    // then the remainder is taken off instead (the same result where both work).
    match value.checked_div(step).and_then(|q| q.floor().checked_mul(step)) {
        Some(v) => v.normalize(),
        None => value.checked_rem(step).map(|r| value - r).unwrap_or(value).normalize(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn btc() -> SymbolRules {
        SymbolRules { tick: dec!(0.01), step: dec!(0.00001), min_qty: dec!(0.00001), min_notional: dec!(5) }
    }

    #[test]
    fn quantity_floors_to_step() {
        let r = btc();
        assert_eq!(r.floor_qty(Qty(dec!(0.123456789))), Qty(dec!(0.12345)));
        assert_eq!(r.floor_qty(Qty(dec!(0.00000999))), Qty(dec!(0)));
        assert_eq!(r.floor_qty(Qty(dec!(1))), Qty(dec!(1)));
    }

    #[test]
    fn step_need_not_be_a_power_of_ten() {
        let r = SymbolRules { step: dec!(0.5), ..btc() };
        assert_eq!(r.floor_qty(Qty(dec!(1.99))), Qty(dec!(1.5)));
    }

    #[test]
    fn price_rounds_to_tick() {
        let r = btc();
        assert_eq!(r.round_price(Price(dec!(84500.005)), PriceRounding::Nearest), Price(dec!(84500.01)));
        assert_eq!(r.round_price(Price(dec!(84500.009)), PriceRounding::Down), Price(dec!(84500.00)));
        assert_eq!(r.round_price(Price(dec!(84500.001)), PriceRounding::Up), Price(dec!(84500.01)));
    }

    #[test]
    fn check_reports_the_failing_rule() {
        let r = btc();
        let p = Price(dec!(84500));
        assert_eq!(r.check(Qty(dec!(0.001)), p), None);
        assert!(matches!(r.check(Qty(dec!(0)), p), Some(RuleViolation::RoundsToZero { .. })));
        assert!(matches!(r.check(Qty(dec!(0.00005)), p), Some(RuleViolation::BelowMinNotional { .. })));
        let r2 = SymbolRules { min_qty: dec!(0.001), ..btc() };
        assert!(matches!(r2.check(Qty(dec!(0.0005)), p), Some(RuleViolation::BelowMinQty { .. })));
    }

    #[test]
    fn min_order_value_takes_the_binding_rule() {
        let r = SymbolRules { min_qty: dec!(0.001), ..btc() };
        assert_eq!(r.min_order_value(Price(dec!(84500))), Notional(dec!(84.5)));
        assert_eq!(btc().min_order_value(Price(dec!(84500))), Notional(dec!(5)));
    }

    #[test]
    fn negative_rules_are_refused() {
        let r = SymbolRules { step: dec!(-1), ..btc() };
        let e = r.validate(&Asset::new("BTC").unwrap()).unwrap_err();
        assert!(e.to_string().contains("BTC") && e.to_string().contains("step"));
    }
}

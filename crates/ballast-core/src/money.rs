//! Exact money types.
//!
//! Every live price, quantity and balance is a [`rust_decimal::Decimal`] wrapped in a
//! newtype that says what it measures, so that a quantity cannot be passed where a
//! price is expected. On the wire (JSON, TOML) they are strings, so no float ever
//! touches an amount.

use std::fmt;
use std::ops::{Add, AddAssign, Div, Mul, Neg, Sub, SubAssign};
use std::str::FromStr;

use rust_decimal::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::CoreError;

macro_rules! decimal_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Decimal);

        impl $name {
            /// Zero.
            pub const ZERO: Self = Self(Decimal::ZERO);

            /// Wraps a decimal.
            pub const fn new(value: Decimal) -> Self {
                Self(value)
            }

            /// The inner decimal.
            pub const fn get(self) -> Decimal {
                self.0
            }

            /// True when the value is zero.
            pub fn is_zero(self) -> bool {
                self.0.is_zero()
            }

            /// True when the value is strictly below zero.
            pub fn is_negative(self) -> bool {
                self.0 < Decimal::ZERO
            }

            /// Absolute value.
            pub fn abs(self) -> Self {
                Self(self.0.abs())
            }

            /// The smaller of two values.
            pub fn min(self, other: Self) -> Self {
                if self <= other { self } else { other }
            }

            /// The larger of two values.
            pub fn max(self, other: Self) -> Self {
                if self >= other { self } else { other }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.normalize(), f)
            }
        }

        impl FromStr for $name {
            type Err = CoreError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_decimal(s).map(Self)
            }
        }

        impl Add for $name {
            type Output = Self;
            fn add(self, rhs: Self) -> Self {
                Self(self.0 + rhs.0)
            }
        }

        impl Sub for $name {
            type Output = Self;
            fn sub(self, rhs: Self) -> Self {
                Self(self.0 - rhs.0)
            }
        }

        impl AddAssign for $name {
            fn add_assign(&mut self, rhs: Self) {
                self.0 += rhs.0;
            }
        }

        impl SubAssign for $name {
            fn sub_assign(&mut self, rhs: Self) {
                self.0 -= rhs.0;
            }
        }

        impl Neg for $name {
            type Output = Self;
            fn neg(self) -> Self {
                Self(-self.0)
            }
        }

        impl std::iter::Sum for $name {
            fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
                Self(iter.map(|v| v.0).sum())
            }
        }
    };
}

decimal_newtype!(
    /// A price of one unit of an asset, in the quote currency.
    Price
);
decimal_newtype!(
    /// An amount of an asset (base units, or quote units for the quote currency).
    Qty
);
decimal_newtype!(
    /// A value in the quote currency (price times quantity).
    Notional
);
decimal_newtype!(
    /// A share of a portfolio as a fraction: 0.25 is 25 %.
    Weight
);

impl Mul<Price> for Qty {
    type Output = Notional;
    fn mul(self, rhs: Price) -> Notional {
        Notional(self.0 * rhs.0)
    }
}

impl Div<Price> for Notional {
    type Output = Qty;
    fn div(self, rhs: Price) -> Qty {
        Qty(self.0 / rhs.0)
    }
}

impl Mul<Weight> for Notional {
    type Output = Notional;
    fn mul(self, rhs: Weight) -> Notional {
        Notional(self.0 * rhs.0)
    }
}

impl Weight {
    /// A weight from a percentage (25 -> 0.25).
    pub fn from_percent(percent: Decimal) -> Self {
        Self(percent / Decimal::ONE_HUNDRED)
    }

    /// The weight as a percentage (0.25 -> 25).
    pub fn percent(self) -> Decimal {
        self.0 * Decimal::ONE_HUNDRED
    }
}

/// Basis points: 10 bps is 0.1 %. Used for fees and slippage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Bps(pub Decimal);

impl Bps {
    /// The largest fee or slippage accepted anywhere: 10 % (1,000 bps).
    pub const MAX: Decimal = Decimal::from_parts(1000, 0, 0, false, 0);

    /// Validated basis points: finite, 0 ..= 1,000.
    pub fn new(bps: Decimal) -> Result<Self, CoreError> {
        if bps < Decimal::ZERO || bps > Self::MAX {
            return Err(CoreError::OutOfRange {
                what: "fee_bps".into(),
                value: bps.to_string(),
                range: "0 ..= 1000".into(),
            });
        }
        Ok(Self(bps))
    }

    /// As a fraction: 10 bps -> 0.001.
    pub fn fraction(self) -> Decimal {
        self.0 / Decimal::from(10_000)
    }
}

impl fmt::Display for Bps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bps", self.0.normalize())
    }
}

/// The largest amount accepted from a user: an amount to invest, a quantity of a coin,
/// an initial capital (10^15). Far beyond any real portfolio, and small enough that
/// values, sums and fees computed from such amounts at real prices stay well inside
/// the decimal type's range (about 7.9 * 10^28), so they never overflow.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(2_764_472_320, 232_830, 0, false, 0);

/// An amount given by a user (`what` names it in the error): greater than zero and at
/// most [`MAX_AMOUNT`].
pub fn check_amount(what: &str, value: Decimal) -> Result<Decimal, CoreError> {
    if value <= Decimal::ZERO || value > MAX_AMOUNT {
        return Err(CoreError::OutOfRange {
            what: what.to_string(),
            value: value.normalize().to_string(),
            range: "greater than 0, at most 1000000000000000".into(),
        });
    }
    Ok(value)
}

/// Parses a decimal from text the way users and exchanges write it: plain
/// (`"84500.01"`) or scientific (`"1e-8"`), with surrounding spaces ignored.
pub fn parse_decimal(s: &str) -> Result<Decimal, CoreError> {
    let t = s.trim();
    Decimal::from_str(t).or_else(|_| Decimal::from_scientific(t)).map_err(|_| CoreError::NotANumber(s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn qty_times_price_is_notional() {
        assert_eq!(Qty(dec!(0.5)) * Price(dec!(84500)), Notional(dec!(42250)));
        assert_eq!(Notional(dec!(100)) / Price(dec!(4)), Qty(dec!(25)));
    }

    #[test]
    fn parses_plain_and_scientific() {
        assert_eq!(parse_decimal(" 1.5 ").unwrap(), dec!(1.5));
        assert_eq!(parse_decimal("1e-8").unwrap(), dec!(0.00000001));
        assert!(matches!(parse_decimal("abc"), Err(CoreError::NotANumber(_))));
    }

    #[test]
    fn amounts_are_bounded() {
        assert_eq!(MAX_AMOUNT, dec!(1000000000000000));
        assert_eq!(check_amount("amount", dec!(1000000000000000)).unwrap(), MAX_AMOUNT);
        let e = check_amount("amount", Decimal::MAX).unwrap_err().to_string();
        assert!(e.contains("amount = 79228162514264337593543950335") && e.contains("at most"), "{e}");
        assert!(check_amount("amount", dec!(0)).is_err());
        assert!(check_amount("amount", dec!(-1)).is_err());
    }

    #[test]
    fn bps_range_checked() {
        assert_eq!(Bps::new(dec!(10)).unwrap().fraction(), dec!(0.001));
        assert!(Bps::new(dec!(-1)).is_err());
        assert!(Bps::new(dec!(1001)).is_err());
    }

    #[test]
    fn display_is_normalised() {
        assert_eq!(Price(dec!(84500.000)).to_string(), "84500");
        assert_eq!(Weight::from_percent(dec!(25)).to_string(), "0.25");
    }

    #[test]
    fn serde_as_strings() {
        let json = serde_json::to_string(&Qty(dec!(0.00384615))).unwrap();
        assert_eq!(json, "\"0.00384615\"");
        let back: Qty = serde_json::from_str(&json).unwrap();
        assert_eq!(back, Qty(dec!(0.00384615)));
    }
}

//! Guards: per-asset entry prices, and the portfolio stop-loss and take-profit.
//!
//! Entry prices are applied by the planner (see [`crate::planner::PlanInput`]): an
//! asset is bought only at or below its entry price, and until then its share stays in
//! quote cash. Stop-loss and take-profit compare the portfolio's value with the net
//! amount invested (deposits minus withdrawals) and, when one trips, the bot sells
//! everything to quote and stops ([`crate::planner::plan_liquidation`]).

use std::collections::BTreeMap;
use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::asset::Asset;
use crate::error::CoreError;
use crate::money::{Notional, Price};

/// A bot's guards.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Guards {
    /// Buy an asset only at or below this price.
    #[serde(default)]
    pub entry_prices: BTreeMap<Asset, Price>,
    /// Sell all and stop when the value falls this many percent below the net amount
    /// invested (0 < x < 100).
    #[serde(default)]
    pub stop_loss_percent: Option<Decimal>,
    /// Sell all and stop when the value rises this many percent above the net amount
    /// invested (x > 0).
    #[serde(default)]
    pub take_profit_percent: Option<Decimal>,
}

/// Why a guard ends the bot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Exit {
    /// The stop-loss tripped.
    StopLoss {
        /// Portfolio value.
        value: Notional,
        /// The level it fell to or below.
        level: Notional,
    },
    /// The take-profit tripped.
    TakeProfit {
        /// Portfolio value.
        value: Notional,
        /// The level it rose to or above.
        level: Notional,
    },
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::StopLoss { value, level } => write!(
                f,
                "stop-loss: value {} is at or below {}; selling everything to cash",
                value.0.round_dp(2).normalize(),
                level.0.round_dp(2).normalize()
            ),
            Self::TakeProfit { value, level } => write!(
                f,
                "take-profit: value {} is at or above {}; selling everything to cash",
                value.0.round_dp(2).normalize(),
                level.0.round_dp(2).normalize()
            ),
        }
    }
}

impl Guards {
    /// Checks the levels: entry prices positive, stop-loss strictly between 0 and 100,
    /// take-profit positive.
    pub fn validate(&self) -> Result<(), CoreError> {
        for (asset, p) in &self.entry_prices {
            if p.0 <= Decimal::ZERO {
                return Err(CoreError::OutOfRange {
                    what: format!("entry_prices.{asset}"),
                    value: p.to_string(),
                    range: "greater than 0".into(),
                });
            }
        }
        if let Some(sl) = self.stop_loss_percent
            && (sl <= Decimal::ZERO || sl >= Decimal::ONE_HUNDRED)
        {
            return Err(CoreError::OutOfRange {
                what: "stop_loss".into(),
                value: format!("{}%", sl.normalize()),
                range: "between 0% and 100%, exclusive".into(),
            });
        }
        if let Some(tp) = self.take_profit_percent
            && tp <= Decimal::ZERO
        {
            return Err(CoreError::OutOfRange {
                what: "take_profit".into(),
                value: format!("{}%", tp.normalize()),
                range: "greater than 0%".into(),
            });
        }
        Ok(())
    }

    /// The stop-loss level for a net investment, if set.
    pub fn stop_loss_level(&self, net_invested: Notional) -> Option<Notional> {
        self.stop_loss_percent.map(|p| Notional(net_invested.0 * (Decimal::ONE - p / Decimal::ONE_HUNDRED)))
    }

    /// The take-profit level for a net investment, if set.
    pub fn take_profit_level(&self, net_invested: Notional) -> Option<Notional> {
        self.take_profit_percent.map(|p| Notional(net_invested.0 * (Decimal::ONE + p / Decimal::ONE_HUNDRED)))
    }

    /// Whether a stop-loss or take-profit trips at this value. Levels are inclusive. With
    /// nothing (or less than nothing) invested net, neither applies.
    pub fn check_exit(&self, value: Notional, net_invested: Notional) -> Option<Exit> {
        if net_invested.0 <= Decimal::ZERO {
            return None;
        }
        if let Some(level) = self.stop_loss_level(net_invested)
            && value <= level
        {
            return Some(Exit::StopLoss { value, level });
        }
        if let Some(level) = self.take_profit_level(net_invested)
            && value >= level
        {
            return Some(Exit::TakeProfit { value, level });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn guards(sl: Option<Decimal>, tp: Option<Decimal>) -> Guards {
        Guards { entry_prices: BTreeMap::new(), stop_loss_percent: sl, take_profit_percent: tp }
    }

    #[test]
    fn exits_at_their_levels_inclusive() {
        let g = guards(Some(dec!(20)), Some(dec!(50)));
        let inv = Notional(dec!(1000));
        assert_eq!(g.check_exit(Notional(dec!(800.01)), inv), None);
        assert_eq!(
            g.check_exit(Notional(dec!(800)), inv),
            Some(Exit::StopLoss { value: Notional(dec!(800)), level: Notional(dec!(800)) })
        );
        assert_eq!(g.check_exit(Notional(dec!(1499.99)), inv), None);
        assert!(matches!(g.check_exit(Notional(dec!(1500)), inv), Some(Exit::TakeProfit { .. })));
        assert_eq!(g.check_exit(Notional(dec!(1)), Notional(dec!(0))), None, "nothing invested net");
        assert_eq!(guards(None, None).check_exit(Notional(dec!(1)), inv), None);
    }

    #[test]
    fn levels_are_validated_and_named() {
        for (g, key) in [
            (guards(Some(dec!(0)), None), "stop_loss"),
            (guards(Some(dec!(100)), None), "stop_loss"),
            (guards(None, Some(dec!(-5))), "take_profit"),
        ] {
            let e = g.validate().unwrap_err().to_string();
            assert!(e.contains(key), "{e}");
        }
        let mut g = guards(None, None);
        g.entry_prices.insert(Asset::new("ETH").unwrap(), Price(dec!(0)));
        assert!(g.validate().unwrap_err().to_string().contains("entry_prices.ETH"));
    }
}

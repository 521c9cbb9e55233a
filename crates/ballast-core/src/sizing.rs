//! The minimum investment: the smallest amount for which every asset's first buy
//! clears the exchange's minimums with a safety margin.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::asset::Asset;
use crate::error::CoreError;
use crate::money::{Bps, Notional};
use crate::planner::RulesBook;
use crate::portfolio::{Prices, price_of};
use crate::targets::TargetWeights;

/// The default safety margin: 10 % above the exchange's minimum, so that a price move
/// between the summary and the first buy does not push a leg under it.
pub const DEFAULT_MARGIN: Decimal = Decimal::from_parts(1, 0, 0, false, 1);

/// The minimum investment and what sets it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MinInvestment {
    /// The smallest total amount, in quote, rounded up to the cent.
    pub amount: Notional,
    /// The asset whose first buy needs the most.
    pub binding: Asset,
    /// For each asset with a positive weight, the total amount its first buy needs.
    pub per_asset: BTreeMap<Asset, Notional>,
}

/// Computes the minimum investment for `targets` at `prices`.
///
/// For each asset `i` with weight `w_i > 0`, the first buy of `w_i * A / (1 + f)`
/// must, after rounding down to the step, be at least the larger of the minimum
/// notional and the minimum quantity (or one step) at the current price. Rounding down
/// loses at most one step, so asset `i` needs
/// `A_i = (min_order_value_i + step_i * p_i) * (1 + margin) * (1 + f) / w_i`; the
/// minimum investment is the largest `A_i`, and that asset binds.
pub fn min_investment(
    targets: &TargetWeights,
    prices: &Prices,
    rules: &RulesBook,
    fee: Bps,
    margin: Decimal,
) -> Result<MinInvestment, CoreError> {
    if margin < Decimal::ZERO {
        return Err(CoreError::OutOfRange { what: "margin".into(), value: margin.to_string(), range: ">= 0".into() });
    }
    let f = fee.fraction();
    let mut per_asset = BTreeMap::new();
    for (asset, w) in targets.iter() {
        if w.is_zero() {
            continue;
        }
        let price = price_of(prices, asset)?;
        let r = rules.get(asset);
        let need = (r.min_order_value(price).0 + r.step * price.0) * (Decimal::ONE + margin) * (Decimal::ONE + f) / w.0;
        per_asset.insert(
            asset.clone(),
            Notional(need.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::AwayFromZero)),
        );
    }
    let (binding, amount) = per_asset
        .iter()
        .max_by(|x, y| x.1.cmp(y.1).then_with(|| y.0.cmp(x.0)))
        .map(|(a, n)| (a.clone(), *n))
        .ok_or_else(|| CoreError::Targets("no asset has a positive weight".into()))?;
    Ok(MinInvestment { amount, binding, per_asset })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::{Price, Qty};
    use crate::planner::{PlanInput, RebalanceTo, plan_rebalance};
    use crate::portfolio::Holdings;
    use crate::rules::SymbolRules;
    use crate::targets::TargetLimits;
    use rust_decimal_macros::dec;

    fn a(s: &str) -> Asset {
        Asset::new(s).unwrap()
    }

    fn setup() -> (TargetWeights, Prices, RulesBook) {
        let t = TargetWeights::from_percent(
            &a("USDT"),
            &[(a("BTC"), dec!(70)), (a("ETH"), dec!(20)), (a("XRP"), dec!(10))],
            TargetLimits::default(),
        )
        .unwrap();
        let p: Prices =
            [(a("BTC"), Price(dec!(84500))), (a("ETH"), Price(dec!(2400))), (a("XRP"), Price(dec!(2.5)))].into();
        let mut rules = RulesBook::default();
        rules.per_asset.insert(
            a("BTC"),
            SymbolRules { tick: dec!(0.01), step: dec!(0.00001), min_qty: dec!(0.00001), min_notional: dec!(5) },
        );
        rules.per_asset.insert(
            a("ETH"),
            SymbolRules { tick: dec!(0.01), step: dec!(0.0001), min_qty: dec!(0.0001), min_notional: dec!(5) },
        );
        rules.per_asset.insert(
            a("XRP"),
            SymbolRules { tick: dec!(0.0001), step: dec!(1), min_qty: dec!(1), min_notional: dec!(5) },
        );
        (t, p, rules)
    }

    #[test]
    fn smallest_weight_with_coarse_step_binds() {
        let (t, p, rules) = setup();
        let m = min_investment(&t, &p, &rules, Bps(dec!(10)), DEFAULT_MARGIN).unwrap();
        // XRP: (5 + 1 * 2.5) * 1.1 * 1.001 / 0.1 = 82.5825 -> 82.59
        assert_eq!(m.per_asset[&a("XRP")], Notional(dec!(82.59)));
        assert_eq!(m.binding, a("XRP"));
        assert_eq!(m.amount, Notional(dec!(82.59)));
    }

    #[test]
    fn first_buy_at_the_minimum_clears_every_rule() {
        let (t, p, rules) = setup();
        let m = min_investment(&t, &p, &rules, Bps(dec!(10)), Decimal::ZERO).unwrap();
        let h: Holdings = [(a("USDT"), Qty(m.amount.0))].into();
        let entry = BTreeMap::new();
        let plan = plan_rebalance(&PlanInput {
            holdings: &h,
            prices: &p,
            targets: &t,
            rules: &rules,
            fee: Bps(dec!(10)),
            to: RebalanceTo::Target,
            entry_prices: &entry,
        })
        .unwrap();
        assert!(plan.skipped.is_empty(), "{:?}", plan.skipped);
        assert_eq!(plan.legs.len(), 3);
        // and just below it, the binding asset is skipped
        let h: Holdings = [(a("USDT"), Qty(m.amount.0 * dec!(0.6)))].into();
        let plan = plan_rebalance(&PlanInput {
            holdings: &h,
            prices: &p,
            targets: &t,
            rules: &rules,
            fee: Bps(dec!(10)),
            to: RebalanceTo::Target,
            entry_prices: &entry,
        })
        .unwrap();
        assert_eq!(plan.skipped.iter().map(|s| s.asset.as_str()).collect::<Vec<_>>(), ["XRP"]);
    }
}

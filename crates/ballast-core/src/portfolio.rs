//! Holdings, prices, valuation and drift.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::asset::Asset;
use crate::error::CoreError;
use crate::money::{Notional, Price, Qty, Weight};
use crate::targets::TargetWeights;

/// Quantities held, the quote currency included.
pub type Holdings = BTreeMap<Asset, Qty>;
/// Prices of the non-quote assets in the quote currency.
pub type Prices = BTreeMap<Asset, Price>;

/// A portfolio valued in its quote currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Valuation {
    /// Quote cash held.
    pub cash: Notional,
    /// Value of each non-quote asset held or targeted.
    pub values: BTreeMap<Asset, Notional>,
    /// Cash plus the value of every asset.
    pub total: Notional,
}

impl Valuation {
    /// Values `holdings` at `prices`. Every non-quote asset held (or targeted, when
    /// `targets` is given) needs a positive price; holdings cannot be negative.
    pub fn new(
        quote: &Asset,
        holdings: &Holdings,
        prices: &Prices,
        targets: Option<&TargetWeights>,
    ) -> Result<Self, CoreError> {
        let mut values = BTreeMap::new();
        let mut cash = Notional::ZERO;
        for (asset, qty) in holdings {
            if qty.is_negative() {
                return Err(CoreError::NegativeHolding { asset: asset.to_string(), qty: qty.to_string() });
            }
            if asset == quote {
                cash = Notional(qty.0);
                continue;
            }
            let price = price_of(prices, asset)?;
            let value = qty.0.checked_mul(price.0).ok_or_else(|| {
                CoreError::Overflow(format!("the value of {qty} {asset} at {price}", qty = qty, price = price))
            })?;
            values.insert(asset.clone(), Notional(value));
        }
        if let Some(t) = targets {
            for asset in t.assets() {
                price_of(prices, asset)?;
                values.entry(asset.clone()).or_insert(Notional::ZERO);
            }
        }
        let total = values
            .values()
            .try_fold(cash.0, |sum, v| sum.checked_add(v.0))
            .ok_or_else(|| CoreError::Overflow("the portfolio's total value".into()))?;
        Ok(Self { cash, values, total: Notional(total) })
    }

    /// The share of the total held in `asset` (zero for an empty portfolio).
    pub fn weight(&self, asset: &Asset) -> Weight {
        if self.total.is_zero() {
            return Weight::ZERO;
        }
        Weight(self.values.get(asset).copied().unwrap_or_default().0 / self.total.0)
    }

    /// The share of the total held as quote cash.
    pub fn cash_weight(&self) -> Weight {
        if self.total.is_zero() {
            return Weight::ZERO;
        }
        Weight(self.cash.0 / self.total.0)
    }

    /// Every asset's current weight.
    pub fn weights(&self) -> BTreeMap<Asset, Weight> {
        self.values.keys().map(|a| (a.clone(), self.weight(a))).collect()
    }
}

/// A positive price for `asset`, or an error naming it.
pub fn price_of(prices: &Prices, asset: &Asset) -> Result<Price, CoreError> {
    let p = prices.get(asset).copied().ok_or_else(|| CoreError::MissingPrice(asset.to_string()))?;
    if p.0 <= Decimal::ZERO {
        return Err(CoreError::NonPositivePrice { asset: asset.to_string(), price: p.to_string() });
    }
    Ok(p)
}

/// How drift is measured against a threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    /// Percentage points: 27 % held against a 25 % target is 2 points.
    Absolute,
    /// Relative to the target: 27 % against 25 % is 8 %.
    Relative,
}

/// One asset's distance from its target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AssetDrift {
    /// Current weight.
    pub current: Weight,
    /// Target weight.
    pub target: Weight,
    /// `current - target` as a fraction (0.02 is 2 percentage points).
    pub absolute: Decimal,
    /// `current / target - 1`; `None` when the target is zero (any holding is then
    /// an infinite relative drift, see [`Drift::exceeds`]).
    pub relative: Option<Decimal>,
}

/// Every asset's drift from its target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Drift {
    /// Per asset, targets and held assets alike.
    pub assets: BTreeMap<Asset, AssetDrift>,
}

impl Drift {
    /// Measures `valuation` against `targets`.
    pub fn new(valuation: &Valuation, targets: &TargetWeights) -> Self {
        let mut assets = BTreeMap::new();
        let mut names: Vec<&Asset> = valuation.values.keys().collect();
        names.extend(targets.assets());
        names.sort();
        names.dedup();
        for asset in names {
            let current = valuation.weight(asset);
            let target = targets.weight(asset);
            let relative = (!target.is_zero()).then(|| current.0 / target.0 - Decimal::ONE);
            assets.insert(asset.clone(), AssetDrift { current, target, absolute: current.0 - target.0, relative });
        }
        Self { assets }
    }

    /// The largest absolute drift (fraction; 0.03 is 3 points).
    pub fn max_absolute(&self) -> Decimal {
        self.assets.values().map(|d| d.absolute.abs()).max().unwrap_or_default()
    }

    /// The largest relative drift among assets with a non-zero target.
    pub fn max_relative(&self) -> Decimal {
        self.assets.values().filter_map(|d| d.relative.map(|r| r.abs())).max().unwrap_or_default()
    }

    /// The largest drift of the given kind, as a fraction.
    pub fn max(&self, kind: DriftKind) -> Decimal {
        match kind {
            DriftKind::Absolute => self.max_absolute(),
            DriftKind::Relative => self.max_relative(),
        }
    }

    /// The asset with the largest drift of the given kind, if any asset drifts.
    /// Assets with a zero target have no relative drift and are left out of the
    /// relative ranking (see [`Drift::untargeted`]).
    pub fn worst(&self, kind: DriftKind) -> Option<(&Asset, Decimal)> {
        self.assets
            .iter()
            .filter_map(|(a, d)| match kind {
                DriftKind::Absolute => Some((a, d.absolute.abs())),
                DriftKind::Relative => d.relative.map(|r| (a, r.abs())),
            })
            .max_by(|x, y| x.1.cmp(&y.1).then_with(|| y.0.cmp(x.0)))
            .filter(|(_, v)| !v.is_zero())
    }

    /// The first asset held whose target weight is zero (a removed coin), if any.
    pub fn untargeted(&self) -> Option<&Asset> {
        self.assets.iter().find(|(_, d)| d.target.is_zero() && !d.current.is_zero()).map(|(a, _)| a)
    }

    /// True when some asset drifts strictly more than `threshold` (a fraction) of the
    /// given kind. A holding of an asset whose target is zero always exceeds a
    /// relative threshold.
    pub fn exceeds(&self, kind: DriftKind, threshold: Decimal) -> bool {
        self.assets.values().any(|d| match kind {
            DriftKind::Absolute => d.absolute.abs() > threshold,
            DriftKind::Relative => match d.relative {
                Some(r) => r.abs() > threshold,
                None => !d.current.is_zero(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::TargetLimits;
    use rust_decimal_macros::dec;

    fn a(s: &str) -> Asset {
        Asset::new(s).unwrap()
    }

    #[test]
    fn values_and_weights() {
        let h: Holdings = [(a("BTC"), Qty(dec!(1))), (a("ETH"), Qty(dec!(10))), (a("USDT"), Qty(dec!(500)))].into();
        let p: Prices = [(a("BTC"), Price(dec!(1000))), (a("ETH"), Price(dec!(50)))].into();
        let v = Valuation::new(&a("USDT"), &h, &p, None).unwrap();
        assert_eq!(v.total, Notional(dec!(2000)));
        assert_eq!(v.weight(&a("BTC")), Weight(dec!(0.5)));
        assert_eq!(v.cash_weight(), Weight(dec!(0.25)));
    }

    #[test]
    fn missing_or_bad_price_is_named() {
        let h: Holdings = [(a("BTC"), Qty(dec!(1)))].into();
        let e = Valuation::new(&a("USDT"), &h, &Prices::new(), None).unwrap_err();
        assert_eq!(e, CoreError::MissingPrice("BTC".into()));
        let p: Prices = [(a("BTC"), Price(dec!(0)))].into();
        let e = Valuation::new(&a("USDT"), &h, &p, None).unwrap_err();
        assert!(e.to_string().contains("BTC") && e.to_string().contains("greater than zero"));
        let h: Holdings = [(a("BTC"), Qty(dec!(-1)))].into();
        assert!(matches!(Valuation::new(&a("USDT"), &h, &p, None), Err(CoreError::NegativeHolding { .. })));
    }

    #[test]
    fn drift_absolute_and_relative() {
        let h: Holdings = [(a("BTC"), Qty(dec!(0.27))), (a("ETH"), Qty(dec!(0.73)))].into();
        let p: Prices = [(a("BTC"), Price(dec!(100))), (a("ETH"), Price(dec!(100)))].into();
        let t = TargetWeights::from_percent(
            &a("USDT"),
            &[(a("BTC"), dec!(25)), (a("ETH"), dec!(75))],
            TargetLimits::default(),
        )
        .unwrap();
        let v = Valuation::new(&a("USDT"), &h, &p, Some(&t)).unwrap();
        let d = Drift::new(&v, &t);
        assert_eq!(d.max_absolute(), dec!(0.02));
        assert_eq!(d.assets[&a("BTC")].relative, Some(dec!(0.08)));
        assert!(d.exceeds(DriftKind::Relative, dec!(0.05)));
        assert!(!d.exceeds(DriftKind::Absolute, dec!(0.02)), "strictly more than the threshold");
        assert_eq!(d.worst(DriftKind::Relative).unwrap().0, &a("BTC"));
    }

    #[test]
    fn untargeted_holding_exceeds_any_relative_threshold() {
        let h: Holdings = [(a("BTC"), Qty(dec!(1))), (a("ETH"), Qty(dec!(100))), (a("DOGE"), Qty(dec!(0.01)))].into();
        let p: Prices = [(a("BTC"), Price(dec!(100))), (a("DOGE"), Price(dec!(1))), (a("ETH"), Price(dec!(1)))].into();
        let t = TargetWeights::from_percent(
            &a("USDT"),
            &[(a("BTC"), dec!(50)), (a("ETH"), dec!(50))],
            TargetLimits::default(),
        )
        .unwrap();
        let v = Valuation::new(&a("USDT"), &h, &p, Some(&t)).unwrap();
        let d = Drift::new(&v, &t);
        assert!(d.max_relative() < dec!(0.001), "targeted assets are on target");
        assert!(d.exceeds(DriftKind::Relative, dec!(0.5)), "DOGE has no target");
        assert_eq!(d.untargeted(), Some(&a("DOGE")));
        assert_eq!(d.worst(DriftKind::Relative).unwrap().0, &a("BTC"));
    }
}

//! Validated target weights.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::asset::Asset;
use crate::error::CoreError;
use crate::money::Weight;

/// How many assets a portfolio may hold. The product's default is 2 ..= 12, like the
/// exchanges' rebalancing bots; the upper cap is a setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TargetLimits {
    /// Fewest assets.
    pub min_assets: usize,
    /// Most assets.
    pub max_assets: usize,
}

impl Default for TargetLimits {
    fn default() -> Self {
        Self { min_assets: 2, max_assets: 12 }
    }
}

/// How far from exactly 100 % the percentages given may sum before it is an error:
/// one millionth of a percentage point, enough for weights computed as `100/3`.
pub const SUM_TOLERANCE_PERCENT: Decimal = Decimal::from_parts(1, 0, 0, false, 6);

/// Target weights over the non-quote assets of a portfolio. Invariants: between
/// `min_assets` and `max_assets` assets, none of them the quote currency, each weight
/// non-negative, summing to 1 (to within the precision of a 28-digit decimal).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TargetWeights {
    quote: Asset,
    weights: BTreeMap<Asset, Weight>,
}

impl TargetWeights {
    /// Builds targets from percentages (`BTC = 50`), in any order.
    pub fn from_percent(quote: &Asset, entries: &[(Asset, Decimal)], limits: TargetLimits) -> Result<Self, CoreError> {
        Self::build(quote, entries, limits, Decimal::ONE_HUNDRED, "%")
    }

    /// Builds targets from fractions (`BTC = 0.5`), in any order.
    pub fn from_fractions(
        quote: &Asset,
        entries: &[(Asset, Decimal)],
        limits: TargetLimits,
    ) -> Result<Self, CoreError> {
        Self::build(quote, entries, limits, Decimal::ONE, "")
    }

    fn build(
        quote: &Asset,
        entries: &[(Asset, Decimal)],
        limits: TargetLimits,
        whole: Decimal,
        unit: &str,
    ) -> Result<Self, CoreError> {
        let n = entries.len();
        if n < limits.min_assets {
            return Err(CoreError::Targets(format!(
                "{n} asset(s) given; a portfolio needs at least {}",
                limits.min_assets
            )));
        }
        if n > limits.max_assets {
            return Err(CoreError::Targets(format!(
                "{n} assets given; at most {} are allowed (the cap is a setting)",
                limits.max_assets
            )));
        }
        let mut weights = BTreeMap::new();
        let mut sum = Decimal::ZERO;
        for (asset, w) in entries {
            if asset == quote {
                return Err(CoreError::Targets(format!(
                    "{asset} is the quote currency; it cannot also be a target asset"
                )));
            }
            if *w < Decimal::ZERO {
                return Err(CoreError::Targets(format!("{asset} has weight {w}{unit}; weights cannot be negative")));
            }

            if weights.insert(asset.clone(), *w).is_some() {
                return Err(CoreError::Targets(format!("{asset} is listed twice")));
            }
            sum = sum.checked_add(*w).ok_or_else(|| {
                CoreError::Targets(format!(
                    "{asset} has weight {}{unit}; the weights must sum to {whole}{unit}",
                    w.normalize()
                ))
            })?;
        }
        let tolerance = SUM_TOLERANCE_PERCENT * whole / Decimal::ONE_HUNDRED;
        if (sum - whole).abs() > tolerance {
            return Err(CoreError::Targets(format!(
                "weights sum to {}{unit}; they must sum to {whole}{unit} (off by {}{unit})",
                sum.normalize(),
                (sum - whole).normalize()
            )));
        }
        let weights = weights.into_iter().map(|(a, w)| (a, Weight(w / sum))).collect();
        Ok(Self { quote: quote.clone(), weights })
    }

    /// The quote currency the weights are measured in.
    pub fn quote(&self) -> &Asset {
        &self.quote
    }

    /// The target weight of an asset; zero for an asset not among the targets.
    pub fn weight(&self, asset: &Asset) -> Weight {
        self.weights.get(asset).copied().unwrap_or(Weight::ZERO)
    }

    /// True when the asset is a target (even with weight zero).
    pub fn contains(&self, asset: &Asset) -> bool {
        self.weights.contains_key(asset)
    }

    /// Assets and weights, ordered by symbol.
    pub fn iter(&self) -> impl Iterator<Item = (&Asset, Weight)> {
        self.weights.iter().map(|(a, w)| (a, *w))
    }

    /// The target assets, ordered by symbol.
    pub fn assets(&self) -> impl Iterator<Item = &Asset> {
        self.weights.keys()
    }

    /// Number of target assets.
    pub fn len(&self) -> usize {
        self.weights.len()
    }

    /// Never true for validated targets; here for completeness.
    pub fn is_empty(&self) -> bool {
        self.weights.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn a(s: &str) -> Asset {
        Asset::new(s).unwrap()
    }

    fn pct(entries: &[(&str, Decimal)]) -> Result<TargetWeights, CoreError> {
        let e: Vec<_> = entries.iter().map(|(s, w)| (a(s), *w)).collect();
        TargetWeights::from_percent(&a("USDT"), &e, TargetLimits::default())
    }

    #[test]
    fn valid_targets_are_fractions() {
        let t = pct(&[("ETH", dec!(50)), ("BTC", dec!(50))]).unwrap();
        assert_eq!(t.weight(&a("BTC")), Weight(dec!(0.5)));
        assert_eq!(t.weight(&a("XRP")), Weight::ZERO);
        assert_eq!(t.assets().map(Asset::as_str).collect::<Vec<_>>(), ["BTC", "ETH"]);
    }

    #[test]
    fn weights_at_the_decimal_limit_are_an_error_not_a_panic() {
        let e = pct(&[("BTC", Decimal::MAX), ("ETH", Decimal::MAX)]).unwrap_err().to_string();
        assert!(e.contains("ETH") && e.contains("must sum to 100%"), "{e}");
    }

    #[test]
    fn each_rule_names_the_culprit() {
        let e = pct(&[("BTC", dec!(100))]).unwrap_err().to_string();
        assert!(e.contains("at least 2"), "{e}");
        let e = pct(&[("BTC", dec!(50)), ("USDT", dec!(50))]).unwrap_err().to_string();
        assert!(e.contains("USDT") && e.contains("quote"), "{e}");
        let e = pct(&[("BTC", dec!(110)), ("ETH", dec!(-10))]).unwrap_err().to_string();
        assert!(e.contains("ETH") && e.contains("negative"), "{e}");
        let e = pct(&[("BTC", dec!(50)), ("BTC", dec!(50))]).unwrap_err().to_string();
        assert!(e.contains("BTC") && e.contains("twice"), "{e}");
        let e = pct(&[("BTC", dec!(50)), ("ETH", dec!(40))]).unwrap_err().to_string();
        assert!(e.contains("90") && e.contains("100"), "{e}");
    }

    #[test]
    fn cap_is_a_setting() {
        let entries: Vec<_> =
            (0..13).map(|i| (a(&format!("C{i}")), Decimal::ONE_HUNDRED / Decimal::from(13))).collect();
        let e = TargetWeights::from_percent(&a("USDT"), &entries, TargetLimits::default()).unwrap_err();
        assert!(e.to_string().contains("at most 12"), "{e}");
        let limits = TargetLimits { min_assets: 2, max_assets: 20 };
        let t = TargetWeights::from_percent(&a("USDT"), &entries, limits).unwrap();
        let sum: Decimal = t.iter().map(|(_, w)| w.0).sum();
        assert!((sum - Decimal::ONE).abs() < dec!(0.000000000000000000001));
    }

    #[test]
    fn zero_weight_is_allowed() {
        let t = pct(&[("BTC", dec!(100)), ("ETH", dec!(0))]).unwrap();
        assert!(t.contains(&a("ETH")));
        assert_eq!(t.weight(&a("ETH")), Weight::ZERO);
    }
}

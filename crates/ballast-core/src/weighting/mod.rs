//! Weighting methods: where target weights come from.
//!
//! - [`equal`]: `1/n` each, as exact decimals.
//! - custom: the user's own weights (nothing to compute; see [`crate::targets`]).
//! - [`market_cap`]: proportional to given market caps, optionally capped per asset.
//! - [`risk_based`] ("AI Balance"), from a window of returns ([`ReturnMatrix`]):
//!   inverse volatility, long-only minimum variance, risk parity (equal risk
//!   contribution) and hierarchical risk parity, on the sample covariance or its
//!   Ledoit-Wolf shrinkage ([`Shrinkage`]). They return `f64` fractions;
//!   [`to_decimal`] turns them into exact decimal fractions for
//!   [`TargetWeights::from_fractions`](crate::targets::TargetWeights::from_fractions).
//!
//! Pure like the rest of the core: the caller slices the history up to `now`. Every
//! method is independent of the order its assets are listed in (the inputs are put
//! in symbol order first, ties are broken by symbol), and none ever returns a NaN:
//! degenerate input is a [`CoreError::Weighting`] naming the method and the culprit,
//! or one of the documented fallbacks of [`risk_based`].

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::asset::Asset;
use crate::error::CoreError;

mod covariance;
mod hrp;
mod linalg;
mod min_variance;
mod returns;
mod risk_parity;
#[cfg(test)]
mod tests;

pub use covariance::{Covariance, Shrinkage, risk_contributions};
pub use returns::ReturnMatrix;

/// A weighting error for `method`.
pub(crate) fn err(method: impl fmt::Display, problem: impl Into<String>) -> CoreError {
    CoreError::Weighting { method: method.to_string(), problem: problem.into() }
}

/// Weighting method names as users type them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// `1/n` each: [`equal`].
    Equal,
    /// The user's own weights.
    Custom,
    /// Proportional to market caps: [`market_cap`].
    MarketCap,
    /// `w_i ∝ 1/σ_i`.
    InverseVol,
    /// The long-only portfolio of least variance.
    MinVariance,
    /// Equal risk contributions.
    RiskParity,
    /// Hierarchical risk parity (López de Prado 2016).
    Hrp,
}

impl Method {
    /// Every method, in the order of the docs.
    pub const ALL: [Method; 7] = [
        Method::Equal,
        Method::Custom,
        Method::MarketCap,
        Method::InverseVol,
        Method::MinVariance,
        Method::RiskParity,
        Method::Hrp,
    ];

    /// True for the methods computed by [`risk_based`] from returns.
    pub fn is_risk_based(self) -> bool {
        matches!(self, Method::InverseVol | Method::MinVariance | Method::RiskParity | Method::Hrp)
    }

    /// The name users type, e.g. `min-variance`.
    pub fn name(self) -> &'static str {
        match self {
            Method::Equal => "equal",
            Method::Custom => "custom",
            Method::MarketCap => "market-cap",
            Method::InverseVol => "inverse-vol",
            Method::MinVariance => "min-variance",
            Method::RiskParity => "risk-parity",
            Method::Hrp => "hrp",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Method {
    type Err = CoreError;
    /// Parses a method name, ignoring case, surrounding spaces, and `_` for `-`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase().replace('_', "-");
        Method::ALL.into_iter().find(|m| m.name() == t).ok_or_else(|| {
            let names: Vec<&str> = Method::ALL.iter().map(|m| m.name()).collect();
            err(s, format!("unknown weighting method; use one of: {}", names.join(", ")))
        })
    }
}

/// Options for the risk-based methods.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RiskOptions {
    /// The covariance estimator. Default: the sample covariance.
    pub shrinkage: Shrinkage,
    /// The fewest observations (returns, not closes) accepted; below it
    /// [`risk_based`] errors. Never fewer than 2 whatever is set. Default
    /// [`RiskOptions::DEFAULT_MIN_OBSERVATIONS`].
    pub min_observations: usize,
}

impl RiskOptions {
    /// 30 observations: a month of daily returns, the least for which a sample
    /// volatility is worth anything (its relative standard error is about
    /// `1/sqrt(2(n-1))`, 13 % at 30) and more than the 12 assets of the default
    /// portfolio cap, so the sample covariance has full rank.
    pub const DEFAULT_MIN_OBSERVATIONS: usize = 30;
}

impl Default for RiskOptions {
    fn default() -> Self {
        Self { shrinkage: Shrinkage::None, min_observations: Self::DEFAULT_MIN_OBSERVATIONS }
    }
}

/// Equal weights over the assets: fractions summing to exactly 1 as decimals. Each
/// weight is `1/n` truncated to 27 decimal places; the remainder of the division goes
/// to the first asset in symbol order, so the sum is exact. No asset, or an asset
/// listed twice, is an error.
pub fn equal(assets: &[Asset]) -> Result<BTreeMap<Asset, Decimal>, CoreError> {
    const M: Method = Method::Equal;
    if assets.is_empty() {
        return Err(err(M, "no assets given; at least one is needed"));
    }
    let n = assets.len();
    let share = Decimal::from_i128_with_scale(10_i128.pow(27) / n as i128, 27);
    let mut out = BTreeMap::new();
    for a in assets {
        if out.insert(a.clone(), share).is_some() {
            return Err(err(M, format!("{a} is listed twice")));
        }
    }
    let remainder = Decimal::ONE - share * Decimal::from(n);
    if let Some((_, first)) = out.iter_mut().next() {
        *first += remainder;
    }
    Ok(out)
}

/// Market-cap weights from given caps (any positive units, e.g. USD), with an
/// optional per-asset cap `max_weight` (a fraction in `(0, 1]`, e.g. `0.4`). An
/// asset above the cap is set to it and the excess is redistributed to the uncapped
/// assets in proportion to their caps, repeatedly, until none exceeds it. The
/// weights sum to exactly 1: the rounding residual of the divisions (a few 1e-28)
/// goes to the largest uncapped weight, so capped weights are exactly the cap.
///
/// Errors: no asset; a zero or negative cap (naming the asset); a cap outside
/// `(0, 1]`; an infeasible cap (`max_weight * n < 1`, naming both); caps too large
/// to add up as decimals.
pub fn market_cap(
    caps: &BTreeMap<Asset, Decimal>,
    max_weight: Option<Decimal>,
) -> Result<BTreeMap<Asset, Decimal>, CoreError> {
    const M: Method = Method::MarketCap;
    if caps.is_empty() {
        return Err(err(M, "no assets given; at least one is needed"));
    }
    if let Some((a, c)) = caps.iter().find(|(_, c)| **c <= Decimal::ZERO) {
        return Err(err(M, format!("market cap of {a} is {c}; it must be greater than zero")));
    }
    let n = Decimal::from(caps.len());
    if let Some(m) = max_weight {
        if m <= Decimal::ZERO || m > Decimal::ONE {
            return Err(err(M, format!("max weight {m} is out of range; it must be in (0, 1]")));
        }
        if m * n < Decimal::ONE {
            return Err(err(
                M,
                format!(
                    "max weight {m} is infeasible for {} assets: {} x {m} < 1 (use at least {})",
                    caps.len(),
                    caps.len(),
                    (Decimal::ONE / n)
                        .round_dp_with_strategy(6, rust_decimal::RoundingStrategy::AwayFromZero)
                        .normalize()
                ),
            ));
        }
    }
    let too_large = || err(M, "market caps too large to add up; use larger units (e.g. millions)");
    let cap = max_weight.unwrap_or(Decimal::ONE);
    let values: Vec<Decimal> = caps.values().copied().collect();
    let mut capped = vec![false; values.len()];
    let mut w = vec![Decimal::ZERO; values.len()];
    // Each round caps at least one more asset, so this ends within n rounds.
    loop {
        let remaining = Decimal::ONE - cap * Decimal::from(capped.iter().filter(|c| **c).count());
        let mut total = Decimal::ZERO;
        for (c, _) in values.iter().zip(&capped).filter(|(_, k)| !**k) {
            total = total.checked_add(*c).ok_or_else(too_large)?;
        }
        for i in 0..values.len() {
            w[i] = if capped[i] || total.is_zero() { cap } else { remaining * (values[i] / total) };
        }
        let over: Vec<usize> =
            (0..values.len()).filter(|&i| !capped[i] && max_weight.is_some_and(|m| w[i] > m)).collect();
        if over.is_empty() {
            break;
        }
        for i in over {
            capped[i] = true;
        }
    }
    let residual = Decimal::ONE - w.iter().copied().sum::<Decimal>();
    if !residual.is_zero() {
        // The rounding residual (a few 1e-28) goes to the largest uncapped weight that
        // stays within [0, cap] (first in symbol order among equals), so capped
        // weights stay exactly at the cap; failing that, to any weight that stays in range.
        let fits = |i: usize| w[i] + residual >= Decimal::ZERO && w[i] + residual <= cap;
        let mut by_size: Vec<usize> = (0..w.len()).collect();
        by_size.sort_by(|&x, &y| w[y].cmp(&w[x]));
        let pick = by_size
            .iter()
            .copied()
            .find(|&i| !capped[i] && fits(i))
            .or_else(|| by_size.iter().copied().find(|&i| fits(i)))
            .unwrap_or(by_size[0]);
        w[pick] += residual;
    }
    let weights: BTreeMap<Asset, Decimal> = caps.keys().cloned().zip(w).collect();
    Ok(weights)
}

/// [`market_cap`] over exactly `assets`: an asset without a cap in `caps` is an error
/// naming it; caps of other assets are ignored.
pub fn market_cap_for(
    assets: &[Asset],
    caps: &BTreeMap<Asset, Decimal>,
    max_weight: Option<Decimal>,
) -> Result<BTreeMap<Asset, Decimal>, CoreError> {
    let mut chosen = BTreeMap::new();
    for a in assets {
        let c = caps.get(a).ok_or_else(|| err(Method::MarketCap, format!("no market cap for {a}")))?;
        if chosen.insert(a.clone(), *c).is_some() {
            return Err(err(Method::MarketCap, format!("{a} is listed twice")));
        }
    }
    market_cap(&chosen, max_weight)
}

/// Risk-based weights (inverse-vol, min-variance, risk-parity, hrp) from a window of
/// returns, as `f64` fractions summing to 1 (to rounding), keyed by asset. Any other
/// method is an error.
///
/// The covariance is estimated with `opts.shrinkage` and used by every method
/// (Ledoit-Wolf pulls inverse-vol toward equal weights, for example); the rest is
/// [`risk_based_from_covariance`]. Degenerate input:
/// - one asset: weight 1, whatever the returns;
/// - fewer observations than `opts.min_observations` (and always fewer than 2):
///   error "N observations, at least M needed";
/// - an asset with zero volatility over the window (a constant price, or a
///   volatility below 1e-12 of its own largest return or 1e-100 of the most volatile
///   asset's): error naming it;
/// - NaN or infinite returns cannot get here: [`ReturnMatrix`] rejects them;
/// - a singular or nearly singular covariance (two identical series, perfectly
///   anti-correlated pairs, more assets than observations): the documented ridge
///   fallback of [`risk_based_from_covariance`].
pub fn risk_based(
    method: Method,
    returns: &ReturnMatrix,
    opts: &RiskOptions,
) -> Result<BTreeMap<Asset, f64>, CoreError> {
    check_risk_based(method)?;
    if returns.assets().len() == 1 {
        return Ok(BTreeMap::from([(returns.assets()[0].clone(), 1.0)]));
    }
    let needed = opts.min_observations.max(2);
    if returns.len() < needed {
        return Err(err(method, format!("{} observations, at least {needed} needed", returns.len())));
    }
    let cov = Covariance::estimate_for(method.name(), returns, opts.shrinkage)?;
    risk_based_from_covariance(method, &cov)
}

/// Risk-based weights from a covariance matrix (see [`risk_based`]):
/// - inverse-vol: `w_i ∝ 1/σ_i`;
/// - min-variance: the exact long-only minimiser of `wᵀΣw` with `Σw = 1`, by an
///   active-set method on the KKT system, verified against the KKT conditions;
/// - risk-parity: the long-only weights whose risk contributions
///   `w_i (Σw)_i / wᵀΣw` are all `1/n` (to a relative 1e-10), by Newton's method on
///   Spinu's (2013) log-barrier formulation;
/// - hrp: López de Prado's (2016) hierarchical risk parity, single linkage on
///   `sqrt((1 - ρ)/2)`, ties broken by symbol order.
///
/// Fallback for a singular covariance: when the correlation matrix is numerically
/// singular (its smallest eigenvalue below 1e-9 of its largest), min-variance and
/// risk-parity solve with the ridge `Σ + ε diag(Σ)`, `ε = 1e-9 x` the largest
/// correlation eigenvalue, instead of failing. That changes a regular answer by
/// about 1e-9 and picks, among the many optimal portfolios of a singular problem,
/// the one that spreads weight evenly over interchangeable assets: two identical
/// series share their weight equally. Inverse-vol and hrp never invert the
/// covariance and need no fallback. (Ledoit-Wolf shrinkage is the better cure when
/// it is the data that are short; it is not applied silently.)
pub fn risk_based_from_covariance(method: Method, cov: &Covariance) -> Result<BTreeMap<Asset, f64>, CoreError> {
    check_risk_based(method)?;
    let n = cov.len();
    let weights = if n == 1 {
        vec![1.0]
    } else {
        match method {
            Method::InverseVol => {
                let (sigma, _) = cov.parts();
                let smin = sigma.iter().fold(f64::INFINITY, |m, s| m.min(*s));
                sigma.iter().map(|s| smin / s).collect()
            }
            Method::MinVariance => min_variance::min_variance(cov).map_err(|p| err(method, p))?,
            Method::RiskParity => risk_parity::risk_parity(cov).map_err(|p| err(method, p))?,
            Method::Hrp => hrp::hrp(cov),
            _ => unreachable!("checked above"),
        }
    };
    // The firewall: whatever happened above, no NaN, negative or infinite weight leaves.
    let total: f64 = weights.iter().sum();
    if !total.is_finite() || total <= 0.0 || weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
        return Err(err(method, "the computation lost precision on this input; try ledoit-wolf shrinkage"));
    }
    Ok(cov.assets().iter().cloned().zip(weights.iter().map(|w| w / total)).collect())
}

fn check_risk_based(method: Method) -> Result<(), CoreError> {
    match method {
        m if m.is_risk_based() => Ok(()),
        Method::Custom => Err(err(method, "custom weights are given by the user, not computed from returns")),
        Method::Equal => Err(err(method, "not a risk-based method; use weighting::equal")),
        _ => Err(err(method, "not a risk-based method; use weighting::market_cap")),
    }
}

/// Decimal places of [`to_decimal`]'s output.
pub const DECIMAL_PLACES: u32 = 10;

/// Converts `f64` fractions to decimal fractions with [`DECIMAL_PLACES`] (10) places
/// that sum to exactly 1. The input is normalised by its sum first, then rounded by
/// the largest-remainder method (the units left over after rounding every weight
/// down go to the largest remainders, ties to the first in symbol order), so each
/// weight is within 1e-10 of its exact share. A NaN, infinite or negative weight is
/// an error naming the asset; so are no weights and weights summing to zero.
pub fn to_decimal(weights: &BTreeMap<Asset, f64>) -> Result<BTreeMap<Asset, Decimal>, CoreError> {
    const WHAT: &str = "decimal conversion";
    if weights.is_empty() {
        return Err(err(WHAT, "no weights given"));
    }
    if let Some((a, w)) = weights.iter().find(|(_, w)| !w.is_finite() || **w < 0.0) {
        return Err(err(WHAT, format!("weight of {a} is {w}; weights must be finite and non-negative")));
    }
    let total: f64 = weights.values().sum();
    if !total.is_finite() || total <= 0.0 {
        return Err(err(WHAT, format!("weights sum to {total}; they must sum to a positive number")));
    }
    let unit = 10_i64.pow(DECIMAL_PLACES);
    let mut floors: Vec<(&Asset, i64, f64)> = weights
        .iter()
        .map(|(a, w)| {
            let exact = (w / total).min(1.0) * unit as f64;
            let floor = exact.floor();
            (a, floor as i64, exact - floor)
        })
        .collect();
    let assigned: i64 = floors.iter().map(|f| f.1).sum();
    let mut left = unit - assigned;
    // Stable sort: among equal remainders the first in symbol order gets the unit.
    let mut by_remainder: Vec<usize> = (0..floors.len()).collect();
    by_remainder.sort_by(|&x, &y| floors[y].2.total_cmp(&floors[x].2));
    let count = floors.len();
    let mut k = 0;
    while left > 0 {
        floors[by_remainder[k % count]].1 += 1;
        left -= 1;
        k += 1;
    }
    while left < 0 {
        // Rounding made the floors overshoot (cannot happen for a sum of 1 to within
        // 1e-6 units, but keep the sum exact): take from the largest.
        let i = (0..floors.len()).max_by(|&x, &y| floors[x].1.cmp(&floors[y].1).then(y.cmp(&x))).expect("non-empty");
        floors[i].1 -= 1;
        left += 1;
    }
    Ok(floors.into_iter().map(|(a, units, _)| (a.clone(), Decimal::new(units, DECIMAL_PLACES))).collect())
}

//! Covariance estimation: the sample covariance and Ledoit-Wolf shrinkage.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::asset::Asset;
use crate::error::CoreError;

use super::err;
use super::linalg::{quad_form, symmetric_eigenvalues};
use super::returns::ReturnMatrix;

/// Covariance estimator for the risk-based methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shrinkage {
    /// The sample covariance (divisor `n - 1`).
    #[default]
    None,
    /// Ledoit & Wolf (2004), "A well-conditioned estimator for large-dimensional
    /// covariance matrices": the sample covariance shrunk toward `mu I` with
    /// `mu = tr(S) / N` and the intensity of their formula, clamped to `[0, 1]`.
    LedoitWolf,
}

impl Shrinkage {
    /// Both estimators.
    pub const ALL: [Shrinkage; 2] = [Shrinkage::None, Shrinkage::LedoitWolf];

    /// The name users type: `none` or `ledoit-wolf`.
    pub fn name(self) -> &'static str {
        match self {
            Shrinkage::None => "none",
            Shrinkage::LedoitWolf => "ledoit-wolf",
        }
    }
}

impl fmt::Display for Shrinkage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Shrinkage {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase().replace('_', "-");
        Shrinkage::ALL
            .into_iter()
            .find(|m| m.name() == t)
            .ok_or_else(|| err("shrinkage", format!("unknown shrinkage {s:?}; use one of: none, ledoit-wolf")))
    }
}

/// A standard deviation below this fraction of the largest absolute return of the
/// same asset is zero volatility (a constant series computes to ~1e-17, not 0).
const ZERO_VOL_RELATIVE_TO_RETURNS: f64 = 1e-12;
/// A standard deviation below this fraction of the largest one in the set is treated
/// as zero volatility too: the weights would overflow any sane range.
const ZERO_VOL_RELATIVE_TO_OTHERS: f64 = 1e-100;
/// Below this ratio of its smallest to its largest eigenvalue the correlation matrix
/// is numerically singular; see [`Covariance::solver_correlation`].
pub(crate) const SINGULAR_RATIO: f64 = 1e-9;

/// A covariance matrix over a set of assets (in symbol order), stored as relative
/// volatilities and a correlation matrix, so that every computation on it is immune
/// to the scale of the returns (no overflow or underflow from returns of 1e200 or
/// 1e-200). Every entry is finite, the volatilities are positive and the
/// correlation matrix is positive semi-definite with a unit diagonal.
#[derive(Clone, Debug, PartialEq)]
pub struct Covariance {
    assets: Vec<Asset>,
    /// Standard deviations relative to the largest (which is 1).
    sigma: Vec<f64>,
    /// The largest standard deviation: `sigma[i] * scale` is the true one.
    scale: f64,
    /// Row-major correlation matrix, exactly symmetric, unit diagonal.
    corr: Vec<f64>,
    /// The Ledoit-Wolf intensity when the estimate is shrunk.
    intensity: Option<f64>,
}

impl Covariance {
    /// Estimates the covariance of the returns, with or without shrinkage. Needs at
    /// least 2 observations; an asset with zero volatility over the window is an
    /// error naming it (shrinkage would otherwise give it an invented variance).
    pub fn estimate(returns: &ReturnMatrix, shrinkage: Shrinkage) -> Result<Self, CoreError> {
        Self::estimate_for("covariance", returns, shrinkage)
    }

    pub(crate) fn estimate_for(method: &str, returns: &ReturnMatrix, shrinkage: Shrinkage) -> Result<Self, CoreError> {
        let n = returns.assets().len();
        let t = returns.len();
        if t < 2 {
            return Err(err(method, format!("{t} observations, at least 2 needed")));
        }
        // One global scale keeps every product below 1 whatever the magnitude of the
        // returns; the weights of every method are invariant to it.
        let max_abs = returns.columns().iter().flatten().fold(0.0_f64, |m, v| m.max(v.abs()));
        if max_abs == 0.0 {
            return Err(zero_vol(method, &returns.assets()[0]));
        }
        let centred: Vec<Vec<f64>> = returns
            .columns()
            .iter()
            .map(|c| {
                let scaled: Vec<f64> = c.iter().map(|v| v / max_abs).collect();
                let mean = scaled.iter().sum::<f64>() / t as f64;
                scaled.iter().map(|v| v - mean).collect()
            })
            .collect();
        let mut s = vec![0.0; n * n];
        for i in 0..n {
            for j in i..n {
                let v = centred[i].iter().zip(&centred[j]).map(|(a, b)| a * b).sum::<f64>() / (t - 1) as f64;
                s[i * n + j] = v;
                s[j * n + i] = v;
            }
        }
        for (i, asset) in returns.assets().iter().enumerate() {
            let largest = returns.columns()[i].iter().fold(0.0_f64, |m, v| m.max(v.abs())) / max_abs;
            if s[i * n + i].sqrt() <= ZERO_VOL_RELATIVE_TO_RETURNS * largest {
                return Err(zero_vol(method, asset));
            }
        }
        let intensity = match shrinkage {
            Shrinkage::None => None,
            Shrinkage::LedoitWolf => {
                let delta = ledoit_wolf_intensity(&centred, &s, n, t);
                let mu = (0..n).map(|i| s[i * n + i]).sum::<f64>() / n as f64;
                for i in 0..n {
                    for j in 0..n {
                        let target = if i == j { mu } else { 0.0 };
                        s[i * n + j] = (1.0 - delta) * s[i * n + j] + delta * target;
                    }
                }
                Some(delta)
            }
        };
        Self::from_scaled(method, returns.assets().to_vec(), &s, max_abs, intensity)
    }

    /// A covariance matrix given directly: `rows[i][j]` is the covariance of
    /// `assets[i]` and `assets[j]`, in any asset order. It must be square, finite,
    /// symmetric, with positive variances (a zero one is an error naming the asset)
    /// and positive semi-definite (checked through the eigenvalues of the
    /// correlation matrix, to a tolerance of 1e-10).
    pub fn from_matrix(assets: Vec<Asset>, rows: Vec<Vec<f64>>) -> Result<Self, CoreError> {
        const WHAT: &str = "covariance";
        let n = assets.len();
        if n == 0 {
            return Err(err(WHAT, "no assets given; at least one is needed"));
        }
        if rows.len() != n || rows.iter().any(|r| r.len() != n) {
            return Err(err(WHAT, format!("{n} assets need a {n}x{n} matrix")));
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| assets[a].cmp(&assets[b]));
        if let Some(w) = order.windows(2).find(|w| assets[w[0]] == assets[w[1]]) {
            return Err(err(WHAT, format!("{} is listed twice", assets[w[0]])));
        }
        for i in 0..n {
            for j in 0..n {
                let v = rows[i][j];
                if !v.is_finite() {
                    return Err(err(WHAT, format!("covariance of {} and {} is {v}", assets[i], assets[j])));
                }
            }
            if rows[i][i] <= 0.0 {
                return Err(zero_vol(WHAT, &assets[i]));
            }
        }
        let sd: Vec<f64> = (0..n).map(|i| rows[i][i].sqrt()).collect();
        let scale = sd.iter().fold(0.0_f64, |m, v| m.max(*v));
        let mut corr = vec![0.0; n * n];
        for (a, &i) in order.iter().enumerate() {
            for (b, &j) in order.iter().enumerate() {
                if i == j {
                    corr[a * n + b] = 1.0;
                    continue;
                }
                let (x, y) = (rows[i][j], rows[j][i]);
                if (x - y).abs() > 1e-10 * sd[i] * sd[j] {
                    return Err(err(
                        WHAT,
                        format!(
                            "not symmetric: ({}, {}) is {x} but ({}, {}) is {y}",
                            assets[i], assets[j], assets[j], assets[i]
                        ),
                    ));
                }
                let r = 0.5 * (x + y) / sd[i] / sd[j];
                if r.abs() > 1.0 + 1e-10 {
                    return Err(err(
                        WHAT,
                        format!("correlation of {} and {} is {r}, outside [-1, 1]", assets[i], assets[j]),
                    ));
                }
                corr[a * n + b] = r.clamp(-1.0, 1.0);
            }
        }
        let eig = symmetric_eigenvalues(&corr, n);
        if eig[0] < -1e-10 * eig[n - 1] {
            return Err(err(WHAT, format!("not positive semi-definite (a correlation eigenvalue is {:e})", eig[0])));
        }
        let sigma: Vec<f64> = order.iter().map(|&i| sd[i] / scale).collect();
        let assets: Vec<Asset> = order.iter().map(|&i| assets[i].clone()).collect();
        if let Some(i) = sigma.iter().position(|s| *s < ZERO_VOL_RELATIVE_TO_OTHERS) {
            return Err(zero_vol(WHAT, &assets[i]));
        }
        Ok(Self { assets, sigma, scale, corr, intensity: None })
    }

    /// Builds from a covariance `s` of returns divided by `unit` (row-major, assets in
    /// symbol order, positive diagonal).
    fn from_scaled(
        method: &str,
        assets: Vec<Asset>,
        s: &[f64],
        unit: f64,
        intensity: Option<f64>,
    ) -> Result<Self, CoreError> {
        let n = assets.len();
        let sd: Vec<f64> = (0..n).map(|i| s[i * n + i].sqrt()).collect();
        let largest = sd.iter().fold(0.0_f64, |m, v| m.max(*v));
        if let Some(i) = sd.iter().position(|v| *v < ZERO_VOL_RELATIVE_TO_OTHERS * largest || *v == 0.0) {
            return Err(zero_vol(method, &assets[i]));
        }
        let mut corr = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                corr[i * n + j] = if i == j { 1.0 } else { (s[i * n + j] / sd[i] / sd[j]).clamp(-1.0, 1.0) };
            }
        }
        let sigma = sd.iter().map(|v| v / largest).collect();
        Ok(Self { assets, sigma, scale: largest * unit, corr, intensity })
    }

    /// The assets, in symbol order: the order of every index and slice here.
    pub fn assets(&self) -> &[Asset] {
        &self.assets
    }

    /// The number of assets.
    pub fn len(&self) -> usize {
        self.assets.len()
    }

    /// Never true: a covariance has at least one asset.
    pub fn is_empty(&self) -> bool {
        self.assets.is_empty()
    }

    /// The covariance of assets `i` and `j` (indices into [`assets`](Self::assets)).
    /// May overflow to infinity for absurd returns (above ~1e154); the weights do not.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        let n = self.len();
        (self.sigma[i] * self.scale) * (self.sigma[j] * self.scale) * self.corr[i * n + j]
    }

    /// The whole matrix, rows in asset order.
    pub fn matrix(&self) -> Vec<Vec<f64>> {
        (0..self.len()).map(|i| (0..self.len()).map(|j| self.get(i, j)).collect()).collect()
    }

    /// The standard deviation of asset `i`.
    pub fn volatility(&self, i: usize) -> f64 {
        self.sigma[i] * self.scale
    }

    /// The correlation of assets `i` and `j`.
    pub fn correlation(&self, i: usize, j: usize) -> f64 {
        self.corr[i * self.len() + j]
    }

    /// The Ledoit-Wolf shrinkage intensity in `[0, 1]` when the estimate is shrunk
    /// (`0` is the sample covariance, `1` is the scaled identity).
    pub fn shrinkage_intensity(&self) -> Option<f64> {
        self.intensity
    }

    /// The ratio of the largest to the smallest eigenvalue of the covariance matrix
    /// (infinite when it is singular).
    pub fn condition_number(&self) -> f64 {
        let eig = symmetric_eigenvalues(&self.relative_matrix(), self.len());
        let (lo, hi) = (eig[0], eig[eig.len() - 1]);
        if lo <= 0.0 { f64::INFINITY } else { hi / lo }
    }

    /// The variance `wᵀ Σ w` of a portfolio with weights `w` (in asset order).
    pub fn variance(&self, weights: &[f64]) -> f64 {
        let v: Vec<f64> = weights.iter().zip(&self.sigma).map(|(w, s)| w * s * self.scale).collect();
        quad_form(&self.corr, self.len(), &v)
    }

    /// The risk contributions `w_i (Σw)_i / wᵀΣw` of a portfolio (in asset order),
    /// fractions that sum to 1; all zero when the portfolio has zero variance.
    pub fn risk_contributions(&self, weights: &[f64]) -> Vec<f64> {
        let v: Vec<f64> = weights.iter().zip(&self.sigma).map(|(w, s)| w * s).collect();
        relative_risk_contributions(&self.corr, self.len(), &v)
    }

    /// The covariance divided by the largest variance (row-major).
    fn relative_matrix(&self) -> Vec<f64> {
        let n = self.len();
        let mut m = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                m[i * n + j] = self.sigma[i] * self.sigma[j] * self.corr[i * n + j];
            }
        }
        m
    }

    /// Relative volatilities (largest 1) and the correlation matrix, in asset order.
    pub(crate) fn parts(&self) -> (&[f64], &[f64]) {
        (&self.sigma, &self.corr)
    }

    /// The correlation matrix the solvers of min-variance and risk parity use: as is,
    /// unless it is numerically singular (smallest / largest eigenvalue below
    /// [`SINGULAR_RATIO`]), in which case a ridge `eps I` with `eps = SINGULAR_RATIO *
    /// largest eigenvalue` is added, that is `Σ + eps diag(Σ)`. The flag tells whether
    /// the ridge was applied.
    pub(crate) fn solver_correlation(&self) -> (Vec<f64>, bool) {
        let n = self.len();
        let eig = symmetric_eigenvalues(&self.corr, n);
        let (lo, hi) = (eig[0], eig[n - 1]);
        if lo >= SINGULAR_RATIO * hi {
            return (self.corr.clone(), false);
        }
        let mut c = self.corr.clone();
        for i in 0..n {
            c[i * n + i] += SINGULAR_RATIO * hi;
        }
        (c, true)
    }
}

/// `v_i (Cv)_i / vᵀCv` for a row-major `n`x`n` matrix `c`; zeros when `vᵀCv` is 0.
pub(crate) fn relative_risk_contributions(c: &[f64], n: usize, v: &[f64]) -> Vec<f64> {
    let cv = super::linalg::mat_vec(c, n, v);
    let total: f64 = cv.iter().zip(v).map(|(a, b)| a * b).sum();
    if total <= 0.0 || !total.is_finite() {
        return vec![0.0; n];
    }
    cv.iter().zip(v).map(|(a, b)| a * b / total).collect()
}

/// The risk contributions `w_i (Σw)_i / wᵀΣw` of a portfolio with weights `weights`
/// under the covariance matrix `cov` (rows), fractions that sum to 1; all zero when
/// the portfolio has zero variance.
///
/// # Panics
/// When `cov` is not a square matrix of the weights' length.
pub fn risk_contributions(weights: &[f64], cov: &[Vec<f64>]) -> Vec<f64> {
    let n = weights.len();
    let flat: Vec<f64> = cov.iter().flat_map(|r| r.iter().copied()).collect();
    assert_eq!(flat.len(), n * n, "risk_contributions: the covariance must be {n}x{n}");
    relative_risk_contributions(&flat, n, weights)
}

/// The Ledoit-Wolf (2004) shrinkage intensity `b² / d²` for the demeaned columns
/// `x` (`n` assets, `t` observations) whose covariance with divisor `t - 1` is `s`.
/// The paper's estimator uses the divisor `t`; its intensity is computed with that
/// one here, and since the two matrices differ by the factor `t / (t - 1)` applying
/// it to `s` gives the same weights.
fn ledoit_wolf_intensity(x: &[Vec<f64>], s: &[f64], n: usize, t: usize) -> f64 {
    let tf = t as f64;
    let s1: Vec<f64> = s.iter().map(|v| v * (tf - 1.0) / tf).collect();
    let mu = (0..n).map(|i| s1[i * n + i]).sum::<f64>() / n as f64;
    let mut d2 = 0.0;
    for i in 0..n {
        for j in 0..n {
            let target = if i == j { mu } else { 0.0 };
            d2 += (s1[i * n + j] - target).powi(2);
        }
    }
    let mut b2bar = 0.0;
    let mut row = vec![0.0; n];
    for k in 0..t {
        for (r, col) in row.iter_mut().zip(x) {
            *r = col[k];
        }
        for (i, ri) in row.iter().enumerate() {
            for (j, rj) in row.iter().enumerate() {
                b2bar += (ri * rj - s1[i * n + j]).powi(2);
            }
        }
    }
    b2bar /= tf * tf;
    if d2 <= 0.0 || !d2.is_finite() {
        // S is already a multiple of the identity: nothing to shrink.
        return 0.0;
    }
    (b2bar.min(d2) / d2).clamp(0.0, 1.0)
}

fn zero_vol(method: &str, asset: &Asset) -> CoreError {
    err(method, format!("{asset} has zero volatility over the window"))
}

//! Equal risk contribution by Newton's method on Spinu's (2013) convex formulation.
//!
//! With `Σ = D C D` and `w ∝ D⁻¹ z`, the risk contributions of `w` under `Σ` are
//! `z_i (Cz)_i / zᵀCz`, so the problem is solved on the unit-diagonal correlation
//! matrix: minimise the self-concordant `f(z) = ½ zᵀCz - Σ ln z_i` over `z > 0`.
//! Its stationary point satisfies `z_i (Cz)_i = 1` for every `i`: equal
//! contributions. Damped Newton (step `1 / (1 + λ)` while the Newton decrement `λ`
//! is above 1/4, full steps after) never leaves `z > 0` and converges quadratically;
//! it stops when the relative error of the contributions is below 1e-13 or stalls
//! at rounding level.

use super::covariance::Covariance;
use super::linalg::{cholesky, cholesky_solve, mat_vec};

/// The largest relative error of the risk contributions accepted (beyond the
/// rounding error of `(Cz)_i` itself, which matters only for nearly singular
/// matrices).
pub(crate) const RC_TOL: f64 = 1e-10;

/// Equal-risk-contribution weights in asset order.
pub(crate) fn risk_parity(cov: &Covariance) -> Result<Vec<f64>, String> {
    let n = cov.len();
    let (sigma, _) = cov.parts();
    let (c, _) = cov.solver_correlation();
    let z = solve(&c, n)?;
    let smin = sigma.iter().fold(f64::INFINITY, |m, s| m.min(*s));
    let raw: Vec<f64> = z.iter().zip(sigma).map(|(z, s)| z * (smin / s)).collect();
    let total: f64 = raw.iter().sum();
    Ok(raw.iter().map(|w| w / total).collect())
}

/// The largest error `|z_i (Cz)_i - 1|` (the contributions are all 1 at the
/// solution), each divided by the rounding amplification of `(Cz)_i` (so 1e-10
/// means "1e-10, or as close as the arithmetic allows": only nearly singular
/// matrices, whose `(Cz)_i` is a difference of much larger terms, need the slack).
fn rc_error(c: &[f64], n: usize, z: &[f64], cz: &[f64]) -> f64 {
    (0..n)
        .map(|i| {
            let magnitude: f64 = (0..n).map(|j| (c[i * n + j] * z[j]).abs()).sum();
            let amplification = (magnitude / cz[i].abs()).max(1.0);
            let slack = 1.0 + amplification * 64.0 * n as f64 * f64::EPSILON / RC_TOL;
            (z[i] * cz[i] - 1.0).abs() / slack
        })
        .fold(0.0, f64::max)
}

fn solve(c: &[f64], n: usize) -> Result<Vec<f64>, String> {
    let total: f64 = c.iter().sum();
    if total.is_nan() || total <= 0.0 {
        return Err("the covariance matrix is singular".into());
    }
    let mut z = vec![1.0 / total.sqrt(); n];
    let mut cz = mat_vec(c, n, &z);
    for _ in 0..200 {
        if rc_error(c, n, &z, &cz) < 1e-3 * RC_TOL {
            break;
        }
        let g: Vec<f64> = (0..n).map(|i| cz[i] - 1.0 / z[i]).collect();
        let mut h = c.to_vec();
        for i in 0..n {
            h[i * n + i] += 1.0 / (z[i] * z[i]);
        }
        let l = cholesky(&h, n).ok_or("the covariance matrix is not positive semi-definite")?;
        let step: Vec<f64> = cholesky_solve(&l, n, &g).iter().map(|v| -v).collect();
        let decrement2 = -g.iter().zip(&step).map(|(g, s)| g * s).sum::<f64>();
        if decrement2.is_nan() || decrement2 < 1e-30 {
            break;
        }
        let decrement = decrement2.sqrt();
        let mut t = if decrement > 0.25 { 1.0 / (1.0 + decrement) } else { 1.0 };
        let mut next: Vec<f64> = z.iter().zip(&step).map(|(z, s)| z + t * s).collect();
        while next.iter().any(|v| *v <= 0.0) {
            t *= 0.5;
            if t < 1e-12 {
                return Err("the risk-parity solver stalled".into());
            }
            next = z.iter().zip(&step).map(|(z, s)| z + t * s).collect();
        }
        z = next;
        cz = mat_vec(c, n, &z);
    }
    if z.iter().all(|v| v.is_finite() && *v > 0.0) && rc_error(c, n, &z, &cz) <= RC_TOL {
        Ok(z)
    } else {
        Err("the risk-parity solver did not converge".into())
    }
}

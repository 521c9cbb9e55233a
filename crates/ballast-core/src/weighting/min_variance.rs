//! Long-only minimum variance by a primal active-set method on the KKT system.
//!
//! With `Σ = D C D` (`D` the volatilities, `C` the correlations) and `w = D⁻¹ z / k`,
//! minimising `wᵀΣw` over `w ≥ 0, Σw = 1` is minimising `zᵀCz` over `z ≥ 0,
//! aᵀz = 1` with `a_i = σ_min / σ_i ∈ (0, 1]`, which works on a unit-diagonal matrix
//! whatever the scale of each asset. For a set `F` of free assets (the others at
//! zero) the equality-constrained optimum is `z_F = C_FF⁻¹ a_F / (a_Fᵀ C_FF⁻¹ a_F)`,
//! one Cholesky solve. The method starts from a feasible point, steps toward that
//! optimum, fixes at zero the first asset that would go negative, and when the step
//! is full frees the fixed asset with the most negative multiplier
//! `μ_i = (Cz)_i - λ a_i` (`λ = zᵀCz`). For a positive definite `C` it ends, exactly,
//! in a finite number of steps (at most a few times `n` here); the result is then
//! checked against the KKT conditions.

use super::covariance::Covariance;
use super::linalg::{cholesky, cholesky_solve, mat_vec};

/// Multipliers above `-RELEASE_TOL` (relative, see [`kkt_scale`]) count as optimal.
const RELEASE_TOL: f64 = 1e-12;
/// The tolerance of the final KKT check (relative, see [`kkt_scale`]).
const KKT_TOL: f64 = 1e-9;

/// Long-only minimum-variance weights, in asset order. See the module docs.
pub(crate) fn min_variance(cov: &Covariance) -> Result<Vec<f64>, String> {
    let n = cov.len();
    let (sigma, _) = cov.parts();
    let (c, _) = cov.solver_correlation();
    let smin = sigma.iter().fold(f64::INFINITY, |m, s| m.min(*s));
    let a: Vec<f64> = sigma.iter().map(|s| smin / s).collect();
    let z = solve(&c, n, &a)?;
    check_kkt(&c, n, &a, &z)?;
    let raw: Vec<f64> = z.iter().zip(&a).map(|(z, a)| z * a).collect();
    let total: f64 = raw.iter().sum();
    Ok(raw.iter().map(|w| w / total).collect())
}

/// The scale against which the KKT residual of asset `i` is judged: the magnitude of
/// the terms of `(Cz)_i - λ a_i`, so that the test is as strict as rounding allows.
fn kkt_scale(c: &[f64], n: usize, z: &[f64], lambda: f64, a: &[f64], i: usize) -> f64 {
    (0..n).map(|j| (c[i * n + j] * z[j]).abs()).sum::<f64>() + lambda * a[i]
}

/// Minimises `zᵀCz` over `z ≥ 0, aᵀz = 1`.
fn solve(c: &[f64], n: usize, a: &[f64]) -> Result<Vec<f64>, String> {
    let aa: f64 = a.iter().map(|v| v * v).sum();
    let mut z: Vec<f64> = a.iter().map(|v| v / aa).collect();
    let mut free = vec![true; n];
    for _ in 0..(20 * n + 100) {
        let idx: Vec<usize> = (0..n).filter(|&i| free[i]).collect();
        let k = idx.len();
        let mut sub = vec![0.0; k * k];
        for (p, &i) in idx.iter().enumerate() {
            for (q, &j) in idx.iter().enumerate() {
                sub[p * k + q] = c[i * n + j];
            }
        }
        let l = cholesky(&sub, k).ok_or("the covariance matrix is not positive definite")?;
        let af: Vec<f64> = idx.iter().map(|&i| a[i]).collect();
        let x = cholesky_solve(&l, k, &af);
        let denom: f64 = x.iter().zip(&af).map(|(x, a)| x * a).sum();
        if denom.is_nan() || denom <= 0.0 {
            return Err("the covariance matrix is not positive definite".into());
        }
        let target: Vec<f64> = x.iter().map(|v| v / denom).collect();
        // Step toward the subproblem's optimum until an asset would go negative.
        let mut alpha = 1.0;
        let mut block = None;
        for (p, &i) in idx.iter().enumerate() {
            let d = target[p] - z[i];
            if d < 0.0 {
                let r = z[i] / -d;
                if r < alpha {
                    alpha = r;
                    block = Some(i);
                }
            }
        }
        if let Some(b) = block {
            for (p, &i) in idx.iter().enumerate() {
                z[i] = (z[i] + alpha * (target[p] - z[i])).max(0.0);
            }
            z[b] = 0.0;
            free[b] = false;
            continue;
        }
        for (p, &i) in idx.iter().enumerate() {
            z[i] = target[p].max(0.0);
        }
        // Optimal for this free set: free the fixed asset with the worst multiplier.
        let cz = mat_vec(c, n, &z);
        let lambda: f64 = cz.iter().zip(&z).map(|(a, b)| a * b).sum();
        let mut worst: Option<(usize, f64)> = None;
        for i in (0..n).filter(|&i| !free[i]) {
            let rel = (cz[i] - lambda * a[i]) / kkt_scale(c, n, &z, lambda, a, i);
            if rel < -RELEASE_TOL && worst.is_none_or(|(_, w)| rel < w) {
                worst = Some((i, rel));
            }
        }
        match worst {
            None => return Ok(z),
            Some((i, _)) => free[i] = true,
        }
    }
    Err("the active-set solver did not converge".into())
}

/// Checks the KKT conditions of `min zᵀCz, z ≥ 0, aᵀz = 1` at `z`.
pub(crate) fn check_kkt(c: &[f64], n: usize, a: &[f64], z: &[f64]) -> Result<(), String> {
    let fail = || Err("the minimum-variance solution failed its optimality check".to_string());
    let az: f64 = a.iter().zip(z).map(|(a, z)| a * z).sum();
    if z.iter().any(|v| !v.is_finite() || *v < 0.0) || (az - 1.0).abs() > KKT_TOL {
        return fail();
    }
    let cz = mat_vec(c, n, z);
    let lambda: f64 = cz.iter().zip(z).map(|(a, b)| a * b).sum();
    for i in 0..n {
        let rel = (cz[i] - lambda * a[i]) / kkt_scale(c, n, z, lambda, a, i);
        if rel < -KKT_TOL || (z[i] > 0.0 && rel > KKT_TOL) {
            return fail();
        }
    }
    Ok(())
}

//! Hierarchical risk parity (López de Prado 2016, "Building diversified portfolios
//! that outperform out of sample").
//!
//! 1. Distance `d_ij = sqrt((1 - ρ_ij) / 2)`.
//! 2. Single-linkage agglomerative clustering on `d`. Ties (equal distances, common
//!    with block-structured or rounded data) go to the pair of clusters with the
//!    smallest ids, leaves numbered in symbol order and merged clusters numbered
//!    after them in order of creation, as in SciPy; the cluster with the smaller id
//!    is the left child.
//! 3. Quasi-diagonalisation: the leaves of the dendrogram, left to right.
//! 4. Recursive bisection of that order into halves (the paper's bisection, by
//!    position rather than by the dendrogram), splitting each half's weight by
//!    `alpha = 1 - V_left / (V_left + V_right)` where `V` is the variance of the
//!    half's inverse-variance portfolio.
//!
//! The paper's code clusters on a second distance (the Euclidean distance between
//! the columns of `d`); this uses `d` itself, as most implementations do.

use super::covariance::Covariance;
use super::linalg::quad_form;

/// HRP weights in asset order.
pub(crate) fn hrp(cov: &Covariance) -> Vec<f64> {
    let n = cov.len();
    let (sigma, corr) = cov.parts();
    let order = quasi_diagonal_order(corr, n);
    let mut w = vec![1.0; n];
    let mut stack: Vec<&[usize]> = vec![&order];
    while let Some(items) = stack.pop() {
        if items.len() < 2 {
            continue;
        }
        let (left, right) = items.split_at(items.len() / 2);
        let (vl, vr) = (cluster_variance(sigma, corr, n, left), cluster_variance(sigma, corr, n, right));
        let alpha = if vl + vr > 0.0 { 1.0 - vl / (vl + vr) } else { 0.5 };
        for &i in left {
            w[i] *= alpha;
        }
        for &i in right {
            w[i] *= 1.0 - alpha;
        }
        stack.push(left);
        stack.push(right);
    }
    w
}

/// The variance of the inverse-variance portfolio of `items`, up to the common
/// factor of the relative volatilities (which cancels in `alpha`).
fn cluster_variance(sigma: &[f64], corr: &[f64], n: usize, items: &[usize]) -> f64 {
    let smin = items.iter().fold(f64::INFINITY, |m, &i| m.min(sigma[i]));
    // Inverse-variance weights u_i ∝ 1/σ_i² with the largest at 1; the portfolio's
    // exposure to asset i in correlation units is u_i σ_i.
    let u: Vec<f64> = items.iter().map(|&i| (smin / sigma[i]).powi(2)).collect();
    let total: f64 = u.iter().sum();
    let v: Vec<f64> = items.iter().zip(&u).map(|(&i, u)| u / total * sigma[i]).collect();
    let k = items.len();
    let mut sub = vec![0.0; k * k];
    for (p, &i) in items.iter().enumerate() {
        for (q, &j) in items.iter().enumerate() {
            sub[p * k + q] = corr[i * n + j];
        }
    }
    quad_form(&sub, k, &v).max(0.0)
}

/// The leaves of the single-linkage dendrogram on `sqrt((1 - ρ) / 2)`, left to right.
pub(crate) fn quasi_diagonal_order(corr: &[f64], n: usize) -> Vec<usize> {
    if n == 1 {
        return vec![0];
    }
    let ids = 2 * n - 1;
    let mut dist = vec![f64::INFINITY; ids * ids];
    for i in 0..n {
        for j in 0..n {
            dist[i * ids + j] = ((1.0 - corr[i * n + j]) / 2.0).max(0.0).sqrt();
        }
    }
    let mut children: Vec<Option<(usize, usize)>> = vec![None; ids];
    let mut active: Vec<usize> = (0..n).collect();
    for new in n..ids {
        let mut best: Option<(usize, usize, f64)> = None;
        for (x, &a) in active.iter().enumerate() {
            for &b in &active[x + 1..] {
                let d = dist[a * ids + b];
                if best.is_none_or(|(_, _, bd)| d < bd) {
                    best = Some((a, b, d));
                }
            }
        }
        let (a, b, _) = best.expect("at least two active clusters");
        children[new] = Some((a, b));
        active.retain(|&c| c != a && c != b);
        for &c in &active {
            let d = dist[a * ids + c].min(dist[b * ids + c]);
            dist[new * ids + c] = d;
            dist[c * ids + new] = d;
        }
        active.push(new);
    }
    let mut order = Vec::with_capacity(n);
    let mut stack = vec![ids - 1];
    while let Some(node) = stack.pop() {
        match children[node] {
            Some((left, right)) => {
                stack.push(right);
                stack.push(left);
            }
            None => order.push(node),
        }
    }
    order
}

//! Tests of the weighting methods: hand-computed cases, defining properties,
//! degenerate input and order independence.

use std::collections::BTreeMap;

use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use super::*;

fn a(s: &str) -> Asset {
    Asset::new(s).unwrap()
}

fn assets(names: &[&str]) -> Vec<Asset> {
    names.iter().map(|s| a(s)).collect()
}

/// A 64-bit linear congruential generator (Knuth's MMIX constants): deterministic
/// pseudo-random test data without a rand crate.
struct Lcg(u64);

impl Lcg {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0
    }

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal by Box-Muller.
    fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// `n` assets x `t` returns from a three-factor model with asset-specific noise and
/// volatilities between 1 % and 5 %: correlated, full rank.
fn factor_returns(n: usize, t: usize, seed: u64) -> ReturnMatrix {
    let mut rng = Lcg(seed);
    let loadings: Vec<[f64; 3]> = (0..n).map(|_| [rng.uniform(), rng.uniform() - 0.3, rng.uniform() - 0.5]).collect();
    let vols: Vec<f64> = (0..n).map(|_| 0.01 + 0.04 * rng.uniform()).collect();
    let mut cols = vec![Vec::with_capacity(t); n];
    for _ in 0..t {
        let f = [rng.normal(), rng.normal(), rng.normal()];
        for i in 0..n {
            let common: f64 = loadings[i].iter().zip(&f).map(|(l, f)| l * f).sum();
            cols[i].push(vols[i] * (common + 0.6 * rng.normal()) / 1.5);
        }
    }
    let names: Vec<Asset> = (0..n).map(|i| a(&format!("A{i:02}"))).collect();
    ReturnMatrix::from_returns(names, cols).unwrap()
}

/// Mutually orthogonal, mean-zero +-1 patterns over `t` (a multiple of 8) periods:
/// Walsh functions.
fn walsh(k: usize, t: usize) -> Vec<f64> {
    (0..t).map(|i| if (i & k).count_ones().is_multiple_of(2) { 1.0 } else { -1.0 }).collect()
}

fn opts(min_observations: usize, shrinkage: Shrinkage) -> RiskOptions {
    RiskOptions { shrinkage, min_observations }
}

fn rb(method: Method, r: &ReturnMatrix) -> BTreeMap<Asset, f64> {
    risk_based(method, r, &opts(2, Shrinkage::None)).unwrap()
}

fn wt(map: &BTreeMap<Asset, f64>, s: &str) -> f64 {
    map[&a(s)]
}

fn close(got: f64, want: f64, tol: f64) -> bool {
    (got - want).abs() <= tol
}

fn assert_simplex(weights: &BTreeMap<Asset, f64>, what: &str) {
    for (asset, v) in weights {
        assert!(v.is_finite() && *v >= 0.0, "{what}: {asset} = {v}");
    }
    let sum: f64 = weights.values().sum();
    assert!(close(sum, 1.0, 1e-12), "{what}: sum {sum}");
}

/// Two assets with returns of exact sample volatilities `s1`, `s2` (up to the common
/// factor t/(t-1)) and correlation `rho`.
fn two_assets(s1: f64, s2: f64, rho: f64) -> ReturnMatrix {
    let t = 64;
    let (p1, p2) = (walsh(1, t), walsh(2, t));
    let r1 = p1.iter().map(|v| s1 * v).collect();
    let r2 = p1.iter().zip(&p2).map(|(x, y)| s2 * (rho * x + (1.0 - rho * rho).sqrt() * y)).collect();
    ReturnMatrix::from_returns(assets(&["BTC", "ETH"]), vec![r1, r2]).unwrap()
}

fn cov_from(names: &[&str], rows: &[&[f64]]) -> Covariance {
    Covariance::from_matrix(assets(names), rows.iter().map(|r| r.to_vec()).collect()).unwrap()
}

fn weights_vec(cov: &Covariance, map: &BTreeMap<Asset, f64>) -> Vec<f64> {
    cov.assets().iter().map(|x| map[x]).collect()
}

/// KKT of long-only min-variance on the real covariance: `(Σw)_i = wᵀΣw` where
/// `w_i > 0`, `>=` where `w_i = 0`.
fn assert_kkt(cov: &Covariance, weights: &[f64], tol: f64) {
    let m = cov.matrix();
    let var = cov.variance(weights);
    for (i, row) in m.iter().enumerate() {
        let g: f64 = row.iter().zip(weights).map(|(c, w)| c * w).sum();
        if weights[i] > 1e-12 {
            assert!(close(g / var, 1.0, tol), "asset {i}: (Σw)_i / wᵀΣw = {}", g / var);
        } else {
            assert!(g / var >= 1.0 - tol, "asset {i} at zero: (Σw)_i / wᵀΣw = {}", g / var);
        }
    }
}

// ---------------------------------------------------------------- names

#[test]
fn method_names_parse_print_and_serialise() {
    for m in Method::ALL {
        assert_eq!(m.to_string().parse::<Method>().unwrap(), m);
        assert_eq!(serde_json::to_string(&m).unwrap(), format!("\"{m}\""));
        assert_eq!(serde_json::from_str::<Method>(&format!("\"{m}\"")).unwrap(), m);
    }
    assert_eq!(" Market_Cap ".parse::<Method>().unwrap(), Method::MarketCap);
    let e = "sharpe".parse::<Method>().unwrap_err().to_string();
    assert!(e.contains("sharpe") && e.contains("min-variance") && e.contains("hrp"), "{e}");
    let risk: Vec<_> = Method::ALL.into_iter().filter(|m| m.is_risk_based()).collect();
    assert_eq!(risk, [Method::InverseVol, Method::MinVariance, Method::RiskParity, Method::Hrp]);
    assert_eq!(serde_json::to_string(&Shrinkage::LedoitWolf).unwrap(), "\"ledoit-wolf\"");
    assert_eq!("ledoit-wolf".parse::<Shrinkage>().unwrap(), Shrinkage::LedoitWolf);
    assert!("oas".parse::<Shrinkage>().unwrap_err().to_string().contains("ledoit-wolf"));
    assert_eq!(RiskOptions::default(), RiskOptions { shrinkage: Shrinkage::None, min_observations: 30 });
}

#[test]
fn risk_based_rejects_the_other_methods() {
    let r = two_assets(0.01, 0.02, 0.0);
    for m in [Method::Equal, Method::Custom, Method::MarketCap] {
        let e = risk_based(m, &r, &RiskOptions::default()).unwrap_err().to_string();
        assert!(e.contains(m.name()), "{e}");
    }
}

// ---------------------------------------------------------------- equal, market cap

#[test]
fn equal_sums_exactly_to_one() {
    for n in 1..=20 {
        let names: Vec<Asset> = (0..n).rev().map(|i| a(&format!("X{i}"))).collect();
        let e = equal(&names).unwrap();
        assert_eq!(e.len(), n);
        assert_eq!(e.values().copied().sum::<Decimal>(), Decimal::ONE, "n = {n}");
        let rest: Vec<Decimal> = e.values().skip(1).copied().collect();
        assert!(rest.windows(2).all(|p| p[0] == p[1]), "all but the first are equal");
        for (asset, v) in &e {
            assert!((*v - Decimal::ONE / Decimal::from(n)).abs() < Decimal::from(n) * dec!(1e-27), "{asset} {v}");
        }
    }
    let e = equal(&assets(&["ETH", "BTC", "XRP"])).unwrap();
    assert_eq!(e[&a("ETH")], dec!(0.333333333333333333333333333));
    assert_eq!(e[&a("BTC")], dec!(0.333333333333333333333333334), "the remainder goes to the first in symbol order");
    assert!(equal(&[]).is_err());
    assert!(equal(&assets(&["BTC", "BTC"])).unwrap_err().to_string().contains("BTC"));
}

fn caps(entries: &[(&str, Decimal)]) -> BTreeMap<Asset, Decimal> {
    entries.iter().map(|(s, c)| (a(s), *c)).collect()
}

#[test]
fn market_cap_is_proportional() {
    let w = market_cap(&caps(&[("BTC", dec!(1700)), ("ETH", dec!(250)), ("SOL", dec!(50))]), None).unwrap();
    assert_eq!(w[&a("BTC")], dec!(0.85));
    assert_eq!(w[&a("ETH")], dec!(0.125));
    assert_eq!(w[&a("SOL")], dec!(0.025));
    assert_eq!(w.values().copied().sum::<Decimal>(), Decimal::ONE);
}

#[test]
fn market_cap_redistributes_the_excess_over_the_cap() {
    let w = market_cap(&caps(&[("A", dec!(70)), ("B", dec!(20)), ("C", dec!(10))]), Some(dec!(0.5))).unwrap();
    assert_eq!(w[&a("A")], dec!(0.5));
    assert!((w[&a("B")] - Decimal::ONE / dec!(3)).abs() < dec!(1e-26), "{}", w[&a("B")]);
    assert!((w[&a("C")] - Decimal::ONE / dec!(6)).abs() < dec!(1e-26), "{}", w[&a("C")]);
    assert_eq!(w.values().copied().sum::<Decimal>(), Decimal::ONE);
    // Iterated: capping A pushes B over the cap in the second round.
    let w = market_cap(&caps(&[("A", dec!(60)), ("B", dec!(30)), ("C", dec!(5)), ("D", dec!(5))]), Some(dec!(0.35)))
        .unwrap();
    assert_eq!(w[&a("A")], dec!(0.35));
    assert_eq!(w[&a("B")], dec!(0.35));
    assert_eq!(w[&a("C")], dec!(0.15));
    assert_eq!(w[&a("D")], dec!(0.15));
    // A cap of exactly 1/n makes everything equal.
    let w = market_cap(&caps(&[("A", dec!(60)), ("B", dec!(30)), ("C", dec!(5)), ("D", dec!(5))]), Some(dec!(0.25)))
        .unwrap();
    assert!(w.values().all(|v| *v == dec!(0.25)), "{w:?}");
}

#[test]
fn market_cap_errors_name_the_culprit() {
    let e =
        market_cap(&caps(&[("A", dec!(1)), ("B", dec!(1)), ("C", dec!(1))]), Some(dec!(0.3))).unwrap_err().to_string();
    assert!(e.contains("0.3") && e.contains("3 assets") && e.contains("market-cap"), "{e}");
    let e = market_cap(&caps(&[("A", dec!(1)), ("B", dec!(0))]), None).unwrap_err().to_string();
    assert!(e.contains("B"), "{e}");
    let e = market_cap(&caps(&[("A", dec!(1)), ("B", dec!(-5))]), None).unwrap_err().to_string();
    assert!(e.contains("B") && e.contains("-5"), "{e}");
    assert!(market_cap(&caps(&[("A", dec!(1))]), Some(dec!(1.5))).is_err());
    assert!(market_cap(&BTreeMap::new(), None).is_err());
    let e =
        market_cap_for(&assets(&["A", "ZZZ"]), &caps(&[("A", dec!(1)), ("B", dec!(2))]), None).unwrap_err().to_string();
    assert!(e.contains("ZZZ"), "{e}");
    let w =
        market_cap_for(&assets(&["B", "A"]), &caps(&[("A", dec!(1)), ("B", dec!(3)), ("C", dec!(9))]), None).unwrap();
    assert_eq!(w, caps(&[("A", dec!(0.25)), ("B", dec!(0.75))]));
    let huge = Decimal::MAX / dec!(2);
    let e = market_cap(&caps(&[("A", huge), ("B", huge), ("C", huge)]), None).unwrap_err().to_string();
    assert!(e.contains("too large"), "{e}");
}

// ---------------------------------------------------------------- to_decimal

#[test]
fn to_decimal_sums_exactly_to_one() {
    let third = 1.0 / 3.0;
    let m: BTreeMap<Asset, f64> = [(a("A"), third), (a("B"), third), (a("C"), third)].into();
    let d = to_decimal(&m).unwrap();
    assert_eq!(d.values().copied().sum::<Decimal>(), Decimal::ONE);
    assert_eq!(d[&a("A")], dec!(0.3333333334));
    assert_eq!(d[&a("B")], dec!(0.3333333333));
    let m: BTreeMap<Asset, f64> = [(a("A"), 2.0 / 3.0), (a("B"), 1.0 / 3.0)].into();
    let d = to_decimal(&m).unwrap();
    assert_eq!((d[&a("A")], d[&a("B")]), (dec!(0.6666666667), dec!(0.3333333333)));
    // Not normalised on input: normalised here.
    let m: BTreeMap<Asset, f64> = [(a("A"), 3.0), (a("B"), 1.0)].into();
    assert_eq!(to_decimal(&m).unwrap()[&a("A")], dec!(0.75));
    for bad in [f64::NAN, f64::INFINITY, -0.1] {
        let m: BTreeMap<Asset, f64> = [(a("A"), 0.5), (a("XRP"), bad)].into();
        let e = to_decimal(&m).unwrap_err().to_string();
        assert!(e.contains("XRP"), "{e}");
    }
    assert!(to_decimal(&BTreeMap::new()).is_err());
    assert!(to_decimal(&[(a("A"), 0.0)].into()).is_err());
    // Feeds TargetWeights as is.
    let w = rb(Method::RiskParity, &factor_returns(12, 100, 5));
    let d = to_decimal(&w).unwrap();
    let entries: Vec<_> = d.into_iter().collect();
    crate::targets::TargetWeights::from_fractions(&a("USDT"), &entries, crate::targets::TargetLimits::default())
        .unwrap();
}

// ---------------------------------------------------------------- return matrix

#[test]
fn return_matrix_validates_and_sorts() {
    let r = ReturnMatrix::from_closes(assets(&["ETH", "BTC"]), &[vec![100.0, 110.0, 99.0], vec![10.0, 10.0, 12.0]])
        .unwrap();
    assert_eq!(r.assets(), assets(&["BTC", "ETH"]).as_slice());
    assert_eq!(r.len(), 2);
    assert!(!r.is_empty());
    assert_eq!(r.column(&a("BTC")).unwrap(), &[0.0, 0.19999999999999996]);
    assert!(close(r.column(&a("ETH")).unwrap()[1], -0.1, 1e-15));
    let e = ReturnMatrix::from_closes(assets(&["ETH", "BTC"]), &[vec![100.0, 0.0], vec![1.0, 1.0]])
        .unwrap_err()
        .to_string();
    assert!(e.contains("ETH") && e.contains("index 1"), "{e}");
    let e = ReturnMatrix::from_closes(assets(&["ETH"]), &[vec![100.0, f64::NAN, 3.0]]).unwrap_err().to_string();
    assert!(e.contains("ETH") && e.contains("index 1"), "{e}");
    let e = ReturnMatrix::from_closes(assets(&["ETH"]), &[vec![1.0, -2.0]]).unwrap_err().to_string();
    assert!(e.contains("ETH") && e.contains("-2"), "{e}");
    let e =
        ReturnMatrix::from_returns(assets(&["A", "B"]), vec![vec![0.1], vec![f64::INFINITY]]).unwrap_err().to_string();
    assert!(e.contains("B") && e.contains("index 0"), "{e}");
    let e = ReturnMatrix::from_returns(assets(&["A", "B"]), vec![vec![0.1], vec![0.1, 0.2]]).unwrap_err().to_string();
    assert!(e.contains("B") && e.contains("aligned"), "{e}");
    assert!(ReturnMatrix::from_returns(vec![], vec![]).is_err());
    assert!(
        ReturnMatrix::from_returns(assets(&["A", "A"]), vec![vec![0.1], vec![0.2]])
            .unwrap_err()
            .to_string()
            .contains("twice")
    );
    assert!(ReturnMatrix::from_returns(assets(&["A"]), vec![vec![0.1], vec![0.2]]).is_err());
    // Overflowing price ratios are caught as infinite returns.
    let e = ReturnMatrix::from_closes(assets(&["X"]), &[vec![1e-300, 1e300]]).unwrap_err().to_string();
    assert!(e.contains("X") && e.contains("index 0"), "{e}");
}

// ---------------------------------------------------------------- hand-computed

#[test]
fn inverse_vol_two_uncorrelated() {
    let w = rb(Method::InverseVol, &two_assets(0.01, 0.02, 0.0));
    assert!(close(wt(&w, "BTC"), 2.0 / 3.0, 1e-14) && close(wt(&w, "ETH"), 1.0 / 3.0, 1e-14), "{w:?}");
}

#[test]
fn min_variance_two_uncorrelated_is_inverse_variance() {
    let w = rb(Method::MinVariance, &two_assets(0.01, 0.02, 0.0));
    assert!(close(wt(&w, "BTC"), 0.8, 1e-12) && close(wt(&w, "ETH"), 0.2, 1e-12), "{w:?}");
}

#[test]
fn min_variance_two_correlated_closed_form() {
    for (s1, s2, rho) in [(0.01, 0.02, 0.25), (0.03, 0.02, -0.6), (0.01, 0.011, 0.7)] {
        let w = rb(Method::MinVariance, &two_assets(s1, s2, rho));
        let want = (s2 * s2 - rho * s1 * s2) / (s1 * s1 + s2 * s2 - 2.0 * rho * s1 * s2);
        assert!(close(wt(&w, "BTC"), want, 1e-12), "{s1} {s2} {rho}: {w:?} vs {want}");
    }
    let w = rb(Method::MinVariance, &two_assets(0.01, 0.02, 0.25));
    assert!(close(wt(&w, "BTC"), 0.875, 1e-12), "{w:?}");
}

#[test]
fn min_variance_long_only_binds() {
    // Unconstrained, ETH would be shorted (w_BTC = 4/3).
    let w = rb(Method::MinVariance, &two_assets(0.01, 0.02, 0.8));
    assert_eq!((wt(&w, "BTC"), wt(&w, "ETH")), (1.0, 0.0), "{w:?}");
    // Three assets: C is shorted unconstrained; long-only it is 0 and A, B split as
    // the uncorrelated pair they are: w_A = σ_B² / (σ_A² + σ_B²).
    let cov = cov_from(&["A", "B", "C"], &[&[1.0, 0.0, 1.6], &[0.0, 1.44, 0.72], &[1.6, 0.72, 4.0]]);
    let w = risk_based_from_covariance(Method::MinVariance, &cov).unwrap();
    assert_eq!(wt(&w, "C"), 0.0);
    assert!(close(wt(&w, "A"), 1.44 / 2.44, 1e-13) && close(wt(&w, "B"), 1.0 / 2.44, 1e-13), "{w:?}");
    assert_kkt(&cov, &weights_vec(&cov, &w), 1e-12);
}

#[test]
fn risk_parity_two_assets_is_inverse_vol() {
    for rho in [-0.5, 0.0, 0.25, 0.9] {
        let w = rb(Method::RiskParity, &two_assets(0.01, 0.02, rho));
        assert!(close(wt(&w, "BTC"), 2.0 / 3.0, 1e-12), "rho {rho}: {w:?}");
    }
}

#[test]
fn hrp_two_assets_is_inverse_variance() {
    let w = rb(Method::Hrp, &two_assets(0.01, 0.02, 0.3));
    assert!(close(wt(&w, "BTC"), 0.8, 1e-12) && close(wt(&w, "ETH"), 0.2, 1e-12), "{w:?}");
}

#[test]
fn one_asset_gets_everything() {
    let r = ReturnMatrix::from_returns(assets(&["BTC"]), vec![vec![0.0; 3]]).unwrap();
    for m in Method::ALL.into_iter().filter(|m| m.is_risk_based()) {
        assert_eq!(risk_based(m, &r, &RiskOptions::default()).unwrap(), BTreeMap::from([(a("BTC"), 1.0)]));
    }
    assert_eq!(equal(&assets(&["BTC"])).unwrap()[&a("BTC")], Decimal::ONE);
    assert_eq!(market_cap(&caps(&[("BTC", dec!(5))]), Some(dec!(1))).unwrap()[&a("BTC")], Decimal::ONE);
}

// ---------------------------------------------------------------- defining properties

#[test]
fn risk_parity_equalises_risk_contributions_on_12_assets() {
    for shrinkage in Shrinkage::ALL {
        let r = factor_returns(12, 250, 42);
        let w = risk_based(Method::RiskParity, &r, &opts(30, shrinkage)).unwrap();
        assert_simplex(&w, "risk-parity");
        let cov = Covariance::estimate(&r, shrinkage).unwrap();
        let v = weights_vec(&cov, &w);
        for rc in [cov.risk_contributions(&v), risk_contributions(&v, &cov.matrix())] {
            for (i, x) in rc.iter().enumerate() {
                assert!(close(*x, 1.0 / 12.0, 1e-8 / 12.0), "{shrinkage}: RC_{i} = {x}");
            }
        }
        // Not trivially equal weights.
        let spread = v.iter().fold(0.0_f64, |m, x| m.max(*x)) / v.iter().fold(1.0_f64, |m, x| m.min(*x));
        assert!(spread > 1.5, "{v:?}");
    }
}

#[test]
fn min_variance_beats_every_other_feasible_portfolio() {
    let mut rng = Lcg(7);
    for (seed, shrinkage) in [(1, Shrinkage::None), (2, Shrinkage::LedoitWolf), (3, Shrinkage::None)] {
        let r = factor_returns(12, 200, seed);
        let cov = Covariance::estimate(&r, shrinkage).unwrap();
        let w = risk_based(Method::MinVariance, &r, &opts(30, shrinkage)).unwrap();
        assert_simplex(&w, "min-variance");
        let v = weights_vec(&cov, &w);
        assert_kkt(&cov, &v, 1e-10);
        let best = cov.variance(&v);
        assert!(best <= cov.variance(&[1.0 / 12.0; 12]), "equal weights do better");
        for &eps in &[1e-1, 1e-3, 1e-6] {
            for _ in 0..300 {
                let mut p: Vec<f64> = v.iter().map(|x| (x + eps * (rng.uniform() - 0.5)).max(0.0)).collect();
                let s: f64 = p.iter().sum();
                p.iter_mut().for_each(|x| *x /= s);
                assert!(best <= cov.variance(&p) * (1.0 + 1e-13), "{p:?} beats the optimum");
            }
        }
        for i in 0..12 {
            let mut e = vec![0.0; 12];
            e[i] = 1.0;
            assert!(best <= cov.variance(&e));
        }
    }
}

#[test]
fn min_variance_on_uncorrelated_is_inverse_variance_for_many_assets() {
    let t = 64;
    let vols = [0.01, 0.02, 0.03, 0.04, 0.015, 0.025, 0.05];
    let cols: Vec<Vec<f64>> =
        vols.iter().enumerate().map(|(k, s)| walsh(k + 1, t).iter().map(|v| s * v).collect()).collect();
    let names: Vec<Asset> = (0..vols.len()).map(|i| a(&format!("U{i}"))).collect();
    let r = ReturnMatrix::from_returns(names, cols).unwrap();
    let w = rb(Method::MinVariance, &r);
    let total: f64 = vols.iter().map(|s| 1.0 / (s * s)).sum();
    for (i, s) in vols.iter().enumerate() {
        assert!(close(wt(&w, &format!("U{i}")), 1.0 / (s * s) / total, 1e-12));
    }
    // Risk parity and inverse-vol coincide when uncorrelated.
    let rp = rb(Method::RiskParity, &r);
    let iv = rb(Method::InverseVol, &r);
    for (k, x) in &rp {
        assert!(close(*x, iv[k], 1e-12), "{k}");
    }
}

#[test]
fn hrp_allocates_by_clusters() {
    // Block A: three assets at ρ = 0.9; block B: three at ρ = 0.5; uncorrelated
    // blocks, unit volatilities. The quasi-diagonal order keeps each block together,
    // the first bisection splits A from B: block weight ∝ the other block's
    // inverse-variance portfolio variance (1 + 2ρ)/3.
    let names = ["A1", "A2", "A3", "B1", "B2", "B3"];
    let rho = |i: usize, j: usize| match (i / 3, j / 3) {
        _ if i == j => 1.0,
        (0, 0) => 0.9,
        (1, 1) => 0.5,
        _ => 0.0,
    };
    let rows: Vec<Vec<f64>> = (0..6).map(|i| (0..6).map(|j| rho(i, j)).collect()).collect();
    let cov = Covariance::from_matrix(assets(&names), rows.clone()).unwrap();
    let order = hrp::quasi_diagonal_order(cov.parts().1, 6);
    let blocks: Vec<usize> = order.iter().map(|i| i / 3).collect();
    assert!(blocks == [0, 0, 0, 1, 1, 1] || blocks == [1, 1, 1, 0, 0, 0], "{order:?}");
    let w = risk_based_from_covariance(Method::Hrp, &cov).unwrap();
    assert_simplex(&w, "hrp");
    assert!(w.values().all(|x| *x > 0.0));
    let (va, vb) = ((1.0 + 2.0 * 0.9) / 3.0, (1.0 + 2.0 * 0.5) / 3.0);
    let block_a: f64 = ["A1", "A2", "A3"].iter().map(|s| wt(&w, s)).sum();
    assert!(close(block_a, vb / (va + vb), 1e-14), "block A {block_a}");
    // Within a block of equal volatilities and correlations, the bisection of 3 into
    // 1 + 2 gives the single asset 1 - 1/(1 + (1 + ρ)/2) of it.
    let single = |r: f64| 1.0 - 1.0 / (1.0 + (1.0 + r) / 2.0);
    let first_a = wt(&w, names[order.iter().copied().find(|i| *i < 3).unwrap()]);
    assert!(close(first_a / block_a, single(0.9), 1e-14), "{w:?}");
    let first_b = wt(&w, names[order.iter().copied().find(|i| *i >= 3).unwrap()]);
    assert!(close(first_b / (1.0 - block_a), single(0.5), 1e-14), "{w:?}");
    // A cluster of nearly identical assets is treated as one: much less than the
    // 50 % that inverse-vol gives it.
    assert!(block_a < 0.45);
    let iv = risk_based_from_covariance(Method::InverseVol, &cov).unwrap();
    assert!(close(["A1", "A2", "A3"].iter().map(|s| wt(&iv, s)).sum(), 0.5, 1e-14));
}

#[test]
fn hrp_weights_are_positive_on_real_looking_data() {
    for seed in 0..5 {
        let w = rb(Method::Hrp, &factor_returns(12, 365, seed));
        assert_simplex(&w, "hrp");
        assert!(w.values().all(|x| *x > 0.0), "{w:?}");
    }
}

#[test]
fn ledoit_wolf_matches_the_papers_formula_and_conditions_better() {
    // Reference intensity computed with scikit-learn's formula (ledoit_wolf_shrinkage).
    let t = 40;
    let mut cols = vec![Vec::new(); 3];
    for k in 0..t {
        let k = k as f64;
        let f = (1.3 * k + 0.2).sin();
        cols[0].push(0.01 * f + 0.004 * (2.1 * k).cos());
        cols[1].push(0.02 * f + 0.01 * (0.7 * k + 1.0).sin());
        cols[2].push(0.005 * (3.3 * k).cos() + 0.03 * (0.37 * k).sin());
    }
    let r = ReturnMatrix::from_returns(assets(&["X", "Y", "Z"]), cols).unwrap();
    let lw = Covariance::estimate(&r, Shrinkage::LedoitWolf).unwrap();
    let delta = lw.shrinkage_intensity().unwrap();
    assert!(close(delta, 0.13061708122833565, 1e-12), "{delta}");
    let s = Covariance::estimate(&r, Shrinkage::None).unwrap();
    assert_eq!(s.shrinkage_intensity(), None);
    let mu = (0..3).map(|i| s.get(i, i)).sum::<f64>() / 3.0;
    for i in 0..3 {
        for j in 0..3 {
            let want = (1.0 - delta) * s.get(i, j) + if i == j { delta * mu } else { 0.0 };
            assert!(close(lw.get(i, j), want, 1e-15), "({i}, {j})");
        }
    }
    assert!(lw.condition_number() < s.condition_number());

    for (n, t, seed) in [(12, 365, 1), (12, 40, 2), (20, 10, 3), (5, 200, 4)] {
        let r = factor_returns(n, t, seed);
        let s = Covariance::estimate(&r, Shrinkage::None).unwrap();
        let lw = Covariance::estimate(&r, Shrinkage::LedoitWolf).unwrap();
        let delta = lw.shrinkage_intensity().unwrap();
        assert!((0.0..=1.0).contains(&delta) && delta > 0.0, "{n}x{t}: {delta}");
        assert!(lw.condition_number() < s.condition_number(), "{n}x{t}");
        if t < n {
            assert!(s.condition_number() > 1e12, "rank-deficient sample covariance");
            assert!(lw.condition_number() < 1e6, "{}", lw.condition_number());
        }
    }
}

#[test]
fn covariance_from_matrix_validates() {
    let ok = Covariance::from_matrix(assets(&["B", "A"]), vec![vec![4.0, 1.0], vec![1.0, 1.0]]).unwrap();
    assert_eq!(ok.assets(), assets(&["A", "B"]).as_slice());
    assert_eq!(ok.matrix(), vec![vec![1.0, 1.0], vec![1.0, 4.0]]);
    assert!(close(ok.correlation(0, 1), 0.5, 1e-15) && close(ok.volatility(1), 2.0, 1e-15));
    let bad = |rows: Vec<Vec<f64>>| Covariance::from_matrix(assets(&["A", "B"]), rows).unwrap_err().to_string();
    assert!(bad(vec![vec![1.0, 0.0], vec![0.0, 0.0]]).contains("B has zero volatility"));
    assert!(bad(vec![vec![1.0, 0.5], vec![0.2, 1.0]]).contains("symmetric"));
    assert!(bad(vec![vec![1.0, 2.0], vec![2.0, 1.0]]).contains("correlation"));
    assert!(bad(vec![vec![1.0, f64::NAN], vec![f64::NAN, 1.0]]).contains("NaN"));
    assert!(bad(vec![vec![1.0]]).contains("2x2"));
    let e = Covariance::from_matrix(
        assets(&["A", "B", "C"]),
        vec![vec![1.0, 0.9, -0.9], vec![0.9, 1.0, 0.9], vec![-0.9, 0.9, 1.0]],
    );
    assert!(e.unwrap_err().to_string().contains("positive semi-definite"));
}

// ---------------------------------------------------------------- order independence

#[test]
fn every_method_is_independent_of_asset_order() {
    let r = factor_returns(9, 120, 11);
    let names = r.assets().to_vec();
    let cols: Vec<Vec<f64>> = names.iter().map(|x| r.column(x).unwrap().to_vec()).collect();
    let mut rng = Lcg(99);
    for _ in 0..5 {
        let mut perm: Vec<usize> = (0..names.len()).collect();
        for i in (1..perm.len()).rev() {
            perm.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
        }
        let permuted = ReturnMatrix::from_returns(
            perm.iter().map(|&i| names[i].clone()).collect(),
            perm.iter().map(|&i| cols[i].clone()).collect(),
        )
        .unwrap();
        for m in Method::ALL.into_iter().filter(|m| m.is_risk_based()) {
            for s in Shrinkage::ALL {
                assert_eq!(
                    risk_based(m, &r, &opts(30, s)).unwrap(),
                    risk_based(m, &permuted, &opts(30, s)).unwrap(),
                    "{m} {s}"
                );
            }
        }
        let shuffled: Vec<Asset> = perm.iter().map(|&i| names[i].clone()).collect();
        assert_eq!(equal(&shuffled).unwrap(), equal(&names).unwrap());
    }
    // HRP's tie-breaking on an exactly tied block structure, given in two orders.
    let rows = |flip: bool| -> Covariance {
        let names = if flip { ["D", "C", "B", "A"] } else { ["A", "B", "C", "D"] };
        let m: Vec<Vec<f64>> = (0..4).map(|i| (0..4).map(|j| if i == j { 1.0 } else { 0.3 }).collect()).collect();
        Covariance::from_matrix(assets(&names), m).unwrap()
    };
    for m in Method::ALL.into_iter().filter(|m| m.is_risk_based()) {
        assert_eq!(
            risk_based_from_covariance(m, &rows(false)).unwrap(),
            risk_based_from_covariance(m, &rows(true)).unwrap()
        );
    }
}

// ---------------------------------------------------------------- degenerate input

#[test]
fn too_few_observations_is_an_error_naming_the_method() {
    let r = factor_returns(3, 20, 1);
    let e = risk_based(Method::MinVariance, &r, &RiskOptions::default()).unwrap_err().to_string();
    assert!(e.contains("min-variance") && e.contains("20 observations, at least 30 needed"), "{e}");
    let r = factor_returns(3, 1, 1);
    let e = risk_based(Method::Hrp, &r, &opts(0, Shrinkage::None)).unwrap_err().to_string();
    assert!(e.contains("hrp") && e.contains("1 observations, at least 2 needed"), "{e}");
    let r = ReturnMatrix::from_closes(assets(&["A", "B"]), &[vec![], vec![]]).unwrap();
    assert!(r.is_empty());
    assert!(risk_based(Method::InverseVol, &r, &opts(0, Shrinkage::None)).is_err());
}

#[test]
fn zero_volatility_is_an_error_naming_the_asset() {
    let closes = vec![vec![100.0, 101.0, 99.0, 102.0], vec![1.0, 1.0, 1.0, 1.0], vec![5.0, 5.5, 5.2, 5.0]];
    let r = ReturnMatrix::from_closes(assets(&["BTC", "USDC", "ETH"]), &closes).unwrap();
    for m in Method::ALL.into_iter().filter(|m| m.is_risk_based()) {
        for s in Shrinkage::ALL {
            let e = risk_based(m, &r, &opts(2, s)).unwrap_err().to_string();
            assert!(e.contains("USDC has zero volatility over the window") && e.contains(m.name()), "{e}");
        }
    }
    // A constant non-zero return is zero volatility too (its computed stdev is ~1e-18).
    let r = ReturnMatrix::from_returns(assets(&["A", "B"]), vec![vec![0.1, 0.2, 0.3], vec![0.01; 3]]).unwrap();
    let e = risk_based(Method::InverseVol, &r, &opts(2, Shrinkage::None)).unwrap_err().to_string();
    assert!(e.contains("B has zero volatility"), "{e}");
    // All zero.
    let r = ReturnMatrix::from_returns(assets(&["A", "B"]), vec![vec![0.0; 5], vec![0.0; 5]]).unwrap();
    assert!(
        risk_based(Method::Hrp, &r, &opts(2, Shrinkage::None))
            .unwrap_err()
            .to_string()
            .contains("A has zero volatility")
    );
}

#[test]
fn identical_series_fall_back_to_the_ridge_and_split_evenly() {
    let base = factor_returns(3, 100, 3);
    let names = base.assets().to_vec();
    let mut cols: Vec<Vec<f64>> = names.iter().map(|x| base.column(x).unwrap().to_vec()).collect();
    cols.push(cols[0].clone());
    let mut with_twin = names.clone();
    with_twin.push(a("TWIN"));
    let r = ReturnMatrix::from_returns(with_twin, cols).unwrap();
    let cov = Covariance::estimate(&r, Shrinkage::None).unwrap();
    assert!(cov.solver_correlation().1, "the ridge is applied");
    let mv = rb(Method::MinVariance, &r);
    let rp = rb(Method::RiskParity, &r);
    let reduced_mv = rb(Method::MinVariance, &base);
    for (what, w) in [("min-variance", &mv), ("risk-parity", &rp)] {
        assert_simplex(w, what);
        assert!(close(wt(w, "A00"), wt(w, "TWIN"), 1e-8), "{what}: {w:?}");
    }
    // Same portfolio as without the twin, with A00's weight split in two.
    assert!(close(wt(&mv, "A00") + wt(&mv, "TWIN"), wt(&reduced_mv, "A00"), 1e-7), "{mv:?} vs {reduced_mv:?}");
    for x in ["A01", "A02"] {
        assert!(close(wt(&mv, x), wt(&reduced_mv, x), 1e-7), "{x}");
    }
    // Regular inputs are untouched by the ridge.
    assert!(!Covariance::estimate(&base, Shrinkage::None).unwrap().solver_correlation().1);
}

#[test]
fn perfectly_anticorrelated_pair_is_handled() {
    let p = walsh(1, 16);
    let r = ReturnMatrix::from_returns(
        assets(&["A", "B"]),
        vec![p.iter().map(|v| 0.02 * v).collect(), p.iter().map(|v| -0.02 * v).collect()],
    )
    .unwrap();
    for m in Method::ALL.into_iter().filter(|m| m.is_risk_based()) {
        let w = rb(m, &r);
        assert_simplex(&w, m.name());
        assert!(close(wt(&w, "A"), 0.5, 1e-9), "{m}: {w:?}");
    }
}

#[test]
fn more_assets_than_observations() {
    let r = factor_returns(8, 4, 21);
    for m in Method::ALL.into_iter().filter(|m| m.is_risk_based()) {
        for s in Shrinkage::ALL {
            let w = risk_based(m, &r, &opts(2, s)).unwrap();
            assert_simplex(&w, &format!("{m} {s}"));
        }
    }
    let cov = Covariance::estimate(&r, Shrinkage::None).unwrap();
    assert!(cov.solver_correlation().1, "rank 3 of 8: the ridge is applied");
    let w = rb(Method::MinVariance, &r);
    assert!(cov.variance(&weights_vec(&cov, &w)) < cov.variance(&[0.125; 8]));
}

#[test]
fn awkward_inputs_never_produce_nan() {
    let t = 40;
    let mut rng = Lcg(5);
    let noise = |rng: &mut Lcg, s: f64| -> Vec<f64> { (0..t).map(|_| s * rng.normal()).collect() };
    let x = noise(&mut rng, 0.02);
    let cases: Vec<(&str, Vec<Vec<f64>>)> = vec![
        ("tiny returns", vec![noise(&mut rng, 1e-300), noise(&mut rng, 2e-300), noise(&mut rng, 1e-301)]),
        ("huge returns", vec![noise(&mut rng, 1e250), noise(&mut rng, 1e300), noise(&mut rng, 1e299)]),
        ("mixed scales", vec![noise(&mut rng, 1e-50), noise(&mut rng, 1.0), noise(&mut rng, 1e40)]),
        ("identical", vec![x.clone(), x.clone(), x.clone()]),
        ("scaled copies", vec![x.clone(), x.iter().map(|v| 3.0 * v).collect(), x.iter().map(|v| -0.5 * v).collect()]),
        ("near identical", vec![x.clone(), x.iter().map(|v| v * (1.0 + 1e-15)).collect(), noise(&mut rng, 0.01)]),
        (
            "one spike",
            vec![
                (0..t).map(|i| if i == 7 { 5.0 } else { 0.0 }).collect(),
                noise(&mut rng, 0.01),
                noise(&mut rng, 0.01),
            ],
        ),
        (
            "two spikes",
            vec![
                (0..t).map(|i| if i == 7 { 5.0 } else { 0.0 }).collect(),
                (0..t).map(|i| if i == 7 { -1.0 } else { 0.0 }).collect(),
                noise(&mut rng, 0.01),
            ],
        ),
        (
            "price to zero",
            vec![
                (0..t).map(|i| if i == 3 { -1.0 } else { 0.001 }).collect(),
                noise(&mut rng, 0.01),
                noise(&mut rng, 0.01),
            ],
        ),
        ("alternating", vec![walsh(1, t), walsh(1, t).iter().map(|v| -v).collect(), walsh(3, t)]),
        ("constant", vec![vec![0.0; t], noise(&mut rng, 0.01), noise(&mut rng, 0.01)]),
        ("subnormal", vec![noise(&mut rng, 1e-310), noise(&mut rng, 1.0), noise(&mut rng, 1.0)]),
    ];
    let mut ok = 0;
    for (what, cols) in cases {
        let r = ReturnMatrix::from_returns(assets(&["A", "B", "C"]), cols).unwrap();
        for m in Method::ALL.into_iter().filter(|m| m.is_risk_based()) {
            for s in Shrinkage::ALL {
                match risk_based(m, &r, &opts(2, s)) {
                    Ok(w) => {
                        assert_simplex(&w, &format!("{what} {m} {s}"));
                        to_decimal(&w).unwrap();
                        ok += 1;
                    }
                    Err(CoreError::Weighting { method, problem }) => {
                        assert_eq!(method, m.name(), "{what}");
                        assert!(!problem.is_empty());
                        assert!(["constant", "subnormal"].contains(&what), "{what} {m} {s}: {problem}");
                        assert_eq!(problem, "A has zero volatility over the window");
                    }
                    Err(e) => panic!("{what} {m} {s}: unexpected {e}"),
                }
            }
        }
    }
    assert_eq!(ok, 80, "all but the two zero-volatility cases succeed");
}

// ---------------------------------------------------------------- properties

fn returns_strategy() -> impl Strategy<Value = ReturnMatrix> {
    (2usize..9, 3usize..60).prop_flat_map(|(n, t)| {
        proptest::collection::vec(proptest::collection::vec(-0.3f64..0.3, t), n).prop_map(move |cols| {
            let names: Vec<Asset> = (0..n).map(|i| a(&format!("P{i}"))).collect();
            ReturnMatrix::from_returns(names, cols).unwrap()
        })
    })
}

/// Low-rank, nearly collinear, wildly scaled returns: `n` columns mixing `k` factors
/// (possibly fewer than the assets), with tiny noise and scales from 1e-6 to 1e6.
fn adversarial_strategy() -> impl Strategy<Value = ReturnMatrix> {
    (2usize..10, 1usize..5, 2usize..50, any::<u64>()).prop_map(|(n, k, t, seed)| {
        let mut rng = Lcg(seed);
        let factors: Vec<Vec<f64>> = (0..k).map(|_| (0..t).map(|_| rng.normal()).collect()).collect();
        let cols = (0..n)
            .map(|_| {
                let mix: Vec<f64> = (0..k).map(|_| if rng.uniform() < 0.3 { 0.0 } else { rng.normal() }).collect();
                let noise = [0.0, 1e-12, 1e-6, 0.1][(rng.next_u64() % 4) as usize];
                let scale = 10f64.powf(12.0 * rng.uniform() - 6.0);
                (0..t)
                    .map(|s| {
                        scale
                            * ((0..k).map(|f| mix[f] * factors[f][s]).sum::<f64>()
                                + noise * rng.normal()
                                + 1e-3 * (s % 2) as f64)
                    })
                    .collect()
            })
            .collect();
        let names: Vec<Asset> = (0..n).map(|i| a(&format!("Q{i}"))).collect();
        ReturnMatrix::from_returns(names, cols).unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn adversarial_inputs_give_a_simplex_or_a_zero_volatility_error(r in adversarial_strategy(), lw in any::<bool>()) {
        let s = if lw { Shrinkage::LedoitWolf } else { Shrinkage::None };
        for m in Method::ALL.into_iter().filter(|m| m.is_risk_based()) {
            match risk_based(m, &r, &opts(2, s)) {
                Ok(w) => {
                    for v in w.values() {
                        prop_assert!(v.is_finite() && *v >= 0.0);
                    }
                    prop_assert!((w.values().sum::<f64>() - 1.0).abs() < 1e-12);
                }
                Err(e) => prop_assert!(e.to_string().contains("zero volatility"), "{} {}: {}", m, s, e),
            }
        }
    }

    #[test]
    fn risk_based_weights_are_a_finite_simplex(r in returns_strategy(), lw in any::<bool>()) {
        let s = if lw { Shrinkage::LedoitWolf } else { Shrinkage::None };
        for m in Method::ALL.into_iter().filter(|m| m.is_risk_based()) {
            let w = risk_based(m, &r, &opts(2, s)).unwrap();
            prop_assert_eq!(w.len(), r.assets().len());
            for v in w.values() {
                prop_assert!(v.is_finite() && *v >= 0.0);
            }
            prop_assert!((w.values().sum::<f64>() - 1.0).abs() < 1e-12);
            let d = to_decimal(&w).unwrap();
            prop_assert_eq!(d.values().copied().sum::<Decimal>(), Decimal::ONE);
        }
    }

    #[test]
    fn market_cap_sums_to_one_and_respects_the_cap(
        raw in proptest::collection::vec(1u64..1_000_000_000_000, 1..15),
        cap_percent in 1u32..=100,
    ) {
        let caps: BTreeMap<Asset, Decimal> = raw.iter().enumerate().map(|(i, c)| (a(&format!("M{i}")), Decimal::from(*c))).collect();
        let cap = Decimal::from(cap_percent) / dec!(100);
        match market_cap(&caps, Some(cap)) {
            Ok(w) => {
                prop_assert!(cap * Decimal::from(raw.len()) >= Decimal::ONE);
                prop_assert_eq!(w.values().copied().sum::<Decimal>(), Decimal::ONE);
                for v in w.values() {
                    prop_assert!(*v > Decimal::ZERO && *v <= cap);
                }
                // Uncapped assets keep the proportions of their caps.
                let free: Vec<_> = w.iter().filter(|(_, v)| **v < cap - dec!(1e-20)).collect();
                for pair in free.windows(2) {
                    let ratio_w = *pair[0].1 / *pair[1].1;
                    let ratio_c = caps[pair[0].0] / caps[pair[1].0];
                    prop_assert!((ratio_w - ratio_c).abs() < dec!(1e-12) * ratio_c);
                }
            }
            Err(e) => prop_assert!(cap * Decimal::from(raw.len()) < Decimal::ONE, "{}", e),
        }
    }

    #[test]
    fn to_decimal_always_sums_to_one(raw in proptest::collection::vec(0.0f64..1e6, 1..20)) {
        prop_assume!(raw.iter().any(|v| *v > 0.0));
        let m: BTreeMap<Asset, f64> = raw.iter().enumerate().map(|(i, v)| (a(&format!("D{i}")), *v)).collect();
        let d = to_decimal(&m).unwrap();
        prop_assert_eq!(d.values().copied().sum::<Decimal>(), Decimal::ONE);
        let total: f64 = raw.iter().sum();
        for (k, v) in &d {
            prop_assert!(*v >= Decimal::ZERO);
            let exact = m[k] / total;
            prop_assert!((v.to_string().parse::<f64>().unwrap() - exact).abs() <= 1e-10 + 1e-15);
        }
    }
}

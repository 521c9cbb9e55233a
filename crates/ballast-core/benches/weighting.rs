//! The weighting methods on 12 assets x 365 daily returns (a year of a default-size
//! portfolio), generated deterministically with a three-sector factor structure.

use std::collections::BTreeMap;
use std::hint::black_box;

use ballast_core::Asset;
use ballast_core::weighting::{Covariance, Method, ReturnMatrix, RiskOptions, Shrinkage, market_cap, risk_based};
use criterion::{Criterion, criterion_group, criterion_main};
use rust_decimal::Decimal;

const SYMBOLS: [&str; 12] = ["BTC", "ETH", "XRP", "BNB", "SOL", "ADA", "DOGE", "LTC", "TRX", "DOT", "LINK", "AVAX"];
const MARKET_CAPS_BN: [i64; 12] = [1700, 290, 120, 85, 70, 22, 25, 6, 21, 6, 8, 8];

/// A 64-bit LCG (Knuth's MMIX constants).
struct Lcg(u64);

impl Lcg {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Approximately standard normal: the sum of 12 uniforms minus 6.
    fn normal(&mut self) -> f64 {
        (0..12).map(|_| self.uniform()).sum::<f64>() - 6.0
    }
}

/// Daily returns: a market factor, one of three sector factors, and noise, with
/// daily volatilities between about 2 % and 6 %.
fn returns() -> ReturnMatrix {
    let mut rng = Lcg(2024);
    let (n, t) = (SYMBOLS.len(), 365);
    let mut cols = vec![Vec::with_capacity(t); n];
    for _ in 0..t {
        let market = rng.normal();
        let sectors = [rng.normal(), rng.normal(), rng.normal()];
        for (i, col) in cols.iter_mut().enumerate() {
            let vol = 0.02 + 0.04 * i as f64 / (n - 1) as f64;
            let r = 0.6 * market + 0.5 * sectors[i % 3] + 0.6 * rng.normal();
            col.push(vol * r);
        }
    }
    let assets = SYMBOLS.iter().map(|s| Asset::new(s).unwrap()).collect();
    ReturnMatrix::from_returns(assets, cols).unwrap()
}

fn bench(c: &mut Criterion) {
    let r = returns();
    let sample = RiskOptions::default();
    let lw = RiskOptions { shrinkage: Shrinkage::LedoitWolf, ..RiskOptions::default() };
    let caps: BTreeMap<Asset, Decimal> =
        SYMBOLS.iter().zip(MARKET_CAPS_BN).map(|(s, c)| (Asset::new(s).unwrap(), Decimal::from(c))).collect();
    let max_weight = Some(Decimal::new(25, 2));
    // The fixture must exercise the interesting paths: the cap redistributes, and
    // some asset is at zero in the min-variance portfolio.
    assert_eq!(market_cap(&caps, max_weight).unwrap()[&Asset::new("BTC").unwrap()], Decimal::new(25, 2));
    let mv = risk_based(Method::MinVariance, &r, &sample).unwrap();
    assert!(mv.values().any(|w| *w == 0.0), "{mv:?}");

    let mut g = c.benchmark_group("weighting/12x365");
    g.bench_function("covariance", |b| b.iter(|| Covariance::estimate(black_box(&r), Shrinkage::None).unwrap()));
    g.bench_function("covariance-ledoit-wolf", |b| {
        b.iter(|| Covariance::estimate(black_box(&r), Shrinkage::LedoitWolf).unwrap())
    });
    g.bench_function("inverse-vol", |b| b.iter(|| risk_based(Method::InverseVol, black_box(&r), &sample).unwrap()));
    g.bench_function("min-variance", |b| b.iter(|| risk_based(Method::MinVariance, black_box(&r), &sample).unwrap()));
    g.bench_function("min-variance-ledoit-wolf", |b| {
        b.iter(|| risk_based(Method::MinVariance, black_box(&r), &lw).unwrap())
    });
    g.bench_function("risk-parity", |b| b.iter(|| risk_based(Method::RiskParity, black_box(&r), &sample).unwrap()));
    g.bench_function("hrp", |b| b.iter(|| risk_based(Method::Hrp, black_box(&r), &sample).unwrap()));
    g.bench_function("market-cap", |b| b.iter(|| market_cap(black_box(&caps), max_weight).unwrap()));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

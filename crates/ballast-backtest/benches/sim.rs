//! The backtester's hot paths on the bundled data: 11 coins x 5 years of 4h candles.
//!
//! - `kernel/.../hodl` and `kernel/.../threshold-99%-never`: bars where nothing trades;
//!   throughput is reported in asset-bar updates.
//! - `kernel/.../threshold-5%`, `kernel/.../calendar-1d`: with rebalances.
//! - `lanes/...`: eight configurations with their metrics, one at a time against the
//!   sweep's kernel (`sim::metrics_fixed`, eight lanes in one pass).
//! - `sweep/1000-configs-11x5y-4h`: the 1,000-configuration grid of docs/BENCHMARKS.md
//!   on every core.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::PathBuf;

use ballast_backtest::backtest::{Prepared, Rebalance, SimMode, Strategy, WeightSpec};
use ballast_backtest::sim::{self, Fixed, Mode};
use ballast_backtest::sweep::{self, Point};
use ballast_backtest::{Interval, align, load_dir, parse_date, parse_end_date};
use ballast_core::{Asset, DriftKind, Span};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rust_decimal::Decimal;

const COINS: &str = "BTC,ETH,XRP,BNB,SOL,ADA,DOGE,LTC,TRX,DOT,LINK";

fn prepared() -> Prepared {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/binance-spot");
    let assets: Vec<Asset> = COINS.split(',').map(|s| Asset::new(s).unwrap()).collect();
    let series = load_dir(dir, &assets, Interval::H4).unwrap();
    let aligned = align(&series, None, Some(parse_end_date("2025-12-31").unwrap())).unwrap();
    Prepared::new(aligned, Some(parse_date("2021-01-01").unwrap())).unwrap()
}

/// The benchmark grid: 982 thresholds (1 % .. 50 % by 0.1, absolute and relative) and
/// 18 calendars (every 4h .. 72h by 4h), equal weights, 10 bps.
fn grid() -> Vec<Point> {
    let mut points = Vec::new();
    let strategy = |rebalance| Strategy {
        weights: WeightSpec::Equal,
        rebalance,
        fee_bps: Decimal::from(10),
        initial: Decimal::from(10_000),
        mode: SimMode::Ideal,
    };
    for kind in [DriftKind::Absolute, DriftKind::Relative] {
        for i in 0..=490 {
            let percent = Decimal::from(10 + i) / Decimal::from(10);
            points.push(Point { interval: Interval::H4, strategy: strategy(Rebalance::Threshold { percent, kind }) });
        }
    }
    for h in (4..=72).step_by(4) {
        points
            .push(Point { interval: Interval::H4, strategy: strategy(Rebalance::Calendar { every: Span::hours(h) }) });
    }
    assert_eq!(points.len(), 1000);
    points
}

fn bench(c: &mut Criterion) {
    let prep = prepared();
    let n = prep.market.n;
    let bars = prep.bars();
    let w = vec![1.0 / n as f64; n];
    let mut g = c.benchmark_group("kernel/11x5y-4h");
    g.throughput(Throughput::Elements((n * bars) as u64));
    let cases = [
        ("hodl", Mode::Hodl),
        ("threshold-99%-never", Mode::Threshold { percent: 99.0, kind: DriftKind::Absolute }),
        ("threshold-5%", Mode::Threshold { percent: 5.0, kind: DriftKind::Absolute }),
        ("calendar-1d", Mode::Calendar { bars: 6 }),
    ];
    for (name, mode) in cases {
        g.bench_function(name, |b| {
            b.iter(|| {
                sim::run_ideal(black_box(&prep.market), mode, 0.001, 10_000.0, &mut Fixed(w.clone()), false).unwrap()
            })
        });
    }
    g.finish();

    // The sweep's kernel: eight thresholds (1 .. 8 %, absolute) with their metrics, one
    // run at a time against one pass of eight lanes (the same figures, bit for bit).
    let modes: Vec<Mode> =
        (1..=8).map(|p| Mode::Threshold { percent: f64::from(p), kind: DriftKind::Absolute }).collect();
    let ppy = Interval::H4.periods_per_year();
    let mut g = c.benchmark_group("lanes/11x5y-4h-8-thresholds");
    g.throughput(Throughput::Elements((n * bars * modes.len()) as u64));
    g.bench_function("one-at-a-time", |b| {
        b.iter(|| {
            modes
                .iter()
                .map(|m| {
                    let r = sim::run_ideal(black_box(&prep.market), *m, 0.001, 10_000.0, &mut Fixed(w.clone()), false)
                        .unwrap();
                    sim::metrics(&r.values, 10_000.0, ppy, r.rebalances.len(), r.fees_paid, r.traded)
                })
                .collect::<Vec<_>>()
        })
    });
    g.bench_function("eight-lanes", |b| {
        b.iter(|| sim::metrics_fixed(black_box(&prep.market), &w, 0.001, 10_000.0, &modes, ppy).unwrap())
    });
    g.finish();

    let points = grid();
    let data: BTreeMap<Interval, Prepared> = [(Interval::H4, prep)].into();
    let mut g = c.benchmark_group("sweep");
    g.sample_size(10);
    g.bench_function("1000-configs-11x5y-4h", |b| b.iter(|| sweep::run(&data, black_box(&points), &|| {}).unwrap()));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

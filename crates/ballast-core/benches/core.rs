//! Hot paths of the core: valuing a portfolio, deciding, and planning a rebalance of
//! 12 assets with Binance-like rules.

use std::collections::BTreeMap;
use std::hint::black_box;

use ballast_core::planner::{PlanInput, RebalanceTo, RulesBook, plan_rebalance};
use ballast_core::trigger::{Threshold, Trigger, TriggerState, decide};
use ballast_core::*;
use criterion::{Criterion, criterion_group, criterion_main};
use rust_decimal::Decimal;

const SYMBOLS: [&str; 12] = ["BTC", "ETH", "XRP", "BNB", "SOL", "ADA", "DOGE", "LTC", "TRX", "DOT", "LINK", "AVAX"];
const PRICES: [&str; 12] = ["84500", "2400", "2.5", "600", "140", "0.7", "0.17", "85", "0.24", "4.1", "13.5", "21"];
const STEPS: [&str; 12] =
    ["0.00001", "0.0001", "0.1", "0.001", "0.001", "0.1", "1", "0.001", "0.1", "0.01", "0.01", "0.01"];

struct Fixture {
    holdings: Holdings,
    prices: Prices,
    targets: TargetWeights,
    rules: RulesBook,
}

fn fixture() -> Fixture {
    let d = |s: &str| s.parse::<Decimal>().unwrap();
    let mut holdings = Holdings::new();
    let mut prices = Prices::new();
    let mut rules = RulesBook::default();
    let mut entries = Vec::new();
    for (i, sym) in SYMBOLS.iter().enumerate() {
        let a = Asset::new(sym).unwrap();
        let p = d(PRICES[i]);
        // 1,000 USDT each at cost, then prices moved by -30 % .. +30 %
        let moved = p * (Decimal::ONE + Decimal::new(i as i64 * 6 - 33, 2));
        holdings.insert(a.clone(), Qty((Decimal::from(1000) / p).round_dp(8)));
        prices.insert(a.clone(), Price(moved));
        rules.per_asset.insert(
            a.clone(),
            SymbolRules { tick: d("0.0001"), step: d(STEPS[i]), min_qty: d(STEPS[i]), min_notional: d("5") },
        );
        entries.push((a, Decimal::ONE_HUNDRED / Decimal::from(12)));
    }
    holdings.insert(Asset::new("USDT").unwrap(), Qty(d("17.5")));
    let targets = TargetWeights::from_percent(&Asset::new("USDT").unwrap(), &entries, TargetLimits::default()).unwrap();
    Fixture { holdings, prices, targets, rules }
}

fn bench(c: &mut Criterion) {
    let f = fixture();
    let quote = Asset::new("USDT").unwrap();
    let entry = BTreeMap::new();
    let input = PlanInput {
        holdings: &f.holdings,
        prices: &f.prices,
        targets: &f.targets,
        rules: &f.rules,
        fee: Bps(Decimal::from(10)),
        to: RebalanceTo::Target,
        entry_prices: &entry,
    };
    let plan = plan_rebalance(&input).unwrap();
    assert_eq!(plan.legs.len(), 12, "the fixture trades every asset");

    let mut g = c.benchmark_group("core/12-assets");
    g.bench_function("valuation+drift", |b| {
        b.iter(|| {
            let v = Valuation::new(&quote, black_box(&f.holdings), &f.prices, Some(&f.targets)).unwrap();
            Drift::new(&v, &f.targets)
        })
    });
    let trigger = Trigger::threshold(Threshold::new(Decimal::from(3), DriftKind::Absolute).unwrap(), None).unwrap();
    let v = Valuation::new(&quote, &f.holdings, &f.prices, Some(&f.targets)).unwrap();
    let drift = Drift::new(&v, &f.targets);
    let state = TriggerState::new(Timestamp(0));
    g.bench_function("decide", |b| b.iter(|| decide(&trigger, &state, black_box(&drift), Timestamp(1))));
    g.bench_function("plan_rebalance", |b| b.iter(|| plan_rebalance(black_box(&input)).unwrap()));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

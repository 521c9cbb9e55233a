//! Backtest behaviour on the bundled data: no look-ahead, exact and fast paths in
//! agreement, sweeps equal to single runs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use ballast_backtest::backtest::{self, ExchangeOptions, Prepared, Rebalance, SimMode, Strategy, WeightSpec};
use ballast_backtest::sweep::{self, Point};
use ballast_backtest::{Aligned, Interval, align, load_dir, load_snapshots, parse_date, parse_end_date};
use ballast_core::weighting::{Method, RiskOptions};
use ballast_core::{Asset, DriftKind, Span};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data")
}

fn assets(list: &str) -> Vec<Asset> {
    list.split(',').map(|s| Asset::new(s).unwrap()).collect()
}

fn aligned(list: &str, interval: Interval, end: &str) -> Aligned {
    let series = load_dir(data_dir().join("binance-spot"), &assets(list), interval).unwrap();
    align(&series, None, Some(parse_end_date(end).unwrap())).unwrap()
}

fn strategy(weights: WeightSpec, rebalance: Rebalance, fee: Decimal, mode: SimMode) -> Strategy {
    Strategy { weights, rebalance, fee_bps: fee, initial: dec!(10000), mode }
}

fn risk(method: Method) -> WeightSpec {
    WeightSpec::Risk { method, lookback: 60, options: RiskOptions::default() }
}

/// Multiplies every close after bar `from` by a factor that varies per bar.
fn perturb_after(data: &Aligned, from: usize) -> Aligned {
    let mut d = data.clone();
    for (i, col) in d.closes.iter_mut().enumerate() {
        for (t, p) in col.iter_mut().enumerate().skip(from + 1) {
            *p *= 1.0 + 0.3 * (((t * 7 + i * 13) % 11) as f64 / 10.0 - 0.5);
        }
    }
    for (i, col) in d.closes_exact.iter_mut().enumerate() {
        for (t, p) in col.iter_mut().enumerate().skip(from + 1) {
            *p = Decimal::try_from(d.closes[i][t]).unwrap().round_dp(8);
        }
    }
    d
}

#[test]
fn decisions_never_look_ahead() {
    let data = aligned("BTC,ETH,XRP,BNB", Interval::D1, "2023-12-31");
    let start = parse_date("2021-01-01").unwrap();
    let caps =
        Arc::new(load_snapshots(data_dir().join("cmc-monthly/coinmarketcap_monthly_all_snapshots.csv.gz")).unwrap());
    let cut = data.times.iter().position(|t| *t >= parse_date("2022-06-01").unwrap()).unwrap();
    let changed = perturb_after(&data, cut);
    assert_ne!(data.closes[0][cut + 1], changed.closes[0][cut + 1]);
    let specs = [
        risk(Method::InverseVol),
        risk(Method::MinVariance),
        risk(Method::RiskParity),
        risk(Method::Hrp),
        WeightSpec::MarketCap { caps, max_weight: Some(dec!(0.5)) },
    ];
    let modes = [SimMode::Ideal, SimMode::Exchange(Box::default())];
    for spec in &specs {
        for mode in &modes {
            for rebalance in [
                Rebalance::Calendar { every: Span::days(7) },
                Rebalance::Threshold { percent: dec!(3), kind: DriftKind::Absolute },
            ] {
                let s = strategy(spec.clone(), rebalance, dec!(10), mode.clone());
                let a = backtest::run(&Prepared::new(data.clone(), Some(start)).unwrap(), &s, true).unwrap();
                let b = backtest::run(&Prepared::new(changed.clone(), Some(start)).unwrap(), &s, true).unwrap();
                let first = data.times.iter().position(|t| *t >= start).unwrap();
                let last_same = cut - first; // simulated bar index of the cut
                let before = |o: &backtest::Outcome| -> Vec<_> {
                    o.trades.iter().filter(|t| t.time <= data.times[cut]).cloned().collect()
                };
                assert_eq!(before(&a), before(&b), "{} {:?}: trades up to the cut changed", spec.name(), rebalance);
                assert_eq!(
                    a.values[..=last_same],
                    b.values[..=last_same],
                    "{}: values up to the cut changed",
                    spec.name()
                );
                assert!(
                    a.rebalance_bars.iter().any(|&x| x <= last_same),
                    "{}: some rebalance before the cut",
                    spec.name()
                );
                assert_ne!(a.values.last(), b.values.last(), "the perturbation matters afterwards");
            }
        }
    }
}

#[test]
fn exchange_mode_with_fine_rules_agrees_with_the_ideal_mode() {
    // With 8-decimal steps and no minimums, the live planner should land where the
    // ideal rules do, up to rounding of quantities.
    let data = aligned("BTC,ETH,XRP,BNB,LTC", Interval::D1, "2024-12-31");
    let prep = Prepared::new(data, Some(parse_date("2019-01-01").unwrap())).unwrap();
    for (rebalance, fee) in [
        (Rebalance::Calendar { every: Span::days(7) }, dec!(0)),
        (Rebalance::Calendar { every: Span::days(28) }, dec!(10)),
        (Rebalance::Threshold { percent: dec!(5), kind: DriftKind::Absolute }, dec!(10)),
        (Rebalance::Threshold { percent: dec!(25), kind: DriftKind::Relative }, dec!(25)),
    ] {
        let ideal = backtest::run(&prep, &strategy(WeightSpec::Equal, rebalance, fee, SimMode::Ideal), false).unwrap();
        let exact = backtest::run(
            &prep,
            &strategy(WeightSpec::Equal, rebalance, fee, SimMode::Exchange(Box::default())),
            false,
        )
        .unwrap();
        assert_eq!(ideal.rebalance_bars, exact.rebalance_bars, "{rebalance:?}: same rebalances");
        let rel = (ideal.metrics.final_value / exact.metrics.final_value - 1.0).abs();
        assert!(
            rel < 1e-6,
            "{rebalance:?} fee {fee}: ideal {} exchange {}",
            ideal.metrics.final_value,
            exact.metrics.final_value
        );
        let fees = (ideal.metrics.fees_paid - exact.metrics.fees_paid).abs();
        assert!(
            fees < 0.01 * ideal.metrics.fees_paid.max(1.0),
            "{rebalance:?}: fees {} vs {}",
            ideal.metrics.fees_paid,
            exact.metrics.fees_paid
        );
    }
}

#[test]
fn exchange_mode_applies_rules_and_guards() {
    let data = aligned("BTC,ETH,XRP,BNB", Interval::D1, "2022-12-31");
    let prep = Prepared::new(data, Some(parse_date("2021-11-01").unwrap())).unwrap();
    let mut opts = ExchangeOptions::default();
    for (a, step) in [("BTC", dec!(0.00001)), ("ETH", dec!(0.0001)), ("XRP", dec!(1)), ("BNB", dec!(0.001))] {
        opts.rules.per_asset.insert(
            Asset::new(a).unwrap(),
            ballast_core::SymbolRules { tick: dec!(0.0001), step, min_qty: step, min_notional: dec!(5) },
        );
    }
    // A 1 % threshold on 200 USDT: many legs fall under the 5 USDT minimum.
    let mut s = strategy(
        WeightSpec::Equal,
        Rebalance::Threshold { percent: dec!(1), kind: DriftKind::Absolute },
        dec!(10),
        SimMode::Exchange(Box::new(opts.clone())),
    );
    s.initial = dec!(200);
    let o = backtest::run(&prep, &s, true).unwrap();
    assert!(!o.skipped.is_empty(), "small legs are skipped");
    for t in &o.trades {
        assert!(t.notional >= 5.0 - 1e-9, "{t:?} clears the minimum");
    }
    // Stop-loss at 30 %: the 2022 bear market trips it, and everything goes to cash.
    opts.guards.stop_loss_percent = Some(dec!(30));
    let s = strategy(
        WeightSpec::Equal,
        Rebalance::Calendar { every: Span::days(7) },
        dec!(10),
        SimMode::Exchange(Box::new(opts)),
    );
    let o = backtest::run(&prep, &s, true).unwrap();
    assert!(o.notes.iter().any(|n| n.contains("stop-loss")), "{:?}", o.notes);
    let last = o.values.len() - 1;
    assert_eq!(o.values[last], o.values[last - 1], "all cash after the stop: value is flat");
    assert!(o.metrics.final_value > 10000.0 * 0.6, "stopped near the level: {}", o.metrics.final_value);
    let w_last: f64 = o.weights[last * 4..(last + 1) * 4].iter().sum();
    assert!(w_last < 0.01, "holds (almost) no coins: {w_last}");
}

#[test]
fn sweep_rows_equal_single_runs() {
    let data = aligned("BTC,ETH,XRP", Interval::H4, "2023-12-31");
    let prep = Prepared::new(data, Some(parse_date("2021-01-01").unwrap())).unwrap();
    let mut points = Vec::new();
    for r in [
        Rebalance::Hodl,
        Rebalance::Calendar { every: Span::days(1) },
        Rebalance::Threshold { percent: dec!(2), kind: DriftKind::Absolute },
        Rebalance::Threshold { percent: dec!(10), kind: DriftKind::Relative },
    ] {
        for fee in [dec!(0), dec!(10)] {
            points
                .push(Point { interval: Interval::H4, strategy: strategy(WeightSpec::Equal, r, fee, SimMode::Ideal) });
        }
    }
    let map: BTreeMap<Interval, Prepared> = [(Interval::H4, prep.clone())].into();
    let rows = sweep::run(&map, &points, &|| {}).unwrap();
    assert_eq!(rows.len(), points.len());
    for row in rows {
        let single = backtest::run(&prep, &points[row.index].strategy, false).unwrap();
        assert_eq!(row.metrics, single.metrics);
        assert_eq!(row.hodl, single.hodl);
        assert_eq!(row.excess_vs_hodl, single.excess_vs_hodl);
    }
}

#[test]
fn calendar_interval_must_be_whole_bars() {
    let data = aligned("BTC,ETH", Interval::D1, "2020-12-31");
    let prep = Prepared::new(data, None).unwrap();
    let s = strategy(WeightSpec::Equal, Rebalance::Calendar { every: Span::hours(36) }, dec!(10), SimMode::Ideal);
    let e = backtest::run(&prep, &s, false).unwrap_err();
    assert!(e.contains("not a whole number of 1d bars"), "{e}");
}

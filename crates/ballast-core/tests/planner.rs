//! Planner behaviour: worked examples, edge cases and properties.

use std::collections::BTreeMap;

use ballast_core::planner::{PlanInput, RebalanceTo, RulesBook, Side, SkipReason, plan_liquidation, plan_rebalance};
use ballast_core::rules::RuleViolation;
use ballast_core::trigger::Threshold;
use ballast_core::*;
use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

fn a(s: &str) -> Asset {
    Asset::new(s).unwrap()
}

fn usdt() -> Asset {
    a("USDT")
}

fn targets(entries: &[(&str, Decimal)]) -> TargetWeights {
    let e: Vec<_> = entries.iter().map(|(s, w)| (a(s), *w)).collect();
    TargetWeights::from_percent(&usdt(), &e, TargetLimits::default()).unwrap()
}

fn binance_like() -> RulesBook {
    let mut r = RulesBook::default();
    let set = |step, tick| SymbolRules { tick, step, min_qty: step, min_notional: dec!(5) };
    r.per_asset.insert(a("BTC"), set(dec!(0.00001), dec!(0.01)));
    r.per_asset.insert(a("ETH"), set(dec!(0.0001), dec!(0.01)));
    r.per_asset.insert(a("XRP"), set(dec!(0.1), dec!(0.0001)));
    r.per_asset.insert(a("BNB"), set(dec!(0.001), dec!(0.01)));
    r
}

struct Case {
    holdings: Holdings,
    prices: Prices,
    targets: TargetWeights,
    rules: RulesBook,
    fee: Bps,
    to: RebalanceTo,
    entry: BTreeMap<Asset, Price>,
}

impl Case {
    fn plan(&self) -> planner::Plan {
        plan_rebalance(&PlanInput {
            holdings: &self.holdings,
            prices: &self.prices,
            targets: &self.targets,
            rules: &self.rules,
            fee: self.fee,
            to: self.to,
            entry_prices: &self.entry,
        })
        .unwrap()
    }
}

/// The product description's example: four coins at 250 USDT each; BTC rises 30 %,
/// ETH falls 20 %. The plan sells part of BTC, buys ETH, and restores 25 % each.
fn worked_example(fee: Bps) -> Case {
    let holdings: Holdings = [
        (a("BTC"), Qty(dec!(250) / dec!(84500))),
        (a("ETH"), Qty(dec!(250) / dec!(2400))),
        (a("XRP"), Qty(dec!(100))),
        (a("BNB"), Qty(dec!(250) / dec!(600))),
        (usdt(), Qty(dec!(0))),
    ]
    .into();
    let prices: Prices = [
        (a("BTC"), Price(dec!(84500) * dec!(1.3))),
        (a("ETH"), Price(dec!(2400) * dec!(0.8))),
        (a("XRP"), Price(dec!(2.5))),
        (a("BNB"), Price(dec!(600))),
    ]
    .into();
    Case {
        holdings,
        prices,
        targets: targets(&[("BTC", dec!(25)), ("ETH", dec!(25)), ("XRP", dec!(25)), ("BNB", dec!(25))]),
        rules: RulesBook::default(),
        fee,
        to: RebalanceTo::Target,
        entry: BTreeMap::new(),
    }
}

#[test]
fn worked_example_restores_equal_weights() {
    let plan = worked_example(Bps(dec!(0))).plan();
    assert_eq!(plan.value_before.0.round_dp(6), dec!(1025));
    let sides: Vec<_> = plan.legs.iter().map(|l| (l.side, l.asset.as_str())).collect();
    assert_eq!(sides[0], (Side::Sell, "BTC"), "sells come first: {sides:?}");
    assert!(sides.contains(&(Side::Buy, "ETH")));
    let btc = &plan.legs[0];
    // BTC is worth 325 and should be worth 256.25: sell 68.75 USDT of it.
    assert!((btc.notional.0 - dec!(68.75)).abs() < dec!(0.01), "{}", btc.notional);
    let eth = plan.legs.iter().find(|l| l.asset.as_str() == "ETH").unwrap();
    assert!((eth.notional.0 - dec!(56.25)).abs() < dec!(0.01), "{}", eth.notional);
    for w in ["BTC", "ETH", "XRP", "BNB"] {
        let got = plan.weights_after[&a(w)].0;
        assert!((got - dec!(0.25)).abs() < dec!(0.00001), "{w}: {got}");
    }
    assert!(plan.max_drift_after < dec!(0.00001));
}

#[test]
fn fees_come_out_of_the_portfolio_and_weights_still_land() {
    let plan = worked_example(Bps(dec!(10))).plan();
    let traded: Decimal = plan.legs.iter().map(|l| l.notional.0).sum();
    assert_eq!(plan.fees.0, traded * dec!(0.001));
    assert_eq!(plan.value_after.0, plan.value_before.0 - plan.fees.0);
    assert!(plan.max_drift_after < dec!(0.000001), "{}", plan.max_drift_after);
    assert!(plan.weights_after[&usdt()].0 >= Decimal::ZERO);
}

#[test]
fn legs_below_the_minimum_are_skipped_with_a_readable_reason() {
    let mut case = worked_example(Bps(dec!(10)));
    case.rules = binance_like();
    let plan = case.plan();
    // XRP and BNB need about 6.25 USDT each: above 5, so they trade; shrink the move.
    assert!(plan.skipped.is_empty(), "{:?}", plan.skipped);
    case.prices.insert(a("BTC"), Price(dec!(84500) * dec!(1.03)));
    case.prices.insert(a("ETH"), Price(dec!(2400) * dec!(0.99)));
    let plan = case.plan();
    let skipped: Vec<String> = plan.skipped.iter().map(ToString::to_string).collect();
    assert!(!skipped.is_empty());
    for s in &plan.skipped {
        assert!(matches!(s.reason, SkipReason::Rule(RuleViolation::BelowMinNotional { .. })), "{s}");
    }
    assert!(skipped.iter().any(|s| s.contains("below the minimum order value 5")), "{skipped:?}");
}

#[test]
fn entry_price_keeps_the_share_in_cash() {
    let mut case = worked_example(Bps(dec!(0)));
    case.entry.insert(a("ETH"), Price(dec!(1800))); // ETH is at 1920: not yet
    let plan = case.plan();
    assert!(plan.legs.iter().all(|l| !(l.asset.as_str() == "ETH" && l.side == Side::Buy)));
    let s = plan.skipped.iter().find(|s| s.asset.as_str() == "ETH").expect("ETH skipped");
    assert!(matches!(s.reason, SkipReason::EntryPrice { .. }));
    assert!(s.to_string().contains("entry price 1800"), "{s}");
    // ETH's missing share (about 56 USDT) stays in cash.
    let cash = plan.weights_after[&usdt()].0;
    assert!((cash - dec!(56.25) / dec!(1025)).abs() < dec!(0.0001), "{cash}");
    // At or below the entry price, it buys.
    case.entry.insert(a("ETH"), Price(dec!(1920)));
    assert!(case.plan().legs.iter().any(|l| l.asset.as_str() == "ETH" && l.side == Side::Buy));
}

#[test]
fn band_edge_trades_less_than_target() {
    let mut case = worked_example(Bps(dec!(0)));
    let band = Threshold::new(dec!(3), DriftKind::Absolute).unwrap();
    case.to = RebalanceTo::BandEdge { band };
    let edge = case.plan();
    case.to = RebalanceTo::Target;
    let full = case.plan();
    let turnover = |p: &planner::Plan| p.legs.iter().map(|l| l.notional.0).sum::<Decimal>();
    assert!(turnover(&edge) < turnover(&full));
    // BTC at 31.7 % comes back to the edge, 28 %.
    assert!((edge.weights_after[&a("BTC")].0 - dec!(0.28)).abs() < dec!(0.0001), "{:?}", edge.weights_after);
    // XRP and BNB (24.4 %) are inside the band and untouched.
    assert!(edge.legs.iter().all(|l| l.asset.as_str() != "XRP" && l.asset.as_str() != "BNB"));
    // Within one quantity step (1e-8 BTC, about 1e-6 of the portfolio) of the edge:
    // sells round down, so BTC can stay a hair above it.
    let one_step = dec!(0.00000001) * case.prices[&a("BTC")].0 / edge.value_before.0;
    assert!(edge.max_drift_after <= dec!(0.03) + one_step, "{:?} {}", edge.weights_after, edge.max_drift_after);
}

#[test]
fn a_removed_coin_is_sold_whole() {
    let mut case = worked_example(Bps(dec!(10)));
    case.targets = targets(&[("BTC", dec!(40)), ("ETH", dec!(30)), ("XRP", dec!(30))]);
    let plan = case.plan();
    let bnb = plan.legs.iter().find(|l| l.asset.as_str() == "BNB").expect("BNB sold");
    assert_eq!(bnb.side, Side::Sell);
    assert_eq!(bnb.quantity, case.rules.get(&a("BNB")).floor_qty(case.holdings[&a("BNB")]));
}

#[test]
fn cash_only_portfolio_buys_everything_within_its_cash() {
    let mut case = worked_example(Bps(dec!(10)));
    case.holdings = [(usdt(), Qty(dec!(1000)))].into();
    case.rules = binance_like();
    let plan = case.plan();
    assert_eq!(plan.legs.len(), 4);
    assert!(plan.legs.iter().all(|l| l.side == Side::Buy));
    let cost: Decimal = plan.legs.iter().map(|l| l.notional.0 + l.fee.0).sum();
    assert!(cost <= dec!(1000));
    assert!(dec!(1000) - cost < dec!(5), "little left over: {}", dec!(1000) - cost);
}

#[test]
fn empty_portfolio_plans_nothing() {
    let mut case = worked_example(Bps(dec!(10)));
    case.holdings = Holdings::new();
    let plan = case.plan();
    assert!(plan.legs.is_empty() && plan.skipped.is_empty());
}

#[test]
fn missing_price_is_an_error_naming_the_asset() {
    let mut case = worked_example(Bps(dec!(10)));
    case.prices.remove(&a("XRP"));
    let err = plan_rebalance(&PlanInput {
        holdings: &case.holdings,
        prices: &case.prices,
        targets: &case.targets,
        rules: &case.rules,
        fee: case.fee,
        to: case.to,
        entry_prices: &case.entry,
    })
    .unwrap_err();
    assert_eq!(err.to_string(), "no price for XRP");
}

#[test]
fn liquidation_sells_everything_but_dust() {
    let case = worked_example(Bps(dec!(10)));
    let mut holdings = case.holdings.clone();
    holdings.insert(a("XRP"), Qty(dec!(1.05)));
    let plan = plan_liquidation(&usdt(), &holdings, &case.prices, &binance_like(), Bps(dec!(10))).unwrap();
    assert!(plan.legs.iter().all(|l| l.side == Side::Sell));
    assert_eq!(plan.legs.len(), 3);
    assert_eq!(plan.skipped.len(), 1, "XRP worth 2.6 USDT is dust");
    assert_eq!(plan.skipped[0].asset.as_str(), "XRP");
    let after = plan.apply(&holdings);
    assert_eq!(after[&a("XRP")], Qty(dec!(1.05)));
}

// ---------------------------------------------------------------------------------
// Properties

const SYMBOLS: [&str; 12] = ["BTC", "ETH", "XRP", "BNB", "SOL", "ADA", "DOGE", "LTC", "TRX", "DOT", "LINK", "AVAX"];

#[derive(Debug, Clone)]
struct Scenario {
    holdings: Holdings,
    prices: Prices,
    weights: Vec<(Asset, Decimal)>,
    rules: RulesBook,
    fee: Bps,
}

fn decimal(mantissa: i64, scale: u32) -> Decimal {
    Decimal::new(mantissa, scale)
}

/// Random portfolios of 2 to 12 assets with realistic exchange rules: a step worth far
/// less than the minimum notional (as on Binance, where one BTC step is worth ~1 USDT
/// against a 5 USDT minimum).
fn scenario() -> impl Strategy<Value = Scenario> {
    (2usize..=12)
        .prop_flat_map(|n| {
            (
                Just(n),
                prop::collection::vec((1i64..10_000_000_000, 0u32..=8), n), // prices
                prop::collection::vec(0i64..2_000_000_000, n),              // holding values (cents)
                prop::collection::vec(1u32..=100, n),                       // raw weights
                0i64..500_000,                                              // cash in cents
                0i64..=50,                                                  // fee bps
                prop::collection::vec((1i64..=10, 0u32..=10), n),           // min notional, step scale
            )
        })
        .prop_map(|(n, prices, values, raw, cash, fee, rules)| {
            let mut s = Scenario {
                holdings: Holdings::new(),
                prices: Prices::new(),
                weights: vec![],
                rules: RulesBook::default(),
                fee: Bps(Decimal::from(fee)),
            };
            let total: u32 = raw.iter().sum();
            let mut assigned = Decimal::ZERO;
            for i in 0..n {
                let asset = a(SYMBOLS[i]);
                let price = decimal(prices[i].0, prices[i].1).max(dec!(0.00000001));
                let min_notional = Decimal::from(rules[i].0);
                // the step is a power of ten worth at most min_notional / 50
                let mut step = Decimal::new(1, rules[i].1);
                while step * price > min_notional / dec!(50) && step.scale() < 20 {
                    step /= dec!(10);
                }
                let qty = (decimal(values[i], 2) / price).round_dp(step.scale());
                s.holdings.insert(asset.clone(), Qty(qty));
                s.prices.insert(asset.clone(), Price(price));
                s.rules
                    .per_asset
                    .insert(asset.clone(), SymbolRules { tick: dec!(0.00000001), step, min_qty: step, min_notional });
                let w = if i + 1 == n {
                    Decimal::ONE_HUNDRED - assigned
                } else {
                    (Decimal::from(raw[i]) * Decimal::ONE_HUNDRED / Decimal::from(total)).round_dp(4)
                };
                assigned += w;
                s.weights.push((asset, w));
            }
            s.holdings.insert(usdt(), Qty(decimal(cash, 2)));
            s
        })
}

fn plan_of(s: &Scenario, holdings: &Holdings, weights: &[(Asset, Decimal)]) -> planner::Plan {
    let t = TargetWeights::from_percent(&usdt(), weights, TargetLimits::default()).unwrap();
    plan_rebalance(&PlanInput {
        holdings,
        prices: &s.prices,
        targets: &t,
        rules: &s.rules,
        fee: s.fee,
        to: RebalanceTo::Target,
        entry_prices: &BTreeMap::new(),
    })
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn value_is_conserved_up_to_fees(s in scenario()) {
        let plan = plan_of(&s, &s.holdings, &s.weights);
        let after = plan.apply(&s.holdings);
        let before = Valuation::new(&usdt(), &s.holdings, &s.prices, None).unwrap().total;
        let after_v = Valuation::new(&usdt(), &after, &s.prices, None).unwrap().total;
        // exact up to the last of rust_decimal's 28 significant digits
        let diff = (after_v.0 - (before.0 - plan.fees.0)).abs();
        prop_assert!(diff <= before.0 * dec!(0.000000000000000000000001), "off by {}", diff);
        let traded: Decimal = plan.legs.iter().map(|l| l.notional.0).sum();
        prop_assert_eq!(plan.fees.0, traded * s.fee.fraction());
    }

    #[test]
    fn never_oversells_or_overspends(s in scenario()) {
        let plan = plan_of(&s, &s.holdings, &s.weights);
        for leg in &plan.legs {
            prop_assert!(leg.quantity.0 > Decimal::ZERO);
            let r = s.rules.get(&leg.asset);
            prop_assert_eq!(r.floor_qty(leg.quantity), leg.quantity, "quantised");
            prop_assert!(r.check(leg.quantity, leg.price).is_none(), "clears the rules");
            if leg.side == Side::Sell {
                prop_assert!(leg.quantity <= s.holdings[&leg.asset]);
            }
        }
        // sells strictly before buys
        let first_buy = plan.legs.iter().position(|l| l.side == Side::Buy).unwrap_or(plan.legs.len());
        prop_assert!(plan.legs[first_buy..].iter().all(|l| l.side == Side::Buy));
        let after = plan.apply(&s.holdings);
        for (asset, q) in &after {
            prop_assert!(q.0 >= Decimal::ZERO, "{} goes negative: {}", asset, q);
        }
    }

    #[test]
    fn planning_again_after_applying_finds_no_legs(s in scenario()) {
        let plan = plan_of(&s, &s.holdings, &s.weights);
        let after = plan.apply(&s.holdings);
        let again = plan_of(&s, &after, &s.weights);
        prop_assert!(again.legs.is_empty(), "first: {:?}\nagain: {:?}", plan.legs, again.legs);
    }

    #[test]
    fn result_does_not_depend_on_listing_order(s in scenario(), seed in any::<u64>()) {
        let mut shuffled = s.weights.clone();
        // a deterministic permutation from the seed
        let n = shuffled.len();
        let mut x = seed;
        for i in (1..n).rev() {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (x >> 33) as usize % (i + 1));
        }
        let p1 = plan_of(&s, &s.holdings, &s.weights);
        let p2 = plan_of(&s, &s.holdings, &shuffled);
        prop_assert_eq!(p1, p2);
    }

    #[test]
    fn drift_left_is_explained_by_steps_and_skipped_legs(s in scenario()) {
        let plan = plan_of(&s, &s.holdings, &s.weights);
        let after = plan.apply(&s.holdings);
        let t = TargetWeights::from_percent(&usdt(), &s.weights, TargetLimits::default()).unwrap();
        let v = Valuation::new(&usdt(), &after, &s.prices, Some(&t)).unwrap();
        let steps: Decimal = s.prices.iter().map(|(a, p)| s.rules.get(a).step * p.0).sum();
        let skipped: Decimal = plan.skipped.iter().map(|k| k.notional.0.abs()).sum();
        // every asset is within (one step of every asset + everything skipped) of its
        // target value, plus rounding noise
        let allowance = (steps + skipped) * (Decimal::ONE + s.fee.fraction()) + v.total.0 * dec!(0.000000001) + dec!(0.00000001);
        for (asset, w) in t.iter() {
            let off = (v.values[asset].0 - w.0 * v.total.0).abs();
            prop_assert!(off <= allowance, "{} is {} off target; allowance {}", asset, off, allowance);
        }
    }
}

/// Values at the decimal type's limits: a plan or an error naming the overflow, never
/// a panic ("Addition overflowed" before the planner's arithmetic was bounded) and
/// never an endless loop (trimming buys by a step too small to count).
const EXTREMES: [Decimal; 6] = [
    Decimal::MAX,
    Decimal::from_parts(u32::MAX, u32::MAX, u32::MAX / 3, false, 0),
    Decimal::from_parts(2_764_472_320, 232_830, 0, false, 0),
    Decimal::ONE,
    Decimal::from_parts(1, 0, 0, false, 28),
    Decimal::ZERO,
];

fn plan_extreme(cash: Decimal, qty: Decimal, price: Decimal, fee: Decimal) -> Result<planner::Plan, CoreError> {
    let holdings: Holdings = [(usdt(), Qty(cash)), (a("BTC"), Qty(qty))].into();
    let price = if price.is_zero() { Decimal::ONE } else { price };
    let prices: Prices = [(a("BTC"), Price(price)), (a("ETH"), Price(price))].into();
    plan_rebalance(&PlanInput {
        holdings: &holdings,
        prices: &prices,
        targets: &targets(&[("BTC", dec!(50)), ("ETH", dec!(50))]),
        rules: &RulesBook::default(),
        fee: Bps(fee),
        to: RebalanceTo::Target,
        entry_prices: &BTreeMap::new(),
    })
}

#[test]
fn overflowing_amounts_are_an_error_not_a_panic() {
    // The case: an amount of Decimal::MAX to invest.
    let e = plan_extreme(Decimal::MAX, dec!(0), dec!(50000), dec!(10)).unwrap_err();
    assert!(matches!(e, CoreError::Overflow(_)), "{e}");
    assert!(e.to_string().contains("too large"), "{e}");
    // A value that overflows the multiplication, and a tiny price that overflows the
    // division.
    assert!(matches!(plan_extreme(dec!(0), Decimal::MAX, dec!(2), dec!(10)), Err(CoreError::Overflow(_))));
    assert!(matches!(
        plan_extreme(dec!(1000000000000000), dec!(0), dec!(0.0000000000000000000000000001), dec!(10)),
        Err(CoreError::Overflow(_))
    ));
    let holdings: Holdings = [(a("BTC"), Qty(Decimal::MAX))].into();
    let prices: Prices = [(a("BTC"), Price(dec!(3)))].into();
    let liq = plan_liquidation(&usdt(), &holdings, &prices, &RulesBook::default(), Bps(dec!(10)));
    assert!(matches!(liq, Err(CoreError::Overflow(_))), "{liq:?}");
}

#[test]
fn every_combination_of_extreme_values_plans_or_says_overflow() {
    for cash in EXTREMES {
        for qty in EXTREMES {
            for price in EXTREMES {
                for fee in [dec!(0), dec!(10), dec!(1000)] {
                    match plan_extreme(cash, qty, price, fee) {
                        Ok(_) | Err(CoreError::Overflow(_)) => {}
                        Err(e) => panic!("cash {cash}, qty {qty}, price {price}, fee {fee}: {e}"),
                    }
                }
            }
        }
    }
}

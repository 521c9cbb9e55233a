//! The fee reserve (`execution.fee_reserve`): a reserve of the venue's fee asset that
//! the step policy tops up when a plan trades, never sells in a rebalance and leaves
//! out of the coins' weights and drift.

use std::collections::BTreeSet;

use ballast_core::execution::{Execution, FeeRates, FeeReserve};
use ballast_core::guards::Guards;
use ballast_core::planner::{
    FEE_RESERVE_TOP_UP, PairBook, Plan, RebalanceTo, RulesBook, Side, SkipReason, plan_liquidation,
};
use ballast_core::policy::{self, Action, Memory, StepInput};
use ballast_core::trigger::{Threshold, Trigger};
use ballast_core::*;
use rust_decimal_macros::dec;

fn a(s: &str) -> Asset {
    Asset::new(s).unwrap()
}

fn usdt() -> Asset {
    a("USDT")
}

fn targets() -> TargetWeights {
    TargetWeights::from_percent(&usdt(), &[(a("BTC"), dec!(50)), (a("ETH"), dec!(50))], TargetLimits::default())
        .unwrap()
}

fn rules() -> RulesBook {
    let mut r = RulesBook::default();
    let set = |step, tick| SymbolRules { tick, step, min_qty: step, min_notional: dec!(5) };
    r.per_asset.insert(a("BTC"), set(dec!(0.00001), dec!(0.01)));
    r.per_asset.insert(a("ETH"), set(dec!(0.0001), dec!(0.01)));
    r.per_asset.insert(a("BNB"), set(dec!(0.001), dec!(0.01)));
    r
}

fn prices() -> Prices {
    [(a("BTC"), Price(dec!(50000))), (a("ETH"), Price(dec!(2500))), (a("BNB"), Price(dec!(300)))].into()
}

fn bnb(min: rust_decimal::Decimal, target: rust_decimal::Decimal) -> Execution {
    Execution { fee_reserve: Some(FeeReserve { asset: a("BNB"), min, target }), ..Execution::default() }
}

/// BTC worth `btc`, ETH worth `eth`, `bnb` BNB and `cash` USDT.
fn holdings(btc: i64, eth: i64, bnb: rust_decimal::Decimal, cash: i64) -> Holdings {
    [
        (a("BTC"), Qty(rust_decimal::Decimal::from(btc) / dec!(50000))),
        (a("ETH"), Qty(rust_decimal::Decimal::from(eth) / dec!(2500))),
        (a("BNB"), Qty(bnb)),
        (usdt(), Qty(rust_decimal::Decimal::from(cash))),
    ]
    .into()
}

/// One step of a bot with a 5-point threshold (forced with `force`).
fn step(h: &Holdings, execution: &Execution, force: Option<&str>) -> Action {
    let (p, t, r) = (prices(), targets(), rules());
    let trigger =
        Trigger::Threshold { threshold: Threshold::new(dec!(5), DriftKind::Absolute).unwrap(), cooldown: None };
    let guards = Guards::default();
    let pairs = PairBook::default();
    let input = StepInput {
        now: Timestamp(1),
        quote: &usdt(),
        holdings: h,
        prices: &p,
        targets: &t,
        rules: &r,
        fees: FeeRates::flat(Bps(dec!(10))),
        trigger: Some(&trigger),
        to: RebalanceTo::Target,
        guards: &guards,
        net_invested: Notional(dec!(1000)),
        force,
        new_coins: &Default::default(),
        first: false,
        execution,
        pairs: &pairs,
    };
    policy::step(&input, &mut Memory::default()).unwrap()
}

fn plan_of(action: Action) -> Plan {
    match action {
        Action::Rebalance { plan, .. } => plan,
        other => panic!("expected a rebalance, got {other:?}"),
    }
}

fn top_up(plan: &Plan) -> Option<&ballast_core::planner::Leg> {
    plan.legs.iter().find(|l| l.why.as_deref() == Some(FEE_RESERVE_TOP_UP))
}

#[test]
fn a_trading_plan_tops_the_reserve_up_to_its_target_before_the_other_buys() {
    // BTC 600, ETH 400: 10 points off; no BNB yet.
    let h = holdings(600, 400, dec!(0), 0);
    let plan = plan_of(step(&h, &bnb(dec!(10), dec!(25)), None));
    let sides: Vec<(Side, &str)> = plan.legs.iter().map(|l| (l.side, l.asset.as_str())).collect();
    assert_eq!(sides, [(Side::Sell, "BTC"), (Side::Buy, "BNB"), (Side::Buy, "ETH")], "sells, top-up, other buys");
    let t = top_up(&plan).unwrap();
    // 25 USDT at 300 is 0.08333.. BNB, rounded down to the 0.001 step.
    assert_eq!((t.side, t.quantity, t.price), (Side::Buy, Qty(dec!(0.083)), Price(dec!(300))));
    assert!(t.quote.is_none(), "against the bot's quote");
    // The plan never spends cash it will not have: the ETH buy gave up the top-up's cost.
    let after = plan.apply(&h);
    assert!(after[&usdt()].0 >= dec!(0), "{:?}", after[&usdt()]);
    assert_eq!(after[&a("BNB")], Qty(dec!(0.083)));
    // The coins' drift left is theirs alone (the reserve has no target weight).
    assert!(plan.max_drift_after < dec!(0.02), "{}", plan.max_drift_after);
    // Without a reserve: the same plan without the leg, and the ETH buy larger.
    let plain = plan_of(step(&h, &Execution::default(), None));
    assert!(top_up(&plain).is_none());
    let eth = |p: &Plan| p.legs.iter().find(|l| l.asset == a("ETH")).unwrap().quantity;
    assert!(eth(&plain) > eth(&plan), "{:?} {:?}", eth(&plain), eth(&plan));
}

#[test]
fn a_reserve_below_min_is_brought_to_target_and_one_at_min_is_left_alone() {
    // 0.02 BNB = 6 USDT < 10: topped up by 19 USDT -> 0.063 BNB.
    let plan = plan_of(step(&holdings(600, 400, dec!(0.02), 0), &bnb(dec!(10), dec!(25)), None));
    assert_eq!(top_up(&plan).unwrap().quantity, Qty(dec!(0.063)));
    // Worth 10.2 (at least min): no top-up, and the reserve is not traded at all.
    let plan = plan_of(step(&holdings(600, 400, dec!(0.034), 0), &bnb(dec!(10), dec!(25)), None));
    assert!(plan.legs.iter().all(|l| l.asset != a("BNB")), "{:?}", plan.legs);
}

#[test]
fn no_top_up_when_the_plan_does_not_trade() {
    // Balanced coins, no BNB: the trigger holds, whatever the reserve.
    let h = holdings(500, 500, dec!(0), 0);
    assert_eq!(step(&h, &bnb(dec!(10), dec!(25)), None), Action::Hold);
    // A forced rebalance that finds nothing to trade does not trade for the reserve.
    let plan = plan_of(step(&h, &bnb(dec!(10), dec!(25)), Some("edit")));
    assert!(plan.legs.is_empty(), "{:?}", plan.legs);
}

#[test]
fn the_reserve_is_never_sold_by_a_rebalance_nor_counted_in_the_drift() {
    // Balanced coins and 1 BNB (300 USDT, far above target): without the reserve BNB
    // is an off-target holding, drifting 23 points, and sold whole.
    let h = holdings(500, 500, dec!(1), 0);
    let plain = plan_of(step(&h, &Execution::default(), None));
    assert!(plain.legs.iter().any(|l| l.asset == a("BNB") && l.side == Side::Sell), "{:?}", plain.legs);
    // As a reserve: not a drift (the trigger holds) and never sold.
    assert_eq!(step(&h, &bnb(dec!(10), dec!(25)), None), Action::Hold);
    let h = holdings(700, 300, dec!(1), 0);
    let plan = plan_of(step(&h, &bnb(dec!(10), dec!(25)), None));
    assert!(plan.legs.iter().all(|l| l.asset != a("BNB")), "{:?}", plan.legs);
    // Its value counts in the bot's total (the user's money).
    assert_eq!(plan.value_before, Notional(dec!(1300)));
    // The coins land on their targets among themselves: 500 each.
    let after = plan.apply(&h);
    let btc = after[&a("BTC")].0 * dec!(50000);
    assert!((btc - dec!(500)).abs() < dec!(2), "{btc}");
}

#[test]
fn a_top_up_below_the_minimum_notional_is_skipped_with_the_rule() {
    // 0.03 BNB = 9 USDT < min 10; the target 12 needs 3 USDT: below the 5 USDT minimum.
    let plan = plan_of(step(&holdings(600, 400, dec!(0.03), 0), &bnb(dec!(10), dec!(12)), None));
    assert!(top_up(&plan).is_none());
    let s = plan.skipped.iter().find(|s| s.asset == a("BNB")).expect("the top-up is skipped");
    assert_eq!(s.side, Side::Buy);
    assert!(matches!(s.reason, SkipReason::Rule(_)), "{:?}", s.reason);
    assert!(s.to_string().contains("notional") || s.to_string().contains("value"), "{s}");
    // The rest of the plan trades as without a reserve.
    assert!(plan.legs.iter().any(|l| l.asset == a("ETH") && l.side == Side::Buy));
}

#[test]
fn converting_everything_to_the_quote_sells_the_reserve_too() {
    let h = holdings(600, 400, dec!(0.1), 0);
    let plan = plan_liquidation(&usdt(), &h, &prices(), &rules(), Bps(dec!(10))).unwrap();
    let sold: BTreeSet<&str> = plan.legs.iter().filter(|l| l.side == Side::Sell).map(|l| l.asset.as_str()).collect();
    assert_eq!(sold, ["BNB", "BTC", "ETH"].into());
}

#[test]
fn the_settings_are_checked_and_the_errors_name_the_key() {
    let r = |min, target, asset: &str| FeeReserve { asset: a(asset), min, target };
    let coins = [a("BTC"), a("ETH")];
    assert!(r(dec!(10), dec!(25), "BNB").validate(&usdt(), &coins).is_ok());
    let e = r(dec!(0), dec!(25), "BNB").validate(&usdt(), &coins).unwrap_err().to_string();
    assert!(e.contains("execution.fee_reserve.min"), "{e}");
    let e = r(dec!(10), dec!(5), "BNB").validate(&usdt(), &coins).unwrap_err().to_string();
    assert!(e.contains("execution.fee_reserve.target"), "{e}");
    let e = r(dec!(10), dec!(25), "USDT").validate(&usdt(), &coins).unwrap_err().to_string();
    assert!(e.contains("execution.fee_reserve.asset") && e.contains("quote"), "{e}");
    let e = r(dec!(10), dec!(25), "ETH").validate(&usdt(), &coins).unwrap_err().to_string();
    assert!(e.contains("execution.fee_reserve.asset") && e.contains("rebalanced"), "{e}");
}

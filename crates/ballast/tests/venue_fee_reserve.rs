//! The fee reserve (`execution.fee_reserve`) end to end through the Binance and the
//! Gate adapters, over loopback HTTP, against `ballast-sim` charging its fees in BNB
//! (Binance's "pay fees with BNB") or GT (Gate's GT deduction) at 0.75 of the standard
//! rate: the bot buys the reserve with its first buy, before the other buys; every
//! later fill is charged in the reserve's asset at the discounted rate, as the venue
//! reports it; the ledger equals the venue's balances; the reserve is never sold; and
//! when fees have used it below its minimum, the next rebalance tops it up again.

mod common;

use ballast_core::execution::FeeReserve;
use ballast_core::planner::{FEE_RESERVE_TOP_UP, Side};
use ballast_core::{Asset, Price, Span};
use ballast_exchange::paper::FeeDiscount;
use ballast_store::Store;
use common::live::{Extras, live_with};
use common::*;
use rust_decimal::RoundingStrategy;
use rust_decimal_macros::dec;

fn a(s: &str) -> Asset {
    Asset::new(s).unwrap()
}

fn reserve_is_kept(dialect: &str, asset: &str) {
    // BNB fell through the first half of 2022: the reserve's value falls with it and
    // with the fees (GT is at a fixed price: only the fees use it).
    let w = world("2022-01-01", "2022-06-30");
    let r = a(asset);
    // The bundle has no GT candles: the sim serves it at a fixed price.
    let fixed = if asset == "GT" { vec![(a("GT"), Price(dec!(5)))] } else { vec![] };
    let discount = FeeDiscount { asset: r.clone(), multiplier: dec!(0.75) };
    let l = live_with(&w, dialect, Extras { fixed, fee_discount: Some(discount), ..Extras::default() });
    // Before the account holds any of the asset, the venue reports its standard rate.
    let rates = l.venue.fee_rates(&a("BTC"), &usdt()).unwrap();
    assert_eq!((rates.taker, rates.discount_asset), (dec!(0.001), None), "{dialect}");

    let mut s = spec(dec!(3), Default::default());
    s.assets = vec![a("BTC"), a("ETH"), a("XRP")];
    s.weights = ballast_core::weighting::equal(&s.assets).unwrap();
    let (min, target) = (dec!(24.5), dec!(25));
    s.execution.fee_reserve = Some(FeeReserve { asset: r.clone(), min, target });
    let bot = l.engine.create("reserve", s, "", dec!(1000)).unwrap();
    l.engine.step(bot).unwrap();

    // The first buy: the reserve first (a whole number of steps, worth at most its
    // target), then the coins.
    let mut orders = l.store.orders(bot, 1000).unwrap();
    orders.sort_by_key(|o| (o.intent.seq, o.intent.leg));
    let bases: Vec<&str> = orders.iter().map(|o| o.intent.base.as_str()).collect();
    assert_eq!(bases[0], asset, "{dialect}: {bases:?}");
    assert_eq!(bases.len(), 4, "{dialect}: {bases:?}");
    let price_of = |x: &Asset| l.venue.prices(std::slice::from_ref(x), &usdt()).unwrap()[x].0;
    let held = |x: &Asset| l.engine.holdings(bot).unwrap().get(x).copied().unwrap_or_default().0;
    let bought = orders[0].filled.0;
    assert!(bought * price_of(&r) <= target && bought * price_of(&r) > dec!(20), "{dialect}: {bought}");
    let events = l.store.events(bot, 100).unwrap();
    let first = events.iter().find(|e| e.kind == "rebalance").unwrap();
    assert_eq!(first.data["legs"][0]["why"], FEE_RESERVE_TOP_UP, "{dialect}: {}", first.data);

    // Every fill pays its fee in the reserve's asset at 0.75 of 10 bps, valued at the
    // asset's price (8 decimals, as the venue states commissions).
    let check_fees = || {
        let p = price_of(&r);
        let fills = l.store.fills(bot).unwrap();
        assert!(!fills.is_empty());
        for f in &fills {
            assert_eq!(f.fill.fee_asset, r, "{dialect}: {f:?}");
            let due = (f.fill.qty.0 * f.fill.price.0 * dec!(0.001) * dec!(0.75) / p)
                .round_dp_with_strategy(8, RoundingStrategy::MidpointAwayFromZero);
            assert_eq!(f.fill.fee.0.normalize(), due.normalize(), "{dialect}: {f:?}");
        }
        fills.len()
    };
    if asset == "GT" {
        // A fixed price: every fill so far can be checked against it.
        check_fees();
    } else {
        // BNB moves with the replay: the fills of this bar, at this bar's price.
        let p = price_of(&r);
        for f in l.store.fills(bot).unwrap() {
            assert_eq!(f.fill.fee_asset, r, "{dialect}: {f:?}");
            let due = (f.fill.qty.0 * f.fill.price.0 * dec!(0.00075) / p)
                .round_dp_with_strategy(8, RoundingStrategy::MidpointAwayFromZero);
            assert_eq!(f.fill.fee.0.normalize(), due.normalize(), "{dialect}: {f:?}");
        }
    }
    assert!(held(&r) < bought, "{dialect}: the fees came out of the reserve");
    // Now the rates the venue reports (Binance's commission with its discount, Gate's
    // gt_taker_fee) are the discounted ones, in the reserve's asset.
    let rates = l.venue.fee_rates(&a("BTC"), &usdt()).unwrap();
    assert_eq!((rates.taker, rates.maker), (dec!(0.00075), dec!(0.00075)), "{dialect}");
    assert_eq!(rates.discount_asset.as_ref(), Some(&r), "{dialect}");
    assert_ledger_matches(&l.engine, &*l.venue, bot);

    // Bars go by: the fees use the reserve up; once it is worth less than its
    // minimum, the next rebalance tops it up again.
    let top_ups = |l: &common::live::Live| {
        l.store
            .orders(bot, 100_000)
            .unwrap()
            .iter()
            .filter(|o| o.intent.base == r && o.intent.side == Side::Buy)
            .count()
    };
    let mut again = false;
    for _ in 0..600 {
        let n = top_ups(&l);
        l.clock.advance(Span::hours(4));
        // What the step sees: the reserve at the bar's price.
        let before = held(&r) * price_of(&r);
        l.engine.step(bot).unwrap();
        let after_n = top_ups(&l);
        assert!(after_n <= n + 1, "{dialect}: one top-up per rebalance");
        if after_n > n {
            assert!(before < min, "{dialect}: topped up at {before}");
            let v = held(&r) * price_of(&r);
            assert!(v > min && v <= target, "{dialect}: brought back to {v}");
            again = true;
            break;
        }
    }
    assert!(again, "{dialect}: the reserve was topped up again");
    let sold = l.store.orders(bot, 100_000).unwrap().iter().any(|o| o.intent.base == r && o.intent.side == Side::Sell);
    assert!(!sold, "{dialect}: the reserve is never sold by a rebalance");
    if asset == "GT" {
        check_fees();
    }
    assert!(l.store.unresolved(bot).unwrap().is_empty());
    // The venue refused nothing (the plans' fee estimates left it the cash it asked for).
    let refused: Vec<String> =
        l.store.events(bot, 10_000).unwrap().into_iter().filter(|e| e.kind == "rejected").map(|e| e.message).collect();
    assert!(refused.is_empty(), "{dialect}: {refused:?}");
    assert!(l.engine.audit(bot).unwrap().is_empty(), "{dialect}");
    assert_ledger_matches(&l.engine, &*l.venue, bot);
}

#[test]
fn a_bnb_reserve_is_kept_through_the_binance_adapter() {
    reserve_is_kept("binance", "BNB");
}

#[test]
fn a_gt_reserve_is_kept_through_the_gate_adapter() {
    reserve_is_kept("gate", "GT");
}

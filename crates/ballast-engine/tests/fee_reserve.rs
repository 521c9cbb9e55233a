//! The fee reserve on the engine and the paper venue charging fees in BNB: adding it
//! to a running bot by an edit (the way other `[execution]` edits go), the top-up at
//! the next rebalance that trades, fees then paid in BNB, the ledger equal to the venue;
//! and taking it away again, after which the BNB is an off-target holding like a
//! removed coin and is sold.

mod common;
use common::*;

use std::sync::Arc;

use ballast_core::execution::FeeReserve;
use ballast_core::planner::Side;
use ballast_core::{Price, Qty, Span, SymbolRules, Timestamp};
use ballast_engine::Engine;
use ballast_exchange::paper::{FeeDiscount, PaperConfig, PaperExchange};
use ballast_exchange::{Clock, Exchange, ManualClock};
use ballast_store::Store;
use ballast_store::sqlite::SqliteStore;
use rust_decimal_macros::dec;

#[test]
fn a_reserve_added_by_an_edit_is_bought_at_the_next_trade_and_removed_by_another() {
    let clock = Arc::new(ManualClock::new(Timestamp(1_700_000_000_000)));
    let prices = btc_eth_prices();
    prices.set(&a("BNB"), &a("USDT"), Price(dec!(500)));
    // A 5 USDT minimum order value: differences left by rounding do not trade.
    let mut config = PaperConfig::default();
    config.rules.default =
        SymbolRules { tick: dec!(0.01), step: dec!(0.00001), min_qty: dec!(0.00001), min_notional: dec!(5) };
    let paper = PaperExchange::in_memory(config, prices.clone(), clock.clone() as Arc<dyn Clock>)
        .unwrap()
        .with_fee_discount(FeeDiscount::binance_bnb());
    let paper = Arc::new(paper);
    paper.deposit(&a("USDT"), Qty(dec!(1000))).unwrap();
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let engine = Engine::new(store.clone(), paper.clone(), clock.clone());
    let spec = equal_spec(&["BTC", "ETH"], dec!(3), Default::default());
    let bot = engine.create("r", spec.clone(), "", dec!(1000)).unwrap();
    engine.step(bot).unwrap();
    let bnb_orders =
        || store.orders(bot, 1000).unwrap().into_iter().filter(|o| o.intent.base == a("BNB")).collect::<Vec<_>>();
    assert!(bnb_orders().is_empty(), "no reserve yet");
    let fee_assets = || store.fills(bot).unwrap().into_iter().map(|f| f.fill.fee_asset).collect::<Vec<_>>();
    assert!(fee_assets().iter().all(|x| *x == a("USDT")), "no BNB held: fees in the quote");

    // A reserve coin of the bot is refused; BNB is accepted.
    let mut bad = spec.clone();
    bad.execution.fee_reserve = Some(FeeReserve { asset: a("ETH"), min: dec!(10), target: dec!(25) });
    let e = engine.edit(bot, bad, "").unwrap_err().to_string();
    assert!(e.contains("execution.fee_reserve.asset"), "{e}");
    let mut with = spec.clone();
    with.execution.fee_reserve = Some(FeeReserve { asset: a("BNB"), min: dec!(10), target: dec!(25) });
    engine.edit(bot, with, "").unwrap();
    // The edit's rebalance finds the coins on target: nothing trades, so no top-up.
    clock.advance(Span::hours(4));
    engine.step(bot).unwrap();
    let events: Vec<String> = store.events(bot, 10).unwrap().into_iter().map(|e| e.message).collect();
    assert!(bnb_orders().is_empty(), "the reserve alone never makes the bot trade: {events:?}");
    assert!(events.iter().all(|m| !m.contains("rejected")), "{events:?}");

    // BTC rises: the rebalance trades, and buys the reserve before its buy of ETH.
    prices.set(&a("BTC"), &a("USDT"), Price(dec!(60000)));
    clock.advance(Span::hours(4));
    engine.step(bot).unwrap();
    let mut orders = store.orders(bot, 1000).unwrap();
    orders.sort_by_key(|o| (o.intent.seq, o.intent.leg));
    let last: Vec<(Side, &str)> = orders
        .iter()
        .filter(|o| o.intent.seq == orders.last().unwrap().intent.seq)
        .map(|o| (o.intent.side, o.intent.base.as_str()))
        .collect();
    assert_eq!(last, [(Side::Sell, "BTC"), (Side::Buy, "BNB"), (Side::Buy, "ETH")]);
    // 25 USDT at 500 = 0.05 BNB; its own fee and the ETH buy's are paid in BNB.
    assert_eq!(bnb_orders()[0].filled, Qty(dec!(0.05)));
    let fees = store.fills(bot).unwrap();
    let n = fees.len();
    assert_eq!(fees[n - 2].fill.fee_asset, a("BNB"), "{:?}", fees[n - 2]);
    assert_eq!(fees[n - 1].fill.fee_asset, a("BNB"), "{:?}", fees[n - 1]);
    let check = || {
        let ledger = engine.holdings(bot).unwrap();
        for (asset, b) in paper.balances().unwrap() {
            assert_eq!(
                ledger.get(&asset).copied().unwrap_or_default().0.normalize(),
                b.total().0.normalize(),
                "{asset}"
            );
        }
        assert!(engine.audit(bot).unwrap().is_empty());
    };
    check();

    // The reserve is taken away: BNB is now a holding off the targets, sold by the
    // edit's rebalance like a removed coin.
    engine.edit(bot, spec, "").unwrap();
    clock.advance(Span::hours(4));
    engine.step(bot).unwrap();
    assert!(bnb_orders().iter().any(|o| o.intent.side == Side::Sell), "{:?}", bnb_orders());
    check();
}

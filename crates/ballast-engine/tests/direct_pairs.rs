//! Direct pairs end to end: a rebalance that sells BTC and buys ETH trades ETH/BTC on
//! the paper venue at the cross price; the ledger moves both coins and leaves the quote
//! alone; the event says why. And an investment is spent on the underweight coin first.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::sync::Arc;

use ballast_core::execution::Execution;
use ballast_core::guards::Guards;
use ballast_core::planner::{PairBook, RebalanceTo, Side};
use ballast_core::trigger::{Threshold, Trigger};
use ballast_core::weighting::{self, Method};
use ballast_core::{Asset, Bps, DriftKind, Price, Qty, SymbolRules, Timestamp};
use ballast_engine::{BotSpec, Engine, StepOutcome};
use ballast_exchange::paper::{FixedPrices, PaperConfig, PaperExchange};
use ballast_exchange::{Clock, Exchange, ExchangeError, ManualClock};
use ballast_store::Store;
use ballast_store::sqlite::SqliteStore;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

struct Rig {
    prices: Arc<FixedPrices>,
    venue: Arc<PaperExchange>,
    store: Arc<SqliteStore>,
    engine: Engine,
    bot: i64,
}

fn rig(execution: Execution) -> Rig {
    let clock = Arc::new(ManualClock::new(Timestamp(1_700_000_000_000)));
    let prices = btc_eth_prices();
    let mut pairs = PairBook::default();
    pairs.insert(
        &a("ETH"),
        &a("BTC"),
        SymbolRules { tick: dec!(0.000001), step: dec!(0.001), min_qty: dec!(0.001), min_notional: dec!(0.0001) },
    );
    let paper = PaperExchange::in_memory(PaperConfig::default(), prices.clone(), clock.clone() as Arc<dyn Clock>)
        .unwrap()
        .with_pairs(pairs)
        .unwrap();
    paper.deposit(&a("USDT"), Qty(dec!(2000))).unwrap();
    let venue = Arc::new(paper);
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let engine = Engine::new(store.clone(), venue.clone(), clock);
    let spec = equal_spec(&["BTC", "ETH"], dec!(5), execution);
    let bot = engine.create("pairs", spec, "", dec!(1000)).unwrap();
    assert!(matches!(engine.step(bot).unwrap(), StepOutcome::Rebalanced { .. }));
    Rig { prices, venue, store, engine, bot }
}

#[test]
fn the_paper_venue_lists_only_its_cross_pairs() {
    let r = rig(Execution::default());
    assert_eq!(r.venue.rules(&a("ETH"), &a("BTC")).unwrap().step, dec!(0.001));
    assert!(matches!(r.venue.rules(&a("BTC"), &a("ETH")), Err(ExchangeError::NotFound(_))));
    // The bot's own symbols are unchanged.
    assert_eq!(r.venue.rules(&a("BTC"), &a("USDT")).unwrap(), SymbolRules::default());
}

#[test]
fn a_rebalance_between_two_coins_trades_their_pair_and_the_ledger_moves_both() {
    let r = rig(Execution { direct_pairs: true, ..Execution::default() });
    let before = r.engine.holdings(r.bot).unwrap();
    // BTC +30 %: BTC about 56.5 %, ETH 43.5 %, past the 5-point band.
    r.prices.set(&a("BTC"), &a("USDT"), Price(dec!(65000)));
    assert!(matches!(r.engine.step(r.bot).unwrap(), StepOutcome::Rebalanced { .. }));
    let orders = r.store.orders(r.bot, 10).unwrap();
    let pair = orders.iter().find(|o| o.intent.quote == a("BTC")).expect("an ETH/BTC order");
    assert_eq!((pair.intent.base.clone(), pair.intent.side), (a("ETH"), Side::Buy));
    // Filled at the cross price 2500 / 65000.
    let fills = r.store.fills(r.bot).unwrap();
    let fill = fills.iter().find(|f| f.quote == a("BTC")).expect("its fill");
    assert_eq!(fill.fill.price.0, (dec!(2500) / dec!(65000) / dec!(0.000001)).round() * dec!(0.000001));
    // The ledger: each fill moves its base and its own quote (the pair's fee in BTC).
    // Any remainder too small for the pair trades on the quote.
    let after = r.engine.holdings(r.bot).unwrap();
    let seq_fills: Vec<_> = fills
        .iter()
        .filter(|f| orders.iter().any(|o| o.intent.client_id == f.client_id && o.intent.seq == pair.intent.seq))
        .collect();
    let moved = |asset: &str| -> Decimal {
        let x = a(asset);
        seq_fills
            .iter()
            .map(|f| {
                let n = f.fill.qty.0 * f.fill.price.0;
                let sign = if f.side == Side::Buy { Decimal::ONE } else { -Decimal::ONE };
                let mut d = Decimal::ZERO;
                if f.base == x {
                    d += sign * f.fill.qty.0;
                }
                if f.quote == x {
                    d -= sign * n;
                }
                if f.fill.fee_asset == x {
                    d -= f.fill.fee.0;
                }
                d
            })
            .sum()
    };
    let held = |h: &BTreeMap<Asset, Qty>, s: &str| h.get(&a(s)).copied().unwrap_or_default().0;
    for coin in ["BTC", "ETH", "USDT"] {
        assert_eq!(held(&after, coin) - held(&before, coin), moved(coin), "{coin}");
    }
    assert_eq!(fill.fill.fee_asset, a("BTC"));
    // The pair carried most of the trade: ETH bought on the pair is most of ETH bought.
    assert!(fill.fill.qty.0 * dec!(10) > moved("ETH") * dec!(9), "{} of {}", fill.fill.qty, moved("ETH"));
    // The venue agrees with the ledger, and the doctor finds nothing.
    let balances = r.venue.balances().unwrap();
    assert_eq!(balances[&a("ETH")].free.0, after[&a("ETH")].0);
    assert!(r.engine.audit(r.bot).unwrap().is_empty());
    // The event says why.
    let ev = r.store.events(r.bot, 10).unwrap().into_iter().find(|e| e.kind == "rebalance").unwrap();
    let legs = ev.data["legs"].as_array().unwrap();
    let leg = legs.iter().find(|l| l["quote"] == "BTC").expect("the pair's leg in the event");
    assert!(leg["why"].as_str().unwrap().contains("direct pair ETH/BTC"), "{leg}");
}

#[test]
fn without_direct_pairs_the_same_rebalance_uses_two_quote_legs() {
    let r = rig(Execution::default());
    r.prices.set(&a("BTC"), &a("USDT"), Price(dec!(65000)));
    r.engine.step(r.bot).unwrap();
    let orders = r.store.orders(r.bot, 10).unwrap();
    assert!(orders.iter().all(|o| o.intent.quote == a("USDT")));
    assert!(orders.iter().any(|o| o.intent.side == Side::Sell && o.intent.base == a("BTC")));
}

#[test]
fn an_investment_is_spent_on_the_underweight_coin_first() {
    let r = rig(Execution::default());
    // BTC +8 %: inside the band, no rebalance.
    r.prices.set(&a("BTC"), &a("USDT"), Price(dec!(54000)));
    assert_eq!(r.engine.step(r.bot).unwrap(), StepOutcome::Held);
    let add: BTreeMap<Asset, Qty> = [(a("USDT"), Qty(dec!(200)))].into();
    let preview = r.engine.preview_change(r.bot, &add, None).unwrap().plan;
    assert!(preview.legs.iter().all(|l| l.side == Side::Buy), "{:?}", preview.legs);
    r.engine.invest(r.bot, &add).unwrap();
    let sent_before = r.store.orders(r.bot, 100).unwrap().len();
    r.engine.step(r.bot).unwrap();
    let orders = r.store.orders(r.bot, 100).unwrap();
    let new: Vec<_> = orders.iter().take(orders.len() - sent_before).collect();
    assert!(!new.is_empty());
    assert!(new.iter().all(|o| o.intent.side == Side::Buy), "no sell on a top-up");
    let eth: Decimal = new.iter().filter(|o| o.intent.base == a("ETH")).map(|o| o.intent.qty.0 * dec!(2500)).sum();
    assert!(eth > dec!(100), "most of the cash buys ETH, the underweight coin: {eth}");
}

/// Coins invested are new money like cash: with new cash first, the coins added are
/// sold as far as the underweight coins need them, and the portfolio is at its targets
/// after the step, even though the investment leaves every coin inside the band.
/// Before, only the quote cash held was spent: the plan bought dust and skipped it
/// ("order value 0.3 is below the minimum"), and the coins stayed overweight.
#[test]
fn an_investment_in_coins_is_spent_like_cash_on_the_underweight_coin() {
    let r = rig(Execution::default());
    // BTC +8 %: inside the 5-point band, no rebalance.
    r.prices.set(&a("BTC"), &a("USDT"), Price(dec!(54000)));
    assert_eq!(r.engine.step(r.bot).unwrap(), StepOutcome::Held);
    r.venue.deposit(&a("BTC"), Qty(dec!(0.001))).unwrap();
    // 0.001 BTC (54 USDT): BTC 594 of 1,094 USDT, 54.3 %, still inside the band.
    let add: BTreeMap<Asset, Qty> = [(a("BTC"), Qty(dec!(0.001)))].into();
    let preview = r.engine.preview_change(r.bot, &add, None).unwrap().plan;
    let sides: Vec<_> = preview.legs.iter().map(|l| (l.side, l.asset.to_string())).collect();
    assert_eq!(sides, [(Side::Sell, "BTC".to_string()), (Side::Buy, "ETH".to_string())], "{preview:?}");
    assert!(preview.skipped.is_empty(), "{:?}", preview.skipped);
    r.engine.invest(r.bot, &add).unwrap();
    let sent_before = r.store.orders(r.bot, 100).unwrap().len();
    assert!(matches!(r.engine.step(r.bot).unwrap(), StepOutcome::Rebalanced { orders: 2 }));
    let orders = r.store.orders(r.bot, 100).unwrap();
    assert_eq!(orders.len() - sent_before, 2);
    // Sold: no more BTC than was invested; both coins now within a point of 50 %.
    let sold: Decimal = orders
        .iter()
        .filter(|o| o.intent.side == Side::Sell && o.intent.base == a("BTC"))
        .map(|o| o.intent.qty.0)
        .sum();
    assert!(sold > Decimal::ZERO && sold <= dec!(0.001), "{sold}");
    let h = r.engine.holdings(r.bot).unwrap();
    let (btc, eth) = (h[&a("BTC")].0 * dec!(54000), h[&a("ETH")].0 * dec!(2500));
    let w = btc / (btc + eth + h[&a("USDT")].0);
    assert!((w - dec!(0.5)).abs() < dec!(0.01), "BTC weight {w}");
    // Nothing pending: the next step holds.
    assert_eq!(r.engine.step(r.bot).unwrap(), StepOutcome::Held);
}

/// A maker-first bot with direct pairs on a paper venue with a book (10 bps wide) that
/// charges 20 bps while the bot's configuration says 10: the planner sizes at the
/// venue's rate, and the pair's leg, expected to cost less resting than two resting
/// quote legs, rests as a post-only order on ETH/BTC itself (not on ETH/USDT), and
/// fills there once the cross price trades through it.
#[test]
fn a_maker_first_bot_rests_its_pair_leg_on_the_pair_and_plans_at_the_venues_fee() {
    use ballast_core::Span;
    use ballast_core::execution::OrderStyle;
    use ballast_engine::BotState;
    use ballast_exchange::OrderKind;
    use ballast_store::OrderState;

    let clock = Arc::new(ManualClock::new(Timestamp(1_700_000_000_000)));
    let prices = btc_eth_prices();
    let mut pairs = PairBook::default();
    pairs.insert(
        &a("ETH"),
        &a("BTC"),
        SymbolRules { tick: dec!(0.000001), step: dec!(0.001), min_qty: dec!(0.001), min_notional: dec!(0.0001) },
    );
    let config = PaperConfig { fee_bps: dec!(20), ..PaperConfig::default() };
    let paper = PaperExchange::in_memory(config, prices.clone(), clock.clone() as Arc<dyn Clock>)
        .unwrap()
        .with_pairs(pairs)
        .unwrap()
        .with_spread_bps(dec!(10));
    paper.deposit(&a("USDT"), Qty(dec!(1000))).unwrap();
    let venue = Arc::new(paper);
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let engine = Engine::new(store.clone(), venue.clone(), clock.clone());
    let assets = vec![a("BTC"), a("ETH")];
    let execution = Execution {
        style: OrderStyle::MakerFirst { reprice: Span::minutes(1), deadline: Span::minutes(5) },
        direct_pairs: true,
        ..Execution::default()
    };
    let spec = BotSpec {
        quote: a("USDT"),
        weights: weighting::equal(&assets).unwrap(),
        assets,
        method: Method::Equal,
        trigger: Trigger::threshold(Threshold::new(dec!(5), DriftKind::Absolute).unwrap(), None).unwrap(),
        to: RebalanceTo::Target,
        guards: Guards::default(),
        fee: Bps(dec!(10)),
        reestimate: None,
        execution,
    };
    let bot = engine.create("pairs", spec, "", dec!(1000)).unwrap();
    let working = || {
        let s: BotState = serde_json::from_str(&store.load_state(bot).unwrap().unwrap()).unwrap();
        s.working
    };
    // The first buy rests, then finishes at market after the deadline.
    engine.step(bot).unwrap();
    for _ in 0..3 {
        if working().is_none() {
            break;
        }
        clock.advance(Span::minutes(6));
        engine.step(bot).unwrap();
    }
    assert!(working().is_none(), "the first buy is done");
    // BTC +30 %.
    prices.set(&a("BTC"), &a("USDT"), Price(dec!(65000)));
    // The planner's fee is the venue's 20 bps, not the configuration's 10.
    let plan = engine.preview_change(bot, &BTreeMap::new(), None).unwrap().plan;
    let quote_leg = plan.legs.iter().find(|l| l.quote.is_none()).expect("a quote leg remains");
    assert_eq!(quote_leg.fee.0, quote_leg.notional.0 * dec!(0.002), "{quote_leg:?}");
    assert!(matches!(engine.step(bot).unwrap(), StepOutcome::Rebalanced { .. }));
    let w = working().expect("the rebalance is worked as makers");
    let seq = w.seq;
    let orders_of_seq =
        || -> Vec<_> { store.orders(bot, 50).unwrap().into_iter().filter(|o| o.intent.seq == seq).collect() };
    // Buys wait for the sells: the BTC/USDT remainder rests first, and fills once BTC
    // trades through its ask.
    let sell = orders_of_seq().into_iter().find(|o| o.intent.base == a("BTC")).expect("the BTC sell remainder");
    assert_eq!((sell.intent.quote.clone(), sell.intent.side), (a("USDT"), Side::Sell));
    assert!(!orders_of_seq().iter().any(|o| o.intent.side == Side::Buy), "the buys wait for the sell");
    prices.set(&a("BTC"), &a("USDT"), Price(dec!(65700)));
    prices.set(&a("ETH"), &a("USDT"), Price(dec!(2527)));
    clock.advance(Span::from_secs(30));
    engine.step(bot).unwrap();
    let orders = orders_of_seq();
    let pair = orders
        .iter()
        .find(|o| o.intent.base == a("ETH") && o.intent.quote == a("BTC"))
        .unwrap_or_else(|| panic!("an ETH/BTC order: {orders:#?}"));
    assert_eq!(pair.intent.quote, a("BTC"), "the pair's leg rests on ETH/BTC: {:?}", pair.intent);
    assert!(matches!(pair.intent.kind, OrderKind::PostOnly { .. }), "{:?}", pair.intent.kind);
    assert_eq!(pair.state, OrderState::New);
    let ev = store.events(bot, 20).unwrap().into_iter().find(|e| e.kind == "rebalance").unwrap();
    let leg = ev.data["legs"].as_array().unwrap().iter().find(|l| l["quote"] == "BTC").cloned().unwrap();
    assert!(leg["why"].as_str().unwrap().contains("ETH/BTC as maker"), "{leg}");
    // ETH falls 1 % against BTC: the bid is traded through and the pair's order fills.
    prices.set(&a("ETH"), &a("USDT"), Price(dec!(2500)));
    clock.advance(Span::from_secs(30));
    engine.step(bot).unwrap();
    let filled = store.fills(bot).unwrap().into_iter().filter(|f| f.quote == a("BTC")).count();
    assert!(filled > 0, "the ETH/BTC order filled on its own symbol");
    // The rest finishes at market after the deadline. The closing event values every
    // order in the bot's quote: before, it added the ETH/BTC order's BTC to the USDT of
    // the others and printed the sum in BTC ("626.12 BTC traded as maker").
    for _ in 0..12 {
        if working().is_none() {
            break;
        }
        clock.advance(Span::from_secs(60));
        engine.step(bot).unwrap();
    }
    assert!(working().is_none(), "the rebalance is done");
    let done = store.events(bot, 50).unwrap().into_iter().find(|e| e.kind == "rebalance_done").unwrap();
    let m = &done.message;
    assert!(m.contains("USDT traded as maker") && m.contains("USDT as taker") && !m.contains(" BTC "), "{m}");
    let figure = |before: &str| -> Decimal {
        let head = &m[..m.find(before).unwrap()];
        head.rsplit(' ').nth(1).unwrap().parse().unwrap()
    };
    let (maker, taker) = (figure("USDT traded as maker"), figure("USDT as taker"));
    let pair_value: Decimal = store
        .orders(bot, 50)
        .unwrap()
        .iter()
        .filter(|o| o.intent.seq == seq && o.intent.quote == a("BTC"))
        .map(|o| o.filled.0 * dec!(2500))
        .sum();
    assert!(pair_value > Decimal::ZERO && maker >= pair_value * dec!(0.9), "the pair's fill counts in USDT: {m}");
    assert!(maker + taker < dec!(1300), "no more than the bot's value was traded: {m}");
    // One bot owns the account: the ledger equals the venue.
    let balances = venue.balances().unwrap();
    let held = engine.holdings(bot).unwrap();
    assert!(engine.audit(bot).unwrap().is_empty());
    for (asset, b) in &balances {
        assert_eq!(held.get(asset).copied().unwrap_or_default().0, b.total().0, "{asset}");
    }
}

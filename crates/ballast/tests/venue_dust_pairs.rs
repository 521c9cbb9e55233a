//! The dust sweep and direct-pair (cross pair) trades end to end through the Binance
//! and the Gate adapters, over loopback HTTP, against `ballast-sim`: the dust a removed
//! coin left is converted by the venue's small-balance conversion (Binance
//! `POST /sapi/v1/asset/dust` into BNB, Gate `POST /wallet/small_balance` into GT) and
//! the ledger follows the venue; a bot trading direct pairs fills the cross pairs the
//! sim lists (ETH/BTC, BNB/BTC, XRP/BTC...) under their own rules, each fill once.

mod common;

use ballast_backtest::Interval;
use ballast_core::Qty;
use ballast_core::execution::OrderStyle;
use ballast_core::planner::PairBook;
use ballast_core::planner::Side;
use ballast_core::{Asset, Price, Span, Timestamp};
use ballast_exchange::{ClientOrderId, ExchangeError, OrderKind, OrderRequest, OrderStatus, OrderTag};
use ballast_sim::FaultConfig;
use ballast_store::{OrderState, Store};
use common::live::{Extras, Live, live_with};
use common::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

fn a(s: &str) -> Asset {
    Asset::new(s).unwrap()
}

/// Every fill recorded once, nothing unresolved, and what the venue says each order
/// filled is what the store recorded.
fn assert_every_fill_once(l: &Live, bot: i64) {
    assert!(l.store.unresolved(bot).unwrap().is_empty(), "nothing unresolved");
    let fills = l.store.fills(bot).unwrap();
    let mut keys: Vec<_> = fills.iter().map(|f| (f.client_id.to_string(), f.fill.trade_id.clone())).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), fills.len(), "every fill once");
    for o in l.store.orders(bot, 100_000).unwrap() {
        if matches!(o.state, OrderState::NotSent | OrderState::Rejected) {
            continue;
        }
        let i = &o.intent;
        let r = l
            .venue
            .query(&i.client_id, &i.base, &i.quote)
            .unwrap()
            .unwrap_or_else(|| panic!("{} unknown to the venue", i.client_id));
        assert_eq!(r.filled.0.normalize(), o.filled.0.normalize(), "{}", i.client_id);
    }
}

/// A bot on the demo's coins whose removed ETH left dust (its last sell filled only
/// 99 %: the 1 % left is worth less than the 5 USDT minimum), swept through
/// `dialect`'s adapter into `into`.
fn dust_is_swept(dialect: &str, into: &str) {
    let w = world("2024-01-01", "2024-01-31");
    // Gate converts into GT, which the bundle has no candles of: the sim serves it at a
    // fixed price.
    let fixed = if into == "GT" { vec![(a("GT"), Price(dec!(5)))] } else { vec![] };
    let l = live_with(&w, dialect, Extras { fixed, ..Extras::default() });
    let bot = l.engine.create("dust", spec(dec!(3), Default::default()), "", dec!(1000)).unwrap();
    l.engine.step(bot).unwrap();
    assert!(l.engine.holdings(bot).unwrap()[&a("ETH")].0 > Decimal::ZERO, "{dialect}: bought in");
    assert!(l.engine.dust(bot).unwrap().is_empty(), "after the first buy every holding is sellable");
    // ETH is removed; the sell of it fills only 99 % and expires.
    let mut s = spec(dec!(3), Default::default());
    s.assets.retain(|x| x.as_str() != "ETH");
    s.weights = ballast_core::weighting::equal(&s.assets).unwrap();
    l.engine.edit(bot, s, "").unwrap();
    l.sim.set_faults(FaultConfig { partial_fill_rate: 1.0, partial_fill_fraction: 0.99, ..FaultConfig::default() });
    l.clock.advance(ballast_core::Span::hours(4));
    l.engine.step(bot).unwrap();
    l.sim.set_faults(FaultConfig::default());
    let dust = l.engine.dust(bot).unwrap();
    assert_eq!(dust.iter().map(|d| d.asset.as_str()).collect::<Vec<_>>(), ["ETH"], "{dialect}: {dust:?}");
    let eth = dust[0].qty;
    assert!(dust[0].value.0 < dec!(5) && eth.0 > Decimal::ZERO, "{dialect}: {dust:?}");
    assert_ledger_matches(&l.engine, &*l.venue, bot);

    let into_before = l.venue.balances().unwrap().get(&a(into)).map(|b| b.free.0).unwrap_or_default();
    let (conv, left_out) = l.engine.sweep_dust(bot).unwrap();
    assert!(left_out.is_empty(), "{dialect}: {left_out:?}");
    let conv = conv.expect("converted");
    assert_eq!(conv.into, a(into), "{dialect}");
    assert_eq!(conv.converted.len(), 1, "{dialect}: {conv:?}");
    let (asset, taken, got) = &conv.converted[0];
    assert_eq!((asset, taken), (&a("ETH"), &eth), "{dialect}: the whole dust was taken");
    // What the adapter read is what the venue credited: the ETH's value at the last
    // prices in `into`, less 2 %.
    let balances = l.venue.balances().unwrap();
    assert!(balances.get(&a("ETH")).is_none_or(|b| b.total().is_zero()), "{dialect}: no ETH left at the venue");
    assert_eq!(balances[&a(into)].free.0 - into_before, got.0, "{dialect}");
    let into_price = if into == "GT" { dec!(5) } else { l.venue.prices(&[a(into)], &usdt()).unwrap()[&a(into)].0 };
    let gross = dust[0].value.0 / into_price;
    assert!((got.0 - gross * dec!(0.98)).abs() < dec!(0.00000002), "{dialect}: {got:?} for {gross}");
    assert!(l.engine.dust(bot).unwrap().is_empty(), "{dialect}");
    assert!(l.engine.audit(bot).unwrap().is_empty(), "{dialect}");
    assert_ledger_matches(&l.engine, &*l.venue, bot);

    // A second sweep is harmless: nothing is dust, nothing is asked of the venue; and
    // the venue itself refuses (never an unknown outcome) a conversion of nothing.
    let (again, left_out) = l.engine.sweep_dust(bot).unwrap();
    assert!(again.is_none() && left_out.is_empty(), "{dialect}: {again:?} {left_out:?}");
    let e = l.venue.convert_dust(&[a("ETH")], &usdt()).unwrap_err();
    assert!(matches!(&e, ExchangeError::Rejected(m) if m.contains("ETH")), "{dialect}: {e}");
    assert_eq!(l.venue.balances().unwrap(), balances, "{dialect}: nothing changed");
    // The bot carries on.
    l.clock.advance(ballast_core::Span::hours(4));
    l.engine.step(bot).unwrap();
    assert_every_fill_once(&l, bot);
    assert_ledger_matches(&l.engine, &*l.venue, bot);
}

#[test]
fn dust_of_a_removed_coin_is_swept_into_bnb_through_the_binance_adapter() {
    dust_is_swept("binance", "BNB");
}

#[test]
fn dust_of_a_removed_coin_is_swept_into_gt_through_the_gate_adapter() {
    dust_is_swept("gate", "GT");
}

/// The bundled rules' cross pairs.
fn bundled_pairs() -> PairBook {
    ballast_cli::config::load_pairs(&root().join("data/rules/binance-spot.toml")).unwrap()
}

/// The sim lists the bundled cross pairs with their own rules (minimum value in BTC),
/// priced from the two coins' replayed prices.
fn cross_pairs_are_listed_with_their_own_rules(dialect: &str) {
    let w = world("2024-01-01", "2024-01-31");
    let pairs = bundled_pairs();
    let l = live_with(&w, dialect, Extras { pairs: pairs.clone(), ..Extras::default() });
    for (b, q) in [("ETH", "BTC"), ("BNB", "BTC"), ("XRP", "BTC")] {
        let r = l.venue.rules(&a(b), &a(q)).unwrap();
        assert_eq!(&r, pairs.get(&a(b), &a(q)).unwrap(), "{dialect}: {b}/{q}");
        assert_ne!(r, rules().get(&a(b)).clone(), "{dialect}: {b}/{q} is not {b}/USDT");
        let p = l.venue.prices(&[a(b)], &a(q)).unwrap()[&a(b)].0;
        let usd = l.venue.prices(&[a(b), a(q)], &usdt()).unwrap();
        // The cross of the two coins' prices, on the pair's tick.
        let tick = pairs.get(&a(b), &a(q)).unwrap().tick;
        assert!((p - usd[&a(b)].0 / usd[&a(q)].0).abs() <= tick / dec!(2), "{dialect}: {b}/{q} {p}");
        assert_eq!(p % tick, Decimal::ZERO, "{dialect}: {b}/{q} {p} on the tick");
        let t = l.venue.best_bid_ask(&a(b), &a(q)).unwrap();
        assert!(t.bid.0 < p && p < t.ask.0, "{dialect}: {b}/{q} {t:?}");
        assert_eq!((t.bid.0 % tick, t.ask.0 % tick), (Decimal::ZERO, Decimal::ZERO), "{dialect}: {b}/{q} {t:?}");
    }
    // Tradable as post-only: at the bid a buy rests (its BTC locked), at the ask it
    // would take and is refused; a market buy fills at the cross price.
    let (eth, btc) = (a("ETH"), a("BTC"));
    let tag = OrderTag::legacy();
    let order = |n: usize, base: &Asset, quote: &Asset, qty, kind| OrderRequest {
        client_id: ClientOrderId::for_attempt(&tag, 1, 1, n, 0).unwrap(),
        base: base.clone(),
        quote: quote.clone(),
        side: Side::Buy,
        qty: Qty(qty),
        kind,
        expires_at: None,
    };
    l.venue.place(&order(0, &btc, &usdt(), dec!(0.005), OrderKind::Market)).unwrap();
    let t = l.venue.best_bid_ask(&eth, &btc).unwrap();
    let e = l.venue.place(&order(1, &eth, &btc, dec!(0.05), OrderKind::PostOnly { price: t.ask })).unwrap_err();
    assert!(matches!(&e, ExchangeError::Rejected(_)), "{dialect}: {e}");
    let resting = l.venue.place(&order(2, &eth, &btc, dec!(0.05), OrderKind::PostOnly { price: t.bid })).unwrap();
    assert_eq!(resting.status, OrderStatus::New, "{dialect}");
    assert_eq!(l.venue.open_orders(&eth, &btc).unwrap().len(), 1, "{dialect}");
    l.venue.cancel(&resting.client_id, &eth, &btc).unwrap();
    let filled = l.venue.place(&order(3, &eth, &btc, dec!(0.05), OrderKind::Market)).unwrap();
    assert_eq!((filled.status, filled.filled.0), (OrderStatus::Filled, dec!(0.05)), "{dialect}");
    let last = l.venue.prices(std::slice::from_ref(&eth), &btc).unwrap()[&eth].0;
    assert!(filled.fills.iter().all(|f| f.price.0 == last), "{dialect}: {filled:?} at {last}");
    // A pair the bundle does not list is not a symbol.
    assert!(l.venue.rules(&a("XRP"), &a("ETH")).is_err(), "{dialect}");
}

#[test]
fn cross_pairs_are_listed_through_the_binance_adapter() {
    cross_pairs_are_listed_with_their_own_rules("binance");
}

#[test]
fn cross_pairs_are_listed_through_the_gate_adapter() {
    cross_pairs_are_listed_with_their_own_rules("gate");
}

/// A bot trading direct pairs over two months of 4h bars (taker, or maker-first: pair
/// legs rest post-only at the pair's touch, are re-priced and finished at market):
/// some rebalances trade a cross pair (a fill whose quote is BTC) through the adapter,
/// on the pair's step and above its minimum value, every fill once, the venue's
/// executed quantities the store's, ledger = venue.
fn direct_pairs_trade(dialect: &str, maker_first: bool) {
    let w = world("2024-01-01", "2024-02-29");
    let l = live_with(&w, dialect, Extras { pairs: bundled_pairs(), ..Extras::default() });
    let mut s = spec(dec!(3), Default::default());
    s.execution.direct_pairs = true;
    if maker_first {
        s.execution.style = OrderStyle::MakerFirst { reprice: Span::hours(4), deadline: Span::hours(12) };
    }
    let bot = l.engine.create("pairs", s, "", dec!(1000)).unwrap();
    for t in &w.data.times[w.first..] {
        l.clock.set(Timestamp(t.0 + Interval::H4.millis()));
        for (id, r) in l.engine.step_all().unwrap() {
            r.unwrap_or_else(|e| panic!("{dialect}: bot {id} at {}: {e}", t.0));
        }
    }
    // Steps on at the last prices until resting work is done.
    for _ in 0..6 {
        let st: ballast_engine::BotState = serde_json::from_str(&l.store.load_state(bot).unwrap().unwrap()).unwrap();
        if st.working.is_none() {
            break;
        }
        l.clock.advance(Span::hours(4));
        l.engine.step(bot).unwrap();
    }
    let fills = l.store.fills(bot).unwrap();
    let cross: Vec<_> = fills.iter().filter(|f| f.quote.as_str() == "BTC").collect();
    if maker_first {
        let post_only = l
            .store
            .orders(bot, 100_000)
            .unwrap()
            .into_iter()
            .filter(|o| o.intent.quote.as_str() == "BTC" && matches!(o.intent.kind, OrderKind::PostOnly { .. }))
            .count();
        eprintln!("{dialect}: {post_only} post-only orders on cross pairs");
        assert!(post_only > 0, "{dialect}: a pair leg was sent resting, at the pair's touch");
    }
    eprintln!("{dialect}: {} fills, {} on cross pairs", fills.len(), cross.len());
    assert!(!cross.is_empty(), "{dialect}: a direct pair was traded");
    for f in &cross {
        let r = bundled_pairs();
        let rules = r.get(&f.base, &f.quote).unwrap();
        assert_eq!(rules.floor_qty(f.fill.qty), f.fill.qty, "{dialect}: {} on the pair's step", f.client_id);
        assert!(f.fill.qty.0 * f.fill.price.0 >= rules.min_notional, "{dialect}: {}", f.client_id);
    }
    assert_every_fill_once(&l, bot);
    assert_ledger_matches(&l.engine, &*l.venue, bot);
}

#[test]
fn direct_pairs_trade_through_the_binance_adapter() {
    direct_pairs_trade("binance", false);
}

#[test]
fn maker_first_direct_pairs_trade_through_the_binance_adapter() {
    direct_pairs_trade("binance", true);
}

#[test]
fn direct_pairs_trade_through_the_gate_adapter() {
    direct_pairs_trade("gate", false);
}

#[test]
fn maker_first_direct_pairs_trade_through_the_gate_adapter() {
    direct_pairs_trade("gate", true);
}

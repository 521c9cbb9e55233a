//! The paper trading venue against its contract: balances, fees, slippage, rules,
//! idempotency, resting orders, persistence and injected faults.

use std::collections::BTreeMap;
use std::sync::Arc;

use ballast_core::planner::{RulesBook, Side};
use ballast_core::{Asset, Price, Qty, Span, SymbolRules, Timestamp};
use ballast_exchange::paper::{Faults, FixedPrices, PaperConfig, PaperExchange, PriceSource, ReplayPrices};
use ballast_exchange::{
    Balance, ClientOrderId, Exchange, ExchangeError, ManualClock, OrderKind, OrderReport, OrderRequest, OrderStatus,
};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

fn a(s: &str) -> Asset {
    Asset::new(s).unwrap()
}

fn id(s: &str) -> ClientOrderId {
    ClientOrderId::new(s).unwrap()
}

fn usdt() -> Asset {
    a("USDT")
}

fn btc() -> Asset {
    a("BTC")
}

/// Binance's BTCUSDT filters (as in data/rules/binance-spot.toml).
fn rules() -> RulesBook {
    let btc_rules =
        SymbolRules { tick: dec!(0.01), step: dec!(0.00001), min_qty: dec!(0.00001), min_notional: dec!(5) };
    RulesBook { default: SymbolRules::default(), per_asset: [(btc(), btc_rules)].into() }
}

fn config(fee_bps: Decimal, slippage_bps: Decimal) -> PaperConfig {
    PaperConfig { name: "paper".into(), fee_bps, slippage_bps, rules: rules() }
}

/// A venue over fixed prices with BTC at `btc_price`.
fn fixed_venue(fee_bps: Decimal, slippage_bps: Decimal, btc_price: Decimal) -> (PaperExchange, Arc<FixedPrices>) {
    let prices = Arc::new(FixedPrices::new());
    prices.set(&btc(), &usdt(), Price(btc_price));
    let clock = Arc::new(ManualClock::new(Timestamp(1_000)));
    let venue = PaperExchange::in_memory(config(fee_bps, slippage_bps), prices.clone(), clock).unwrap();
    (venue, prices)
}

fn market(client: &str, side: Side, qty: Decimal) -> OrderRequest {
    OrderRequest {
        client_id: id(client),
        base: btc(),
        quote: usdt(),
        side,
        qty: Qty(qty),
        kind: OrderKind::Market,
        expires_at: None,
    }
}

fn limit(client: &str, side: Side, qty: Decimal, price: Decimal) -> OrderRequest {
    OrderRequest {
        client_id: id(client),
        base: btc(),
        quote: usdt(),
        side,
        qty: Qty(qty),
        kind: OrderKind::Limit { price: Price(price) },
        expires_at: None,
    }
}

fn bal(venue: &PaperExchange, asset: &Asset) -> Balance {
    venue.balances().unwrap().get(asset).copied().unwrap_or_default()
}

fn free_locked(free: Decimal, locked: Decimal) -> Balance {
    Balance { free: Qty(free), locked: Qty(locked) }
}

fn rejected_with(e: ExchangeError, filter: &str) {
    match e {
        ExchangeError::Rejected(msg) => assert!(msg.starts_with(filter), "{msg:?} should name {filter}"),
        other => panic!("expected Rejected({filter}...), got {other:?}"),
    }
}

#[test]
fn market_buy_pays_slipped_price_plus_quote_fee() {
    let (venue, _) = fixed_venue(dec!(10), dec!(10), dec!(50000));
    venue.deposit(&usdt(), Qty(dec!(10000))).unwrap();
    let r = venue.place(&market("b1", Side::Buy, dec!(0.1))).unwrap();
    // 50000 * 1.001 = 50050; notional 5005; fee 0.1 % = 5.005 USDT.
    assert_eq!(r.status, OrderStatus::Filled);
    assert_eq!(r.filled, Qty(dec!(0.1)));
    assert_eq!(r.venue_id, "1");
    assert_eq!(r.fills.len(), 1);
    let f = &r.fills[0];
    assert_eq!(
        (f.trade_id.as_str(), f.qty, f.price, f.fee),
        ("1", Qty(dec!(0.1)), Price(dec!(50050)), Qty(dec!(5.005)))
    );
    assert_eq!(f.fee_asset, usdt());
    assert_eq!(f.time, Timestamp(1_000));
    assert_eq!(bal(&venue, &usdt()), free_locked(dec!(4989.995), dec!(0)));
    assert_eq!(bal(&venue, &btc()), free_locked(dec!(0.1), dec!(0)));
}

#[test]
fn market_sell_receives_slipped_price_minus_quote_fee() {
    let (venue, _) = fixed_venue(dec!(10), dec!(10), dec!(50000));
    venue.deposit(&btc(), Qty(dec!(1))).unwrap();
    let r = venue.place(&market("s1", Side::Sell, dec!(0.5))).unwrap();
    // 50000 * 0.999 = 49950; notional 24975; fee 24.975.
    assert_eq!(r.fills[0].price, Price(dec!(49950)));
    assert_eq!(r.fills[0].fee, Qty(dec!(24.975)));
    assert_eq!(bal(&venue, &usdt()), free_locked(dec!(24950.025), dec!(0)));
    assert_eq!(bal(&venue, &btc()), free_locked(dec!(0.5), dec!(0)));
}

#[test]
fn slipped_prices_round_to_the_tick_against_the_taker() {
    let (venue, _) = fixed_venue(dec!(0), dec!(10), dec!(50000.01));
    venue.deposit(&usdt(), Qty(dec!(100000))).unwrap();
    venue.deposit(&btc(), Qty(dec!(1))).unwrap();
    // 50000.01 * 1.001 = 50050.01001 -> up to 50050.02; * 0.999 = 49950.00999 -> down to 49950.00.
    let buy = venue.place(&market("b1", Side::Buy, dec!(1))).unwrap();
    assert_eq!(buy.fills[0].price, Price(dec!(50050.02)));
    assert_eq!(buy.fills[0].fee, Qty(dec!(0)));
    let sell = venue.place(&market("s1", Side::Sell, dec!(1))).unwrap();
    assert_eq!(sell.fills[0].price, Price(dec!(49950)));
    assert_eq!(bal(&venue, &usdt()), free_locked(dec!(100000) - dec!(50050.02) + dec!(49950), dec!(0)));
    assert_eq!(sell.venue_id, "2");
    assert_eq!(sell.fills[0].trade_id, "2");
}

#[test]
fn fee_is_exact_on_the_notional() {
    let (venue, _) = fixed_venue(dec!(7.5), dec!(0), dec!(84500.01));
    venue.deposit(&usdt(), Qty(dec!(1000))).unwrap();
    let r = venue.place(&market("b1", Side::Buy, dec!(0.00123))).unwrap();
    // notional 0.00123 * 84500.01 = 103.9350123; fee 7.5 bps = 0.077951259225.
    assert_eq!(r.fills[0].fee, Qty(dec!(0.077951259225)));
    assert_eq!(bal(&venue, &usdt()).free, Qty(dec!(1000) - dec!(103.9350123) - dec!(0.077951259225)));
}

#[test]
fn rule_violations_are_rejected_naming_the_filter_and_change_nothing() {
    let (venue, _) = fixed_venue(dec!(10), dec!(0), dec!(50000));
    venue.deposit(&usdt(), Qty(dec!(100))).unwrap();
    let before = venue.balances().unwrap();

    rejected_with(venue.place(&market("x1", Side::Buy, dec!(0.000015))).unwrap_err(), "LOT_SIZE");
    rejected_with(venue.place(&market("x2", Side::Buy, dec!(0))).unwrap_err(), "LOT_SIZE");
    rejected_with(venue.place(&market("x3", Side::Buy, dec!(-1))).unwrap_err(), "LOT_SIZE");
    // 0.00005 * 50000 = 2.5 < 5.
    rejected_with(venue.place(&market("x4", Side::Buy, dec!(0.00005))).unwrap_err(), "NOTIONAL");
    rejected_with(venue.place(&limit("x5", Side::Buy, dec!(0.001), dec!(49999.995))).unwrap_err(), "PRICE_FILTER");
    rejected_with(venue.place(&limit("x6", Side::Buy, dec!(0.001), dec!(0))).unwrap_err(), "PRICE_FILTER");
    // 0.002 * 50000 = 100 + 0.1 fee > 100.
    rejected_with(venue.place(&market("x7", Side::Buy, dec!(0.002))).unwrap_err(), "insufficient balance");
    rejected_with(venue.place(&market("x8", Side::Sell, dec!(0.001))).unwrap_err(), "insufficient balance");
    // A resting buy must be able to lock qty * price * (1 + fee).
    rejected_with(venue.place(&limit("x9", Side::Buy, dec!(0.0025), dec!(40000))).unwrap_err(), "insufficient balance");
    // Absurd amounts are refused, not a panic.
    rejected_with(venue.place(&market("x10", Side::Buy, Decimal::MAX)).unwrap_err(), "amount out of range");

    assert_eq!(venue.balances().unwrap(), before);
    for i in 1..=10 {
        assert_eq!(venue.query(&id(&format!("x{i}")), &btc(), &usdt()).unwrap(), None);
    }
    // A rejected client id may be used again.
    assert_eq!(venue.place(&market("x7", Side::Buy, dec!(0.001))).unwrap().status, OrderStatus::Filled);
}

#[test]
fn unknown_symbols_use_default_rules_and_need_a_price() {
    let (venue, prices) = fixed_venue(dec!(0), dec!(0), dec!(50000));
    venue.deposit(&usdt(), Qty(dec!(100))).unwrap();
    let xyz = a("XYZ");
    let order = |client: &str, qty: Decimal| OrderRequest {
        client_id: id(client),
        base: xyz.clone(),
        quote: usdt(),
        side: Side::Buy,
        qty: Qty(qty),
        kind: OrderKind::Market,
        expires_at: None,
    };
    // No price: NotFound.
    assert!(matches!(venue.place(&order("z1", dec!(1))), Err(ExchangeError::NotFound(_))));
    prices.set(&xyz, &usdt(), Price(dec!(2)));
    // Default rules: 8 decimals, no minimums.
    assert_eq!(venue.rules(&xyz, &usdt()).unwrap(), SymbolRules::default());
    rejected_with(venue.place(&order("z2", dec!(1.123456789))).unwrap_err(), "LOT_SIZE");
    let r = venue.place(&order("z3", dec!(0.00000001))).unwrap();
    assert_eq!(r.status, OrderStatus::Filled);
    assert_eq!(bal(&venue, &xyz).free, Qty(dec!(0.00000001)));
}

#[test]
fn duplicate_client_id_is_refused_and_trades_once() {
    let (venue, _) = fixed_venue(dec!(10), dec!(0), dec!(50000));
    venue.deposit(&usdt(), Qty(dec!(1000))).unwrap();
    let first = venue.place(&market("dup", Side::Buy, dec!(0.001))).unwrap();
    let after_first = venue.balances().unwrap();
    assert_eq!(venue.place(&market("dup", Side::Buy, dec!(0.001))), Err(ExchangeError::Duplicate("dup".into())));
    // Same id, different order: still a duplicate.
    assert_eq!(
        venue.place(&limit("dup", Side::Sell, dec!(0.001), dec!(60000))),
        Err(ExchangeError::Duplicate("dup".into()))
    );
    assert_eq!(venue.balances().unwrap(), after_first);
    assert_eq!(venue.query(&id("dup"), &btc(), &usdt()).unwrap(), Some(first));
    assert_eq!(venue.place(&market("next", Side::Buy, dec!(0.001))).unwrap().venue_id, "2");
}

/// BTC bars closing at 1 s, 2 s, 3 s, 4 s.
fn replay() -> ReplayPrices {
    let bars = vec![
        (Timestamp(1_000), Price(dec!(50000))),
        (Timestamp(2_000), Price(dec!(49000))),
        (Timestamp(3_000), Price(dec!(47000))),
        (Timestamp(4_000), Price(dec!(52000))),
    ];
    ReplayPrices::new([(btc(), bars)].into(), usdt())
}

#[test]
fn limit_orders_rest_lock_funds_and_fill_when_the_price_crosses() {
    let clock = Arc::new(ManualClock::new(Timestamp(1_000)));
    let venue = PaperExchange::in_memory(config(dec!(10), dec!(5)), Arc::new(replay()), clock.clone()).unwrap();
    venue.deposit(&usdt(), Qty(dec!(10000))).unwrap();
    venue.deposit(&btc(), Qty(dec!(1))).unwrap();

    let buy = venue.place(&limit("lb", Side::Buy, dec!(0.1), dec!(48000))).unwrap();
    assert_eq!((buy.status, buy.filled, buy.fills.len()), (OrderStatus::New, Qty(dec!(0)), 0));
    let sell = venue.place(&limit("ls", Side::Sell, dec!(0.2), dec!(51000))).unwrap();
    assert_eq!(sell.status, OrderStatus::New);
    // Buy locks 0.1 * 48000 * 1.001 = 4804.8 USDT; sell locks 0.2 BTC.
    assert_eq!(bal(&venue, &usdt()), free_locked(dec!(5195.2), dec!(4804.8)));
    assert_eq!(bal(&venue, &btc()), free_locked(dec!(0.8), dec!(0.2)));
    assert_eq!(venue.open_orders(&btc(), &usdt()).unwrap().len(), 2);
    assert!(venue.open_orders(&a("ETH"), &usdt()).unwrap().is_empty());

    // 49000: neither crosses.
    clock.advance(Span::from_secs(1));
    assert!(venue.match_resting().unwrap().is_empty());
    // 2.5 s: still the 49000 bar that closed at 2 s.
    clock.set(Timestamp(2_500));
    assert!(venue.match_resting().unwrap().is_empty());

    // 47000 <= 48000: the buy fills at its limit (maker), not at 47000, fee in USDT.
    clock.set(Timestamp(3_000));
    let filled = venue.match_resting().unwrap();
    assert_eq!(filled.len(), 1);
    let r = &filled[0];
    assert_eq!((r.client_id.as_str(), r.status, r.filled), ("lb", OrderStatus::Filled, Qty(dec!(0.1))));
    assert_eq!(
        (r.fills[0].price, r.fills[0].fee, r.fills[0].time),
        (Price(dec!(48000)), Qty(dec!(4.8)), Timestamp(3_000))
    );
    assert_eq!(bal(&venue, &usdt()), free_locked(dec!(5195.2), dec!(0)));
    assert_eq!(bal(&venue, &btc()), free_locked(dec!(0.9), dec!(0.2)));

    // 52000 >= 51000: the sell fills, seen by a plain query (every call matches first).
    clock.set(Timestamp(4_000));
    let r = venue.query(&id("ls"), &btc(), &usdt()).unwrap().unwrap();
    assert_eq!(r.status, OrderStatus::Filled);
    assert_eq!((r.fills[0].price, r.fills[0].fee), (Price(dec!(51000)), Qty(dec!(10.2))));
    // 0.2 * 51000 = 10200 - 10.2 fee.
    assert_eq!(bal(&venue, &usdt()), free_locked(dec!(5195.2) + dec!(10189.8), dec!(0)));
    // 1 + 0.1 bought - 0.2 sold.
    assert_eq!(bal(&venue, &btc()), free_locked(dec!(0.9), dec!(0)));
    assert!(venue.open_orders(&btc(), &usdt()).unwrap().is_empty());
    assert!(venue.match_resting().unwrap().is_empty());
    // Trade ids are per venue and sequential.
    assert_eq!(r.fills[0].trade_id, "2");
}

#[test]
fn a_marketable_limit_fills_at_once_never_worse_than_its_limit() {
    let (venue, _) = fixed_venue(dec!(10), dec!(10), dec!(50000));
    venue.deposit(&usdt(), Qty(dec!(20000))).unwrap();
    // Slipped 50050, capped at the limit 50020.
    let r = venue.place(&limit("m1", Side::Buy, dec!(0.1), dec!(50020))).unwrap();
    assert_eq!((r.status, r.fills[0].price), (OrderStatus::Filled, Price(dec!(50020))));
    // Far above: the slipped price.
    let r = venue.place(&limit("m2", Side::Buy, dec!(0.1), dec!(60000))).unwrap();
    assert_eq!(r.fills[0].price, Price(dec!(50050)));
    // Sell at or below the price: slipped 49950, capped at 49980.
    let r = venue.place(&limit("m3", Side::Sell, dec!(0.1), dec!(49980))).unwrap();
    assert_eq!(r.fills[0].price, Price(dec!(49980)));
    assert_eq!(bal(&venue, &usdt()).locked, Qty(dec!(0)));
}

#[test]
fn cancel_releases_locked_funds_and_refuses_final_orders() {
    let (venue, prices) = fixed_venue(dec!(10), dec!(0), dec!(50000));
    venue.deposit(&usdt(), Qty(dec!(1000))).unwrap();
    venue.deposit(&btc(), Qty(dec!(0.5))).unwrap();
    venue.place(&limit("c1", Side::Buy, dec!(0.01), dec!(40000))).unwrap();
    venue.place(&limit("c2", Side::Sell, dec!(0.3), dec!(60000))).unwrap();
    assert_eq!(bal(&venue, &usdt()), free_locked(dec!(599.6), dec!(400.4)));
    assert_eq!(bal(&venue, &btc()), free_locked(dec!(0.2), dec!(0.3)));
    // Locked funds cannot be withdrawn.
    rejected_with(venue.withdraw(&btc(), Qty(dec!(0.3))).unwrap_err(), "insufficient balance");

    let r = venue.cancel(&id("c1"), &btc(), &usdt()).unwrap();
    assert_eq!((r.status, r.filled), (OrderStatus::Canceled, Qty(dec!(0))));
    assert_eq!(bal(&venue, &usdt()), free_locked(dec!(1000), dec!(0)));
    let r = venue.cancel(&id("c2"), &btc(), &usdt()).unwrap();
    assert_eq!(r.status, OrderStatus::Canceled);
    assert_eq!(bal(&venue, &btc()), free_locked(dec!(0.5), dec!(0)));
    assert!(venue.open_orders(&btc(), &usdt()).unwrap().is_empty());

    // Cancelled again, or filled: Rejected. Unknown or on another symbol: NotFound.
    rejected_with(venue.cancel(&id("c1"), &btc(), &usdt()).unwrap_err(), "order c1 is canceled");
    venue.place(&market("c3", Side::Buy, dec!(0.001))).unwrap();
    rejected_with(venue.cancel(&id("c3"), &btc(), &usdt()).unwrap_err(), "order c3 is filled");
    assert!(matches!(venue.cancel(&id("nope"), &btc(), &usdt()), Err(ExchangeError::NotFound(_))));
    assert!(matches!(venue.cancel(&id("c3"), &a("ETH"), &usdt()), Err(ExchangeError::NotFound(_))));
    // A cancelled order stays cancelled when the price later crosses it.
    prices.set(&btc(), &usdt(), Price(dec!(30000)));
    assert!(venue.match_resting().unwrap().is_empty());
    assert_eq!(venue.query(&id("c1"), &btc(), &usdt()).unwrap().unwrap().status, OrderStatus::Canceled);
}

#[test]
fn state_survives_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("paper.sqlite");
    let prices = Arc::new(FixedPrices::new());
    prices.set(&btc(), &usdt(), Price(dec!(50000)));
    let clock = Arc::new(ManualClock::new(Timestamp(1_000)));
    let open = || PaperExchange::open(&path, config(dec!(10), dec!(0)), prices.clone(), clock.clone()).unwrap();

    let (balances, bought, resting) = {
        let venue = open();
        venue.deposit(&usdt(), Qty(dec!(10000))).unwrap();
        let bought = venue.place(&market("p1", Side::Buy, dec!(0.1))).unwrap();
        let resting = venue.place(&limit("p2", Side::Buy, dec!(0.05), dec!(45000))).unwrap();
        (venue.balances().unwrap(), bought, resting)
    };

    let venue = open();
    assert_eq!(venue.balances().unwrap(), balances);
    assert_eq!(venue.query(&id("p1"), &btc(), &usdt()).unwrap(), Some(bought));
    assert_eq!(venue.open_orders(&btc(), &usdt()).unwrap(), vec![resting]);
    // Counters and idempotency carry over.
    assert!(matches!(venue.place(&market("p1", Side::Buy, dec!(0.1))), Err(ExchangeError::Duplicate(_))));
    let next = venue.place(&market("p3", Side::Sell, dec!(0.1))).unwrap();
    assert_eq!((next.venue_id.as_str(), next.fills[0].trade_id.as_str()), ("3", "2"));
    // The resting order still fills after the restart, once the price trades through
    // it (at its limit it only touches: the order may be behind others).
    prices.set(&btc(), &usdt(), Price(dec!(45000)));
    assert!(venue.match_resting().unwrap().is_empty());
    prices.set(&btc(), &usdt(), Price(dec!(44999.99)));
    let filled = venue.match_resting().unwrap();
    assert_eq!(filled.len(), 1);
    assert_eq!(filled[0].fills[0].trade_id, "3");
    drop(venue);
    let venue = open();
    assert_eq!(venue.query(&id("p2"), &btc(), &usdt()).unwrap().unwrap().status, OrderStatus::Filled);
    assert_eq!(bal(&venue, &usdt()).locked, Qty(dec!(0)));
    drop(venue);
    // Its own file, in WAL mode.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn a_dropped_reply_still_executes_and_query_finds_the_fill() {
    let (venue, _) = fixed_venue(dec!(10), dec!(0), dec!(50000));
    venue.deposit(&usdt(), Qty(dec!(2000))).unwrap();
    venue.set_faults(Faults { drop_reply_after_execution: true, ..Faults::default() });
    let order = market("f1", Side::Buy, dec!(0.01));
    assert!(matches!(venue.place(&order), Err(ExchangeError::OutcomeUnknown(_))));
    // The caller queries instead of resending: the order is there, filled.
    let r: OrderReport = venue.query(&id("f1"), &btc(), &usdt()).unwrap().unwrap();
    assert_eq!((r.status, r.filled, r.fills.len()), (OrderStatus::Filled, Qty(dec!(0.01)), 1));
    assert_eq!(bal(&venue, &usdt()).free, Qty(dec!(2000) - dec!(500) - dec!(0.5)));
    // A blind resend would not trade twice either.
    assert!(matches!(venue.place(&order), Err(ExchangeError::Duplicate(_))));
    assert_eq!(bal(&venue, &btc()).free, Qty(dec!(0.01)));
    // One-shot: the next order gets its reply.
    assert_eq!(venue.place(&market("f2", Side::Buy, dec!(0.01))).unwrap().status, OrderStatus::Filled);
}

#[test]
fn fail_before_execution_and_reject_next_execute_nothing() {
    let (venue, _) = fixed_venue(dec!(10), dec!(0), dec!(50000));
    venue.deposit(&usdt(), Qty(dec!(1000))).unwrap();
    let before = venue.balances().unwrap();

    venue.set_faults(Faults { fail_before_execution: true, ..Faults::default() });
    assert!(matches!(venue.place(&market("g1", Side::Buy, dec!(0.01))), Err(ExchangeError::Unavailable(_))));
    assert_eq!(venue.query(&id("g1"), &btc(), &usdt()).unwrap(), None);

    venue.set_faults(Faults { reject_next: Some("maintenance".into()), ..Faults::default() });
    assert_eq!(venue.place(&market("g2", Side::Buy, dec!(0.01))), Err(ExchangeError::Rejected("maintenance".into())));
    assert_eq!(venue.query(&id("g2"), &btc(), &usdt()).unwrap(), None);

    // A refusal whose reply is lost: OutcomeUnknown, and the query says it never happened.
    venue.set_faults(Faults {
        reject_next: Some("maintenance".into()),
        drop_reply_after_execution: true,
        ..Faults::default()
    });
    assert!(matches!(venue.place(&market("g3", Side::Buy, dec!(0.01))), Err(ExchangeError::OutcomeUnknown(_))));
    assert_eq!(venue.query(&id("g3"), &btc(), &usdt()).unwrap(), None);
    assert_eq!(venue.balances().unwrap(), before);

    // Faults are consumed: the same ids now go through.
    assert_eq!(venue.place(&market("g1", Side::Buy, dec!(0.01))).unwrap().status, OrderStatus::Filled);
}

#[test]
fn query_of_an_unknown_id_is_none() {
    let (venue, _) = fixed_venue(dec!(10), dec!(0), dec!(50000));
    assert_eq!(venue.query(&id("never"), &btc(), &usdt()).unwrap(), None);
    venue.deposit(&usdt(), Qty(dec!(1000))).unwrap();
    venue.place(&market("q1", Side::Buy, dec!(0.001))).unwrap();
    // Known id, other symbol: not this symbol's order.
    assert_eq!(venue.query(&id("q1"), &a("ETH"), &usdt()).unwrap(), None);
}

#[test]
fn replay_prices_take_the_last_closed_bar() {
    let mut series = BTreeMap::new();
    // Unsorted on purpose.
    series.insert(btc(), vec![(Timestamp(2_000), Price(dec!(2))), (Timestamp(1_000), Price(dec!(1)))]);
    let p = ReplayPrices::new(series, usdt());
    assert_eq!(p.price(&btc(), &usdt(), Timestamp(999)), None);
    assert_eq!(p.price(&btc(), &usdt(), Timestamp(1_000)), Some(Price(dec!(1))));
    assert_eq!(p.price(&btc(), &usdt(), Timestamp(1_999)), Some(Price(dec!(1))));
    assert_eq!(p.price(&btc(), &usdt(), Timestamp(2_000)), Some(Price(dec!(2))));
    assert_eq!(p.price(&btc(), &usdt(), Timestamp(i64::MAX)), Some(Price(dec!(2))));
    assert_eq!(p.price(&a("ETH"), &usdt(), Timestamp(2_000)), None);
    assert_eq!(p.price(&btc(), &a("EUR"), Timestamp(2_000)), None);
    assert_eq!(p.close_times(), vec![Timestamp(1_000), Timestamp(2_000)]);
}

#[test]
fn prices_balances_and_funding() {
    let (venue, prices) = fixed_venue(dec!(10), dec!(0), dec!(50000));
    let eth = a("ETH");
    let got = venue.prices(&[btc(), eth.clone(), usdt()], &usdt()).unwrap();
    assert_eq!(got, [(btc(), Price(dec!(50000)))].into());
    prices.set(&eth, &usdt(), Price(dec!(3000)));
    assert_eq!(venue.prices(&[btc(), eth.clone()], &usdt()).unwrap().len(), 2);

    assert!(venue.balances().unwrap().is_empty());
    venue.deposit(&usdt(), Qty(dec!(100))).unwrap();
    rejected_with(venue.withdraw(&usdt(), Qty(dec!(100.01))).unwrap_err(), "insufficient balance");
    rejected_with(venue.deposit(&usdt(), Qty(dec!(0))).unwrap_err(), "deposit");
    rejected_with(venue.withdraw(&usdt(), Qty(dec!(-1))).unwrap_err(), "withdrawal");
    venue.withdraw(&usdt(), Qty(dec!(40))).unwrap();
    assert_eq!(bal(&venue, &usdt()), free_locked(dec!(60), dec!(0)));
    venue.withdraw(&usdt(), Qty(dec!(60))).unwrap();
    // Zero balances are not listed.
    assert!(venue.balances().unwrap().is_empty());
    assert_eq!(venue.name(), "paper");
}

#[test]
fn invalid_config_is_refused() {
    let prices: Arc<dyn PriceSource> = Arc::new(FixedPrices::new());
    let clock = Arc::new(ManualClock::new(Timestamp(0)));
    for cfg in [config(dec!(-1), dec!(0)), config(dec!(10), dec!(1001))] {
        let e = PaperExchange::in_memory(cfg, prices.clone(), clock.clone()).unwrap_err();
        assert!(matches!(e, ExchangeError::Rejected(_)), "{e:?}");
    }
    let mut bad_rules = config(dec!(10), dec!(0));
    bad_rules.rules.default.step = dec!(-1);
    assert!(PaperExchange::in_memory(bad_rules, prices, clock).is_err());
}

#[test]
fn fees_may_be_rounded_to_the_venues_precision() {
    // 0.00013 BTC at 40,000.01: a notional of 5.2000013, a 10 bps fee of 0.0052000013.
    for (decimals, fee) in [(None, dec!(0.0052000013)), (Some(8), dec!(0.0052))] {
        let prices = Arc::new(FixedPrices::new());
        prices.set(&btc(), &usdt(), Price(dec!(40000.01)));
        let clock = Arc::new(ManualClock::new(Timestamp(1_000)));
        let mut venue = PaperExchange::in_memory(config(dec!(10), Decimal::ZERO), prices, clock).unwrap();
        if let Some(dp) = decimals {
            venue = venue.with_fee_decimals(dp);
        }
        venue.deposit(&usdt(), Qty(dec!(100))).unwrap();
        let r = venue.place(&market("f1", Side::Buy, dec!(0.00013))).unwrap();
        assert_eq!(r.fills[0].fee.0.normalize(), fee.normalize(), "{decimals:?}");
        let left = venue.balances().unwrap()[&usdt()].free.0;
        assert_eq!(left, dec!(100) - dec!(5.2000013) - fee, "{decimals:?}");
    }
}

fn post_only(cid: &str, side: Side, qty: Decimal, price: Decimal) -> OrderRequest {
    OrderRequest { kind: OrderKind::PostOnly { price: Price(price) }, ..limit(cid, side, qty, price) }
}

#[test]
fn post_only_orders_rest_at_the_touch_refuse_to_take_and_fill_when_traded_through() {
    let prices = Arc::new(FixedPrices::new());
    prices.set(&btc(), &usdt(), Price(dec!(50000)));
    let clock = Arc::new(ManualClock::new(Timestamp(1_000)));
    // A 10 bps spread: 25 either side of 50000.
    let venue = PaperExchange::in_memory(config(dec!(10), dec!(0)), prices.clone(), clock.clone())
        .unwrap()
        .with_spread_bps(dec!(10));
    venue.deposit(&usdt(), Qty(dec!(10000))).unwrap();
    venue.deposit(&btc(), Qty(dec!(1))).unwrap();
    let touch = venue.best_bid_ask(&btc(), &usdt()).unwrap();
    assert_eq!((touch.bid, touch.ask), (Price(dec!(49975)), Price(dec!(50025))));
    // Crossing the book is refused and places nothing (the id stays free).
    for (side, price) in [(Side::Buy, dec!(50025)), (Side::Sell, dec!(49975))] {
        let e = venue.place(&post_only("x", side, dec!(0.01), price)).unwrap_err();
        assert!(matches!(&e, ExchangeError::Rejected(m) if m.contains("would immediately match and take")), "{e}");
    }
    assert!(venue.open_orders(&btc(), &usdt()).unwrap().is_empty());
    // At the touch, or inside the spread, it rests.
    let b = venue.place(&post_only("x", Side::Buy, dec!(0.1), dec!(49975))).unwrap();
    assert_eq!(b.status, OrderStatus::New);
    let inside = venue.place(&post_only("y", Side::Buy, dec!(0.01), dec!(49990))).unwrap();
    assert_eq!(inside.status, OrderStatus::New);
    let s = venue.place(&post_only("z", Side::Sell, dec!(0.1), dec!(50025))).unwrap();
    assert_eq!(s.status, OrderStatus::New);
    // The price touches the bid: nothing; it trades through: the buy fills at its
    // limit as a maker, and so does the one inside the spread.
    prices.set(&btc(), &usdt(), Price(dec!(49975)));
    let filled = venue.match_resting().unwrap();
    assert_eq!(filled.iter().map(|r| r.client_id.as_str()).collect::<Vec<_>>(), vec!["y"]);
    prices.set(&btc(), &usdt(), Price(dec!(49974.99)));
    let filled = venue.match_resting().unwrap();
    assert_eq!(filled.len(), 1);
    assert_eq!(filled[0].fills[0].price, Price(dec!(49975)));
    assert_eq!(venue.query(&id("z"), &btc(), &usdt()).unwrap().unwrap().status, OrderStatus::New);
    // A cancel of the resting sell releases its base.
    let c = venue.cancel(&id("z"), &btc(), &usdt()).unwrap();
    assert_eq!(c.status, OrderStatus::Canceled);
    assert_eq!(bal(&venue, &btc()).locked, Qty(dec!(0)));
}

#[test]
fn resting_partial_fills_take_half_then_the_rest() {
    let prices = Arc::new(FixedPrices::new());
    prices.set(&btc(), &usdt(), Price(dec!(50000)));
    let clock = Arc::new(ManualClock::new(Timestamp(1_000)));
    let venue = PaperExchange::in_memory(config(dec!(10), dec!(0)), prices.clone(), clock.clone())
        .unwrap()
        .with_resting_partial_fills();
    venue.deposit(&usdt(), Qty(dec!(10000))).unwrap();
    venue.place(&post_only("h", Side::Buy, dec!(0.1), dec!(49000))).unwrap();
    prices.set(&btc(), &usdt(), Price(dec!(48000)));
    let first = venue.match_resting().unwrap();
    assert_eq!((first[0].status, first[0].filled), (OrderStatus::PartiallyFilled, Qty(dec!(0.05))));
    // The rest waits a second (a later bar).
    assert_eq!(bal(&venue, &usdt()).locked, Qty(dec!(2452.45)), "0.05 * 49000 * 1.001 still held");
    assert!(venue.match_resting().unwrap().is_empty());
    clock.advance(Span::from_secs(1));
    let second = venue.match_resting().unwrap();
    assert_eq!((second[0].status, second[0].filled, second[0].fills.len()), (OrderStatus::Filled, Qty(dec!(0.1)), 2));
    assert_eq!(bal(&venue, &usdt()), free_locked(dec!(5095.1), dec!(0)));
    assert_eq!(bal(&venue, &btc()).free, Qty(dec!(0.1)));
}

/// With replayed prices the venue matches its resting orders once per time and state
/// of its book; an order that another process (another connection to the same file)
/// or this one placed since is still matched at the same time.
#[test]
fn replayed_prices_match_new_resting_orders_at_the_same_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("paper.sqlite");
    let series = BTreeMap::from([(btc(), vec![(Timestamp(1_000), Price(dec!(50000)))])]);
    let prices: Arc<dyn PriceSource> = Arc::new(ReplayPrices::new(series, usdt()));
    assert!(prices.fixed_in_time());
    let clock = Arc::new(ManualClock::new(Timestamp(2_000)));
    let open = || {
        PaperExchange::open(&path, config(dec!(10), dec!(0)), prices.clone(), clock.clone())
            .unwrap()
            .with_spread_bps(dec!(10))
    };
    let (a, b) = (open(), open());
    a.deposit(&usdt(), Qty(dec!(10000))).unwrap();
    assert!(a.match_resting().unwrap().is_empty());
    // Inside the spread, above the last price: it rests when placed, and the last price
    // (50,000) is through it, so the next match fills it, at the same time.
    let placed = b.place(&post_only("other", Side::Buy, dec!(0.01), dec!(50010))).unwrap();
    assert_eq!(placed.status, OrderStatus::New);
    let filled = a.match_resting().unwrap();
    assert_eq!(filled.iter().map(|r| r.client_id.as_str()).collect::<Vec<_>>(), vec!["other"]);
    // Placed through this connection: matched too.
    a.place(&post_only("mine", Side::Buy, dec!(0.01), dec!(50010))).unwrap();
    let report = a.query(&id("mine"), &btc(), &usdt()).unwrap().unwrap();
    assert_eq!(report.status, OrderStatus::Filled);
    // Nothing new: nothing to match, and the book is unchanged.
    assert!(a.match_resting().unwrap().is_empty());
    assert!(b.open_orders(&btc(), &usdt()).unwrap().is_empty());
}

/// With a fee discount (Binance's BNB at 0.75), a fill pays `fee * 0.75` of BNB at
/// BNB's price when the account's free BNB covers it, else the full fee in the quote;
/// the rates the venue reports are the discounted ones, with the asset.
#[test]
fn fees_are_paid_in_the_discount_asset_when_it_covers_them() {
    let (venue, prices) = fixed_venue(dec!(10), dec!(0), dec!(40000));
    let venue = venue.with_fee_discount(ballast_exchange::paper::FeeDiscount::binance_bnb());
    prices.set(&a("BNB"), &usdt(), Price(dec!(300)));
    venue.deposit(&usdt(), Qty(dec!(10000))).unwrap();
    // No BNB: the discount is not in effect; the fee is charged in the quote.
    let rates = venue.fee_rates(&btc(), &usdt()).unwrap();
    assert_eq!((rates.taker, rates.discount_asset), (dec!(0.001), None));
    let r = venue.place(&market("f1", Side::Buy, dec!(0.1))).unwrap();
    assert_eq!((r.fills[0].fee.0, &r.fills[0].fee_asset), (dec!(4), &usdt()));
    // 0.01 BNB held (3 USDT): a 4 USDT fee at 0.75 is 3 USDT = 0.01 BNB, covered.
    venue.deposit(&a("BNB"), Qty(dec!(0.01))).unwrap();
    let rates = venue.fee_rates(&btc(), &usdt()).unwrap();
    assert_eq!((rates.maker, rates.taker, rates.discount_asset), (dec!(0.00075), dec!(0.00075), Some(a("BNB"))));
    let r = venue.place(&market("f2", Side::Buy, dec!(0.1))).unwrap();
    assert_eq!((r.fills[0].fee.0.normalize(), &r.fills[0].fee_asset), (dec!(0.01), &a("BNB")));
    let v = venue.balances().unwrap();
    assert_eq!(v[&usdt()].free.0, dec!(10000) - dec!(4004) - dec!(4000), "the quote paid no fee");
    assert!(v.get(&a("BNB")).is_none_or(|b| b.total().is_zero()), "{v:?}");
    // Nothing left to pay with: back to the quote (a sell receives notional - fee).
    let r = venue.place(&market("f3", Side::Sell, dec!(0.1))).unwrap();
    assert_eq!((r.fills[0].fee.0, &r.fills[0].fee_asset), (dec!(4), &usdt()));
    // A resting order's maker fill pays in BNB too.
    venue.deposit(&a("BNB"), Qty(dec!(1))).unwrap();
    let r = venue.place(&limit("f4", Side::Buy, dec!(0.1), dec!(39000))).unwrap();
    assert_eq!(r.status, OrderStatus::New);
    prices.set(&btc(), &usdt(), Price(dec!(38000)));
    let filled = venue.match_resting().unwrap();
    assert_eq!(filled.len(), 1);
    // 3,900 USDT at 10 bps = 3.9, at 0.75 = 2.925 USDT = 0.00975 BNB.
    assert_eq!((filled[0].fills[0].fee.0.normalize(), &filled[0].fills[0].fee_asset), (dec!(0.00975), &a("BNB")));
}

/// A market buy whose fee the discount asset pays needs only its notional of the
/// quote; without enough of the asset it needs the fee in the quote too.
#[test]
fn a_buy_whose_fee_bnb_pays_needs_only_its_notional() {
    let (venue, prices) = fixed_venue(dec!(10), dec!(0), dec!(40000));
    let venue = venue.with_fee_discount(ballast_exchange::paper::FeeDiscount::binance_bnb());
    prices.set(&a("BNB"), &usdt(), Price(dec!(300)));
    venue.deposit(&usdt(), Qty(dec!(4000))).unwrap();
    // 0.1 BTC = 4,000 USDT: with a 4 USDT fee in the quote, refused.
    let e = venue.place(&market("n1", Side::Buy, dec!(0.1))).unwrap_err();
    assert!(matches!(e, ExchangeError::Rejected(_)), "{e}");
    venue.deposit(&a("BNB"), Qty(dec!(0.01))).unwrap();
    let r = venue.place(&market("n2", Side::Buy, dec!(0.1))).unwrap();
    assert_eq!((r.fills[0].fee.0.normalize(), &r.fills[0].fee_asset), (dec!(0.01), &a("BNB")));
    assert!(venue.balances().unwrap().get(&usdt()).is_none_or(|b| b.total().is_zero()));
}

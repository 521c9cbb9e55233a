//! Maker-first execution end to end through the Binance and the Gate adapters, over
//! loopback HTTP, against `ballast-sim` (its synthetic book: bid < last < ask): legs
//! rest as `LIMIT_MAKER` / `poc` orders at the touch, fill only when the replayed
//! price trades through them, are filled in part, re-priced under new deterministic
//! ids and finished at market after the deadline; at the end nothing is open, every
//! fill is recorded once and the ledger equals the venue.

mod common;

use std::collections::BTreeMap;

use ballast_backtest::Interval;
use ballast_core::execution::OrderStyle;
use ballast_core::planner::Side;
use ballast_core::{Asset, Price, Qty, Span, Timestamp};
use ballast_engine::BotState;
use ballast_exchange::{ClientOrderId, Exchange, ExchangeError, OrderKind, OrderRequest, OrderTag};
use ballast_store::{OrderState, Store};
use common::live::{Live, live};
use common::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

fn state(l: &Live, bot: i64) -> BotState {
    serde_json::from_str(&l.store.load_state(bot).unwrap().unwrap()).unwrap()
}

/// Replays the first quarter of 2024 with a maker-first bot (re-priced at every 4h
/// bar, market after three), filling half of every resting order at every seventh
/// bar, then steps on at the last prices until the work is done.
fn run_maker(dialect: &str) {
    let w = world("2024-01-01", "2024-03-31");
    let l = live(&w, dialect);
    let mut s = spec(dec!(3), Default::default());
    s.execution.style = OrderStyle::MakerFirst { reprice: Span::hours(4), deadline: Span::hours(12) };
    let bot = l.engine.create("maker", s, "", dec!(1000)).unwrap();
    let paper = l.sim.exchange();
    let mut parts = 0;
    for (i, t) in w.data.times[w.first..].iter().enumerate() {
        l.clock.set(Timestamp(t.0 + Interval::H4.millis()));
        paper.match_resting().unwrap();
        if i % 7 == 3 {
            for a in assets() {
                for o in paper.open_orders(&a, &usdt()).unwrap() {
                    let step = rules().get(&a).step;
                    let half = ((o.qty.0 - o.filled.0) / dec!(2) / step).floor() * step;
                    if half > Decimal::ZERO {
                        paper.fill_part(&o.client_id, &a, &usdt(), Qty(half)).unwrap();
                        parts += 1;
                    }
                }
            }
        }
        for (id, r) in l.engine.step_all().unwrap() {
            r.unwrap_or_else(|e| panic!("bot {id} at {}: {e}", t.0));
        }
    }
    for _ in 0..6 {
        if state(&l, bot).working.is_none() {
            break;
        }
        l.clock.advance(Span::hours(4));
        l.engine.step(bot).unwrap();
    }
    assert!(state(&l, bot).working.is_none(), "the last rebalance finished");
    assert!(l.store.unresolved(bot).unwrap().is_empty(), "nothing open");
    let orders = l.store.orders(bot, 100_000).unwrap();
    let fills = l.store.fills(bot).unwrap();
    let kind: BTreeMap<String, OrderKind> =
        orders.iter().map(|o| (o.intent.client_id.to_string(), o.intent.kind)).collect();
    let maker_fills = fills.iter().filter(|f| matches!(kind[f.client_id.as_str()], OrderKind::PostOnly { .. })).count();
    let taker_fills = fills.len() - maker_fills;
    // Attempt n > 0 of a leg ends in `-{leg}r{n}`.
    let repriced = orders
        .iter()
        .filter(|o| o.intent.client_id.as_str().rsplit('-').next().is_some_and(|l| l.contains('r')))
        .count();
    let part_then_cancelled = orders.iter().filter(|o| o.state == OrderState::Canceled && !o.filled.is_zero()).count();
    eprintln!(
        "{dialect}: {} orders ({repriced} re-priced attempts, {part_then_cancelled} cancelled after a partial fill), \
         {} fills ({maker_fills} maker, {taker_fills} taker), {parts} partial fills injected",
        orders.len(),
        fills.len()
    );
    assert!(maker_fills > 0 && taker_fills > 0 && repriced > 0 && part_then_cancelled > 0);
    // A maker fill is at its order's limit: the touch when it was placed.
    for f in &fills {
        if let OrderKind::PostOnly { price } = kind[f.client_id.as_str()] {
            assert_eq!(f.fill.price, price, "{}", f.client_id);
        }
    }
    // Every fill once; every order the venue has is one of the bot's intents, and
    // what the venue says it filled is what the store recorded.
    let mut keys: Vec<_> = fills.iter().map(|f| (f.client_id.to_string(), f.fill.trade_id.clone())).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), fills.len());
    for o in &orders {
        let at_venue = l.venue.query_order(&request(&o.intent)).unwrap();
        match o.state {
            OrderState::NotSent | OrderState::Rejected => assert!(
                at_venue.as_ref().is_none_or(|r| r.filled.is_zero()),
                "{}: refused yet at the venue",
                o.intent.client_id
            ),
            _ => {
                let r = at_venue.unwrap_or_else(|| panic!("{} unknown to the venue", o.intent.client_id));
                assert!(r.status.is_final());
                assert_eq!(r.filled.0.normalize(), o.filled.0.normalize(), "{}", o.intent.client_id);
            }
        }
    }
    assert_ledger_matches(&l.engine, &*l.venue, bot);
}

fn request(i: &ballast_store::Intent) -> OrderRequest {
    OrderRequest {
        client_id: i.client_id.clone(),
        base: i.base.clone(),
        quote: i.quote.clone(),
        side: i.side,
        qty: i.qty,
        kind: i.kind,
        expires_at: i.expires_at,
    }
}

#[test]
fn a_maker_first_bot_through_the_binance_adapter() {
    run_maker("binance");
}

#[test]
fn a_maker_first_bot_through_the_gate_adapter() {
    run_maker("gate");
}

/// A post-only order that would take is refused by both dialects, and places nothing:
/// Binance -2010 "Order would immediately match and take.", Gate POC_FILL_IMMEDIATELY.
/// One at the touch rests, and a cancel ends it with nothing filled.
#[test]
fn post_only_orders_that_would_take_are_refused_and_at_the_touch_they_rest() {
    let w = world("2024-01-01", "2024-01-31");
    for dialect in ["binance", "gate"] {
        let l = live(&w, dialect);
        let btc = Asset::new("BTC").unwrap();
        let touch = l.venue.best_bid_ask(&btc, &usdt()).unwrap();
        // The account's commission, as the sim charges it (10 bps, maker and taker).
        let fees = l.venue.fee_rates(&btc, &usdt()).unwrap();
        assert_eq!((fees.maker, fees.taker), (dec!(0.001), dec!(0.001)), "{dialect}");
        assert!(touch.bid.0 < touch.ask.0, "{dialect}: {touch:?}");
        let tag = OrderTag::legacy();
        let order = |attempt: u32, side: Side, price: Price| OrderRequest {
            client_id: ClientOrderId::for_attempt(&tag, 1, 1, 0, attempt).unwrap(),
            base: btc.clone(),
            quote: usdt(),
            side,
            qty: Qty(dec!(0.001)),
            kind: OrderKind::PostOnly { price },
            expires_at: None,
        };
        let e = l.venue.place(&order(0, Side::Buy, touch.ask)).unwrap_err();
        assert!(matches!(&e, ExchangeError::Rejected(m) if m.contains("immediately")), "{dialect}: {e}");
        let e = l.venue.place(&order(1, Side::Sell, touch.bid)).unwrap_err();
        assert!(matches!(&e, ExchangeError::Rejected(_)), "{dialect}: {e}");
        let resting = l.venue.place(&order(2, Side::Buy, touch.bid)).unwrap();
        assert_eq!(resting.status, ballast_exchange::OrderStatus::New, "{dialect}");
        let q = l.venue.query_order(&order(2, Side::Buy, touch.bid)).unwrap().unwrap();
        assert_eq!((q.status, q.filled), (ballast_exchange::OrderStatus::New, Qty::ZERO), "{dialect}");
        let c = l.venue.cancel(&resting.client_id, &btc, &usdt()).unwrap();
        assert_eq!(c.status, ballast_exchange::OrderStatus::Canceled, "{dialect}");
        assert!(l.venue.open_orders(&btc, &usdt()).unwrap().is_empty(), "{dialect}");
        let _ = &l.clock;
    }
}

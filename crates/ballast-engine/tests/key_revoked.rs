//! A venue that refuses the API key (revoked, IP not allowed, permission removed):
//! the bot is paused with the reason and a `key_revoked` event, never retried in a
//! loop, and resumes cleanly once the user fixes the key.

mod common;
use common::*;

use std::sync::Arc;

use ballast_core::{Price, Qty, Timestamp};
use ballast_engine::{Engine, EngineError, StepOutcome};
use ballast_exchange::paper::{PaperConfig, PaperExchange};
use ballast_exchange::{ClientOrderId, Clock, Exchange, ExchangeError, ManualClock};
use ballast_store::sqlite::SqliteStore;
use ballast_store::{BotStatus, Intent, OrderState, Store};
use rust_decimal_macros::dec;

/// What Binance answers for a revoked key (-2015).
const REFUSED: &str = "Invalid API-key, IP, or permissions for action (-2015)";

struct Rig {
    venue: Arc<PaperExchange>,
    store: Arc<SqliteStore>,
    engine: Engine,
    bot: i64,
}

fn rig() -> Rig {
    let clock = Arc::new(ManualClock::new(Timestamp(1_700_000_000_000)));
    let prices = btc_eth_prices();
    let paper = PaperExchange::in_memory(PaperConfig::default(), prices, clock.clone() as Arc<dyn Clock>).unwrap();
    paper.deposit(&a("USDT"), Qty(dec!(1000))).unwrap();
    let venue = Arc::new(paper);
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let engine = Engine::new(store.clone(), venue.clone(), clock);
    let spec = equal_spec(&["BTC", "ETH"], dec!(3), Default::default());
    let bot = engine.create("keyed", spec, "", dec!(1000)).unwrap();
    Rig { venue, store, engine, bot }
}

fn kinds(store: &dyn Store, bot: i64) -> Vec<String> {
    let mut k: Vec<String> = store.events(bot, 100).unwrap().into_iter().map(|e| e.kind).collect();
    k.reverse();
    k
}

fn is_auth(e: &EngineError) -> bool {
    matches!(e, EngineError::Exchange(ExchangeError::Auth(_)))
}

#[test]
fn a_refused_key_when_placing_pauses_the_bot_with_the_reason() {
    let r = rig();
    r.venue.set_key_refused(Some(REFUSED));
    // The first buy is due; the first order is refused.
    let err = r.engine.step(r.bot).unwrap_err();
    assert!(is_auth(&err), "{err}");
    let rec = r.store.bot(r.bot).unwrap().unwrap();
    assert_eq!(rec.status, BotStatus::Paused);
    assert!(rec.status_reason.starts_with("the venue refused the API key: Invalid API-key"), "{}", rec.status_reason);
    assert!(rec.status_reason.contains("resume"), "{}", rec.status_reason);
    let events = r.store.events(r.bot, 1).unwrap();
    assert_eq!(events[0].kind, "key_revoked");
    assert_eq!(events[0].message, rec.status_reason);
    assert_eq!(events[0].data["venue"], "paper");
    // Only the order tried was marked not sent; nothing executed at the venue.
    let orders = r.store.orders(r.bot, 10).unwrap();
    assert_eq!(orders.len(), 2);
    assert_eq!(orders.iter().filter(|o| o.state == OrderState::NotSent).count(), 1);
    assert_eq!(orders.iter().filter(|o| o.state == OrderState::Pending).count(), 1);
    // Looked at with the key accepted for a moment: no order, the account untouched.
    r.venue.set_key_refused(None);
    assert!(r.venue.open_orders(&a("BTC"), &a("USDT")).unwrap().is_empty());
    assert_eq!(r.venue.balances().unwrap()[&a("USDT")].free, Qty(dec!(1000)));
    r.venue.set_key_refused(Some(REFUSED));

    // Paused: later steps do not touch the venue, and no second event is recorded.
    assert_eq!(r.engine.step(r.bot).unwrap(), StepOutcome::Inactive);
    assert!(r.engine.step_all().unwrap().is_empty());
    assert_eq!(kinds(&*r.store, r.bot).iter().filter(|k| *k == "key_revoked").count(), 1);

    // The user fixes the key and resumes: the pending leg is resolved by query (never
    // seen, so not sent) and the next step buys afresh.
    r.venue.set_key_refused(None);
    r.engine.set_paused(r.bot, false).unwrap();
    assert!(matches!(r.engine.step(r.bot).unwrap(), StepOutcome::Held | StepOutcome::Rebalanced { .. }));
    assert!(r.store.unresolved(r.bot).unwrap().is_empty());
    assert_eq!(r.store.bot(r.bot).unwrap().unwrap().status, BotStatus::Active);
}

#[test]
fn a_refused_key_in_step_all_records_key_revoked_not_a_generic_error() {
    let r = rig();
    r.engine.step(r.bot).unwrap();
    r.venue.set_key_refused(Some(REFUSED));
    // Leave an intent unresolved (as after a crash), so the next step must query.
    let intent = Intent {
        bot: r.bot,
        client_id: ClientOrderId::for_leg(&ballast_exchange::OrderTag::legacy(), r.bot, 99, 0).unwrap(),
        seq: 99,
        leg: 0,
        base: a("BTC"),
        quote: a("USDT"),
        side: ballast_core::planner::Side::Buy,
        qty: Qty(dec!(0.001)),
        kind: ballast_exchange::OrderKind::Market,
        planned_price: Price(dec!(50000)),
        created_at: Timestamp(1_700_000_000_000),
        expires_at: None,
    };
    let ev = ballast_store::Event {
        bot: r.bot,
        time: intent.created_at,
        kind: "rebalance".into(),
        message: "crash test".into(),
        data: serde_json::json!({}),
    };
    let state = r.store.load_state(r.bot).unwrap().unwrap();
    r.store.begin_rebalance(std::slice::from_ref(&intent), &state, &ev).unwrap();
    let before = kinds(&*r.store, r.bot).len();

    let results = r.engine.step_all().unwrap();
    assert_eq!(results.len(), 1);
    let msg = results[0].1.as_ref().unwrap_err();
    assert!(msg.contains("authentication"), "{msg}");
    let after = kinds(&*r.store, r.bot);
    assert_eq!(&after[before..], ["key_revoked"], "one event, not key_revoked + error");
    assert_eq!(r.store.bot(r.bot).unwrap().unwrap().status, BotStatus::Paused);
    assert_eq!(r.store.unresolved(r.bot).unwrap().len(), 1, "left for a query after the resume");
}

#[test]
fn a_refused_key_when_reconciling_pauses_the_bot() {
    let r = rig();
    r.engine.step(r.bot).unwrap();
    r.venue.set_key_refused(Some(REFUSED));
    // Nothing to reconcile: the venue is not asked, nothing happens.
    assert_eq!(r.engine.reconcile(r.bot).unwrap(), 0);
    assert_eq!(r.store.bot(r.bot).unwrap().unwrap().status, BotStatus::Active);
    // An order to ask about: the refusal pauses the bot.
    let state = r.store.load_state(r.bot).unwrap().unwrap();
    let intent = Intent {
        bot: r.bot,
        client_id: ClientOrderId::for_leg(&ballast_exchange::OrderTag::legacy(), r.bot, 50, 0).unwrap(),
        seq: 50,
        leg: 0,
        base: a("ETH"),
        quote: a("USDT"),
        side: ballast_core::planner::Side::Buy,
        qty: Qty(dec!(0.01)),
        kind: ballast_exchange::OrderKind::Market,
        planned_price: Price(dec!(2500)),
        created_at: Timestamp(1_700_000_000_000),
        expires_at: None,
    };
    let ev = ballast_store::Event {
        bot: r.bot,
        time: intent.created_at,
        kind: "rebalance".into(),
        message: "crash test".into(),
        data: serde_json::json!({}),
    };
    r.store.begin_rebalance(std::slice::from_ref(&intent), &state, &ev).unwrap();
    let err = r.engine.reconcile(r.bot).unwrap_err();
    assert!(is_auth(&err), "{err}");
    let rec = r.store.bot(r.bot).unwrap().unwrap();
    assert_eq!(rec.status, BotStatus::Paused);
    assert!(rec.status_reason.starts_with("the venue refused the API key"), "{}", rec.status_reason);
    assert_eq!(kinds(&*r.store, r.bot).last().unwrap(), "key_revoked");
}

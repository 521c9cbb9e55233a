//! The contract every [`Store`] must meet, as functions over `&dyn Store` that panic
//! on a violation. A backend runs them all with [`crate::store_contract_tests!`]
//! (one `#[test]` per function, each on a fresh, empty store), plus
//! [`reopen_keeps_everything`] when it is durable.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;

use ballast_core::planner::Side;
use ballast_core::{Asset, Notional, Price, Qty, Timestamp};
use ballast_exchange::{ClientOrderId, Fill, OrderKind};
use rust_decimal::Decimal;

use crate::{
    BotId, BotStatus, CashFlow, Change, Event, Intent, NewBot, OrderFilter, OrderRow, OrderState, Snapshot, Store,
    StoreError,
};

/// Generates one `#[test]` per contract function. `$make` is a closure returning
/// `(S, G)`: a fresh, empty store `S: Store + 'static` and a guard `G` kept alive
/// until the store is dropped (a temporary directory, or `()`).
#[macro_export]
#[doc(hidden)]
macro_rules! store_contract_tests {
    (@each $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let (store, guard) = ($make)();
                $crate::sqlite::contract::$name(&store);
                drop(store);
                drop(guard);
            }
        )*
    };
    ($make:expr) => {
        $crate::store_contract_tests!(@each $make;
            bot_crud,
            bot_names_unique_among_live_bots,
            config_replacement,
            state_save_load,
            begin_rebalance_writes_everything,
            begin_rebalance_conflict_writes_nothing,
            order_state_transitions,
            unresolved_oldest_first,
            orders_newest_first,
            fills_idempotent,
            cash_flows_oldest_first,
            snapshots_newest_window_oldest_first,
            snapshots_range_thins_the_whole_range,
            counts_follow_every_write,
            snapshot_values_are_the_snapshots_figures,
            snapshots_in_one_bucket_keep_the_latest,
            orders_pages_filter_and_page_back,
            rebalance_history_pages,
            events_newest_first,
            events_after_in_recording_order,
            decimals_round_trip_exactly,
            unknown_bot,
            commit_creates_whole,
            commit_checks_the_version,
            commit_is_all_or_nothing,
            lock_bot_excludes,
            transition_table_is_enforced,
            an_overflowing_fill_is_refused_whole,
            order_tag_is_drawn_once,
            deadline_round_trips,
        );

        #[test]
        fn concurrent_writers() {
            let (store, guard) = ($make)();
            $crate::sqlite::contract::concurrent_writers(::std::sync::Arc::new(store));
            drop(guard);
        }
    };
}

// ---- builders -----------------------------------------------------------------------

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).expect("decimal")
}

fn asset(s: &str) -> Asset {
    Asset::new(s).expect("asset")
}

fn new_bot(store: &dyn Store, name: &str, at: i64) -> BotId {
    store
        .create_bot(&NewBot {
            name: name.into(),
            venue: "paper".into(),
            config_toml: format!("name = \"{name}\"\n"),
            created_at: Timestamp(at),
        })
        .expect("create bot")
}

fn intent(bot: BotId, seq: i64, leg: i64, at: i64) -> Intent {
    Intent {
        bot,
        client_id: ClientOrderId::for_leg(&ballast_exchange::OrderTag::legacy(), bot, seq, leg as usize).unwrap(),
        seq,
        leg,
        base: asset("BTC"),
        quote: asset("USDT"),
        side: if leg % 2 == 0 { Side::Sell } else { Side::Buy },
        qty: Qty(d("0.00384615")),
        kind: if leg % 2 == 0 { OrderKind::Market } else { OrderKind::Limit { price: Price(d("84500.01")) } },
        planned_price: Price(d("84500")),
        created_at: Timestamp(at),
        expires_at: None,
    }
}

fn event(bot: BotId, at: i64, kind: &str) -> Event {
    Event {
        bot,
        time: Timestamp(at),
        kind: kind.into(),
        message: format!("{kind} at {at}"),
        data: serde_json::json!({ "at": at, "legs": [1, 2], "note": "x" }),
    }
}

fn fill(trade_id: &str, qty: &str, at: i64) -> Fill {
    Fill {
        trade_id: trade_id.into(),
        qty: Qty(d(qty)),
        price: Price(d("84500.5")),
        fee: Qty(d("0.0000038")),
        fee_asset: asset("BNB"),
        time: Timestamp(at),
    }
}

fn snapshot(bot: BotId, at: i64) -> Snapshot {
    Snapshot {
        bot,
        time: Timestamp(at),
        value: Notional(d("1000.5")),
        holdings: BTreeMap::from([(asset("BTC"), Qty(d("0.01"))), (asset("USDT"), Qty(d("155.5")))]),
        prices: BTreeMap::from([(asset("BTC"), Price(d("84500")))]),
        net_invested: Notional(d("1000")),
        hodl_value: Notional(d("990.25")),
        fees_paid: Notional(d("1.2")),
    }
}

fn ids(rows: &[OrderRow]) -> Vec<String> {
    rows.iter().map(|r| r.intent.client_id.to_string()).collect()
}

// ---- the contract ---------------------------------------------------------------------

/// Creating, reading and listing bots; status and reason changes.
pub fn bot_crud(store: &dyn Store) {
    assert!(store.bots().unwrap().is_empty());
    let a = new_bot(store, "alpha", 1_000);
    let b = new_bot(store, "beta", 2_000);
    assert_ne!(a, b);
    let ra = store.bot(a).unwrap().expect("bot a");
    assert_eq!(ra.id, a);
    assert_eq!(ra.name, "alpha");
    assert_eq!(ra.venue, "paper");
    assert_eq!(ra.config_toml, "name = \"alpha\"\n");
    assert_eq!(ra.status, BotStatus::Active);
    assert_eq!(ra.status_reason, "");
    assert_eq!(ra.created_at, Timestamp(1_000));
    assert_eq!(ra.updated_at, Timestamp(1_000));
    assert_eq!(store.bots().unwrap().iter().map(|b| b.id).collect::<Vec<_>>(), vec![a, b], "oldest first");

    store.set_status(a, BotStatus::Paused, "paused by user", Timestamp(3_000)).unwrap();
    let ra = store.bot(a).unwrap().unwrap();
    assert_eq!(
        (ra.status, ra.status_reason.as_str(), ra.updated_at),
        (BotStatus::Paused, "paused by user", Timestamp(3_000))
    );
    assert_eq!(ra.created_at, Timestamp(1_000));
    store.set_status(a, BotStatus::Active, "resumed", Timestamp(4_000)).unwrap();
    assert_eq!(store.bot(a).unwrap().unwrap().status, BotStatus::Active);
    store.set_status(a, BotStatus::Stopped, "stop-loss at 800", Timestamp(5_000)).unwrap();
    let ra = store.bot(a).unwrap().unwrap();
    assert_eq!((ra.status, ra.status_reason.as_str()), (BotStatus::Stopped, "stop-loss at 800"));
    // Stopped -> stopped only updates the reason; a stopped bot never runs again.
    store.set_status(a, BotStatus::Stopped, "stopped by user", Timestamp(6_000)).unwrap();
    assert_eq!(store.bot(a).unwrap().unwrap().status_reason, "stopped by user");
    let err = store.set_status(a, BotStatus::Active, "resume", Timestamp(7_000)).unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert_eq!(store.bot(a).unwrap().unwrap().status, BotStatus::Stopped);
    // The other bot is untouched.
    assert_eq!(store.bot(b).unwrap().unwrap().status, BotStatus::Active);
}

/// A name is unique among bots that are not stopped, and reusable after a stop.
pub fn bot_names_unique_among_live_bots(store: &dyn Store) {
    let a = new_bot(store, "main", 1);
    let dup =
        NewBot { name: "main".into(), venue: "binance".into(), config_toml: String::new(), created_at: Timestamp(2) };
    match store.create_bot(&dup) {
        Err(StoreError::Conflict(m)) => assert_eq!(m, format!("a bot named main exists (id {a})")),
        other => panic!("expected a conflict, got {other:?}"),
    }
    store.set_status(a, BotStatus::Paused, "", Timestamp(3)).unwrap();
    assert!(matches!(store.create_bot(&dup), Err(StoreError::Conflict(_))), "a paused bot keeps its name");
    assert_eq!(store.bots().unwrap().len(), 1, "a refused bot is not written");
    // Names are compared exactly.
    let m = new_bot(store, "Main", 4);
    store.set_status(a, BotStatus::Stopped, "done", Timestamp(5)).unwrap();
    let b = store.create_bot(&dup).expect("the name is free once the bot is stopped");
    assert_ne!(a, b);
    assert_eq!(store.bot(b).unwrap().unwrap().venue, "binance");
    store.set_status(b, BotStatus::Stopped, "done", Timestamp(6)).unwrap();
    let c = new_bot(store, "main", 7);
    // Oldest first: `b` was created at 2, `Main` at 4.
    let names: Vec<_> = store.bots().unwrap().into_iter().map(|b| (b.id, b.name, b.status)).collect();
    assert_eq!(
        names,
        vec![
            (a, "main".to_string(), BotStatus::Stopped),
            (b, "main".to_string(), BotStatus::Stopped),
            (m, "Main".to_string(), BotStatus::Active),
            (c, "main".to_string(), BotStatus::Active),
        ]
    );
}

/// `set_config` replaces the configuration and records an event.
pub fn config_replacement(store: &dyn Store) {
    let a = new_bot(store, "a", 1);
    let b = new_bot(store, "b", 1);
    store.set_config(a, "threshold = \"5%\"\n", Timestamp(10)).unwrap();
    let r = store.bot(a).unwrap().unwrap();
    assert_eq!(r.config_toml, "threshold = \"5%\"\n");
    assert_eq!(r.updated_at, Timestamp(10));
    assert_eq!(r.created_at, Timestamp(1));
    let ev = store.events(a, 10).unwrap();
    assert_eq!(ev.len(), 1);
    assert_eq!((ev[0].bot, ev[0].time, ev[0].kind.as_str()), (a, Timestamp(10), "edit"));
    store.set_config(a, "threshold = \"3%\"\n", Timestamp(20)).unwrap();
    assert_eq!(store.bot(a).unwrap().unwrap().config_toml, "threshold = \"3%\"\n");
    assert_eq!(store.events(a, 10).unwrap().len(), 2);
    assert_eq!(store.bot(b).unwrap().unwrap().config_toml, "name = \"b\"\n", "other bots untouched");
    assert!(store.events(b, 10).unwrap().is_empty());
}

/// The engine's state: absent, saved, replaced, per bot.
pub fn state_save_load(store: &dyn Store) {
    let a = new_bot(store, "a", 1);
    let b = new_bot(store, "b", 1);
    assert_eq!(store.load_state(a).unwrap(), None);
    store.save_state(a, r#"{"seq":1}"#).unwrap();
    assert_eq!(store.load_state(a).unwrap().as_deref(), Some(r#"{"seq":1}"#));
    store.save_state(a, r#"{"seq":2,"entry":{"BTC":"84500.01"}}"#).unwrap();
    assert_eq!(store.load_state(a).unwrap().as_deref(), Some(r#"{"seq":2,"entry":{"BTC":"84500.01"}}"#));
    assert_eq!(store.load_state(b).unwrap(), None);
}

/// `begin_rebalance` writes every intent as pending, the state and the event.
pub fn begin_rebalance_writes_everything(store: &dyn Store) {
    let bot = new_bot(store, "a", 1);
    let intents: Vec<_> = (0..3).map(|leg| intent(bot, 7, leg, 100)).collect();
    store.begin_rebalance(&intents, r#"{"seq":7}"#, &event(bot, 100, "rebalance")).unwrap();
    let open = store.unresolved(bot).unwrap();
    assert_eq!(open.len(), 3);
    for (row, i) in open.iter().zip(&intents) {
        assert_eq!(&row.intent, i);
        assert_eq!(row.state, OrderState::Pending);
        assert_eq!(row.venue_id, None);
        assert!(row.filled.is_zero());
        assert_eq!(row.updated_at, Timestamp(100));
    }
    assert_eq!(store.load_state(bot).unwrap().as_deref(), Some(r#"{"seq":7}"#));
    assert_eq!(store.events(bot, 10).unwrap(), vec![event(bot, 100, "rebalance")]);
    // A rebalance with no legs still saves the state and the event.
    store.begin_rebalance(&[], r#"{"seq":8}"#, &event(bot, 200, "skipped")).unwrap();
    assert_eq!(store.load_state(bot).unwrap().as_deref(), Some(r#"{"seq":8}"#));
    assert_eq!(store.events(bot, 10).unwrap().len(), 2);
    assert_eq!(store.unresolved(bot).unwrap().len(), 3);
}

/// A batch with an existing client id (or a repeated one) writes nothing.
pub fn begin_rebalance_conflict_writes_nothing(store: &dyn Store) {
    let bot = new_bot(store, "a", 1);
    store.begin_rebalance(&[intent(bot, 1, 0, 10)], r#"{"seq":1}"#, &event(bot, 10, "rebalance")).unwrap();
    let snapshot_of = |store: &dyn Store| {
        (store.orders(bot, 100).unwrap(), store.load_state(bot).unwrap(), store.events(bot, 100).unwrap())
    };
    let before = snapshot_of(store);

    // New legs first, the existing id last: none of the new legs may remain.
    let batch = vec![intent(bot, 2, 0, 20), intent(bot, 2, 1, 20), intent(bot, 1, 0, 20)];
    match store.begin_rebalance(&batch, r#"{"seq":2}"#, &event(bot, 20, "rebalance")) {
        Err(StoreError::Conflict(m)) => assert!(m.contains(&format!("bl{bot}-1-0")), "{m}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(snapshot_of(store), before);

    // The same id twice within one batch.
    let batch = vec![intent(bot, 3, 0, 30), intent(bot, 3, 0, 30)];
    assert!(matches!(
        store.begin_rebalance(&batch, r#"{"seq":3}"#, &event(bot, 30, "rebalance")),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(snapshot_of(store), before);

    // Intents of another bot than the rebalance's are refused.
    let b = new_bot(store, "b", 1);
    assert!(store.begin_rebalance(&[intent(b, 5, 0, 50)], r#"{"seq":5}"#, &event(bot, 50, "rebalance")).is_err());
    assert_eq!(snapshot_of(store), before);
    assert!(store.orders(b, 10).unwrap().is_empty());

    // The store is still usable and the next batch goes through.
    store.begin_rebalance(&[intent(bot, 4, 0, 40)], r#"{"seq":4}"#, &event(bot, 40, "rebalance")).unwrap();
    assert_eq!(ids(&store.unresolved(bot).unwrap()), vec![format!("bl{bot}-1-0"), format!("bl{bot}-4-0")]);
}

/// Order states move forward; a final state never goes back to an open one.
pub fn order_state_transitions(store: &dyn Store) {
    let bot = new_bot(store, "a", 1);
    let i = intent(bot, 1, 0, 10);
    let id = i.client_id.clone();
    store.begin_rebalance(std::slice::from_ref(&i), "{}", &event(bot, 10, "rebalance")).unwrap();
    let row = || store.orders(bot, 1).unwrap().pop().unwrap();

    store.update_order(&id, OrderState::Unknown, None, Qty::ZERO, Timestamp(11)).unwrap();
    assert_eq!((row().state, row().venue_id, row().updated_at), (OrderState::Unknown, None, Timestamp(11)));
    store.update_order(&id, OrderState::New, Some("V-1"), Qty::ZERO, Timestamp(12)).unwrap();
    assert_eq!((row().state, row().venue_id.as_deref()), (OrderState::New, Some("V-1")));
    store.update_order(&id, OrderState::PartiallyFilled, None, Qty(d("0.001")), Timestamp(13)).unwrap();
    let r = row();
    assert_eq!((r.state, r.venue_id.as_deref(), r.filled), (OrderState::PartiallyFilled, Some("V-1"), Qty(d("0.001"))));
    store.update_order(&id, OrderState::Filled, None, Qty(d("0.00384615")), Timestamp(14)).unwrap();
    let r = row();
    assert_eq!((r.state, r.filled, r.updated_at), (OrderState::Filled, Qty(d("0.00384615")), Timestamp(14)));
    assert_eq!(r.intent, i, "the intent never changes");
    assert!(store.unresolved(bot).unwrap().is_empty());

    // Final -> open is refused and changes nothing.
    for back in OrderState::ALL.into_iter().filter(|s| !s.is_final()) {
        let err = store.update_order(&id, back, Some("V-2"), Qty::ZERO, Timestamp(15)).unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{back:?}: {err}");
    }
    assert_eq!(row(), r);
    // Final -> final is a correction and allowed (same state, later data).
    store.update_order(&id, OrderState::Filled, Some("V-1"), Qty(d("0.00384615")), Timestamp(16)).unwrap();
    assert_eq!(row().updated_at, Timestamp(16));

    // NotSent is final too.
    let j = intent(bot, 2, 0, 20);
    store.begin_rebalance(std::slice::from_ref(&j), "{}", &event(bot, 20, "rebalance")).unwrap();
    store.update_order(&j.client_id, OrderState::NotSent, None, Qty::ZERO, Timestamp(21)).unwrap();
    assert!(matches!(
        store.update_order(&j.client_id, OrderState::Pending, None, Qty::ZERO, Timestamp(22)),
        Err(StoreError::Conflict(_))
    ));

    let unknown = ClientOrderId::new("nope").unwrap();
    assert!(matches!(
        store.update_order(&unknown, OrderState::New, None, Qty::ZERO, Timestamp(1)),
        Err(StoreError::NotFound(_))
    ));
}

/// `unresolved`: open orders only, oldest first by (created_at, seq, leg).
pub fn unresolved_oldest_first(store: &dyn Store) {
    let bot = new_bot(store, "a", 1);
    let other = new_bot(store, "b", 1);
    // Written out of order: a later rebalance first, legs reversed.
    store.begin_rebalance(&[intent(bot, 5, 1, 500), intent(bot, 5, 0, 500)], "{}", &event(bot, 500, "r")).unwrap();
    store.begin_rebalance(&[intent(bot, 3, 2, 300), intent(bot, 3, 0, 300)], "{}", &event(bot, 300, "r")).unwrap();
    // Same time, different seq.
    store.begin_rebalance(&[intent(bot, 4, 0, 300)], "{}", &event(bot, 300, "r")).unwrap();
    store.begin_rebalance(&[intent(other, 1, 0, 100)], "{}", &event(other, 100, "r")).unwrap();
    let all = ["3-0", "3-2", "4-0", "5-0", "5-1"].map(|s| format!("bl{bot}-{s}"));
    assert_eq!(ids(&store.unresolved(bot).unwrap()), all);

    let id = |s: &str| ClientOrderId::new(s).unwrap();
    for (cid, st) in [(&all[0], OrderState::Filled), (&all[2], OrderState::Canceled), (&all[4], OrderState::Rejected)] {
        store.update_order(&id(cid), st, None, Qty::ZERO, Timestamp(600)).unwrap();
    }
    store.update_order(&id(&all[1]), OrderState::Unknown, None, Qty::ZERO, Timestamp(600)).unwrap();
    store.update_order(&id(&all[3]), OrderState::PartiallyFilled, Some("v"), Qty(d("0.001")), Timestamp(600)).unwrap();
    let open = store.unresolved(bot).unwrap();
    assert_eq!(ids(&open), vec![all[1].clone(), all[3].clone()]);
    assert_eq!(
        open.iter().map(|r| r.state).collect::<Vec<_>>(),
        vec![OrderState::Unknown, OrderState::PartiallyFilled]
    );
    assert_eq!(ids(&store.unresolved(other).unwrap()), vec![format!("bl{other}-1-0")]);
}

/// `orders`: newest first, at most `limit`, final ones included.
pub fn orders_newest_first(store: &dyn Store) {
    let bot = new_bot(store, "a", 1);
    store.begin_rebalance(&[intent(bot, 1, 0, 100), intent(bot, 1, 1, 100)], "{}", &event(bot, 100, "r")).unwrap();
    store.begin_rebalance(&[intent(bot, 2, 0, 200)], "{}", &event(bot, 200, "r")).unwrap();
    let cid = ClientOrderId::for_leg(&ballast_exchange::OrderTag::legacy(), bot, 1, 0).unwrap();
    store.update_order(&cid, OrderState::Filled, Some("v"), Qty(d("0.00384615")), Timestamp(300)).unwrap();
    let b = |s: &str| format!("bl{bot}-{s}");
    assert_eq!(ids(&store.orders(bot, 10).unwrap()), vec![b("2-0"), b("1-1"), b("1-0")]);
    assert_eq!(ids(&store.orders(bot, 2).unwrap()), vec![b("2-0"), b("1-1")]);
    assert!(store.orders(bot, 0).unwrap().is_empty());
    assert_eq!(store.orders(bot, usize::MAX).unwrap().len(), 3);
}

/// Fills: stored once per (client id, trade id); unknown orders refused.
pub fn fills_idempotent(store: &dyn Store) {
    let bot = new_bot(store, "a", 1);
    let other = new_bot(store, "b", 1);
    let a = intent(bot, 1, 0, 10);
    let b = intent(bot, 1, 1, 10);
    store.begin_rebalance(&[a.clone(), b.clone()], "{}", &event(bot, 10, "r")).unwrap();
    let c = intent(other, 1, 0, 10);
    store.begin_rebalance(std::slice::from_ref(&c), "{}", &event(other, 10, "r")).unwrap();

    assert!(store.record_fill(&a.client_id, &fill("t1", "0.002", 30)).unwrap());
    assert!(store.record_fill(&b.client_id, &fill("t9", "0.003", 20)).unwrap());
    assert!(store.record_fill(&a.client_id, &fill("t2", "0.00184615", 40)).unwrap());
    // Repeats (even with different data) change nothing.
    assert!(!store.record_fill(&a.client_id, &fill("t1", "0.002", 30)).unwrap());
    assert!(!store.record_fill(&a.client_id, &fill("t1", "0.5", 99)).unwrap());
    // The same trade id on another order is another fill.
    assert!(store.record_fill(&c.client_id, &fill("t1", "0.1", 35)).unwrap());

    let fills = store.fills(bot).unwrap();
    let got: Vec<_> = fills.iter().map(|f| (f.client_id.clone(), f.fill.trade_id.as_str(), f.fill.time.0)).collect();
    assert_eq!(
        got,
        vec![(b.client_id.clone(), "t9", 20), (a.client_id.clone(), "t1", 30), (a.client_id.clone(), "t2", 40)],
        "oldest first"
    );
    let f = &fills[1];
    assert_eq!((f.bot, &f.base, &f.quote, f.side), (bot, &a.base, &a.quote, a.side));
    assert_eq!(f.fill, fill("t1", "0.002", 30));
    assert_eq!(fills[0].side, b.side);
    assert_eq!(store.fills(other).unwrap().len(), 1);

    let unknown = ClientOrderId::new("ghost").unwrap();
    assert!(matches!(store.record_fill(&unknown, &fill("t1", "1", 1)), Err(StoreError::NotFound(_))));
    assert_eq!(store.fills(bot).unwrap().len(), 3);
}

/// Cash flows come back oldest first (by time, then insertion).
pub fn cash_flows_oldest_first(store: &dyn Store) {
    let bot = new_bot(store, "a", 1);
    let other = new_bot(store, "b", 1);
    let flow = |t: i64, a: &str, q: &str, v: &str, note: &str| CashFlow {
        bot,
        time: Timestamp(t),
        asset: asset(a),
        qty: Qty(d(q)),
        value: Notional(d(v)),
        note: note.into(),
    };
    let flows = [
        flow(300, "USDT", "-250", "-250", "stop"),
        flow(100, "USDT", "1000", "1000", "create"),
        flow(200, "BTC", "0.01", "845", "invest"),
        flow(200, "USDT", "50.5", "50.5", "invest"),
    ];
    for f in &flows {
        store.record_cash_flow(f).unwrap();
    }
    store.record_cash_flow(&CashFlow { bot: other, ..flow(50, "USDT", "1", "1", "create") }).unwrap();
    let got = store.cash_flows(bot).unwrap();
    assert_eq!(got, vec![flows[1].clone(), flows[2].clone(), flows[3].clone(), flows[0].clone()]);
    assert_eq!(store.cash_flows(other).unwrap().len(), 1);
}

/// Snapshots: the newest `limit`, returned oldest first.
pub fn snapshots_newest_window_oldest_first(store: &dyn Store) {
    let bot = new_bot(store, "a", 1);
    let other = new_bot(store, "b", 1);
    for t in [3, 1, 5, 2, 4] {
        store.record_snapshot(&snapshot(bot, t * 100)).unwrap();
    }
    store.record_snapshot(&snapshot(other, 999)).unwrap();
    let times = |v: Vec<Snapshot>| v.into_iter().map(|s| s.time.0).collect::<Vec<_>>();
    assert_eq!(times(store.snapshots(bot, 3).unwrap()), vec![300, 400, 500]);
    assert_eq!(times(store.snapshots(bot, 100).unwrap()), vec![100, 200, 300, 400, 500]);
    assert!(store.snapshots(bot, 0).unwrap().is_empty());
    assert_eq!(store.snapshots(bot, 1).unwrap(), vec![snapshot(bot, 500)]);
    assert_eq!(store.snapshots(other, 10).unwrap(), vec![snapshot(other, 999)]);
}

/// `snapshots_range`: a range (bounds inclusive, open when absent), thinned evenly to
/// at most `max_points` with its first and last kept, and how many it holds.
pub fn snapshots_range_thins_the_whole_range(store: &dyn Store) {
    let bot = new_bot(store, "a", 1);
    let other = new_bot(store, "b", 1);
    assert_eq!(store.snapshot_span(bot).unwrap(), None);
    assert_eq!(store.snapshots_range(bot, None, None, 10).unwrap().total, 0);
    for t in (0..100).rev() {
        store.record_snapshot(&snapshot(bot, 1000 + t * 10)).unwrap();
    }
    store.record_snapshot(&snapshot(other, 5)).unwrap();
    assert_eq!(store.snapshot_span(bot).unwrap(), Some((Timestamp(1000), Timestamp(1990))));
    let times = |r: crate::SnapshotRange| (r.total, r.snapshots.into_iter().map(|s| s.time.0).collect::<Vec<_>>());
    // Everything fits: all of it.
    let (n, all) = times(store.snapshots_range(bot, None, None, 100).unwrap());
    assert_eq!((n, all.len(), all[0], all[99]), (100, 100, 1000, 1990));
    // Thinned: exactly max_points, evenly spaced, from the first to the last.
    let (n, some) = times(store.snapshots_range(bot, None, None, 12).unwrap());
    assert_eq!(n, 100);
    assert_eq!(some.len(), 12);
    assert_eq!((some[0], some[11]), (1000, 1990));
    assert!(some.windows(2).all(|w| (80..=100).contains(&(w[1] - w[0]))), "{some:?}");
    // A range, bounds inclusive.
    let (n, r) = times(store.snapshots_range(bot, Some(Timestamp(1500)), Some(Timestamp(1590)), 50).unwrap());
    assert_eq!((n, r.len(), r[0], r[9]), (10, 10, 1500, 1590));
    let (n, r) = times(store.snapshots_range(bot, Some(Timestamp(1985)), None, 1).unwrap());
    assert_eq!((n, r), (1, vec![1990]));
    assert_eq!(store.snapshots_range(bot, None, None, 0).unwrap().snapshots.len(), 2);
    assert_eq!(times(store.snapshots_range(other, None, None, 10).unwrap()), (1, vec![5]));
}

/// `rebalance_events` (only events carrying `data.seq`, newest first, before a row
/// id), `events_page` (every event, the same way) and `orders_of_seqs`.
pub fn rebalance_history_pages(store: &dyn Store) {
    let bot = new_bot(store, "a", 1);
    let other = new_bot(store, "b", 1);
    let rb = |at: i64, seq: i64| Event {
        data: serde_json::json!({ "seq": seq, "legs": [], "skipped": [] }),
        ..event(bot, at, "rebalance")
    };
    store.begin_rebalance(&[intent(bot, 1, 0, 100), intent(bot, 1, 1, 100)], "{}", &rb(100, 1)).unwrap();
    store.record_event(&event(bot, 150, "created")).unwrap();
    store.begin_rebalance(&[], "{}", &rb(200, 2)).unwrap();
    store.begin_rebalance(&[intent(bot, 2, 0, 300)], "{}", &rb(300, 2)).unwrap();
    store.begin_rebalance(&[intent(other, 2, 0, 300)], "{}", &Event { bot: other, ..rb(300, 2) }).unwrap();
    let page = store.rebalance_events(bot, None, 10).unwrap();
    assert_eq!(page.iter().map(|(_, e)| e.time.0).collect::<Vec<_>>(), vec![300, 200, 100]);
    assert!(page.windows(2).all(|w| w[0].0 > w[1].0));
    let next = store.rebalance_events(bot, Some(page[1].0), 10).unwrap();
    assert_eq!(next.iter().map(|(_, e)| e.time.0).collect::<Vec<_>>(), vec![100]);
    assert_eq!(store.rebalance_events(bot, None, 1).unwrap().len(), 1);
    let all = store.events_page(bot, None, 10).unwrap();
    assert_eq!(all.iter().map(|(_, e)| e.time.0).collect::<Vec<_>>(), vec![300, 200, 150, 100]);
    let rest = store.events_page(bot, Some(all[1].0), 10).unwrap();
    assert_eq!(rest.iter().map(|(_, e)| e.time.0).collect::<Vec<_>>(), vec![150, 100]);
    let orders = store.orders_of_seqs(bot, &[2, 1]).unwrap();
    assert_eq!(ids(&orders), vec!["bl1-1-0", "bl1-1-1", "bl1-2-0"]);
    assert_eq!(ids(&store.orders_of_seqs(bot, &[2]).unwrap()), vec!["bl1-2-0"]);
    assert!(store.orders_of_seqs(bot, &[]).unwrap().is_empty());
}

/// Events: newest first (by time, then insertion), at most `limit`.
pub fn events_newest_first(store: &dyn Store) {
    let bot = new_bot(store, "a", 1);
    let other = new_bot(store, "b", 1);
    let evs = [event(bot, 200, "rebalance"), event(bot, 100, "created"), event(bot, 200, "skipped")];
    for e in &evs {
        store.record_event(e).unwrap();
    }
    store.record_event(&event(other, 150, "created")).unwrap();
    assert_eq!(store.events(bot, 10).unwrap(), vec![evs[2].clone(), evs[0].clone(), evs[1].clone()]);
    assert_eq!(store.events(bot, 2).unwrap(), vec![evs[2].clone(), evs[0].clone()]);
    assert!(store.events(bot, 0).unwrap().is_empty());
    assert_eq!(store.events(other, 10).unwrap().len(), 1);
    // Arbitrary JSON survives.
    let rich = Event {
        data: serde_json::json!({ "legs": [{ "asset": "BTC", "qty": "0.00000001" }], "ok": true, "n": null }),
        ..event(bot, 300, "guard")
    };
    store.record_event(&rich).unwrap();
    assert_eq!(store.events(bot, 1).unwrap(), vec![rich]);
}

/// `events_after`: every bot's events after a row id, in the order recorded (not by
/// time), each with its id; ids grow; at most `limit`; events written by
/// `set_config` and `begin_rebalance` are included.
pub fn events_after_in_recording_order(store: &dyn Store) {
    assert!(store.events_after(0, 10).unwrap().is_empty());
    let a = new_bot(store, "a", 1);
    let b = new_bot(store, "b", 1);
    // Recorded out of time order and across bots.
    let evs = [event(a, 300, "rebalance"), event(b, 100, "guard"), event(a, 200, "error")];
    for e in &evs {
        store.record_event(e).unwrap();
    }
    store.set_config(b, "name = \"b\"\n", Timestamp(400)).unwrap();
    store.begin_rebalance(&[intent(a, 1, 0, 500)], "{}", &event(a, 500, "rebalance")).unwrap();
    let all = store.events_after(0, 100).unwrap();
    assert_eq!(all.len(), 5);
    let events: Vec<Event> = all.iter().map(|(_, e)| e.clone()).collect();
    assert_eq!(&events[..3], &evs[..]);
    assert_eq!((events[3].bot, events[3].kind.as_str()), (b, "edit"));
    assert_eq!(events[4], event(a, 500, "rebalance"));
    let ids: Vec<i64> = all.iter().map(|(id, _)| *id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids grow: {ids:?}");
    assert!(ids[0] > 0, "ids are positive, so 0 means before the first: {ids:?}");
    // Resuming from any id gives exactly the rest.
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(store.events_after(*id, 100).unwrap(), all[i + 1..].to_vec());
    }
    assert_eq!(store.events_after(ids[0], 2).unwrap(), all[1..3].to_vec());
    assert!(store.events_after(ids[4], 10).unwrap().is_empty());
    assert!(store.events_after(0, 0).unwrap().is_empty());
    // A later event comes after the cursor even when its time is earlier.
    store.record_event(&event(b, 50, "stop")).unwrap();
    let rest = store.events_after(ids[4], 10).unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].1, event(b, 50, "stop"));
}

/// Decimals come back exactly, scale included, through every table. (One bot per
/// value, so that the running ledger sums no two of them; a fill's quantity and price
/// carry the value in two fills, so that no notional exceeds it.)
pub fn decimals_round_trip_exactly(store: &dyn Store) {
    let values = ["0.00000001", "123456789.123456789012", "-0.5", "1.500", "0", "79228162514264337593543950335"];
    let exact = |got: Decimal, want: &str| assert_eq!(got.to_string(), want, "scale and digits kept");
    for (n, v) in values.iter().enumerate() {
        let bot = new_bot(store, &format!("a{n}"), 1);
        let x = d(v);
        let seq = n as i64;
        let mut i = intent(bot, seq, 0, seq);
        i.qty = Qty(x);
        i.planned_price = Price(x);
        i.kind = OrderKind::Limit { price: Price(x) };
        store.begin_rebalance(std::slice::from_ref(&i), "{}", &event(bot, seq, "r")).unwrap();
        store.update_order(&i.client_id, OrderState::PartiallyFilled, None, Qty(x), Timestamp(seq)).unwrap();
        let one = Decimal::ONE;
        let f1 = Fill { qty: Qty(x), price: Price(one), fee: Qty(x), ..fill("t1", "1", seq) };
        let f2 = Fill { qty: Qty(Decimal::ZERO), price: Price(x), fee: Qty(Decimal::ZERO), ..fill("t2", "1", seq) };
        store.record_fill(&i.client_id, &f1).unwrap();
        store.record_fill(&i.client_id, &f2).unwrap();
        store
            .record_cash_flow(&CashFlow {
                bot,
                time: Timestamp(seq),
                asset: asset("ETH"),
                qty: Qty(x),
                value: Notional(x),
                note: String::new(),
            })
            .unwrap();
        let mut s = snapshot(bot, seq);
        s.value = Notional(x);
        s.net_invested = Notional(x);
        s.hodl_value = Notional(x);
        s.fees_paid = Notional(x);
        s.holdings.insert(asset("ETH"), Qty(x));
        s.prices.insert(asset("ETH"), Price(x));
        store.record_snapshot(&s).unwrap();

        let orders = store.unresolved(bot).unwrap();
        let fills = store.fills(bot).unwrap();
        let flows = store.cash_flows(bot).unwrap();
        let snaps = store.snapshots(bot, 100).unwrap();
        assert_eq!((orders.len(), fills.len(), flows.len(), snaps.len()), (1, 2, 1, 1));
        let o = &orders[0];
        exact(o.intent.qty.0, v);
        exact(o.intent.planned_price.0, v);
        exact(o.filled.0, v);
        assert_eq!(o.intent.kind, OrderKind::Limit { price: Price(d(v)) });
        exact(fills[0].fill.qty.0, v);
        exact(fills[1].fill.price.0, v);
        exact(fills[0].fill.fee.0, v);
        exact(flows[0].qty.0, v);
        exact(flows[0].value.0, v);
        let s = &snaps[0];
        for x in [s.value.0, s.net_invested.0, s.hodl_value.0, s.fees_paid.0] {
            exact(x, v);
        }
        exact(s.holdings[&asset("ETH")].0, v);
        exact(s.prices[&asset("ETH")].0, v);
        // The running ledger, exactly: the fees (in BNB) are the value.
        assert_eq!(store.ledger(bot).unwrap()[&asset("BNB")].fees.0, x);
    }
}

/// A fill whose effect on the ledger cannot be represented (a notional beyond the
/// decimal range) is refused with a clear error, and nothing of it is written.
pub fn an_overflowing_fill_is_refused_whole(store: &dyn Store) {
    let bot = new_bot(store, "huge", 1);
    let i = intent(bot, 1, 0, 1);
    store.begin_rebalance(std::slice::from_ref(&i), "{}", &event(bot, 1, "r")).unwrap();
    let max = d("79228162514264337593543950335");
    let f = Fill { qty: Qty(max), price: Price(d("2")), ..fill("t1", "1", 2) };
    let e = store.record_fill(&i.client_id, &f).unwrap_err();
    assert!(e.to_string().contains("overflow"), "{e}");
    assert!(store.fills(bot).unwrap().is_empty());
    assert!(store.ledger(bot).unwrap().is_empty());
}

/// Writes for a bot that does not exist fail with `NotFound`; reads are empty.
pub fn unknown_bot(store: &dyn Store) {
    let ghost: BotId = 4242;
    assert_eq!(store.bot(ghost).unwrap(), None);
    let nf = |r: Result<(), StoreError>| assert!(matches!(r, Err(StoreError::NotFound(_))), "{r:?}");
    nf(store.set_status(ghost, BotStatus::Paused, "", Timestamp(1)));
    nf(store.set_config(ghost, "", Timestamp(1)));
    nf(store.save_state(ghost, "{}"));
    nf(store.begin_rebalance(&[intent(ghost, 1, 0, 1)], "{}", &event(ghost, 1, "r")));
    nf(store.record_cash_flow(&CashFlow {
        bot: ghost,
        time: Timestamp(1),
        asset: asset("USDT"),
        qty: Qty::ZERO,
        value: Notional::ZERO,
        note: String::new(),
    }));
    nf(store.record_snapshot(&snapshot(ghost, 1)));
    nf(store.record_event(&event(ghost, 1, "x")));
    assert_eq!(store.load_state(ghost).unwrap(), None);
    assert!(store.unresolved(ghost).unwrap().is_empty());
    assert!(store.orders(ghost, 10).unwrap().is_empty());
    assert!(store.fills(ghost).unwrap().is_empty());
    assert!(store.cash_flows(ghost).unwrap().is_empty());
    assert!(store.snapshots(ghost, 10).unwrap().is_empty());
    assert!(store.events(ghost, 10).unwrap().is_empty());
    assert!(store.bots().unwrap().is_empty(), "nothing was created");
}

/// Two threads writing through one shared store lose no write.
pub fn concurrent_writers(store: Arc<dyn Store>) {
    const PER_THREAD: i64 = 200;
    let bot = new_bot(&*store, "a", 1);
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for n in 0..PER_THREAD {
                    store.record_event(&event(bot, t * 1_000 + n, &format!("thread{t}"))).unwrap();
                    if n % 20 == 0 {
                        store.save_state(bot, &format!("{{\"t\":{t},\"n\":{n}}}")).unwrap();
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("writer thread");
    }
    let events = store.events(bot, 10_000).unwrap();
    assert_eq!(events.len(), 2 * PER_THREAD as usize);
    for t in 0..2 {
        let mine: Vec<_> = events.iter().filter(|e| e.kind == format!("thread{t}")).map(|e| e.time.0).collect();
        let want: Vec<_> = (0..PER_THREAD).rev().map(|n| t * 1_000 + n).collect();
        assert_eq!(mine, want);
    }
    assert!(store.load_state(bot).unwrap().is_some());
}

/// Durability: everything written through one store is there after reopening.
/// `open` opens the same database every time it is called.
pub fn reopen_keeps_everything(open: &dyn Fn() -> Box<dyn Store>) {
    let (bot, intents, fills_before, flows, snaps, events, bots, orders);
    {
        let store = open();
        bot = new_bot(&*store, "durable", 1);
        new_bot(&*store, "other", 2);
        store.set_status(bot, BotStatus::Paused, "why not", Timestamp(3)).unwrap();
        store.set_config(bot, "x = 1\n", Timestamp(4)).unwrap();
        store.save_state(bot, r#"{"seq":0}"#).unwrap();
        store.begin_rebalance(&[intent(bot, 1, 0, 10)], r#"{"seq":1}"#, &event(bot, 10, "rebalance")).unwrap();
        let cid = ClientOrderId::for_leg(&ballast_exchange::OrderTag::legacy(), bot, 1, 0).unwrap();
        store.update_order(&cid, OrderState::Filled, Some("V9"), Qty(d("0.00384615")), Timestamp(11)).unwrap();
        store.record_fill(&cid, &fill("t1", "0.00384615", 11)).unwrap();
        // The last act before the "crash": intents that were never sent.
        intents = vec![intent(bot, 2, 0, 20), intent(bot, 2, 1, 20)];
        store.begin_rebalance(&intents, r#"{"seq":2}"#, &event(bot, 20, "rebalance")).unwrap();
        store
            .record_cash_flow(&CashFlow {
                bot,
                time: Timestamp(5),
                asset: asset("USDT"),
                qty: Qty(d("1000")),
                value: Notional(d("1000")),
                note: "create".into(),
            })
            .unwrap();
        store.record_snapshot(&snapshot(bot, 12)).unwrap();
        store.record_event(&event(bot, 13, "guard")).unwrap();
        bots = store.bots().unwrap();
        orders = store.orders(bot, 100).unwrap();
        fills_before = store.fills(bot).unwrap();
        flows = store.cash_flows(bot).unwrap();
        snaps = store.snapshots(bot, 100).unwrap();
        events = store.events(bot, 100).unwrap();
    }
    let store = open();
    assert_eq!(store.bots().unwrap(), bots);
    let b = store.bot(bot).unwrap().unwrap();
    assert_eq!((b.status, b.status_reason.as_str(), b.config_toml.as_str()), (BotStatus::Paused, "why not", "x = 1\n"));
    assert_eq!(store.load_state(bot).unwrap().as_deref(), Some(r#"{"seq":2}"#));
    let open_orders = store.unresolved(bot).unwrap();
    assert_eq!(open_orders.iter().map(|r| r.intent.clone()).collect::<Vec<_>>(), intents);
    assert!(open_orders.iter().all(|r| r.state == OrderState::Pending));
    assert_eq!(store.orders(bot, 100).unwrap(), orders);
    assert_eq!(store.fills(bot).unwrap(), fills_before);
    assert_eq!(store.cash_flows(bot).unwrap(), flows);
    assert_eq!(store.snapshots(bot, 100).unwrap(), snaps);
    assert_eq!(store.events(bot, 100).unwrap(), events);
    assert_eq!(events.len(), 4, "edit, two rebalances, guard");
    // Idempotency holds across the restart too.
    assert!(
        !store
            .record_fill(
                &ClientOrderId::for_leg(&ballast_exchange::OrderTag::legacy(), bot, 1, 0).unwrap(),
                &fill("t1", "0.00384615", 11)
            )
            .unwrap()
    );
    assert!(matches!(
        store.begin_rebalance(&intents, "{}", &event(bot, 30, "rebalance")),
        Err(StoreError::Conflict(_))
    ));
}

fn flow(bot: BotId, qty: &str, at: i64, note: &str) -> CashFlow {
    CashFlow {
        bot,
        time: Timestamp(at),
        asset: asset("USDT"),
        qty: Qty(d(qty)),
        value: Notional(d(qty)),
        note: note.into(),
    }
}

/// `commit` with `create`: the bot, its state, cash flow, events and snapshot in one
/// go, every record carrying the new id; a name in use refuses it whole.
pub fn commit_creates_whole(store: &dyn Store) {
    let change = Change {
        create: Some(NewBot {
            name: "a".into(),
            venue: "paper".into(),
            config_toml: "name = \"a\"\n".into(),
            created_at: Timestamp(5),
        }),
        state_json: Some(r#"{"seq":1}"#.into()),
        cash_flows: vec![flow(0, "1000", 5, "create")],
        events: vec![event(0, 5, "created")],
        snapshot: Some(snapshot(0, 5)),
        now: Timestamp(5),
        ..Change::default()
    };
    let id = store.commit(&change).unwrap();
    assert_eq!(store.bot(id).unwrap().unwrap().name, "a");
    let v = store.load_versioned(id).unwrap().unwrap();
    assert_eq!((v.json.as_str(), v.version), (r#"{"seq":1}"#, 0));
    assert_eq!(store.cash_flows(id).unwrap(), vec![flow(id, "1000", 5, "create")]);
    assert_eq!(store.events(id, 10).unwrap(), vec![event(id, 5, "created")]);
    assert_eq!(store.snapshots(id, 10).unwrap(), vec![snapshot(id, 5)]);
    // The same name again: nothing of the second bot remains.
    assert!(matches!(store.commit(&change), Err(StoreError::Conflict(_))));
    assert_eq!(store.bots().unwrap().len(), 1);
    assert_eq!(store.events_after(0, 100).unwrap().len(), 1);
}

/// A change computed from an old version is refused and writes nothing; each
/// versioned change moves the version on by one.
pub fn commit_checks_the_version(store: &dyn Store) {
    let bot = new_bot(store, "a", 1);
    let base = Change { bot, now: Timestamp(10), ..Change::default() };
    store.commit(&Change { expect_version: Some(0), state_json: Some("{\"n\":1}".into()), ..base.clone() }).unwrap();
    assert_eq!(store.load_versioned(bot).unwrap().unwrap().version, 1);
    // A second writer that read version 0 loses, whatever it writes.
    let stale = Change {
        expect_version: Some(0),
        state_json: Some("{\"n\":99}".into()),
        cash_flows: vec![flow(bot, "5", 10, "invest")],
        status: Some((BotStatus::Paused, "stale".into())),
        ..base.clone()
    };
    match store.commit(&stale) {
        Err(StoreError::Conflict(m)) => assert!(m.contains("changed meanwhile"), "{m}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let v = store.load_versioned(bot).unwrap().unwrap();
    assert_eq!((v.json.as_str(), v.version), ("{\"n\":1}", 1));
    assert!(store.cash_flows(bot).unwrap().is_empty());
    assert_eq!(store.bot(bot).unwrap().unwrap().status, BotStatus::Active);
    // A versioned change without a new state still moves the version.
    store.commit(&Change { expect_version: Some(1), status: Some((BotStatus::Paused, "x".into())), ..base }).unwrap();
    assert_eq!(store.load_versioned(bot).unwrap().unwrap().version, 2);
}

/// Any failure inside a change (an existing client id, a stopped bot made active)
/// leaves nothing of it.
pub fn commit_is_all_or_nothing(store: &dyn Store) {
    let bot = new_bot(store, "a", 1);
    store.begin_rebalance(&[intent(bot, 1, 0, 10)], r#"{"seq":1}"#, &event(bot, 10, "rebalance")).unwrap();
    let before = (store.orders(bot, 100).unwrap(), store.events(bot, 100).unwrap(), store.cash_flows(bot).unwrap());
    let change = Change {
        bot,
        expect_version: Some(0),
        state_json: Some(r#"{"seq":2}"#.into()),
        cash_flows: vec![flow(bot, "-10", 20, "stop")],
        intents: vec![intent(bot, 2, 0, 20), intent(bot, 1, 0, 20)],
        events: vec![event(bot, 20, "rebalance")],
        snapshot: Some(snapshot(bot, 20)),
        now: Timestamp(20),
        ..Change::default()
    };
    assert!(matches!(store.commit(&change), Err(StoreError::Conflict(_))));
    assert_eq!(
        before,
        (store.orders(bot, 100).unwrap(), store.events(bot, 100).unwrap(), store.cash_flows(bot).unwrap())
    );
    assert!(store.snapshots(bot, 10).unwrap().is_empty());
    assert_eq!(store.load_state(bot).unwrap().as_deref(), Some(r#"{"seq":1}"#));
    store.set_status(bot, BotStatus::Stopped, "done", Timestamp(30)).unwrap();
    let revive = Change {
        bot,
        status: Some((BotStatus::Active, "again".into())),
        cash_flows: vec![flow(bot, "1", 40, "invest")],
        now: Timestamp(40),
        ..Change::default()
    };
    assert!(matches!(store.commit(&revive), Err(StoreError::Conflict(_))));
    assert!(store.cash_flows(bot).unwrap().is_empty());
}

/// `lock_bot` gives one holder at a time per bot; another bot is not held up.
pub fn lock_bot_excludes(store: &dyn Store) {
    let a = new_bot(store, "a", 1);
    let b = new_bot(store, "b", 1);
    let held = store.lock_bot(a).unwrap();
    let _other = store.lock_bot(b).unwrap();
    let order = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        s.spawn(|| {
            let _again = store.lock_bot(a).unwrap();
            order.lock().unwrap().push("second");
        });
        std::thread::sleep(std::time::Duration::from_millis(100));
        order.lock().unwrap().push("first");
        drop(held);
    });
    assert_eq!(*order.lock().unwrap(), vec!["first", "second"]);
}

/// Every pair of states, against [`OrderState::can_become`]: the store refuses exactly
/// what the table refuses, and an acknowledged order never becomes `not_sent`.
pub fn transition_table_is_enforced(store: &dyn Store) {
    let bot = new_bot(store, "table", 1);
    let mut seq = 1;
    for from in OrderState::ALL {
        for to in OrderState::ALL {
            let i = intent(bot, seq, 0, 10 + seq);
            seq += 1;
            store.begin_rebalance(std::slice::from_ref(&i), "{}", &event(bot, 10, "rebalance")).unwrap();
            if from != OrderState::Pending {
                store.update_order(&i.client_id, from, Some("V"), Qty::ZERO, Timestamp(11)).unwrap();
            }
            let r = store.update_order(&i.client_id, to, Some("V"), Qty::ZERO, Timestamp(12));
            assert_eq!(r.is_ok(), from.can_become(to), "{from:?} -> {to:?}: {r:?}");
        }
    }
    for acked in [OrderState::New, OrderState::PartiallyFilled] {
        assert!(!acked.can_become(OrderState::NotSent));
    }
    for fin in OrderState::ALL.into_iter().filter(|s| s.is_final()) {
        assert!(OrderState::ALL.into_iter().all(|to| fin.can_become(to) == (to == fin)), "{fin:?}");
    }
}

/// The installation's order tag is drawn once and kept.
pub fn order_tag_is_drawn_once(store: &dyn Store) {
    let a = store.order_tag().unwrap();
    assert_eq!(store.order_tag().unwrap(), a);
    assert!(ballast_exchange::OrderTag::new(a.as_str()).is_ok());
    assert_ne!(a, ballast_exchange::OrderTag::legacy());
}

/// An intent's acceptance deadline is stored and read back.
pub fn deadline_round_trips(store: &dyn Store) {
    let bot = new_bot(store, "deadline", 1);
    let mut i = intent(bot, 1, 0, 10);
    i.expires_at = Some(Timestamp(30_010));
    store.begin_rebalance(std::slice::from_ref(&i), "{}", &event(bot, 10, "rebalance")).unwrap();
    assert_eq!(store.unresolved(bot).unwrap()[0].intent.expires_at, Some(Timestamp(30_010)));
}

/// `order_counts` and `event_counts`, kept on write, equal a count of the rows after
/// intents, moves between states (including a refused one) and events, per bot.
pub fn counts_follow_every_write(store: &dyn Store) {
    let a = new_bot(store, "a", 1);
    let b = new_bot(store, "b", 1);
    let count = |bot: BotId| {
        let mut by: BTreeMap<String, u64> = BTreeMap::new();
        for o in store.orders(bot, usize::MAX).unwrap() {
            *by.entry(o.state.as_str().to_string()).or_default() += 1;
        }
        by
    };
    let kinds = |bot: BotId| {
        let mut by: BTreeMap<String, u64> = BTreeMap::new();
        for e in store.events(bot, usize::MAX).unwrap() {
            *by.entry(e.kind).or_default() += 1;
        }
        by
    };
    let check = |why: &str| {
        for bot in [a, b] {
            assert_eq!(store.order_counts(bot).unwrap(), count(bot), "orders of bot {bot}: {why}");
            assert_eq!(store.event_counts(bot).unwrap(), kinds(bot), "events of bot {bot}: {why}");
        }
    };
    check("new bots");
    let ia: Vec<Intent> = (0..3).map(|leg| intent(a, 1, leg, 10)).collect();
    store.begin_rebalance(&ia, "{}", &event(a, 10, "rebalance")).unwrap();
    store.begin_rebalance(&[intent(b, 1, 0, 10)], "{}", &event(b, 10, "rebalance")).unwrap();
    check("intents");
    store.update_order(&ia[0].client_id, OrderState::New, Some("V"), Qty::ZERO, Timestamp(11)).unwrap();
    store.update_order(&ia[0].client_id, OrderState::Filled, None, Qty(d("1")), Timestamp(12)).unwrap();
    store.update_order(&ia[0].client_id, OrderState::Filled, None, Qty(d("1")), Timestamp(13)).unwrap();
    store.update_order(&ia[1].client_id, OrderState::NotSent, None, Qty::ZERO, Timestamp(12)).unwrap();
    assert!(store.update_order(&ia[1].client_id, OrderState::New, None, Qty::ZERO, Timestamp(13)).is_err());
    check("moves");
    store.record_event(&event(a, 20, "error")).unwrap();
    store.record_event(&event(a, 21, "error")).unwrap();
    store.begin_rebalance(&[intent(a, 2, 0, 30)], "{}", &event(a, 30, "rebalance")).unwrap();
    // A refused rebalance (a client id that exists) counts nothing.
    assert!(store.begin_rebalance(&[intent(a, 2, 0, 31)], "{}", &event(a, 31, "rebalance")).is_err());
    check("events and a refused rebalance");
    assert_eq!(store.order_counts(a).unwrap()["filled"], 1);
    assert_eq!(store.event_counts(a).unwrap()["error"], 2);
}

/// `snapshot_values`: the time, value and net invested of each snapshot from a time
/// on, oldest first, two at one time both kept in recording order.
pub fn snapshot_values_are_the_snapshots_figures(store: &dyn Store) {
    let bot = new_bot(store, "a", 1);
    let other = new_bot(store, "b", 1);
    for t in [30, 10, 20, 20] {
        let mut s = snapshot(bot, t);
        s.value = Notional(Decimal::from(t) + d("0.5"));
        s.net_invested = Notional(Decimal::from(t * 2));
        store.record_snapshot(&s).unwrap();
    }
    store.record_snapshot(&snapshot(other, 15)).unwrap();
    let all = store.snapshot_values(bot, None).unwrap();
    assert_eq!(all.iter().map(|v| v.time.0).collect::<Vec<_>>(), vec![10, 20, 20, 30]);
    assert!(all[1].id < all[2].id, "one time: recording order");
    assert_eq!((all[3].value.0, all[3].net_invested.0), (d("30.5"), d("60")));
    let from = store.snapshot_values(bot, Some(Timestamp(20))).unwrap();
    assert_eq!(from, all[1..].to_vec());
    let full = store.snapshots(bot, 10).unwrap();
    for (v, s) in all.iter().zip(&full) {
        assert_eq!((v.time, v.value, v.net_invested), (s.time, s.value, s.net_invested));
    }
    assert!(store.snapshot_values(bot, Some(Timestamp(31))).unwrap().is_empty());
}

/// A step's snapshot with a bucket replaces the bot's latest one in the same bucket (not
/// an earlier bucket's, not another bot's, never a later one); without a bucket, or in
/// a new bucket, a row is added.
pub fn snapshots_in_one_bucket_keep_the_latest(store: &dyn Store) {
    let bot = new_bot(store, "a", 1);
    let other = new_bot(store, "b", 1);
    let step = |t: i64, value: &str| {
        let mut s = snapshot(bot, t);
        s.value = Notional(d(value));
        store
            .commit(&Change {
                bot,
                snapshot: Some(s),
                snapshot_bucket_ms: Some(100),
                now: Timestamp(t),
                lazy: true,
                ..Change::default()
            })
            .unwrap();
    };
    store.record_snapshot(&snapshot(other, 150)).unwrap();
    step(110, "1");
    step(150, "2");
    step(199, "3");
    step(200, "4");
    step(250, "5");
    // A verb's snapshot (no bucket) adds a row; the next step's then replaces it.
    store.record_snapshot(&snapshot(bot, 260)).unwrap();
    step(270, "6");
    let all = store.snapshot_values(bot, None).unwrap();
    let got: Vec<(i64, Decimal)> = all.iter().map(|v| (v.time.0, v.value.0)).collect();
    assert_eq!(got, vec![(199, d("3")), (250, d("5")), (270, d("6"))]);
    assert_eq!(store.snapshots(other, 10).unwrap().len(), 1, "another bot's row is left alone");
}

/// `orders_page`: newest first, by state, side and coin, paged back by row id; another
/// bot's orders never in it.
pub fn orders_pages_filter_and_page_back(store: &dyn Store) {
    let bot = new_bot(store, "a", 1);
    let other = new_bot(store, "b", 1);
    let mut all = Vec::new();
    for seq in 1..=4 {
        let legs: Vec<Intent> = (0..3)
            .map(|leg| {
                let mut i = intent(bot, seq, leg, seq * 10);
                i.side = if leg == 0 { Side::Sell } else { Side::Buy };
                i.base = asset(["BTC", "ETH", "XRP"][leg as usize]);
                i
            })
            .collect();
        store.begin_rebalance(&legs, "{}", &event(bot, seq * 10, "rebalance")).unwrap();
        all.extend(legs);
    }
    store.begin_rebalance(&[intent(other, 1, 0, 5)], "{}", &event(other, 5, "rebalance")).unwrap();
    store.update_order(&all[0].client_id, OrderState::Filled, None, Qty(d("1")), Timestamp(11)).unwrap();
    store.update_order(&all[4].client_id, OrderState::Filled, None, Qty(d("1")), Timestamp(21)).unwrap();
    let page = |f: &OrderFilter, before, limit| store.orders_page(bot, f, before, limit).unwrap();
    let everything = page(&OrderFilter::default(), None, 100);
    assert_eq!(everything.len(), 12);
    assert!(everything.windows(2).all(|w| w[0].0 > w[1].0), "newest first");
    assert_eq!(everything[0].1.intent, all[11]);
    // Paged back: two pages of five and one of two, the same rows in the same order.
    let p1 = page(&OrderFilter::default(), None, 5);
    let p2 = page(&OrderFilter::default(), Some(p1[4].0), 5);
    let p3 = page(&OrderFilter::default(), Some(p2[4].0), 5);
    let joined: Vec<_> = p1.iter().chain(&p2).chain(&p3).cloned().collect();
    assert_eq!((joined, p3.len()), (everything.clone(), 2));
    let sells = page(&OrderFilter { side: Some(Side::Sell), ..Default::default() }, None, 100);
    assert_eq!(sells.len(), 4);
    assert!(sells.iter().all(|(_, o)| o.intent.side == Side::Sell && o.intent.base == asset("BTC")));
    let filled = page(&OrderFilter { state: Some(OrderState::Filled), ..Default::default() }, None, 100);
    assert_eq!(
        filled.iter().map(|(_, o)| o.intent.client_id.clone()).collect::<Vec<_>>(),
        vec![all[4].client_id.clone(), all[0].client_id.clone()]
    );
    let eth_buys = OrderFilter { side: Some(Side::Buy), asset: Some(asset("ETH")), state: None };
    assert_eq!(page(&eth_buys, None, 100).len(), 4);
    let none = OrderFilter { side: Some(Side::Sell), asset: Some(asset("ETH")), state: None };
    assert!(page(&none, None, 100).is_empty());
}

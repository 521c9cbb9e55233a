//! SQLite-specific behaviour: files, WAL, migrations, durability, corrupt records.

use std::path::Path;

use ballast_core::Timestamp;
use ballast_exchange::ClientOrderId;
use ballast_store::sqlite::{SCHEMA_VERSION, SqliteStore, contract};
use ballast_store::{BotStatus, Event, NewBot, Store, StoreError};
use rusqlite::Connection;

fn new_bot(store: &dyn Store, name: &str) -> i64 {
    store
        .create_bot(&NewBot {
            name: name.into(),
            venue: "paper".into(),
            config_toml: String::new(),
            created_at: Timestamp(1),
        })
        .unwrap()
}

fn raw(path: &Path) -> Connection {
    Connection::open(path).unwrap()
}

#[test]
fn open_creates_the_file_and_its_directories() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/c/ballast.db");
    let store = SqliteStore::open(&path).unwrap();
    assert!(path.is_file());
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
}

#[test]
fn the_database_file_is_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ballast.db");
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.journal_mode().unwrap(), "wal");
    new_bot(&store, "a");
    // WAL is a property of the file: another connection sees it too.
    let mode: String = raw(&path).pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    assert!(dir.path().join("ballast.db-wal").exists());
}

#[test]
fn reopening_keeps_data_and_does_not_rerun_migrations() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ballast.db");
    let bot = {
        let store = SqliteStore::open(&path).unwrap();
        new_bot(&store, "a")
    };
    let version: i64 = raw(&path).pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    // Re-running the first migration would fail (CREATE TABLE without IF NOT EXISTS).
    for _ in 0..2 {
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(store.bots().unwrap().len(), 1);
        assert_eq!(store.bot(bot).unwrap().unwrap().name, "a");
    }
}

#[test]
fn a_newer_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ballast.db");
    drop(SqliteStore::open(&path).unwrap());
    raw(&path).pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
    match SqliteStore::open(&path) {
        Err(StoreError::Db(m)) => assert_eq!(
            m,
            format!(
                "{}: database schema version {} is newer than this ballast ({SCHEMA_VERSION})",
                path.display(),
                SCHEMA_VERSION + 1
            )
        ),
        other => panic!("expected a Db error, got {other:?}"),
    }
}

#[test]
fn a_file_that_is_not_a_database_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ballast.db");
    std::fs::write(&path, b"this is not a database, just some text long enough to fill a header!!").unwrap();
    assert!(matches!(SqliteStore::open(&path), Err(StoreError::Db(_))));
}

#[test]
fn durable_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ballast.db");
    contract::reopen_keeps_everything(&|| Box::new(SqliteStore::open(&path).unwrap()));
}

#[test]
fn two_stores_on_one_file_see_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ballast.db");
    let a = SqliteStore::open(&path).unwrap();
    let b = SqliteStore::open(&path).unwrap();
    let bot = new_bot(&a, "a");
    b.save_state(bot, "{}").unwrap();
    assert_eq!(a.load_state(bot).unwrap().as_deref(), Some("{}"));
    // The name rule holds across connections.
    match b.create_bot(&NewBot {
        name: "a".into(),
        venue: "x".into(),
        config_toml: String::new(),
        created_at: Timestamp(2),
    }) {
        Err(StoreError::Conflict(m)) => assert_eq!(m, format!("a bot named a exists (id {bot})")),
        other => panic!("{other:?}"),
    }
}

/// Writes bad text straight into the file, then reads it through the store.
fn corrupt(sql: &str) -> (tempfile::TempDir, SqliteStore, i64) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ballast.db");
    let store = SqliteStore::open(&path).unwrap();
    let bot = new_bot(&store, "a");
    let intents = [contract_intent(bot)];
    let ev = Event {
        bot,
        time: Timestamp(5),
        kind: "rebalance".into(),
        message: String::new(),
        data: serde_json::json!({}),
    };
    store.begin_rebalance(&intents, "{}", &ev).unwrap();
    store.record_fill(&intents[0].client_id, &contract_fill()).unwrap();
    let conn = raw(&path);
    conn.pragma_update(None, "ignore_check_constraints", true).unwrap();
    conn.execute_batch(sql).unwrap();
    (dir, store, bot)
}

fn contract_intent(bot: i64) -> ballast_store::Intent {
    use ballast_core::{Asset, Price, Qty};
    use rust_decimal_macros::dec;
    ballast_store::Intent {
        bot,
        client_id: ClientOrderId::for_leg(&ballast_exchange::OrderTag::legacy(), bot, 1, 0).unwrap(),
        seq: 1,
        leg: 0,
        base: Asset::new("BTC").unwrap(),
        quote: Asset::new("USDT").unwrap(),
        side: ballast_core::planner::Side::Buy,
        qty: Qty(dec!(0.5)),
        kind: ballast_exchange::OrderKind::Market,
        planned_price: Price(dec!(84500)),
        created_at: Timestamp(5),
        expires_at: None,
    }
}

fn contract_fill() -> ballast_exchange::Fill {
    use ballast_core::{Asset, Price, Qty};
    use rust_decimal_macros::dec;
    ballast_exchange::Fill {
        trade_id: "t1".into(),
        qty: Qty(dec!(0.5)),
        price: Price(dec!(84500)),
        fee: Qty(dec!(0.01)),
        fee_asset: Asset::new("USDT").unwrap(),
        time: Timestamp(6),
    }
}

fn assert_corrupt<T: std::fmt::Debug>(r: Result<T, StoreError>, names: &str) {
    match r {
        Err(StoreError::Corrupt(m)) => assert!(m.contains(names), "{m:?} should name {names}"),
        other => panic!("expected Corrupt naming {names}, got {other:?}"),
    }
}

#[test]
fn corrupt_records_are_errors_not_panics() {
    let (_d, s, bot) = corrupt("UPDATE orders SET qty = 'abc'");
    assert_corrupt(s.unresolved(bot), "orders.qty");
    assert_corrupt(s.orders(bot, 10), "orders.qty");

    let (_d, s, bot) = corrupt("UPDATE orders SET filled = '1.2.3'");
    assert_corrupt(s.unresolved(bot), "orders.filled");

    let (_d, s, bot) = corrupt("UPDATE orders SET side = 'hold'");
    assert_corrupt(s.orders(bot, 10), "orders.side");
    assert_corrupt(s.fills(bot), "orders.side");

    let (_d, s, bot) = corrupt("UPDATE orders SET kind = '{\"type\":\"stop\"}'");
    assert_corrupt(s.orders(bot, 10), "orders.kind");

    let (_d, s, bot) = corrupt("UPDATE orders SET base = 'not an asset'");
    assert_corrupt(s.orders(bot, 10), "orders.base");

    let (_d, s, bot) = corrupt("UPDATE orders SET state = 'exploded'");
    assert_corrupt(s.orders(bot, 10), "orders.state");
    let cid = ClientOrderId::for_leg(&ballast_exchange::OrderTag::legacy(), bot, 1, 0).unwrap();
    assert_corrupt(
        s.update_order(&cid, ballast_store::OrderState::New, None, ballast_core::Qty::ZERO, Timestamp(9)),
        "orders.state",
    );

    let (_d, s, bot) = corrupt("UPDATE bots SET status = 'zombie'");
    assert_corrupt(s.bot(bot), "bots.status");
    assert_corrupt(s.bots(), "bots.status");
    assert_corrupt(s.set_status(bot, BotStatus::Paused, "", Timestamp(9)), "bots.status");

    let (_d, s, bot) = corrupt("UPDATE bots SET created_at = 'yesterday'");
    assert_corrupt(s.bot(bot), "bots.created_at");

    let (_d, s, bot) = corrupt("UPDATE fills SET price = ''");
    assert_corrupt(s.fills(bot), "fills.price");

    let (_d, s, bot) = corrupt("UPDATE events SET data = '{not json'");
    assert_corrupt(s.events(bot, 10), "events.data");

    let (_d, s, bot) = corrupt(
        "INSERT INTO cash_flows (bot_id, time, asset, qty, value, note) VALUES (1, 1, 'USDT', '1e999', '1', '')",
    );
    assert_corrupt(s.cash_flows(bot), "cash_flows.qty");

    let (_d, s, bot) = corrupt(
        "INSERT INTO snapshots (bot_id, time, value, holdings, prices, net_invested, hodl_value, fees_paid) \
         VALUES (1, 1, '1', '{\"BTC\":\"x\"}', '{}', '1', '1', '1')",
    );
    assert_corrupt(s.snapshots(bot, 10), "snapshots.holdings");
}

/// A data directory keeps its order tag across reopenings; another directory (a reset,
/// a second installation on the same account) draws another.
#[test]
fn order_tag_is_per_data_directory() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let tag_a = SqliteStore::open(&a.path().join("ballast.sqlite")).unwrap().order_tag().unwrap();
    assert_eq!(SqliteStore::open(&a.path().join("ballast.sqlite")).unwrap().order_tag().unwrap(), tag_a);
    let tag_b = SqliteStore::open(&b.path().join("ballast.sqlite")).unwrap().order_tag().unwrap();
    // 26^5 tags: two draws agree once in about 12 million.
    assert_ne!(tag_a, tag_b);
}

fn lazy_state(bot: i64, json: &str) -> ballast_store::Change {
    ballast_store::Change {
        bot,
        state_json: Some(json.into()),
        lazy: true,
        now: Timestamp(7),
        ..ballast_store::Change::default()
    }
}

/// A group: lazy writes reach other connections when it ends; a durable write inside
/// it is committed (with every lazy write before it) when it returns; a failing unit
/// undoes only itself.
#[test]
fn a_group_commits_lazy_writes_at_its_end_and_durable_ones_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ballast.db");
    let runner = SqliteStore::open(&path).unwrap();
    let other = SqliteStore::open(&path).unwrap();
    let bot = new_bot(&runner, "a");
    runner.begin_group().unwrap();
    runner.commit(&lazy_state(bot, "{\"step\":1}")).unwrap();
    assert_eq!(runner.load_state(bot).unwrap().as_deref(), Some("{\"step\":1}"), "its own writes are read back");
    assert_eq!(other.load_state(bot).unwrap(), None, "not committed yet");
    // A unit that fails (an intent for another bot) undoes itself, not the group.
    let mut bad = lazy_state(bot, "{\"step\":2}");
    bad.intents = vec![contract_intent(bot + 1)];
    assert!(matches!(runner.commit(&bad), Err(StoreError::Conflict(_))));
    assert_eq!(runner.load_state(bot).unwrap().as_deref(), Some("{\"step\":1}"));
    // Intents are durable when the commit returns: the group is committed with them.
    let mut sent = lazy_state(bot, "{\"step\":3}");
    sent.intents = vec![contract_intent(bot)];
    runner.commit(&sent).unwrap();
    assert_eq!(other.unresolved(bot).unwrap().len(), 1);
    assert_eq!(other.load_state(bot).unwrap().as_deref(), Some("{\"step\":3}"));
    runner.commit(&lazy_state(bot, "{\"step\":4}")).unwrap();
    assert_eq!(other.load_state(bot).unwrap().as_deref(), Some("{\"step\":3}"));
    runner.end_group().unwrap();
    assert_eq!(other.load_state(bot).unwrap().as_deref(), Some("{\"step\":4}"));
    // Back to a transaction per write, synced.
    let synchronous = raw(&path).pragma_query_value(None, "synchronous", |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!(synchronous, 2, "a new connection's default");
    runner.set_status(bot, BotStatus::Paused, "x", Timestamp(8)).unwrap();
    assert_eq!(other.bot(bot).unwrap().unwrap().status, BotStatus::Paused);
}

/// Another process that holds a bot and waits to write is not kept waiting by the
/// group of a runner that waits for the same bot (no deadlock until a timeout).
#[test]
fn a_runner_waiting_for_a_bot_commits_its_group_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ballast.db");
    let runner = SqliteStore::open(&path).unwrap();
    let bot = new_bot(&runner, "a");
    let other = SqliteStore::open(&path).unwrap();
    let held = other.lock_bot(bot).unwrap();
    runner.begin_group().unwrap();
    runner.commit(&lazy_state(bot, "{\"runner\":1}")).unwrap();
    std::thread::scope(|s| {
        let waiting = s.spawn(|| runner.lock_bot(bot).map(|_| ()));
        // The group holds the write lock until the runner waits for the bot; then the
        // other process's write goes through (within SQLite's busy wait: without it,
        // this would answer busy).
        other.set_status(bot, BotStatus::Paused, "edited", Timestamp(9)).unwrap();
        drop(held);
        waiting.join().unwrap().unwrap();
    });
    runner.end_group().unwrap();
    assert_eq!(other.load_state(bot).unwrap().as_deref(), Some("{\"runner\":1}"));
    assert_eq!(other.bot(bot).unwrap().unwrap().status, BotStatus::Paused);
}

/// Found with a runner stepping 1,000 bots beside CLI verbs (2026-12-03): a verb took a
/// bot the runner had just stepped inside its open group, read the state before the
/// group's commit, and failed "changed meanwhile ... try again" (5 of 60 verbs). A bot
/// stepped in a group stays locked until the group's writes are committed.
#[test]
fn a_bot_written_in_an_open_group_stays_locked_until_the_group_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ballast.db");
    let runner = SqliteStore::open(&path).unwrap();
    let bot = new_bot(&runner, "a");
    runner.commit(&lazy_state(bot, "{\"v\":0}")).unwrap();
    let cli = SqliteStore::open(&path).unwrap();
    runner.begin_group().unwrap();
    {
        let _step = runner.lock_bot(bot).unwrap();
        runner.commit(&lazy_state(bot, "{\"v\":1}")).unwrap();
    }
    std::thread::scope(|s| {
        let verb = s.spawn(|| {
            let _lock = cli.lock_bot(bot).unwrap();
            // What the verb reads under its lock is what the runner wrote.
            cli.load_state(bot).unwrap()
        });
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(!verb.is_finished(), "the verb waits for the group's commit");
        runner.end_group().unwrap();
        assert_eq!(verb.join().unwrap().as_deref(), Some("{\"v\":1}"));
    });
    // Outside a group a lock is released at once.
    drop(runner.lock_bot(bot).unwrap());
    drop(cli.lock_bot(bot).unwrap());
}

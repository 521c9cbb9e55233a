//! SQLite implementation of the Store.
//!
//! One connection behind a mutex (every call is serialized; plenty for one process
//! running a handful of bots). The database runs in WAL mode with `synchronous=FULL`:
//! once [`Store::begin_rebalance`] or a [`Store::commit`] with intents has returned,
//! they survive a power cut. A step's own record (a lazy [`Change`]), order updates,
//! fills, events, snapshots and the replay clock are written with `synchronous=NORMAL`
//! (no disk sync of their own): a crash of the process loses none of them (they are in
//! the log, in the operating system's cache), a power cut may lose the last ones, which
//! the next durable commit or [`Store::sync`] (once per round of a runner) makes
//! durable. What such a cut can lose is what the venue tells again (an order's state,
//! its fills, found by reconciliation) or a step that sent nothing, done again.
//!
//! Between [`Store::begin_group`] and [`Store::end_group`] (a paper runner's round,
//! a group of bots at a time) every unit of work is a savepoint of one open
//! transaction: the pages a group's steps share are written once, and reads take no
//! lock of their own. The connection then runs with `synchronous=NORMAL`; a durable
//! unit commits the group and syncs the log before it returns; the group is also
//! committed at its end, by [`Store::sync`], and when the runner waits for a bot that
//! another process holds (which may be waiting to write). A crash of the process loses
//! the lazy writes of the open group, as a power cut would.
//!
//! # Schema and migrations
//!
//! The schema version is `PRAGMA user_version`. [`MIGRATIONS`] is an ordered list of
//! SQL scripts; migration `i` (0-based) takes the database from version `i` to `i + 1`.
//! On open, the missing migrations are applied in one immediate transaction together
//! with the new `user_version`, so a crash leaves either the old or the new schema.
//! A database whose version is newer than [`SCHEMA_VERSION`] is refused.
//!
//! Decimals are stored as TEXT (exact), timestamps as INTEGER milliseconds, enums as
//! their text, JSON as TEXT. Reading back text that does not parse gives
//! [`StoreError::Corrupt`] naming the table and column.
//!
//! # Order states
//!
//! [`Store::update_order`] refuses to move an order from a final state
//! ([`OrderState::is_final`]) back to a non-final one with [`StoreError::Conflict`]:
//! a filled order cannot become new again. A final state may be replaced by a final
//! state (a correction such as `not_sent` -> `filled` when a venue lists an order late).
//!
//! # Bot status
//!
//! A stopped bot never trades again: [`Store::set_status`] refuses to move a bot out
//! of `stopped` with [`StoreError::Conflict`] (stopped -> stopped updates the reason).

#[doc(hidden)]
#[path = "contract.rs"]
pub mod contract;

use std::collections::BTreeMap;
use std::collections::HashSet;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use ballast_core::planner::Side;
use ballast_core::{Asset, Notional, Price, Qty, Timestamp};
use ballast_exchange::{ClientOrderId, Fill, OrderKind, OrderTag};
use rusqlite::types::FromSql;
use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, TransactionBehavior, params};
use rust_decimal::Decimal;

use crate::{
    BotId, BotLock, BotRecord, BotStatus, CashFlow, Change, Event, FillRow, Intent, LedgerEntry, NewBot, OrderFilter,
    OrderRow, OrderState, Snapshot, SnapshotRange, SnapshotValue, Store, StoreError, Versioned,
};

/// The schema migrations, in order: entry `i` takes version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_state_version.sql"),
    include_str!("migrations/0003_order_safety.sql"),
    include_str!("migrations/0004_ledger.sql"),
    include_str!("migrations/0005_history_indexes.sql"),
    include_str!("migrations/0006_replay_clock.sql"),
    include_str!("migrations/0007_read_model.sql"),
];

/// The schema version this code writes and understands.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Pages of write-ahead log between two checkpoints.
const WAL_AUTOCHECKPOINT: i64 = 8_192;

/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 128;

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long [`Store::lock_bot`] waits for another holder before it answers
/// [`StoreError::Busy`].
pub const BOT_LOCK_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the per-bot locks live: lock files beside a database file (they work across
/// processes: `flock` locks, released by the kernel when a holder dies), or a table in
/// memory for an in-memory database.
#[derive(Debug)]
enum Locks {
    Files(std::path::PathBuf),
    Memory(Arc<(Mutex<HashSet<BotId>>, Condvar)>),
}

/// The SQLite store. `Send + Sync`; share it with an `Arc`.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Db>,
    locks: Locks,
}

/// The connection and how its writes are grouped.
#[derive(Debug)]
struct Db {
    conn: Connection,
    /// The write-ahead log of a database file (what [`Store::sync`] makes durable).
    wal: Option<std::path::PathBuf>,
    /// Between [`Store::begin_group`] and [`Store::end_group`]: every write is a
    /// savepoint of one open transaction (the group), committed when a durable write
    /// needs it, when another process waits for a bot, and at the group's end; the
    /// connection then runs with `synchronous=NORMAL` and a durable write is the
    /// group's commit followed by a sync of the log.
    group: bool,
    /// Inside [`lazily`] while grouping: the write needs no commit of its own.
    lazy: bool,
    /// The bot locks released while the group's transaction was open: held until it
    /// commits (see [`Parked`]).
    parked: Arc<Mutex<Parked>>,
}

/// Bot locks whose writes wait in an open group ([`Store::begin_group`]): a lock taken
/// by a step of the group and dropped is kept here, still held, until the group's
/// transaction ends, so that no other process takes the bot and reads its state from
/// before the step (it would fail at its commit, the state's version having moved).
#[derive(Debug, Default)]
struct Parked {
    /// Between `begin_group` and `end_group`.
    grouping: bool,
    /// The lock files still held.
    files: Vec<std::fs::File>,
}

/// A bot's lock file: released when dropped, or parked until the group commits.
struct LockFile {
    file: Option<std::fs::File>,
    parked: Arc<Mutex<Parked>>,
}

impl Drop for LockFile {
    fn drop(&mut self) {
        let mut parked = self.parked.lock().unwrap_or_else(PoisonError::into_inner);
        if parked.grouping
            && let Some(file) = self.file.take()
        {
            parked.files.push(file);
        }
    }
}

impl std::ops::Deref for Db {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl std::ops::DerefMut for Db {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

impl Db {
    /// Syncs the write-ahead log (what is committed becomes durable).
    fn sync_log(&self) -> Result<(), StoreError> {
        let Some(wal) = &self.wal else { return Ok(()) };
        match std::fs::File::open(wal) {
            Ok(f) => f.sync_data().map_err(|e| StoreError::Db(format!("sync {}: {e}", wal.display()))),
            // Nothing written since the log was last folded into the database (which
            // SQLite syncs when it does that).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::Db(format!("sync {}: {e}", wal.display()))),
        }
    }

    /// Commits the open group, if any (not synced: a lazy commit), and releases the
    /// bot locks parked until then.
    fn close_group(&self) -> Result<(), StoreError> {
        let committed = if self.conn.is_autocommit() {
            Ok(())
        } else {
            self.conn
                .prepare_cached("COMMIT")
                .and_then(|mut st| st.execute([]))
                .map(|_| ())
                .map_err(|e| db_err("commit", e))
        };
        if self.conn.is_autocommit() {
            // Committed (or never opened): what the parked bots' steps wrote is visible.
            self.parked.lock().unwrap_or_else(PoisonError::into_inner).files.clear();
        }
        committed
    }
}

/// A held in-memory bot lock.
struct MemoryLock(Arc<(Mutex<HashSet<BotId>>, Condvar)>, BotId);

impl Drop for MemoryLock {
    fn drop(&mut self) {
        let (set, cv) = &*self.0;
        set.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.1);
        cv.notify_all();
    }
}

impl SqliteStore {
    /// Opens (creating the file and its parent directories if needed) and migrates
    /// the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Db(format!("create directory {}: {e}", dir.display())))?;
        }
        let conn = Connection::open(path).map_err(|e| StoreError::Db(format!("open {}: {e}", path.display())))?;
        // The account's history: readable by its owner only.
        ballast_fs::restrict_file(path)
            .map_err(|e| StoreError::Db(format!("{}: set mode 0600: {e}", path.display())))?;
        let mut locks = path.as_os_str().to_owned();
        locks.push(".locks");
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        let store = Self::init(conn, MIGRATIONS, Locks::Files(locks.into())).map_err(|e| match e {
            StoreError::Db(m) => StoreError::Db(format!("{}: {m}", path.display())),
            other => other,
        })?;
        store.lock().wal = Some(wal.into());
        Ok(store)
    }

    /// A private in-memory database (for tests).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().map_err(|e| db_err("open in-memory database", e))?;
        Self::init(conn, MIGRATIONS, Locks::Memory(Arc::default()))
    }

    fn init(mut conn: Connection, migrations: &[&str], locks: Locks) -> Result<Self, StoreError> {
        // Every statement of a step stays prepared (the default of 16 is fewer than a
        // step uses, so they were parsed again each time).
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        configure(&conn)?;
        check_integrity(&conn)?;
        migrate(&mut conn, migrations)?;
        let parked = Arc::new(Mutex::new(Parked::default()));
        Ok(Self { conn: Mutex::new(Db { conn, wal: None, group: false, lazy: false, parked }), locks })
    }

    /// The schema version of the open database (`PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        user_version(&self.lock())
    }

    /// The journal mode of the open database (`"wal"` for a file, `"memory"` in memory).
    pub fn journal_mode(&self) -> Result<String, StoreError> {
        self.lock()
            .pragma_query_value(None, "journal_mode", |r| r.get::<_, String>(0))
            .map_err(|e| db_err("read journal_mode", e))
    }

    fn lock(&self) -> MutexGuard<'_, Db> {
        // A panic while holding the lock cannot leave a transaction open (a dropped
        // rusqlite transaction rolls back), so the connection is still usable.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `PRAGMA quick_check` (every page and index is readable and consistent): a damaged
/// file is refused at open, before anything reads or writes it.
/// The error for a database file that is damaged.
fn damaged(what: String) -> StoreError {
    StoreError::Db(format!("the database is damaged ({what}); ballast will not use it: restore the file from a backup"))
}

/// A failure to open: a damaged file (its schema pages unreadable, or not a database
/// at all) says so, whatever the step that met it; anything else as `db_err`.
fn open_err(op: &str, e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => damaged(format!("{op}: {e}")),
        _ => db_err(op, e),
    }
}

fn check_integrity(conn: &Connection) -> Result<(), StoreError> {
    let mut stmt = conn.prepare("PRAGMA quick_check").map_err(|e| damaged(e.to_string()))?;
    let rows: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect())
        .map_err(|e| damaged(e.to_string()))?;
    match rows.first().map(String::as_str) {
        Some("ok") => Ok(()),
        Some(first) => Err(damaged(format!("integrity check: {first}"))),
        None => Err(damaged("integrity check gave no answer".into())),
    }
}

fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| open_err("set busy_timeout", e))?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(|e| open_err("set journal_mode=WAL", e))?;
    if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory") {
        return Err(StoreError::Db(format!("set journal_mode=WAL: the database stays in {mode} mode")));
    }
    conn.pragma_update(None, "synchronous", "FULL").map_err(|e| open_err("set synchronous=FULL", e))?;
    conn.pragma_update(None, "foreign_keys", "ON").map_err(|e| open_err("set foreign_keys=ON", e))?;
    // The log is folded into the database (with two disk syncs) every 8,192 pages
    // (32 MiB) instead of SQLite's 1,000: a round of many bots' steps, written lazily,
    // costs a few of those instead of dozens.
    conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT)
        .map_err(|e| open_err("set wal_autocheckpoint", e))?;
    Ok(())
}

fn user_version(conn: &Connection) -> Result<i64, StoreError> {
    conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(|e| db_err("read user_version", e))
}

/// Applies the migrations the database lacks, in one transaction.
fn migrate(conn: &mut Connection, migrations: &[&str]) -> Result<(), StoreError> {
    let known = migrations.len() as i64;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|e| db_err("migrate", e))?;
    // Read inside the write transaction: another process may have migrated meanwhile.
    let current = user_version(&tx)?;
    if current > known {
        return Err(StoreError::Db(format!("database schema version {current} is newer than this ballast ({known})")));
    }
    if current < 0 {
        return Err(StoreError::Db(format!("database schema version {current} is invalid")));
    }
    for (i, sql) in migrations.iter().enumerate().skip(current as usize) {
        tx.execute_batch(sql).map_err(|e| db_err(&format!("apply migration {}", i + 1), e))?;
        if i + 1 == LEDGER_MIGRATION {
            rebuild_ledgers(&tx)?;
        }
    }
    if current < known {
        tx.pragma_update(None, "user_version", known).map_err(|e| db_err("set user_version", e))?;
    }
    tx.commit().map_err(|e| db_err("commit migrations", e))
}

/// Maps a rusqlite error: unique violations are conflicts, foreign key violations a
/// missing record, the rest database failures; all say which operation failed.
fn db_err(op: &str, e: rusqlite::Error) -> StoreError {
    let extended = match &e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::ConstraintViolation => f.extended_code,
        _ => return StoreError::Db(format!("{op}: {e}")),
    };
    match extended {
        rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
            StoreError::Conflict(format!("{op}: {e}"))
        }
        rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY => {
            StoreError::NotFound(format!("{op}: a referenced record does not exist"))
        }
        _ => StoreError::Db(format!("{op}: {e}")),
    }
}

fn limit_param(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// Exact text of a decimal (keeps its scale: "1.500" stays "1.500").
fn dec_text(d: Decimal) -> String {
    d.to_string()
}

fn side_text(s: Side) -> &'static str {
    match s {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

fn json_text<T: serde::Serialize>(op: &str, v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Db(format!("{op}: cannot encode JSON: {e}")))
}

// ---- reading rows -------------------------------------------------------------------

fn col<T: FromSql>(row: &Row<'_>, table: &str, name: &str) -> Result<T, StoreError> {
    row.get(name).map_err(|e| StoreError::Corrupt(format!("{table}.{name}: {e}")))
}

fn parse_with<T, E: std::fmt::Display>(
    row: &Row<'_>,
    table: &str,
    name: &str,
    what: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, StoreError> {
    let text: String = col(row, table, name)?;
    parse(&text).map_err(|e| StoreError::Corrupt(format!("{table}.{name}: bad {what} {text:?}: {e}")))
}

fn parse_dec(text: &str, table: &str, name: &str) -> Result<Decimal, StoreError> {
    Decimal::from_str(text).map_err(|e| StoreError::Corrupt(format!("{table}.{name}: bad decimal {text:?}: {e}")))
}

fn parse_side(text: &str) -> Result<Side, StoreError> {
    match text {
        "buy" => Ok(Side::Buy),
        "sell" => Ok(Side::Sell),
        _ => Err(StoreError::Corrupt(format!("orders.side: bad side {text:?}: expected buy or sell"))),
    }
}

fn col_dec(row: &Row<'_>, table: &str, name: &str) -> Result<Decimal, StoreError> {
    parse_with(row, table, name, "decimal", Decimal::from_str)
}

fn col_asset(row: &Row<'_>, table: &str, name: &str) -> Result<Asset, StoreError> {
    parse_with(row, table, name, "asset", Asset::new)
}

fn col_client_id(row: &Row<'_>, table: &str, name: &str) -> Result<ClientOrderId, StoreError> {
    parse_with(row, table, name, "client order id", ClientOrderId::new)
}

fn col_side(row: &Row<'_>, table: &str, name: &str) -> Result<Side, StoreError> {
    parse_with(row, table, name, "side", |s| match s {
        "buy" => Ok(Side::Buy),
        "sell" => Ok(Side::Sell),
        _ => Err("expected buy or sell"),
    })
}

fn col_json<T: serde::de::DeserializeOwned>(row: &Row<'_>, table: &str, name: &str) -> Result<T, StoreError> {
    parse_with(row, table, name, "JSON", |s| serde_json::from_str::<T>(s))
}

fn col_enum<T: FromStr<Err = StoreError>>(row: &Row<'_>, table: &str, name: &str) -> Result<T, StoreError> {
    let text: String = col(row, table, name)?;
    parse_enum(&text, table, name)
}

/// Parses enum text read from `table.column`; failure is [`StoreError::Corrupt`] naming it.
fn parse_enum<T: FromStr<Err = StoreError>>(text: &str, table: &str, name: &str) -> Result<T, StoreError> {
    text.parse().map_err(|e| match e {
        StoreError::Corrupt(m) => StoreError::Corrupt(format!("{table}.{name}: bad {m}")),
        other => StoreError::Corrupt(format!("{table}.{name}: {other}")),
    })
}

const BOT_COLS: &str = "id, name, venue, config_toml, status, status_reason, created_at, updated_at";

fn read_bot(row: &Row<'_>) -> Result<BotRecord, StoreError> {
    const T: &str = "bots";
    Ok(BotRecord {
        id: col(row, T, "id")?,
        name: col(row, T, "name")?,
        venue: col(row, T, "venue")?,
        config_toml: col(row, T, "config_toml")?,
        status: col_enum(row, T, "status")?,
        status_reason: col(row, T, "status_reason")?,
        created_at: Timestamp(col(row, T, "created_at")?),
        updated_at: Timestamp(col(row, T, "updated_at")?),
    })
}

const ORDER_COLS: &str = "client_id, bot_id, seq, leg, base, quote, side, qty, kind, planned_price, state, \
                          venue_id, filled, created_at, updated_at, expires_at";

fn read_order(row: &Row<'_>) -> Result<OrderRow, StoreError> {
    const T: &str = "orders";
    Ok(OrderRow {
        intent: Intent {
            bot: col(row, T, "bot_id")?,
            client_id: col_client_id(row, T, "client_id")?,
            seq: col(row, T, "seq")?,
            leg: col(row, T, "leg")?,
            base: col_asset(row, T, "base")?,
            quote: col_asset(row, T, "quote")?,
            side: col_side(row, T, "side")?,
            qty: Qty(col_dec(row, T, "qty")?),
            kind: col_json::<OrderKind>(row, T, "kind")?,
            planned_price: Price(col_dec(row, T, "planned_price")?),
            created_at: Timestamp(col(row, T, "created_at")?),
            expires_at: col::<Option<i64>>(row, T, "expires_at")?.map(Timestamp),
        },
        state: col_enum(row, T, "state")?,
        venue_id: col(row, T, "venue_id")?,
        filled: Qty(col_dec(row, T, "filled")?),
        updated_at: Timestamp(col(row, T, "updated_at")?),
    })
}

fn read_fill(row: &Row<'_>) -> Result<FillRow, StoreError> {
    const T: &str = "fills";
    Ok(FillRow {
        bot: col(row, "orders", "bot_id")?,
        client_id: col_client_id(row, T, "client_id")?,
        base: col_asset(row, "orders", "base")?,
        quote: col_asset(row, "orders", "quote")?,
        side: col_side(row, "orders", "side")?,
        fill: Fill {
            trade_id: col(row, T, "trade_id")?,
            qty: Qty(col_dec(row, T, "qty")?),
            price: Price(col_dec(row, T, "price")?),
            fee: Qty(col_dec(row, T, "fee")?),
            fee_asset: col_asset(row, T, "fee_asset")?,
            time: Timestamp(col(row, T, "time")?),
        },
    })
}

fn read_cash_flow(row: &Row<'_>) -> Result<CashFlow, StoreError> {
    const T: &str = "cash_flows";
    Ok(CashFlow {
        bot: col(row, T, "bot_id")?,
        time: Timestamp(col(row, T, "time")?),
        asset: col_asset(row, T, "asset")?,
        qty: Qty(col_dec(row, T, "qty")?),
        value: Notional(col_dec(row, T, "value")?),
        note: col(row, T, "note")?,
    })
}

fn read_snapshot(row: &Row<'_>) -> Result<Snapshot, StoreError> {
    const T: &str = "snapshots";
    Ok(Snapshot {
        bot: col(row, T, "bot_id")?,
        time: Timestamp(col(row, T, "time")?),
        value: Notional(col_dec(row, T, "value")?),
        holdings: col_json::<BTreeMap<Asset, Qty>>(row, T, "holdings")?,
        prices: col_json::<BTreeMap<Asset, Price>>(row, T, "prices")?,
        net_invested: Notional(col_dec(row, T, "net_invested")?),
        hodl_value: Notional(col_dec(row, T, "hodl_value")?),
        fees_paid: Notional(col_dec(row, T, "fees_paid")?),
    })
}

fn read_event(row: &Row<'_>) -> Result<Event, StoreError> {
    const T: &str = "events";
    Ok(Event {
        bot: col(row, T, "bot_id")?,
        time: Timestamp(col(row, T, "time")?),
        kind: col(row, T, "kind")?,
        message: col(row, T, "message")?,
        data: col_json(row, T, "data")?,
    })
}

/// Runs a query and reads every row with `read`.
fn query_all<T>(
    conn: &Connection,
    op: &str,
    sql: &str,
    params: impl rusqlite::Params,
    read: impl Fn(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).map_err(|e| db_err(op, e))?;
    let mut rows = stmt.query(params).map_err(|e| db_err(op, e))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(|e| db_err(op, e))? {
        out.push(read(row)?);
    }
    Ok(out)
}

fn require_bot(conn: &Connection, op: &str, id: BotId) -> Result<(), StoreError> {
    let found = conn
        .prepare_cached("SELECT 1 FROM bots WHERE id = ?1")
        .and_then(|mut st| st.query_row([id], |_| Ok(())))
        .optional()
        .map_err(|e| db_err(op, e))?;
    found.ok_or_else(|| StoreError::NotFound(format!("{op}: bot {id}")))
}

fn insert_event(conn: &Connection, op: &str, e: &Event) -> Result<(), StoreError> {
    let data = json_text(op, &e.data)?;
    conn.prepare_cached("INSERT INTO events (bot_id, time, kind, message, data) VALUES (?1, ?2, ?3, ?4, ?5)")
        .and_then(|mut s| s.execute(params![e.bot, e.time.0, e.kind, e.message, data]))
        .map_err(|err| db_err(op, err))?;
    Ok(())
}

fn insert_intents(tx: &Connection, op: &str, intents: &[Intent]) -> Result<(), StoreError> {
    let mut exists = tx.prepare_cached("SELECT 1 FROM orders WHERE client_id = ?1").map_err(|e| db_err(op, e))?;
    let mut insert = tx
        .prepare_cached(
            "INSERT INTO orders (client_id, bot_id, seq, leg, base, quote, side, qty, kind, planned_price, \
             state, venue_id, filled, created_at, updated_at, expires_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, NULL, ?12, ?13, ?13, ?14)",
        )
        .map_err(|e| db_err(op, e))?;
    for i in intents {
        if exists.exists([i.client_id.as_str()]).map_err(|e| db_err(op, e))? {
            return Err(StoreError::Conflict(format!("{op}: client order id {} exists", i.client_id)));
        }
        insert
            .execute(params![
                i.client_id.as_str(),
                i.bot,
                i.seq,
                i.leg,
                i.base.as_str(),
                i.quote.as_str(),
                side_text(i.side),
                dec_text(i.qty.0),
                json_text(op, &i.kind)?,
                dec_text(i.planned_price.0),
                OrderState::Pending.as_str(),
                dec_text(Decimal::ZERO),
                i.created_at.0,
                i.expires_at.map(|t| t.0),
            ])
            .map_err(|e| match db_err(op, e) {
                StoreError::Conflict(_) => {
                    StoreError::Conflict(format!("{op}: client order id {} exists", i.client_id))
                }
                other => other,
            })?;
    }
    Ok(())
}

/// The migration that creates the running ledger (filled from the records then).
const LEDGER_MIGRATION: usize = 4;

/// Adds `held` and `fees` to the bot's ledger of `asset`, exactly (decimal text).
fn add_to_ledger(
    conn: &Connection,
    op: &str,
    bot: BotId,
    asset: &Asset,
    held: Decimal,
    fees: Decimal,
) -> Result<(), StoreError> {
    let current: Option<(String, String)> = conn
        .prepare_cached("SELECT held, fees FROM ledger WHERE bot_id = ?1 AND asset = ?2")
        .and_then(|mut st| st.query_row(params![bot, asset.as_str()], |r| Ok((r.get(0)?, r.get(1)?))).optional())
        .map_err(|e| db_err(op, e))?;
    let (h, f) = match current {
        Some((h, f)) => (parse_dec(&h, "ledger", "held")?, parse_dec(&f, "ledger", "fees")?),
        None => (Decimal::ZERO, Decimal::ZERO),
    };
    let overflow = || StoreError::Corrupt(format!("{op}: the ledger of bot {bot} in {asset} overflows"));
    let (h, f) = (h.checked_add(held).ok_or_else(overflow)?, f.checked_add(fees).ok_or_else(overflow)?);
    conn.prepare_cached(
        "INSERT INTO ledger (bot_id, asset, held, fees) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (bot_id, asset) DO UPDATE SET held = excluded.held, fees = excluded.fees",
    )
    .and_then(|mut st| st.execute(params![bot, asset.as_str(), dec_text(h), dec_text(f)]))
    .map_err(|e| db_err(op, e))?;
    Ok(())
}

/// Applies a new fill of `client_id` to its bot's ledger.
fn fill_to_ledger(conn: &Connection, op: &str, client_id: &ClientOrderId, fill: &Fill) -> Result<(), StoreError> {
    let (bot, base, quote, side): (BotId, String, String, String) = conn
        .prepare_cached("SELECT bot_id, base, quote, side FROM orders WHERE client_id = ?1")
        .and_then(|mut st| st.query_row([client_id.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))))
        .map_err(|e| db_err(op, e))?;
    let asset = |s: &str| Asset::new(s).map_err(|e| StoreError::Corrupt(format!("orders.base/quote {s:?}: {e}")));
    let side = parse_side(&side)?;
    let effects = crate::fill_effects(side, &asset(&base)?, &asset(&quote)?, fill)
        .map_err(|e| StoreError::Corrupt(format!("{op}: {e}")))?;
    for (a, held, fees) in effects {
        add_to_ledger(conn, op, bot, &a, held, fees)?;
    }
    Ok(())
}

/// Fills the ledger of every bot from its records (when the ledger is created).
fn rebuild_ledgers(conn: &Connection) -> Result<(), StoreError> {
    const OP: &str = "build the running ledger";
    conn.prepare_cached("DELETE FROM ledger").and_then(|mut st| st.execute([])).map_err(|e| db_err(OP, e))?;
    let flows = query_all(
        conn,
        OP,
        "SELECT bot_id, time, asset, qty, value, note FROM cash_flows ORDER BY bot_id, time, id",
        [],
        read_cash_flow,
    )?;
    for f in &flows {
        add_to_ledger(conn, OP, f.bot, &f.asset, f.qty.0, Decimal::ZERO)?;
    }
    let fills = query_all(
        conn,
        OP,
        "SELECT o.bot_id, o.base, o.quote, o.side, f.client_id, f.trade_id, f.qty, f.price, f.fee, f.fee_asset, \
         f.time FROM fills f JOIN orders o ON o.client_id = f.client_id ORDER BY f.time, f.id",
        [],
        read_fill,
    )?;
    for r in &fills {
        let effects = crate::fill_effects(r.side, &r.base, &r.quote, &r.fill)
            .map_err(|e| StoreError::Corrupt(format!("{OP}: {e}")))?;
        for (a, held, fees) in effects {
            add_to_ledger(conn, OP, r.bot, &a, held, fees)?;
        }
    }
    Ok(())
}

fn insert_cash_flow(conn: &Connection, op: &str, flow: &CashFlow) -> Result<(), StoreError> {
    add_to_ledger(conn, op, flow.bot, &flow.asset, flow.qty.0, Decimal::ZERO)?;
    conn.prepare_cached(
        "INSERT INTO cash_flows (bot_id, time, asset, qty, value, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut st| {
        st.execute(params![
            flow.bot,
            flow.time.0,
            flow.asset.as_str(),
            dec_text(flow.qty.0),
            dec_text(flow.value.0),
            flow.note
        ])
    })
    .map_err(|e| db_err(op, e))?;
    Ok(())
}

fn insert_snapshot(conn: &Connection, op: &str, s: &Snapshot) -> Result<(), StoreError> {
    write_snapshot(conn, op, s, None)
}

/// Inserts `s`, or writes it over the row `replace`.
fn write_snapshot(conn: &Connection, op: &str, s: &Snapshot, replace: Option<i64>) -> Result<(), StoreError> {
    let sql = match replace {
        None => {
            "INSERT INTO snapshots (bot_id, time, value, holdings, prices, net_invested, hodl_value, fees_paid) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        }
        Some(_) => {
            "UPDATE snapshots SET time = ?2, value = ?3, holdings = ?4, prices = ?5, net_invested = ?6, \
             hodl_value = ?7, fees_paid = ?8 WHERE id = ?1"
        }
    };
    conn.prepare_cached(sql)
        .and_then(|mut st| {
            st.execute(params![
                replace.unwrap_or(s.bot),
                s.time.0,
                dec_text(s.value.0),
                json_text(op, &s.holdings).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?,
                json_text(op, &s.prices).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?,
                dec_text(s.net_invested.0),
                dec_text(s.hodl_value.0),
                dec_text(s.fees_paid.0),
            ])
        })
        .map_err(|e| db_err(op, e))?;
    Ok(())
}

/// Records `s`, replacing the bot's latest snapshot when that one is in the same bucket
/// of `ms` and not later (see [`Change::snapshot_bucket_ms`]).
fn put_snapshot_in_bucket(conn: &Connection, op: &str, s: &Snapshot, ms: i64) -> Result<(), StoreError> {
    let latest: Option<(i64, i64)> = conn
        .prepare_cached("SELECT id, time FROM snapshots WHERE bot_id = ?1 ORDER BY time DESC, id DESC LIMIT 1")
        .and_then(|mut st| st.query_row([s.bot], |r| Ok((r.get(0)?, r.get(1)?))).optional())
        .map_err(|e| db_err(op, e))?;
    let same = latest.filter(|(_, t)| *t <= s.time.0 && t.div_euclid(ms) == s.time.0.div_euclid(ms));
    write_snapshot(conn, op, s, same.map(|(id, _)| id))
}

/// Changes a bot's status; a stopped bot stays stopped.
fn write_status(
    tx: &Connection,
    op: &str,
    id: BotId,
    status: BotStatus,
    reason: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    let current: Option<String> = tx
        .prepare_cached("SELECT status FROM bots WHERE id = ?1")
        .and_then(|mut st| st.query_row([id], |r| r.get(0)))
        .optional()
        .map_err(|e| db_err(op, e))?;
    let current = current.ok_or_else(|| StoreError::NotFound(format!("{op}: bot {id}")))?;
    let current: BotStatus = parse_enum(&current, "bots", "status")?;
    if current == BotStatus::Stopped && status != BotStatus::Stopped {
        return Err(StoreError::Conflict(format!("bot {id} is stopped; it cannot become {status}")));
    }
    tx.prepare_cached("UPDATE bots SET status = ?1, status_reason = ?2, updated_at = ?3 WHERE id = ?4")
        .and_then(|mut st| st.execute(params![status.to_string(), reason, now.0, id]))
        .map_err(|e| db_err(op, e))?;
    Ok(())
}

fn insert_bot(tx: &Connection, op: &str, bot: &NewBot) -> Result<BotId, StoreError> {
    let existing: Option<BotId> = tx
        .prepare_cached("SELECT id FROM bots WHERE name = ?1 AND status <> 'stopped'")
        .and_then(|mut st| st.query_row([&bot.name], |r| r.get(0)))
        .optional()
        .map_err(|e| db_err(op, e))?;
    if let Some(id) = existing {
        return Err(StoreError::Conflict(format!("a bot named {} exists (id {id})", bot.name)));
    }
    tx.prepare_cached(
        "INSERT INTO bots (name, venue, config_toml, status, status_reason, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, '', ?5, ?5)",
    )
    .and_then(|mut st| {
        st.execute(params![bot.name, bot.venue, bot.config_toml, BotStatus::Active.to_string(), bot.created_at.0])
    })
    .map_err(|e| db_err(op, e))?;
    Ok(tx.last_insert_rowid())
}

/// Checks that the bot's state is at `expected` (a bot with no state yet is at 0).
fn check_version(tx: &Connection, op: &str, id: BotId, expected: i64) -> Result<(), StoreError> {
    let found: Option<i64> = tx
        .prepare_cached("SELECT version FROM bot_state WHERE bot_id = ?1")
        .and_then(|mut st| st.query_row([id], |r| r.get(0)))
        .optional()
        .map_err(|e| db_err(op, e))?;
    let found = found.unwrap_or(0);
    if found != expected {
        return Err(StoreError::Conflict(format!(
            "bot {id} was changed meanwhile by another command or process (state version {found}, this change was computed from {expected}); nothing was written, try again"
        )));
    }
    Ok(())
}

fn upsert_state(conn: &Connection, op: &str, bot: BotId, state_json: &str) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO bot_state (bot_id, state_json) VALUES (?1, ?2) \
         ON CONFLICT (bot_id) DO UPDATE SET state_json = excluded.state_json",
    )
    .and_then(|mut s| s.execute(params![bot, state_json]))
    .map_err(|e| db_err(op, e))?;
    Ok(())
}

/// The SQL list of the non-final states: `'pending', 'unknown', ...`.
/// The open orders of a bot, oldest first (through the partial index `orders_open`).
fn unresolved_sql() -> String {
    format!(
        "SELECT {ORDER_COLS} FROM orders WHERE bot_id = ?1 AND state IN ({}) ORDER BY created_at, seq, leg, id",
        open_states_sql()
    )
}

fn open_states_sql() -> String {
    OrderState::ALL.iter().filter(|s| !s.is_final()).map(|s| format!("'{}'", s.as_str())).collect::<Vec<_>>().join(", ")
}

/// Writes a unit of work in one immediate transaction (see [`Store::commit`]).
fn commit_change(conn: &mut Db, c: &Change) -> Result<BotId, StoreError> {
    const OP: &str = "commit";
    let tx = immediate(conn).map_err(|e| db_err(OP, e))?;
    let id = write_change(&tx, c)?;
    tx.commit(OP)?;
    Ok(id)
}

/// Writes a unit of work inside the caller's transaction.
fn write_change(tx: &Connection, c: &Change) -> Result<BotId, StoreError> {
    const OP: &str = "commit";
    let id = match &c.create {
        Some(new) => insert_bot(tx, OP, new)?,
        None => {
            require_bot(tx, OP, c.bot)?;
            c.bot
        }
    };
    if let Some(v) = c.expect_version {
        check_version(tx, OP, id, v)?;
    }
    if let Some(text) = &c.config_toml {
        tx.prepare_cached("UPDATE bots SET config_toml = ?1, updated_at = ?2 WHERE id = ?3")
            .and_then(|mut st| st.execute(params![text, c.now.0, id]))
            .map_err(|e| db_err(OP, e))?;
    }
    if let Some(json) = &c.state_json {
        upsert_state(tx, OP, id, json)?;
    }
    if let Some(v) = c.expect_version {
        tx.prepare_cached("UPDATE bot_state SET version = ?1 WHERE bot_id = ?2")
            .and_then(|mut st| st.execute(params![v + 1, id]))
            .map_err(|e| db_err(OP, e))?;
    }
    if let Some((status, reason)) = &c.status {
        write_status(tx, OP, id, *status, reason, c.now)?;
    }
    let mine = |bot: BotId| if c.create.is_some() { id } else { bot };
    for f in &c.cash_flows {
        insert_cash_flow(tx, OP, &CashFlow { bot: mine(f.bot), ..f.clone() })?;
    }
    let intents: Vec<Intent> = c.intents.iter().map(|i| Intent { bot: mine(i.bot), ..i.clone() }).collect();
    if let Some(i) = intents.iter().find(|i| i.bot != id) {
        return Err(StoreError::Conflict(format!("{OP}: intent {} is for bot {} not {id}", i.client_id, i.bot)));
    }
    insert_intents(tx, OP, &intents)?;
    for e in &c.events {
        insert_event(tx, OP, &Event { bot: mine(e.bot), ..e.clone() })?;
    }
    if let Some(snap) = &c.snapshot {
        let snap = Snapshot { bot: mine(snap.bot), ..snap.clone() };
        match c.snapshot_bucket_ms.filter(|ms| *ms > 0) {
            Some(ms) => put_snapshot_in_bucket(tx, OP, &snap, ms)?,
            None => insert_snapshot(tx, OP, &snap)?,
        }
    }
    Ok(id)
}

/// A unit of work: an immediate write transaction of its own, or, while grouping
/// ([`Store::begin_group`]), a savepoint of the group's transaction (opened here when
/// it is not). BEGIN, COMMIT, SAVEPOINT and the rest are prepared once per connection
/// (rusqlite's own parses them each time, a tenth of a step's cost). Rolled back when
/// dropped uncommitted.
struct Tx<'a> {
    db: &'a Db,
    open: bool,
    nested: bool,
}

fn run(db: &Db, sql: &str) -> rusqlite::Result<()> {
    db.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn immediate(db: &Db) -> rusqlite::Result<Tx<'_>> {
    if !db.group {
        run(db, "BEGIN IMMEDIATE")?;
        return Ok(Tx { db, open: true, nested: false });
    }
    if db.is_autocommit() {
        run(db, "BEGIN IMMEDIATE")?;
    }
    run(db, "SAVEPOINT unit")?;
    Ok(Tx { db, open: true, nested: true })
}

impl Tx<'_> {
    /// Commits the unit. While grouping, a durable unit (not inside [`lazily`]) commits
    /// the group and syncs the log before it returns, then opens the group again.
    fn commit(mut self, op: &str) -> Result<(), StoreError> {
        let db = self.db;
        if !self.nested {
            run(db, "COMMIT").map_err(|e| db_err(op, e))?;
            self.open = false;
            return Ok(());
        }
        run(db, "RELEASE unit").map_err(|e| db_err(op, e))?;
        self.open = false;
        if !db.lazy {
            db.close_group()?;
            db.sync_log()?;
            // Opened again now, so the reads that follow share it too; when another
            // process holds the write lock, the next write opens it.
            let _ = run(db, "BEGIN IMMEDIATE");
        }
        Ok(())
    }
}

impl std::ops::Deref for Tx<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.db.conn
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if self.open {
            if self.nested {
                let _ = run(self.db, "ROLLBACK TO unit").and_then(|()| run(self.db, "RELEASE unit"));
            } else {
                let _ = run(self.db, "ROLLBACK");
            }
        }
    }
}

/// Runs `f` with commits not synced to disk (durable with the next synced write or
/// [`Store::sync`]): for what the venue would tell again or a step's own record. While
/// grouping, its writes stay in the group's open transaction.
fn lazily<T>(db: &mut Db, f: impl FnOnce(&mut Db) -> Result<T, StoreError>) -> Result<T, StoreError> {
    if db.group {
        db.lazy = true;
        let result = f(db);
        db.lazy = false;
        return result;
    }
    set_synchronous(db, "NORMAL")?;
    let result = f(db);
    set_synchronous(db, "FULL")?;
    result
}

/// Sets `PRAGMA synchronous` (`FULL`: every commit is synced; `NORMAL`: not).
fn set_synchronous(conn: &Connection, level: &str) -> Result<(), StoreError> {
    let sql = if level == "NORMAL" { "PRAGMA synchronous = NORMAL" } else { "PRAGMA synchronous = FULL" };
    conn.prepare_cached(sql).and_then(|mut st| st.execute([])).map_err(|e| db_err("set synchronous", e))?;
    Ok(())
}

impl SqliteStore {
    /// `(text, count)` rows of a bot's counts kept on write (migration 0007).
    fn counts(&self, sql: &str, bot: BotId, op: &str) -> Result<BTreeMap<String, u64>, StoreError> {
        let conn = self.lock();
        let rows: Vec<(String, i64)> = conn
            .prepare_cached(sql)
            .and_then(|mut st| st.query_map([bot], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<Vec<_>, _>>())
            .map_err(|e| db_err(op, e))?;
        Ok(rows.into_iter().map(|(k, n)| (k, n.max(0) as u64)).collect())
    }
}

impl Store for SqliteStore {
    fn create_bot(&self, bot: &NewBot) -> Result<BotId, StoreError> {
        const OP: &str = "create bot";
        let conn = self.lock();
        let tx = immediate(&conn).map_err(|e| db_err(OP, e))?;
        let id = insert_bot(&tx, OP, bot)?;
        tx.commit(OP)?;
        Ok(id)
    }

    fn bot(&self, id: BotId) -> Result<Option<BotRecord>, StoreError> {
        let conn = self.lock();
        let sql = format!("SELECT {BOT_COLS} FROM bots WHERE id = ?1");
        Ok(query_all(&conn, "read bot", &sql, [id], read_bot)?.pop())
    }

    fn order_tag(&self) -> Result<OrderTag, StoreError> {
        const OP: &str = "read the installation's order tag";
        let conn = self.lock();
        let tx = immediate(&conn).map_err(|e| db_err(OP, e))?;
        let found: Option<String> = tx
            .prepare_cached("SELECT order_tag FROM installation WHERE id = 1")
            .and_then(|mut st| st.query_row([], |r| r.get(0)))
            .optional()
            .map_err(|e| db_err(OP, e))?;
        let tag = match found {
            Some(t) => OrderTag::new(&t).map_err(|e| StoreError::Corrupt(format!("installation: {e}")))?,
            None => {
                let mut bytes = [0u8; 5];
                getrandom::getrandom(&mut bytes)
                    .map_err(|e| StoreError::Db(format!("{OP}: no randomness for the tag: {e}")))?;
                let tag = OrderTag::from_random(bytes);
                tx.prepare_cached("INSERT INTO installation (id, order_tag) VALUES (1, ?1)")
                    .and_then(|mut st| st.execute([tag.as_str()]))
                    .map_err(|e| db_err(OP, e))?;
                tag
            }
        };
        tx.commit(OP)?;
        Ok(tag)
    }

    fn bots(&self) -> Result<Vec<BotRecord>, StoreError> {
        let conn = self.lock();
        let sql = format!("SELECT {BOT_COLS} FROM bots ORDER BY created_at, id");
        query_all(&conn, "list bots", &sql, [], read_bot)
    }

    fn set_status(&self, id: BotId, status: BotStatus, reason: &str, now: Timestamp) -> Result<(), StoreError> {
        const OP: &str = "set bot status";
        let conn = self.lock();
        let tx = immediate(&conn).map_err(|e| db_err(OP, e))?;
        write_status(&tx, OP, id, status, reason, now)?;
        tx.commit(OP)
    }

    fn set_config(&self, id: BotId, config_toml: &str, now: Timestamp) -> Result<(), StoreError> {
        const OP: &str = "set bot config";
        let conn = self.lock();
        let tx = immediate(&conn).map_err(|e| db_err(OP, e))?;
        let previous: Option<String> = tx
            .prepare_cached("SELECT config_toml FROM bots WHERE id = ?1")
            .and_then(|mut st| st.query_row([id], |r| r.get(0)))
            .optional()
            .map_err(|e| db_err(OP, e))?;
        let previous = previous.ok_or_else(|| StoreError::NotFound(format!("{OP}: bot {id}")))?;
        tx.prepare_cached("UPDATE bots SET config_toml = ?1, updated_at = ?2 WHERE id = ?3")
            .and_then(|mut st| st.execute(params![config_toml, now.0, id]))
            .map_err(|e| db_err(OP, e))?;
        let event = Event {
            bot: id,
            time: now,
            kind: "edit".into(),
            message: "configuration replaced".into(),
            data: serde_json::json!({ "previous_config": previous }),
        };
        insert_event(&tx, OP, &event)?;
        tx.commit(OP)
    }

    fn load_versioned(&self, id: BotId) -> Result<Option<Versioned>, StoreError> {
        self.lock()
            .prepare_cached("SELECT state_json, version FROM bot_state WHERE bot_id = ?1")
            .and_then(|mut st| st.query_row([id], |r| Ok(Versioned { json: r.get(0)?, version: r.get(1)? })))
            .optional()
            .map_err(|e| db_err("load bot state", e))
    }

    fn commit(&self, c: &Change) -> Result<BotId, StoreError> {
        let mut conn = self.lock();
        // Intents, a new bot and money in or out are durable when this returns, even
        // if the change was asked to be lazy.
        if !c.lazy || !c.intents.is_empty() || c.create.is_some() || !c.cash_flows.is_empty() {
            return commit_change(&mut conn, c);
        }
        // Written now, made durable by the next durable write or `sync` (the WAL is
        // append-only: a durable commit makes every frame before it durable too).
        lazily(&mut conn, |conn| commit_change(conn, c))
    }

    fn commit_all(&self, changes: &[Change]) -> Result<Vec<BotId>, StoreError> {
        const OP: &str = "commit";
        let conn = self.lock();
        let tx = immediate(&conn).map_err(|e| db_err(OP, e))?;
        let mut ids = Vec::with_capacity(changes.len());
        for c in changes {
            ids.push(write_change(&tx, c)?);
        }
        tx.commit(OP)?;
        Ok(ids)
    }

    fn held_by_bots(&self, venue: &str, asset: &Asset) -> Result<Qty, StoreError> {
        const OP: &str = "sum what the bots hold";
        let conn = self.lock();
        let rows: Vec<String> = conn
            .prepare_cached(
                "SELECT l.held FROM ledger l JOIN bots b ON b.id = l.bot_id \
                 WHERE l.asset = ?1 AND b.venue = ?2 AND b.status <> 'stopped'",
            )
            .and_then(|mut st| st.query_map(params![asset.as_str(), venue], |r| r.get(0))?.collect())
            .map_err(|e| db_err(OP, e))?;
        let mut total = Decimal::ZERO;
        for h in rows {
            let held = parse_dec(&h, "ledger", "held")?.max(Decimal::ZERO);
            total = total
                .checked_add(held)
                .ok_or_else(|| StoreError::Corrupt(format!("{OP}: the bots' {asset} overflows")))?;
        }
        Ok(Qty(total))
    }

    fn replay_time(&self) -> Result<Option<Timestamp>, StoreError> {
        self.lock()
            .prepare_cached("SELECT now FROM replay_clock WHERE id = 1")
            .and_then(|mut st| st.query_row([], |r| r.get(0)).optional())
            .map(|t| t.map(Timestamp))
            .map_err(|e| db_err("read the replay clock", e))
    }

    fn set_replay_time(&self, t: Timestamp) -> Result<(), StoreError> {
        const OP: &str = "move the replay clock";
        let mut conn = self.lock();
        lazily(&mut conn, |conn| {
            conn.prepare_cached(
                "INSERT INTO replay_clock (id, now) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET now = excluded.now",
            )
            .and_then(|mut st| st.execute([t.0]))
            .map_err(|e| db_err(OP, e))?;
            Ok(())
        })
    }

    fn sync(&self) -> Result<(), StoreError> {
        let db = self.lock();
        // What a group holds is committed first (a sync makes every write so far durable).
        db.close_group()?;
        db.sync_log()
    }

    fn begin_group(&self) -> Result<(), StoreError> {
        let mut db = self.lock();
        if db.group {
            return Ok(());
        }
        // Set outside any transaction (SQLite refuses it inside one); a durable write of
        // the group syncs the log itself.
        set_synchronous(&db, "NORMAL")?;
        db.group = true;
        db.parked.lock().unwrap_or_else(PoisonError::into_inner).grouping = true;
        // Opened now so the reads share it; when the write lock is busy, the first
        // write opens it.
        let _ = run(&db, "BEGIN IMMEDIATE");
        Ok(())
    }

    fn end_group(&self) -> Result<(), StoreError> {
        let mut db = self.lock();
        if !db.group {
            return Ok(());
        }
        db.group = false;
        let closed = db.close_group();
        // The group is over: its locks are released even if its commit failed (a
        // command's commit is still checked against the state's version).
        let mut parked = db.parked.lock().unwrap_or_else(PoisonError::into_inner);
        parked.grouping = false;
        parked.files.clear();
        drop(parked);
        set_synchronous(&db, "FULL")?;
        closed
    }

    fn lock_bot(&self, id: BotId) -> Result<BotLock, StoreError> {
        let deadline = Instant::now() + BOT_LOCK_TIMEOUT;
        match &self.locks {
            Locks::Memory(table) => {
                let (set, cv) = &**table;
                let mut held = set.lock().unwrap_or_else(PoisonError::into_inner);
                while held.contains(&id) {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(StoreError::Busy(format!("bot {id} is being changed by another command")));
                    }
                    held = cv.wait_timeout(held, left).unwrap_or_else(PoisonError::into_inner).0;
                }
                held.insert(id);
                Ok(BotLock::new(Box::new(MemoryLock(table.clone(), id))))
            }
            Locks::Files(dir) => {
                let path = dir.join(format!("bot-{id}.lock"));
                let open =
                    || std::fs::OpenOptions::new().create(true).truncate(false).read(true).write(true).open(&path);
                // The directory is made the first time it is missing (not asked for at
                // every step).
                let file = match open() {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        std::fs::create_dir_all(dir)
                            .map_err(|e| StoreError::Db(format!("lock directory {}: {e}", dir.display())))?;
                        open()
                    }
                    other => other,
                }
                .map_err(|e| StoreError::Db(format!("lock file {}: {e}", path.display())))?;
                loop {
                    match file.try_lock() {
                        Ok(()) => {
                            let parked = self.lock().parked.clone();
                            return Ok(BotLock::new(Box::new(LockFile { file: Some(file), parked })));
                        }
                        Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                            // The holder (another process) may be waiting to write:
                            // the group's transaction must not keep it waiting.
                            self.lock().close_group()?;
                            std::thread::sleep(Duration::from_millis(10))
                        }
                        Err(std::fs::TryLockError::WouldBlock) => {
                            return Err(StoreError::Busy(format!(
                                "bot {id} is being changed by another command or process (it held {} for more than {} s)",
                                path.display(),
                                BOT_LOCK_TIMEOUT.as_secs()
                            )));
                        }
                        Err(std::fs::TryLockError::Error(e)) => {
                            return Err(StoreError::Db(format!("lock {}: {e}", path.display())));
                        }
                    }
                }
            }
        }
    }

    fn load_state(&self, id: BotId) -> Result<Option<String>, StoreError> {
        self.lock()
            .prepare_cached("SELECT state_json FROM bot_state WHERE bot_id = ?1")
            .and_then(|mut st| st.query_row([id], |r| r.get(0)))
            .optional()
            .map_err(|e| db_err("load bot state", e))
    }

    fn save_state(&self, id: BotId, state_json: &str) -> Result<(), StoreError> {
        const OP: &str = "save bot state";
        let conn = self.lock();
        require_bot(&conn, OP, id)?;
        upsert_state(&conn, OP, id, state_json)
    }

    fn begin_rebalance(&self, intents: &[Intent], state_json: &str, event: &Event) -> Result<(), StoreError> {
        const OP: &str = "begin rebalance";
        if let Some(i) = intents.iter().find(|i| i.bot != event.bot) {
            return Err(StoreError::Conflict(format!(
                "{OP}: intent {} is for bot {} but the rebalance is for bot {}",
                i.client_id, i.bot, event.bot
            )));
        }
        let conn = self.lock();
        let tx = immediate(&conn).map_err(|e| db_err(OP, e))?;
        require_bot(&tx, OP, event.bot)?;
        insert_intents(&tx, OP, intents)?;
        upsert_state(&tx, OP, event.bot, state_json)?;
        insert_event(&tx, OP, event)?;
        tx.commit(OP)
    }

    fn update_order(
        &self,
        client_id: &ClientOrderId,
        status: OrderState,
        venue_id: Option<&str>,
        filled: Qty,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        const OP: &str = "update order";
        let mut conn = self.lock();
        lazily(&mut conn, |conn| {
            let tx = immediate(conn).map_err(|e| db_err(OP, e))?;
            let current: Option<String> = tx
                .prepare_cached("SELECT state FROM orders WHERE client_id = ?1")
                .and_then(|mut st| st.query_row([client_id.as_str()], |r| r.get(0)))
                .optional()
                .map_err(|e| db_err(OP, e))?;
            let current = current.ok_or_else(|| StoreError::NotFound(format!("{OP}: order {client_id}")))?;
            let current: OrderState = parse_enum(&current, "orders", "state")?;
            if !current.can_become(status) {
                return Err(StoreError::Conflict(format!(
                    "order {client_id} is {}; it cannot become {}",
                    current.as_str(),
                    status.as_str()
                )));
            }
            tx.prepare_cached(
                "UPDATE orders SET state = ?1, venue_id = COALESCE(?2, venue_id), filled = ?3, updated_at = ?4 \
                 WHERE client_id = ?5",
            )
            .and_then(|mut st| {
                st.execute(params![status.as_str(), venue_id, dec_text(filled.0), now.0, client_id.as_str()])
            })
            .map_err(|e| db_err(OP, e))?;
            tx.commit(OP)
        })
    }

    fn unresolved(&self, bot: BotId) -> Result<Vec<OrderRow>, StoreError> {
        let conn = self.lock();
        query_all(&conn, "list unresolved orders", &unresolved_sql(), [bot], read_order)
    }

    fn orders(&self, bot: BotId, limit: usize) -> Result<Vec<OrderRow>, StoreError> {
        let conn = self.lock();
        let sql = format!(
            "SELECT {ORDER_COLS} FROM orders WHERE bot_id = ?1 \
             ORDER BY created_at DESC, seq DESC, leg DESC, id DESC LIMIT ?2"
        );
        query_all(&conn, "list orders", &sql, params![bot, limit_param(limit)], read_order)
    }

    fn record_fill(&self, client_id: &ClientOrderId, fill: &Fill) -> Result<bool, StoreError> {
        const OP: &str = "record fill";
        let mut conn = self.lock();
        lazily(&mut conn, |conn| {
            let tx = immediate(conn).map_err(|e| db_err(OP, e))?;
            let known = tx
                .prepare_cached("SELECT 1 FROM orders WHERE client_id = ?1")
                .and_then(|mut s| s.exists([client_id.as_str()]))
                .map_err(|e| db_err(OP, e))?;
            if !known {
                return Err(StoreError::NotFound(format!("{OP}: order {client_id}")));
            }
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO fills (client_id, trade_id, qty, price, fee, fee_asset, time) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (client_id, trade_id) DO NOTHING",
                )
                .and_then(|mut st| {
                    st.execute(params![
                        client_id.as_str(),
                        fill.trade_id,
                        dec_text(fill.qty.0),
                        dec_text(fill.price.0),
                        dec_text(fill.fee.0),
                        fill.fee_asset.as_str(),
                        fill.time.0,
                    ])
                })
                .map_err(|e| db_err(OP, e))?;
            if inserted == 1 {
                fill_to_ledger(&tx, OP, client_id, fill)?;
            }
            tx.commit(OP)?;
            Ok(inserted == 1)
        })
    }

    fn fills(&self, bot: BotId) -> Result<Vec<FillRow>, StoreError> {
        let conn = self.lock();
        query_all(
            &conn,
            "list fills",
            "SELECT o.bot_id, o.base, o.quote, o.side, f.client_id, f.trade_id, f.qty, f.price, f.fee, f.fee_asset, \
             f.time FROM fills f JOIN orders o ON o.client_id = f.client_id WHERE o.bot_id = ?1 \
             ORDER BY f.time, f.id",
            [bot],
            read_fill,
        )
    }

    fn record_cash_flow(&self, flow: &CashFlow) -> Result<(), StoreError> {
        const OP: &str = "record cash flow";
        let conn = self.lock();
        let tx = immediate(&conn).map_err(|e| db_err(OP, e))?;
        require_bot(&tx, OP, flow.bot)?;
        insert_cash_flow(&tx, OP, flow)?;
        tx.commit(OP)
    }

    fn ledger(&self, bot: BotId) -> Result<BTreeMap<Asset, LedgerEntry>, StoreError> {
        const OP: &str = "read the ledger";
        let conn = self.lock();
        let rows: Vec<(String, String, String)> = conn
            .prepare_cached("SELECT asset, held, fees FROM ledger WHERE bot_id = ?1 ORDER BY asset")
            .and_then(|mut st| {
                st.query_map([bot], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<Result<Vec<_>, _>>()
            })
            .map_err(|e| db_err(OP, e))?;
        rows.into_iter()
            .map(|(a, h, f)| {
                let asset = Asset::new(&a).map_err(|e| StoreError::Corrupt(format!("ledger.asset {a:?}: {e}")))?;
                Ok((
                    asset,
                    LedgerEntry {
                        held: Qty(parse_dec(&h, "ledger", "held")?),
                        fees: Qty(parse_dec(&f, "ledger", "fees")?),
                    },
                ))
            })
            .collect()
    }

    fn cash_flows(&self, bot: BotId) -> Result<Vec<CashFlow>, StoreError> {
        let conn = self.lock();
        query_all(
            &conn,
            "list cash flows",
            "SELECT bot_id, time, asset, qty, value, note FROM cash_flows WHERE bot_id = ?1 ORDER BY time, id",
            [bot],
            read_cash_flow,
        )
    }

    fn record_snapshot(&self, s: &Snapshot) -> Result<(), StoreError> {
        const OP: &str = "record snapshot";
        let mut conn = self.lock();
        lazily(&mut conn, |conn| {
            require_bot(conn, OP, s.bot)?;
            insert_snapshot(conn, OP, s)
        })
    }

    fn snapshots(&self, bot: BotId, limit: usize) -> Result<Vec<Snapshot>, StoreError> {
        let conn = self.lock();
        let mut out = query_all(
            &conn,
            "list snapshots",
            "SELECT bot_id, time, value, holdings, prices, net_invested, hodl_value, fees_paid FROM snapshots \
             WHERE bot_id = ?1 ORDER BY time DESC, id DESC LIMIT ?2",
            params![bot, limit_param(limit)],
            read_snapshot,
        )?;
        out.reverse();
        Ok(out)
    }

    fn snapshots_range(
        &self,
        bot: BotId,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        max_points: usize,
    ) -> Result<SnapshotRange, StoreError> {
        const OP: &str = "list snapshots of a range";
        let conn = self.lock();
        let from = from.map_or(i64::MIN, |t| t.0);
        let to = to.map_or(i64::MAX, |t| t.0);
        let m = limit_param(max_points.max(2));
        let total: i64 = conn
            .prepare_cached("SELECT COUNT(*) FROM snapshots WHERE bot_id = ?1 AND time >= ?2 AND time <= ?3")
            .and_then(|mut s| s.query_row(params![bot, from, to], |r| r.get(0)))
            .map_err(|e| db_err(OP, e))?;
        // Row `rn` (0-based, by time) of `n` is kept when it is the first at or past
        // k (n - 1) / (m - 1) for some k in 0..m: exactly m rows, the first and the last
        // among them.
        let snapshots = query_all(
            &conn,
            OP,
            "WITH r AS (SELECT id, ROW_NUMBER() OVER (ORDER BY time, id) - 1 AS rn FROM snapshots \
                        WHERE bot_id = ?1 AND time >= ?2 AND time <= ?3) \
             SELECT s.bot_id, s.time, s.value, s.holdings, s.prices, s.net_invested, s.hodl_value, s.fees_paid \
             FROM r JOIN snapshots s ON s.id = r.id \
             WHERE ?4 <= ?5 OR r.rn = 0 \
                OR (r.rn * (?5 - 1)) / (?4 - 1) > ((r.rn - 1) * (?5 - 1)) / (?4 - 1) \
             ORDER BY s.time, s.id",
            params![bot, from, to, total, m],
            read_snapshot,
        )?;
        Ok(SnapshotRange { snapshots, total: total.max(0) as u64 })
    }

    fn order_counts(&self, bot: BotId) -> Result<BTreeMap<String, u64>, StoreError> {
        self.counts("SELECT state, n FROM order_counts WHERE bot_id = ?1 AND n > 0", bot, "read the order counts")
    }

    fn event_counts(&self, bot: BotId) -> Result<BTreeMap<String, u64>, StoreError> {
        self.counts("SELECT kind, n FROM event_counts WHERE bot_id = ?1 AND n > 0", bot, "read the event counts")
    }

    fn snapshot_values(&self, bot: BotId, from: Option<Timestamp>) -> Result<Vec<SnapshotValue>, StoreError> {
        const T: &str = "snapshots";
        let conn = self.lock();
        query_all(
            &conn,
            "list snapshot values",
            "SELECT id, time, value, net_invested FROM snapshots WHERE bot_id = ?1 AND time >= ?2 ORDER BY time, id",
            params![bot, from.map_or(i64::MIN, |t| t.0)],
            |row| {
                Ok(SnapshotValue {
                    id: col(row, T, "id")?,
                    time: Timestamp(col(row, T, "time")?),
                    value: Notional(col_dec(row, T, "value")?),
                    net_invested: Notional(col_dec(row, T, "net_invested")?),
                })
            },
        )
    }

    fn orders_page(
        &self,
        bot: BotId,
        filter: &OrderFilter,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<(i64, OrderRow)>, StoreError> {
        let conn = self.lock();
        let sql = format!(
            "SELECT id, {ORDER_COLS} FROM orders WHERE bot_id = ?1 AND id < ?2 \
             AND (?3 IS NULL OR state = ?3) AND (?4 IS NULL OR side = ?4) AND (?5 IS NULL OR base = ?5) \
             ORDER BY id DESC LIMIT ?6"
        );
        query_all(
            &conn,
            "list a page of orders",
            &sql,
            params![
                bot,
                before.unwrap_or(i64::MAX),
                filter.state.map(|s| s.as_str()),
                filter.side.map(|s| s.to_string()),
                filter.asset.as_ref().map(|a| a.as_str().to_string()),
                limit_param(limit)
            ],
            |row| Ok((col(row, "orders", "id")?, read_order(row)?)),
        )
    }

    fn snapshot_span(&self, bot: BotId) -> Result<Option<(Timestamp, Timestamp)>, StoreError> {
        let conn = self.lock();
        let row: (Option<i64>, Option<i64>) = conn
            .prepare_cached("SELECT MIN(time), MAX(time) FROM snapshots WHERE bot_id = ?1")
            .and_then(|mut s| s.query_row([bot], |r| Ok((r.get(0)?, r.get(1)?))))
            .map_err(|e| db_err("read the span of snapshots", e))?;
        Ok(match row {
            (Some(a), Some(b)) => Some((Timestamp(a), Timestamp(b))),
            _ => None,
        })
    }

    fn rebalance_events(&self, bot: BotId, before: Option<i64>, limit: usize) -> Result<Vec<(i64, Event)>, StoreError> {
        let conn = self.lock();
        query_all(
            &conn,
            "list rebalance events",
            "SELECT id, bot_id, time, kind, message, data FROM events \
             WHERE bot_id = ?1 AND id < ?2 AND json_extract(data, '$.seq') IS NOT NULL \
             ORDER BY id DESC LIMIT ?3",
            params![bot, before.unwrap_or(i64::MAX), limit_param(limit)],
            |row| Ok((col(row, "events", "id")?, read_event(row)?)),
        )
    }

    fn orders_of_seqs(&self, bot: BotId, seqs: &[i64]) -> Result<Vec<OrderRow>, StoreError> {
        if seqs.is_empty() {
            return Ok(Vec::new());
        }
        let conn = self.lock();
        let list = serde_json::to_string(seqs).map_err(|e| StoreError::Corrupt(format!("sequence numbers: {e}")))?;
        let sql = format!(
            "SELECT {ORDER_COLS} FROM orders WHERE bot_id = ?1 \
             AND seq IN (SELECT value FROM json_each(?2)) ORDER BY seq, leg, id"
        );
        query_all(&conn, "list orders of rebalances", &sql, params![bot, list], read_order)
    }

    fn events_page(&self, bot: BotId, before: Option<i64>, limit: usize) -> Result<Vec<(i64, Event)>, StoreError> {
        let conn = self.lock();
        query_all(
            &conn,
            "list events",
            "SELECT id, bot_id, time, kind, message, data FROM events WHERE bot_id = ?1 AND id < ?2 \
             ORDER BY id DESC LIMIT ?3",
            params![bot, before.unwrap_or(i64::MAX), limit_param(limit)],
            |row| Ok((col(row, "events", "id")?, read_event(row)?)),
        )
    }

    fn record_event(&self, e: &Event) -> Result<(), StoreError> {
        const OP: &str = "record event";
        let mut conn = self.lock();
        lazily(&mut conn, |conn| {
            require_bot(conn, OP, e.bot)?;
            insert_event(conn, OP, e)
        })
    }

    fn events(&self, bot: BotId, limit: usize) -> Result<Vec<Event>, StoreError> {
        let conn = self.lock();
        query_all(
            &conn,
            "list events",
            "SELECT bot_id, time, kind, message, data FROM events WHERE bot_id = ?1 \
             ORDER BY time DESC, id DESC LIMIT ?2",
            params![bot, limit_param(limit)],
            read_event,
        )
    }

    fn events_after(&self, after: i64, limit: usize) -> Result<Vec<(i64, Event)>, StoreError> {
        let conn = self.lock();
        query_all(
            &conn,
            "list events after an id",
            "SELECT id, bot_id, time, kind, message, data FROM events WHERE id > ?1 ORDER BY id ASC LIMIT ?2",
            params![after, limit_param(limit)],
            |row| Ok((col(row, "events", "id")?, read_event(row)?)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COUNTING: &[&str] =
        &["CREATE TABLE runs (n INTEGER NOT NULL); INSERT INTO runs VALUES (1);", "INSERT INTO runs VALUES (2);"];

    fn runs(conn: &Connection) -> Vec<i64> {
        let mut stmt = conn.prepare("SELECT n FROM runs ORDER BY n").unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
    }

    #[test]
    fn migrations_apply_once_and_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        let open = |migrations: &[&str]| {
            let conn = Connection::open(&path).unwrap();
            SqliteStore::init(conn, migrations, Locks::Memory(Arc::default()))
        };
        // Version 1, then reopened with a second migration, then reopened again.
        let s = open(&COUNTING[..1]).unwrap();
        assert_eq!(s.schema_version().unwrap(), 1);
        assert_eq!(runs(&s.lock()), vec![1]);
        drop(s);
        let s = open(COUNTING).unwrap();
        assert_eq!(s.schema_version().unwrap(), 2);
        assert_eq!(runs(&s.lock()), vec![1, 2]);
        drop(s);
        let s = open(COUNTING).unwrap();
        assert_eq!(runs(&s.lock()), vec![1, 2], "no migration runs twice");
        drop(s);
        // Older code refuses the newer database.
        let err = open(&COUNTING[..1]).unwrap_err().to_string();
        assert!(err.contains("database schema version 2 is newer than this ballast (1)"), "{err}");
    }

    #[test]
    fn failed_migration_leaves_the_old_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        let open = |migrations: &[&str]| {
            let conn = Connection::open(&path).unwrap();
            SqliteStore::init(conn, migrations, Locks::Memory(Arc::default()))
        };
        drop(open(&COUNTING[..1]).unwrap());
        let bad = [COUNTING[0], "INSERT INTO runs VALUES (2); THIS IS NOT SQL;"];
        let err = open(&bad).unwrap_err();
        assert!(matches!(&err, StoreError::Db(m) if m.contains("apply migration 2")), "{err}");
        let s = open(&COUNTING[..1]).unwrap();
        assert_eq!(s.schema_version().unwrap(), 1);
        assert_eq!(runs(&s.lock()), vec![1], "the failed migration was rolled back");
    }

    #[test]
    fn lazy_writes_are_written_and_leave_every_other_write_synced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let s = SqliteStore::open(&path).unwrap();
        let synchronous =
            |s: &SqliteStore| s.lock().pragma_query_value(None, "synchronous", |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(s.replay_time().unwrap(), None, "no replay has moved yet");
        s.set_replay_time(Timestamp(1_700_000_000_000)).unwrap();
        assert_eq!(synchronous(&s), 2, "back to FULL after a lazy write");
        let id = s
            .commit(&Change {
                create: Some(NewBot {
                    name: "b".into(),
                    venue: "paper".into(),
                    config_toml: String::new(),
                    created_at: Timestamp(0),
                }),
                state_json: Some("{}".into()),
                now: Timestamp(0),
                ..Change::default()
            })
            .unwrap();
        s.commit(&Change {
            bot: id,
            state_json: Some("{\"x\":1}".into()),
            lazy: true,
            now: Timestamp(1),
            ..Change::default()
        })
        .unwrap();
        assert_eq!(synchronous(&s), 2, "back to FULL after a lazy commit");
        s.sync().unwrap();
        drop(s);
        // Another connection (another process) reads what was written lazily.
        let again = SqliteStore::open(&path).unwrap();
        assert_eq!(again.replay_time().unwrap(), Some(Timestamp(1_700_000_000_000)));
        assert_eq!(again.load_state(id).unwrap().as_deref(), Some("{\"x\":1}"));
        // An in-memory store has no log to sync.
        SqliteStore::open_in_memory().unwrap().sync().unwrap();
    }

    #[test]
    fn connection_settings() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("p.db")).unwrap();
        let conn = s.lock();
        let int = |name: &str| conn.pragma_query_value(None, name, |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(int("synchronous"), 2, "FULL");
        assert_eq!(int("foreign_keys"), 1);
        assert_eq!(int("busy_timeout"), 5_000);
        let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
    }

    /// A database from before the running ledger gets one built from its records when
    /// it is opened by this version, exactly (decimal text, no float).
    #[test]
    fn the_ledger_is_built_from_the_records_when_it_is_created() {
        use crate::Store;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let open = |migrations: &[&str]| {
            let conn = Connection::open(&path).unwrap();
            SqliteStore::init(conn, migrations, Locks::Memory(Arc::default())).unwrap()
        };
        let old = open(&MIGRATIONS[..LEDGER_MIGRATION - 1]);
        let bot = old
            .create_bot(&NewBot {
                name: "old".into(),
                venue: "paper".into(),
                config_toml: String::new(),
                created_at: Timestamp(1),
            })
            .unwrap();
        let intent = Intent {
            bot,
            client_id: ClientOrderId::new("bl1-1-0").unwrap(),
            seq: 1,
            leg: 0,
            base: Asset::new("BTC").unwrap(),
            quote: Asset::new("USDT").unwrap(),
            side: Side::Buy,
            qty: Qty(Decimal::from_str("0.00384615").unwrap()),
            kind: OrderKind::Market,
            planned_price: Price(Decimal::from(84500)),
            created_at: Timestamp(2),
            expires_at: None,
        };
        let ev = Event {
            bot,
            time: Timestamp(2),
            kind: "rebalance".into(),
            message: String::new(),
            data: serde_json::json!({}),
        };
        old.begin_rebalance(std::slice::from_ref(&intent), "{}", &ev).unwrap();
        {
            let conn = old.lock();
            conn.execute(
                "INSERT INTO cash_flows (bot_id, time, asset, qty, value, note) VALUES (?1, 1, 'USDT', '1000.10', '1000.10', 'create')",
                [bot],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO fills (client_id, trade_id, qty, price, fee, fee_asset, time) \
                 VALUES ('bl1-1-0', 't1', '0.00384615', '84500.01', '0.00000385', 'BTC', 3)",
                [],
            )
            .unwrap();
        }
        drop(old);
        let new = open(MIGRATIONS);
        let l = new.ledger(bot).unwrap();
        let d = |s: &str| Qty(Decimal::from_str(s).unwrap());
        assert_eq!(l[&Asset::new("BTC").unwrap()].held, d("0.00384230"));
        assert_eq!(l[&Asset::new("BTC").unwrap()].fees, d("0.00000385"));
        // 1000.10 - 0.00384615 * 84500.01 exactly
        assert_eq!(l[&Asset::new("USDT").unwrap()].held, d("675.1002865385"));
        // And it is kept from then on; a fill recorded twice counts once.
        let fill = Fill {
            trade_id: "t2".into(),
            qty: d("0.001"),
            price: Price(Decimal::from(80000)),
            fee: d("0.08"),
            fee_asset: Asset::new("USDT").unwrap(),
            time: Timestamp(4),
        };
        assert!(new.record_fill(&intent.client_id, &fill).unwrap());
        assert!(!new.record_fill(&intent.client_id, &fill).unwrap());
        let l = new.ledger(bot).unwrap();
        assert_eq!(l[&Asset::new("USDT").unwrap()].held, d("595.0202865385"));
        assert_eq!(l[&Asset::new("USDT").unwrap()].fees, d("0.08"));
    }

    /// Every step asks for the open orders: the question goes through the partial index
    /// of open orders, not through all of the bot's orders.
    #[test]
    fn the_open_orders_are_read_through_their_index() {
        let s = SqliteStore::open_in_memory().unwrap();
        let conn = s.lock();
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", unresolved_sql()))
            .unwrap()
            .query_map([1], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(plan.iter().any(|d| d.contains("USING INDEX orders_open")), "{plan:?}");
    }

    #[test]
    fn open_states_are_the_non_final_ones() {
        assert_eq!(open_states_sql(), "'pending', 'unknown', 'new', 'partially_filled'");
    }
}

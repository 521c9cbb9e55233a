//! The paper venue's own SQLite state: balances, orders, fills.
//!
//! Amounts are stored as decimal strings (never floats). Venue ids and trade ids are
//! `AUTOINCREMENT` keys: sequential, never reused, and advanced in the same
//! transaction as the row that takes them.

use std::str::FromStr;

use ballast_core::planner::Side;
use ballast_core::{Asset, Timestamp};
use rusqlite::{Connection, OptionalExtension, Row, params};
use rust_decimal::Decimal;

use crate::types::{Balance, ClientOrderId, ExchangeError, Fill, OrderReport, OrderStatus};

/// The schema version this code writes (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS balances (
    asset  TEXT PRIMARY KEY,
    free   TEXT NOT NULL,
    locked TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
    venue_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id   TEXT NOT NULL UNIQUE,
    base        TEXT NOT NULL,
    quote       TEXT NOT NULL,
    side        TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    qty         TEXT NOT NULL,
    limit_price TEXT,
    status      TEXT NOT NULL,
    filled      TEXT NOT NULL,
    lock_asset  TEXT,
    lock_qty    TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_by_status ON orders (status, base, quote);
CREATE TABLE IF NOT EXISTS fills (
    trade_id  INTEGER PRIMARY KEY AUTOINCREMENT,
    venue_id  INTEGER NOT NULL REFERENCES orders (venue_id),
    qty       TEXT NOT NULL,
    price     TEXT NOT NULL,
    fee       TEXT NOT NULL,
    fee_asset TEXT NOT NULL,
    time      INTEGER NOT NULL,
    maker     INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS fills_by_order ON fills (venue_id);
";

/// A database error: nothing was done (the transaction rolls back on drop).
pub(crate) fn db(e: rusqlite::Error) -> ExchangeError {
    ExchangeError::Unavailable(format!("paper venue database: {e}"))
}

fn corrupt(what: &str, value: &str) -> ExchangeError {
    ExchangeError::Unavailable(format!("paper venue database is corrupt: bad {what} {value:?}"))
}

/// Sets the pragmas and creates the tables.
/// `PRAGMA quick_check`: `Err` with what is wrong when the file is damaged (or not a
/// database at all).
pub(crate) fn check_integrity(conn: &Connection) -> Result<(), String> {
    let rows: Vec<String> = conn
        .prepare("PRAGMA quick_check")
        .and_then(|mut s| s.query_map([], |r| r.get::<_, String>(0))?.collect())
        .map_err(|e| format!("the database is damaged ({e})"))?;
    match rows.first().map(String::as_str) {
        Some("ok") => Ok(()),
        Some(first) => Err(format!("the database is damaged (integrity check: {first})")),
        None => Err("the database is damaged (integrity check gave no answer)".into()),
    }
}

pub(crate) fn init(conn: &Connection) -> Result<(), ExchangeError> {
    conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(db)?;
    // journal_mode answers with a row; an in-memory database stays "memory".
    let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).map_err(db)?;
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;").map_err(db)?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(db)?;
    if version > SCHEMA_VERSION {
        return Err(ExchangeError::Unavailable(format!(
            "paper venue database has schema version {version}; this build knows up to {SCHEMA_VERSION}"
        )));
    }
    conn.execute_batch(&format!("BEGIN IMMEDIATE; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"))
        .map_err(db)
}

fn dec(s: &str, what: &str) -> Result<Decimal, ExchangeError> {
    Decimal::from_str(s).map_err(|_| corrupt(what, s))
}

fn asset(s: &str) -> Result<Asset, ExchangeError> {
    Asset::new(s).map_err(|_| corrupt("asset", s))
}

fn text(d: Decimal) -> String {
    d.normalize().to_string()
}

fn side_text(s: Side) -> &'static str {
    match s {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

fn status_text(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::New => "new",
        OrderStatus::PartiallyFilled => "partially_filled",
        OrderStatus::Filled => "filled",
        OrderStatus::Canceled => "canceled",
        OrderStatus::Rejected => "rejected",
        OrderStatus::Expired => "expired",
    }
}

fn parse_status(s: &str) -> Result<OrderStatus, ExchangeError> {
    Ok(match s {
        "new" => OrderStatus::New,
        "partially_filled" => OrderStatus::PartiallyFilled,
        "filled" => OrderStatus::Filled,
        "canceled" => OrderStatus::Canceled,
        "rejected" => OrderStatus::Rejected,
        "expired" => OrderStatus::Expired,
        _ => return Err(corrupt("order status", s)),
    })
}

/// The balance of `asset` (zero when the venue has never held it).
pub(crate) fn balance(conn: &Connection, asset: &Asset) -> Result<Balance, ExchangeError> {
    let row: Option<(String, String)> = conn
        .query_row("SELECT free, locked FROM balances WHERE asset = ?1", [asset.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
        .map_err(db)?;
    match row {
        None => Ok(Balance::default()),
        Some((free, locked)) => Ok(Balance {
            free: ballast_core::Qty(dec(&free, "free balance")?),
            locked: ballast_core::Qty(dec(&locked, "locked balance")?),
        }),
    }
}

/// Writes the balance of `asset`.
pub(crate) fn put_balance(conn: &Connection, asset: &Asset, b: Balance) -> Result<(), ExchangeError> {
    conn.prepare_cached(
        "INSERT INTO balances (asset, free, locked) VALUES (?1, ?2, ?3)
         ON CONFLICT (asset) DO UPDATE SET free = excluded.free, locked = excluded.locked",
    )
    .and_then(|mut st| st.execute(params![asset.as_str(), text(b.free.0), text(b.locked.0)]))
    .map_err(db)?;
    Ok(())
}

/// Every balance row.
pub(crate) fn balances(conn: &Connection) -> Result<Vec<(Asset, Balance)>, ExchangeError> {
    let mut stmt = conn.prepare_cached("SELECT asset, free, locked FROM balances ORDER BY asset").map_err(db)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))
        .map_err(db)?;
    let mut out = Vec::new();
    for row in rows {
        let (a, free, locked) = row.map_err(db)?;
        out.push((
            asset(&a)?,
            Balance {
                free: ballast_core::Qty(dec(&free, "free balance")?),
                locked: ballast_core::Qty(dec(&locked, "locked balance")?),
            },
        ));
    }
    Ok(out)
}

/// One order as stored.
#[derive(Clone, Debug)]
pub(crate) struct OrderRow {
    pub venue_id: i64,
    pub client_id: ClientOrderId,
    pub base: Asset,
    pub quote: Asset,
    pub side: Side,
    pub qty: Decimal,
    /// `None` for a market order.
    pub limit: Option<Decimal>,
    pub status: OrderStatus,
    pub filled: Decimal,
    /// The asset and amount this order holds in `locked` (while open).
    pub lock_asset: Option<Asset>,
    pub lock_qty: Decimal,
}

/// A new order to insert (the venue id is assigned by the insert).
pub(crate) struct NewOrder<'a> {
    pub client_id: &'a ClientOrderId,
    pub base: &'a Asset,
    pub quote: &'a Asset,
    pub side: Side,
    pub qty: Decimal,
    pub limit: Option<Decimal>,
    pub status: OrderStatus,
    pub filled: Decimal,
    pub lock_asset: Option<&'a Asset>,
    pub lock_qty: Decimal,
}

const ORDER_COLUMNS: &str =
    "venue_id, client_id, base, quote, side, qty, limit_price, status, filled, lock_asset, lock_qty";

type RawOrder = (i64, String, String, String, String, String, Option<String>, String, String, Option<String>, String);

fn raw_order(r: &Row<'_>) -> rusqlite::Result<RawOrder> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
    ))
}

fn order_from_raw(raw: RawOrder) -> Result<OrderRow, ExchangeError> {
    let (venue_id, client_id, base, quote, side, qty, limit, status, filled, lock_asset, lock_qty) = raw;
    Ok(OrderRow {
        venue_id,
        client_id: ClientOrderId::new(&client_id).map_err(|_| corrupt("client order id", &client_id))?,
        base: asset(&base)?,
        quote: asset(&quote)?,
        side: match side.as_str() {
            "buy" => Side::Buy,
            "sell" => Side::Sell,
            _ => return Err(corrupt("side", &side)),
        },
        qty: dec(&qty, "order quantity")?,
        limit: limit.map(|l| dec(&l, "limit price")).transpose()?,
        status: parse_status(&status)?,
        filled: dec(&filled, "filled quantity")?,
        lock_asset: lock_asset.map(|a| asset(&a)).transpose()?,
        lock_qty: dec(&lock_qty, "locked quantity")?,
    })
}

/// Inserts an order; returns its venue id.
pub(crate) fn insert_order(conn: &Connection, o: &NewOrder<'_>, now: Timestamp) -> Result<i64, ExchangeError> {
    conn.prepare_cached(
        "INSERT INTO orders (client_id, base, quote, side, qty, limit_price, status, filled, lock_asset, lock_qty,
                             created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)",
    )
    .and_then(|mut st| {
        st.execute(params![
            o.client_id.as_str(),
            o.base.as_str(),
            o.quote.as_str(),
            side_text(o.side),
            text(o.qty),
            o.limit.map(text),
            status_text(o.status),
            text(o.filled),
            o.lock_asset.map(|a| a.as_str()),
            text(o.lock_qty),
            now.0,
        ])
    })
    .map_err(db)?;
    Ok(conn.last_insert_rowid())
}

/// Sets an order's status, filled quantity and lock.
pub(crate) fn update_order(
    conn: &Connection,
    venue_id: i64,
    status: OrderStatus,
    filled: Decimal,
    lock_qty: Decimal,
    now: Timestamp,
) -> Result<(), ExchangeError> {
    conn.prepare_cached(
        "UPDATE orders SET status = ?2, filled = ?3, lock_qty = ?4, updated_at = ?5 WHERE venue_id = ?1",
    )
    .and_then(|mut st| st.execute(params![venue_id, status_text(status), text(filled), text(lock_qty), now.0]))
    .map_err(db)?;
    Ok(())
}

/// Sets an open order's quantity, limit price and lock (an amendment).
pub(crate) fn amend_order(
    conn: &Connection,
    venue_id: i64,
    qty: Decimal,
    limit: Decimal,
    lock_qty: Decimal,
    now: Timestamp,
) -> Result<(), ExchangeError> {
    conn.prepare_cached(
        "UPDATE orders SET qty = ?2, limit_price = ?3, lock_qty = ?4, updated_at = ?5 WHERE venue_id = ?1",
    )
    .and_then(|mut st| st.execute(params![venue_id, text(qty), text(limit), text(lock_qty), now.0]))
    .map_err(db)?;
    Ok(())
}

/// The order with this client id, on any symbol.
pub(crate) fn order_by_client(conn: &Connection, client_id: &ClientOrderId) -> Result<Option<OrderRow>, ExchangeError> {
    conn.prepare_cached(&format!("SELECT {ORDER_COLUMNS} FROM orders WHERE client_id = ?1"))
        .and_then(|mut st| st.query_row([client_id.as_str()], raw_order))
        .optional()
        .map_err(db)?
        .map(order_from_raw)
        .transpose()
}

/// Open orders, on one symbol or on all, oldest first.
pub(crate) fn open_orders(conn: &Connection, symbol: Option<(&Asset, &Asset)>) -> Result<Vec<OrderRow>, ExchangeError> {
    let open =
        format!("status IN ('{}', '{}')", status_text(OrderStatus::New), status_text(OrderStatus::PartiallyFilled));
    let raws: Vec<RawOrder> = match symbol {
        Some((base, quote)) => {
            let sql = format!(
                "SELECT {ORDER_COLUMNS} FROM orders WHERE {open} AND base = ?1 AND quote = ?2 ORDER BY venue_id"
            );
            let mut stmt = conn.prepare_cached(&sql).map_err(db)?;
            stmt.query_map([base.as_str(), quote.as_str()], raw_order).map_err(db)?.collect::<Result<_, _>>()
        }
        None => {
            let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE {open} ORDER BY venue_id");
            let mut stmt = conn.prepare_cached(&sql).map_err(db)?;
            stmt.query_map([], raw_order).map_err(db)?.collect::<Result<_, _>>()
        }
    }
    .map_err(db)?;
    raws.into_iter().map(order_from_raw).collect()
}

/// Inserts a fill; returns its trade id.
pub(crate) fn insert_fill(conn: &Connection, venue_id: i64, fill: &Fill, maker: bool) -> Result<i64, ExchangeError> {
    conn.prepare_cached(
        "INSERT INTO fills (venue_id, qty, price, fee, fee_asset, time, maker) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut st| {
        st.execute(params![
            venue_id,
            text(fill.qty.0),
            text(fill.price.0),
            text(fill.fee.0),
            fill.fee_asset.as_str(),
            fill.time.0,
            maker
        ])
    })
    .map_err(db)?;
    Ok(conn.last_insert_rowid())
}

/// The fills of an order, oldest first.
pub(crate) fn fills(conn: &Connection, venue_id: i64) -> Result<Vec<Fill>, ExchangeError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT trade_id, qty, price, fee, fee_asset, time FROM fills WHERE venue_id = ?1 ORDER BY trade_id",
        )
        .map_err(db)?;
    let raws = stmt
        .query_map([venue_id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, i64>(5)?,
            ))
        })
        .map_err(db)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db)?;
    raws.into_iter()
        .map(|(trade_id, qty, price, fee, fee_asset, time)| {
            Ok(Fill {
                trade_id: trade_id.to_string(),
                qty: ballast_core::Qty(dec(&qty, "fill quantity")?),
                price: ballast_core::Price(dec(&price, "fill price")?),
                fee: ballast_core::Qty(dec(&fee, "fee")?),
                fee_asset: asset(&fee_asset)?,
                time: Timestamp(time),
            })
        })
        .collect()
}

/// The venue's report of a stored order, with every fill.
pub(crate) fn report(conn: &Connection, o: &OrderRow) -> Result<OrderReport, ExchangeError> {
    Ok(OrderReport {
        client_id: o.client_id.clone(),
        venue_id: o.venue_id.to_string(),
        base: o.base.clone(),
        quote: o.quote.clone(),
        side: o.side,
        qty: ballast_core::Qty(o.qty),
        status: o.status,
        filled: ballast_core::Qty(o.filled),
        // When the order was placed (a resting order fills later than that).
        created: Some(Timestamp(
            conn.prepare_cached("SELECT created_at FROM orders WHERE venue_id = ?1")
                .and_then(|mut st| st.query_row([o.venue_id], |r| r.get::<_, i64>(0)))
                .map_err(db)?,
        )),
        fills: fills(conn, o.venue_id)?,
    })
}

//! The runner's log: what `ballast run` prints as it goes (a line per event of every
//! bot, and under a rebalance or a liquidation a line per order it sent) and what the
//! dashboard's log shows (`GET /api/log`). Both read the store's events in recording
//! order and word them here, so the two never differ.

use ballast_core::Timestamp;
use ballast_store::{BotId, Event, OrderRow, Store, StoreError};
use serde_json::{Value, json};

/// One event of the log with the orders it sent.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The event's row id (the log's cursor).
    pub id: i64,
    /// The event.
    pub event: Event,
    /// The orders of the rebalance or liquidation the event planned (none otherwise).
    pub orders: Vec<OrderRow>,
}

impl Entry {
    /// The bot.
    pub fn bot(&self) -> BotId {
        self.event.bot
    }

    /// When it happened.
    pub fn time(&self) -> Timestamp {
        self.event.time
    }

    /// The event's line without its time: `bot 1   rebalance  ...`.
    pub fn line(&self) -> String {
        format!("bot {:<3} {:<10} {}", self.event.bot, self.event.kind, self.event.message)
    }

    /// A line per order: `bot 1   trade      buy 0.1 BTC at ~50000 USDT: filled, filled 0.1`.
    pub fn order_lines(&self) -> Vec<String> {
        self.orders
            .iter()
            .map(|o| {
                let i = &o.intent;
                format!(
                    "bot {:<3} trade      {} {} {} at ~{} {}: {}, filled {}",
                    self.event.bot,
                    i.side,
                    i.qty.0.normalize(),
                    i.base,
                    i.planned_price.0.normalize(),
                    i.quote,
                    o.state.as_str(),
                    o.filled.0.normalize()
                )
            })
            .collect()
    }

    /// The entry as `GET /api/log` answers it.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "bot": self.event.bot,
            "time": self.event.time.0,
            "kind": self.event.kind,
            "message": self.event.message,
            "line": self.line(),
            "orders": self.order_lines(),
        })
    }
}

/// True when the event planned legs (a rebalance or a liquidation that sent orders):
/// only then do the orders of its sequence number belong to it (a rebalance that sent
/// nothing keeps the sequence number).
pub fn planned(e: &Event) -> bool {
    e.data.get("legs").and_then(|l| l.as_array()).is_some_and(|l| !l.is_empty())
}

/// An event with its orders.
pub fn entry(store: &dyn Store, id: i64, event: Event) -> Result<Entry, StoreError> {
    let orders = match (planned(&event), event.data.get("seq").and_then(|s| s.as_i64())) {
        (true, Some(seq)) => store.orders_of_seqs(event.bot, &[seq])?,
        _ => Vec::new(),
    };
    Ok(Entry { id, event, orders })
}

/// The entries after row `after` (every bot, oldest first), at most `limit`.
pub fn after(store: &dyn Store, after: i64, limit: usize) -> Result<Vec<Entry>, StoreError> {
    store.events_after(after, limit)?.into_iter().map(|(id, e)| entry(store, id, e)).collect()
}

/// The newest `limit` entries of every bot before row `before` (all when `None`),
/// oldest first. Row ids are given in recording order across bots, so this reads
/// windows of ids backwards from the newest (a few queries, whatever the number of
/// bots), not every bot's events.
pub fn newest(store: &dyn Store, before: Option<i64>, limit: usize) -> Result<Vec<Entry>, StoreError> {
    let top = match before {
        Some(b) => b.saturating_sub(1),
        None => newest_id(store)?,
    };
    let mut rows: Vec<(i64, Event)> = Vec::new();
    let mut hi = top;
    while rows.len() < limit && hi > 0 {
        let lo = hi.saturating_sub(limit as i64).max(0);
        let mut window = store.events_after(lo, limit)?;
        window.retain(|(id, _)| *id <= hi);
        window.extend(rows);
        rows = window;
        hi = lo;
    }
    let extra = rows.len().saturating_sub(limit);
    rows.drain(..extra);
    rows.into_iter().map(|(id, e)| entry(store, id, e)).collect()
}

/// The newest event's row id (0 without events): a log started now shows only what
/// happens from here on.
pub fn newest_id(store: &dyn Store) -> Result<i64, StoreError> {
    let mut cursor = 0;
    for b in store.bots()? {
        if let Some((id, _)) = store.events_page(b.id, None, 1)?.first() {
            cursor = cursor.max(*id);
        }
    }
    Ok(cursor)
}

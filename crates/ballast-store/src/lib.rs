//! Persistence: the [`Store`] trait (the only way the engine and the server touch
//! durable state) and [`sqlite::SqliteStore`].
//!
//! The crash-safety contract: [`Store::begin_rebalance`] writes every order intent of
//! a rebalance (with its deterministic client order id), the bot's new state and the
//! rebalance event in ONE transaction, before the first order is sent. Fills are
//! recorded idempotently (a fill seen twice is stored once). A restart finds every
//! order that is not final with [`Store::unresolved`] and asks the venue about it.
#![deny(missing_docs)]

pub mod sqlite;
mod types;

pub use types::*;

use std::collections::BTreeMap;

use ballast_core::Timestamp;
use ballast_core::{Asset, Qty};
use ballast_exchange::{ClientOrderId, Fill, OrderStatus, OrderTag};

/// Durable state of every bot.
pub trait Store: Send + Sync {
    /// Creates a bot (status active) and returns its id.
    fn create_bot(&self, bot: &NewBot) -> Result<BotId, StoreError>;
    /// One bot.
    fn bot(&self, id: BotId) -> Result<Option<BotRecord>, StoreError>;
    /// Every bot, oldest first.
    fn bots(&self) -> Result<Vec<BotRecord>, StoreError>;
    /// The bot's running ledger: what it holds of each asset and the fees it paid in
    /// it, kept in the transaction that records each fill and cash flow, so reading it
    /// costs the same whatever the bot's age. Equal, by construction and by
    /// `ballast doctor`, to what the records derive.
    fn ledger(&self, bot: BotId) -> Result<BTreeMap<Asset, LedgerEntry>, StoreError>;
    /// This installation's tag for client order ids, drawn at random the first time
    /// and the same ever after (see [`ballast_exchange::OrderTag`]).
    fn order_tag(&self) -> Result<OrderTag, StoreError>;
    /// Changes a bot's status, with a reason a user can read.
    fn set_status(&self, id: BotId, status: BotStatus, reason: &str, now: Timestamp) -> Result<(), StoreError>;
    /// Replaces a bot's configuration (TOML text) and records an event.
    fn set_config(&self, id: BotId, config_toml: &str, now: Timestamp) -> Result<(), StoreError>;

    /// The engine's opaque state of a bot (JSON), if saved.
    fn load_state(&self, id: BotId) -> Result<Option<String>, StoreError>;
    /// Saves the engine's state of a bot (unversioned: the engine writes through
    /// [`Store::commit`]).
    fn save_state(&self, id: BotId, state_json: &str) -> Result<(), StoreError>;
    /// The engine's state of a bot with its version, if saved.
    fn load_versioned(&self, id: BotId) -> Result<Option<Versioned>, StoreError>;

    /// Applies a unit of work in one transaction: all of it, or nothing (a version that
    /// moved, a client id that exists, a stopped bot made active, a name in use).
    /// Returns the bot's id (the new one with [`Change::create`]). Durable when it
    /// returns, unless [`Change::lazy`]: then durable with the next durable write or
    /// [`Store::sync`], and before that lost only to a power cut, never to a crash of
    /// the process.
    fn commit(&self, change: &Change) -> Result<BotId, StoreError>;
    /// Applies many units of work in ONE transaction, all or nothing (the first that
    /// fails undoes them all), durable when it returns: for creating many bots at once.
    /// Returns each change's bot id, in order.
    fn commit_all(&self, changes: &[Change]) -> Result<Vec<BotId>, StoreError>;
    /// What the bots of `venue` that are not stopped hold of `asset`, each counted at
    /// zero or more (what of the account is taken): one query, whatever the number of
    /// bots.
    fn held_by_bots(&self, venue: &str, asset: &Asset) -> Result<Qty, StoreError>;
    /// Makes every write so far durable (the lazy ones: a runner calls it once per
    /// round of steps, so that steps which send nothing cost no disk sync each).
    fn sync(&self) -> Result<(), StoreError>;
    /// Until [`Store::end_group`], lets the writes that follow share one transaction (a
    /// runner's round of steps over many bots: each page is written once per group, not
    /// once per bot, and no read takes a lock of its own). Every promise of
    /// [`Store::commit`] holds: a durable write is durable when it returns (it commits
    /// the group, then syncs); a lazy one is written when the group ends, so a crash
    /// of the process before then loses it, as a power cut would. Readers in other
    /// processes see the group's writes when it is committed; a writer there waits for
    /// it (the caller keeps groups short).
    fn begin_group(&self) -> Result<(), StoreError>;
    /// Commits the open group (lazily: [`Store::sync`] makes it durable) and returns to
    /// one transaction per write.
    fn end_group(&self) -> Result<(), StoreError>;
    /// Where the paper replay's clock stands, if a replay has moved it.
    fn replay_time(&self) -> Result<Option<Timestamp>, StoreError>;
    /// Moves the paper replay's clock (a lazy write: in the same log as the steps that
    /// follow, so no step is ever durable without the time it ran at).
    fn set_replay_time(&self, t: Timestamp) -> Result<(), StoreError>;
    /// Exclusive access to one bot, across the threads and processes that use this
    /// store, until the lock is dropped; waits for another holder, and answers
    /// [`StoreError::Busy`] after a bounded time. A holder that dies releases it.
    fn lock_bot(&self, id: BotId) -> Result<BotLock, StoreError>;

    /// Atomically: every intent (status `pending`), the new engine state and the event.
    /// Fails with [`StoreError::Conflict`] (and writes nothing) if any client id exists.
    fn begin_rebalance(&self, intents: &[Intent], state_json: &str, event: &Event) -> Result<(), StoreError>;
    /// Updates what is known about an order.
    fn update_order(
        &self,
        client_id: &ClientOrderId,
        status: OrderState,
        venue_id: Option<&str>,
        filled: Qty,
        now: Timestamp,
    ) -> Result<(), StoreError>;
    /// Orders of a bot whose state is not final (pending, new, partially filled,
    /// unknown), oldest first.
    fn unresolved(&self, bot: BotId) -> Result<Vec<OrderRow>, StoreError>;
    /// A bot's orders, newest first, at most `limit`.
    fn orders(&self, bot: BotId, limit: usize) -> Result<Vec<OrderRow>, StoreError>;
    /// Records a fill of an order; returns false (and changes nothing) if this
    /// (client id, trade id) was recorded before.
    fn record_fill(&self, client_id: &ClientOrderId, fill: &Fill) -> Result<bool, StoreError>;
    /// Every fill of a bot, oldest first.
    fn fills(&self, bot: BotId) -> Result<Vec<FillRow>, StoreError>;

    /// Records money moved into or out of a bot.
    fn record_cash_flow(&self, flow: &CashFlow) -> Result<(), StoreError>;
    /// Every cash flow of a bot, oldest first.
    fn cash_flows(&self, bot: BotId) -> Result<Vec<CashFlow>, StoreError>;

    /// Records a snapshot.
    fn record_snapshot(&self, s: &Snapshot) -> Result<(), StoreError>;
    /// Snapshots of a bot, oldest first, at most `limit` of the newest.
    fn snapshots(&self, bot: BotId, limit: usize) -> Result<Vec<Snapshot>, StoreError>;

    /// Snapshots of a bot with `from <= time <= to` (an absent bound is open), oldest
    /// first, thinned to at most `max_points` evenly spaced by rank (the first and the
    /// last of the range always kept; `max_points` below 2 counts as 2), with the number
    /// the range holds. Reads only the rows it returns, whatever the bot's age.
    fn snapshots_range(
        &self,
        bot: BotId,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        max_points: usize,
    ) -> Result<SnapshotRange, StoreError>;

    /// The time of a bot's first and last snapshot, if any.
    fn snapshot_span(&self, bot: BotId) -> Result<Option<(Timestamp, Timestamp)>, StoreError>;

    /// The events of a bot that carry a rebalance sequence number (`data.seq`: a
    /// rebalance or a stop's liquidation, with its legs and skipped legs), newest
    /// first, each with its row id; only those whose row id is below `before` when
    /// given; at most `limit`.
    fn rebalance_events(&self, bot: BotId, before: Option<i64>, limit: usize) -> Result<Vec<(i64, Event)>, StoreError>;
    /// The orders of a bot with one of the sequence numbers `seqs`, by sequence number
    /// and leg.
    fn orders_of_seqs(&self, bot: BotId, seqs: &[i64]) -> Result<Vec<OrderRow>, StoreError>;
    /// The events of a bot, newest first, each with its row id; only those whose row id
    /// is below `before` when given; at most `limit`.
    fn events_page(&self, bot: BotId, before: Option<i64>, limit: usize) -> Result<Vec<(i64, Event)>, StoreError>;

    /// Records an event (rebalance, skipped legs, guard, edit, ...).
    fn record_event(&self, e: &Event) -> Result<(), StoreError>;
    /// Events of a bot, newest first, at most `limit`.
    fn events(&self, bot: BotId, limit: usize) -> Result<Vec<Event>, StoreError>;
    /// Events of every bot recorded after the event with row id `after`, in the order
    /// they were recorded (ascending row id), each with its row id; at most `limit`.
    /// `after = 0` starts at the first event. A reader that remembers the last id it
    /// saw (a notifier's cursor) neither misses nor repeats an event.
    fn events_after(&self, after: i64, limit: usize) -> Result<Vec<(i64, Event)>, StoreError>;

    /// How many orders a bot has in each state (by [`OrderState::as_str`]; states it
    /// never had are absent), from counts the store keeps on write: a few rows whatever
    /// the bot's age (`/metrics`).
    fn order_counts(&self, bot: BotId) -> Result<BTreeMap<String, u64>, StoreError>;
    /// How many events a bot has of each kind, kept on write like
    /// [`Store::order_counts`].
    fn event_counts(&self, bot: BotId) -> Result<BTreeMap<String, u64>, StoreError>;
    /// The time, value and net invested of a bot's snapshots with `time >= from` (all
    /// when `None`), oldest first (by time, then row id): the columns returns need,
    /// through the `(bot, time)` index, without parsing holdings and prices. A reader
    /// that keeps what it read asks only from its last time on.
    fn snapshot_values(&self, bot: BotId, from: Option<Timestamp>) -> Result<Vec<SnapshotValue>, StoreError>;
    /// A page of a bot's orders that match `filter`, newest first (by row id), each with
    /// its row id; only those whose row id is below `before` when given; at most
    /// `limit`. Through the `(bot, id)` index: a page costs the same whatever the bot's age
    /// (a filter that matches few orders reads past the others).
    fn orders_page(
        &self,
        bot: BotId,
        filter: &OrderFilter,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<(i64, OrderRow)>, StoreError>;
}

/// Maps a venue status into the store's order state.
pub fn state_of(s: OrderStatus) -> OrderState {
    match s {
        OrderStatus::New => OrderState::New,
        OrderStatus::PartiallyFilled => OrderState::PartiallyFilled,
        OrderStatus::Filled => OrderState::Filled,
        OrderStatus::Canceled => OrderState::Canceled,
        OrderStatus::Rejected => OrderState::Rejected,
        OrderStatus::Expired => OrderState::Expired,
    }
}

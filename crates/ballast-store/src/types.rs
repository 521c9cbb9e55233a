//! The records a store keeps.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use ballast_core::planner::Side;
use ballast_core::{Asset, Notional, Price, Qty, Timestamp};
use ballast_exchange::{ClientOrderId, Fill, OrderKind};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A bot's id.
pub type BotId = i64;

/// A store failure.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The database failed (disk, corruption, lock).
    #[error("database: {0}")]
    Db(String),
    /// A unique key exists already (a client order id, a bot name).
    #[error("conflict: {0}")]
    Conflict(String),
    /// No such record.
    #[error("not found: {0}")]
    NotFound(String),
    /// Stored data that cannot be read back (a bad decimal, unknown enum text).
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// Another thread or process is changing the bot and did not finish in time.
    #[error("busy: {0}")]
    Busy(String),
}

/// A bot's lifecycle status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BotStatus {
    /// Running.
    Active,
    /// Not trading until resumed.
    Paused,
    /// Ended (stopped by the user or a guard); never trades again.
    Stopped,
}

impl fmt::Display for BotStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Stopped => "stopped",
        })
    }
}

impl FromStr for BotStatus {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        match s {
            "active" => Ok(Self::Active),
            "paused" => Ok(Self::Paused),
            "stopped" => Ok(Self::Stopped),
            o => Err(StoreError::Corrupt(format!("bot status {o:?}"))),
        }
    }
}

/// A bot to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewBot {
    /// Name (unique among bots that are not stopped).
    pub name: String,
    /// Venue name.
    pub venue: String,
    /// The configuration file's text.
    pub config_toml: String,
    /// When.
    pub created_at: Timestamp,
}

/// A stored bot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BotRecord {
    /// Id.
    pub id: BotId,
    /// Name.
    pub name: String,
    /// Venue.
    pub venue: String,
    /// Current configuration (TOML).
    pub config_toml: String,
    /// Status.
    pub status: BotStatus,
    /// Why it has that status.
    pub status_reason: String,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
}

/// An order the engine intends to send (written before it is sent).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    /// The bot.
    pub bot: BotId,
    /// Deterministic id.
    pub client_id: ClientOrderId,
    /// Rebalance sequence number of the bot.
    pub seq: i64,
    /// Leg index within the rebalance.
    pub leg: i64,
    /// Base.
    pub base: Asset,
    /// Quote.
    pub quote: Asset,
    /// Side.
    pub side: Side,
    /// Quantity.
    pub qty: Qty,
    /// Market or limit.
    pub kind: OrderKind,
    /// The price the plan assumed.
    pub planned_price: Price,
    /// When written.
    pub created_at: Timestamp,
    /// The last moment the venue may accept the order request (see
    /// [`ballast_exchange::OrderRequest::expires_at`]); `None` for orders written
    /// before deadlines existed.
    pub expires_at: Option<Timestamp>,
}

/// What the store knows about an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    /// Written, not known to have reached the venue.
    Pending,
    /// Sent, but the reply was lost (timeout, 5xx): must be queried.
    Unknown,
    /// Accepted, open.
    New,
    /// Partly filled, open.
    PartiallyFilled,
    /// Filled.
    Filled,
    /// Cancelled.
    Canceled,
    /// Refused by the venue.
    Rejected,
    /// Expired.
    Expired,
    /// The venue has no such order after it was asked (never reached it).
    NotSent,
}

impl OrderState {
    /// Every state, in order.
    pub const ALL: [OrderState; 9] = [
        Self::Pending,
        Self::Unknown,
        Self::New,
        Self::PartiallyFilled,
        Self::Filled,
        Self::Canceled,
        Self::Rejected,
        Self::Expired,
        Self::NotSent,
    ];

    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Unknown => "unknown",
            Self::New => "new",
            Self::PartiallyFilled => "partially_filled",
            Self::Filled => "filled",
            Self::Canceled => "canceled",
            Self::Rejected => "rejected",
            Self::Expired => "expired",
            Self::NotSent => "not_sent",
        }
    }

    /// True when the order can change no more.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Filled | Self::Canceled | Self::Rejected | Self::Expired | Self::NotSent)
    }

    /// The order-state transitions, in one table (the store refuses any other):
    ///
    /// | from                 | may become                                              |
    /// |----------------------|---------------------------------------------------------|
    /// | pending              | anything                                                |
    /// | unknown              | anything but pending                                    |
    /// | new, partially filled| new, partially filled, filled, canceled, expired, rejected, unknown (a final report whose fills are not all listed yet) |
    /// | any final state      | itself only                                             |
    ///
    /// So `not_sent` is reached only from `pending` or `unknown` (an order the venue
    /// acknowledged can never be "not sent"), and nothing final ever changes.
    pub fn can_become(self, next: OrderState) -> bool {
        use OrderState::*;
        match self {
            Pending => true,
            Unknown => next != Pending,
            New | PartiallyFilled => !matches!(next, Pending | NotSent),
            Filled | Canceled | Rejected | Expired | NotSent => next == self,
        }
    }
}

impl FromStr for OrderState {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        Self::ALL.into_iter().find(|x| x.as_str() == s).ok_or_else(|| StoreError::Corrupt(format!("order state {s:?}")))
    }
}

/// An order as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderRow {
    /// The intent.
    pub intent: Intent,
    /// Its state.
    pub state: OrderState,
    /// The venue's id, once known.
    pub venue_id: Option<String>,
    /// Executed quantity known.
    pub filled: Qty,
    /// Last change.
    pub updated_at: Timestamp,
}

/// Which orders of a bot a page holds ([`crate::Store::orders_page`]); `None`: any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderFilter {
    /// Only orders in this state.
    pub state: Option<OrderState>,
    /// Only buys or only sells.
    pub side: Option<Side>,
    /// Only orders of this coin (the pair's base).
    pub asset: Option<Asset>,
}

/// A recorded fill.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FillRow {
    /// The bot.
    pub bot: BotId,
    /// The order.
    pub client_id: ClientOrderId,
    /// Base.
    pub base: Asset,
    /// Quote.
    pub quote: Asset,
    /// Side.
    pub side: Side,
    /// The fill.
    pub fill: Fill,
}

/// What one fill does to its bot's ledger, as `(asset, held change, fee paid)`: a buy
/// adds the quantity of the base and takes the notional from the quote, a sell the
/// reverse, and the fee leaves the asset it was charged in. The one place this is
/// decided: the store's running ledger and the derivation from the records
/// (`ballast_engine::ledger::holdings`) both use it.
///
/// Fails when the notional is beyond the decimal range (no venue makes such a fill;
/// the store refuses to record one).
pub fn fill_effects(
    side: Side,
    base: &Asset,
    quote: &Asset,
    fill: &Fill,
) -> Result<[(Asset, Decimal, Decimal); 3], String> {
    let notional =
        fill.qty.0.checked_mul(fill.price.0).ok_or_else(|| {
            format!("fill {}: {} x {} overflows the decimal range", fill.trade_id, fill.qty, fill.price)
        })?;
    let (b, q) = match side {
        Side::Buy => (fill.qty.0, -notional),
        Side::Sell => (-fill.qty.0, notional),
    };
    Ok([
        (base.clone(), b, Decimal::ZERO),
        (quote.clone(), q, Decimal::ZERO),
        (fill.fee_asset.clone(), -fill.fee.0, fill.fee.0),
    ])
}

/// A bot's running ledger of one asset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LedgerEntry {
    /// What the bot holds of it (cash flows and fills, fees taken out).
    pub held: Qty,
    /// The fees it paid in it.
    pub fees: Qty,
}

/// Money moved into or out of a bot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CashFlow {
    /// The bot.
    pub bot: BotId,
    /// When.
    pub time: Timestamp,
    /// The asset (quote for a USDT deposit, a coin for a deposit in coins).
    pub asset: Asset,
    /// Signed quantity: positive in, negative out.
    pub qty: Qty,
    /// Its value in quote at the time (signed like `qty`).
    pub value: Notional,
    /// What it was ("create", "invest", "stop").
    pub note: String,
}

/// A bot at one moment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The bot.
    pub bot: BotId,
    /// When.
    pub time: Timestamp,
    /// Value in quote.
    pub value: Notional,
    /// Holdings, quote included.
    pub holdings: BTreeMap<Asset, Qty>,
    /// Prices used.
    pub prices: BTreeMap<Asset, Price>,
    /// Deposits minus withdrawals, in quote at the time of each flow.
    pub net_invested: Notional,
    /// Value of holding what the cash flows bought, never rebalanced.
    pub hodl_value: Notional,
    /// Fees paid so far, in quote.
    pub fees_paid: Notional,
}

/// A snapshot's figures that returns are computed from, without its holdings and
/// prices ([`crate::Store::snapshot_values`]): a few bytes a row to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotValue {
    /// The row id (recording order).
    pub id: i64,
    /// When.
    pub time: Timestamp,
    /// Value in quote.
    pub value: Notional,
    /// Deposits minus withdrawals.
    pub net_invested: Notional,
}

/// Snapshots of a time range, thinned ([`crate::Store::snapshots_range`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapshotRange {
    /// The snapshots kept, oldest first.
    pub snapshots: Vec<Snapshot>,
    /// How many snapshots the range holds.
    pub total: u64,
}

/// Something that happened to a bot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The bot.
    pub bot: BotId,
    /// When.
    pub time: Timestamp,
    /// A short kind: created, rebalance, skipped, guard, invest, edit, pause, resume, stop, reconcile, error,
    /// rejected, key_revoked.
    pub kind: String,
    /// A sentence for people.
    pub message: String,
    /// Details (JSON).
    pub data: serde_json::Value,
}

/// A bot's saved engine state and its version. Every write of a bot through
/// [`crate::Store::commit`] that names the version it read moves the version on by one,
/// so a writer that read an older version is refused instead of losing the other's
/// update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Versioned {
    /// The engine's state (JSON).
    pub json: String,
    /// Its version: 0 when first saved, one more with every versioned write.
    pub version: i64,
}

/// One unit of work: everything a lifecycle verb or a step changes, applied by
/// [`crate::Store::commit`] in one transaction (all of it or none of it).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Change {
    /// The bot changed; ignored when `create` is given (the new bot's id is used, and
    /// written into every record below).
    pub bot: BotId,
    /// Creates the bot first (status active).
    pub create: Option<NewBot>,
    /// The state version the change was computed from: the commit fails with
    /// [`StoreError::Conflict`] and writes nothing when the stored version differs.
    /// `None` skips the check (only for a new bot).
    pub expect_version: Option<i64>,
    /// The new engine state.
    pub state_json: Option<String>,
    /// A new status and its reason (a stopped bot stays stopped).
    pub status: Option<(BotStatus, String)>,
    /// A new configuration text.
    pub config_toml: Option<String>,
    /// Cash flows to record.
    pub cash_flows: Vec<CashFlow>,
    /// Order intents to write (status `pending`); a client id that exists refuses the
    /// whole change.
    pub intents: Vec<Intent>,
    /// Events to record, in this order.
    pub events: Vec<Event>,
    /// A snapshot to record.
    pub snapshot: Option<Snapshot>,
    /// With a snapshot: the length of a bucket of clock time, in ms. When the bot's
    /// latest snapshot falls in the same bucket (`time.div_euclid(ms)`) and is not
    /// later, it is replaced rather than another row added: a bot stepped every few
    /// seconds keeps one point per bucket, the latest always current. `None` adds a row.
    pub snapshot_bucket_ms: Option<i64>,
    /// When.
    pub now: Timestamp,
    /// Written but not synced to disk at once (see [`crate::Store::commit`]): for a
    /// step's own record (state, snapshot, events) when it sent nothing. A change that
    /// carries intents must never be lazy: they are durable before their orders exist.
    pub lazy: bool,
}

/// Exclusive access to one bot, across threads and processes, until dropped (see
/// [`crate::Store::lock_bot`]).
pub struct BotLock {
    _held: Box<dyn Send>,
}

impl BotLock {
    /// A lock held by `held` (released when it is dropped).
    pub fn new(held: Box<dyn Send>) -> Self {
        Self { _held: held }
    }
}

impl fmt::Debug for BotLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BotLock")
    }
}

//! Orders, reports, fills and the venue error kinds.

use std::fmt;

use ballast_core::planner::Side;
use ballast_core::{Asset, Price, Qty, Timestamp};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A client order id: deterministic, chosen by ballast before an order is sent, so
/// that a retry or a restart can ask the venue about it instead of sending again.
/// 1 to 26 characters of `[A-Za-z0-9_-]` (fits Binance's `newClientOrderId`, 36, and
/// Gate's `text`, 28 with its `t-` prefix).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientOrderId(String);

impl ClientOrderId {
    /// Validates an id.
    pub fn new(s: &str) -> Result<Self, String> {
        if s.is_empty() || s.len() > 26 || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(format!("invalid client order id {s:?}: 1 to 26 characters of A-Z a-z 0-9 - _"));
        }
        Ok(Self(s.to_string()))
    }

    /// The id for leg `leg` of rebalance `seq` of bot `bot`: `bl{bot}-{seq}-{leg}`.
    pub fn for_leg(bot: i64, seq: i64, leg: usize) -> Self {
        Self(format!("bl{bot}-{seq}-{leg}"))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ClientOrderId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::new(&s)
    }
}

impl From<ClientOrderId> for String {
    fn from(c: ClientOrderId) -> String {
        c.0
    }
}

/// Market or limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OrderKind {
    /// At the best price now.
    Market,
    /// At `price` or better; rests until filled or cancelled.
    Limit {
        /// The limit price (a whole number of ticks).
        price: Price,
    },
}

/// An order to place.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRequest {
    /// Deterministic id.
    pub client_id: ClientOrderId,
    /// Base asset.
    pub base: Asset,
    /// Quote asset.
    pub quote: Asset,
    /// Buy or sell.
    pub side: Side,
    /// Base quantity (a whole number of steps).
    pub qty: Qty,
    /// Market or limit.
    pub kind: OrderKind,
}

/// Where an order stands at the venue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Accepted, nothing filled yet.
    New,
    /// Partly filled, still open.
    PartiallyFilled,
    /// Completely filled.
    Filled,
    /// Cancelled (possibly after a partial fill).
    Canceled,
    /// Refused by the venue.
    Rejected,
    /// Expired (possibly after a partial fill).
    Expired,
}

impl OrderStatus {
    /// True when the order can change no more.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Filled | Self::Canceled | Self::Rejected | Self::Expired)
    }
}

/// One execution of an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fill {
    /// The venue's trade id (unique per symbol).
    pub trade_id: String,
    /// Base quantity.
    pub qty: Qty,
    /// Price.
    pub price: Price,
    /// Fee amount.
    pub fee: Qty,
    /// The asset the fee was charged in (quote, base or a third asset such as BNB).
    pub fee_asset: Asset,
    /// When.
    pub time: Timestamp,
}

/// The venue's view of an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderReport {
    /// Our id.
    pub client_id: ClientOrderId,
    /// The venue's id.
    pub venue_id: String,
    /// Base.
    pub base: Asset,
    /// Quote.
    pub quote: Asset,
    /// Side.
    pub side: Side,
    /// Ordered quantity.
    pub qty: Qty,
    /// Status.
    pub status: OrderStatus,
    /// Executed quantity.
    pub filled: Qty,
    /// Every fill so far.
    pub fills: Vec<Fill>,
}

/// A balance.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    /// Available.
    pub free: Qty,
    /// Held by open orders.
    pub locked: Qty,
}

impl Balance {
    /// Free plus locked.
    pub fn total(&self) -> Qty {
        self.free + self.locked
    }
}

/// What went wrong, phrased as what the caller must do.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ExchangeError {
    /// The venue refused the order: it does not exist. Do not retry as is.
    #[error("rejected: {0}")]
    Rejected(String),
    /// An order with this client id already exists: query it, do not send again.
    #[error("duplicate client order id {0}")]
    Duplicate(String),
    /// Too many requests: wait this long, then retry.
    #[error("rate limited; retry after {retry_after_ms} ms")]
    RateLimited {
        /// How long to wait.
        retry_after_ms: u64,
    },
    /// The request may or may not have taken effect (a timeout or a 5xx after
    /// sending): query by client id before any retry.
    #[error("outcome unknown: {0}")]
    OutcomeUnknown(String),
    /// The venue cannot be reached or is down; nothing was done.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The key is wrong or lacks a permission.
    #[error("authentication: {0}")]
    Auth(String),
    /// No such order or symbol.
    #[error("not found: {0}")]
    NotFound(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_deterministic_and_short() {
        let a = ClientOrderId::for_leg(12, 3456, 7);
        assert_eq!(a.as_str(), "bl12-3456-7");
        assert_eq!(a, ClientOrderId::for_leg(12, 3456, 7));
        assert!(ClientOrderId::new(&"x".repeat(27)).is_err());
        assert!(ClientOrderId::new("a b").is_err());
        assert!(ClientOrderId::for_leg(999_999, 9_999_999_999, 11).as_str().len() <= 26);
    }
}

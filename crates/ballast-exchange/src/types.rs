//! Orders, reports, fills and the venue error kinds.

use std::fmt;

use ballast_core::planner::Side;
use ballast_core::{Asset, Price, Qty, Timestamp};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A client order id: deterministic, chosen by ballast before an order is sent, so
/// that a retry or a restart can ask the venue about it instead of sending again.
/// 1 to 28 characters of `[A-Za-z0-9_-]` (fits Binance's `newClientOrderId`, 36, and
/// Gate's `text`, 28 after its `t-` prefix).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientOrderId(String);

/// The longest client order id.
pub const CLIENT_ID_MAX: usize = 28;

impl ClientOrderId {
    /// Validates an id.
    pub fn new(s: &str) -> Result<Self, String> {
        if s.is_empty()
            || s.len() > CLIENT_ID_MAX
            || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(format!("invalid client order id {s:?}: 1 to {CLIENT_ID_MAX} characters of A-Z a-z 0-9 - _"));
        }
        Ok(Self(s.to_string()))
    }

    /// The id of leg `leg` of rebalance `seq` of bot `bot` in the installation tagged
    /// `tag` (see [`OrderTag`]): `{tag}{bot}-{seq}-{leg}`, e.g. `bqzkwm12-3456-7`. Two
    /// data directories trading on one account (or one reset and started again) have
    /// different tags, so the venue never mistakes one's order for the other's.
    /// Numbers too long for the venues' limit are written in base 36 after a `z`;
    /// numbers too large even for that (beyond any real bot) are an error.
    pub fn for_leg(tag: &OrderTag, bot: i64, seq: i64, leg: usize) -> Result<Self, String> {
        Self::for_attempt(tag, bot, seq, leg, 0)
    }

    /// The id of attempt `attempt` of a leg worked in several orders (a maker order
    /// re-priced: cancelled, then placed again at the new touch; the market order that
    /// finishes it). Attempt 0 is [`ClientOrderId::for_leg`]'s id; attempt `n > 0`
    /// appends `r{n}`: `bqzkwm12-3456-7r2`. Deterministic, so a restart asks the venue
    /// about the same id instead of sending another order; at most 28 characters (Gate's
    /// `text` limit), in base 36 after a `z` when the decimal form is too long.
    pub fn for_attempt(tag: &OrderTag, bot: i64, seq: i64, leg: usize, attempt: u32) -> Result<Self, String> {
        let r = |a: String| if attempt == 0 { String::new() } else { format!("r{a}") };
        let decimal = format!("{tag}{bot}-{seq}-{leg}{}", r(attempt.to_string()));
        if decimal.len() <= CLIENT_ID_MAX {
            return Ok(Self(decimal));
        }
        let short =
            format!("{tag}z{}-{}-{}{}", base36(bot), base36(seq), base36(leg as i64), r(base36(i64::from(attempt))));
        if short.len() <= CLIENT_ID_MAX {
            return Ok(Self(short));
        }
        Err(format!(
            "no client order id for bot {bot}, rebalance {seq}, leg {leg}, attempt {attempt}: the numbers exceed the venues' {CLIENT_ID_MAX} characters"
        ))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn base36(n: i64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut n = n.unsigned_abs();
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("ascii")
}

/// The per-installation part of client order ids: `b` and five lowercase letters,
/// drawn at random when a data directory is created and kept in its store. `bl`, the
/// tag of ids written before tags existed, is accepted for them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OrderTag(String);

impl OrderTag {
    /// Validates a tag: `bl`, or `b` followed by five lowercase letters.
    pub fn new(s: &str) -> Result<Self, String> {
        let ok = s == "bl" || (s.len() == 6 && s.starts_with('b') && s.bytes().skip(1).all(|b| b.is_ascii_lowercase()));
        if !ok {
            return Err(format!("invalid order tag {s:?}: b and five lowercase letters"));
        }
        Ok(Self(s.to_string()))
    }

    /// A tag from 5 random bytes (each taken modulo 26).
    pub fn from_random(bytes: [u8; 5]) -> Self {
        let mut s = String::from("b");
        s.extend(bytes.iter().map(|b| (b'a' + b % 26) as char));
        Self(s)
    }

    /// The tag of ids written before tags existed (and of tests).
    pub fn legacy() -> Self {
        Self("bl".into())
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrderTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
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
    /// A post-only limit order (a maker): rests at `price` until filled or cancelled,
    /// and is refused by the venue, placing nothing, if it would fill at once (Binance
    /// `type=LIMIT_MAKER`, error -2010 "Order would immediately match and take"; Gate
    /// `time_in_force=poc`, finished as `poc` with nothing filled).
    PostOnly {
        /// The limit price (a whole number of ticks).
        price: Price,
    },
}

impl OrderKind {
    /// The limit price of a limit or post-only order.
    pub fn limit_price(&self) -> Option<Price> {
        match self {
            Self::Market => None,
            Self::Limit { price } | Self::PostOnly { price } => Some(*price),
        }
    }
}

/// The commission rates the venue charges this account on a symbol, as fractions of
/// the notional (0.001 = 0.1 %), discounts it grants included (Binance's BNB discount,
/// Gate's GT deduction).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeRates {
    /// On a fill of a resting order.
    pub maker: rust_decimal::Decimal,
    /// On a fill that takes liquidity.
    pub taker: rust_decimal::Decimal,
    /// The asset the discounted fees are paid in (BNB, GT), when a discount applies.
    pub discount_asset: Option<Asset>,
}

/// What a venue's small-balance conversion did (Binance `POST /sapi/v1/asset/dust`
/// into BNB, Gate `POST /wallet/small_balance` into GT, the paper venue into the quote).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DustConversion {
    /// The asset received.
    pub into: Asset,
    /// Per asset converted: the quantity taken, and what it gave of `into` after the
    /// venue's charge.
    pub converted: Vec<(Asset, Qty, Qty)>,
    /// The venue's charge, in `into`.
    pub charge: Qty,
}

/// The best bid and ask of a symbol: the prices a post-only order rests at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Touch {
    /// The highest bid.
    pub bid: Price,
    /// The lowest ask.
    pub ask: Price,
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
    /// The last moment (ms, local clock) the venue may accept this request: the
    /// adapter does not send it later and tells the venue to refuse it later
    /// (Binance `recvWindow`, Gate `X-Gate-Exptime`). After it, a venue that does not
    /// know the order proves it was never placed. `None`: the venue's default window.
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
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
    /// When the venue created the order, if it says.
    #[serde(default)]
    pub created: Option<Timestamp>,
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
        let tag = OrderTag::new("bqzkwm").unwrap();
        let a = ClientOrderId::for_leg(&tag, 12, 3456, 7).unwrap();
        assert_eq!(a.as_str(), "bqzkwm12-3456-7");
        assert_eq!(a, ClientOrderId::for_leg(&tag, 12, 3456, 7).unwrap());
        assert_eq!(ClientOrderId::for_leg(&OrderTag::legacy(), 12, 3456, 7).unwrap().as_str(), "bl12-3456-7");
        assert!(ClientOrderId::new(&"x".repeat(29)).is_err());
        assert!(ClientOrderId::new("a b").is_err());
        // Every id of a real bot fits the venues' limit: a million bots, ten billion
        // rebalances, twelve legs; beyond, base 36; beyond that, a clear error.
        for (bot, seq, leg) in [(999_999, 9_999_999_999, 11), (99_999_999, 999_999_999_999, 11), (1, 1, 0)] {
            let id = ClientOrderId::for_leg(&tag, bot, seq, leg).unwrap();
            assert!(ClientOrderId::new(id.as_str()).is_ok(), "{id}");
        }
        assert_eq!(ClientOrderId::for_leg(&tag, i64::MAX, 1, 2).unwrap().as_str(), "bqzkwmz1y2p0ij32e8e7-1-2");
        let e = ClientOrderId::for_leg(&tag, i64::MAX, i64::MAX, 11).unwrap_err();
        assert!(e.contains("exceed"), "{e}");
        // Different installations, different ids for the same leg.
        let other = OrderTag::from_random([1, 2, 3, 4, 5]);
        assert_eq!(other.as_str(), "bbcdef");
        assert_ne!(ClientOrderId::for_leg(&other, 12, 3456, 7).unwrap(), a);
        assert!(OrderTag::new("bad").is_err());
        assert!(OrderTag::new("bABCDE").is_err());
    }

    #[test]
    fn attempts_have_their_own_ids_within_gates_limit() {
        let tag = OrderTag::new("bqzkwm").unwrap();
        assert_eq!(
            ClientOrderId::for_attempt(&tag, 12, 3456, 7, 0).unwrap(),
            ClientOrderId::for_leg(&tag, 12, 3456, 7).unwrap()
        );
        assert_eq!(ClientOrderId::for_attempt(&tag, 12, 3456, 7, 2).unwrap().as_str(), "bqzkwm12-3456-7r2");
        assert_ne!(
            ClientOrderId::for_attempt(&tag, 12, 3456, 7, 1).unwrap(),
            ClientOrderId::for_attempt(&tag, 12, 3456, 7, 2).unwrap()
        );
        // A large bot and many re-pricings still fit 28 characters (base 36).
        let id = ClientOrderId::for_attempt(&tag, 999_999, 9_999_999_999, 11, 100_000).unwrap();
        assert!(id.as_str().len() <= CLIENT_ID_MAX, "{id}");
        let e = ClientOrderId::for_attempt(&tag, i64::MAX, i64::MAX, 11, 3).unwrap_err();
        assert!(e.contains("attempt 3"), "{e}");
    }
}

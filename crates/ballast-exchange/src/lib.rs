//! The seams between ballast and the outside world that move money and time:
//! [`Exchange`] (a venue: rules, balances, prices, orders) and [`Clock`].
//!
//! The engine and the server only ever see `dyn Exchange` and `dyn Clock`; only the
//! binary names a concrete venue. [`paper`] is the paper trading venue.
#![deny(missing_docs)]

pub mod clock;
pub mod paper;
pub mod types;

pub use clock::{Clock, ManualClock, SystemClock};
pub use types::*;

use std::collections::BTreeMap;

use ballast_core::{Asset, Prices, SymbolRules};

/// A trading venue. Every call may fail with an [`ExchangeError`] whose kind tells
/// the caller what to do next (see there). Implementations must be idempotent on the
/// client order id: placing an order whose client id the venue already knows is
/// [`ExchangeError::Duplicate`], never a second order.
pub trait Exchange: Send + Sync {
    /// A short name: `paper`, `binance`, `gate`.
    fn name(&self) -> &str;

    /// The trading rules of `base`/`quote`.
    fn rules(&self, base: &Asset, quote: &Asset) -> Result<SymbolRules, ExchangeError>;

    /// Every balance of the account.
    fn balances(&self) -> Result<BTreeMap<Asset, Balance>, ExchangeError>;

    /// The last price of each base asset against `quote`.
    fn prices(&self, bases: &[Asset], quote: &Asset) -> Result<Prices, ExchangeError>;

    /// Places an order. On [`ExchangeError::OutcomeUnknown`] the order may or may
    /// not exist: query it by client id before anything else.
    fn place(&self, order: &OrderRequest) -> Result<OrderReport, ExchangeError>;

    /// The order with this client id, or `None` if the venue has never seen it.
    fn query(
        &self,
        client_id: &ClientOrderId,
        base: &Asset,
        quote: &Asset,
    ) -> Result<Option<OrderReport>, ExchangeError>;

    /// Open orders on `base`/`quote`.
    fn open_orders(&self, base: &Asset, quote: &Asset) -> Result<Vec<OrderReport>, ExchangeError>;

    /// Cancels an open order; returns its final report.
    fn cancel(&self, client_id: &ClientOrderId, base: &Asset, quote: &Asset) -> Result<OrderReport, ExchangeError>;
}

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

    /// Whether the venue answers from this process, without waiting on a network (the
    /// paper venue). A runner then lets a round's steps share the store's transactions
    /// (`Engine::step_round` of ballast-engine): a step
    /// there takes microseconds, so another process's write waits for little. `false`
    /// by default: a step that waits on a venue for seconds keeps nothing locked.
    fn answers_in_process(&self) -> bool {
        false
    }

    /// The trading rules of `base`/`quote`.
    fn rules(&self, base: &Asset, quote: &Asset) -> Result<SymbolRules, ExchangeError>;

    /// Every balance of the account.
    fn balances(&self) -> Result<BTreeMap<Asset, Balance>, ExchangeError>;

    /// The last price of each base asset against `quote`.
    fn prices(&self, bases: &[Asset], quote: &Asset) -> Result<Prices, ExchangeError>;

    /// The best bid and ask of `base`/`quote` now: where a post-only order rests (a buy
    /// at the bid, a sell at the ask). A venue without a book answers
    /// [`ExchangeError::NotFound`] (the default); the engine then works its maker legs
    /// as market orders.
    fn best_bid_ask(&self, base: &Asset, quote: &Asset) -> Result<Touch, ExchangeError> {
        Err(ExchangeError::NotFound(format!("{} publishes no order book for {base}/{quote}", self.name())))
    }

    /// The commission rates the account pays on `base`/`quote` (see [`FeeRates`]). A
    /// venue that cannot say answers [`ExchangeError::NotFound`] (the default).
    fn fee_rates(&self, base: &Asset, quote: &Asset) -> Result<FeeRates, ExchangeError> {
        Err(ExchangeError::NotFound(format!("{} does not report fee rates for {base}/{quote}", self.name())))
    }

    /// Converts the account's whole free balance of each of `assets` with the venue's
    /// small-balance conversion (see [`DustConversion`]); `quote` names the bots' quote
    /// (the paper venue converts into it). Not an order: nothing to query by client id,
    /// so an [`ExchangeError::OutcomeUnknown`] must be settled by reading the balances.
    /// A venue without one answers [`ExchangeError::NotFound`] (the default).
    fn convert_dust(&self, assets: &[Asset], quote: &Asset) -> Result<DustConversion, ExchangeError> {
        let _ = (assets, quote);
        Err(ExchangeError::NotFound(format!("{} has no small-balance conversion", self.name())))
    }

    /// Places an order. On [`ExchangeError::OutcomeUnknown`] the order may or may
    /// not exist: query it by client id before anything else.
    fn place(&self, order: &OrderRequest) -> Result<OrderReport, ExchangeError>;

    /// How long (ms) an order request stays acceptable at this venue after it is
    /// written: the engine sets each order's [`OrderRequest::expires_at`] to its
    /// creation plus this, the adapter never sends it later and tells the venue to
    /// refuse it later. 0 for a venue that answers synchronously in-process (paper).
    fn order_window_ms(&self) -> i64 {
        30_000
    }

    /// How far (ms) the venue's clock may be from ours: a venue that does not know an
    /// order proves it was never placed only at `expires_at` plus this.
    fn clock_allowance_ms(&self) -> i64 {
        10_000
    }

    /// The order of this request, or `None` if the venue has never seen its client id.
    /// The request tells an adapter where to look (its pair, its time); by default
    /// this is [`Exchange::query`]. The caller checks that the answer is this
    /// request's order (side, quantity, time), not another's under the same id.
    fn query_order(&self, order: &OrderRequest) -> Result<Option<OrderReport>, ExchangeError> {
        self.query(&order.client_id, &order.base, &order.quote)
    }

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

//! A local HTTP server that speaks the subset of the Binance spot REST dialect a
//! rebalancing bot uses, on top of the paper venue's matching engine
//! ([`ballast_exchange::paper::PaperExchange`]), with fault injection.
//!
//! Point a Binance adapter at it (`base_url = "http://127.0.0.1:PORT"`) to run the
//! real HTTP client, signing and error handling end to end without a real account.
//!
//! - [`SimState`] holds the paper venue (balances, orders, fills), the [`SimConfig`]
//!   (API key, secret, `recvWindow` ceiling, [`FaultConfig`]) and the clock.
//! - [`router`] builds the axum router, [`serve`] serves it on an address, and
//!   [`spawn_local`] starts it on `127.0.0.1:0` in a background thread with its own
//!   tokio runtime (for tests and `ballast sim`).
//!
//! Routes, error codes and faults are listed in the crate's `README.md`.
#![deny(missing_docs)]

mod binance;
mod candles;
mod depth;
mod fault;
mod gate;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use ballast_core::{Asset, SymbolRules};
use ballast_exchange::paper::PaperExchange;
use ballast_exchange::{
    ClientOrderId, Clock, Exchange, ExchangeError, OrderKind, OrderReport, OrderRequest, OrderStatus,
};
use rust_decimal::Decimal;

pub use candles::{CandleRow, CandleSource, MemoryCandles};
pub use fault::XorShift;

/// Faults the server injects. Probabilities are in `0 ..= 1` (out-of-range values are
/// clamped); every draw comes from one deterministic [`XorShift`] seeded with `seed`,
/// so a run with the same requests in the same order sees the same faults.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultConfig {
    /// Milliseconds every request waits before it is handled.
    pub latency_ms: u64,
    /// Probability that a request is answered `429` (`-1003`, `Retry-After: 1`)
    /// without being handled.
    pub rate_429: f64,
    /// Probability that a request is answered `503` (`-1001`) without being handled.
    pub rate_5xx: f64,
    /// Probability that an order placement executes at the paper venue but is answered
    /// `502 Bad Gateway` with an empty body: the client cannot know the outcome.
    pub drop_after_execution: f64,
    /// Probability that an order placement is refused (`400`, `-2010`, "New order
    /// rejected.") without being executed.
    pub reject_rate: f64,
    /// Probability that an order placement fills only in part: the paper venue's
    /// one-shot [`ballast_exchange::paper::Faults::partial_fill`] is set to
    /// `partial_fill_fraction` before the order is placed (a taker fills
    /// `qty * fraction` floored to the step and ends expired; a resting limit order is
    /// not affected).
    pub partial_fill_rate: f64,
    /// The fraction of the order that fills under `partial_fill_rate` (`0 < f < 1`;
    /// anything else, such as the default 0, means 0.5).
    pub partial_fill_fraction: f64,
    /// Probability that a request (Binance dialect) is answered `418` (`-1003`, IP
    /// banned, `Retry-After: 2`) without being handled.
    pub rate_418: f64,
    /// Probability that an order placement executes at the paper venue, then the
    /// server waits `timeout_sleep_ms` before answering, so that a client with a
    /// shorter timeout gives up after sending it.
    pub timeout_after_execution: f64,
    /// How long `timeout_after_execution` waits, in ms (0 means 30,000).
    pub timeout_sleep_ms: u64,
    /// Seed of the PRNG (0 is replaced by a fixed non-zero constant).
    pub seed: u64,
}

/// The server's configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    /// The API key clients must send in `X-MBX-APIKEY`.
    pub api_key: String,
    /// The HMAC-SHA256 secret signed requests are checked against.
    pub secret: String,
    /// The largest `recvWindow` accepted (Binance: 60,000); the default window is 5,000.
    pub recv_window_max_ms: u64,
    /// Faults to inject.
    pub faults: FaultConfig,
    /// The rate limits enforced (the venues' published defaults).
    pub limits: RateLimits,
}

impl Default for SimConfig {
    /// Key `sim-key`, secret `sim-secret`, `recvWindow` up to 60,000 ms, no faults,
    /// the venues' rate limits.
    fn default() -> Self {
        Self {
            api_key: "sim-key".into(),
            secret: "sim-secret".into(),
            recv_window_max_ms: 60_000,
            faults: FaultConfig::default(),
            limits: RateLimits::default(),
        }
    }
}

/// The rate limits the server enforces, on the protocol clock (the windows start at
/// multiples of their length since the epoch, as Binance's and Gate's). A limit of 0
/// is no limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimits {
    /// Binance `REQUEST_WEIGHT` per minute (Binance: 6,000). Over it: 429 `-1003` with
    /// `Retry-After` the seconds to the minute's end.
    pub weight_per_minute: u64,
    /// Binance unfilled `ORDERS` per 10 seconds (Binance: 100). An order placed counts
    /// until it first fills. Over it: 429 `-1015` with `Retry-After` to the window's end.
    pub orders_per_10s: u64,
    /// Binance unfilled `ORDERS` per day (Binance: 200,000).
    pub orders_per_day: u64,
    /// How many request-weight 429s a minute may bring before the next request over
    /// the limit bans the IP instead (418 `-1003`, every request refused until the ban
    /// ends). Binance bans "repeatedly violating" clients without saying how many
    /// violations; the sim's default is 5.
    pub ban_after_429s: u64,
    /// The first ban's length in seconds (Binance: 2 minutes); each further ban
    /// doubles it, up to 3 days (Binance: "from 2 minutes to 3 days").
    pub ban_secs: u64,
    /// Gate: spot order placements and amendments per currency pair per second
    /// (Gate: 10).
    pub gate_orders_per_sec: u64,
    /// Gate: other requests per endpoint per 10 seconds (Gate: 200).
    pub gate_requests_per_10s: u64,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            weight_per_minute: 6_000,
            orders_per_10s: 100,
            orders_per_day: 200_000,
            ban_after_429s: 5,
            ban_secs: 120,
            gate_orders_per_sec: 10,
            gate_requests_per_10s: 200,
        }
    }
}

/// What the sim remembers about an order it placed, beyond the paper venue's report.
#[derive(Clone, Debug)]
pub(crate) struct OrderMeta {
    /// The paper venue's client id (the client's own id when the paper venue accepts
    /// it and has not seen it; otherwise a generated one, see [`SimState::place`]).
    pub client_id: ClientOrderId,
    /// The client order id as the client sent it (Binance `newClientOrderId`, Gate
    /// `text` without `t-`), or the generated one.
    pub client: String,
    pub base: Asset,
    pub quote: Asset,
    pub kind: OrderKind,
    /// Binance's name of the order type (`MARKET`, `LIMIT`, `LIMIT_MAKER`).
    pub order_type: &'static str,
    pub time_in_force: Option<String>,
    pub time: i64,
    /// The order rested at placement (its fills are maker fills).
    pub rested: bool,
    /// An immediate-or-cancel / fill-or-kill order that did not fill and was cancelled
    /// at once (Binance `EXPIRED`, Gate `finish_as: ioc|fok`).
    pub expired: bool,
    /// A market order given by its quote amount (Binance `quoteOrderQty`, a Gate market buy).
    pub quote_qty: Option<Decimal>,
}

/// Mutable bookkeeping of the server.
#[derive(Debug, Default)]
pub(crate) struct Book {
    /// Orders placed through the sim, by venue order id.
    pub orders: BTreeMap<u64, OrderMeta>,
    /// The latest order placed with a client id, by `(base, quote, client id)`.
    pub by_client: BTreeMap<(Asset, Asset, String), u64>,
    /// Counter for generated client order ids.
    pub next_auto_id: u64,
    /// (minute of the sim clock, request weight used in it).
    pub weight: (i64, u64),
    /// Unfilled orders placed through the Binance dialect (10-second window start,
    /// count; day start, count), for `X-MBX-ORDER-COUNT-*` and the `ORDERS` limits.
    pub order_count: ((i64, u64), (i64, u64)),
    /// Orders counted in `order_count` whose first fill has not been seen yet (a fill
    /// takes the order off the counts, as on Binance).
    pub unfilled: std::collections::BTreeSet<u64>,
    /// Request-weight 429s answered in a minute: (minute, count).
    pub strikes: (i64, u64),
    /// The end (ms, protocol clock) of the current IP ban, if any.
    pub banned_until: Option<i64>,
    /// Bans so far (each doubles the next one's length).
    pub bans: u32,
    /// Small-balance conversions done ([`SimState::convert_dust`]), oldest first.
    pub dust_log: Vec<DustRecord>,
}

/// One asset of a small-balance conversion, as both dialects report it (Binance
/// `transferResult`, Gate `small_balance_history`).
#[derive(Clone, Debug)]
pub(crate) struct DustRecord {
    /// The conversion's id (Binance `tranId`); Gate numbers each record instead.
    pub tran_id: u64,
    /// When (ms, venue clock).
    pub time: i64,
    /// The asset converted, the quantity taken, what it gave (BNB, GT) after the
    /// charge, and the charge.
    pub asset: Asset,
    pub amount: Decimal,
    pub got: Decimal,
    pub charge: Decimal,
}

/// What each dialect's small-balance conversion gives: Binance converts dust into BNB
/// ("Convert dust assets to BNB", `POST /sapi/v1/asset/dust`,
/// <https://developers.binance.com/docs/wallet/asset/dust-transfer>), Gate into GT
/// ("Convert small balance", `POST /wallet/small_balance`,
/// <https://www.gate.io/docs/developers/apiv4/en/#convert-small-balance>).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DustInto {
    /// BNB.
    Binance,
    /// GT.
    Gate,
}

impl DustInto {
    /// The asset received.
    pub(crate) fn asset(self) -> Asset {
        Asset::new(match self {
            Self::Binance => "BNB",
            Self::Gate => "GT",
        })
        .unwrap_or_else(|_| unreachable!("BNB and GT are valid asset names"))
    }
}

/// An order to place through [`SimState::place`], in the terms both dialects share.
#[derive(Clone, Debug)]
pub(crate) struct Placement {
    /// The client's id for it (already checked against the dialect's rules), if any.
    pub client: Option<String>,
    pub base: Asset,
    pub quote: Asset,
    pub side: ballast_core::planner::Side,
    pub qty: Decimal,
    pub kind: OrderKind,
    pub order_type: &'static str,
    pub time_in_force: Option<String>,
    /// Cancel at once whatever does not fill at placement (IOC, FOK).
    pub immediate: bool,
    /// Refuse the order if it would fill at placement (post-only, `LIMIT_MAKER`).
    pub post_only: bool,
    pub quote_qty: Option<Decimal>,
    /// Count it against Binance's unfilled `ORDERS` limits (Binance dialect).
    pub count_orders: bool,
}

/// Why [`SimState::place`] placed nothing.
#[derive(Debug)]
pub(crate) enum PlaceError {
    /// An open order already has this client id.
    Duplicate,
    /// A post-only order would have filled at once.
    WouldTake,
    /// Binance's unfilled `ORDERS` limit of this window is reached: (limit, window
    /// in Binance's words, e.g. `10 SECOND`, ms until the window ends).
    TooManyOrders(u64, &'static str, i64),
    /// The paper venue (or an overriding rule) refused it.
    Venue(ExchangeError),
}

/// Everything the server shares between requests.
pub struct SimState {
    exchange: Arc<PaperExchange>,
    clock: Arc<dyn Clock>,
    config: SimConfig,
    symbols: Vec<(Asset, Asset)>,
    faults: Mutex<(FaultConfig, XorShift)>,
    withdrawals_enabled: AtomicBool,
    pub(crate) book: Mutex<Book>,
    /// The history `GET /api/v3/klines` serves ([`Self::with_candles`]).
    candles: Option<Arc<dyn CandleSource>>,
    /// How many faults of each kind were injected.
    injected: Mutex<BTreeMap<&'static str, u64>>,
    /// The clock of the protocol (`serverTime`, timestamp checks, weight windows);
    /// `None`: the venue clock ([`Self::with_request_clock`]).
    request_clock: Option<Arc<dyn Clock>>,
    /// Added to the protocol's time ([`Self::set_clock_offset_ms`]).
    clock_offset_ms: AtomicI64,
    /// Rules that replace the paper venue's for some symbols ([`Self::set_rules`]).
    rules_override: Mutex<BTreeMap<(Asset, Asset), SymbolRules>>,
    /// Held while an order is placed ([`Self::place`]).
    placing: Mutex<()>,
    /// The replay's clock, when it is not the venue clock ([`Self::with_replay_clock`]).
    replay_clock: Option<Arc<dyn Clock>>,
}

impl std::fmt::Debug for SimState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimState").field("symbols", &self.symbols).finish_non_exhaustive()
    }
}

impl SimState {
    /// A server on `exchange`, listing `symbols` (`(base, quote)` pairs, e.g.
    /// `(BTC, USDT)` is `BTCUSDT`). `clock` must be the clock the paper venue uses: it
    /// gives `serverTime` and the `recvWindow` reference.
    pub fn new(
        exchange: Arc<PaperExchange>,
        clock: Arc<dyn Clock>,
        config: SimConfig,
        symbols: Vec<(Asset, Asset)>,
    ) -> Self {
        let rng = XorShift::new(config.faults.seed);
        Self {
            exchange,
            clock,
            faults: Mutex::new((config.faults.clone(), rng)),
            config,
            symbols,
            withdrawals_enabled: AtomicBool::new(false),
            book: Mutex::new(Book::default()),
            candles: None,
            injected: Mutex::new(BTreeMap::new()),
            request_clock: None,
            clock_offset_ms: AtomicI64::new(0),
            rules_override: Mutex::new(BTreeMap::new()),
            placing: Mutex::new(()),
            replay_clock: None,
        }
    }

    /// Serves candles from a replay whose clock is `replay` while the venue clock (the
    /// one every time a client sees comes from: orders, fills, `serverTime`) is wall
    /// time. Candles are then shifted by whole intervals so that the bar the replay is
    /// in is the bar of the venue clock's now, and a client's times are read on that scale.
    pub fn with_replay_clock(mut self, replay: Arc<dyn Clock>) -> Self {
        self.replay_clock = Some(replay);
        self
    }

    /// The replay's time: the replay clock's, else the venue clock's.
    pub(crate) fn replay_ms(&self) -> i64 {
        self.replay_clock.as_ref().unwrap_or(&self.clock).now().0
    }

    /// What to add to a candle's replay time to get the time a client sees, for
    /// interval `step` ms: a whole number of steps, zero without a replay clock.
    pub(crate) fn candle_shift(&self, step: i64) -> i64 {
        if self.replay_clock.is_none() || step <= 0 {
            return 0;
        }
        candles::bucket(self.now_ms(), step) - candles::bucket(self.replay_ms(), step)
    }

    /// The paper venue behind the server (deposit funds, match resting orders...).
    pub fn exchange(&self) -> &Arc<PaperExchange> {
        &self.exchange
    }

    /// The configuration (its `faults` as given at construction; see [`Self::faults`]).
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// The symbols served, as `(base, quote)`.
    pub fn symbols(&self) -> &[(Asset, Asset)] {
        &self.symbols
    }

    /// The faults in force now.
    pub fn faults(&self) -> FaultConfig {
        lock(&self.faults).0.clone()
    }

    /// Replaces the faults in force and reseeds the PRNG with `faults.seed`.
    pub fn set_faults(&self, faults: FaultConfig) {
        let rng = XorShift::new(faults.seed);
        *lock(&self.faults) = (faults, rng);
    }

    /// Makes `GET /sapi/v1/account/apiRestrictions` report `enableWithdrawals` as
    /// `enabled` (default false), to test that a bot refuses a withdrawal-enabled key.
    pub fn set_withdrawals_enabled(&self, enabled: bool) {
        self.withdrawals_enabled.store(enabled, Ordering::SeqCst);
    }

    pub(crate) fn withdrawals_enabled(&self) -> bool {
        self.withdrawals_enabled.load(Ordering::SeqCst)
    }

    /// The venue clock's time (orders, fills, which candles are closed).
    pub(crate) fn now_ms(&self) -> i64 {
        self.clock.now().0
    }

    /// The protocol's time (`serverTime`, the checks of request timestamps, the
    /// request-weight minute): the request clock's (or the venue clock's), plus the
    /// offset of [`Self::set_clock_offset_ms`].
    pub(crate) fn server_ms(&self) -> i64 {
        let clock = self.request_clock.as_ref().unwrap_or(&self.clock);
        clock.now().0 + self.clock_offset_ms.load(Ordering::SeqCst)
    }

    /// Tells the time of the protocol (`serverTime`, request timestamps, weight
    /// windows) from `clock` instead of the venue clock. An accelerated replay moves
    /// the venue clock hours per wall second, which no signed request could keep up
    /// with; a real venue's API clock is wall time, so `ballast sim` passes the system
    /// clock here and the replay only moves prices and order times.
    pub fn with_request_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.request_clock = Some(clock);
        self
    }

    /// Skews the server's protocol clock (`serverTime`, the checks of request
    /// timestamps) by `offset_ms`, as a real venue's clock drifts from the client's:
    /// a client must resynchronise.
    pub fn set_clock_offset_ms(&self, offset_ms: i64) {
        self.clock_offset_ms.store(offset_ms, Ordering::SeqCst);
    }

    /// Replaces the rules of `base`/`quote` from now on: `exchangeInfo` and
    /// `currency_pairs` report them and placements are checked against them before the
    /// paper venue sees them, as when a venue tightens a filter under a running bot.
    pub fn set_rules(&self, base: &Asset, quote: &Asset, rules: SymbolRules) {
        lock(&self.rules_override).insert((base.clone(), quote.clone()), rules);
    }

    /// The rules of `base`/`quote` in force: an override of [`Self::set_rules`], else
    /// the paper venue's for that symbol (a cross pair's own, or the base's against
    /// the quote, [`PaperExchange::symbol_rules`]).
    pub(crate) fn rules_of(&self, base: &Asset, quote: &Asset) -> SymbolRules {
        lock(&self.rules_override)
            .get(&(base.clone(), quote.clone()))
            .copied()
            .unwrap_or_else(|| self.exchange.symbol_rules(base, quote))
    }

    /// Checks an order against the rules set with [`Self::set_rules`] (the paper venue
    /// checks its own); the error names the filter as the paper venue does.
    pub(crate) fn check_override(&self, req: &OrderRequest) -> Result<(), ExchangeError> {
        let Some(r) = lock(&self.rules_override).get(&(req.base.clone(), req.quote.clone())).copied() else {
            return Ok(());
        };
        if req.qty.0 < r.min_qty {
            return Err(ExchangeError::Rejected(format!("LOT_SIZE: quantity {} is below {}", req.qty.0, r.min_qty)));
        }
        let price = match req.kind {
            OrderKind::Limit { price } | OrderKind::PostOnly { price } => price.0,
            OrderKind::Market => self
                .exchange
                .prices(std::slice::from_ref(&req.base), &req.quote)?
                .get(&req.base)
                .map(|p| p.0)
                .unwrap_or_default(),
        };
        if req.qty.0 * price < r.min_notional {
            return Err(ExchangeError::Rejected(format!(
                "NOTIONAL: {} is below the minimum notional {}",
                req.qty.0 * price,
                r.min_notional
            )));
        }
        Ok(())
    }

    /// How many faults of each kind were injected so far (`rate_429`, `weight_429`,
    /// `rate_5xx`, `rate_418`, `reject_rate`, `drop_after_execution`,
    /// `partial_fill_rate`, `timeout_after_execution`); also served unauthenticated as
    /// JSON on `GET /sim/faults`.
    pub fn injected(&self) -> BTreeMap<&'static str, u64> {
        lock(&self.injected).clone()
    }

    pub(crate) fn count(&self, kind: &'static str) {
        *lock(&self.injected).entry(kind).or_default() += 1;
    }

    /// Draws one fault of `kind`: true with probability `pick(faults)`, counted. A zero
    /// probability draws nothing.
    pub(crate) fn roll(&self, kind: &'static str, pick: impl Fn(&FaultConfig) -> f64) -> bool {
        let hit = {
            let mut g = lock(&self.faults);
            let p = pick(&g.0);
            if p.is_nan() || p <= 0.0 {
                return false;
            }
            g.1.next_f64() < p.min(1.0)
        };
        if hit {
            self.count(kind);
        }
        hit
    }

    pub(crate) fn latency_ms(&self) -> u64 {
        lock(&self.faults).0.latency_ms
    }

    /// Draws `partial_fill_rate`; when it hits, sets the paper venue's one-shot
    /// partial fill for the placement that follows.
    pub(crate) fn maybe_partial_fill(&self) {
        if !self.roll("partial_fill_rate", |f| f.partial_fill_rate) {
            return;
        }
        let f = lock(&self.faults).0.partial_fill_fraction;
        let f = if f > 0.0 && f < 1.0 { f } else { 0.5 };
        let fraction = rust_decimal::Decimal::try_from(f).unwrap_or(rust_decimal::Decimal::new(5, 1));
        self.exchange.set_faults(ballast_exchange::paper::Faults {
            partial_fill: Some(fraction),
            ..ballast_exchange::paper::Faults::default()
        });
    }

    /// Draws `timeout_after_execution`; when it hits, waits `timeout_sleep_ms`.
    pub(crate) async fn maybe_timeout(&self) {
        if !self.roll("timeout_after_execution", |f| f.timeout_after_execution) {
            return;
        }
        let ms = match lock(&self.faults).0.timeout_sleep_ms {
            0 => 30_000,
            ms => ms,
        };
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }

    /// The base quantity a market order of `amount` quote buys (at the last price with
    /// the paper slippage) or sells (at the last price), rounded down to the step.
    pub(crate) fn qty_for_quote(
        &self,
        base: &Asset,
        quote: &Asset,
        amount: Decimal,
        side: ballast_core::planner::Side,
    ) -> Result<Decimal, ExchangeError> {
        let prices = self.exchange.prices(std::slice::from_ref(base), quote)?;
        let last = prices.get(base).ok_or_else(|| ExchangeError::NotFound(format!("{base}{quote} has no price")))?.0;
        let slip = self.exchange.config().slippage_bps / Decimal::from(10_000);
        let unit = match side {
            ballast_core::planner::Side::Buy => last * (Decimal::ONE + slip),
            ballast_core::planner::Side::Sell => last,
        };
        if unit <= Decimal::ZERO {
            return Err(ExchangeError::NotFound(format!("{base}{quote} has no price")));
        }
        let step = self.rules_of(base, quote).step;
        let raw = amount / unit;
        Ok(if step > Decimal::ZERO { (raw / step).floor() * step } else { raw })
    }

    /// The last price of `base` in `quote`, if it has one.
    pub(crate) fn last_price(&self, base: &Asset, quote: &Asset) -> Option<Decimal> {
        self.exchange.prices(std::slice::from_ref(base), quote).ok()?.get(base).map(|p| p.0)
    }

    /// Whether a post-only order (Binance `LIMIT_MAKER`, Gate `poc`) at `price` would
    /// take, so that the venue refuses it (placed or amended there): the one place both
    /// dialects decide it. The sim decides against the last price (a buy at or above
    /// it, a sell at or below it), not against the opposite side of its published book
    /// as the venues do: its orders fill at the last price, so a buy between the last
    /// price and the ask would fill at once instead of resting (see the README's *Order
    /// book*).
    pub(crate) fn post_only_takes(
        &self,
        base: &Asset,
        quote: &Asset,
        side: ballast_core::planner::Side,
        price: Decimal,
    ) -> bool {
        self.last_price(base, quote).is_some_and(|last| match side {
            ballast_core::planner::Side::Buy => price >= last,
            ballast_core::planner::Side::Sell => price <= last,
        })
    }

    /// Places an order at the paper venue and records it. A client id may be reused
    /// once the order that had it is final (as on Binance); the paper venue, which
    /// refuses any id it has seen, then gets a generated one, as it does for an id it
    /// cannot hold (longer than 26 characters, or with `.`, `:`, `/`).
    pub(crate) fn place(&self, p: Placement) -> Result<(u64, OrderReport), PlaceError> {
        // One placement at a time: the duplicate check and the record are atomic.
        let _one = lock(&self.placing);
        if p.count_orders {
            self.check_order_limits()?;
        }
        if let Some(c) = &p.client
            && let Some(id) = self.paper_id_of(c, &p.base, &p.quote)
            && self.exchange.query(&id, &p.base, &p.quote).ok().flatten().is_some_and(|r| !r.status.is_final())
        {
            return Err(PlaceError::Duplicate);
        }
        if p.post_only
            && let OrderKind::Limit { price } = p.kind
            && self.post_only_takes(&p.base, &p.quote, p.side, price.0)
        {
            return Err(PlaceError::WouldTake);
        }
        let paper_id = |c: &str| -> Option<ClientOrderId> {
            let id = ClientOrderId::new(c).ok()?;
            let known = self.exchange.query(&id, &p.base, &p.quote).ok().flatten().is_some()
                || lock(&self.book).orders.values().any(|m| m.client_id == id);
            (!known).then_some(id)
        };
        let internal = match p.client.as_deref().and_then(paper_id) {
            Some(id) => id,
            None => loop {
                let n = {
                    let mut book = lock(&self.book);
                    book.next_auto_id += 1;
                    book.next_auto_id
                };
                if let Some(id) = paper_id(&format!("sim-{n}")) {
                    break id;
                }
            },
        };
        let client = p.client.clone().unwrap_or_else(|| internal.as_str().to_string());
        let req = OrderRequest {
            client_id: internal,
            base: p.base.clone(),
            quote: p.quote.clone(),
            side: p.side,
            qty: ballast_core::Qty(p.qty),
            kind: p.kind,
            expires_at: None,
        };
        self.check_override(&req).map_err(PlaceError::Venue)?;
        self.maybe_partial_fill();
        let now = self.now_ms();
        let mut r = self.exchange.place(&req).map_err(PlaceError::Venue)?;
        let rested = r.status == OrderStatus::New;
        let mut expired = false;
        if p.immediate && !r.status.is_final() {
            // Did not fill (in full) at once: what is left is cancelled.
            r = self.exchange.cancel(&r.client_id, &r.base, &r.quote).map_err(PlaceError::Venue)?;
            expired = true;
        }
        let id: u64 = r.venue_id.parse().unwrap_or(0);
        let meta = OrderMeta {
            client_id: r.client_id.clone(),
            client: client.clone(),
            base: p.base.clone(),
            quote: p.quote.clone(),
            kind: p.kind,
            order_type: p.order_type,
            time_in_force: p.time_in_force,
            time: now,
            rested: rested && !expired,
            expired,
            quote_qty: p.quote_qty,
        };
        let mut book = lock(&self.book);
        book.orders.insert(id, meta);
        book.by_client.insert((p.base, p.quote, client), id);
        if p.count_orders {
            let t = self.server_ms();
            let (window, day) = (t.div_euclid(10_000), t.div_euclid(86_400_000));
            let (ten, daily) = &mut book.order_count;
            *ten = if ten.0 == window { (window, ten.1 + 1) } else { (window, 1) };
            *daily = if daily.0 == day { (day, daily.1 + 1) } else { (day, 1) };
            // Off the counts at its first fill, seen before the next placement (as on
            // Binance, where the count follows a fill with a short delay).
            book.unfilled.insert(id);
        }
        Ok((id, r))
    }

    /// Takes the orders that filled since the last look off the unfilled counts, then
    /// refuses a placement when a window's count is at its limit.
    fn check_order_limits(&self) -> Result<(), PlaceError> {
        let pending: Vec<(u64, OrderMeta)> = {
            let book = lock(&self.book);
            book.unfilled.iter().filter_map(|id| book.orders.get(id).map(|m| (*id, m.clone()))).collect()
        };
        let mut filled = Vec::new();
        let mut done = Vec::new();
        for (id, m) in pending {
            match self.exchange.query(&m.client_id, &m.base, &m.quote) {
                Ok(Some(r)) if r.filled.0 > Decimal::ZERO => filled.push(id),
                Ok(Some(r)) if !r.status.is_final() => {}
                Ok(_) => done.push(id),
                Err(_) => {}
            }
        }
        let now = self.server_ms();
        let limits = &self.config.limits;
        let mut book = lock(&self.book);
        for id in done {
            book.unfilled.remove(&id);
        }
        for id in filled {
            book.unfilled.remove(&id);
            let (ten, day) = &mut book.order_count;
            ten.1 = ten.1.saturating_sub(1);
            day.1 = day.1.saturating_sub(1);
        }
        let (ten, day) = book.order_count;
        let ten_now = if ten.0 == now.div_euclid(10_000) { ten.1 } else { 0 };
        let day_now = if day.0 == now.div_euclid(86_400_000) { day.1 } else { 0 };
        if limits.orders_per_10s > 0 && ten_now >= limits.orders_per_10s {
            let left = 10_000 - now.rem_euclid(10_000);
            return Err(PlaceError::TooManyOrders(limits.orders_per_10s, "10 SECOND", left));
        }
        if limits.orders_per_day > 0 && day_now >= limits.orders_per_day {
            let left = 86_400_000 - now.rem_euclid(86_400_000);
            return Err(PlaceError::TooManyOrders(limits.orders_per_day, "1 DAY", left));
        }
        Ok(())
    }

    /// Amends the open limit order `id` (a venue order id placed through the sim) at
    /// the paper venue ([`PaperExchange::amend`]) and keeps the sim's record of its
    /// price in step.
    pub(crate) fn amend(
        &self,
        id: u64,
        qty: Option<Decimal>,
        price: Option<Decimal>,
    ) -> Result<OrderReport, ExchangeError> {
        let _one = lock(&self.placing);
        let meta =
            lock(&self.book).orders.get(&id).cloned().ok_or_else(|| ExchangeError::NotFound(format!("order {id}")))?;
        let r = self.exchange.amend(
            &meta.client_id,
            &meta.base,
            &meta.quote,
            qty.map(ballast_core::Qty),
            price.map(ballast_core::Price),
        )?;
        if let Some(p) = price
            && let Some(m) = lock(&self.book).orders.get_mut(&id)
        {
            m.kind = OrderKind::Limit { price: ballast_core::Price(p) };
        }
        Ok(r)
    }

    /// The order the client knows as `client` on the pair: the latest placed with it
    /// through the sim, else one placed on the paper venue directly with that id.
    pub(crate) fn order_by_client(&self, client: &str, base: &Asset, quote: &Asset) -> Option<(u64, OrderMeta)> {
        let book = lock(&self.book);
        if let Some(id) = book.by_client.get(&(base.clone(), quote.clone(), client.to_string())) {
            return book.orders.get(id).map(|m| (*id, m.clone()));
        }
        None
    }

    /// The paper venue's client id of the order the client knows as `client`: see
    /// [`Self::order_by_client`]; an id the sim never saw is looked up on the paper
    /// venue as it is, unless the sim gave that id to another order.
    pub(crate) fn paper_id_of(&self, client: &str, base: &Asset, quote: &Asset) -> Option<ClientOrderId> {
        if let Some((_, m)) = self.order_by_client(client, base, quote) {
            return Some(m.client_id);
        }
        let id = ClientOrderId::new(client).ok()?;
        let taken = lock(&self.book).orders.values().any(|m| m.client_id == id);
        (!taken).then_some(id)
    }

    /// Unfilled orders counted in the current 10-second window and day (protocol clock).
    pub(crate) fn order_counts(&self) -> (u64, u64) {
        let now = self.server_ms();
        let book = lock(&self.book);
        let (ten, day) = book.order_count;
        (
            if ten.0 == now.div_euclid(10_000) { ten.1 } else { 0 },
            if day.0 == now.div_euclid(86_400_000) { day.1 } else { 0 },
        )
    }

    /// Converts the account's whole free balance of each of `assets` with `dialect`'s
    /// small-balance conversion (into BNB or GT, [`DustInto`]), valued at the last
    /// prices in the quote `into` is served against
    /// ([`PaperExchange::convert_small_balances`], less its charge), and records it for
    /// the dialects' histories. Refused (nothing changes) when the sim serves no market
    /// of `into`, or the paper venue refuses an asset.
    pub(crate) fn convert_dust(&self, assets: &[Asset], dialect: DustInto) -> Result<Vec<DustRecord>, ExchangeError> {
        let into = dialect.asset();
        let quote = self.symbols.iter().find(|(b, _)| *b == into).map(|(_, q)| q.clone()).ok_or_else(|| {
            ExchangeError::Rejected(format!("the sim serves no {into} market: nothing can be converted into {into}"))
        })?;
        let _one = lock(&self.placing);
        let conv = self.exchange.convert_small_balances(assets, &into, &quote)?;
        let time = self.now_ms();
        let mut book = lock(&self.book);
        let tran_id = book.dust_log.last().map_or(1, |r| r.tran_id + 1);
        // The charge is the paper venue's total; each asset's share is in proportion to
        // what it gave (8 decimals), the last taking what rounding left.
        let total_got: Decimal = conv.converted.iter().map(|(_, _, got)| got.0).sum();
        let mut left = conv.charge.0;
        let n = conv.converted.len();
        let mut records = Vec::with_capacity(n);
        for (i, (asset, taken, got)) in conv.converted.iter().enumerate() {
            let charge = if i + 1 == n || total_got.is_zero() {
                left
            } else {
                (conv.charge.0 * got.0 / total_got).round_dp(8).min(left)
            };
            left -= charge;
            records.push(DustRecord { tran_id, time, asset: asset.clone(), amount: taken.0, got: got.0, charge });
        }
        book.dust_log.extend(records.iter().cloned());
        Ok(records)
    }

    /// Every small-balance conversion so far, oldest first.
    pub(crate) fn dust_log(&self) -> Vec<DustRecord> {
        lock(&self.book).dust_log.clone()
    }

    /// `BTCUSDT` -> `(BTC, USDT)`, among the served symbols.
    pub(crate) fn symbol(&self, s: &str) -> Option<(Asset, Asset)> {
        self.symbols.iter().find(|(b, q)| format!("{b}{q}") == s).cloned()
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The axum router of the Binance dialect and of the Gate API v4 dialect (under
/// `/api/v4`) on `state`.
pub fn router(state: Arc<SimState>) -> axum::Router {
    let stats = axum::Router::new()
        .route("/sim/faults", axum::routing::get(injected_faults).delete(faults_off).post(faults_on))
        .route("/sim/clock", axum::routing::get(sim_clock))
        .with_state(state.clone());
    binance::router(state.clone()).merge(gate::router(state)).merge(stats)
}

/// `DELETE /sim/faults`: no more faults from now on (to settle after a fault run);
/// answers the faults injected so far, by kind.
async fn faults_off(axum::extract::State(s): axum::extract::State<Arc<SimState>>) -> axum::Json<serde_json::Value> {
    s.set_faults(FaultConfig::default());
    axum::Json(serde_json::json!(s.injected()))
}

/// `POST /sim/faults`: the faults of the configuration again (as at start, same seed);
/// with a JSON object body, those faults instead (`{"rate_429": 1}`: probabilities
/// `rate_429`, `rate_5xx`, `rate_418`, `reject_rate`, `drop_after_execution`,
/// `partial_fill_rate`, `timeout_after_execution`; `partial_fill_fraction`;
/// `latency_ms`, `seed`; the others 0). Answers the faults injected so far, by kind; a bad body is a 400 naming the key.
async fn faults_on(
    axum::extract::State(s): axum::extract::State<Arc<SimState>>,
    body: String,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if body.trim().is_empty() {
        s.set_faults(s.config().faults.clone());
        return axum::Json(serde_json::json!(s.injected())).into_response();
    }
    match faults_from_json(&body) {
        Ok(f) => {
            s.set_faults(f);
            axum::Json(serde_json::json!(s.injected())).into_response()
        }
        Err(e) => (axum::http::StatusCode::BAD_REQUEST, axum::Json(serde_json::json!({"error": e}))).into_response(),
    }
}

/// A [`FaultConfig`] from a JSON object of some of its fields (the rest 0).
fn faults_from_json(body: &str) -> Result<FaultConfig, String> {
    let v: serde_json::Value = serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
    let obj = v.as_object().ok_or("not a JSON object")?;
    let mut f = FaultConfig::default();
    for (k, v) in obj {
        let p = || v.as_f64().filter(|p| (0.0..=1.0).contains(p)).ok_or(format!("{k}: a number from 0 to 1"));
        let n = || v.as_u64().ok_or(format!("{k}: a whole number"));
        match k.as_str() {
            "rate_429" => f.rate_429 = p()?,
            "rate_5xx" => f.rate_5xx = p()?,
            "rate_418" => f.rate_418 = p()?,
            "reject_rate" => f.reject_rate = p()?,
            "drop_after_execution" => f.drop_after_execution = p()?,
            "partial_fill_rate" => f.partial_fill_rate = p()?,
            "timeout_after_execution" => f.timeout_after_execution = p()?,
            "partial_fill_fraction" => f.partial_fill_fraction = p()?,
            "latency_ms" => f.latency_ms = n()?,
            "seed" => f.seed = n()?,
            _ => return Err(format!("unknown fault {k}")),
        }
    }
    Ok(f)
}

/// `GET /sim/clock`, outside fault injection: the replay's time in ms (`now`, also
/// `replay`: which bar's prices are served) and the venue clock's (`venue`: the time
/// clients see; the same as the replay's without [`SimState::with_replay_clock`]).
async fn sim_clock(axum::extract::State(s): axum::extract::State<Arc<SimState>>) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({"now": s.replay_ms(), "replay": s.replay_ms(), "venue": s.now_ms()}))
}

/// `GET /sim/faults`: the faults injected so far, by kind ([`SimState::injected`]).
async fn injected_faults(
    axum::extract::State(s): axum::extract::State<Arc<SimState>>,
) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!(s.injected()))
}

/// Serves [`router`] on `addr` until the process ends. Bind a loopback address: the
/// sim has no TLS and its key is not a secret.
pub async fn serve(addr: SocketAddr, state: Arc<SimState>) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, router(state)).await
}

/// Stops a server started by [`spawn_local`] (on [`ShutdownHandle::shutdown`] or on
/// drop) and waits for its thread.
#[derive(Debug)]
pub struct ShutdownHandle {
    tx: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ShutdownHandle {
    /// Stops the server and waits for its thread to end.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ShutdownHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts the server on `127.0.0.1:0` in a background thread with its own tokio
/// runtime; returns the bound address and the handle that stops it.
///
/// # Panics
/// If the loopback port cannot be bound or the runtime cannot be built.
pub fn spawn_local(state: Arc<SimState>) -> (SocketAddr, ShutdownHandle) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.set_nonblocking(true).expect("non-blocking listener");
    let addr = listener.local_addr().expect("local address");
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name(format!("ballast-sim-{}", addr.port()))
        .spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
                let shutdown = async move {
                    let _ = rx.await;
                };
                let _ = axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await;
            });
            // Connections still open (idle keep-alives) are dropped with the runtime.
            runtime.shutdown_timeout(std::time::Duration::from_millis(100));
        })
        .expect("spawn the sim thread");
    (addr, ShutdownHandle { tx: Some(tx), thread: Some(thread) })
}

//! The paper trading venue: a simulated spot exchange with its own durable state, so
//! that the engine can run against it and a reconciliation after a crash means
//! something.
//!
//! [`PaperExchange`] keeps the account (balances), orders, fills and the id counters
//! in its own SQLite file (WAL, `synchronous = FULL`), separate from the bot's
//! database, so a paper account survives restarts. Every operation (a placement, a
//! cancel, a match of resting orders, a deposit) is one SQLite transaction: the venue
//! is never half-updated by a crash.
//!
//! How it trades, and the choices it makes:
//! - **Prices** come from a [`PriceSource`] at the [`Clock`]'s now: [`ReplayPrices`]
//!   (bar closes) or [`FixedPrices`] (set by hand).
//! - **Market orders** fill at once and completely at the last price moved by the
//!   slippage (buy `p * (1 + s)` rounded up to the tick, sell `p * (1 - s)` rounded
//!   down). They are takers.
//! - **Limit orders** that cross the last price (a buy at or above it, a sell at or
//!   below it) fill at once as takers, at the slipped price but never worse than the
//!   limit. The others rest (status `New`) and hold their funds in `locked`: a buy holds
//!   `qty * limit * (1 + fee)` of the quote, a sell holds `qty` of the base. A resting
//!   order fills completely, at its limit price, the first time the venue sees a last
//!   price that reaches it: [`PaperExchange::match_resting`], which the replay driver
//!   calls after moving the clock and which every [`Exchange`] call runs first. There
//!   are no partial fills, except when injected ([`Faults::partial_fill`]).
//! - **A book**: the best bid and ask ([`Exchange::best_bid_ask`]) are the last price
//!   less and plus half a spread ([`PaperExchange::with_spread_bps`], default none),
//!   rounded outwards to the tick and at least one tick away: bid < last < ask.
//!   **Post-only orders** ([`OrderKind::PostOnly`]) that would take (a buy at or above
//!   the ask, a sell at or below the bid) are refused as Binance refuses a
//!   `LIMIT_MAKER` (-2010 "Order would immediately match and take"); the others rest,
//!   whatever the last price. A resting order fills only when the last price trades
//!   *through* its limit (a buy when the last price is below it, a sell when above):
//!   a price that only touches it leaves it in the queue.
//! - **Fees**: one rate, `fee_bps`, for takers and makers alike, on the fill's notional
//!   and always charged in the **quote** asset (a buy pays `notional + fee`, a sell
//!   receives `notional - fee`), like the planner's model. A real Binance charges the
//!   asset received, or BNB; the bot's ledger handles any fee asset, the paper venue
//!   just picks the quote. Fees are exact decimals, not rounded.
//! - **A fee discount** ([`PaperExchange::with_fee_discount`], off by default): a fill
//!   whose fee, less the discount, the account's free balance of the discount asset
//!   (BNB, GT) covers at that asset's last price is charged in it instead (Binance's
//!   "pay fees with BNB", Gate's GT deduction); otherwise in the quote as above. A market
//!   buy whose fee the asset covers needs only its notional of the quote; while the
//!   account holds some of the asset, [`Exchange::fee_rates`] reports the discounted
//!   rate.
//! - **Validation**, in the shape of Binance's filters, each error naming its filter:
//!   `LOT_SIZE` (quantity positive, a whole number of steps, at least `min_qty`),
//!   `PRICE_FILTER` (limit price positive and a whole number of ticks), `NOTIONAL`
//!   (quantity times the execution or limit price at least `min_notional`), then
//!   `insufficient balance`. All are [`ExchangeError::Rejected`], and a rejected order
//!   leaves no trace (its client id may be used again).
//! - **Rules** are per base asset from [`PaperConfig::rules`]; an asset it does not
//!   list trades under the book's `default` (for `RulesBook::default()`, 8 decimals of
//!   price and quantity and no minimums).
//! - **Cross pairs** ([`PaperExchange::with_pairs`], e.g. ETH/BTC) trade under their own
//!   rules at the cross price of the two coins' prices ([`PriceSource::cross`]) rounded
//!   to the pair's tick; a pair between two priced coins that is not listed is
//!   [`ExchangeError::NotFound`].
//! - **A symbol without a price** (unknown to the price source, or before its first
//!   bar) is [`ExchangeError::NotFound`] when an order is placed on it, and is left out
//!   of [`Exchange::prices`]. A resting order on it simply waits.
//! - **Ids**: client ids are unique across the whole venue (a second placement with a
//!   known id is [`ExchangeError::Duplicate`] and changes nothing). Venue order ids and
//!   trade ids are sequential numbers (`"1"`, `"2"`, ...), never reused. `query` and
//!   `cancel` find an order only on the symbol it was placed on.
//! - **Balances** lists every asset whose free or locked amount is not zero.
//! - **Faults** ([`Faults`]) are one-shot: the next [`Exchange::place`] consumes the
//!   whole set, whatever happens.

mod prices;
mod store;

pub use prices::{FixedPrices, PriceSource, ReplayPrices};

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use ballast_core::planner::{PairBook, RulesBook, Side};
use ballast_core::{Asset, Bps, Price, Prices, Qty, SymbolRules, Timestamp};
use rusqlite::{Connection, TransactionBehavior};
use rust_decimal::Decimal;

use crate::Exchange;
use crate::clock::Clock;
use crate::types::{
    Balance, ClientOrderId, DustConversion, ExchangeError, FeeRates, Fill, OrderKind, OrderReport, OrderRequest,
    OrderStatus, Touch,
};
use store::{NewOrder, OrderRow, db};

/// How the paper venue trades.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaperConfig {
    /// The venue's name, as [`Exchange::name`] reports it: usually `paper`.
    pub name: String,
    /// The fee in basis points (10 = 0.1 %), for takers and makers alike, charged in
    /// the quote asset. 0 ..= 1,000.
    pub fee_bps: Decimal,
    /// How far a taker's price moves against it, in basis points. 0 ..= 1,000.
    pub slippage_bps: Decimal,
    /// Trading rules per base asset; assets not listed use `rules.default`.
    pub rules: RulesBook,
}

impl Default for PaperConfig {
    /// `paper`, a 10 bps fee, no slippage, default rules (8 decimals, no minimums).
    fn default() -> Self {
        Self { name: "paper".into(), fee_bps: Decimal::TEN, slippage_bps: Decimal::ZERO, rules: RulesBook::default() }
    }
}

/// Faults to inject into the next [`Exchange::place`], to test a caller's recovery.
///
/// One-shot: the next `place` takes the whole set (it is then back to
/// `Faults::default()`), whether or not a fault changed anything. Precedence:
/// `fail_before_execution` answers first and nothing else happens; otherwise
/// `reject_next` refuses the order (nothing executed); then, if
/// `drop_reply_after_execution`, whatever the venue did stands and the caller gets
/// [`ExchangeError::OutcomeUnknown`] instead of the reply.
///
/// `partial_fill` changes how the order executes (it is not an error): an order that
/// executes at once as a taker (a market order, or a limit order that crosses) fills
/// only `qty * f` floored to the step, in one fill at the usual price with the fee on
/// that part, and ends [`OrderStatus::Expired`] (like an IOC order that found too
/// little liquidity); the rest is simply not executed. The balance check is still on
/// the whole order. The executed part may be zero (then `Expired` without a fill) and
/// may be below `min_qty` or `min_notional` (filters apply to orders, not fills). A
/// limit order that rests is not affected (it fills completely later). A fraction
/// outside `0 < f < 1` is ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// Execute (or refuse) the order as usual, then lose the reply: `OutcomeUnknown`.
    pub drop_reply_after_execution: bool,
    /// Answer `Unavailable` without executing anything.
    pub fail_before_execution: bool,
    /// Refuse the order with `Rejected(reason)` without executing it.
    pub reject_next: Option<String>,
    /// Fill only this fraction (`0 < f < 1`) of a taker order and expire the rest.
    pub partial_fill: Option<Decimal>,
}

/// A venue's discount on fees paid in its own token: Binance's BNB (the
/// `discount` block of `GET /api/v3/account/commission`, "Standard commission is
/// reduced by this rate when paying commission in BNB", 0.75 of the standard rate:
/// <https://hexdocs.pm/binance_spot_rest/BinanceSpotRest.Endpoints.Account.AccountCommission.Query.html>),
/// Gate's GT deduction (`gt_discount`, `gt_taker_fee` and `gt_maker_fee` of
/// `GET /wallet/fee`, fills with `fee_currency` GT).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeeDiscount {
    /// The asset the discounted fee is paid in.
    pub asset: Asset,
    /// The share of the standard fee charged when paid in it (0.75: 25 % off).
    pub multiplier: Decimal,
}

impl FeeDiscount {
    /// Binance: BNB at 0.75 of the standard commission (25 % off).
    pub fn binance_bnb() -> Self {
        Self { asset: Asset::new("BNB").expect("BNB is an asset"), multiplier: Decimal::new(75, 2) }
    }
}

/// The paper trading venue. See the [module documentation](self).
pub struct PaperExchange {
    config: PaperConfig,
    /// The fee as a fraction (10 bps -> 0.001).
    fee: Decimal,
    /// The slippage as a fraction.
    slippage: Decimal,
    /// Fees are rounded to this many decimals ([`PaperExchange::with_fee_decimals`]).
    fee_decimals: Option<u32>,
    /// Fees paid in the venue's token at a discount ([`PaperExchange::with_fee_discount`]).
    fee_discount: Option<FeeDiscount>,
    /// Listed cross pairs.
    pairs: PairBook,
    prices: Arc<dyn PriceSource>,
    clock: Arc<dyn Clock>,
    conn: Mutex<Connection>,
    faults: Mutex<Faults>,
    /// While set, every signed call answers `Auth` with this message (a revoked key).
    key_refused: Mutex<Option<String>>,
    /// Half the book's spread, as a fraction of the last price.
    half_spread: Decimal,
    /// A resting order the price first trades through fills only half
    /// ([`PaperExchange::with_resting_partial_fills`]).
    resting_halves: bool,
    /// The clock's now and the database's state (`PRAGMA data_version` for other
    /// connections' commits, this connection's change count for its own) when resting
    /// orders were last matched: while neither moved and the prices are a function of
    /// the clock ([`PriceSource::fixed_in_time`]), no new order can be reached, so the
    /// match is not run again.
    matched: Mutex<Option<(i64, i64, u64)>>,
}

impl fmt::Debug for PaperExchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaperExchange").field("config", &self.config).finish_non_exhaustive()
    }
}

fn rejected(msg: impl Into<String>) -> ExchangeError {
    ExchangeError::Rejected(msg.into())
}

fn out_of_range() -> ExchangeError {
    rejected("amount out of range")
}

fn add(a: Decimal, b: Decimal) -> Result<Decimal, ExchangeError> {
    a.checked_add(b).ok_or_else(out_of_range)
}

fn sub(a: Decimal, b: Decimal) -> Result<Decimal, ExchangeError> {
    a.checked_sub(b).ok_or_else(out_of_range)
}

fn mul(a: Decimal, b: Decimal) -> Result<Decimal, ExchangeError> {
    a.checked_mul(b).ok_or_else(out_of_range)
}

fn n(d: Decimal) -> Decimal {
    d.normalize()
}

/// True when `value` is a whole number of `unit`s (any value when `unit` is zero).
fn is_multiple(value: Decimal, unit: Decimal) -> bool {
    unit.is_zero() || value.checked_rem(unit).is_some_and(|r| r.is_zero())
}

/// Rounds a price to the tick, up or down.
fn round_to_tick(price: Decimal, tick: Decimal, up: bool) -> Result<Decimal, ExchangeError> {
    if tick <= Decimal::ZERO {
        return Ok(price);
    }
    let units = price.checked_div(tick).ok_or_else(out_of_range)?;
    let units = if up { units.ceil() } else { units.floor() };
    Ok(mul(units, tick)?.normalize())
}

/// Rounds a quantity down to a whole number of steps (as is when the step is zero).
fn floor_to_step(qty: Decimal, step: Decimal) -> Result<Decimal, ExchangeError> {
    if step <= Decimal::ZERO {
        return Ok(qty.normalize());
    }
    let units = qty.checked_div(step).ok_or_else(out_of_range)?.floor();
    Ok(mul(units, step)?.normalize())
}

/// `LOT_SIZE`: positive, a whole number of steps, at least the minimum quantity.
fn check_lot(rules: &SymbolRules, qty: Decimal) -> Result<(), ExchangeError> {
    if qty <= Decimal::ZERO {
        return Err(rejected(format!("LOT_SIZE: quantity {} must be positive", n(qty))));
    }
    if !is_multiple(qty, rules.step) {
        return Err(rejected(format!("LOT_SIZE: quantity {} is not a multiple of the step {}", n(qty), n(rules.step))));
    }
    if qty < rules.min_qty {
        return Err(rejected(format!(
            "LOT_SIZE: quantity {} is below the minimum quantity {}",
            n(qty),
            n(rules.min_qty)
        )));
    }
    Ok(())
}

/// `PRICE_FILTER`: positive and a whole number of ticks.
fn check_tick(rules: &SymbolRules, price: Decimal) -> Result<(), ExchangeError> {
    if price <= Decimal::ZERO {
        return Err(rejected(format!("PRICE_FILTER: price {} must be positive", n(price))));
    }
    if !is_multiple(price, rules.tick) {
        return Err(rejected(format!(
            "PRICE_FILTER: price {} is not a multiple of the tick {}",
            n(price),
            n(rules.tick)
        )));
    }
    Ok(())
}

/// Fails unless `free` covers `need`.
fn ensure_free(free: Qty, need: Decimal, asset: &Asset) -> Result<(), ExchangeError> {
    if free.0 < need {
        return Err(rejected(format!("insufficient balance: {} {asset} needed, {} free", n(need), n(free.0))));
    }
    Ok(())
}

fn status_name(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::New => "new",
        OrderStatus::PartiallyFilled => "partially filled",
        OrderStatus::Filled => "filled",
        OrderStatus::Canceled => "canceled",
        OrderStatus::Rejected => "rejected",
        OrderStatus::Expired => "expired",
    }
}

impl PaperExchange {
    /// Opens (or creates) the paper venue whose state lives in the SQLite file `path`.
    ///
    /// Errors: an invalid config (fee or slippage outside 0 ..= 1,000 bps, negative
    /// rules) is [`ExchangeError::Rejected`]; a file that cannot be opened or has a
    /// newer schema is [`ExchangeError::Unavailable`].
    pub fn open(
        path: &Path,
        config: PaperConfig,
        prices: Arc<dyn PriceSource>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ExchangeError> {
        let conn = Connection::open(path).map_err(|e| {
            ExchangeError::Unavailable(format!("cannot open the paper venue database {}: {e}", path.display()))
        })?;
        ballast_fs::restrict_file(path).map_err(|e| {
            ExchangeError::Unavailable(format!("paper venue database {}: set mode 0600: {e}", path.display()))
        })?;
        store::check_integrity(&conn).map_err(|e| {
            ExchangeError::Unavailable(format!(
                "paper venue database {}: {e}; restore it from a backup",
                path.display()
            ))
        })?;
        Self::with_connection(conn, config, prices, clock)
    }

    /// A paper venue whose state lives in memory only: for tests.
    pub fn in_memory(
        config: PaperConfig,
        prices: Arc<dyn PriceSource>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ExchangeError> {
        let conn = Connection::open_in_memory().map_err(db)?;
        Self::with_connection(conn, config, prices, clock)
    }

    fn with_connection(
        conn: Connection,
        config: PaperConfig,
        prices: Arc<dyn PriceSource>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ExchangeError> {
        let invalid = |e: ballast_core::CoreError| rejected(format!("invalid paper venue config: {e}"));
        let fee = Bps::new(config.fee_bps).map_err(invalid)?.fraction();
        let slippage = Bps::new(config.slippage_bps)
            .map_err(|_| {
                rejected(format!(
                    "invalid paper venue config: slippage_bps {} is not in 0 ..= 1000",
                    config.slippage_bps
                ))
            })?
            .fraction();
        config.rules.validate().map_err(invalid)?;
        // Every statement of an order's life stays prepared (the default cache holds 16).
        conn.set_prepared_statement_cache_capacity(64);
        store::init(&conn)?;
        Ok(Self {
            config,
            fee,
            slippage,
            fee_decimals: None,
            fee_discount: None,
            pairs: PairBook::default(),
            prices,
            clock,
            conn: Mutex::new(conn),
            faults: Mutex::new(Faults::default()),
            key_refused: Mutex::new(None),
            half_spread: Decimal::ZERO,
            resting_halves: false,
            matched: Mutex::new(None),
        })
    }

    /// Rounds every fee to `decimals` places (half away from zero), as a real venue
    /// charges its commission at its asset precision (Binance: 8): the balances then
    /// keep the venue's precision. Without it (the default) fees are exact.
    pub fn with_fee_decimals(mut self, decimals: u32) -> Self {
        self.fee_decimals = Some(decimals);
        self
    }

    /// Lists cross pairs (ETH/BTC): they trade under their own rules at the cross
    /// price. A book whose rules are invalid is refused, naming the pair.
    pub fn with_pairs(mut self, pairs: PairBook) -> Result<Self, ExchangeError> {
        pairs.validate().map_err(|e| ExchangeError::Rejected(format!("paper venue pairs: {e}")))?;
        self.pairs = pairs;
        Ok(self)
    }

    /// The rules of `base/quote`: a listed cross pair's, or the base's (the one place
    /// the paper venue picks a symbol's rules).
    pub fn symbol_rules(&self, base: &Asset, quote: &Asset) -> SymbolRules {
        self.pairs.get(base, quote).copied().unwrap_or_else(|| *self.config.rules.get(base))
    }

    /// Gives the book a spread of `bps` basis points of the last price (0 ..= 1,000;
    /// outside, the default of one tick each side stays): the best bid and ask are the
    /// last price less and plus half of it (see the [module documentation](self)).
    pub fn with_spread_bps(mut self, bps: Decimal) -> Self {
        if let Ok(b) = Bps::new(bps) {
            self.half_spread = b.fraction() / Decimal::TWO;
        }
        self
    }

    /// A resting order that the price trades through for the first time fills only
    /// half its quantity (floored to the step; the whole when that is nothing) and stays
    /// partially filled; the rest fills when the price trades through it again at least a
    /// second later (a later bar). As when other traders take part of
    /// a maker's order: for `ballast sim --resting-partial-fills` and tests.
    pub fn with_resting_partial_fills(mut self) -> Self {
        self.resting_halves = true;
        self
    }

    /// The book's best bid and ask around `last` for `rules` (see
    /// [`PaperExchange::with_spread_bps`]).
    fn touch_at(&self, last: Decimal, rules: &SymbolRules) -> Result<(Decimal, Decimal), ExchangeError> {
        let one = if rules.tick > Decimal::ZERO { rules.tick } else { Decimal::new(1, 8) };
        let half = mul(last, self.half_spread)?;
        let bid = round_to_tick(sub(last, half)?, rules.tick, false)?.min(sub(last, one)?);
        let ask = round_to_tick(add(last, half)?, rules.tick, true)?.max(add(last, one)?);
        Ok((bid, ask))
    }

    /// Charges fees in `discount.asset` at `discount.multiplier` of the standard rate
    /// when the account's free balance of it covers the fee (see the module
    /// documentation); while the account holds some of it, the rates
    /// [`Exchange::fee_rates`] reports are the discounted ones, with the asset. A
    /// market buy whose fee the asset covers needs only its notional of the quote.
    pub fn with_fee_discount(mut self, discount: FeeDiscount) -> Self {
        self.fee_discount = Some(discount);
        self
    }

    /// The discount on fees paid in the venue's token, when there is one.
    pub fn fee_discount(&self) -> Option<&FeeDiscount> {
        self.fee_discount.as_ref()
    }

    /// Moves a fill's fee, already charged as `fee` of `quote`, onto the discount asset
    /// when there is a discount and the account's free balance of that asset covers
    /// `fee * multiplier` at its last price in `quote` (rounded half away from zero to
    /// the fee decimals, else 8, as Binance states commissions): the quote gets `fee`
    /// back and the asset pays. Returns the fee and the asset the fill records. Run
    /// after the fill's own balance changes (a buy of the asset itself can pay with
    /// what it bought).
    fn charge_fee(
        &self,
        conn: &Connection,
        quote: &Asset,
        fee: Decimal,
        now: Timestamp,
    ) -> Result<(Decimal, Asset), ExchangeError> {
        let Some((asset, due)) = self.discounted_fee(conn, quote, fee, now)? else { return Ok((fee, quote.clone())) };
        let mut held = store::balance(conn, &asset)?;
        held.free.0 = sub(held.free.0, due)?;
        store::put_balance(conn, &asset, held)?;
        let mut q = store::balance(conn, quote)?;
        q.free.0 = add(q.free.0, fee)?;
        store::put_balance(conn, quote, q)?;
        Ok((due, asset))
    }

    /// The fee `fee` (of `quote`) as the discount asset would take it, when there is a
    /// discount, the asset has a price in `quote` and the account's free balance of it
    /// covers it now.
    fn discounted_fee(
        &self,
        conn: &Connection,
        quote: &Asset,
        fee: Decimal,
        now: Timestamp,
    ) -> Result<Option<(Asset, Decimal)>, ExchangeError> {
        let Some(d) = &self.fee_discount else { return Ok(None) };
        if fee <= Decimal::ZERO || d.asset == *quote {
            return Ok(None);
        }
        let Some(price) = self.last_price(&d.asset, quote, now) else { return Ok(None) };
        let due = mul(fee, d.multiplier)?
            .checked_div(price)
            .ok_or_else(|| ExchangeError::Unavailable(format!("fee {fee} in {} at {price}", d.asset)))?
            .round_dp_with_strategy(
                self.fee_decimals.unwrap_or(8),
                rust_decimal::RoundingStrategy::MidpointAwayFromZero,
            );
        let held = store::balance(conn, &d.asset)?;
        Ok((due > Decimal::ZERO && held.free.0 >= due).then(|| (d.asset.clone(), due)))
    }

    /// Whether the discount is in effect for this account now: configured, and some of
    /// its asset held.
    pub fn discount_in_effect(&self) -> Result<Option<&FeeDiscount>, ExchangeError> {
        let Some(d) = &self.fee_discount else { return Ok(None) };
        let held = store::balance(&self.conn(), &d.asset)?;
        Ok((held.free.0 > Decimal::ZERO).then_some(d))
    }

    /// The fee on `notional`, rounded as [`Self::with_fee_decimals`] says.
    fn fee_on(&self, notional: Decimal) -> Result<Decimal, ExchangeError> {
        let fee = mul(notional, self.fee)?;
        Ok(match self.fee_decimals {
            Some(dp) => fee.round_dp_with_strategy(dp, rust_decimal::RoundingStrategy::MidpointAwayFromZero),
            None => fee,
        })
    }

    /// The charge of a small-balance conversion, as a fraction of what it gives:
    /// Binance's dust conversion charges 2 % (`dribbletPercentage` "0.02" of
    /// `POST /sapi/v1/asset/dust-btc`,
    /// <https://developers.binance.com/docs/wallet/asset/assets-can-convert-bnb>); the
    /// paper venue charges it for every target.
    pub const DUST_CHARGE: Decimal = Decimal::from_parts(2, 0, 0, false, 2);

    /// Converts the whole free balance of each of `assets` into `into` (Binance: BNB,
    /// Gate: GT, the paper venue's own [`Exchange::convert_dust`]: the quote), in one
    /// transaction: each is valued at its last price in `quote`, divided by the last
    /// price of `into` in `quote` (1 when `into` is the quote), less
    /// [`Self::DUST_CHARGE`]; amounts are rounded down to the venue's fee decimals
    /// ([`Self::with_fee_decimals`]) when it has them. An asset without a price, `into`
    /// itself, an asset with nothing free, or an `into` without a price is refused
    /// naming it; nothing changes then.
    pub fn convert_small_balances(
        &self,
        assets: &[Asset],
        into: &Asset,
        quote: &Asset,
    ) -> Result<DustConversion, ExchangeError> {
        self.check_key()?;
        let now = self.clock.now();
        let unit = if into == quote {
            Decimal::ONE
        } else {
            self.last_price(into, quote, now)
                .ok_or_else(|| rejected(format!("{into}/{quote} has no price: nothing can be converted into {into}")))?
        };
        let cut = |d: Decimal| match self.fee_decimals {
            Some(dp) => d.round_dp_with_strategy(dp, rust_decimal::RoundingStrategy::ToZero),
            None => d,
        };
        self.in_transaction(|tx| {
            let mut converted = Vec::new();
            let mut charge = Decimal::ZERO;
            let mut target = store::balance(tx, into)?;
            for a in assets {
                if a == into || a == quote {
                    return Err(rejected(format!("{a} cannot be converted into {into}")));
                }
                let last = self
                    .last_price(a, quote, now)
                    .ok_or_else(|| rejected(format!("{a}/{quote} has no price: it cannot be converted")))?;
                let mut b = store::balance(tx, a)?;
                if b.free.is_zero() {
                    return Err(rejected(format!("no free {a} to convert")));
                }
                let gross = cut(mul(b.free.0, last)?.checked_div(unit).ok_or_else(out_of_range)?);
                let fee = cut(mul(gross, Self::DUST_CHARGE)?);
                let got = sub(gross, fee)?;
                converted.push((a.clone(), b.free, Qty(got)));
                charge = add(charge, fee)?;
                target.free.0 = add(target.free.0, got)?;
                b.free = Qty(Decimal::ZERO);
                store::put_balance(tx, a, b)?;
            }
            store::put_balance(tx, into, target)?;
            Ok(DustConversion { into: into.clone(), converted, charge: Qty(charge) })
        })
    }

    /// The configuration.
    pub fn config(&self) -> &PaperConfig {
        &self.config
    }

    /// Refuses the API key until called with `None`: while set, every signed call
    /// (balances, place, query, open orders, cancel) answers [`ExchangeError::Auth`]
    /// with `message`, as a venue does for a revoked key; rules and prices still answer.
    pub fn set_key_refused(&self, message: Option<&str>) {
        *self.key_refused.lock().unwrap_or_else(|e| e.into_inner()) = message.map(str::to_owned);
    }

    fn check_key(&self) -> Result<(), ExchangeError> {
        match &*self.key_refused.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(m) => Err(ExchangeError::Auth(m.clone())),
            None => Ok(()),
        }
    }

    /// Sets the faults the next [`Exchange::place`] suffers (see [`Faults`]).
    pub fn set_faults(&self, faults: Faults) {
        *self.faults.lock().unwrap_or_else(|e| e.into_inner()) = faults;
    }

    /// Credits `qty` of `asset` to the free balance, like a deposit at a real venue.
    /// `qty` must be positive.
    pub fn deposit(&self, asset: &Asset, qty: Qty) -> Result<(), ExchangeError> {
        if qty.0 <= Decimal::ZERO {
            return Err(rejected(format!("deposit of {qty} {asset}: the quantity must be positive")));
        }
        self.in_transaction(|conn| {
            let mut b = store::balance(conn, asset)?;
            b.free.0 = add(b.free.0, qty.0)?;
            store::put_balance(conn, asset, b)
        })
    }

    /// Debits `qty` of `asset` from the free balance, like a withdrawal. `qty` must be
    /// positive and at most the free balance (funds locked by open orders cannot be
    /// withdrawn), else [`ExchangeError::Rejected`].
    pub fn withdraw(&self, asset: &Asset, qty: Qty) -> Result<(), ExchangeError> {
        if qty.0 <= Decimal::ZERO {
            return Err(rejected(format!("withdrawal of {qty} {asset}: the quantity must be positive")));
        }
        self.in_transaction(|conn| {
            let mut b = store::balance(conn, asset)?;
            ensure_free(b.free, qty.0, asset)?;
            b.free.0 = sub(b.free.0, qty.0)?;
            store::put_balance(conn, asset, b)
        })
    }

    /// Fills every resting order that the last price at the clock's now reaches, at its
    /// limit price, in one transaction; returns the reports of the orders it filled.
    /// The replay driver calls it after moving the clock; every [`Exchange`] call runs
    /// it first.
    pub fn match_resting(&self) -> Result<Vec<OrderReport>, ExchangeError> {
        let mut conn = self.conn();
        self.match_locked(&mut conn)
    }

    /// Fills `qty` more of a resting order at its limit price, as a maker (another
    /// trader took part of it): the order becomes partially filled, or filled when
    /// nothing is left; what it holds is reduced by what the part used. For tests and
    /// `ballast sim` (a resting order filled in part). A final or unknown order, a
    /// market order or a quantity that is not positive or beyond what is left is
    /// [`ExchangeError::Rejected`] / [`ExchangeError::NotFound`].
    pub fn fill_part(
        &self,
        client_id: &ClientOrderId,
        base: &Asset,
        quote: &Asset,
        qty: Qty,
    ) -> Result<OrderReport, ExchangeError> {
        let mut conn = self.conn();
        let now = self.clock.now();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
        let order = Self::find(&tx, client_id, base, quote)?
            .ok_or_else(|| ExchangeError::NotFound(format!("order {client_id} on {base}/{quote}")))?;
        let Some(limit) = order.limit.filter(|_| !order.status.is_final()) else {
            return Err(rejected(format!("order {client_id} is not a resting limit order")));
        };
        let left = sub(order.qty, order.filled)?;
        if qty.0 <= Decimal::ZERO || qty.0 > left {
            return Err(rejected(format!("a part of {} is not within the {} left", n(qty.0), n(left))));
        }
        let report = if qty.0 == left {
            self.fill_resting(&tx, &order, limit, now)?
        } else {
            self.fill_part_in(&tx, &order, limit, qty, now)?
        };
        tx.commit().map_err(db)?;
        Ok(report)
    }

    /// Fills `qty` (less than what is left) of a resting order at `limit`, as a maker.
    fn fill_part_in(
        &self,
        tx: &Connection,
        order: &OrderRow,
        limit: Decimal,
        qty: Qty,
        now: Timestamp,
    ) -> Result<OrderReport, ExchangeError> {
        let left = sub(order.qty, order.filled)?;
        let order = order.clone();
        let notional = mul(qty.0, limit)?;
        let fee = self.fee_on(notional)?;
        let (release, new_lock) = match order.side {
            Side::Buy => {
                let rest = mul(sub(left, qty.0)?, limit)?;
                let keep = add(rest, self.fee_on(rest)?)?;
                (sub(order.lock_qty, keep)?, keep)
            }
            Side::Sell => (qty.0, sub(order.lock_qty, qty.0)?),
        };
        let mut b = store::balance(tx, &order.base)?;
        let mut q = store::balance(tx, &order.quote)?;
        match order.side {
            Side::Buy => {
                // The part's cost leaves the locked quote; any excess held goes back.
                q.locked.0 = sub(q.locked.0, release)?;
                q.free.0 = add(q.free.0, sub(release, add(notional, fee)?)?)?;
                b.free.0 = add(b.free.0, qty.0)?;
            }
            Side::Sell => {
                b.locked.0 = sub(b.locked.0, release)?;
                q.free.0 = add(q.free.0, sub(notional, fee)?)?;
            }
        }
        store::put_balance(tx, &order.base, b)?;
        store::put_balance(tx, &order.quote, q)?;
        let (fee, fee_asset) = self.charge_fee(tx, &order.quote, fee, now)?;
        let fill = Fill { trade_id: String::new(), qty, price: Price(limit), fee: Qty(fee), fee_asset, time: now };
        store::insert_fill(tx, order.venue_id, &fill, true)?;
        let filled = add(order.filled, qty.0)?;
        store::update_order(tx, order.venue_id, OrderStatus::PartiallyFilled, filled, new_lock, now)?;
        let updated = OrderRow { status: OrderStatus::PartiallyFilled, filled, lock_qty: new_lock, ..order };
        store::report(tx, &updated)
    }

    /// Amends an open limit order: its quantity and/or limit price (at least one), with
    /// the venue's filters checked on the new values and what it holds re-locked
    /// (released, then taken again: a larger hold needs the free balance). A price that
    /// the last price already reaches fills the order at once at the last price (as a
    /// crossing limit order at placement; recorded as a resting order's fill). A final order or a market order is
    /// [`ExchangeError::Rejected`]; an unknown one [`ExchangeError::NotFound`]. Nothing
    /// changes when it is refused.
    pub fn amend(
        &self,
        client_id: &ClientOrderId,
        base: &Asset,
        quote: &Asset,
        qty: Option<Qty>,
        price: Option<Price>,
    ) -> Result<OrderReport, ExchangeError> {
        self.check_key()?;
        if qty.is_none() && price.is_none() {
            return Err(rejected("an amendment needs a quantity or a price"));
        }
        let mut conn = self.conn();
        self.match_locked(&mut conn)?;
        let now = self.clock.now();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
        let order = Self::find(&tx, client_id, base, quote)?
            .ok_or_else(|| ExchangeError::NotFound(format!("order {client_id} on {base}/{quote}")))?;
        if order.status.is_final() {
            return Err(rejected(format!("order {client_id} is {}: it cannot be amended", status_name(order.status))));
        }
        let Some(limit) = order.limit else {
            return Err(rejected(format!("order {client_id} is a market order: it cannot be amended")));
        };
        let rules = self.symbol_rules(base, quote);
        let new_qty = qty.map_or(order.qty, |q| q.0);
        let new_price = price.map_or(limit, |p| p.0);
        check_lot(&rules, new_qty)?;
        check_tick(&rules, new_price)?;
        if new_qty <= order.filled {
            return Err(rejected(format!(
                "LOT_SIZE: quantity {} is not above the filled {}",
                n(new_qty),
                n(order.filled)
            )));
        }
        let notional = mul(new_qty, new_price)?;
        if notional < rules.min_notional {
            return Err(rejected(format!(
                "NOTIONAL: order value {} is below the minimum order value {}",
                n(notional),
                n(rules.min_notional)
            )));
        }
        let left = sub(new_qty, order.filled)?;
        let (lock_asset, hold) = match order.side {
            Side::Buy => {
                let value = mul(left, new_price)?;
                (quote, add(value, self.fee_on(value)?)?)
            }
            Side::Sell => (base, left),
        };
        if let Some(held) = &order.lock_asset {
            let mut b = store::balance(&tx, held)?;
            b.locked.0 = sub(b.locked.0, order.lock_qty)?;
            b.free.0 = add(b.free.0, order.lock_qty)?;
            store::put_balance(&tx, held, b)?;
        }
        let mut b = store::balance(&tx, lock_asset)?;
        ensure_free(b.free, hold, lock_asset)?;
        b.free.0 = sub(b.free.0, hold)?;
        b.locked.0 = add(b.locked.0, hold)?;
        store::put_balance(&tx, lock_asset, b)?;
        store::amend_order(&tx, order.venue_id, new_qty, new_price, hold, now)?;
        let amended = OrderRow { qty: new_qty, limit: Some(new_price), lock_qty: hold, ..order };
        // A price the market already reaches: it fills now, at the last price (what a
        // crossing limit order gets at placement), never worse than its limit.
        let crossing = self.last_price(base, quote, now).filter(|last| match amended.side {
            Side::Buy => *last <= new_price,
            Side::Sell => *last >= new_price,
        });
        let report = match crossing {
            Some(last) => self.fill_resting(&tx, &amended, last, now)?,
            None => store::report(&tx, &amended)?,
        };
        tx.commit().map_err(|e| ExchangeError::OutcomeUnknown(format!("paper venue database commit: {e}")))?;
        Ok(report)
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // Every change is one SQLite transaction, so a panic elsewhere while the lock
        // was held cannot have left the database half-updated.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` in one immediate transaction and commits it.
    fn in_transaction<T>(&self, f: impl FnOnce(&Connection) -> Result<T, ExchangeError>) -> Result<T, ExchangeError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
        let out = f(&tx)?;
        tx.commit().map_err(|e| ExchangeError::OutcomeUnknown(format!("paper venue database commit: {e}")))?;
        Ok(out)
    }

    /// The last price of a symbol, if positive. A listed cross pair without a price of
    /// its own trades at the cross of its coins' prices, rounded to the pair's tick (a
    /// venue's trades are on the tick, and so are the book's bid and ask around it).
    fn last_price(&self, base: &Asset, quote: &Asset, now: Timestamp) -> Option<Decimal> {
        let direct = self.prices.price(base, quote, now).map(|p| p.0);
        let cross = || {
            let tick = self.pairs.get(base, quote)?.tick;
            let p = self.prices.cross(base, quote, now)?.0;
            if tick <= Decimal::ZERO {
                return Some(p);
            }
            let units =
                p.checked_div(tick)?.round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
            units.checked_mul(tick).map(|d| d.normalize())
        };
        direct.or_else(cross).filter(|p| *p > Decimal::ZERO)
    }

    fn match_locked(&self, conn: &mut Connection) -> Result<Vec<OrderReport>, ExchangeError> {
        let now = self.clock.now();
        let version: i64 =
            conn.prepare_cached("PRAGMA data_version").and_then(|mut st| st.query_row([], |r| r.get(0))).map_err(db)?;
        let mark = (now.0, version, conn.total_changes());
        let mut matched = self.matched.lock().unwrap_or_else(|e| e.into_inner());
        if self.prices.fixed_in_time() && *matched == Some(mark) {
            return Ok(Vec::new());
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
        let mut reports = Vec::new();
        for order in store::open_orders(&tx, None)? {
            let Some(limit) = order.limit else { continue };
            let Some(last) = self.last_price(&order.base, &order.quote, now) else { continue };
            // Only a price that trades through the limit fills it: at the limit itself
            // the order may still be behind others in the queue.
            let reached = match order.side {
                Side::Buy => last < limit,
                Side::Sell => last > limit,
            };
            if !reached {
                continue;
            }
            if self.resting_halves && !order.filled.is_zero() {
                // The rest of a half-filled order waits a second (a later bar).
                let at: i64 = tx
                    .prepare_cached("SELECT updated_at FROM orders WHERE venue_id = ?1")
                    .and_then(|mut st| st.query_row([order.venue_id], |r| r.get(0)))
                    .map_err(db)?;
                if now.0 < at.saturating_add(1_000) {
                    continue;
                }
            }
            let step = self.symbol_rules(&order.base, &order.quote).step;
            let half = floor_to_step(mul(order.qty, Decimal::new(5, 1))?, step)?;
            if self.resting_halves && order.filled.is_zero() && half > Decimal::ZERO && half < order.qty {
                reports.push(self.fill_part_in(&tx, &order, limit, Qty(half), now)?);
            } else {
                reports.push(self.fill_resting(&tx, &order, limit, now)?);
            }
        }
        if reports.is_empty() {
            drop(tx);
        } else {
            tx.commit().map_err(db)?;
        }
        // After the commit: the mark of the state this match left.
        *matched = Some((now.0, version, conn.total_changes()));
        Ok(reports)
    }

    /// Fills what is left of a resting order at `price` (maker), releasing its lock.
    fn fill_resting(
        &self,
        conn: &Connection,
        order: &OrderRow,
        price: Decimal,
        now: Timestamp,
    ) -> Result<OrderReport, ExchangeError> {
        let qty = sub(order.qty, order.filled)?;
        let notional = mul(qty, price)?;
        let fee = self.fee_on(notional)?;
        if let Some(lock_asset) = &order.lock_asset {
            let mut b = store::balance(conn, lock_asset)?;
            b.locked.0 = sub(b.locked.0, order.lock_qty)?;
            b.free.0 = add(b.free.0, order.lock_qty)?;
            store::put_balance(conn, lock_asset, b)?;
        }
        let mut base = store::balance(conn, &order.base)?;
        let mut quote = store::balance(conn, &order.quote)?;
        match order.side {
            Side::Buy => {
                quote.free.0 = sub(quote.free.0, add(notional, fee)?)?;
                base.free.0 = add(base.free.0, qty)?;
            }
            Side::Sell => {
                base.free.0 = sub(base.free.0, qty)?;
                quote.free.0 = add(quote.free.0, sub(notional, fee)?)?;
            }
        }
        store::put_balance(conn, &order.base, base)?;
        store::put_balance(conn, &order.quote, quote)?;
        let (fee, fee_asset) = self.charge_fee(conn, &order.quote, fee, now)?;
        let fill =
            Fill { trade_id: String::new(), qty: Qty(qty), price: Price(price), fee: Qty(fee), fee_asset, time: now };
        store::insert_fill(conn, order.venue_id, &fill, true)?;
        store::update_order(conn, order.venue_id, OrderStatus::Filled, order.qty, Decimal::ZERO, now)?;
        let updated =
            OrderRow { status: OrderStatus::Filled, filled: order.qty, lock_qty: Decimal::ZERO, ..order.clone() };
        store::report(conn, &updated)
    }

    /// Validates and executes an order in one transaction; `partial` is
    /// [`Faults::partial_fill`].
    fn execute(
        &self,
        conn: &mut Connection,
        order: &OrderRequest,
        partial: Option<Decimal>,
    ) -> Result<OrderReport, ExchangeError> {
        let now = self.clock.now();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
        let report = self.place_in(&tx, order, now, partial)?;
        tx.commit().map_err(|e| ExchangeError::OutcomeUnknown(format!("paper venue database commit: {e}")))?;
        Ok(report)
    }

    fn place_in(
        &self,
        conn: &Connection,
        o: &OrderRequest,
        now: Timestamp,
        partial: Option<Decimal>,
    ) -> Result<OrderReport, ExchangeError> {
        if store::order_by_client(conn, &o.client_id)?.is_some() {
            return Err(ExchangeError::Duplicate(o.client_id.to_string()));
        }
        if o.base == o.quote {
            return Err(ExchangeError::NotFound(format!("symbol {}/{}: base and quote are the same", o.base, o.quote)));
        }
        let rules = self.symbol_rules(&o.base, &o.quote);
        let qty = o.qty.0;
        check_lot(&rules, qty)?;
        let limit = match o.kind.limit_price() {
            None => None,
            Some(price) => {
                check_tick(&rules, price.0)?;
                Some(price.0)
            }
        };
        let last = self
            .last_price(&o.base, &o.quote, now)
            .ok_or_else(|| ExchangeError::NotFound(format!("symbol {}/{} has no price", o.base, o.quote)))?;
        let post_only = matches!(o.kind, OrderKind::PostOnly { .. });
        if let (true, Some(l)) = (post_only, limit) {
            let (bid, ask) = self.touch_at(last, &rules)?;
            let takes = match o.side {
                Side::Buy => l >= ask,
                Side::Sell => l <= bid,
            };
            if takes {
                return Err(rejected(format!(
                    "Order would immediately match and take: post-only {} at {} crosses the book (bid {}, ask {})",
                    match o.side {
                        Side::Buy => "buy",
                        Side::Sell => "sell",
                    },
                    n(l),
                    n(bid),
                    n(ask)
                )));
            }
        }
        let slipped = match o.side {
            Side::Buy => round_to_tick(mul(last, add(Decimal::ONE, self.slippage)?)?, rules.tick, true)?,
            Side::Sell => round_to_tick(mul(last, sub(Decimal::ONE, self.slippage)?)?, rules.tick, false)?,
        };
        // (price, taker): takers execute now, makers rest at their limit.
        let (price, taker) = match (o.side, limit) {
            (_, None) => (slipped, true),
            (_, Some(l)) if post_only => (l, false),
            (Side::Buy, Some(l)) if last <= l => (slipped.min(l), true),
            (Side::Sell, Some(l)) if last >= l => (slipped.max(l), true),
            (_, Some(l)) => (l, false),
        };
        if price <= Decimal::ZERO {
            return Err(rejected(format!("PRICE_FILTER: execution price {} is not positive", n(price))));
        }
        let notional = mul(qty, price)?;
        if notional < rules.min_notional {
            return Err(rejected(format!(
                "NOTIONAL: order value {} is below the minimum order value {}",
                n(notional),
                n(rules.min_notional)
            )));
        }
        let fee = self.fee_on(notional)?;
        // An injected partial fill of a taker: what executes, its notional and fee.
        let partial = partial.filter(|f| taker && *f > Decimal::ZERO && *f < Decimal::ONE);
        let (exec, exec_notional, exec_fee) = match partial {
            None => (qty, notional, fee),
            Some(f) => {
                let exec = floor_to_step(mul(qty, f)?, rules.step)?;
                let exec_notional = mul(exec, price)?;
                (exec, exec_notional, self.fee_on(exec_notional)?)
            }
        };
        let mut base: Balance = store::balance(conn, &o.base)?;
        let mut quote: Balance = store::balance(conn, &o.quote)?;
        let mut lock: Option<(&Asset, Decimal)> = None;
        match (o.side, taker) {
            (Side::Buy, true) => {
                // A fee the discount asset will pay needs no quote (as on Binance, whose
                // buys never take their fee from the quote).
                let fee_in_quote = match self.discounted_fee(conn, &o.quote, fee, now)? {
                    Some(_) => Decimal::ZERO,
                    None => fee,
                };
                ensure_free(quote.free, add(notional, fee_in_quote)?, &o.quote)?;
                quote.free.0 = sub(quote.free.0, add(exec_notional, exec_fee)?)?;
                base.free.0 = add(base.free.0, exec)?;
            }
            (Side::Sell, true) => {
                ensure_free(base.free, qty, &o.base)?;
                base.free.0 = sub(base.free.0, exec)?;
                quote.free.0 = add(quote.free.0, sub(exec_notional, exec_fee)?)?;
            }
            (Side::Buy, false) => {
                let hold = add(notional, fee)?;
                ensure_free(quote.free, hold, &o.quote)?;
                quote.free.0 = sub(quote.free.0, hold)?;
                quote.locked.0 = add(quote.locked.0, hold)?;
                lock = Some((&o.quote, hold));
            }
            (Side::Sell, false) => {
                ensure_free(base.free, qty, &o.base)?;
                base.free.0 = sub(base.free.0, qty)?;
                base.locked.0 = add(base.locked.0, qty)?;
                lock = Some((&o.base, qty));
            }
        }
        store::put_balance(conn, &o.base, base)?;
        store::put_balance(conn, &o.quote, quote)?;
        let row = NewOrder {
            client_id: &o.client_id,
            base: &o.base,
            quote: &o.quote,
            side: o.side,
            qty,
            limit,
            status: match (taker, partial) {
                (false, _) => OrderStatus::New,
                (true, None) => OrderStatus::Filled,
                (true, Some(_)) => OrderStatus::Expired,
            },
            filled: if taker { exec } else { Decimal::ZERO },
            lock_asset: lock.map(|(a, _)| a),
            lock_qty: lock.map_or(Decimal::ZERO, |(_, q)| q),
        };
        let venue_id = store::insert_order(conn, &row, now)?;
        if taker && exec > Decimal::ZERO {
            let (fee, fee_asset) = self.charge_fee(conn, &o.quote, exec_fee, now)?;
            let fill = Fill {
                trade_id: String::new(),
                qty: Qty(exec),
                price: Price(price),
                fee: Qty(fee),
                fee_asset,
                time: now,
            };
            store::insert_fill(conn, venue_id, &fill, false)?;
        }
        let stored = store::order_by_client(conn, &o.client_id)?
            .ok_or_else(|| ExchangeError::Unavailable(format!("order {} vanished while being placed", o.client_id)))?;
        store::report(conn, &stored)
    }

    /// The stored order with this client id, if it is on `base`/`quote`.
    fn find(
        conn: &Connection,
        client_id: &ClientOrderId,
        base: &Asset,
        quote: &Asset,
    ) -> Result<Option<OrderRow>, ExchangeError> {
        Ok(store::order_by_client(conn, client_id)?.filter(|o| &o.base == base && &o.quote == quote))
    }
}

impl Exchange for PaperExchange {
    fn name(&self) -> &str {
        &self.config.name
    }

    fn answers_in_process(&self) -> bool {
        true
    }

    /// Orders are placed in-process and synchronously, in the paper venue's own
    /// transaction: a request it does not know was never placed, at once.
    fn order_window_ms(&self) -> i64 {
        0
    }

    /// The paper venue runs on the engine's clock.
    fn clock_allowance_ms(&self) -> i64 {
        0
    }

    /// The rules of `base` from the config's book (its `default` if not listed).
    fn rules(&self, base: &Asset, quote: &Asset) -> Result<SymbolRules, ExchangeError> {
        if base == quote {
            return Err(ExchangeError::NotFound(format!("symbol {base}/{quote}: base and quote are the same")));
        }
        if let Some(r) = self.pairs.get(base, quote) {
            return Ok(*r);
        }
        // Two priced coins without a listed pair: the venue has no such symbol.
        let now = self.clock.now();
        if self.prices.price(base, quote, now).is_none() && self.prices.cross(base, quote, now).is_some() {
            return Err(ExchangeError::NotFound(format!("symbol {base}/{quote} is not listed")));
        }
        Ok(*self.config.rules.get(base))
    }

    /// Every asset whose free or locked amount is not zero.
    fn balances(&self) -> Result<BTreeMap<Asset, Balance>, ExchangeError> {
        self.check_key()?;
        let mut conn = self.conn();
        self.match_locked(&mut conn)?;
        Ok(store::balances(&conn)?.into_iter().filter(|(_, b)| !b.free.is_zero() || !b.locked.is_zero()).collect())
    }

    /// Converts the whole free balance of each asset into `quote` at the last price,
    /// less the venue's charge ([`PaperExchange::convert_small_balances`] with `quote`
    /// as the asset received).
    fn convert_dust(&self, assets: &[Asset], quote: &Asset) -> Result<DustConversion, ExchangeError> {
        self.convert_small_balances(assets, quote, quote)
    }

    /// `fee_bps` for makers and takers alike, charged in the quote; with a fee discount
    /// ([`PaperExchange::with_fee_discount`]) in effect (the account holds some of its
    /// asset), the discounted rate and its asset.
    fn fee_rates(&self, base: &Asset, quote: &Asset) -> Result<FeeRates, ExchangeError> {
        self.rules(base, quote)?;
        Ok(match self.discount_in_effect()? {
            Some(d) => {
                let rate = mul(self.fee, d.multiplier)?.normalize();
                FeeRates { maker: rate, taker: rate, discount_asset: Some(d.asset.clone()) }
            }
            None => FeeRates { maker: self.fee, taker: self.fee, discount_asset: None },
        })
    }

    /// The book around the last price (see [`PaperExchange::with_spread_bps`]).
    fn best_bid_ask(&self, base: &Asset, quote: &Asset) -> Result<Touch, ExchangeError> {
        let rules = self.rules(base, quote)?;
        let last = self
            .last_price(base, quote, self.clock.now())
            .ok_or_else(|| ExchangeError::NotFound(format!("symbol {base}/{quote} has no price")))?;
        let (bid, ask) = self.touch_at(last, &rules)?;
        Ok(Touch { bid: Price(bid), ask: Price(ask) })
    }

    /// The last price of each base that has one (the quote itself and symbols without
    /// a price are left out).
    fn prices(&self, bases: &[Asset], quote: &Asset) -> Result<Prices, ExchangeError> {
        let mut conn = self.conn();
        self.match_locked(&mut conn)?;
        let now = self.clock.now();
        Ok(bases
            .iter()
            .filter(|b| *b != quote)
            .filter_map(|b| self.last_price(b, quote, now).map(|p| (b.clone(), Price(p))))
            .collect())
    }

    fn place(&self, order: &OrderRequest) -> Result<OrderReport, ExchangeError> {
        self.check_key()?;
        let faults = std::mem::take(&mut *self.faults.lock().unwrap_or_else(|e| e.into_inner()));
        if faults.fail_before_execution {
            return Err(ExchangeError::Unavailable(format!(
                "injected fault: venue unavailable, order {} not executed",
                order.client_id
            )));
        }
        let mut conn = self.conn();
        let outcome = match self.match_locked(&mut conn) {
            Err(e) => Err(e),
            Ok(_) => match faults.reject_next {
                Some(reason) => Err(ExchangeError::Rejected(reason)),
                None => self.execute(&mut conn, order, faults.partial_fill),
            },
        };
        if faults.drop_reply_after_execution {
            return Err(ExchangeError::OutcomeUnknown(format!(
                "injected fault: the reply to order {} was lost after execution",
                order.client_id
            )));
        }
        outcome
    }

    fn query(
        &self,
        client_id: &ClientOrderId,
        base: &Asset,
        quote: &Asset,
    ) -> Result<Option<OrderReport>, ExchangeError> {
        self.check_key()?;
        let mut conn = self.conn();
        self.match_locked(&mut conn)?;
        Self::find(&conn, client_id, base, quote)?.map(|o| store::report(&conn, &o)).transpose()
    }

    fn open_orders(&self, base: &Asset, quote: &Asset) -> Result<Vec<OrderReport>, ExchangeError> {
        self.check_key()?;
        let mut conn = self.conn();
        self.match_locked(&mut conn)?;
        store::open_orders(&conn, Some((base, quote)))?.iter().map(|o| store::report(&conn, o)).collect()
    }

    /// Cancels an open order and releases what it held. A final order (filled,
    /// cancelled) is [`ExchangeError::Rejected`]; an unknown one (or one on another
    /// symbol) is [`ExchangeError::NotFound`].
    fn cancel(&self, client_id: &ClientOrderId, base: &Asset, quote: &Asset) -> Result<OrderReport, ExchangeError> {
        self.check_key()?;
        let mut conn = self.conn();
        self.match_locked(&mut conn)?;
        let now = self.clock.now();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
        let order = Self::find(&tx, client_id, base, quote)?
            .ok_or_else(|| ExchangeError::NotFound(format!("order {client_id} on {base}/{quote}")))?;
        if order.status.is_final() {
            return Err(rejected(format!(
                "order {client_id} is {}: it cannot be cancelled",
                status_name(order.status)
            )));
        }
        if let Some(asset) = &order.lock_asset {
            let mut b = store::balance(&tx, asset)?;
            b.locked.0 = sub(b.locked.0, order.lock_qty)?;
            b.free.0 = add(b.free.0, order.lock_qty)?;
            store::put_balance(&tx, asset, b)?;
        }
        store::update_order(&tx, order.venue_id, OrderStatus::Canceled, order.filled, Decimal::ZERO, now)?;
        let updated = OrderRow { status: OrderStatus::Canceled, lock_qty: Decimal::ZERO, ..order };
        let report = store::report(&tx, &updated)?;
        tx.commit().map_err(|e| ExchangeError::OutcomeUnknown(format!("paper venue database commit: {e}")))?;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use rust_decimal_macros::dec;

    fn a(s: &str) -> Asset {
        Asset::new(s).unwrap()
    }

    /// BTC at 40,000 USDT, Binance's BTCUSDT filters, a 10 bps fee, 10,000 USDT and
    /// 1 BTC deposited.
    fn venue() -> PaperExchange {
        let prices = Arc::new(FixedPrices::new());
        prices.set(&a("BTC"), &a("USDT"), Price(dec!(40000)));
        let rules =
            SymbolRules { tick: dec!(0.01), step: dec!(0.00001), min_qty: dec!(0.00001), min_notional: dec!(5) };
        let config = PaperConfig {
            rules: RulesBook { default: SymbolRules::default(), per_asset: [(a("BTC"), rules)].into() },
            ..PaperConfig::default()
        };
        let v = PaperExchange::in_memory(config, prices, Arc::new(ManualClock::new(Timestamp(1_000)))).unwrap();
        v.deposit(&a("USDT"), Qty(dec!(10000))).unwrap();
        v.deposit(&a("BTC"), Qty(dec!(1))).unwrap();
        v
    }

    fn order(id: &str, side: Side, qty: Decimal, kind: OrderKind) -> OrderRequest {
        OrderRequest {
            client_id: ClientOrderId::new(id).unwrap(),
            base: a("BTC"),
            quote: a("USDT"),
            side,
            qty: Qty(qty),
            kind,
            expires_at: None,
        }
    }

    fn free(v: &PaperExchange, asset: &str) -> Decimal {
        v.balances().unwrap().get(&a(asset)).map_or(Decimal::ZERO, |b| b.free.0).normalize()
    }

    fn partial(f: Decimal) -> Faults {
        Faults { partial_fill: Some(f), ..Faults::default() }
    }

    #[test]
    fn an_amendment_relocks_checks_the_filters_and_fills_when_it_crosses() {
        let v = venue();
        let id = ClientOrderId::new("amend-me").unwrap();
        let (btc, usdt) = (a("BTC"), a("USDT"));
        v.place(&order("amend-me", Side::Buy, dec!(0.1), OrderKind::Limit { price: Price(dec!(30000)) })).unwrap();
        assert_eq!(free(&v, "USDT"), dec!(6997), "3,000 and its 10 bps fee held");
        let r = v.amend(&id, &btc, &usdt, None, Some(Price(dec!(35000)))).unwrap();
        assert_eq!((r.status, r.qty.0), (OrderStatus::New, dec!(0.1)));
        assert_eq!(free(&v, "USDT"), dec!(6496.5));
        // Refused amendments change nothing.
        let e = v.amend(&id, &btc, &usdt, Some(Qty(dec!(0.3))), None).unwrap_err();
        assert!(matches!(&e, ExchangeError::Rejected(m) if m.starts_with("insufficient balance")), "{e:?}");
        let e = v.amend(&id, &btc, &usdt, None, Some(Price(dec!(35000.005)))).unwrap_err();
        assert!(matches!(&e, ExchangeError::Rejected(m) if m.starts_with("PRICE_FILTER")), "{e:?}");
        let e = v.amend(&id, &btc, &usdt, Some(Qty(dec!(0.0001))), Some(Price(dec!(1)))).unwrap_err();
        assert!(matches!(&e, ExchangeError::Rejected(m) if m.starts_with("NOTIONAL")), "{e:?}");
        assert!(v.amend(&id, &btc, &usdt, None, None).is_err());
        assert_eq!(free(&v, "USDT"), dec!(6496.5));
        let r = v.amend(&id, &btc, &usdt, Some(Qty(dec!(0.2))), None).unwrap();
        assert_eq!((r.status, r.qty.0), (OrderStatus::New, dec!(0.2)));
        assert_eq!(free(&v, "USDT"), dec!(2993));
        // Across the last price (40,000): filled now at the last price, the lock released.
        let r = v.amend(&id, &btc, &usdt, None, Some(Price(dec!(41000)))).unwrap();
        assert_eq!((r.status, r.filled.0, r.fills[0].price.0), (OrderStatus::Filled, dec!(0.2), dec!(40000)));
        assert_eq!(free(&v, "USDT"), dec!(1992), "10,000 - 8,000 - 8 fee");
        assert_eq!(v.balances().unwrap()[&usdt].locked.0, Decimal::ZERO);
        let e = v.amend(&id, &btc, &usdt, None, Some(Price(dec!(30000)))).unwrap_err();
        assert!(matches!(e, ExchangeError::Rejected(_)), "a filled order cannot be amended");
        let e = v.amend(&ClientOrderId::new("nope").unwrap(), &btc, &usdt, None, Some(Price(dec!(1)))).unwrap_err();
        assert!(matches!(e, ExchangeError::NotFound(_)));
    }

    #[test]
    fn floor_to_step_rounds_down() {
        assert_eq!(floor_to_step(dec!(0.0333333), dec!(0.00001)).unwrap(), dec!(0.03333));
        assert_eq!(floor_to_step(dec!(0.000009), dec!(0.00001)).unwrap(), Decimal::ZERO);
        assert_eq!(floor_to_step(dec!(1.23), Decimal::ZERO).unwrap(), dec!(1.23));
    }

    #[test]
    fn a_refused_key_refuses_every_signed_call_until_lifted() {
        let v = venue();
        v.set_key_refused(Some("Invalid API-key (-2015)"));
        let auth = |r: Result<(), ExchangeError>| matches!(r, Err(ExchangeError::Auth(m)) if m.contains("-2015"));
        let (btc, usdt) = (a("BTC"), a("USDT"));
        let id = ClientOrderId::new("k1").unwrap();
        assert!(auth(v.balances().map(drop)));
        assert!(auth(v.place(&order("k1", Side::Buy, dec!(0.001), OrderKind::Market)).map(drop)));
        assert!(auth(v.query(&id, &btc, &usdt).map(drop)));
        assert!(auth(v.open_orders(&btc, &usdt).map(drop)));
        assert!(auth(v.cancel(&id, &btc, &usdt).map(drop)));
        // Public data still answers.
        assert!(v.prices(std::slice::from_ref(&btc), &usdt).unwrap().contains_key(&btc));
        assert!(v.rules(&btc, &usdt).is_ok());
        v.set_key_refused(None);
        assert_eq!(free(&v, "USDT"), dec!(10000), "the refused order executed nothing");
        assert!(v.query(&id, &btc, &usdt).unwrap().is_none());
    }

    #[test]
    fn a_partial_market_buy_fills_the_floored_part_and_expires() {
        let v = venue();
        v.set_faults(partial(dec!(0.3)));
        // 0.11111 * 0.3 = 0.033333 -> 0.03333 BTC at 40,000 = 1,333.2 USDT, fee 1.3332.
        let r = v.place(&order("p1", Side::Buy, dec!(0.11111), OrderKind::Market)).unwrap();
        assert_eq!(r.status, OrderStatus::Expired);
        assert_eq!(r.qty.0, dec!(0.11111));
        assert_eq!(r.filled.0.normalize(), dec!(0.03333));
        assert_eq!(r.fills.len(), 1);
        assert_eq!(r.fills[0].qty.0.normalize(), dec!(0.03333));
        assert_eq!(r.fills[0].fee.0.normalize(), dec!(1.3332));
        assert_eq!(free(&v, "USDT"), dec!(10000) - dec!(1333.2) - dec!(1.3332));
        assert_eq!(free(&v, "BTC"), dec!(1.03333));
        // One-shot: the next order fills completely.
        let r = v.place(&order("p2", Side::Buy, dec!(0.001), OrderKind::Market)).unwrap();
        assert_eq!(r.status, OrderStatus::Filled);
        assert_eq!(r.filled.0, dec!(0.001));
    }

    #[test]
    fn a_partial_sell_and_a_crossing_limit_expire_with_their_part() {
        let v = venue();
        v.set_faults(partial(dec!(0.5)));
        let r = v.place(&order("s1", Side::Sell, dec!(0.00015), OrderKind::Market)).unwrap();
        // 0.000075 -> 0.00007 BTC: 2.8 USDT less a 0.0028 fee.
        assert_eq!((r.status, r.filled.0.normalize()), (OrderStatus::Expired, dec!(0.00007)));
        assert_eq!(free(&v, "BTC"), dec!(0.99993));
        assert_eq!(free(&v, "USDT"), dec!(10002.7972));
        // A crossing limit buy is a taker: partial at the execution price, no lock left.
        v.set_faults(partial(dec!(0.25)));
        let r = v.place(&order("l1", Side::Buy, dec!(0.1), OrderKind::Limit { price: Price(dec!(41000)) })).unwrap();
        assert_eq!((r.status, r.filled.0.normalize()), (OrderStatus::Expired, dec!(0.025)));
        assert_eq!(r.fills[0].price.0, dec!(40000));
        assert_eq!(free(&v, "USDT"), dec!(10002.7972) - dec!(1000) - dec!(1));
        assert!(v.balances().unwrap().values().all(|b| b.locked.is_zero()));
        assert!(v.open_orders(&a("BTC"), &a("USDT")).unwrap().is_empty());
    }

    #[test]
    fn a_partial_fill_of_nothing_or_of_a_resting_order() {
        let v = venue();
        // 0.00013 * 0.05 floors to zero: expired without a fill, balances untouched.
        v.set_faults(partial(dec!(0.05)));
        let r = v.place(&order("z1", Side::Buy, dec!(0.00013), OrderKind::Market)).unwrap();
        assert_eq!((r.status, r.filled.0.normalize(), r.fills.len()), (OrderStatus::Expired, Decimal::ZERO, 0));
        assert_eq!(free(&v, "USDT"), dec!(10000));
        // A resting limit is not affected; the balance check is on the whole order.
        v.set_faults(partial(dec!(0.5)));
        let r = v.place(&order("r1", Side::Buy, dec!(0.1), OrderKind::Limit { price: Price(dec!(39000)) })).unwrap();
        assert_eq!(r.status, OrderStatus::New);
        v.set_faults(partial(dec!(0.5)));
        let e = v.place(&order("big", Side::Sell, dec!(2), OrderKind::Market)).unwrap_err();
        assert!(matches!(e, ExchangeError::Rejected(_)), "{e:?}");
    }
}

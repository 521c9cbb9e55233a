//! The three newer faults of `ballast-sim`, end to end through the adapters and the
//! engine, over loopback HTTP: partial fills (Binance and Gate dialects), 418 IP bans
//! (Binance) and client-side timeouts after the order executed (Binance).

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ballast_backtest::Interval;
use ballast_binance::{Binance, BinanceConfig};
use ballast_core::{Asset, Prices, Qty, SymbolRules, Timestamp};
use ballast_engine::Engine;
use ballast_exchange::paper::{PaperConfig, PaperExchange};
use ballast_exchange::{
    Balance, ClientOrderId, Clock, Exchange, ExchangeError, ManualClock, OrderReport, OrderRequest,
};
use ballast_gate::{Gate, GateConfig, KeyCheck};
use ballast_sim::{FaultConfig, SimConfig, SimState, spawn_local};
use ballast_store::sqlite::SqliteStore;
use ballast_store::{OrderState, Store};
use common::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dialect {
    Binance,
    Gate,
}

struct Live {
    clock: Arc<ManualClock>,
    sim: Arc<SimState>,
    _server: ballast_sim::ShutdownHandle,
    venue: Arc<dyn Exchange>,
    /// Placements the adapter answered `OutcomeUnknown`.
    unknown: Arc<AtomicUsize>,
    store: Arc<SqliteStore>,
    engine: Engine,
}

fn live(w: &World, dialect: Dialect, timeout: Duration) -> Live {
    let clock = Arc::new(ManualClock::new(Timestamp(w.data.times[w.first].0 + Interval::H4.millis())));
    let config = PaperConfig { name: "sim".into(), fee_bps: dec!(10), slippage_bps: Decimal::ZERO, rules: rules() };
    let paper = Arc::new(PaperExchange::in_memory(config, replay(w), clock.clone() as Arc<dyn Clock>).unwrap());
    paper.deposit(&usdt(), Qty(dec!(1000))).unwrap();
    let symbols: Vec<(Asset, Asset)> = assets().into_iter().map(|a| (a, usdt())).collect();
    let sim_config = SimConfig::default();
    let sim = Arc::new(SimState::new(paper, clock.clone() as Arc<dyn Clock>, sim_config.clone(), symbols));
    let (addr, server) = spawn_local(sim.clone());
    let venue: Arc<dyn Exchange> = match dialect {
        Dialect::Binance => {
            let binance = Arc::new(Binance::new(
                BinanceConfig {
                    base_url: format!("http://{addr}"),
                    api_key: sim_config.api_key.clone(),
                    secret: sim_config.secret.clone(),
                    weight_limit_per_minute: 6000,
                    ..BinanceConfig::default()
                },
                Arc::new(ballast_binance::UreqTransport::new(timeout)),
                clock.clone() as Arc<dyn Clock>,
            ));
            binance.sync_time().unwrap();
            binance.check_key().unwrap();
            binance
        }
        Dialect::Gate => {
            let gate = Arc::new(Gate::new(
                GateConfig {
                    base_url: format!("http://{addr}/api/v4"),
                    // The manual clock does not move within a step.
                    orders_per_sec: 1_000,
                    requests_per_10s: 100_000,
                    ..GateConfig::new(sim_config.api_key.clone(), sim_config.secret.clone())
                },
                Arc::new(ballast_gate::UreqTransport::new(timeout)),
                clock.clone() as Arc<dyn Clock>,
            ));
            assert!(matches!(gate.check_key().unwrap(), KeyCheck::Ok | KeyCheck::Unknown(_)));
            gate
        }
    };
    let unknown = Arc::new(AtomicUsize::new(0));
    let counted: Arc<dyn Exchange> =
        Arc::new(Counting { inner: venue.clone(), unknown: unknown.clone(), before_place: None });
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let engine = Engine::new(store.clone(), counted, clock.clone());
    Live { clock, sim, _server: server, venue, unknown, store, engine }
}

/// The adapter, counting the placements whose outcome it could not know.
/// Optionally, a hook runs before each placement (to change the venue between the
/// moment the engine read the rules and the moment it sends).
struct Counting {
    inner: Arc<dyn Exchange>,
    unknown: Arc<AtomicUsize>,
    before_place: Option<Hook>,
}

/// A hook run before a placement.
type Hook = Box<dyn Fn(&OrderRequest) + Send + Sync>;

impl Exchange for Counting {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn rules(&self, base: &Asset, quote: &Asset) -> Result<SymbolRules, ExchangeError> {
        self.inner.rules(base, quote)
    }
    fn balances(&self) -> Result<BTreeMap<Asset, Balance>, ExchangeError> {
        self.inner.balances()
    }
    fn prices(&self, bases: &[Asset], quote: &Asset) -> Result<Prices, ExchangeError> {
        self.inner.prices(bases, quote)
    }
    fn place(&self, order: &OrderRequest) -> Result<OrderReport, ExchangeError> {
        if let Some(hook) = &self.before_place {
            hook(order);
        }
        let r = self.inner.place(order);
        if matches!(r, Err(ExchangeError::OutcomeUnknown(_))) {
            self.unknown.fetch_add(1, Ordering::SeqCst);
        }
        r
    }
    fn query(&self, id: &ClientOrderId, base: &Asset, quote: &Asset) -> Result<Option<OrderReport>, ExchangeError> {
        self.inner.query(id, base, quote)
    }
    fn open_orders(&self, base: &Asset, quote: &Asset) -> Result<Vec<OrderReport>, ExchangeError> {
        self.inner.open_orders(base, quote)
    }
    fn cancel(&self, id: &ClientOrderId, base: &Asset, quote: &Asset) -> Result<OrderReport, ExchangeError> {
        self.inner.cancel(id, base, quote)
    }
}

/// Creates the demo bot (no faults), then replays with `faults` injected.
fn run(l: &Live, w: &World, faults: FaultConfig) -> i64 {
    replay_demo(&l.engine, &l.clock, &l.sim, w, faults)
}

fn assert_ledger_matches_venue(l: &Live, bot: i64) {
    assert_ledger_matches(&l.engine, &*l.venue, bot);
}

/// Every fill belongs to exactly one order and is recorded once; nothing unresolved.
fn assert_fills_once_and_resolved(l: &Live, bot: i64) {
    assert!(l.store.unresolved(bot).unwrap().is_empty(), "everything resolved");
    let fills = l.store.fills(bot).unwrap();
    let mut keys: Vec<_> = fills.iter().map(|f| (f.client_id.to_string(), f.fill.trade_id.clone())).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), fills.len(), "a fill recorded twice");
}

fn partial_fills_are_recorded_and_the_bot_keeps_trading(dialect: Dialect) {
    let w = world("2024-01-01", "2024-03-31");
    let l = live(&w, dialect, Duration::from_secs(5));
    let faults = FaultConfig { partial_fill_rate: 0.3, partial_fill_fraction: 0.5, seed: 5, ..FaultConfig::default() };
    let bot = run(&l, &w, faults);
    assert_fills_once_and_resolved(&l, bot);
    assert_ledger_matches_venue(&l, bot);
    let orders = l.store.orders(bot, 100_000).unwrap();
    let partial: Vec<_> = orders.iter().filter(|o| o.filled.0 > Decimal::ZERO && o.filled.0 < o.intent.qty.0).collect();
    assert!(!partial.is_empty(), "{dialect:?}: some orders filled in part");
    let fills = l.store.fills(bot).unwrap();
    for o in &partial {
        assert_eq!(o.state, OrderState::Expired, "{dialect:?}: a partial fill ends expired: {o:?}");
        let sum: Decimal = fills.iter().filter(|f| f.client_id == o.intent.client_id).map(|f| f.fill.qty.0).sum();
        assert_eq!(sum.normalize(), o.filled.0.normalize(), "{dialect:?}: the executed quantity is its fills");
        // Half of the order, floored to the step.
        assert!(o.filled.0 <= o.intent.qty.0 / Decimal::TWO, "{o:?}");
    }
    // The bot does not stall: it trades again after the first partial fill.
    let first = partial.iter().map(|o| o.intent.created_at).min().unwrap();
    let later: std::collections::BTreeSet<i64> =
        fills.iter().filter(|f| f.fill.time > first).map(|f| f.fill.time.0).collect();
    assert!(later.len() >= 2, "{dialect:?}: rebalances after the first partial fill: {later:?}");
}

#[test]
fn partial_fills_through_the_binance_adapter() {
    partial_fills_are_recorded_and_the_bot_keeps_trading(Dialect::Binance);
}

#[test]
fn partial_fills_through_the_gate_adapter() {
    partial_fills_are_recorded_and_the_bot_keeps_trading(Dialect::Gate);
}

#[test]
fn ip_bans_418_never_repeat_an_order() {
    // Where a ban lands depends on the order of every request the bot makes (a price, a
    // balance, an order): seeds are tried until bans have refused orders, and every
    // run, refused or not, must keep the promises.
    let mut refused = 0;
    for seed in 13..=24 {
        let w = world("2024-01-01", "2024-03-31");
        let l = live(&w, Dialect::Binance, Duration::from_secs(5));
        let bot = run(&l, &w, FaultConfig { rate_418: 0.05, seed, ..FaultConfig::default() });
        let orders = l.store.orders(bot, 100_000).unwrap();
        refused += orders.iter().filter(|o| o.state == OrderState::NotSent).count();
        assert!(orders.iter().any(|o| o.state == OrderState::Filled), "seed {seed}: others went through");
        assert_fills_once_and_resolved(&l, bot);
        // No order was sent twice: each filled order has one fill at the venue (market
        // orders on the paper venue fill in one trade).
        for o in orders.iter().filter(|o| o.state == OrderState::Filled) {
            let n = l.store.fills(bot).unwrap().iter().filter(|f| f.client_id == o.intent.client_id).count();
            assert_eq!(n, 1, "seed {seed}: {o:?}");
        }
        assert_ledger_matches_venue(&l, bot);
        if refused > 0 {
            return;
        }
    }
    panic!("no seed from 13 to 24 had a ban refuse an order: the test did not exercise it");
}

#[test]
fn timeouts_after_execution_are_queried_not_resent() {
    let w = world("2024-01-01", "2024-03-31");
    let l = live(&w, Dialect::Binance, Duration::from_secs(1));
    let faults =
        FaultConfig { timeout_after_execution: 0.2, timeout_sleep_ms: 1500, seed: 3, ..FaultConfig::default() };
    let bot = run(&l, &w, faults);
    let got = fill_trades(&*l.store, bot);
    assert!(got.len() > 4, "it traded: {}", got.len());
    assert_eq!(got, backtest_trades(&w), "the orders executed once; the engine queried instead of resending");
    let unknown = l.unknown.load(Ordering::SeqCst);
    assert!(unknown > 0, "some placements timed out after sending: {unknown}");
    assert_fills_once_and_resolved(&l, bot);
    assert_ledger_matches_venue(&l, bot);
}

/// Steps the demo bot through every bar of `w` on `engine`, calling `at(bar index)`
/// before each step; then settles (faults off, one reconciliation when still active).
fn replay_with(l: &Live, engine: &Engine, w: &World, mut at: impl FnMut(usize)) -> i64 {
    let bot = engine.create("demo", spec(dec!(3), ballast_core::guards::Guards::default()), "", dec!(1000)).unwrap();
    for (i, t) in w.data.times[w.first..].iter().enumerate() {
        at(i);
        l.clock.set(Timestamp(t.0 + Interval::H4.millis()));
        l.sim.exchange().match_resting().unwrap();
        let _ = engine.step_all();
    }
    l.sim.set_faults(FaultConfig::default());
    engine.reconcile(bot).unwrap();
    bot
}

fn events_of(l: &Live, bot: i64) -> Vec<ballast_store::Event> {
    l.store.events(bot, 1_000_000).unwrap()
}

fn assert_active_or_explained(l: &Live, bot: i64) -> ballast_store::BotRecord {
    assert_carries_on_or_says_why(&*l.store, bot)
}

fn clock_skew_is_resynchronised(dialect: Dialect) {
    let w = world("2024-01-01", "2024-03-31");
    let l = live(&w, dialect, Duration::from_secs(5));
    let n = w.data.times.len() - w.first;
    // The venue's clock jumps 90 s ahead (beyond Binance's recvWindow and Gate's 60 s),
    // then 90 s behind; every signed request is first refused, then the adapter
    // resynchronises and sends it again (refused requests did nothing).
    let bot = replay_with(&l, &l.engine, &w, |i| {
        if i == n / 3 {
            l.sim.set_clock_offset_ms(90_000);
        } else if i == 2 * n / 3 {
            l.sim.set_clock_offset_ms(-90_000);
        }
    });
    // Fills carry the venue's (skewed) time: compare them at the nearest bar.
    let h4 = Interval::H4.millis();
    let got: Vec<Trade> = fill_trades(&*l.store, bot)
        .into_iter()
        .map(|(t, a, s, q, p)| ((t + h4 / 2).div_euclid(h4) * h4, a, s, q, p))
        .collect();
    assert!(got.len() > 4, "{dialect:?}: it traded: {}", got.len());
    assert_eq!(got, backtest_trades(&w), "{dialect:?}: the same trades as without skew, none lost or repeated");
    let errors: Vec<_> = events_of(&l, bot).into_iter().filter(|e| e.kind == "error" || e.kind == "rejected").collect();
    assert!(errors.is_empty(), "{dialect:?}: the skew was absorbed by resynchronising: {errors:?}");
    assert_eq!(assert_active_or_explained(&l, bot).status, ballast_store::BotStatus::Active);
    assert_fills_once_and_resolved(&l, bot);
    assert_ledger_matches_venue(&l, bot);
}

#[test]
fn clock_skew_through_the_binance_adapter() {
    clock_skew_is_resynchronised(Dialect::Binance);
}

#[test]
fn clock_skew_through_the_gate_adapter() {
    clock_skew_is_resynchronised(Dialect::Gate);
}

fn tightened_filter_is_rejected_then_planned_around(dialect: Dialect) {
    let w = world("2024-01-01", "2024-03-31");
    let l = live(&w, dialect, Duration::from_secs(5));
    let xrp = Asset::new("XRP").unwrap();
    let armed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tightened_at = Arc::new(std::sync::Mutex::new(None::<i64>));
    let hook = {
        let (sim, xrp, armed, at, clock) =
            (l.sim.clone(), xrp.clone(), armed.clone(), tightened_at.clone(), l.clock.clone());
        move |o: &OrderRequest| {
            if o.base == xrp && armed.swap(false, Ordering::SeqCst) {
                // After the engine planned with the old rules: XRP now needs 1,000,000 USDT a trade.
                let tight = SymbolRules {
                    tick: dec!(0.0001),
                    step: dec!(0.1),
                    min_qty: dec!(0.1),
                    min_notional: dec!(1000000),
                };
                sim.set_rules(&xrp, &usdt(), tight);
                *at.lock().unwrap() = Some(clock.now().0);
            }
        }
    };
    let venue: Arc<dyn Exchange> = Arc::new(Counting {
        inner: l.venue.clone(),
        unknown: Arc::new(AtomicUsize::new(0)),
        before_place: Some(Box::new(hook)),
    });
    let engine = Engine::new(l.store.clone(), venue, l.clock.clone());
    let n = w.data.times.len() - w.first;
    let bot = replay_with(&l, &engine, &w, |i| {
        if i == n / 4 {
            armed.store(true, Ordering::SeqCst);
        }
    });
    let at = tightened_at.lock().unwrap().expect("an XRP order was sent after the filter was armed");
    let orders = l.store.orders(bot, 100_000).unwrap();
    let rejected: Vec<_> = orders.iter().filter(|o| o.state == OrderState::Rejected).collect();
    assert_eq!(rejected.len(), 1, "{dialect:?}: exactly the order sent under the new rule is rejected: {rejected:?}");
    assert_eq!(rejected[0].intent.base, xrp);
    let events = events_of(&l, bot);
    let why = events.iter().find(|e| e.kind == "rejected").expect("a rejected event");
    assert!(
        why.message.to_uppercase().contains("NOTIONAL"),
        "{dialect:?}: the event names the filter: {}",
        why.message
    );
    // It carries on: later rebalances skip XRP with the reason and trade the others.
    let later: Vec<_> = events.iter().filter(|e| e.kind == "rebalance" && e.time.0 > at).collect();
    assert!(!later.is_empty(), "{dialect:?}: the bot rebalanced after the rejection");
    let skipped_xrp = later.iter().any(|e| {
        e.data["skipped"]
            .as_array()
            .is_some_and(|s| s.iter().any(|x| x["asset"] == "XRP" && !x["reason"].as_str().unwrap_or("").is_empty()))
    });
    assert!(skipped_xrp, "{dialect:?}: XRP is skipped with its reason once the venue's rule is read again");
    assert!(
        orders.iter().any(|o| o.intent.created_at.0 > at && o.state == OrderState::Filled),
        "{dialect:?}: the other coins still trade"
    );
    assert!(
        !orders.iter().any(|o| o.intent.created_at.0 > at && o.intent.base == xrp),
        "{dialect:?}: no XRP order is sent against the new rule"
    );
    assert_eq!(assert_active_or_explained(&l, bot).status, ballast_store::BotStatus::Active);
    assert_fills_once_and_resolved(&l, bot);
    assert_ledger_matches_venue(&l, bot);
}

#[test]
fn tightened_filter_through_the_binance_adapter() {
    tightened_filter_is_rejected_then_planned_around(Dialect::Binance);
}

#[test]
fn tightened_filter_through_the_gate_adapter() {
    tightened_filter_is_rejected_then_planned_around(Dialect::Gate);
}

fn funds_removed_behind_the_bots_back_pause_it_with_the_reason(dialect: Dialect) {
    let w = world("2024-01-01", "2024-03-31");
    let l = live(&w, dialect, Duration::from_secs(5));
    let btc = Asset::new("BTC").unwrap();
    let n = w.data.times.len() - w.first;
    let removed = std::cell::Cell::new(Decimal::ZERO);
    let bot = replay_with(&l, &l.engine, &w, |i| {
        if i == n / 5 {
            // Someone sells the account's BTC by hand (or withdraws it).
            let held = l.venue.balances().unwrap()[&btc].free;
            l.sim.exchange().withdraw(&btc, held).unwrap();
            removed.set(held.0);
        }
    });
    assert!(removed.get() > Decimal::ZERO);
    let rec = l.store.bot(bot).unwrap().unwrap();
    assert_eq!(rec.status, ballast_store::BotStatus::Paused, "{dialect:?}: {rec:?}");
    assert!(
        rec.status_reason.contains("BTC") && rec.status_reason.contains("less than"),
        "{dialect:?}: the status says why: {}",
        rec.status_reason
    );
    let events = events_of(&l, bot);
    let paused = events.iter().find(|e| e.kind == "paused").expect("a paused event");
    assert!(
        events.iter().any(|e| e.kind == "rejected" && e.time == paused.time),
        "{dialect:?}: paused on the rejection"
    );
    // Nothing is sent once paused.
    let orders = l.store.orders(bot, 100_000).unwrap();
    assert!(!orders.iter().any(|o| o.intent.created_at > paused.time), "{dialect:?}: no order after the pause");
    assert!(matches!(l.engine.step(bot).unwrap(), ballast_engine::StepOutcome::Inactive));
    assert_fills_once_and_resolved(&l, bot);
    // The ledger differs from the venue by exactly what was taken, nothing else.
    let ledger = l.engine.holdings(bot).unwrap();
    for (a, b) in l.venue.balances().unwrap() {
        let mine = ledger.get(&a).copied().unwrap_or_default().0;
        let gap = if a == btc { removed.get() } else { Decimal::ZERO };
        assert_eq!((mine - b.total().0).normalize(), gap.normalize(), "{dialect:?}: {a}");
    }
}

#[test]
fn funds_removed_through_the_binance_adapter() {
    funds_removed_behind_the_bots_back_pause_it_with_the_reason(Dialect::Binance);
}

#[test]
fn funds_removed_through_the_gate_adapter() {
    funds_removed_behind_the_bots_back_pause_it_with_the_reason(Dialect::Gate);
}

/// The adapter refusing every sell before sending it while `on` (a venue answering 5xx
/// to those requests only), so the buys planned with their proceeds find no money.
struct SellsRefused {
    inner: Arc<dyn Exchange>,
    on: Arc<std::sync::atomic::AtomicBool>,
}

impl Exchange for SellsRefused {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn rules(&self, base: &Asset, quote: &Asset) -> Result<SymbolRules, ExchangeError> {
        self.inner.rules(base, quote)
    }
    fn balances(&self) -> Result<BTreeMap<Asset, Balance>, ExchangeError> {
        self.inner.balances()
    }
    fn prices(&self, bases: &[Asset], quote: &Asset) -> Result<Prices, ExchangeError> {
        self.inner.prices(bases, quote)
    }
    fn place(&self, order: &OrderRequest) -> Result<OrderReport, ExchangeError> {
        if order.side == ballast_core::planner::Side::Sell && self.on.load(Ordering::SeqCst) {
            return Err(ExchangeError::Unavailable("HTTP 503 (injected before sending)".into()));
        }
        self.inner.place(order)
    }
    fn query(&self, id: &ClientOrderId, base: &Asset, quote: &Asset) -> Result<Option<OrderReport>, ExchangeError> {
        self.inner.query(id, base, quote)
    }
    fn open_orders(&self, base: &Asset, quote: &Asset) -> Result<Vec<OrderReport>, ExchangeError> {
        self.inner.open_orders(base, quote)
    }
    fn cancel(&self, id: &ClientOrderId, base: &Asset, quote: &Asset) -> Result<OrderReport, ExchangeError> {
        self.inner.cancel(id, base, quote)
    }
}

/// A buy refused for money because the sell before it was not executed is explained by
/// the bot's own ledger: the bot is not paused, and trades on once sells go through.
#[test]
fn a_buy_refused_after_its_sell_failed_does_not_pause_the_bot() {
    let w = world("2024-01-01", "2024-03-31");
    let l = live(&w, Dialect::Binance, Duration::from_secs(5));
    let on = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let venue: Arc<dyn Exchange> = Arc::new(SellsRefused { inner: l.venue.clone(), on: on.clone() });
    let engine = Engine::new(l.store.clone(), venue, l.clock.clone());
    let n = w.data.times.len() - w.first;
    let bot = replay_with(&l, &engine, &w, |i| on.store(i >= n / 4 && i < n / 2, Ordering::SeqCst));
    let orders = l.store.orders(bot, 100_000).unwrap();
    let events = events_of(&l, bot);
    let refused_buys: Vec<_> = events.iter().filter(|e| e.kind == "rejected" && e.message.starts_with("buy")).collect();
    assert!(
        !refused_buys.is_empty(),
        "some buys found no money: {:?}",
        events.iter().map(|e| &e.kind).collect::<Vec<_>>()
    );
    assert!(!events.iter().any(|e| e.kind == "paused"), "not paused: the ledger explains the shortfall");
    assert_eq!(assert_active_or_explained(&l, bot).status, ballast_store::BotStatus::Active);
    let last_refusal = refused_buys.iter().map(|e| e.time).max().unwrap();
    assert!(
        orders.iter().any(|o| o.intent.created_at > last_refusal && o.state == OrderState::Filled),
        "it trades on afterwards"
    );
    assert_fills_once_and_resolved(&l, bot);
    assert_ledger_matches_venue(&l, bot);
}

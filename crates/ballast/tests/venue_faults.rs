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
    let counted: Arc<dyn Exchange> = Arc::new(Counting { inner: venue.clone(), unknown: unknown.clone() });
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let engine = Engine::new(store.clone(), counted, clock.clone());
    Live { clock, sim, _server: server, venue, unknown, store, engine }
}

/// The adapter, counting the placements whose outcome it could not know.
struct Counting {
    inner: Arc<dyn Exchange>,
    unknown: Arc<AtomicUsize>,
}

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
    let w = world("2024-01-01", "2024-03-31");
    let l = live(&w, Dialect::Binance, Duration::from_secs(5));
    let bot = run(&l, &w, FaultConfig { rate_418: 0.05, seed: 13, ..FaultConfig::default() });
    let orders = l.store.orders(bot, 100_000).unwrap();
    assert!(orders.iter().any(|o| o.state == OrderState::NotSent), "some orders were refused with 418");
    assert!(orders.iter().any(|o| o.state == OrderState::Filled), "others went through");
    assert_fills_once_and_resolved(&l, bot);
    // No order was sent twice: each filled order has one fill at the venue (market
    // orders on the paper venue fill in one trade).
    for o in orders.iter().filter(|o| o.state == OrderState::Filled) {
        let n = l.store.fills(bot).unwrap().iter().filter(|f| f.client_id == o.intent.client_id).count();
        assert_eq!(n, 1, "{o:?}");
    }
    assert_ledger_matches_venue(&l, bot);
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

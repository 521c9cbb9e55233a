//! The demo bot end to end through the Binance adapter, over loopback HTTP, against
//! `ballast-sim` (the Binance dialect on the paper venue): the same trades as the
//! backtester's exchange mode, also when replies are lost after execution; and with
//! 429s and 5xx injected, no order is repeated and the ledger equals the venue.

mod common;

use std::sync::Arc;
use std::time::Duration;

use ballast_backtest::Interval;
use ballast_binance::{Binance, BinanceConfig, UreqTransport};
use ballast_core::{Asset, Qty, Timestamp};
use ballast_engine::Engine;
use ballast_exchange::paper::{PaperConfig, PaperExchange};
use ballast_exchange::{Clock, ManualClock};
use ballast_sim::{FaultConfig, SimConfig, SimState, spawn_local};
use ballast_store::sqlite::SqliteStore;
use ballast_store::{OrderState, Store};
use common::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

struct Live {
    clock: Arc<ManualClock>,
    sim: Arc<SimState>,
    _server: ballast_sim::ShutdownHandle,
    binance: Arc<Binance>,
    store: Arc<SqliteStore>,
    engine: Engine,
}

fn live(w: &World) -> Live {
    let clock = Arc::new(ManualClock::new(Timestamp(w.data.times[w.first].0 + Interval::H4.millis())));
    let config = PaperConfig { name: "sim".into(), fee_bps: dec!(10), slippage_bps: Decimal::ZERO, rules: rules() };
    let paper = Arc::new(PaperExchange::in_memory(config, replay(w), clock.clone() as Arc<dyn Clock>).unwrap());
    paper.deposit(&usdt(), Qty(dec!(1000))).unwrap();
    let symbols: Vec<(Asset, Asset)> = assets().into_iter().map(|a| (a, usdt())).collect();
    let sim_config = SimConfig::default();
    let sim = Arc::new(SimState::new(paper, clock.clone() as Arc<dyn Clock>, sim_config.clone(), symbols));
    let (addr, server) = spawn_local(sim.clone());
    let binance = Arc::new(Binance::new(
        BinanceConfig {
            base_url: format!("http://{addr}"),
            api_key: sim_config.api_key.clone(),
            secret: sim_config.secret.clone(),
            weight_limit_per_minute: 6000,
            ..BinanceConfig::default()
        },
        Arc::new(UreqTransport::new(Duration::from_secs(5))),
        clock.clone() as Arc<dyn Clock>,
    ));
    binance.sync_time().unwrap();
    binance.check_key().unwrap();
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let engine = Engine::new(store.clone(), binance.clone(), clock.clone());
    Live { clock, sim, _server: server, binance, store, engine }
}

/// Creates the demo bot (no faults), then replays with `faults` injected.
fn run(l: &Live, w: &World, faults: FaultConfig) -> i64 {
    replay_demo(&l.engine, &l.clock, &l.sim, w, faults)
}

fn assert_ledger_matches_venue(l: &Live, bot: i64) {
    assert_ledger_matches(&l.engine, &*l.binance, bot);
}

#[test]
fn the_demo_bot_trades_through_the_binance_adapter_like_the_backtester() {
    let w = world("2024-01-01", "2024-06-30");
    let l = live(&w);
    let bot = run(&l, &w, FaultConfig::default());
    let got = fill_trades(&*l.store, bot);
    assert!(got.len() > 8, "it traded: {}", got.len());
    assert_eq!(got, backtest_trades(&w));
    assert_ledger_matches_venue(&l, bot);
}

#[test]
fn replies_lost_after_execution_change_nothing() {
    let w = world("2024-01-01", "2024-06-30");
    let faults = FaultConfig { drop_after_execution: 0.3, seed: 7, ..FaultConfig::default() };
    let l = live(&w);
    let bot = run(&l, &w, faults);
    let unknown_seen = l.store.events(bot, 10_000).unwrap().len();
    assert!(unknown_seen > 0);
    assert_eq!(fill_trades(&*l.store, bot), backtest_trades(&w), "queried, never resent");
    assert!(l.store.unresolved(bot).unwrap().is_empty());
    assert_ledger_matches_venue(&l, bot);
}

#[test]
fn rate_limits_and_server_errors_never_repeat_an_order() {
    let w = world("2024-01-01", "2024-06-30");
    let faults = FaultConfig {
        rate_429: 0.05,
        rate_5xx: 0.05,
        drop_after_execution: 0.1,
        reject_rate: 0.15,
        seed: 11,
        ..FaultConfig::default()
    };
    let l = live(&w);
    let bot = run(&l, &w, faults);
    let orders = l.store.orders(bot, 100_000).unwrap();
    assert!(orders.iter().any(|o| o.state == OrderState::NotSent), "some orders were refused before execution");
    let mut states: std::collections::BTreeMap<&str, usize> = Default::default();
    for o in &orders {
        *states.entry(o.state.as_str()).or_default() += 1;
    }
    assert!(
        orders.iter().any(|o| o.state == OrderState::Rejected),
        "the venue's rejections are recorded as such: {states:?}"
    );
    assert!(l.store.unresolved(bot).unwrap().is_empty(), "everything resolved");
    // Every fill belongs to exactly one order and appears once.
    let fills = l.store.fills(bot).unwrap();
    let mut keys: Vec<_> = fills.iter().map(|f| (f.client_id.to_string(), f.fill.trade_id.clone())).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), fills.len());
    assert_ledger_matches_venue(&l, bot);
}

//! The demo's coins on `ballast-sim` (in process, over loopback HTTP) through the real
//! Binance or Gate adapter, with an engine on an in-memory store: the rig of the
//! venue tests that drive the engine directly.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ballast_backtest::Interval;
use ballast_binance::{Binance, BinanceConfig};
use ballast_core::planner::PairBook;
use ballast_core::{Asset, Price, Qty, Timestamp};
use ballast_engine::Engine;
use ballast_exchange::paper::{FeeDiscount, PaperConfig, PaperExchange, PriceSource, ReplayPrices};
use ballast_exchange::{Clock, Exchange, ManualClock};
use ballast_gate::{Gate, GateConfig};
use ballast_sim::{SimConfig, SimState, spawn_local};
use ballast_store::sqlite::SqliteStore;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use super::{World, assets, replay, rules, usdt};

/// The rig: the sim, the adapter it is reached through, and an engine on it.
pub struct Live {
    pub clock: Arc<ManualClock>,
    pub sim: Arc<SimState>,
    pub _server: ballast_sim::ShutdownHandle,
    pub venue: Arc<dyn Exchange>,
    pub store: Arc<SqliteStore>,
    pub engine: Engine,
}

/// What the sim serves beyond the demo's four coins against USDT.
#[derive(Default)]
pub struct Extras {
    /// Cross pairs (ETH/BTC...): listed by the paper venue and served by both dialects.
    pub pairs: PairBook,
    /// Coins served against USDT at a fixed price (GT, which the bundle has no candles
    /// of, for Gate's small-balance conversion).
    pub fixed: Vec<(Asset, Price)>,
    /// Fees paid in the venue's token at a discount (BNB, GT) when the account holds it.
    pub fee_discount: Option<FeeDiscount>,
}

/// The replay, plus coins at a fixed price.
struct WithFixed {
    replay: Arc<ReplayPrices>,
    fixed: BTreeMap<Asset, Price>,
}

impl PriceSource for WithFixed {
    fn price(&self, base: &Asset, quote: &Asset, now: Timestamp) -> Option<Price> {
        match self.fixed.get(base) {
            Some(p) if quote == self.replay.quote() => Some(*p),
            _ => self.replay.price(base, quote, now),
        }
    }

    fn cross(&self, base: &Asset, quote: &Asset, now: Timestamp) -> Option<Price> {
        self.replay.cross(base, quote, now)
    }

    fn fixed_in_time(&self) -> bool {
        true
    }
}

/// The demo's coins through `dialect` (`binance` or `gate`), 1,000 USDT in the account.
pub fn live(w: &World, dialect: &str) -> Live {
    live_with(w, dialect, Extras::default())
}

/// [`live`], serving `extras` too.
pub fn live_with(w: &World, dialect: &str, extras: Extras) -> Live {
    let clock = Arc::new(ManualClock::new(Timestamp(w.data.times[w.first].0 + Interval::H4.millis())));
    let config = PaperConfig { name: "sim".into(), fee_bps: dec!(10), slippage_bps: Decimal::ZERO, rules: rules() };
    let prices = Arc::new(WithFixed { replay: replay(w), fixed: extras.fixed.iter().cloned().collect() });
    let paper = PaperExchange::in_memory(config, prices, clock.clone() as Arc<dyn Clock>)
        .unwrap()
        .with_pairs(extras.pairs.clone())
        .unwrap();
    let paper = Arc::new(match extras.fee_discount.clone() {
        Some(d) => paper.with_fee_discount(d),
        None => paper,
    });
    paper.deposit(&usdt(), Qty(dec!(1000))).unwrap();
    let mut symbols: Vec<(Asset, Asset)> = assets().into_iter().map(|a| (a, usdt())).collect();
    symbols.extend(extras.fixed.iter().map(|(a, _)| (a.clone(), usdt())));
    for name in extras.pairs.rules.keys() {
        let (b, q) = name.split_once('/').unwrap();
        symbols.push((Asset::new(b).unwrap(), Asset::new(q).unwrap()));
    }
    let sim_config = SimConfig::default();
    let sim = Arc::new(SimState::new(paper, clock.clone() as Arc<dyn Clock>, sim_config.clone(), symbols));
    let (addr, server) = spawn_local(sim.clone());
    let venue: Arc<dyn Exchange> = match dialect {
        "binance" => {
            let b = Binance::new(
                BinanceConfig {
                    base_url: format!("http://{addr}"),
                    api_key: sim_config.api_key.clone(),
                    secret: sim_config.secret.clone(),
                    weight_limit_per_minute: 60_000,
                    ..BinanceConfig::default()
                },
                Arc::new(ballast_binance::UreqTransport::new(Duration::from_secs(5))),
                clock.clone() as Arc<dyn Clock>,
            );
            b.sync_time().unwrap();
            Arc::new(b)
        }
        _ => Arc::new(Gate::new(
            GateConfig {
                base_url: format!("http://{addr}/api/v4"),
                orders_per_sec: 1_000,
                requests_per_10s: 100_000,
                ..GateConfig::new(sim_config.api_key.clone(), sim_config.secret.clone())
            },
            Arc::new(ballast_gate::UreqTransport::new(Duration::from_secs(5))),
            clock.clone() as Arc<dyn Clock>,
        )),
    };
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let engine = Engine::new(store.clone(), venue.clone(), clock.clone());
    Live { clock, sim, _server: server, venue, store, engine }
}

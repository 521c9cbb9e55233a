//! Helpers shared by the integration tests: the bundled candles as a replay, the
//! shipped rules, and a bot spec.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use ballast_backtest::{Interval, align, load_dir, parse_date, parse_end_date};
use ballast_core::guards::Guards;
use ballast_core::planner::{RebalanceTo, RulesBook};
use ballast_core::trigger::{Threshold, Trigger};
use ballast_core::weighting::{self, Method};
use ballast_core::{Asset, Bps, DriftKind, Price, Timestamp};
use ballast_engine::BotSpec;
use ballast_exchange::paper::ReplayPrices;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn assets() -> Vec<Asset> {
    ["BTC", "ETH", "XRP", "BNB"].iter().map(|s| Asset::new(s).unwrap()).collect()
}

pub fn usdt() -> Asset {
    Asset::new("USDT").unwrap()
}

/// Shipped rules (the same file the backtester's exchange mode reads).
pub fn rules() -> RulesBook {
    let text = std::fs::read_to_string(root().join("data/rules/binance-spot.toml")).unwrap();
    let t: toml::Table = text.parse().unwrap();
    let mut book = RulesBook::default();
    for (name, v) in t["rules"].as_table().unwrap() {
        let get = |k: &str| v[k].as_str().unwrap().parse::<Decimal>().unwrap();
        book.per_asset.insert(
            Asset::new(name).unwrap(),
            ballast_core::SymbolRules {
                tick: get("tick"),
                step: get("step"),
                min_qty: get("min_qty"),
                min_notional: get("min_notional"),
            },
        );
    }
    book
}

pub struct World {
    pub data: ballast_backtest::Aligned,
    pub first: usize,
}

pub fn world(start: &str, end: &str) -> World {
    let series = load_dir(root().join("data/binance-spot"), &assets(), Interval::H4).unwrap();
    let data = align(&series, None, Some(parse_end_date(end).unwrap())).unwrap();
    let s = parse_date(start).unwrap();
    let first = data.times.iter().position(|t| *t >= s).unwrap();
    World { data, first }
}

/// The paper venue replaying these candles: the price at a bar's close time is its close.
pub fn replay(w: &World) -> Arc<ReplayPrices> {
    let mut series = BTreeMap::new();
    for (i, a) in w.data.assets.iter().enumerate() {
        let s: Vec<(Timestamp, Price)> = w
            .data
            .times
            .iter()
            .zip(&w.data.closes_exact[i])
            .map(|(t, p)| (Timestamp(t.0 + Interval::H4.millis()), Price(*p)))
            .collect();
        series.insert(a.clone(), s);
    }
    Arc::new(ReplayPrices::new(series, usdt()))
}

pub fn spec(threshold: Decimal, guards: Guards) -> BotSpec {
    BotSpec {
        quote: usdt(),
        assets: assets(),
        method: Method::Equal,
        weights: weighting::equal(&assets()).unwrap(),
        trigger: Trigger::threshold(Threshold::new(threshold, DriftKind::Absolute).unwrap(), None).unwrap(),
        to: RebalanceTo::Target,
        guards,
        fee: Bps(dec!(10)),
        reestimate: None,
        execution: Default::default(),
    }
}

/// A trade as (bar open time, asset, side, quantity, price), decimals normalised.
pub type Trade = (i64, String, ballast_core::planner::Side, String, String);

/// The trades a bot's recorded fills describe (fill time is the bar's close).
pub fn fill_trades(store: &dyn ballast_store::Store, bot: i64) -> Vec<Trade> {
    store
        .fills(bot)
        .unwrap()
        .into_iter()
        .map(|f| {
            (
                f.fill.time.0 - Interval::H4.millis(),
                f.base.to_string(),
                f.side,
                f.fill.qty.0.normalize().to_string(),
                f.fill.price.0.normalize().to_string(),
            )
        })
        .collect()
}

/// The demo bot's trades in the backtester's exchange mode on the same candles.
pub fn backtest_trades(w: &World) -> Vec<Trade> {
    use ballast_backtest::backtest::{self, ExchangeOptions, Prepared, Rebalance, SimMode, Strategy, WeightSpec};
    let prep = Prepared::new(w.data.clone(), Some(w.data.times[w.first])).unwrap();
    let strategy = Strategy {
        weights: WeightSpec::Equal,
        rebalance: Rebalance::Threshold { percent: dec!(3), kind: DriftKind::Absolute },
        fee_bps: dec!(10),
        initial: dec!(1000),
        mode: SimMode::Exchange(Box::new(ExchangeOptions { rules: rules(), ..ExchangeOptions::default() })),
    };
    backtest::run(&prep, &strategy, true)
        .unwrap()
        .trades
        .iter()
        .map(|t| {
            (
                t.time.0,
                t.asset.to_string(),
                t.side,
                Decimal::try_from(t.quantity).unwrap().normalize().to_string(),
                Decimal::try_from(t.price).unwrap().normalize().to_string(),
            )
        })
        .collect()
}

/// The bot either carries on (active) or stops in a state that says why.
pub fn assert_carries_on_or_says_why(store: &dyn ballast_store::Store, bot: i64) -> ballast_store::BotRecord {
    let rec = store.bot(bot).unwrap().unwrap();
    assert!(
        rec.status == ballast_store::BotStatus::Active || !rec.status_reason.trim().is_empty(),
        "a bot that is not active must say why: {rec:?}"
    );
    rec
}

/// The bot's ledger equals the venue's balances (one bot owns the whole account), and
/// the bot carries on or says why it stopped.
pub fn assert_ledger_matches(engine: &ballast_engine::Engine, venue: &dyn ballast_exchange::Exchange, bot: i64) {
    assert_carries_on_or_says_why(&**engine.store(), bot);
    let ledger = engine.holdings(bot).unwrap();
    let balances = venue.balances().unwrap();
    for (a, b) in &balances {
        assert_eq!(ledger.get(a).copied().unwrap_or_default().0.normalize(), b.total().0.normalize(), "{a}");
    }
    for (a, q) in &ledger {
        if !q.is_zero() {
            assert!(balances.contains_key(a), "{a} in the ledger but not at the venue");
        }
    }
}

/// Creates the demo bot (no faults), replays every bar of `w` through `sim` with
/// `faults` injected, then settles: faults off and one reconciliation.
pub fn replay_demo(
    engine: &ballast_engine::Engine,
    clock: &ballast_exchange::ManualClock,
    sim: &ballast_sim::SimState,
    w: &World,
    faults: ballast_sim::FaultConfig,
) -> i64 {
    let bot = engine.create("demo", spec(dec!(3), Guards::default()), "", dec!(1000)).unwrap();
    sim.set_faults(faults);
    for t in &w.data.times[w.first..] {
        clock.set(Timestamp(t.0 + Interval::H4.millis()));
        sim.exchange().match_resting().unwrap();
        // A step may fail when the venue answers 5xx or 429 to a read; the next one
        // carries on (the engine records the error as an event in `step_all`).
        let _ = engine.step_all();
    }
    sim.set_faults(ballast_sim::FaultConfig::default());
    engine.reconcile(bot).unwrap();
    bot
}
pub mod live;
pub mod process;

//! The engine with the paper venue and the SQLite store: parity with the backtester's
//! exchange mode, recovery from lost replies and crashes, and the ledger against the
//! venue.

mod common;

use std::sync::Arc;

use common::*;

use ballast_backtest::backtest::{self, ExchangeOptions, Prepared, Rebalance, SimMode, Strategy, WeightSpec};
use ballast_backtest::{Interval, align, load_dir, parse_date, parse_end_date};
use ballast_core::guards::Guards;
use ballast_core::planner::Side;
use ballast_core::weighting;
use ballast_core::{Asset, DriftKind, Qty, Timestamp};
use ballast_engine::{Engine, StepOutcome, StopMode};
use ballast_exchange::paper::{Faults, PaperConfig, PaperExchange};
use ballast_exchange::{Clock, Exchange, ManualClock};
use ballast_store::sqlite::SqliteStore;
use ballast_store::{OrderState, Store};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

struct Rig {
    clock: Arc<ManualClock>,
    paper: Arc<PaperExchange>,
    store: Arc<SqliteStore>,
    engine: Engine,
}

fn rig(w: &World, dir: &std::path::Path) -> Rig {
    let clock = Arc::new(ManualClock::new(Timestamp(w.data.times[w.first].0 + Interval::H4.millis())));
    let config = PaperConfig { name: "paper".into(), fee_bps: dec!(10), slippage_bps: Decimal::ZERO, rules: rules() };
    let paper = Arc::new(
        PaperExchange::open(&dir.join("paper.sqlite"), config, replay(w), clock.clone() as Arc<dyn Clock>).unwrap(),
    );
    let store = Arc::new(SqliteStore::open(&dir.join("ballast.sqlite")).unwrap());
    let engine = Engine::new(store.clone(), paper.clone(), clock.clone());
    Rig { clock, paper, store, engine }
}

/// The bot's ledger equals the venue's balances (one bot owns the whole account).
fn assert_ledger_matches_venue(r: &Rig, bot: i64) {
    let ledger = r.engine.holdings(bot).unwrap();
    let venue = r.paper.balances().unwrap();
    let mut all: Vec<&Asset> = ledger.keys().chain(venue.keys()).collect();
    all.sort();
    all.dedup();
    for a in all {
        let l = ledger.get(a).copied().unwrap_or_default();
        let v = venue.get(a).map(|b| b.total()).unwrap_or_default();
        assert_eq!(l, v, "{a}: ledger {l} venue {v}");
    }
}

#[test]
fn engine_and_paper_venue_trade_exactly_like_the_backtester() {
    let w = world("2024-01-01", "2025-12-31");
    // The backtester's exchange mode.
    let prep = Prepared::new(w.data.clone(), Some(w.data.times[w.first])).unwrap();
    let strategy = Strategy {
        weights: WeightSpec::Equal,
        rebalance: Rebalance::Threshold { percent: dec!(3), kind: DriftKind::Absolute },
        fee_bps: dec!(10),
        initial: dec!(1000),
        mode: SimMode::Exchange(Box::new(ExchangeOptions { rules: rules(), ..ExchangeOptions::default() })),
    };
    let bt = backtest::run(&prep, &strategy, true).unwrap();
    assert!(bt.trades.len() > 40);

    // The engine and the paper venue, bar by bar.
    let dir = tempfile::tempdir().unwrap();
    let r = rig(&w, dir.path());
    r.paper.deposit(&usdt(), Qty(dec!(1000))).unwrap();
    let bot = r.engine.create("parity", spec(dec!(3), Guards::default()), "", dec!(1000)).unwrap();
    for t in &w.data.times[w.first..] {
        r.clock.set(Timestamp(t.0 + Interval::H4.millis()));
        r.engine.step(bot).unwrap();
    }
    let fills = r.store.fills(bot).unwrap();
    let engine_trades: Vec<(i64, String, Side, f64, f64)> = fills
        .iter()
        .map(|f| {
            (
                f.fill.time.0 - Interval::H4.millis(),
                f.base.to_string(),
                f.side,
                f.fill.qty.0.try_into().unwrap(),
                f.fill.price.0.try_into().unwrap(),
            )
        })
        .collect();
    let bt_trades: Vec<(i64, String, Side, f64, f64)> =
        bt.trades.iter().map(|t| (t.time.0, t.asset.to_string(), t.side, t.quantity, t.price)).collect();
    assert_eq!(engine_trades.len(), bt_trades.len(), "same number of trades");
    assert_eq!(engine_trades, bt_trades, "same trades, in the same order, at the same prices");
    let v = r.engine.view(bot).unwrap();
    let final_value: f64 = v.pnl.unwrap().value.0.try_into().unwrap();
    assert!((final_value / bt.metrics.final_value - 1.0).abs() < 1e-12, "{final_value} vs {}", bt.metrics.final_value);
    assert_ledger_matches_venue(&r, bot);
}

#[test]
fn a_lost_reply_is_queried_not_resent() {
    let w = world("2024-01-01", "2024-03-31");
    let dir = tempfile::tempdir().unwrap();
    let r = rig(&w, dir.path());
    r.paper.deposit(&usdt(), Qty(dec!(1000))).unwrap();
    let bot = r.engine.create("lost", spec(dec!(3), Guards::default()), "", dec!(1000)).unwrap();
    // The venue executes the first order, then the reply is lost.
    r.paper.set_faults(Faults { drop_reply_after_execution: true, ..Faults::default() });
    assert_eq!(r.engine.step(bot).unwrap(), StepOutcome::Rebalanced { orders: 4 });
    let orders = r.store.orders(bot, 100).unwrap();
    assert_eq!(orders.len(), 4);
    assert!(orders.iter().all(|o| o.state == OrderState::Filled), "{orders:?}");
    assert_eq!(r.store.fills(bot).unwrap().len(), 4, "each fill recorded once");
    assert_ledger_matches_venue(&r, bot);
}

#[test]
fn an_order_that_never_reached_the_venue_is_not_sent_again() {
    let w = world("2024-01-01", "2024-03-31");
    let dir = tempfile::tempdir().unwrap();
    let r = rig(&w, dir.path());
    r.paper.deposit(&usdt(), Qty(dec!(1000))).unwrap();
    let bot = r.engine.create("down", spec(dec!(3), Guards::default()), "", dec!(1000)).unwrap();
    r.paper.set_faults(Faults { fail_before_execution: true, ..Faults::default() });
    let out = r.engine.step(bot).unwrap();
    assert_eq!(out, StepOutcome::Rebalanced { orders: 3 }, "one of four failed");
    let not_sent: Vec<_> =
        r.store.orders(bot, 100).unwrap().into_iter().filter(|o| o.state == OrderState::NotSent).collect();
    assert_eq!(not_sent.len(), 1);
    // The next decision plans afresh under a new sequence number; the failed id is
    // never reused.
    let mut filled_ids = std::collections::BTreeSet::new();
    for t in &w.data.times[w.first + 1..] {
        r.clock.set(Timestamp(t.0 + Interval::H4.millis()));
        r.engine.step(bot).unwrap();
    }
    for o in r.store.orders(bot, 1000).unwrap() {
        assert!(filled_ids.insert(o.intent.client_id.clone()), "client ids are unique");
    }
    assert!(!filled_ids.contains(&not_sent[0].intent.client_id) || not_sent.len() == 1);
    assert_ledger_matches_venue(&r, bot);
}

#[test]
fn a_restart_after_intents_were_written_reconciles_before_anything_else() {
    let w = world("2024-01-01", "2024-02-29");
    let dir = tempfile::tempdir().unwrap();
    let bot;
    {
        let r = rig(&w, dir.path());
        r.paper.deposit(&usdt(), Qty(dec!(1000))).unwrap();
        bot = r.engine.create("restart", spec(dec!(3), Guards::default()), "", dec!(1000)).unwrap();
        // Executed at the venue, reply lost, and the process dies before it can ask:
        // simulate by losing the reply and then marking the orders unknown again.
        r.paper.set_faults(Faults { drop_reply_after_execution: true, ..Faults::default() });
        r.engine.step(bot).unwrap();
    }
    // A new process on the same files.
    let r = rig(&w, dir.path());
    let before = r.store.fills(bot).unwrap().len();
    r.engine.reconcile(bot).unwrap();
    assert_eq!(r.store.fills(bot).unwrap().len(), before, "reconciling twice adds nothing");
    assert!(r.store.unresolved(bot).unwrap().is_empty());
    assert_ledger_matches_venue(&r, bot);
}

#[test]
fn lifecycle_invest_edit_stop() {
    let w = world("2024-01-01", "2024-06-30");
    let dir = tempfile::tempdir().unwrap();
    let r = rig(&w, dir.path());
    r.paper.deposit(&usdt(), Qty(dec!(1500))).unwrap();
    let bot = r.engine.create("life", spec(dec!(3), Guards::default()), "", dec!(1000)).unwrap();
    r.engine.step(bot).unwrap();
    // Too little money and unknown symbols are refused with the reason.
    let e = r.engine.create("tiny", spec(dec!(3), Guards::default()), "", dec!(5)).unwrap_err().to_string();
    assert!(e.contains("too little") && e.contains("at least"), "{e}");
    let mut bad = spec(dec!(3), Guards::default());
    bad.assets.push(Asset::new("NOPE").unwrap());
    bad.weights = weighting::equal(&bad.assets).unwrap();
    let e = r.engine.create("bad", bad, "", dec!(100)).unwrap_err().to_string();
    assert!(e.contains("NOPE"), "{e}");
    // Invest 500 USDT: rebalanced in.
    r.engine.invest(bot, &[(usdt(), Qty(dec!(500)))].into()).unwrap();
    assert!(matches!(r.engine.step(bot).unwrap(), StepOutcome::Rebalanced { .. }));
    let v = r.engine.view(bot).unwrap();
    assert_eq!(v.pnl.as_ref().unwrap().net_invested.0, dec!(1500));
    assert!(v.holdings[&usdt()].0 < dec!(10), "cash put to work");
    // Remove BNB: it is sold at the next step.
    let mut s = spec(dec!(3), Guards::default());
    s.assets.retain(|a| a.as_str() != "BNB");
    s.weights = weighting::equal(&s.assets).unwrap();
    r.engine.edit(bot, s, "").unwrap();
    r.engine.step(bot).unwrap();
    let h = r.engine.holdings(bot).unwrap();
    let bnb = h.get(&Asset::new("BNB").unwrap()).copied().unwrap_or_default();
    assert!(bnb.0 < dec!(0.001), "BNB sold: {bnb}");
    // Pause: steps do nothing.
    r.engine.set_paused(bot, true).unwrap();
    assert_eq!(r.engine.step(bot).unwrap(), StepOutcome::Inactive);
    assert!(r.engine.set_paused(bot, true).is_err());
    r.engine.set_paused(bot, false).unwrap();
    assert_ledger_matches_venue(&r, bot);
    // Stop converting to USDT: the money leaves the bot and stays in the account.
    let left = r.engine.stop(bot, StopMode::ToQuote).unwrap().returned;
    let venue = r.paper.balances().unwrap();
    for (a, q) in &left {
        assert_eq!(venue.get(a).map(|b| b.total()).unwrap_or_default(), *q, "{a} returned to the account");
    }
    assert!(r.engine.holdings(bot).unwrap().values().all(|q| q.is_zero()), "the bot holds nothing after the stop");
    let coins: Decimal = left
        .iter()
        .filter(|(a, _)| **a != usdt())
        .map(|(a, q)| q.0 * r.engine.view(bot).unwrap().prices.get(a).map(|p| p.0).unwrap_or_default())
        .sum();
    assert!(coins < dec!(5), "only dust below the minimum order stays in coins: {coins}");
    assert!(r.engine.step(bot).unwrap() == StepOutcome::Inactive);
    assert!(r.engine.invest(bot, &[(usdt(), Qty(dec!(1)))].into()).is_err(), "a stopped bot takes no money");
}

#[test]
fn stop_loss_sells_everything_and_stops() {
    // 2022: a bear market.
    let series = load_dir(root().join("data/binance-spot"), &assets(), Interval::H4).unwrap();
    let data = align(&series, None, Some(parse_end_date("2022-12-31").unwrap())).unwrap();
    let first = data.times.iter().position(|t| *t >= parse_date("2022-04-01").unwrap()).unwrap();
    let w = World { data, first };
    let dir = tempfile::tempdir().unwrap();
    let r = rig(&w, dir.path());
    r.paper.deposit(&usdt(), Qty(dec!(1000))).unwrap();
    let guards = Guards { stop_loss_percent: Some(dec!(30)), ..Guards::default() };
    let bot = r.engine.create("sl", spec(dec!(5), guards), "", dec!(1000)).unwrap();
    let mut stopped = None;
    for t in &w.data.times[w.first..] {
        r.clock.set(Timestamp(t.0 + Interval::H4.millis()));
        if let StepOutcome::Stopped(why) = r.engine.step(bot).unwrap() {
            stopped = Some(why);
            break;
        }
    }
    assert!(stopped.unwrap().contains("stop-loss"));
    let rec = r.store.bot(bot).unwrap().unwrap();
    assert_eq!(rec.status, ballast_store::BotStatus::Stopped);
    assert!(rec.status_reason.contains("stop-loss"), "{}", rec.status_reason);
    let v = r.engine.view(bot).unwrap();
    let value = v.pnl.unwrap().value.0;
    assert!(value > dec!(600) && value <= dec!(700), "sold near the 700 level: {value}");
    // The stop returned everything to the account: the bot holds nothing, the venue
    // holds what it returned.
    assert!(r.engine.holdings(bot).unwrap().is_empty());
    let returned = v.state.summary.expect("a stopped bot's summary").returned;
    let venue = r.paper.balances().unwrap();
    for (a, b) in &venue {
        assert_eq!(returned.get(a).copied().unwrap_or_default(), b.total(), "{a}");
    }
}

/// A bot stepped every 10 s (a live runner's default poll) keeps one snapshot per 15
/// minutes of clock time, the latest always the last step's; a bot stepped once a bar
/// keeps every bar.
#[test]
fn frequent_steps_keep_one_snapshot_per_quarter_hour_the_latest_current() {
    let w = world("2024-01-01", "2024-01-31");
    let dir = tempfile::tempdir().unwrap();
    let r = rig(&w, dir.path());
    r.paper.deposit(&usdt(), Qty(dec!(1000))).unwrap();
    let bot = r.engine.create("polled", spec(dec!(3), Guards::default()), "", dec!(1000)).unwrap();
    let start = r.clock.now().0;
    // 45 minutes of 10 s polls, starting on a quarter hour: three buckets.
    let bucket = ballast_engine::engine::SNAPSHOT_BUCKET_MS;
    let start = start + (bucket - start.rem_euclid(bucket)) % bucket;
    let mut last = start;
    for i in 0..270 {
        last = start + i * 10_000;
        r.clock.set(Timestamp(last));
        r.engine.step(bot).unwrap();
    }
    let snaps = r.store.snapshot_values(bot, None).unwrap();
    let created_at = snaps.iter().filter(|s| s.time.0 < start).count();
    assert_eq!(snaps.len() - created_at, 3, "{:?}", snaps.iter().map(|s| s.time.0 - start).collect::<Vec<_>>());
    assert_eq!(snaps.last().unwrap().time.0, last, "the latest is the last step's");
    // Then a step a bar (4h): a row each.
    for k in 1..=5 {
        r.clock.set(Timestamp(last + k * Interval::H4.millis()));
        r.engine.step(bot).unwrap();
    }
    assert_eq!(r.store.snapshot_values(bot, None).unwrap().len(), snaps.len() + 5);
    assert_ledger_matches_venue(&r, bot);
}

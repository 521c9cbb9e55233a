//! One step policy: the engine with the paper venue and the backtester's exchange mode
//! run a matrix of configurations (threshold and calendar, absolute and relative, band
//! edge, cooldown, minimum drift, entry prices, stop-loss, take-profit, an investment
//! and an edit mid-way) and must make the same trades at the same prices and end at
//! the same value to the cent.

mod common;

use std::sync::Arc;

use common::*;

use ballast_backtest::Interval;
use ballast_backtest::backtest::{self, Change, ExchangeOptions, Prepared, Rebalance, SimMode, Strategy, WeightSpec};
use ballast_core::guards::Guards;
use ballast_core::planner::RebalanceTo;
use ballast_core::trigger::{Threshold, Trigger};
use ballast_core::weighting::{self, Method};
use ballast_core::{Asset, Bps, DriftKind, Price, Qty, Span, TargetLimits, TargetWeights, Timestamp};
use ballast_engine::{BotSpec, Engine};
use ballast_exchange::paper::{PaperConfig, PaperExchange};
use ballast_exchange::{Clock, ManualClock};
use ballast_store::Store;
use ballast_store::sqlite::SqliteStore;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal_macros::dec;

struct Case {
    name: &'static str,
    start: &'static str,
    end: &'static str,
    rebalance: Rebalance,
    cooldown: Option<Span>,
    min_drift: Option<Threshold>,
    to: RebalanceTo,
    guards: Guards,
    changes: Vec<(usize, Change)>,
}

fn abs(p: Decimal) -> Threshold {
    Threshold::new(p, DriftKind::Absolute).unwrap()
}

fn base(name: &'static str, rebalance: Rebalance) -> Case {
    Case {
        name,
        start: "2024-01-01",
        end: "2024-06-30",
        rebalance,
        cooldown: None,
        min_drift: None,
        to: RebalanceTo::Target,
        guards: Guards::default(),
        changes: vec![],
    }
}

fn trigger_of(c: &Case) -> Trigger {
    match c.rebalance {
        Rebalance::Threshold { percent, kind } => {
            Trigger::threshold(Threshold::new(percent, kind).unwrap(), c.cooldown).unwrap()
        }
        Rebalance::Calendar { every } => Trigger::calendar(every, c.min_drift).unwrap(),
        Rebalance::Hodl => unreachable!(),
    }
}

fn three() -> TargetWeights {
    let coins: Vec<Asset> = assets().into_iter().filter(|a| a.as_str() != "BNB").collect();
    let w = weighting::equal(&coins).unwrap();
    let entries: Vec<(Asset, Decimal)> = w.into_iter().collect();
    TargetWeights::from_fractions(&usdt(), &entries, TargetLimits { min_assets: 1, max_assets: 12 }).unwrap()
}

fn cases() -> Vec<Case> {
    let th3 = Rebalance::Threshold { percent: dec!(3), kind: DriftKind::Absolute };
    let weekly = Rebalance::Calendar { every: Span::days(7) };
    let entry =
        |a: &str, p: Decimal| Guards { entry_prices: [(Asset::new(a).unwrap(), Price(p))].into(), ..Guards::default() };
    vec![
        base("threshold 3 points", th3),
        base("threshold 20% relative", Rebalance::Threshold { percent: dec!(20), kind: DriftKind::Relative }),
        Case { to: RebalanceTo::BandEdge { band: abs(dec!(3)) }, ..base("threshold 3, band edge", th3) },
        Case {
            cooldown: Some(Span::days(3)),
            ..base("threshold 2, cooldown 3d", Rebalance::Threshold { percent: dec!(2), kind: DriftKind::Absolute })
        },
        base("calendar 7d", weekly),
        Case { min_drift: Some(abs(dec!(2))), ..base("calendar 7d, min drift 2", weekly) },
        Case { guards: entry("ETH", dec!(2200)), ..base("entry price ETH 2200", th3) },
        Case {
            guards: Guards { take_profit_percent: Some(dec!(30)), ..Guards::default() },
            ..base("take-profit 30", th3)
        },
        Case {
            start: "2024-03-10",
            end: "2024-09-30",
            guards: Guards { stop_loss_percent: Some(dec!(12)), ..Guards::default() },
            ..base("stop-loss 12", th3)
        },
        Case {
            changes: vec![
                (300, Change::Invest(dec!(500))),
                (600, Change::Edit { targets: three(), trigger: Trigger::threshold(abs(dec!(5)), None).unwrap() }),
            ],
            ..base("invest, then an edit removing BNB", th3)
        },
    ]
}

#[test]
fn engine_and_backtester_make_the_same_trades_across_the_matrix() {
    for c in cases() {
        let w = world(c.start, c.end);
        let prep = Prepared::new(w.data.clone(), Some(w.data.times[w.first])).unwrap();
        let opts = ExchangeOptions {
            rules: rules(),
            guards: c.guards.clone(),
            to: c.to,
            cooldown: c.cooldown,
            min_drift: c.min_drift,
            changes: c.changes.clone(),
            ..ExchangeOptions::default()
        };
        let strategy = Strategy {
            weights: WeightSpec::Equal,
            rebalance: c.rebalance,
            fee_bps: dec!(10),
            initial: dec!(1000),
            mode: SimMode::Exchange(Box::new(opts)),
        };
        let bt = backtest::run(&prep, &strategy, true).unwrap();

        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(Timestamp(w.data.times[w.first].0 + Interval::H4.millis())));
        let config =
            PaperConfig { name: "paper".into(), fee_bps: dec!(10), slippage_bps: Decimal::ZERO, rules: rules() };
        let paper = Arc::new(
            PaperExchange::open(&dir.path().join("paper.sqlite"), config, replay(&w), clock.clone() as Arc<dyn Clock>)
                .unwrap(),
        );
        let store = Arc::new(SqliteStore::open(&dir.path().join("ballast.sqlite")).unwrap());
        let engine = Engine::new(store.clone(), paper.clone(), clock.clone());
        paper.deposit(&usdt(), Qty(dec!(1000))).unwrap();
        let spec = BotSpec {
            quote: usdt(),
            assets: assets(),
            method: Method::Equal,
            weights: weighting::equal(&assets()).unwrap(),
            trigger: trigger_of(&c),
            to: c.to,
            guards: c.guards.clone(),
            fee: Bps(dec!(10)),
            reestimate: None,
            execution: Default::default(),
        };
        let bot = engine.create(c.name, spec.clone(), "", dec!(1000)).unwrap();
        let mut stopped_at = None;
        for (bar, t) in w.data.times[w.first..].iter().enumerate() {
            clock.set(Timestamp(t.0 + Interval::H4.millis()));
            if engine.step(bot).unwrap() != ballast_engine::StepOutcome::Inactive
                && store.bot(bot).unwrap().unwrap().status == ballast_store::BotStatus::Stopped
            {
                stopped_at.get_or_insert(bar);
            }
            for (_, change) in c.changes.iter().filter(|(b, _)| *b == bar) {
                match change {
                    Change::Invest(amount) => {
                        paper.deposit(&usdt(), Qty(*amount)).unwrap();
                        engine.invest(bot, &[(usdt(), Qty(*amount))].into()).unwrap();
                    }
                    Change::Edit { targets, trigger } => {
                        let kept: Vec<Asset> = targets.assets().cloned().collect();
                        let weights = targets.iter().map(|(a, w)| (a.clone(), w.0)).collect();
                        let edited = BotSpec { assets: kept, weights, trigger: *trigger, ..spec.clone() };
                        engine.edit(bot, edited, "").unwrap();
                    }
                }
                engine.step(bot).unwrap();
            }
        }
        let engine_trades = fill_trades(&*store, bot);
        let bt_trades: Vec<Trade> = bt
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
            .collect();
        eprintln!("{}: {} trades, stopped at {stopped_at:?}", c.name, engine_trades.len());
        assert!(engine_trades.len() > 4, "{}: {} trades", c.name, engine_trades.len());
        assert_eq!(engine_trades, bt_trades, "{}: the same trades, in order, at the same prices", c.name);
        // The same value to the cent: at the end, or where a guard stopped the bot.
        let snaps = store.snapshots(bot, 1_000_000).unwrap();
        let (engine_value, bt_value) = match stopped_at {
            Some(bar) => (snaps.last().unwrap().value.0, bt.values[bar]),
            None => (snaps.last().unwrap().value.0, *bt.values.last().unwrap()),
        };
        let engine_value = engine_value.to_f64().unwrap();
        assert!((engine_value - bt_value).abs() < 0.01, "{}: engine {engine_value} backtest {bt_value}", c.name);
        assert_eq!(
            stopped_at.is_some(),
            bt.notes.iter().any(|n| n.starts_with("guard")),
            "{}: both stop, or neither",
            c.name
        );
    }
}

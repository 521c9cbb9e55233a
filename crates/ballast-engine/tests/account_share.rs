//! What of the account a bot may claim: an investment or a new bot takes only what no
//! bot holds, counting what resting orders lock (a bot's ledger still holds it) and
//! the coins of other bots as well as their quote.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::sync::Arc;

use ballast_core::execution::{Execution, OrderStyle};
use ballast_core::{Asset, Qty, Span, Timestamp};
use ballast_engine::{BotSpec, Engine, EngineError, StepOutcome};
use ballast_exchange::paper::{PaperConfig, PaperExchange};
use ballast_exchange::{Clock, Exchange, ManualClock};
use ballast_store::sqlite::SqliteStore;
use rust_decimal_macros::dec;

fn spec(execution: Execution) -> BotSpec {
    equal_spec(&["BTC", "ETH"], dec!(5), execution)
}

fn venue() -> (Arc<PaperExchange>, Engine) {
    let clock = Arc::new(ManualClock::new(Timestamp(1_700_000_000_000)));
    let prices = btc_eth_prices();
    let paper = PaperExchange::in_memory(PaperConfig::default(), prices, clock.clone() as Arc<dyn Clock>)
        .unwrap()
        .with_spread_bps(dec!(10));
    let paper = Arc::new(paper);
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let engine = Engine::new(store, paper.clone(), clock.clone());
    clock.advance(Span::from_secs(1));
    (paper, engine)
}

fn refused(r: Result<(), EngineError>) -> String {
    match r {
        Err(EngineError::Refused(why)) => why,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Before, an investment of coins counted only its own bot's holdings against the
/// account's: a bot could claim another bot's BTC as its investment.
#[test]
fn a_bot_cannot_invest_another_bots_coins() {
    let (paper, engine) = venue();
    paper.deposit(&a("USDT"), Qty(dec!(2000))).unwrap();
    let one = engine.create("one", spec(Execution::default()), "", dec!(1000)).unwrap();
    let two = engine.create("two", spec(Execution::default()), "", dec!(1000)).unwrap();
    for bot in [one, two] {
        assert!(matches!(engine.step(bot).unwrap(), StepOutcome::Rebalanced { .. }));
    }
    let btc: BTreeMap<Asset, Qty> = [(a("BTC"), Qty(dec!(0.001)))].into();
    let why = refused(engine.invest(one, &btc));
    assert!(why.contains("does not hold 0.001 BTC beyond what the bots already use"), "{why}");
    // Deposited, it is the bot's to invest.
    paper.deposit(&a("BTC"), Qty(dec!(0.001))).unwrap();
    engine.invest(one, &btc).unwrap();
    // And no other bot's any more.
    assert!(refused(engine.invest(two, &btc)).contains("0.001 BTC"));
}

/// Before, the check counted only the free balance against the bots' ledgers: while a
/// maker-first bot's buys rested (their quote locked, still in its ledger), a deposit
/// could be neither invested nor given to a new bot.
#[test]
fn quote_locked_by_resting_orders_is_not_counted_twice() {
    let (paper, engine) = venue();
    paper.deposit(&a("USDT"), Qty(dec!(1000))).unwrap();
    let maker = Execution {
        style: OrderStyle::MakerFirst { reprice: Span::minutes(1), deadline: Span::minutes(30) },
        ..Execution::default()
    };
    let one = engine.create("maker", spec(maker), "", dec!(1000)).unwrap();
    assert!(matches!(engine.step(one).unwrap(), StepOutcome::Rebalanced { orders: 2 }));
    let locked = paper.balances().unwrap()[&a("USDT")].locked.0;
    assert!(locked > dec!(900), "the buys rest: {locked} USDT locked");
    paper.deposit(&a("USDT"), Qty(dec!(300))).unwrap();
    let usdt: BTreeMap<Asset, Qty> = [(a("USDT"), Qty(dec!(100)))].into();
    engine.invest(one, &usdt).unwrap();
    engine.create("second", spec(Execution::default()), "", dec!(200)).unwrap();
    // What is left is nobody's: 1,300 in the account, 1,100 + 200 held by the bots.
    let why = refused(engine.invest(one, &usdt));
    assert!(why.contains("100 USDT"), "{why}");
    let err = engine.create("third", spec(Execution::default()), "", dec!(100)).unwrap_err();
    assert!(err.to_string().contains("not enough for 100 USDT"), "{err}");
}

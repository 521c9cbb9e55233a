//! Maker-first execution against the paper venue's book: each leg rests as a post-only
//! order at the touch, is re-priced after the interval under a new deterministic id,
//! is finished at market after the deadline, and a restart (or a lost reply) in the
//! middle never sends an order twice; the ledger equals the venue.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use ballast_core::execution::{Execution, OrderStyle};
use ballast_core::planner::{RulesBook, Side};
use ballast_core::{Asset, Price, Prices, Qty, Span, SymbolRules, Timestamp};
use ballast_engine::{BotSpec, BotState, Engine, StepOutcome, StopMode};
use ballast_exchange::paper::{FixedPrices, PaperConfig, PaperExchange};
use ballast_exchange::{
    Balance, ClientOrderId, Clock, DustConversion, Exchange, ExchangeError, ManualClock, OrderKind, OrderReport,
    OrderRequest, OrderStatus, Touch,
};
use ballast_store::sqlite::SqliteStore;
use ballast_store::{OrderState, Store};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

/// The paper venue, counting placements per client id, and able to lose the next
/// reply after the order was placed.
struct Counted {
    inner: Arc<PaperExchange>,
    placed: std::sync::Mutex<BTreeMap<String, usize>>,
    lose_reply: AtomicBool,
    cancels: AtomicUsize,
}

impl Exchange for Counted {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn order_window_ms(&self) -> i64 {
        self.inner.order_window_ms()
    }
    fn clock_allowance_ms(&self) -> i64 {
        self.inner.clock_allowance_ms()
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
    fn best_bid_ask(&self, base: &Asset, quote: &Asset) -> Result<Touch, ExchangeError> {
        self.inner.best_bid_ask(base, quote)
    }
    fn convert_dust(&self, assets: &[Asset], quote: &Asset) -> Result<DustConversion, ExchangeError> {
        self.inner.convert_dust(assets, quote)
    }
    fn place(&self, order: &OrderRequest) -> Result<OrderReport, ExchangeError> {
        *self.placed.lock().unwrap().entry(order.client_id.to_string()).or_default() += 1;
        let r = self.inner.place(order)?;
        if self.lose_reply.swap(false, Ordering::SeqCst) {
            return Err(ExchangeError::OutcomeUnknown("connection reset after the order was placed".into()));
        }
        Ok(r)
    }
    fn query(&self, id: &ClientOrderId, base: &Asset, quote: &Asset) -> Result<Option<OrderReport>, ExchangeError> {
        self.inner.query(id, base, quote)
    }
    fn open_orders(&self, base: &Asset, quote: &Asset) -> Result<Vec<OrderReport>, ExchangeError> {
        self.inner.open_orders(base, quote)
    }
    fn cancel(&self, id: &ClientOrderId, base: &Asset, quote: &Asset) -> Result<OrderReport, ExchangeError> {
        self.cancels.fetch_add(1, Ordering::SeqCst);
        self.inner.cancel(id, base, quote)
    }
}

struct Rig {
    dir: tempfile::TempDir,
    prices: Arc<FixedPrices>,
    clock: Arc<ManualClock>,
    paper: Arc<PaperExchange>,
    venue: Arc<Counted>,
    store: Arc<SqliteStore>,
    engine: Engine,
    bot: i64,
}

fn rules() -> RulesBook {
    let r = SymbolRules { tick: dec!(0.01), step: dec!(0.0001), min_qty: dec!(0.0001), min_notional: dec!(5) };
    RulesBook { default: r, per_asset: BTreeMap::new() }
}

fn open_paper(path: &Path, prices: &Arc<FixedPrices>, clock: &Arc<ManualClock>) -> Arc<PaperExchange> {
    let config = PaperConfig { name: "paper".into(), fee_bps: dec!(10), slippage_bps: Decimal::ZERO, rules: rules() };
    Arc::new(
        PaperExchange::open(path, config, prices.clone(), clock.clone() as Arc<dyn Clock>)
            .unwrap()
            .with_spread_bps(dec!(10)),
    )
}

fn counted(paper: &Arc<PaperExchange>) -> Arc<Counted> {
    Arc::new(Counted {
        inner: paper.clone(),
        placed: Default::default(),
        lose_reply: AtomicBool::new(false),
        cancels: AtomicUsize::new(0),
    })
}

fn spec(execution: Execution) -> BotSpec {
    equal_spec(&["BTC", "ETH"], dec!(3), execution)
}

fn maker() -> Execution {
    Execution {
        style: OrderStyle::MakerFirst { reprice: Span::minutes(1), deadline: Span::minutes(5) },
        ..Execution::default()
    }
}

fn rig(execution: Execution) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(Timestamp(T0)));
    let prices = btc_eth_prices();
    let paper = open_paper(&dir.path().join("paper.sqlite"), &prices, &clock);
    paper.deposit(&a("USDT"), Qty(dec!(1000))).unwrap();
    let venue = counted(&paper);
    let store = Arc::new(SqliteStore::open(&dir.path().join("ballast.sqlite")).unwrap());
    let engine = Engine::new(store.clone(), venue.clone(), clock.clone());
    let bot = engine.create("maker", spec(execution), "", dec!(1000)).unwrap();
    Rig { dir, prices, clock, paper, venue, store, engine, bot }
}

impl Rig {
    /// A new process: the stores opened again from their files, a new engine.
    fn restart(&mut self) {
        self.paper = open_paper(&self.dir.path().join("paper.sqlite"), &self.prices, &self.clock);
        self.venue = counted(&self.paper);
        self.store = Arc::new(SqliteStore::open(&self.dir.path().join("ballast.sqlite")).unwrap());
        self.engine = Engine::new(self.store.clone(), self.venue.clone(), self.clock.clone());
    }

    fn orders(&self) -> Vec<(String, OrderState, OrderKind, Decimal)> {
        let mut o: Vec<_> = self
            .store
            .orders(self.bot, 100)
            .unwrap()
            .into_iter()
            .map(|o| (o.intent.client_id.to_string(), o.state, o.intent.kind, o.filled.0))
            .collect();
        o.sort_by(|x, y| x.0.cmp(&y.0));
        o
    }

    fn state(&self) -> BotState {
        serde_json::from_str(&self.store.load_state(self.bot).unwrap().unwrap()).unwrap()
    }

    fn set(&self, base: &str, price: Decimal) {
        self.prices.set(&a(base), &a("USDT"), Price(price));
    }

    fn step(&self) -> StepOutcome {
        self.engine.step(self.bot).unwrap()
    }

    fn tag(&self) -> String {
        self.store.order_tag().unwrap().to_string()
    }

    /// Every promise about money: the ledger equals the venue (one bot owns the
    /// account), the running ledger equals the records, no order is open at the venue
    /// that the store thinks final.
    fn check_books(&self) {
        assert!(self.engine.audit(self.bot).unwrap().is_empty(), "running ledger = records");
        let held = self.engine.holdings(self.bot).unwrap();
        let venue = self.paper.balances().unwrap();
        for (asset, b) in &venue {
            let h = held.get(asset).copied().unwrap_or_default();
            assert_eq!(h.0, b.total().0, "{asset}: ledger {h} vs venue {}", b.total());
        }
        for (asset, q) in &held {
            assert_eq!(venue.get(asset).map(|b| b.total().0).unwrap_or_default(), q.0, "{asset}");
        }
    }
}

#[test]
fn a_maker_leg_rests_is_repriced_under_a_new_id_and_finishes_at_market() {
    let r = rig(maker());
    let tag = r.tag();
    // The first buy: two post-only buys at the bid (last less 5 bps, to the tick).
    assert_eq!(r.step(), StepOutcome::Rebalanced { orders: 2 });
    let o = r.orders();
    assert_eq!(o.len(), 2);
    assert_eq!(o[0].0, format!("{tag}1-1-0"));
    assert_eq!(o[0].2, OrderKind::PostOnly { price: Price(dec!(49975)) });
    assert_eq!(o[1].2, OrderKind::PostOnly { price: Price(dec!(2498.75)) });
    assert!(o.iter().all(|x| x.1 == OrderState::New));
    assert!(r.state().working.is_some());
    // 30 s later, nothing has traded through: the step sends nothing, cancels nothing.
    r.clock.advance(Span::from_secs(30));
    assert_eq!(r.step(), StepOutcome::Held);
    assert_eq!(r.venue.cancels.load(Ordering::SeqCst), 0);
    // BTC trades through its bid: filled as a maker at its limit.
    r.set("BTC", dec!(49970));
    r.clock.advance(Span::from_secs(10));
    assert_eq!(r.step(), StepOutcome::Held);
    assert_eq!(r.orders()[0].1, OrderState::Filled);
    // ETH has rested a minute: cancelled, then attempt 1 at the new touch.
    r.set("ETH", dec!(2510));
    r.clock.advance(Span::from_secs(20));
    assert_eq!(r.step(), StepOutcome::Rebalanced { orders: 1 });
    let o = r.orders();
    assert_eq!(o.len(), 3);
    assert_eq!((o[1].0.as_str(), o[1].1), (format!("{tag}1-1-1").as_str(), OrderState::Canceled));
    assert_eq!(o[2].0, format!("{tag}1-1-1r1"));
    assert_eq!(o[2].2, OrderKind::PostOnly { price: Price(dec!(2508.74)) });
    // Filled in part while it rests; the deadline passes: what is left is cancelled
    // and bought at market (attempt 2), for exactly what is left.
    let part = Qty(dec!(0.05));
    let ethid = ClientOrderId::new(&o[2].0).unwrap();
    r.paper.fill_part(&ethid, &a("ETH"), &a("USDT"), part).unwrap();
    r.clock.set(Timestamp(T0 + 300_000));
    assert_eq!(r.step(), StepOutcome::Rebalanced { orders: 1 });
    let o = r.orders();
    assert_eq!(o.len(), 4);
    assert_eq!((o[2].1, o[2].3), (OrderState::Canceled, dec!(0.05)));
    assert_eq!(o[3].0, format!("{tag}1-1-1r2"));
    assert_eq!((o[3].1, o[3].2), (OrderState::Filled, OrderKind::Market));
    let eth_total: Decimal = o[1..].iter().map(|x| x.3).sum();
    let planned = r
        .store
        .orders(r.bot, 100)
        .unwrap()
        .into_iter()
        .find(|x| x.intent.client_id.as_str() == o[1].0)
        .unwrap()
        .intent
        .qty;
    // ETH rose 0.4 % since the plan: the bot's quote no longer covers the whole
    // planned quantity at market (with its 1 % margin), so the last attempt buys what
    // the quote covers, never more; the rest is named when the work ends.
    assert!(eth_total <= planned.0 && eth_total > planned.0 * dec!(0.99), "{eth_total} of {planned}");
    assert!(r.engine.holdings(r.bot).unwrap()[&a("USDT")].0 >= Decimal::ZERO);
    // The next step sees every leg done: the work is over, an event says what was
    // maker and taker; nothing is open.
    assert!(r.state().working.is_some());
    r.clock.advance(Span::from_secs(1));
    assert_eq!(r.step(), StepOutcome::Held);
    assert!(r.state().working.is_none());
    let done = r.store.events(r.bot, 50).unwrap().into_iter().find(|e| e.kind == "rebalance_done").unwrap();
    assert!(done.message.contains("USDT traded as maker"), "{}", done.message);
    assert!(r.paper.open_orders(&a("ETH"), &a("USDT")).unwrap().is_empty());
    assert!(r.venue.placed.lock().unwrap().values().all(|n| *n == 1), "no client id sent twice");
    r.check_books();
    // The next step decides again (the portfolio is on target: it holds).
    r.clock.advance(Span::from_secs(60));
    assert_eq!(r.step(), StepOutcome::Held);
}

#[test]
fn a_rebalance_sells_first_as_makers_then_buys() {
    let r = rig(maker());
    r.step();
    r.set("BTC", dec!(49900));
    r.set("ETH", dec!(2490));
    r.clock.advance(Span::from_secs(10));
    r.step();
    assert!(r.state().working.is_none(), "the first buy filled as makers");
    // BTC doubles: sell BTC, buy ETH.
    r.set("BTC", dec!(100000));
    r.clock.advance(Span::from_secs(10));
    assert_eq!(r.step(), StepOutcome::Rebalanced { orders: 1 });
    let open = r.store.unresolved(r.bot).unwrap();
    assert_eq!(open.len(), 1, "only the sell rests; the buy waits for its quote");
    assert_eq!(open[0].intent.kind, OrderKind::PostOnly { price: Price(dec!(100050)) });
    // The sell is taken; the buy follows at the ETH bid.
    r.set("BTC", dec!(100060));
    r.clock.advance(Span::from_secs(10));
    assert_eq!(r.step(), StepOutcome::Rebalanced { orders: 1 });
    let open = r.store.unresolved(r.bot).unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(
        (open[0].intent.base.as_str(), open[0].intent.kind),
        ("ETH", OrderKind::PostOnly { price: Price(dec!(2488.75)) })
    );
    r.set("ETH", dec!(2480));
    r.clock.advance(Span::from_secs(10));
    r.step();
    assert!(r.state().working.is_none());
    r.check_books();
}

#[test]
fn a_restart_or_a_lost_reply_while_orders_rest_never_sends_twice() {
    let mut r = rig(maker());
    // The reply to the first leg is lost after the venue placed it: queried, not resent.
    r.venue.lose_reply.store(true, Ordering::SeqCst);
    r.step();
    let o = r.orders();
    assert_eq!(o.len(), 2);
    assert_eq!(o[0].1, OrderState::New, "the lost reply was answered by a query: it rests");
    // A restart while both rest: the new process reconciles and goes on working them.
    r.restart();
    r.clock.advance(Span::from_secs(61));
    r.set("ETH", dec!(2520));
    assert_eq!(r.step(), StepOutcome::Rebalanced { orders: 2 });
    let o = r.orders();
    assert_eq!(o.len(), 4, "each leg re-priced once: {o:?}");
    // A restart right after a cancel was recorded but before the next attempt was
    // written cannot be staged from outside; a restart after the attempt was written
    // and before it was sent is: the intent is durable, the venue does not know it.
    r.restart();
    r.clock.set(Timestamp(T0 + 400_000));
    r.step();
    r.restart();
    r.clock.advance(Span::from_secs(1));
    r.step();
    assert!(r.state().working.is_none(), "finished at market after the deadline");
    let mut all: BTreeMap<String, usize> = BTreeMap::new();
    for o in r.store.orders(r.bot, 100).unwrap() {
        *all.entry(o.intent.client_id.to_string()).or_default() += 1;
        let venue = r.paper.query(&o.intent.client_id, &o.intent.base, &o.intent.quote).unwrap();
        if let Some(v) = venue {
            assert!(v.status.is_final(), "{} still open at the venue", o.intent.client_id);
            assert_eq!(v.filled, o.filled, "{}", o.intent.client_id);
        }
    }
    assert!(all.values().all(|n| *n == 1));
    r.check_books();
}

#[test]
fn an_intent_written_but_never_sent_is_resolved_before_the_next_attempt() {
    let r = rig(maker());
    r.step();
    // Simulate the crash between writing attempt 1 and sending it: write it as the
    // engine would (the venue never sees it) by making the venue drop the order.
    struct Drop(Arc<Counted>);
    impl Exchange for Drop {
        fn name(&self) -> &str {
            self.0.name()
        }
        fn order_window_ms(&self) -> i64 {
            0
        }
        fn clock_allowance_ms(&self) -> i64 {
            0
        }
        fn rules(&self, b: &Asset, q: &Asset) -> Result<SymbolRules, ExchangeError> {
            self.0.rules(b, q)
        }
        fn balances(&self) -> Result<BTreeMap<Asset, Balance>, ExchangeError> {
            self.0.balances()
        }
        fn prices(&self, b: &[Asset], q: &Asset) -> Result<Prices, ExchangeError> {
            self.0.prices(b, q)
        }
        fn best_bid_ask(&self, b: &Asset, q: &Asset) -> Result<Touch, ExchangeError> {
            self.0.best_bid_ask(b, q)
        }
        fn place(&self, _: &OrderRequest) -> Result<OrderReport, ExchangeError> {
            Err(ExchangeError::OutcomeUnknown("the process died before the request left".into()))
        }
        fn query(&self, id: &ClientOrderId, b: &Asset, q: &Asset) -> Result<Option<OrderReport>, ExchangeError> {
            self.0.query(id, b, q)
        }
        fn open_orders(&self, b: &Asset, q: &Asset) -> Result<Vec<OrderReport>, ExchangeError> {
            self.0.open_orders(b, q)
        }
        fn cancel(&self, id: &ClientOrderId, b: &Asset, q: &Asset) -> Result<OrderReport, ExchangeError> {
            self.0.cancel(id, b, q)
        }
    }
    let dropping = Engine::new(r.store.clone(), Arc::new(Drop(r.venue.clone())), r.clock.clone());
    r.clock.advance(Span::from_secs(61));
    dropping.step(r.bot).unwrap();
    let tag = r.tag();
    let o = r.orders();
    let r1: Vec<_> = o.iter().filter(|x| x.0.ends_with("r1")).collect();
    assert_eq!(r1.len(), 2, "{o:?}");
    // The venue never knew them; the paper venue's window is 0, so the next step
    // decides they were not sent, and places attempt 2 (never attempt 1 again).
    r.clock.advance(Span::from_secs(1));
    r.step();
    let o = r.orders();
    assert!(o.iter().filter(|x| x.0.ends_with("r1")).all(|x| x.1 == OrderState::NotSent), "{o:?}");
    assert!(o.iter().any(|x| x.0 == format!("{tag}1-1-0r2")), "{o:?}");
    assert!(r.venue.placed.lock().unwrap().keys().all(|k| !k.ends_with("r1")), "attempt 1 never reached the venue");
    r.check_books();
}

#[test]
fn a_stop_cancels_the_resting_orders_then_liquidates() {
    let r = rig(maker());
    r.step();
    r.set("BTC", dec!(49900));
    r.clock.advance(Span::from_secs(10));
    r.step();
    // BTC bought, ETH still resting.
    assert!(r.state().working.is_some());
    let summary = r.engine.stop(r.bot, StopMode::ToQuote).unwrap();
    assert!(summary.returned.keys().all(|k| k.as_str() == "USDT"), "{summary:?}");
    assert!(r.paper.open_orders(&a("ETH"), &a("USDT")).unwrap().is_empty());
    let eth = r.store.orders(r.bot, 100).unwrap().into_iter().find(|o| o.intent.base.as_str() == "ETH").unwrap();
    assert_eq!(eth.state, OrderState::Canceled);
    let usdt = r.paper.balances().unwrap()[&a("USDT")];
    assert_eq!(usdt.total().0, summary.returned[&a("USDT")].0);
    assert!(matches!(
        r.paper.query(&eth.intent.client_id, &a("ETH"), &a("USDT")).unwrap().unwrap().status,
        OrderStatus::Canceled
    ));
}

/// A change previewed while the first buy still rests waits for it, and says so: the
/// plan assumes the resting buys filled, so it shows only what the change adds (not
/// the whole first buy again, as before), and the investment is rebalanced in once the
/// work is done.
#[test]
fn a_change_previewed_while_orders_rest_says_it_waits_and_shows_only_its_own_trades() {
    let r = rig(maker());
    assert_eq!(r.step(), StepOutcome::Rebalanced { orders: 2 });
    assert!(r.state().working.is_some());
    r.paper.deposit(&a("USDT"), Qty(dec!(100))).unwrap();
    let add: BTreeMap<Asset, Qty> = [(a("USDT"), Qty(dec!(100)))].into();
    let preview = r.engine.preview_change(r.bot, &add, None).unwrap();
    let after = preview.after.as_deref().expect("the preview says the change waits");
    assert!(after.contains("rebalance 1 is still being worked") && after.contains("2 leg(s) left"), "{after}");
    let bought: Decimal = preview.plan.legs.iter().filter(|l| l.side == Side::Buy).map(|l| l.notional.0).sum();
    assert!(bought > dec!(80) && bought < dec!(101), "only the 100 USDT invested is planned: {:?}", preview.plan.legs);
    // Invested: nothing new is sent while the first buy rests.
    r.engine.invest(r.bot, &add).unwrap();
    r.clock.advance(Span::from_secs(10));
    assert_eq!(r.step(), StepOutcome::Held);
    assert_eq!(r.orders().len(), 2);
    // Both fill; the next step plans the investment.
    r.set("BTC", dec!(49970));
    r.set("ETH", dec!(2498));
    r.clock.advance(Span::from_secs(10));
    r.step();
    assert!(r.state().working.is_none(), "the first buy is done");
    assert!(matches!(r.step(), StepOutcome::Rebalanced { .. }), "the investment is rebalanced in");
    r.check_books();
}

#[test]
fn taker_stays_the_default_and_sends_market_orders() {
    let r = rig(Execution::default());
    assert_eq!(r.step(), StepOutcome::Rebalanced { orders: 2 });
    assert!(r.orders().iter().all(|o| o.2 == OrderKind::Market && o.1 == OrderState::Filled));
    assert!(r.state().working.is_none());
    r.check_books();
}

#[test]
fn dust_is_what_the_venue_would_refuse_to_sell_with_its_value() {
    let r = rig(Execution::default());
    r.step();
    assert!(r.engine.dust(r.bot).unwrap().is_empty(), "after the first buy every holding is sellable");
    // The bot sells almost all of its ETH outside a rebalance: 0.0015 ETH is left,
    // 3.75 USDT at 2500, below the 5 USDT minimum.
    let eth = r.engine.holdings(r.bot).unwrap()[&a("ETH")];
    let keep = dec!(0.0015);
    let req = OrderRequest {
        client_id: ClientOrderId::new("manual-1").unwrap(),
        base: a("ETH"),
        quote: a("USDT"),
        side: ballast_core::planner::Side::Sell,
        qty: Qty(eth.0 - keep),
        kind: OrderKind::Market,
        expires_at: None,
    };
    r.paper.place(&req).unwrap();
    // (The store's ledger is the bot's: the test removes the ETH through a cash flow.)
    let now = r.clock.now();
    r.store
        .record_cash_flow(&ballast_store::CashFlow {
            bot: r.bot,
            time: now,
            asset: a("ETH"),
            qty: Qty(keep - eth.0),
            value: ballast_core::Notional(Decimal::ZERO),
            note: "test".into(),
        })
        .unwrap();
    let dust = r.engine.dust(r.bot).unwrap();
    assert_eq!(dust.len(), 1);
    assert_eq!((dust[0].asset.as_str(), dust[0].qty.0, dust[0].value.0), ("ETH", keep, dec!(3.75)));
    assert!(dust[0].rule.contains("5"), "{}", dust[0].rule);
}

#[test]
fn dust_is_swept_by_the_venues_conversion_and_the_ledger_follows() {
    let r = rig(Execution::default());
    r.step();
    // Leave 0.0015 ETH (3.75 USDT) in the account and the ledger, as in the test above.
    let eth = r.engine.holdings(r.bot).unwrap()[&a("ETH")];
    let keep = dec!(0.0015);
    let req = OrderRequest {
        client_id: ClientOrderId::new("manual-2").unwrap(),
        base: a("ETH"),
        quote: a("USDT"),
        side: ballast_core::planner::Side::Sell,
        qty: Qty(eth.0 - keep),
        kind: OrderKind::Market,
        expires_at: None,
    };
    r.paper.place(&req).unwrap();
    let now = r.clock.now();
    r.store
        .record_cash_flow(&ballast_store::CashFlow {
            bot: r.bot,
            time: now,
            asset: a("ETH"),
            qty: Qty(keep - eth.0),
            value: ballast_core::Notional(Decimal::ZERO),
            note: "test".into(),
        })
        .unwrap();
    let usdt_before = r.engine.holdings(r.bot).unwrap()[&a("USDT")].0;
    let venue_before = r.paper.balances().unwrap()[&a("USDT")].free.0;
    let invested = |r: &Rig| -> Decimal { r.store.cash_flows(r.bot).unwrap().iter().map(|f| f.value.0).sum() };
    let invested_before = invested(&r);
    let (conv, left_out) = r.engine.sweep_dust(r.bot).unwrap();
    assert!(left_out.is_empty(), "{left_out:?}");
    let conv = conv.unwrap();
    // The paper venue converts into the quote at the last price, less 2 %.
    assert_eq!(conv.converted, vec![(a("ETH"), Qty(keep), Qty(dec!(3.675)))]);
    let held = r.engine.holdings(r.bot).unwrap();
    assert!(!held.contains_key(&a("ETH")));
    assert_eq!(held[&a("USDT")].0 - usdt_before, dec!(3.675));
    assert_eq!(r.paper.balances().unwrap()[&a("USDT")].free.0 - venue_before, dec!(3.675));
    assert!(!r.paper.balances().unwrap().contains_key(&a("ETH")));
    assert_eq!(invested(&r), invested_before, "a conversion is neither a deposit nor a withdrawal");
    assert!(r.engine.audit(r.bot).unwrap().is_empty());
    assert!(r.engine.dust(r.bot).unwrap().is_empty());
    assert!(r.state().sweeping.is_none());
    // Nothing left to sweep: nothing asked of the venue.
    assert!(r.engine.sweep_dust(r.bot).unwrap().0.is_none());
}

//! What the engine makes of a venue's answers about its orders: a lost reply is
//! asked about until the venue can no longer accept the request (never given up
//! earlier, never resent), and an order under our client id that is not ours is
//! never taken for ours.

mod common;
use common::*;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ballast_core::planner::Side;
use ballast_core::{Asset, Price, Prices, Qty, Span, SymbolRules, Timestamp};
use ballast_engine::{Engine, StepOutcome};
use ballast_exchange::paper::{PaperConfig, PaperExchange};
use ballast_exchange::{
    Balance, ClientOrderId, Clock, Exchange, ExchangeError, ManualClock, OrderReport, OrderRequest,
};
use ballast_store::sqlite::SqliteStore;
use ballast_store::{OrderState, Store};
use rust_decimal_macros::dec;

const WINDOW: i64 = 30_000;
const ALLOWANCE: i64 = 10_000;

/// The paper venue behind a network that loses things.
struct Lossy {
    inner: Arc<PaperExchange>,
    /// Orders are executed, but the answer is lost.
    lose_replies: AtomicBool,
    /// Orders never arrive, and the sender cannot know.
    drop_orders: AtomicBool,
    /// Queries say "unknown" this many more times (a venue that shows an order late).
    hide: AtomicUsize,
    /// Queries answer this order instead (another's order under our client id).
    foreign: Mutex<Option<OrderReport>>,
    placed: AtomicUsize,
    /// Each answer to an order takes this long on this clock (a venue that answers
    /// slowly); an order whose deadline has passed is not sent, as the adapters do.
    slow: Mutex<Option<(Arc<ManualClock>, Span)>>,
}

impl Exchange for Lossy {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn order_window_ms(&self) -> i64 {
        WINDOW
    }
    fn clock_allowance_ms(&self) -> i64 {
        ALLOWANCE
    }
    fn rules(&self, base: &Asset, quote: &Asset) -> Result<SymbolRules, ExchangeError> {
        self.inner.rules(base, quote)
    }
    fn balances(&self) -> Result<std::collections::BTreeMap<Asset, Balance>, ExchangeError> {
        self.inner.balances()
    }
    fn prices(&self, bases: &[Asset], quote: &Asset) -> Result<Prices, ExchangeError> {
        self.inner.prices(bases, quote)
    }
    fn place(&self, order: &OrderRequest) -> Result<OrderReport, ExchangeError> {
        assert!(order.expires_at.is_some(), "every order carries its deadline");
        if let Some((clock, _)) = self.slow.lock().unwrap().as_ref()
            && order.expires_at.is_some_and(|t| clock.now().0 >= t.0)
        {
            return Err(ExchangeError::Unavailable(
                "the request's acceptance window ended 1 ms ago, before it could be sent".into(),
            ));
        }
        if self.drop_orders.load(Ordering::SeqCst) {
            return Err(ExchangeError::OutcomeUnknown("timeout".into()));
        }
        self.placed.fetch_add(1, Ordering::SeqCst);
        let r = self.inner.place(order)?;
        if let Some((clock, took)) = self.slow.lock().unwrap().as_ref() {
            clock.advance(*took);
        }
        if self.lose_replies.load(Ordering::SeqCst) {
            return Err(ExchangeError::OutcomeUnknown("connection reset".into()));
        }
        Ok(r)
    }
    fn query(&self, id: &ClientOrderId, base: &Asset, quote: &Asset) -> Result<Option<OrderReport>, ExchangeError> {
        if let Some(r) = self.foreign.lock().unwrap().clone() {
            return Ok(Some(OrderReport { client_id: id.clone(), ..r }));
        }
        if self.hide.load(Ordering::SeqCst) > 0 {
            self.hide.fetch_sub(1, Ordering::SeqCst);
            return Ok(None);
        }
        self.inner.query(id, base, quote)
    }
    fn open_orders(&self, base: &Asset, quote: &Asset) -> Result<Vec<OrderReport>, ExchangeError> {
        self.inner.open_orders(base, quote)
    }
    fn cancel(&self, id: &ClientOrderId, base: &Asset, quote: &Asset) -> Result<OrderReport, ExchangeError> {
        self.inner.cancel(id, base, quote)
    }
}

struct Rig {
    venue: Arc<Lossy>,
    store: Arc<SqliteStore>,
    clock: Arc<ManualClock>,
    engine: Engine,
    bot: i64,
}

fn rig() -> Rig {
    let clock = Arc::new(ManualClock::new(Timestamp(T0)));
    let prices = btc_eth_prices();
    let paper = PaperExchange::in_memory(PaperConfig::default(), prices, clock.clone() as Arc<dyn Clock>).unwrap();
    paper.deposit(&a("USDT"), Qty(dec!(1000))).unwrap();
    let venue = Arc::new(Lossy {
        inner: Arc::new(paper),
        lose_replies: AtomicBool::new(false),
        drop_orders: AtomicBool::new(false),
        hide: AtomicUsize::new(0),
        foreign: Mutex::new(None),
        placed: AtomicUsize::new(0),
        slow: Mutex::new(None),
    });
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let engine = Engine::new(store.clone(), venue.clone(), clock.clone());
    let spec = equal_spec(&["BTC", "ETH"], dec!(3), Default::default());
    let bot = engine.create("lossy", spec, "", dec!(1000)).unwrap();
    Rig { venue, store, clock, engine, bot }
}

fn states(r: &Rig) -> Vec<OrderState> {
    r.store.orders(r.bot, 100).unwrap().into_iter().map(|o| o.state).collect()
}

/// Before: the first "unknown to the venue" made the order `not_sent` for good, so a
/// venue that showed an accepted order a moment late lost its fill from the ledger,
/// and the next step bought the same again.
#[test]
fn an_order_the_venue_shows_late_is_not_given_up_before_its_deadline() {
    let r = rig();
    r.venue.lose_replies.store(true, Ordering::SeqCst);
    r.venue.hide.store(usize::MAX, Ordering::SeqCst);
    r.engine.step(r.bot).unwrap();
    assert_eq!(r.venue.placed.load(Ordering::SeqCst), 2, "the first buy: two orders, executed");
    assert_eq!(states(&r), [OrderState::Unknown, OrderState::Unknown]);
    r.venue.lose_replies.store(false, Ordering::SeqCst);
    // Within the window the venue still says "unknown": the orders stay unknown and
    // nothing else is planned or sent.
    for _ in 0..3 {
        r.clock.advance(Span::from_secs(5));
        assert_eq!(r.engine.step(r.bot).unwrap(), StepOutcome::Held);
    }
    assert_eq!(states(&r), [OrderState::Unknown, OrderState::Unknown]);
    assert_eq!(r.venue.placed.load(Ordering::SeqCst), 2, "nothing sent while the outcome is unknown");
    // The venue shows them: filled, every fill in the ledger once.
    r.venue.hide.store(0, Ordering::SeqCst);
    r.engine.step(r.bot).unwrap();
    assert_eq!(states(&r), [OrderState::Filled, OrderState::Filled]);
    let fills = r.store.fills(r.bot).unwrap();
    assert_eq!(fills.len(), 2);
    let h = r.engine.holdings(r.bot).unwrap();
    let venue = r.venue.balances().unwrap();
    for asset in ["BTC", "ETH", "USDT"] {
        assert_eq!(h[&a(asset)], venue[&a(asset)].total(), "{asset}: ledger = venue");
    }
}

/// An order that never arrived is decided `not_sent` once the venue can no longer
/// accept it (deadline plus clock allowance), and only then is the rebalance planned
/// afresh.
#[test]
fn an_order_that_never_arrived_is_not_sent_only_after_its_deadline() {
    let r = rig();
    r.venue.drop_orders.store(true, Ordering::SeqCst);
    r.engine.step(r.bot).unwrap();
    assert_eq!(states(&r), [OrderState::Unknown, OrderState::Unknown]);
    r.venue.drop_orders.store(false, Ordering::SeqCst);
    // (Span counts whole seconds.)
    r.clock.advance(Span::from_secs((WINDOW + ALLOWANCE) / 1000 - 1));
    assert_eq!(r.engine.step(r.bot).unwrap(), StepOutcome::Held);
    assert_eq!(states(&r), [OrderState::Unknown, OrderState::Unknown]);
    assert_eq!(r.venue.placed.load(Ordering::SeqCst), 0);
    r.clock.advance(Span::from_secs(1));
    let out = r.engine.step(r.bot).unwrap();
    let ev: Vec<_> = r.store.events(r.bot, 10).unwrap().into_iter().map(|e| (e.kind, e.message)).collect();
    assert!(matches!(out, StepOutcome::Rebalanced { orders: 2 }), "{out:?} {ev:?} {:?}", states(&r));
    let s = states(&r);
    assert_eq!(s.iter().filter(|s| **s == OrderState::NotSent).count(), 2, "{s:?}");
    assert_eq!(s.iter().filter(|s| **s == OrderState::Filled).count(), 2, "{s:?}");
}

/// A leg whose turn comes after its acceptance window (the venue took longer than the
/// window to answer the leg before it) is not sent, and the event says why in the
/// user's terms; the next step plans it again and sends it.
#[test]
fn a_leg_not_sent_because_the_one_before_was_slow_says_why() {
    let r = rig();
    *r.venue.slow.lock().unwrap() = Some((r.clock.clone(), Span::from_secs(WINDOW / 1000 + 1)));
    r.engine.step(r.bot).unwrap();
    assert_eq!(r.venue.placed.load(Ordering::SeqCst), 1, "the second buy came too late");
    let ev = r.store.events(r.bot, 10).unwrap();
    let late = ev.iter().find(|e| e.message.contains("not sent")).expect("an event for the leg not sent");
    assert!(late.message.contains("acceptance window ended"), "the venue's words: {}", late.message);
    assert!(
        late.message.contains(&format!("its turn came {} ms after the rebalance decided it", WINDOW + 1000))
            && late.message.contains(&format!("acceptance window of {WINDOW} ms"))
            && late.message.contains("next step plans again"),
        "why, in the user's terms: {}",
        late.message
    );
    // The next step buys what is still missing, once.
    *r.venue.slow.lock().unwrap() = None;
    assert!(matches!(r.engine.step(r.bot).unwrap(), StepOutcome::Rebalanced { orders: 1 }));
    assert_eq!(r.venue.placed.load(Ordering::SeqCst), 2);
}

/// Another installation's order under the same client id (a reset data directory, a
/// second installation on the account): not taken for ours, said in an event, its
/// fills never in our ledger.
#[test]
fn an_order_under_our_id_that_is_not_ours_is_left_alone() {
    let r = rig();
    r.venue.drop_orders.store(true, Ordering::SeqCst);
    let old = OrderReport {
        client_id: ClientOrderId::new("x").unwrap(),
        venue_id: "old-1".into(),
        base: a("BTC"),
        quote: a("USDT"),
        side: Side::Sell,
        qty: Qty(dec!(0.5)),
        status: ballast_exchange::OrderStatus::Filled,
        filled: Qty(dec!(0.5)),
        fills: vec![ballast_exchange::Fill {
            trade_id: "t-old".into(),
            qty: Qty(dec!(0.5)),
            price: Price(dec!(40000)),
            fee: Qty(dec!(0)),
            fee_asset: a("USDT"),
            time: Timestamp(T0 - 86_400_000),
        }],
        created: Some(Timestamp(T0 - 86_400_000)),
    };
    *r.venue.foreign.lock().unwrap() = Some(old);
    r.engine.step(r.bot).unwrap();
    assert_eq!(states(&r), [OrderState::Unknown, OrderState::Unknown]);
    let events = r.store.events(r.bot, 20).unwrap();
    let foreign: Vec<_> = events.iter().filter(|e| e.kind == "foreign_order").collect();
    assert!(!foreign.is_empty(), "said in an event");
    assert!(foreign[0].message.contains("not ours"), "{}", foreign[0].message);
    assert!(r.store.fills(r.bot).unwrap().is_empty(), "its fills are not ours");
    r.clock.advance(Span::from_secs((WINDOW + ALLOWANCE) / 1000));
    *r.venue.foreign.lock().unwrap() = None;
    r.venue.drop_orders.store(false, Ordering::SeqCst);
    r.engine.step(r.bot).unwrap();
    assert!(r.store.fills(r.bot).unwrap().iter().all(|f| f.fill.trade_id != "t-old"));
    assert_eq!(states(&r).iter().filter(|s| **s == OrderState::NotSent).count(), 2);
}

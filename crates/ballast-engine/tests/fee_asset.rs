//! Fees charged in a third asset (Binance's BNB, Gate's GT): the ledger takes each fill's
//! fee from the asset the venue names (`commissionAsset`), exactly, and the bot keeps
//! stepping with a negative balance of an asset it does not trade.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::sync::Arc;

use ballast_core::{Asset, Price, Prices, Qty, Span, SymbolRules, Timestamp};
use ballast_engine::{Engine, StepOutcome};
use ballast_exchange::paper::{PaperConfig, PaperExchange};
use ballast_exchange::{
    Balance, ClientOrderId, Clock, Exchange, ExchangeError, ManualClock, OrderReport, OrderRequest,
};
use ballast_store::Store;
use ballast_store::sqlite::SqliteStore;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

/// The paper venue, whose fills say their fee was paid in BNB (at 500 USDT a BNB, 8
/// decimals, as Binance rounds commissions).
struct InBnb(Arc<PaperExchange>);

fn in_bnb(mut r: OrderReport) -> OrderReport {
    for f in &mut r.fills {
        f.fee = Qty((f.fee.0 / dec!(500)).round_dp(8));
        f.fee_asset = a("BNB");
    }
    r
}

impl Exchange for InBnb {
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
    fn place(&self, o: &OrderRequest) -> Result<OrderReport, ExchangeError> {
        self.0.place(o).map(in_bnb)
    }
    fn query(&self, id: &ClientOrderId, b: &Asset, q: &Asset) -> Result<Option<OrderReport>, ExchangeError> {
        Ok(self.0.query(id, b, q)?.map(in_bnb))
    }
    fn open_orders(&self, b: &Asset, q: &Asset) -> Result<Vec<OrderReport>, ExchangeError> {
        self.0.open_orders(b, q)
    }
    fn cancel(&self, id: &ClientOrderId, b: &Asset, q: &Asset) -> Result<OrderReport, ExchangeError> {
        self.0.cancel(id, b, q).map(in_bnb)
    }
}

#[test]
fn a_fee_paid_in_a_third_asset_leaves_that_asset_exactly() {
    let clock = Arc::new(ManualClock::new(Timestamp(1_700_000_000_000)));
    let prices = btc_eth_prices();
    prices.set(&a("BNB"), &a("USDT"), Price(dec!(500)));
    let paper = PaperExchange::in_memory(PaperConfig::default(), prices.clone(), clock.clone() as Arc<dyn Clock>);
    let paper = Arc::new(paper.unwrap());
    paper.deposit(&a("USDT"), Qty(dec!(1000))).unwrap();
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let engine = Engine::new(store.clone(), Arc::new(InBnb(paper)), clock.clone());
    let spec = equal_spec(&["BTC", "ETH"], dec!(3), Default::default());
    let bot = engine.create("bnb", spec, "", dec!(1000)).unwrap();
    assert_eq!(engine.step(bot).unwrap(), StepOutcome::Rebalanced { orders: 2 });
    let fills = store.fills(bot).unwrap();
    let bnb: Decimal = fills.iter().map(|f| f.fill.fee.0).sum();
    let spent: Decimal = fills.iter().map(|f| f.fill.qty.0 * f.fill.price.0).sum();
    assert!(fills.iter().all(|f| f.fill.fee_asset == a("BNB")));
    let ledger = store.ledger(bot).unwrap();
    assert_eq!(ledger[&a("BNB")].held.0, -bnb, "the fees leave BNB, to the 8th decimal the venue charged");
    assert_eq!(ledger[&a("BNB")].fees.0, bnb);
    assert_eq!(ledger[&a("USDT")].held.0, dec!(1000) - spent, "the quote pays the notional only");
    assert!(ledger.get(&a("USDT")).is_some_and(|e| e.fees.is_zero()));
    assert!(engine.audit(bot).unwrap().is_empty(), "running ledger = records");
    // The bot steps on; its fees are valued at the BNB price.
    clock.advance(Span::from_secs(60));
    assert_eq!(engine.step(bot).unwrap(), StepOutcome::Held);
    let snap = store.snapshots(bot, 1).unwrap().remove(0);
    assert_eq!(snap.fees_paid.0, bnb * dec!(500));
}

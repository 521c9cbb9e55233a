//! Per-coin profit and loss with a cost basis, computed in one place from a bot's
//! records: its cash flows and the venue's fills (the CLI's `bot pnl`, the API's
//! `/api/bots/{id}/pnl` and the dashboard all show what [`coin_pnl`] returns).
//!
//! The rules, one per kind of record, replayed in time order (at one instant: money in,
//! then fills in the order they were recorded, then money out):
//!
//! - a coin **comes in** (a buy's quantity, a deposit of the coin) as a lot costing
//!   what was paid for it (`qty x price`; a deposit at the value it was recorded at);
//! - a coin **leaves** (a sell, a withdrawal, a fee charged in it) taking the cost of
//!   the lots it leaves from: the oldest first ([`CostMethod::Fifo`]) or the average of
//!   all it holds ([`CostMethod::Average`]); what it left for (the sell's notional, the
//!   withdrawal's recorded value, the fee's value) less that cost is **realised**;
//! - what is held is **unrealised**: its value at the prices given less the cost of
//!   the lots left;
//! - a **fee** is valued in quote (charged in the quote: as is; in the coin traded: at
//!   the fill's price; in another asset: at its price given) and counted against the
//!   coin of the trade that paid it.
//!
//! So, whatever the method, `realised + unrealised - fees = value - net invested` to
//! the last decimal (the tests check it): the split between realised and unrealised is
//! what the method changes. The quote currency is the unit of account: it has no lots.
//! A coin that leaves beyond the lots it has (never, with a sound ledger) leaves at no
//! cost. The cost of part of a lot is rounded to [`COST_DP`] decimals.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::str::FromStr;

use ballast_core::planner::Side;
use ballast_core::{Asset, Notional, Price, Prices, Qty, Timestamp};
use ballast_store::{CashFlow, FillRow};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Which lots a coin that leaves takes its cost from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CostMethod {
    /// The average cost of everything held.
    Average,
    /// First in, first out: the oldest lots first.
    Fifo,
}

impl CostMethod {
    /// Every method, by name.
    pub const ALL: [CostMethod; 2] = [CostMethod::Average, CostMethod::Fifo];

    /// Its name (`average`, `fifo`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Average => "average",
            Self::Fifo => "fifo",
        }
    }
}

impl fmt::Display for CostMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CostMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| format!("cost method {s:?}: expected \"average\" or \"fifo\""))
    }
}

/// One coin's profit and loss.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CoinPnl {
    /// The coin.
    pub asset: Asset,
    /// What the bot holds of it.
    pub held: Qty,
    /// The cost of what it holds (the lots left).
    pub cost_basis: Notional,
    /// `cost_basis / held`; none when nothing is held.
    pub average_cost: Option<Price>,
    /// The price it is valued at; none when not given.
    pub price: Option<Price>,
    /// `held x price` (zero without a price).
    pub value: Notional,
    /// Profit or loss of what left: proceeds less the cost of the lots it took.
    pub realised: Notional,
    /// `value - cost_basis`.
    pub unrealised: Notional,
    /// Fees of the trades in this coin, in quote.
    pub fees: Notional,
    /// `realised + unrealised - fees`.
    pub net: Notional,
    /// Quantity bought (fills).
    pub bought: Qty,
    /// Quantity sold (fills).
    pub sold: Qty,
    /// Fills in this coin.
    pub fills: u64,
}

/// A bot's profit and loss by coin, and the totals.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CoinPnlReport {
    /// The method the lots were matched with.
    pub method: CostMethod,
    /// The unit of account.
    pub quote: Asset,
    /// Every coin the bot ever held or traded (not the quote), by name.
    pub coins: Vec<CoinPnl>,
    /// The quote the bot holds.
    pub quote_held: Qty,
    /// Total realised.
    pub realised: Notional,
    /// Total unrealised.
    pub unrealised: Notional,
    /// Total fees, in quote.
    pub fees: Notional,
    /// `realised + unrealised - fees`, equal to `value - net_invested`.
    pub net: Notional,
    /// `quote_held` plus every coin's value.
    pub value: Notional,
    /// Deposits less withdrawals, at their recorded values.
    pub net_invested: Notional,
    /// The fees as charged: by the asset they were paid in.
    pub fees_charged: BTreeMap<Asset, Qty>,
}

/// The decimals a part of a lot's cost is rounded to.
pub const COST_DP: u32 = 12;

#[derive(Default)]
struct Book {
    lots: VecDeque<(Decimal, Decimal)>,
    held: Decimal,
    realised: Decimal,
    fees: Decimal,
    bought: Decimal,
    sold: Decimal,
    fills: u64,
}

impl Book {
    fn acquire(&mut self, method: CostMethod, qty: Decimal, cost: Decimal) {
        self.held += qty;
        match (method, self.lots.front_mut()) {
            (CostMethod::Average, Some(lot)) => {
                lot.0 += qty;
                lot.1 += cost;
            }
            _ => self.lots.push_back((qty, cost)),
        }
    }

    /// Takes `qty` out of the lots (oldest first; with the average method there is one
    /// lot) and realises `proceeds` less their cost.
    fn dispose(&mut self, qty: Decimal, proceeds: Decimal) {
        self.held -= qty;
        let mut left = qty;
        let mut cost = Decimal::ZERO;
        while left > Decimal::ZERO {
            let Some(lot) = self.lots.front_mut() else { break };
            if lot.0 <= left {
                left -= lot.0;
                cost += lot.1;
                self.lots.pop_front();
            } else {
                // The cost of part of a lot, to 12 decimals (far below a cent): every
                // figure then keeps few enough digits that sums stay exact, and the
                // identity below holds to the last decimal.
                let part = (lot.1 * left / lot.0).round_dp(COST_DP).min(lot.1);
                lot.0 -= left;
                lot.1 -= part;
                cost += part;
                left = Decimal::ZERO;
            }
        }
        self.realised += proceeds - cost;
    }

    fn cost(&self) -> Decimal {
        self.lots.iter().map(|l| l.1).sum()
    }
}

enum Item<'a> {
    Flow(&'a CashFlow),
    Fill(&'a FillRow),
}

/// The records in the order they are replayed: by time; at one instant money in, then
/// fills in recording order, then money out.
fn timeline<'a>(flows: &'a [CashFlow], fills: &'a [FillRow]) -> Vec<(Timestamp, Item<'a>)> {
    let mut items: Vec<(Timestamp, u8, usize, Item<'a>)> = Vec::with_capacity(flows.len() + fills.len());
    for (i, f) in flows.iter().enumerate() {
        let rank = if f.qty.0 >= Decimal::ZERO { 0 } else { 2 };
        items.push((f.time, rank, i, Item::Flow(f)));
    }
    for (i, f) in fills.iter().enumerate() {
        items.push((f.fill.time, 1, i, Item::Fill(f)));
    }
    items.sort_by_key(|(t, rank, i, _)| (*t, *rank, *i));
    items.into_iter().map(|(t, _, _, item)| (t, item)).collect()
}

/// A fee valued in quote: as is in the quote, at the fill's price in the base, at
/// `prices` in another asset (zero without one).
pub fn fee_value(fill: &FillRow, quote: &Asset, prices: &Prices) -> Decimal {
    let f = &fill.fill;
    if &f.fee_asset == quote {
        f.fee.0
    } else if f.fee_asset == fill.base {
        f.fee.0 * f.price.0
    } else {
        prices.get(&f.fee_asset).map_or(Decimal::ZERO, |p| f.fee.0 * p.0)
    }
}

/// Every coin's profit and loss with its cost basis by `method`, valued at `prices`
/// (the module's rules).
pub fn coin_pnl(
    flows: &[CashFlow],
    fills: &[FillRow],
    quote: &Asset,
    prices: &Prices,
    method: CostMethod,
) -> CoinPnlReport {
    let mut books: BTreeMap<Asset, Book> = BTreeMap::new();
    let mut quote_held = Decimal::ZERO;
    let mut net_invested = Decimal::ZERO;
    let mut fees_charged: BTreeMap<Asset, Qty> = BTreeMap::new();
    for (_, item) in timeline(flows, fills) {
        match item {
            Item::Flow(f) => {
                net_invested += f.value.0;
                if &f.asset == quote {
                    quote_held += f.qty.0;
                } else if f.qty.0 >= Decimal::ZERO {
                    books.entry(f.asset.clone()).or_default().acquire(method, f.qty.0, f.value.0);
                } else {
                    books.entry(f.asset.clone()).or_default().dispose(-f.qty.0, -f.value.0);
                }
            }
            Item::Fill(r) => {
                let f = &r.fill;
                let notional = f.qty.0 * f.price.0;
                let book = books.entry(r.base.clone()).or_default();
                book.fills += 1;
                match r.side {
                    Side::Buy => {
                        book.bought += f.qty.0;
                        book.acquire(method, f.qty.0, notional);
                        quote_held -= notional;
                    }
                    Side::Sell => {
                        book.sold += f.qty.0;
                        book.dispose(f.qty.0, notional);
                        quote_held += notional;
                    }
                }
                let fee = fee_value(r, quote, prices);
                book.fees += fee;
                fees_charged.entry(f.fee_asset.clone()).or_default().0 += f.fee.0;
                if &f.fee_asset == quote {
                    quote_held -= f.fee.0;
                } else if !f.fee.0.is_zero() {
                    books.entry(f.fee_asset.clone()).or_default().dispose(f.fee.0, fee);
                }
            }
        }
    }
    let mut coins = Vec::with_capacity(books.len());
    let (mut realised, mut unrealised, mut fees, mut value) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO, quote_held);
    for (asset, b) in books {
        let price = prices.get(&asset).copied();
        let v = price.map_or(Decimal::ZERO, |p| b.held * p.0);
        let cost = b.cost();
        let u = v - cost;
        realised += b.realised;
        unrealised += u;
        fees += b.fees;
        value += v;
        coins.push(CoinPnl {
            asset,
            held: Qty(b.held),
            cost_basis: Notional(cost),
            average_cost: (b.held > Decimal::ZERO).then(|| Price(cost / b.held)),
            price,
            value: Notional(v),
            realised: Notional(b.realised),
            unrealised: Notional(u),
            fees: Notional(b.fees),
            net: Notional(b.realised + u - b.fees),
            bought: Qty(b.bought),
            sold: Qty(b.sold),
            fills: b.fills,
        });
    }
    CoinPnlReport {
        method,
        quote: quote.clone(),
        coins,
        quote_held: Qty(quote_held),
        realised: Notional(realised),
        unrealised: Notional(unrealised),
        fees: Notional(fees),
        net: Notional(realised + unrealised - fees),
        value: Notional(value),
        net_invested: Notional(net_invested),
        fees_charged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ballast_exchange::{ClientOrderId, Fill};
    use rust_decimal_macros::dec;

    fn a(s: &str) -> Asset {
        Asset::new(s).unwrap()
    }

    fn flow(t: i64, asset: &str, qty: Decimal, value: Decimal) -> CashFlow {
        CashFlow {
            bot: 1,
            time: Timestamp(t),
            asset: a(asset),
            qty: Qty(qty),
            value: Notional(value),
            note: "x".into(),
        }
    }

    fn fill(t: i64, side: Side, base: &str, qty: Decimal, price: Decimal, fee: Decimal, fee_asset: &str) -> FillRow {
        FillRow {
            bot: 1,
            client_id: ClientOrderId::new(&format!("c{t}")).unwrap(),
            base: a(base),
            quote: a("USDT"),
            side,
            fill: Fill {
                trade_id: t.to_string(),
                qty: Qty(qty),
                price: Price(price),
                fee: Qty(fee),
                fee_asset: a(fee_asset),
                time: Timestamp(t),
            },
        }
    }

    fn coin<'a>(r: &'a CoinPnlReport, s: &str) -> &'a CoinPnl {
        r.coins.iter().find(|c| c.asset == a(s)).unwrap()
    }

    /// Hand computed: 1 BTC at 100, 1 BTC at 200, 1.5 sold at 300, valued at 400.
    /// FIFO: the sale costs 100 + 0.5 x 200 = 200, realises 450 - 200 = 250, leaves
    /// 0.5 costing 100. Average: cost 150 each, realises 450 - 225 = 225, leaves 0.5
    /// costing 75. Both: 250 + 100 = 225 + 125 = 350 of profit before fees.
    #[test]
    fn fifo_and_average_by_hand() {
        let flows = vec![flow(0, "USDT", dec!(1000), dec!(1000))];
        let fills = vec![
            fill(1, Side::Buy, "BTC", dec!(1), dec!(100), dec!(0.1), "USDT"),
            fill(2, Side::Buy, "BTC", dec!(1), dec!(200), dec!(0.2), "USDT"),
            fill(3, Side::Sell, "BTC", dec!(1.5), dec!(300), dec!(0.45), "USDT"),
        ];
        let prices: Prices = [(a("BTC"), Price(dec!(400)))].into();
        let fifo = coin_pnl(&flows, &fills, &a("USDT"), &prices, CostMethod::Fifo);
        let b = coin(&fifo, "BTC");
        assert_eq!(
            (b.realised.0, b.cost_basis.0, b.unrealised.0, b.held.0, b.fees.0),
            (dec!(250), dec!(100), dec!(100), dec!(0.5), dec!(0.75))
        );
        assert_eq!(b.average_cost, Some(Price(dec!(200))));
        let avg = coin_pnl(&flows, &fills, &a("USDT"), &prices, CostMethod::Average);
        let b = coin(&avg, "BTC");
        assert_eq!((b.realised.0, b.cost_basis.0, b.unrealised.0), (dec!(225), dec!(75), dec!(125)));
        assert_eq!(b.average_cost, Some(Price(dec!(150))));
        for r in [&fifo, &avg] {
            // 1000 - 100 - 200 + 450 - 0.75 of fees = 1149.25 USDT, plus 0.5 BTC at 400.
            assert_eq!(r.quote_held.0, dec!(1149.25));
            assert_eq!(r.value.0, dec!(1349.25));
            assert_eq!(r.net.0, dec!(349.25));
            assert_eq!(r.net.0, r.value.0 - r.net_invested.0);
            assert_eq!(r.fees_charged[&a("USDT")].0, dec!(0.75));
        }
    }

    /// Coins deposited and withdrawn, fees in the base and in a third asset: the
    /// identity holds to the last decimal, holdings follow the ledger's rule.
    #[test]
    fn deposits_withdrawals_and_fees_in_coins_keep_the_identity() {
        let flows = vec![
            flow(0, "USDT", dec!(500), dec!(500)),
            flow(0, "ETH", dec!(2), dec!(60)),
            flow(0, "BNB", dec!(1), dec!(3)),
            flow(9, "ETH", dec!(-0.5), dec!(-20)),
            flow(9, "USDT", dec!(-10), dec!(-10)),
        ];
        let fills = vec![
            fill(1, Side::Buy, "BTC", dec!(0.3), dec!(97), dec!(0.0003), "BTC"),
            fill(2, Side::Sell, "ETH", dec!(0.7), dec!(33.3), dec!(0.01), "BNB"),
            fill(3, Side::Buy, "ETH", dec!(0.13), dec!(31.7), dec!(0.00013), "ETH"),
            fill(4, Side::Sell, "BTC", dec!(0.1), dec!(101), dec!(0.0101), "USDT"),
        ];
        let prices: Prices =
            [(a("BTC"), Price(dec!(103))), (a("ETH"), Price(dec!(29))), (a("BNB"), Price(dec!(3.7)))].into();
        let held = crate::ledger::holdings(&flows, &fills);
        for m in CostMethod::ALL {
            let r = coin_pnl(&flows, &fills, &a("USDT"), &prices, m);
            assert_eq!(r.net.0, r.value.0 - r.net_invested.0, "{m}");
            assert_eq!(r.net.0, r.realised.0 + r.unrealised.0 - r.fees.0, "{m}");
            assert_eq!(r.quote_held, held[&a("USDT")], "{m}");
            for c in &r.coins {
                assert_eq!(c.held, held[&c.asset], "{m} {:?}", c.asset);
            }
            // The BNB fee is valued at BNB's price and counted against ETH, whose trade paid it.
            assert_eq!(coin(&r, "ETH").fees.0, dec!(0.01) * dec!(3.7) + dec!(0.00013) * dec!(31.7));
            assert_eq!(coin(&r, "BTC").fees.0, dec!(0.0003) * dec!(97) + dec!(0.0101));
            assert_eq!(r.net_invested.0, dec!(533));
        }
        // The withdrawal realises its recorded value less the cost: FIFO takes the
        // deposited lot (30 each): 20 - 15 = 5 on top of the sale's 0.7 x (33.3 - 30).
        let fifo = coin_pnl(&flows, &fills, &a("USDT"), &prices, CostMethod::Fifo);
        assert_eq!(
            coin(&fifo, "ETH").realised.0,
            dec!(0.7) * dec!(3.3) + dec!(5) + (dec!(0.00013) * dec!(31.7) - dec!(0.00013) * dec!(30))
        );
    }

    #[test]
    fn a_method_is_named_or_refused_with_the_word() {
        assert_eq!("FIFO".parse::<CostMethod>(), Ok(CostMethod::Fifo));
        assert_eq!("average".parse::<CostMethod>(), Ok(CostMethod::Average));
        assert!("lifo".parse::<CostMethod>().unwrap_err().contains("\"lifo\""));
    }
}

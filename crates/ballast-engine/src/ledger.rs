//! A bot's ledger: what it holds, derived from its cash flows and the venue's fills
//! (never from a running total that could drift), and its profit and loss.

use std::collections::BTreeMap;

use ballast_core::planner::Side;
use ballast_core::{Asset, Notional, Prices, Qty};
use ballast_store::{CashFlow, FillRow, Snapshot};
use rust_decimal::Decimal;
use serde::Serialize;

/// Holdings from cash flows and fills. Fees are taken from whatever asset the venue
/// charged them in.
pub fn holdings(flows: &[CashFlow], fills: &[FillRow]) -> BTreeMap<Asset, Qty> {
    let mut h: BTreeMap<Asset, Qty> = BTreeMap::new();
    for f in flows {
        *h.entry(f.asset.clone()).or_default() += f.qty;
    }
    for r in fills {
        let notional = r.fill.qty.0 * r.fill.price.0;
        match r.side {
            Side::Buy => {
                h.entry(r.base.clone()).or_default().0 += r.fill.qty.0;
                h.entry(r.quote.clone()).or_default().0 -= notional;
            }
            Side::Sell => {
                h.entry(r.base.clone()).or_default().0 -= r.fill.qty.0;
                h.entry(r.quote.clone()).or_default().0 += notional;
            }
        }
        h.entry(r.fill.fee_asset.clone()).or_default().0 -= r.fill.fee.0;
    }
    h
}

/// Fees paid, valued in quote (a fee in the quote counts as is; in another asset, at
/// its price now; an asset without a price counts zero and is listed).
pub fn fees_in_quote(fills: &[FillRow], quote: &Asset, prices: &Prices) -> Notional {
    let mut total = Decimal::ZERO;
    for r in fills {
        let f = &r.fill;
        if &f.fee_asset == quote {
            total += f.fee.0;
        } else if let Some(p) = prices.get(&f.fee_asset) {
            total += f.fee.0 * p.0;
        }
    }
    Notional(total)
}

/// Profit and loss of a bot.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Pnl {
    /// Value now.
    pub value: Notional,
    /// Deposits minus withdrawals.
    pub net_invested: Notional,
    /// `value - net_invested`.
    pub profit: Notional,
    /// `profit / net_invested` in percent.
    pub profit_percent: Decimal,
    /// Value of the HODL reference (same cash flows, never rebalanced).
    pub hodl_value: Notional,
    /// `value / hodl_value - 1` in percent.
    pub excess_vs_hodl_percent: Decimal,
    /// Fees paid, in quote.
    pub fees_paid: Notional,
    /// Rebalances done.
    pub rebalances: u64,
    /// Time-weighted return in percent (cash flows removed).
    pub time_weighted_return_percent: Decimal,
}

/// Time-weighted return over snapshots: the product of each period's growth with the
/// cash flow that arrived in it removed, `V_t / (V_{t-1} + flow_t)`.
pub fn time_weighted_return(snapshots: &[Snapshot]) -> Decimal {
    let mut growth = Decimal::ONE;
    for w in snapshots.windows(2) {
        let flow = w[1].net_invested.0 - w[0].net_invested.0;
        let base = w[0].value.0 + flow;
        if base > Decimal::ZERO {
            growth *= w[1].value.0 / base;
        }
    }
    growth - Decimal::ONE
}

/// `x / of` in percent, to 4 decimals; zero when `of` is zero.
pub(crate) fn percent(x: Decimal, of: Decimal) -> Decimal {
    if of.is_zero() { Decimal::ZERO } else { (x / of * Decimal::ONE_HUNDRED).round_dp(4) }
}

/// The PnL of a bot from its latest state.
pub fn pnl(
    value: Notional,
    net_invested: Notional,
    hodl_value: Notional,
    fees: Notional,
    rebalances: u64,
    snapshots: &[Snapshot],
) -> Pnl {
    let profit = value - net_invested;
    Pnl {
        value,
        net_invested,
        profit,
        profit_percent: percent(profit.0, net_invested.0),
        hodl_value,
        excess_vs_hodl_percent: percent(value.0 - hodl_value.0, hodl_value.0),
        fees_paid: fees,
        rebalances,
        time_weighted_return_percent: (time_weighted_return(snapshots) * Decimal::ONE_HUNDRED).round_dp(4),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ballast_core::{Price, Timestamp};
    use ballast_exchange::{ClientOrderId, Fill};
    use rust_decimal_macros::dec;

    fn a(s: &str) -> Asset {
        Asset::new(s).unwrap()
    }

    fn snap(value: Decimal, net: Decimal) -> Snapshot {
        Snapshot {
            bot: 1,
            time: Timestamp(0),
            value: Notional(value),
            holdings: BTreeMap::new(),
            prices: BTreeMap::new(),
            net_invested: Notional(net),
            hodl_value: Notional(value),
            fees_paid: Notional::ZERO,
        }
    }

    #[test]
    fn holdings_follow_flows_and_fills() {
        let flows = vec![CashFlow {
            bot: 1,
            time: Timestamp(0),
            asset: a("USDT"),
            qty: Qty(dec!(1000)),
            value: Notional(dec!(1000)),
            note: "create".into(),
        }];
        let fill = |side, qty, price, fee, fee_asset: &str| FillRow {
            bot: 1,
            client_id: ClientOrderId::new("x").unwrap(),
            base: a("BTC"),
            quote: a("USDT"),
            side,
            fill: Fill {
                trade_id: "1".into(),
                qty: Qty(qty),
                price: Price(price),
                fee: Qty(fee),
                fee_asset: a(fee_asset),
                time: Timestamp(0),
            },
        };
        let fills = vec![
            fill(Side::Buy, dec!(0.01), dec!(50000), dec!(0.5), "USDT"),
            fill(Side::Sell, dec!(0.004), dec!(60000), dec!(0.000001), "BTC"),
        ];
        let h = holdings(&flows, &fills);
        assert_eq!(h[&a("BTC")], Qty(dec!(0.005999)));
        assert_eq!(h[&a("USDT")], Qty(dec!(1000) - dec!(500) - dec!(0.5) + dec!(240)));
        let prices: Prices = [(a("BTC"), Price(dec!(60000)))].into();
        assert_eq!(fees_in_quote(&fills, &a("USDT"), &prices), Notional(dec!(0.56)));
    }

    #[test]
    fn twr_removes_cash_flows() {
        // 1000 -> 1100 (+10 %), then 1000 deposited -> 2100 -> 2310 (+10 %): TWR 21 %
        let s = vec![
            snap(dec!(1000), dec!(1000)),
            snap(dec!(1100), dec!(1000)),
            snap(dec!(2100), dec!(2000)),
            snap(dec!(2310), dec!(2000)),
        ];
        assert_eq!(time_weighted_return(&s), dec!(0.21));
        let p = pnl(Notional(dec!(2310)), Notional(dec!(2000)), Notional(dec!(2200)), Notional(dec!(1)), 2, &s);
        assert_eq!(p.profit, Notional(dec!(310)));
        assert_eq!(p.profit_percent, dec!(15.5));
        assert_eq!(p.time_weighted_return_percent, dec!(21));
    }
}

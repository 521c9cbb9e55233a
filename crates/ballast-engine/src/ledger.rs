//! A bot's ledger derived from its records (cash flows and the venue's fills), and its
//! profit and loss. The store keeps a running ledger as it records them
//! (`Store::ledger`, what a step reads); [`holdings`] and [`fees_by_asset`] derive the
//! same from the records, and `Engine::audit` (`ballast doctor`) checks that the two
//! agree. What a fill does to a ledger is decided once, in `ballast_store::fill_effects`.

use std::collections::BTreeMap;

use ballast_core::{Asset, Notional, Prices, Qty};
use ballast_store::{BotId, CashFlow, FillRow, LedgerEntry, Snapshot, Store, StoreError, fill_effects};
use rust_decimal::Decimal;
use serde::Serialize;

/// Holdings from cash flows and fills. Fees are taken from whatever asset the venue
/// charged them in.
pub fn holdings(flows: &[CashFlow], fills: &[FillRow]) -> BTreeMap<Asset, Qty> {
    let mut h: BTreeMap<Asset, Qty> = BTreeMap::new();
    for f in flows {
        *h.entry(f.asset.clone()).or_default() += f.qty;
    }
    // The store refuses a fill whose effects overflow, so every stored fill has some.
    for r in fills {
        for (asset, held, _) in fill_effects(r.side, &r.base, &r.quote, &r.fill).into_iter().flatten() {
            h.entry(asset).or_default().0 += held;
        }
    }
    h
}

/// An asset whose running ledger differs from the one the records derive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// The asset.
    pub asset: Asset,
    /// What the store's running ledger says.
    pub running: LedgerEntry,
    /// What the cash flows and fills derive.
    pub derived: LedgerEntry,
}

/// Checks a bot's running ledger (kept by the store as fills and cash flows are
/// recorded) against the one its records derive: every asset whose holdings or fees
/// differ; empty when they agree. (`ballast doctor` runs it for every bot.)
pub fn audit(store: &dyn Store, bot: BotId) -> Result<Vec<Mismatch>, StoreError> {
    let fills = store.fills(bot)?;
    let held = holdings(&store.cash_flows(bot)?, &fills);
    let fees = fees_by_asset(&fills);
    let running = store.ledger(bot)?;
    let mut assets: Vec<&Asset> = running.keys().chain(held.keys()).chain(fees.keys()).collect();
    assets.sort();
    assets.dedup();
    Ok(assets
        .into_iter()
        .filter_map(|a| {
            let r = running.get(a).copied().unwrap_or_default();
            let d = LedgerEntry {
                held: held.get(a).copied().unwrap_or_default(),
                fees: fees.get(a).copied().unwrap_or_default(),
            };
            (r.held.0 != d.held.0 || r.fees.0 != d.fees.0).then(|| Mismatch {
                asset: a.clone(),
                running: r,
                derived: d,
            })
        })
        .collect())
}

/// Fees paid, by the asset they were charged in.
pub fn fees_by_asset(fills: &[FillRow]) -> BTreeMap<Asset, Qty> {
    let mut out: BTreeMap<Asset, Qty> = BTreeMap::new();
    for r in fills {
        out.entry(r.fill.fee_asset.clone()).or_default().0 += r.fill.fee.0;
    }
    out
}

/// Fees paid, valued in quote (a fee in the quote counts as is; in another asset, at
/// its price now; an asset without a price counts zero).
pub fn fees_value(fees: &BTreeMap<Asset, Qty>, quote: &Asset, prices: &Prices) -> Notional {
    let mut total = Decimal::ZERO;
    for (asset, fee) in fees {
        if asset == quote {
            total += fee.0;
        } else if let Some(p) = prices.get(asset) {
            total += fee.0 * p.0;
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

fn percent(x: Decimal, of: Decimal) -> Decimal {
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
        use ballast_core::planner::Side;
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
        let fees = fees_by_asset(&fills);
        assert_eq!(fees[&a("BTC")], Qty(dec!(0.000001)));
        assert_eq!(fees_value(&fees, &a("USDT"), &prices), Notional(dec!(0.56)));
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

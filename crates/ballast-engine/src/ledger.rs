//! A bot's ledger derived from its records (cash flows and the venue's fills), and its
//! profit and loss. The store keeps a running ledger as it records them
//! (`Store::ledger`, what a step reads); [`holdings`] and [`fees_by_asset`] derive the
//! same from the records, and `Engine::audit` (`ballast doctor`) checks that the two
//! agree. What a fill does to a ledger is decided once, in `ballast_store::fill_effects`.

use std::collections::BTreeMap;

use ballast_core::{Asset, Notional, Prices, Qty};
use ballast_store::{BotId, CashFlow, FillRow, LedgerEntry, Snapshot, SnapshotValue, Store, StoreError, fill_effects};
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

/// What returns are computed from: a snapshot's time, value and net invested (a whole
/// [`Snapshot`], or the [`SnapshotValue`] the store reads without holdings and prices).
pub trait ReturnPoint {
    /// When.
    fn time(&self) -> ballast_core::Timestamp;
    /// Value in quote.
    fn value(&self) -> Decimal;
    /// Deposits minus withdrawals.
    fn net_invested(&self) -> Decimal;
}

impl ReturnPoint for Snapshot {
    fn time(&self) -> ballast_core::Timestamp {
        self.time
    }
    fn value(&self) -> Decimal {
        self.value.0
    }
    fn net_invested(&self) -> Decimal {
        self.net_invested.0
    }
}

impl ReturnPoint for SnapshotValue {
    fn time(&self) -> ballast_core::Timestamp {
        self.time
    }
    fn value(&self) -> Decimal {
        self.value.0
    }
    fn net_invested(&self) -> Decimal {
        self.net_invested.0
    }
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
    /// Returns over the last 24 h, 7, 30 and 90 days and the whole life ([`PERIODS`]),
    /// ending at the last snapshot.
    pub returns: Vec<PeriodReturn>,
    /// The whole life's time-weighted return, annualised without compounding
    /// (`twr * 365 days / running time`); none before a day has passed.
    pub apr_percent: Option<Decimal>,
    /// From the first snapshot to the last, in milliseconds of the bot's clock.
    pub running_ms: i64,
}

/// The periods of [`Pnl::returns`]: a name and a length in milliseconds (`all`: the
/// whole life).
pub const PERIODS: &[(&str, Option<i64>)] = &[
    ("24h", Some(86_400_000)),
    ("7d", Some(7 * 86_400_000)),
    ("30d", Some(30 * 86_400_000)),
    ("90d", Some(90 * 86_400_000)),
    ("all", None),
];

/// How a bot did over a period ending at its last snapshot.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PeriodReturn {
    /// `24h`, `7d`, `30d`, `90d`, `all`, or the span asked.
    pub period: String,
    /// The snapshot the period is measured from (the last one at or before its start,
    /// or the bot's first when it is younger than the period).
    pub from: ballast_core::Timestamp,
    /// The last snapshot.
    pub to: ballast_core::Timestamp,
    /// Time-weighted return in percent (cash flows removed).
    pub return_percent: Decimal,
    /// The value's change less the money moved in or out over the period, in quote.
    pub profit: Notional,
    /// False when the bot is younger than the period (the figures cover its life).
    pub complete: bool,
}

/// The return over the `span` (ms; `None`: the whole life) ending at the last of
/// `snapshots` (oldest first); `None` without snapshots.
pub fn period_return<P: ReturnPoint>(snapshots: &[P], label: &str, span: Option<i64>) -> Option<PeriodReturn> {
    let last = snapshots.last()?;
    let (start, complete) = match span {
        None => (0, true),
        Some(s) => {
            let from = last.time().0 - s;
            // The last snapshot at or before the start: the value the period grew from.
            match snapshots.iter().rposition(|x| x.time().0 <= from) {
                Some(i) => (i, true),
                None => (0, false),
            }
        }
    };
    let base = &snapshots[start];
    let profit = (last.value() - base.value()) - (last.net_invested() - base.net_invested());
    // The whole life grows from nothing: its return is the TWR from the first snapshot.
    Some(PeriodReturn {
        period: label.to_string(),
        from: base.time(),
        to: last.time(),
        return_percent: (time_weighted_return(&snapshots[start..]) * Decimal::ONE_HUNDRED).round_dp(4),
        profit: Notional(if span.is_none() { last.value() - last.net_invested() } else { profit }.round_dp(8)),
        complete,
    })
}

/// The calendar periods of [`profit_buckets`], in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    /// A calendar day.
    Day,
    /// An ISO week, Monday to Sunday.
    Week,
    /// A calendar month.
    Month,
}

impl Bucket {
    /// Every bucket, in the order they are offered.
    pub const ALL: [Bucket; 3] = [Bucket::Day, Bucket::Week, Bucket::Month];

    /// `day`, `week` or `month`.
    pub fn as_str(self) -> &'static str {
        match self {
            Bucket::Day => "day",
            Bucket::Week => "week",
            Bucket::Month => "month",
        }
    }

    /// The start (ms, UTC midnight) of the bucket that holds `t`.
    pub fn start_of(self, t: ballast_core::Timestamp) -> i64 {
        use ballast_core::time::{civil_from_days, days_from_civil};
        const DAY: i64 = 86_400_000;
        let day = t.0.div_euclid(DAY);
        let first = match self {
            Bucket::Day => day,
            // 1970-01-01 was a Thursday: days since the Monday before it.
            Bucket::Week => day - (day + 3).rem_euclid(7),
            Bucket::Month => {
                let (y, m, _) = civil_from_days(day);
                days_from_civil(y, m, 1)
            }
        };
        first.saturating_mul(DAY)
    }
}

impl std::str::FromStr for Bucket {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|b| b.as_str() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| format!("bucket {s:?}: expected \"day\", \"week\" or \"month\""))
    }
}

/// What a bot made in one calendar day, week or month ([`profit_buckets`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProfitBucket {
    /// The bucket's start: UTC midnight of the day, of the week's Monday or of the
    /// month's first day.
    pub start: ballast_core::Timestamp,
    /// The snapshot it is measured from: the last one of the bucket before (the bot's
    /// first snapshot for its first bucket).
    pub from: ballast_core::Timestamp,
    /// Its last snapshot.
    pub to: ballast_core::Timestamp,
    /// The value's change less the money moved in or out between `from` and `to`, in
    /// quote.
    pub profit: Notional,
    /// `profit` in percent of the value at `from` plus what was invested in the bucket
    /// (withdrawals not subtracted); zero when that is zero.
    pub return_percent: Decimal,
    /// What was invested in the bucket (the rises of net invested between its
    /// snapshots), in quote.
    pub invested: Notional,
    /// What was withdrawn in it, in quote (positive).
    pub withdrawn: Notional,
    /// The value at `to`.
    pub value: Notional,
}

/// A bot's profit per calendar day, ISO week or month (UTC), oldest first, from its
/// snapshots (oldest first): each bucket that holds a snapshot, measured from the last
/// snapshot before it (the bot's first snapshot for the first bucket) to its own last,
/// with deposits and withdrawals taken out. The profits add up to the change of
/// `value - net_invested` from the first snapshot to the last. A bucket without a
/// snapshot (the bot not running) is left out: what changed over the gap counts in the
/// next bucket that has one. None with fewer than two snapshots.
pub fn profit_buckets<P: ReturnPoint>(snapshots: &[P], by: Bucket) -> Vec<ProfitBucket> {
    let mut out: Vec<ProfitBucket> = Vec::new();
    if snapshots.len() < 2 {
        return out;
    }
    let first = &snapshots[0];
    let mut base = first;
    let mut prev = first;
    let mut invested = Decimal::ZERO;
    let mut withdrawn = Decimal::ZERO;
    let mut start = by.start_of(first.time());
    let close = |base: &P, last: &P, start: i64, invested: Decimal, withdrawn: Decimal| {
        let profit = (last.value() - base.value()) - (last.net_invested() - base.net_invested());
        ProfitBucket {
            start: ballast_core::Timestamp(start),
            from: base.time(),
            to: last.time(),
            profit: Notional(profit),
            return_percent: percent(profit, base.value() + invested),
            invested: Notional(invested),
            withdrawn: Notional(withdrawn),
            value: Notional(last.value()),
        }
    };
    for s in &snapshots[1..] {
        let at = by.start_of(s.time());
        if at != start {
            out.push(close(base, prev, start, invested, withdrawn));
            (base, start, invested, withdrawn) = (prev, at, Decimal::ZERO, Decimal::ZERO);
        }
        let flow = s.net_invested() - prev.net_invested();
        if flow > Decimal::ZERO {
            invested += flow;
        } else {
            withdrawn -= flow;
        }
        prev = s;
    }
    out.push(close(base, prev, start, invested, withdrawn));
    out
}

/// `twr_percent * 365 days / running_ms`, none under a day.
pub fn apr(twr_percent: Decimal, running_ms: i64) -> Option<Decimal> {
    const DAY: i64 = 86_400_000;
    (running_ms >= DAY).then(|| (twr_percent * Decimal::from(365 * DAY) / Decimal::from(running_ms)).round_dp(4))
}

/// Time-weighted return over snapshots: the product of each period's growth with the
/// cash flow that arrived in it removed, `V_t / (V_{t-1} + flow_t)`.
pub fn time_weighted_return<P: ReturnPoint>(snapshots: &[P]) -> Decimal {
    growth_index(snapshots).last().copied().unwrap_or(Decimal::ONE) - Decimal::ONE
}

/// What one unit held from the first snapshot would be worth at each snapshot, cash
/// flows removed (the growth [`time_weighted_return`] compounds): a step's growth is
/// `value / (previous value + the flow between them)`.
pub fn growth_index<P: ReturnPoint>(snapshots: &[P]) -> Vec<Decimal> {
    let mut growth = Decimal::ONE;
    let mut out = Vec::with_capacity(snapshots.len());
    if !snapshots.is_empty() {
        out.push(growth);
    }
    for w in snapshots.windows(2) {
        let flow = w[1].net_invested() - w[0].net_invested();
        let base = w[0].value() + flow;
        if base > Decimal::ZERO {
            growth *= w[1].value() / base;
        }
        out.push(growth);
    }
    out
}

/// The drawdown of each snapshot from the peak before it, in `[-1, 0]` (NaN where
/// undefined), of the [`growth_index`]: an investment or a withdrawal is not a rise or
/// a fall. The rule is the backtest report's (`ballast_core::drawdown::from_peak`).
pub fn drawdowns<P: ReturnPoint>(snapshots: &[P]) -> Vec<f64> {
    use rust_decimal::prelude::ToPrimitive;
    let index: Vec<f64> = growth_index(snapshots).iter().map(|g| g.to_f64().unwrap_or(f64::NAN)).collect();
    ballast_core::drawdown::from_peak(&index)
}

/// `x / of` in percent, to 4 decimals; zero when `of` is zero.
pub fn percent(x: Decimal, of: Decimal) -> Decimal {
    if of.is_zero() { Decimal::ZERO } else { (x / of * Decimal::ONE_HUNDRED).round_dp(4) }
}

/// The PnL of a bot from its latest state.
pub fn pnl<P: ReturnPoint>(
    value: Notional,
    net_invested: Notional,
    hodl_value: Notional,
    fees: Notional,
    rebalances: u64,
    snapshots: &[P],
) -> Pnl {
    let profit = value - net_invested;
    let twr = (time_weighted_return(snapshots) * Decimal::ONE_HUNDRED).round_dp(4);
    let running_ms = match (snapshots.first(), snapshots.last()) {
        (Some(a), Some(b)) => b.time().0 - a.time().0,
        _ => 0,
    };
    Pnl {
        value,
        net_invested,
        profit,
        profit_percent: percent(profit.0, net_invested.0),
        hodl_value,
        excess_vs_hodl_percent: percent(value.0 - hodl_value.0, hodl_value.0),
        fees_paid: fees,
        rebalances,
        time_weighted_return_percent: twr,
        returns: PERIODS.iter().filter_map(|(label, span)| period_return(snapshots, label, *span)).collect(),
        apr_percent: apr(twr, running_ms),
        running_ms,
    }
}

/// What many bots of one quote add up to ([`fleet`]): the combined view of the
/// dashboard and the last line of `ballast bot list`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FleetTotals {
    /// The quote every figure is in.
    pub quote: Option<Asset>,
    /// Every bot of this quote (a bot whose figures could not be read included).
    pub bots: usize,
    /// The bots not stopped whose figures were read: the sums below are theirs.
    pub running: usize,
    /// Their value now.
    pub value: Notional,
    /// Their deposits minus withdrawals.
    pub net_invested: Notional,
    /// `value - net_invested`.
    pub profit: Notional,
    /// `profit / net_invested` in percent.
    pub profit_percent: Decimal,
    /// Their HODL references' value.
    pub hodl_value: Notional,
    /// `value / hodl_value - 1` in percent.
    pub excess_vs_hodl_percent: Decimal,
    /// The fees they paid.
    pub fees: Notional,
    /// Stopped bots.
    pub stopped: usize,
    /// What the stopped bots made (their stop summaries).
    pub stopped_profit: Notional,
    /// The fees the stopped bots paid.
    pub stopped_fees: Notional,
}

/// A bot as [`fleet`] counts it: its quote, and either its PnL (a bot not stopped),
/// its stop summary, or nothing (its figures could not be read).
pub enum FleetBot<'a> {
    /// A bot not stopped.
    Running(&'a Asset, &'a Pnl),
    /// A stopped bot.
    Stopped(&'a Asset, &'a crate::StopSummary),
    /// A bot whose figures could not be read (counted, never summed).
    Unknown(Option<&'a Asset>),
}

/// The totals of many bots, one per quote (bots in different quotes are never added
/// together), in the order the quotes first appear.
pub fn fleet<'a>(bots: impl IntoIterator<Item = FleetBot<'a>>) -> Vec<FleetTotals> {
    let mut out: Vec<FleetTotals> = Vec::new();
    let mut slot = |q: Option<&Asset>| -> usize {
        match out.iter().position(|t| t.quote.as_ref() == q) {
            Some(i) => i,
            None => {
                out.push(FleetTotals { quote: q.cloned(), ..FleetTotals::default() });
                out.len() - 1
            }
        }
    };
    let mut add = Vec::new();
    for b in bots {
        match b {
            FleetBot::Running(q, p) => add.push((slot(Some(q)), Some(p), None)),
            FleetBot::Stopped(q, s) => add.push((slot(Some(q)), None, Some(s))),
            FleetBot::Unknown(q) => add.push((slot(q), None, None)),
        }
    }
    for (i, p, s) in add {
        let t = &mut out[i];
        t.bots += 1;
        if let Some(p) = p {
            t.running += 1;
            t.value += p.value;
            t.net_invested += p.net_invested;
            t.hodl_value += p.hodl_value;
            t.fees += p.fees_paid;
        }
        if let Some(s) = s {
            t.stopped += 1;
            t.stopped_profit += s.profit;
            t.stopped_fees += s.fees;
        }
    }
    for t in &mut out {
        t.profit = t.value - t.net_invested;
        t.profit_percent = percent(t.profit.0, t.net_invested.0);
        t.excess_vs_hodl_percent = percent(t.value.0 - t.hodl_value.0, t.hodl_value.0);
    }
    out
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

    /// An investment is not a rise: the drawdown follows the growth without cash flows.
    #[test]
    fn drawdowns_remove_cash_flows() {
        const DAY: i64 = 86_400_000;
        let at = |d: i64, v: Decimal, n: Decimal| Snapshot { time: Timestamp(d * DAY), ..snap(v, n) };
        // 1,000 falls to 800 (-20 %), 1,200 arrive (2,000), then it grows 10 %.
        let s = vec![
            at(0, dec!(1000), dec!(1000)),
            at(1, dec!(800), dec!(1000)),
            at(2, dec!(2000), dec!(2200)),
            at(3, dec!(2200), dec!(2200)),
        ];
        let d = drawdowns(&s);
        assert_eq!(d[0], 0.0);
        assert!((d[1] + 0.2).abs() < 1e-12, "{d:?}");
        assert!((d[2] + 0.2).abs() < 1e-12, "the deposit changes nothing: {d:?}");
        assert!((d[3] + 0.12).abs() < 1e-12, "0.8 x 1.1 = 0.88 of the peak: {d:?}");
        assert_eq!(time_weighted_return(&s), dec!(-0.12));
    }

    /// Two running USDT bots add up, a stopped one is kept apart, a bot in another
    /// quote is never added to them, an unreadable one is counted only.
    #[test]
    fn fleet_totals_add_bots_of_one_quote() {
        let p = |v: Decimal, n: Decimal, h: Decimal, f: Decimal| {
            pnl(Notional(v), Notional(n), Notional(h), Notional(f), 0, &[] as &[Snapshot])
        };
        let (usdt, usdc) = (a("USDT"), a("USDC"));
        let one = p(dec!(1100), dec!(1000), dec!(1050), dec!(2));
        let two = p(dec!(450), dec!(500), dec!(400), dec!(1.5));
        let other = p(dec!(10), dec!(20), dec!(10), dec!(0.1));
        let stop = crate::StopSummary {
            at: Timestamp(0),
            returned: BTreeMap::new(),
            value: Notional(dec!(90)),
            net_invested: Notional(dec!(100)),
            profit: Notional(dec!(-10)),
            fees: Notional(dec!(0.5)),
        };
        let t = fleet([
            FleetBot::Running(&usdt, &one),
            FleetBot::Running(&usdc, &other),
            FleetBot::Stopped(&usdt, &stop),
            FleetBot::Running(&usdt, &two),
            FleetBot::Unknown(Some(&usdt)),
        ]);
        assert_eq!(t.len(), 2);
        let u = &t[0];
        assert_eq!(u.quote.as_ref(), Some(&usdt));
        assert_eq!((u.bots, u.running, u.stopped), (4, 2, 1));
        assert_eq!(u.value.0, dec!(1550));
        assert_eq!(u.net_invested.0, dec!(1500));
        assert_eq!(u.profit.0, dec!(50));
        assert_eq!(u.profit_percent, dec!(3.3333));
        assert_eq!(u.hodl_value.0, dec!(1450));
        assert_eq!(u.excess_vs_hodl_percent, dec!(6.8966));
        assert_eq!(u.fees.0, dec!(3.5));
        assert_eq!((u.stopped_profit.0, u.stopped_fees.0), (dec!(-10), dec!(0.5)));
        assert_eq!((t[1].bots, t[1].value.0), (1, dec!(10)));
    }

    /// Hand computed: 1,000 grows 10 % in a day, 500 arrive and the day grows 6.25 %,
    /// then 10 % over six days.
    #[test]
    fn returns_over_periods_remove_cash_flows() {
        const DAY: i64 = 86_400_000;
        let at = |d: i64, v: Decimal, n: Decimal| Snapshot { time: Timestamp(d * DAY), ..snap(v, n) };
        let s = vec![
            at(0, dec!(1000), dec!(1000)),
            at(1, dec!(1100), dec!(1000)),
            at(2, dec!(1700), dec!(1500)),
            at(8, dec!(1870), dec!(1500)),
        ];
        let p = pnl(Notional(dec!(1870)), Notional(dec!(1500)), Notional(dec!(1800)), Notional::ZERO, 1, &s);
        let r: BTreeMap<&str, &PeriodReturn> = p.returns.iter().map(|r| (r.period.as_str(), r)).collect();
        assert_eq!(r.len(), 5);
        // All: 1.1 * 1700 / 1600 * 1.1 = 1.285625; profit = value - net invested.
        assert_eq!((r["all"].return_percent, r["all"].profit.0, r["all"].complete), (dec!(28.5625), dec!(370), true));
        assert_eq!(p.time_weighted_return_percent, dec!(28.5625));
        // 7 days from day 1: 1.0625 * 1.1; the 500 deposited is not profit.
        assert_eq!((r["7d"].from, r["7d"].return_percent, r["7d"].profit.0), (Timestamp(DAY), dec!(16.875), dec!(270)));
        // 24 h from day 7: the last snapshot at or before is day 2.
        assert_eq!(
            (r["24h"].from, r["24h"].return_percent, r["24h"].profit.0),
            (Timestamp(2 * DAY), dec!(10), dec!(170))
        );
        // Younger than 30 days: its whole life, said.
        assert_eq!((r["30d"].return_percent, r["30d"].complete), (dec!(28.5625), false));
        assert_eq!(p.running_ms, 8 * DAY);
        assert_eq!(p.apr_percent, Some(dec!(1303.1641)), "28.5625 % over 8 days, times 365/8");
        assert_eq!(apr(dec!(5), DAY - 1), None);
        assert!(period_return::<Snapshot>(&[], "7d", Some(DAY)).is_none());
    }

    /// Hand computed: a deposit inside a day is not its profit, a withdrawal neither;
    /// a Sunday belongs to the ISO week of the Monday before it; the profits add up to
    /// the life's.
    #[test]
    fn profit_buckets_take_cash_flows_out() {
        use ballast_core::time::days_from_civil;
        const DAY: i64 = 86_400_000;
        const HOUR: i64 = 3_600_000;
        let day = |y, m, d| days_from_civil(y, m, d) * DAY;
        let at = |t: i64, v: Decimal, n: Decimal| Snapshot { time: Timestamp(t), ..snap(v, n) };
        let s = vec![
            at(day(2023, 12, 31) + 12 * HOUR, dec!(1000), dec!(1000)), // a Sunday
            at(day(2024, 1, 1), dec!(1010), dec!(1000)),               // a Monday
            at(day(2024, 1, 1) + 12 * HOUR, dec!(1520), dec!(1500)),   // 500 invested
            at(day(2024, 1, 2), dec!(1500), dec!(1500)),
            at(day(2024, 2, 1), dec!(1400), dec!(1300)), // a Thursday; 200 withdrawn
        ];
        let d = profit_buckets(&s, Bucket::Day);
        let got: Vec<_> = d.iter().map(|b| (b.start.0, b.profit.0, b.return_percent)).collect();
        assert_eq!(
            got,
            vec![
                (day(2023, 12, 31), dec!(0), dec!(0)),
                // 1,000 -> 1,520 with 500 invested: 20 on 1,500.
                (day(2024, 1, 1), dec!(20), dec!(1.3333)),
                (day(2024, 1, 2), dec!(-20), dec!(-1.3158)),
                // 1,500 -> 1,400 with 200 withdrawn: 100 on 1,500.
                (day(2024, 2, 1), dec!(100), dec!(6.6667)),
            ]
        );
        assert_eq!((d[1].from.0, d[1].to.0), (s[0].time.0, s[2].time.0), "from the day before's last snapshot");
        assert_eq!((d[1].invested.0, d[1].withdrawn.0), (dec!(500), dec!(0)));
        assert_eq!((d[3].invested.0, d[3].withdrawn.0, d[3].value.0), (dec!(0), dec!(200), dec!(1400)));
        let w = profit_buckets(&s, Bucket::Week);
        let got: Vec<_> = w.iter().map(|b| (b.start.0, b.profit.0)).collect();
        assert_eq!(got, vec![(day(2023, 12, 25), dec!(0)), (day(2024, 1, 1), dec!(0)), (day(2024, 1, 29), dec!(100))]);
        let m = profit_buckets(&s, Bucket::Month);
        let got: Vec<_> = m.iter().map(|b| (b.start.0, b.profit.0)).collect();
        assert_eq!(got, vec![(day(2023, 12, 1), dec!(0)), (day(2024, 1, 1), dec!(0)), (day(2024, 2, 1), dec!(100))]);
        for b in [d, w, m] {
            assert_eq!(b.iter().map(|b| b.profit.0).sum::<Decimal>(), dec!(100), "the life's profit");
        }
        // The last millisecond of a Sunday is in the week before the Monday's.
        assert_eq!(Bucket::Week.start_of(Timestamp(day(2024, 1, 1) - 1)), day(2023, 12, 25));
        assert_eq!(Bucket::Week.start_of(Timestamp(day(2024, 1, 7) + 23 * HOUR)), day(2024, 1, 1));
        assert_eq!(Bucket::Month.start_of(Timestamp(day(2024, 2, 29) + HOUR)), day(2024, 2, 1));
        // Nothing to measure with fewer than two snapshots.
        assert!(profit_buckets::<Snapshot>(&[], Bucket::Day).is_empty());
        assert!(profit_buckets(&s[..1], Bucket::Month).is_empty());
        assert_eq!("Week".parse::<Bucket>(), Ok(Bucket::Week));
        assert_eq!("hour".parse::<Bucket>().unwrap_err(), "bucket \"hour\": expected \"day\", \"week\" or \"month\"");
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

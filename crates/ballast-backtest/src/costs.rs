//! The exchange mode's execution and cost model: how a planned leg becomes a fill.
//!
//! Without a [`CostModel`] every leg fills at once at the bar's close moved by the
//! slippage, paying the fee (the original exchange mode). With one:
//!
//! - **Spread.** The half-spread of a coin at a bar is
//!   `max(min_half_spread_bps / 10^4, range_fraction * (high - low) / close)`: a fixed
//!   share of the bar's range, with a floor. A cross pair (ETH/BTC) has no candles of
//!   its own here: its half-spread is the sum of its two coins' half-spreads (as wide as
//!   the two quote legs together), and its price is the ratio of their closes.
//! - **Taker** legs fill at once at the close moved by the half-spread against them
//!   (rounded to the tick against them) and pay the taker fee.
//! - **Maker-first** legs rest at the touch (a buy at `close * (1 - half_spread)`, a sell
//!   at `close * (1 + half_spread)`, rounded to the tick in their favour) and fill only
//!   when a later bar trades *through* that price (its low strictly below a buy, its
//!   high strictly above a sell; for a cross pair, its close ratio, which has no range
//!   here); then at that price with the maker fee. Every `reprice` bars a resting leg
//!   moves back to the touch of the bar's close; what is still resting at `deadline`
//!   bars is finished as a taker at that bar's close. Sells are settled before buys; a
//!   buy that the cash cannot cover yet fills only what the cash allows and rests with
//!   the rest. While any leg rests the bot decides nothing (as the engine, which decides
//!   nothing while an order is unresolved); an investment made meanwhile is rebalanced
//!   in once every leg is done.
//!
//! Costs are measured in the quote (USDT) at the price of the bar of the fill:
//! **fees**; **spread** (what the fill price paid over the mid it was priced at; a
//! maker earns it: negative); **delay** (how far the mid moved against the leg between
//! the decision and the pricing of its fill: the cost of waiting, zero for a taker leg
//! filled at the decision bar).

use ballast_core::Asset;
use std::collections::BTreeMap;

use ballast_core::execution::{Execution, LegStyle, OrderStyle};
use ballast_core::planner::{Leg, PairBook, RulesBook, Side, SkipReason, Skipped};
use ballast_core::rules::{PriceRounding, RuleViolation, SymbolRules};
use ballast_core::{Bps, Holdings, Qty, Timestamp};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::backtest::{Prepared, SkippedLeg, Trade};

/// The cost model of the exchange mode.
#[derive(Clone, Debug, PartialEq)]
pub struct CostModel {
    /// The maker fee in bps (the strategy's fee is the taker fee).
    pub maker_fee_bps: Decimal,
    /// Half-spread as a share of the bar's high-low range relative to its close.
    pub range_fraction: Decimal,
    /// The smallest half-spread, in bps.
    pub min_half_spread_bps: Decimal,
}

impl Default for CostModel {
    /// Maker fee 10 bps (Binance's regular rate, the same as its taker rate), half-spread
    /// 1 % of the bar's range, at least 0.5 bps.
    fn default() -> Self {
        Self {
            maker_fee_bps: Decimal::TEN,
            range_fraction: Decimal::new(1, 2),
            min_half_spread_bps: Decimal::new(5, 1),
        }
    }
}

impl CostModel {
    /// Checks the figures, naming the one out of range.
    pub fn validate(&self) -> Result<(), String> {
        Bps::new(self.maker_fee_bps).map_err(|_| {
            format!("maker fee {} bps is out of range (allowed: 0 ..= 1000)", self.maker_fee_bps.normalize())
        })?;
        if self.range_fraction < Decimal::ZERO || self.range_fraction > Decimal::ONE {
            return Err(format!(
                "spread range fraction {} is out of range (allowed: 0 ..= 1)",
                self.range_fraction.normalize()
            ));
        }
        if self.min_half_spread_bps < Decimal::ZERO || self.min_half_spread_bps > Decimal::from(500) {
            return Err(format!(
                "minimum half-spread {} bps is out of range (allowed: 0 ..= 500)",
                self.min_half_spread_bps.normalize()
            ));
        }
        Ok(())
    }
}

/// What execution cost over a run (values in quote).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct CostReport {
    /// Fees paid, the initial buy included.
    pub fees: f64,
    /// Spread paid (negative when earned by maker fills).
    pub spread: f64,
    /// Cost of waiting: the mid's move against resting legs before their fill.
    pub delay: f64,
    /// Traded value, the initial buy included.
    pub traded: f64,
    /// Fills.
    pub legs: usize,
    /// Fills as takers (market orders, or maker-first legs finished at the deadline).
    pub taker_legs: usize,
    /// Fills on a cross pair.
    pub pair_legs: usize,
    /// Mean over the bars after the first of the largest absolute drift from target
    /// (fraction).
    pub mean_drift: f64,
    /// The largest absolute drift from target at any bar after the first.
    pub max_drift: f64,
}

impl CostReport {
    /// The total cost: fees, spread and delay.
    pub fn total(&self) -> f64 {
        self.fees + self.spread + self.delay
    }

    /// The total cost in bps of the traded value.
    pub fn cost_bps(&self) -> f64 {
        if self.traded > 0.0 { self.total() / self.traded * 10_000.0 } else { 0.0 }
    }

    /// Share of fills that were takers.
    pub fn taker_share(&self) -> f64 {
        if self.legs > 0 { self.taker_legs as f64 / self.legs as f64 } else { 0.0 }
    }
}

/// A leg resting as a post-only limit order.
#[derive(Clone, Debug)]
struct Resting {
    leg: Leg,
    left: Decimal,
    price: Decimal,
    /// The mid when it was last priced.
    mid: Decimal,
    /// The mid when it was decided.
    decided_mid: Decimal,
    priced: usize,
    deadline: usize,
    /// It was sent resting (maker-first), with the half-spread when it was decided:
    /// its fills teach the expected cost of waiting on its symbol.
    rested: Option<Decimal>,
}

/// Turns planned legs into fills, bar by bar.
pub(crate) struct Executor<'a> {
    prep: &'a Prepared,
    quote: Asset,
    rules: &'a RulesBook,
    pairs: &'a PairBook,
    taker: Decimal,
    slip: Decimal,
    model: Option<&'a CostModel>,
    maker: Decimal,
    style: OrderStyle,
    reprice_bars: usize,
    deadline_bars: usize,
    resting: Vec<Resting>,
    /// Per symbol (`BASE/QUOTE`), over the fills of legs sent resting so far: what
    /// they cost beyond a maker fill at the touch of their decision, and their value
    /// (both in quote).
    waited: BTreeMap<String, (Decimal, Decimal)>,
    pub(crate) report: CostReport,
}

impl<'a> Executor<'a> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        prep: &'a Prepared,
        quote: Asset,
        rules: &'a RulesBook,
        pairs: &'a PairBook,
        taker: Bps,
        slippage_bps: Decimal,
        model: Option<&'a CostModel>,
        execution: &Execution,
    ) -> Result<Self, String> {
        execution.validate().map_err(|e| e.to_string())?;
        if let Some(m) = model {
            m.validate()?;
        }
        let bar = prep.data.interval.span().secs().max(1);
        let (reprice_bars, deadline_bars) = match execution.style {
            OrderStyle::Taker => (1, 0),
            OrderStyle::MakerFirst { reprice, deadline } => {
                let up = |s: i64| ((s + bar - 1) / bar).max(1) as usize;
                (up(reprice.secs()), up(deadline.secs()))
            }
        };
        Ok(Self {
            prep,
            quote,
            rules,
            pairs,
            taker: taker.fraction(),
            slip: slippage_bps / Decimal::from(10_000),
            model,
            maker: model.map(|m| m.maker_fee_bps / Decimal::from(10_000)).unwrap_or_default(),
            style: execution.style,
            reprice_bars,
            deadline_bars,
            resting: vec![],
            waited: BTreeMap::new(),
            report: CostReport::default(),
        })
    }

    /// True while some leg rests.
    pub(crate) fn busy(&self) -> bool {
        !self.resting.is_empty()
    }

    fn column(&self, a: &Asset) -> Option<usize> {
        self.prep.data.index_of(a)
    }

    /// The close of `a` in quote at bar `g` (1 for the quote).
    fn close(&self, a: &Asset, g: usize) -> Decimal {
        if *a == self.quote {
            return Decimal::ONE;
        }
        self.column(a).map(|i| self.prep.data.closes_exact[i][g]).unwrap_or_default()
    }

    /// The half-spread of a coin against the quote at bar `g`, as a fraction.
    pub(crate) fn half_spread(&self, a: &Asset, g: usize) -> Decimal {
        let (Some(m), Some(i)) = (self.model, self.column(a)) else { return Decimal::ZERO };
        let d = &self.prep.data;
        let c = d.closes_exact[i][g];
        let range = if c > Decimal::ZERO { (d.highs[i][g] - d.lows[i][g]) / c } else { Decimal::ZERO };
        (m.range_fraction * range).max(m.min_half_spread_bps / Decimal::from(10_000))
    }

    fn leg_quote(&self, leg: &Leg) -> Asset {
        leg.quote_or(&self.quote).clone()
    }

    /// The symbol's mid (close ratio for a cross pair) and half-spread at bar `g`.
    fn mid_and_spread(&self, leg: &Leg, g: usize) -> (Decimal, Decimal) {
        let q = self.leg_quote(leg);
        let mid = self.close(&leg.asset, g) / self.close(&q, g);
        let hs =
            self.half_spread(&leg.asset, g) + if q == self.quote { Decimal::ZERO } else { self.half_spread(&q, g) };
        (mid, hs)
    }

    fn symbol_rules(&self, leg: &Leg) -> SymbolRules {
        match &leg.quote {
            Some(q) if *q != self.quote => self.pairs.get(&leg.asset, q).copied().unwrap_or_default(),
            _ => *self.rules.get(&leg.asset),
        }
    }

    /// The pairs book with every symbol's half-spread at bar `g` (for the planner's
    /// choice of direct pairs).
    pub(crate) fn priced_pairs(&self, g: usize) -> PairBook {
        let mut book = self.pairs.clone();
        let bps = |x: Decimal| Bps(x * Decimal::from(10_000));
        for a in &self.prep.data.assets {
            book.half_spreads.insert(PairBook::symbol(a, &self.quote), bps(self.half_spread(a, g)));
        }
        for symbol in self.pairs.rules.keys() {
            if let Some((b, q)) = symbol.split_once('/')
                && let (Ok(b), Ok(q)) = (Asset::new(b), Asset::new(q))
            {
                book.half_spreads.insert(symbol.clone(), bps(self.half_spread(&b, g) + self.half_spread(&q, g)));
            }
        }
        // The expected cost of waiting: what resting has cost on the symbol so far in
        // this run (no look-ahead); before any fill, the planner's default.
        for (symbol, (extra, value)) in &self.waited {
            if *value > Decimal::ZERO {
                book.waits.insert(symbol.clone(), bps(*extra / *value));
            }
        }
        book
    }

    /// Sends a plan's legs at bar `g`: at once as takers, or resting (maker-first).
    pub(crate) fn submit(
        &mut self,
        holdings: &mut Holdings,
        legs: &[Leg],
        g: usize,
        now: Timestamp,
        trades: &mut Vec<Trade>,
        skipped: &mut Vec<SkippedLeg>,
    ) {
        for leg in legs {
            let (mid, hs) = self.mid_and_spread(leg, g);
            // A leg the planner chose to send as a market order (a direct pair whose
            // resting is expected to cost more) does not rest.
            let rests = leg.style != Some(LegStyle::Taker);
            match (self.model, self.style) {
                (Some(_), OrderStyle::MakerFirst { .. }) if rests => {
                    let price = self.touch(leg, mid, hs);
                    self.resting.push(Resting {
                        leg: leg.clone(),
                        left: leg.quantity.0,
                        price,
                        mid,
                        decided_mid: mid,
                        priced: g,
                        deadline: g + self.deadline_bars,
                        rested: Some(hs),
                    });
                }
                _ => {
                    let r = Resting {
                        leg: leg.clone(),
                        left: leg.quantity.0,
                        price: mid,
                        mid,
                        decided_mid: mid,
                        priced: g,
                        deadline: g,
                        rested: None,
                    };
                    if let Some(rest) = self.taker_fill(holdings, &r, g, now, trades, skipped) {
                        // Cash could not cover it all: what is left is skipped.
                        skipped.push(SkippedLeg {
                            time: now,
                            leg: Skipped {
                                asset: leg.asset.clone(),
                                side: leg.side,
                                notional: ballast_core::Notional(rest * leg.price.0),
                                reason: SkipReason::NoCash,
                            },
                        });
                    }
                }
            }
        }
    }

    /// The touch: a buy at the bid, a sell at the ask, rounded in the leg's favour.
    fn touch(&self, leg: &Leg, mid: Decimal, hs: Decimal) -> Decimal {
        let r = self.symbol_rules(leg);
        let (p, how) = match leg.side {
            Side::Buy => (mid * (Decimal::ONE - hs), PriceRounding::Down),
            Side::Sell => (mid * (Decimal::ONE + hs), PriceRounding::Up),
        };
        let rounded = r.round_price(ballast_core::Price(p), how).0;
        if rounded > Decimal::ZERO { rounded } else { p }
    }

    /// Settles resting legs at bar `g` (sells first): fills through the price, then
    /// the deadline, then re-pricing.
    pub(crate) fn advance(
        &mut self,
        holdings: &mut Holdings,
        g: usize,
        now: Timestamp,
        trades: &mut Vec<Trade>,
        skipped: &mut Vec<SkippedLeg>,
    ) {
        let mut resting = std::mem::take(&mut self.resting);
        resting.sort_by_key(|r| r.leg.side);
        let mut keep = Vec::new();
        for mut r in resting {
            if g <= r.priced {
                keep.push(r);
                continue;
            }
            if self.traded_through(&r, g) {
                let fee = self.maker;
                let (price, mid) = (r.price, r.mid);
                let filled = self.fill(holdings, &mut r, price, fee, mid, g, now, trades, false);
                if filled && r.left.is_zero() {
                    continue;
                }
            }
            if g >= r.deadline {
                if let Some(rest) = self.taker_fill(holdings, &r, g, now, trades, skipped) {
                    skipped.push(SkippedLeg {
                        time: now,
                        leg: Skipped {
                            asset: r.leg.asset.clone(),
                            side: r.leg.side,
                            notional: ballast_core::Notional(rest * r.leg.price.0),
                            reason: SkipReason::NoCash,
                        },
                    });
                }
                continue;
            }
            if g - r.priced >= self.reprice_bars {
                let (mid, hs) = self.mid_and_spread(&r.leg, g);
                r.price = self.touch(&r.leg, mid, hs);
                r.mid = mid;
                r.priced = g;
            }
            keep.push(r);
        }
        self.resting = keep;
    }

    fn traded_through(&self, r: &Resting, g: usize) -> bool {
        let d = &self.prep.data;
        let q = self.leg_quote(&r.leg);
        let (lo, hi) = match (q == self.quote, self.column(&r.leg.asset)) {
            (true, Some(i)) => (d.lows[i][g], d.highs[i][g]),
            _ => {
                let m = self.close(&r.leg.asset, g) / self.close(&q, g);
                (m, m)
            }
        };
        match r.leg.side {
            Side::Buy => lo < r.price,
            Side::Sell => hi > r.price,
        }
    }

    /// Fills what is left of `r` as a taker at bar `g`; returns what the cash could not
    /// cover (if anything).
    fn taker_fill(
        &mut self,
        holdings: &mut Holdings,
        r: &Resting,
        g: usize,
        now: Timestamp,
        trades: &mut Vec<Trade>,
        skipped: &mut Vec<SkippedLeg>,
    ) -> Option<Decimal> {
        let rules = self.symbol_rules(&r.leg);
        let (mid, hs) = self.mid_and_spread(&r.leg, g);
        let away = if self.model.is_some() { hs } else { self.slip };
        let (p, how) = match r.leg.side {
            Side::Buy => (mid * (Decimal::ONE + away), PriceRounding::Up),
            Side::Sell => (mid * (Decimal::ONE - away), PriceRounding::Down),
        };
        // Without a cost model the fill keeps the original exchange mode's price: the
        // close moved by the slippage, unrounded.
        let price = if self.model.is_some() { rules.round_price(ballast_core::Price(p), how).0 } else { p };
        let mut r = r.clone();
        let before = r.left;
        if !self.fill(holdings, &mut r, price, self.taker, mid, g, now, trades, true) && before == r.left {
            let v = rules.check(Qty(r.left), ballast_core::Price(price));
            skipped.push(SkippedLeg {
                time: now,
                leg: Skipped {
                    asset: r.leg.asset.clone(),
                    side: r.leg.side,
                    notional: r.leg.notional,
                    reason: SkipReason::Rule(v.unwrap_or(RuleViolation::RoundsToZero { step: rules.step })),
                },
            });
            return None;
        }
        (r.left > Decimal::ZERO).then_some(r.left)
    }

    /// Fills as much of `r` as the holdings allow at `price` with fee rate `fee`;
    /// `mid` is the mid the price was set against. Returns whether anything filled.
    #[allow(clippy::too_many_arguments)]
    fn fill(
        &mut self,
        holdings: &mut Holdings,
        r: &mut Resting,
        price: Decimal,
        fee: Decimal,
        mid: Decimal,
        g: usize,
        now: Timestamp,
        trades: &mut Vec<Trade>,
        taker: bool,
    ) -> bool {
        let rules = self.symbol_rules(&r.leg);
        let q = self.leg_quote(&r.leg);
        let mut qty = r.left;
        match r.leg.side {
            Side::Buy => {
                let cash = holdings.get(&q).copied().unwrap_or_default().0;
                if qty * price * (Decimal::ONE + fee) > cash {
                    qty = rules.floor_qty(Qty(cash / (price * (Decimal::ONE + fee)))).0;
                }
            }
            Side::Sell => {
                qty = qty.min(holdings.get(&r.leg.asset).copied().unwrap_or_default().0);
            }
        }
        if qty <= Decimal::ZERO || rules.check(Qty(qty), ballast_core::Price(price)).is_some() {
            return false;
        }
        let notional = qty * price;
        let fee_paid = notional * fee;
        match r.leg.side {
            Side::Sell => {
                holdings.entry(r.leg.asset.clone()).or_default().0 -= qty;
                holdings.entry(q.clone()).or_default().0 += notional - fee_paid;
            }
            Side::Buy => {
                holdings.entry(r.leg.asset.clone()).or_default().0 += qty;
                holdings.entry(q.clone()).or_default().0 -= notional + fee_paid;
            }
        }
        r.left -= qty;
        // Values in the bot's quote at this bar.
        let rate = self.close(&q, g);
        let sign = if r.leg.side == Side::Buy { Decimal::ONE } else { -Decimal::ONE };
        let f = |x: Decimal| x.to_f64().unwrap_or(0.0);
        self.report.fees += f(fee_paid * rate);
        self.report.spread += f(sign * (price - mid) * qty * rate);
        self.report.delay += f(sign * (mid - r.decided_mid) * qty * rate);
        self.report.traded += f(notional * rate);
        if let Some(hs) = r.rested {
            // Beyond a maker fill at the touch of the decision: the delay, and a
            // taker's fee and spread when the deadline finished it.
            let at_touch = (self.maker - hs) * qty * r.decided_mid * rate;
            let cost = (fee_paid + sign * (price - mid) * qty + sign * (mid - r.decided_mid) * qty) * rate;
            let e = self.waited.entry(PairBook::symbol(&r.leg.asset, &q)).or_default();
            e.0 += cost - at_touch;
            e.1 += qty * r.decided_mid * rate;
        }
        self.report.legs += 1;
        if taker && self.model.is_some() {
            self.report.taker_legs += 1;
        }
        if q != self.quote {
            self.report.pair_legs += 1;
        }
        trades.push(Trade {
            time: now,
            asset: r.leg.asset.clone(),
            side: r.leg.side,
            quantity: f(qty),
            price: f(price),
            notional: f(notional * rate),
            fee: f(fee_paid * rate),
            quote: (q != self.quote).then_some(q),
        });
        true
    }
}

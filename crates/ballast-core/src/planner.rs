//! The rebalancing planner: the orders that bring a portfolio back to its targets.
//!
//! [`plan_rebalance`] takes holdings (quote cash included), prices, targets, the
//! exchange's rules, the fee and the guards, and returns [`Plan`]: legs to send (sells
//! first, then buys), legs skipped with a reason a user can read, and the weights the
//! portfolio is expected to have afterwards.
//!
//! How it sizes the legs:
//! 1. The value after fees `V'` solves `V' = V - f * sum_i |t_i(V') - v_i|`, where
//!    `t_i` is the value the asset should hold (the same fixed point as the
//!    backtester's ideal mode), so that after buying and selling at the current price
//!    and paying fee `f` on every traded notional, the weights land on target.
//! 2. Sells: only the difference, never more than is held, rounded down to the step.
//!    An asset whose target is zero (a removed coin) is sold whole.
//! 3. Buys: sized to the cash the sells will leave after their fees plus the cash
//!    already held; if that is short, every buy shrinks in proportion. Rounded down to
//!    the step, so the plan never spends cash it will not have.
//! 4. A leg that breaks a rule (rounds to zero, below the minimum quantity or the
//!    minimum order value) or a guard (entry price not reached) is skipped and says why.
//!
//! The fee is modelled in the quote currency: a sell of notional `n` yields
//! `n * (1 - f)`, a buy of notional `n` costs `n * (1 + f)`.

use std::collections::BTreeMap;
use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::asset::Asset;
use crate::error::CoreError;
use crate::money::{Bps, Notional, Price, Qty, Weight};
use crate::portfolio::{Drift, Holdings, Prices, Valuation, price_of};
use crate::rules::{PriceRounding, RuleViolation, SymbolRules};
use crate::targets::TargetWeights;
use crate::trigger::Threshold;

/// Per-asset trading rules, with a default for assets not listed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RulesBook {
    /// Rules for assets not listed in `per_asset`.
    #[serde(default)]
    pub default: SymbolRules,
    /// Rules per base asset (against the quote currency).
    #[serde(default)]
    pub per_asset: BTreeMap<Asset, SymbolRules>,
}

impl RulesBook {
    /// The rules for `asset`.
    pub fn get(&self, asset: &Asset) -> &SymbolRules {
        self.per_asset.get(asset).unwrap_or(&self.default)
    }

    /// Checks every rule set.
    pub fn validate(&self) -> Result<(), CoreError> {
        self.default.validate(&Asset::new("DEFAULT")?)?;
        for (a, r) in &self.per_asset {
            r.validate(a)?;
        }
        Ok(())
    }
}

/// Order side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// Sell the asset for quote.
    Sell,
    /// Buy the asset with quote.
    Buy,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sell => "sell",
            Self::Buy => "buy",
        })
    }
}

/// Where a rebalance takes each asset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "to", rename_all = "snake_case")]
pub enum RebalanceTo {
    /// All the way to the target weight.
    #[default]
    Target,
    /// Only back to the edge of the band around the target: assets inside the band are
    /// left alone, assets outside are traded to the nearest edge. Trades less, and
    /// leaves the portfolio just inside the threshold.
    BandEdge {
        /// The band.
        band: Threshold,
    },
}

/// One order of a plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leg {
    /// The asset bought or sold against the quote currency.
    pub asset: Asset,
    /// Buy or sell.
    pub side: Side,
    /// Quantity, a whole number of steps.
    pub quantity: Qty,
    /// The price the plan assumes (the current price).
    pub price: Price,
    /// `quantity * price`.
    pub notional: Notional,
    /// The fee expected, in the quote currency.
    pub fee: Notional,
}

/// Why a leg is not sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SkipReason {
    /// The order would break an exchange rule.
    Rule(RuleViolation),
    /// The asset's entry price guard is not reached: its share stays in quote.
    EntryPrice {
        /// The current price.
        price: Price,
        /// The entry price: buy only at or below it.
        entry: Price,
    },
    /// There is no quote cash to buy with.
    NoCash,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rule(v) => v.fmt(f),
            Self::EntryPrice { price, entry } => {
                write!(f, "price {price} is above the entry price {entry}; its share stays in cash")
            }
            Self::NoCash => f.write_str("no quote cash is available to buy with"),
        }
    }
}

/// A leg the plan wanted but does not send.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// The asset.
    pub asset: Asset,
    /// The side it would have traded.
    pub side: Side,
    /// The value it would have traded, before rounding.
    pub notional: Notional,
    /// Why it is skipped.
    pub reason: SkipReason,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} for {}: {}", self.side, self.asset, self.notional.0.round_dp(2).normalize(), self.reason)
    }
}

/// The result of planning.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The quote currency.
    pub quote: Asset,
    /// Orders to send: every sell before every buy, each group ordered by asset.
    pub legs: Vec<Leg>,
    /// Legs not sent, with the reason.
    pub skipped: Vec<Skipped>,
    /// Portfolio value before the trades.
    pub value_before: Notional,
    /// Portfolio value after the trades and their fees, at the same prices.
    pub value_after: Notional,
    /// Total expected fees.
    pub fees: Notional,
    /// Weights before, per asset (quote cash under the quote's symbol).
    pub weights_before: BTreeMap<Asset, Weight>,
    /// Expected weights after, per asset (quote cash under the quote's symbol).
    pub weights_after: BTreeMap<Asset, Weight>,
    /// The largest absolute drift left after the trades, as a fraction.
    pub max_drift_after: Decimal,
}

impl Plan {
    /// True when there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.legs.is_empty()
    }

    /// The holdings after every leg fills at its planned price and fee.
    pub fn apply(&self, holdings: &Holdings) -> Holdings {
        apply_legs(&self.quote, holdings, &self.legs)
    }
}

/// The holdings after `legs` fill at their price and fee (fee paid in quote).
pub fn apply_legs(quote: &Asset, holdings: &Holdings, legs: &[Leg]) -> Holdings {
    checked_apply_legs(quote, holdings, legs).unwrap_or_else(|_| holdings.clone())
}

/// [`apply_legs`] with checked arithmetic: a sum past the decimal range (at the type's
/// limits) is [`CoreError::Overflow`].
pub fn checked_apply_legs(quote: &Asset, holdings: &Holdings, legs: &[Leg]) -> Result<Holdings, CoreError> {
    let overflow = |leg: &Leg| CoreError::Overflow(format!("{} {} {}", leg.side, leg.quantity, leg.asset));
    let mut h = holdings.clone();
    for leg in legs {
        let base = h.entry(leg.asset.clone()).or_default();
        let (qty, cash_delta) = match leg.side {
            Side::Sell => (base.0.checked_sub(leg.quantity.0), leg.notional.0.checked_sub(leg.fee.0)),
            Side::Buy => (base.0.checked_add(leg.quantity.0), leg.notional.0.checked_add(leg.fee.0).map(|x| -x)),
        };
        base.0 = qty.ok_or_else(|| overflow(leg))?;
        let cash = h.entry(quote.clone()).or_default();
        cash.0 = cash_delta.and_then(|d| cash.0.checked_add(d)).ok_or_else(|| overflow(leg))?;
    }
    Ok(h)
}

/// Everything [`plan_rebalance`] needs.
#[derive(Clone, Copy, Debug)]
pub struct PlanInput<'a> {
    /// Quantities held, quote cash included.
    pub holdings: &'a Holdings,
    /// Current prices of every non-quote asset held or targeted.
    pub prices: &'a Prices,
    /// Target weights (they carry the quote currency).
    pub targets: &'a TargetWeights,
    /// The exchange's rules.
    pub rules: &'a RulesBook,
    /// Taker fee.
    pub fee: Bps,
    /// Rebalance to the target or to the band edge.
    pub to: RebalanceTo,
    /// Entry prices: an asset is bought only at or below its entry price.
    pub entry_prices: &'a BTreeMap<Asset, Price>,
}

/// Differences smaller than this share of the portfolio are numerical noise, not
/// trades: they get neither a leg nor a skip reason.
const NOISE: Decimal = Decimal::from_parts(1, 0, 0, false, 12);

/// Plans a rebalance. See the module documentation for the method.
///
/// A leg that is skipped (a rule or a guard) does not trade, so it pays no fee and
/// moves no cash: the plan is computed again with those assets held where they are,
/// until the set of skipped legs settles (at most once per asset). The result is that
/// planning again right after the plan is applied finds nothing to do.
pub fn plan_rebalance(input: &PlanInput<'_>) -> Result<Plan, CoreError> {
    let mut frozen: BTreeMap<Asset, Skipped> = BTreeMap::new();
    loop {
        let plan = plan_pass(input, &frozen)?;
        let before = frozen.len();
        for s in &plan.skipped {
            if matches!(s.reason, SkipReason::Rule(_)) {
                frozen.entry(s.asset.clone()).or_insert_with(|| s.clone());
            }
        }
        if frozen.len() == before {
            return Ok(plan);
        }
    }
}

fn plan_pass(input: &PlanInput<'_>, frozen: &BTreeMap<Asset, Skipped>) -> Result<Plan, CoreError> {
    let quote = input.targets.quote();
    input.rules.validate()?;
    let valuation = Valuation::new(quote, input.holdings, input.prices, Some(input.targets))?;
    let v = valuation.total.0;
    // Every sum below is at most a few times the portfolio's value (the fees are at
    // most 10 %): bounded here, none of them can overflow.
    if v > Decimal::MAX / Decimal::from(1000) {
        return Err(CoreError::Overflow(format!("planning a portfolio worth {}", v.normalize())));
    }
    let f = input.fee.fraction();
    let assets: Vec<&Asset> = valuation.values.keys().collect();

    // Blocked: the entry price is not reached, so the asset may not be bought.
    let mut blocked = BTreeMap::new();
    for a in &assets {
        if let Some(entry) = input.entry_prices.get(*a) {
            let price = price_of(input.prices, a)?;
            if price > *entry {
                blocked.insert((*a).clone(), (price, *entry));
            }
        }
    }

    // Desired change of value per asset (positive: buy).
    let desired: BTreeMap<&Asset, Decimal> = match input.to {
        RebalanceTo::Target => {
            let deltas = |v_after: Decimal| -> BTreeMap<&Asset, Decimal> {
                assets
                    .iter()
                    .map(|a| {
                        let d = input.targets.weight(a).0 * v_after - valuation.values[*a].0;
                        let d = if blocked.contains_key(*a) { d.min(Decimal::ZERO) } else { d };
                        (*a, if frozen.contains_key(*a) { Decimal::ZERO } else { d })
                    })
                    .collect()
            };
            let mut v_after = v;
            for _ in 0..64 {
                let traded: Decimal = deltas(v_after).values().map(|d| d.abs()).sum();
                let next = v - f * traded;
                let done = (next - v_after).abs() <= v * NOISE * NOISE;
                v_after = next;
                if done {
                    break;
                }
            }
            deltas(v_after)
        }
        RebalanceTo::BandEdge { band } => assets
            .iter()
            .map(|a| {
                let w = input.targets.weight(a).0;
                let current = valuation.weight(a).0;
                let x = band.fraction();
                let (lo, hi) = match band.kind() {
                    crate::DriftKind::Absolute => (w - x, w + x),
                    crate::DriftKind::Relative => (w * (Decimal::ONE - x), w * (Decimal::ONE + x)),
                };
                let (lo, hi) = if w.is_zero() { (Decimal::ZERO, Decimal::ZERO) } else { (lo.max(Decimal::ZERO), hi) };
                let goal = current.max(lo).min(hi);
                let d = (goal - current) * v;
                let d = if blocked.contains_key(*a) { d.min(Decimal::ZERO) } else { d };
                (*a, if frozen.contains_key(*a) { Decimal::ZERO } else { d })
            })
            .collect(),
    };

    let noise = v * NOISE;
    let mut legs = Vec::new();
    // Legs an earlier pass found it cannot send stay skipped, with their reason.
    let mut skipped: Vec<Skipped> = frozen.values().cloned().collect();

    // Entry-price guards: say why an asset that should be bought is not.
    for a in &assets {
        if let Some((price, entry)) = blocked.get(*a) {
            let wanted = input.targets.weight(a).0 * v - valuation.values[*a].0;
            if wanted > noise {
                skipped.push(Skipped {
                    asset: (*a).clone(),
                    side: Side::Buy,
                    notional: Notional(wanted),
                    reason: SkipReason::EntryPrice { price: *price, entry: *entry },
                });
            }
        }
    }

    // Sells.
    let mut cash = valuation.cash.0;
    for (a, d) in &desired {
        let held = input.holdings.get(*a).copied().unwrap_or_default();
        // A coin whose target is zero is sold whole, however little is left.
        let sell_all = input.targets.weight(a).is_zero() && !frozen.contains_key(*a) && !held.is_zero();
        if *d >= -noise && !sell_all {
            continue;
        }
        let rules = input.rules.get(a);
        // A market sell executes at the price rounded down to the tick, at worst.
        let price = market_price(rules, input.prices[*a], PriceRounding::Down);
        let wanted = if sell_all { held } else { Qty(units(-*d, price, a)?).min(held) };
        let qty = rules.floor_qty(wanted);
        let notional = if sell_all { held * price } else { Notional(-*d) };
        match rules.check(qty, price) {
            Some(v) => {
                skipped.push(Skipped { asset: (*a).clone(), side: Side::Sell, notional, reason: SkipReason::Rule(v) })
            }
            None => {
                let leg = leg(a, Side::Sell, qty, price, f);
                cash += leg.notional.0 - leg.fee.0;
                legs.push(leg);
            }
        }
    }

    // Buys, scaled to the cash there will be.
    let buys: Vec<(&Asset, Decimal)> = desired.iter().filter(|(_, d)| **d > noise).map(|(a, d)| (*a, *d)).collect();
    let cost: Decimal = buys.iter().map(|(_, d)| *d * (Decimal::ONE + f)).sum();
    let scale = if cost > cash { (cash.max(Decimal::ZERO)) / cost } else { Decimal::ONE };
    let mut buy_legs = Vec::new();
    for (a, d) in buys {
        if scale.is_zero() {
            skipped.push(Skipped {
                asset: a.clone(),
                side: Side::Buy,
                notional: Notional(d),
                reason: SkipReason::NoCash,
            });
            continue;
        }
        let rules = input.rules.get(a);
        // A market buy executes at the price rounded up to the tick, at worst: sized
        // at that price, the buys never need more cash than the sells leave.
        let price = market_price(rules, input.prices[a], PriceRounding::Up);
        let qty = rules.floor_qty(Qty(units(d * scale, price, a)?));
        match rules.check(qty, price) {
            Some(v) => skipped.push(Skipped {
                asset: a.clone(),
                side: Side::Buy,
                notional: Notional(d),
                reason: SkipReason::Rule(v),
            }),
            None => buy_legs.push(leg(a, Side::Buy, qty, price, f)),
        }
    }
    // Rounding inside the decimal arithmetic must never make the buys overspend:
    // trim a step off the largest buy until they fit (in practice never needed).
    while buy_legs.iter().map(|l| l.notional.0 + l.fee.0).sum::<Decimal>() > cash {
        let Some(i) = (0..buy_legs.len()).max_by_key(|&i| buy_legs[i].notional) else { break };
        let l = &buy_legs[i];
        let rules = input.rules.get(&l.asset);
        let step = if rules.step.is_zero() { l.quantity.0 / Decimal::from(1_000_000) } else { rules.step };
        // At least a step, and at least the units the excess pays for; with a quantity
        // too small for a millionth of it to count, the whole leg (the loop always
        // makes progress).
        let total: Decimal = buy_legs.iter().map(|l| l.notional.0 + l.fee.0).sum();
        let per_unit = l.price.0 * (Decimal::ONE + f);
        let over = (total - cash).checked_div(per_unit).unwrap_or(l.quantity.0);
        let cut = if step.is_zero() { l.quantity.0 } else { step.max(rules.floor_qty(Qty(over)).0) };
        let qty = Qty((l.quantity.0 - cut).max(Decimal::ZERO));
        let (asset, price) = (l.asset.clone(), l.price);
        match rules.check(qty, price) {
            Some(v) => {
                skipped.push(Skipped {
                    asset,
                    side: Side::Buy,
                    notional: buy_legs[i].notional,
                    reason: SkipReason::Rule(v),
                });
                buy_legs.remove(i);
            }
            None => buy_legs[i] = leg(&asset, Side::Buy, qty, price, f),
        }
    }
    legs.extend(buy_legs);
    skipped.sort_by(|x, y| (x.side, &x.asset).cmp(&(y.side, &y.asset)));

    finish(quote, input.holdings, input.prices, Some(input.targets), &valuation, legs, skipped)
}

/// The plan of `legs` from `holdings`: values and weights before and after, fees, and
/// the drift left against `targets` (zero without targets).
fn finish(
    quote: &Asset,
    holdings: &Holdings,
    prices: &Prices,
    targets: Option<&TargetWeights>,
    valuation: &Valuation,
    legs: Vec<Leg>,
    skipped: Vec<Skipped>,
) -> Result<Plan, CoreError> {
    let after = checked_apply_legs(quote, holdings, &legs)?;
    let after_val = Valuation::new(quote, &after, prices, targets)?;
    let max_drift_after = targets.map(|t| Drift::new(&after_val, t).max_absolute()).unwrap_or_default();
    let fees: Notional = legs.iter().map(|l| l.fee).sum();
    Ok(Plan {
        quote: quote.clone(),
        legs,
        skipped,
        value_before: valuation.total,
        value_after: after_val.total,
        fees,
        weights_before: weights_with_cash(quote, valuation),
        weights_after: weights_with_cash(quote, &after_val),
        max_drift_after,
    })
}

/// How many units of `asset` a value buys at `price` (a tiny price can make that
/// number too large for the decimal type: an error, not a panic).
/// The worst price a market order can execute at: the price rounded to the tick against
/// the order (down for a sell, up for a buy). A price below one tick is not a venue's
/// price; it is left as it is.
fn market_price(rules: &SymbolRules, price: Price, how: PriceRounding) -> Price {
    if price.0 < rules.tick { price } else { rules.round_price(price, how) }
}

fn units(value: Decimal, price: Price, asset: &Asset) -> Result<Decimal, CoreError> {
    value.checked_div(price.0).ok_or_else(|| CoreError::Overflow(format!("{value} of {asset} at price {price}")))
}

fn leg(asset: &Asset, side: Side, quantity: Qty, price: Price, f: Decimal) -> Leg {
    let notional = quantity * price;
    Leg { asset: asset.clone(), side, quantity, price, notional, fee: Notional(notional.0 * f) }
}

fn weights_with_cash(quote: &Asset, v: &Valuation) -> BTreeMap<Asset, Weight> {
    let mut w = v.weights();
    w.insert(quote.clone(), v.cash_weight());
    w
}

/// Plans selling every non-quote asset held to the quote currency (a stop, a
/// stop-loss or a take-profit). What cannot be sold (below the exchange's minimums)
/// is listed as skipped: that dust stays.
pub fn plan_liquidation(
    quote: &Asset,
    holdings: &Holdings,
    prices: &Prices,
    rules: &RulesBook,
    fee: Bps,
) -> Result<Plan, CoreError> {
    rules.validate()?;
    let valuation = Valuation::new(quote, holdings, prices, None)?;
    let f = fee.fraction();
    let mut legs = Vec::new();
    let mut skipped = Vec::new();
    for (asset, held) in holdings {
        if asset == quote || held.is_zero() {
            continue;
        }
        let r = rules.get(asset);
        let price = prices[asset];
        let qty = r.floor_qty(*held);
        match r.check(qty, price) {
            Some(v) => skipped.push(Skipped {
                asset: asset.clone(),
                side: Side::Sell,
                notional: *held * price,
                reason: SkipReason::Rule(v),
            }),
            None => legs.push(leg(asset, Side::Sell, qty, price, f)),
        }
    }
    finish(quote, holdings, prices, None, &valuation, legs, skipped)
}

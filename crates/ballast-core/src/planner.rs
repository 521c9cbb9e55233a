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
use crate::execution::{Execution, FeeRates, FeeReserve, LegStyle, SymbolCost, cheapest, expected_cost};
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

/// The venue's cross pairs (a symbol whose quote is not the bot's quote, such as
/// ETH/BTC) with their rules, and what is known of each symbol's half-spread (the cost
/// of crossing it, in bps of the traded value; unknown is zero). Used to trade a pair
/// directly instead of two quote legs ([`direct_pairs`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairBook {
    /// Rules per cross pair, keyed `BASE/QUOTE`.
    #[serde(default)]
    pub rules: BTreeMap<String, SymbolRules>,
    /// Half-spread per symbol (`BASE/QUOTE`, cross pairs and quote legs alike).
    #[serde(default)]
    pub half_spreads: BTreeMap<String, Bps>,
    /// The expected cost of waiting for a maker fill per symbol (see
    /// [`SymbolCost::wait`]); unknown is the symbol's half-spread: a resting order is
    /// expected to give back to the move it waits for what it earns at the touch.
    #[serde(default)]
    pub waits: BTreeMap<String, Bps>,
}

impl PairBook {
    /// The key of a symbol.
    pub fn symbol(base: &Asset, quote: &Asset) -> String {
        format!("{base}/{quote}")
    }

    /// Lists the pair `base/quote` with its rules.
    pub fn insert(&mut self, base: &Asset, quote: &Asset, rules: SymbolRules) {
        self.rules.insert(Self::symbol(base, quote), rules);
    }

    /// The rules of the pair `base/quote`, if listed.
    pub fn get(&self, base: &Asset, quote: &Asset) -> Option<&SymbolRules> {
        self.rules.get(&Self::symbol(base, quote))
    }

    /// The half-spread of a symbol as a fraction (zero when unknown).
    pub fn half_spread(&self, base: &Asset, quote: &Asset) -> Decimal {
        self.half_spreads.get(&Self::symbol(base, quote)).map(|b| b.fraction()).unwrap_or_default()
    }

    /// What is known of the cost of trading `base/quote` (see [`PairBook::waits`]).
    pub fn cost(&self, base: &Asset, quote: &Asset) -> SymbolCost {
        let half_spread = self.half_spread(base, quote);
        let wait = self.waits.get(&Self::symbol(base, quote)).map_or(half_spread, |b| b.fraction());
        SymbolCost { half_spread, wait }
    }

    /// True when no pair is listed.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Checks every pair's rules.
    pub fn validate(&self) -> Result<(), CoreError> {
        for (symbol, r) in &self.rules {
            let Some((b, q)) = symbol.split_once('/') else {
                return Err(CoreError::Rules { asset: symbol.clone(), problem: "a pair is written BASE/QUOTE".into() });
            };
            let (b, q) = (Asset::new(b)?, Asset::new(q)?);
            if b == q {
                return Err(CoreError::Rules { asset: symbol.clone(), problem: "base and quote are the same".into() });
            }
            r.validate(&b)?;
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
    /// The quote of the symbol when it is not the bot's quote currency (a direct pair
    /// such as ETH/BTC): then `price`, `notional` and `fee` are in this asset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<Asset>,
    /// Why the leg trades as it does, when that is a choice the user should see (a
    /// direct pair instead of two quote legs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// How the leg is sent when the planner chose it (a direct pair sent as a market
    /// order by a maker-first bot); `None` is the bot's style.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<LegStyle>,
}

impl Leg {
    /// The quote of the leg's symbol: its own (a direct pair) or `bot_quote`.
    pub fn quote_or<'a>(&'a self, bot_quote: &'a Asset) -> &'a Asset {
        self.quote.as_ref().unwrap_or(bot_quote)
    }
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
        let quote = leg.quote_or(quote);
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
    plan_goal(input, Goal::To(input.to))
}

/// What cash is moving: new money spent, or money to be taken out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NewCash<'a> {
    /// An investment: the quote cash held is spent, and so are `coins`, the coins
    /// just invested (none for an investment of quote), as far as the underweight
    /// coins need them: new money either way.
    Invested {
        /// The quantities of coins invested (at most what is held counts).
        coins: &'a Holdings,
    },
    /// This much quote is to be withdrawn: it is raised (and kept) as cash.
    Withdraw(Notional),
}

/// Plans the rebalance that follows new cash, **cash first**.
///
/// - [`NewCash::Invested`]: the quote cash buys the underweight coins first, lifting
///   the most underweight (relative to target) first; a coin is sold only when it is
///   above the band's upper edge (down to that edge) or when the cash cannot lift every
///   coin to the band's lower edge (then the coins above target give up their excess in
///   proportion, only as much as needed). Without a band (`None`) nothing is sold
///   except coins whose target is zero. Coins just invested count as cash that is
///   still in them: the portfolio is judged without them, and they are sold as far as
///   the buys need more than the quote cash (in proportion, when several).
/// - [`NewCash::Withdraw`]: raises the amount by selling the most overweight coins
///   first (down to a common level relative to target), buys nothing, and keeps the
///   proceeds as cash.
///
/// Legs are sized, rounded and checked exactly like [`plan_rebalance`]'s (skips with
/// their reasons, the plan computed again with a skipped asset held in place).
pub fn rebalance_with_cash(
    input: &PlanInput<'_>,
    band: Option<Threshold>,
    cash: NewCash<'_>,
) -> Result<Plan, CoreError> {
    match cash {
        NewCash::Invested { coins } => plan_goal(input, Goal::CashFirst { band, coins }),
        NewCash::Withdraw(amount) => {
            if amount.0 < Decimal::ZERO {
                return Err(CoreError::OutOfRange {
                    what: "withdrawal".into(),
                    value: amount.0.to_string(),
                    range: "0 or more".into(),
                });
            }
            plan_goal(input, Goal::Raise(amount.0))
        }
    }
}

/// Where a plan takes the portfolio.
#[derive(Clone, Copy, Debug)]
enum Goal<'a> {
    To(RebalanceTo),
    CashFirst { band: Option<Threshold>, coins: &'a Holdings },
    Raise(Decimal),
}

fn plan_goal(input: &PlanInput<'_>, goal: Goal<'_>) -> Result<Plan, CoreError> {
    let mut frozen: BTreeMap<Asset, Skipped> = BTreeMap::new();
    loop {
        let plan = plan_pass(input, &frozen, goal)?;
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

fn plan_pass(input: &PlanInput<'_>, frozen: &BTreeMap<Asset, Skipped>, goal: Goal<'_>) -> Result<Plan, CoreError> {
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
    let desired: BTreeMap<&Asset, Decimal> = match goal {
        Goal::CashFirst { band, coins } => {
            let held = |a: &Asset| if frozen.contains_key(a) { None } else { Some(valuation.values[a].0) };
            // The value of the coins just invested, at most what is held of them.
            let mut added = BTreeMap::new();
            for (a, q) in coins {
                if let Some(val) = valuation.values.get(a)
                    && a != quote
                {
                    added.insert(a, (q.0.max(Decimal::ZERO) * price_of(input.prices, a)?.0).min(val.0));
                }
            }
            cash_first(&assets, input.targets, &valuation, f, band, &|a| blocked.contains_key(a), &held, &added)
        }
        Goal::Raise(amount) => {
            let held = |a: &Asset| if frozen.contains_key(a) { None } else { Some(valuation.values[a].0) };
            raise_cash(&assets, input.targets, &valuation, f, amount, &held)
        }
        Goal::To(RebalanceTo::Target) => {
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
        Goal::To(RebalanceTo::BandEdge { band }) => assets
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
    // Fees in quote; a direct pair's fee is in its own quote, valued at its price.
    let mut fees = Notional::default();
    for l in &legs {
        let rate = match &l.quote {
            Some(q) if q != quote => price_of(prices, q)?.0,
            _ => Decimal::ONE,
        };
        fees.0 += l.fee.0 * rate;
    }
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
    Leg {
        asset: asset.clone(),
        side,
        quantity,
        price,
        notional,
        fee: Notional(notional.0 * f),
        quote: None,
        why: None,
        style: None,
    }
}

/// The band edges of a target weight `w` as fractions: `(lo, hi)`; no band is
/// `(0, None)`.
fn band_edges(w: Decimal, band: Option<Threshold>) -> (Decimal, Option<Decimal>) {
    let Some(band) = band else { return (Decimal::ZERO, None) };
    let x = band.fraction();
    let (lo, hi) = match band.kind() {
        crate::DriftKind::Absolute => (w - x, w + x),
        crate::DriftKind::Relative => (w * (Decimal::ONE - x), w * (Decimal::ONE + x)),
    };
    (lo.max(Decimal::ZERO), Some(hi))
}

/// Bisection on `[0, 1]` for the largest `x` with `total(x) <= budget`, `total`
/// non-decreasing (60 halvings: far below a unit of any quote).
fn largest_within(budget: Decimal, total: &dyn Fn(Decimal) -> Decimal) -> Decimal {
    if total(Decimal::ONE) <= budget {
        return Decimal::ONE;
    }
    let (mut lo, mut hi) = (Decimal::ZERO, Decimal::ONE);
    for _ in 0..60 {
        let mid = (lo + hi) / Decimal::TWO;
        if total(mid) <= budget {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// The changes of value of a cash-first investment (see [`rebalance_with_cash`]).
/// `held(a)` is `None` for an asset held in place (a skipped leg).
#[allow(clippy::too_many_arguments)]
fn cash_first<'a>(
    assets: &[&'a Asset],
    targets: &TargetWeights,
    valuation: &Valuation,
    f: Decimal,
    band: Option<Threshold>,
    blocked: &dyn Fn(&Asset) -> bool,
    held: &dyn Fn(&Asset) -> Option<Decimal>,
    added: &BTreeMap<&Asset, Decimal>,
) -> BTreeMap<&'a Asset, Decimal> {
    let v = valuation.total.0;
    // Coins just invested are cash still in them: each coin is judged without them
    // (a coin held in place, `None`, keeps them), and they are sold last, as far as the
    // buys need them.
    let new_in = |a: &Asset| if held(a).is_some() { added.get(a).copied().unwrap_or_default() } else { Decimal::ZERO };
    let held = |a: &Asset| held(a).map(|val| val - new_in(a));
    let in_coins: Decimal = assets.iter().map(|a| new_in(a)).sum::<Decimal>() * (Decimal::ONE - f);
    let mut sells: BTreeMap<&Asset, Decimal> = BTreeMap::new();
    // Above the band's upper edge: down to it (a zero target: all of it).
    for a in assets {
        let Some(val) = held(a) else { continue };
        let w = targets.weight(a).0;
        let (_, hi) = band_edges(w, band);
        let cut = match hi {
            _ if w.is_zero() => val,
            Some(hi) => (val - hi * v).max(Decimal::ZERO),
            None => Decimal::ZERO,
        };
        sells.insert(*a, cut);
    }
    let mut cash = valuation.cash.0 + sells.values().sum::<Decimal>() * (Decimal::ONE - f) + in_coins;
    // Below the band's lower edge: the least that must be bought.
    let need: BTreeMap<&Asset, Decimal> = assets
        .iter()
        .filter(|a| !blocked(a) && held(a).is_some())
        .map(|a| {
            let (lo, _) = band_edges(targets.weight(a).0, band);
            (*a, (lo * v - held(a).unwrap_or_default()).max(Decimal::ZERO))
        })
        .collect();
    let needed: Decimal = need.values().sum::<Decimal>() * (Decimal::ONE + f);
    if needed > cash {
        // Not enough cash for the band: the coins above target give up their excess
        // over target in proportion, only as much as needed.
        let excess: BTreeMap<&Asset, Decimal> = assets
            .iter()
            .filter_map(|a| {
                let val = held(a)? - sells.get(a).copied().unwrap_or_default();
                Some((*a, (val - targets.weight(a).0 * v).max(Decimal::ZERO)))
            })
            .collect();
        let total: Decimal = excess.values().sum();
        if total > Decimal::ZERO {
            let extra = (needed - cash) / (Decimal::ONE - f);
            let t = (extra / total).min(Decimal::ONE);
            for (a, e) in &excess {
                *sells.entry(a).or_default() += e * t;
            }
            cash += total * t * (Decimal::ONE - f);
        }
    }
    // Buys: lift the most underweight first (a common level `x` of their target
    // value), never past the target, at least what the band needs.
    let budget = cash.max(Decimal::ZERO) / (Decimal::ONE + f);
    let buy = |a: &Asset, x: Decimal| -> Decimal {
        let Some(val) = held(a) else { return Decimal::ZERO };
        if blocked(a) {
            return Decimal::ZERO;
        }
        let goal = targets.weight(a).0 * v;
        let floor = need.get(a).copied().unwrap_or_default();
        (x * goal - val).max(floor).min((goal - val).max(Decimal::ZERO)).max(Decimal::ZERO)
    };
    let x = largest_within(budget, &|x| assets.iter().map(|a| buy(a, x)).sum());
    // What the buys take from the coins invested: what the quote cash does not cover.
    let spent: Decimal = assets.iter().map(|a| buy(a, x)).sum::<Decimal>() * (Decimal::ONE + f);
    let from_coins = if in_coins > Decimal::ZERO {
        ((spent - (cash - in_coins)) / in_coins).max(Decimal::ZERO).min(Decimal::ONE)
    } else {
        Decimal::ZERO
    };
    assets
        .iter()
        .map(|a| (*a, buy(a, x) - sells.get(a).copied().unwrap_or_default() - new_in(a) * from_coins))
        .collect()
}

/// The changes of value that raise `amount` of cash (see [`rebalance_with_cash`]):
/// the most overweight coins are sold first, down to a common level of their target
/// value in what remains after the withdrawal.
fn raise_cash<'a>(
    assets: &[&'a Asset],
    targets: &TargetWeights,
    valuation: &Valuation,
    f: Decimal,
    amount: Decimal,
    held: &dyn Fn(&Asset) -> Option<Decimal>,
) -> BTreeMap<&'a Asset, Decimal> {
    let short = (amount - valuation.cash.0).max(Decimal::ZERO) / (Decimal::ONE - f);
    let rest = (valuation.total.0 - amount).max(Decimal::ZERO);
    // Sold at level `y` (1 = down to target in what remains, 0 = everything).
    let sell = |a: &Asset, y: Decimal| -> Decimal {
        let Some(val) = held(a) else { return Decimal::ZERO };
        (val - y * targets.weight(a).0 * rest).max(Decimal::ZERO)
    };
    let mut out: BTreeMap<&Asset, Decimal> = assets.iter().map(|a| (*a, Decimal::ZERO)).collect();
    if short.is_zero() {
        return out;
    }
    // The smallest sale that raises enough: the highest level `y` (searched on 0 ..= 4
    // times the target) at which the sales still cover the shortfall.
    let scale = Decimal::from(4);
    let level = largest_within(-short, &|t| -assets.iter().map(|a| sell(a, t * scale)).sum::<Decimal>());
    for a in assets {
        out.insert(*a, -sell(a, level * scale));
    }
    out
}

fn weights_with_cash(quote: &Asset, v: &Valuation) -> BTreeMap<Asset, Weight> {
    let mut w = v.weights();
    w.insert(quote.clone(), v.cash_weight());
    w
}

/// Trades cross pairs instead of two quote legs where that is cheaper.
///
/// For each sell leg of A and buy leg of B (largest first) whose pair A/B or B/A is in
/// `pairs`, the value both legs share is traded on the pair when the pair's leg is
/// expected to cost less than the two quote legs ([`expected_cost`]): the quote legs
/// in the bot's style (`exec`), the pair's in the cheapest style the bot may send it
/// in (a maker-first bot may send it as a market order: [`Leg::style`]), at the fee
/// `rates` and the spreads and waits of `pairs` ([`PairBook::cost`]); and the pair's rules pass (its quantity floored to its step, its price rounded to its
/// tick against the order, its minimum quantity and value in its own quote). The price
/// is the cross price of the two quote prices. The quote legs keep what the pair does
/// not trade; a remainder that breaks a rule is skipped with that reason. The pair's
/// leg says why it was chosen, and in which style, with both expected costs
/// ([`Leg::why`]); its fee is in its own quote. Sizing uses the taker rate.
#[allow(clippy::too_many_arguments)]
pub fn direct_pairs(
    plan: &Plan,
    holdings: &Holdings,
    prices: &Prices,
    targets: Option<&TargetWeights>,
    rules: &RulesBook,
    pairs: &PairBook,
    exec: &Execution,
    rates: FeeRates,
) -> Result<Plan, CoreError> {
    pairs.validate()?;
    let quote = &plan.quote;
    let f = rates.taker.fraction();
    let quote_style = exec.leg_style();
    let direct = |l: &Leg| l.quote.as_ref().is_none_or(|q| q == quote);
    let mut sells: Vec<(Leg, Decimal)> =
        plan.legs.iter().filter(|l| l.side == Side::Sell && direct(l)).map(|l| (l.clone(), l.quantity.0)).collect();
    let mut buys: Vec<(Leg, Decimal)> =
        plan.legs.iter().filter(|l| l.side == Side::Buy && direct(l)).map(|l| (l.clone(), l.quantity.0)).collect();
    if sells.is_empty() || buys.is_empty() || pairs.is_empty() {
        return Ok(plan.clone());
    }
    sells.sort_by_key(|x| std::cmp::Reverse(x.0.notional));
    buys.sort_by_key(|x| std::cmp::Reverse(x.0.notional));
    let mut cross: Vec<Leg> = Vec::new();
    for (s_leg, s_left) in sells.iter_mut() {
        for (b_leg, b_left) in buys.iter_mut() {
            let (a, b) = (&s_leg.asset, &b_leg.asset);
            // Base, quote, side and rules of the pair, if listed.
            let (base, pq, side, r) = match (pairs.get(a, b), pairs.get(b, a)) {
                (Some(r), _) => (a, b, Side::Sell, r),
                (None, Some(r)) => (b, a, Side::Buy, r),
                (None, None) => continue,
            };
            let (pa, pb) = (price_of(prices, a)?.0, price_of(prices, b)?.0);
            let shared = (*s_left * pa).min(*b_left * pb);
            if shared <= Decimal::ZERO {
                continue;
            }
            let two = expected_cost(quote_style, rates, pairs.cost(a, quote))
                + expected_cost(quote_style, rates, pairs.cost(b, quote));
            let Some((style, one)) = cheapest(exec.leg_styles(), rates, pairs.cost(base, pq)) else { continue };
            if one >= two {
                continue;
            }
            let (p_base, p_quote) = (price_of(prices, base)?.0, price_of(prices, pq)?.0);
            let raw = Price(p_base / p_quote);
            let price = market_price(r, raw, if side == Side::Sell { PriceRounding::Down } else { PriceRounding::Up });
            // Buying B on B/A pays the fee in A: A must cover the value and the fee.
            let spend = if side == Side::Buy { shared / (Decimal::ONE + f) } else { shared };
            let qty = r.floor_qty(Qty(units(spend, Price(p_base), base)?));
            if price.0 <= Decimal::ZERO || r.check(qty, price).is_some() {
                continue;
            }
            let notional = qty * price;
            // What the pair takes off each quote leg, in that leg's units.
            // Selling A on A/B: A goes, B comes (in B); buying B on B/A: A goes (in A).
            let (took_a, took_b) =
                if base == a { (qty.0, notional.0) } else { (notional.0 * (Decimal::ONE + f), qty.0) };
            *s_left = (*s_left - took_a).max(Decimal::ZERO);
            *b_left = (*b_left - took_b).max(Decimal::ZERO);
            let saved = shared * (two - one);
            cross.push(Leg {
                asset: base.clone(),
                side,
                quantity: qty,
                price,
                notional,
                fee: Notional(notional.0 * f),
                quote: Some(pq.clone()),
                why: Some(format!(
                    "direct pair {base}/{pq} as {style} instead of selling {a} and buying {b} through {quote} as {quote_style}s: expected {} bps against {} bps, about {} {quote} cheaper",
                    bps(one),
                    bps(two),
                    saved.round_dp(4).normalize()
                )),
                style: (style != quote_style).then_some(style),
            });
        }
    }
    if cross.is_empty() {
        return Ok(plan.clone());
    }
    let mut skipped = plan.skipped.clone();
    let mut legs = Vec::new();
    for (leg, left) in sells.iter().chain(buys.iter()) {
        let r = rules.get(&leg.asset);
        let qty = r.floor_qty(Qty(*left));
        if qty.0.is_zero() {
            continue;
        }
        if qty.0 == leg.quantity.0 {
            legs.push(leg.clone());
            continue;
        }
        match r.check(qty, leg.price) {
            None => legs.push(self::leg(&leg.asset, leg.side, qty, leg.price, f)),
            Some(v) => skipped.push(Skipped {
                asset: leg.asset.clone(),
                side: leg.side,
                notional: qty * leg.price,
                reason: SkipReason::Rule(v),
            }),
        }
    }
    // A sell remainder that could not be sent raises no cash: the quote buys shrink
    // (largest first) until they fit the cash there will be.
    loop {
        let mut all = cross.clone();
        all.extend(legs.iter().cloned());
        let short = -checked_apply_legs(quote, holdings, &all)?.get(quote).copied().unwrap_or_default().0;
        if short <= Decimal::ZERO {
            break;
        }
        let Some(i) = (0..legs.len()).filter(|&i| legs[i].side == Side::Buy).max_by_key(|&i| legs[i].notional) else {
            break;
        };
        let l = legs[i].clone();
        let r = rules.get(&l.asset);
        let cut = Qty(short / (l.price.0 * (Decimal::ONE + f)));
        let cut = if r.step.is_zero() { cut.0 } else { ((cut.0 / r.step).ceil() * r.step).max(r.step) };
        let qty = Qty((l.quantity.0 - cut).max(Decimal::ZERO));
        match r.check(qty, l.price) {
            None if qty.0 > Decimal::ZERO => legs[i] = self::leg(&l.asset, l.side, qty, l.price, f),
            v => {
                skipped.push(Skipped {
                    asset: l.asset.clone(),
                    side: l.side,
                    notional: l.notional,
                    reason: v.map(SkipReason::Rule).unwrap_or(SkipReason::NoCash),
                });
                legs.remove(i);
            }
        }
    }
    // Pairs first (they need no quote cash), then sells, then buys.
    legs.sort_by(|x, y| (x.side, &x.asset).cmp(&(y.side, &y.asset)));
    cross.extend(legs);
    cross.extend(plan.legs.iter().filter(|l| !direct(l)).cloned());
    skipped.sort_by(|x, y| (x.side, &x.asset).cmp(&(y.side, &y.asset)));
    let valuation = Valuation::new(quote, holdings, prices, targets)?;
    finish(quote, holdings, prices, targets, &valuation, cross, skipped)
}

/// The `why` of the leg that tops up the fee reserve.
pub const FEE_RESERVE_TOP_UP: &str = "fee reserve top-up";

/// Adds to `plan` the leg that tops up the bot's fee reserve, when the plan trades and
/// the reserve is worth less than its `min`: one buy of the reserve asset against the
/// quote bringing it to `target` (its `why` is [`FEE_RESERVE_TOP_UP`]), placed after
/// the sells and direct pairs and before the other buys, so that they already pay the
/// venue's discounted fee in it.
///
/// `plan` was made for the bot's coins only ([`FeeReserve::coins_only`]); `holdings`
/// are all of the bot's, the reserve included. The top-up is paid from the quote the
/// plan leaves; when that is short, the plan's other buys shrink in proportion (the
/// coins end a little under their targets, by at most the top-up's value, which the
/// next rebalance corrects). The leg is rounded down to the step at the market price
/// rounded up to the tick; when it breaks a rule it is [`Skipped`] with the rule as
/// the reason and the plan is otherwise unchanged. A plan that does not trade gets no
/// top-up (the reserve alone never makes the bot trade).
///
/// The returned plan is valued with the reserve (its value counts in the bot's total),
/// but its `max_drift_after` is the coins' drift alone.
pub fn top_up_fee_reserve(
    plan: Plan,
    reserve: &FeeReserve,
    holdings: &Holdings,
    prices: &Prices,
    targets: Option<&TargetWeights>,
    rules: &RulesBook,
    fee: Bps,
) -> Result<Plan, CoreError> {
    let quote = plan.quote.clone();
    let f = fee.fraction();
    let Plan { mut legs, mut skipped, .. } = plan;
    let asset = &reserve.asset;
    let held = holdings.get(asset).copied().unwrap_or_default();
    let price = price_of(prices, asset)?;
    let value = held.0 * price.0;
    let own_quote = |l: &Leg| l.quote.as_ref().is_none_or(|q| *q == quote);
    if !legs.is_empty() && value < reserve.min {
        // The quote the plan leaves: held, plus the sells' proceeds, less the buys.
        let mut cash = holdings.get(&quote).copied().unwrap_or_default().0;
        let mut buys = Decimal::ZERO;
        for l in legs.iter().filter(|l| own_quote(l)) {
            match l.side {
                Side::Sell => cash += l.notional.0 - l.fee.0,
                Side::Buy => {
                    cash -= l.notional.0 + l.fee.0;
                    buys += l.notional.0 + l.fee.0;
                }
            }
        }
        let r = rules.get(asset);
        let at = market_price(r, price, PriceRounding::Up);
        // What can be spent on the reserve: the cash left, and the other buys.
        let spendable = (cash.max(Decimal::ZERO) + buys) / (Decimal::ONE + f);
        let wanted = (reserve.target - value).min(spendable);
        let qty = r.floor_qty(Qty(units(wanted.max(Decimal::ZERO), at, asset)?));
        match r.check(qty, at) {
            Some(v) => skipped.push(Skipped {
                asset: asset.clone(),
                side: Side::Buy,
                notional: Notional(reserve.target - value),
                reason: SkipReason::Rule(v),
            }),
            None => {
                let mut top = leg(asset, Side::Buy, qty, at, f);
                top.why = Some(FEE_RESERVE_TOP_UP.into());
                let short = top.notional.0 + top.fee.0 - cash.max(Decimal::ZERO);
                if short > Decimal::ZERO && buys > Decimal::ZERO {
                    // The other buys give up the shortfall, in proportion.
                    let keep = ((buys - short) / buys).max(Decimal::ZERO);
                    let mut kept = Vec::with_capacity(legs.len());
                    for l in legs {
                        if l.side != Side::Buy || !own_quote(&l) {
                            kept.push(l);
                            continue;
                        }
                        let lr = rules.get(&l.asset);
                        let q = lr.floor_qty(Qty(l.quantity.0 * keep));
                        match lr.check(q, l.price) {
                            Some(v) => skipped.push(Skipped {
                                asset: l.asset.clone(),
                                side: Side::Buy,
                                notional: l.notional,
                                reason: SkipReason::Rule(v),
                            }),
                            None => kept.push(Leg {
                                fee: Notional(q.0 * l.price.0 * f),
                                notional: q * l.price,
                                quantity: q,
                                ..l
                            }),
                        }
                    }
                    legs = kept;
                }
                let at = legs.iter().position(|l| l.side == Side::Buy && own_quote(l)).unwrap_or(legs.len());
                legs.insert(at, top);
            }
        }
    }
    let valuation = Valuation::new(&quote, holdings, prices, targets)?;
    let mut plan = finish(&quote, holdings, prices, targets, &valuation, legs, skipped)?;
    if let Some(t) = targets {
        let applied = checked_apply_legs(&quote, holdings, &plan.legs)?;
        let after = FeeReserve::coins_only(Some(reserve), &applied);
        plan.max_drift_after = Drift::new(&Valuation::new(&quote, &after, prices, Some(t))?, t).max_absolute();
    }
    Ok(plan)
}

/// A fraction in bps, for people.
fn bps(x: Decimal) -> Decimal {
    (x * Decimal::from(10_000)).round_dp(1).normalize()
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

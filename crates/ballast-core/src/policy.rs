//! The step policy: what a bot does at one step. One function, called by the engine
//! (live and paper bots) and by the backtester's exchange mode, so a backtest of a
//! configuration makes the decisions the bot makes.
//!
//! In order:
//! 1. **Entry prices.** A coin with an entry price is *waiting* until the bot has
//!    bought into it: its share stays in cash, its buy leg is skipped with the reason,
//!    and its drift does not count towards the trigger (a waiting coin must not make
//!    the bot fire on every bar). Once the bot holds the coin, the entry price no
//!    longer applies and the coin is rebalanced like any other. The step the price
//!    reaches the entry price is a rebalance ("entry price reached").
//! 2. **Guards.** Stop-loss and take-profit on value against net invested (not while a
//!    forced rebalance is pending, such as the first buy).
//! 3. **Trigger.** A forced reason (first buy, investment, edit) or the trigger's
//!    decision on the drift of the coins that are not waiting.
//! 4. **Plan.** The first buy goes to the targets; later rebalances to the targets or
//!    the band edge as configured; the rebalance after an investment spends the new
//!    cash first ([`Execution::new_cash_first`], the trigger's band); then, with
//!    [`Execution::direct_pairs`], a sell of A and a buy of B trade the pair A/B when
//!    the venue lists it and that is cheaper.
//! 5. **Fee reserve.** With [`Execution::fee_reserve`], the reserve is left out of
//!    the coins' weights, drift and plan ([`FeeReserve::coins_only`]) but counts in the
//!    value the guards judge; a plan that trades tops it up when it is below its
//!    minimum ([`top_up_fee_reserve`]).

use std::borrow::Cow;
use std::collections::BTreeSet;

use crate::asset::Asset;
use crate::error::CoreError;
use crate::execution::{Execution, FeeRates, FeeReserve};
use crate::guards::{Exit, Guards};
use crate::money::Notional;
use crate::planner::{
    NewCash, PairBook, Plan, PlanInput, RebalanceTo, RulesBook, direct_pairs, plan_rebalance, rebalance_with_cash,
    top_up_fee_reserve,
};
use crate::portfolio::{Drift, Holdings, Prices, Valuation};
use crate::targets::TargetWeights;
use crate::time::Timestamp;
use crate::trigger::{Decision, Threshold, Trigger, TriggerState, decide as decide_trigger};

/// The forced reason of the rebalance that follows an investment.
pub const INVESTMENT: &str = "investment added";

/// Everything a step decides on.
#[derive(Clone, Copy, Debug)]
pub struct StepInput<'a> {
    /// Now.
    pub now: Timestamp,
    /// The quote currency.
    pub quote: &'a Asset,
    /// The bot's holdings, quote included (never negative).
    pub holdings: &'a Holdings,
    /// Prices of every held and targeted coin.
    pub prices: &'a Prices,
    /// Target weights.
    pub targets: &'a TargetWeights,
    /// The venue's rules.
    pub rules: &'a RulesBook,
    /// The fee rates the planner assumes (the venue's when it says; the taker rate
    /// sizes the legs).
    pub fees: FeeRates,
    /// When to rebalance; `None` never rebalances by itself (buy and hold: only the
    /// forced rebalances and the guards act).
    pub trigger: Option<&'a Trigger>,
    /// Target or band edge.
    pub to: RebalanceTo,
    /// Entry prices, stop-loss, take-profit.
    pub guards: &'a Guards,
    /// Deposits minus withdrawals.
    pub net_invested: Notional,
    /// A rebalance forced whatever the trigger says, with its reason.
    pub force: Option<&'a str>,
    /// The coins of the investment being rebalanced in ([`INVESTMENT`]): spent like
    /// cash with new cash first (none for an investment of quote).
    pub new_coins: &'a Holdings,
    /// This is the bot's first buy.
    pub first: bool,
    /// How plans are executed (new cash first, direct pairs).
    pub execution: &'a Execution,
    /// The venue's cross pairs (used with `execution.direct_pairs`).
    pub pairs: &'a PairBook,
}

/// What the policy remembers between steps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Memory {
    /// The trigger's memory.
    pub trigger: TriggerState,
    /// Coins with an entry price that the bot has bought into.
    pub entered: BTreeSet<Asset>,
}

/// What to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Nothing.
    Hold,
    /// A guard tripped: sell everything and stop.
    Exit(Exit),
    /// Rebalance by this plan (its legs may be empty when every leg was skipped).
    Rebalance {
        /// Why, for people.
        why: String,
        /// The orders, and the skipped legs with their reasons.
        plan: Plan,
    },
}

/// Coins with an entry price that the bot has not bought into and whose price is above
/// it (their share stays in cash).
pub fn waiting(input: &StepInput<'_>, entered: &BTreeSet<Asset>) -> BTreeSet<Asset> {
    input
        .guards
        .entry_prices
        .iter()
        .filter(|(a, entry)| {
            !entered.contains(*a)
                && input.prices.get(*a).is_some_and(|p| p.0 > entry.0)
                && !input.targets.weight(a).0.is_zero()
        })
        .map(|(a, _)| a.clone())
        .collect()
}

/// What the step decided, before planning.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Nothing.
    Hold,
    /// A guard tripped: sell everything and stop.
    Exit(Exit),
    /// Rebalance, for this reason; `waiting` are the coins whose entry price is not
    /// reached (their buys are skipped).
    Rebalance {
        /// Why, for people.
        why: String,
        /// Coins waiting for their entry price.
        waiting: BTreeSet<Asset>,
    },
}

/// Decides one step and updates `memory` (entered coins, the trigger's memory). A
/// caller whose weights are re-estimated at each rebalance (market cap, risk-based)
/// computes them after a [`Verdict::Rebalance`] and plans with [`plan`]; the others
/// call [`step`].
pub fn decide(input: &StepInput<'_>, memory: &mut Memory) -> Result<Verdict, CoreError> {
    for a in input.guards.entry_prices.keys() {
        if input.holdings.get(a).is_some_and(|q| !q.is_zero()) {
            memory.entered.insert(a.clone());
        }
    }
    let waiting = waiting(input, &memory.entered);
    let reached: Vec<&Asset> = input
        .guards
        .entry_prices
        .keys()
        .filter(|a| !memory.entered.contains(*a) && !waiting.contains(*a) && !input.targets.weight(a).0.is_zero())
        .collect();
    // The guards judge everything the bot holds, its fee reserve included.
    let valuation = Valuation::new(input.quote, input.holdings, input.prices, Some(input.targets))?;
    if input.force.is_none()
        && let Some(exit) = input.guards.check_exit(valuation.total, input.net_invested)
    {
        return Ok(Verdict::Exit(exit));
    }
    let why = match input.force {
        Some(reason) => Some(reason.to_string()),
        None if !reached.is_empty() => Some(format!(
            "entry price reached for {}",
            reached.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", ")
        )),
        None => match input.trigger {
            None => None,
            Some(trigger) => {
                // The coins' drift leaves the fee reserve out (valued again only when
                // the reserve is held).
                let coins = match FeeReserve::coins_only(input.execution.fee_reserve.as_ref(), input.holdings) {
                    Cow::Borrowed(_) => None,
                    Cow::Owned(h) => Some(Valuation::new(input.quote, &h, input.prices, Some(input.targets))?),
                };
                let mut drift = Drift::new(coins.as_ref().unwrap_or(&valuation), input.targets);
                drift.assets.retain(|a, _| !waiting.contains(a));
                let d = decide_trigger(trigger, &memory.trigger, &drift, input.now);
                memory.trigger.record(&d, input.now);
                match d {
                    // The event's kind says "rebalance" already.
                    Decision::Rebalance(_) => {
                        let text = d.to_string();
                        Some(text.strip_prefix("rebalance: ").unwrap_or(&text).to_string())
                    }
                    Decision::Hold(_) => None,
                }
            }
        },
    };
    let Some(why) = why else { return Ok(Verdict::Hold) };
    if input.first {
        memory.trigger = TriggerState::new(input.now);
    }
    Ok(Verdict::Rebalance { why, waiting })
}

/// Plans a rebalance decided by [`decide`] towards `targets`: the first buy to the
/// targets, later ones to the targets or the band edge; buys of waiting coins skipped
/// with their entry price.
pub fn plan(input: &StepInput<'_>, targets: &TargetWeights, waiting: &BTreeSet<Asset>) -> Result<Plan, CoreError> {
    let blocked =
        input.guards.entry_prices.iter().filter(|(a, _)| waiting.contains(*a)).map(|(a, p)| (a.clone(), *p)).collect();
    let reserve = input.execution.fee_reserve.as_ref();
    let coins = FeeReserve::coins_only(reserve, input.holdings);
    let plan_input = PlanInput {
        holdings: &coins,
        prices: input.prices,
        targets,
        rules: input.rules,
        fee: input.fees.taker,
        to: if input.first { RebalanceTo::Target } else { input.to },
        entry_prices: &blocked,
    };
    let plan = if !input.first && input.execution.new_cash_first && input.force == Some(INVESTMENT) {
        rebalance_with_cash(&plan_input, band(input.trigger), NewCash::Invested { coins: input.new_coins })?
    } else {
        plan_rebalance(&plan_input)?
    };
    let plan = if input.execution.direct_pairs && !input.pairs.is_empty() {
        direct_pairs(&plan, &coins, input.prices, Some(targets), input.rules, input.pairs, input.execution, input.fees)?
    } else {
        plan
    };
    match reserve {
        Some(r) => {
            top_up_fee_reserve(plan, r, input.holdings, input.prices, Some(targets), input.rules, input.fees.taker)
        }
        None => Ok(plan),
    }
}

/// The band a trigger keeps the portfolio in: a threshold, or a calendar's minimum
/// drift; none for a plain calendar.
pub fn band(trigger: Option<&Trigger>) -> Option<Threshold> {
    match trigger? {
        Trigger::Threshold { threshold, .. } => Some(*threshold),
        Trigger::Calendar { min_drift, .. } => *min_drift,
    }
}

/// One step with fixed targets: [`decide`], then [`plan`] towards `input.targets`.
pub fn step(input: &StepInput<'_>, memory: &mut Memory) -> Result<Action, CoreError> {
    Ok(match decide(input, memory)? {
        Verdict::Hold => Action::Hold,
        Verdict::Exit(e) => Action::Exit(e),
        Verdict::Rebalance { why, waiting } => Action::Rebalance { plan: plan(input, input.targets, &waiting)?, why },
    })
}

//! Every lifecycle verb as a typed function: the CLI prints what they return, the
//! dashboard's server serialises it. Each engine call is one unit of work under the
//! bot's lock (see `ballast_engine`); what a verb does after it (the rebalance that
//! puts new money or new parameters to work) is reported apart, so a caller never says
//! "failed" about something that was recorded.

use std::collections::BTreeMap;
use std::fmt;

use ballast_core::planner::Plan;
use ballast_core::weighting::Method;
use ballast_core::{Asset, Qty};
use ballast_engine::{BotSpec, ChangePreview, Engine, EngineError, Preview, StepOutcome};
use ballast_exchange::Exchange as _;
use ballast_exchange::paper::PaperExchange;
use ballast_store::{BotId, OrderState};
use rust_decimal::Decimal;

use crate::config::BotConfig;
use crate::world::{App, spec_with, weights_at};

/// Why a verb did not do (all of) what was asked.
#[derive(Debug)]
pub enum VerbError {
    /// The input is wrong (a configuration, an amount); the text names the culprit.
    Invalid(String),
    /// The engine refused or failed; nothing of the verb was recorded.
    Engine(EngineError),
    /// The verb was recorded, but what it does next did not (all) happen: its
    /// rebalance failed, or the venue refused some of its orders so the portfolio is
    /// off target. `recorded` says what is kept (not to be done again).
    Unsettled {
        /// What was recorded.
        recorded: String,
        /// What went wrong after.
        problem: String,
    },
}

impl fmt::Display for VerbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(m) => f.write_str(m),
            Self::Engine(e) => write!(f, "{e}"),
            Self::Unsettled { recorded, problem } => {
                write!(f, "{recorded} (recorded: do not do it again), but {problem}")
            }
        }
    }
}

impl std::error::Error for VerbError {}

impl From<EngineError> for VerbError {
    fn from(e: EngineError) -> Self {
        Self::Engine(e)
    }
}

fn invalid(e: impl fmt::Display) -> VerbError {
    VerbError::Invalid(e.to_string())
}

/// The spec of a bot on a live venue: weights that need no history (equal, custom).
pub fn live_spec(cfg: &BotConfig) -> Result<BotSpec, VerbError> {
    if !matches!(cfg.weights.method, Method::Equal | Method::Custom) {
        return Err(VerbError::Invalid(format!(
            "weights.method {}: live bots take equal or custom weights in this build (computed weights need the live data feed)",
            cfg.weights.method
        )));
    }
    // Fixed weights need no history: the same computation as on paper.
    let weights =
        weights_at(&BTreeMap::new(), cfg, ballast_core::Timestamp(0)).map_err(|e| invalid(format!("{e:#}")))?;
    Ok(spec_with(cfg, weights))
}

/// The engine's spec of a configuration: on paper with weights from the bundled
/// history, on a live venue with fixed weights.
pub fn spec_of(app: &App, cfg: &BotConfig) -> Result<BotSpec, VerbError> {
    if cfg.venue == "paper" { app.spec(cfg).map_err(|e| VerbError::Invalid(format!("{e:#}"))) } else { live_spec(cfg) }
}

/// The summary before a bot is created: targets, minimum investment, first orders.
/// Refuses an amount below the minimum, naming the coin that sets it.
pub fn preview(engine: &Engine, cfg: &BotConfig, spec: &BotSpec) -> Result<Preview, VerbError> {
    let p = engine.preview(spec, cfg.amount)?;
    if cfg.amount < p.minimum.amount.0 {
        return Err(VerbError::Engine(EngineError::Refused(format!(
            "amount: {} {q} is too little; these coins need at least {} {q} (set by {}: its first buy must clear the venue's minimum order)",
            cfg.amount.normalize(),
            p.minimum.amount.0.round_dp(2),
            p.minimum.binding,
            q = cfg.quote
        ))));
    }
    Ok(p)
}

/// The paper account is a simulation: funds it so that `amount` of `quote` is free
/// beyond what the bots already hold. Returns the deposit, if one was needed.
pub fn fund_paper(
    engine: &Engine,
    paper: &PaperExchange,
    quote: &Asset,
    amount: Decimal,
) -> Result<Option<Decimal>, VerbError> {
    let balances = paper.balances().map_err(EngineError::from)?;
    let left = ballast_engine::engine::unclaimed(&balances, quote, engine.committed_quote(quote)?.max(Decimal::ZERO));
    if left >= amount {
        return Ok(None);
    }
    let need = amount - left;
    paper.deposit(quote, Qty(need)).map_err(EngineError::from)?;
    Ok(Some(need))
}

/// A bot created.
#[derive(Debug)]
pub struct Created {
    /// Its id.
    pub id: BotId,
    /// Its first buy.
    pub first_buy: StepOutcome,
    /// The paper account's deposit made for it, if any.
    pub deposit: Option<Decimal>,
}

/// Creates a bot after [`preview`] (the caller shows it and asks for confirmation),
/// funding a paper account first, and makes its first buy.
pub fn create(
    engine: &Engine,
    paper: Option<&PaperExchange>,
    cfg: &BotConfig,
    text: &str,
    spec: BotSpec,
) -> Result<Created, VerbError> {
    let deposit = match paper {
        Some(p) => fund_paper(engine, p, &cfg.quote, cfg.amount)?,
        None => None,
    };
    let id = engine.create(&cfg.name, spec, text, cfg.amount)?;
    let first_buy = settle(engine, id, &format!("created bot {id}"))?;
    Ok(Created { id, first_buy, deposit })
}

/// Creates many paper bots at once (a fleet file, [`crate::fleet`]): each one checked
/// as [`preview`] checks it, the paper account funded once for all of them, and all of
/// them created in one transaction (every bot or none). Their first buys happen at
/// their first step (the next round of `ballast run`), so creating them costs no order.
pub fn create_all(app: &App, bots: &[crate::fleet::FleetBot]) -> Result<Vec<BotId>, VerbError> {
    let mut requests = Vec::with_capacity(bots.len());
    for b in bots {
        let cfg = &b.config;
        if cfg.venue != "paper" {
            return Err(VerbError::Invalid(format!(
                "{}: venue {:?}: many bots at once are created on the paper venue only; create a live bot with `ballast bot create`",
                cfg.name, cfg.venue
            )));
        }
        let spec = spec_of(app, cfg).map_err(|e| VerbError::Invalid(format!("{}: {e}", cfg.name)))?;
        requests.push(ballast_engine::NewBotRequest {
            name: cfg.name.clone(),
            spec,
            config_toml: b.text.clone(),
            amount: cfg.amount,
        });
    }
    let fund = |quote: &Asset, amount: Decimal| -> Result<(), EngineError> {
        fund_paper(&app.engine, &app.paper, quote, amount).map_err(|e| EngineError::Refused(e.to_string()))?;
        Ok(())
    };
    Ok(app.engine.create_all(requests, Some(&fund))?)
}

/// Adds money to a bot (quote and/or coins) and rebalances it in. On paper, the money
/// arrives in the paper account first, and only after every check that can refuse it
/// (a refused investment leaves no deposit behind).
pub fn invest(
    engine: &Engine,
    paper: Option<&PaperExchange>,
    id: BotId,
    add: &BTreeMap<Asset, Qty>,
) -> Result<StepOutcome, VerbError> {
    engine.check_invest(id, add)?;
    if let Some(p) = paper {
        for (a, q) in add {
            p.deposit(a, *q).map_err(EngineError::from)?;
        }
    }
    engine.invest(id, add)?;
    let what: Vec<String> = add.iter().map(|(a, q)| format!("{} {a}", q.0.normalize())).collect();
    settle(engine, id, &format!("invested {}", what.join(", ")))
}

/// What an investment would trade, before it is made (the caller shows it and asks
/// for confirmation): the orders, their fees and the legs that would be skipped.
pub fn preview_invest(engine: &Engine, id: BotId, add: &BTreeMap<Asset, Qty>) -> Result<ChangePreview, VerbError> {
    Ok(engine.preview_change(id, add, None)?)
}

/// What an edit would trade, before it is made.
pub fn preview_edit(engine: &Engine, id: BotId, spec: &BotSpec) -> Result<ChangePreview, VerbError> {
    Ok(engine.preview_change(id, &BTreeMap::new(), Some(spec))?)
}

/// A change's preview in words: that it waits for a rebalance still worked, if it
/// does, then [`plan_lines`].
pub fn change_lines(preview: &ChangePreview) -> Vec<String> {
    let mut lines: Vec<String> = preview.after.iter().map(|a| format!("note: {a}")).collect();
    lines.extend(plan_lines(&preview.plan));
    lines
}

/// A plan in words, one line each: the orders with their fees, the total, and every
/// skipped leg with its reason; "nothing would be traded" when no order would be sent.
pub fn plan_lines(plan: &Plan) -> Vec<String> {
    let q = &plan.quote;
    let mut out = Vec::new();
    for l in &plan.legs {
        out.push(format!(
            "{} {} {} @ {} = {} {q}, fee {} {q}",
            l.side,
            l.quantity.0.normalize(),
            l.asset,
            l.price.0.normalize(),
            l.notional.0.round_dp(2),
            l.fee.0.round_dp(4)
        ));
    }
    if plan.legs.is_empty() {
        out.push("nothing would be traded".to_string());
    } else {
        out.push(format!("{} order(s), fees {} {q}", plan.legs.len(), plan.fees.0.round_dp(4)));
    }
    for s in &plan.skipped {
        out.push(format!("skipped: {s}"));
    }
    out
}

/// Replaces a running bot's parameters and rebalances it to them.
pub fn edit(engine: &Engine, id: BotId, spec: BotSpec, text: &str) -> Result<StepOutcome, VerbError> {
    engine.edit(id, spec, text)?;
    settle(engine, id, &format!("bot {id} edited"))
}

/// The rebalance a verb does at once, after it was recorded: its failure, or orders
/// the venue refused, are [`VerbError::Unsettled`].
fn settle(engine: &Engine, id: BotId, recorded: &str) -> Result<StepOutcome, VerbError> {
    let out = engine.step(id).map_err(|e| VerbError::Unsettled {
        recorded: recorded.to_string(),
        problem: format!("its rebalance failed: {e}; the next step tries again"),
    })?;
    if let Some(problem) = off_target(engine, id)? {
        return Err(VerbError::Unsettled { recorded: recorded.to_string(), problem });
    }
    Ok(out)
}

/// Whether the bot's last rebalance left the portfolio off target: the orders of it
/// that the venue refused, with the venue's reasons. A refused post-only order (a
/// maker-first attempt that would have taken) is not: the engine places the leg again
/// at the next touch, and at market after the deadline.
pub fn off_target(engine: &Engine, id: BotId) -> Result<Option<String>, VerbError> {
    let orders = engine.orders(id, 64)?;
    let Some(last) = orders.first().map(|o| o.intent.seq) else { return Ok(None) };
    let refused: Vec<String> = orders
        .iter()
        .filter(|o| o.intent.seq == last && o.state == OrderState::Rejected)
        .filter(|o| !matches!(o.intent.kind, ballast_exchange::OrderKind::PostOnly { .. }))
        .map(|o| format!("{} {} {}", o.intent.side, o.intent.qty, o.intent.base))
        .collect();
    if refused.is_empty() {
        return Ok(None);
    }
    let why: Vec<String> = engine
        .store()
        .events(id, 64)
        .map_err(EngineError::from)?
        .into_iter()
        .filter(|ev| ev.kind == "rejected")
        .take(refused.len())
        .map(|ev| ev.message)
        .collect();
    Ok(Some(format!(
        "the portfolio is off target: the venue refused {} ({}); the next rebalance tries again",
        refused.join(", "),
        why.join("; ")
    )))
}

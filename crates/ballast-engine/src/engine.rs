//! The engine: one step of one bot, and the lifecycle verbs.
//!
//! A step: reconcile what the venue did with orders not yet final → value the ledger →
//! guards (stop-loss, take-profit) → the core decides → every order intent is written,
//! with its deterministic client order id, in one transaction with the bot's new state
//! → orders are placed, sells first → reports and fills are recorded → snapshot.
//! A crash anywhere leaves either no intent (nothing was sent) or durable intents that
//! the next step queries by client id before anything else: no order is sent twice.

use std::collections::BTreeMap;
use std::sync::Arc;

use ballast_core::execution::{FeeRates, OrderStyle};
use ballast_core::guards::Exit;
use ballast_core::planner::{PairBook, Plan, PlanInput, RulesBook, Side, plan_liquidation, plan_rebalance};
use ballast_core::policy;
use ballast_core::sizing::{DEFAULT_MARGIN, MinInvestment, min_investment};
use ballast_core::trigger::TriggerState;
use ballast_core::weighting::Method;
use ballast_core::{Asset, Bps, CoreError, Notional, Prices, Qty, TargetLimits, TargetWeights, Timestamp};
use ballast_exchange::{ClientOrderId, Clock, DustConversion, Exchange, ExchangeError, OrderKind, OrderReport};
use ballast_store::{
    BotId, BotRecord, BotStatus, CashFlow, Change, Event, Intent, NewBot, OrderRow, OrderState, Snapshot, Store,
    StoreError, state_of,
};
use rust_decimal::Decimal;
use serde_json::json;
use thiserror::Error;

use crate::ledger::{self, Pnl};
use crate::orders;
use crate::spec::{BotSpec, BotState, StopMode, StopRequest, StopSummary};

mod maker;

/// An engine failure.
#[derive(Debug, Error)]
pub enum EngineError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The venue failed.
    #[error("venue: {0}")]
    Exchange(#[from] ExchangeError),
    /// Bad input to the core.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The request is refused, with the reason.
    #[error("{0}")]
    Refused(String),
    /// No such bot.
    #[error("no bot with id {0}")]
    NoBot(BotId),
    /// Saved state that cannot be read.
    #[error("bot {0}: saved state unreadable: {1}")]
    Corrupt(BotId, String),
}

/// What a step did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepOutcome {
    /// The bot is not active.
    Inactive,
    /// Nothing to do.
    Held,
    /// Orders were sent.
    Rebalanced {
        /// Orders placed.
        orders: usize,
    },
    /// A guard ended the bot.
    Stopped(String),
}

/// What the create summary shows before a bot is confirmed.
#[derive(Clone, Debug)]
pub struct Preview {
    /// Prices now.
    pub prices: Prices,
    /// The venue's rules.
    pub rules: RulesBook,
    /// The minimum investment and what sets it.
    pub minimum: MinInvestment,
    /// The first orders (the initial buy from cash).
    pub plan: Plan,
    /// Target weights.
    pub targets: TargetWeights,
}

/// What a bot looks like now.
#[derive(Clone, Debug)]
pub struct BotView {
    /// The stored record.
    pub record: BotRecord,
    /// The engine state.
    pub state: BotState,
    /// Holdings (ledger), quote included.
    pub holdings: BTreeMap<Asset, Qty>,
    /// Prices now (empty when the venue could not be asked).
    pub prices: Prices,
    /// Current weights.
    pub weights: BTreeMap<Asset, Decimal>,
    /// Profit and loss.
    pub pnl: Option<Pnl>,
}

/// A coin a bot holds too little of to sell ([`Engine::dust`]).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Dust {
    /// The coin.
    pub asset: Asset,
    /// What the bot holds of it.
    pub qty: Qty,
    /// The last price.
    pub price: ballast_core::Price,
    /// `qty * price`, in quote.
    pub value: Notional,
    /// The venue's rule an order of it breaks.
    pub rule: String,
}

/// The outcome of stepping one bot in [`Engine::step_all`].
pub type StepResult = (BotId, Result<StepOutcome, String>);

/// Makes an amount of a quote free beyond what the bots hold (see
/// [`Engine::create_all`]).
pub type Funder<'a> = dyn Fn(&Asset, Decimal) -> Result<(), EngineError> + 'a;

/// A bot to create (see [`Engine::create_all`]).
#[derive(Clone, Debug)]
pub struct NewBotRequest {
    /// Its name (unique among the bots that are not stopped).
    pub name: String,
    /// What it trades and how.
    pub spec: BotSpec,
    /// Its configuration text, kept with it.
    pub config_toml: String,
    /// The quote it invests.
    pub amount: Decimal,
}

/// A bot as loaded for a change: its record, its state and the state's version (every
/// write names it, so a change computed from an old state is refused, never applied).
struct Loaded {
    rec: BotRecord,
    state: BotState,
    version: i64,
}

/// Estimates a bot's target weights (fractions) from data known at a time: market
/// cap and the risk-based methods. The composition root provides it (the paper world
/// from its bundled history); without one, such weights stay as created.
pub type Weigher =
    Arc<dyn Fn(&BotRecord, &BotSpec, Timestamp) -> Result<BTreeMap<Asset, Decimal>, String> + Send + Sync>;

/// Runs bots against one venue, one store and one clock.
pub struct Engine {
    store: Arc<dyn Store>,
    venue: Arc<dyn Exchange>,
    clock: Arc<dyn Clock>,
    weigher: Option<Weigher>,
    /// Consecutive failed steps per bot (of failures another try does not cure).
    failures: std::sync::Mutex<BTreeMap<BotId, u32>>,
    /// The read model of [`Engine::view`]: each bot's snapshot figures read so far
    /// (time, value, net invested), so a view reads only the snapshots recorded since
    /// the last one (`Store::snapshot_values` from its last time on).
    points: std::sync::Mutex<BTreeMap<BotId, Vec<ballast_store::SnapshotValue>>>,
    /// The venue's fee rates per symbol with when they were read (`None`: it could not
    /// say), kept for [`FEE_RATES_FOR`]: a rate changes with the account's tier, not
    /// from one step to the next, and reading it costs a signed request per symbol.
    fee_rates: std::sync::Mutex<BTreeMap<(Asset, Asset), ReadRates>>,
}

/// Fee rates read from the venue, with when (`None`: it could not say).
type ReadRates = (Timestamp, Option<ballast_exchange::FeeRates>);

/// How long the venue's fee rates are reused before they are read again.
pub const FEE_RATES_FOR: ballast_core::Span = ballast_core::Span::hours(1);

/// A bot whose step fails this many times in a row, for a reason another try does not
/// cure, is paused with the reason.
pub const PAUSE_AFTER_FAILURES: u32 = 3;

/// The assets besides the bot's coins whose prices and rules a step needs: every
/// non-quote asset held (a removed coin, dust) and the fee reserve's asset, held or not
/// (a plan may top it up).
fn priced_besides_coins(spec: &BotSpec, holdings: &BTreeMap<Asset, Qty>) -> Vec<Asset> {
    let mut held: Vec<Asset> =
        holdings.iter().filter(|(a, q)| **a != spec.quote && !q.is_zero()).map(|(a, _)| a.clone()).collect();
    if let Some(r) = &spec.execution.fee_reserve
        && !held.contains(&r.asset)
    {
        held.push(r.asset.clone());
    }
    held
}

fn targets_of(spec: &BotSpec) -> Result<TargetWeights, CoreError> {
    let entries: Vec<(Asset, Decimal)> = spec.weights.iter().map(|(a, w)| (a.clone(), *w)).collect();
    let limits = TargetLimits { min_assets: 1, max_assets: entries.len().max(1) };
    let targets = TargetWeights::from_fractions(&spec.quote, &entries, limits)?;
    // A fee reserve is never the quote nor a coin (the configuration refuses it; a
    // spec from elsewhere is refused here, at creation, at an edit and at a step).
    if let Some(r) = &spec.execution.fee_reserve {
        r.validate(&spec.quote, &spec.assets)?;
    }
    Ok(targets)
}

impl Engine {
    /// An engine over these seams.
    pub fn new(store: Arc<dyn Store>, venue: Arc<dyn Exchange>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            venue,
            clock,
            weigher: None,
            failures: Default::default(),
            points: Default::default(),
            fee_rates: Default::default(),
        }
    }

    /// The same engine, estimating weights from data with `weigher`.
    pub fn with_weigher(mut self, weigher: Weigher) -> Self {
        self.weigher = Some(weigher);
        self
    }

    /// Estimates the weights of a bot whose method needs data, and records the change
    /// (old and new targets) as a `weights` event with the new state. A failed estimate
    /// keeps the weights and says why. Returns whether the targets changed.
    fn reestimate(&self, b: &mut Loaded, now: Timestamp, why: &str) -> Result<bool, EngineError> {
        let Some(weigher) = &self.weigher else { return Ok(false) };
        let old = b.state.spec.weights.clone();
        b.state.estimated = Some(now);
        let (changed, ev) = match weigher(&b.rec, &b.state.spec, now) {
            Ok(new) => {
                let changed = new != old;
                let text = |w: &BTreeMap<Asset, Decimal>| -> serde_json::Value {
                    w.iter().map(|(a, x)| (a.to_string(), json!(x.round_dp(6).to_string()))).collect()
                };
                let moves: Vec<String> = new
                    .iter()
                    .filter(|(a, w)| old.get(*a) != Some(*w))
                    .map(|(a, w)| {
                        let before = old.get(a).copied().unwrap_or_default() * Decimal::ONE_HUNDRED;
                        format!("{a} {:.2}% -> {:.2}%", before, *w * Decimal::ONE_HUNDRED)
                    })
                    .collect();
                let message = if changed {
                    format!("{} weights re-estimated ({why}): {}", b.state.spec.method, moves.join(", "))
                } else {
                    format!("{} weights re-estimated ({why}): unchanged", b.state.spec.method)
                };
                let data = json!({"method": b.state.spec.method.to_string(), "why": why, "old": text(&old), "new": text(&new)});
                b.state.spec.weights = new;
                (changed, event(b.rec.id, now, "weights", &message, data))
            }
            Err(e) => (
                false,
                event(
                    b.rec.id,
                    now,
                    "weights",
                    &format!("weights not re-estimated ({why}): {e}; the old ones stay"),
                    json!({"error": e}),
                ),
            ),
        };
        targets_of(&b.state.spec)?;
        self.commit(b, Change { events: vec![ev], now, ..Change::default() })?;
        Ok(changed)
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The venue.
    pub fn venue(&self) -> &Arc<dyn Exchange> {
        &self.venue
    }

    fn rules(&self, spec: &BotSpec, extra: &[Asset]) -> Result<RulesBook, EngineError> {
        // (`extra`: see `priced_besides_coins`.)
        let mut book = RulesBook::default();
        for a in spec.assets.iter().chain(extra) {
            if a != &spec.quote && !book.per_asset.contains_key(a) {
                book.per_asset.insert(a.clone(), self.venue.rules(a, &spec.quote)?);
            }
        }
        Ok(book)
    }

    /// The venue's cross pairs between the bot's coins, when the bot trades direct
    /// pairs (a pair the venue does not list, or cannot tell about now, is left out:
    /// the plan then uses two quote legs), with the half-spread of every symbol whose
    /// book the venue publishes (the planner weighs a pair against two quote legs with
    /// them; the expected wait of a maker order is left to the planner's default).
    fn pairs(&self, spec: &BotSpec) -> PairBook {
        let mut book = PairBook::default();
        if !spec.execution.direct_pairs {
            return book;
        }
        let coins: Vec<&Asset> = spec.assets.iter().filter(|a| **a != spec.quote).collect();
        for a in &coins {
            for b in coins.iter().filter(|b| *b != a) {
                if let Ok(r) = self.venue.rules(a, b) {
                    book.insert(a, b, r);
                    self.half_spread_into(&mut book, a, b);
                }
            }
        }
        if !book.is_empty() {
            for a in &coins {
                self.half_spread_into(&mut book, a, &spec.quote);
            }
        }
        book
    }

    /// Notes the half-spread of `base/quote` from the venue's best bid and ask, when
    /// it publishes them.
    fn half_spread_into(&self, book: &mut PairBook, base: &Asset, quote: &Asset) {
        if let Ok(t) = self.venue.best_bid_ask(base, quote) {
            let (bid, ask) = (t.bid.0, t.ask.0);
            if bid > Decimal::ZERO && ask >= bid {
                let hs = (ask - bid) / (ask + bid) * Decimal::from(10_000);
                book.half_spreads.insert(PairBook::symbol(base, quote), Bps(hs));
            }
        }
    }

    /// The fee rates the planner assumes for `spec`: the highest maker and taker rates
    /// the venue says it charges this account on the bot's coins
    /// ([`Exchange::fee_rates`]), or the bot's configured `fee` when the venue cannot
    /// say for any of them. The one place the planner's fee comes from.
    fn fee_rates(&self, spec: &BotSpec) -> FeeRates {
        let bps = |x: Decimal| Bps(x * Decimal::from(10_000));
        let mut rates: Option<FeeRates> = None;
        for a in spec.assets.iter().filter(|a| **a != spec.quote) {
            let Some(r) = self.venue_fee_rates(a, &spec.quote) else { continue };
            let (maker, taker) = (bps(r.maker), bps(r.taker));
            if Bps::new(maker.0).is_err() || Bps::new(taker.0).is_err() {
                continue;
            }
            rates = Some(match rates {
                None => FeeRates { maker, taker },
                Some(f) => FeeRates { maker: f.maker.max(maker), taker: f.taker.max(taker) },
            });
        }
        rates.unwrap_or_else(|| FeeRates::flat(spec.fee))
    }

    /// What the venue says it charges this account on `base/quote`
    /// ([`Exchange::fee_rates`]), read at most once per [`FEE_RATES_FOR`]; `None` when
    /// it cannot say.
    pub(crate) fn venue_fee_rates(&self, base: &Asset, quote: &Asset) -> Option<ballast_exchange::FeeRates> {
        let now = self.clock.now();
        let key = (base.clone(), quote.clone());
        if let Some((at, r)) = self.fee_rates.lock().unwrap_or_else(|e| e.into_inner()).get(&key)
            && now.0.saturating_sub(at.0) < FEE_RATES_FOR.millis()
        {
            return r.clone();
        }
        let r = self.venue.fee_rates(base, quote).ok();
        self.fee_rates.lock().unwrap_or_else(|e| e.into_inner()).insert(key, (now, r.clone()));
        r
    }

    fn prices(&self, quote: &Asset, assets: &[Asset]) -> Result<Prices, EngineError> {
        let bases: Vec<Asset> = assets.iter().filter(|a| *a != quote).cloned().collect();
        let prices = self.venue.prices(&bases, quote)?;
        for a in &bases {
            if !prices.contains_key(a) {
                return Err(EngineError::Refused(format!("the venue has no price for {a}/{quote}")));
            }
        }
        Ok(prices)
    }

    /// The summary of a bot before it is created: targets, minimum investment, first
    /// orders. Refuses an unknown symbol or too little money, with the reason.
    pub fn preview(&self, spec: &BotSpec, amount: Decimal) -> Result<Preview, EngineError> {
        let targets = targets_of(spec)?;
        let prices = self.prices(&spec.quote, &spec.assets)?;
        let rules = self.rules(spec, &[])?;
        let minimum = min_investment(&targets, &prices, &rules, spec.fee, DEFAULT_MARGIN)?;
        let cash: ballast_core::Holdings = [(spec.quote.clone(), Qty(amount))].into();
        let plan = plan_rebalance(&PlanInput {
            holdings: &cash,
            prices: &prices,
            targets: &targets,
            rules: &rules,
            fee: spec.fee,
            to: ballast_core::planner::RebalanceTo::Target,
            entry_prices: &spec.guards.entry_prices,
        })?;
        Ok(Preview { prices, rules, minimum, plan, targets })
    }

    /// What a change of a running bot would trade if it were made now, without
    /// recording anything: the plan of the rebalance that an investment of `add`
    /// (possibly empty) and/or new parameters `spec` would force, at the venue's prices
    /// and rules, with the legs it would skip and why. The same policy as the step that
    /// follows the change ([`policy::decide`] forced, then [`policy::plan`]). While a
    /// maker-first rebalance is still worked, the change waits for it: the plan then
    /// assumes its legs filled at their planned prices, and [`ChangePreview::after`]
    /// says so.
    pub fn preview_change(
        &self,
        id: BotId,
        add: &BTreeMap<Asset, Qty>,
        spec: Option<&BotSpec>,
    ) -> Result<ChangePreview, EngineError> {
        let b = self.load(id)?;
        if !add.is_empty() {
            Self::check_invest_of(&b, add)?;
        }
        if b.rec.status == BotStatus::Stopped {
            return Err(EngineError::Refused(format!("bot {id} is stopped")));
        }
        if b.state.stopping.is_some() {
            return Err(EngineError::Refused(format!("bot {id} is stopping")));
        }
        let edited = spec.is_some();
        let spec = spec.unwrap_or(&b.state.spec);
        if spec.quote != b.state.spec.quote {
            return Err(EngineError::Refused("the quote currency of a bot cannot change".into()));
        }
        let mut holdings = self.holdings(id)?;
        for (a, q) in add {
            holdings.entry(a.clone()).or_default().0 += q.0;
        }
        let mut after = None;
        if let Some(w) = &b.state.working {
            let mut legs = 0;
            for l in w.legs.iter().filter(|l| !l.done) {
                let left = l.qty.0 - self.leg_filled(id, w.seq, l.leg)?;
                if left <= Decimal::ZERO {
                    continue;
                }
                legs += 1;
                let value = left * l.planned_price.0;
                let (base, quote) = match l.side {
                    Side::Buy => (left, -value),
                    Side::Sell => (-left, value),
                };
                holdings.entry(l.base.clone()).or_default().0 += base;
                holdings.entry(l.quote.clone().unwrap_or_else(|| spec.quote.clone())).or_default().0 += quote;
            }
            let to_deadline = ballast_core::Span::from_secs((w.deadline.0 - self.clock.now().0).max(0) / 1000);
            after = Some(format!(
                "rebalance {} is still being worked as makers ({legs} leg(s) left, what is left sent at market \
                 in {to_deadline}): this change is planned when it is done, at the prices of then; the orders \
                 below assume those legs filled at their planned prices",
                w.seq,
            ));
        }
        let market = self.market(spec, &holdings)?;
        let flows = self.store.cash_flows(id)?;
        let added: Decimal =
            add.iter().map(|(a, q)| if *a == spec.quote { q.0 } else { q.0 * market.prices[a].0 }).sum();
        let net_invested = Notional(flows.iter().map(|f| f.value.0).sum::<Decimal>() + added);
        let mut entered = b.state.entered.clone();
        if edited {
            for a in spec.guards.entry_prices.keys() {
                if b.state.spec.guards.entry_prices.get(a) != spec.guards.entry_prices.get(a) {
                    entered.remove(a);
                }
            }
        }
        let mut memory = policy::Memory { trigger: b.state.trigger, entered };
        // An investment alone is previewed as the rebalance that follows it.
        let reason = if !add.is_empty() && !edited { policy::INVESTMENT } else { "preview" };
        // The coins of investments not rebalanced in yet, and of this one.
        let mut new_coins = b.state.new_coins.clone();
        for (a, q) in add.iter().filter(|(a, _)| **a != spec.quote) {
            new_coins.entry(a.clone()).or_default().0 += q.0;
        }
        let input = market.input(spec, self.clock.now(), net_invested, Some(reason), &new_coins, b.state.next_seq == 1);
        let plan = match policy::decide(&input, &mut memory)? {
            policy::Verdict::Rebalance { waiting, .. } => {
                self.plan_at_venue(spec, &input, &market.targets, &waiting)?
            }
            policy::Verdict::Exit(exit) => {
                return Err(EngineError::Refused(format!("this change would trip a guard and stop the bot: {exit}")));
            }
            policy::Verdict::Hold => self.plan_at_venue(spec, &input, &market.targets, &Default::default())?,
        };
        Ok(ChangePreview { plan, after })
    }

    /// The plan of a decision to rebalance: [`policy::plan`] with the venue's pairs and
    /// fee rates, which are asked for only here (most decisions hold).
    fn plan_at_venue(
        &self,
        spec: &BotSpec,
        input: &policy::StepInput<'_>,
        targets: &TargetWeights,
        waiting: &std::collections::BTreeSet<Asset>,
    ) -> Result<Plan, EngineError> {
        let pairs = self.pairs(spec);
        Ok(policy::plan(&policy::StepInput { pairs: &pairs, fees: self.fee_rates(spec), ..*input }, targets, waiting)?)
    }

    /// What a decision about a bot with these parameters and ledger holdings reads
    /// from the venue: see [`Market`].
    fn market(&self, spec: &BotSpec, holdings: &BTreeMap<Asset, Qty>) -> Result<Market, EngineError> {
        let held = priced_besides_coins(spec, holdings);
        let mut all = spec.assets.clone();
        all.extend(held.iter().cloned());
        all.sort();
        all.dedup();
        Ok(Market {
            prices: self.prices(&spec.quote, &all)?,
            rules: self.rules(spec, &held)?,
            targets: targets_of(spec)?,
            holdings: holdings.iter().map(|(a, q)| (a.clone(), Qty(q.0.max(Decimal::ZERO)))).collect(),
            no_pairs: PairBook::default(),
        })
    }

    /// Creates a bot investing `amount` of quote, after the same checks as
    /// [`Engine::preview`] and a check that the account holds the money. Its first buy
    /// happens at its first step.
    pub fn create(&self, name: &str, spec: BotSpec, config_toml: &str, amount: Decimal) -> Result<BotId, EngineError> {
        let ids = self.create_all(
            vec![NewBotRequest { name: name.to_string(), spec, config_toml: config_toml.to_string(), amount }],
            None,
        )?;
        Ok(ids[0])
    }

    /// Creates every bot of `bots` in one transaction (all of them or none), after the
    /// checks of [`Engine::create`] on each and one check that the account holds the
    /// money of all of them together. Their first buys happen at their first steps.
    /// `fund`, when given, is asked to make the bots' total amount of a quote free beyond
    /// what other bots hold, once every other check has passed (a paper account is
    /// funded: `ballast_app::verbs::fund_paper`; a real one is not).
    pub fn create_all(&self, bots: Vec<NewBotRequest>, fund: Option<&Funder<'_>>) -> Result<Vec<BotId>, EngineError> {
        let mut needs: BTreeMap<Asset, Decimal> = BTreeMap::new();
        let mut changes = Vec::with_capacity(bots.len());
        let now = self.clock.now();
        for NewBotRequest { name, spec, config_toml, amount } in bots {
            let preview = self.preview(&spec, amount)?;
            if amount < preview.minimum.amount.0 {
                return Err(EngineError::Refused(format!(
                    "{name}: {amount} {q} is too little: these coins need at least {} {q} (set by {}: its first buy must clear the venue's minimum order)",
                    preview.minimum.amount.0.round_dp(2),
                    preview.minimum.binding,
                    q = spec.quote
                )));
            }
            let need = needs.entry(spec.quote.clone()).or_default();
            *need = need.checked_add(amount).ok_or_else(|| {
                EngineError::Refused(format!("the bots' amounts together overflow ({name} and those before it)"))
            })?;
            let hodl = hodl_buy(&spec, &preview.targets, &preview.prices, amount);
            let quote = spec.quote.clone();
            let state = BotState {
                spec,
                trigger: TriggerState::new(now),
                next_seq: 1,
                force: Some("first buy".into()),
                new_coins: BTreeMap::new(),
                hodl,
                last_step: None,
                rebalances: 0,
                entered: Default::default(),
                stopping: None,
                summary: None,
                estimated: Some(now),
                working: None,
                sweeping: None,
            };
            changes.push(Change {
                create: Some(NewBot { name, venue: self.venue.name().to_string(), config_toml, created_at: now }),
                state_json: Some(state_text(0, &state)?),
                cash_flows: vec![CashFlow {
                    bot: 0,
                    time: now,
                    asset: quote.clone(),
                    qty: Qty(amount),
                    value: Notional(amount),
                    note: "create".into(),
                }],
                events: vec![event(0, now, "created", &format!("created with {amount} {quote}"), json!({}))],
                now,
                ..Change::default()
            });
        }
        let names = self.store.bots()?;
        let mut wanted: Vec<&str> = changes.iter().filter_map(|c| c.create.as_ref()).map(|n| n.name.as_str()).collect();
        wanted.sort_unstable();
        if let Some(w) = wanted.windows(2).find(|w| w[0] == w[1]) {
            return Err(EngineError::Refused(format!("two of the new bots are named {}", w[0])));
        }
        if let Some(b) =
            names.iter().find(|b| b.status != BotStatus::Stopped && wanted.binary_search(&b.name.as_str()).is_ok())
        {
            return Err(EngineError::Refused(format!("a bot named {} exists (id {})", b.name, b.id)));
        }
        let mut balances = self.venue.balances()?;
        for (quote, amount) in &needs {
            let committed = self.committed_quote(quote)?;
            if let Some(fund) = fund
                && unclaimed(&balances, quote, committed) < *amount
            {
                fund(quote, *amount)?;
                balances = self.venue.balances()?;
            }
            if unclaimed(&balances, quote, committed) < *amount {
                return Err(EngineError::Refused(format!(
                    "the account holds {} {quote}, {} of it held by other bots: not enough for {amount} {quote}",
                    balances.get(quote).map(|b| b.total().0).unwrap_or_default().normalize(),
                    committed.normalize(),
                )));
            }
        }
        // One transaction: a crash leaves either every bot or no trace of any.
        Ok(self.store.commit_all(&changes)?)
    }

    /// What this venue's bots that are not stopped hold of `quote` (or of a coin), each
    /// counted at zero or more: the one place that decides what of the account is
    /// taken (see [`unclaimed`]).
    pub fn committed_quote(&self, quote: &Asset) -> Result<Decimal, EngineError> {
        Ok(self.store.held_by_bots(self.venue.name(), quote)?.0)
    }

    fn load(&self, id: BotId) -> Result<Loaded, EngineError> {
        let rec = self.store.bot(id)?.ok_or(EngineError::NoBot(id))?;
        let saved = self.store.load_versioned(id)?.ok_or_else(|| EngineError::Corrupt(id, "no state".into()))?;
        let state: BotState = serde_json::from_str(&saved.json).map_err(|e| EngineError::Corrupt(id, e.to_string()))?;
        Ok(Loaded { rec, state, version: saved.version })
    }

    /// Writes `change` with the bot's state as one unit of work, checked against the
    /// version `b` was loaded at; `b.version` moves on.
    fn commit(&self, b: &mut Loaded, mut change: Change) -> Result<(), EngineError> {
        change.bot = b.rec.id;
        change.expect_version = Some(b.version);
        change.state_json = Some(state_text(b.rec.id, &b.state)?);
        self.store.commit(&change)?;
        b.version += 1;
        if let Some((status, reason)) = change.status {
            b.rec.status = status;
            b.rec.status_reason = reason;
        }
        Ok(())
    }

    fn event(
        &self,
        bot: BotId,
        time: Timestamp,
        kind: &str,
        message: &str,
        data: serde_json::Value,
    ) -> Result<(), EngineError> {
        self.store.record_event(&Event { bot, time, kind: kind.into(), message: message.into(), data })?;
        Ok(())
    }

    /// The bot's holdings from its ledger: the assets it holds, none at zero (a coin
    /// sold whole, such as one removed by an edit, is no longer one of its holdings and
    /// needs no price).
    pub fn holdings(&self, id: BotId) -> Result<BTreeMap<Asset, Qty>, EngineError> {
        Ok(held_of(&self.store.ledger(id)?))
    }

    /// Checks the bot's running ledger against the one its records derive (see
    /// [`ledger::audit`]).
    pub fn audit(&self, id: BotId) -> Result<Vec<ledger::Mismatch>, EngineError> {
        Ok(ledger::audit(&*self.store, id)?)
    }

    /// Asks the venue about every order of the bot that is not final and records what
    /// it says. Returns how many orders were resolved. A venue that refuses the API key
    /// pauses the bot (see [`Engine::step`]).
    pub fn reconcile(&self, id: BotId) -> Result<usize, EngineError> {
        self.pause_on_refused_key(id, self.reconcile_orders(id))
    }

    /// When `result` says the venue refused the API key ([`ExchangeError::Auth`]: revoked,
    /// IP not allowed, permission removed) and the bot is active, records a
    /// `key_revoked` event and pauses the bot with the reason; resuming is the user's
    /// call. Returns `result` unchanged.
    fn pause_on_refused_key<T>(&self, id: BotId, result: Result<T, EngineError>) -> Result<T, EngineError> {
        let Err(EngineError::Exchange(ExchangeError::Auth(why))) = &result else { return result };
        if self.store.bot(id)?.is_some_and(|b| b.status == BotStatus::Active) {
            let now = self.clock.now();
            let reason = format!(
                "the venue refused the API key: {why} (revoked, IP not allowed or a permission removed?); \
                 fix the key, then resume the bot"
            );
            self.store.set_status(id, BotStatus::Paused, &reason, now)?;
            self.event(id, now, "key_revoked", &reason, json!({"venue": self.venue.name(), "error": why}))?;
        }
        result
    }

    fn reconcile_orders(&self, id: BotId) -> Result<usize, EngineError> {
        Ok(self.reconcile_open(id)?.0)
    }

    /// [`Engine::reconcile_orders`], also telling how many orders were open before.
    fn reconcile_open(&self, id: BotId) -> Result<(usize, usize), EngineError> {
        let mut resolved = 0;
        let open = self.store.unresolved(id)?;
        let count = open.len();
        for o in open {
            let i = &o.intent;
            match self.lookup(id, i)? {
                Some(report) => {
                    self.apply(&report)?;
                    if report.status.is_final() {
                        resolved += 1;
                    }
                }
                None => match self.missing(i, o.state) {
                    orders::Missing::NotSent => {
                        // The venue never saw it and can no longer accept it: it was not
                        // sent. It is not sent again; the next decision plans afresh with
                        // a new sequence number.
                        self.store.update_order(
                            &i.client_id,
                            OrderState::NotSent,
                            None,
                            Qty::ZERO,
                            self.clock.now(),
                        )?;
                        resolved += 1;
                    }
                    // The venue may still accept it: asked again at the next step.
                    orders::Missing::Wait => {}
                    orders::Missing::Vanished => {
                        self.event(
                            id,
                            self.clock.now(),
                            "reconcile",
                            &format!("order {} was acknowledged but the venue no longer knows it", i.client_id),
                            json!({"client_id": i.client_id}),
                        )?;
                    }
                },
            }
        }
        Ok((resolved, count))
    }

    /// What the venue says about the intent's order: its report, or `None` when the
    /// venue does not know it or knows only another order under its client id (then
    /// an event says so, and the intent is judged as missing).
    fn lookup(&self, id: BotId, i: &Intent) -> Result<Option<OrderReport>, EngineError> {
        let Some(report) = self.venue.query_order(&orders::request_of(i))? else { return Ok(None) };
        match orders::foreign(i, &report, self.venue.clock_allowance_ms()) {
            None => Ok(Some(report)),
            Some(why) => {
                self.event(
                    id,
                    self.clock.now(),
                    "foreign_order",
                    &format!("the venue's order under client id {} is not ours ({why}); it is left alone", i.client_id),
                    json!({"client_id": i.client_id, "venue_id": report.venue_id}),
                )?;
                Ok(None)
            }
        }
    }

    /// The move for an intent the venue does not know (see [`orders::when_missing`]).
    fn missing(&self, i: &Intent, state: OrderState) -> orders::Missing {
        orders::when_missing(i, state, self.clock.now(), self.venue.clock_allowance_ms(), self.venue.order_window_ms())
    }

    /// Records a venue report. An order counts as final only once its fills account
    /// for its executed quantity: a venue that says "filled" but could not list the
    /// fills (a failed trades request) leaves the order unresolved, so the next
    /// reconciliation asks again and the ledger never misses a fill.
    fn apply(&self, r: &OrderReport) -> Result<(), EngineError> {
        for f in &r.fills {
            self.store.record_fill(&r.client_id, f)?;
        }
        let listed: Decimal = r.fills.iter().map(|f| f.qty.0).sum();
        let state = if r.status.is_final() && listed < r.filled.0 { OrderState::Unknown } else { state_of(r.status) };
        self.store.update_order(&r.client_id, state, Some(&r.venue_id), r.filled, self.clock.now())?;
        Ok(())
    }

    /// One step of one bot at the clock's now, holding the bot's lock (no other command
    /// or process changes the bot meanwhile). When the venue refuses the API key
    /// ([`ExchangeError::Auth`]) the step fails, the bot is paused with the reason and a
    /// `key_revoked` event is recorded.
    pub fn step(&self, id: BotId) -> Result<StepOutcome, EngineError> {
        let outcome = self.step_unsynced(id);
        self.store.sync()?;
        outcome
    }

    /// A step whose own record is written but not yet synced to disk (see
    /// [`Store::sync`]).
    fn step_unsynced(&self, id: BotId) -> Result<StepOutcome, EngineError> {
        let _lock = self.store.lock_bot(id)?;
        self.pause_on_refused_key(id, self.step_locked(id))
    }

    fn step_locked(&self, id: BotId) -> Result<StepOutcome, EngineError> {
        let mut b = self.load(id)?;
        if b.rec.status != BotStatus::Active {
            return Ok(StepOutcome::Inactive);
        }
        if b.rec.venue != self.venue.name() {
            return Err(EngineError::Refused(format!(
                "bot {id} trades on {}, not on {}",
                b.rec.venue,
                self.venue.name()
            )));
        }
        let now = self.clock.now();
        let (resolved, open) = self.reconcile_open(id)?;
        if b.state.stopping.is_some() {
            return self.finish_stop(&mut b, now);
        }
        if let Some(assets) = &b.state.sweeping {
            // A dust conversion whose outcome was never recorded: the ledger may be off by
            // it, so nothing is decided from it; the user checks the account.
            let names: Vec<String> = assets.iter().map(|a| a.to_string()).collect();
            let reason = format!(
                "paused: a dust conversion of {} was asked and its outcome is not recorded; compare the account \
                 with the bot's ledger (`ballast doctor`) before resuming",
                names.join(", ")
            );
            self.store.set_status(id, BotStatus::Paused, &reason, now)?;
            self.event(id, now, "paused", &reason, json!({"assets": names}))?;
            return Ok(StepOutcome::Inactive);
        }
        if b.state.working.is_some() {
            // A maker-first rebalance under way: its resting orders are worked (re-priced,
            // finished at market after the deadline); nothing new is decided until it
            // is done.
            let placed = self.work(&mut b, now)?;
            b.state.last_step = Some(now);
            let snapshot = self.snapshot(id, &b.state, now)?;
            // The step's own record (what it sent was durable before it was sent).
            self.commit_step(&mut b, snapshot, now)?;
            return Ok(if placed > 0 { StepOutcome::Rebalanced { orders: placed } } else { StepOutcome::Held });
        }
        if resolved < open && !self.store.unresolved(id)?.is_empty() {
            // An order whose outcome is not known yet may have traded: a plan from a
            // ledger without it could trade the same again. Nothing is decided until
            // every order is final.
            b.state.last_step = Some(now);
            self.commit(&mut b, Change { now, lazy: true, ..Change::default() })?;
            return Ok(StepOutcome::Held);
        }
        let first = b.state.next_seq == 1;
        let computed = !matches!(b.state.spec.method, Method::Equal | Method::Custom);
        if computed
            && !first
            && let Some(every) = b.state.spec.reestimate
            && b.state.estimated.is_none_or(|t| now.0 - t.0 >= every.secs() * 1000)
        {
            self.reestimate(&mut b, now, &format!("every {every}"))?;
        }
        let spec = b.state.spec.clone();
        let entries = self.store.ledger(id)?;
        let market = self.market(&spec, &held_of(&entries))?;
        let flows = self.store.cash_flows(id)?;
        let net_invested = Notional(flows.iter().map(|f| f.value.0).sum());
        let force = b.state.force.take();
        let new_coins = std::mem::take(&mut b.state.new_coins);
        let mut memory = policy::Memory { trigger: b.state.trigger, entered: std::mem::take(&mut b.state.entered) };
        let input = market.input(&spec, now, net_invested, force.as_deref(), &new_coins, first);
        let verdict = policy::decide(&input, &mut memory)?;
        b.state.trigger = memory.trigger;
        b.state.entered = memory.entered;
        let mut outcome = StepOutcome::Held;
        match verdict {
            policy::Verdict::Hold => {}
            policy::Verdict::Exit(exit) => {
                let kind = match exit {
                    Exit::StopLoss { .. } => "stop-loss",
                    Exit::TakeProfit { .. } => "take-profit",
                };
                b.state.stopping = Some(StopRequest {
                    mode: StopMode::ToQuote,
                    kind: kind.into(),
                    reason: exit.to_string(),
                    sent: false,
                });
                return self.finish_stop(&mut b, now);
            }
            policy::Verdict::Rebalance { why, waiting } => {
                // Weights from data are estimated again when the trigger rebalances, as
                // the backtester does.
                let targets = if computed && !first && force.is_none() {
                    self.reestimate(&mut b, now, "at a rebalance")?;
                    targets_of(&b.state.spec)?
                } else {
                    market.targets.clone()
                };
                let plan = self.plan_at_venue(&spec, &input, &targets, &waiting)?;
                let orders = match b.state.spec.execution.style {
                    OrderStyle::MakerFirst { reprice, deadline } if !plan.legs.is_empty() => {
                        self.begin_working(&mut b, &plan, &why, now, reprice, deadline)?
                    }
                    OrderStyle::MakerFirst { .. } | OrderStyle::Taker => {
                        self.execute(&mut b, &plan, "rebalance", &why, now)?
                    }
                };
                if orders > 0 && !first {
                    b.state.rebalances += 1;
                }
                if orders > 0 {
                    outcome = StepOutcome::Rebalanced { orders };
                }
            }
        }
        b.state.last_step = Some(now);
        // Nothing was sent: the ledger read at the start still stands (no fill since).
        let ledger = matches!(outcome, StepOutcome::Held).then_some(&entries);
        let known = Known { prices: Some(&market.prices), ledger, invested: Some(net_invested) };
        let snapshot = self.snapshot_with(id, &b.state, now, known)?;
        // The step's own record: lost at most to a power cut, when the step is simply
        // done again (what it sent, it made durable before sending).
        self.commit_step(&mut b, snapshot, now)?;
        Ok(outcome)
    }

    /// A step's own record: its state and its snapshot (in the snapshot's 15-minute
    /// bucket), written lazily.
    fn commit_step(&self, b: &mut Loaded, snapshot: Snapshot, now: Timestamp) -> Result<(), EngineError> {
        let change = Change {
            snapshot: Some(snapshot),
            snapshot_bucket_ms: Some(SNAPSHOT_BUCKET_MS),
            now,
            lazy: true,
            ..Change::default()
        };
        self.commit(b, change)
    }

    /// Writes the intents of `plan` with the state and the event (one unit of work),
    /// then sends them. Returns the number of orders placed.
    fn execute(
        &self,
        b: &mut Loaded,
        plan: &Plan,
        kind: &str,
        why: &str,
        now: Timestamp,
    ) -> Result<usize, EngineError> {
        let id = b.rec.id;
        let seq = b.state.next_seq;
        let quote = b.state.spec.quote.clone();
        let tag = self.store.order_tag()?;
        let expires_at = Some(Timestamp(now.0.saturating_add(self.venue.order_window_ms().max(0))));
        let intents: Vec<Intent> = plan
            .legs
            .iter()
            .enumerate()
            .map(|(i, l)| {
                Ok(Intent {
                    bot: id,
                    client_id: ClientOrderId::for_leg(&tag, id, seq, i).map_err(EngineError::Refused)?,
                    seq,
                    leg: i as i64,
                    base: l.asset.clone(),
                    // A direct pair's leg is placed on its own symbol (ETH/BTC).
                    quote: l.quote_or(&quote).clone(),
                    side: l.side,
                    qty: l.quantity,
                    kind: OrderKind::Market,
                    planned_price: l.price,
                    created_at: now,
                    expires_at,
                })
            })
            .collect::<Result<_, EngineError>>()?;
        let event = rebalance_event(id, seq, plan, kind, why, intents.len(), now);
        if !intents.is_empty() {
            b.state.next_seq += 1;
        }
        // One unit of work: the intents exist durably (with the sequence number moved
        // past them) before the first order can exist.
        self.commit(b, Change { intents: intents.clone(), events: vec![event], now, ..Change::default() })?;
        let mut placed = 0;
        for intent in &intents {
            if self.send(id, intent)? {
                placed += 1;
            }
        }
        Ok(placed)
    }
}

/// The event of a rebalance (or a liquidation) that sends `sent` orders: its legs, the
/// legs skipped with their reasons, the weights before and after.
fn rebalance_event(id: BotId, seq: i64, plan: &Plan, kind: &str, why: &str, sent: usize, now: Timestamp) -> Event {
    {
        let skipped: Vec<serde_json::Value> = plan
            .skipped
            .iter()
            .map(|s| json!({"asset": s.asset, "side": s.side.to_string(), "notional": s.notional.0.round_dp(8).to_string(), "reason": s.reason.to_string()}))
            .collect();
        let legs: Vec<serde_json::Value> = plan
            .legs
            .iter()
            .map(|l| {
                let mut v = json!({"asset": l.asset, "side": l.side.to_string(), "quantity": l.quantity.to_string(), "price": l.price.to_string()});
                if let Some(q) = &l.quote {
                    v["quote"] = json!(q);
                }
                if let Some(why) = &l.why {
                    v["why"] = json!(why);
                }
                v
            })
            .collect();
        let message = if sent == 0 {
            format!("{why}: no order sent ({} leg(s) skipped)", plan.skipped.len())
        } else {
            format!(
                "{why}: {} order(s){}",
                sent,
                if skipped.is_empty() { String::new() } else { format!(", {} skipped", skipped.len()) }
            )
        };
        let weights = |w: &BTreeMap<Asset, ballast_core::Weight>| -> serde_json::Value {
            w.iter().map(|(a, w)| (a.to_string(), json!(w.0.round_dp(6).to_string()))).collect()
        };
        Event {
            bot: id,
            time: now,
            kind: kind.into(),
            message,
            data: json!({"seq": seq, "legs": legs, "skipped": skipped, "weights_before": weights(&plan.weights_before), "weights_after": weights(&plan.weights_after)}),
        }
    }
}

impl Engine {
    /// Sends one intent. Never sends it twice: on any doubt, it queries.
    fn send(&self, id: BotId, intent: &Intent) -> Result<bool, EngineError> {
        let req = orders::request_of(intent);
        let now = self.clock.now();
        match self.venue.place(&req) {
            Ok(report) => {
                self.apply(&report)?;
                Ok(true)
            }
            Err(ExchangeError::Duplicate(_)) | Err(ExchangeError::OutcomeUnknown(_)) => {
                self.store.update_order(&intent.client_id, OrderState::Unknown, None, Qty::ZERO, now)?;
                match self.lookup(id, intent) {
                    Ok(Some(report)) => {
                        self.apply(&report)?;
                        Ok(true)
                    }
                    // Left unknown: the next step's reconciliation asks again.
                    Ok(None) | Err(_) => Ok(false),
                }
            }
            Err(e @ ExchangeError::Rejected(_)) | Err(e @ ExchangeError::NotFound(_)) => {
                self.store.update_order(&intent.client_id, OrderState::Rejected, None, Qty::ZERO, now)?;
                self.event(
                    id,
                    now,
                    "rejected",
                    &format!("{} {} {}: {e}", intent.side, intent.qty, intent.base),
                    json!({"client_id": intent.client_id}),
                )?;
                self.pause_if_short(id, intent, now)?;
                Ok(false)
            }
            Err(e @ ExchangeError::Auth(_)) => {
                // The key is refused: nothing was done at the venue, and no other order
                // can be sent. The step fails (and the bot is paused); the legs not
                // tried yet stay pending and are resolved by query after a resume.
                self.store.update_order(&intent.client_id, OrderState::NotSent, None, Qty::ZERO, now)?;
                Err(e.into())
            }
            Err(e) => {
                // Unavailable, rate limited, or too late: nothing was done at the venue.
                self.store.update_order(&intent.client_id, OrderState::NotSent, None, Qty::ZERO, now)?;
                self.event(
                    id,
                    now,
                    "error",
                    &format!("{} {} {} not sent: {e}{}", intent.side, intent.qty, intent.base, self.why_late(intent)),
                    json!({"client_id": intent.client_id}),
                )?;
                Ok(false)
            }
        }
    }

    /// Why an intent whose acceptance window has ended by now was too late, for the
    /// event that says it was not sent: empty while the window is open.
    fn why_late(&self, intent: &Intent) -> String {
        let Some(deadline) = intent.expires_at else { return String::new() };
        let now = self.clock.now();
        if now.0 < deadline.0 {
            return String::new();
        }
        format!(
            " (its turn came {} ms after the rebalance decided it, past the venue's acceptance window of {} ms: \
             the venue's answers to the orders before it, or the network, were slow; nothing was sent, and the \
             next step plans again from the ledger)",
            now.0 - intent.created_at.0,
            deadline.0 - intent.created_at.0
        )
    }

    /// After a rejection: when the venue holds less of what the order spends than the
    /// ledgers of this venue's bots say they hold, funds left the account outside
    /// ballast. Every later plan from this ledger would be refused the same way, so the
    /// bot is paused with the figures in its status reason and an event. (A shortfall
    /// that this rebalance explains, such as a buy refused because a sell before it was
    /// not executed, leaves the ledgers covered and the bot active.)
    fn pause_if_short(&self, id: BotId, intent: &Intent, now: Timestamp) -> Result<(), EngineError> {
        if self.store.bot(id)?.is_none_or(|b| b.status != BotStatus::Active) {
            return Ok(());
        }
        let Ok(balances) = self.venue.balances() else { return Ok(()) };
        let (asset, need) = match intent.side {
            Side::Sell => (&intent.base, intent.qty.0),
            Side::Buy => (&intent.quote, intent.qty.0 * intent.planned_price.0),
        };
        let held = balances.get(asset).map(|b| b.total().0).unwrap_or_default();
        let ledgers = self.store.held_by_bots(self.venue.name(), asset)?.0;
        if held >= ledgers {
            return Ok(());
        }
        let reason = format!(
            "paused: the venue holds {} {asset}, less than the {} the ledgers of its bots say (this order needed {}); funds moved outside ballast? Check the account, then resume",
            held.normalize(),
            ledgers.normalize(),
            need.round_dp(8).normalize()
        );
        self.store.set_status(id, BotStatus::Paused, &reason, now)?;
        self.event(
            id,
            now,
            "paused",
            &reason,
            json!({"asset": asset, "venue": held, "ledgers": ledgers, "needed": need}),
        )
    }

    fn snapshot(&self, id: BotId, state: &BotState, now: Timestamp) -> Result<Snapshot, EngineError> {
        self.snapshot_with(id, state, now, Known::default())
    }

    /// The snapshot, with the prices the step already has when they cover what it
    /// values (asked again otherwise).
    fn snapshot_with(
        &self,
        id: BotId,
        state: &BotState,
        now: Timestamp,
        known: Known<'_>,
    ) -> Result<Snapshot, EngineError> {
        let read;
        let entries = match known.ledger {
            Some(e) => e,
            None => {
                read = self.store.ledger(id)?;
                &read
            }
        };
        let holdings = held_of(entries);
        let quote = &state.spec.quote;
        let mut assets: Vec<Asset> =
            holdings.keys().chain(state.hodl.keys()).filter(|a| *a != quote).cloned().collect();
        assets.sort();
        assets.dedup();
        let prices = match known.prices {
            Some(p) if assets.iter().all(|a| p.contains_key(a)) => assets.iter().map(|a| (a.clone(), p[a])).collect(),
            _ => self.prices(quote, &assets)?,
        };
        let value_of = |h: &BTreeMap<Asset, Qty>| -> Decimal {
            h.iter()
                .map(|(a, q)| if a == quote { q.0 } else { q.0 * prices.get(a).map(|p| p.0).unwrap_or_default() })
                .sum()
        };
        let net_invested = match known.invested {
            Some(n) => n,
            None => Notional(self.store.cash_flows(id)?.iter().map(|f| f.value.0).sum()),
        };
        let fees: BTreeMap<Asset, Qty> = entries.iter().map(|(a, e)| (a.clone(), e.fees)).collect();
        Ok(Snapshot {
            bot: id,
            time: now,
            value: Notional(value_of(&holdings)),
            holdings: holdings.clone(),
            prices: prices.clone(),
            net_invested,
            hodl_value: Notional(value_of(&state.hodl)),
            fees_paid: ledger::fees_value(&fees, quote, &prices),
        })
    }

    /// Checks an investment against the bot without asking the venue: the bot exists,
    /// is not stopped or stopping, and every asset is positive and one of its coins or
    /// its quote. (A caller that funds a paper account checks this first, so a refused
    /// investment leaves no deposit behind.)
    pub fn check_invest(&self, id: BotId, add: &BTreeMap<Asset, Qty>) -> Result<(), EngineError> {
        let b = self.load(id)?;
        Self::check_invest_of(&b, add)
    }

    fn check_invest_of(b: &Loaded, add: &BTreeMap<Asset, Qty>) -> Result<(), EngineError> {
        let id = b.rec.id;
        if b.rec.status == BotStatus::Stopped {
            return Err(EngineError::Refused(format!("bot {id} is stopped")));
        }
        if b.state.stopping.is_some() {
            return Err(EngineError::Refused(format!("bot {id} is stopping")));
        }
        if add.is_empty() {
            return Err(EngineError::Refused("nothing to invest".into()));
        }
        let spec = &b.state.spec;
        for (a, q) in add {
            if q.0 <= Decimal::ZERO {
                return Err(EngineError::Refused(format!("{a}: an investment must be positive")));
            }
            if a != &spec.quote && !spec.assets.contains(a) {
                return Err(EngineError::Refused(format!(
                    "{a} is not one of this bot's coins ({})",
                    join(&spec.assets)
                )));
            }
        }
        Ok(())
    }

    /// Adds money to a bot: quote and/or coins already in the account, recorded with
    /// the bot's new state in one unit of work. It is rebalanced in at the next step.
    pub fn invest(&self, id: BotId, add: &BTreeMap<Asset, Qty>) -> Result<(), EngineError> {
        let _lock = self.store.lock_bot(id)?;
        let mut b = self.load(id)?;
        Self::check_invest_of(&b, add)?;
        let spec = b.state.spec.clone();
        let balances = self.venue.balances()?;
        for (a, q) in add {
            // What the bots hold of it, this one included (coins as well as the quote:
            // another bot's coins are not this one's to claim).
            if unclaimed(&balances, a, self.committed_quote(a)?) < q.0 {
                return Err(EngineError::Refused(format!(
                    "the account does not hold {} {a} beyond what the bots already use",
                    q.0.normalize()
                )));
            }
        }
        let prices = self.prices(&spec.quote, &spec.assets)?;
        let targets = targets_of(&spec)?;
        let now = self.clock.now();
        let mut flows = Vec::new();
        for (a, q) in add {
            let value = if a == &spec.quote { q.0 } else { q.0 * prices[a].0 };
            flows.push(CashFlow {
                bot: id,
                time: now,
                asset: a.clone(),
                qty: *q,
                value: Notional(value),
                note: "invest".into(),
            });
            if a == &spec.quote {
                for (asset, qty) in hodl_buy(&spec, &targets, &prices, q.0) {
                    *b.state.hodl.entry(asset).or_default() += qty;
                }
            } else {
                *b.state.hodl.entry(a.clone()).or_default() += *q;
                b.state.new_coins.entry(a.clone()).or_default().0 += q.0;
            }
        }
        b.state.force = Some(policy::INVESTMENT.into());
        let what: Vec<String> = add.iter().map(|(a, q)| format!("{} {a}", q.0.normalize())).collect();
        let ev = event(id, now, "invest", &format!("invested {}", what.join(", ")), json!({}));
        self.commit(&mut b, Change { cash_flows: flows, events: vec![ev], now, ..Change::default() })
    }

    /// Replaces a running bot's parameters: coins, weights, trigger, guards, with its
    /// configuration text, in one unit of work. A coin taken out is sold at the next
    /// step, which rebalances to the new targets.
    pub fn edit(&self, id: BotId, spec: BotSpec, config_toml: &str) -> Result<(), EngineError> {
        let _lock = self.store.lock_bot(id)?;
        let mut b = self.load(id)?;
        if b.rec.status == BotStatus::Stopped {
            return Err(EngineError::Refused(format!("bot {id} is stopped")));
        }
        if b.state.stopping.is_some() {
            return Err(EngineError::Refused(format!("bot {id} is stopping")));
        }
        if spec.quote != b.state.spec.quote {
            return Err(EngineError::Refused("the quote currency of a bot cannot change".into()));
        }
        targets_of(&spec)?;
        self.prices(&spec.quote, &spec.assets)?;
        let removed: Vec<Asset> = b.state.spec.assets.iter().filter(|a| !spec.assets.contains(a)).cloned().collect();
        let added: Vec<Asset> = spec.assets.iter().filter(|a| !b.state.spec.assets.contains(a)).cloned().collect();
        let now = self.clock.now();
        let previous = b.rec.config_toml.clone();
        // An entry price given anew applies again to its coin.
        for a in spec.guards.entry_prices.keys() {
            if b.state.spec.guards.entry_prices.get(a) != spec.guards.entry_prices.get(a) {
                b.state.entered.remove(a);
            }
        }
        b.state.spec = spec;
        b.state.force = Some("parameters edited".into());
        let ev = event(
            id,
            now,
            "edit",
            &format!("edited: added [{}], removed [{}]", join(&added), join(&removed)),
            json!({"previous_config": previous, "added": added, "removed": removed}),
        );
        self.commit(
            &mut b,
            Change { config_toml: Some(config_toml.to_string()), events: vec![ev], now, ..Change::default() },
        )
    }

    /// Pauses or resumes a bot.
    pub fn set_paused(&self, id: BotId, paused: bool) -> Result<(), EngineError> {
        let _lock = self.store.lock_bot(id)?;
        let mut b = self.load(id)?;
        let now = self.clock.now();
        if b.state.stopping.is_some() && b.rec.status != BotStatus::Stopped {
            return Err(EngineError::Refused(format!("bot {id} is stopping")));
        }
        let (status, reason, kind, message) = match (b.rec.status, paused) {
            (BotStatus::Stopped, _) => return Err(EngineError::Refused(format!("bot {id} is stopped"))),
            (BotStatus::Paused, true) => return Err(EngineError::Refused(format!("bot {id} is already paused"))),
            (BotStatus::Active, false) => return Err(EngineError::Refused(format!("bot {id} is not paused"))),
            (_, true) => (BotStatus::Paused, "paused by the user", "pause", "paused"),
            (_, false) => (BotStatus::Active, "resumed by the user", "resume", "resumed"),
        };
        let ev = event(id, now, kind, message, json!({}));
        self.commit(
            &mut b,
            Change { status: Some((status, reason.into())), events: vec![ev], now, ..Change::default() },
        )
    }

    /// Stops a bot for good: either leaving its coins as they are, or selling them all
    /// for quote first. Its holdings leave the bot as withdrawals, and what it returned
    /// is kept in its summary.
    ///
    /// The stop is durable before its first order is written: a crash anywhere during
    /// it leaves a bot that finishes the stop at its next step (or at the next call of
    /// this function), never one that trades again. When liquidation orders are not
    /// final yet (a lost reply), the stop finishes once they are, and this answers
    /// [`EngineError::Refused`] saying so.
    pub fn stop(&self, id: BotId, mode: StopMode) -> Result<StopSummary, EngineError> {
        let _lock = self.store.lock_bot(id)?;
        let mut b = self.load(id)?;
        if b.rec.status == BotStatus::Stopped {
            return Err(EngineError::Refused(format!("bot {id} is already stopped")));
        }
        if b.rec.venue != self.venue.name() {
            return Err(EngineError::Refused(format!(
                "bot {id} trades on {}, not on {}",
                b.rec.venue,
                self.venue.name()
            )));
        }
        self.reconcile_orders(id)?;
        let now = self.clock.now();
        if b.state.stopping.is_none() {
            let reason = match mode {
                StopMode::ReturnCoins => "stop requested: coins returned to the account as they are",
                StopMode::ToQuote => "stop requested: everything converted to quote",
            };
            b.state.stopping = Some(StopRequest { mode, kind: "stop".into(), reason: reason.into(), sent: false });
            let ev = event(id, now, "stopping", reason, json!({"mode": mode}));
            // A paused bot is made active for its stop, so that a stop interrupted by a
            // crash is finished by the runner's next step like any other.
            let status = (b.rec.status != BotStatus::Active).then(|| (BotStatus::Active, reason.to_string()));
            self.commit(&mut b, Change { events: vec![ev], status, now, ..Change::default() })?;
        }
        match self.finish_stop(&mut b, now)? {
            StepOutcome::Stopped(_) => {
                b.state.summary.clone().ok_or_else(|| EngineError::Corrupt(id, "no summary".into()))
            }
            _ => Err(EngineError::Refused(format!(
                "bot {id}: the stop is under way but {} order(s) are not final yet; it completes at the next step of `ballast run`, or run the stop again",
                self.store.unresolved(id)?.len()
            ))),
        }
    }

    /// Carries a stop on from where it is: the liquidation (once), then, when every
    /// order is final, the withdrawals, the final snapshot, the summary and the status,
    /// in one unit of work. Answers [`StepOutcome::Held`] while orders are open.
    fn finish_stop(&self, b: &mut Loaded, now: Timestamp) -> Result<StepOutcome, EngineError> {
        let id = b.rec.id;
        let req = b.state.stopping.clone().ok_or_else(|| EngineError::Corrupt(id, "not stopping".into()))?;
        let spec = b.state.spec.clone();
        if b.state.working.is_some() {
            // The resting orders of a maker-first rebalance are cancelled first; the
            // stop goes on once none is open.
            if !self.abandon_working(b)? {
                return Ok(StepOutcome::Held);
            }
            let ev = event(id, now, "rebalance_done", "maker-first rebalance abandoned for the stop", json!({}));
            self.commit(b, Change { events: vec![ev], now, ..Change::default() })?;
        }
        if req.mode == StopMode::ToQuote && !req.sent {
            let holdings: ballast_core::Holdings =
                self.holdings(id)?.into_iter().map(|(a, q)| (a, Qty(q.0.max(Decimal::ZERO)))).collect();
            let held: Vec<Asset> =
                holdings.iter().filter(|(a, q)| **a != spec.quote && !q.is_zero()).map(|(a, _)| a.clone()).collect();
            let prices = self.prices(&spec.quote, &held)?;
            let rules = self.rules(&spec, &held)?;
            let plan = plan_liquidation(&spec.quote, &holdings, &prices, &rules, spec.fee)?;
            if let Some(r) = b.state.stopping.as_mut() {
                r.sent = true;
            }
            let kind = if req.kind == "stop" { "stop" } else { "guard" };
            self.execute(b, &plan, kind, &req.reason, now)?;
            self.reconcile_orders(id)?;
        }
        if !self.store.unresolved(id)?.is_empty() {
            return Ok(StepOutcome::Held);
        }
        let left: BTreeMap<Asset, Qty> = self.holdings(id)?.into_iter().filter(|(_, q)| !q.is_zero()).collect();
        let mut snapshot = self.snapshot(id, &b.state, now)?;
        let prices = snapshot.prices.clone();
        let value_of = |a: &Asset, q: Qty| {
            if *a == spec.quote { q.0 } else { q.0 * prices.get(a).map(|p| p.0).unwrap_or_default() }
        };
        let flows: Vec<CashFlow> = left
            .iter()
            .map(|(a, q)| CashFlow {
                bot: id,
                time: now,
                asset: a.clone(),
                qty: -*q,
                value: Notional(-value_of(a, *q)),
                note: "stop".into(),
            })
            .collect();
        let value = Notional(left.iter().map(|(a, q)| value_of(a, *q)).sum());
        snapshot.value = value;
        let summary = StopSummary {
            at: now,
            returned: left.clone(),
            value,
            net_invested: snapshot.net_invested,
            profit: Notional(value.0 - snapshot.net_invested.0),
            fees: snapshot.fees_paid,
        };
        let returned: Vec<String> = left.iter().map(|(a, q)| format!("{} {a}", q.0.round_dp(8).normalize())).collect();
        let how = match (req.kind.as_str(), req.mode) {
            ("stop", StopMode::ReturnCoins) => "stopped; coins returned to the account as they are".to_string(),
            ("stop", StopMode::ToQuote) => "stopped; everything converted to quote".to_string(),
            (kind, _) => format!("{kind}: {}", req.reason),
        };
        let ev = event(
            id,
            now,
            "stop",
            &format!(
                "{how}; returned {} (worth {} {q}), fees {} {q}",
                if returned.is_empty() { "nothing".to_string() } else { returned.join(", ") },
                value.0.round_dp(2),
                summary.fees.0.round_dp(4),
                q = spec.quote
            ),
            json!({"summary": summary}),
        );
        b.state.stopping = None;
        b.state.summary = Some(summary);
        b.state.last_step = Some(now);
        self.commit(
            b,
            Change {
                cash_flows: flows,
                status: Some((BotStatus::Stopped, how.clone())),
                events: vec![ev],
                snapshot: Some(snapshot),
                now,
                ..Change::default()
            },
        )?;
        Ok(StepOutcome::Stopped(how))
    }

    /// The bot's dust: every coin it holds whose whole quantity, floored to the
    /// venue's step, is not an order the venue accepts (below its minimum quantity or
    /// minimum notional at the last price), with its value in quote and the rule it
    /// breaks. The planner can never sell it; only the venue's small-balance
    /// conversion (Binance `POST /sapi/v1/asset/dust`, Gate `POST /wallet/small_balance`)
    /// turns it into something else.
    pub fn dust(&self, id: BotId) -> Result<Vec<Dust>, EngineError> {
        let b = self.load(id)?;
        let quote = b.state.spec.quote.clone();
        // The fee reserve is never dust: the venue spends it on fees and the bot tops it up.
        let reserve = b.state.spec.execution.fee_reserve.as_ref().map(|r| r.asset.clone());
        let held: Vec<(Asset, Qty)> = self
            .holdings(id)?
            .into_iter()
            .filter(|(a, q)| *a != quote && q.0 > Decimal::ZERO && Some(a) != reserve.as_ref())
            .collect();
        let assets: Vec<Asset> = held.iter().map(|(a, _)| a.clone()).collect();
        let prices = self.venue.prices(&assets, &quote)?;
        let mut out = Vec::new();
        for (asset, qty) in held {
            let Some(price) = prices.get(&asset).copied() else { continue };
            let rules = self.venue.rules(&asset, &quote)?;
            if let Some(rule) = rules.check(rules.floor_qty(qty), price) {
                out.push(Dust { value: Notional(qty.0 * price.0), asset, qty, price, rule: rule.to_string() });
            }
        }
        Ok(out)
    }

    /// Converts the bot's dust ([`Engine::dust`]) with the venue's small-balance
    /// conversion ([`Exchange::convert_dust`]), under the bot's lock. The conversion is
    /// account-wide, so a coin is left out (and named) when another bot of the venue
    /// holds it or the account holds more of it than this bot's ledger. The coins asked
    /// for are written into the bot's state before the venue is called; what the venue
    /// gave is recorded as cash flows noted `dust` (the coins out at their value, what
    /// was received in at the same value, so the net investment does not move) in the
    /// same unit of work that clears it. A reply that is lost leaves it set: the bot is
    /// paused naming the coins, since a conversion cannot be asked about by an id
    /// (never guessed, never sent again). Returns the conversion and the coins left out.
    pub fn sweep_dust(&self, id: BotId) -> Result<(Option<DustConversion>, Vec<String>), EngineError> {
        let _lock = self.store.lock_bot(id)?;
        let mut b = self.load(id)?;
        if b.rec.status == BotStatus::Stopped || b.state.stopping.is_some() {
            return Err(EngineError::Refused(format!("bot {id} is stopped or stopping")));
        }
        if b.state.working.is_some() || !self.store.unresolved(id)?.is_empty() || b.state.sweeping.is_some() {
            return Err(EngineError::Refused(format!(
                "bot {id} has orders or a conversion under way; sweep its dust once they are done"
            )));
        }
        let quote = b.state.spec.quote.clone();
        let dust = self.dust(id)?;
        let balances = self.venue.balances()?;
        let mut assets = Vec::new();
        let mut left_out = Vec::new();
        for d in &dust {
            let mut others = Decimal::ZERO;
            for o in self.store.bots()? {
                if o.id != id && o.status != BotStatus::Stopped && o.venue == self.venue.name() {
                    others += self.holdings(o.id)?.get(&d.asset).map(|q| q.0).unwrap_or_default().max(Decimal::ZERO);
                }
            }
            let free = balances.get(&d.asset).map(|x| x.free.0).unwrap_or_default();
            if !others.is_zero() {
                left_out.push(format!("{}: other bots hold {} of it", d.asset, others.normalize()));
            } else if free != d.qty.0 {
                left_out.push(format!(
                    "{}: the account holds {} free, the bot {}; the conversion would take all of it",
                    d.asset,
                    free.normalize(),
                    d.qty.0.normalize()
                ));
            } else {
                assets.push(d.asset.clone());
            }
        }
        if assets.is_empty() {
            return Ok((None, left_out));
        }
        let now = self.clock.now();
        b.state.sweeping = Some(assets.clone());
        let names: Vec<String> = assets.iter().map(|a| a.to_string()).collect();
        let begun = event(
            id,
            now,
            "dust_sweep",
            &format!("dust conversion of {} asked", names.join(", ")),
            json!({"assets": names}),
        );
        self.commit(&mut b, Change { events: vec![begun], now, ..Change::default() })?;
        match self.venue.convert_dust(&assets, &quote) {
            Ok(conv) => {
                let mut flows = Vec::new();
                let mut total = Decimal::ZERO;
                for (asset, taken, _) in &conv.converted {
                    let price = dust.iter().find(|d| &d.asset == asset).map(|d| d.price.0).unwrap_or_default();
                    let value = taken.0 * price;
                    total += value;
                    flows.push(CashFlow {
                        bot: id,
                        time: now,
                        asset: asset.clone(),
                        qty: -*taken,
                        value: Notional(-value),
                        note: "dust".into(),
                    });
                }
                let got: Decimal = conv.converted.iter().map(|(_, _, g)| g.0).sum();
                flows.push(CashFlow {
                    bot: id,
                    time: now,
                    asset: conv.into.clone(),
                    qty: Qty(got),
                    value: Notional(total),
                    note: "dust".into(),
                });
                b.state.sweeping = None;
                let done = event(
                    id,
                    now,
                    "dust_sweep",
                    &format!(
                        "dust of {} (worth {} {quote}) converted into {} {} (charge {})",
                        names.join(", "),
                        total.round_dp(4),
                        got.normalize(),
                        conv.into,
                        conv.charge.0.normalize()
                    ),
                    json!({"conversion": conv}),
                );
                self.commit(&mut b, Change { cash_flows: flows, events: vec![done], now, ..Change::default() })?;
                Ok((Some(conv), left_out))
            }
            Err(e @ ExchangeError::OutcomeUnknown(_)) => {
                let reason = format!(
                    "paused: the dust conversion of {} may or may not have happened ({e}); check the account's balances, \
                     then record it and resume",
                    names.join(", ")
                );
                self.store.set_status(id, BotStatus::Paused, &reason, now)?;
                self.event(id, now, "paused", &reason, json!({"assets": names}))?;
                Err(e.into())
            }
            Err(e) => {
                b.state.sweeping = None;
                let ev = event(id, now, "dust_sweep", &format!("dust conversion refused: {e}"), json!({}));
                self.commit(&mut b, Change { events: vec![ev], now, ..Change::default() })?;
                Err(e.into())
            }
        }
    }

    /// A bot as it stands.
    pub fn view(&self, id: BotId) -> Result<BotView, EngineError> {
        let Loaded { rec: record, state, .. } = self.load(id)?;
        let holdings = self.holdings(id)?;
        let quote = state.spec.quote.clone();
        let assets: Vec<Asset> =
            holdings.keys().chain(state.spec.assets.iter()).filter(|a| **a != quote).cloned().collect();
        let prices = self.prices(&quote, &assets).unwrap_or_default();
        let mut weights = BTreeMap::new();
        // The last snapshot whole (its prices), the figures of the others from the read
        // model: a view costs a few queries whatever the bot's age.
        let last = self.store.snapshots(id, 1)?.pop();
        let mut pnl = None;
        if let Some(last) = &last {
            let value = last.value.0;
            if value > Decimal::ZERO {
                for (a, q) in &holdings {
                    let v = if *a == quote { q.0 } else { q.0 * last.prices.get(a).map(|p| p.0).unwrap_or_default() };
                    weights.insert(a.clone(), v / value);
                }
            }
            let mut cache = self.points.lock().unwrap_or_else(|e| e.into_inner());
            let points = cache.entry(id).or_default();
            let known = points.last().map(|p| (p.time, p.id));
            for p in self.store.snapshot_values(id, known.map(|k| k.0))? {
                // From the last time on: the rows of that time already read are skipped.
                if known.is_none_or(|(t, i)| p.time > t || p.id > i) {
                    points.push(p);
                }
            }
            pnl = Some(ledger::pnl(
                last.value,
                last.net_invested,
                last.hodl_value,
                last.fees_paid,
                state.rebalances,
                points,
            ));
        }
        Ok(BotView { record, state, holdings, prices, weights, pnl })
    }

    /// A bot's orders, newest first.
    pub fn orders(&self, id: BotId, limit: usize) -> Result<Vec<OrderRow>, EngineError> {
        Ok(self.store.orders(id, limit)?)
    }

    /// Steps every active bot of this engine's venue; errors of one bot are recorded
    /// as its events and do not stop the others. A bot whose step fails
    /// [`PAUSE_AFTER_FAILURES`] times in a row for a reason that another try does not
    /// cure (a price the venue does not have, state it cannot read, a refusal) is
    /// paused with the reason, never left active and silent; a passing failure (the
    /// venue unavailable or rate limiting, a reply lost, the bot busy in another
    /// command) is recorded and the next round tries again.
    ///
    /// The round's records are synced to disk once, at its end (group commit): a step
    /// that sends nothing costs no disk sync of its own.
    pub fn step_all(&self) -> Result<Vec<StepResult>, EngineError> {
        let out = self.step_round();
        self.store.sync()?;
        out
    }

    /// [`Engine::step_all`] without the sync at its end: for a replay that runs many
    /// rounds a second and syncs on its own schedule ([`Store::sync`]); what it sends
    /// is durable before it is sent all the same.
    ///
    /// On a venue that answers in process (paper), the steps of every `GROUP_BOTS`
    /// bots share one transaction of the store ([`Store::begin_group`]): a lazy record
    /// is then committed with its group, so a crash of the process can lose the steps
    /// of the last group that sent nothing (done again, as after a power cut).
    pub fn step_round(&self) -> Result<Vec<StepResult>, EngineError> {
        if !self.venue.answers_in_process() {
            return self.step_group(false);
        }
        self.store.begin_group()?;
        let out = self.step_group(true);
        // Committed even when the round failed: what the steps wrote stands.
        let ended = self.store.end_group();
        let out = out?;
        ended?;
        Ok(out)
    }

    /// The steps of a round; when `grouping`, in groups of [`GROUP_BOTS`] bots sharing
    /// a transaction.
    fn step_group(&self, grouping: bool) -> Result<Vec<StepResult>, EngineError> {
        let mut out = Vec::new();
        let mut grouped = 0;
        for b in self.store.bots()? {
            if b.status != BotStatus::Active || b.venue != self.venue.name() {
                continue;
            }
            if grouping && grouped == GROUP_BOTS {
                // Another process's writer waits for at most one group.
                self.store.end_group()?;
                self.store.begin_group()?;
                grouped = 0;
            }
            grouped += 1;
            let r = self.step_unsynced(b.id);
            let streak = {
                let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
                match &r {
                    Err(e) if !passing(e) => {
                        let n = f.entry(b.id).or_default();
                        *n += 1;
                        *n
                    }
                    _ => {
                        f.remove(&b.id);
                        0
                    }
                }
            };
            match &r {
                // A refused key has its own event (`key_revoked`) and pause.
                Err(EngineError::Exchange(ExchangeError::Auth(_))) | Ok(_) => {}
                Err(e) if passing(e) => {
                    let _ = self.event(b.id, self.clock.now(), "error", &e.to_string(), json!({}));
                }
                Err(e) if streak < PAUSE_AFTER_FAILURES => {
                    let _ = self.event(b.id, self.clock.now(), "error", &e.to_string(), json!({}));
                }
                Err(e) => {
                    self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(&b.id);
                    let now = self.clock.now();
                    let reason =
                        format!("paused: its last {streak} steps failed: {e}; fix the cause, then resume the bot");
                    let _ = self.event(b.id, now, "error", &e.to_string(), json!({}));
                    if self.store.set_status(b.id, BotStatus::Paused, &reason, now).is_ok() {
                        let _ = self.event(b.id, now, "paused", &reason, json!({"error": e.to_string()}));
                    }
                }
            }
            out.push((b.id, r.map_err(|e| e.to_string())));
        }
        Ok(out)
    }
}

/// What a step already read, for its snapshot (read again when `None`): its prices
/// (used when they cover what is valued), its ledger (only when nothing traded since),
/// and the net investment.
#[derive(Clone, Copy, Default)]
struct Known<'a> {
    prices: Option<&'a Prices>,
    ledger: Option<&'a BTreeMap<Asset, ballast_store::LedgerEntry>>,
    invested: Option<Notional>,
}

/// What a change of a running bot would trade ([`Engine::preview_change`]).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ChangePreview {
    /// The plan of the rebalance the change forces.
    #[serde(flatten)]
    pub plan: Plan,
    /// Set while a maker-first rebalance is still worked: the change waits for it, and
    /// this says so (the plan assumes its legs filled at their planned prices).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// What a decision about a bot reads from the venue ([`Engine::market`]), the same for
/// a step and for the preview of a change: the prices of its coins and of anything
/// else it holds, the rules of their symbols, its target weights, and its holdings
/// with no negative balance (a fee asset overdrawn by a fee counts as none).
struct Market {
    prices: Prices,
    rules: RulesBook,
    targets: TargetWeights,
    holdings: ballast_core::Holdings,
    /// The venue's pairs are asked for only when a plan is made
    /// ([`Engine::plan_at_venue`]).
    no_pairs: PairBook,
}

impl Market {
    /// The policy's input for a decision at `now`: the bot's configured fee and no
    /// direct pairs until a plan is made ([`Engine::plan_at_venue`]).
    fn input<'a>(
        &'a self,
        spec: &'a BotSpec,
        now: Timestamp,
        net_invested: Notional,
        force: Option<&'a str>,
        new_coins: &'a ballast_core::Holdings,
        first: bool,
    ) -> policy::StepInput<'a> {
        policy::StepInput {
            now,
            quote: &spec.quote,
            holdings: &self.holdings,
            prices: &self.prices,
            targets: &self.targets,
            rules: &self.rules,
            fees: FeeRates::flat(spec.fee),
            trigger: Some(&spec.trigger),
            to: spec.to,
            guards: &spec.guards,
            net_invested,
            force,
            new_coins,
            first,
            execution: &spec.execution,
            pairs: &self.no_pairs,
        }
    }
}

/// What of the account's `asset` no bot holds: its balance, free and locked (a bot's
/// resting orders lock what its ledger still counts as held), less `held`, what the
/// bots of the venue hold of it ([`Engine::committed_quote`]).
pub fn unclaimed(balances: &BTreeMap<Asset, ballast_exchange::Balance>, asset: &Asset, held: Decimal) -> Decimal {
    balances.get(asset).map(|b| b.total().0).unwrap_or_default() - held
}

/// What the bot holds, from its running ledger (zeros left out).
fn held_of(entries: &BTreeMap<Asset, ballast_store::LedgerEntry>) -> BTreeMap<Asset, Qty> {
    entries.iter().filter(|(_, e)| !e.held.is_zero()).map(|(a, e)| (a.clone(), e.held)).collect()
}

/// A step's snapshot replaces the bot's latest one within the same 15 minutes of clock
/// time ([`Change::snapshot_bucket_ms`]): a live bot polled every 10 s keeps a point
/// per quarter hour (35,000 a year, not 3 million), its latest always current; a
/// replay of 4h, 1h or 30m bars keeps every bar. Verbs (an investment, a stop) add
/// their own.
pub const SNAPSHOT_BUCKET_MS: i64 = 15 * 60 * 1000;

/// Bots whose steps share one transaction of the store in a round ([`Store::begin_group`]):
/// about 20 ms of steps, what another process's write may wait for.
const GROUP_BOTS: usize = 256;

/// A failure that the next step may not meet again.
fn passing(e: &EngineError) -> bool {
    match e {
        EngineError::Exchange(x) => !matches!(x, ExchangeError::Rejected(_) | ExchangeError::NotFound(_)),
        EngineError::Store(s) => matches!(s, StoreError::Busy(_) | StoreError::Conflict(_) | StoreError::Db(_)),
        EngineError::Refused(_) | EngineError::Core(_) | EngineError::NoBot(_) | EngineError::Corrupt(..) => false,
    }
}

/// The stored form of a bot's state.
fn state_text(id: BotId, state: &BotState) -> Result<String, EngineError> {
    serde_json::to_string(state).map_err(|e| EngineError::Corrupt(id, e.to_string()))
}

/// An event record.
fn event(bot: BotId, time: Timestamp, kind: &str, message: &str, data: serde_json::Value) -> Event {
    Event { bot, time, kind: kind.into(), message: message.into(), data }
}

/// What `amount` of quote buys at the targets, after the fee: the HODL reference.
fn hodl_buy(spec: &BotSpec, targets: &TargetWeights, prices: &Prices, amount: Decimal) -> BTreeMap<Asset, Qty> {
    let invest = amount / (Decimal::ONE + spec.fee.fraction());
    targets.iter().filter_map(|(a, w)| prices.get(a).map(|p| (a.clone(), Qty(invest * w.0 / p.0)))).collect()
}

fn join(assets: &[Asset]) -> String {
    assets.iter().map(Asset::as_str).collect::<Vec<_>>().join(", ")
}

/// The side of a leg as text, for messages.
pub fn side_text(s: Side) -> &'static str {
    match s {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

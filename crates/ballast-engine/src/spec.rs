//! What a bot is (its spec) and what the engine remembers about it (its state).

use std::collections::{BTreeMap, BTreeSet};

use ballast_core::execution::Execution;
use ballast_core::guards::Guards;
use ballast_core::planner::RebalanceTo;
use ballast_core::trigger::{Trigger, TriggerState};
use ballast_core::weighting::Method;
use ballast_core::{Asset, Bps, Notional, Qty, Span, Timestamp};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A bot's trading parameters, as the engine needs them (the binary builds it from
/// the configuration file; it is kept in the bot's state so a restart needs nothing
/// else).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BotSpec {
    /// The quote currency.
    pub quote: Asset,
    /// The assets, in the order given.
    pub assets: Vec<Asset>,
    /// How target weights are chosen.
    pub method: Method,
    /// Fixed target weights (fractions summing to 1) for equal and custom; for other
    /// methods, the weights computed when the bot was created or last edited.
    pub weights: BTreeMap<Asset, Decimal>,
    /// When to rebalance.
    pub trigger: Trigger,
    /// Target or band edge.
    pub to: RebalanceTo,
    /// Entry prices, stop-loss, take-profit.
    pub guards: Guards,
    /// Fee assumed by the planner.
    pub fee: Bps,
    /// Weights computed from data (market cap, risk-based) are estimated again at every
    /// rebalance the trigger decides (as the backtester does), and also once this long
    /// has passed since the last estimate when set.
    #[serde(default)]
    pub reestimate: Option<Span>,
    /// How plans are executed: order style (taker by default, or maker-first), direct
    /// pairs, new cash first.
    #[serde(default)]
    pub execution: Execution,
}

/// A maker-first rebalance being worked: durable in the bot's state, written with the
/// rebalance event before any of its orders, and with each new attempt's intent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Working {
    /// The rebalance's sequence number (part of its client order ids).
    pub seq: i64,
    /// When it began.
    pub started: Timestamp,
    /// How long an attempt rests before it is re-priced, ms.
    pub reprice_ms: i64,
    /// From this moment what is left is sent as market orders.
    pub deadline: Timestamp,
    /// The legs of the plan.
    pub legs: Vec<WorkLeg>,
}

/// One leg of a [`Working`] rebalance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkLeg {
    /// Its index in the plan (part of its client order ids).
    pub leg: usize,
    /// The coin.
    pub base: Asset,
    /// The quote of its symbol when it is a direct pair (ETH/BTC); `None` is the
    /// bot's quote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<Asset>,
    /// Buy or sell.
    pub side: ballast_core::planner::Side,
    /// The quantity the plan asked for.
    pub qty: Qty,
    /// The price the plan assumed.
    pub planned_price: ballast_core::Price,
    /// The current attempt (see `ClientOrderId::for_attempt`); meaningful once
    /// `placed_at` is set.
    pub attempt: u32,
    /// When the current attempt's intent was written; `None` before the first.
    pub placed_at: Option<Timestamp>,
    /// The current attempt is a market order (after the deadline, or without a book).
    pub market: bool,
    /// Nothing more is sent for it: filled, or what is left is below the venue's
    /// minimums, or its market order is final.
    pub done: bool,
}

/// The engine's memory of a bot, saved with every rebalance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BotState {
    /// The spec in force.
    pub spec: BotSpec,
    /// The trigger's memory.
    pub trigger: TriggerState,
    /// The next rebalance sequence number (part of every client order id).
    pub next_seq: i64,
    /// Rebalance at the next step whatever the trigger says (first buy, investment,
    /// edit).
    pub force: Option<String>,
    /// The coins invested since the last rebalance planned them: spent like cash by
    /// the rebalance that the investment forces (new cash first).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub new_coins: BTreeMap<Asset, Qty>,
    /// What the cash flows would hold if never rebalanced (the HODL reference).
    pub hodl: BTreeMap<Asset, Qty>,
    /// The last time the bot was stepped.
    pub last_step: Option<Timestamp>,
    /// Number of rebalances done (the first buy not counted).
    pub rebalances: u64,
    /// Coins with an entry price that the bot has bought into: their entry price no
    /// longer applies (it is rebalanced like any other coin).
    #[serde(default)]
    pub entered: BTreeSet<Asset>,
    /// A stop under way: durable before the first liquidation order is written, so a
    /// crash during a stop finishes it at the next step and never undoes it.
    #[serde(default)]
    pub stopping: Option<StopRequest>,
    /// What a stopped bot returned.
    #[serde(default)]
    pub summary: Option<StopSummary>,
    /// When the weights were last estimated from data.
    #[serde(default)]
    pub estimated: Option<Timestamp>,
    /// A maker-first rebalance under way (see [`ballast_core::execution::OrderStyle::MakerFirst`]): its legs are
    /// worked at every step until each is done; nothing new is decided meanwhile.
    #[serde(default)]
    pub working: Option<Working>,
    /// A small-balance conversion of these coins was asked of the venue and its outcome
    /// is not recorded yet (see `Engine::sweep_dust`).
    #[serde(default)]
    pub sweeping: Option<Vec<Asset>>,
}

/// How a bot is stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopMode {
    /// Leave the coins in the account as they are.
    ReturnCoins,
    /// Sell every coin for the quote currency first.
    ToQuote,
}

/// A stop that has begun.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopRequest {
    /// Return the coins or convert them.
    pub mode: StopMode,
    /// Who or what stopped it: `stop` (the user), `stop-loss`, `take-profit`.
    pub kind: String,
    /// Why, for people.
    pub reason: String,
    /// The liquidation's intents are written (they are resolved by query, never
    /// planned again).
    pub sent: bool,
}

/// What a stopped bot handed back, and how it did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopSummary {
    /// When it stopped.
    pub at: Timestamp,
    /// What it returned to the account, per asset (quote included).
    pub returned: BTreeMap<Asset, Qty>,
    /// Their value in quote when it stopped.
    pub value: Notional,
    /// Deposits minus earlier withdrawals before the stop.
    pub net_invested: Notional,
    /// `value - net_invested`.
    pub profit: Notional,
    /// Every fee it paid, in quote.
    pub fees: Notional,
}

impl StopSummary {
    /// `profit / net_invested` in percent, to 4 decimals (zero when nothing was
    /// invested): the figure the CLI and the dashboard show.
    pub fn profit_percent(&self) -> Decimal {
        crate::ledger::percent(self.profit.0, self.net_invested.0)
    }
}

/// A trigger for people: "when an asset drifts more than 3 percentage points, at most
/// once per 1d", "every 7d if some asset drifts more than 2%" (the CLI's summaries, the
/// dashboard's parameters).
pub fn describe_trigger(t: &Trigger) -> String {
    match t {
        Trigger::Threshold { threshold, cooldown } => format!(
            "when an asset drifts more than {}{}",
            match threshold.kind() {
                ballast_core::DriftKind::Absolute => {
                    let p = threshold.percent().normalize();
                    format!("{p} percentage point{}", if p == Decimal::ONE { "" } else { "s" })
                }
                ballast_core::DriftKind::Relative => format!("{}% of its target", threshold.percent().normalize()),
            },
            cooldown.map(|c| format!(", at most once per {c}")).unwrap_or_default()
        ),
        Trigger::Calendar { every, min_drift } => {
            format!(
                "every {every}{}",
                min_drift.map(|g| format!(" if some asset drifts more than {g}")).unwrap_or_default()
            )
        }
    }
}

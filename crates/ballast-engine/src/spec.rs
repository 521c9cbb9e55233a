//! What a bot is (its spec) and what the engine remembers about it (its state).

use std::collections::BTreeMap;

use ballast_core::guards::Guards;
use ballast_core::planner::RebalanceTo;
use ballast_core::trigger::{Trigger, TriggerState};
use ballast_core::weighting::Method;
use ballast_core::{Asset, Bps, Qty, Timestamp};
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
    /// What the cash flows would hold if never rebalanced (the HODL reference).
    pub hodl: BTreeMap<Asset, Qty>,
    /// The last time the bot was stepped.
    pub last_step: Option<Timestamp>,
    /// Number of rebalances done (the first buy not counted).
    pub rebalances: u64,
}

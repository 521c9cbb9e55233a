//! The pure core of ballast, a self-hosted portfolio rebalancing bot.
//!
//! Everything here is a function of its arguments: no I/O, no clock, no randomness,
//! no logging. Callers pass `now`, prices, balances and exchange rules in and get data
//! out (valuations, decisions, plans with the reasons for every skipped leg). That is
//! what lets the backtester, the live engine and the tests share one implementation.
//!
//! Modules, bottom up:
//! - [`money`]: exact decimal newtypes ([`Price`], [`Qty`], [`Notional`], [`Weight`], [`Bps`]).
//! - [`rules`]: an exchange's per-symbol filters and the rounding they impose.
//! - [`targets`]: validated target weights.
//! - [`portfolio`]: valuation and drift.
//! - [`trigger`]: when to rebalance (threshold or calendar).
//! - [`weighting`]: equal, custom, market-cap and risk-based ("AI Balance") weights.
//! - [`planner`]: the orders that bring a portfolio back to its targets.
//! - [`guards`]: entry prices, stop-loss and take-profit.
//! - [`sizing`]: the minimum investment.
#![deny(missing_docs)]

pub mod asset;
pub mod drawdown;
pub mod error;
pub mod execution;
pub mod guards;
pub mod money;
pub mod planner;
pub mod policy;
pub mod portfolio;
pub mod rules;
pub mod sizing;
pub mod targets;
pub mod time;
pub mod trigger;
pub mod weighting;

pub use asset::Asset;
pub use error::CoreError;
pub use money::{Bps, Notional, Price, Qty, Weight};
pub use portfolio::{Drift, DriftKind, Holdings, Prices, Valuation};
pub use rules::SymbolRules;
pub use targets::{TargetLimits, TargetWeights};
pub use time::{Span, Timestamp};

//! The bot runtime of ballast: it runs bots against a venue ([`ballast_exchange::Exchange`]),
//! a store ([`ballast_store::Store`]) and a clock, and answers for every order it sends.
//!
//! See [`engine`] for the step and its crash-safety argument.
#![deny(missing_docs)]

pub mod costbasis;
pub mod engine;
pub mod export;
pub mod ledger;
mod orders;
pub mod spec;

pub use engine::{
    BotView, ChangePreview, Dust, Engine, EngineError, NewBotRequest, Preview, StepOutcome, StepResult, Weigher,
};
pub use spec::{BotSpec, BotState, StopMode, StopRequest, StopSummary, WorkLeg, Working};

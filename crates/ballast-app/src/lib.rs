//! The application layer of ballast: a bot's configuration, the paper world, profiles
//! and presets, and every lifecycle verb as a typed function. The CLI (`ballast`) and
//! the dashboard's server are thin callers: they parse their input, call these, and
//! print or serialise what comes back. One place for each decision: the minimum amount
//! and the first orders ([`verbs::preview`]), the paper funding ([`verbs::fund_paper`]),
//! the committed quote ([`ballast_engine::Engine::committed_quote`]), a verb's
//! rebalance and whether it left the portfolio off target ([`verbs::invest`],
//! [`verbs::edit`]).
#![deny(missing_docs)]

pub mod config;
pub mod doc;
pub mod fleet;
pub mod presets;
pub mod profile;
pub mod verbs;
pub mod world;

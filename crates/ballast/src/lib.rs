//! The `ballast` binary's modules as a library, so that fuzz targets and tests can reach
//! the commands and the dashboard's workshop. `main.rs` is the only composition root;
//! this library holds no global state. The domain logic (configuration, the paper
//! world, profiles, presets and the lifecycle verbs) is the application layer,
//! `ballast_app`; the modules re-exported here keep their old paths.

pub use ballast_app::{config, world as app};

pub mod cmd;
pub mod live;
pub mod web;

//! The `ballast` binary's modules as a library, so that fuzz targets and tests can reach
//! the configuration and profile readers. `main.rs` is the only composition root; this
//! library holds no global state.

pub mod app;
pub mod cmd;
pub mod config;
pub mod live;
pub mod web;

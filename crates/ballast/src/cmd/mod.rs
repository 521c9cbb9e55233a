//! One module per subcommand, plus shared readers.

pub mod backtest;
pub mod bot;
pub mod data;
pub mod demo;
pub mod keys;
pub mod notify;
pub mod optimize;
pub mod plan;
pub mod presets;
pub mod serve;
pub mod sim;
pub mod sweep;
pub mod tomlx;
pub mod weights;

//! One module per subcommand, plus shared readers.

pub mod backtest;
pub mod plan;
pub mod sweep;
pub mod tomlx;
pub mod weights;

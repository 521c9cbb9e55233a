//! One module per subcommand, plus shared readers.

pub mod plan;
pub mod tomlx;
pub mod weights;

//! One module per subcommand, plus shared readers.

pub mod admin;
pub mod backtest;
pub mod bot;
pub mod data;
pub mod demo;
pub mod doctor;
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

/// A command-line amount (`--amount`, `--usdt`, `--initial`, `--fund`): a decimal
/// greater than zero and at most [`ballast_core::money::MAX_AMOUNT`].
pub fn amount_arg(s: &str) -> Result<rust_decimal::Decimal, String> {
    let d = ballast_core::money::parse_decimal(s).map_err(|e| e.to_string())?;
    ballast_core::money::check_amount("the amount", d).map_err(|e| e.to_string())
}

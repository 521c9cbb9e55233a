//! `ballast`: the command-line entry point and the only composition root.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use ballast_cli::cmd;

/// A self-hosted automatic portfolio rebalancing bot for crypto.
#[derive(Debug, Parser)]
#[command(name = "ballast", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the product's example as a paper bot over 2024-2025 (the main job).
    Demo(cmd::demo::DemoArgs),
    /// Create and manage bots.
    Bot(cmd::bot::BotArgs),
    /// Run every active bot until SIGINT/SIGTERM (paper: replay the candles).
    Run(cmd::bot::RunArgs),
    /// Notifications: a JSON webhook and Telegram (set, show, test).
    Notify(cmd::notify::NotifyArgs),
    /// Serve the web dashboard and the HTTP API, behind a login with two-factor codes.
    Serve(cmd::serve::ServeArgs),
    /// The dashboard's admin: `reset` when the authenticator or the password is lost.
    Admin(cmd::admin::AdminArgs),
    /// Serve a simulated venue speaking the Binance spot dialect (rehearse a live setup).
    Sim(cmd::sim::SimArgs),
    /// Download candles from a venue into the backtester's CSV format.
    Data(cmd::data::DataArgs),
    /// Store exchange API keys encrypted, list, remove and check them.
    Keys(cmd::keys::KeysArgs),
    /// Check the data directory's bookkeeping: every bot's running ledger equals its records.
    Doctor(cmd::doctor::DoctorArgs),
    /// Show the orders that bring a portfolio back to its target weights.
    Plan(cmd::plan::PlanArgs),
    /// Compute target weights from price history (equal, market cap, risk-based).
    Weights(cmd::weights::WeightsArgs),
    /// Run a strategy on real history against HODL of the same targets.
    Backtest(Box<cmd::backtest::BacktestArgs>),
    /// Run a grid of strategies in parallel and rank them.
    Sweep(Box<cmd::sweep::SweepArgs>),
    /// Walk-forward selection over a grid; writes presets.
    Optimize(Box<cmd::optimize::OptimizeArgs>),
    /// List the ready-made strategies (or print one).
    Presets(cmd::presets::PresetsArgs),
}

/// `-1` after an option is its value, not an unknown flag: the value's own parser then
/// says what is wrong with it (e.g. `--initial -1`: "must be greater than 0").
fn negative_values(cmd: clap::Command) -> clap::Command {
    cmd.allow_negative_numbers(true).mut_subcommands(negative_values)
}

fn main() -> ExitCode {
    // Output into a closed pipe (`ballast bot history 1 | head -1`) ends the process
    // quietly, as it does for other command-line tools, instead of a panic in println!.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::from_arg_matches(&negative_values(Cli::command()).get_matches()).unwrap_or_else(|e| e.exit());
    let result = match &cli.command {
        Command::Demo(args) => cmd::demo::run(args),
        Command::Bot(args) => cmd::bot::run(args),
        Command::Run(args) => cmd::bot::run_bots(args),
        Command::Notify(args) => cmd::notify::run(args),
        Command::Serve(args) => cmd::serve::run(args),
        Command::Admin(args) => cmd::admin::run(args),
        Command::Sim(args) => cmd::sim::run(args),
        Command::Keys(args) => cmd::keys::run(args),
        Command::Data(args) => cmd::data::run(args),
        Command::Plan(args) => cmd::plan::run(args),
        Command::Weights(args) => cmd::weights::run(args),
        Command::Backtest(args) => cmd::backtest::run(args),
        Command::Sweep(args) => cmd::sweep::run(args),
        Command::Optimize(args) => cmd::optimize::run(args),
        Command::Presets(args) => cmd::presets::run(args),
        Command::Doctor(args) => cmd::doctor::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

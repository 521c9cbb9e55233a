//! `ballast data fetch`: downloads candles from a venue into the CSV files the
//! backtester reads (`DIR/<SYMBOL>_<interval>.csv`), resuming interrupted downloads.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use ballast_backtest::{Interval, format_timestamp, parse_date, parse_end_date};
use ballast_binance::{Binance, BinanceConfig, UreqTransport, fetch_to_csv};
use ballast_core::Timestamp;
use ballast_exchange::{Clock, SystemClock};
use clap::Subcommand;

/// `ballast data ...`.
#[derive(Debug, clap::Args)]
pub struct DataArgs {
    #[command(subcommand)]
    verb: DataVerb,
}

#[derive(Debug, Subcommand)]
enum DataVerb {
    /// Download candles into `DIR/<SYMBOL>_<interval>.csv` (resumes an existing file).
    Fetch(FetchArgs),
}

#[derive(Clone, Debug, clap::Args)]
struct FetchArgs {
    /// The venue to download from (binance; gate is not supported yet).
    #[arg(long, default_value = "binance")]
    venue: String,
    /// Base assets, comma-separated (`BTC,ETH`), each quoted in `--quote`; a full
    /// symbol (`BTCUSDT`) is taken as is.
    #[arg(long, value_delimiter = ',', required = true)]
    symbols: Vec<String>,
    /// Bar length: 1d, 4h or 1h.
    #[arg(long, default_value = "1d")]
    interval: String,
    /// First day (UTC), `YYYY-MM-DD[ HH:MM[:SS]]`.
    #[arg(long)]
    start: String,
    /// Last day (UTC, inclusive); default: now (bars still forming are never written).
    #[arg(long)]
    end: Option<String>,
    /// Directory of the CSV files (created if missing).
    #[arg(long, default_value = "data/fetched")]
    out: PathBuf,
    /// The REST API's base URL (a local `ballast sim` for tests).
    #[arg(long, default_value = "https://api.binance.com")]
    base_url: String,
    /// Quote asset of the symbols.
    #[arg(long, default_value = "USDT")]
    quote: String,
}

/// Runs `ballast data`.
pub fn run(args: &DataArgs) -> anyhow::Result<()> {
    match &args.verb {
        DataVerb::Fetch(a) => fetch(a.clone()),
    }
}

fn fetch(a: FetchArgs) -> anyhow::Result<()> {
    match a.venue.to_ascii_lowercase().as_str() {
        "binance" => {}
        "gate" => bail!("data fetch --venue gate: not supported yet (use --venue binance)"),
        other => bail!("data fetch: unknown venue {other:?} (binance)"),
    }
    let interval: Interval = a.interval.parse().with_context(|| format!("--interval {}", a.interval))?;
    let start = parse_date(&a.start).with_context(|| format!("--start {}", a.start))?;
    let end = match &a.end {
        Some(e) => parse_end_date(e).with_context(|| format!("--end {e}"))?,
        None => SystemClock.now(),
    };
    if end < start {
        bail!("--end is before --start");
    }
    let quote = a.quote.trim().to_ascii_uppercase();
    let symbols: Vec<String> = a
        .symbols
        .iter()
        .map(|s| s.trim().to_ascii_uppercase())
        .filter(|s| !s.is_empty())
        .map(|s| if s.ends_with(&quote) && s.len() > quote.len() { s } else { format!("{s}{quote}") })
        .collect();
    if symbols.is_empty() {
        bail!("--symbols: no symbol given");
    }
    std::fs::create_dir_all(&a.out).with_context(|| format!("create {}", a.out.display()))?;
    let config = BinanceConfig { base_url: a.base_url.clone(), ..BinanceConfig::default() };
    let binance = Binance::new(config, Arc::new(UreqTransport::default()), Arc::new(SystemClock));
    let terminal = std::io::stderr().is_terminal();
    for sym in &symbols {
        let path = a.out.join(format!("{sym}_{interval}.csv"));
        let bar = if terminal {
            let b = indicatif::ProgressBar::new(0);
            if let Ok(style) = indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} bars ({eta})") {
                b.set_style(style.progress_chars("=> "));
            }
            b.set_message(format!("{sym} {interval}"));
            b
        } else {
            indicatif::ProgressBar::hidden()
        };
        let progress = |done: u64, total: u64| {
            bar.set_length(total);
            bar.set_position(done);
        };
        let result = fetch_to_csv(&binance, sym, interval.as_str(), start.0, end.0, &path, &progress);
        bar.finish_and_clear();
        let report = result.with_context(|| format!("fetch {sym} {interval} into {}", path.display()))?;
        let resumed = report
            .resumed_after
            .map(|t| format!(" (resumed after {})", format_timestamp(Timestamp(t))))
            .unwrap_or_default();
        let last = report.last_open_ms.map(|t| format_timestamp(Timestamp(t))).unwrap_or_else(|| "-".into());
        println!(
            "{sym} {interval}: {} bars written{resumed}, last {last}, {} requests, {} rate-limit waits -> {}",
            report.written,
            report.requests,
            report.rate_limit_waits,
            path.display()
        );
    }
    Ok(())
}

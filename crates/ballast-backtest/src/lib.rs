//! Market data loading and backtesting for ballast.
//!
//! - [`data`]: candle files (the simple `timestamp,open,high,low,close,volume` CSV and
//!   Binance's kline archive CSV, plain or gzip), [`Series`], and [`align`] to put
//!   several assets on the common clock of BACKTEST.md (intersection of timestamps).
//! - [`marketcap`]: monthly market-cap snapshots for market-cap weighting.
//! - [`dates`]: UTC date parsing for `--start` / `--end` flags.
//!
//! The bundled data set lives in the repository's `data/` folder (see
//! `data/SOURCES.md`): `data/binance-spot/<SYM>USDT_<1d|4h>.csv.gz` and
//! `data/cmc-monthly/coinmarketcap_monthly_all_snapshots.csv.gz`.
#![deny(missing_docs)]

pub mod backtest;
pub mod costs;
pub mod data;
pub mod dates;
pub mod error;
pub mod execution_report;
pub mod marketcap;
mod read;
pub mod report;
pub mod sim;
pub mod sweep;
pub mod walkforward;

pub use data::{Aligned, Candle, Interval, Series, align, load_dir, load_file, parse_file_bytes};
pub use dates::{format_timestamp, parse_date, parse_end_date};
pub use error::{AlignProblem, DataError, LineProblem};
pub use marketcap::{MarketCaps, load_snapshots};

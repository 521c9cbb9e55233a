//! Candles: loading them from CSV files and aligning several assets on one clock.
//!
//! Two formats are read, told apart by their content (never by the file name), plain or
//! gzip (told apart by the gzip magic bytes):
//!
//! - **simple**: a header `timestamp,open,high,low,close,volume`, then one row per
//!   candle, `timestamp` being the candle's open time in UTC as `YYYY-MM-DD` or
//!   `YYYY-MM-DD HH:MM:SS` (the format of the bundled `data/binance-spot` files);
//! - **Binance kline archive** (data.binance.vision): 12 columns, normally no header
//!   (`open_time, open, high, low, close, volume, close_time, quote_volume, count,
//!   taker_buy_volume, taker_buy_quote_volume, ignore`); the open time is in
//!   milliseconds, or in microseconds for files from 2025 on (a value of 10^14 or
//!   more is taken as microseconds, row by row, so concatenated files mixing both
//!   load). A header line, if present, is skipped. Only the first six columns are
//!   read, but all twelve must be there.
//!
//! Every row is checked: open time on the interval's grid and strictly after the
//! previous row's, prices greater than zero with `low <= open, close <= high`, volume
//! zero or more. Blank lines are skipped. Any problem is a [`DataError`] naming the
//! file and the 1-based line; no input makes the loader panic.

mod align;
mod cache;
mod parse;

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use ballast_core::{Asset, Span, Timestamp};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

use crate::error::DataError;
use crate::read::maybe_gunzip;

pub use align::{Aligned, align};

/// One candle. Prices are exact decimals, as written in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candle {
    /// The open time (UTC). The candle closes one interval later.
    pub open_time: Timestamp,
    /// The first trade's price.
    pub open: Decimal,
    /// The highest price.
    pub high: Decimal,
    /// The lowest price.
    pub low: Decimal,
    /// The last trade's price: the price the backtester trades at.
    pub close: Decimal,
    /// Base-asset volume.
    pub volume: Decimal,
}

/// The bar length of a series.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Interval {
    /// One day.
    #[serde(rename = "1d")]
    D1,
    /// Four hours.
    #[serde(rename = "4h")]
    H4,
    /// One hour.
    #[serde(rename = "1h")]
    H1,
}

impl Interval {
    /// Every interval, longest first.
    pub const ALL: [Interval; 3] = [Interval::D1, Interval::H4, Interval::H1];

    /// The name used in file names and flags: `1d`, `4h`, `1h`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Interval::D1 => "1d",
            Interval::H4 => "4h",
            Interval::H1 => "1h",
        }
    }

    /// The bar length.
    pub const fn span(self) -> Span {
        match self {
            Interval::D1 => Span::days(1),
            Interval::H4 => Span::hours(4),
            Interval::H1 => Span::hours(1),
        }
    }

    /// The bar length in milliseconds.
    pub const fn millis(self) -> i64 {
        self.span().millis()
    }

    /// Bars per year: 365 days divided by the bar length (365, 2190, 8760).
    pub fn periods_per_year(self) -> f64 {
        (365 * 86_400) as f64 / self.span().secs() as f64
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Interval {
    type Err = DataError;
    /// Parses `1d`, `4h` or `1h` (surrounding spaces and upper case allowed).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        Interval::ALL
            .into_iter()
            .find(|i| i.as_str().eq_ignore_ascii_case(t))
            .ok_or_else(|| DataError::UnknownInterval(s.to_string()))
    }
}

/// The candles of one asset, in strictly increasing open time, all on the interval's
/// grid. Gaps (exchange outages) are possible: do not assume a regular grid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Series {
    /// The asset (priced in USDT for the bundled data).
    pub asset: Asset,
    /// The bar length.
    pub interval: Interval,
    /// The candles, oldest first.
    pub candles: Vec<Candle>,
}

impl Series {
    /// The number of candles.
    pub fn len(&self) -> usize {
        self.candles.len()
    }

    /// True when there is no candle.
    pub fn is_empty(&self) -> bool {
        self.candles.is_empty()
    }

    /// The first and last open times, if there is any candle.
    pub fn range(&self) -> Option<(Timestamp, Timestamp)> {
        Some((self.candles.first()?.open_time, self.candles.last()?.open_time))
    }

    /// The open times.
    pub fn times(&self) -> Vec<Timestamp> {
        self.candles.iter().map(|c| c.open_time).collect()
    }

    /// The closes, exact.
    pub fn closes(&self) -> Vec<Decimal> {
        self.candles.iter().map(|c| c.close).collect()
    }

    /// The closes as `f64` (for statistics, never for order sizes).
    pub fn closes_f64(&self) -> Vec<f64> {
        self.candles.iter().map(|c| to_f64(c.close)).collect()
    }

    /// The candles with `start <= open_time <= end` (both inclusive; empty when
    /// `start > end`).
    pub fn slice(&self, start: Timestamp, end: Timestamp) -> &[Candle] {
        let lo = self.candles.partition_point(|c| c.open_time < start);
        let hi = self.candles.partition_point(|c| c.open_time <= end);
        if lo >= hi { &[] } else { &self.candles[lo..hi] }
    }

    /// The candle that opens at `t`, if any.
    pub fn at(&self, t: Timestamp) -> Option<&Candle> {
        self.candles.binary_search_by_key(&t, |c| c.open_time).ok().map(|i| &self.candles[i])
    }

    /// Removes the candles that had not closed by `now` (open time + interval > `now`),
    /// such as the in-progress last row of a freshly downloaded file. Returns how many
    /// were removed.
    pub fn drop_unclosed(&mut self, now: Timestamp) -> usize {
        let span = self.interval.millis();
        let keep = self.candles.partition_point(|c| c.open_time.0.saturating_add(span) <= now.0);
        let removed = self.candles.len() - keep;
        self.candles.truncate(keep);
        removed
    }
}

pub(crate) fn to_f64(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(f64::NAN)
}

/// Loads one candle file (either format, plain or gzip) as `asset`'s `interval` series.
/// The file name is not looked at. An empty file is an error.
///
/// A parsed file leaves a binary copy beside it (`.ballast-cache/`, see the `cache`
/// module), which the next load of the same bytes reads instead of parsing them.
pub fn load_file(path: impl AsRef<Path>, asset: Asset, interval: Interval) -> Result<Series, DataError> {
    let path = path.as_ref();
    let raw = fs::read(path).map_err(|source| DataError::Io { path: path.to_path_buf(), source })?;
    let copy = cache::path_of(path, interval);
    let key = cache::key(&raw);
    if let Some(candles) = copy.as_deref().and_then(|c| cache::read(c, key, interval)) {
        return Ok(Series { asset, interval, candles });
    }
    let series = parse_file_bytes(path, raw, asset, interval)?;
    if let Some(c) = copy {
        cache::write(&c, key, interval, &series.candles);
    }
    Ok(series)
}

/// What [`load_file`] does with a file's bytes once read: gzip detected from the
/// content, either format, every row checked. `path` only names the data in errors.
/// (Public so that the fuzz targets go through the loader's own path.)
pub fn parse_file_bytes(path: &Path, raw: Vec<u8>, asset: Asset, interval: Interval) -> Result<Series, DataError> {
    let bytes = maybe_gunzip(path, raw)?;
    let candles = parse::parse_candles(path, &bytes, interval)?;
    Ok(Series { asset, interval, candles })
}

/// The file names [`load_dir`] looks for: `<ASSET>USDT_<interval>.csv` and the same
/// with `.gz`.
pub fn file_names(asset: &Asset, interval: Interval) -> [String; 2] {
    let plain = format!("{asset}USDT_{interval}.csv");
    let gzip = format!("{plain}.gz");
    [plain, gzip]
}

/// Loads `<ASSET>USDT_<interval>.csv` or `<ASSET>USDT_<interval>.csv.gz` from `dir` for
/// each asset, in the order given (the files are read in parallel). A missing file is
/// an error naming the asset, the directory and the names looked for; so is finding
/// both names for one asset. When several files are bad, the error is the first asset's.
pub fn load_dir(dir: impl AsRef<Path>, assets: &[Asset], interval: Interval) -> Result<Vec<Series>, DataError> {
    let dir = dir.as_ref();
    let paths = assets.iter().map(|asset| find_file(dir, asset, interval)).collect::<Result<Vec<_>, _>>()?;
    // One thread per file: decompressing and parsing dominate, and files are independent.
    std::thread::scope(|scope| {
        let handles: Vec<_> = paths
            .iter()
            .zip(assets)
            .map(|(path, asset)| scope.spawn(move || load_file(path, asset.clone(), interval)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    })
}

fn find_file(dir: &Path, asset: &Asset, interval: Interval) -> Result<PathBuf, DataError> {
    let [plain, gzip] = file_names(asset, interval);
    let (p, g) = (dir.join(&plain), dir.join(&gzip));
    match (p.is_file(), g.is_file()) {
        (true, false) => Ok(p),
        (false, true) => Ok(g),
        (true, true) => Err(DataError::AmbiguousFile { plain: p, gzip: g }),
        (false, false) => Err(DataError::MissingFile {
            asset: asset.clone(),
            interval,
            dir: dir.to_path_buf(),
            tried: vec![plain, gzip],
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn series(times: &[i64]) -> Series {
        let c = |t: i64| Candle {
            open_time: Timestamp(t * 3_600_000),
            open: dec!(1),
            high: dec!(1),
            low: dec!(1),
            close: Decimal::from(t),
            volume: dec!(0),
        };
        Series {
            asset: Asset::new("BTC").unwrap(),
            interval: Interval::H1,
            candles: times.iter().map(|&t| c(t)).collect(),
        }
    }

    #[test]
    fn intervals() {
        for (s, i, ppy) in [("1d", Interval::D1, 365.0), ("4h", Interval::H4, 2190.0), ("1h", Interval::H1, 8760.0)] {
            assert_eq!(s.parse::<Interval>().unwrap(), i);
            assert_eq!(i.to_string(), s);
            assert_eq!(i.periods_per_year(), ppy);
            assert_eq!(i.span().to_string(), s);
        }
        assert_eq!(" 4H ".parse::<Interval>().unwrap(), Interval::H4);
        let e = "15m".parse::<Interval>().unwrap_err().to_string();
        assert!(e.contains("\"15m\"") && e.contains("1d, 4h or 1h"), "{e}");
    }

    #[test]
    fn slice_is_inclusive() {
        let s = series(&[1, 2, 4, 5, 7]);
        let h = |x: i64| Timestamp(x * 3_600_000);
        let closes = |c: &[Candle]| c.iter().map(|c| c.close).collect::<Vec<_>>();
        assert_eq!(closes(s.slice(h(2), h(5))), [dec!(2), dec!(4), dec!(5)]);
        assert_eq!(closes(s.slice(h(3), h(6))), [dec!(4), dec!(5)]);
        assert_eq!(s.slice(h(5), h(5)).len(), 1);
        assert!(s.slice(h(8), h(9)).is_empty());
        assert!(s.slice(h(5), h(2)).is_empty());
        assert_eq!(s.closes_f64(), [1.0, 2.0, 4.0, 5.0, 7.0]);
        assert_eq!(s.at(h(4)).unwrap().close, dec!(4));
        assert!(s.at(h(3)).is_none());
        assert_eq!(s.range(), Some((h(1), h(7))));
    }

    #[test]
    fn drop_unclosed_keeps_closed_candles_only() {
        let mut s = series(&[1, 2, 3]);
        // Candle 3 closes at 4h: still open at 3:59:59.999.
        assert_eq!(s.drop_unclosed(Timestamp(4 * 3_600_000 - 1)), 1);
        assert_eq!(s.len(), 2);
        assert_eq!(s.drop_unclosed(Timestamp(3 * 3_600_000)), 0);
    }
}

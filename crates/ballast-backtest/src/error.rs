//! The data error type. Every message names what it is about: the file and 1-based
//! line for a bad row, the asset and the directory for a missing file, the asset and
//! the dates for an alignment or snapshot problem, so the binary can print it as is.

use std::io;
use std::path::PathBuf;

use ballast_core::{Asset, Timestamp};
use thiserror::Error;

use crate::Interval;
use crate::dates::format_timestamp;

/// An error while loading or aligning market data.
#[derive(Debug, Error)]
pub enum DataError {
    /// The file cannot be opened, read or decompressed.
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A row (or the header) is wrong.
    #[error("{}, line {line}: {problem}", path.display())]
    Line {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What is wrong with the line.
        problem: LineProblem,
    },
    /// The file holds no data rows.
    #[error("{}, line {line}: empty file: no data rows", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
        /// The 1-based line where data was expected (1 for a file with nothing in it,
        /// 2 for a header and nothing else).
        line: usize,
    },
    /// `load_dir` found no file for an asset.
    #[error("no {interval} data for {asset} in {}: looked for {}", dir.display(), tried.join(" and "))]
    MissingFile {
        /// The asset.
        asset: Asset,
        /// The interval asked for.
        interval: Interval,
        /// The directory searched.
        dir: PathBuf,
        /// The file names looked for.
        tried: Vec<String>,
    },
    /// `load_dir` found both a plain and a gzip file for an asset.
    #[error("{} and {} both exist: remove one, so that it is clear which data is used", plain.display(), gzip.display())]
    AmbiguousFile {
        /// The plain file.
        plain: PathBuf,
        /// The gzip file.
        gzip: PathBuf,
    },
    /// An interval name that is not supported.
    #[error("unknown interval {0:?}: use 1d, 4h or 1h")]
    UnknownInterval(String),
    /// A date that cannot be parsed.
    #[error("invalid date {input:?}: use YYYY-MM-DD or YYYY-MM-DD HH:MM[:SS] (UTC)")]
    InvalidDate {
        /// The text given.
        input: String,
    },
    /// The series given to `align` cannot be aligned.
    #[error("align: {0}")]
    Align(AlignProblem),
    /// No market-cap snapshot is at or before the date asked for.
    #[error("{}: no market-cap snapshot on or before {}; the earliest is {}", path.display(), format_timestamp(*date), format_timestamp(*earliest))]
    NoSnapshot {
        /// The snapshot file.
        path: PathBuf,
        /// The date asked for.
        date: Timestamp,
        /// The earliest snapshot in the file.
        earliest: Timestamp,
    },
    /// An asset is missing from the snapshot used for a date.
    #[error("{}: {asset} is not in the market-cap snapshot of {} (the latest on or before {})", path.display(), format_timestamp(*snapshot), format_timestamp(*date))]
    NotInSnapshot {
        /// The snapshot file.
        path: PathBuf,
        /// The asset.
        asset: Asset,
        /// The snapshot's date.
        snapshot: Timestamp,
        /// The date asked for.
        date: Timestamp,
    },
}

/// What is wrong with one line of a data file.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum LineProblem {
    /// The first line is neither a known header nor a known data row.
    #[error(
        "unknown format: {found:?}; expected a `timestamp,open,high,low,close,volume` CSV or a Binance kline CSV (12 columns, open time in ms or µs)"
    )]
    UnknownFormat {
        /// The start of the line.
        found: String,
    },
    /// A header that is not the one expected.
    #[error("unexpected header: column {index} is {found:?}, expected {expected:?}")]
    BadHeader {
        /// The 1-based column number.
        index: usize,
        /// The name found.
        found: String,
        /// The name expected.
        expected: &'static str,
    },
    /// A column is missing.
    #[error("missing column {column} (the line has {found} columns, {expected} expected)")]
    MissingColumn {
        /// The missing column's name.
        column: &'static str,
        /// The number of columns found.
        found: usize,
        /// The number of columns expected.
        expected: usize,
    },
    /// A field that should be a number is not one.
    #[error("{column} is not a number: {value:?}")]
    NotANumber {
        /// The column.
        column: &'static str,
        /// The text found.
        value: String,
    },
    /// A price (or market cap) that is zero or negative, or a negative volume.
    #[error("{column} must be {rule}, found {value}")]
    OutOfRange {
        /// The column.
        column: &'static str,
        /// The text found.
        value: String,
        /// The rule it breaks ("greater than zero", "zero or more").
        rule: &'static str,
    },
    /// Open, high, low and close that contradict each other.
    #[error("inconsistent candle: {0}")]
    Inconsistent(String),
    /// A timestamp that cannot be parsed.
    #[error("invalid timestamp {value:?}: expected {expected}")]
    BadTimestamp {
        /// The text found.
        value: String,
        /// The accepted forms.
        expected: &'static str,
    },
    /// A candle open time that is not a multiple of the interval.
    #[error("open time {} is not on the {interval} grid (is this a {interval} file?)", format_timestamp(*time))]
    OffGrid {
        /// The open time.
        time: Timestamp,
        /// The interval the file was loaded as.
        interval: Interval,
    },
    /// A timestamp earlier than the previous row's.
    #[error("timestamps out of order: {} comes after {} (line {previous_line})", format_timestamp(*time), format_timestamp(*previous))]
    OutOfOrder {
        /// This row's time.
        time: Timestamp,
        /// The previous row's time.
        previous: Timestamp,
        /// The previous row's line.
        previous_line: usize,
    },
    /// The same timestamp twice.
    #[error("duplicate timestamp {} (also on line {previous_line})", format_timestamp(*time))]
    Duplicate {
        /// The time.
        time: Timestamp,
        /// The line of the first occurrence.
        previous_line: usize,
    },
    /// A required field that is empty.
    #[error("{column} is empty")]
    EmptyField {
        /// The column.
        column: &'static str,
    },
    /// A line that is not UTF-8 text.
    #[error("not UTF-8 text")]
    NotUtf8,
    /// A malformed CSV record (for example an unterminated quote).
    #[error("malformed CSV: {0}")]
    Csv(String),
}

/// Why a set of series cannot be aligned.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum AlignProblem {
    /// No series at all.
    #[error("no series given")]
    NoSeries,
    /// The same asset twice.
    #[error("{0} is given twice")]
    DuplicateAsset(Asset),
    /// Series of different intervals.
    #[error("{first} is {first_interval} but {other} is {other_interval}: all series must have the same interval")]
    MixedIntervals {
        /// The first series' asset.
        first: Asset,
        /// Its interval.
        first_interval: Interval,
        /// A series with another interval.
        other: Asset,
        /// Its interval.
        other_interval: Interval,
    },
    /// `start` is after `end`.
    #[error("start {} is after end {}", format_timestamp(*start), format_timestamp(*end))]
    StartAfterEnd {
        /// The start.
        start: Timestamp,
        /// The end.
        end: Timestamp,
    },
    /// An asset with no candle in the range.
    #[error("{asset} has no candles between {} and {} (its data: {})", fmt_bound(*start, "the beginning"), fmt_bound(*end, "the end"), fmt_range(*data))]
    NoCandlesInRange {
        /// The asset.
        asset: Asset,
        /// The range's start, if any.
        start: Option<Timestamp>,
        /// The range's end, if any.
        end: Option<Timestamp>,
        /// The first and last candle of the asset, if it has any.
        data: Option<(Timestamp, Timestamp)>,
    },
    /// The assets' ranges do not overlap.
    #[error("no common period: {early} ends at {}, before {late} starts at {}", format_timestamp(*early_end), format_timestamp(*late_start))]
    NoOverlap {
        /// The asset whose data (in range) ends first.
        early: Asset,
        /// Its last candle in range.
        early_end: Timestamp,
        /// The asset whose data (in range) starts last.
        late: Asset,
        /// Its first candle in range.
        late_start: Timestamp,
    },
    /// The ranges overlap but no timestamp is common to every asset.
    #[error("the ranges overlap ({} to {}) but no timestamp is common to all assets; {asset} shares none with the others", format_timestamp(*from), format_timestamp(*to))]
    NoCommonTimestamp {
        /// The overlap's start.
        from: Timestamp,
        /// The overlap's end.
        to: Timestamp,
        /// The asset after which the intersection became empty.
        asset: Asset,
    },
}

fn fmt_bound(t: Option<Timestamp>, none: &str) -> String {
    t.map_or_else(|| none.to_string(), format_timestamp)
}

fn fmt_range(r: Option<(Timestamp, Timestamp)>) -> String {
    r.map_or_else(|| "none".to_string(), |(a, b)| format!("{} to {}", format_timestamp(a), format_timestamp(b)))
}

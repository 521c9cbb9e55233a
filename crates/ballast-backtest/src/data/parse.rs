//! The candle parser: format detection and row checks. See the module docs of
//! [`crate::data`].

use std::path::Path;

use ballast_core::Timestamp;
use rust_decimal::Decimal;

use super::{Candle, Interval};
use crate::dates::parse_datetime;
use crate::error::{DataError, LineProblem};
use crate::read::{clip, lines, parse_decimal};

const SIMPLE_COLUMNS: [&str; 6] = ["timestamp", "open", "high", "low", "close", "volume"];
const ARCHIVE_COLUMNS: [&str; 12] = [
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "ignore",
];
/// Open times at or above this are microseconds (10^14 ms is the year 5138).
const MICROS_THRESHOLD: i64 = 100_000_000_000_000;
/// Open times at or above this are rejected (10^17 µs is the year 5138).
const TIMESTAMP_LIMIT: i64 = 100_000_000_000_000_000;
const SIMPLE_TIME_FORMS: &str = "YYYY-MM-DD or YYYY-MM-DD HH:MM:SS (UTC)";
const ARCHIVE_TIME_FORMS: &str = "milliseconds or microseconds since 1970-01-01 UTC";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Simple,
    Archive,
}

impl Format {
    fn columns(self) -> &'static [&'static str] {
        match self {
            Format::Simple => &SIMPLE_COLUMNS,
            Format::Archive => &ARCHIVE_COLUMNS,
        }
    }
}

pub(super) fn parse_candles(path: &Path, bytes: &[u8], interval: Interval) -> Result<Vec<Candle>, DataError> {
    let fail = |line: usize, problem: LineProblem| DataError::Line { path: path.to_path_buf(), line, problem };
    // One candle per line at most (counting newlines is much cheaper than growing).
    let mut candles: Vec<Candle> = Vec::with_capacity(bytes.iter().filter(|&&b| b == b'\n').count() + 1);
    let mut format = None;
    let mut last_line = 0;
    let mut previous_line = 0;

    for (n, raw) in lines(bytes) {
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        last_line = n;
        let text = std::str::from_utf8(raw).map_err(|_| fail(n, LineProblem::NotUtf8))?;
        let fmt = match format {
            Some(f) => f,
            None => {
                let (f, is_header) = detect(text).map_err(|p| fail(n, p))?;
                format = Some(f);
                if is_header {
                    continue;
                }
                f
            }
        };
        let candle = parse_row(text, fmt, interval).map_err(|p| fail(n, p))?;
        if let Some(prev) = candles.last() {
            if candle.open_time == prev.open_time {
                return Err(fail(n, LineProblem::Duplicate { time: candle.open_time, previous_line }));
            }
            if candle.open_time < prev.open_time {
                return Err(fail(
                    n,
                    LineProblem::OutOfOrder { time: candle.open_time, previous: prev.open_time, previous_line },
                ));
            }
        }
        previous_line = n;
        candles.push(candle);
    }
    if candles.is_empty() {
        return Err(DataError::Empty { path: path.to_path_buf(), line: last_line + 1 });
    }
    Ok(candles)
}

/// The format a file's first non-blank line announces, and whether it is a header.
fn detect(text: &str) -> Result<(Format, bool), LineProblem> {
    let first = text.split(',').next().unwrap_or("").trim();
    let is = |name: &str| first.eq_ignore_ascii_case(name);
    if is("timestamp") {
        check_header(text, Format::Simple)?;
        Ok((Format::Simple, true))
    } else if is("open_time") || is("open time") || is("opentime") {
        check_header(text, Format::Archive)?;
        Ok((Format::Archive, true))
    } else if !first.is_empty() && first.bytes().all(|b| b.is_ascii_digit()) {
        Ok((Format::Archive, false))
    } else if parse_datetime(first).is_some() {
        Ok((Format::Simple, false))
    } else {
        Err(LineProblem::UnknownFormat { found: clip(text) })
    }
}

/// The header must name (at least) the format's columns; for the archive format only
/// the six columns read are checked by name, since Binance's headers vary after them.
fn check_header(text: &str, format: Format) -> Result<(), LineProblem> {
    let names: Vec<&str> = text.split(',').map(str::trim).collect();
    let expected = format.columns();
    if let Some(&column) = expected.get(names.len()) {
        return Err(LineProblem::MissingColumn { column, found: names.len(), expected: expected.len() });
    }
    for (i, (&found, &want)) in names.iter().zip(expected).enumerate().take(6).skip(1) {
        if !found.eq_ignore_ascii_case(want) {
            return Err(LineProblem::BadHeader { index: i + 1, found: clip(found), expected: want });
        }
    }
    Ok(())
}

fn parse_row(text: &str, format: Format, interval: Interval) -> Result<Candle, LineProblem> {
    let expected = format.columns();
    let mut fields = [""; 6];
    let mut count = 0;
    for f in text.split(',') {
        if count < 6 {
            fields[count] = f;
        }
        count += 1;
    }
    if let Some(&column) = expected.get(count) {
        return Err(LineProblem::MissingColumn { column, found: count, expected: expected.len() });
    }
    let open_time = match format {
        Format::Simple => parse_datetime(fields[0].trim())
            .map(|(t, _)| t)
            .ok_or_else(|| LineProblem::BadTimestamp { value: clip(fields[0]), expected: SIMPLE_TIME_FORMS })?,
        Format::Archive => parse_epoch(fields[0])?,
    };
    if open_time.0.rem_euclid(interval.millis()) != 0 {
        return Err(LineProblem::OffGrid { time: open_time, interval });
    }
    let price = |i: usize| -> Result<Decimal, LineProblem> {
        let v = parse_decimal(fields[i], expected[i])?;
        if v <= Decimal::ZERO {
            return Err(LineProblem::OutOfRange {
                column: expected[i],
                value: clip(fields[i].trim()),
                rule: "greater than zero",
            });
        }
        Ok(v)
    };
    let (open, high, low, close) = (price(1)?, price(2)?, price(3)?, price(4)?);
    let volume = parse_decimal(fields[5], expected[5])?;
    if volume < Decimal::ZERO {
        return Err(LineProblem::OutOfRange {
            column: expected[5],
            value: clip(fields[5].trim()),
            rule: "zero or more",
        });
    }
    for (name, v) in [("open", open), ("close", close), ("low", low)] {
        if v > high {
            return Err(LineProblem::Inconsistent(format!("{name} {v} is above high {high}")));
        }
    }
    for (name, v) in [("open", open), ("close", close)] {
        if v < low {
            return Err(LineProblem::Inconsistent(format!("{name} {v} is below low {low}")));
        }
    }
    Ok(Candle { open_time, open, high, low, close, volume })
}

/// An archive open time: digits only, milliseconds, or microseconds from 10^14 on.
fn parse_epoch(field: &str) -> Result<Timestamp, LineProblem> {
    let t = field.trim();
    let bad = || LineProblem::BadTimestamp { value: clip(field), expected: ARCHIVE_TIME_FORMS };
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let v: i64 = t.parse().map_err(|_| bad())?;
    if v >= TIMESTAMP_LIMIT {
        return Err(bad());
    }
    Ok(Timestamp(if v >= MICROS_THRESHOLD { v / 1000 } else { v }))
}

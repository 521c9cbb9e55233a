//! UTC calendar dates and times, as [`Timestamp`]s (milliseconds since the epoch).
//!
//! Only the proleptic Gregorian calendar in UTC, years 0000 to 9999: enough for candle
//! files and `--start` / `--end` flags, without a date-time dependency.

use ballast_core::Timestamp;
use ballast_core::time::{civil_from_days, days_from_civil};

use crate::error::DataError;

const MS_PER_DAY: i64 = 86_400_000;

/// Parses a UTC date or date-time: `YYYY-MM-DD` (00:00 UTC), `YYYY-MM-DD HH:MM` or
/// `YYYY-MM-DD HH:MM:SS` (a `T` may stand for the space, and a trailing `Z` is allowed).
///
/// ```
/// use ballast_backtest::dates::parse_date;
/// assert_eq!(parse_date("2021-01-01").unwrap().0, 1_609_459_200_000);
/// assert_eq!(parse_date("2021-01-01 04:00").unwrap().0, 1_609_473_600_000);
/// ```
pub fn parse_date(s: &str) -> Result<Timestamp, DataError> {
    parse_datetime(s.trim()).map(|(t, _)| t).ok_or_else(|| DataError::InvalidDate { input: s.to_string() })
}

/// Parses the end of an inclusive range: like [`parse_date`], except that a bare day
/// means the whole day, so `2025-12-31` gives 2025-12-31T23:59:59.999 UTC. A date with a
/// time is taken as is.
///
/// ```
/// use ballast_backtest::dates::{parse_date, parse_end_date};
/// let end = parse_end_date("2025-12-31").unwrap();
/// assert_eq!(end.0, parse_date("2026-01-01").unwrap().0 - 1);
/// ```
pub fn parse_end_date(s: &str) -> Result<Timestamp, DataError> {
    match parse_datetime(s.trim()) {
        Some((t, false)) => Ok(Timestamp(t.0 + MS_PER_DAY - 1)),
        Some((t, true)) => Ok(t),
        None => Err(DataError::InvalidDate { input: s.to_string() }),
    }
}

/// Formats a timestamp for people: `YYYY-MM-DD` at midnight, otherwise
/// `YYYY-MM-DD HH:MM:SS` (with `.mmm` when the milliseconds are not zero). UTC.
pub fn format_timestamp(t: Timestamp) -> String {
    let days = t.0.div_euclid(MS_PER_DAY);
    let ms_of_day = t.0.rem_euclid(MS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    if ms_of_day == 0 {
        return format!("{y:04}-{m:02}-{d:02}");
    }
    let secs = ms_of_day / 1000;
    let ms = ms_of_day % 1000;
    let (hh, mm, ss) = (secs / 3600, secs / 60 % 60, secs % 60);
    if ms == 0 {
        format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02}")
    } else {
        format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02}.{ms:03}")
    }
}

/// Parses `YYYY-MM-DD[( |T)HH:MM[:SS]][Z]`; the flag says whether a time was given.
/// Allocation-free: this is the candle loader's timestamp parser too.
pub(crate) fn parse_datetime(s: &str) -> Option<(Timestamp, bool)> {
    let b = s.strip_suffix('Z').unwrap_or(s).as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y = digits(&b[0..4])?;
    let m = digits(&b[5..7])?;
    let d = digits(&b[8..10])?;
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    let day_ms = days_from_civil(y, m, d) * MS_PER_DAY;
    let rest = &b[10..];
    if rest.is_empty() {
        return Some((Timestamp(day_ms), false));
    }
    // " HH:MM" or " HH:MM:SS"
    if !(rest.len() == 6 || rest.len() == 9) || !(rest[0] == b' ' || rest[0] == b'T') || rest[3] != b':' {
        return None;
    }
    let hh = digits(&rest[1..3])?;
    let mm = digits(&rest[4..6])?;
    let ss = if rest.len() == 9 {
        if rest[6] != b':' {
            return None;
        }
        digits(&rest[7..9])?
    } else {
        0
    };
    if hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    Some((Timestamp(day_ms + (hh * 3600 + mm * 60 + ss) * 1000), true))
}

fn digits(b: &[u8]) -> Option<i64> {
    let mut n: i64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + i64::from(c - b'0');
    }
    Some(n)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        _ => 28,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(parse_date("1970-01-01").unwrap(), Timestamp(0));
        assert_eq!(parse_date("2017-08-17").unwrap(), Timestamp(1_502_928_000_000));
        assert_eq!(parse_date("2026-01-05").unwrap(), Timestamp(1_767_571_200_000));
        assert_eq!(parse_date("2024-02-29 23:59:59").unwrap(), Timestamp(1_709_251_199_000));
        assert_eq!(parse_date("2024-02-29T23:59Z").unwrap(), Timestamp(1_709_251_140_000));
        assert_eq!(parse_date(" 1969-12-31 ").unwrap(), Timestamp(-MS_PER_DAY));
    }

    #[test]
    fn end_dates_are_inclusive_days() {
        assert_eq!(parse_end_date("2025-12-31").unwrap(), Timestamp(parse_date("2026-01-01").unwrap().0 - 1));
        assert_eq!(format_timestamp(parse_end_date("2025-12-31").unwrap()), "2025-12-31 23:59:59.999");
        assert_eq!(parse_end_date("2025-12-31 12:00").unwrap(), parse_date("2025-12-31 12:00:00").unwrap());
    }

    #[test]
    fn rejects_bad_dates() {
        for bad in [
            "",
            "2021",
            "2021-1-01",
            "2021-13-01",
            "2021-02-29",
            "2021-04-31",
            "2021-00-10",
            "2021-01-00",
            "2021-01-01 24:00",
            "2021-01-01 12:60",
            "2021-01-01 12:00:60",
            "2021-01-01 12",
            "2021-01-01 12:00:",
            "2021/01/01",
            "2021-01-01x",
            "+021-01-01",
            "２０２１-01-01",
            "2021-01-01 12:00:00.5",
        ] {
            let e = parse_date(bad).unwrap_err();
            assert!(e.to_string().contains("YYYY-MM-DD"), "{bad}: {e}");
        }
    }

    #[test]
    fn round_trips_every_day_over_centuries() {
        for days in (days_from_civil(1600, 1, 1)..days_from_civil(2400, 12, 31)).step_by(7) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
            let t = Timestamp(days * MS_PER_DAY);
            assert_eq!(parse_date(&format_timestamp(t)).unwrap(), t);
        }
        let t = parse_date("2020-02-29 13:05:09").unwrap();
        assert_eq!(format_timestamp(t), "2020-02-29 13:05:09");
    }
}

//! Points in time and spans, as plain numbers. The core never reads a clock: callers
//! pass `now`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::CoreError;

/// Milliseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// This time plus a span (saturating).
    pub fn plus(self, span: Span) -> Timestamp {
        Timestamp(self.0.saturating_add(span.millis()))
    }

    /// The span from `earlier` to `self` (zero if `earlier` is later).
    pub fn since(self, earlier: Timestamp) -> Span {
        Span::from_millis(self.0.saturating_sub(earlier.0).max(0))
    }
}

/// A length of time in whole seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Span {
    secs: i64,
}

impl Span {
    /// A span of `secs` seconds.
    pub const fn from_secs(secs: i64) -> Self {
        Self { secs }
    }
    /// A span of `m` minutes.
    pub const fn minutes(m: i64) -> Self {
        Self { secs: m * 60 }
    }
    /// A span of `h` hours.
    pub const fn hours(h: i64) -> Self {
        Self { secs: h * 3600 }
    }
    /// A span of `d` days.
    pub const fn days(d: i64) -> Self {
        Self { secs: d * 86_400 }
    }
    /// A span of whole seconds from milliseconds (rounded down).
    pub const fn from_millis(ms: i64) -> Self {
        Self { secs: ms / 1000 }
    }
    /// Seconds.
    pub const fn secs(self) -> i64 {
        self.secs
    }
    /// Milliseconds.
    pub const fn millis(self) -> i64 {
        self.secs.saturating_mul(1000)
    }
}

impl fmt::Display for Span {
    /// The largest unit up to days that divides the span: `28d`, `7d`, `4h`, `30m`,
    /// `90s` (never weeks: `28d` stays what the user wrote, not `4w`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.secs;
        if s != 0 && s % 86_400 == 0 {
            write!(f, "{}d", s / 86_400)
        } else if s != 0 && s % 3600 == 0 {
            write!(f, "{}h", s / 3600)
        } else if s != 0 && s % 60 == 0 {
            write!(f, "{}m", s / 60)
        } else {
            write!(f, "{s}s")
        }
    }
}

impl FromStr for Span {
    type Err = CoreError;
    /// Parses `30m`, `4h`, `7d`, `2w`, `90s` (a whole number and one unit).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let bad = || CoreError::InvalidDuration(s.to_string());
        let split = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let (num, unit) = t.split_at(split);
        let n: i64 = num.parse().map_err(|_| bad())?;
        let mult = match unit.trim() {
            "s" => 1,
            "m" | "min" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 604_800,
            _ => return Err(bad()),
        };
        n.checked_mul(mult).map(Span::from_secs).ok_or_else(bad)
    }
}

impl TryFrom<String> for Span {
    type Error = CoreError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Span> for String {
    fn from(s: Span) -> String {
        s.to_string()
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm;
/// saturating far outside the calendar rather than overflowing).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era.saturating_mul(146_097).saturating_add(doe).saturating_sub(719_468)
}

/// The `(year, month, day)` of a day number since 1970-01-01 (inverse of
/// [`days_from_civil`]).
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_spans() {
        assert_eq!("30m".parse::<Span>().unwrap(), Span::minutes(30));
        assert_eq!("7d".parse::<Span>().unwrap().to_string(), "7d");
        assert_eq!("28d".parse::<Span>().unwrap().to_string(), "28d");
        assert_eq!("2w".parse::<Span>().unwrap().to_string(), "14d");
        assert_eq!("4h".parse::<Span>().unwrap().to_string(), "4h");
        assert_eq!("28d".parse::<Span>().unwrap(), Span::days(28));
        for bad in ["", "d", "7", "7y", "-1d", "1.5h", "99999999999999999999d"] {
            assert!(bad.parse::<Span>().is_err(), "{bad}");
        }
    }

    #[test]
    fn timestamp_arithmetic() {
        let t = Timestamp(1_000_000);
        assert_eq!(t.plus(Span::from_secs(5)), Timestamp(1_005_000));
        assert_eq!(t.plus(Span::minutes(1)).since(t), Span::minutes(1));
        assert_eq!(t.since(t.plus(Span::hours(1))), Span::from_secs(0));
    }
}

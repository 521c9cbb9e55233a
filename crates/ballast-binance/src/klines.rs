//! Candles: [`Binance::klines`] reads one page of `GET /api/v3/klines`, and
//! [`fetch_to_csv`] pages through a whole range into the CSV format the backtester
//! reads (`timestamp,open,high,low,close,volume`), resuming an interrupted download.
//!
//! - `timestamp` is the candle's open time in UTC: `YYYY-MM-DD` for daily (and longer)
//!   bars, `YYYY-MM-DD HH:MM:SS` otherwise; prices and volume are exact decimals
//!   without trailing zeros.
//! - A candle whose close time is after the server's time (the bar still forming) is
//!   never written.
//! - Rate limits are waited out: a `RateLimited` error (the adapter's own weight budget
//!   or a 429/418 from the venue) sleeps its `retry_after_ms`, then the page is asked
//!   again.

use std::fs::OpenOptions;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

use ballast_exchange::ExchangeError;
use rust_decimal::Decimal;
use serde_json::Value;

use crate::Binance;

/// The most klines Binance returns per request.
pub const MAX_LIMIT: u16 = 1000;
/// The request weight of `GET /api/v3/klines`.
pub const KLINES_WEIGHT: u32 = 2;
/// The header line of the CSV files written.
pub const CSV_HEADER: &str = "timestamp,open,high,low,close,volume";

const MS_PER_DAY: i64 = 86_400_000;
/// Consecutive rate-limit waits before [`fetch_to_csv`] gives up.
const MAX_RATE_LIMIT_WAITS: u32 = 30;
/// Consecutive `Unavailable` retries before [`fetch_to_csv`] gives up.
const MAX_UNAVAILABLE_RETRIES: u32 = 3;

/// One candle as Binance sends it (the first seven fields of a kline array).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kline {
    /// Open time, ms since the epoch (UTC).
    pub open_time: i64,
    /// The first trade's price.
    pub open: Decimal,
    /// The highest price.
    pub high: Decimal,
    /// The lowest price.
    pub low: Decimal,
    /// The last trade's price.
    pub close: Decimal,
    /// Base-asset volume.
    pub volume: Decimal,
    /// Close time, ms since the epoch: the open time of the next bar minus 1.
    pub close_time: i64,
}

/// The length in ms of a Binance kline interval (`1s`, `1m` ... `1d`, `3d`, `1w`);
/// `None` for an unknown one and for `1M` (months have no fixed length).
pub fn interval_ms(interval: &str) -> Option<i64> {
    let (num, unit) = interval.split_at(interval.len().checked_sub(1)?);
    let n: i64 = num.parse().ok().filter(|n| *n > 0)?;
    let unit_ms = match unit {
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => MS_PER_DAY,
        "w" => 7 * MS_PER_DAY,
        _ => return None,
    };
    let ok = matches!(
        (n, unit),
        (1, "s") | (1 | 3 | 5 | 15 | 30, "m") | (1 | 2 | 4 | 6 | 8 | 12, "h") | (1 | 3, "d") | (1, "w")
    );
    ok.then_some(n * unit_ms)
}

fn field_i64(row: &[Value], i: usize) -> Result<i64, String> {
    row.get(i).and_then(Value::as_i64).ok_or_else(|| format!("field {i} is not an integer"))
}

fn field_dec(row: &[Value], i: usize) -> Result<Decimal, String> {
    let s = row.get(i).and_then(Value::as_str).ok_or_else(|| format!("field {i} is not a string"))?;
    s.parse::<Decimal>().map_err(|e| format!("field {i} {s:?}: {e}"))
}

/// Parses Binance's kline JSON: an array of arrays `[open time, "open", "high", "low",
/// "close", "volume", close time, ...]` (prices and volume as decimal strings).
pub fn parse_klines(v: &Value) -> Result<Vec<Kline>, String> {
    let rows = v.as_array().ok_or("not a list")?;
    rows.iter()
        .enumerate()
        .map(|(n, row)| {
            let row = row.as_array().ok_or_else(|| format!("kline {n}: not a list"))?;
            let k = Kline {
                open_time: field_i64(row, 0)?,
                open: field_dec(row, 1)?,
                high: field_dec(row, 2)?,
                low: field_dec(row, 3)?,
                close: field_dec(row, 4)?,
                volume: field_dec(row, 5)?,
                close_time: field_i64(row, 6)?,
            };
            Ok(k)
        })
        .collect::<Result<Vec<_>, String>>()
        .map_err(|e| format!("klines: {e}"))
}

impl Binance {
    /// One page of `GET /api/v3/klines` (public, weight 2): up to `limit` (at most
    /// 1000) candles of `symbol` whose open time is in `start_ms ..= end_ms`, oldest
    /// first. The last one may still be forming (its close time after now).
    pub fn klines(
        &self,
        symbol: &str,
        interval: &str,
        start_ms: i64,
        end_ms: i64,
        limit: u16,
    ) -> Result<Vec<Kline>, ExchangeError> {
        let query = [
            ("symbol", symbol.to_string()),
            ("interval", interval.to_string()),
            ("startTime", start_ms.to_string()),
            ("endTime", end_ms.to_string()),
            ("limit", limit.clamp(1, MAX_LIMIT).to_string()),
        ];
        let v = self.get_public("/api/v3/klines", &query, KLINES_WEIGHT)?;
        parse_klines(&v).map_err(|e| ExchangeError::Unavailable(format!("binance {symbol} {e}")))
    }

    /// The server's time (`GET /api/v3/time`), ms.
    fn server_time_ms(&self) -> Result<i64, ExchangeError> {
        let v = self.get_public("/api/v3/time", &[], 1)?;
        v.get("serverTime")
            .and_then(Value::as_i64)
            .ok_or_else(|| ExchangeError::Unavailable("binance /api/v3/time: no serverTime".into()))
    }
}

/// Why [`fetch_to_csv`] failed. Whatever was written before the failure stays in the
/// file (complete rows only): calling again resumes.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The venue refused or could not answer (after the waits and retries).
    #[error("{0}")]
    Exchange(#[from] ExchangeError),
    /// Reading or writing the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The existing file is not a candle CSV this function wrote (wrong header).
    #[error("{path}: {msg}")]
    BadFile {
        /// The file.
        path: String,
        /// What is wrong.
        msg: String,
    },
    /// An interval [`interval_ms`] does not know.
    #[error("unsupported interval {0:?}")]
    Interval(String),
}

/// What [`fetch_to_csv`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FetchReport {
    /// Successful kline requests.
    pub requests: u64,
    /// Candles appended to the file.
    pub written: u64,
    /// The open time (ms) of the last complete row found in an existing file, when the
    /// download resumed after it.
    pub resumed_after: Option<i64>,
    /// The open time (ms) of the last row in the file at the end, if any.
    pub last_open_ms: Option<i64>,
    /// Times a rate limit was waited out.
    pub rate_limit_waits: u64,
    /// Total time slept because of rate limits and retries, ms.
    pub waited_ms: u64,
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, m, d)
}

/// The CSV timestamp of an open time: `YYYY-MM-DD` when `date_only`, else
/// `YYYY-MM-DD HH:MM:SS` (UTC).
pub fn csv_timestamp(open_ms: i64, date_only: bool) -> String {
    let (y, m, d) = civil_from_days(open_ms.div_euclid(MS_PER_DAY));
    if date_only {
        return format!("{y:04}-{m:02}-{d:02}");
    }
    let secs = open_ms.rem_euclid(MS_PER_DAY) / 1000;
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// Parses a CSV timestamp (`YYYY-MM-DD` or `YYYY-MM-DD HH:MM:SS`) back to ms.
pub fn parse_csv_timestamp(s: &str) -> Option<i64> {
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes().all(|b| b.is_ascii_digit()).then(|| t.parse().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if s.get(4..5)? != "-" || s.get(7..8)? != "-" || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let day_ms = days_from_civil(y, m, d) * MS_PER_DAY;
    match s.len() {
        10 => Some(day_ms),
        19 if s.get(10..11)? == " " && s.get(13..14)? == ":" && s.get(16..17)? == ":" => {
            let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
            (hh < 24 && mm < 60 && ss < 60).then_some(day_ms + ((hh * 60 + mm) * 60 + ss) * 1000)
        }
        _ => None,
    }
}

/// One CSV row (with its newline).
fn csv_row(k: &Kline, date_only: bool) -> String {
    format!(
        "{},{},{},{},{},{}\n",
        csv_timestamp(k.open_time, date_only),
        k.open.normalize(),
        k.high.normalize(),
        k.low.normalize(),
        k.close.normalize(),
        k.volume.normalize()
    )
}

/// The open time of a complete data row (six fields, a valid timestamp).
fn row_open_time(line: &str) -> Option<i64> {
    let fields: Vec<&str> = line.split(',').collect();
    if fields.len() != 6 || fields[1..].iter().any(|f| f.trim().parse::<Decimal>().is_err()) {
        return None;
    }
    parse_csv_timestamp(fields[0].trim())
}

/// Scans an existing file: the byte length of its valid prefix (header plus complete
/// rows; a partial last line is cut off) and the open time of its last row.
fn scan_existing(text: &str, path: &str) -> Result<(u64, Option<i64>), FetchError> {
    let bad = |msg: String| FetchError::BadFile { path: path.to_string(), msg };
    if text.is_empty() {
        return Ok((0, None));
    }
    let mut pos = 0usize;
    let mut valid_len = 0usize;
    let mut last = None;
    let mut first = true;
    while let Some(nl) = text[pos..].find('\n') {
        let line = text[pos..pos + nl].trim_end_matches('\r');
        let end = pos + nl + 1;
        if first {
            if line.trim() != CSV_HEADER {
                return Err(bad(format!("not a candle file: the first line is not {CSV_HEADER:?}")));
            }
            first = false;
            valid_len = end;
        } else if line.trim().is_empty() {
            valid_len = end;
        } else {
            match row_open_time(line) {
                Some(t) if last.is_none_or(|l| t > l) => {
                    last = Some(t);
                    valid_len = end;
                }
                // A damaged or out-of-order line: keep what comes before it (rows after
                // a damaged one are not trusted either).
                _ => break,
            }
        }
        pos = end;
    }
    if first {
        // Only a partial header: start over.
        return Ok((0, None));
    }
    Ok((valid_len as u64, last))
}

/// Runs `f`, waiting out rate limits (their `retry_after_ms`) and retrying briefly on
/// `Unavailable` (1 s, 2 s, 4 s); counts the waits in `report`.
fn with_retries<T>(report: &mut FetchReport, mut f: impl FnMut() -> Result<T, ExchangeError>) -> Result<T, FetchError> {
    let (mut waits, mut retries) = (0u32, 0u32);
    loop {
        match f() {
            Ok(v) => return Ok(v),
            Err(ExchangeError::RateLimited { retry_after_ms }) if waits < MAX_RATE_LIMIT_WAITS => {
                waits += 1;
                report.rate_limit_waits += 1;
                report.waited_ms += retry_after_ms;
                std::thread::sleep(Duration::from_millis(retry_after_ms));
            }
            Err(ExchangeError::Unavailable(_)) if retries < MAX_UNAVAILABLE_RETRIES => {
                let ms = 1000u64 << retries;
                retries += 1;
                report.waited_ms += ms;
                std::thread::sleep(Duration::from_millis(ms));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Downloads the candles of `symbol` (`BTCUSDT`) at `interval` (`4h`) whose open time
/// is in `start_ms ..= end_ms` into the CSV file `path`, paging 1000 candles per
/// request.
///
/// If `path` exists (a file this function wrote, possibly interrupted), its complete
/// rows are kept, a partial last line is cut off, and the download continues after its
/// last row (never before `start_ms`). Candles still forming (close time after the
/// server's time) are not written. `progress(done, total)` is called after each page,
/// in bars of the requested range.
pub fn fetch_to_csv(
    binance: &Binance,
    symbol: &str,
    interval: &str,
    start_ms: i64,
    end_ms: i64,
    path: &Path,
    progress: &dyn Fn(u64, u64),
) -> Result<FetchReport, FetchError> {
    let step = interval_ms(interval).ok_or_else(|| FetchError::Interval(interval.to_string()))?;
    let date_only = step % MS_PER_DAY == 0;
    let shown = path.display().to_string();
    let io = |source: std::io::Error| FetchError::Io { path: shown.clone(), source };
    let mut report = FetchReport::default();

    let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).map_err(io)?;
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(io)?;
    let (valid_len, last) = scan_existing(&text, &shown)?;
    file.set_len(valid_len).map_err(io)?;
    file.seek(SeekFrom::End(0)).map_err(io)?;
    let mut out = BufWriter::new(file);
    if valid_len == 0 {
        out.write_all(format!("{CSV_HEADER}\n").as_bytes()).map_err(io)?;
        out.flush().map_err(io)?;
    }
    report.last_open_ms = last;
    report.resumed_after = last;

    let bars = |from: i64, to: i64| if to < from { 0 } else { ((to - from) / step + 1) as u64 };
    let total = bars(start_ms, end_ms);
    let mut next = last.map_or(start_ms, |l| (l + step).max(start_ms));
    if next > end_ms {
        progress(total, total);
        return Ok(report);
    }
    let now = with_retries(&mut report, || binance.server_time_ms())?;
    // The last bar closed by now (close time = open + step - 1) ends the range.
    let end_ms = end_ms.min(now - step + 1);
    let total = bars(start_ms, end_ms);
    progress(bars(start_ms, next - 1).min(total), total);
    while next <= end_ms {
        let page = with_retries(&mut report, || binance.klines(symbol, interval, next, end_ms, MAX_LIMIT))?;
        report.requests += 1;
        let Some(page_last) = page.last().map(|k| k.open_time) else { break };
        let mut forming = false;
        for k in &page {
            if k.open_time < next || k.open_time > end_ms || report.last_open_ms.is_some_and(|l| k.open_time <= l) {
                continue;
            }
            if k.close_time > now {
                forming = true;
                break;
            }
            out.write_all(csv_row(k, date_only).as_bytes()).map_err(io)?;
            report.written += 1;
            report.last_open_ms = Some(k.open_time);
        }
        out.flush().map_err(io)?;
        progress(bars(start_ms, page_last.min(end_ms)), total);
        if forming || page.len() < usize::from(MAX_LIMIT) || page_last < next {
            break;
        }
        next = page_last + step;
    }
    progress(total, total);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;
    use serde_json::json;

    #[test]
    fn parses_binance_klines_exactly() {
        let v = json!([[
            1_704_067_200_000i64,
            "42283.58000000",
            "42554.57000000",
            "42261.02000000",
            "42475.23000000",
            "1271.68108000",
            1_704_081_599_999i64,
            "53957248.97378900",
            47134,
            "682.57581000",
            "28957416.81530330",
            "0"
        ]]);
        let k = parse_klines(&v).unwrap();
        assert_eq!(k.len(), 1);
        assert_eq!(k[0].open_time, 1_704_067_200_000);
        assert_eq!(k[0].close, dec!(42475.23));
        assert_eq!(k[0].volume.to_string(), "1271.68108000");
        assert_eq!(k[0].close_time, 1_704_081_599_999);
        assert_eq!(csv_row(&k[0], false), "2024-01-01 00:00:00,42283.58,42554.57,42261.02,42475.23,1271.68108\n");
        assert!(parse_klines(&json!([[1, "x"]])).is_err());
        assert!(parse_klines(&json!({"code": 1})).is_err());
    }

    #[test]
    fn timestamps_round_trip() {
        for (s, date_only) in [("2024-01-01", true), ("2024-02-29 20:00:00", false), ("1999-12-31 23:59:59", false)] {
            let t = parse_csv_timestamp(s).unwrap();
            assert_eq!(csv_timestamp(t, date_only), s);
        }
        assert_eq!(parse_csv_timestamp("2024-01-01"), Some(1_704_067_200_000));
        assert_eq!(parse_csv_timestamp("2024-01-01 04:00:00"), Some(1_704_081_600_000));
        assert_eq!(parse_csv_timestamp("2024-1-01"), None);
        assert_eq!(parse_csv_timestamp("2024-01-01 04:00"), None);
    }

    #[test]
    fn intervals() {
        assert_eq!(interval_ms("4h"), Some(14_400_000));
        assert_eq!(interval_ms("1d"), Some(MS_PER_DAY));
        assert_eq!(interval_ms("15m"), Some(900_000));
        assert_eq!(interval_ms("1M"), None);
        assert_eq!(interval_ms("7h"), None);
        assert_eq!(interval_ms(""), None);
    }

    #[test]
    fn scan_cuts_a_partial_last_line() {
        let text = format!(
            "{CSV_HEADER}\n2024-01-01 00:00:00,1,2,0.5,1.5,3\n2024-01-01 04:00:00,1,2,0.5,1.5,3\n2024-01-01 08:0"
        );
        let (len, last) = scan_existing(&text, "f").unwrap();
        assert_eq!(&text[..len as usize], &text[..text.rfind('\n').unwrap() + 1]);
        assert_eq!(last, parse_csv_timestamp("2024-01-01 04:00:00"));
        assert_eq!(scan_existing("", "f").unwrap(), (0, None));
        assert_eq!(scan_existing("timest", "f").unwrap(), (0, None));
        assert!(matches!(scan_existing("a,b\n", "f"), Err(FetchError::BadFile { .. })));
        // A row cut before its last field but after a comma is not complete either.
        let text = format!("{CSV_HEADER}\n2024-01-01,1,2,0.5,1.5,3\n2024-01-02,1,2,0.5,1.5\n");
        let (len, last) = scan_existing(&text, "f").unwrap();
        assert_eq!(len as usize, CSV_HEADER.len() + 1 + "2024-01-01,1,2,0.5,1.5,3\n".len());
        assert_eq!(last, parse_csv_timestamp("2024-01-01"));
    }

    /// Answers `/api/v3/time` with `now` and every klines request with `rows`.
    struct Fake {
        now: i64,
        rows: Value,
    }

    impl crate::Transport for Fake {
        fn send(&self, req: crate::HttpRequest) -> Result<crate::HttpResponse, crate::TransportError> {
            let body = if req.url.contains("/api/v3/time") {
                json!({ "serverTime": self.now }).to_string()
            } else {
                assert!(req.url.contains("/api/v3/klines?symbol=BTCUSDT&interval=4h&startTime="), "{}", req.url);
                assert!(req.headers.is_empty(), "klines are public: no key header");
                self.rows.to_string()
            };
            Ok(crate::HttpResponse { status: 200, headers: vec![], body })
        }
    }

    #[test]
    fn a_forming_candle_is_not_written() {
        const H4: i64 = 14_400_000;
        let t0 = parse_csv_timestamp("2024-01-01").unwrap();
        let row = |i: i64| json!([t0 + i * H4, "1.0", "2.0", "0.5", "1.5", "10.00000000", t0 + (i + 1) * H4 - 1]);
        let rows = json!([row(0), row(1), row(2)]);
        let now = t0 + 2 * H4 + 60_000; // bar 2 is still forming
        let clock = std::sync::Arc::new(ballast_exchange::ManualClock::new(ballast_core::Timestamp(now)));
        let b = Binance::new(crate::BinanceConfig::default(), std::sync::Arc::new(Fake { now, rows }), clock);
        let path = std::env::temp_dir().join(format!("ballast-klines-test-{}.csv", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let calls = std::cell::Cell::new(0);
        let r = fetch_to_csv(&b, "BTCUSDT", "4h", t0, t0 + 10 * H4, &path, &|_, _| calls.set(calls.get() + 1)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        assert_eq!(
            text,
            format!("{CSV_HEADER}\n2024-01-01 00:00:00,1,2,0.5,1.5,10\n2024-01-01 04:00:00,1,2,0.5,1.5,10\n")
        );
        assert_eq!((r.written, r.requests, r.last_open_ms), (2, 1, Some(t0 + H4)));
        assert!(calls.get() >= 2);
    }
}

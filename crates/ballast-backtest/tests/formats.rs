//! Candle files in both formats, plain and gzip, and every error the loader reports.

use std::io::Write;
use std::path::{Path, PathBuf};

use ballast_backtest::{DataError, Interval, LineProblem, Series, load_dir, load_file, parse_date};
use ballast_core::{Asset, Timestamp};
use flate2::Compression;
use flate2::write::GzEncoder;
use rust_decimal_macros::dec;
use tempfile::TempDir;

fn btc() -> Asset {
    Asset::new("BTC").unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn write_gz(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    let mut e = GzEncoder::new(Vec::new(), Compression::best());
    e.write_all(text.as_bytes()).unwrap();
    std::fs::write(&p, e.finish().unwrap()).unwrap();
    p
}

fn t(s: &str) -> Timestamp {
    parse_date(s).unwrap()
}

const DAILY: &str = "timestamp,open,high,low,close,volume
2017-08-17,4261.48,4485.39,4200.74,4285.08,795.150377
2017-08-18,4285.08,4371.52,3938.77,4108.37,1199.888264
2017-08-19,4108.37,4184.69,3850.0,4139.98,381.309763
";

// Binance archive rows for BTCUSDT 4h (2024-12-31 20:00 and 2025-01-01 00:00).
const ARCHIVE_MS: &str = "1735675200000,93576.00000000,94230.00000000,93359.99000000,93576.00000000,1829.66283000,1735689599999,171556389.11283210,298461,887.62004000,83228806.47413800,0
1735689600000,93576.00000000,94509.42000000,93489.03000000,94401.14000000,1565.39460000,1735703999999,147311094.08289660,263386,819.26007000,77090627.27707040,0
";
const ARCHIVE_US: &str = "1735675200000000,93576.00000000,94230.00000000,93359.99000000,93576.00000000,1829.66283000,1735689599999999,171556389.11283210,298461,887.62004000,83228806.47413800,0
1735689600000000,93576.00000000,94509.42000000,93489.03000000,94401.14000000,1565.39460000,1735703999999999,147311094.08289660,263386,819.26007000,77090627.27707040,0
";
const ARCHIVE_HEADER: &str = "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore\n";

fn check_archive(s: &Series) {
    assert_eq!(s.interval, Interval::H4);
    assert_eq!(s.times(), [t("2024-12-31 20:00"), t("2025-01-01")]);
    let c = &s.candles[1];
    assert_eq!(
        (c.open, c.high, c.low, c.close, c.volume),
        (dec!(93576), dec!(94509.42), dec!(93489.03), dec!(94401.14), dec!(1565.3946))
    );
}

#[test]
fn simple_format_plain_and_gzip() {
    let dir = TempDir::new().unwrap();
    // Gzip is detected from the content: a gzip file called .csv and a plain one called .gz.
    for path in
        [write(dir.path(), "a.csv", DAILY), write_gz(dir.path(), "b.csv", DAILY), write(dir.path(), "c.csv.gz", DAILY)]
    {
        let s = load_file(&path, btc(), Interval::D1).unwrap();
        assert_eq!(s.asset, btc());
        assert_eq!(s.len(), 3);
        assert_eq!(s.candles[0].open_time, t("2017-08-17"));
        assert_eq!(s.candles[0].open, dec!(4261.48));
        assert_eq!(s.candles[2].low, dec!(3850.0));
        assert_eq!(s.candles[1].volume, dec!(1199.888264));
        assert_eq!(s.closes_f64(), [4285.08, 4108.37, 4139.98]);
        assert_eq!(s.closes()[2], dec!(4139.98));
    }
}

#[test]
fn simple_format_intraday_crlf_bom_blank_lines_scientific() {
    let dir = TempDir::new().unwrap();
    let text = "\u{feff}timestamp,open,high,low,close,volume\r\n2021-05-10 04:00:00,9.04e-06,1.009E-05,8.58e-06,9.27e-06,5226327992949.0\r\n\r\n2021-05-10 08:00:00,0.00000927,0.00000963,0.00000914,0.00000935,1\r\n\r\n";
    let s = load_file(write(dir.path(), "shib", text), Asset::new("SHIB").unwrap(), Interval::H4).unwrap();
    assert_eq!(s.len(), 2);
    assert_eq!(s.candles[0].open_time, t("2021-05-10 04:00:00"));
    assert_eq!(s.candles[0].open, dec!(0.00000904));
    assert_eq!(s.candles[0].high, dec!(0.00001009));
    assert_eq!(s.candles[1].close, dec!(0.00000935));
    // A headerless simple file is accepted too.
    let s =
        load_file(write(dir.path(), "nohdr", &DAILY[DAILY.find('\n').unwrap() + 1..]), btc(), Interval::D1).unwrap();
    assert_eq!(s.len(), 3);
}

#[test]
fn archive_format_ms_us_header_gzip() {
    let dir = TempDir::new().unwrap();
    let cases = [
        write(dir.path(), "ms.csv", ARCHIVE_MS),
        write(dir.path(), "us.csv", ARCHIVE_US),
        write(dir.path(), "hdr.csv", &format!("{ARCHIVE_HEADER}{ARCHIVE_MS}")),
        write_gz(dir.path(), "us.csv.gz", &format!("{ARCHIVE_HEADER}{ARCHIVE_US}")),
        write_gz(dir.path(), "noext", ARCHIVE_MS),
        // A December (ms) file concatenated with a January (µs) file.
        write(
            dir.path(),
            "mixed.csv",
            &format!("{}{}", ARCHIVE_MS.lines().next().unwrap(), &ARCHIVE_US[ARCHIVE_US.find('\n').unwrap()..]),
        ),
    ];
    for p in cases {
        let s = load_file(&p, btc(), Interval::H4).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        check_archive(&s);
    }
}

/// Loads `text` from a file called `name` and returns the error message, checking that
/// it names the file and, when `line` is given, the line.
fn error(name: &str, text: &str, interval: Interval, line: Option<usize>) -> (DataError, String) {
    let dir = TempDir::new().unwrap();
    let p = write(dir.path(), name, text);
    let e = load_file(&p, btc(), interval).expect_err(name);
    let msg = e.to_string();
    assert!(msg.contains(&p.display().to_string()), "{msg}");
    if let Some(n) = line {
        assert!(msg.contains(&format!(", line {n}:")), "{msg}");
        match &e {
            DataError::Line { line, path, .. } | DataError::Empty { line, path } => {
                assert_eq!((*line, path.as_path()), (n, p.as_path()));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    (e, msg)
}

fn problem(e: &DataError) -> &LineProblem {
    match e {
        DataError::Line { problem, .. } => problem,
        other => panic!("not a line error: {other:?}"),
    }
}

#[test]
fn errors_name_file_and_line() {
    let row = "2017-08-20,4139.98,4211.08,4032.62,4086.29,467.083022";
    let h = "timestamp,open,high,low,close,volume\n";
    let d = Interval::D1;

    let (e, msg) = error("order.csv", &format!("{h}{row}\n2017-08-19,1,1,1,1,1\n"), d, Some(3));
    assert!(matches!(problem(&e), LineProblem::OutOfOrder { previous_line: 2, .. }), "{msg}");
    assert!(msg.contains("out of order: 2017-08-19 comes after 2017-08-20 (line 2)"), "{msg}");

    let (e, msg) = error("dup.csv", &format!("{h}{row}\n\n{row}\n"), d, Some(4));
    assert!(matches!(problem(&e), LineProblem::Duplicate { previous_line: 2, .. }), "{msg}");
    assert!(msg.contains("duplicate timestamp 2017-08-20 (also on line 2)"), "{msg}");

    let (_, msg) = error("zero.csv", &format!("{h}{row}\n2017-08-21,1,1,0,1,1\n"), d, Some(3));
    assert!(msg.contains("low must be greater than zero, found 0"), "{msg}");
    let (_, msg) = error("neg.csv", &format!("{h}2017-08-21,1,1,1,-1,1\n"), d, Some(2));
    assert!(msg.contains("close must be greater than zero, found -1"), "{msg}");
    let (_, msg) = error(
        "nan.csv",
        &format!("{h}{row}\n{row}\n2017-08-22,1,abc,1,1,1\n").replacen(row, "2017-08-19,1,1,1,1,1", 1),
        d,
        Some(4),
    );
    assert!(msg.contains("high is not a number: \"abc\""), "{msg}");
    let (_, msg) = error("empty_field.csv", &format!("{h}2017-08-21,1,1,1,1,\n"), d, Some(2));
    assert!(msg.contains("volume is not a number: \"\""), "{msg}");
    let (_, msg) = error("negvol.csv", &format!("{h}2017-08-21,1,1,1,1,-5\n"), d, Some(2));
    assert!(msg.contains("volume must be zero or more, found -5"), "{msg}");
    let (_, msg) = error("ohlc.csv", &format!("{h}2017-08-21,1,2,1,3,5\n"), d, Some(2));
    assert!(msg.contains("inconsistent candle: close 3 is above high 2"), "{msg}");

    let (e, msg) = error("short.csv", &format!("{h}{row}\n2017-08-21,1,1,1,1\n"), d, Some(3));
    assert_eq!(problem(&e), &LineProblem::MissingColumn { column: "volume", found: 5, expected: 6 });
    assert!(msg.contains("missing column volume"), "{msg}");
    let (_, msg) = error("short_hdr.csv", "timestamp,open,high,low,close\n", d, Some(1));
    assert!(msg.contains("missing column volume"), "{msg}");
    let (_, msg) = error("bad_hdr.csv", "timestamp,open,high,low,price,volume\n", d, Some(1));
    assert!(msg.contains("column 5 is \"price\", expected \"close\""), "{msg}");
    let (_, msg) = error("archive_short.csv", &ARCHIVE_MS.replace(",0\n", "\n"), Interval::H4, Some(1));
    assert!(msg.contains("missing column ignore (the line has 11 columns, 12 expected)"), "{msg}");

    let (e, msg) = error("empty.csv", "", d, Some(1));
    assert!(matches!(e, DataError::Empty { .. }) && msg.contains("empty file"), "{msg}");
    let (_, msg) = error("header_only.csv", h, d, Some(2));
    assert!(msg.contains("empty file"), "{msg}");
    let (_, msg) = error("blank.csv", "\n\n  \r\n", d, Some(1));
    assert!(msg.contains("empty file"), "{msg}");

    let (e, msg) = error("unknown.csv", "\ndate;open;high;low;close\n", d, Some(2));
    assert!(matches!(problem(&e), LineProblem::UnknownFormat { .. }) && msg.contains("unknown format"), "{msg}");
    let (_, msg) = error("json.csv", "{\"a\": 1}", d, Some(1));
    assert!(msg.contains("unknown format"), "{msg}");

    let (_, msg) = error("time.csv", &format!("{h}{row}\n2017-08-32,1,1,1,1,1\n"), d, Some(3));
    assert!(msg.contains("invalid timestamp \"2017-08-32\""), "{msg}");
    let (_, msg) =
        error("time_archive.csv", &ARCHIVE_MS.replacen("1735689600000", "17356896x0000", 1), Interval::H4, Some(2));
    assert!(msg.contains("invalid timestamp \"17356896x0000\""), "{msg}");
    let (_, msg) = error("grid.csv", &format!("{h}2021-01-01 04:00:00,1,1,1,1,1\n"), d, Some(2));
    assert!(msg.contains("open time 2021-01-01 04:00:00 is not on the 1d grid"), "{msg}");
    let (_, msg) = error("grid_archive.csv", ARCHIVE_US, Interval::D1, Some(1));
    assert!(msg.contains("not on the 1d grid"), "{msg}");

    let dir = TempDir::new().unwrap();
    let p = dir.path().join("latin1.csv");
    std::fs::write(&p, b"timestamp,open,high,low,close,volume\n2021-01-01,1,1,1,1,1\n2021-01-02,1\xe9,1,1,1,1\n")
        .unwrap();
    let msg = load_file(&p, btc(), d).unwrap_err().to_string();
    assert!(msg.contains("latin1.csv, line 3: not UTF-8"), "{msg}");
}

#[test]
fn io_errors_name_the_file() {
    let dir = TempDir::new().unwrap();
    let missing = dir.path().join("nope.csv");
    let msg = load_file(&missing, btc(), Interval::D1).unwrap_err().to_string();
    assert!(msg.contains("nope.csv: cannot read"), "{msg}");
    // A truncated gzip stream.
    let p = write_gz(dir.path(), "trunc.csv.gz", &DAILY.repeat(50));
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    let msg = load_file(&p, btc(), Interval::D1).unwrap_err().to_string();
    assert!(msg.contains("trunc.csv.gz: cannot read"), "{msg}");
}

#[test]
fn load_dir_finds_plain_and_gzip_files() {
    let dir = TempDir::new().unwrap();
    write(dir.path(), "BTCUSDT_1d.csv", DAILY);
    write_gz(dir.path(), "ETHUSDT_1d.csv.gz", DAILY);
    write(dir.path(), "BTCUSDT_4h.csv", ARCHIVE_MS);
    let eth = Asset::new("ETH").unwrap();
    let got = load_dir(dir.path(), &[eth.clone(), btc()], Interval::D1).unwrap();
    assert_eq!(got.iter().map(|s| s.asset.clone()).collect::<Vec<_>>(), [eth.clone(), btc()]);
    assert_eq!(got[0].candles, got[1].candles);
    check_archive(&load_dir(dir.path(), &[btc()], Interval::H4).unwrap()[0]);

    let sol = Asset::new("SOL").unwrap();
    let e = load_dir(dir.path(), &[btc(), sol], Interval::D1).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, DataError::MissingFile { .. }), "{msg}");
    assert!(msg.contains("no 1d data for SOL in") && msg.contains(&dir.path().display().to_string()), "{msg}");
    assert!(msg.contains("SOLUSDT_1d.csv and SOLUSDT_1d.csv.gz"), "{msg}");

    write(dir.path(), "BTCUSDT_1d.csv.gz", DAILY);
    let msg = load_dir(dir.path(), &[btc()], Interval::D1).unwrap_err().to_string();
    assert!(msg.contains("BTCUSDT_1d.csv and") && msg.contains("both exist"), "{msg}");
}

/// Deterministic garbage: mutations of valid files never make the loader panic.
#[test]
fn never_panics_on_mutated_input() {
    let dir = TempDir::new().unwrap();
    let p = dir.path().join("fuzz");
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let alphabet = b"0123456789,.-:eE \n\r\x1f\x8bZ+\xff";
    let mut ok = 0;
    for base in [DAILY, ARCHIVE_MS, ARCHIVE_US] {
        for _ in 0..600 {
            let mut bytes = base.as_bytes().to_vec();
            for _ in 0..(next() % 4 + 1) {
                let i = (next() as usize) % bytes.len();
                match next() % 3 {
                    0 => bytes[i] = alphabet[(next() as usize) % alphabet.len()],
                    1 => {
                        bytes.remove(i);
                    }
                    _ => bytes.insert(i, alphabet[(next() as usize) % alphabet.len()]),
                }
                if bytes.is_empty() {
                    break;
                }
            }
            std::fs::write(&p, &bytes).unwrap();
            for interval in Interval::ALL {
                if load_file(&p, btc(), interval).is_ok() {
                    ok += 1;
                }
            }
        }
    }
    assert!(ok > 0);
}

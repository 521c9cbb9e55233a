//! Monthly market-cap snapshots (CoinMarketCap historical top-200 pages).
//!
//! The file is a CSV with the header
//! `Rank,Name,Symbol,Market Cap,Price,Circulating Supply,Volume (24h),% 1h,% 24h,% 7d,snapshot_date`
//! (columns found by name, in any order; USD; `snapshot_date` as `YYYYMMDD`), plain or
//! gzip. Only `Rank`, `Name`, `Symbol`, `Market Cap`, `Price`, `Circulating Supply` and
//! `snapshot_date` are read.
//!
//! **Timing.** A snapshot's values are CoinMarketCap's end-of-day (UTC) figures for its
//! date, but it is keyed here by that date at 00:00 UTC, so that a daily bar opening on
//! the snapshot date (and trading at its close, the same end of day) sees it. A caller
//! on intraday bars that must not look ahead by even a day should ask for
//! `time - 1 day`.
//!
//! **Symbols** are matched case-insensitively (`BabyDoge` is `BABYDOGE`). They are not
//! unique identifiers over time, and occasionally not even within one snapshot (BNX on
//! 2023-03-01 is both "BinaryX (old)" and "BinaryX"): when a symbol appears twice in a
//! snapshot, the row with the higher market cap (the better rank) is kept and the other
//! is recorded in [`MarketCaps::duplicates`].

use std::collections::{BTreeMap, btree_map};
use std::path::{Path, PathBuf};

use ballast_core::{Asset, Timestamp};
use rust_decimal::Decimal;

use crate::error::{DataError, LineProblem};
use crate::read::{clip, parse_decimal, read_maybe_gzip};

/// One coin in one snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Rank by market cap (1 = largest).
    pub rank: u32,
    /// The coin's name.
    pub name: String,
    /// The symbol as written in the file.
    pub symbol: String,
    /// Market cap, USD.
    pub market_cap: Decimal,
    /// Price, USD.
    pub price: Decimal,
    /// Circulating supply.
    pub circulating_supply: Decimal,
    /// The 1-based line of the row in the file.
    pub line: usize,
}

/// All coins of one snapshot date.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The snapshot date, 00:00 UTC.
    pub date: Timestamp,
    /// Entries by upper-cased symbol.
    pub entries: BTreeMap<String, Entry>,
}

impl Snapshot {
    /// The entry for an asset, if the snapshot has it.
    pub fn get(&self, asset: &Asset) -> Option<&Entry> {
        self.entries.get(asset.as_str())
    }
}

/// A symbol that appeared twice in one snapshot, and which row was kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DuplicateSymbol {
    /// The snapshot date.
    pub date: Timestamp,
    /// The upper-cased symbol.
    pub symbol: String,
    /// The row kept (the higher market cap).
    pub kept: Entry,
    /// The row left out.
    pub dropped: Entry,
}

/// Market-cap snapshots by date.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarketCaps {
    path: PathBuf,
    snapshots: BTreeMap<Timestamp, Snapshot>,
    duplicates: Vec<DuplicateSymbol>,
}

const COLUMNS: [&str; 7] = ["Rank", "Name", "Symbol", "Market Cap", "Price", "Circulating Supply", "snapshot_date"];

/// Loads a snapshot file (plain or gzip). Errors name the file and the line: a missing
/// column, a non-numeric or negative market cap, price or supply, a bad date, an empty
/// file.
pub fn load_snapshots(path: impl AsRef<Path>) -> Result<MarketCaps, DataError> {
    let path = path.as_ref();
    let bytes = read_maybe_gzip(path)?;
    let fail = |line: usize, problem: LineProblem| DataError::Line { path: path.to_path_buf(), line, problem };
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes);
    let mut records = reader.byte_records();

    // The header: the first non-blank record (the csv reader skips empty lines).
    let Some(header) = records.next() else {
        return Err(DataError::Empty { path: path.to_path_buf(), line: 1 });
    };
    let header = header.map_err(|e| fail(csv_line(&e), LineProblem::Csv(e.to_string())))?;
    let header_line = header.position().map_or(1, |p| p.line() as usize);
    let names: Vec<String> = header.iter().map(|f| String::from_utf8_lossy(f).trim().to_string()).collect();
    let mut idx = [0usize; 7];
    for (slot, want) in idx.iter_mut().zip(COLUMNS) {
        *slot = names.iter().position(|n| n.eq_ignore_ascii_case(want)).ok_or_else(|| {
            fail(header_line, LineProblem::MissingColumn { column: want, found: names.len(), expected: COLUMNS.len() })
        })?;
    }
    let [i_rank, i_name, i_symbol, i_cap, i_price, i_supply, i_date] = idx;
    let width = idx.iter().max().map_or(0, |m| m + 1);

    let mut snapshots: BTreeMap<Timestamp, Snapshot> = BTreeMap::new();
    let mut duplicates = Vec::new();
    let mut last_line = header_line;
    for rec in records {
        let rec = rec.map_err(|e| fail(csv_line(&e), LineProblem::Csv(e.to_string())))?;
        let line = rec.position().map_or(last_line + 1, |p| p.line() as usize);
        last_line = line;
        if rec.len() < width {
            let column = COLUMNS[idx.iter().position(|&i| i >= rec.len()).unwrap_or(0)];
            return Err(fail(line, LineProblem::MissingColumn { column, found: rec.len(), expected: names.len() }));
        }
        let field =
            |i: usize| std::str::from_utf8(&rec[i]).map(str::trim).map_err(|_| fail(line, LineProblem::NotUtf8));
        let number = |i: usize, column: &'static str| -> Result<Decimal, DataError> {
            let s = field(i)?;
            let v = parse_decimal(s, column).map_err(|p| fail(line, p))?;
            if v < Decimal::ZERO {
                return Err(fail(line, LineProblem::OutOfRange { column, value: clip(s), rule: "zero or more" }));
            }
            Ok(v)
        };
        let rank_s = field(i_rank)?;
        let rank: u32 =
            rank_s.parse().map_err(|_| fail(line, LineProblem::NotANumber { column: "Rank", value: clip(rank_s) }))?;
        let date_s = field(i_date)?;
        let date = parse_yyyymmdd(date_s).ok_or_else(|| {
            fail(line, LineProblem::BadTimestamp { value: clip(date_s), expected: "snapshot_date as YYYYMMDD" })
        })?;
        let symbol = field(i_symbol)?;
        if symbol.is_empty() {
            return Err(fail(line, LineProblem::EmptyField { column: "Symbol" }));
        }
        let entry = Entry {
            rank,
            name: field(i_name)?.to_string(),
            symbol: symbol.to_string(),
            market_cap: number(i_cap, "Market Cap")?,
            price: number(i_price, "Price")?,
            circulating_supply: number(i_supply, "Circulating Supply")?,
            line,
        };
        let snap = snapshots.entry(date).or_insert_with(|| Snapshot { date, entries: BTreeMap::new() });
        match snap.entries.entry(symbol.to_ascii_uppercase()) {
            btree_map::Entry::Vacant(v) => {
                v.insert(entry);
            }
            btree_map::Entry::Occupied(mut o) => {
                let symbol = o.key().clone();
                let (kept, dropped) = if better(&entry, o.get()) {
                    let old = o.insert(entry.clone());
                    (entry, old)
                } else {
                    (o.get().clone(), entry)
                };
                duplicates.push(DuplicateSymbol { date, symbol, kept, dropped });
            }
        }
    }
    if snapshots.is_empty() {
        return Err(DataError::Empty { path: path.to_path_buf(), line: last_line + 1 });
    }
    Ok(MarketCaps { path: path.to_path_buf(), snapshots, duplicates })
}

/// True when `a` should be kept over `b`: the higher market cap, then the better rank.
fn better(a: &Entry, b: &Entry) -> bool {
    (a.market_cap, std::cmp::Reverse(a.rank)) > (b.market_cap, std::cmp::Reverse(b.rank))
}

fn csv_line(e: &csv::Error) -> usize {
    e.position().map_or(0, |p| p.line() as usize)
}

fn parse_yyyymmdd(s: &str) -> Option<Timestamp> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let iso = format!("{}-{}-{}", &s[0..4], &s[4..6], &s[6..8]);
    crate::dates::parse_datetime(&iso).map(|(t, _)| t).filter(|t| t.0 % 86_400_000 == 0)
}

impl MarketCaps {
    /// The snapshot dates, oldest first.
    pub fn dates(&self) -> impl Iterator<Item = Timestamp> + '_ {
        self.snapshots.keys().copied()
    }

    /// The number of snapshots.
    pub fn len(&self) -> usize {
        self.snapshots.len()
    }

    /// True when there is no snapshot (never the case for a loaded file).
    pub fn is_empty(&self) -> bool {
        self.snapshots.is_empty()
    }

    /// The file the snapshots came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The symbols that appeared twice in a snapshot, with the row kept and the row
    /// dropped.
    pub fn duplicates(&self) -> &[DuplicateSymbol] {
        &self.duplicates
    }

    /// The latest snapshot on or before `date`.
    pub fn snapshot_at(&self, date: Timestamp) -> Result<&Snapshot, DataError> {
        match self.snapshots.range(..=date).next_back() {
            Some((_, s)) => Ok(s),
            None => Err(DataError::NoSnapshot {
                path: self.path.clone(),
                date,
                earliest: self.snapshots.keys().next().copied().unwrap_or(Timestamp(0)),
            }),
        }
    }

    /// The market caps of `assets` in the latest snapshot on or before `date`, with that
    /// snapshot's date. An asset missing from that snapshot is an error naming it and
    /// both dates (no silent fallback to an older snapshot).
    pub fn at(&self, date: Timestamp, assets: &[Asset]) -> Result<(Timestamp, BTreeMap<Asset, Decimal>), DataError> {
        let snap = self.snapshot_at(date)?;
        let mut caps = BTreeMap::new();
        for asset in assets {
            let entry = snap.get(asset).ok_or_else(|| DataError::NotInSnapshot {
                path: self.path.clone(),
                asset: asset.clone(),
                snapshot: snap.date,
                date,
            })?;
            caps.insert(asset.clone(), entry.market_cap);
        }
        Ok((snap.date, caps))
    }
}

//! A binary copy of a parsed candle file, beside it, so that the next process skips the
//! decompression and parsing (most of a sweep's start-up).
//!
//! `<dir>/.ballast-cache/<file name>.<interval>.bin`: a header (magic, format version,
//! the interval, the source file's length and hash, the number of rows, the payload's
//! hash), then per candle its open time (i64) and open, high, low, close and volume
//! (`Decimal::serialize`, 16 bytes each), little-endian. A copy is used only when the
//! source's bytes hash to what it was made from and its own payload hashes to what its
//! header says; anything else (missing, stale, damaged, another format) is ignored and
//! the file parsed as usual. Writing it is best effort (a read-only directory has
//! none): it never changes what is loaded. The hash is the standard library's
//! (`DefaultHasher`), whose algorithm may change between Rust releases: a copy made by
//! another build is then simply rebuilt.

use std::hash::Hasher;
use std::path::{Path, PathBuf};

use ballast_core::Timestamp;
use rust_decimal::Decimal;

use super::{Candle, Interval};

const MAGIC: &[u8; 8] = b"BLSTCND1";
const HEADER: usize = 8 + 4 + 8 + 8 + 8 + 8;
const ROW: usize = 8 + 5 * 16;

fn hash(bytes: &[u8]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    h.write(bytes);
    h.finish()
}

fn interval_code(i: Interval) -> u32 {
    Interval::ALL.iter().position(|x| *x == i).map_or(u32::MAX, |p| p as u32)
}

/// Where the copy of `source` for `interval` lives.
pub(crate) fn path_of(source: &Path, interval: Interval) -> Option<PathBuf> {
    let name = source.file_name()?.to_str()?;
    Some(source.parent()?.join(".ballast-cache").join(format!("{name}.{interval}.bin")))
}

/// The source's key: its length and hash.
pub(crate) fn key(raw: &[u8]) -> (u64, u64) {
    (raw.len() as u64, hash(raw))
}

/// The candles of the copy at `path`, when it was made from a source with `key`.
pub(crate) fn read(path: &Path, key: (u64, u64), interval: Interval) -> Option<Vec<Candle>> {
    let bytes = std::fs::read(path).ok()?;
    let (head, payload) = bytes.split_at_checked(HEADER)?;
    let u64_at = |at: usize| head.get(at..at + 8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes);
    let code = head.get(8..12).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes)?;
    let (len, source_hash, rows, payload_hash) = (u64_at(12)?, u64_at(20)?, u64_at(28)?, u64_at(36)?);
    if &head[..8] != MAGIC || code != interval_code(interval) || (len, source_hash) != key {
        return None;
    }
    if payload.len() as u64 != rows.checked_mul(ROW as u64)? || hash(payload) != payload_hash {
        return None;
    }
    let dec = |b: &[u8]| b.try_into().ok().map(Decimal::deserialize);
    payload
        .chunks_exact(ROW)
        .map(|r| {
            Some(Candle {
                open_time: Timestamp(i64::from_le_bytes(r[..8].try_into().ok()?)),
                open: dec(&r[8..24])?,
                high: dec(&r[24..40])?,
                low: dec(&r[40..56])?,
                close: dec(&r[56..72])?,
                volume: dec(&r[72..88])?,
            })
        })
        .collect()
}

/// Writes the copy (to a temporary name, then renamed: a reader never sees half of
/// it). Errors are ignored: the copy only saves time.
pub(crate) fn write(path: &Path, key: (u64, u64), interval: Interval, candles: &[Candle]) {
    let mut payload = Vec::with_capacity(candles.len() * ROW);
    for c in candles {
        payload.extend_from_slice(&c.open_time.0.to_le_bytes());
        for d in [c.open, c.high, c.low, c.close, c.volume] {
            payload.extend_from_slice(&d.serialize());
        }
    }
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&interval_code(interval).to_le_bytes());
    out.extend_from_slice(&key.0.to_le_bytes());
    out.extend_from_slice(&key.1.to_le_bytes());
    out.extend_from_slice(&(candles.len() as u64).to_le_bytes());
    out.extend_from_slice(&hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    let Some(dir) = path.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    // Unique to this process and call: two writers never share a temporary file.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp{}-{n}", std::process::id()));
    if std::fs::write(&tmp, &out).and_then(|()| std::fs::rename(&tmp, path)).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::super::load_file;
    use super::*;
    use ballast_core::Asset;

    const CSV: &str = "timestamp,open,high,low,close,volume\n\
                       2024-01-01 00:00:00,100,110,90,105.5,12\n\
                       2024-01-01 04:00:00,105.5,120,100,118.25,3.5\n";

    fn btc() -> Asset {
        Asset::new("BTC").unwrap()
    }

    /// The copy is what parsing gives; it is made once and read after; a changed
    /// source or a damaged copy is parsed again (and the copy remade), never used.
    #[test]
    fn the_copy_equals_the_parse_and_is_never_used_stale_or_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("BTCUSDT_4h.csv");
        std::fs::write(&file, CSV).unwrap();
        let parsed = load_file(&file, btc(), Interval::H4).unwrap();
        let copy = path_of(&file, Interval::H4).unwrap();
        assert_eq!(copy, dir.path().join(".ballast-cache").join("BTCUSDT_4h.csv.4h.bin"));
        let key = key(CSV.as_bytes());
        assert_eq!(read(&copy, key, Interval::H4).as_deref(), Some(&parsed.candles[..]));
        assert_eq!(load_file(&file, btc(), Interval::H4).unwrap(), parsed);
        // Asked as another interval: not this copy.
        assert_eq!(read(&copy, key, Interval::D1), None);
        // The source changed: the copy does not match it; the new file is parsed.
        let changed = CSV.replace("118.25", "118.5");
        std::fs::write(&file, &changed).unwrap();
        assert_eq!(read(&copy, self::key(changed.as_bytes()), Interval::H4), None);
        let again = load_file(&file, btc(), Interval::H4).unwrap();
        assert_eq!(again.candles[1].close.to_string(), "118.5");
        // A damaged copy (one byte of its payload flipped): ignored.
        let mut bytes = std::fs::read(&copy).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&copy, &bytes).unwrap();
        assert_eq!(read(&copy, self::key(changed.as_bytes()), Interval::H4), None);
        assert_eq!(load_file(&file, btc(), Interval::H4).unwrap(), again);
        // Truncated to less than a header, or not a copy at all: ignored.
        std::fs::write(&copy, b"BLST").unwrap();
        assert_eq!(load_file(&file, btc(), Interval::H4).unwrap(), again);
    }

    /// Where no copy can be written (the cache's place is a file), loading still works.
    #[test]
    fn loading_does_not_need_the_copy() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("BTCUSDT_4h.csv");
        std::fs::write(&file, CSV).unwrap();
        std::fs::write(dir.path().join(".ballast-cache"), b"in the way").unwrap();
        let a = load_file(&file, btc(), Interval::H4).unwrap();
        assert_eq!(load_file(&file, btc(), Interval::H4).unwrap(), a);
        assert_eq!(a.candles.len(), 2);
    }
}

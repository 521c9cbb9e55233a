//! Reading a whole file, plain or gzip, and the number parsing shared by the loaders.

use std::fs;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;

use flate2::read::MultiGzDecoder;
use rust_decimal::Decimal;

use crate::error::{DataError, LineProblem};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The most a gzip file may decompress to (256 MiB: decades of hourly candles are a
/// few tens of MiB); beyond it the file is refused instead of filling memory.
pub const MAX_DECOMPRESSED: u64 = 256 * 1024 * 1024;

/// The contents of `path`, decompressed when they start with the gzip magic bytes
/// (whatever the file is called).
pub(crate) fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>, DataError> {
    let raw = fs::read(path).map_err(|source| DataError::Io { path: path.to_path_buf(), source })?;
    maybe_gunzip(path, raw)
}

/// `raw` itself, or decompressed when it starts with the gzip magic bytes; `path`
/// names it in errors.
pub(crate) fn maybe_gunzip(path: &Path, raw: Vec<u8>) -> Result<Vec<u8>, DataError> {
    gunzip_at_most(path, raw, MAX_DECOMPRESSED)
}

fn gunzip_at_most(path: &Path, raw: Vec<u8>, max: u64) -> Result<Vec<u8>, DataError> {
    if !raw.starts_with(&GZIP_MAGIC) {
        return Ok(raw);
    }
    let mut out = Vec::with_capacity(raw.len().saturating_mul(4).min(max as usize));
    MultiGzDecoder::new(raw.as_slice())
        .take(max + 1)
        .read_to_end(&mut out)
        .map_err(|source| DataError::Io { path: path.to_path_buf(), source })?;
    if out.len() as u64 > max {
        return Err(DataError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("decompresses to more than {max} bytes; refused"),
            ),
        });
    }
    Ok(out)
}

/// Splits text into 1-based numbered lines, without their `\r\n` / `\n`, the UTF-8
/// byte order mark removed from the first.
pub(crate) fn lines(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    // A final newline does not start another line.
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    bytes.split(|&b| b == b'\n').enumerate().map(|(i, l)| (i + 1, l.strip_suffix(b"\r").unwrap_or(l)))
}

/// A decimal in plain (`0.00001`) or scientific (`9.04e-06`) notation.
pub(crate) fn parse_decimal(field: &str, column: &'static str) -> Result<Decimal, LineProblem> {
    let t = field.trim();
    Decimal::from_str(t)
        .or_else(|e| if t.contains(['e', 'E']) { Decimal::from_scientific(t) } else { Err(e) })
        .map_err(|_| LineProblem::NotANumber { column, value: clip(field) })
}

/// At most 60 characters of `s`, for messages.
pub(crate) fn clip(s: &str) -> String {
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_gzip_bomb_is_refused_at_the_bound_naming_the_file() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&vec![b'0'; 3 * 1024 * 1024]).unwrap();
        let raw = gz.finish().unwrap();
        assert!(raw.len() < 64 * 1024);
        let e = gunzip_at_most(Path::new("bomb.csv.gz"), raw.clone(), 1024 * 1024).unwrap_err().to_string();
        assert!(e.contains("bomb.csv.gz") && e.contains("decompresses to more than 1048576 bytes"), "{e}");
        assert_eq!(gunzip_at_most(Path::new("ok.csv.gz"), raw, 4 * 1024 * 1024).unwrap().len(), 3 * 1024 * 1024);
        assert_eq!(MAX_DECOMPRESSED, 256 * 1024 * 1024);
    }
}

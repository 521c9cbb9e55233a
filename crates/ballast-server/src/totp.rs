//! TOTP (RFC 6238: HMAC-SHA-1, 30 s steps) and base32 (RFC 4648, no padding).

use hmac::{Hmac, Mac};
use sha1::Sha1;

/// The step, in seconds.
pub const STEP_SECS: u64 = 30;
/// Digits of a code.
pub const DIGITS: u32 = 6;

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// HOTP (RFC 4226) of `counter`, truncated to `digits`.
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    // HMAC accepts keys of any length.
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret).expect("hmac takes any key length");
    mac.update(&counter.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let off = (h[19] & 0x0f) as usize;
    let bin = u32::from_be_bytes([h[off] & 0x7f, h[off + 1], h[off + 2], h[off + 3]]);
    bin % 10u32.pow(digits)
}

/// The TOTP code at `unix_secs`.
pub fn totp(secret: &[u8], unix_secs: u64, digits: u32) -> u32 {
    hotp(secret, unix_secs / STEP_SECS, digits)
}

/// The 6-digit code at `unix_secs`, zero-padded.
pub fn code_at(secret: &[u8], unix_secs: u64) -> String {
    format!("{:06}", totp(secret, unix_secs, DIGITS))
}

/// True when `code` is the code of the current or the previous step.
pub fn verify(secret: &[u8], unix_secs: u64, code: &str) -> bool {
    if secret.is_empty() || code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let now = code_at(secret, unix_secs);
    let prev = code_at(secret, unix_secs.saturating_sub(STEP_SECS));
    crate::auth::ct_eq(now.as_bytes(), code.as_bytes()) | crate::auth::ct_eq(prev.as_bytes(), code.as_bytes())
}

/// The step (`unix_secs / 30`) whose code `code` is, among the current and the
/// previous step; `None` when it is neither.
pub fn matching_step(secret: &[u8], unix_secs: u64, code: &str) -> Option<u64> {
    if !verify(secret, unix_secs, code) {
        return None;
    }
    let step = unix_secs / STEP_SECS;
    let now = code_at(secret, unix_secs);
    if crate::auth::ct_eq(now.as_bytes(), code.as_bytes()) { Some(step) } else { step.checked_sub(1) }
}

/// Base32 without padding.
pub fn base32_encode(data: &[u8]) -> String {
    let mut out = String::new();
    let (mut buf, mut bits) = (0u32, 0u32);
    for &b in data {
        buf = (buf << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buf >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buf << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Decodes base32 (case-insensitive; padding and spaces ignored).
pub fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buf, mut bits) = (0u32, 0u32);
    for c in s.bytes().filter(|c| *c != b'=' && *c != b' ') {
        let v = ALPHABET.iter().position(|a| *a == c.to_ascii_uppercase())? as u32;
        buf = (buf << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buf >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_vectors() {
        let key = b"12345678901234567890";
        assert_eq!(totp(key, 59, 8), 94_287_082);
        assert_eq!(totp(key, 59, 6), 287_082);
        assert_eq!(totp(key, 1_111_111_109, 8), 7_081_804);
        assert_eq!(totp(key, 1_234_567_890, 8), 89_005_924);
        assert_eq!(totp(key, 2_000_000_000, 8), 69_279_037);
        assert_eq!(code_at(key, 59), "287082");
    }

    #[test]
    fn verify_accepts_current_and_previous_step_only() {
        let key = b"12345678901234567890";
        let c = code_at(key, 59);
        assert!(verify(key, 59, &c));
        assert!(verify(key, 89, &c));
        assert!(!verify(key, 119, &c));
        assert!(!verify(key, 59, "12345"));
        assert!(!verify(key, 59, "abcdef"));
    }

    #[test]
    fn base32_round_trips() {
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_decode("MZXW6YTBOI").unwrap(), b"foobar");
        assert_eq!(base32_decode("mzxw6ytboi======").unwrap(), b"foobar");
        let b: Vec<u8> = (0..=255).collect();
        assert_eq!(base32_decode(&base32_encode(&b)).unwrap(), b);
        assert!(base32_decode("M1").is_none());
    }
}

//! ballast's encrypted store of exchange API keys: one file, `keys.enc`, in the data
//! directory.
//!
//! The file is JSON, versioned, with everything needed to decrypt it but the
//! passphrase (format version 1):
//!
//! ```json
//! {
//!   "format": "ballast-keys",
//!   "version": 1,
//!   "kdf": { "algorithm": "argon2id", "version": 19, "m_cost_kib": 65536, "t_cost": 3, "p_cost": 1,
//!            "salt": "<base64, 16 random bytes>" },
//!   "cipher": { "algorithm": "xchacha20poly1305", "nonce": "<base64, 24 random bytes>" },
//!   "ciphertext": "<base64>"
//! }
//! ```
//!
//! - The 32-byte key is argon2id(passphrase, salt) with the parameters written in the
//!   file, so they can be raised later ([`KeyStore::set_params`]) and old files still open.
//! - The ciphertext is XChaCha20-Poly1305 over a JSON map `venue -> {api_key, secret}`;
//!   the header (every field but `ciphertext`) is its associated data, so a changed
//!   parameter, salt or nonce fails exactly like a wrong passphrase or a flipped bit:
//!   [`KeyError::Decrypt`], "wrong passphrase or corrupted key file PATH".
//! - Every save draws a fresh salt and nonce, writes a temporary file with mode 0600,
//!   syncs it, renames it over the old file and syncs the directory.
//! - Secrets live in [`zeroize::Zeroizing`] buffers, wiped when dropped; [`Secret`],
//!   [`Credentials`], [`Passphrase`] and [`KeyStore`] print `***` (an API key prints as
//!   `abcd…wxyz`) in `Debug` and `Display`, so a log line cannot leak them.
//!
//! What it protects: keys on a stolen disk or in a backup of the data directory, as long
//! as the passphrase is not stored next to them. What it does not: a compromised
//! machine while the bot runs (the process holds the keys in memory to sign requests),
//! or a passphrase given in the environment of a service to anyone who can read it.
#![deny(missing_docs)]

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
pub use zeroize::Zeroizing;

/// The key file's name in a data directory.
pub const FILE_NAME: &str = "keys.enc";
/// The `format` field of a key file.
pub const FORMAT: &str = "ballast-keys";
/// The format version this build writes and reads.
pub const VERSION: u32 = 1;

const KDF_ALGORITHM: &str = "argon2id";
const CIPHER_ALGORITHM: &str = "xchacha20poly1305";
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 24;
const KEY_LEN: usize = 32;

/// What can go wrong with the key file. Messages name the file; none ever contains a
/// key, a secret or the passphrase.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// There is no key file.
    #[error("no key file at {0}")]
    Missing(PathBuf),
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The file is not a key file this build understands.
    #[error("key file {path}: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The file has another format version.
    #[error("key file {path} has format version {found}; this build of ballast reads version {VERSION}")]
    Version {
        /// The file.
        path: PathBuf,
        /// The version found.
        found: u64,
    },
    /// Authenticated decryption failed: the passphrase is wrong or the file was changed.
    #[error("wrong passphrase or corrupted key file {0}")]
    Decrypt(PathBuf),
    /// A venue name, key, secret, passphrase or parameter is not acceptable.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What was given.
        what: &'static str,
        /// Why it is refused.
        reason: String,
    },
    /// The key derivation failed.
    #[error("key derivation: {0}")]
    Kdf(String),
    /// The operating system gave no randomness.
    #[error("no randomness from the operating system: {0}")]
    Random(String),
}

/// A secret string, wiped from memory when dropped, printed as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps `s`.
    pub fn new(s: impl Into<String>) -> Self {
        Self(Zeroizing::new(s.into()))
    }

    /// The secret itself, for signing. Do not format or log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The passphrase that unlocks a key file, wiped from memory when dropped, printed as
/// `***`.
#[derive(Clone)]
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    /// Wraps `s`; an empty passphrase is refused.
    pub fn new(s: impl Into<String>) -> Result<Self, KeyError> {
        let s = Zeroizing::new(s.into());
        if s.is_empty() {
            return Err(KeyError::Invalid { what: "passphrase", reason: "it is empty".into() });
        }
        Ok(Self(s))
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(***)")
    }
}

/// `abcd…wxyz` for a key of 16 characters or more, `***` for a shorter one: enough to
/// recognise a key, not enough to use it.
pub fn redact(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() < 16 {
        return "***".into();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

/// An API key and its secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    api_key: Zeroizing<String>,
    secret: Secret,
}

impl Credentials {
    /// The pair; each must be 1 ..= 512 printable ASCII characters without spaces (the
    /// error never repeats the value).
    pub fn new(api_key: impl Into<String>, secret: impl Into<String>) -> Result<Self, KeyError> {
        let api_key = Zeroizing::new(api_key.into());
        let secret = Secret::new(secret);
        check_token("API key", &api_key)?;
        check_token("secret", secret.expose())?;
        Ok(Self { api_key, secret })
    }

    /// The API key (sent with every request by the venue's adapter).
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The secret (signs requests; never sent).
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// The API key as [`redact`] shows it.
    pub fn redacted_key(&self) -> String {
        redact(&self.api_key)
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("api_key", &self.redacted_key()).field("secret", &self.secret).finish()
    }
}

fn check_token(what: &'static str, s: &str) -> Result<(), KeyError> {
    let reason = if s.is_empty() {
        "it is empty"
    } else if s.len() > 512 {
        "it is longer than 512 characters"
    } else if !s.bytes().all(|b| b.is_ascii_graphic()) {
        "it holds a space, a control or a non-ASCII character (was it pasted with extra text?)"
    } else {
        return Ok(());
    };
    Err(KeyError::Invalid { what, reason: reason.into() })
}

/// The venues whose keys `ballast keys` and the dashboard store.
pub const VENUES: [&str; 2] = ["binance", "gate"];

/// A venue's name in the store: 1 ..= 32 characters among `a-z`, `0-9`, `-` and `_`.
pub fn check_venue(venue: &str) -> Result<(), KeyError> {
    let ok = !venue.is_empty()
        && venue.len() <= 32
        && venue.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(KeyError::Invalid {
            what: "venue",
            reason: format!("{venue:?}: use 1 to 32 characters among a-z, 0-9, - and _"),
        })
    }
}

/// The argon2id parameters of a key file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory, KiB.
    pub m_cost_kib: u32,
    /// Passes.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl KdfParams {
    /// What new key files use: 64 MiB, 3 passes, 1 lane (RFC 9106's second
    /// recommendation).
    pub const DEFAULT: Self = Self { m_cost_kib: 64 * 1024, t_cost: 3, p_cost: 1 };
    /// The most memory a key file may ask for (1 GiB), so a forged header cannot make
    /// ballast allocate without bound.
    pub const MAX_M_COST_KIB: u32 = 1024 * 1024;
    /// The most passes a key file may ask for.
    pub const MAX_T_COST: u32 = 64;
    /// The most lanes a key file may ask for.
    pub const MAX_P_COST: u32 = 16;

    fn check(&self) -> Result<Params, String> {
        if self.m_cost_kib > Self::MAX_M_COST_KIB || self.t_cost > Self::MAX_T_COST || self.p_cost > Self::MAX_P_COST {
            return Err(format!(
                "argon2id parameters m={} KiB, t={}, p={} exceed the limits ({} KiB, {}, {})",
                self.m_cost_kib,
                self.t_cost,
                self.p_cost,
                Self::MAX_M_COST_KIB,
                Self::MAX_T_COST,
                Self::MAX_P_COST
            ));
        }
        Params::new(self.m_cost_kib, self.t_cost, self.p_cost, Some(KEY_LEN)).map_err(|e| {
            format!("argon2id parameters m={} KiB, t={}, p={}: {e}", self.m_cost_kib, self.t_cost, self.p_cost)
        })
    }
}

impl Default for KdfParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KdfHeader {
    algorithm: String,
    version: u32,
    m_cost_kib: u32,
    t_cost: u32,
    p_cost: u32,
    salt: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CipherHeader {
    algorithm: String,
    nonce: String,
}

/// The authenticated header: serialised (compact, in this field order) it is the
/// associated data of the ciphertext.
#[derive(Serialize)]
struct Header<'a> {
    format: &'a str,
    version: u32,
    kdf: &'a KdfHeader,
    cipher: &'a CipherHeader,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileV1 {
    format: String,
    version: u32,
    kdf: KdfHeader,
    cipher: CipherHeader,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    api_key: Zeroizing<String>,
    secret: Zeroizing<String>,
}

#[derive(Serialize, Deserialize)]
struct Plain {
    venues: BTreeMap<String, Entry>,
    /// Other secrets of the data directory moved here by `ballast keys seal` (the
    /// dashboard's TOTP secret, the Telegram bot token), by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    secrets: BTreeMap<String, Zeroizing<String>>,
}

/// The names [`KeyStore::set_secret`] accepts.
pub const SECRET_NAMES: &[&str] = &["totp", "telegram"];

/// The keys of a data directory, decrypted in memory.
pub struct KeyStore {
    path: PathBuf,
    params: KdfParams,
    venues: BTreeMap<String, Credentials>,
    secrets: BTreeMap<String, Secret>,
}

impl fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyStore")
            .field("path", &self.path)
            .field("params", &self.params)
            .field("venues", &self.venues)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Exclusive use of a key file by one read-change-write (see [`KeyStore::lock`]);
/// released when dropped, or when its process dies.
#[derive(Debug)]
pub struct KeyLock {
    _file: fs::File,
}

/// How long [`KeyStore::lock`] waits for another holder.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

impl KeyStore {
    /// Takes the lock of the key file at `path` (a `.lock` file beside it, created
    /// private with its directory if needed), waiting up to a minute for another
    /// `ballast keys` command to finish. Hold it from before [`KeyStore::open`] until
    /// after [`KeyStore::save`], so that two changes at once cannot lose one.
    pub fn lock(path: &Path) -> Result<KeyLock, KeyError> {
        let io = |p: &Path, source: io::Error| KeyError::Io { path: p.to_path_buf(), source };
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(".lock");
        let lock_path = path.with_file_name(name);
        if let Some(dir) = lock_path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
            ballast_fs::create_private_dir(dir).map_err(|e| io(dir, e))?;
        }
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io(&lock_path, e))?;
        let start = std::time::Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(KeyLock { _file: file }),
                Err(fs::TryLockError::WouldBlock) if start.elapsed() < LOCK_WAIT => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(fs::TryLockError::WouldBlock) => {
                    return Err(io(
                        &lock_path,
                        io::Error::new(
                            io::ErrorKind::WouldBlock,
                            "another ballast command has held the key file for a minute; try again when it is done",
                        ),
                    ));
                }
                Err(fs::TryLockError::Error(e)) => return Err(io(&lock_path, e)),
            }
        }
    }

    /// Stores `venue`'s key in the key file at `path`, under its lock from the read to
    /// the write: an existing file must open with `passphrase` (nothing is written
    /// otherwise), a missing one is created under it. Returns the store as written and
    /// whether a key was replaced. `ballast keys add` and the dashboard's key settings.
    pub fn put(
        path: &Path,
        venue: &str,
        credentials: Credentials,
        passphrase: &Passphrase,
    ) -> Result<(KeyStore, bool), KeyError> {
        check_venue(venue)?;
        let _lock = Self::lock(path)?;
        let mut store = if path.exists() { Self::open(path, passphrase)? } else { Self::create(path) };
        let replaced = store.insert(venue, credentials)?.is_some();
        store.save(passphrase)?;
        Ok((store, replaced))
    }

    /// Forgets `venue`'s key in the key file at `path`, under its lock; the store as it
    /// is now and whether it held a key of the venue (nothing is written when not).
    /// [`KeyError::Missing`] without a file. `ballast keys remove` and the dashboard.
    pub fn forget(path: &Path, venue: &str, passphrase: &Passphrase) -> Result<(KeyStore, bool), KeyError> {
        if !path.exists() {
            return Err(KeyError::Missing(path.to_path_buf()));
        }
        let _lock = Self::lock(path)?;
        let mut store = Self::open(path, passphrase)?;
        let had = store.remove(venue).is_some();
        if had {
            store.save(passphrase)?;
        }
        Ok((store, had))
    }

    /// The key file of data directory `dir`.
    pub fn path_in(dir: &Path) -> PathBuf {
        dir.join(FILE_NAME)
    }

    /// An empty store that [`KeyStore::save`] will write at `path` with
    /// [`KdfParams::DEFAULT`].
    pub fn create(path: &Path) -> Self {
        Self { path: path.to_path_buf(), params: KdfParams::DEFAULT, venues: BTreeMap::new(), secrets: BTreeMap::new() }
    }

    /// Reads and decrypts the key file at `path`.
    pub fn open(path: &Path, passphrase: &Passphrase) -> Result<Self, KeyError> {
        let bytes = match fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(KeyError::Missing(path.to_path_buf())),
            Err(source) => return Err(KeyError::Io { path: path.to_path_buf(), source }),
        };
        let format = |reason: String| KeyError::Format { path: path.to_path_buf(), reason };
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| format(format!("not JSON ({e})")))?;
        if value.get("format").and_then(|v| v.as_str()) != Some(FORMAT) {
            return Err(format(format!("not a ballast key file (no \"format\": \"{FORMAT}\")")));
        }
        match value.get("version").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(VERSION) => {}
            Some(found) => return Err(KeyError::Version { path: path.to_path_buf(), found }),
            None => return Err(format("no format version".into())),
        }
        let file: FileV1 = serde_json::from_value(value).map_err(|e| format(e.to_string()))?;
        if file.kdf.algorithm != KDF_ALGORITHM || file.kdf.version != 0x13 {
            return Err(format(format!(
                "key derivation {} version {}: this build knows {KDF_ALGORITHM} version 19",
                file.kdf.algorithm, file.kdf.version
            )));
        }
        if file.cipher.algorithm != CIPHER_ALGORITHM {
            return Err(format(format!("cipher {}: this build knows {CIPHER_ALGORITHM}", file.cipher.algorithm)));
        }
        let params = KdfParams { m_cost_kib: file.kdf.m_cost_kib, t_cost: file.kdf.t_cost, p_cost: file.kdf.p_cost };
        let salt = decode(&file.kdf.salt).ok_or_else(|| format("the salt is not base64".into()))?;
        if salt.len() < 8 || salt.len() > 64 {
            return Err(format(format!("the salt has {} bytes (8 ..= 64 expected)", salt.len())));
        }
        let nonce = decode(&file.cipher.nonce).ok_or_else(|| format("the nonce is not base64".into()))?;
        if nonce.len() != NONCE_LEN {
            return Err(format(format!("the nonce has {} bytes ({NONCE_LEN} expected)", nonce.len())));
        }
        let ciphertext = decode(&file.ciphertext).ok_or_else(|| format("the ciphertext is not base64".into()))?;
        let aad = header_bytes(&file.kdf, &file.cipher);
        let key = derive(passphrase, &salt, &params).map_err(|e| match e {
            KeyError::Kdf(reason) => format(reason),
            e => e,
        })?;
        let cipher = XChaCha20Poly1305::new(Key::from_slice(&key[..]));
        let plain = Zeroizing::new(
            cipher
                .decrypt(XNonce::from_slice(&nonce), Payload { msg: &ciphertext, aad: &aad })
                .map_err(|_| KeyError::Decrypt(path.to_path_buf()))?,
        );
        // A serde error could quote the contents: report its position only.
        let plain: Plain = serde_json::from_slice(&plain).map_err(|e| {
            format(format!("the decrypted contents are not readable (line {}, column {})", e.line(), e.column()))
        })?;
        let mut venues = BTreeMap::new();
        for (venue, entry) in plain.venues {
            check_venue(&venue).map_err(|e| format(e.to_string()))?;
            let creds = Credentials::new(entry.api_key.as_str(), entry.secret.as_str())
                .map_err(|e| format(format!("venue {venue}: {e}")))?;
            venues.insert(venue, creds);
        }
        let mut secrets = BTreeMap::new();
        for (name, value) in plain.secrets {
            if !SECRET_NAMES.contains(&name.as_str()) {
                return Err(format(format!("unknown secret {name:?}")));
            }
            secrets.insert(name, Secret::new(value.as_str()));
        }
        Ok(Self { path: path.to_path_buf(), params, venues, secrets })
    }

    /// The file this store is read from and written to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The argon2id parameters the next [`KeyStore::save`] uses (those of the file
    /// read, or [`KdfParams::DEFAULT`] for a new store).
    pub fn params(&self) -> KdfParams {
        self.params
    }

    /// Changes the argon2id parameters of the next save (to raise them as machines get
    /// faster); refused beyond the limits of [`KdfParams`] or below argon2's minimums.
    pub fn set_params(&mut self, params: KdfParams) -> Result<(), KeyError> {
        params.check().map_err(|reason| KeyError::Invalid { what: "argon2id parameters", reason })?;
        self.params = params;
        Ok(())
    }

    /// The credentials of `venue`, if stored.
    pub fn get(&self, venue: &str) -> Option<&Credentials> {
        self.venues.get(venue)
    }

    /// Stores `credentials` for `venue` (in memory; [`KeyStore::save`] writes), returning
    /// the ones replaced.
    pub fn insert(&mut self, venue: &str, credentials: Credentials) -> Result<Option<Credentials>, KeyError> {
        check_venue(venue)?;
        Ok(self.venues.insert(venue.to_string(), credentials))
    }

    /// Forgets `venue` (in memory), returning its credentials if it had some.
    pub fn remove(&mut self, venue: &str) -> Option<Credentials> {
        self.venues.remove(venue)
    }

    /// The secret called `name` (one of [`SECRET_NAMES`]), if stored.
    pub fn secret(&self, name: &str) -> Option<&Secret> {
        self.secrets.get(name)
    }

    /// Stores a secret (in memory; [`KeyStore::save`] writes), returning the one replaced.
    pub fn set_secret(&mut self, name: &str, value: Secret) -> Result<Option<Secret>, KeyError> {
        if !SECRET_NAMES.contains(&name) {
            return Err(KeyError::Invalid {
                what: "secret name",
                reason: format!("{name:?}: one of {}", SECRET_NAMES.join(", ")),
            });
        }
        if value.expose().is_empty() {
            return Err(KeyError::Invalid { what: "secret", reason: format!("{name}: empty") });
        }
        Ok(self.secrets.insert(name.to_string(), value))
    }

    /// Forgets a secret (in memory), returning it if it was stored.
    pub fn remove_secret(&mut self, name: &str) -> Option<Secret> {
        self.secrets.remove(name)
    }

    /// The venues stored, in name order.
    pub fn venues(&self) -> impl Iterator<Item = (&str, &Credentials)> {
        self.venues.iter().map(|(v, c)| (v.as_str(), c))
    }

    /// Encrypts the store under `passphrase` with a fresh salt and nonce and replaces
    /// the file atomically (temporary file with mode 0600, fsync, rename, fsync of the
    /// directory).
    pub fn save(&self, passphrase: &Passphrase) -> Result<(), KeyError> {
        let params = self.params;
        params.check().map_err(|reason| KeyError::Invalid { what: "argon2id parameters", reason })?;
        let salt = random::<SALT_LEN>()?;
        let nonce = random::<NONCE_LEN>()?;
        let kdf = KdfHeader {
            algorithm: KDF_ALGORITHM.into(),
            version: 0x13,
            m_cost_kib: params.m_cost_kib,
            t_cost: params.t_cost,
            p_cost: params.p_cost,
            salt: B64.encode(salt),
        };
        let cipher_header = CipherHeader { algorithm: CIPHER_ALGORITHM.into(), nonce: B64.encode(nonce) };
        let aad = header_bytes(&kdf, &cipher_header);
        // Capacity for the whole plaintext up front, so that no reallocation leaves a copy
        // of a secret behind in freed memory.
        let size: usize = 32
            + self.venues.iter().map(|(v, c)| v.len() + c.api_key.len() + c.secret.0.len() + 64).sum::<usize>()
            + self.secrets.iter().map(|(n, s)| n.len() + s.0.len() + 16).sum::<usize>();
        let mut plain = Zeroizing::new(Vec::with_capacity(size * 2));
        let entries = Plain {
            venues: self
                .venues
                .iter()
                .map(|(v, c)| {
                    (v.clone(), Entry { api_key: c.api_key.clone(), secret: Zeroizing::new(c.secret.0.to_string()) })
                })
                .collect(),
            secrets: self.secrets.iter().map(|(n, s)| (n.clone(), Zeroizing::new(s.0.to_string()))).collect(),
        };
        serde_json::to_writer(&mut *plain, &entries).map_err(|e| KeyError::Kdf(format!("serialising: {e}")))?;
        let key = derive(passphrase, &salt, &params)?;
        let cipher = XChaCha20Poly1305::new(Key::from_slice(&key[..]));
        let ciphertext = cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: &plain, aad: &aad })
            .map_err(|_| KeyError::Kdf("encryption failed".into()))?;
        let file = FileV1 {
            format: FORMAT.into(),
            version: VERSION,
            kdf,
            cipher: cipher_header,
            ciphertext: B64.encode(ciphertext),
        };
        let mut bytes = serde_json::to_vec_pretty(&file).map_err(|e| KeyError::Kdf(format!("serialising: {e}")))?;
        bytes.push(b'\n');
        write_atomic(&self.path, &bytes)
    }
}

/// The permission bits of the key file at `path` when group or others may read it (a
/// file restored from a backup, say), to warn about; `None` when only the owner can,
/// or on systems without Unix modes.
pub fn loose_permissions(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

fn header_bytes(kdf: &KdfHeader, cipher: &CipherHeader) -> Vec<u8> {
    serde_json::to_vec(&Header { format: FORMAT, version: VERSION, kdf, cipher }).unwrap_or_default()
}

fn decode(s: &str) -> Option<Vec<u8>> {
    B64.decode(s).ok()
}

fn random<const N: usize>() -> Result<[u8; N], KeyError> {
    let mut b = [0u8; N];
    getrandom::getrandom(&mut b).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(b)
}

fn derive(passphrase: &Passphrase, salt: &[u8], params: &KdfParams) -> Result<Zeroizing<[u8; KEY_LEN]>, KeyError> {
    let p = params.check().map_err(KeyError::Kdf)?;
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, p)
        .hash_password_into(passphrase.0.as_bytes(), salt, &mut key[..])
        .map_err(|e| KeyError::Kdf(e.to_string()))?;
    Ok(key)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), KeyError> {
    // The project's one atomic writer: mode 0600 from creation, fsync, rename, and the
    // directory synced.
    ballast_fs::write_private(path, bytes).map_err(|source| KeyError::Io { path: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "kEy0123456789abcdefXYZ";
    const SECRET: &str = "sEcReT9f8e7d6c5b4a3210QQ";

    /// Cheap parameters: the tests check the format, not the cost.
    const FAST: KdfParams = KdfParams { m_cost_kib: 64, t_cost: 1, p_cost: 1 };

    fn pass(s: &str) -> Passphrase {
        Passphrase::new(s).unwrap()
    }

    fn store(dir: &Path) -> KeyStore {
        let mut s = KeyStore::create(&KeyStore::path_in(dir));
        s.set_params(FAST).unwrap();
        s.insert("binance", Credentials::new(KEY, SECRET).unwrap()).unwrap();
        s
    }

    #[test]
    fn saves_and_opens_with_the_same_passphrase() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path());
        s.save(&pass("correct horse")).unwrap();
        let back = KeyStore::open(s.path(), &pass("correct horse")).unwrap();
        let c = back.get("binance").unwrap();
        assert_eq!((c.api_key(), c.secret().expose()), (KEY, SECRET));
        assert_eq!(back.params(), FAST);
        assert_eq!(back.venues().map(|(v, _)| v).collect::<Vec<_>>(), ["binance"]);
    }

    #[test]
    fn named_secrets_round_trip_encrypted_and_only_known_names() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = store(tmp.path());
        s.set_secret("totp", Secret::new("JBSWY3DPEHPK3PXP")).unwrap();
        s.set_secret("telegram", Secret::new("123456:ABC-telegram-token")).unwrap();
        assert!(s.set_secret("nope", Secret::new("x")).is_err());
        assert!(s.set_secret("totp", Secret::new("")).is_err());
        s.save(&pass("pw")).unwrap();
        let text = fs::read_to_string(s.path()).unwrap();
        assert!(!text.contains("JBSWY3DPEHPK3PXP") && !text.contains("telegram-token"), "{text}");
        let mut back = KeyStore::open(s.path(), &pass("pw")).unwrap();
        assert_eq!(back.secret("totp").unwrap().expose(), "JBSWY3DPEHPK3PXP");
        assert_eq!(back.secret("telegram").unwrap().expose(), "123456:ABC-telegram-token");
        assert!(!format!("{back:?}").contains("JBSWY3DPEHPK3PXP"), "Debug never shows a secret");
        back.remove_secret("totp").unwrap();
        back.save(&pass("pw")).unwrap();
        assert!(KeyStore::open(s.path(), &pass("pw")).unwrap().secret("totp").is_none());
    }

    #[test]
    fn the_file_holds_no_key_and_only_the_owner_may_read_it() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path());
        s.save(&pass("pw")).unwrap();
        let text = fs::read_to_string(s.path()).unwrap();
        assert!(!text.contains(SECRET) && !text.contains(KEY) && !text.contains("pw\""), "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["format"], FORMAT);
        assert_eq!(v["version"], 1);
        assert_eq!(v["kdf"]["algorithm"], "argon2id");
        assert_eq!(v["kdf"]["m_cost_kib"], 64);
        assert_eq!(v["cipher"]["algorithm"], "xchacha20poly1305");
        assert_eq!(B64.decode(v["kdf"]["salt"].as_str().unwrap()).unwrap().len(), SALT_LEN);
        assert_eq!(B64.decode(v["cipher"]["nonce"].as_str().unwrap()).unwrap().len(), NONCE_LEN);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(s.path()).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert_eq!(loose_permissions(s.path()), None);
        // no temporary file is left behind
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);
    }

    #[test]
    fn every_save_draws_a_fresh_salt_and_nonce() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path());
        s.save(&pass("pw")).unwrap();
        let a: serde_json::Value = serde_json::from_slice(&fs::read(s.path()).unwrap()).unwrap();
        s.save(&pass("pw")).unwrap();
        let b: serde_json::Value = serde_json::from_slice(&fs::read(s.path()).unwrap()).unwrap();
        assert_ne!(a["kdf"]["salt"], b["kdf"]["salt"]);
        assert_ne!(a["cipher"]["nonce"], b["cipher"]["nonce"]);
        assert_ne!(a["ciphertext"], b["ciphertext"]);
    }

    #[test]
    fn a_wrong_passphrase_is_a_clear_error() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path());
        s.save(&pass("right")).unwrap();
        let e = KeyStore::open(s.path(), &pass("wrong")).unwrap_err();
        assert!(matches!(e, KeyError::Decrypt(_)));
        assert_eq!(e.to_string(), format!("wrong passphrase or corrupted key file {}", s.path().display()));
    }

    #[test]
    fn any_change_to_the_file_fails_authentication() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path());
        s.save(&pass("pw")).unwrap();
        let orig: serde_json::Value = serde_json::from_slice(&fs::read(s.path()).unwrap()).unwrap();
        let flip = |b64: &str| {
            let mut b = B64.decode(b64).unwrap();
            b[3] ^= 1;
            serde_json::Value::String(B64.encode(b))
        };
        let mut cases = Vec::new();
        let mut v = orig.clone();
        v["ciphertext"] = flip(orig["ciphertext"].as_str().unwrap());
        cases.push(v);
        let mut v = orig.clone();
        v["cipher"]["nonce"] = flip(orig["cipher"]["nonce"].as_str().unwrap());
        cases.push(v);
        let mut v = orig.clone();
        v["kdf"]["salt"] = flip(orig["kdf"]["salt"].as_str().unwrap());
        cases.push(v);
        let mut v = orig.clone();
        v["kdf"]["t_cost"] = 2.into();
        cases.push(v);
        for v in cases {
            fs::write(s.path(), serde_json::to_vec(&v).unwrap()).unwrap();
            let e = KeyStore::open(s.path(), &pass("pw")).unwrap_err();
            assert!(matches!(e, KeyError::Decrypt(_)), "{e}");
        }
    }

    #[test]
    fn bad_files_name_the_file_and_the_fault() {
        let tmp = tempfile::tempdir().unwrap();
        let path = KeyStore::path_in(tmp.path());
        let open = |content: &str| {
            fs::write(&path, content).unwrap();
            KeyStore::open(&path, &pass("pw")).unwrap_err().to_string()
        };
        assert!(open("").contains("not JSON"));
        assert!(open("{}").contains("not a ballast key file"));
        let e = open(r#"{"format":"ballast-keys","version":2}"#);
        assert!(e.contains("format version 2") && e.contains(&path.display().to_string()), "{e}");
        let s = store(tmp.path());
        s.save(&pass("pw")).unwrap();
        let mut v: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        v["kdf"]["m_cost_kib"] = (KdfParams::MAX_M_COST_KIB + 1).into();
        let e = open(&v.to_string());
        assert!(e.contains("exceed the limits"), "{e}");
        v["kdf"]["m_cost_kib"] = 64.into();
        v["nonce"] = "x".into();
        assert!(open(&v.to_string()).contains("unknown field"));
        let e = KeyStore::open(&tmp.path().join("none"), &pass("pw")).unwrap_err();
        assert!(matches!(e, KeyError::Missing(_)));
    }

    #[test]
    fn debug_and_display_never_show_a_secret() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path());
        let c = s.get("binance").unwrap();
        let p = pass("hunter2-passphrase");
        let shown = [
            format!("{c:?}"),
            format!("{c:#?}"),
            format!("{:?}", c.secret()),
            format!("{}", c.secret()),
            format!("{s:?}"),
            format!("{s:#?}"),
            format!("{p:?}"),
        ];
        for text in &shown {
            assert!(!text.contains(SECRET) && !text.contains(KEY) && !text.contains("hunter2"), "{text}");
        }
        assert!(shown[0].contains("kEy0…fXYZ") && shown[0].contains("***"), "{}", shown[0]);
        assert_eq!(shown[3], "***");
    }

    #[test]
    fn redaction_shows_little_and_nothing_of_short_keys() {
        assert_eq!(redact("abcdefghijklmnopwxyz"), "abcd…wxyz");
        assert_eq!(redact("short-key"), "***");
        assert_eq!(redact(""), "***");
    }

    #[test]
    fn invalid_input_is_refused_without_repeating_it() {
        assert!(Passphrase::new("").is_err());
        let e = Credentials::new("key with space", "s").unwrap_err().to_string();
        assert!(e.contains("API key") && !e.contains("with space"), "{e}");
        assert!(Credentials::new("k", "").unwrap_err().to_string().contains("secret"));
        assert!(Credentials::new("k", "x".repeat(513)).is_err());
        let mut s = KeyStore::create(Path::new("keys.enc"));
        assert!(s.insert("Bin ance", Credentials::new("k", "s").unwrap()).is_err());
        assert!(s.set_params(KdfParams { m_cost_kib: 1, t_cost: 1, p_cost: 1 }).is_err());
        assert!(s.set_params(KdfParams { m_cost_kib: 64, t_cost: 0, p_cost: 1 }).is_err());
    }
}

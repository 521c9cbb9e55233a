//! The single admin: an argon2id password hash and a TOTP secret kept in a small JSON
//! file, with the sessions (SHA-256 of the cookie value, so a restart does not log
//! anyone out and a stolen file holds no usable session), API tokens (SHA-256 only,
//! with an id and a label so they can be listed and revoked) and the last TOTP step
//! used (a code works once). Failed logins are limited per client.
//!
//! The TOTP secret is stored in plain text in the admin file for now (the file is
//! written with mode 0600 on Unix); encrypting secrets at rest is a later issue.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::totp;

/// How long a session lasts, in milliseconds (12 hours).
pub const SESSION_TTL_MS: i64 = 12 * 3600 * 1000;
/// Failed logins allowed per client per [`FAILURE_WINDOW_MS`]; the next attempt is refused.
pub const MAX_FAILURES: usize = 5;
/// The window of [`MAX_FAILURES`], in milliseconds.
pub const FAILURE_WINDOW_MS: i64 = 60_000;
/// The shortest password accepted at setup.
pub const MIN_PASSWORD_LEN: usize = 8;
/// Password checks that may run at once (each holds argon2's memory cost, 19 MiB by
/// default); a login beyond it is refused at once with [`AuthError::Busy`].
pub const MAX_CONCURRENT_VERIFICATIONS: usize = 4;
/// Clients whose failures are remembered; past it, clients without a failure in the
/// window are forgotten (and if all have one, the oldest are).
pub const MAX_TRACKED_CLIENTS: usize = 10_000;

/// An authentication failure.
#[derive(Debug, Error)]
pub enum AuthError {
    /// The admin file cannot be read or written.
    #[error("admin file {0}: {1}")]
    Io(String, String),
    /// Setup was already done.
    #[error("setup was already done")]
    AlreadySetUp,
    /// No admin yet.
    #[error("setup has not been done")]
    NotSetUp,
    /// The request is invalid (e.g. a short password).
    #[error("{0}")]
    Invalid(String),
    /// Wrong password or code.
    #[error("wrong password or code")]
    Denied,
    /// Too many failures from this client.
    #[error("too many failed logins; try again later")]
    RateLimited,
    /// Too many password checks are running at once.
    #[error("too many logins in progress; try again in a moment")]
    Busy,
    /// Setup without the right setup token.
    #[error("wrong or missing setup token: use the one `ballast serve` printed at start")]
    SetupToken,
    /// Hashing or randomness failed.
    #[error("internal: {0}")]
    Internal(String),
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct AdminFile {
    /// PHC string of the argon2id hash.
    password_hash: String,
    /// Base32 TOTP secret (plain for now).
    totp_secret: String,
    /// Every API token (SHA-256 of it only).
    #[serde(default)]
    tokens: Vec<TokenRecord>,
    /// Tokens of files written before tokens had ids: SHA-256 (hex) only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    api_tokens: Vec<String>,
    /// Live sessions, keyed by SHA-256 (hex) of the cookie value.
    #[serde(default)]
    sessions: BTreeMap<String, Session>,
    /// The last TOTP step a login used: a code of that step or earlier is refused.
    #[serde(default)]
    last_totp_step: u64,
    /// Whether a code of the authenticator was checked once (setup is finished only
    /// then; files written before this check existed count as checked).
    #[serde(default = "checked")]
    totp_confirmed: bool,
    /// A new TOTP secret being enrolled from a session, not in force until a code of
    /// it is checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pending_totp: Option<String>,
}

fn checked() -> bool {
    true
}

/// An API token as stored: never the token itself.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TokenRecord {
    /// A short id to name it (e.g. in `DELETE /api/tokens/{id}`).
    pub id: String,
    /// What the token is for.
    pub label: String,
    /// When it was made (Unix ms).
    pub created_at: i64,
    /// SHA-256 (hex) of the token.
    #[serde(rename = "sha256")]
    hash: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Session {
    csrf: String,
    expires: i64,
}

#[derive(Default)]
struct Inner {
    admin: Option<AdminFile>,
    /// The TOTP secret, when the admin file holds [`crate::SEALED`] instead of it.
    unsealed_totp: Option<String>,
    /// Failure times per client.
    failures: HashMap<String, Vec<i64>>,
}

/// A logged-in session: the cookie value and its CSRF token.
#[derive(Clone, Debug)]
pub struct NewSession {
    /// The value of the `ballast_session` cookie.
    pub id: String,
    /// The token the client must send in `X-CSRF-Token`.
    pub csrf: String,
}

/// The admin and the sessions.
pub struct Auth {
    path: PathBuf,
    secure_cookies: bool,
    params: (u32, u32),
    inner: Mutex<Inner>,
    /// The one-time token setup requires (memory only; never written).
    setup_token: String,
    /// Proxies whose `X-Forwarded-For` is believed (see [`crate::client_key`]).
    trusted_proxies: Vec<IpAddr>,
    /// Password checks running now.
    verifying: AtomicUsize,
    /// Password checks made since start.
    password_checks: AtomicU64,
    /// The most password checks that ran at once.
    peak: AtomicUsize,
}

/// A slot among [`MAX_CONCURRENT_VERIFICATIONS`], given back on drop.
struct Permit<'a>(&'a AtomicUsize);

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Random bytes from the OS.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], AuthError> {
    let mut b = [0u8; N];
    getrandom::getrandom(&mut b).map_err(|e| AuthError::Internal(format!("randomness: {e}")))?;
    Ok(b)
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Past [`MAX_TRACKED_CLIENTS`], forgets the clients without a failure in the window,
/// then (if still too many) those whose last failure is the oldest.
fn forget_old_clients(failures: &mut HashMap<String, Vec<i64>>, now: i64) {
    if failures.len() < MAX_TRACKED_CLIENTS {
        return;
    }
    failures.retain(|_, f| f.iter().any(|t| now - *t < FAILURE_WINDOW_MS));
    if failures.len() >= MAX_TRACKED_CLIENTS {
        let mut last: Vec<i64> = failures.values().map(|f| f.iter().copied().max().unwrap_or(i64::MIN)).collect();
        last.sort_unstable();
        let cut = last[failures.len() - MAX_TRACKED_CLIENTS / 2];
        failures.retain(|_, f| f.iter().any(|t| *t >= cut));
    }
}

/// The `otpauth://` URI of a TOTP secret, for authenticator apps.
fn otpauth_uri(secret: &str) -> String {
    format!("otpauth://totp/ballast:admin?secret={secret}&issuer=ballast")
}

/// Compares in time independent of where the inputs differ.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Auth {
    /// Opens the admin file at `path` (absent: no admin yet, setup allowed).
    pub fn open(path: &Path) -> Result<Self, AuthError> {
        let admin = if path.exists() {
            let text =
                std::fs::read_to_string(path).map_err(|e| AuthError::Io(path.display().to_string(), e.to_string()))?;
            Some(serde_json::from_str(&text).map_err(|e| AuthError::Io(path.display().to_string(), e.to_string()))?)
        } else {
            None
        };
        Ok(Self {
            path: path.to_owned(),
            secure_cookies: false,
            params: (Params::DEFAULT_M_COST, Params::DEFAULT_T_COST),
            inner: Mutex::new(Inner { admin, ..Inner::default() }),
            setup_token: hex::encode(random_bytes::<16>()?),
            trusted_proxies: Vec::new(),
            verifying: AtomicUsize::new(0),
            password_checks: AtomicU64::new(0),
            peak: AtomicUsize::new(0),
        })
    }

    /// True when the admin file holds [`crate::SEALED`] instead of the TOTP secret (see
    /// `ballast keys seal`): logins need [`Auth::unseal_totp`] first.
    pub fn totp_sealed(&self) -> bool {
        self.lock().admin.as_ref().is_some_and(|a| a.totp_secret == crate::SEALED)
    }

    /// Hands over the sealed TOTP secret (read from the key file by the binary); kept
    /// in memory only.
    pub fn unseal_totp(&self, secret: &str) -> Result<(), AuthError> {
        if totp::base32_decode(secret).is_none_or(|b| b.is_empty()) {
            return Err(AuthError::Invalid("the sealed TOTP secret is not base32".into()));
        }
        self.lock().unsealed_totp = Some(secret.to_string());
        Ok(())
    }

    /// Moves the TOTP secret out of the admin file at `path`: writes [`crate::SEALED`]
    /// in its place and returns it (`None` when there is no admin file, or it is sealed
    /// already). The caller stores it in the key file first.
    pub fn seal_file(path: &Path) -> Result<Option<String>, AuthError> {
        Self::swap_secret(path, |current| (current != crate::SEALED).then(|| crate::SEALED.to_string()))
    }

    /// Puts `secret` back into the admin file at `path` in place of [`crate::SEALED`];
    /// false when the file does not hold the marker.
    pub fn unseal_file(path: &Path, secret: &str) -> Result<bool, AuthError> {
        Ok(Self::swap_secret(path, |current| (current == crate::SEALED).then(|| secret.to_string()))?.is_some())
    }

    /// Replaces the admin file's `totp_secret` with what `new` makes of it (nothing when
    /// it says `None`); returns the value replaced. The file is edited as JSON so that
    /// every other field is kept as written.
    fn swap_secret(path: &Path, new: impl Fn(&str) -> Option<String>) -> Result<Option<String>, AuthError> {
        let io = |e: String| AuthError::Io(path.display().to_string(), e);
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e.to_string())),
        };
        let mut v: serde_json::Value = serde_json::from_str(&text).map_err(|e| io(e.to_string()))?;
        let current = v.get("totp_secret").and_then(|s| s.as_str()).ok_or_else(|| io("no totp_secret".into()))?;
        if v.get("totp_confirmed").and_then(|c| c.as_bool()) == Some(false) {
            return Err(AuthError::Invalid(
                "setup is not finished (no code of the authenticator checked yet): finish it, then seal".into(),
            ));
        }
        let Some(replacement) = new(current) else { return Ok(None) };
        let old = current.to_string();
        v["totp_secret"] = serde_json::Value::String(replacement);
        let text = serde_json::to_string_pretty(&v).map_err(|e| AuthError::Internal(e.to_string()))?;
        ballast_fs::write_private(path, text.as_bytes()).map_err(|e| io(e.to_string()))?;
        Ok(Some(old))
    }

    /// The one-time token that [`Auth::setup`] requires, while setup is not done (it
    /// changes at every start and is kept in memory only).
    pub fn setup_token(&self) -> Option<String> {
        (!self.is_set_up()).then(|| self.setup_token.clone())
    }

    /// Believe `X-Forwarded-For` from these peers (the TLS proxy in front): the rate
    /// limit is then keyed on the client the proxy names, not on the proxy.
    pub fn with_trusted_proxies(mut self, proxies: Vec<IpAddr>) -> Self {
        self.trusted_proxies = proxies;
        self
    }

    /// The trusted proxies.
    pub fn trusted_proxies(&self) -> &[IpAddr] {
        &self.trusted_proxies
    }

    /// How many password checks (argon2id verifications) were made since start.
    pub fn password_checks(&self) -> u64 {
        self.password_checks.load(Ordering::SeqCst)
    }

    /// The most password checks that ran at once since start (at most
    /// [`MAX_CONCURRENT_VERIFICATIONS`]).
    pub fn peak_verifications(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    fn permit(&self) -> Option<Permit<'_>> {
        let before = self
            .verifying
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < MAX_CONCURRENT_VERIFICATIONS).then_some(n + 1))
            .ok()?;
        self.peak.fetch_max(before + 1, Ordering::SeqCst);
        Some(Permit(&self.verifying))
    }

    /// Adds `Secure` to the session cookie (set it when served over HTTPS).
    pub fn with_secure_cookies(mut self, secure: bool) -> Self {
        self.secure_cookies = secure;
        self
    }

    /// Sets the argon2id memory (KiB) and time costs used for new hashes; the defaults
    /// are argon2's (19 MiB, 2 passes). Lower them only in tests.
    pub fn with_hash_cost(mut self, m_cost_kib: u32, t_cost: u32) -> Self {
        self.params = (m_cost_kib, t_cost);
        self
    }

    /// Whether the cookie carries `Secure`.
    pub fn secure_cookies(&self) -> bool {
        self.secure_cookies
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// True once setup was done: the password stored and a code of the authenticator
    /// checked ([`Auth::confirm_setup`]).
    pub fn is_set_up(&self) -> bool {
        self.lock().admin.as_ref().is_some_and(|a| a.totp_confirmed)
    }

    /// Finishes setup: `code` must be a current code of the secret [`Auth::setup`]
    /// returned (so a QR code scanned wrong is noticed while setup can still be done
    /// again). Needs the setup token, like setup. Opens the admin's first session (the
    /// code is used: it could not log in again).
    pub fn confirm_setup(&self, setup_token: &str, code: &str, now: i64) -> Result<NewSession, AuthError> {
        if !ct_eq(setup_token.trim().as_bytes(), self.setup_token.as_bytes()) {
            return Err(AuthError::SetupToken);
        }
        let mut inner = self.lock();
        let mut admin = inner.admin.clone().ok_or(AuthError::NotSetUp)?;
        if admin.totp_confirmed {
            return Err(AuthError::AlreadySetUp);
        }
        let secret = totp::base32_decode(&admin.totp_secret).unwrap_or_default();
        let step = totp::matching_step(&secret, now.max(0) as u64 / 1000, code).ok_or_else(|| {
            AuthError::Invalid(
                "that code does not match: check the authenticator's clock, or scan the QR code again, then enter the code it shows now".into(),
            )
        })?;
        admin.totp_confirmed = true;
        admin.last_totp_step = step;
        let id = hex::encode(random_bytes::<32>()?);
        let csrf = hex::encode(random_bytes::<32>()?);
        admin.sessions.insert(sha256_hex(&id), Session { csrf: csrf.clone(), expires: now + SESSION_TTL_MS });
        self.save(&admin)?;
        inner.admin = Some(admin);
        Ok(NewSession { id, csrf })
    }

    /// Checks the admin password (for changes made from a session), counted like a
    /// login's password check.
    fn check_password(&self, password: &str) -> Result<AdminFile, AuthError> {
        let _permit = self.permit().ok_or(AuthError::Busy)?;
        let admin = self.lock().admin.clone().ok_or(AuthError::NotSetUp)?;
        self.password_checks.fetch_add(1, Ordering::SeqCst);
        let ok = PasswordHash::new(&admin.password_hash)
            .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
            .unwrap_or(false);
        if !ok {
            return Err(AuthError::Invalid("the current password is wrong".into()));
        }
        Ok(admin)
    }

    fn hash(&self, password: &str) -> Result<String, AuthError> {
        if password.chars().count() < MIN_PASSWORD_LEN {
            return Err(AuthError::Invalid(format!("the password must have at least {MIN_PASSWORD_LEN} characters")));
        }
        let salt = SaltString::encode_b64(&random_bytes::<16>()?).map_err(|e| AuthError::Internal(e.to_string()))?;
        let params =
            Params::new(self.params.0, self.params.1, 1, None).map_err(|e| AuthError::Internal(e.to_string()))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| AuthError::Internal(e.to_string()))?
            .to_string())
    }

    /// Changes the admin password (the current one is checked); every other session
    /// ends, `keep` (the caller's session cookie) stays.
    pub fn change_password(&self, current: &str, new: &str, keep: Option<&str>) -> Result<(), AuthError> {
        self.check_password(current)?;
        let hash = self.hash(new)?;
        let mut inner = self.lock();
        let mut admin = inner.admin.clone().ok_or(AuthError::NotSetUp)?;
        admin.password_hash = hash;
        let keep = keep.map(sha256_hex);
        admin.sessions.retain(|k, _| Some(k) == keep.as_ref());
        self.save(&admin)?;
        inner.admin = Some(admin);
        Ok(())
    }

    /// Starts enrolling a new authenticator (the password is checked): returns the new
    /// secret's `otpauth://` URI. The old one stays in force until
    /// [`Auth::confirm_reenrol`] checks a code of the new one.
    pub fn start_reenrol(&self, password: &str) -> Result<String, AuthError> {
        if self.totp_sealed() {
            return Err(AuthError::Invalid(
                "the TOTP secret is sealed in keys.enc: run `ballast keys unseal`, enrol the new authenticator, then `ballast keys seal` again".into(),
            ));
        }
        self.check_password(password)?;
        let secret = totp::base32_encode(&random_bytes::<20>()?);
        let mut inner = self.lock();
        let mut admin = inner.admin.clone().ok_or(AuthError::NotSetUp)?;
        admin.pending_totp = Some(secret.clone());
        self.save(&admin)?;
        inner.admin = Some(admin);
        Ok(otpauth_uri(&secret))
    }

    /// Puts the new authenticator in force once `code` is a current code of it.
    pub fn confirm_reenrol(&self, code: &str, now: i64) -> Result<(), AuthError> {
        let mut inner = self.lock();
        let mut admin = inner.admin.clone().ok_or(AuthError::NotSetUp)?;
        let pending = admin
            .pending_totp
            .clone()
            .ok_or_else(|| AuthError::Invalid("no new authenticator is being enrolled: start again".into()))?;
        let secret = totp::base32_decode(&pending).unwrap_or_default();
        let step = totp::matching_step(&secret, now.max(0) as u64 / 1000, code).ok_or_else(|| {
            AuthError::Invalid("that code does not match the new authenticator: the old one stays in force".into())
        })?;
        admin.totp_secret = pending;
        admin.pending_totp = None;
        admin.last_totp_step = step;
        self.save(&admin)?;
        inner.admin = Some(admin);
        Ok(())
    }

    fn save(&self, admin: &AdminFile) -> Result<(), AuthError> {
        let text = serde_json::to_string_pretty(admin).map_err(|e| AuthError::Internal(e.to_string()))?;
        ballast_fs::write_private(&self.path, text.as_bytes())
            .map_err(|e| AuthError::Io(self.path.display().to_string(), e.to_string()))
    }

    /// First run: stores the password's hash and a fresh TOTP secret; returns the
    /// `otpauth://` URI to enrol an authenticator app.
    pub fn setup(&self, password: &str, setup_token: &str) -> Result<String, AuthError> {
        if self.is_set_up() {
            return Err(AuthError::AlreadySetUp);
        }
        if !ct_eq(setup_token.trim().as_bytes(), self.setup_token.as_bytes()) {
            return Err(AuthError::SetupToken);
        }
        let hash = self.hash(password)?;
        let secret = totp::base32_encode(&random_bytes::<20>()?);
        // Not finished until a code is checked (`confirm_setup`); until then setup can
        // be done again (an enrolment that went wrong locks nobody out).
        let admin = AdminFile {
            password_hash: hash,
            totp_secret: secret.clone(),
            totp_confirmed: false,
            ..AdminFile::default()
        };
        let mut inner = self.lock();
        if inner.admin.as_ref().is_some_and(|a| a.totp_confirmed) {
            return Err(AuthError::AlreadySetUp);
        }
        self.save(&admin)?;
        inner.admin = Some(admin);
        Ok(otpauth_uri(&secret))
    }

    /// Checks the password and the TOTP code (current or previous 30 s step) at `now`
    /// (ms) for `client`; on success opens a session.
    pub fn login(&self, client: &str, password: &str, code: &str, now: i64) -> Result<NewSession, AuthError> {
        // Only a bounded number of checks at once; a refusal here costs nothing and
        // is not counted against the client.
        let permit = self.permit().ok_or(AuthError::Busy)?;
        let admin = {
            let mut inner = self.lock();
            forget_old_clients(&mut inner.failures, now);
            let admin = inner.admin.clone().filter(|a| a.totp_confirmed).ok_or(AuthError::NotSetUp)?;
            let fails = inner.failures.entry(client.to_owned()).or_default();
            fails.retain(|t| now - *t < FAILURE_WINDOW_MS);
            if fails.len() >= MAX_FAILURES {
                return Err(AuthError::RateLimited);
            }
            // Counted before the check, so parallel attempts cannot all pass the
            // limit; a success takes it back.
            fails.push(now);
            admin
        };
        self.password_checks.fetch_add(1, Ordering::SeqCst);
        let hash_ok = PasswordHash::new(&admin.password_hash)
            .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
            .unwrap_or(false);
        drop(permit);
        let secret_text = if admin.totp_secret == crate::SEALED {
            // Sealed and not handed over: no code can match.
            self.lock().unsealed_totp.clone().unwrap_or_default()
        } else {
            admin.totp_secret.clone()
        };
        let secret = totp::base32_decode(&secret_text).unwrap_or_default();
        let step = totp::matching_step(&secret, now.max(0) as u64 / 1000, code);
        let code_ok = step.is_some_and(|s| s > admin.last_totp_step);
        let mut inner = self.lock();
        if !(hash_ok && code_ok) {
            return Err(AuthError::Denied);
        }
        inner.failures.remove(client);
        let id = hex::encode(random_bytes::<32>()?);
        let csrf = hex::encode(random_bytes::<32>()?);
        let mut admin = inner.admin.clone().ok_or(AuthError::NotSetUp)?;
        if step.is_none_or(|s| s <= admin.last_totp_step) {
            // Another login used this code in the meantime.
            return Err(AuthError::Denied);
        }
        admin.last_totp_step = step.unwrap_or_default();
        admin.sessions.retain(|_, s| s.expires > now);
        admin.sessions.insert(sha256_hex(&id), Session { csrf: csrf.clone(), expires: now + SESSION_TTL_MS });
        self.save(&admin)?;
        inner.admin = Some(admin);
        Ok(NewSession { id, csrf })
    }

    /// The CSRF token of a live session.
    pub fn session_csrf(&self, id: &str, now: i64) -> Option<String> {
        let inner = self.lock();
        inner.admin.as_ref()?.sessions.get(&sha256_hex(id)).filter(|s| s.expires > now).map(|s| s.csrf.clone())
    }

    /// Ends a session.
    pub fn logout(&self, id: &str) -> Result<(), AuthError> {
        let mut inner = self.lock();
        let Some(mut admin) = inner.admin.clone() else { return Ok(()) };
        if admin.sessions.remove(&sha256_hex(id)).is_some() {
            self.save(&admin)?;
            inner.admin = Some(admin);
        }
        Ok(())
    }

    /// Creates an API token labelled `label` at `now` (ms); returns its id and the
    /// token, which is not kept (only its SHA-256 is).
    pub fn create_token(&self, label: &str, now: i64) -> Result<(String, String), AuthError> {
        let label = label.trim();
        if label.chars().count() > 64 || label.chars().any(char::is_control) {
            return Err(AuthError::Invalid("a token label has at most 64 printable characters".into()));
        }
        let token = format!("blt_{}", hex::encode(random_bytes::<32>()?));
        let id = hex::encode(random_bytes::<4>()?);
        let mut inner = self.lock();
        let mut admin = inner.admin.clone().ok_or(AuthError::NotSetUp)?;
        let label = if label.is_empty() { format!("token {}", admin.tokens.len() + 1) } else { label.to_owned() };
        admin.tokens.push(TokenRecord { id: id.clone(), label, created_at: now, hash: sha256_hex(&token) });
        self.save(&admin)?;
        inner.admin = Some(admin);
        Ok((id, token))
    }

    /// The API tokens (never the tokens themselves).
    pub fn tokens(&self) -> Vec<TokenRecord> {
        self.lock().admin.as_ref().map(|a| a.tokens.clone()).unwrap_or_default()
    }

    /// Revokes the token `id`: it stops working at once. False when there is none.
    pub fn revoke_token(&self, id: &str) -> Result<bool, AuthError> {
        let mut inner = self.lock();
        let mut admin = inner.admin.clone().ok_or(AuthError::NotSetUp)?;
        let before = admin.tokens.len();
        admin.tokens.retain(|t| t.id != id);
        if admin.tokens.len() == before {
            return Ok(false);
        }
        self.save(&admin)?;
        inner.admin = Some(admin);
        Ok(true)
    }

    /// True when `token` is a known API token.
    pub fn check_token(&self, token: &str) -> bool {
        let h = sha256_hex(token);
        self.lock().admin.as_ref().is_some_and(|a| {
            a.tokens.iter().any(|t| ct_eq(t.hash.as_bytes(), h.as_bytes()))
                | a.api_tokens.iter().any(|t| ct_eq(t.as_bytes(), h.as_bytes()))
        })
    }
}

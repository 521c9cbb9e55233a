//! Live venues: the Binance and Gate adapters with their keys, and their engines.
//!
//! Keys come from the encrypted key file of the data directory (`keys.enc`, written by
//! `ballast keys add`, see `ballast-keys`) when it holds the venue; its passphrase comes
//! from `BALLAST_PASSPHRASE` (services) or a prompt without echo when stdin is a
//! terminal. For compatibility, a venue the file does not hold may take its keys from
//! `BALLAST_BINANCE_API_KEY`/`BALLAST_BINANCE_SECRET` and
//! `BALLAST_GATE_API_KEY`/`BALLAST_GATE_SECRET`, which is less safe (the environment of
//! a process is readable by its user and often ends up in service files and logs). Keys
//! are never written to the data directory in clear or printed.

use std::cell::OnceCell;
use std::fmt;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use ballast_binance::{Binance, BinanceConfig, UreqTransport};
use ballast_engine::Engine;
use ballast_exchange::{Clock, Exchange, ExchangeError, SystemClock};
use ballast_gate::{Gate, GateConfig, KeyCheck};
use ballast_keys::{Credentials, KeyStore, Passphrase, Zeroizing};
use ballast_store::sqlite::SqliteStore;

/// The environment variable holding the Binance API key.
pub const BINANCE_KEY_ENV: &str = "BALLAST_BINANCE_API_KEY";
/// The environment variable holding the Binance secret.
pub const BINANCE_SECRET_ENV: &str = "BALLAST_BINANCE_SECRET";

/// A Binance adapter for `base_url` (default: the real API) with the keys of `keys`,
/// its clock synchronised with the server.
pub fn binance(keys: &Keyring, base_url: Option<&str>) -> Result<Arc<Binance>> {
    let (creds, _) = keys.credentials("binance")?;
    let mut config = BinanceConfig {
        api_key: creds.api_key().to_string(),
        secret: creds.secret().expose().to_string(),
        ..BinanceConfig::default()
    };
    if let Some(u) = base_url {
        config.base_url = u.trim_end_matches('/').to_string();
    }
    let b = Arc::new(
        Binance::new(config, Arc::new(UreqTransport::new(Duration::from_secs(10))), Arc::new(SystemClock))
            .with_quiet(quiet(keys, "binance")),
    );
    patiently("binance server time", || b.sync_time())
        .map_err(|e| anyhow!("binance: cannot read the server time: {e}"))?;
    Ok(b)
}

/// The environment variable holding the Gate API key.
pub const GATE_KEY_ENV: &str = "BALLAST_GATE_API_KEY";
/// The environment variable holding the Gate secret.
pub const GATE_SECRET_ENV: &str = "BALLAST_GATE_SECRET";

/// A Gate adapter for `base_url` (default: the real API; `/api/v4` is added when the
/// address lacks it, so a `ballast sim` address works as is) with the keys of `keys`.
pub fn gate(keys: &Keyring, base_url: Option<&str>) -> Result<Arc<Gate>> {
    let (creds, _) = keys.credentials("gate")?;
    let mut config = GateConfig::new(creds.api_key(), creds.secret().expose());
    if let Some(u) = base_url {
        let u = u.trim_end_matches('/');
        config.base_url = if u.ends_with("/api/v4") { u.to_string() } else { format!("{u}/api/v4") };
    }
    let transport = Arc::new(ballast_gate::UreqTransport::new(Duration::from_secs(10)));
    Ok(Arc::new(Gate::new(config, transport, Arc::new(SystemClock)).with_quiet(quiet(keys, "gate"))))
}

/// The quiet period of `venue` for every process of the data directory: a file
/// `quiet-<venue>` beside the key file (see `ballast_http::Quiet`).
fn quiet(keys: &Keyring, venue: &str) -> Arc<ballast_http::Quiet> {
    Arc::new(ballast_http::Quiet::shared(keys.path().with_file_name(format!("quiet-{venue}"))))
}

/// The engine of a live venue over the data directory's store, after checking its key
/// (taken from the data directory's key file, or the environment).
pub fn engine(dir: &Path, venue: &str, base_url: Option<&str>) -> Result<Engine> {
    engine_with(&Keyring::new(dir), dir, venue, base_url)
}

/// [`engine`] with the keys of `keys` (one unlock for several venues).
pub fn engine_with(keys: &Keyring, dir: &Path, venue: &str, base_url: Option<&str>) -> Result<Engine> {
    let exchange: Arc<dyn Exchange> = match venue {
        "binance" => {
            let b = binance(keys, base_url)?;
            patiently("binance key check", || b.check_key()).map_err(|e| anyhow!("binance key refused: {e}"))?;
            b
        }
        "gate" => {
            let g = gate(keys, base_url)?;
            match patiently("gate key check", || g.check_key()).map_err(|e| anyhow!("gate key refused: {e}"))? {
                KeyCheck::Ok => {}
                KeyCheck::Unknown(warning) => eprintln!("warning: {warning}"),
            }
            g
        }
        other => bail!("venue {other:?}: use paper, binance or gate"),
    };
    std::fs::create_dir_all(dir).with_context(|| format!("data directory {}", dir.display()))?;
    let store = Arc::new(SqliteStore::open(&dir.join("ballast.sqlite")).map_err(|e| anyhow!("store: {e}"))?);
    Ok(Engine::new(store, exchange, Arc::new(SystemClock) as Arc<dyn Clock>))
}

/// The environment variable holding the passphrase of the key file (for services).
pub const PASSPHRASE_ENV: &str = "BALLAST_PASSPHRASE";

/// The environment variables of `venue`'s key and secret (the fallback of a venue that
/// the key file does not hold).
pub fn env_vars(venue: &str) -> Option<(&'static str, &'static str)> {
    match venue {
        "binance" => Some((BINANCE_KEY_ENV, BINANCE_SECRET_ENV)),
        "gate" => Some((GATE_KEY_ENV, GATE_SECRET_ENV)),
        _ => None,
    }
}

/// The passphrase of the key file at `path`: `BALLAST_PASSPHRASE`, else a prompt without
/// echo when stdin is a terminal (typed twice when `confirm`), else an error saying so.
pub fn passphrase(path: &Path, confirm: bool) -> Result<Passphrase> {
    match std::env::var(PASSPHRASE_ENV) {
        Ok(p) => return Passphrase::new(p).map_err(|_| anyhow!("{PASSPHRASE_ENV} is set but empty")),
        Err(std::env::VarError::NotUnicode(_)) => bail!("{PASSPHRASE_ENV} is not valid UTF-8"),
        Err(std::env::VarError::NotPresent) => {}
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "the key file {} needs its passphrase: set {PASSPHRASE_ENV}, or run in a terminal to type it",
            path.display()
        );
    }
    let prompt = |text: String| -> Result<Zeroizing<String>> {
        Ok(Zeroizing::new(rpassword::prompt_password(text).context("reading the passphrase from the terminal")?))
    };
    let first = prompt(format!("Passphrase for {}: ", path.display()))?;
    if confirm {
        let again = prompt("The same passphrase again: ".to_string())?;
        if *first != *again {
            bail!("the two passphrases differ; nothing was written");
        }
    }
    Passphrase::new(first.as_str()).map_err(|_| anyhow!("the passphrase is empty"))
}

/// Where a venue's keys came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// The data directory's key file.
    File(PathBuf),
    /// The environment variable holding the key (the secret is in its sibling).
    Env(&'static str),
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::File(p) => write!(f, "the key file {}", p.display()),
            KeySource::Env(v) => write!(f, "the environment ({v}; less safe than `ballast keys add`)"),
        }
    }
}

/// The keys of a data directory: its key file, unlocked at most once (on first use,
/// and only if it exists), and the environment as a fallback.
#[derive(Debug)]
pub struct Keyring {
    path: PathBuf,
    store: OnceCell<Option<KeyStore>>,
}

impl Keyring {
    /// The keys of data directory `dir`.
    pub fn new(dir: &Path) -> Self {
        Self { path: KeyStore::path_in(dir), store: OnceCell::new() }
    }

    /// The key file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The key file, decrypted (asking for the passphrase), or `None` without one.
    pub fn store(&self) -> Result<Option<&KeyStore>> {
        if self.store.get().is_none() {
            let store = if self.path.exists() {
                if let Some(mode) = ballast_keys::loose_permissions(&self.path) {
                    eprintln!(
                        "warning: {} has mode {mode:o}; only its owner should read it (chmod 600)",
                        self.path.display()
                    );
                }
                let pass = passphrase(&self.path, false)?;
                Some(KeyStore::open(&self.path, &pass)?)
            } else {
                None
            };
            let _ = self.store.set(store);
        }
        Ok(self.store.get().and_then(Option::as_ref))
    }

    /// The key and secret of `venue`: from the key file when it holds the venue, else
    /// from the venue's environment variables, else an error naming both ways.
    pub fn credentials(&self, venue: &str) -> Result<(Credentials, KeySource)> {
        if let Some(c) = self.store()?.and_then(|s| s.get(venue)) {
            return Ok((c.clone(), KeySource::File(self.path.clone())));
        }
        let Some((key_var, secret_var)) = env_vars(venue) else { bail!("venue {venue:?}: use binance or gate") };
        let read = |var: &str| match std::env::var(var) {
            Ok(v) if !v.is_empty() => Some(Zeroizing::new(v)),
            _ => None,
        };
        match (read(key_var), read(secret_var)) {
            (Some(key), Some(secret)) => {
                let c = Credentials::new(key.as_str(), secret.as_str())
                    .map_err(|e| anyhow!("{key_var}/{secret_var}: {e}"))?;
                Ok((c, KeySource::Env(key_var)))
            }
            (key, _) => bail!(
                "no {venue} key: store one with `ballast keys add --venue {venue}` (in {}), or set {} (less safe)",
                self.path.display(),
                if key.is_none() { format!("{key_var} and {secret_var}") } else { secret_var.to_string() }
            ),
        }
    }
}

/// Hands the notifier its Telegram token when `ballast keys seal` moved it into the
/// key file (unlocking the key file: BALLAST_PASSPHRASE or a prompt).
pub fn unseal_notifier(keys: &Keyring, n: &mut ballast_server::notify::Notifier) -> Result<()> {
    if !n.telegram_sealed() {
        return Ok(());
    }
    let token = keys.store()?.and_then(|s| s.secret("telegram")).ok_or_else(|| {
        anyhow!(
            "notify.toml says the Telegram token is sealed, but {} holds none: set it again with `ballast notify set`",
            keys.path().display()
        )
    })?;
    n.unseal_telegram(token.expose());
    Ok(())
}

/// Hands the dashboard's login its TOTP secret when `ballast keys seal` moved it into
/// the key file (unlocking the key file: BALLAST_PASSPHRASE or a prompt).
pub fn unseal_auth(keys: &Keyring, auth: &ballast_server::Auth) -> Result<()> {
    if !auth.totp_sealed() {
        return Ok(());
    }
    let secret = keys.store()?.and_then(|s| s.secret("totp")).ok_or_else(|| {
        anyhow!(
            "admin.json says the TOTP secret is sealed, but {} holds none: `ballast keys unseal` cannot help; reset the login",
            keys.path().display()
        )
    })?;
    auth.unseal_totp(secret.expose()).map_err(|e| anyhow!("{e}"))
}

/// Runs `f`, waiting out the venue's rate limits (its Retry-After, at most 5 times, each
/// wait between 0.1 and 60 s), so that a runner restarted often does not die on the
/// venue's request budget at start-up.
fn patiently<T>(what: &str, f: impl Fn() -> Result<T, ExchangeError>) -> Result<T, ExchangeError> {
    let mut tries = 0;
    loop {
        match f() {
            Err(e @ ExchangeError::RateLimited { retry_after_ms }) if tries < 5 => {
                tries += 1;
                eprintln!("warning: {what}: {e}; waiting");
                std::thread::sleep(Duration::from_millis(retry_after_ms.clamp(100, 60_000)));
            }
            r => return r,
        }
    }
}

//! `ballast keys`: the encrypted key file of the data directory (`keys.enc`): add,
//! list, remove, and check what a key may do at its venue.

use std::io::{IsTerminal, Read};
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use ballast_keys::{Credentials, KeyStore, Zeroizing};

use crate::app::data_dir;
use crate::cmd::bot::DirArgs;
use crate::live::{KeySource, Keyring, env_vars, passphrase};

/// The venues whose keys can be stored.
const VENUES: [&str; 2] = ballast_keys::VENUES;

/// Arguments of `ballast keys`.
#[derive(Debug, clap::Args)]
pub struct KeysArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    #[command(subcommand)]
    pub verb: KeysVerb,
}

/// Key verbs.
#[derive(Debug, clap::Subcommand)]
pub enum KeysVerb {
    /// Store a venue's API key and secret, encrypted under a passphrase, in the data
    /// directory (keys.enc); replaces the venue's key if one is stored.
    Add {
        /// binance or gate
        #[arg(long, value_parser = VENUES)]
        venue: String,
        /// Read the API key and the secret from the first two lines of stdin (for
        /// scripts; the passphrase then comes from BALLAST_PASSPHRASE) instead of prompts.
        #[arg(long)]
        stdin: bool,
    },
    /// List the venues with a stored key (the API key redacted, never the secret).
    List,
    /// Forget a venue's stored key.
    Remove {
        /// binance or gate
        #[arg(long, value_parser = VENUES)]
        venue: String,
    },
    /// Move the dashboard's TOTP secret (admin.json) and the Telegram token
    /// (notify.toml) into the encrypted key file, leaving `sealed:keys.enc` in their
    /// place. Afterwards `ballast serve` and notifications need the passphrase at
    /// every start (BALLAST_PASSPHRASE for unattended starts). See docs/RELIABILITY.md.
    Seal,
    /// Put the sealed secrets back into admin.json and notify.toml (starts then need
    /// no passphrase for them).
    Unseal,
    /// Report what the venue's API key may do; refuses one that can withdraw.
    Check {
        /// binance or gate
        #[arg(long, value_parser = VENUES)]
        venue: String,
        /// The venue's address (e.g. a `ballast sim`).
        #[arg(long)]
        base_url: Option<String>,
    },
}

/// Runs `ballast keys`.
pub fn run(args: &KeysArgs) -> Result<()> {
    let dir = data_dir(args.dir.data_dir.as_deref());
    match &args.verb {
        KeysVerb::Add { venue, stdin } => add(&dir, venue, *stdin),
        KeysVerb::List => list(&dir),
        KeysVerb::Remove { venue } => remove(&dir, venue),
        KeysVerb::Seal => seal(&dir),
        KeysVerb::Unseal => unseal(&dir),
        KeysVerb::Check { venue, base_url } => check(&dir, venue, base_url.as_deref()),
    }
}

/// The admin file of `ballast serve` in `dir`.
fn admin_file(dir: &Path) -> std::path::PathBuf {
    dir.join("admin.json")
}

/// Moves the TOTP secret and the Telegram token into the key file. The key file is
/// written first, so a crash in between leaves each secret in both places (and a
/// second `seal` finishes), never in neither.
fn seal(dir: &Path) -> Result<()> {
    use ballast_server::notify::NotifyConfig;
    let path = KeyStore::path_in(dir);
    let _lock = KeyStore::lock(&path)?;
    let (mut store, pass) = if path.exists() {
        let pass = passphrase(&path, false)?;
        (KeyStore::open(&path, &pass)?, pass)
    } else {
        let pass = passphrase(&path, true)?;
        (KeyStore::create(&path), pass)
    };
    let admin = admin_file(dir);
    let totp = read_admin_totp(&admin)?.filter(|t| t != ballast_server::SEALED);
    let mut notify = NotifyConfig::load(dir).map_err(|e| anyhow!("{e}"))?;
    let telegram = notify
        .as_ref()
        .and_then(|n| n.telegram.as_ref())
        .map(|t| t.token.clone())
        .filter(|t| t != ballast_server::SEALED);
    if totp.is_none() && telegram.is_none() {
        println!("Nothing to seal: no TOTP secret or Telegram token in clear in {}.", dir.display());
        return Ok(());
    }
    if let Some(t) = &totp {
        store.set_secret("totp", ballast_keys::Secret::new(t.as_str()))?;
    }
    if let Some(t) = &telegram {
        store.set_secret("telegram", ballast_keys::Secret::new(t.as_str()))?;
    }
    store.save(&pass)?;
    if totp.is_some() {
        ballast_server::auth::Auth::seal_file(&admin).map_err(|e| anyhow!("{e}"))?;
        println!("Sealed the TOTP secret of {} into {}.", admin.display(), path.display());
    }
    if let (Some(_), Some(n)) = (&telegram, notify.as_mut()) {
        if let Some(t) = n.telegram.as_mut() {
            t.token = ballast_server::SEALED.to_string();
        }
        let written = n.save(dir).map_err(|e| anyhow!("{e}"))?;
        println!("Sealed the Telegram token of {} into {}.", written.display(), path.display());
    }
    println!(
        "`ballast serve` and notifications now need the passphrase at every start (BALLAST_PASSPHRASE when unattended); `ballast keys unseal` undoes this."
    );
    Ok(())
}

/// Puts the sealed secrets back. The files are written first, then the key file
/// forgets them.
fn unseal(dir: &Path) -> Result<()> {
    use ballast_server::notify::NotifyConfig;
    let path = KeyStore::path_in(dir);
    if !path.exists() {
        bail!("no key file at {}: nothing is sealed", path.display());
    }
    let _lock = KeyStore::lock(&path)?;
    let pass = passphrase(&path, false)?;
    let mut store = KeyStore::open(&path, &pass)?;
    let admin = admin_file(dir);
    let mut done = false;
    if read_admin_totp(&admin)?.as_deref() == Some(ballast_server::SEALED) {
        let secret = store.secret("totp").ok_or_else(|| {
            anyhow!("{} says its TOTP secret is sealed, but {} holds none", admin.display(), path.display())
        })?;
        ballast_server::auth::Auth::unseal_file(&admin, secret.expose()).map_err(|e| anyhow!("{e}"))?;
        println!("Put the TOTP secret back into {}.", admin.display());
        done = true;
    }
    if let Some(mut n) = NotifyConfig::load(dir).map_err(|e| anyhow!("{e}"))?
        && n.telegram_sealed()
    {
        let token = store.secret("telegram").ok_or_else(|| {
            anyhow!("notify.toml says its Telegram token is sealed, but {} holds none", path.display())
        })?;
        if let Some(t) = n.telegram.as_mut() {
            t.token = token.expose().to_string();
        }
        let written = n.save(dir).map_err(|e| anyhow!("{e}"))?;
        println!("Put the Telegram token back into {}.", written.display());
        done = true;
    }
    let removed = store.remove_secret("totp").is_some() | store.remove_secret("telegram").is_some();
    if removed {
        store.save(&pass)?;
    }
    if !done && !removed {
        println!("Nothing was sealed.");
    }
    Ok(())
}

/// The `totp_secret` of the admin file, if there is one.
fn read_admin_totp(admin: &Path) -> Result<Option<String>> {
    let text = match std::fs::read_to_string(admin) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(anyhow!("{}: {e}", admin.display())),
    };
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| anyhow!("{}: {e}", admin.display()))?;
    Ok(v.get("totp_secret").and_then(|s| s.as_str()).map(str::to_string))
}

/// Reads the key and the secret: two lines of stdin, or two prompts without echo.
fn read_credentials(from_stdin: bool) -> Result<Credentials> {
    let (key, secret) = if from_stdin {
        let mut input = Zeroizing::new(String::new());
        std::io::stdin().read_to_string(&mut input).context("reading the key and the secret from stdin")?;
        let mut lines = input.lines().map(str::trim).filter(|l| !l.is_empty());
        match (lines.next(), lines.next(), lines.next()) {
            (Some(k), Some(s), None) => (Zeroizing::new(k.to_string()), Zeroizing::new(s.to_string())),
            _ => bail!("--stdin: expected two lines, the API key then the secret"),
        }
    } else {
        if !std::io::stdin().is_terminal() {
            bail!("no terminal to type the key in: pipe the API key and the secret as two lines with --stdin");
        }
        let ask = |what: &str| -> Result<Zeroizing<String>> {
            let typed = Zeroizing::new(
                rpassword::prompt_password(format!("{what} (not shown): "))
                    .with_context(|| format!("reading the {what} from the terminal"))?,
            );
            Ok(Zeroizing::new(typed.trim().to_string()))
        };
        (ask("API key")?, ask("Secret")?)
    };
    Credentials::new(key.as_str(), secret.as_str()).map_err(|e| anyhow!("{e}"))
}

fn add(dir: &Path, venue: &str, from_stdin: bool) -> Result<()> {
    let creds = read_credentials(from_stdin)?;
    let path = KeyStore::path_in(dir);
    // The passphrase of the existing file (a wrong one fails before any write), or a
    // new one, typed twice.
    let pass = passphrase(&path, !path.exists())?;
    let shown = creds.redacted_key();
    // The same call as the dashboard's key settings (under the file's lock).
    let (store, replaced) = KeyStore::put(&path, venue, creds, &pass)?;
    let p = store.params();
    println!(
        "{} the {venue} key {shown} in {} (XChaCha20-Poly1305, key from argon2id m={} MiB t={} p={}).",
        if replaced { "Replaced" } else { "Stored" },
        path.display(),
        p.m_cost_kib / 1024,
        p.t_cost,
        p.p_cost
    );
    println!("Check what it may do: ballast keys check --venue {venue}");
    Ok(())
}

fn list(dir: &Path) -> Result<()> {
    let keyring = Keyring::new(dir);
    match keyring.store()? {
        Some(store) => {
            let mut any = false;
            for (venue, creds) in store.venues() {
                println!("{venue:<8} {}  (in {})", creds.redacted_key(), store.path().display());
                any = true;
            }
            if !any {
                println!("No key stored in {}.", store.path().display());
            }
        }
        None => println!("No key file at {}.", keyring.path().display()),
    }
    // The fallback, shown so that nobody forgets a key left in the environment.
    for venue in VENUES {
        let in_file = keyring.store()?.is_some_and(|s| s.get(venue).is_some());
        if let (false, Some((key_var, _))) = (in_file, env_vars(venue))
            && let Ok(key) = std::env::var(key_var)
        {
            let key = Zeroizing::new(key);
            println!("{venue:<8} {}  (in the environment, {key_var}: less safe)", ballast_keys::redact(&key));
        }
    }
    Ok(())
}

fn remove(dir: &Path, venue: &str) -> Result<()> {
    let path = KeyStore::path_in(dir);
    if !path.exists() {
        bail!("no key file at {}: nothing to remove", path.display());
    }
    let pass = passphrase(&path, false)?;
    let (_, had) = KeyStore::forget(&path, venue, &pass)?;
    if !had {
        bail!("no {venue} key in {}", path.display());
    }
    println!("Removed the {venue} key from {}.", path.display());
    Ok(())
}

fn check(dir: &Path, venue: &str, base_url: Option<&str>) -> Result<()> {
    let keyring = Keyring::new(dir);
    let (creds, source) = keyring.credentials(venue)?;
    println!("key:               {} (from {source})", creds.redacted_key());
    drop(creds);
    if matches!(source, KeySource::Env(_)) {
        eprintln!("note: `ballast keys add --venue {venue}` stores the key encrypted instead of in the environment");
    }
    if venue == "gate" {
        let g = crate::live::gate(&keyring, base_url)?;
        match g.check_key().map_err(|e| anyhow!("{e}"))? {
            ballast_gate::KeyCheck::Ok => println!("This key is fit for ballast."),
            ballast_gate::KeyCheck::Unknown(w) => println!("The key works. {w}."),
        }
        return Ok(());
    }
    let b = crate::live::binance(&keyring, base_url)?;
    let p = b.key_permissions().map_err(|e| anyhow!("{e}"))?;
    println!("withdraw:          {}", if p.can_withdraw { "ALLOWED (refused: create a key without it)" } else { "no" });
    println!("spot trading:      {}", if p.can_trade_spot { "yes" } else { "no (the bot cannot trade)" });
    println!(
        "IP restricted:     {}",
        if p.ip_restricted { "yes" } else { "no (consider restricting it to this machine)" }
    );
    b.check_key().map_err(|e| anyhow!("{e}"))?;
    println!("This key is fit for ballast.");
    Ok(())
}

//! Live venues: the Binance and Gate adapters with keys from the environment, and
//! their engines.
//!
//! Keys come from `BALLAST_BINANCE_API_KEY`/`BALLAST_BINANCE_SECRET` and
//! `BALLAST_GATE_API_KEY`/`BALLAST_GATE_SECRET` (encrypted storage of keys is a later
//! step); they are never written to the data directory or printed.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use ballast_binance::{Binance, BinanceConfig, UreqTransport};
use ballast_engine::Engine;
use ballast_exchange::{Clock, Exchange, ExchangeError, SystemClock};
use ballast_gate::{Gate, GateConfig, KeyCheck};
use ballast_store::sqlite::SqliteStore;

/// The environment variable holding the Binance API key.
pub const BINANCE_KEY_ENV: &str = "BALLAST_BINANCE_API_KEY";
/// The environment variable holding the Binance secret.
pub const BINANCE_SECRET_ENV: &str = "BALLAST_BINANCE_SECRET";

/// A Binance adapter for `base_url` (default: the real API) with keys from the
/// environment, its clock synchronised with the server.
pub fn binance(base_url: Option<&str>) -> Result<Arc<Binance>> {
    let key = std::env::var(BINANCE_KEY_ENV).map_err(|_| anyhow!("set {BINANCE_KEY_ENV} to the API key"))?;
    let secret =
        std::env::var(BINANCE_SECRET_ENV).map_err(|_| anyhow!("set {BINANCE_SECRET_ENV} to the API secret"))?;
    let mut config = BinanceConfig { api_key: key, secret, ..BinanceConfig::default() };
    if let Some(u) = base_url {
        config.base_url = u.trim_end_matches('/').to_string();
    }
    let b =
        Arc::new(Binance::new(config, Arc::new(UreqTransport::new(Duration::from_secs(10))), Arc::new(SystemClock)));
    patiently("binance server time", || b.sync_time())
        .map_err(|e| anyhow!("binance: cannot read the server time: {e}"))?;
    Ok(b)
}

/// The environment variable holding the Gate API key.
pub const GATE_KEY_ENV: &str = "BALLAST_GATE_API_KEY";
/// The environment variable holding the Gate secret.
pub const GATE_SECRET_ENV: &str = "BALLAST_GATE_SECRET";

/// A Gate adapter for `base_url` (default: the real API; `/api/v4` is added when the
/// address lacks it, so a `ballast sim` address works as is) with keys from the
/// environment.
pub fn gate(base_url: Option<&str>) -> Result<Arc<Gate>> {
    let key = std::env::var(GATE_KEY_ENV).map_err(|_| anyhow!("set {GATE_KEY_ENV} to the API key"))?;
    let secret = std::env::var(GATE_SECRET_ENV).map_err(|_| anyhow!("set {GATE_SECRET_ENV} to the API secret"))?;
    let mut config = GateConfig::new(key, secret);
    if let Some(u) = base_url {
        let u = u.trim_end_matches('/');
        config.base_url = if u.ends_with("/api/v4") { u.to_string() } else { format!("{u}/api/v4") };
    }
    let transport = Arc::new(ballast_gate::UreqTransport::new(Duration::from_secs(10)));
    Ok(Arc::new(Gate::new(config, transport, Arc::new(SystemClock))))
}

/// The engine of a live venue over the data directory's store, after checking its key.
pub fn engine(dir: &Path, venue: &str, base_url: Option<&str>) -> Result<Engine> {
    let exchange: Arc<dyn Exchange> = match venue {
        "binance" => {
            let b = binance(base_url)?;
            patiently("binance key check", || b.check_key()).map_err(|e| anyhow!("binance key refused: {e}"))?;
            b
        }
        "gate" => {
            let g = gate(base_url)?;
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

//! Live venues: the Binance adapter with keys from the environment, and its engine.
//!
//! Keys come from `BALLAST_BINANCE_API_KEY` and `BALLAST_BINANCE_SECRET` (encrypted
//! storage of keys is a later step); they are never written to the data directory or
//! printed.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use ballast_binance::{Binance, BinanceConfig, UreqTransport};
use ballast_engine::Engine;
use ballast_exchange::{Clock, SystemClock};
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
    b.sync_time().map_err(|e| anyhow!("binance: cannot read the server time: {e}"))?;
    Ok(b)
}

/// The engine of a live venue over the data directory's store.
pub fn engine(dir: &Path, venue: &str, base_url: Option<&str>) -> Result<(Engine, Arc<Binance>)> {
    if venue != "binance" {
        bail!(
            "venue {venue:?}: only paper and binance bots can run in this build (the Gate adapter exists but is not wired to the CLI yet)"
        );
    }
    let b = binance(base_url)?;
    b.check_key().map_err(|e| anyhow!("binance key refused: {e}"))?;
    std::fs::create_dir_all(dir).with_context(|| format!("data directory {}", dir.display()))?;
    let store = Arc::new(SqliteStore::open(&dir.join("ballast.sqlite")).map_err(|e| anyhow!("store: {e}"))?);
    Ok((Engine::new(store, b.clone(), Arc::new(SystemClock) as Arc<dyn Clock>), b))
}

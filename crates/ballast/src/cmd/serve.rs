//! `ballast serve`: the HTTP API (behind a login with two-factor codes) over the bots
//! in the data directory.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use anyhow::{Result, anyhow, bail};
use ballast_engine::Engine;
use ballast_exchange::{Clock, SystemClock};
use ballast_server::{AppState, Auth, router};

use super::bot::DirArgs;
use crate::app::{App, data_dir};

/// Arguments of `ballast serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    /// Address to bind. Anything but a loopback address is refused without TLS
    /// (put a TLS proxy in front) unless --insecure-bind is given.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Port.
    #[arg(long, default_value = "8080")]
    pub port: u16,
    /// Serve on a non-loopback address without TLS (only behind a TLS proxy).
    #[arg(long)]
    pub insecure_bind: bool,
    /// Mark the session cookie Secure (when a TLS proxy fronts the server).
    #[arg(long)]
    pub secure_cookies: bool,
}

/// Runs `ballast serve` until interrupted.
pub fn run(args: &ServeArgs) -> Result<()> {
    if !args.bind.is_loopback() && !args.insecure_bind {
        bail!(
            "--bind {}: refusing to serve logins without TLS beyond this machine; bind 127.0.0.1 behind a TLS proxy, or add --insecure-bind if a TLS proxy already fronts this address",
            args.bind
        );
    }
    let dir = data_dir(args.dir.data_dir.as_deref());
    let app = App::open(&dir)?;
    let store = app.engine.store().clone();
    let mut engines = BTreeMap::new();
    engines.insert("paper".to_string(), Arc::new(Engine::new(store.clone(), app.paper.clone(), app.clock.clone())));
    // Bots on live venues are served when the venue's key is in the key file or the
    // environment.
    let keys = crate::live::Keyring::new(&dir);
    for b in store.bots()? {
        if b.venue != "paper" && !engines.contains_key(&b.venue) {
            let base =
                b.config_toml.parse::<toml::Table>().ok().and_then(|t| t.get("base_url")?.as_str().map(str::to_string));
            match crate::live::engine_with(&keys, &dir, &b.venue, base.as_deref()) {
                Ok(e) => {
                    engines.insert(b.venue.clone(), Arc::new(e));
                }
                Err(e) => eprintln!("warning: bots on {} are not served: {e}", b.venue),
            }
        }
    }
    let auth =
        Auth::open(&dir.join("admin.json")).map_err(|e| anyhow!("{e}"))?.with_secure_cookies(args.secure_cookies);
    let state = Arc::new(AppState { store, engines, auth, clock: Arc::new(SystemClock) as Arc<dyn Clock> });
    let addr = SocketAddr::new(args.bind, args.port);
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| anyhow!("binding {addr}: {e}"))?;
        println!("ballast serve: the API on http://{addr}/api (OpenAPI at /api/openapi.json)");
        println!("  first run: POST /api/setup {{\"password\": ...}} returns the otpauth URI for your authenticator");
        axum::serve(listener, router(state).into_make_service_with_connect_info::<SocketAddr>())
            .await
            .map_err(|e| anyhow!("serving {addr}: {e}"))
    })
}

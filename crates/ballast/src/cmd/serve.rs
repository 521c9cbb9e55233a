//! `ballast serve`: the dashboard and the HTTP API (behind a login with two-factor
//! codes) over the bots in the data directory. With `--replay-every`, the server also
//! drives the paper replay (one bar per interval), so paper bots move live.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use ballast_engine::Engine;
use ballast_exchange::{Clock, SystemClock};
use ballast_server::notify::{Notifier, newest_event_id};
use ballast_server::{AppState, Auth, router};
use serde_json::json;

use super::bot::DirArgs;
use crate::app::{App, data_dir, fmt_time};
use crate::web::Desk;

/// The serving options (shared with `ballast demo --serve`).
#[derive(Debug, Clone, clap::Args)]
pub struct ServeOpts {
    /// Address to bind. Anything but a loopback address is refused without TLS
    /// (put a TLS proxy in front) unless --insecure-bind is given.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Port (0: any free port; the address is printed).
    #[arg(long, default_value = "8080")]
    pub port: u16,
    /// Serve on a non-loopback address without TLS (only behind a TLS proxy).
    #[arg(long)]
    pub insecure_bind: bool,
    /// Mark the session cookie Secure (when a TLS proxy fronts the server).
    #[arg(long)]
    pub secure_cookies: bool,
    /// The address of a proxy in front of the server (repeatable): its
    /// X-Forwarded-For names the client the login limit counts against. Without it,
    /// the limit counts against the connecting address.
    #[arg(long = "trusted-proxy", value_name = "IP")]
    pub trusted_proxies: Vec<IpAddr>,
    /// Drive the paper replay: advance one bar and step the paper bots this often
    /// (e.g. 300ms, 2s, 1m). Do not run `ballast run` on the same data directory then.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub replay_every: Option<Duration>,
    /// A connection must send a whole request head within this time (counted from the
    /// connection or the end of the previous request): idle and slow ("slowloris")
    /// connections are closed after it.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION", default_value = "30s")]
    pub idle_timeout: Duration,
}

/// Arguments of `ballast serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    #[command(flatten)]
    pub opts: ServeOpts,
}

/// A duration such as `300ms`, `2s`, `1m` or `1h`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().map_err(|_| format!("{s:?}: expected a whole number and a unit (ms, s, m, h)"))?;
    let secs = |per: u64| n.checked_mul(per).map(Duration::from_secs).ok_or_else(|| format!("{s:?}: too long"));
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => secs(60)?,
        "h" => secs(3600)?,
        _ => return Err(format!("{s:?}: the unit must be ms, s, m or h")),
    };
    if d < Duration::from_millis(50) {
        return Err(format!("{s:?}: at least 50ms"));
    }
    Ok(d)
}

/// Runs `ballast serve` until interrupted.
pub fn run(args: &ServeArgs) -> Result<()> {
    check_bind(&args.opts)?;
    let dir = data_dir(args.dir.data_dir.as_deref());
    serve_app(App::open(&dir)?, &args.opts)
}

pub fn check_bind(opts: &ServeOpts) -> Result<()> {
    if !opts.bind.is_loopback() && !opts.insecure_bind {
        bail!(
            "--bind {}: refusing to serve logins without TLS beyond this machine; bind 127.0.0.1 behind a TLS proxy, or add --insecure-bind if a TLS proxy already fronts this address",
            opts.bind
        );
    }
    Ok(())
}

/// Serves the dashboard over an opened paper world until SIGINT/SIGTERM.
pub fn serve_app(app: App, opts: &ServeOpts) -> Result<()> {
    check_bind(opts)?;
    // Only the process that drives the replay steps the bots.
    let _runner = match opts.replay_every {
        Some(_) => Some(app.lock_runner("ballast serve --replay-every")?),
        None => None,
    };
    let dir = app.dir.clone();
    let store = app.engine.store().clone();
    let paper = Arc::new(Engine::new(store.clone(), app.paper.clone(), app.clock.clone()));
    let mut engines = BTreeMap::new();
    engines.insert("paper".to_string(), paper);
    // Bots on live venues are served when the venue's key is in the key file or the
    // environment.
    let keys = crate::live::Keyring::new(&dir);
    let mut live = BTreeMap::new();
    for b in store.bots()? {
        if b.venue != "paper" && !live.contains_key(&b.venue) {
            let base =
                b.config_toml.parse::<toml::Table>().ok().and_then(|t| t.get("base_url")?.as_str().map(str::to_string));
            match crate::live::engine_with(&keys, &dir, &b.venue, base.as_deref()) {
                Ok(e) => {
                    live.insert(b.venue.clone(), Arc::new(e));
                }
                Err(e) => eprintln!("warning: bots on {} are not served: {e:#}", b.venue),
            }
        }
    }
    engines.extend(live.clone());
    let auth = Auth::open(&dir.join("admin.json"))
        .map_err(|e| anyhow!("{e}"))?
        .with_secure_cookies(opts.secure_cookies)
        .with_trusted_proxies(opts.trusted_proxies.clone());
    crate::live::unseal_auth(&keys, &auth)?;
    let app = Arc::new(Mutex::new(app));
    let desk = Arc::new(Desk::new(app.clone(), live));
    let state = Arc::new(
        AppState::new(store, engines, auth, Arc::new(SystemClock) as Arc<dyn Clock>)
            .with_workshop(desk)
            .with_data_dir(dir.clone()),
    );
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).context("installing the signal handler")?;
    }
    let addr = SocketAddr::new(opts.bind, opts.port);
    let rt = tokio::runtime::Runtime::new()?;
    let replay = opts.replay_every.map(|every| {
        let (state, app, stop) = (state.clone(), app.clone(), stop.clone());
        std::thread::spawn(move || drive_replay(&state, &app, every, &stop))
    });
    // Notifications are sent by the process that steps the bots: this one when it
    // drives the replay, else `ballast run`.
    let notifier = match opts.replay_every {
        Some(_) => match Notifier::open(&dir).map_err(|e| anyhow!("{e}"))? {
            Some(mut n) => {
                crate::live::unseal_notifier(&keys, &mut n)?;
                Some(n)
            }
            None => None,
        },
        None => None,
    };
    let tail = {
        let (state, stop) = (state.clone(), stop.clone());
        std::thread::spawn(move || tail_events(&state, notifier, &stop))
    };
    let served = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| anyhow!("binding {addr}: {e}"))?;
        let local = listener.local_addr().context("local address")?;
        println!("ballast serve: the dashboard on http://{local}/ (API under /api, OpenAPI at /api/openapi.json)");
        if let Some(token) = state.auth.setup_token() {
            println!(
                "  first run: open http://{local}/#setup={token} to set the admin password and enrol your authenticator"
            );
            println!(
                "  setup token: {token} (asked by the setup form; valid until setup is done or this server stops)"
            );
        }
        if let Some(e) = opts.replay_every {
            println!("  paper replay: one bar every {e:?}");
        }
        serve_http(listener, router(state.clone()), opts.idle_timeout, stop.clone()).await
    });
    stop.store(true, Ordering::Relaxed);
    if let Some(h) = replay {
        let _ = h.join();
    }
    let _ = tail.join();
    println!("ballast serve: stopped");
    served
}

/// Serves `router` on `listener` until `stop` is set: HTTP/1.1, each request carrying its
/// client's address (`ConnectInfo`), and a connection that does not send a whole
/// request head within `idle` of its start (or of its previous request) closed. On
/// stop, open requests get up to 5 s to finish.
async fn serve_http(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    idle: Duration,
    stop: Arc<AtomicBool>,
) -> Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use tower::ServiceExt;
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(idle);
    let builder = builder.http1_only();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = async { while !stop.load(Ordering::Relaxed) { tokio::time::sleep(Duration::from_millis(200)).await } } => break,
        };
        let (stream, addr) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors, say: wait a little rather than spin.
                eprintln!("warning: accepting a connection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(axum::extract::ConnectInfo(addr));
            router.clone().oneshot(req)
        });
        let (watcher, builder) = (graceful.watcher(), builder.clone());
        tokio::spawn(async move {
            // hyper's timer starts with the first byte of a request head: a connection
            // that sends nothing at all is closed here.
            let mut first = [0u8; 1];
            if !matches!(tokio::time::timeout(idle, stream.peek(&mut first)).await, Ok(Ok(n)) if n > 0) {
                return;
            }
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
            let _ = watcher.watch(conn).await;
        });
    }
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(Duration::from_secs(5)) => {}
    }
    Ok(())
}

/// Advances the paper replay one bar per `every` and steps the paper bots, under the
/// state's bot lock; tells the live streams.
fn drive_replay(state: &AppState, app: &Mutex<App>, every: Duration, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(every);
        let _g = state.bot_lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut app = app.lock().unwrap_or_else(|e| e.into_inner());
        let Some(t) = app.remaining_bars().first().copied() else {
            println!("paper replay: the bundled candles end at {}; the replay stops here", fmt_time(app.now()));
            return;
        };
        if let Err(e) = app.replay_bar(t) {
            eprintln!("paper replay: {e:#}");
        }
        state.publish("tick", json!({ "time": t.0 }));
    }
}

/// Publishes every new event of the store (whoever recorded it: this server, the
/// replay, or `ballast run --live` beside it) on the live streams, and sends the
/// notifications when this server steps the bots (`notifier`).
fn tail_events(state: &AppState, mut notifier: Option<Notifier>, stop: &AtomicBool) {
    let mut cursor = match newest_event_id(state.store.as_ref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("live updates: {e}");
            return;
        }
    };
    if let Some(n) = notifier.as_mut()
        && let Err(e) = n.pump(state.store.as_ref())
    {
        eprintln!("warning: notifications: {e}");
    }
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(500));
        match state.store.events_after(cursor, 500) {
            Ok(page) => {
                for (id, e) in page {
                    cursor = id;
                    state.publish(
                        "bot",
                        json!({ "bot": e.bot, "kind": e.kind, "message": e.message, "time": e.time.0, "id": id }),
                    );
                }
            }
            Err(e) => eprintln!("live updates: {e}"),
        }
        if let Some(n) = notifier.as_mut()
            && let Err(e) = n.pump(state.store.as_ref())
        {
            eprintln!("warning: notifications: {e}");
        }
    }
}

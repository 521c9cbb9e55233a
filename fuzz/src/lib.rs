//! The bodies of the fuzz targets, one function per target. Each takes the raw input
//! and panics when an invariant breaks. `crates/ballast/tests/fuzz_corpus.rs` includes
//! this file as a module and replays the committed corpus and regressions through the
//! same functions, so `cargo test --workspace` runs exactly what the targets run.
//! (No crate-level attributes here: the file is also a module of that test.)

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use ballast_app::config::BotConfig;
use ballast_app::profile::{profile_line, read_profile};
use ballast_backtest::{DataError, Interval, parse_file_bytes};
use ballast_core::guards::Guards;
use ballast_core::planner::RebalanceTo;
use ballast_core::trigger::{Threshold, Trigger};
use ballast_core::weighting::{self, Method};
use ballast_core::{Asset, Bps, DriftKind, Price, Qty, Timestamp};
use ballast_engine::{BotSpec, Engine};
use ballast_exchange::paper::{FixedPrices, PaperConfig, PaperExchange};
use ballast_exchange::{Clock, ManualClock};
use ballast_server::{AppState, Auth, ROUTES, router};
use ballast_store::Store;
use ballast_store::sqlite::SqliteStore;
use http_body_util::BodyExt;
use rust_decimal::Decimal;
use tower::ServiceExt;

/// The origin every configuration error must name.
const CONFIG_ORIGIN: &str = "fuzz-config.toml";
/// The file name every candle error must name.
const CANDLE_ORIGIN: &str = "fuzz-candles.csv";

/// Target `config`: `BotConfig::parse_text` on the input as TOML text. A rejection
/// names the file; an accepted configuration is one the bot can run.
pub fn config(data: &[u8]) {
    // `BotConfig::load` refuses a non-UTF-8 file before parsing it.
    let Ok(text) = std::str::from_utf8(data) else { return };
    match BotConfig::parse_text(Path::new(CONFIG_ORIGIN), text) {
        Ok(cfg) => check_config(&cfg),
        Err(e) => {
            let msg = format!("{e:#}");
            assert!(msg.starts_with(&format!("{CONFIG_ORIGIN}: ")), "error does not name the file: {msg}");
        }
    }
}

fn check_config(cfg: &BotConfig) {
    assert!(!cfg.name.trim().is_empty() && cfg.name.len() <= 64, "name {:?}", cfg.name);
    assert!(!cfg.name.chars().any(ballast_app::config::unprintable), "name {:?}", cfg.name);
    assert!(cfg.amount <= ballast_core::money::MAX_AMOUNT, "amount {}", cfg.amount);
    assert!(cfg.amount > Decimal::ZERO, "amount {}", cfg.amount);
    assert!(!cfg.assets.is_empty(), "no assets");
    assert!(!cfg.assets.contains(&cfg.quote), "quote {} among the assets", cfg.quote);
}

/// Target `candles`: the candle loader's own path from a file's bytes (gzip detected
/// from the content, both formats), at every interval. A rejection names the file; an
/// accepted series keeps every rule of `ballast_backtest::data`.
pub fn candles(data: &[u8]) {
    let asset = Asset::new("BTC").expect("asset");
    for interval in [Interval::D1, Interval::H4, Interval::H1] {
        match parse_file_bytes(Path::new(CANDLE_ORIGIN), data.to_vec(), asset.clone(), interval) {
            Ok(series) => {
                assert!(!series.candles.is_empty(), "an empty series was accepted");
                let mut previous: Option<Timestamp> = None;
                for c in &series.candles {
                    assert_eq!(c.open_time.0.rem_euclid(interval.millis()), 0, "off grid: {c:?}");
                    assert!(previous.is_none_or(|p| p < c.open_time), "not increasing: {c:?}");
                    previous = Some(c.open_time);
                    assert!(c.low > Decimal::ZERO && c.volume >= Decimal::ZERO, "{c:?}");
                    assert!(c.low <= c.open && c.low <= c.close && c.open <= c.high && c.close <= c.high, "{c:?}");
                }
            }
            Err(e @ (DataError::Io { .. } | DataError::Line { .. } | DataError::Empty { .. })) => {
                let msg = e.to_string();
                assert!(msg.starts_with(CANDLE_ORIGIN), "error does not name the file: {msg}");
            }
            Err(e) => panic!("unexpected kind of error from the loader: {e}"),
        }
    }
}

/// Target `profile`: `read_profile` (the `--profile` argument: a `ballast-profile:1:`
/// line, a preset name or a file) then `BotConfig::parse_profile` on what it read; the
/// input also goes to `parse_profile` directly as profile TOML, and through the
/// one-line form and back.
pub fn profile(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let amount = Decimal::from(1000);
    // Inputs naming an existing path would read the machine's files: not the fuzzer's business.
    let reads_a_file = !s.trim().starts_with("ballast-profile:1:") && !s.is_empty() && Path::new(s).exists();
    if !reads_a_file {
        match read_profile(s) {
            Ok((origin, text)) => parse_profile(&origin, &text, amount),
            Err(e) => {
                let msg = format!("{e:#}");
                assert!(msg.starts_with("--profile"), "error does not name --profile: {msg}");
            }
        }
    }
    parse_profile("fuzz-profile.toml", s, amount);
    let (origin, back) = read_profile(&profile_line(s)).expect("a profile line made by profile_line reads back");
    assert_eq!((origin.as_str(), back.as_str()), ("profile line", s));
}

fn parse_profile(origin: &str, text: &str, amount: Decimal) {
    match BotConfig::parse_profile(Path::new(origin), text, amount) {
        Ok(cfg) => {
            check_config(&cfg);
            assert_eq!(cfg.amount, amount);
        }
        Err(e) => {
            let msg = format!("{e:#}");
            assert!(msg.starts_with(&format!("{origin}: ")), "error does not name {origin:?}: {msg}");
        }
    }
}

/// Target `numbers`: the text of a command-line value, through every parser of the
/// CLI's numeric arguments (amounts, durations, spans, dates, decimals) and, when it is
/// a decimal, through the amount bound and a plan of a portfolio holding it. No panic;
/// an accepted amount is within `(0, MAX_AMOUNT]`; an error says something.
pub fn numbers(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else { return };
    match ballast_cli::cmd::amount_arg(s) {
        Ok(d) => assert!(d > Decimal::ZERO && d <= ballast_core::money::MAX_AMOUNT, "amount {d} accepted"),
        Err(e) => assert!(!e.is_empty(), "an empty error for {s:?}"),
    }
    if let Ok(d) = ballast_cli::cmd::serve::parse_duration(s) {
        assert!(d >= std::time::Duration::from_millis(50), "{s:?} gave {d:?}");
    }
    let _ = s.parse::<ballast_core::Span>();
    if let Ok(t) = ballast_backtest::dates::parse_date(s) {
        let _ = ballast_backtest::dates::format_timestamp(t);
    }
    if let Ok(t) = ballast_backtest::dates::parse_end_date(s) {
        let _ = ballast_backtest::dates::format_timestamp(t);
    }
    let Ok(d) = ballast_core::money::parse_decimal(s) else { return };
    let _ = ballast_core::money::check_amount("amount", d);
    let _ = ballast_core::Bps::new(d);
    // The value as a holding, a price and cash: a plan or an error, never a panic.
    let a = |s: &str| Asset::new(s).expect("asset");
    let d = d.abs();
    let price = if d.is_zero() { Decimal::ONE } else { d };
    let holdings = [(a("USDT"), Qty(d)), (a("BTC"), Qty(d))].into();
    let prices = [(a("BTC"), Price(price)), (a("ETH"), Price(price))].into();
    let targets = ballast_core::TargetWeights::from_percent(
        &a("USDT"),
        &[(a("BTC"), Decimal::from(50)), (a("ETH"), Decimal::from(50))],
        ballast_core::TargetLimits::default(),
    )
    .expect("targets");
    let _ = ballast_core::planner::plan_rebalance(&ballast_core::planner::PlanInput {
        holdings: &holdings,
        prices: &prices,
        targets: &targets,
        rules: &ballast_core::planner::RulesBook::default(),
        fee: Bps(Decimal::from(10)),
        to: RebalanceTo::Target,
        entry_prices: &BTreeMap::new(),
    });
}

/// The server under test: what `crates/ballast-server/tests/api.rs` builds (an
/// in-memory store, one paper engine with a bot that holds BTC and ETH, an admin with
/// an API token). Keep this in step with `AppState`.
pub struct Rig {
    /// The real router.
    pub app: axum::Router,
    /// The store behind it.
    pub store: Arc<dyn Store>,
    /// The bot's id.
    pub bot: i64,
    /// `Bearer <token>`.
    pub bearer: String,
    _dir: tempfile::TempDir,
}

/// Builds a fresh [`Rig`].
pub fn rig() -> Rig {
    let a = |s: &str| Asset::new(s).expect("asset");
    let clock = Arc::new(ManualClock::new(Timestamp(1_700_000_000_000)));
    let prices = Arc::new(FixedPrices::new());
    prices.set(&a("BTC"), &a("USDT"), Price(Decimal::from(50_000)));
    prices.set(&a("ETH"), &a("USDT"), Price(Decimal::from(3_000)));
    let paper = Arc::new(PaperExchange::in_memory(PaperConfig::default(), prices, clock.clone()).expect("paper"));
    paper.deposit(&a("USDT"), Qty(Decimal::from(1000))).expect("deposit");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().expect("store"));
    let engine = Arc::new(Engine::new(store.clone(), paper, clock.clone()));
    let assets = vec![a("BTC"), a("ETH")];
    let spec = BotSpec {
        quote: a("USDT"),
        weights: weighting::equal(&assets).expect("weights"),
        assets,
        method: Method::Equal,
        trigger: Trigger::threshold(Threshold::new(Decimal::from(3), DriftKind::Absolute).expect("threshold"), None)
            .expect("trigger"),
        to: RebalanceTo::Target,
        guards: Guards::default(),
        fee: Bps(Decimal::from(10)),
        reestimate: None,
        execution: Default::default(),
    };
    let bot = engine.create("fuzz", spec, "", Decimal::from(1000)).expect("create");
    engine.step(bot).expect("step");
    let dir = tempfile::tempdir().expect("tempdir");
    let auth = Auth::open(&dir.path().join("admin.json")).expect("auth").with_hash_cost(1024, 1);
    auth.setup("correct horse battery", &auth.setup_token().expect("setup token")).expect("setup");
    let bearer = format!("Bearer {}", auth.create_token("fuzz", 0).expect("token").1);
    let mut engines = BTreeMap::new();
    engines.insert("paper".to_string(), engine);
    let state =
        Arc::new(AppState::new(store.clone(), engines, auth, clock as Arc<dyn Clock>).with_workshop(workshop()));
    Rig { app: router(state), store, bot, bearer, _dir: dir }
}

/// The dashboard's workshop over one paper world per process (a data directory in a
/// temporary folder, the bundled candles): preview, create, edit, profiles and
/// backtests get the fuzz input too. Shared across inputs because opening the paper
/// world reads the bundle; the invariants hold whatever earlier inputs created.
fn workshop() -> Arc<dyn ballast_server::Workshop> {
    static DESK: std::sync::OnceLock<Arc<ballast_cli::web::Desk>> = std::sync::OnceLock::new();
    DESK.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let app = ballast_app::world::App::open(dir.path()).expect("the paper world opens");
        // The directory lives as long as the process.
        std::mem::forget(dir);
        Arc::new(ballast_cli::web::Desk::new(Arc::new(std::sync::Mutex::new(app)), BTreeMap::new()))
    })
    .clone()
}

/// Target `api`: the input as the JSON body of every POST route of `ROUTES` (path
/// parameters set to the bot's id), with a valid bearer token, on a fresh server. No
/// route may panic or answer 5xx; a 4xx is a JSON `{"error": "..."}`; afterwards the
/// store still reads and the bot still answers.
pub fn api(data: &[u8]) {
    RUNTIME.with(|rt| rt.block_on(api_async(data)));
}

thread_local! {
    /// One current-thread runtime per thread, reused across inputs (building one, and
    /// its blocking pool, per input would dominate the run).
    static RUNTIME: tokio::runtime::Runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
}

async fn api_async(data: &[u8]) {
    {
        let r = rig();
        for &(method, route) in ROUTES.iter().filter(|(m, _)| *m == "POST") {
            let path = with_id(route, r.bot);
            let req = Request::builder()
                .method(method)
                .uri(&path)
                .header(header::AUTHORIZATION, &r.bearer)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(data.to_vec()))
                .expect("request");
            let resp = r.app.clone().oneshot(req).await.expect("the router is infallible");
            let status = resp.status();
            let bytes = resp.into_body().collect().await.expect("body").to_bytes();
            let text = String::from_utf8_lossy(&bytes);
            assert!(!status.is_server_error(), "{method} {path}: {status} {text}");
            if status.is_client_error() {
                let v: serde_json::Value = serde_json::from_slice(&bytes)
                    .unwrap_or_else(|e| panic!("{method} {path}: {status} answered {text:?}, not JSON ({e})"));
                assert!(v["error"].is_string(), "{method} {path}: {status} without an error: {text}");
            }
        }
        let bots = r.store.bots().expect("the store reads");
        assert!(bots.iter().any(|b| b.id == r.bot), "the bot is gone");
        r.store.load_state(r.bot).expect("the state reads").expect("the bot has a state");
        r.store.events(r.bot, 1000).expect("events read");
        r.store.orders(r.bot, 1000).expect("orders read");
        let req = Request::builder()
            .uri(format!("/api/bots/{}", r.bot))
            .header(header::AUTHORIZATION, &r.bearer)
            .body(Body::empty())
            .expect("request");
        let resp = r.app.clone().oneshot(req).await.expect("the router is infallible");
        assert_eq!(resp.status(), StatusCode::OK, "GET /api/bots/{} after the POSTs", r.bot);
    }
}

/// `route` with every `{param}` set to `id`.
fn with_id(route: &str, id: i64) -> String {
    route
        .split('/')
        .map(|seg| if seg.starts_with('{') && seg.ends_with('}') { id.to_string() } else { seg.to_string() })
        .collect::<Vec<_>>()
        .join("/")
}

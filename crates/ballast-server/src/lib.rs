//! The HTTP API of ballast, behind a single admin login (password + TOTP code).
//!
//! - [`AppState`] holds the store, one [`Engine`] per venue, the [`Auth`] and the clock.
//! - [`router`] builds the axum router from [`ROUTES`]; every route not in [`PUBLIC`]
//!   requires a session cookie (`ballast_session`, plus `X-CSRF-Token` on POST, PUT,
//!   DELETE) or `Authorization: Bearer <api token>`.
//! - `GET /metrics` answers in the Prometheus text format; `GET /api/openapi.json`
//!   serves the hand-written OpenAPI 3.1 document shipped in the crate.
//!
//! What is not implemented yet is listed in the crate's `README.md`.
#![deny(missing_docs)]

pub mod api;
pub mod auth;
pub mod dash;
pub mod metrics;
pub mod notify;
pub mod runlog;
pub mod settings;
pub mod totp;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{ConnectInfo, FromRequest, Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post, put};
use ballast_engine::Engine;
use ballast_exchange::Clock;
use ballast_store::Store;
use serde::de::DeserializeOwned;

pub use auth::Auth;

/// What a file holds in place of a secret that `ballast keys seal` moved into the
/// encrypted key file (`keys.enc`): the dashboard's TOTP secret in `admin.json`, the
/// Telegram token in `notify.toml`. A process that needs the secret unlocks the key
/// file (`BALLAST_PASSPHRASE` or a prompt) and hands it over (`Auth::unseal_totp`,
/// `Notifier::unseal_telegram`).
pub const SEALED: &str = "sealed:keys.enc";

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "ballast_session";
/// The CSRF header's name.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The OpenAPI document.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// What a client is told when the server fails in a way that is a bug (a panic): the
/// details go to the server's log only.
pub const INTERNAL_ERROR: &str = "internal error (the details are in the server's log)";

/// The largest request body accepted (bytes).
pub const BODY_LIMIT: usize = 256 * 1024;

/// Every route: (method, path). [`router`] is built from this list.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/health"),
    ("POST", "/api/setup"),
    ("POST", "/api/login"),
    ("POST", "/api/logout"),
    ("POST", "/api/tokens"),
    ("GET", "/api/bots"),
    ("GET", "/api/bots/{id}"),
    ("GET", "/api/bots/{id}/snapshots"),
    ("GET", "/api/bots/{id}/events"),
    ("GET", "/api/bots/{id}/orders"),
    ("POST", "/api/bots/{id}/pause"),
    ("POST", "/api/bots/{id}/resume"),
    ("POST", "/api/bots/{id}/invest"),
    ("POST", "/api/bots/{id}/stop"),
    ("GET", "/api/openapi.json"),
    ("GET", "/metrics"),
    ("GET", "/"),
    ("GET", "/app.js"),
    ("GET", "/app.css"),
    ("GET", "/api/session"),
    ("GET", "/api/tokens"),
    ("DELETE", "/api/tokens/{id}"),
    ("GET", "/api/catalog"),
    ("POST", "/api/preview"),
    ("POST", "/api/bots"),
    ("GET", "/api/bots/{id}/config"),
    ("POST", "/api/bots/{id}/edit"),
    ("GET", "/api/bots/{id}/export"),
    ("GET", "/api/presets"),
    ("POST", "/api/profiles/parse"),
    ("POST", "/api/backtests"),
    ("GET", "/api/backtests/{id}/report"),
    ("GET", "/api/stream"),
    ("GET", "/api/bots/{id}/history"),
    ("GET", "/api/bots/{id}/chart"),
    ("POST", "/api/bots/{id}/invest/preview"),
    ("POST", "/api/bots/{id}/edit/preview"),
    ("POST", "/api/setup/confirm"),
    ("POST", "/api/account/password"),
    ("POST", "/api/account/totp"),
    ("POST", "/api/account/totp/confirm"),
    ("GET", "/api/bots/{id}/pnl"),
    ("GET", "/api/bots/{id}/transactions.csv"),
    ("GET", "/api/bots/{id}/profit"),
    ("GET", "/api/overview"),
    ("GET", "/api/log"),
    ("GET", "/api/notify"),
    ("PUT", "/api/notify"),
    ("GET", "/api/keys"),
    ("POST", "/api/keys/list"),
    ("PUT", "/api/keys/{venue}"),
    ("DELETE", "/api/keys/{venue}"),
];

/// The routes that need no credentials: health, the login (and the first-run setup
/// and its confirmation, which answer only before setup is finished, with the setup
/// token), and the page shell that shows the login
/// form (static files holding no data: every datum comes from the API behind the login).
pub const PUBLIC: &[(&str, &str)] = &[
    ("GET", "/api/health"),
    ("POST", "/api/setup"),
    ("POST", "/api/setup/confirm"),
    ("POST", "/api/login"),
    ("GET", "/"),
    ("GET", "/app.js"),
    ("GET", "/app.css"),
];

/// What the server needs from the composition root to turn configurations into bots
/// and backtests: the binary implements it (it owns the configuration format, the
/// bundled market data and the paper world). Bodies and answers are JSON as documented
/// in the crate's README; an error carries its HTTP status.
pub trait Workshop: Send + Sync {
    /// What can be traded: quote, max assets, venues, methods, assets with prices.
    fn catalog(&self) -> Result<serde_json::Value, ApiError>;
    /// The summary of a configuration before launch.
    fn preview(&self, config: &serde_json::Value) -> Result<serde_json::Value, ApiError>;
    /// Creates a bot from `{config}` or `{profile, amount, name?}`; returns its id.
    fn create(&self, body: &serde_json::Value) -> Result<ballast_store::BotId, ApiError>;
    /// A bot's configuration: `{config, toml}`.
    fn config(&self, bot: ballast_store::BotId) -> Result<serde_json::Value, ApiError>;
    /// Changes a running bot's configuration.
    fn edit(&self, bot: ballast_store::BotId, config: &serde_json::Value) -> Result<(), ApiError>;
    /// What an edit would trade, recording nothing ([`api::change_json`]).
    fn preview_edit(
        &self,
        bot: ballast_store::BotId,
        config: &serde_json::Value,
    ) -> Result<serde_json::Value, ApiError> {
        let _ = (bot, config);
        Err(ApiError(StatusCode::SERVICE_UNAVAILABLE, "this server cannot preview an edit".into()))
    }
    /// A bot's profile: `{profile, toml}`.
    fn export(&self, bot: ballast_store::BotId) -> Result<serde_json::Value, ApiError>;
    /// The shipped presets.
    fn presets(&self) -> Result<serde_json::Value, ApiError>;
    /// A profile (line, TOML or preset name) invested with `amount`, as `{config}`.
    fn parse_profile(&self, profile: &str, amount: &str) -> Result<serde_json::Value, ApiError>;
    /// Runs a backtest: its summary and its self-contained HTML report.
    fn backtest(&self, body: &serde_json::Value) -> Result<(serde_json::Value, String), ApiError>;
    /// Before an investment in a bot of `venue`: the paper venue is a simulation, so
    /// the money arrives in its account first. Live venues: nothing (the coins must be
    /// in the account).
    fn fund(&self, venue: &str, add: &BTreeMap<ballast_core::Asset, ballast_core::Qty>) -> Result<(), ApiError> {
        let _ = (venue, add);
        Ok(())
    }
}

/// What every handler sees.
pub struct AppState {
    /// The store.
    pub store: Arc<dyn Store>,
    /// One engine per venue name (a bot's engine is the one of its venue).
    pub engines: BTreeMap<String, Arc<Engine>>,
    /// The admin, sessions and tokens.
    pub auth: Auth,
    /// The clock (sessions, TOTP, rate limits).
    pub clock: Arc<dyn Clock>,
    /// Configurations, presets and backtests (absent: those routes answer 503).
    pub workshop: Option<Arc<dyn Workshop>>,
    /// Live updates for `GET /api/stream` (JSON lines `{"event": .., "data": ..}`).
    pub updates: tokio::sync::broadcast::Sender<dash::Update>,
    /// Serialises every change of bots (API verbs and the stepping loop), so two
    /// changes of one bot never interleave.
    pub bot_lock: Arc<Mutex<()>>,
    /// Backtest reports of this process, newest last (a few are kept).
    pub backtests: Mutex<Vec<(u64, String)>>,
    /// The id of the next backtest.
    pub next_backtest: AtomicU64,
    /// Request counts and latencies for `/metrics`.
    pub http: metrics::HttpStats,
    /// The data directory whose notification settings and key file the settings
    /// routes change (absent: those routes answer 503).
    pub data_dir: Option<std::path::PathBuf>,
}

impl AppState {
    /// A state without a workshop.
    pub fn new(
        store: Arc<dyn Store>,
        engines: BTreeMap<String, Arc<Engine>>,
        auth: Auth,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            engines,
            auth,
            clock,
            workshop: None,
            updates: tokio::sync::broadcast::channel(256).0,
            bot_lock: Arc::new(Mutex::new(())),
            backtests: Mutex::new(Vec::new()),
            next_backtest: AtomicU64::new(1),
            http: metrics::HttpStats::default(),
            data_dir: None,
        }
    }

    /// Adds the data directory of the settings routes.
    pub fn with_data_dir(mut self, dir: std::path::PathBuf) -> Self {
        self.data_dir = Some(dir);
        self
    }

    /// Adds the workshop.
    pub fn with_workshop(mut self, w: Arc<dyn Workshop>) -> Self {
        self.workshop = Some(w);
        self
    }

    /// Tells the live streams something changed (`event`: `bot` or `tick`).
    pub fn publish(&self, event: &str, data: serde_json::Value) {
        let _ = self.updates.send(dash::Update { event: event.into(), data });
    }
}

/// A JSON error: `{"error": message}` with a status.
#[derive(Debug)]
pub struct ApiError(pub StatusCode, pub String);

impl ApiError {
    /// 401.
    pub fn unauthorized(msg: &str) -> Self {
        Self(StatusCode::UNAUTHORIZED, msg.into())
    }

    /// 400: the request is wrong (the message names the culprit).
    pub fn bad_request(msg: impl std::fmt::Display) -> Self {
        Self(StatusCode::BAD_REQUEST, msg.to_string())
    }

    /// 500: something on the server's side failed.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, axum::Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

/// A JSON request body. Unlike `axum::Json`, a body that is not JSON or not of the
/// expected shape is refused with an [`ApiError`] (`{"error": ...}`, 400, 413, 415 or
/// 422 as axum decides) naming the problem, like every other error of the API.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(ApiError(rejection.status(), rejection.body_text())),
        }
    }
}

/// Who made a request (inserted into request extensions by the auth layer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// A browser session (the cookie value).
    Session(String),
    /// An API token.
    Token,
}

fn handler_for(method: &str, path: &str) -> MethodRouter<Arc<AppState>> {
    match (method, path) {
        ("GET", "/api/health") => get(api::health),
        ("POST", "/api/setup") => post(api::setup),
        ("POST", "/api/login") => post(api::login),
        ("POST", "/api/logout") => post(api::logout),
        ("POST", "/api/tokens") => post(api::create_token),
        ("GET", "/api/bots") => get(api::bots),
        ("GET", "/api/bots/{id}") => get(api::bot),
        ("GET", "/api/bots/{id}/snapshots") => get(api::snapshots),
        ("GET", "/api/bots/{id}/events") => get(api::events),
        ("GET", "/api/bots/{id}/orders") => get(api::orders),
        ("POST", "/api/bots/{id}/pause") => post(api::pause),
        ("POST", "/api/bots/{id}/resume") => post(api::resume),
        ("POST", "/api/bots/{id}/invest") => post(api::invest),
        ("POST", "/api/bots/{id}/stop") => post(api::stop),
        ("GET", "/api/openapi.json") => get(api::openapi),
        ("GET", "/metrics") => get(metrics::metrics),
        ("GET", "/") => get(dash::index),
        ("GET", "/app.js") => get(dash::app_js),
        ("GET", "/app.css") => get(dash::app_css),
        ("GET", "/api/session") => get(dash::session),
        ("GET", "/api/tokens") => get(dash::tokens),
        ("DELETE", "/api/tokens/{id}") => delete(dash::revoke_token),
        ("GET", "/api/catalog") => get(dash::catalog),
        ("POST", "/api/preview") => post(dash::preview),
        ("POST", "/api/bots") => post(dash::create),
        ("GET", "/api/bots/{id}/config") => get(dash::config),
        ("POST", "/api/bots/{id}/edit") => post(dash::edit),
        ("GET", "/api/bots/{id}/export") => get(dash::export),
        ("GET", "/api/presets") => get(dash::presets),
        ("POST", "/api/profiles/parse") => post(dash::parse_profile),
        ("POST", "/api/backtests") => post(dash::backtest),
        ("GET", "/api/backtests/{id}/report") => get(dash::backtest_report),
        ("GET", "/api/stream") => get(dash::stream),
        ("GET", "/api/bots/{id}/history") => get(api::history),
        ("GET", "/api/bots/{id}/chart") => get(api::chart),
        ("POST", "/api/bots/{id}/invest/preview") => post(api::invest_preview),
        ("POST", "/api/bots/{id}/edit/preview") => post(dash::edit_preview),
        ("POST", "/api/setup/confirm") => post(api::setup_confirm),
        ("POST", "/api/account/password") => post(api::change_password),
        ("POST", "/api/account/totp") => post(api::reenrol),
        ("POST", "/api/account/totp/confirm") => post(api::reenrol_confirm),
        ("GET", "/api/bots/{id}/pnl") => get(api::pnl),
        ("GET", "/api/bots/{id}/transactions.csv") => get(api::transactions),
        ("GET", "/api/bots/{id}/profit") => get(api::profit),
        ("GET", "/api/overview") => get(api::overview),
        ("GET", "/api/log") => get(api::log),
        ("GET", "/api/notify") => get(settings::get_notify),
        ("PUT", "/api/notify") => put(settings::put_notify),
        ("GET", "/api/keys") => get(settings::get_keys),
        ("POST", "/api/keys/list") => post(settings::list_keys),
        ("PUT", "/api/keys/{venue}") => put(settings::put_key),
        ("DELETE", "/api/keys/{venue}") => delete(settings::delete_key),
        _ => panic!("no handler for {method} {path}"),
    }
}

fn merge(r: Option<MethodRouter<Arc<AppState>>>, m: MethodRouter<Arc<AppState>>) -> MethodRouter<Arc<AppState>> {
    match r {
        Some(r) => r.merge(m),
        None => m,
    }
}

/// The router, built from [`ROUTES`]: routes in [`PUBLIC`] are open, every other one
/// goes through the authentication layer.
pub fn router(state: Arc<AppState>) -> Router {
    let mut public: BTreeMap<&str, MethodRouter<Arc<AppState>>> = BTreeMap::new();
    let mut private: BTreeMap<&str, MethodRouter<Arc<AppState>>> = BTreeMap::new();
    for &(m, p) in ROUTES {
        let map = if PUBLIC.contains(&(m, p)) { &mut public } else { &mut private };
        let prev = map.remove(p);
        map.insert(p, merge(prev, handler_for(m, p)));
    }
    let mut open = Router::new();
    for (p, h) in public {
        open = open.route(p, h);
    }
    let mut closed = Router::new();
    for (p, h) in private {
        closed = closed.route(p, h);
    }
    let closed = closed.route_layer(middleware::from_fn_with_state(state.clone(), require_auth));
    open.merge(closed)
        .layer(middleware::from_fn_with_state(state.clone(), metrics::observe))
        .layer(middleware::from_fn(catch_panic))
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(state.clone(), harden))
        // Outermost: every answer a client accepts gzip for, except the event stream
        // (tower-http's default predicate leaves out `text/event-stream`, images and
        // bodies under 32 bytes).
        .layer(tower_http::compression::CompressionLayer::new())
        .with_state(state)
}

/// Every answer: errors as JSON `{"error": ...}` whoever made them (axum's own path,
/// query and body-size rejections are plain text, its 404 and 405 empty), and the
/// headers of a private API: `Referrer-Policy: no-referrer`, `X-Content-Type-Options:
/// nosniff`, `Cache-Control: no-store` under `/api` and on `/metrics` (sessions, tokens
/// and balances are never cached), and `Strict-Transport-Security` when the server is
/// behind HTTPS (secure cookies).
async fn harden(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    use axum::http::{HeaderValue, header};
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let mut resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if (status.is_client_error() || status.is_server_error()) && !is_json {
        let (parts, body) = resp.into_parts();
        let bytes = axum::body::to_bytes(body, 16 * 1024).await.unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes).trim().to_owned();
        let msg = match (status, text.is_empty()) {
            (StatusCode::PAYLOAD_TOO_LARGE, _) => format!("the request body is too large: at most {BODY_LIMIT} bytes"),
            (_, false) => text,
            (StatusCode::NOT_FOUND, true) => format!("no such route: {method} {path}"),
            (StatusCode::METHOD_NOT_ALLOWED, true) => format!("{path} does not answer {method}"),
            _ => status.canonical_reason().unwrap_or("error").to_owned(),
        };
        let mut json = ApiError(status, msg).into_response();
        for (k, v) in &parts.headers {
            if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
                json.headers_mut().append(k, v.clone());
            }
        }
        resp = json;
    }
    let h = resp.headers_mut();
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if path.starts_with("/api/") || path == "/metrics" {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if st.auth.secure_cookies() {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    resp
}

/// A handler that panics answers 500 `{"error": INTERNAL_ERROR}` (the panic's text goes
/// to the server's log, never to the client) instead of dropping the connection.
async fn catch_panic(req: Request, next: Next) -> Response {
    use futures_util::FutureExt;
    match std::panic::AssertUnwindSafe(next.run(req)).catch_unwind().await {
        Ok(resp) => resp,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            eprintln!("internal error in a request: panic: {msg}");
            ApiError::internal(INTERNAL_ERROR).into_response()
        }
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The client's key for rate limiting: its address when the server was started with
/// connect info, else one shared bucket. When that address is one of the
/// [`Auth::trusted_proxies`], the client is the rightmost address of
/// `X-Forwarded-For` that is not itself a trusted proxy (what the proxy saw; anything
/// left of it was written by the client and is not believed). A header that names no
/// valid address leaves the proxy's own address: one shared bucket, never a free one.
pub fn client_key(auth: &Auth, headers: &HeaderMap, req_ext: &axum::http::Extensions) -> String {
    let Some(peer) = req_ext.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()) else {
        return "local".into();
    };
    let trusted = auth.trusted_proxies();
    if !trusted.contains(&peer) {
        return peer.to_string();
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.iter().rev() {
        match hop.parse::<std::net::IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => continue,
            Ok(ip) => return ip.to_string(),
            Err(_) => break,
        }
    }
    peer.to_string()
}

async fn require_auth(State(st): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    let headers = req.headers();
    if let Some(auth) = headers.get(axum::http::header::AUTHORIZATION) {
        let token = auth.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).map(str::trim);
        return match token {
            Some(t) if st.auth.check_token(t) => {
                req.extensions_mut().insert(Principal::Token);
                next.run(req).await
            }
            _ => ApiError::unauthorized("invalid API token").into_response(),
        };
    }
    let Some(id) = cookie(headers, SESSION_COOKIE) else {
        return ApiError::unauthorized("authentication required").into_response();
    };
    let Some(csrf) = st.auth.session_csrf(&id, st.clock.now().0) else {
        return ApiError::unauthorized("session expired or unknown").into_response();
    };
    let changes = matches!(*req.method(), Method::POST | Method::PUT | Method::DELETE | Method::PATCH);
    if changes {
        let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !auth::ct_eq(sent.as_bytes(), csrf.as_bytes()) {
            return ApiError(StatusCode::FORBIDDEN, "missing or wrong X-CSRF-Token".into()).into_response();
        }
    }
    req.extensions_mut().insert(Principal::Session(id));
    next.run(req).await
}

//! The handlers. Decimals are JSON strings; times are Unix milliseconds.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_TYPE, SET_COOKIE};
use axum::http::{Extensions, StatusCode};
use axum::response::{IntoResponse, Response};
use ballast_core::{Asset, Qty};
use ballast_engine::{BotState, Engine, EngineError, StopMode};
use ballast_store::{BotId, BotRecord, StoreError};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::AuthError;
use crate::{ApiError, ApiJson, AppState, Principal, SESSION_COOKIE};

type ApiResult = Result<Response, ApiError>;

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(_) => ApiError(StatusCode::NOT_FOUND, e.to_string()),
            StoreError::Conflict(_) | StoreError::Busy(_) => ApiError(StatusCode::CONFLICT, e.to_string()),
            _ => ApiError::internal(e),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Store(s) => s.into(),
            EngineError::NoBot(_) => ApiError(StatusCode::NOT_FOUND, e.to_string()),
            EngineError::Refused(_) | EngineError::Core(_) => ApiError(StatusCode::CONFLICT, e.to_string()),
            EngineError::Exchange(_) => ApiError(StatusCode::BAD_GATEWAY, e.to_string()),
            EngineError::Corrupt(..) => ApiError::internal(e),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        let status = match e {
            AuthError::AlreadySetUp => StatusCode::CONFLICT,
            AuthError::NotSetUp => StatusCode::CONFLICT,
            AuthError::Invalid(_) => StatusCode::BAD_REQUEST,
            AuthError::Denied => StatusCode::UNAUTHORIZED,
            AuthError::RateLimited | AuthError::Busy => StatusCode::TOO_MANY_REQUESTS,
            AuthError::SetupToken => StatusCode::UNAUTHORIZED,
            AuthError::Io(..) | AuthError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError(status, e.to_string())
    }
}

/// Runs blocking work (store, venue, hashing) off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        // A panic is a bug: its text goes to the server's log, never to the client.
        eprintln!("internal error in a request: {e}");
        ApiError::internal(crate::INTERNAL_ERROR)
    })?
}

fn ok(v: Value) -> ApiResult {
    Ok(Json(v).into_response())
}

/// A bot's record and the engine of its venue.
fn bot_engine(st: &AppState, id: BotId) -> Result<(BotRecord, Arc<Engine>), ApiError> {
    let rec = st.store.bot(id)?.ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no bot with id {id}")))?;
    let engine = st.engines.get(&rec.venue).cloned().ok_or_else(|| {
        ApiError(StatusCode::SERVICE_UNAVAILABLE, format!("no engine for venue {:?} is running", rec.venue))
    })?;
    Ok((rec, engine))
}

/// The engine state of a bot, as saved.
pub(crate) fn bot_state(st: &AppState, id: BotId) -> Result<Option<BotState>, ApiError> {
    match st.store.load_state(id)? {
        Some(s) => serde_json::from_str(&s).map(Some).map_err(ApiError::internal),
        None => Ok(None),
    }
}

/// `?limit=`.
#[derive(Debug, Deserialize)]
pub struct Limit {
    /// At most this many rows (capped at 10,000).
    pub limit: Option<usize>,
}

impl Limit {
    fn get(&self, default: usize) -> usize {
        self.limit.unwrap_or(default).min(10_000)
    }
}

/// `GET /api/health`.
pub async fn health(State(st): State<Arc<AppState>>) -> Json<Value> {
    Json(json!({ "status": "ok", "setup_done": st.auth.is_set_up() }))
}

/// Body of `POST /api/setup`.
#[derive(Debug, Deserialize)]
pub struct SetupBody {
    /// The admin password.
    pub password: String,
    /// The one-time setup token `ballast serve` printed at start.
    #[serde(default)]
    pub setup_token: String,
}

/// `POST /api/setup`: only while no admin exists, and only with the setup token.
pub async fn setup(State(st): State<Arc<AppState>>, ApiJson(body): ApiJson<SetupBody>) -> ApiResult {
    if st.auth.is_set_up() {
        return Err(AuthError::AlreadySetUp.into());
    }
    let uri = blocking(move || Ok(st.auth.setup(&body.password, &body.setup_token)?)).await?;
    ok(json!({ "otpauth_uri": uri, "qr_svg": qr_svg(&uri)? }))
}

/// Body of `POST /api/setup/confirm`.
#[derive(Debug, Deserialize)]
pub struct ConfirmBody {
    /// The one-time setup token.
    #[serde(default)]
    pub setup_token: String,
    /// A current code of the authenticator just enrolled.
    pub code: String,
}

/// `POST /api/setup/confirm`: finishes setup once a code of the new authenticator
/// checks (until then setup can be done again), and logs the admin in: sets the
/// session cookie and returns the CSRF token, as a login does.
pub async fn setup_confirm(State(st): State<Arc<AppState>>, ApiJson(body): ApiJson<ConfirmBody>) -> ApiResult {
    let now = st.clock.now().0;
    let st2 = st.clone();
    let s = blocking(move || Ok(st2.auth.confirm_setup(&body.setup_token, &body.code, now)?)).await?;
    let cookie = session_cookie(&st, &s.id, Some(crate::auth::SESSION_TTL_MS / 1000));
    Ok(([(SET_COOKIE, cookie)], Json(json!({ "csrf_token": s.csrf }))).into_response())
}

/// Body of `POST /api/account/password`.
#[derive(Debug, Deserialize)]
pub struct PasswordBody {
    /// The password now.
    pub current: String,
    /// The new one.
    pub new: String,
}

/// `POST /api/account/password`: changes the admin password; other sessions end.
pub async fn change_password(
    State(st): State<Arc<AppState>>,
    ext: Extensions,
    ApiJson(body): ApiJson<PasswordBody>,
) -> ApiResult {
    let keep = match ext.get::<Principal>() {
        Some(Principal::Session(id)) => Some(id.clone()),
        _ => None,
    };
    blocking(move || Ok(st.auth.change_password(&body.current, &body.new, keep.as_deref())?)).await?;
    ok(json!({ "ok": true }))
}

/// Body of `POST /api/account/totp`.
#[derive(Debug, Deserialize)]
pub struct ReenrolBody {
    /// The admin password.
    pub password: String,
}

/// `POST /api/account/totp`: a new authenticator's secret (URI and QR code), in force
/// only once `POST /api/account/totp/confirm` checks a code of it.
pub async fn reenrol(State(st): State<Arc<AppState>>, ApiJson(body): ApiJson<ReenrolBody>) -> ApiResult {
    let uri = blocking(move || Ok(st.auth.start_reenrol(&body.password)?)).await?;
    ok(json!({ "otpauth_uri": uri, "qr_svg": qr_svg(&uri)? }))
}

/// Body of `POST /api/account/totp/confirm`.
#[derive(Debug, Deserialize)]
pub struct CodeBody {
    /// A current code of the new authenticator.
    pub code: String,
}

/// `POST /api/account/totp/confirm`.
pub async fn reenrol_confirm(State(st): State<Arc<AppState>>, ApiJson(body): ApiJson<CodeBody>) -> ApiResult {
    let now = st.clock.now().0;
    blocking(move || Ok(st.auth.confirm_reenrol(&body.code, now)?)).await?;
    ok(json!({ "ok": true }))
}

/// The QR code of `text` as an SVG image (for authenticator apps to scan).
pub fn qr_svg(text: &str) -> Result<String, ApiError> {
    let code = qrcode::QrCode::new(text.as_bytes()).map_err(ApiError::internal)?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .dark_color(qrcode::render::svg::Color("#000000"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .build())
}

/// Body of `POST /api/login`.
#[derive(Debug, Deserialize)]
pub struct LoginBody {
    /// The admin password.
    pub password: String,
    /// The current TOTP code.
    pub code: String,
}

fn session_cookie(st: &AppState, value: &str, max_age: Option<i64>) -> String {
    let mut c = format!("{SESSION_COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if st.auth.secure_cookies() {
        c.push_str("; Secure");
    }
    c
}

/// `POST /api/login`: sets the session cookie and returns the CSRF token.
pub async fn login(
    State(st): State<Arc<AppState>>,
    headers: axum::http::HeaderMap,
    ext: Extensions,
    ApiJson(body): ApiJson<LoginBody>,
) -> ApiResult {
    let client = crate::client_key(&st.auth, &headers, &ext);
    let st2 = st.clone();
    let s = blocking(move || Ok(st2.auth.login(&client, &body.password, &body.code, st2.clock.now().0)?)).await?;
    let cookie = session_cookie(&st, &s.id, Some(crate::auth::SESSION_TTL_MS / 1000));
    Ok(([(SET_COOKIE, cookie)], Json(json!({ "csrf_token": s.csrf }))).into_response())
}

/// `POST /api/logout`.
pub async fn logout(State(st): State<Arc<AppState>>, ext: Extensions) -> ApiResult {
    if let Some(Principal::Session(id)) = ext.get::<Principal>() {
        let (st2, id) = (st.clone(), id.clone());
        blocking(move || Ok(st2.auth.logout(&id)?)).await?;
    }
    let cookie = session_cookie(&st, "", Some(0));
    Ok(([(SET_COOKIE, cookie)], Json(json!({ "ok": true }))).into_response())
}

/// Body of `POST /api/tokens`.
#[derive(Debug, Default, Deserialize)]
pub struct TokenBody {
    /// What the token is for.
    #[serde(default)]
    pub label: String,
}

/// `POST /api/tokens {label?}`: a new API token, shown once.
pub async fn create_token(State(st): State<Arc<AppState>>, body: axum::body::Bytes) -> ApiResult {
    let label = if body.iter().all(u8::is_ascii_whitespace) {
        String::new()
    } else {
        serde_json::from_slice::<TokenBody>(&body).map_err(|e| ApiError::bad_request(format!("body: {e}")))?.label
    };
    let (id, token) = blocking(move || Ok(st.auth.create_token(&label, st.clock.now().0)?)).await?;
    ok(json!({ "id": id, "token": token }))
}

/// A bot as `GET /api/bots` lists it (and `ballast bot list --format json`): its
/// record and, from its view, value and returns (a stopped bot: those of its stop).
pub fn bot_row_json(rec: &BotRecord, view: Result<&ballast_engine::BotView, String>) -> Value {
    let v = view.as_ref().ok();
    let pnl = v.and_then(|v| v.pnl.clone());
    let summary = v.and_then(|v| v.state.summary.as_ref());
    json!({
        "id": rec.id,
        "name": rec.name,
        "venue": rec.venue,
        "status": rec.status.to_string(),
        "status_reason": rec.status_reason,
        // A stopped bot holds nothing: its figures are those of the stop.
        "value": match summary {
            Some(s) => Some(s.value),
            None => pnl.as_ref().map(|p| p.value),
        },
        "profit_percent": match summary {
            Some(s) => Some(s.profit_percent()),
            None => pnl.as_ref().map(|p| p.profit_percent.round_dp(4)),
        },
        "excess_vs_hodl_percent": if summary.is_some() { None } else { pnl.as_ref().map(|p| p.excess_vs_hodl_percent.round_dp(4)) },
        "apr_percent": pnl.as_ref().and_then(|p| p.apr_percent),
        "quote": v.map(|v| &v.state.spec.quote),
        "net_invested": match summary {
            Some(s) => Some(s.net_invested),
            None => pnl.as_ref().map(|p| p.net_invested),
        },
        "profit": match summary {
            Some(s) => Some(s.profit),
            None => pnl.as_ref().map(|p| p.profit),
        },
        "hodl_value": if summary.is_some() { None } else { pnl.as_ref().map(|p| p.hodl_value) },
        "fees": match summary {
            Some(s) => Some(s.fees),
            None => pnl.as_ref().map(|p| p.fees_paid),
        },
        "summary": summary.map(summary_json),
        "error": view.err(),
    })
}

/// How [`ballast_engine::ledger::fleet`] counts a bot: running with its PnL, stopped
/// with its summary, or unknown (its view failed, or it has no PnL yet).
pub fn fleet_bot<'a>(view: Result<&'a ballast_engine::BotView, &String>) -> ballast_engine::ledger::FleetBot<'a> {
    use ballast_engine::ledger::FleetBot;
    match view {
        Err(_) => FleetBot::Unknown(None),
        Ok(v) => match (&v.state.summary, &v.pnl) {
            (Some(s), _) => FleetBot::Stopped(&v.state.spec.quote, s),
            (None, Some(p)) => FleetBot::Running(&v.state.spec.quote, p),
            (None, None) => FleetBot::Unknown(Some(&v.state.spec.quote)),
        },
    }
}

/// A bot and its view (an error in words when it could not be read).
pub type BotAndView = (BotRecord, Result<ballast_engine::BotView, String>);

/// Every bot with its view: what the list and the combined view are made of.
fn bot_views(st: &AppState) -> Result<Vec<BotAndView>, ApiError> {
    let mut out = Vec::new();
    for rec in st.store.bots()? {
        let view = match st.engines.get(&rec.venue) {
            None => Err(format!("no engine for venue {:?}", rec.venue)),
            Some(e) => e.view(rec.id).map_err(|e| e.to_string()),
        };
        out.push((rec, view));
    }
    Ok(out)
}

/// The combined view of every bot (`GET /api/overview`): a row per bot as
/// [`bot_row_json`] makes it, and the totals per quote of
/// [`ballast_engine::ledger::fleet`] (value, net invested, PnL, vs HODL and fees of the
/// bots not stopped; what the stopped ones made and paid apart).
pub fn overview_json(views: &[BotAndView]) -> Value {
    let rows: Vec<Value> = views.iter().map(|(rec, v)| bot_row_json(rec, v.as_ref().map_err(Clone::clone))).collect();
    let totals = ballast_engine::ledger::fleet(views.iter().map(|(_, v)| fleet_bot(v.as_ref())));
    json!({ "bots": rows, "totals": totals })
}

/// `GET /api/overview`.
pub async fn overview(State(st): State<Arc<AppState>>) -> ApiResult {
    let v = blocking(move || Ok(overview_json(&bot_views(&st)?))).await?;
    ok(v)
}

/// `GET /api/bots`.
pub async fn bots(State(st): State<Arc<AppState>>) -> ApiResult {
    let list = blocking(move || {
        Ok(bot_views(&st)?
            .iter()
            .map(|(rec, v)| bot_row_json(rec, v.as_ref().map_err(Clone::clone)))
            .collect::<Vec<Value>>())
    })
    .await?;
    ok(Value::Array(list))
}

/// A bot as `GET /api/bots/{id}` shows it (and `ballast bot status --format json`):
/// holdings, prices, weights against targets, PnL with the returns over periods, APR
/// and running time, and a stopped bot's summary.
pub fn bot_json(v: &ballast_engine::BotView) -> Value {
    let targets = &v.state.spec.weights;
    let mut assets: Vec<&Asset> = v.weights.keys().chain(targets.keys()).collect();
    assets.sort();
    assets.dedup();
    let reserve = v.state.spec.execution.fee_reserve.as_ref().map(|r| &r.asset);
    let weights: Vec<Value> = assets
        .into_iter()
        .map(|a| {
            let mut w = json!({
                "asset": a,
                "weight": v.weights.get(a).copied().unwrap_or_default().round_dp(6),
                "target": targets.get(a).copied().unwrap_or_default(),
            });
            // The fee reserve has no target weight (kept between its min and target).
            if reserve == Some(a) {
                w["reserve"] = json!(true);
            }
            w
        })
        .collect();
    json!({
        "id": v.record.id,
        "name": v.record.name,
        "venue": v.record.venue,
        "status": v.record.status.to_string(),
        "status_reason": v.record.status_reason,
        "created_at": v.record.created_at.0,
        "quote": v.state.spec.quote,
        "assets": v.state.spec.assets,
        "holdings": v.holdings,
        "prices": v.prices,
        "weights": weights,
        "rebalances": v.state.rebalances,
        "pnl": v.pnl,
        "summary": v.state.summary.as_ref().map(summary_json),
        "parameters": parameters_json(&v.state),
    })
}

/// A bot's parameters in force, as its page shows them: the trigger (in words and in
/// parts), how far a rebalance goes (target or band edge), the weight method and when
/// weights were last estimated from data, the guards, the entry prices (and whether the
/// bot has bought into each coin, after which its entry price no longer applies), the
/// cooldown and when it ends, the fee the planner assumes, the last step.
pub fn parameters_json(state: &BotState) -> Value {
    use ballast_core::trigger::Trigger;
    let s = &state.spec;
    let kind = |t: ballast_core::trigger::Threshold| match t.kind() {
        ballast_core::DriftKind::Absolute => "absolute",
        ballast_core::DriftKind::Relative => "relative",
    };
    let mut p = json!({
        "rebalance": ballast_engine::spec::describe_trigger(&s.trigger),
        "method": s.method.to_string(),
        "targets": s.weights,
        "weights_estimated_at": state.estimated.map(|t| t.0),
        "reestimate_every": s.reestimate.map(|x| x.to_string()),
        "rebalance_to": match s.to {
            ballast_core::planner::RebalanceTo::Target => "target",
            ballast_core::planner::RebalanceTo::BandEdge { .. } => "band_edge",
        },
        "stop_loss_percent": s.guards.stop_loss_percent,
        "take_profit_percent": s.guards.take_profit_percent,
        "entry_prices": s.guards.entry_prices.iter().map(|(a, p)| json!({
            "asset": a, "price": p, "bought_into": state.entered.contains(a),
        })).collect::<Vec<_>>(),
        "fee": s.fee.to_string(),
        "last_rebalance": state.trigger.last_rebalance.map(|t| t.0),
        "last_step": state.last_step.map(|t| t.0),
    });
    if let ballast_core::planner::RebalanceTo::BandEdge { band } = s.to {
        p["band_edge_percent"] = json!(band.percent().normalize());
        p["band_edge_kind"] = json!(kind(band));
    }
    match s.trigger {
        Trigger::Threshold { threshold, cooldown } => {
            p["mode"] = json!("threshold");
            p["threshold_percent"] = json!(threshold.percent().normalize());
            p["threshold_kind"] = json!(kind(threshold));
            p["cooldown"] = json!(cooldown.map(|c| c.to_string()));
            p["cooldown_until"] = json!(match (cooldown, state.trigger.last_rebalance) {
                (Some(c), Some(t)) => Some(t.plus(c).0),
                _ => None,
            });
        }
        Trigger::Calendar { every, min_drift } => {
            p["mode"] = json!("calendar");
            p["every"] = json!(every.to_string());
            p["min_drift_percent"] = json!(min_drift.map(|g| g.percent().normalize()));
            p["min_drift_kind"] = json!(min_drift.map(kind));
        }
    }
    p
}

/// `GET /api/bots/{id}`.
pub async fn bot(State(st): State<Arc<AppState>>, Path(id): Path<BotId>) -> ApiResult {
    let v = blocking(move || {
        let (_, engine) = bot_engine(&st, id)?;
        Ok(engine.view(id)?)
    })
    .await?;
    ok(bot_json(&v))
}

/// What a stopped bot returned, its final PnL and fees, and when it stopped.
fn summary_json(s: &ballast_engine::StopSummary) -> Value {
    json!({
        "at": s.at.0,
        "returned": s.returned,
        "value": s.value,
        "net_invested": s.net_invested,
        "profit": s.profit,
        "profit_percent": s.profit_percent(),
        "fees": s.fees,
    })
}

/// A snapshot as the charts draw it: time, value, HODL value and weights.
fn snapshot_point(s: &ballast_store::Snapshot, quote: Option<&Asset>) -> Value {
    let mut weights = BTreeMap::new();
    if s.value.0 > Decimal::ZERO {
        for (a, q) in &s.holdings {
            let price = match s.prices.get(a) {
                Some(p) => p.0,
                None if Some(a) == quote => Decimal::ONE,
                None => continue,
            };
            weights.insert(a.clone(), (q.0 * price / s.value.0).round_dp(6));
        }
    }
    json!({
        "time": s.time.0,
        "value": s.value,
        "hodl_value": s.hodl_value,
        "net_invested": s.net_invested,
        "weights": weights,
    })
}

/// `GET /api/bots/{id}/snapshots?limit=`: oldest first, the newest `limit`.
pub async fn snapshots(State(st): State<Arc<AppState>>, Path(id): Path<BotId>, Query(l): Query<Limit>) -> ApiResult {
    let rows = blocking(move || {
        bot_engine(&st, id)?;
        let quote = bot_state(&st, id)?.map(|s| s.spec.quote);
        let snaps = st.store.snapshots(id, l.get(1000))?;
        Ok(snaps.iter().map(|s| snapshot_point(s, quote.as_ref())).collect::<Vec<_>>())
    })
    .await?;
    ok(Value::Array(rows))
}

/// The ranges a chart can show, each with its length in milliseconds (`all`: none).
pub const CHART_RANGES: &[(&str, Option<i64>)] = &[
    ("24h", Some(86_400_000)),
    ("7d", Some(7 * 86_400_000)),
    ("30d", Some(30 * 86_400_000)),
    ("90d", Some(90 * 86_400_000)),
    ("1y", Some(365 * 86_400_000)),
    ("all", None),
];

/// The most points a chart is sent.
pub const CHART_MAX_POINTS: usize = 5000;

/// `?range=&points=&after=` of `GET /api/bots/{id}/chart`.
#[derive(Debug, Deserialize)]
pub struct ChartQuery {
    /// One of [`CHART_RANGES`] (`all` when absent), ending at the bot's last snapshot.
    pub range: Option<String>,
    /// At most this many points (600 when absent, 2 ..= [`CHART_MAX_POINTS`]).
    pub points: Option<usize>,
    /// Only the snapshots after this time (ms): what a chart already drawn lacks.
    pub after: Option<i64>,
}

/// `GET /api/bots/{id}/chart?range=&points=&after=`: the snapshots of a range of a
/// bot's life (its whole life by default), thinned on the server to at most `points`
/// evenly spaced (the first and the last kept), with `total` (how many the range
/// holds), the range's bounds and the bot's first and last snapshot times.
pub async fn chart(State(st): State<Arc<AppState>>, Path(id): Path<BotId>, Query(q): Query<ChartQuery>) -> ApiResult {
    let range = q.range.unwrap_or_else(|| "all".into());
    let span = CHART_RANGES.iter().find(|(r, _)| *r == range).map(|(_, s)| *s).ok_or_else(|| {
        let names: Vec<&str> = CHART_RANGES.iter().map(|(r, _)| *r).collect();
        ApiError::bad_request(format!("range {range:?}: expected one of {}", names.join(", ")))
    })?;
    let points = q.points.unwrap_or(600);
    if !(2..=CHART_MAX_POINTS).contains(&points) {
        return Err(ApiError::bad_request(format!("points {points}: expected 2 ..= {CHART_MAX_POINTS}")));
    }
    let out = blocking(move || {
        bot_engine(&st, id)?;
        let quote = bot_state(&st, id)?.map(|s| s.spec.quote);
        chart_json(&*st.store, id, quote.as_ref(), &range, span, q.after, points)
    })
    .await?;
    ok(out)
}

/// The chart of a bot (`GET /api/bots/{id}/chart`): the snapshots from `span` before the
/// last one (the whole life when `None`), only those after `after` when given, thinned
/// to at most `points`; each point's drawdown from the range's peak (cash flows
/// removed, over every snapshot of the range), the range's largest, and the
/// rebalances that sent orders in it (the markers).
pub fn chart_json(
    store: &dyn ballast_store::Store,
    id: BotId,
    quote: Option<&Asset>,
    range: &str,
    span: Option<i64>,
    after: Option<i64>,
    points: usize,
) -> Result<Value, ApiError> {
    let Some((first, last)) = store.snapshot_span(id)? else {
        return Ok(
            json!({ "range": range, "first": null, "last": null, "from": null, "to": null, "total": 0, "points": [], "max_drawdown": null, "rebalances": [] }),
        );
    };
    let from = span.map_or(first.0, |s| (last.0 - s).max(first.0));
    let lower = match after {
        Some(a) => a.saturating_add(1).max(from),
        None => from,
    };
    let r = store.snapshots_range(id, Some(ballast_core::Timestamp(lower)), None, points)?;
    // The drawdown over the whole range (every snapshot, cash flows removed), read
    // at the points sent.
    let values = store.snapshot_values(id, Some(ballast_core::Timestamp(from)))?;
    let dd = ballast_engine::ledger::drawdowns(&values);
    // Keyed by time, value and net invested: two snapshots of one time (a step and an
    // investment) each keep their own.
    let dd_at: BTreeMap<(i64, Decimal, Decimal), f64> =
        values.iter().zip(&dd).map(|(v, d)| ((v.time.0, v.value.0, v.net_invested.0), *d)).collect();
    let finite = |d: f64| d.is_finite().then(|| (d * 1e6).round() / 1e6);
    let pts: Vec<Value> = r
        .snapshots
        .iter()
        .map(|s| {
            let mut p = snapshot_point(s, quote);
            p["drawdown"] = json!(dd_at.get(&(s.time.0, s.value.0, s.net_invested.0)).copied().and_then(finite));
            p
        })
        .collect();
    let max_drawdown =
        dd.iter().copied().filter(|d| d.is_finite()).fold(None, |m: Option<f64>, d| Some(m.map_or(d, |m| m.min(d))));
    // The rebalances that sent orders, as markers on the value chart.
    let mut marks = Vec::new();
    let mut before = None;
    'pages: loop {
        let page = store.rebalance_events(id, before, 500)?;
        for (row, e) in &page {
            if e.time.0 < lower || marks.len() >= CHART_MAX_POINTS {
                break 'pages;
            }
            if crate::runlog::planned(e) {
                marks.push(json!({ "time": e.time.0, "kind": e.kind, "message": e.message }));
            }
            before = Some(*row);
        }
        if page.len() < 500 {
            break;
        }
    }
    marks.reverse();
    Ok(json!({
        "range": range,
        "first": first.0,
        "last": last.0,
        "from": from,
        "to": last.0,
        "total": r.total,
        "points": pts,
        "max_drawdown": max_drawdown.and_then(finite),
        "rebalances": marks,
    }))
}

/// `?limit=&before=&after=` of a paged list of events.
#[derive(Debug, Deserialize)]
pub struct EventPage {
    /// At most this many rows (capped at 10,000).
    pub limit: Option<usize>,
    /// Only rows older than this row id (the next page).
    pub before: Option<i64>,
    /// Only rows newer than this row id (what happened since the last look).
    pub after: Option<i64>,
}

fn event_json(id: i64, e: &ballast_store::Event) -> Value {
    json!({ "id": id, "time": e.time.0, "kind": e.kind, "message": e.message, "data": e.data })
}

/// `GET /api/bots/{id}/events?limit=&before=&after=`: newest first, each with its row
/// id; `before` pages back, `after` answers only what is newer.
pub async fn events(State(st): State<Arc<AppState>>, Path(id): Path<BotId>, Query(p): Query<EventPage>) -> ApiResult {
    let limit = p.limit.unwrap_or(200).min(10_000);
    let rows = blocking(move || {
        bot_engine(&st, id)?;
        let mut rows = st.store.events_page(id, p.before, limit)?;
        if let Some(after) = p.after {
            rows.retain(|(i, _)| *i > after);
        }
        Ok(rows)
    })
    .await?;
    ok(Value::Array(rows.iter().map(|(i, e)| event_json(*i, e)).collect()))
}

fn order_json(r: &ballast_store::OrderRow) -> Result<Value, ApiError> {
    let mut v = serde_json::to_value(&r.intent).map_err(ApiError::internal)?;
    if let Value::Object(m) = &mut v {
        m.insert("state".into(), json!(r.state.as_str()));
        m.insert("venue_id".into(), json!(r.venue_id));
        m.insert("filled".into(), json!(r.filled));
        m.insert("updated_at".into(), json!(r.updated_at.0));
    }
    Ok(v)
}

/// `GET /api/bots/{id}/history?limit=&before=`: the rebalances (and stops'
/// liquidations), newest first: each with its event's row id, sequence number,
/// message, the orders it sent and the legs it skipped with their reasons, and
/// `next_before` for the next page (null on the last).
///
/// A rebalance that sent no order (every leg skipped) does not move the sequence
/// number, so the next one carries the same: orders belong only to the event that
/// planned legs, never to one that sent nothing.
pub async fn history(State(st): State<Arc<AppState>>, Path(id): Path<BotId>, Query(p): Query<EventPage>) -> ApiResult {
    let limit = p.limit.unwrap_or(20).clamp(1, 500);
    let out = blocking(move || {
        bot_engine(&st, id)?;
        history_json(st.store.as_ref(), id, p.before, limit)
    })
    .await?;
    ok(out)
}

/// The rebalance history of `GET /api/bots/{id}/history` (and `ballast bot history
/// --format json`): `{entries, next_before}`.
pub fn history_json(
    store: &dyn ballast_store::Store,
    id: BotId,
    before: Option<i64>,
    limit: usize,
) -> Result<Value, ApiError> {
    let evs = store.rebalance_events(id, before, limit)?;
    let seqs: Vec<i64> =
        evs.iter().filter(|(_, e)| crate::runlog::planned(e)).filter_map(|(_, e)| e.data["seq"].as_i64()).collect();
    let orders = store.orders_of_seqs(id, &seqs)?;
    let mut by_seq: BTreeMap<i64, Vec<Value>> = BTreeMap::new();
    for o in &orders {
        by_seq.entry(o.intent.seq).or_default().push(order_json(o)?);
    }
    let mut entries = Vec::new();
    for (row, e) in &evs {
        let seq = e.data["seq"].as_i64();
        let orders = match seq {
            Some(s) if crate::runlog::planned(e) => by_seq.remove(&s).unwrap_or_default(),
            _ => Vec::new(),
        };
        entries.push(json!({
            "id": row,
            "seq": seq,
            "time": e.time.0,
            "kind": e.kind,
            "message": e.message,
            "orders": orders,
            "skipped": e.data.get("skipped").cloned().unwrap_or(json!([])),
            // Legs that say why they trade as they do (a direct pair, the fee reserve's
            // top-up), in words.
            "notes": leg_notes(e),
        }));
    }
    let next = if evs.len() == limit { evs.last().map(|(i, _)| *i) } else { None };
    Ok(json!({ "entries": entries, "next_before": next }))
}

/// `?limit=&before=&state=&side=&asset=&format=` of `GET /api/bots/{id}/orders`.
#[derive(Debug, Default, Deserialize)]
pub struct OrderQuery {
    /// At most this many rows (200 when absent, capped at 10,000).
    pub limit: Option<usize>,
    /// Only rows older than this row id (the next page).
    pub before: Option<i64>,
    /// Only orders in this state (`filled`, `canceled`, ...).
    pub state: Option<String>,
    /// Only `buy` or only `sell`.
    pub side: Option<String>,
    /// Only orders of this coin.
    pub asset: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

/// The filter of an order query; an unknown value is refused naming the parameter.
pub fn order_filter(q: &OrderQuery) -> Result<ballast_store::OrderFilter, ApiError> {
    let state = match q.state.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(s.parse::<ballast_store::OrderState>().map_err(|_| {
            let names: Vec<&str> = ballast_store::OrderState::ALL.iter().map(|x| x.as_str()).collect();
            ApiError::bad_request(format!("state {s:?}: expected one of {}", names.join(", ")))
        })?),
    };
    let side = match q.side.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some("buy") => Some(ballast_core::planner::Side::Buy),
        Some("sell") => Some(ballast_core::planner::Side::Sell),
        Some(s) => return Err(ApiError::bad_request(format!("side {s:?}: expected \"buy\" or \"sell\""))),
    };
    let asset = match q.asset.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(a) => Some(Asset::new(a).map_err(|e| ApiError::bad_request(format!("asset: {e}")))?),
    };
    Ok(ballast_store::OrderFilter { state, side, asset })
}

/// Orders with their row ids, newest first.
pub type OrderPage = Vec<(i64, ballast_store::OrderRow)>;

/// A page of a bot's orders (`GET /api/bots/{id}/orders` and `ballast bot orders`):
/// newest first, filtered, each order with its row id (`row`), and the `before` of the
/// next page (none on the last).
pub fn orders_page(
    store: &dyn ballast_store::Store,
    id: BotId,
    q: &OrderQuery,
) -> Result<(OrderPage, Option<i64>), ApiError> {
    store.bot(id)?.ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no bot with id {id}")))?;
    let limit = q.limit.unwrap_or(200).clamp(1, 10_000);
    let rows = store.orders_page(id, &order_filter(q)?, q.before, limit)?;
    let next = if rows.len() == limit { rows.last().map(|(r, _)| *r) } else { None };
    Ok((rows, next))
}

/// Orders as CSV (RFC 4180, a header row): what the orders page shows, to keep.
pub fn orders_csv(rows: &[(i64, ballast_store::OrderRow)]) -> String {
    let mut out = String::from(
        "row,created_at,client_id,seq,leg,side,asset,quote,qty,kind,planned_price,state,filled,venue_id,updated_at\r\n",
    );
    for (row, o) in rows {
        let i = &o.intent;
        let kind = match i.kind {
            ballast_exchange::OrderKind::Market => "market".to_string(),
            ballast_exchange::OrderKind::Limit { price } => format!("limit {}", price.0.normalize()),
            ballast_exchange::OrderKind::PostOnly { price } => format!("post-only {}", price.0.normalize()),
        };
        let cells = [
            row.to_string(),
            ballast_engine::export::date(i.created_at, true),
            i.client_id.as_str().to_string(),
            i.seq.to_string(),
            i.leg.to_string(),
            i.side.to_string(),
            i.base.to_string(),
            i.quote.to_string(),
            i.qty.0.normalize().to_string(),
            kind,
            i.planned_price.0.normalize().to_string(),
            o.state.as_str().to_string(),
            o.filled.0.normalize().to_string(),
            o.venue_id.clone().unwrap_or_default(),
            ballast_engine::export::date(o.updated_at, true),
        ];
        let quoted: Vec<String> =
            cells
                .iter()
                .map(|c| {
                    if c.contains([',', '"', '\n', '\r']) {
                        format!("\"{}\"", c.replace('"', "\"\""))
                    } else {
                        c.clone()
                    }
                })
                .collect();
        out.push_str(&quoted.join(","));
        out.push_str("\r\n");
    }
    out
}

/// `GET /api/bots/{id}/orders?limit=&before=&state=&side=&asset=&format=json|csv`:
/// newest first, filtered by state, side and coin, paged back with `before` (each
/// order's `row`; the `X-Next-Before` header names the next page); `format=csv` the
/// same page as a CSV download.
pub async fn orders(State(st): State<Arc<AppState>>, Path(id): Path<BotId>, Query(q): Query<OrderQuery>) -> ApiResult {
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(f) => return Err(ApiError::bad_request(format!("format {f:?}: expected \"json\" or \"csv\""))),
    };
    let (rows, next) = blocking(move || orders_page(st.store.as_ref(), id, &q)).await?;
    let next = next.map(|n| n.to_string()).unwrap_or_default();
    if csv {
        return Ok((
            [
                (CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (
                    axum::http::header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"ballast-bot-{id}-orders.csv\""),
                ),
                (axum::http::header::HeaderName::from_static("x-next-before"), next),
            ],
            orders_csv(&rows),
        )
            .into_response());
    }
    let mut out = Vec::with_capacity(rows.len());
    for (row, o) in &rows {
        let mut v = order_json(o)?;
        v["row"] = json!(row);
        out.push(v);
    }
    Ok(([(axum::http::header::HeaderName::from_static("x-next-before"), next)], Json(Value::Array(out)))
        .into_response())
}

/// Runs a change of a bot under the state's bot lock, then tells the live streams.
async fn changing<T: Send + 'static>(
    st: &Arc<AppState>,
    id: BotId,
    kind: &str,
    f: impl FnOnce(&AppState) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let st2 = st.clone();
    let out = locked(st, move || f(&st2)).await?;
    st.publish("bot", json!({ "bot": id, "kind": kind }));
    Ok(out)
}

/// Runs `f` off the async threads under the state's bot lock (every change of bots
/// goes through it, the stepping loop included).
pub(crate) async fn locked<T: Send + 'static>(
    st: &AppState,
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let lock = st.bot_lock.clone();
    blocking(move || {
        let _g = lock.lock().unwrap_or_else(|e| e.into_inner());
        f()
    })
    .await
}

async fn set_paused(st: Arc<AppState>, id: BotId, paused: bool) -> ApiResult {
    changing(&st, id, if paused { "pause" } else { "resume" }, move |st| {
        let (_, engine) = bot_engine(st, id)?;
        Ok(engine.set_paused(id, paused)?)
    })
    .await?;
    ok(json!({ "ok": true, "status": if paused { "paused" } else { "active" } }))
}

/// `POST /api/bots/{id}/pause`.
pub async fn pause(State(st): State<Arc<AppState>>, Path(id): Path<BotId>) -> ApiResult {
    set_paused(st, id, true).await
}

/// `POST /api/bots/{id}/resume`.
pub async fn resume(State(st): State<Arc<AppState>>, Path(id): Path<BotId>) -> ApiResult {
    set_paused(st, id, false).await
}

/// Body of `POST /api/bots/{id}/invest`: quote (named `usdt`) and/or coins.
#[derive(Debug, Deserialize)]
pub struct InvestBody {
    /// Quote to add (the bot's quote currency, whatever it is).
    pub usdt: Option<String>,
    /// Coins already in the account to add: asset → quantity.
    pub coins: Option<BTreeMap<String, String>>,
}

/// A quantity to invest: a decimal greater than zero and at most
/// [`ballast_core::money::MAX_AMOUNT`] (`what` names it in the error).
fn parse_qty(what: &str, s: &str) -> Result<Qty, ApiError> {
    let d = ballast_core::money::parse_decimal(s)
        .map_err(|_| ApiError::bad_request(format!("{what}: {s:?} is not a decimal number")))?;
    ballast_core::money::check_amount(what, d).map(Qty).map_err(ApiError::bad_request)
}

/// What to invest, checked: quote (`usdt`) and coins, each a positive decimal.
fn parse_add(st: &AppState, id: BotId, body: &InvestBody) -> Result<BTreeMap<Asset, Qty>, ApiError> {
    let quote = bot_state(st, id)?.map(|s| s.spec.quote).ok_or_else(|| ApiError::internal("bot without state"))?;
    let mut add = BTreeMap::new();
    if let Some(u) = &body.usdt {
        add.insert(quote, parse_qty("usdt", u)?);
    }
    for (a, q) in body.coins.iter().flatten() {
        let asset = Asset::new(a).map_err(|e| ApiError::bad_request(e.to_string()))?;
        let qty = parse_qty(&format!("coins.{asset}"), q)?;
        add.insert(asset, qty);
    }
    if add.is_empty() {
        return Err(ApiError::bad_request("nothing to invest: give usdt and/or coins"));
    }
    if let Some((a, q)) = add.iter().find(|(_, q)| q.0 <= Decimal::ZERO) {
        return Err(ApiError::bad_request(format!("{a}: {} is not a positive quantity", q.0)));
    }
    Ok(add)
}

/// A plan as the confirmations show it: the orders with their fees, the total, the
/// skipped legs with their reasons, and the value before and after.
pub fn plan_json(plan: &ballast_core::planner::Plan) -> Value {
    let orders: Vec<Value> = plan
        .legs
        .iter()
        .map(|l| {
            json!({ "asset": l.asset, "side": l.side.to_string(), "qty": l.quantity, "price": l.price,
                    "notional": l.notional.0.round_dp(2), "fee": l.fee.0.round_dp(4) })
        })
        .collect();
    let skipped: Vec<Value> = plan
        .skipped
        .iter()
        .map(|s| {
            json!({ "asset": s.asset, "side": s.side.to_string(), "notional": s.notional.0.round_dp(2),
                    "reason": s.reason.to_string() })
        })
        .collect();
    json!({
        "quote": plan.quote,
        "orders": orders,
        "skipped": skipped,
        "fees": plan.fees.0.round_dp(4),
        "value_before": plan.value_before.0.round_dp(2),
        "value_after": plan.value_after.0.round_dp(2),
    })
}

/// `POST /api/bots/{id}/invest/preview`: what the investment would trade (orders,
/// fees, skipped legs), recording nothing.
pub async fn invest_preview(
    State(st): State<Arc<AppState>>,
    Path(id): Path<BotId>,
    ApiJson(body): ApiJson<InvestBody>,
) -> ApiResult {
    let preview = blocking(move || {
        let (_, engine) = bot_engine(&st, id)?;
        let add = parse_add(&st, id, &body)?;
        Ok(engine.preview_change(id, &add, None)?)
    })
    .await?;
    ok(change_json(&preview))
}

/// A change's preview ([`ballast_engine::ChangePreview`]): [`plan_json`] of its plan,
/// and `after`, the note that it waits for a rebalance still worked, when it does.
pub fn change_json(preview: &ballast_engine::ChangePreview) -> Value {
    let mut v = plan_json(&preview.plan);
    if let Some(after) = &preview.after {
        v["after"] = json!(after);
    }
    v
}

/// `POST /api/bots/{id}/invest`.
pub async fn invest(
    State(st): State<Arc<AppState>>,
    Path(id): Path<BotId>,
    ApiJson(body): ApiJson<InvestBody>,
) -> ApiResult {
    let out = changing(&st, id, "invest", move |st| {
        let (rec, engine) = bot_engine(st, id)?;
        let add = parse_add(st, id, &body)?;
        // Everything that can refuse it is checked before a paper deposit: a refused
        // investment leaves nothing behind.
        engine.check_invest(id, &add)?;
        if let Some(w) = &st.workshop {
            w.fund(&rec.venue, &add)?;
        }
        engine.invest(id, &add)?;
        // Put the money to work at once, as the CLI does; the investment is recorded
        // whatever the rebalance does, and the answer says so.
        engine.step(id).map_err(|e| {
            ApiError(
                StatusCode::BAD_GATEWAY,
                format!("invested (recorded: do not invest it again), but its rebalance failed: {e}; the next step tries again"),
            )
        })
    })
    .await?;
    let outcome = match out {
        ballast_engine::StepOutcome::Rebalanced { orders } => format!("{orders} order(s) sent"),
        ballast_engine::StepOutcome::Stopped(why) => format!("stopped: {why}"),
        _ => "no order sent".to_string(),
    };
    ok(json!({ "ok": true, "outcome": outcome }))
}

/// Body of `POST /api/bots/{id}/stop`.
#[derive(Debug, Deserialize)]
pub struct StopBody {
    /// `return-coins` or `to-usdt`.
    pub mode: String,
}

/// `POST /api/bots/{id}/stop`.
pub async fn stop(
    State(st): State<Arc<AppState>>,
    Path(id): Path<BotId>,
    ApiJson(body): ApiJson<StopBody>,
) -> ApiResult {
    let mode = match body.mode.as_str() {
        "return-coins" => StopMode::ReturnCoins,
        "to-usdt" => StopMode::ToQuote,
        m => return Err(ApiError::bad_request(format!("mode {m:?}: expected \"return-coins\" or \"to-usdt\""))),
    };
    let left = changing(&st, id, "stop", move |st| {
        let (_, engine) = bot_engine(st, id)?;
        Ok(engine.stop(id, mode)?)
    })
    .await?;
    ok(json!({ "ok": true, "returned": left }))
}

/// `GET /api/openapi.json`.
pub async fn openapi() -> Response {
    ([(CONTENT_TYPE, "application/json")], crate::OPENAPI_JSON).into_response()
}

/// The quote currency of a bot, from its saved engine state.
fn quote_of(store: &dyn ballast_store::Store, id: BotId) -> Result<Asset, ApiError> {
    let json =
        store.load_state(id)?.ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("bot {id} has no state yet")))?;
    let state: BotState = serde_json::from_str(&json).map_err(ApiError::internal)?;
    Ok(state.spec.quote)
}

/// A bot's profit and loss by coin (`GET /api/bots/{id}/pnl` and `ballast bot pnl
/// --format json`): [`ballast_engine::costbasis::coin_pnl`] over every fill and cash
/// flow, valued at the prices of the bot's last snapshot (`at`; none before one), with
/// the bot's id. Exact decimals (strings), nothing rounded.
pub fn pnl_json(
    store: &dyn ballast_store::Store,
    id: BotId,
    method: ballast_engine::costbasis::CostMethod,
) -> Result<Value, ApiError> {
    store.bot(id)?.ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no bot with id {id}")))?;
    let quote = quote_of(store, id)?;
    let last = store.snapshots(id, 1)?.pop();
    let prices: ballast_core::Prices = last.as_ref().map(|s| s.prices.clone()).unwrap_or_default();
    let report =
        ballast_engine::costbasis::coin_pnl(&store.cash_flows(id)?, &store.fills(id)?, &quote, &prices, method);
    let mut v = serde_json::to_value(&report).map_err(ApiError::internal)?;
    v["bot"] = json!(id);
    v["at"] = json!(last.map(|s| s.time.0));
    Ok(v)
}

/// `?method=` of `GET /api/bots/{id}/pnl`.
#[derive(Debug, Deserialize)]
pub struct PnlQuery {
    /// `average` (when absent) or `fifo`.
    pub method: Option<String>,
}

/// `GET /api/bots/{id}/pnl?method=average|fifo`: [`pnl_json`].
pub async fn pnl(State(st): State<Arc<AppState>>, Path(id): Path<BotId>, Query(q): Query<PnlQuery>) -> ApiResult {
    let method = match q.method.as_deref() {
        None => ballast_engine::costbasis::CostMethod::Average,
        Some(m) => m.parse().map_err(ApiError::bad_request)?,
    };
    let out = blocking(move || pnl_json(st.store.as_ref(), id, method)).await?;
    ok(out)
}

/// The most buckets `GET /api/bots/{id}/profit` answers.
pub const PROFIT_MAX_BUCKETS: usize = 1000;

/// A bot's profit per calendar day, ISO week or month, UTC (`GET /api/bots/{id}/profit`
/// and `ballast bot profit --format json`): the newest `limit` of
/// [`ballast_engine::ledger::profit_buckets`] over every snapshot, oldest first, with
/// the bot's id, its quote and how many buckets its life holds (`total`). Exact
/// decimals (strings), nothing rounded but the percentages.
pub fn profit_json(
    store: &dyn ballast_store::Store,
    id: BotId,
    by: ballast_engine::ledger::Bucket,
    limit: usize,
) -> Result<Value, ApiError> {
    if !(1..=PROFIT_MAX_BUCKETS).contains(&limit) {
        return Err(ApiError::bad_request(format!("limit {limit}: expected 1 ..= {PROFIT_MAX_BUCKETS}")));
    }
    store.bot(id)?.ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no bot with id {id}")))?;
    let quote = quote_of(store, id)?;
    let values = store.snapshot_values(id, None)?;
    let all = ballast_engine::ledger::profit_buckets(&values, by);
    let total = all.len();
    let newest = &all[total.saturating_sub(limit)..];
    Ok(json!({ "bot": id, "by": by, "quote": quote, "total": total, "buckets": newest }))
}

/// `?by=&limit=` of `GET /api/bots/{id}/profit`.
#[derive(Debug, Deserialize)]
pub struct ProfitQuery {
    /// `day` (when absent), `week` or `month`.
    pub by: Option<String>,
    /// The newest this many buckets (30 when absent, 1 ..= [`PROFIT_MAX_BUCKETS`]).
    pub limit: Option<usize>,
}

/// `GET /api/bots/{id}/profit?by=day|week|month&limit=`: [`profit_json`].
pub async fn profit(State(st): State<Arc<AppState>>, Path(id): Path<BotId>, Query(q): Query<ProfitQuery>) -> ApiResult {
    let by = match q.by.as_deref() {
        None => ballast_engine::ledger::Bucket::Day,
        Some(b) => b.parse().map_err(ApiError::bad_request)?,
    };
    let limit = q.limit.unwrap_or(30);
    let out = blocking(move || profit_json(st.store.as_ref(), id, by, limit)).await?;
    ok(out)
}

/// A bot's fills and cash flows as a CSV file in `format` (`GET
/// /api/bots/{id}/transactions.csv` and `ballast bot export --format`), with the file
/// name to save it as.
pub fn transactions_csv(
    store: &dyn ballast_store::Store,
    id: BotId,
    format: ballast_engine::export::CsvFormat,
) -> Result<(String, String), ApiError> {
    let rec = store.bot(id)?.ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no bot with id {id}")))?;
    let quote = quote_of(store, id)?;
    let csv = ballast_engine::export::transactions_csv(
        format,
        id,
        &rec.venue,
        &quote,
        &store.cash_flows(id)?,
        &store.fills(id)?,
    );
    Ok((format!("ballast-bot-{id}-{format}.csv"), csv))
}

/// `?format=` of `GET /api/bots/{id}/transactions.csv`.
#[derive(Debug, Deserialize)]
pub struct CsvQuery {
    /// `koinly` (Koinly's Universal template) or `cointracking` (CoinTracking's CSV import).
    pub format: Option<String>,
}

/// `GET /api/bots/{id}/transactions.csv?format=koinly|cointracking`: every fill and
/// cash flow as a download ([`transactions_csv`]).
pub async fn transactions(
    State(st): State<Arc<AppState>>,
    Path(id): Path<BotId>,
    Query(q): Query<CsvQuery>,
) -> ApiResult {
    let format: ballast_engine::export::CsvFormat = q
        .format
        .as_deref()
        .ok_or_else(|| ApiError::bad_request("format: expected \"koinly\" or \"cointracking\""))?
        .parse()
        .map_err(ApiError::bad_request)?;
    let (name, csv) = blocking(move || transactions_csv(st.store.as_ref(), id, format)).await?;
    Ok((
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (axum::http::header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        csv,
    )
        .into_response())
}

/// `?after=&before=&limit=` of `GET /api/log`.
#[derive(Debug, Deserialize)]
pub struct LogQuery {
    /// Only what was recorded after this row id, oldest first (what a page that shows
    /// the log lacks).
    pub after: Option<i64>,
    /// Without `after`: the newest entries before this row id (an older page).
    pub before: Option<i64>,
    /// At most this many entries (200 when absent, at most 1,000).
    pub limit: Option<usize>,
}

/// `GET /api/log`: the runner's log of every bot ([`crate::runlog`], the lines `ballast
/// run` prints): `{entries: [{id, bot, time, kind, message, line, orders: [line]}],
/// cursor}` oldest first; `cursor` is the newest row id seen (give it as `after` next).
pub async fn log(State(st): State<Arc<AppState>>, Query(q): Query<LogQuery>) -> ApiResult {
    let limit = q.limit.unwrap_or(200);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(format!("limit {limit}: expected 1 ..= 1000")));
    }
    let out = blocking(move || {
        let entries = match q.after {
            Some(a) => crate::runlog::after(&*st.store, a, limit)?,
            None => crate::runlog::newest(&*st.store, q.before, limit)?,
        };
        let cursor = entries.last().map(|e| e.id).or(q.after).unwrap_or(0);
        Ok(json!({ "entries": entries.iter().map(crate::runlog::Entry::to_json).collect::<Vec<_>>(), "cursor": cursor }))
    })
    .await?;
    ok(out)
}

/// The legs of a rebalance event that say why they trade as they do, as text: `buy BNB:
/// fee reserve top-up`, `sell ETH/BTC: ...`.
fn leg_notes(e: &ballast_store::Event) -> Vec<String> {
    let Some(legs) = e.data.get("legs").and_then(|l| l.as_array()) else { return Vec::new() };
    legs.iter()
        .filter_map(|l| {
            let why = l.get("why")?.as_str()?;
            let asset = l["asset"].as_str().unwrap_or("");
            let symbol = match l.get("quote").and_then(|q| q.as_str()) {
                Some(q) => format!("{asset}/{q}"),
                None => asset.to_string(),
            };
            Some(format!("{} {symbol}: {why}", l["side"].as_str().unwrap_or("")))
        })
        .collect()
}

#[cfg(test)]
mod leg_note_tests {
    use super::*;

    #[test]
    fn legs_that_say_why_become_notes() {
        let e = ballast_store::Event {
            bot: 1,
            time: ballast_core::Timestamp(0),
            kind: "rebalance".into(),
            message: "drift".into(),
            data: json!({"legs": [
                {"asset": "BTC", "side": "sell", "quantity": "0.1", "price": "1"},
                {"asset": "BNB", "side": "buy", "quantity": "0.08", "price": "300", "why": "fee reserve top-up"},
                {"asset": "ETH", "quote": "BTC", "side": "sell", "quantity": "1", "price": "0.05", "why": "cheaper"},
            ]}),
        };
        assert_eq!(leg_notes(&e), ["buy BNB: fee reserve top-up", "sell ETH/BTC: cheaper"]);
    }
}

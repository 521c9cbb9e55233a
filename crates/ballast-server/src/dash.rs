//! The dashboard's routes: the page shell, the session's CSRF token, API tokens, the
//! workshop (catalog, preview, create, edit, export, presets, profiles, backtests) and
//! the live stream of updates (server-sent events).

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{Extensions, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use ballast_store::BotId;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::api::{blocking, locked};
use crate::{ApiError, ApiJson, AppState, Principal, Workshop};

type ApiResult = Result<Response, ApiError>;

/// How many backtest reports a server keeps in memory.
pub const KEPT_REPORTS: usize = 8;

/// One live update: an SSE event name (`bot` or `tick`) and its JSON data.
#[derive(Clone, Debug, Serialize)]
pub struct Update {
    /// The SSE event name.
    pub event: String,
    /// Its data.
    pub data: Value,
}

const INDEX_HTML: &str = include_str!("../web/index.html");
const APP_JS: &str = include_str!("../web/app.js");
const APP_CSS: &str = include_str!("../web/app.css");

/// The page's policy: only this origin's script and data, no framing by others.
const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, content_type),
            (CONTENT_SECURITY_POLICY, PAGE_CSP),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (X_FRAME_OPTIONS, "DENY"),
            (CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// `GET /`: the single-page dashboard.
pub async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

/// `GET /app.js`.
pub async fn app_js() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

/// `GET /app.css`.
pub async fn app_css() -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}

fn workshop(st: &AppState) -> Result<Arc<dyn Workshop>, ApiError> {
    st.workshop
        .clone()
        .ok_or_else(|| ApiError(StatusCode::SERVICE_UNAVAILABLE, "this server has no workshop (configurations)".into()))
}

/// Runs `f` on the workshop off the async threads.
async fn with_workshop<T: Send + 'static>(
    st: &Arc<AppState>,
    f: impl FnOnce(&dyn Workshop) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let w = workshop(st)?;
    blocking(move || f(w.as_ref())).await
}

/// Runs a change of bots under the state's bot lock.
async fn changing<T: Send + 'static>(
    st: &Arc<AppState>,
    f: impl FnOnce(&dyn Workshop) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let w = workshop(st)?;
    locked(st, move || f(w.as_ref())).await
}

/// `GET /api/session`: the CSRF token of the caller's session.
pub async fn session(State(st): State<Arc<AppState>>, ext: Extensions) -> ApiResult {
    match ext.get::<Principal>() {
        Some(Principal::Session(id)) => {
            let csrf = st
                .auth
                .session_csrf(id, st.clock.now().0)
                .ok_or_else(|| ApiError::unauthorized("session expired or unknown"))?;
            Ok(Json(json!({ "csrf_token": csrf, "via": "session" })).into_response())
        }
        _ => Ok(Json(json!({ "csrf_token": null, "via": "token" })).into_response()),
    }
}

/// `GET /api/tokens`.
pub async fn tokens(State(st): State<Arc<AppState>>) -> ApiResult {
    let list: Vec<Value> = st
        .auth
        .tokens()
        .into_iter()
        .map(|t| json!({ "id": t.id, "label": t.label, "created_at": t.created_at }))
        .collect();
    Ok(Json(Value::Array(list)).into_response())
}

/// `DELETE /api/tokens/{id}`.
pub async fn revoke_token(State(st): State<Arc<AppState>>, Path(id): Path<String>) -> ApiResult {
    let found = blocking(move || Ok(st.auth.revoke_token(&id)?)).await?;
    if !found {
        return Err(ApiError(StatusCode::NOT_FOUND, "no API token with that id".into()));
    }
    Ok(Json(json!({ "ok": true })).into_response())
}

/// `GET /api/catalog`.
pub async fn catalog(State(st): State<Arc<AppState>>) -> ApiResult {
    Ok(Json(with_workshop(&st, |w| w.catalog()).await?).into_response())
}

/// A body holding a configuration.
#[derive(Debug, Deserialize)]
pub struct ConfigBody {
    /// The configuration, with the keys of a bot's TOML file.
    pub config: Value,
}

/// `POST /api/preview`.
pub async fn preview(State(st): State<Arc<AppState>>, ApiJson(body): ApiJson<ConfigBody>) -> ApiResult {
    Ok(Json(with_workshop(&st, move |w| w.preview(&body.config)).await?).into_response())
}

/// `POST /api/bots`: `{config}` or `{profile, amount, name?}`.
pub async fn create(State(st): State<Arc<AppState>>, ApiJson(body): ApiJson<Value>) -> ApiResult {
    if !body.is_object() {
        return Err(ApiError::bad_request("expected an object with config, or profile and amount"));
    }
    let id = changing(&st, move |w| w.create(&body)).await?;
    st.publish("bot", json!({ "bot": id, "kind": "created" }));
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))).into_response())
}

/// `GET /api/bots/{id}/config`.
pub async fn config(State(st): State<Arc<AppState>>, Path(id): Path<BotId>) -> ApiResult {
    Ok(Json(with_workshop(&st, move |w| w.config(id)).await?).into_response())
}

/// `POST /api/bots/{id}/edit`.
pub async fn edit(
    State(st): State<Arc<AppState>>,
    Path(id): Path<BotId>,
    ApiJson(body): ApiJson<ConfigBody>,
) -> ApiResult {
    changing(&st, move |w| w.edit(id, &body.config)).await?;
    st.publish("bot", json!({ "bot": id, "kind": "edit" }));
    Ok(Json(json!({ "ok": true })).into_response())
}

/// `POST /api/bots/{id}/edit/preview`: what the edit would trade, recording nothing.
pub async fn edit_preview(
    State(st): State<Arc<AppState>>,
    Path(id): Path<BotId>,
    ApiJson(body): ApiJson<ConfigBody>,
) -> ApiResult {
    Ok(Json(with_workshop(&st, move |w| w.preview_edit(id, &body.config)).await?).into_response())
}

/// `GET /api/bots/{id}/export`.
pub async fn export(State(st): State<Arc<AppState>>, Path(id): Path<BotId>) -> ApiResult {
    Ok(Json(with_workshop(&st, move |w| w.export(id)).await?).into_response())
}

/// `GET /api/presets`.
pub async fn presets(State(st): State<Arc<AppState>>) -> ApiResult {
    Ok(Json(with_workshop(&st, |w| w.presets()).await?).into_response())
}

/// Body of `POST /api/profiles/parse`.
#[derive(Debug, Deserialize)]
pub struct ProfileBody {
    /// A `ballast-profile:1:` line, profile TOML, or a preset name.
    pub profile: String,
    /// The amount to invest (a decimal string or number).
    pub amount: Value,
}

/// `POST /api/profiles/parse`.
pub async fn parse_profile(State(st): State<Arc<AppState>>, ApiJson(body): ApiJson<ProfileBody>) -> ApiResult {
    let amount = match &body.amount {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return Err(ApiError::bad_request("amount: expected a decimal number")),
    };
    Ok(Json(with_workshop(&st, move |w| w.parse_profile(&body.profile, &amount)).await?).into_response())
}

/// `POST /api/backtests`.
pub async fn backtest(State(st): State<Arc<AppState>>, ApiJson(body): ApiJson<Value>) -> ApiResult {
    if !body.is_object() {
        return Err(ApiError::bad_request("expected an object with config, or preset and amount"));
    }
    let (summary, html) = with_workshop(&st, move |w| w.backtest(&body)).await?;
    let id = st.next_backtest.fetch_add(1, Ordering::Relaxed);
    {
        let mut kept = st.backtests.lock().unwrap_or_else(|e| e.into_inner());
        kept.push((id, html));
        let excess = kept.len().saturating_sub(KEPT_REPORTS);
        kept.drain(..excess);
    }
    Ok(Json(json!({ "id": id, "summary": summary, "report_url": format!("/api/backtests/{id}/report") }))
        .into_response())
}

/// The Content-Security-Policy of a backtest report: nothing from anywhere, inline
/// styles, and exactly the report's own inline scripts (its hover read-outs), each
/// allowed by its SHA-256 hash, so nothing else can run in it.
pub fn report_csp(html: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let mut hashes = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("<script>") {
        let body = &rest[i + "<script>".len()..];
        let Some(j) = body.find("</script>") else { break };
        let digest = sha2::Sha256::digest(&body.as_bytes()[..j]);
        hashes.push(format!("'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(digest)));
        rest = &body[j..];
    }
    let scripts = if hashes.is_empty() { "'none'".to_string() } else { hashes.join(" ") };
    format!(
        "default-src 'none'; script-src {scripts}; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
    )
}

/// `GET /api/backtests/{id}/report`: the report, whose only scripts are its own.
pub async fn backtest_report(State(st): State<Arc<AppState>>, Path(id): Path<u64>) -> ApiResult {
    let kept = st.backtests.lock().unwrap_or_else(|e| e.into_inner());
    let html = kept.iter().find(|(i, _)| *i == id).map(|(_, h)| h.clone()).ok_or_else(|| {
        ApiError(StatusCode::NOT_FOUND, format!("no backtest {id} (this server keeps the last {KEPT_REPORTS})"))
    })?;
    let csp = report_csp(&html);
    Ok((
        [
            (CONTENT_TYPE, "text/html; charset=utf-8".to_string()),
            (CONTENT_SECURITY_POLICY, csp),
            (X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        ],
        html,
    )
        .into_response())
}

/// `GET /api/stream`: server-sent events (`bot`, `tick`), with a keep-alive comment
/// every 15 s. A client too slow to keep up gets a `lagged` event and should reload.
pub async fn stream(
    State(st): State<Arc<AppState>>,
) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let rx = st.updates.subscribe();
    let s = futures_util::stream::unfold(rx, |mut rx| async move {
        use tokio::sync::broadcast::error::RecvError;
        let ev = match rx.recv().await {
            Ok(u) => Event::default().event(u.event).data(u.data.to_string()),
            Err(RecvError::Lagged(n)) => Event::default().event("lagged").data(json!({ "missed": n }).to_string()),
            Err(RecvError::Closed) => return None,
        };
        Some((Ok(ev), rx))
    });
    Sse::new(s).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

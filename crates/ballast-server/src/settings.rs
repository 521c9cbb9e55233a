//! Settings in the browser: notifications (`notify.toml`, through
//! [`crate::notify::change`], the code of `ballast notify set`) and the venues' API keys
//! (the encrypted key file, through `ballast_keys::KeyStore::put` and `forget`, the code
//! of `ballast keys add` and `remove`). Keys are write-only: an answer names a venue
//! and its redacted API key, never a secret; every change of a key needs the key
//! file's passphrase, which the server uses for that request only and never keeps.
//! Errors name the setting, never a path of the server.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ballast_keys::{Credentials, KeyError, KeyStore, Passphrase, Zeroizing};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::blocking;
use crate::notify::{DEFAULT_KINDS, NotifyChange, NotifyConfig, NotifyError, redact_url};
use crate::{ApiError, ApiJson, AppState};

type ApiResult = Result<Response, ApiError>;

fn data_dir(st: &AppState) -> Result<PathBuf, ApiError> {
    st.data_dir.clone().ok_or_else(|| {
        ApiError(StatusCode::SERVICE_UNAVAILABLE, "this server has no data directory for settings".into())
    })
}

impl From<NotifyError> for ApiError {
    fn from(e: NotifyError) -> Self {
        match e {
            // The message names the setting; the file's path stays on the server.
            NotifyError::Config { msg, .. } => ApiError::bad_request(format!("notifications: {msg}")),
            other => {
                eprintln!("notification settings: {other}");
                ApiError::internal("the notification settings could not be read or written (see the server's log)")
            }
        }
    }
}

/// A key file error as the browser sees it: what to do, never a path.
fn key_error(e: KeyError) -> ApiError {
    match e {
        KeyError::Decrypt(_) => {
            ApiError(StatusCode::FORBIDDEN, "wrong passphrase for the key file (or the file was changed)".into())
        }
        KeyError::Invalid { what, reason } => ApiError::bad_request(format!("{what}: {reason}")),
        KeyError::Missing(_) => ApiError(StatusCode::NOT_FOUND, "no key file yet: store a key first".into()),
        other => {
            eprintln!("key settings: {other}");
            ApiError::internal("the key file could not be read or written (see the server's log)")
        }
    }
}

/// The notification settings for the page: the webhook's URL redacted and its header
/// names (not their values), Telegram's chat (not its token).
pub fn notify_json(config: Option<&NotifyConfig>) -> Value {
    let c = config.cloned().unwrap_or_default();
    json!({
        "on": config.is_some(),
        "webhook": c.webhook.as_ref().map(|w| json!({
            "url": redact_url(&w.url),
            "headers": w.headers.keys().collect::<Vec<_>>(),
        })),
        "telegram": c.telegram.as_ref().map(|t| json!({
            "chat_id": t.chat_id,
            "base_url": t.base_url,
            "token_sealed": t.token == crate::SEALED,
        })),
        "kinds": c.kinds,
        "default_kinds": DEFAULT_KINDS,
    })
}

/// `GET /api/notify`.
pub async fn get_notify(State(st): State<Arc<AppState>>) -> ApiResult {
    let dir = data_dir(&st)?;
    let v = blocking(move || Ok(notify_json(NotifyConfig::load(&dir)?.as_ref()))).await?;
    Ok(axum::Json(v).into_response())
}

/// `PUT /api/notify`: a [`NotifyChange`] (what is not given is kept; no target left:
/// notifications off).
pub async fn put_notify(State(st): State<Arc<AppState>>, ApiJson(change): ApiJson<NotifyChange>) -> ApiResult {
    let dir = data_dir(&st)?;
    let v = blocking(move || {
        let config = crate::notify::change(&dir, &change, &*st.store)?;
        Ok(notify_json(config.as_ref()))
    })
    .await?;
    Ok(axum::Json(v).into_response())
}

/// The stored keys: venue and redacted API key.
fn keys_json(store: &KeyStore) -> Value {
    Value::Array(store.venues().map(|(v, c)| json!({ "venue": v, "api_key": c.redacted_key() })).collect())
}

fn passphrase(p: &str) -> Result<Passphrase, ApiError> {
    Passphrase::new(p).map_err(|_| ApiError::bad_request("passphrase: it is empty"))
}

fn venue(v: &str) -> Result<(), ApiError> {
    if ballast_keys::VENUES.contains(&v) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!("venue {v:?}: expected one of {}", ballast_keys::VENUES.join(", "))))
    }
}

/// `GET /api/keys`: whether the key file exists and the venues a key can be stored for.
pub async fn get_keys(State(st): State<Arc<AppState>>) -> ApiResult {
    let dir = data_dir(&st)?;
    Ok(axum::Json(json!({ "file": KeyStore::path_in(&dir).exists(), "venues": ballast_keys::VENUES })).into_response())
}

/// `{passphrase}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PassphraseBody {
    passphrase: Zeroizing<String>,
}

/// `POST /api/keys/list {passphrase}`: the stored keys (venue, redacted API key).
pub async fn list_keys(State(st): State<Arc<AppState>>, ApiJson(body): ApiJson<PassphraseBody>) -> ApiResult {
    let dir = data_dir(&st)?;
    let v = blocking(move || {
        let pass = passphrase(&body.passphrase)?;
        let path = KeyStore::path_in(&dir);
        if !path.exists() {
            return Ok(json!({ "keys": [] }));
        }
        let store = KeyStore::open(&path, &pass).map_err(key_error)?;
        Ok(json!({ "keys": keys_json(&store) }))
    })
    .await?;
    Ok(axum::Json(v).into_response())
}

/// `{api_key, secret, passphrase}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyBody {
    api_key: Zeroizing<String>,
    secret: Zeroizing<String>,
    passphrase: Zeroizing<String>,
}

/// `PUT /api/keys/{venue}`: stores or replaces the venue's key (a missing key file is
/// created under the passphrase); answers `{venue, api_key (redacted), replaced, keys}`.
pub async fn put_key(
    State(st): State<Arc<AppState>>,
    Path(v): Path<String>,
    ApiJson(body): ApiJson<KeyBody>,
) -> ApiResult {
    venue(&v)?;
    let dir = data_dir(&st)?;
    let out = blocking(move || {
        let pass = passphrase(&body.passphrase)?;
        let creds = Credentials::new(body.api_key.trim(), body.secret.trim()).map_err(key_error)?;
        let shown = creds.redacted_key();
        let (store, replaced) = KeyStore::put(&KeyStore::path_in(&dir), &v, creds, &pass).map_err(key_error)?;
        Ok(json!({ "venue": v, "api_key": shown, "replaced": replaced, "keys": keys_json(&store) }))
    })
    .await?;
    Ok(axum::Json(out).into_response())
}

/// `DELETE /api/keys/{venue} {passphrase}`: forgets the venue's key (404 when none).
pub async fn delete_key(
    State(st): State<Arc<AppState>>,
    Path(v): Path<String>,
    ApiJson(body): ApiJson<PassphraseBody>,
) -> ApiResult {
    venue(&v)?;
    let dir = data_dir(&st)?;
    let out = blocking(move || {
        let pass = passphrase(&body.passphrase)?;
        let (store, had) = KeyStore::forget(&KeyStore::path_in(&dir), &v, &pass).map_err(key_error)?;
        if !had {
            return Err(ApiError(StatusCode::NOT_FOUND, format!("no {v} key is stored")));
        }
        Ok(json!({ "venue": v, "removed": true, "keys": keys_json(&store) }))
    })
    .await?;
    Ok(axum::Json(out).into_response())
}

//! Notifications: a generic JSON webhook and Telegram, fed from the store's events.
//!
//! The configuration lives in `<data-dir>/notify.toml` (written mode 0600, since it
//! holds the Telegram token):
//!
//! ```toml
//! # Both sections are optional, but at least one is needed.
//! [webhook]
//! url = "https://example.com/hooks/ballast"
//! headers = { Authorization = "Bearer s3cret" }   # optional
//!
//! [telegram]
//! token = "123456:ABC..."          # the bot's token (a secret)
//! chat_id = "-1001234567890"       # or a number, or "@channel"
//! base_url = "https://api.telegram.org"   # optional (this is the default)
//!
//! # Optional: the event kinds to send (this is the default).
//! kinds = ["rebalance", "guard", "error", "key_revoked", "stop"]
//! ```
//!
//! Unknown keys are errors naming the key.
//!
//! A [`Notifier`] sends every event recorded after a durable cursor
//! (`<data-dir>/notify-cursor.json`, one position per target, replaced atomically), so
//! a restart neither resends nor misses an event. Delivery is at least once: a
//! target's position moves only after the target accepted the event, so a receiver
//! may see an event twice after a crash (the webhook's `X-Ballast-Event` header is the
//! event's id, to drop duplicates). A target that has no position yet (first use)
//! starts at the newest event. Each request gives up after 5 s and is tried
//! [`ATTEMPTS`] times with a short backoff; a target that still fails keeps its
//! position (the next [`Notifier::pump`] tries again) and the failure is returned.
//!
//! The webhook receives `POST <url>` with `Content-Type: application/json` and the body
//! `{"bot": 1, "bot_name": "majors", "kind": "rebalance", "message": "...", "time":
//! 1735689600000, "data": {...}}` (`time` in milliseconds since the Unix epoch, UTC).
//! Telegram receives `POST <base_url>/bot<token>/sendMessage` with
//! `{"chat_id": ..., "text": "ballast · majors: ..."}` (the Bot API's `sendMessage`).
//!
//! The token never appears in an error, a log line or a `Debug` output.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ballast_store::{BotId, Event, Store, StoreError};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The configuration file's name in the data directory.
pub const CONFIG_FILE: &str = "notify.toml";
/// The cursor file's name in the data directory.
pub const CURSOR_FILE: &str = "notify-cursor.json";
/// The event kinds sent when `kinds` is not given.
pub const DEFAULT_KINDS: &[&str] = &["rebalance", "guard", "error", "key_revoked", "stop"];
/// Telegram's Bot API server.
pub const DEFAULT_TELEGRAM_BASE_URL: &str = "https://api.telegram.org";
/// How many times a request is tried before the target is reported as failing.
pub const ATTEMPTS: usize = 3;
/// The time limit of one request.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// How long a target that failed is left alone before it is tried again.
pub const HOLD_OFF: Duration = Duration::from_secs(30);
/// How many events are read from the store at a time.
const PAGE: usize = 200;
/// What stands for a secret in messages and `Debug` output.
const REDACTED: &str = "<redacted>";

/// A notification failure. None of them carries the Telegram token.
#[derive(Debug, Error)]
pub enum NotifyError {
    /// The configuration is invalid.
    #[error("{}: {msg}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the key.
        msg: String,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// The store failed.
    #[error("notifications: {0}")]
    Store(#[from] StoreError),
    /// A target did not accept a message after every attempt.
    #[error("{target}: {msg}")]
    Delivery {
        /// `webhook <url>` or `telegram chat <id>`.
        target: String,
        /// What went wrong the last time (HTTP status and body, or the connection error).
        msg: String,
    },
}

/// Where to send notifications. See the [module documentation](self) for the file.
#[derive(Clone, PartialEq, Eq)]
pub struct NotifyConfig {
    /// The generic JSON webhook.
    pub webhook: Option<WebhookConfig>,
    /// Telegram.
    pub telegram: Option<TelegramConfig>,
    /// The event kinds sent.
    pub kinds: Vec<String>,
}

impl Default for NotifyConfig {
    /// No target, the default kinds.
    fn default() -> Self {
        Self { webhook: None, telegram: None, kinds: DEFAULT_KINDS.iter().map(|k| k.to_string()).collect() }
    }
}

/// The webhook target.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// `http://` or `https://` URL receiving the POST.
    pub url: String,
    /// Extra request headers (an `Authorization`, say); their values are redacted in
    /// `Debug` output and in [`NotifyConfig::describe`].
    pub headers: BTreeMap<String, String>,
}

/// The Telegram target.
#[derive(Clone, PartialEq, Eq)]
pub struct TelegramConfig {
    /// The bot's token (a secret).
    pub token: String,
    /// The chat: a numeric id (`-100...` for groups and channels) or `@channelname`.
    pub chat_id: String,
    /// The Bot API server, [`DEFAULT_TELEGRAM_BASE_URL`] unless set.
    pub base_url: String,
}

impl fmt::Debug for NotifyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotifyConfig")
            .field("webhook", &self.webhook)
            .field("telegram", &self.telegram)
            .field("kinds", &self.kinds)
            .finish()
    }
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: BTreeMap<&str, &str> = self.headers.keys().map(|k| (k.as_str(), REDACTED)).collect();
        f.debug_struct("WebhookConfig").field("url", &redact_url(&self.url)).field("headers", &headers).finish()
    }
}

impl fmt::Debug for TelegramConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelegramConfig")
            .field("token", &REDACTED)
            .field("chat_id", &self.chat_id)
            .field("base_url", &self.base_url)
            .finish()
    }
}

// ---- the file ---------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kinds: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    webhook: Option<FileWebhook>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    telegram: Option<FileTelegram>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileWebhook {
    url: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    headers: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTelegram {
    token: String,
    chat_id: ChatId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    base_url: Option<String>,
}

/// A chat id as written: a number or a string.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum ChatId {
    Number(i64),
    Text(String),
}

fn is_http_url(url: &str) -> bool {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/') && !r.chars().any(char::is_whitespace))
}

fn is_header_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

impl NotifyConfig {
    /// The path of the configuration file in `data_dir`.
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(CONFIG_FILE)
    }

    /// Reads `<data_dir>/notify.toml`; `None` when there is no such file.
    pub fn load(data_dir: &Path) -> Result<Option<Self>, NotifyError> {
        let path = Self::path(data_dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(NotifyError::Io { path, source }),
        };
        Self::parse(&text).map(Some).map_err(|msg| NotifyError::Config { path, msg })
    }

    /// Reads the configuration from TOML text. The error names the key.
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: FileConfig = toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())?;
        let config = Self {
            kinds: match file.kinds {
                Some(k) => k,
                None => Self::default().kinds,
            },
            webhook: file.webhook.map(|w| WebhookConfig { url: w.url, headers: w.headers }),
            telegram: file.telegram.map(|t| TelegramConfig {
                token: t.token,
                chat_id: match t.chat_id {
                    ChatId::Number(n) => n.to_string(),
                    ChatId::Text(s) => s,
                },
                base_url: t.base_url.unwrap_or_else(|| DEFAULT_TELEGRAM_BASE_URL.to_string()),
            }),
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks every value; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.webhook.is_none() && self.telegram.is_none() {
            return Err("no target: add a [webhook] or a [telegram] section".into());
        }
        if let Some(w) = &self.webhook {
            if !is_http_url(&w.url) {
                return Err(format!("webhook.url: {:?} is not an http:// or https:// URL", redact_url(&w.url)));
            }
            for (name, value) in &w.headers {
                if !is_header_name(name) {
                    return Err(format!("webhook.headers: {name:?} is not a valid header name"));
                }
                if value.chars().any(|c| c == '\r' || c == '\n') {
                    return Err(format!("webhook.headers.{name}: the value holds a line break"));
                }
            }
        }
        if let Some(t) = &self.telegram {
            if t.token.is_empty() || t.token.chars().any(|c| c == '/' || c.is_whitespace() || c.is_control()) {
                // The token itself is never repeated.
                return Err("telegram.token: empty, or holds a slash or a space".into());
            }
            if t.chat_id.is_empty() || t.chat_id.chars().any(char::is_whitespace) {
                return Err(format!("telegram.chat_id: {:?} is not a chat id or @channel", t.chat_id));
            }
            if !is_http_url(&t.base_url) {
                return Err(format!("telegram.base_url: {:?} is not an http:// or https:// URL", t.base_url));
            }
        }
        if self.kinds.is_empty() {
            return Err("kinds: empty (leave it out to use the default)".into());
        }
        for k in &self.kinds {
            if k.is_empty()
                || !k.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
            {
                return Err(format!("kinds: {k:?} is not an event kind (like rebalance, guard, error)"));
            }
        }
        Ok(())
    }

    /// True when the Telegram token was moved into the key file (`ballast keys seal`):
    /// the file holds [`crate::SEALED`] in its place.
    pub fn telegram_sealed(&self) -> bool {
        self.telegram.as_ref().is_some_and(|t| t.token == crate::SEALED)
    }

    /// The TOML text of this configuration.
    pub fn to_toml(&self) -> String {
        let default_kinds = self.kinds.iter().map(String::as_str).eq(DEFAULT_KINDS.iter().copied());
        let file = FileConfig {
            kinds: if default_kinds { None } else { Some(self.kinds.clone()) },
            webhook: self.webhook.as_ref().map(|w| FileWebhook { url: w.url.clone(), headers: w.headers.clone() }),
            telegram: self.telegram.as_ref().map(|t| FileTelegram {
                token: t.token.clone(),
                chat_id: ChatId::Text(t.chat_id.clone()),
                base_url: (t.base_url != DEFAULT_TELEGRAM_BASE_URL).then(|| t.base_url.clone()),
            }),
        };
        // Serializing plain strings, maps and lists cannot fail.
        toml::to_string(&file).unwrap_or_default()
    }

    /// Validates and writes `<data_dir>/notify.toml` atomically, readable by its owner
    /// only (mode 0600).
    pub fn save(&self, data_dir: &Path) -> Result<PathBuf, NotifyError> {
        let path = Self::path(data_dir);
        self.validate().map_err(|msg| NotifyError::Config { path: path.clone(), msg })?;
        write_atomically(&path, self.to_toml().as_bytes())?;
        Ok(path)
    }

    /// The configuration for people, secrets redacted (the token, header values).
    pub fn describe(&self) -> String {
        let mut out = String::new();
        match &self.webhook {
            Some(w) => {
                out.push_str(&format!("webhook:  POST {}\n", redact_url(&w.url)));
                for name in w.headers.keys() {
                    out.push_str(&format!("          header {name}: {REDACTED}\n"));
                }
            }
            None => out.push_str("webhook:  (not set)\n"),
        }
        match &self.telegram {
            Some(t) => out.push_str(&format!("telegram: chat {} via {} (token {REDACTED})\n", t.chat_id, t.base_url)),
            None => out.push_str("telegram: (not set)\n"),
        }
        out.push_str(&format!("kinds:    {}\n", self.kinds.join(", ")));
        out
    }
}

/// A change of the notification settings, made by `ballast notify set` and by the
/// dashboard (`PUT /api/notify`) through [`change`]: what is not given is kept. A
/// secret already stored (the Telegram token, header values) is never needed again to
/// change the rest: the Telegram chat can change without the token.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyChange {
    /// A new webhook URL (its headers: `webhook_headers`, else none).
    pub webhook_url: Option<String>,
    /// The new webhook's headers.
    #[serde(default)]
    pub webhook_headers: BTreeMap<String, String>,
    /// Removes the webhook.
    #[serde(default)]
    pub remove_webhook: bool,
    /// A new Telegram token (needs a chat, given or kept).
    pub telegram_token: Option<String>,
    /// A new Telegram chat.
    pub telegram_chat: Option<String>,
    /// A new Bot API server.
    pub telegram_base_url: Option<String>,
    /// Removes Telegram.
    #[serde(default)]
    pub remove_telegram: bool,
    /// The event kinds to send.
    pub kinds: Option<Vec<String>>,
}

impl fmt::Debug for NotifyChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotifyChange")
            .field("webhook_url", &self.webhook_url.as_deref().map(redact_url))
            .field("webhook_headers", &self.webhook_headers.keys().collect::<Vec<_>>())
            .field("remove_webhook", &self.remove_webhook)
            .field("telegram_token", &self.telegram_token.as_ref().map(|_| REDACTED))
            .field("telegram_chat", &self.telegram_chat)
            .field("remove_telegram", &self.remove_telegram)
            .field("kinds", &self.kinds)
            .finish()
    }
}

impl NotifyChange {
    /// True when it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.webhook_url.is_none()
            && !self.remove_webhook
            && self.telegram_token.is_none()
            && self.telegram_chat.is_none()
            && self.telegram_base_url.is_none()
            && !self.remove_telegram
            && self.kinds.is_none()
    }

    /// `config` changed; an error names the setting (never a secret).
    pub fn apply(&self, mut config: NotifyConfig) -> Result<NotifyConfig, String> {
        if self.is_empty() {
            return Err("nothing to change: give a webhook URL, a Telegram token and chat, or the kinds".into());
        }
        if self.remove_webhook {
            config.webhook = None;
        }
        if let Some(url) = &self.webhook_url {
            config.webhook = Some(WebhookConfig { url: url.trim().to_string(), headers: self.webhook_headers.clone() });
        }
        if self.remove_telegram {
            config.telegram = None;
        }
        if self.telegram_token.is_some() || self.telegram_chat.is_some() || self.telegram_base_url.is_some() {
            let old = config.telegram.take();
            let token = match (&self.telegram_token, &old) {
                (Some(t), _) => t.trim().to_string(),
                (None, Some(o)) => o.token.clone(),
                (None, None) => return Err("telegram.token: needed to set up Telegram".into()),
            };
            let chat_id = match (&self.telegram_chat, &old) {
                (Some(c), _) => c.trim().to_string(),
                (None, Some(o)) => o.chat_id.clone(),
                (None, None) => return Err("telegram.chat_id: needed with the token".into()),
            };
            let base_url = match (&self.telegram_base_url, &old) {
                (Some(u), _) => u.trim().to_string(),
                (None, Some(o)) => o.base_url.clone(),
                (None, None) => DEFAULT_TELEGRAM_BASE_URL.to_string(),
            };
            config.telegram = Some(TelegramConfig { token, chat_id, base_url });
        }
        if let Some(kinds) = &self.kinds {
            config.kinds = kinds.iter().map(|k| k.trim().to_string()).filter(|k| !k.is_empty()).collect();
        }
        Ok(config)
    }
}

/// Changes `<data_dir>/notify.toml`: reads it (or starts from no target), applies
/// `change`, and writes it (validated, mode 0600), or removes it when no target is
/// left (notifications off). A new target starts at the newest event of `store`: what
/// happened before is not sent, what happens from now on is. Returns the configuration
/// in force (`None`: off). `ballast notify set` and `PUT /api/notify`.
pub fn change(data_dir: &Path, change: &NotifyChange, store: &dyn Store) -> Result<Option<NotifyConfig>, NotifyError> {
    let path = NotifyConfig::path(data_dir);
    let config = NotifyConfig::load(data_dir)?.unwrap_or_default();
    let config = change.apply(config).map_err(|msg| NotifyError::Config { path: path.clone(), msg })?;
    if config.webhook.is_none() && config.telegram.is_none() {
        return match std::fs::remove_file(&path) {
            Ok(()) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(NotifyError::Io { path, source }),
        };
    }
    config.save(data_dir)?;
    if let Some(mut n) = Notifier::open(data_dir)? {
        n.start_new_targets(store)?;
    }
    Ok(Some(config))
}

/// A webhook URL for people: scheme, host and the first path segment; the rest of the
/// path and any query are redacted, since services such as Slack and Discord put the
/// webhook's secret there (`https://hooks.slack.com/services/<redacted>`).
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let mut parts = rest.splitn(3, '/');
    let host = parts.next().unwrap_or("");
    let host = host.rsplit_once('@').map(|(_, h)| h).unwrap_or(host);
    let first = parts.next();
    let more = parts.next().is_some() || url.contains('?') || url.contains('#');
    let mut out = if scheme.is_empty() { host.to_owned() } else { format!("{scheme}://{host}") };
    if let Some(f) = first {
        out.push('/');
        out.push_str(f);
    }
    if more {
        out.push('/');
        out.push_str(REDACTED);
    }
    out
}

/// `text` (an error message, say) with the webhook URL `url` shown as [`redact_url`]
/// shows it, and its secret part (the path after the first segment, the query)
/// removed wherever it appears on its own.
pub fn redact_url_in(text: &str, url: &str) -> String {
    if url.is_empty() {
        return text.to_owned();
    }
    let mut out = text.replace(url, &redact_url(url));
    let after_scheme = url.split_once("://").map_or(url, |(_, r)| r);
    let (path, query) = after_scheme.split_once('?').unwrap_or((after_scheme, ""));
    let path = path.split('#').next().unwrap_or("");
    let query = query.split('#').next().unwrap_or("");
    // The host and the first path segment are shown; the rest of the path is secret.
    let hidden_path = path.splitn(3, '/').nth(2).unwrap_or("");
    for secret in [hidden_path, query] {
        if secret.len() >= 4 {
            out = out.replace(secret, REDACTED);
        }
    }
    out
}

/// Writes `bytes` to `path` with [`ballast_fs::write_private`] (mode 0600 from
/// creation, fsync, rename), creating the directory if needed.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), NotifyError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| NotifyError::Io { path, source }
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    ballast_fs::write_private(path, bytes).map_err(io(path))
}

// ---- the targets ------------------------------------------------------------------

/// One message, whatever the target.
#[derive(Clone, Debug, PartialEq)]
pub struct Message<'a> {
    /// The event's row id (0 for a test message).
    pub id: i64,
    /// The bot's name.
    pub bot_name: &'a str,
    /// The event.
    pub event: &'a Event,
}

/// The webhook's JSON body for an event.
pub fn webhook_body(m: &Message<'_>) -> serde_json::Value {
    serde_json::json!({
        "bot": m.event.bot,
        "bot_name": m.bot_name,
        "kind": m.event.kind,
        "message": m.event.message,
        "time": m.event.time.0,
        "data": m.event.data,
    })
}

/// The Telegram text for an event: `ballast · <bot name>: <message>`.
pub fn telegram_text(m: &Message<'_>) -> String {
    format!("ballast · {}: {}", m.bot_name, m.event.message)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Target {
    Webhook,
    Telegram,
}

impl Target {
    fn key(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Telegram => "telegram",
        }
    }
}

/// Why one attempt failed, and whether trying again may help.
struct Failure {
    msg: String,
    transient: bool,
}

/// Sends events to the configured targets from a durable cursor. See the
/// [module documentation](self).
pub struct Notifier {
    config: NotifyConfig,
    cursor_path: PathBuf,
    /// The last event id each target accepted (or skipped).
    cursor: BTreeMap<String, i64>,
    agent: ureq::Agent,
    names: HashMap<BotId, String>,
    backoff: Vec<Duration>,
    /// A target that failed is left alone until then (so a dead receiver costs the
    /// bots one round of attempts per `hold_off`, not one per round).
    held: BTreeMap<&'static str, Instant>,
    hold_off: Duration,
    failures: u64,
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier")
            .field("config", &self.config)
            .field("cursor_path", &self.cursor_path)
            .field("cursor", &self.cursor)
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

impl Notifier {
    /// True when the Telegram token is sealed in the key file and was not handed over.
    pub fn telegram_sealed(&self) -> bool {
        self.config.telegram_sealed()
    }

    /// Hands over the sealed Telegram token (read from the key file by the binary);
    /// kept in memory only.
    pub fn unseal_telegram(&mut self, token: &str) {
        if let Some(t) = self.config.telegram.as_mut().filter(|t| t.token == crate::SEALED) {
            t.token = token.to_string();
        }
    }

    /// Reads `<data_dir>/notify.toml` and the cursor; `None` when notifications are not
    /// configured (no `notify.toml`).
    pub fn open(data_dir: &Path) -> Result<Option<Notifier>, NotifyError> {
        let Some(config) = NotifyConfig::load(data_dir)? else { return Ok(None) };
        let cursor_path = data_dir.join(CURSOR_FILE);
        let cursor = match std::fs::read_to_string(&cursor_path) {
            Ok(text) => serde_json::from_str::<BTreeMap<String, i64>>(&text).map_err(|e| NotifyError::Config {
                path: cursor_path.clone(),
                msg: format!("not a cursor ({e}); delete it to start again from the newest event"),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(source) => return Err(NotifyError::Io { path: cursor_path, source }),
        };
        let agent_config = ureq::Agent::config_builder()
            .timeout_global(Some(TIMEOUT))
            .http_status_as_error(false)
            .user_agent(concat!("ballast/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Some(Notifier {
            config,
            cursor_path,
            cursor,
            agent: ureq::Agent::new_with_config(agent_config),
            names: HashMap::new(),
            backoff: vec![Duration::from_millis(250), Duration::from_secs(1)],
            held: BTreeMap::new(),
            hold_off: HOLD_OFF,
            failures: 0,
        }))
    }

    /// The configuration in force.
    pub fn config(&self) -> &NotifyConfig {
        &self.config
    }

    /// The position of each configured target (`webhook`, `telegram`): the last event
    /// id it accepted. A target without one starts at the newest event at the next
    /// [`Notifier::pump`].
    pub fn cursor(&self) -> &BTreeMap<String, i64> {
        &self.cursor
    }

    /// How many deliveries failed (after every attempt) since the notifier was opened.
    pub fn failures(&self) -> u64 {
        self.failures
    }

    /// Sets how long a target that failed is left alone before the next pump tries it
    /// again ([`HOLD_OFF`] by default).
    pub fn set_hold_off(&mut self, hold_off: Duration) {
        self.hold_off = hold_off;
    }

    /// Sets the waits between attempts (their number plus one is the number of
    /// attempts); by default 250 ms then 1 s, so [`ATTEMPTS`] attempts.
    pub fn set_backoff(&mut self, waits: Vec<Duration>) {
        self.backoff = waits;
    }

    fn targets(&self) -> Vec<Target> {
        let mut t = Vec::new();
        if self.config.webhook.is_some() {
            t.push(Target::Webhook);
        }
        if self.config.telegram.is_some() {
            t.push(Target::Telegram);
        }
        t
    }

    fn target_name(&self, t: Target) -> String {
        match t {
            Target::Webhook => {
                format!("webhook {}", self.config.webhook.as_ref().map_or(String::new(), |w| redact_url(&w.url)))
            }
            Target::Telegram => {
                format!("telegram chat {}", self.config.telegram.as_ref().map_or("", |t| t.chat_id.as_str()))
            }
        }
    }

    /// Sends every event recorded after each target's position, oldest first, and moves
    /// the position after each accepted event (events of kinds not configured are
    /// passed over). Returns the number of messages delivered (one event to two
    /// targets counts two). A target with no position yet starts at the newest event
    /// (nothing is sent to it this time). A target that fails after every attempt
    /// keeps its position at the event that failed and is left alone for the hold-off
    /// ([`HOLD_OFF`], see [`Notifier::set_hold_off`]); the others carry on, and the
    /// first failure is returned once every target had its turn. At worst a pump
    /// takes [`ATTEMPTS`] × [`TIMEOUT`] plus the backoff per failing target.
    pub fn pump(&mut self, store: &dyn Store) -> Result<usize, NotifyError> {
        let mut delivered = 0;
        let mut first_error = None;
        for target in self.targets() {
            if self.held.get(target.key()).is_some_and(|until| Instant::now() < *until) {
                continue;
            }
            match self.pump_target(store, target) {
                Ok(n) => {
                    self.held.remove(target.key());
                    delivered += n;
                }
                Err(e) => {
                    if matches!(e, NotifyError::Delivery { .. }) {
                        self.failures += 1;
                        self.held.insert(target.key(), Instant::now() + self.hold_off);
                    }
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(delivered),
        }
    }

    /// Gives every configured target that has no position yet the newest event as its
    /// position, and sends nothing (what `ballast notify set` does, so that the events
    /// recorded between the configuration and the next run are sent). Returns the
    /// targets started.
    pub fn start_new_targets(&mut self, store: &dyn Store) -> Result<Vec<String>, NotifyError> {
        let mut started = Vec::new();
        for target in self.targets() {
            if !self.cursor.contains_key(target.key()) {
                let newest = newest_event_id(store)?;
                self.save_cursor(target.key(), newest)?;
                started.push(target.key().to_string());
            }
        }
        Ok(started)
    }

    fn pump_target(&mut self, store: &dyn Store, target: Target) -> Result<usize, NotifyError> {
        let key = target.key();
        let Some(mut at) = self.cursor.get(key).copied() else {
            let newest = newest_event_id(store)?;
            self.save_cursor(key, newest)?;
            return Ok(0);
        };
        let mut delivered = 0;
        loop {
            let page = store.events_after(at, PAGE)?;
            if page.is_empty() {
                break;
            }
            for (id, event) in &page {
                if self.config.kinds.contains(&event.kind) {
                    let name = self.bot_name(store, event.bot)?;
                    let message = Message { id: *id, bot_name: &name, event };
                    if let Err(e) = self.deliver(target, &message) {
                        if at != self.cursor.get(key).copied().unwrap_or_default() {
                            self.save_cursor(key, at)?;
                        }
                        return Err(e);
                    }
                    delivered += 1;
                    self.save_cursor(key, *id)?;
                }
                at = *id;
            }
        }
        if Some(at) != self.cursor.get(key).copied() {
            self.save_cursor(key, at)?;
        }
        Ok(delivered)
    }

    fn save_cursor(&mut self, key: &str, id: i64) -> Result<(), NotifyError> {
        let mut next = self.cursor.clone();
        next.insert(key.to_string(), id);
        let text = serde_json::to_string_pretty(&next).unwrap_or_default();
        write_atomically(&self.cursor_path, format!("{text}\n").as_bytes())?;
        self.cursor = next;
        Ok(())
    }

    fn bot_name(&mut self, store: &dyn Store, bot: BotId) -> Result<String, NotifyError> {
        if let Some(n) = self.names.get(&bot) {
            return Ok(n.clone());
        }
        let name = store.bot(bot)?.map(|b| b.name).unwrap_or_else(|| format!("bot {bot}"));
        self.names.insert(bot, name.clone());
        Ok(name)
    }

    /// Sends one test message to each configured target and says, per target, what
    /// happened. Nothing is recorded and the cursor does not move.
    pub fn send_test(&self, now_ms: i64) -> Vec<(String, Result<(), NotifyError>)> {
        let event = Event {
            bot: 0,
            time: ballast_core::Timestamp(now_ms),
            kind: "test".into(),
            message: "test message: notifications work".into(),
            data: serde_json::json!({}),
        };
        let message = Message { id: 0, bot_name: "ballast", event: &event };
        self.targets().into_iter().map(|t| (self.target_name(t), self.deliver(t, &message))).collect()
    }

    /// Tries one message on one target up to the configured number of attempts.
    fn deliver(&self, target: Target, m: &Message<'_>) -> Result<(), NotifyError> {
        let mut waits = self.backoff.iter();
        loop {
            let failure = match self.attempt(target, m) {
                Ok(()) => return Ok(()),
                Err(f) => f,
            };
            match waits.next() {
                Some(wait) if failure.transient => std::thread::sleep(*wait),
                _ => {
                    return Err(NotifyError::Delivery {
                        target: self.target_name(target),
                        msg: format!("event {} ({}): {}", m.id, m.event.kind, failure.msg),
                    });
                }
            }
        }
    }

    fn attempt(&self, target: Target, m: &Message<'_>) -> Result<(), Failure> {
        match (target, &self.config.webhook, &self.config.telegram) {
            (Target::Webhook, Some(w), _) => {
                let mut req = self
                    .agent
                    .post(&w.url)
                    .header("Content-Type", "application/json")
                    .header("X-Ballast-Event", &m.id.to_string());
                for (k, v) in &w.headers {
                    req = req.header(k, v);
                }
                let body = webhook_body(m).to_string();
                check(req.send(body.as_str()), &|s| redact_url_in(&s, &w.url), false)
            }
            (Target::Telegram, _, Some(t)) if t.token == crate::SEALED => Err(Failure {
                msg: "the Telegram token is sealed in keys.enc and was not unlocked (set BALLAST_PASSPHRASE)".into(),
                transient: false,
            }),
            (Target::Telegram, _, Some(t)) => {
                let url = format!("{}/bot{}/sendMessage", t.base_url.trim_end_matches('/'), t.token);
                let chat_id = match t.chat_id.parse::<i64>() {
                    Ok(n) => serde_json::json!(n),
                    Err(_) => serde_json::json!(t.chat_id),
                };
                let body = serde_json::json!({"chat_id": chat_id, "text": telegram_text(m)}).to_string();
                let req = self.agent.post(&url).header("Content-Type", "application/json");
                let scrub = |s: String| if t.token.is_empty() { s } else { s.replace(&t.token, REDACTED) };
                check(req.send(body.as_str()), &scrub, true)
            }
            _ => Err(Failure { msg: "not configured".into(), transient: false }),
        }
    }
}

/// Reads an answer: 2xx is delivered (for Telegram, `"ok": false` is not); a 5xx,
/// 408, 429 or a connection failure may pass on a retry; any other status will not.
/// Every message goes through `scrub` (which removes the target's secret); `telegram`:
/// a 2xx answer with `"ok": false` is a refusal.
fn check(
    result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    scrub: &dyn Fn(String) -> String,
    telegram: bool,
) -> Result<(), Failure> {
    let resp = result.map_err(|e| Failure { msg: scrub(e.to_string()), transient: true })?;
    let status = resp.status().as_u16();
    let mut body = resp.into_body().read_to_string().unwrap_or_default();
    if body.len() > 300 {
        let mut end = 300;
        while !body.is_char_boundary(end) {
            end -= 1;
        }
        body.truncate(end);
        body.push('…');
    }
    if (200..300).contains(&status) {
        let refused = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .is_some_and(|v| telegram && v.get("ok") == Some(&serde_json::Value::Bool(false)));
        if !refused {
            return Ok(());
        }
    }
    Err(Failure {
        msg: scrub(format!("HTTP {status}: {}", body.trim())),
        transient: status >= 500 || status == 408 || status == 429,
    })
}

/// The id of the newest event, or 0 when there is none.
pub fn newest_event_id(store: &dyn Store) -> Result<i64, StoreError> {
    crate::runlog::newest_id(store)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"
kinds = ["rebalance", "key_revoked"]
[webhook]
url = "https://example.com/hook"
headers = { Authorization = "Bearer hdr-secret" }
[telegram]
token = "123456:TOKEN-SECRET"
chat_id = -1001234
"#;

    #[test]
    fn parses_the_full_file_with_defaults() {
        let c = NotifyConfig::parse(FULL).unwrap();
        assert_eq!(c.kinds, ["rebalance", "key_revoked"]);
        let w = c.webhook.as_ref().unwrap();
        assert_eq!(w.url, "https://example.com/hook");
        assert_eq!(w.headers["Authorization"], "Bearer hdr-secret");
        let t = c.telegram.as_ref().unwrap();
        assert_eq!((t.chat_id.as_str(), t.base_url.as_str()), ("-1001234", DEFAULT_TELEGRAM_BASE_URL));
        let only_hook = NotifyConfig::parse("[webhook]\nurl = \"http://127.0.0.1:9/x\"\n").unwrap();
        assert_eq!(only_hook.kinds, DEFAULT_KINDS);
        assert!(only_hook.telegram.is_none());
        // The written text reads back the same.
        assert_eq!(NotifyConfig::parse(&c.to_toml()).unwrap(), c);
        assert_eq!(NotifyConfig::parse(&only_hook.to_toml()).unwrap(), only_hook);
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            ("[webhook]\nurl = \"https://x\"\nurll = 1\n", "urll"),
            ("colour = 1\n[webhook]\nurl = \"https://x\"\n", "colour"),
            ("[telegram]\ntoken = \"a:b\"\nchat_id = 1\nbase = \"x\"\n", "base"),
            ("[telegram]\ntoken = \"a:b\"\n", "chat_id"),
            ("[webhook]\nurl = \"ftp://x\"\n", "webhook.url"),
            ("[telegram]\ntoken = \"a:b\"\nchat_id = 1\nbase_url = \"nope\"\n", "telegram.base_url"),
            ("[telegram]\ntoken = \"a b\"\nchat_id = 1\n", "telegram.token"),
            ("[webhook]\nurl = \"https://x\"\nheaders = { \"Bad Name\" = \"v\" }\n", "webhook.headers"),
            ("kinds = []\n[webhook]\nurl = \"https://x\"\n", "kinds"),
            ("kinds = [\"Rebalance!\"]\n[webhook]\nurl = \"https://x\"\n", "Rebalance!"),
            ("", "no target"),
            ("[webhook\n", "TOML"),
        ];
        for (text, needle) in cases {
            let e = NotifyConfig::parse(text).unwrap_err();
            assert!(e.contains(needle), "{text:?}: expected {needle:?} in {e}");
        }
    }

    #[test]
    fn error_texts_lose_the_webhook_secret() {
        let url = "https://hooks.slack.com/services/T0/B0/XYZSECRET?key=QSECRET";
        let text = format!("POST {url}: failed; path /services/T0/B0/XYZSECRET, query key=QSECRET");
        let out = redact_url_in(&text, url);
        assert!(!out.contains("XYZSECRET") && !out.contains("QSECRET"), "{out}");
        assert!(out.contains("https://hooks.slack.com/services/<redacted>"), "{out}");
        assert_eq!(redact_url_in("nothing here", url), "nothing here");
        assert_eq!(redact_url_in("x", ""), "x");
    }

    #[test]
    fn webhook_urls_are_shown_without_their_secret_part() {
        assert_eq!(
            redact_url("https://hooks.slack.com/services/T0/B0/XYZSECRET"),
            format!("https://hooks.slack.com/services/{REDACTED}")
        );
        assert_eq!(redact_url("https://discord.com/api/webhooks/1/tok"), format!("https://discord.com/api/{REDACTED}"));
        assert_eq!(
            redact_url("https://user:pw@example.com/hook?key=SECRET"),
            format!("https://example.com/hook/{REDACTED}")
        );
        assert_eq!(redact_url("http://127.0.0.1:9/hook"), "http://127.0.0.1:9/hook");
        let c = NotifyConfig::parse("[webhook]\nurl = \"https://hooks.slack.com/services/T0/B0/XYZSECRET\"\n").unwrap();
        assert!(!c.describe().contains("XYZSECRET"), "{}", c.describe());
    }

    #[test]
    fn secrets_are_redacted() {
        let c = NotifyConfig::parse(FULL).unwrap();
        for shown in [format!("{c:?}"), c.describe()] {
            assert!(!shown.contains("TOKEN-SECRET") && !shown.contains("hdr-secret"), "{shown}");
            assert!(shown.contains(REDACTED) && shown.contains("-1001234"), "{shown}");
        }
        let bad = "[telegram]\ntoken = \"12 SECRET\"\nchat_id = 1\n";
        assert!(!NotifyConfig::parse(bad).unwrap_err().contains("SECRET"));
    }

    #[test]
    fn save_is_owner_only_and_load_reads_it_back() {
        let dir = tempfile::tempdir().unwrap();
        assert!(NotifyConfig::load(dir.path()).unwrap().is_none());
        assert!(Notifier::open(dir.path()).unwrap().is_none());
        let c = NotifyConfig::parse(FULL).unwrap();
        let path = c.save(dir.path()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert_eq!(NotifyConfig::load(dir.path()).unwrap(), Some(c));
        std::fs::write(&path, "[webhook]\nurl = 3\n").unwrap();
        let e = NotifyConfig::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("notify.toml") && e.contains("url"), "{e}");
    }

    #[test]
    fn a_broken_cursor_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        NotifyConfig::parse("[webhook]\nurl = \"http://127.0.0.1:9/\"\n").unwrap().save(dir.path()).unwrap();
        std::fs::write(dir.path().join(CURSOR_FILE), "garbage").unwrap();
        let e = Notifier::open(dir.path()).unwrap_err().to_string();
        assert!(e.contains(CURSOR_FILE), "{e}");
    }
}

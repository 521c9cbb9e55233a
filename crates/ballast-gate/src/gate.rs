//! The Gate spot venue: configuration, request pipeline and the `Exchange` impl.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use ballast_core::planner::Side;
use ballast_core::rules::PriceRounding;
use ballast_core::{Asset, Price, Prices, SymbolRules};
use ballast_exchange::{
    Balance, ClientOrderId, Clock, DustConversion, Exchange, ExchangeError, FeeRates, OrderKind, OrderReport,
    OrderRequest, Touch,
};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use ballast_http::Quiet;

use crate::sign::sign;
use crate::transport::{HttpRequest, HttpResponse, Method, Transport, TransportError};
use crate::wire;

/// The production base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.gateio.ws/api/v4";

/// How to reach and use a Gate account.
#[derive(Clone)]
pub struct GateConfig {
    /// Base URL including `/api/v4` (default [`DEFAULT_BASE_URL`]).
    pub base_url: String,
    /// API key (`KEY` header).
    pub api_key: String,
    /// API secret (signs requests; never sent, never printed).
    pub secret: String,
    /// Market BUYs are sent as IOC limit orders at the last price plus this many
    /// basis points, rounded up to the tick (default 50 = 0.5 %).
    pub market_buy_slippage_bps: Decimal,
    /// Order placements allowed per second (Gate: 10 per second per pair and UID).
    pub orders_per_sec: usize,
    /// Other requests allowed per 10 s (Gate: 200 per 10 s per endpoint).
    pub requests_per_10s: usize,
    /// Resynchronise with `/spot/time` after this long (ms; Gate accepts a 60 s skew).
    pub time_resync_ms: i64,
    /// Wait suggested on HTTP 429 without `Retry-After` (ms).
    pub default_retry_after_ms: u64,
    /// How long an order request stays acceptable (ms): its deadline is sent as
    /// `X-Gate-Exptime` (default 5000).
    pub order_window_ms: i64,
}

impl GateConfig {
    /// A configuration with the defaults and this key pair.
    pub fn new(api_key: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_string(),
            api_key: api_key.into(),
            secret: secret.into(),
            market_buy_slippage_bps: Decimal::from(50),
            orders_per_sec: 10,
            requests_per_10s: 200,
            time_resync_ms: 300_000,
            default_retry_after_ms: 1_000,
            order_window_ms: 5_000,
        }
    }
}

impl fmt::Debug for GateConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GateConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &"<redacted>")
            .field("secret", &"<redacted>")
            .field("market_buy_slippage_bps", &self.market_buy_slippage_bps)
            .field("orders_per_sec", &self.orders_per_sec)
            .field("requests_per_10s", &self.requests_per_10s)
            .field("time_resync_ms", &self.time_resync_ms)
            .field("default_retry_after_ms", &self.default_retry_after_ms)
            .field("order_window_ms", &self.order_window_ms)
            .finish()
    }
}

/// What [`Gate::check_key`] learnt about the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyCheck {
    /// The key works and cannot withdraw.
    Ok,
    /// The key works but its permissions cannot be verified: the message says what
    /// the user must check.
    Unknown(String),
}

/// A failed call, before it is turned into an [`ExchangeError`].
#[derive(Debug)]
enum Failure {
    /// The venue answered with an error.
    Api { status: u16, label: String, message: String, retry_after_ms: Option<u64> },
    /// No answer.
    Transport(TransportError),
    /// Refused locally by the request budget.
    Budget { retry_after_ms: u64 },
    /// A 2xx whose body could not be read.
    BadBody(String),
    /// The request's acceptance window ended before it could be sent: nothing sent.
    Expired(String),
}

impl Failure {
    fn label(&self) -> Option<&str> {
        match self {
            Self::Api { label, .. } => Some(label),
            _ => None,
        }
    }
}

const AUTH_LABELS: &[&str] = &[
    "INVALID_KEY",
    "INVALID_SIGNATURE",
    "FORBIDDEN",
    "MISSING_REQUIRED_HEADER",
    "IP_FORBIDDEN",
    "READ_ONLY",
    "INVALID_CREDENTIALS",
    "ACCOUNT_LOCKED",
];
const NOT_FOUND_LABELS: &[&str] = &["ORDER_NOT_FOUND", "INVALID_CURRENCY_PAIR", "INVALID_CURRENCY", "NOT_FOUND"];

/// Turns a failure into what the caller must do. `mutating` is true for POST and
/// DELETE: then a 5xx, a timeout after sending or an unreadable 2xx leaves the outcome unknown.
fn classify(f: Failure, mutating: bool, default_retry_ms: u64) -> ExchangeError {
    match f {
        Failure::Budget { retry_after_ms } => ExchangeError::RateLimited { retry_after_ms },
        Failure::Transport(e) if mutating && e.may_have_been_sent() => ExchangeError::OutcomeUnknown(e.to_string()),
        Failure::Transport(e) => ExchangeError::Unavailable(e.to_string()),
        Failure::BadBody(m) if mutating => ExchangeError::OutcomeUnknown(format!("unreadable success response: {m}")),
        Failure::BadBody(m) => ExchangeError::Unavailable(format!("unreadable response: {m}")),
        Failure::Expired(m) => ExchangeError::Unavailable(m),
        Failure::Api { status, label, message, retry_after_ms } => {
            let text = format!("{label}: {message}");
            if status == 429 || label == "TOO_MANY_REQUESTS" {
                ExchangeError::RateLimited { retry_after_ms: retry_after_ms.unwrap_or(default_retry_ms) }
            } else if status >= 500 {
                if mutating {
                    ExchangeError::OutcomeUnknown(format!("HTTP {status} {text}"))
                } else {
                    ExchangeError::Unavailable(format!("HTTP {status} {text}"))
                }
            } else if status == 401 || AUTH_LABELS.contains(&label.as_str()) {
                ExchangeError::Auth(text)
            } else if NOT_FOUND_LABELS.contains(&label.as_str()) {
                ExchangeError::NotFound(text)
            } else if label == "REQUEST_EXPIRED" {
                ExchangeError::Unavailable(format!("{text} (clock skew persists after a resync)"))
            } else {
                ExchangeError::Rejected(text)
            }
        }
    }
}

#[derive(Default)]
struct State {
    /// Server minus local clock, ms; `None` before the first sync.
    offset_ms: Option<i64>,
    synced_at: i64,
    rules: HashMap<String, SymbolRules>,
    /// Client id → Gate order id, for orders placed or found by this process.
    venue_ids: HashMap<ClientOrderId, String>,
    /// Send times (ms) of recent order placements and of other requests.
    order_sends: VecDeque<i64>,
    other_sends: VecDeque<i64>,
}

/// Gate API v4 spot, as an [`Exchange`].
pub struct Gate {
    config: GateConfig,
    transport: Arc<dyn Transport>,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    /// No request before this time: set by a 429 or an exhausted window, shared by
    /// every bot of the venue.
    quiet: Arc<Quiet>,
}

impl fmt::Debug for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gate").field("config", &self.config).finish_non_exhaustive()
    }
}

/// One request to make.
struct Call<'a> {
    method: Method,
    endpoint: String,
    query: Vec<(&'a str, String)>,
    body: Option<String>,
    signed: bool,
    /// The last moment (ms, local clock) the venue may accept the request.
    expires_at: Option<i64>,
}

impl<'a> Call<'a> {
    fn get(endpoint: impl Into<String>, query: Vec<(&'a str, String)>, signed: bool) -> Self {
        Self { method: Method::Get, endpoint: endpoint.into(), query, body: None, signed, expires_at: None }
    }
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The path part of a URL (`https://host/api/v4` → `/api/v4`).
fn url_path(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(url, |i| &url[i + 3..]);
    after_scheme.find('/').map_or("", |i| &after_scheme[i..])
}

impl Gate {
    /// A venue over `transport`, signing with `config`'s key and reading time from `clock`.
    pub fn new(config: GateConfig, transport: Arc<dyn Transport>, clock: Arc<dyn Clock>) -> Self {
        Self { config, transport, clock, state: Mutex::new(State::default()), quiet: Arc::new(Quiet::new()) }
    }

    /// Uses `quiet` as the venue's quiet period (one per venue, possibly shared with
    /// other processes through its file): after a 429 or an exhausted rate-limit
    /// window nothing is sent until it has passed.
    pub fn with_quiet(mut self, quiet: Arc<Quiet>) -> Self {
        self.quiet = quiet;
        self
    }

    /// The end of the venue's quiet period (ms, local clock; 0 if none).
    pub fn quiet_until_ms(&self) -> i64 {
        self.quiet.until_ms()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn mutating(m: Method) -> bool {
        m != Method::Get
    }

    fn err(&self, f: Failure, method: Method) -> ExchangeError {
        classify(f, Self::mutating(method), self.config.default_retry_after_ms)
    }

    /// Checks the local budget and records the send.
    fn take_budget(&self, is_order: bool) -> Result<(), Failure> {
        let now = self.clock.now().0;
        if let Some(retry_after_ms) = self.quiet.wait_ms(now) {
            return Err(Failure::Budget { retry_after_ms });
        }
        let mut st = self.state();
        let (sends, cap, window) = if is_order {
            (&mut st.order_sends, self.config.orders_per_sec, 1_000)
        } else {
            (&mut st.other_sends, self.config.requests_per_10s, 10_000)
        };
        while sends.front().is_some_and(|t| *t + window <= now) {
            sends.pop_front();
        }
        if sends.len() >= cap {
            let oldest = *sends.front().expect("cap > 0 when full");
            return Err(Failure::Budget { retry_after_ms: (oldest + window - now).max(1) as u64 });
        }
        sends.push_back(now);
        Ok(())
    }

    /// Reads Gate's rate-limit headers; remembers an exhausted window.
    fn note_limits(&self, resp: &HttpResponse) -> Option<u64> {
        let now = self.clock.now().0;
        let reset = resp.header("X-Gate-RateLimit-Reset-Timestamp").and_then(|v| v.trim().parse::<i64>().ok());
        // Seconds or milliseconds, whichever it is.
        let reset_ms = reset.map(|r| if r < 100_000_000_000 { r * 1000 } else { r });
        let remain = resp.header("X-Gate-RateLimit-Requests-Remain").and_then(|v| v.trim().parse::<i64>().ok());
        if remain == Some(0)
            && let Some(r) = reset_ms
            && r > now
        {
            self.quiet.hold_until(r);
        }
        let retry =
            resp.header("Retry-After").and_then(|v| v.trim().parse::<u64>().ok()).map(|s| s.saturating_mul(1000));
        let wait = retry.or(reset_ms.filter(|r| *r > now).map(|r| (r - now) as u64));
        if resp.status == 429 {
            let ms = wait.unwrap_or(self.config.default_retry_after_ms);
            self.quiet.hold_until(now.saturating_add(ms as i64));
        }
        wait
    }

    fn sync_time(&self) -> Result<i64, Failure> {
        let before = self.clock.now().0;
        let v = self.send(&Call::get("/spot/time", vec![], false), 0)?;
        let after = self.clock.now().0;
        let server = wire::parse_server_time(&v).map_err(Failure::BadBody)?;
        let offset = server - (before + after) / 2;
        let mut st = self.state();
        st.offset_ms = Some(offset);
        st.synced_at = after;
        Ok(offset)
    }

    fn offset(&self) -> Result<i64, Failure> {
        let now = self.clock.now().0;
        let cached = {
            let st = self.state();
            st.offset_ms.filter(|_| now - st.synced_at < self.config.time_resync_ms)
        };
        match cached {
            Some(o) => Ok(o),
            None => self.sync_time(),
        }
    }

    /// Builds, signs and sends one request; no retry.
    ///
    /// A call with a deadline carries it as `X-Gate-Exptime` (on the server's clock):
    /// Gate refuses a request that arrives later, so an order Gate does not know after
    /// its deadline was never placed. Once the deadline has passed nothing is sent.
    fn send(&self, call: &Call<'_>, offset_ms: i64) -> Result<Value, Failure> {
        if let Some(deadline) = call.expires_at {
            let left = deadline.saturating_sub(self.clock.now().0);
            if left <= 0 {
                return Err(Failure::Expired(format!(
                    "gate {}: the request's acceptance window ended {} ms ago, before it could be sent",
                    call.endpoint, -left
                )));
            }
        }
        self.take_budget(call.method == Method::Post)?;
        let query =
            call.query.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&");
        let base = self.config.base_url.trim_end_matches('/');
        let mut url = format!("{base}{}", call.endpoint);
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query);
        }
        let mut headers = vec![("Accept".to_string(), "application/json".to_string())];
        if call.body.is_some() {
            headers.push(("Content-Type".to_string(), "application/json".to_string()));
        }
        if call.signed {
            let ts = (self.clock.now().0 + offset_ms).div_euclid(1000);
            let path = format!("{}{}", url_path(base), call.endpoint);
            let body = call.body.as_deref().unwrap_or("");
            let sig = sign(&self.config.secret, call.method.as_str(), &path, &query, body, ts);
            headers.push(("KEY".to_string(), self.config.api_key.clone()));
            headers.push(("Timestamp".to_string(), ts.to_string()));
            headers.push(("SIGN".to_string(), sig));
            if let Some(deadline) = call.expires_at {
                headers.push(("X-Gate-Exptime".to_string(), deadline.saturating_add(offset_ms).to_string()));
            }
        }
        let req = HttpRequest { method: call.method, url, headers, body: call.body.clone().unwrap_or_default() };
        let resp = self.transport.send(req).map_err(Failure::Transport)?;
        let retry_after_ms = self.note_limits(&resp);
        if (200..300).contains(&resp.status) {
            // Some calls answer success with no content (`POST /wallet/small_balance`).
            if resp.body.trim().is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_str(&resp.body).map_err(|e| Failure::BadBody(e.to_string()));
        }
        let v: Value = serde_json::from_str(&resp.body).unwrap_or(Value::Null);
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let label = if s("label").is_empty() { format!("HTTP_{}", resp.status) } else { s("label") };
        let message = if s("message").is_empty() { resp.body.chars().take(200).collect() } else { s("message") };
        Err(Failure::Api { status: resp.status, label, message, retry_after_ms })
    }

    /// Sends a call; a signed call rejected as `REQUEST_EXPIRED` (refused before any
    /// effect) is retried once after resynchronising the clock.
    fn call(&self, call: &Call<'_>) -> Result<Value, Failure> {
        if !call.signed {
            return self.send(call, 0);
        }
        match self.send(call, self.offset()?) {
            Err(f) if f.label() == Some("REQUEST_EXPIRED") => {
                let offset = self.sync_time()?;
                self.send(call, offset)
            }
            other => other,
        }
    }

    fn call_ok(&self, call: &Call<'_>) -> Result<Value, ExchangeError> {
        self.call(call).map_err(|f| self.err(f, call.method))
    }

    /// Verifies that the key works (a signed read of `/spot/accounts`). Gate does not
    /// report a key's permissions through the spot API, so a working key yields
    /// [`KeyCheck::Unknown`] with a warning: the user must make sure it cannot withdraw.
    pub fn check_key(&self) -> Result<KeyCheck, ExchangeError> {
        self.call_ok(&Call::get("/spot/accounts", vec![], true))?;
        Ok(KeyCheck::Unknown("Gate does not report key permissions: make sure the key cannot withdraw".into()))
    }

    fn order_query(&self, pair: &str) -> Vec<(&'static str, String)> {
        vec![("account", "spot".into()), ("currency_pair", pair.to_string())]
    }

    fn trades_of(&self, pair: &str, order_id: &str) -> Result<Vec<ballast_exchange::Fill>, ExchangeError> {
        let q = vec![("currency_pair", pair.to_string()), ("order_id", order_id.to_string()), ("limit", "1000".into())];
        let v = self.call_ok(&Call::get("/spot/my_trades", q, true))?;
        wire::parse_trades(&v).map_err(ExchangeError::Unavailable)
    }

    /// An order object into a report, with its trades when anything executed.
    /// `strict`: a failure to read the trades is an error (else fills stay empty).
    fn report(&self, v: &Value, base: &Asset, quote: &Asset, strict: bool) -> Result<OrderReport, ExchangeError> {
        let pair = wire::pair_id(base, quote);
        let id = v.get("id").map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string)).unwrap_or_default();
        let fills = if wire::has_executions(v) {
            match self.trades_of(&pair, &id) {
                Ok(f) => f,
                Err(e) if strict => return Err(e),
                Err(_) => Vec::new(),
            }
        } else {
            Vec::new()
        };
        let r = wire::parse_order(v, base, quote, fills).map_err(ExchangeError::Unavailable)?;
        self.state().venue_ids.insert(r.client_id.clone(), r.venue_id.clone());
        Ok(r)
    }

    /// Gets the order `id_or_text`; `Ok(None)` on `ORDER_NOT_FOUND`.
    fn get_order(&self, id_or_text: &str, pair: &str) -> Result<Option<Value>, ExchangeError> {
        match self.call(&Call::get(format!("/spot/orders/{}", encode(id_or_text)), self.order_query(pair), true)) {
            Ok(v) => Ok(Some(v)),
            Err(f) if f.label() == Some("ORDER_NOT_FOUND") => Ok(None),
            Err(f) => Err(self.err(f, Method::Get)),
        }
    }

    /// Finds an order by client id: by its known Gate id, else by `text` (Gate
    /// answers for open orders and orders finished within the last hour), else among
    /// the pair's finished orders: those created within `window` (Unix ms, from..to)
    /// when the caller knows when the order was sent, else the last 100.
    fn find(
        &self,
        client_id: &ClientOrderId,
        base: &Asset,
        quote: &Asset,
        window: Option<(i64, i64)>,
    ) -> Result<Option<Value>, ExchangeError> {
        let pair = wire::pair_id(base, quote);
        let known = self.state().venue_ids.get(client_id).cloned();
        if let Some(id) = known
            && let Some(v) = self.get_order(&id, &pair)?
        {
            return Ok(Some(v));
        }
        let text = wire::text_of(client_id);
        if let Some(v) = self.get_order(&text, &pair)? {
            return Ok(Some(v));
        }
        let mut q = self.order_query(&pair);
        q.push(("status", "finished".into()));
        match window {
            Some((from, to)) => {
                q.push(("from", from.div_euclid(1000).to_string()));
                q.push(("to", (to.div_euclid(1000) + 1).to_string()));
                q.push(("limit", "1000".into()));
            }
            None => q.push(("limit", "100".into())),
        }
        let v = self.call_ok(&Call::get("/spot/orders", q, true))?;
        let orders = wire::orders_of_pair(&v, &pair).map_err(ExchangeError::Unavailable)?;
        Ok(orders.into_iter().find(|o| o.get("text").and_then(Value::as_str) == Some(text.as_str())).cloned())
    }

    /// The JSON body of `POST /spot/orders` for `order`; `ref_price` is the last
    /// price (used for market buys only).
    pub fn order_body(&self, order: &OrderRequest, rules: &SymbolRules, ref_price: Option<Price>) -> Value {
        let mut body = json!({
            "text": wire::text_of(&order.client_id),
            "currency_pair": wire::pair_id(&order.base, &order.quote),
            "account": "spot",
            "side": match order.side { Side::Buy => "buy", Side::Sell => "sell" },
            "amount": wire::dec_str(order.qty.0),
        });
        match (order.kind, order.side, ref_price) {
            (OrderKind::Limit { price }, _, _) => {
                body["type"] = json!("limit");
                body["price"] = json!(wire::dec_str(price.0));
            }
            // Post-only: `time_in_force=poc` ("PendingOrCancelled, makes a post-only
            // order that always enjoys a maker fee"); one that would take is not placed
            // (finished as `poc`, nothing filled) (Gate API v4, Spot, "Create an order",
            // https://www.gate.io/docs/developers/apiv4/en/#create-an-order).
            (OrderKind::PostOnly { price }, _, _) => {
                body["type"] = json!("limit");
                body["price"] = json!(wire::dec_str(price.0));
                body["time_in_force"] = json!("poc");
            }
            (OrderKind::Market, Side::Buy, Some(last)) => {
                let factor = Decimal::ONE + self.config.market_buy_slippage_bps / Decimal::from(10_000);
                let cap = rules.round_price(Price(last.0 * factor), PriceRounding::Up);
                body["type"] = json!("limit");
                body["price"] = json!(wire::dec_str(cap.0));
                body["time_in_force"] = json!("ioc");
            }
            (OrderKind::Market, _, _) => {
                body["type"] = json!("market");
                body["time_in_force"] = json!("ioc");
            }
        }
        body
    }

    /// Candles of `base`/`quote` from `/spot/candlesticks`, oldest first: `interval`
    /// as Gate names it (`1m`, `1h`, `4h`, `1d`, ...), optionally from/to in Unix
    /// seconds (inclusive), or the last `limit` (at most 1000).
    pub fn candles(
        &self,
        base: &Asset,
        quote: &Asset,
        interval: &str,
        from_to: Option<(i64, i64)>,
        limit: Option<u32>,
    ) -> Result<Vec<crate::wire::Candle>, ExchangeError> {
        let mut query = vec![("currency_pair", wire::pair_id(base, quote)), ("interval", interval.to_string())];
        match from_to {
            Some((from, to)) => {
                query.push(("from", from.to_string()));
                query.push(("to", to.to_string()));
            }
            None => query.push(("limit", limit.unwrap_or(1000).min(1000).to_string())),
        }
        let v = self.call_ok(&Call::get("/spot/candlesticks", query, false))?;
        wire::parse_candles(&v).map_err(ExchangeError::Unavailable)
    }

    /// The best bid and ask from `GET /spot/tickers?currency_pair=` (`highest_bid`,
    /// `lowest_ask`) (Gate API v4, Spot, "Retrieve ticker information",
    /// <https://www.gate.io/docs/developers/apiv4/en/#retrieve-ticker-information>).
    fn touch(&self, pair: &str) -> Result<Touch, ExchangeError> {
        let v = self.call_ok(&Call::get("/spot/tickers", vec![("currency_pair", pair.to_string())], false))?;
        wire::parse_touch(&v, pair).map_err(|e| ExchangeError::Unavailable(format!("gate tickers {pair}: {e}")))
    }

    fn last_price(&self, pair: &str) -> Result<Price, ExchangeError> {
        let v = self.call_ok(&Call::get("/spot/tickers", vec![("currency_pair", pair.to_string())], false))?;
        let t = wire::parse_tickers(&v).map_err(ExchangeError::Unavailable)?;
        t.get(pair).copied().ok_or_else(|| ExchangeError::NotFound(format!("no price for {pair}")))
    }
}

impl Exchange for Gate {
    fn name(&self) -> &str {
        "gate"
    }

    fn order_window_ms(&self) -> i64 {
        self.config.order_window_ms
    }

    fn best_bid_ask(&self, base: &Asset, quote: &Asset) -> Result<Touch, ExchangeError> {
        self.touch(&wire::pair_id(base, quote))
    }

    /// `POST /wallet/small_balance` with `{"currency": [...]}` (signed): "Convert small
    /// balance" into GT; it answers nothing, so what it gave is read from
    /// `GET /wallet/small_balance_history` (Gate API v4, Wallet, "Convert small balance",
    /// <https://www.gate.io/docs/developers/apiv4/en/#convert-small-balance>).
    fn convert_dust(&self, assets: &[Asset], _quote: &Asset) -> Result<DustConversion, ExchangeError> {
        let body = json!({"currency": assets.iter().map(Asset::as_str).collect::<Vec<_>>()}).to_string();
        let call = Call {
            method: Method::Post,
            endpoint: "/wallet/small_balance".into(),
            query: vec![],
            body: Some(body),
            signed: true,
            expires_at: None,
        };
        self.call(&call).map_err(|f| self.err(f, Method::Post))?;
        let v = self.call_ok(&Call::get("/wallet/small_balance_history", vec![], true))?;
        wire::parse_small_balance(&v, assets)
            .map_err(|e| ExchangeError::OutcomeUnknown(format!("gate small_balance: converted, but {e}")))
    }

    /// `GET /spot/fee?currency_pair=` (signed): the account's maker and taker rates,
    /// and the GT-deducted ones when `gt_discount` is on (Gate API v4, Spot, "Query
    /// user trading fee rates", <https://www.gate.io/docs/developers/apiv4/en/#query-user-trading-fee-rates>).
    fn fee_rates(&self, base: &Asset, quote: &Asset) -> Result<FeeRates, ExchangeError> {
        let pair = wire::pair_id(base, quote);
        let v = self.call_ok(&Call::get("/spot/fee", vec![("currency_pair", pair.clone())], true))?;
        wire::parse_fee(&v).map_err(|e| ExchangeError::Unavailable(format!("gate spot/fee {pair}: {e}")))
    }

    /// The clock is the local clock plus the offset measured with `/spot/time`.
    fn clock_allowance_ms(&self) -> i64 {
        5_000
    }

    fn rules(&self, base: &Asset, quote: &Asset) -> Result<SymbolRules, ExchangeError> {
        let pair = wire::pair_id(base, quote);
        if let Some(r) = self.state().rules.get(&pair) {
            return Ok(*r);
        }
        let v = self.call_ok(&Call::get(format!("/spot/currency_pairs/{pair}"), vec![], false))?;
        let r = wire::parse_rules(&v).map_err(ExchangeError::Unavailable)?;
        self.state().rules.insert(pair, r);
        Ok(r)
    }

    fn balances(&self) -> Result<BTreeMap<Asset, Balance>, ExchangeError> {
        let v = self.call_ok(&Call::get("/spot/accounts", vec![], true))?;
        wire::parse_balances(&v).map_err(ExchangeError::Unavailable)
    }

    fn prices(&self, bases: &[Asset], quote: &Asset) -> Result<Prices, ExchangeError> {
        let wanted: Vec<&Asset> = bases.iter().filter(|b| *b != quote).collect();
        let query = match wanted.as_slice() {
            [one] => vec![("currency_pair", wire::pair_id(one, quote))],
            _ => vec![],
        };
        if wanted.is_empty() {
            return Ok(Prices::new());
        }
        let v = self.call_ok(&Call::get("/spot/tickers", query, false))?;
        let tickers = wire::parse_tickers(&v).map_err(ExchangeError::Unavailable)?;
        Ok(wanted.into_iter().filter_map(|b| tickers.get(&wire::pair_id(b, quote)).map(|p| (b.clone(), *p))).collect())
    }

    fn place(&self, order: &OrderRequest) -> Result<OrderReport, ExchangeError> {
        if order.qty.0 <= Decimal::ZERO {
            return Err(ExchangeError::Rejected(format!("quantity {} is not positive", order.qty)));
        }
        if let Some(t) = order.expires_at
            && self.clock.now().0 >= t.0
        {
            return Err(self.err(
                Failure::Expired(format!(
                    "gate order {}: its acceptance window ended before it could be sent",
                    order.client_id
                )),
                Method::Post,
            ));
        }
        // Gate does not enforce unique `text`s: never rely on the venue for idempotency.
        if self.find(&order.client_id, &order.base, &order.quote, None)?.is_some() {
            return Err(ExchangeError::Duplicate(order.client_id.to_string()));
        }
        let (rules, last) = match (order.kind, order.side) {
            (OrderKind::Market, Side::Buy) => (
                self.rules(&order.base, &order.quote)?,
                Some(self.last_price(&wire::pair_id(&order.base, &order.quote))?),
            ),
            _ => (SymbolRules::default(), None),
        };
        let body = self.order_body(order, &rules, last).to_string();
        let call = Call {
            method: Method::Post,
            endpoint: "/spot/orders".into(),
            query: vec![],
            body: Some(body),
            signed: true,
            expires_at: order.expires_at.map(|t| t.0),
        };
        let v = self.call_ok(&call).inspect_err(|e| {
            if matches!(e, ExchangeError::Rejected(_)) {
                // The pair's rules may have changed since they were cached: the next
                // plan reads them again instead of repeating a refused order.
                self.state().rules.remove(&wire::pair_id(&order.base, &order.quote));
            }
        })?;
        // The order exists now: a failure to read its trades must not hide it.
        self.report(&v, &order.base, &order.quote, false)
    }

    /// Searches the finished orders of the request's acceptance window (from a minute
    /// before the window to a minute after its deadline), so that an order finished
    /// long ago and followed by 100 others is still found.
    fn query_order(&self, order: &OrderRequest) -> Result<Option<OrderReport>, ExchangeError> {
        let window = order.expires_at.map(|t| {
            let from = t.0.saturating_sub(self.order_window_ms()).saturating_sub(60_000);
            (from, t.0.saturating_add(60_000))
        });
        match self.find(&order.client_id, &order.base, &order.quote, window)? {
            Some(v) => self.report(&v, &order.base, &order.quote, true).map(Some),
            None => Ok(None),
        }
    }

    fn query(
        &self,
        client_id: &ClientOrderId,
        base: &Asset,
        quote: &Asset,
    ) -> Result<Option<OrderReport>, ExchangeError> {
        match self.find(client_id, base, quote, None)? {
            Some(v) => self.report(&v, base, quote, true).map(Some),
            None => Ok(None),
        }
    }

    fn open_orders(&self, base: &Asset, quote: &Asset) -> Result<Vec<OrderReport>, ExchangeError> {
        let pair = wire::pair_id(base, quote);
        let mut q = self.order_query(&pair);
        q.push(("status", "open".into()));
        q.push(("limit", "100".into()));
        let v = self.call_ok(&Call::get("/spot/orders", q, true))?;
        let orders = wire::orders_of_pair(&v, &pair).map_err(ExchangeError::Unavailable)?;
        orders.into_iter().map(|o| self.report(o, base, quote, true)).collect()
    }

    fn cancel(&self, client_id: &ClientOrderId, base: &Asset, quote: &Asset) -> Result<OrderReport, ExchangeError> {
        let pair = wire::pair_id(base, quote);
        let Some(found) = self.find(client_id, base, quote, None)? else {
            return Err(ExchangeError::NotFound(format!("order {client_id} on {pair}")));
        };
        let current = self.report(&found, base, quote, true)?;
        if current.status.is_final() {
            return Ok(current);
        }
        let call = Call {
            method: Method::Delete,
            endpoint: format!("/spot/orders/{}", encode(&current.venue_id)),
            query: self.order_query(&pair),
            body: None,
            signed: true,
            expires_at: None,
        };
        match self.call(&call) {
            Ok(v) => self.report(&v, base, quote, false),
            // Finished meanwhile: report its final state.
            Err(f) if matches!(f.label(), Some("ORDER_NOT_FOUND" | "ORDER_CLOSED" | "ORDER_CANCELLED")) => {
                match self.get_order(&current.venue_id, &pair)? {
                    Some(v) => self.report(&v, base, quote, true),
                    None => Err(ExchangeError::NotFound(format!("order {client_id} on {pair}"))),
                }
            }
            Err(f) => Err(self.err(f, Method::Delete)),
        }
    }
}

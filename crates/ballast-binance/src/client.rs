//! The adapter: [`Binance`] implements [`Exchange`] over the spot REST API.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use ballast_core::planner::Side;
use ballast_core::{Asset, Price, Prices, SymbolRules};
use ballast_exchange::{
    Balance, ClientOrderId, Clock, DustConversion, Exchange, ExchangeError, FeeRates, OrderKind, OrderReport,
    OrderRequest, Touch,
};
use serde_json::Value;

use crate::parse;
use crate::sign::{encode_params, sign};
use crate::transport::{HttpRequest, HttpResponse, Method, Transport, TransportError};
use ballast_http::Quiet;

/// Connection settings. `Debug` never shows the key or the secret.
#[derive(Clone)]
pub struct BinanceConfig {
    /// `https://api.binance.com` by default; a local URL for `ballast sim` and tests.
    pub base_url: String,
    /// The API key (sent as `X-MBX-APIKEY`).
    pub api_key: String,
    /// The secret key (signs requests; never sent).
    pub secret: String,
    /// `recvWindow` of signed requests, ms (5000).
    pub recv_window_ms: u64,
    /// The request weight per minute the adapter allows itself (1200; Binance's IP
    /// limit is 6000).
    pub weight_limit_per_minute: u32,
}

impl Default for BinanceConfig {
    fn default() -> Self {
        Self {
            base_url: "https://api.binance.com".into(),
            api_key: String::new(),
            secret: String::new(),
            recv_window_ms: 5000,
            weight_limit_per_minute: 1200,
        }
    }
}

impl fmt::Debug for BinanceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |s: &str| if s.is_empty() { "<empty>" } else { "<redacted>" };
        f.debug_struct("BinanceConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &redact(&self.api_key))
            .field("secret", &redact(&self.secret))
            .field("recv_window_ms", &self.recv_window_ms)
            .field("weight_limit_per_minute", &self.weight_limit_per_minute)
            .finish()
    }
}

/// What an API key may do, from `/sapi/v1/account/apiRestrictions`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyPermissions {
    /// `enableWithdrawals`.
    pub can_withdraw: bool,
    /// `enableSpotAndMarginTrading`.
    pub can_trade_spot: bool,
    /// `ipRestrict`: the key works only from listed IP addresses.
    pub ip_restricted: bool,
}

/// What a call does, for error mapping: a failure after sending an order or a cancel
/// may have taken effect, one of a read has not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Read,
    Place,
    Cancel,
}

/// A failed call: the Binance error code (if any) and the mapped error.
struct Failure {
    code: Option<i64>,
    msg: String,
    error: ExchangeError,
}

impl From<ExchangeError> for Failure {
    fn from(error: ExchangeError) -> Self {
        Self { code: None, msg: String::new(), error }
    }
}

struct Call {
    method: Method,
    path: &'static str,
    params: Vec<(String, String)>,
    signed: bool,
    weight: u32,
    op: Op,
    /// The last moment (ms, local clock) the venue may accept the request.
    expires_at: Option<i64>,
}

impl Call {
    fn new(method: Method, path: &'static str, weight: u32, op: Op) -> Self {
        Self { method, path, params: Vec::new(), signed: false, weight, op, expires_at: None }
    }
    fn signed(mut self) -> Self {
        self.signed = true;
        self
    }
    fn until(mut self, expires_at: Option<i64>) -> Self {
        self.expires_at = expires_at;
        self
    }
    fn param(mut self, k: &str, v: impl Into<String>) -> Self {
        self.params.push((k.to_string(), v.into()));
        self
    }
}

#[derive(Default)]
struct WeightState {
    /// The server minute (ms since epoch / 60000) `used` counts for.
    minute: i64,
    used: u32,
}

/// The Binance spot venue.
pub struct Binance {
    config: BinanceConfig,
    transport: Arc<dyn Transport>,
    clock: Arc<dyn Clock>,
    /// Server time minus local time, ms.
    offset_ms: AtomicI64,
    weight: Mutex<WeightState>,
    rules: Mutex<HashMap<String, SymbolRules>>,
    /// No request before this time: set by a 429 or 418, shared by every bot.
    quiet: Arc<Quiet>,
}

impl fmt::Debug for Binance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Binance")
            .field("config", &self.config)
            .field("offset_ms", &self.offset_ms.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// The Binance symbol of `base`/`quote`: `BTCUSDT`.
pub fn symbol(base: &Asset, quote: &Asset) -> String {
    format!("{base}{quote}")
}

fn side_str(s: Side) -> &'static str {
    match s {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

/// `{"code": -2010, "msg": "..."}` of an error body.
fn api_error(body: &str) -> (Option<i64>, String) {
    match serde_json::from_str::<Value>(body) {
        Ok(v) => {
            (v.get("code").and_then(Value::as_i64), v.get("msg").and_then(Value::as_str).unwrap_or(body).to_string())
        }
        Err(_) => (None, body.chars().take(200).collect()),
    }
}

/// The wait a 429/418 asks for: `Retry-After` seconds, else a minute.
fn retry_after_ms(resp: &HttpResponse) -> u64 {
    resp.header("Retry-After")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| s.saturating_mul(1000))
        .unwrap_or(60_000)
}

/// Maps an HTTP error response to an [`ExchangeError`].
fn classify(resp: &HttpResponse, code: Option<i64>, msg: &str, op: Op) -> ExchangeError {
    let what = match code {
        Some(c) => format!("binance {c}: {msg}"),
        None => format!("binance HTTP {}: {msg}", resp.status),
    };
    let retry_after_ms = || retry_after_ms(resp);
    let may_have_happened = matches!(op, Op::Place | Op::Cancel);
    match (resp.status, code) {
        (429 | 418, _) | (_, Some(-1003 | -1015)) => ExchangeError::RateLimited { retry_after_ms: retry_after_ms() },
        (500..=599, _) | (_, Some(-1006 | -1007)) if may_have_happened => ExchangeError::OutcomeUnknown(what),
        (500..=599, _) | (_, Some(-1000 | -1001 | -1006 | -1007 | -1008 | -1016 | -1021)) => {
            ExchangeError::Unavailable(what)
        }
        (401, _) | (_, Some(-1002 | -1022 | -2014 | -2015 | -2008)) => ExchangeError::Auth(what),
        (_, Some(-2011 | -2013 | -1121)) => ExchangeError::NotFound(what),
        (403, _) => ExchangeError::Unavailable(what),
        (400..=499, _) => ExchangeError::Rejected(what),
        _ => ExchangeError::Unavailable(what),
    }
}

fn map_transport(e: TransportError, op: Op) -> ExchangeError {
    if e.may_have_been_sent() && op != Op::Read {
        ExchangeError::OutcomeUnknown(format!("binance: {e}"))
    } else {
        ExchangeError::Unavailable(format!("binance: {e}"))
    }
}

impl Binance {
    /// An adapter. Nothing is sent until a method is called.
    pub fn new(config: BinanceConfig, transport: Arc<dyn Transport>, clock: Arc<dyn Clock>) -> Self {
        Self {
            config,
            transport,
            clock,
            offset_ms: AtomicI64::new(0),
            weight: Mutex::new(WeightState::default()),
            rules: Mutex::new(HashMap::new()),
            quiet: Arc::new(Quiet::new()),
        }
    }

    /// Uses `quiet` as the venue's quiet period (one per venue, possibly shared with
    /// other processes through its file): after a 429 or a 418 nothing is sent until
    /// its `Retry-After` has passed; every call meanwhile is `RateLimited` with the
    /// time left.
    pub fn with_quiet(mut self, quiet: Arc<Quiet>) -> Self {
        self.quiet = quiet;
        self
    }

    /// The end of the venue's quiet period (ms, local clock; 0 if none).
    pub fn quiet_until_ms(&self) -> i64 {
        self.quiet.until_ms()
    }

    /// The adapter's estimate of the server time, ms.
    fn server_now(&self) -> i64 {
        self.clock.now().0 + self.offset_ms.load(Ordering::SeqCst)
    }

    /// Server time minus local time (ms) as last measured by [`Self::sync_time`].
    pub fn time_offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::SeqCst)
    }

    /// Reads `/api/v3/time` and keeps the offset between the server's clock and ours,
    /// used for the `timestamp` of signed requests. Called automatically (once) when a
    /// signed request is refused with -1021; callers may also call it at start-up.
    pub fn sync_time(&self) -> Result<i64, ExchangeError> {
        let v = self.call(&Call::new(Method::Get, "/api/v3/time", 1, Op::Read)).map_err(|f| f.error)?;
        let server = v
            .get("serverTime")
            .and_then(Value::as_i64)
            .ok_or_else(|| ExchangeError::Unavailable("binance /api/v3/time: no serverTime".into()))?;
        let offset = server - self.clock.now().0;
        self.offset_ms.store(offset, Ordering::SeqCst);
        Ok(offset)
    }

    /// Reserves `weight` of this minute's budget, or says how long to wait.
    fn reserve_weight(&self, weight: u32) -> Result<(), ExchangeError> {
        let now = self.server_now();
        let minute = now.div_euclid(60_000);
        let mut w = self.weight.lock().unwrap_or_else(|p| p.into_inner());
        if w.minute != minute {
            *w = WeightState { minute, used: 0 };
        }
        if w.used.saturating_add(weight) > self.config.weight_limit_per_minute {
            let retry_after_ms = (60_000 - now.rem_euclid(60_000)) as u64;
            return Err(ExchangeError::RateLimited { retry_after_ms });
        }
        w.used += weight;
        Ok(())
    }

    /// Takes the venue's count of this minute's weight, when it sends one.
    fn note_weight(&self, resp: &HttpResponse) {
        if let Some(used) = resp.header("X-MBX-USED-WEIGHT-1M").and_then(|v| v.trim().parse::<u32>().ok()) {
            let minute = self.server_now().div_euclid(60_000);
            let mut w = self.weight.lock().unwrap_or_else(|p| p.into_inner());
            *w = WeightState { minute, used };
        }
    }

    /// This minute's weight as the adapter counts it.
    pub fn used_weight(&self) -> u32 {
        let w = self.weight.lock().unwrap_or_else(|p| p.into_inner());
        if w.minute == self.server_now().div_euclid(60_000) { w.used } else { 0 }
    }

    /// A public (unsigned, no key) `GET path?query` costing `weight`, through the weight
    /// budget and the error mapping of every call: the parsed JSON body.
    pub fn get_public(
        &self,
        path: &'static str,
        query: &[(&str, String)],
        weight: u32,
    ) -> Result<Value, ExchangeError> {
        let call = query.iter().fold(Call::new(Method::Get, path, weight, Op::Read), |c, (k, v)| c.param(k, v.clone()));
        self.read(call)
    }

    /// The request of a call. A call with a deadline carries `recvWindow` = the time
    /// left until it (Binance refuses a request that arrives later, so an order the
    /// venue does not know after its deadline was never placed); once the deadline has
    /// passed nothing is built, and the call fails as not sent.
    fn build(&self, c: &Call) -> Result<HttpRequest, ExchangeError> {
        let mut params = c.params.clone();
        let mut headers = Vec::new();
        if c.signed {
            let window = match c.expires_at {
                Some(deadline) => {
                    let left = deadline.saturating_sub(self.clock.now().0);
                    if left <= 0 {
                        return Err(ExchangeError::Unavailable(format!(
                            "binance {}: the request's acceptance window ended {} ms ago, before it could be sent",
                            c.path, -left
                        )));
                    }
                    // Binance accepts a recvWindow of at most 60 s.
                    left.min(60_000) as u64
                }
                None => self.config.recv_window_ms,
            };
            params.push(("recvWindow".into(), window.to_string()));
            params.push(("timestamp".into(), self.server_now().to_string()));
            headers.push(("X-MBX-APIKEY".to_string(), self.config.api_key.clone()));
        }
        let mut encoded = encode_params(&params);
        if c.signed {
            let sig = sign(&self.config.secret, &encoded);
            encoded.push_str(&format!("&signature={sig}"));
        }
        let base = self.config.base_url.trim_end_matches('/');
        let (url, body) = match c.method {
            Method::Post => {
                headers.push(("Content-Type".into(), "application/x-www-form-urlencoded".into()));
                (format!("{base}{}", c.path), encoded)
            }
            _ if encoded.is_empty() => (format!("{base}{}", c.path), String::new()),
            _ => (format!("{base}{}?{encoded}", c.path), String::new()),
        };
        Ok(HttpRequest { method: c.method, url, headers, body })
    }

    /// Sends a call: weight budget, signing, error mapping, one resync-and-retry on
    /// -1021 (the request was refused, so sending it again is safe).
    fn call(&self, c: &Call) -> Result<Value, Failure> {
        let mut resynced = false;
        loop {
            if let Some(retry_after_ms) = self.quiet.wait_ms(self.clock.now().0) {
                return Err(ExchangeError::RateLimited { retry_after_ms }.into());
            }
            self.reserve_weight(c.weight)?;
            let resp = self.transport.send(self.build(c)?).map_err(|e| Failure::from(map_transport(e, c.op)))?;
            self.note_weight(&resp);
            if matches!(resp.status, 429 | 418) {
                // Every bot of this venue waits the ban out: the next request during it
                // would make Binance escalate (418, then longer bans).
                self.quiet.hold_until(self.clock.now().0.saturating_add(retry_after_ms(&resp) as i64));
            }
            if (200..300).contains(&resp.status) {
                return serde_json::from_str(&resp.body).map_err(|e| {
                    let what = format!("binance {}: unreadable response: {e}", c.path);
                    Failure::from(if c.op == Op::Read {
                        ExchangeError::Unavailable(what)
                    } else {
                        ExchangeError::OutcomeUnknown(what)
                    })
                });
            }
            let (code, msg) = api_error(&resp.body);
            if code == Some(-1021) && c.signed && !resynced {
                resynced = true;
                self.sync_time().map_err(Failure::from)?;
                continue;
            }
            let error = classify(&resp, code, &msg, c.op);
            return Err(Failure { code, msg, error });
        }
    }

    fn read(&self, c: Call) -> Result<Value, ExchangeError> {
        self.call(&c).map_err(|f| f.error)
    }

    /// The permissions of the configured key.
    pub fn key_permissions(&self) -> Result<KeyPermissions, ExchangeError> {
        let v = self.read(Call::new(Method::Get, "/sapi/v1/account/apiRestrictions", 1, Op::Read).signed())?;
        let flag = |k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
        Ok(KeyPermissions {
            can_withdraw: flag("enableWithdrawals"),
            can_trade_spot: flag("enableSpotAndMarginTrading"),
            ip_restricted: flag("ipRestrict"),
        })
    }

    /// Refuses a key that can withdraw or cannot trade spot.
    pub fn check_key(&self) -> Result<(), ExchangeError> {
        let p = self.key_permissions()?;
        if p.can_withdraw {
            return Err(ExchangeError::Auth(
                "this API key can withdraw: create a key without withdrawal permission".into(),
            ));
        }
        if !p.can_trade_spot {
            return Err(ExchangeError::Auth("this API key cannot trade spot: enable spot trading for it".into()));
        }
        Ok(())
    }

    fn unreadable(op: Op, what: String) -> ExchangeError {
        if op == Op::Read { ExchangeError::Unavailable(what) } else { ExchangeError::OutcomeUnknown(what) }
    }

    /// The fills of an order, from `/api/v3/myTrades?orderId=`.
    fn trades_of(&self, sym: &str, order_id: &str) -> Result<Vec<ballast_exchange::Fill>, ExchangeError> {
        let v = self.read(
            Call::new(Method::Get, "/api/v3/myTrades", 5, Op::Read)
                .signed()
                .param("symbol", sym)
                .param("orderId", order_id),
        )?;
        let list = v.as_array().ok_or_else(|| ExchangeError::Unavailable("binance myTrades: not a list".into()))?;
        list.iter()
            .map(parse::fill_from_trade)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ExchangeError::Unavailable(format!("binance myTrades: {e}")))
    }

    /// Adds the fills of a report read without them (query, cancel).
    fn with_fills(&self, mut r: OrderReport, sym: &str) -> Result<OrderReport, ExchangeError> {
        if r.fills.is_empty() && !r.filled.is_zero() {
            r.fills = self.trades_of(sym, &r.venue_id)?;
        }
        Ok(r)
    }
}

impl Exchange for Binance {
    fn name(&self) -> &str {
        "binance"
    }

    /// The configured `recvWindow`: an order's request carries the time left until its
    /// deadline as its `recvWindow`.
    fn order_window_ms(&self) -> i64 {
        self.config.recv_window_ms.min(60_000) as i64
    }

    /// The clock is the local clock plus the offset measured with `/api/v3/time`.
    fn clock_allowance_ms(&self) -> i64 {
        5_000
    }

    fn rules(&self, base: &Asset, quote: &Asset) -> Result<SymbolRules, ExchangeError> {
        let sym = symbol(base, quote);
        if let Some(r) = self.rules.lock().unwrap_or_else(|p| p.into_inner()).get(&sym) {
            return Ok(*r);
        }
        let v = self.read(Call::new(Method::Get, "/api/v3/exchangeInfo", 20, Op::Read).param("symbol", &sym))?;
        let entry = v
            .get("symbols")
            .and_then(Value::as_array)
            .and_then(|l| l.iter().find(|s| s.get("symbol").and_then(Value::as_str) == Some(sym.as_str())))
            .ok_or_else(|| ExchangeError::NotFound(format!("binance symbol {sym}")))?;
        let rules = parse::rules_from_symbol(entry)
            .map_err(|e| ExchangeError::Unavailable(format!("binance exchangeInfo {sym}: {e}")))?;
        self.rules.lock().unwrap_or_else(|p| p.into_inner()).insert(sym, rules);
        Ok(rules)
    }

    fn balances(&self) -> Result<BTreeMap<Asset, Balance>, ExchangeError> {
        let v = self.read(Call::new(Method::Get, "/api/v3/account", 20, Op::Read).signed())?;
        parse::balances_from_account(&v).map_err(|e| ExchangeError::Unavailable(format!("binance account: {e}")))
    }

    fn prices(&self, bases: &[Asset], quote: &Asset) -> Result<Prices, ExchangeError> {
        let wanted: Vec<&Asset> = bases.iter().filter(|b| *b != quote).collect();
        let mut out = Prices::new();
        if wanted.is_empty() {
            return Ok(out);
        }
        let syms: Vec<String> = wanted.iter().map(|b| symbol(b, quote)).collect();
        let call = if syms.len() == 1 {
            Call::new(Method::Get, "/api/v3/ticker/price", 2, Op::Read).param("symbol", &syms[0])
        } else {
            let list = serde_json::to_string(&syms).unwrap_or_default();
            Call::new(Method::Get, "/api/v3/ticker/price", 4, Op::Read).param("symbols", list)
        };
        let v = self.read(call)?;
        let entries = match &v {
            Value::Array(a) => a.clone(),
            obj => vec![obj.clone()],
        };
        let bad = |e: String| ExchangeError::Unavailable(format!("binance ticker/price: {e}"));
        for e in &entries {
            let s = parse::text(e, "symbol").map_err(bad)?;
            if let Some(i) = syms.iter().position(|x| *x == s) {
                out.insert(wanted[i].clone(), Price(parse::dec(e, "price").map_err(bad)?));
            }
        }
        if let Some(missing) = wanted.iter().find(|b| !out.contains_key(**b)) {
            return Err(ExchangeError::NotFound(format!("binance price of {}", symbol(missing, quote))));
        }
        Ok(out)
    }

    /// `GET /api/v3/ticker/bookTicker?symbol=` (weight 2 for one symbol): `bidPrice`
    /// and `askPrice`, the best price and quantity on the order book (Binance spot
    /// REST API, Market data endpoints, "Symbol order book ticker",
    /// <https://developers.binance.com/docs/binance-spot-api-docs/rest-api/market-data-endpoints#symbol-order-book-ticker>).
    fn best_bid_ask(&self, base: &Asset, quote: &Asset) -> Result<Touch, ExchangeError> {
        let sym = symbol(base, quote);
        let v = self.read(Call::new(Method::Get, "/api/v3/ticker/bookTicker", 2, Op::Read).param("symbol", &sym))?;
        parse::touch(&v).map_err(|e| ExchangeError::Unavailable(format!("binance bookTicker {sym}: {e}")))
    }

    /// `GET /api/v3/account/commission?symbol=` (signed, weight 20): "Get current
    /// account commission rates" (Binance spot REST API, Account endpoints, "Query
    /// Commission Rates (USER_DATA)",
    /// <https://developers.binance.com/docs/binance-spot-api-docs/rest-api/account-endpoints#query-commission-rates-user_data>).
    fn fee_rates(&self, base: &Asset, quote: &Asset) -> Result<FeeRates, ExchangeError> {
        let sym = symbol(base, quote);
        let v = self
            .read(Call::new(Method::Get, "/api/v3/account/commission", 20, Op::Read).signed().param("symbol", &sym))?;
        parse::fee_rates(&v).map_err(|e| ExchangeError::Unavailable(format!("binance account/commission {sym}: {e}")))
    }

    /// `POST /sapi/v1/asset/dust` (signed, weight 10), one `asset` parameter per asset:
    /// "Convert dust assets to BNB" (Binance Wallet API, Asset, "Dust Transfer (USER_DATA)",
    /// <https://developers.binance.com/docs/wallet/asset/dust-transfer>). A failure after
    /// the request may have left is an unknown outcome, never retried.
    fn convert_dust(&self, assets: &[Asset], _quote: &Asset) -> Result<DustConversion, ExchangeError> {
        let mut call = Call::new(Method::Post, "/sapi/v1/asset/dust", 10, Op::Place).signed();
        for a in assets {
            call = call.param("asset", a.as_str());
        }
        let v = self.call(&call).map_err(|f| f.error)?;
        parse::dust(&v).map_err(|e| Self::unreadable(Op::Place, format!("binance asset/dust: {e}")))
    }

    fn place(&self, order: &OrderRequest) -> Result<OrderReport, ExchangeError> {
        let sym = symbol(&order.base, &order.quote);
        let mut call = Call::new(Method::Post, "/api/v3/order", 1, Op::Place)
            .signed()
            .until(order.expires_at.map(|t| t.0))
            .param("symbol", &sym)
            .param("side", side_str(order.side))
            .param("newClientOrderId", order.client_id.as_str())
            .param("newOrderRespType", "FULL");
        call = match order.kind {
            OrderKind::Market => call.param("type", "MARKET").param("quantity", order.qty.0.normalize().to_string()),
            OrderKind::Limit { price } => call
                .param("type", "LIMIT")
                .param("quantity", order.qty.0.normalize().to_string())
                .param("price", price.0.normalize().to_string())
                .param("timeInForce", "GTC"), // A post-only order: `type=LIMIT_MAKER` with `quantity` and `price` and no
            // `timeInForce`; "LIMIT_MAKER are LIMIT orders that will be rejected if they
            // would immediately match and trade as a taker" (error -2010) (Binance spot
            // REST API, Trading endpoints, "New order (TRADE)",
            // https://developers.binance.com/docs/binance-spot-api-docs/rest-api/trading-endpoints#new-order-trade).
            OrderKind::PostOnly { price } => call
                .param("type", "LIMIT_MAKER")
                .param("quantity", order.qty.0.normalize().to_string())
                .param("price", price.0.normalize().to_string()),
        };
        let v = self.call(&call).map_err(|f| {
            if f.code == Some(-2010) && f.msg.to_ascii_lowercase().contains("duplicate") {
                ExchangeError::Duplicate(order.client_id.to_string())
            } else {
                if matches!(f.error, ExchangeError::Rejected(_)) {
                    // The venue's filters may have changed since they were cached: the
                    // next plan reads them again instead of repeating a refused order.
                    self.rules.lock().unwrap_or_else(|p| p.into_inner()).remove(&sym);
                }
                f.error
            }
        })?;
        parse::order_report(&v, Some(&order.client_id), &order.base, &order.quote)
            .map_err(|e| Self::unreadable(Op::Place, format!("binance order {}: {e}", order.client_id)))
    }

    fn query(
        &self,
        client_id: &ClientOrderId,
        base: &Asset,
        quote: &Asset,
    ) -> Result<Option<OrderReport>, ExchangeError> {
        let sym = symbol(base, quote);
        let call = Call::new(Method::Get, "/api/v3/order", 4, Op::Read)
            .signed()
            .param("symbol", &sym)
            .param("origClientOrderId", client_id.as_str());
        let v = match self.call(&call) {
            Ok(v) => v,
            Err(f) if f.code == Some(-2013) => return Ok(None),
            Err(f) => return Err(f.error),
        };
        let r = parse::order_report(&v, Some(client_id), base, quote)
            .map_err(|e| ExchangeError::Unavailable(format!("binance order {client_id}: {e}")))?;
        self.with_fills(r, &sym).map(Some)
    }

    fn open_orders(&self, base: &Asset, quote: &Asset) -> Result<Vec<OrderReport>, ExchangeError> {
        let sym = symbol(base, quote);
        let v = self.read(Call::new(Method::Get, "/api/v3/openOrders", 6, Op::Read).signed().param("symbol", &sym))?;
        let list = v.as_array().ok_or_else(|| ExchangeError::Unavailable("binance openOrders: not a list".into()))?;
        let mut out = Vec::new();
        for o in list {
            // Orders whose client id ballast cannot hold (placed by hand or by another
            // tool) are not ours: skipped.
            let Ok(id) = parse::text(o, "clientOrderId").and_then(|s| ClientOrderId::new(&s)) else { continue };
            let r = parse::order_report(o, Some(&id), base, quote)
                .map_err(|e| ExchangeError::Unavailable(format!("binance openOrders: {e}")))?;
            out.push(r);
        }
        Ok(out)
    }

    fn cancel(&self, client_id: &ClientOrderId, base: &Asset, quote: &Asset) -> Result<OrderReport, ExchangeError> {
        let sym = symbol(base, quote);
        let call = Call::new(Method::Delete, "/api/v3/order", 1, Op::Cancel)
            .signed()
            .param("symbol", &sym)
            .param("origClientOrderId", client_id.as_str());
        let v = self.call(&call).map_err(|f| f.error)?;
        let r = parse::order_report(&v, Some(client_id), base, quote)
            .map_err(|e| Self::unreadable(Op::Cancel, format!("binance cancel {client_id}: {e}")))?;
        self.with_fills(r, &sym)
    }
}

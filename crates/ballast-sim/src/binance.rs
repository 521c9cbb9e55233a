//! The Binance spot REST dialect: routes, signing checks, JSON shapes, error codes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ballast_core::planner::Side;
use ballast_core::{Asset, Price};
use ballast_exchange::{ClientOrderId, Exchange, ExchangeError, Fill, OrderKind, OrderReport, OrderStatus};
use hmac::{Hmac, Mac};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::{DustInto, OrderMeta, PlaceError, SimState, lock};

type S = State<Arc<SimState>>;
type Params = BTreeMap<String, String>;

/// The default `recvWindow`.
const DEFAULT_RECV_WINDOW: u64 = 5000;
/// How far ahead of the server a `timestamp` may be.
const AHEAD_MS: i64 = 1000;

/// A Binance error: an HTTP status and `{"code": .., "msg": ..}`, and for a 429 or 418
/// the `Retry-After` seconds.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: i64,
    msg: String,
    retry_after: Option<i64>,
}

impl ApiError {
    fn new(status: StatusCode, code: i64, msg: impl Into<String>) -> Self {
        Self { status, code, msg: msg.into(), retry_after: None }
    }

    fn bad(code: i64, msg: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, msg)
    }

    fn mandatory(name: &str) -> Self {
        Self::bad(-1102, format!("Mandatory parameter '{name}' was not sent, was empty/null, or malformed."))
    }

    fn illegal(name: &str, range: &str) -> Self {
        Self::bad(-1100, format!("Illegal characters found in parameter '{name}'; legal range is '{range}'."))
    }

    fn invalid_symbol() -> Self {
        Self::bad(-1121, "Invalid symbol.")
    }

    fn internal() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            -1001,
            "Internal error; unable to process your request. Please try again.",
        )
    }

    /// An injected ban (`rate_418`): no end given, `Retry-After: 2`.
    fn banned() -> Self {
        Self::new(
            StatusCode::IM_A_TEAPOT,
            -1003,
            "Way too many requests; IP(127.0.0.1) banned until further notice. Please use the websocket for live \
             updates to avoid bans.",
        )
    }

    /// The ban of an IP that went on after its 429s, until `until` (ms), `now` being
    /// the protocol clock's time.
    fn banned_until(until: i64, now: i64) -> Self {
        Self::new(
            StatusCode::IM_A_TEAPOT,
            -1003,
            format!(
                "Way too many requests; IP(127.0.0.1) banned until {until}. Please use the websocket for live updates \
                 to avoid bans."
            ),
        )
        .retry_after(secs_until(until - now))
    }

    /// Over the request weight of the minute (`limit`).
    fn too_many(limit: u64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            -1003,
            format!(
                "Too many requests; current limit of IP(127.0.0.1) request weight per 1 MINUTE is {limit}. \
                 Please use WebSocket Streams for live updates to avoid polling the API."
            ),
        )
    }

    fn retry_after(mut self, secs: i64) -> Self {
        self.retry_after = Some(secs);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, Json(json!({"code": self.code, "msg": self.msg}))).into_response();
        let retry = match (self.retry_after, self.status) {
            (Some(s), _) => Some(s),
            (None, StatusCode::TOO_MANY_REQUESTS) => Some(1),
            (None, StatusCode::IM_A_TEAPOT) => Some(2),
            _ => None,
        };
        if let Some(secs) = retry {
            r.headers_mut().insert("Retry-After", HeaderValue::from(secs));
        }
        r
    }
}

/// Whole seconds (rounded up, at least 1) in `ms`.
fn secs_until(ms: i64) -> i64 {
    ((ms + 999) / 1000).max(1)
}

/// Seconds from `now_ms` to the end of its minute, at least 1.
fn secs_to_minute_end(now_ms: i64) -> i64 {
    secs_until(60_000 - now_ms.rem_euclid(60_000))
}

type ApiResult = Result<Response, ApiError>;

pub(crate) fn router(state: Arc<SimState>) -> axum::Router {
    axum::Router::new()
        .route("/api/v3/ping", get(ping))
        .route("/api/v3/time", get(time))
        .route("/api/v3/exchangeInfo", get(exchange_info))
        .route("/api/v3/ticker/price", get(ticker_price))
        .route("/api/v3/ticker/24hr", get(ticker_24hr))
        .route("/api/v3/ticker/bookTicker", get(book_ticker))
        .route("/api/v3/depth", get(depth))
        .route("/api/v3/trades", get(public_trades))
        .route("/api/v3/aggTrades", get(agg_trades))
        .route("/api/v3/avgPrice", get(avg_price))
        .route("/api/v3/klines", get(klines))
        .route("/api/v3/uiKlines", get(klines))
        .route("/api/v3/account", get(account))
        .route("/api/v3/account/commission", get(account_commission))
        .route("/api/v3/order", get(query_order).post(place_order).delete(cancel_order))
        .route("/api/v3/order/test", post(test_order))
        .route("/api/v3/openOrders", get(open_orders).delete(cancel_open_orders))
        .route("/api/v3/allOrders", get(all_orders))
        .route("/api/v3/myTrades", get(my_trades))
        .route("/api/v3/rateLimit/order", get(rate_limit_order))
        .route("/sapi/v1/account/apiRestrictions", get(api_restrictions))
        .route("/sapi/v1/asset/dust", post(dust_transfer))
        .route("/sapi/v1/capital/config/getall", get(capital_config))
        .route("/sapi/v1/margin/allPairs", get(no_margin_pairs))
        .route("/sapi/v1/margin/isolated/allPairs", get(no_margin_pairs))
        .route("/fapi/v1/exchangeInfo", get(no_futures))
        .route("/dapi/v1/exchangeInfo", get(no_futures))
        .fallback(|| async { unsupported(StatusCode::NOT_FOUND) })
        .method_not_allowed_fallback(|| async { unsupported(StatusCode::BAD_REQUEST) })
        .layer(middleware::from_fn_with_state(state.clone(), faults_and_weight))
        .with_state(state)
}

/// What the sim does not serve (a route or a method): Binance's `-1020`, which clients
/// treat as a request error, not as a server error to retry.
fn unsupported(status: StatusCode) -> Response {
    ApiError::new(status, -1020, "This operation is not supported.").into_response()
}

/// The request weight of a route (Binance's values, simplified).
fn weight(method: &Method, path: &str, query: &str) -> u64 {
    let has_symbol = query.split('&').any(|kv| kv.starts_with("symbol="));
    match (method.as_str(), path) {
        (_, "/api/v3/exchangeInfo") => 20,
        ("GET", "/api/v3/ticker/price") => {
            if has_symbol {
                2
            } else {
                4
            }
        }
        ("GET", "/api/v3/account") | ("GET", "/api/v3/account/commission") => 20,
        ("GET", "/api/v3/klines") => 2,
        ("GET", "/api/v3/order") => 4,
        ("GET", "/api/v3/openOrders") => {
            if has_symbol {
                6
            } else {
                80
            }
        }
        ("GET", "/api/v3/myTrades" | "/api/v3/allOrders") => 20,
        ("GET", "/api/v3/ticker/24hr") => {
            if has_symbol {
                2
            } else {
                80
            }
        }
        ("GET", "/api/v3/depth") => {
            let limit = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("limit="))
                .and_then(|l| l.parse::<u64>().ok())
                .unwrap_or(100);
            match limit {
                0..=100 => 5,
                101..=500 => 25,
                501..=1000 => 50,
                _ => 250,
            }
        }
        ("GET", "/api/v3/trades") => 25,
        ("GET", "/api/v3/uiKlines" | "/api/v3/avgPrice" | "/api/v3/ticker/bookTicker") => 2,
        ("GET", "/sapi/v1/capital/config/getall") => 10,
        ("POST", "/sapi/v1/asset/dust") => 10,
        ("GET", "/api/v3/rateLimit/order") => 40,
        _ => 1,
    }
}

/// What the request-weight limit says about a request.
enum Verdict {
    /// Within the minute's weight (the weight used so far).
    Within(u64),
    /// Over it: 429 until the minute ends.
    Over(u64),
    /// The IP is banned until this time (ms): 418.
    Banned(i64, u64),
}

/// The longest ban (Binance: 3 days), in seconds.
const MAX_BAN_SECS: u64 = 3 * 86_400;

/// Counts the request's weight in the minute (protocol clock) and enforces
/// [`crate::RateLimits`]: over the minute's weight a 429 with `Retry-After` to the
/// minute's end; more than `ban_after_429s` such 429s in a minute ban the IP (418 on
/// every request until the ban ends, `Retry-After` counting down to it; each ban twice
/// as long as the one before, up to 3 days).
fn weigh(s: &SimState, w: u64) -> Verdict {
    let limits = &s.config().limits;
    let now = s.server_ms();
    let minute = now.div_euclid(60_000);
    let mut book = lock(&s.book);
    if book.weight.0 != minute {
        book.weight = (minute, 0);
    }
    if let Some(until) = book.banned_until {
        if until > now {
            return Verdict::Banned(until, book.weight.1);
        }
        book.banned_until = None;
    }
    book.weight.1 += w;
    let used = book.weight.1;
    if limits.weight_per_minute == 0 || used <= limits.weight_per_minute {
        return Verdict::Within(used);
    }
    if book.strikes.0 != minute {
        book.strikes = (minute, 0);
    }
    book.strikes.1 += 1;
    if book.strikes.1 <= limits.ban_after_429s {
        return Verdict::Over(used);
    }
    let factor = 1u64.checked_shl(book.bans.min(32)).unwrap_or(u64::MAX);
    let secs = limits.ban_secs.max(1).saturating_mul(factor).min(MAX_BAN_SECS);
    let until = now + i64::try_from(secs * 1000).unwrap_or(i64::MAX / 2);
    book.bans = book.bans.saturating_add(1);
    book.strikes = (minute, 0);
    book.banned_until = Some(until);
    Verdict::Banned(until, used)
}

/// Enforces the request-weight limit and its bans ([`weigh`]), then injects latency,
/// 429s, 5xxs and 418s; puts `X-MBX-USED-WEIGHT(-1M)` on every response and
/// `X-MBX-ORDER-COUNT-10S`/`-1D` on order placements.
async fn faults_and_weight(State(s): S, req: Request, next: Next) -> Response {
    let w = weight(req.method(), req.uri().path(), req.uri().query().unwrap_or(""));
    let verdict = weigh(&s, w);
    let latency = s.latency_ms();
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let is_order = req.method() == Method::POST && req.uri().path() == "/api/v3/order";
    let (mut resp, used) = match verdict {
        Verdict::Banned(until, used) => {
            s.count("weight_418");
            (ApiError::banned_until(until, s.server_ms()).into_response(), used)
        }
        Verdict::Over(used) => {
            s.count("weight_429");
            let e =
                ApiError::too_many(s.config().limits.weight_per_minute).retry_after(secs_to_minute_end(s.server_ms()));
            (e.into_response(), used)
        }
        Verdict::Within(used) => {
            let r = if s.roll("rate_429", |f| f.rate_429) {
                ApiError::too_many(s.config().limits.weight_per_minute).into_response()
            } else if s.roll("rate_5xx", |f| f.rate_5xx) {
                ApiError::internal().into_response()
            } else if s.roll("rate_418", |f| f.rate_418) {
                ApiError::banned().into_response()
            } else {
                next.run(req).await
            };
            (r, used)
        }
    };
    let h = resp.headers_mut();
    h.insert("X-MBX-USED-WEIGHT", HeaderValue::from(used));
    h.insert("X-MBX-USED-WEIGHT-1M", HeaderValue::from(used));
    if is_order {
        let (ten, day) = s.order_counts();
        h.insert("X-MBX-ORDER-COUNT-10S", HeaderValue::from(ten));
        h.insert("X-MBX-ORDER-COUNT-1D", HeaderValue::from(day));
    }
    resp
}

// ---------------------------------------------------------------------------------
// Parameters and signing
// ---------------------------------------------------------------------------------

/// Query and body parameters; a parameter in both takes the query's value (as Binance).
fn params(uri: &Uri, body: &str) -> Params {
    let mut p: Params = form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    p.extend(form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).into_owned());
    p
}

/// `s` without its `signature=` parameter(s), as sent otherwise.
fn strip_signature(s: &str) -> String {
    s.split('&').filter(|kv| !kv.starts_with("signature=")).collect::<Vec<_>>().join("&")
}

/// Checks the key, the signature and the timestamp of a SIGNED request; returns its
/// parameters.
fn signed(s: &SimState, headers: &HeaderMap, uri: &Uri, body: &str) -> Result<Params, ApiError> {
    api_key(s, headers)?;
    let p = params(uri, body);
    let sig = p.get("signature").filter(|v| !v.is_empty()).ok_or_else(|| ApiError::mandatory("signature"))?;
    let (query, body) = (strip_signature(uri.query().unwrap_or("")), strip_signature(body));
    // Signed as sent; or, as python-binance signs, with the values decoded (a client id
    // `a:b` is sent `a%3Ab` but signed `a:b`).
    let decoded = |s: &str| -> String {
        form_urlencoded::parse(s.as_bytes()).map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
    };
    let verifies = |payload: &str| -> Result<bool, ApiError> {
        let mut mac = Hmac::<Sha256>::new_from_slice(s.config().secret.as_bytes()).map_err(|_| ApiError::internal())?;
        mac.update(payload.as_bytes());
        Ok(hex::decode(sig).is_ok_and(|raw| mac.verify_slice(&raw).is_ok()))
    };
    let ok = verifies(&format!("{query}{body}"))? || verifies(&format!("{}{}", decoded(&query), decoded(&body)))?;
    if !ok {
        return Err(ApiError::bad(-1022, "Signature for this request is not valid."));
    }
    let ts: i64 = p.get("timestamp").and_then(|t| t.parse().ok()).ok_or_else(|| ApiError::mandatory("timestamp"))?;
    let window = match p.get("recvWindow") {
        None => DEFAULT_RECV_WINDOW,
        Some(w) => w.parse::<u64>().map_err(|_| ApiError::illegal("recvWindow", "^[0-9]{1,20}$"))?,
    };
    if window > s.config().recv_window_max_ms {
        return Err(ApiError::bad(-1131, format!("recvWindow must be less than {}.", s.config().recv_window_max_ms)));
    }
    let now = s.server_ms();
    if ts >= now + AHEAD_MS {
        return Err(ApiError::bad(
            -1021,
            format!("Timestamp for this request was {AHEAD_MS}ms ahead of the server's time."),
        ));
    }
    if now - ts > i64::try_from(window).unwrap_or(i64::MAX) {
        return Err(ApiError::bad(-1021, "Timestamp for this request is outside of the recvWindow."));
    }
    Ok(p)
}

/// Checks `X-MBX-APIKEY` (the USER_STREAM / MARKET_DATA security of Binance).
fn api_key(s: &SimState, headers: &HeaderMap) -> Result<(), ApiError> {
    let key = headers.get("X-MBX-APIKEY").and_then(|v| v.to_str().ok()).unwrap_or("");
    if key.is_empty() {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, -2014, "API-key format invalid."));
    }
    if key != s.config().api_key {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, -2015, "Invalid API-key, IP, or permissions for action."));
    }
    Ok(())
}

fn required<'a>(p: &'a Params, name: &str) -> Result<&'a str, ApiError> {
    p.get(name).map(String::as_str).filter(|v| !v.is_empty()).ok_or_else(|| ApiError::mandatory(name))
}

fn decimal(p: &Params, name: &str) -> Result<Decimal, ApiError> {
    let v = required(p, name)?;
    let legal = v.bytes().all(|b| b.is_ascii_digit() || b == b'.') && !v.starts_with('.');
    v.parse::<Decimal>()
        .ok()
        .filter(|_| legal)
        .ok_or_else(|| ApiError::illegal(name, "^([0-9]{1,20})(\\.[0-9]{1,20})?$"))
}

fn symbol_param(s: &SimState, p: &Params) -> Result<(String, Asset, Asset), ApiError> {
    let sym = required(p, "symbol")?;
    let (b, q) = s.symbol(sym).ok_or_else(ApiError::invalid_symbol)?;
    Ok((sym.to_string(), b, q))
}

// ---------------------------------------------------------------------------------
// JSON shapes
// ---------------------------------------------------------------------------------

/// A decimal as Binance writes it: 8 decimals (more only when the paper account holds
/// more: `ballast sim` keeps it at Binance's precision with
/// `PaperExchange::with_fee_decimals(8)`, and a value is never cut, so that a client's
/// ledger of fills adds up to the balances).
fn d8(d: Decimal) -> String {
    let mut d = d.normalize();
    if d.scale() < 8 {
        d.rescale(8);
    }
    d.to_string()
}

fn status_name(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::New => "NEW",
        OrderStatus::PartiallyFilled => "PARTIALLY_FILLED",
        OrderStatus::Filled => "FILLED",
        OrderStatus::Canceled => "CANCELED",
        OrderStatus::Rejected => "REJECTED",
        OrderStatus::Expired => "EXPIRED",
    }
}

fn side_name(s: Side) -> &'static str {
    match s {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

fn venue_id(r: &OrderReport) -> u64 {
    r.venue_id.parse().unwrap_or(0)
}

fn quote_qty(r: &OrderReport) -> Decimal {
    r.fills.iter().map(|f| f.qty.0 * f.price.0).sum()
}

/// The order JSON of `GET /api/v3/order` and `openOrders`.
fn order_json(s: &SimState, r: &OrderReport) -> Value {
    let meta = lock(&s.book).orders.get(&venue_id(r)).cloned();
    let (ty, price, tif, time, client, expired, quote_order_qty) = match &meta {
        Some(m) => (
            m.order_type,
            match m.kind {
                OrderKind::Market => Decimal::ZERO,
                OrderKind::Limit { price } | OrderKind::PostOnly { price } => price.0,
            },
            m.time_in_force.clone().unwrap_or_else(|| "GTC".into()),
            m.time,
            m.client.clone(),
            m.expired,
            m.quote_qty.unwrap_or_default(),
        ),
        None => ("MARKET", Decimal::ZERO, "GTC".to_string(), 0, r.client_id.to_string(), false, Decimal::ZERO),
    };
    let status = if expired && r.status == OrderStatus::Canceled { "EXPIRED" } else { status_name(r.status) };
    json!({
        "symbol": format!("{}{}", r.base, r.quote),
        "orderId": venue_id(r),
        "orderListId": -1,
        "clientOrderId": client,
        "price": d8(price),
        "origQty": d8(r.qty.0),
        "executedQty": d8(r.filled.0),
        "cummulativeQuoteQty": d8(quote_qty(r)),
        "status": status,
        "timeInForce": tif,
        "type": ty,
        "side": side_name(r.side),
        "stopPrice": d8(Decimal::ZERO),
        "icebergQty": d8(Decimal::ZERO),
        "time": time,
        "updateTime": r.fills.iter().map(|f| f.time.0).max().unwrap_or(time),
        "isWorking": !r.status.is_final(),
        "workingTime": time,
        "origQuoteOrderQty": d8(quote_order_qty),
        "selfTradePreventionMode": "NONE",
    })
}

fn fills_json(r: &OrderReport) -> Value {
    r.fills
        .iter()
        .map(|f| {
            json!({
                "price": d8(f.price.0),
                "qty": d8(f.qty.0),
                "commission": d8(f.fee.0),
                "commissionAsset": f.fee_asset.as_str(),
                "tradeId": f.trade_id.parse::<u64>().unwrap_or(0),
            })
        })
        .collect()
}

/// An [`ExchangeError`] in Binance's words.
fn exchange_error(e: ExchangeError) -> ApiError {
    match e {
        ExchangeError::Duplicate(_) => ApiError::bad(-2010, "Duplicate order sent."),
        ExchangeError::Rejected(msg) => {
            for filter in ["LOT_SIZE", "PRICE_FILTER", "NOTIONAL"] {
                if msg.starts_with(filter) {
                    return ApiError::bad(-1013, format!("Filter failure: {filter}"));
                }
            }
            if msg.starts_with("insufficient balance") {
                ApiError::bad(-2010, "Account has insufficient balance for requested action.")
            } else {
                ApiError::bad(-2010, msg)
            }
        }
        ExchangeError::NotFound(_) => ApiError::bad(-2010, "Market is closed."),
        ExchangeError::RateLimited { .. } => ApiError::new(StatusCode::TOO_MANY_REQUESTS, -1003, "Too many requests."),
        ExchangeError::Auth(msg) => ApiError::new(StatusCode::UNAUTHORIZED, -2015, msg),
        ExchangeError::OutcomeUnknown(_) | ExchangeError::Unavailable(_) => ApiError::internal(),
    }
}

fn ok(v: Value) -> ApiResult {
    Ok(Json(v).into_response())
}

// ---------------------------------------------------------------------------------
// Public routes
// ---------------------------------------------------------------------------------

async fn ping() -> Json<Value> {
    Json(json!({}))
}

async fn time(State(s): S) -> Json<Value> {
    Json(json!({"serverTime": s.server_ms()}))
}

async fn exchange_info(State(s): S, uri: Uri) -> ApiResult {
    let p = params(&uri, "");
    let wanted: Option<Vec<String>> = if let Some(sym) = p.get("symbol") {
        Some(vec![sym.clone()])
    } else if let Some(list) = p.get("symbols") {
        Some(
            serde_json::from_str(list)
                .map_err(|_| ApiError::illegal("symbols", "^\\[\"[A-Z0-9]+\"(,\"[A-Z0-9]+\")*\\]$"))?,
        )
    } else {
        None
    };
    let pairs: Vec<(Asset, Asset)> = match wanted {
        None => s.symbols().to_vec(),
        Some(names) => {
            names.iter().map(|n| s.symbol(n).ok_or_else(ApiError::invalid_symbol)).collect::<Result<_, _>>()?
        }
    };
    let big = Decimal::from(9_000_000_000u64);
    let symbols: Vec<Value> = pairs
        .iter()
        .map(|(b, q)| {
            let r = s.rules_of(b, q);
            let lot = |kind: &str| {
                json!({"filterType": kind, "minQty": d8(r.min_qty), "maxQty": d8(big), "stepSize": d8(r.step)})
            };
            json!({
                "symbol": format!("{b}{q}"),
                "status": "TRADING",
                "baseAsset": b.as_str(),
                "baseAssetPrecision": 8,
                "quoteAsset": q.as_str(),
                "quotePrecision": 8,
                "quoteAssetPrecision": 8,
                "baseCommissionPrecision": 8,
                "quoteCommissionPrecision": 8,
                "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
                "icebergAllowed": false,
                "ocoAllowed": false,
                "otoAllowed": false,
                "quoteOrderQtyMarketAllowed": true,
                "allowTrailingStop": false,
                "cancelReplaceAllowed": false,
                "isSpotTradingAllowed": true,
                "isMarginTradingAllowed": false,
                "filters": [
                    {"filterType": "PRICE_FILTER", "minPrice": d8(r.tick), "maxPrice": d8(big), "tickSize": d8(r.tick)},
                    lot("LOT_SIZE"),
                    lot("MARKET_LOT_SIZE"),
                    {"filterType": "NOTIONAL", "minNotional": d8(r.min_notional), "applyMinToMarket": true,
                     "maxNotional": d8(big), "applyMaxToMarket": false, "avgPriceMins": 5},
                ],
                "permissions": [],
                "permissionSets": [["SPOT"]],
                "defaultSelfTradePreventionMode": "NONE",
                "allowedSelfTradePreventionModes": ["NONE"],
            })
        })
        .collect();
    ok(json!({
        "timezone": "UTC",
        "serverTime": s.server_ms(),
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
             "limit": s.config().limits.weight_per_minute},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10,
             "limit": s.config().limits.orders_per_10s},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1,
             "limit": s.config().limits.orders_per_day},
        ],
        "exchangeFilters": [],
        "symbols": symbols,
    }))
}

/// `GET /api/v3/klines?symbol=&interval=[&startTime=&endTime=&limit=]` (also
/// `uiKlines`): candles of the [`crate::CandleSource`] (none without one), up to and
/// including the bar the replay is in (its close is the last price, its high and low
/// its open and the last price, its volume 0). Times are those of the venue clock:
/// with a replay clock ([`SimState::with_replay_clock`]) the history is shifted by
/// whole intervals so that the replay's bar is the bar of now. Without `startTime`,
/// the `limit` (default 500, at most 1000) bars up to `endTime`.
async fn klines(State(s): S, uri: Uri) -> ApiResult {
    let p = params(&uri, "");
    let (_, base, quote) = symbol_param(&s, &p)?;
    let interval = required(&p, "interval")?;
    let invalid = || ApiError::bad(-1120, "Invalid interval.");
    crate::candles::interval_ms(interval).ok_or_else(invalid)?;
    let limit = limit_param(&p, 500, 1000)?;
    let (start, end) = (time_param(&p, "startTime")?, time_param(&p, "endTime")?);
    let bars = s.bars(&base, &quote, interval, start, end, limit).ok_or_else(invalid)?;
    let out: Vec<Value> = bars
        .iter()
        .map(|b| {
            json!([
                b.open_time,
                d8(b.open),
                d8(b.high),
                d8(b.low),
                d8(b.close),
                d8(b.volume),
                b.close_time,
                d8(b.volume * b.close),
                0,
                d8(Decimal::ZERO),
                d8(Decimal::ZERO),
                "0"
            ])
        })
        .collect();
    ok(Value::Array(out))
}

fn time_param(p: &Params, name: &str) -> Result<Option<i64>, ApiError> {
    p.get(name)
        .filter(|v| !v.is_empty())
        .map(|v| v.parse::<i64>().map_err(|_| ApiError::illegal(name, "^[0-9]{1,20}$")))
        .transpose()
}

fn limit_param(p: &Params, default: usize, max: usize) -> Result<usize, ApiError> {
    match p.get("limit").filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => Ok(v.parse::<usize>().map_err(|_| ApiError::illegal("limit", "^[0-9]{1,20}$"))?.clamp(1, max)),
    }
}

/// The symbols of `symbol=` or `symbols=["A","B"]`, or every served symbol.
fn symbols_param(s: &SimState, p: &Params) -> Result<(bool, Vec<(Asset, Asset)>), ApiError> {
    if let Some(sym) = p.get("symbol") {
        return Ok((true, vec![s.symbol(sym).ok_or_else(ApiError::invalid_symbol)?]));
    }
    if let Some(list) = p.get("symbols") {
        let names: Vec<String> = serde_json::from_str(list)
            .map_err(|_| ApiError::illegal("symbols", "^\\[\"[A-Z0-9]+\"(,\"[A-Z0-9]+\")*\\]$"))?;
        let pairs = names.iter().map(|n| s.symbol(n).ok_or_else(ApiError::invalid_symbol)).collect::<Result<_, _>>()?;
        return Ok((false, pairs));
    }
    Ok((false, s.symbols().to_vec()))
}

/// One answer for `symbol=`, a list otherwise; symbols without a price are left out of
/// a list (and are `-1121` alone).
fn per_symbol(s: &SimState, p: &Params, f: impl Fn(&str, &Asset, &Asset, Decimal) -> Value) -> ApiResult {
    let (single, pairs) = symbols_param(s, p)?;
    let mut out = Vec::new();
    for (b, q) in &pairs {
        if let Some(last) = s.last_price(b, q) {
            out.push(f(&format!("{b}{q}"), b, q, last));
        }
    }
    if single {
        return out.pop().map_or_else(|| Err(ApiError::invalid_symbol()), ok);
    }
    ok(Value::Array(out))
}

async fn ticker_price(State(s): S, uri: Uri) -> ApiResult {
    per_symbol(&s, &params(&uri, ""), |sym, _, _, last| json!({"symbol": sym, "price": d8(last)}))
}

/// The best bid and ask of the synthetic book (see `depth.rs`) as Binance's fields.
fn top_of_book(s: &SimState, base: &Asset, quote: &Asset) -> Value {
    let book = s.depth(base, quote, 1);
    let level = |side: Option<&(Decimal, Decimal)>| {
        side.map_or((d8(Decimal::ZERO), d8(Decimal::ZERO)), |(p, q)| (d8(*p), d8(*q)))
    };
    let (bid, bid_qty) = level(book.as_ref().and_then(|b| b.bids.first()));
    let (ask, ask_qty) = level(book.as_ref().and_then(|b| b.asks.first()));
    json!({"bidPrice": bid, "bidQty": bid_qty, "askPrice": ask, "askQty": ask_qty})
}

async fn book_ticker(State(s): S, uri: Uri) -> ApiResult {
    per_symbol(&s, &params(&uri, ""), |sym, b, q, _| {
        let mut v = top_of_book(&s, b, q);
        v["symbol"] = json!(sym);
        v
    })
}

/// `GET /api/v3/ticker/24hr`: the last 24 h of the replay's candles (open, high, low,
/// volume), the last price; bid and ask those of the synthetic book.
async fn ticker_24hr(State(s): S, uri: Uri) -> ApiResult {
    let now = s.now_ms();
    per_symbol(&s, &params(&uri, ""), |sym, b, q, last| {
        let day = s.day_stats(sym, last);
        let top = top_of_book(&s, b, q);
        let change = last - day.open;
        let pct = if day.open > Decimal::ZERO {
            (change / day.open * Decimal::ONE_HUNDRED).round_dp(3)
        } else {
            Decimal::ZERO
        };
        let avg = if day.volume > Decimal::ZERO { day.quote_volume / day.volume } else { last };
        json!({
            "symbol": sym,
            "priceChange": d8(change),
            "priceChangePercent": pct.to_string(),
            "weightedAvgPrice": d8(avg),
            "prevClosePrice": d8(day.open),
            "lastPrice": d8(last),
            "lastQty": d8(Decimal::ZERO),
            "bidPrice": top["bidPrice"],
            "bidQty": top["bidQty"],
            "askPrice": top["askPrice"],
            "askQty": top["askQty"],
            "openPrice": d8(day.open),
            "highPrice": d8(day.high),
            "lowPrice": d8(day.low),
            "volume": d8(day.volume),
            "quoteVolume": d8(day.quote_volume),
            "openTime": now - 86_400_000,
            "closeTime": now,
            "firstId": -1,
            "lastId": -1,
            "count": 0,
        })
    })
}

/// `GET /api/v3/depth?symbol=[&limit=]`: the synthetic book (see `depth.rs`), `limit`
/// levels a side (default 100, at most 5,000).
async fn depth(State(s): S, uri: Uri) -> ApiResult {
    let p = params(&uri, "");
    let (_, base, quote) = symbol_param(&s, &p)?;
    let limit = limit_param(&p, 100, 5000)?;
    let book = s.depth(&base, &quote, limit).ok_or_else(ApiError::invalid_symbol)?;
    let side =
        |levels: &[(Decimal, Decimal)]| -> Vec<Value> { levels.iter().map(|(p, q)| json!([d8(*p), d8(*q)])).collect() };
    ok(json!({"lastUpdateId": s.now_ms(), "bids": side(&book.bids), "asks": side(&book.asks)}))
}

/// The fills of the account on a symbol, oldest first: `(trade id, order id, meta,
/// side, fill)`. The sim's only trades are the account's.
/// One fill of the account: trade id, order id, the order's meta, its side, the fill.
type AccountFill = (u64, u64, OrderMeta, Side, Fill);

fn fills_of(s: &SimState, base: &Asset, quote: &Asset) -> Result<Vec<AccountFill>, ApiError> {
    let metas: Vec<(u64, OrderMeta)> = lock(&s.book)
        .orders
        .iter()
        .filter(|(_, m)| &m.base == base && &m.quote == quote)
        .map(|(id, m)| (*id, m.clone()))
        .collect();
    let mut out = Vec::new();
    for (id, m) in metas {
        let Some(r) = s.exchange().query(&m.client_id, base, quote).map_err(exchange_error)? else { continue };
        for f in r.fills {
            out.push((f.trade_id.parse::<u64>().unwrap_or(0), id, m.clone(), r.side, f));
        }
    }
    out.sort_by_key(|t| t.0);
    Ok(out)
}

/// The newest `limit` of `items`, oldest first.
fn newest<T>(mut items: Vec<T>, limit: usize) -> Vec<T> {
    let skip = items.len().saturating_sub(limit);
    items.drain(..skip);
    items
}

/// `GET /api/v3/trades?symbol=[&limit=]`: the account's fills (the sim's only trades).
async fn public_trades(State(s): S, uri: Uri) -> ApiResult {
    let p = params(&uri, "");
    let (_, base, quote) = symbol_param(&s, &p)?;
    let limit = limit_param(&p, 500, 1000)?;
    let out: Vec<Value> = newest(fills_of(&s, &base, &quote)?, limit)
        .into_iter()
        .map(|(id, _, m, side, f)| {
            json!({
                "id": id,
                "price": d8(f.price.0),
                "qty": d8(f.qty.0),
                "quoteQty": d8(f.price.0 * f.qty.0),
                "time": f.time.0,
                "isBuyerMaker": (side == Side::Buy) == m.rested,
                "isBestMatch": true,
            })
        })
        .collect();
    ok(Value::Array(out))
}

/// `GET /api/v3/aggTrades?symbol=[&startTime=&endTime=&limit=]`: the account's fills,
/// one per aggregate.
async fn agg_trades(State(s): S, uri: Uri) -> ApiResult {
    let p = params(&uri, "");
    let (_, base, quote) = symbol_param(&s, &p)?;
    let limit = limit_param(&p, 500, 1000)?;
    let (from, to) = (time_param(&p, "startTime")?, time_param(&p, "endTime")?);
    let fills: Vec<_> = fills_of(&s, &base, &quote)?
        .into_iter()
        .filter(|t| from.is_none_or(|f| t.4.time.0 >= f) && to.is_none_or(|e| t.4.time.0 <= e))
        .collect();
    let fills = if from.is_some() { fills.into_iter().take(limit).collect() } else { newest(fills, limit) };
    let out: Vec<Value> = fills
        .into_iter()
        .map(|(id, _, m, side, f)| {
            json!({
                "a": id, "p": d8(f.price.0), "q": d8(f.qty.0), "f": id, "l": id, "T": f.time.0,
                "m": (side == Side::Buy) == m.rested, "M": true,
            })
        })
        .collect();
    ok(Value::Array(out))
}

async fn avg_price(State(s): S, uri: Uri) -> ApiResult {
    let p = params(&uri, "");
    let (_, base, quote) = symbol_param(&s, &p)?;
    let last = s.last_price(&base, &quote).ok_or_else(ApiError::invalid_symbol)?;
    ok(json!({"mins": 5, "price": d8(last), "closeTime": s.now_ms()}))
}

async fn api_restrictions(State(s): S, headers: HeaderMap, uri: Uri) -> ApiResult {
    signed(&s, &headers, &uri, "")?;
    ok(json!({
        "ipRestrict": false,
        "createTime": s.now_ms(),
        "enableReading": true,
        "enableSpotAndMarginTrading": true,
        "enableWithdrawals": s.withdrawals_enabled(),
        "enableInternalTransfer": false,
        "enableMargin": false,
        "enableFutures": false,
        "permitsUniversalTransfer": false,
        "enableVanillaOptions": false,
        "enableFixApiSpotTrade": false,
        "enableFixReadOnly": false,
        "enablePortfolioMarginTrading": false,
    }))
}

/// `POST /sapi/v1/asset/dust` (SIGNED, weight 10): "Convert dust assets to BNB"
/// (Binance Wallet API, Asset, "Dust Transfer (USER_DATA)",
/// <https://developers.binance.com/docs/wallet/asset/dust-transfer>). `asset` is an
/// ARRAY: repeated (`asset=ETH&asset=LTC`) or comma-separated (`asset=ETH,LTC`, the
/// docs' example); each asset's whole free balance is converted at the last prices
/// less the 2 % charge ([`SimState::convert_dust`]). Answers `totalServiceCharge`,
/// `totalTransfered` and per asset `amount`, `fromAsset`, `operateTime`,
/// `serviceChargeAmount`, `tranId`, `transferedAmount`. An asset that cannot be
/// converted refuses the whole request (`-2010` naming it), nothing converted.
async fn dust_transfer(State(s): S, headers: HeaderMap, uri: Uri, body: String) -> ApiResult {
    signed(&s, &headers, &uri, &body)?;
    let raw = [uri.query().unwrap_or(""), body.as_str()];
    let mut assets = Vec::new();
    for part in raw {
        for (k, v) in form_urlencoded::parse(part.as_bytes()) {
            if k != "asset" {
                continue;
            }
            for name in v.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                let a = Asset::new(name).map_err(|_| ApiError::illegal("asset", "^[A-Z0-9]{1,20}$"))?;
                if !assets.contains(&a) {
                    assets.push(a);
                }
            }
        }
    }
    if assets.is_empty() {
        return Err(ApiError::mandatory("asset"));
    }
    let records = s.convert_dust(&assets, DustInto::Binance).map_err(exchange_error)?;
    let total_charge: Decimal = records.iter().map(|r| r.charge).sum();
    let total_got: Decimal = records.iter().map(|r| r.got).sum();
    let results: Vec<Value> = records
        .iter()
        .map(|r| {
            json!({
                "amount": d8(r.amount),
                "fromAsset": r.asset.as_str(),
                "operateTime": r.time,
                "serviceChargeAmount": d8(r.charge),
                "tranId": r.tran_id,
                "transferedAmount": d8(r.got),
            })
        })
        .collect();
    ok(json!({"totalServiceCharge": d8(total_charge), "totalTransfered": d8(total_got), "transferResult": results}))
}

/// The assets of the served symbols and any the account holds, in order.
fn assets(s: &SimState) -> Result<Vec<(Asset, ballast_exchange::Balance)>, ApiError> {
    let held = s.exchange().balances().map_err(exchange_error)?;
    let mut all: BTreeMap<Asset, ballast_exchange::Balance> = BTreeMap::new();
    for (b, q) in s.symbols() {
        all.entry(b.clone()).or_default();
        all.entry(q.clone()).or_default();
    }
    for (a, b) in held.iter() {
        all.insert(a.clone(), *b);
    }
    Ok(all.into_iter().collect())
}

/// `GET /sapi/v1/capital/config/getall`: every asset, with no deposit or withdrawal
/// network (the sim moves no coins).
async fn capital_config(State(s): S, headers: HeaderMap, uri: Uri) -> ApiResult {
    signed(&s, &headers, &uri, "")?;
    let out: Vec<Value> = assets(&s)?
        .iter()
        .map(|(a, b)| {
            json!({
                "coin": a.as_str(), "name": a.as_str(), "depositAllEnable": false, "withdrawAllEnable": false,
                "free": d8(b.free.0), "locked": d8(b.locked.0), "freeze": d8(Decimal::ZERO),
                "withdrawing": d8(Decimal::ZERO), "ipoing": d8(Decimal::ZERO), "ipoable": d8(Decimal::ZERO),
                "storage": d8(Decimal::ZERO), "isLegalMoney": false, "trading": true, "networkList": [],
            })
        })
        .collect();
    ok(Value::Array(out))
}

/// Margin pairs (`/sapi/v1/margin/allPairs`, `.../isolated/allPairs`): none.
async fn no_margin_pairs(State(s): S, headers: HeaderMap) -> ApiResult {
    api_key(&s, &headers)?;
    ok(json!([]))
}

/// The futures exchanges (`/fapi/v1/exchangeInfo`, `/dapi/v1/exchangeInfo`): no symbols.
async fn no_futures(State(s): S) -> ApiResult {
    ok(json!({"timezone": "UTC", "serverTime": s.server_ms(), "rateLimits": [], "exchangeFilters": [],
        "assets": [], "symbols": []}))
}

// ---------------------------------------------------------------------------------
// Account and orders
// ---------------------------------------------------------------------------------

/// `GET /api/v3/account/commission?symbol=`: the paper venue's fee as the standard
/// maker and taker commission, no tax; the BNB discount (`discount`, "Standard
/// commission is reduced by this rate when paying commission in BNB",
/// <https://hexdocs.pm/binance_spot_rest/BinanceSpotRest.Endpoints.Account.AccountCommission.Query.html>)
/// enabled for the account and every symbol when the paper venue charges fees in BNB
/// ([`PaperExchange::with_fee_discount`](ballast_exchange::paper::PaperExchange::with_fee_discount),
/// `ballast sim --fee-discount bnb`: Binance's "spotBNBBurn" on).
async fn account_commission(State(s): S, headers: HeaderMap, uri: Uri) -> ApiResult {
    let p = signed(&s, &headers, &uri, "")?;
    let (single, pairs) = symbols_param(&s, &p)?;
    let Some((b, q)) = pairs.first().filter(|_| single) else {
        return Err(ApiError::invalid_symbol());
    };
    let rate = d8(s.exchange().config().fee_bps / Decimal::from(10_000));
    let zero = d8(Decimal::ZERO);
    let bnb = s.exchange().fee_discount().filter(|d| d.asset.as_str() == "BNB");
    let multiplier = d8(bnb.map_or(Decimal::new(75, 2), |d| d.multiplier));
    // The sim's fills pay in the quote while the account holds no BNB (Binance's would
    // take the received coin): the discount is said to apply only while it holds some.
    let in_effect = s.exchange().discount_in_effect().map_err(exchange_error)?.is_some() && bnb.is_some();
    ok(json!({
        "symbol": format!("{b}{q}"),
        "standardCommission": {"maker": rate, "taker": rate, "buyer": zero, "seller": zero},
        "taxCommission": {"maker": zero, "taker": zero, "buyer": zero, "seller": zero},
        "discount": {"enabledForAccount": bnb.is_some(), "enabledForSymbol": in_effect, "discountAsset": "BNB",
            "discount": multiplier},
    }))
}

async fn account(State(s): S, headers: HeaderMap, uri: Uri) -> ApiResult {
    let p = signed(&s, &headers, &uri, "")?;
    let omit_zero = match p.get("omitZeroBalances").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::illegal("omitZeroBalances", "true|false")),
    };
    let fee_bps = s.exchange().config().fee_bps;
    let rate = d8(fee_bps / Decimal::from(10_000));
    let bps = fee_bps.round().to_i64().unwrap_or(0);
    let balances: Vec<Value> = assets(&s)?
        .iter()
        .filter(|(_, b)| !omit_zero || !b.free.0.is_zero() || !b.locked.0.is_zero())
        .map(|(a, b)| json!({"asset": a.as_str(), "free": d8(b.free.0), "locked": d8(b.locked.0)}))
        .collect();
    ok(json!({
        "makerCommission": bps,
        "takerCommission": bps,
        "buyerCommission": 0,
        "sellerCommission": 0,
        "commissionRates": {"maker": rate, "taker": rate, "buyer": d8(Decimal::ZERO), "seller": d8(Decimal::ZERO)},
        "canTrade": true,
        "canWithdraw": false,
        "canDeposit": true,
        "brokered": false,
        "requireSelfTradePrevention": false,
        "preventSor": false,
        "updateTime": s.now_ms(),
        "accountType": "SPOT",
        "balances": balances,
        "permissions": ["SPOT"],
        "uid": 1,
    }))
}

/// Binance's rule for client order ids: `^[.A-Z:/a-z0-9_-]{1,36}$` (the pattern its
/// `-1100` error gives for `newClientOrderId`).
fn valid_client_id(c: &str) -> bool {
    (1..=36).contains(&c.len())
        && c.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b':' | b'/' | b'_' | b'-'))
}

/// The order a `POST /api/v3/order` (or `order/test`) asks for, checked; and the
/// response type.
fn placement(s: &SimState, p: &Params) -> Result<(String, crate::Placement, &'static str), ApiError> {
    let (sym, base, quote) = symbol_param(s, p)?;
    let side = match required(p, "side")? {
        "BUY" => Side::Buy,
        "SELL" => Side::Sell,
        _ => return Err(ApiError::bad(-1117, "Invalid side.")),
    };
    let tif = p.get("timeInForce").filter(|v| !v.is_empty()).map(String::as_str);
    let not_required = |name: &str| ApiError::bad(-1106, format!("Parameter '{name}' sent when not required."));
    let (ty, kind, tif, immediate, post_only): (&'static str, OrderKind, Option<&str>, bool, bool) =
        match required(p, "type")? {
            "MARKET" => {
                if p.contains_key("price") {
                    return Err(not_required("price"));
                }
                if tif.is_some() {
                    return Err(not_required("timeInForce"));
                }
                ("MARKET", OrderKind::Market, None, false, false)
            }
            "LIMIT" => {
                let price = decimal(p, "price")?;
                let tif = tif.ok_or_else(|| ApiError::mandatory("timeInForce"))?;
                let immediate = match tif {
                    "GTC" => false,
                    "IOC" | "FOK" => true,
                    _ => return Err(ApiError::bad(-1115, "Invalid timeInForce.")),
                };
                ("LIMIT", OrderKind::Limit { price: Price(price) }, Some(tif), immediate, false)
            }
            "LIMIT_MAKER" => {
                let price = decimal(p, "price")?;
                if tif.is_some() {
                    return Err(not_required("timeInForce"));
                }
                ("LIMIT_MAKER", OrderKind::Limit { price: Price(price) }, None, false, true)
            }
            "STOP_LOSS" | "STOP_LOSS_LIMIT" | "TAKE_PROFIT" | "TAKE_PROFIT_LIMIT" => {
                return Err(ApiError::bad(-1020, "This operation is not supported."));
            }
            _ => return Err(ApiError::bad(-1116, "Invalid orderType.")),
        };
    let quote_qty = match p.get("quoteOrderQty").filter(|v| !v.is_empty()) {
        None => None,
        Some(_) if ty != "MARKET" => return Err(not_required("quoteOrderQty")),
        Some(_) if p.contains_key("quantity") => {
            return Err(ApiError::bad(-1106, "Parameter 'quantity' sent when not required."));
        }
        Some(_) => Some(decimal(p, "quoteOrderQty")?),
    };
    let qty = match quote_qty {
        Some(q) => s.qty_for_quote(&base, &quote, q, side).map_err(exchange_error)?,
        None => decimal(p, "quantity")?,
    };
    let resp_type = match p.get("newOrderRespType").map(String::as_str) {
        None if matches!(ty, "MARKET" | "LIMIT") => "FULL",
        None => "ACK",
        Some("FULL") => "FULL",
        Some("RESULT") => "RESULT",
        Some("ACK") => "ACK",
        Some(_) => return Err(ApiError::illegal("newOrderRespType", "ACK|RESULT|FULL")),
    };
    let client = match p.get("newClientOrderId").filter(|c| !c.is_empty()) {
        Some(c) if valid_client_id(c) => Some(c.clone()),
        Some(_) => return Err(ApiError::illegal("newClientOrderId", "^[\\.A-Z\\:/a-z0-9_-]{1,36}$")),
        None => None,
    };
    let pl = crate::Placement {
        client,
        base,
        quote,
        side,
        qty,
        kind,
        order_type: ty,
        time_in_force: tif.map(str::to_string),
        immediate,
        post_only,
        quote_qty,
        count_orders: true,
    };
    Ok((sym, pl, resp_type))
}

fn place_error(e: PlaceError) -> ApiError {
    match e {
        PlaceError::Duplicate => ApiError::bad(-2010, "Duplicate order sent."),
        PlaceError::WouldTake => ApiError::bad(-2010, "Order would immediately match and take."),
        PlaceError::TooManyOrders(limit, window, left_ms) => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            -1015,
            format!("Too many new orders; current limit is {limit} orders per {window}."),
        )
        .retry_after(secs_until(left_ms)),
        PlaceError::Venue(e) => exchange_error(e),
    }
}

async fn place_order(State(s): S, headers: HeaderMap, uri: Uri, body: String) -> ApiResult {
    let p = signed(&s, &headers, &uri, &body)?;
    let (sym, pl, resp_type) = placement(&s, &p)?;
    if s.roll("reject_rate", |f| f.reject_rate) {
        return Err(ApiError::bad(-2010, "New order rejected."));
    }
    let outcome = s.place(pl);
    if s.roll("drop_after_execution", |f| f.drop_after_execution) {
        // The order is executed (or refused) at the venue, but the reply is lost.
        return Ok(StatusCode::BAD_GATEWAY.into_response());
    }
    s.maybe_timeout().await;
    let (id, r) = outcome.map_err(place_error)?;
    let full = order_json(&s, &r);
    let mut v = json!({
        "symbol": sym,
        "orderId": id,
        "orderListId": -1,
        "clientOrderId": full["clientOrderId"],
        "transactTime": full["time"],
    });
    if resp_type != "ACK" {
        for k in [
            "price",
            "origQty",
            "executedQty",
            "origQuoteOrderQty",
            "cummulativeQuoteQty",
            "status",
            "timeInForce",
            "type",
            "side",
            "workingTime",
            "selfTradePreventionMode",
        ] {
            v[k] = full[k].clone();
        }
    }
    if resp_type == "FULL" {
        v["fills"] = fills_json(&r);
    }
    ok(v)
}

/// `POST /api/v3/order/test`: checks an order as `POST /api/v3/order` would, places
/// nothing; `{}` (or the commission rates with `computeCommissionRates=true`).
async fn test_order(State(s): S, headers: HeaderMap, uri: Uri, body: String) -> ApiResult {
    let p = signed(&s, &headers, &uri, &body)?;
    placement(&s, &p)?;
    if p.get("computeCommissionRates").is_some_and(|v| v == "true") {
        let rate = d8(s.exchange().config().fee_bps / Decimal::from(10_000));
        return ok(json!({
            "standardCommissionForOrder": {"maker": rate, "taker": rate},
            "taxCommissionForOrder": {"maker": d8(Decimal::ZERO), "taker": d8(Decimal::ZERO)},
            "discount": {"enabledForAccount": false, "enabledForSymbol": false, "discountAsset": "BNB",
                "discount": d8(Decimal::ZERO)},
        }));
    }
    ok(json!({}))
}

/// The paper venue's client id of the order named by `orderId` or `origClientOrderId`
/// on the symbol.
fn order_ref(s: &SimState, p: &Params, base: &Asset, quote: &Asset) -> Result<Option<ClientOrderId>, ApiError> {
    if let Some(id) = p.get("orderId").filter(|v| !v.is_empty()) {
        let id: u64 = id.parse().map_err(|_| ApiError::illegal("orderId", "^[0-9]{1,20}$"))?;
        let book = lock(&s.book);
        return Ok(book.orders.get(&id).filter(|m| &m.base == base && &m.quote == quote).map(|m| m.client_id.clone()));
    }
    match p.get("origClientOrderId").filter(|v| !v.is_empty()) {
        Some(c) => Ok(s.paper_id_of(c, base, quote)),
        None => {
            Err(ApiError::bad(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"))
        }
    }
}

async fn query_order(State(s): S, headers: HeaderMap, uri: Uri) -> ApiResult {
    let p = signed(&s, &headers, &uri, "")?;
    let (_, base, quote) = symbol_param(&s, &p)?;
    let missing = || ApiError::bad(-2013, "Order does not exist.");
    let cid = order_ref(&s, &p, &base, &quote)?.ok_or_else(missing)?;
    let r = s.exchange().query(&cid, &base, &quote).map_err(exchange_error)?.ok_or_else(missing)?;
    ok(order_json(&s, &r))
}

/// The answer to a cancel, from the order after it.
fn cancel_json(s: &SimState, sym: &str, r: &OrderReport, new_cid: Option<&String>) -> Value {
    let full = order_json(s, r);
    json!({
        "symbol": sym,
        "origClientOrderId": full["clientOrderId"],
        "orderId": venue_id(r),
        "orderListId": -1,
        "clientOrderId": new_cid.cloned().unwrap_or_else(|| format!("cancel-{}", venue_id(r))),
        "transactTime": s.now_ms(),
        "price": full["price"],
        "origQty": full["origQty"],
        "executedQty": full["executedQty"],
        "origQuoteOrderQty": full["origQuoteOrderQty"],
        "cummulativeQuoteQty": full["cummulativeQuoteQty"],
        "status": full["status"],
        "timeInForce": full["timeInForce"],
        "type": full["type"],
        "side": full["side"],
        "selfTradePreventionMode": "NONE",
    })
}

async fn cancel_order(State(s): S, headers: HeaderMap, uri: Uri, body: String) -> ApiResult {
    let p = signed(&s, &headers, &uri, &body)?;
    let (sym, base, quote) = symbol_param(&s, &p)?;
    let unknown = || ApiError::bad(-2011, "Unknown order sent.");
    let cid = order_ref(&s, &p, &base, &quote)?.ok_or_else(unknown)?;
    let r = s.exchange().cancel(&cid, &base, &quote).map_err(|e| match e {
        ExchangeError::NotFound(_) | ExchangeError::Rejected(_) => unknown(),
        e => exchange_error(e),
    })?;
    ok(cancel_json(&s, &sym, &r, p.get("newClientOrderId")))
}

/// `DELETE /api/v3/openOrders?symbol=`: cancels every open order on the symbol
/// (`-2011` when there is none, as Binance).
async fn cancel_open_orders(State(s): S, headers: HeaderMap, uri: Uri, body: String) -> ApiResult {
    let p = signed(&s, &headers, &uri, &body)?;
    let (sym, base, quote) = symbol_param(&s, &p)?;
    let open = s.exchange().open_orders(&base, &quote).map_err(exchange_error)?;
    if open.is_empty() {
        return Err(ApiError::bad(-2011, "Unknown order sent."));
    }
    let mut out = Vec::new();
    for o in open {
        match s.exchange().cancel(&o.client_id, &base, &quote) {
            Ok(r) => out.push(cancel_json(&s, &sym, &r, None)),
            // Filled meanwhile: nothing to cancel.
            Err(ExchangeError::NotFound(_) | ExchangeError::Rejected(_)) => {}
            Err(e) => return Err(exchange_error(e)),
        }
    }
    ok(Value::Array(out))
}

async fn open_orders(State(s): S, headers: HeaderMap, uri: Uri) -> ApiResult {
    let p = signed(&s, &headers, &uri, "")?;
    let pairs = if p.contains_key("symbol") {
        let (_, b, q) = symbol_param(&s, &p)?;
        vec![(b, q)]
    } else {
        s.symbols().to_vec()
    };
    let mut out = Vec::new();
    for (b, q) in &pairs {
        for r in s.exchange().open_orders(b, q).map_err(exchange_error)? {
            out.push(order_json(&s, &r));
        }
    }
    ok(Value::Array(out))
}

/// `GET /api/v3/allOrders?symbol=[&orderId=&startTime=&endTime=&limit=]`: the orders
/// placed through the sim on the symbol, oldest first (from `orderId` on, or within
/// the times; else the newest `limit`, default 500, at most 1000).
async fn all_orders(State(s): S, headers: HeaderMap, uri: Uri) -> ApiResult {
    let p = signed(&s, &headers, &uri, "")?;
    let (_, base, quote) = symbol_param(&s, &p)?;
    let limit = limit_param(&p, 500, 1000)?;
    let from_id: Option<u64> = match p.get("orderId").filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(v.parse().map_err(|_| ApiError::illegal("orderId", "^[0-9]{1,20}$"))?),
    };
    let (from, to) = (time_param(&p, "startTime")?, time_param(&p, "endTime")?);
    let metas: Vec<OrderMeta> = lock(&s.book)
        .orders
        .iter()
        .filter(|(id, m)| {
            m.base == base
                && m.quote == quote
                && from_id.is_none_or(|f| **id >= f)
                && from.is_none_or(|f| m.time >= f)
                && to.is_none_or(|e| m.time <= e)
        })
        .map(|(_, m)| m.clone())
        .collect();
    let metas = if from_id.is_some() || from.is_some() {
        metas.into_iter().take(limit).collect()
    } else {
        newest(metas, limit)
    };
    let mut out = Vec::new();
    for m in metas {
        if let Some(r) = s.exchange().query(&m.client_id, &base, &quote).map_err(exchange_error)? {
            out.push(order_json(&s, &r));
        }
    }
    ok(Value::Array(out))
}

/// `GET /api/v3/myTrades?symbol=[&orderId=&startTime=&endTime=&fromId=&limit=]`.
async fn my_trades(State(s): S, headers: HeaderMap, uri: Uri) -> ApiResult {
    let p = signed(&s, &headers, &uri, "")?;
    let (sym, base, quote) = symbol_param(&s, &p)?;
    let id_param = |name: &str| -> Result<Option<u64>, ApiError> {
        p.get(name)
            .filter(|v| !v.is_empty())
            .map(|v| v.parse().map_err(|_| ApiError::illegal(name, "^[0-9]{1,20}$")))
            .transpose()
    };
    let (order_id, from_id) = (id_param("orderId")?, id_param("fromId")?);
    let limit = limit_param(&p, 500, 1000)?;
    let (from, to) = (time_param(&p, "startTime")?, time_param(&p, "endTime")?);
    let trades: Vec<_> = fills_of(&s, &base, &quote)?
        .into_iter()
        .filter(|(tid, oid, _, _, f)| {
            order_id.is_none_or(|o| o == *oid)
                && from_id.is_none_or(|i| *tid >= i)
                && from.is_none_or(|t| f.time.0 >= t)
                && to.is_none_or(|t| f.time.0 <= t)
        })
        .collect();
    let trades = if from_id.is_some() || from.is_some() {
        trades.into_iter().take(limit).collect()
    } else {
        newest(trades, limit)
    };
    let out: Vec<Value> = trades
        .into_iter()
        .map(|(tid, oid, m, side, f)| {
            json!({
                "symbol": sym,
                "id": tid,
                "orderId": oid,
                "orderListId": -1,
                "price": d8(f.price.0),
                "qty": d8(f.qty.0),
                "quoteQty": d8(f.price.0 * f.qty.0),
                "commission": d8(f.fee.0),
                "commissionAsset": f.fee_asset.as_str(),
                "time": f.time.0,
                "isBuyer": side == Side::Buy,
                "isMaker": m.rested,
                "isBestMatch": true,
            })
        })
        .collect();
    ok(Value::Array(out))
}

/// `GET /api/v3/rateLimit/order`: the unfilled order counts of the `ORDERS` limits.
async fn rate_limit_order(State(s): S, headers: HeaderMap, uri: Uri) -> ApiResult {
    signed(&s, &headers, &uri, "")?;
    let (ten, day) = s.order_counts();
    let l = &s.config().limits;
    ok(json!([
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": l.orders_per_10s, "count": ten},
        {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": l.orders_per_day, "count": day},
    ]))
}

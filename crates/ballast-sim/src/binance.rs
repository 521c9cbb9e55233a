//! The Binance spot REST dialect: routes, signing checks, JSON shapes, error codes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ballast_core::planner::Side;
use ballast_core::{Asset, Price, Qty};
use ballast_exchange::{ClientOrderId, Exchange, ExchangeError, OrderKind, OrderReport, OrderRequest, OrderStatus};
use hmac::{Hmac, Mac};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::{OrderMeta, SimState, lock};

type S = State<Arc<SimState>>;
type Params = BTreeMap<String, String>;

/// The request weight allowed per minute of the sim clock (Binance's spot default).
pub(crate) const WEIGHT_LIMIT: u64 = 6000;
/// The default `recvWindow`.
const DEFAULT_RECV_WINDOW: u64 = 5000;
/// How far ahead of the server a `timestamp` may be.
const AHEAD_MS: i64 = 1000;

/// A Binance error: an HTTP status and `{"code": .., "msg": ..}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: i64,
    msg: String,
}

impl ApiError {
    fn new(status: StatusCode, code: i64, msg: impl Into<String>) -> Self {
        Self { status, code, msg: msg.into() }
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

    fn banned() -> Self {
        Self::new(
            StatusCode::IM_A_TEAPOT,
            -1003,
            "Way too many requests; IP(127.0.0.1) banned until further notice. Please use the websocket for live \
             updates to avoid bans.",
        )
    }

    fn too_many() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            -1003,
            format!(
                "Too many requests; current limit of IP(127.0.0.1) request weight per 1 MINUTE is {WEIGHT_LIMIT}. \
                 Please use WebSocket Streams for live updates to avoid polling the API."
            ),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, Json(json!({"code": self.code, "msg": self.msg}))).into_response();
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            r.headers_mut().insert("Retry-After", HeaderValue::from_static("1"));
        } else if self.status == StatusCode::IM_A_TEAPOT {
            r.headers_mut().insert("Retry-After", HeaderValue::from_static("2"));
        }
        r
    }
}

type ApiResult = Result<Response, ApiError>;

pub(crate) fn router(state: Arc<SimState>) -> axum::Router {
    axum::Router::new()
        .route("/api/v3/ping", get(ping))
        .route("/api/v3/time", get(time))
        .route("/api/v3/exchangeInfo", get(exchange_info))
        .route("/api/v3/ticker/price", get(ticker_price))
        .route("/api/v3/klines", get(klines))
        .route("/api/v3/account", get(account))
        .route("/api/v3/order", get(query_order).post(place_order).delete(cancel_order))
        .route("/api/v3/openOrders", get(open_orders))
        .route("/api/v3/myTrades", get(my_trades))
        .route("/sapi/v1/account/apiRestrictions", get(api_restrictions))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, -1000, "Unknown route.") })
        .layer(middleware::from_fn_with_state(state.clone(), faults_and_weight))
        .with_state(state)
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
        ("GET", "/api/v3/account") => 20,
        ("GET", "/api/v3/klines") => 2,
        ("GET", "/api/v3/order") => 4,
        ("GET", "/api/v3/openOrders") => {
            if has_symbol {
                6
            } else {
                80
            }
        }
        ("GET", "/api/v3/myTrades") => 20,
        _ => 1,
    }
}

/// Counts the request weight, then injects latency, 429s and 5xxs; puts
/// `X-MBX-USED-WEIGHT-1M` on every response.
async fn faults_and_weight(State(s): S, req: Request, next: Next) -> Response {
    let w = weight(req.method(), req.uri().path(), req.uri().query().unwrap_or(""));
    let minute = s.server_ms().div_euclid(60_000);
    let used = {
        let mut book = lock(&s.book);
        if book.weight.0 != minute {
            book.weight = (minute, 0);
        }
        book.weight.1 += w;
        book.weight.1
    };
    let latency = s.latency_ms();
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let over = used > WEIGHT_LIMIT;
    if over {
        s.count("weight_429");
    }
    let mut resp = if over || s.roll("rate_429", |f| f.rate_429) {
        ApiError::too_many().into_response()
    } else if s.roll("rate_5xx", |f| f.rate_5xx) {
        ApiError::internal().into_response()
    } else if s.roll("rate_418", |f| f.rate_418) {
        ApiError::banned().into_response()
    } else {
        next.run(req).await
    };
    resp.headers_mut().insert("X-MBX-USED-WEIGHT-1M", HeaderValue::from(used));
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
    let key = headers.get("X-MBX-APIKEY").and_then(|v| v.to_str().ok()).unwrap_or("");
    if key.is_empty() {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, -2014, "API-key format invalid."));
    }
    if key != s.config().api_key {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, -2015, "Invalid API-key, IP, or permissions for action."));
    }
    let p = params(uri, body);
    let sig = p.get("signature").filter(|v| !v.is_empty()).ok_or_else(|| ApiError::mandatory("signature"))?;
    let payload = format!("{}{}", strip_signature(uri.query().unwrap_or("")), strip_signature(body));
    let mut mac = Hmac::<Sha256>::new_from_slice(s.config().secret.as_bytes()).map_err(|_| ApiError::internal())?;
    mac.update(payload.as_bytes());
    let ok = hex::decode(sig).is_ok_and(|raw| mac.verify_slice(&raw).is_ok());
    if !ok {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, -1022, "Signature for this request is not valid."));
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

/// A decimal as Binance writes it: at least 8 decimals.
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
    let (ty, price, tif, time) = match &meta {
        Some(m) => (
            match m.kind {
                OrderKind::Market => "MARKET",
                OrderKind::Limit { .. } => "LIMIT",
            },
            match m.kind {
                OrderKind::Market => Decimal::ZERO,
                OrderKind::Limit { price } => price.0,
            },
            m.time_in_force.clone().unwrap_or_else(|| "GTC".into()),
            m.time,
        ),
        None => ("MARKET", Decimal::ZERO, "GTC".to_string(), 0),
    };
    json!({
        "symbol": format!("{}{}", r.base, r.quote),
        "orderId": venue_id(r),
        "orderListId": -1,
        "clientOrderId": r.client_id.as_str(),
        "price": d8(price),
        "origQty": d8(r.qty.0),
        "executedQty": d8(r.filled.0),
        "cummulativeQuoteQty": d8(quote_qty(r)),
        "status": status_name(r.status),
        "timeInForce": tif,
        "type": ty,
        "side": side_name(r.side),
        "stopPrice": d8(Decimal::ZERO),
        "icebergQty": d8(Decimal::ZERO),
        "time": time,
        "updateTime": r.fills.iter().map(|f| f.time.0).max().unwrap_or(time),
        "isWorking": !r.status.is_final(),
        "workingTime": time,
        "origQuoteOrderQty": d8(Decimal::ZERO),
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
        ExchangeError::RateLimited { .. } => ApiError::too_many(),
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
            let r = s.rules_of(b);
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
                "orderTypes": ["LIMIT", "MARKET"],
                "icebergAllowed": false,
                "ocoAllowed": false,
                "otoAllowed": false,
                "quoteOrderQtyMarketAllowed": false,
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
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": WEIGHT_LIMIT},
        ],
        "exchangeFilters": [],
        "symbols": symbols,
    }))
}

/// `GET /api/v3/klines?symbol=&interval=[&startTime=&endTime=&limit=]`: candles of the
/// [`crate::CandleSource`] (none without one), only those closed by the sim clock's now.
/// Without `startTime`, the `limit` (default 500, at most 1000) bars up to `endTime`.
async fn klines(State(s): S, uri: Uri) -> ApiResult {
    let p = params(&uri, "");
    let (sym, _, _) = symbol_param(&s, &p)?;
    let interval = required(&p, "interval")?;
    let step = crate::candles::interval_ms(interval).ok_or_else(|| ApiError::bad(-1120, "Invalid interval."))?;
    let time = |name: &str| -> Result<Option<i64>, ApiError> {
        p.get(name).map(|v| v.parse::<i64>().map_err(|_| ApiError::illegal(name, "^[0-9]{1,20}$"))).transpose()
    };
    let limit = match p.get("limit") {
        None => 500,
        Some(v) => v.parse::<usize>().map_err(|_| ApiError::illegal("limit", "^[0-9]{1,20}$"))?.clamp(1, 1000),
    };
    let now = s.now_ms();
    // A bar is closed when its close time (open + step - 1) is at or before now.
    let last_closed_open = now - step + 1;
    let end = time("endTime")?.unwrap_or(i64::MAX).min(last_closed_open);
    let start = match time("startTime")? {
        Some(t) => t,
        None => end.saturating_sub(step.saturating_mul(limit as i64 - 1)),
    };
    let rows = match s.candle_source() {
        Some(src) if start <= end => src.candles(&sym, interval, start, end, limit),
        _ => Vec::new(),
    };
    let dec = |v: &str| v.trim().parse::<Decimal>().map(d8).unwrap_or_else(|_| v.to_string());
    let out: Vec<Value> = rows
        .iter()
        .filter_map(|r| {
            let open: i64 = r[0].trim().parse().ok()?;
            let close_time = open + step - 1;
            (open >= start && open <= end && close_time <= now).then(|| {
                json!([
                    open,
                    dec(&r[1]),
                    dec(&r[2]),
                    dec(&r[3]),
                    dec(&r[4]),
                    dec(&r[5]),
                    close_time,
                    d8(Decimal::ZERO),
                    0,
                    d8(Decimal::ZERO),
                    d8(Decimal::ZERO),
                    "0"
                ])
            })
        })
        .collect();
    ok(Value::Array(out))
}

async fn ticker_price(State(s): S, uri: Uri) -> ApiResult {
    let p = params(&uri, "");
    let price_of = |b: &Asset, q: &Asset| -> Result<Option<Decimal>, ApiError> {
        let prices = s.exchange().prices(std::slice::from_ref(b), q).map_err(exchange_error)?;
        Ok(prices.get(b).map(|p| p.0))
    };
    if let Some(sym) = p.get("symbol") {
        let (b, q) = s.symbol(sym).ok_or_else(ApiError::invalid_symbol)?;
        let price = price_of(&b, &q)?.ok_or_else(ApiError::invalid_symbol)?;
        return ok(json!({"symbol": sym, "price": d8(price)}));
    }
    let mut all = Vec::new();
    for (b, q) in s.symbols() {
        if let Some(price) = price_of(b, q)? {
            all.push(json!({"symbol": format!("{b}{q}"), "price": d8(price)}));
        }
    }
    ok(Value::Array(all))
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

// ---------------------------------------------------------------------------------
// Account and orders
// ---------------------------------------------------------------------------------

async fn account(State(s): S, headers: HeaderMap, uri: Uri) -> ApiResult {
    signed(&s, &headers, &uri, "")?;
    let balances = s.exchange().balances().map_err(exchange_error)?;
    let fee_bps = s.exchange().config().fee_bps;
    let rate = d8(fee_bps / Decimal::from(10_000));
    let bps = fee_bps.round().to_i64().unwrap_or(0);
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
        "balances": balances.iter().map(|(a, b)| json!({
            "asset": a.as_str(), "free": d8(b.free.0), "locked": d8(b.locked.0),
        })).collect::<Vec<_>>(),
        "permissions": ["SPOT"],
        "uid": 1,
    }))
}

async fn place_order(State(s): S, headers: HeaderMap, uri: Uri, body: String) -> ApiResult {
    let p = signed(&s, &headers, &uri, &body)?;
    let (sym, base, quote) = symbol_param(&s, &p)?;
    let side = match required(&p, "side")? {
        "BUY" => Side::Buy,
        "SELL" => Side::Sell,
        _ => return Err(ApiError::bad(-1117, "Invalid side.")),
    };
    let ty = required(&p, "type")?;
    let (kind, tif) = match ty {
        "MARKET" => {
            if p.contains_key("price") {
                return Err(ApiError::bad(-1106, "Parameter 'price' sent when not required."));
            }
            (OrderKind::Market, None)
        }
        "LIMIT" => {
            let price = decimal(&p, "price")?;
            match required(&p, "timeInForce")? {
                "GTC" => (OrderKind::Limit { price: Price(price) }, Some("GTC".to_string())),
                _ => return Err(ApiError::bad(-1115, "Invalid timeInForce.")),
            }
        }
        _ => return Err(ApiError::bad(-1116, "Invalid orderType.")),
    };
    let qty = decimal(&p, "quantity")?;
    let resp_type = match p.get("newOrderRespType").map(String::as_str) {
        None | Some("FULL") => "FULL",
        Some("RESULT") => "RESULT",
        Some("ACK") => "ACK",
        Some(_) => return Err(ApiError::illegal("newOrderRespType", "ACK|RESULT|FULL")),
    };
    let client_id = match p.get("newClientOrderId").filter(|c| !c.is_empty()) {
        Some(c) => ClientOrderId::new(c).map_err(|_| ApiError::illegal("newClientOrderId", "^[a-zA-Z0-9-_]{1,26}$"))?,
        None => {
            let n = {
                let mut book = lock(&s.book);
                book.next_auto_id += 1;
                book.next_auto_id
            };
            ClientOrderId::new(&format!("sim-{n}")).map_err(|_| ApiError::internal())?
        }
    };
    if s.roll("reject_rate", |f| f.reject_rate) {
        return Err(ApiError::bad(-2010, "New order rejected."));
    }
    let req = OrderRequest { client_id, base, quote, side, qty: Qty(qty), kind };
    s.check_override(&req).map_err(exchange_error)?;
    s.maybe_partial_fill();
    let now = s.now_ms();
    let outcome = s.exchange().place(&req);
    if let Ok(r) = &outcome {
        let meta = OrderMeta {
            client_id: r.client_id.clone(),
            base: r.base.clone(),
            quote: r.quote.clone(),
            kind,
            time_in_force: tif,
            time: now,
            rested: r.status == OrderStatus::New,
        };
        lock(&s.book).orders.insert(venue_id(r), meta);
    }
    if s.roll("drop_after_execution", |f| f.drop_after_execution) {
        // The order is executed (or refused) at the venue, but the reply is lost.
        return Ok(StatusCode::BAD_GATEWAY.into_response());
    }
    s.maybe_timeout().await;
    let r = outcome.map_err(exchange_error)?;
    let mut v = json!({
        "symbol": sym,
        "orderId": venue_id(&r),
        "orderListId": -1,
        "clientOrderId": r.client_id.as_str(),
        "transactTime": now,
    });
    if resp_type != "ACK" {
        let full = order_json(&s, &r);
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

/// The order named by `orderId` or `origClientOrderId` on the symbol: `(client id)`.
fn order_ref(s: &SimState, p: &Params, base: &Asset, quote: &Asset) -> Result<Option<ClientOrderId>, ApiError> {
    if let Some(id) = p.get("orderId").filter(|v| !v.is_empty()) {
        let id: u64 = id.parse().map_err(|_| ApiError::illegal("orderId", "^[0-9]{1,20}$"))?;
        let book = lock(&s.book);
        return Ok(book.orders.get(&id).filter(|m| &m.base == base && &m.quote == quote).map(|m| m.client_id.clone()));
    }
    match p.get("origClientOrderId").filter(|v| !v.is_empty()) {
        Some(c) => Ok(ClientOrderId::new(c).ok()),
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

async fn cancel_order(State(s): S, headers: HeaderMap, uri: Uri, body: String) -> ApiResult {
    let p = signed(&s, &headers, &uri, &body)?;
    let (sym, base, quote) = symbol_param(&s, &p)?;
    let unknown = || ApiError::bad(-2011, "Unknown order sent.");
    let cid = order_ref(&s, &p, &base, &quote)?.ok_or_else(unknown)?;
    let r = s.exchange().cancel(&cid, &base, &quote).map_err(|e| match e {
        ExchangeError::NotFound(_) | ExchangeError::Rejected(_) => unknown(),
        e => exchange_error(e),
    })?;
    let full = order_json(&s, &r);
    let new_cid = p.get("newClientOrderId").cloned().unwrap_or_else(|| format!("cancel-{}", venue_id(&r)));
    ok(json!({
        "symbol": sym,
        "origClientOrderId": r.client_id.as_str(),
        "orderId": venue_id(&r),
        "orderListId": -1,
        "clientOrderId": new_cid,
        "transactTime": s.now_ms(),
        "price": full["price"],
        "origQty": full["origQty"],
        "executedQty": full["executedQty"],
        "cummulativeQuoteQty": full["cummulativeQuoteQty"],
        "status": full["status"],
        "timeInForce": full["timeInForce"],
        "type": full["type"],
        "side": full["side"],
        "selfTradePreventionMode": "NONE",
    }))
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

async fn my_trades(State(s): S, headers: HeaderMap, uri: Uri) -> ApiResult {
    let p = signed(&s, &headers, &uri, "")?;
    let (sym, base, quote) = symbol_param(&s, &p)?;
    let order_id: Option<u64> = match p.get("orderId") {
        None => None,
        Some(v) => Some(v.parse().map_err(|_| ApiError::illegal("orderId", "^[0-9]{1,20}$"))?),
    };
    let limit: usize = match p.get("limit") {
        None => 500,
        Some(v) => v.parse::<usize>().map_err(|_| ApiError::illegal("limit", "^[0-9]{1,4}$"))?.clamp(1, 1000),
    };
    let metas: Vec<(u64, OrderMeta)> = lock(&s.book)
        .orders
        .iter()
        .filter(|(id, m)| m.base == base && m.quote == quote && order_id.is_none_or(|o| o == **id))
        .map(|(id, m)| (*id, m.clone()))
        .collect();
    let mut trades = Vec::new();
    for (id, m) in metas {
        let Some(r) = s.exchange().query(&m.client_id, &base, &quote).map_err(exchange_error)? else { continue };
        for f in &r.fills {
            trades.push((
                f.trade_id.parse::<u64>().unwrap_or(0),
                json!({
                    "symbol": sym,
                    "id": f.trade_id.parse::<u64>().unwrap_or(0),
                    "orderId": id,
                    "orderListId": -1,
                    "price": d8(f.price.0),
                    "qty": d8(f.qty.0),
                    "quoteQty": d8(f.price.0 * f.qty.0),
                    "commission": d8(f.fee.0),
                    "commissionAsset": f.fee_asset.as_str(),
                    "time": f.time.0,
                    "isBuyer": r.side == Side::Buy,
                    "isMaker": m.rested,
                    "isBestMatch": true,
                }),
            ));
        }
    }
    trades.sort_by_key(|(id, _)| *id);
    ok(Value::Array(trades.into_iter().take(limit).map(|(_, v)| v).collect()))
}

//! The Gate API v4 spot dialect (under `/api/v4`): routes, signing checks, JSON
//! shapes, error labels, on the same paper venue and faults as the Binance dialect.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use ballast_core::planner::Side;
use ballast_core::{Asset, Price};
use ballast_exchange::{ClientOrderId, Exchange, ExchangeError, OrderKind, OrderReport, OrderStatus};
use hmac::{Hmac, Mac};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};
use sha2::{Digest, Sha512};

use crate::{DustInto, OrderMeta, SimState, lock};

/// How far (ms) a request's `Timestamp` may be from the sim clock (Gate: 60 s).
const MAX_SKEW_MS: i64 = 60_000;

/// What the Gate dialect remembers about an order beyond [`OrderMeta`].
#[derive(Clone, Debug, Default)]
struct Extra {
    /// The `text` as sent (`t-...`) or `apiv4` when none was.
    text: String,
    /// When it was cancelled (ms of the sim clock).
    cancelled_at: Option<i64>,
    /// The `amend_text` of its last amendment.
    amend_text: Option<String>,
    /// When it was last amended (ms of the sim clock).
    amended_at: Option<i64>,
}

/// The state of the Gate routes: the shared sim and the Gate-only order details.
struct Ctx {
    sim: Arc<SimState>,
    extra: Mutex<BTreeMap<u64, Extra>>,
    /// Requests per rate-limit window, by what the limit applies to (`orders BTC_USDT`,
    /// `GET /api/v4/spot/tickers`): `(window start, count)`.
    windows: Mutex<BTreeMap<String, (i64, u64)>>,
}

type S = State<Arc<Ctx>>;
type Params = BTreeMap<String, String>;

/// A Gate error: an HTTP status and `{"label": .., "message": ..}`.
#[derive(Debug)]
struct GateError {
    status: StatusCode,
    label: &'static str,
    message: String,
}

impl GateError {
    fn new(status: StatusCode, label: &'static str, message: impl Into<String>) -> Self {
        Self { status, label, message: message.into() }
    }

    fn bad(label: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, label, message)
    }

    fn invalid(message: impl Into<String>) -> Self {
        Self::bad("INVALID_PARAM_VALUE", message)
    }

    fn missing(name: &str) -> Self {
        Self::bad("MISSING_REQUIRED_PARAM", format!("Missing required parameter: {name}"))
    }

    fn pair(name: &str) -> Self {
        Self::bad("INVALID_CURRENCY_PAIR", format!("Invalid currency pair {name}"))
    }

    fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "ORDER_NOT_FOUND", "Order not found")
    }

    fn server() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "SERVER_ERROR", "Internal server error")
    }

    fn too_many() -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_REQUESTS", "Request Rate limit Exceeded")
    }
}

impl IntoResponse for GateError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({"label": self.label, "message": self.message}))).into_response()
    }
}

type GateResult = Result<Response, GateError>;

pub(crate) fn router(sim: Arc<SimState>) -> axum::Router {
    let ctx = Arc::new(Ctx { sim, extra: Mutex::new(BTreeMap::new()), windows: Mutex::new(BTreeMap::new()) });
    axum::Router::new()
        .route("/api/v4/spot/time", get(time))
        .route("/api/v4/spot/currencies", get(currencies))
        .route("/api/v4/spot/currencies/{currency}", get(currency))
        .route("/api/v4/spot/currency_pairs", get(currency_pairs))
        .route("/api/v4/spot/currency_pairs/{pair}", get(currency_pair))
        .route("/api/v4/spot/tickers", get(tickers))
        .route("/api/v4/spot/order_book", get(order_book))
        .route("/api/v4/spot/trades", get(public_trades))
        .route("/api/v4/spot/candlesticks", get(candlesticks))
        .route("/api/v4/spot/accounts", get(accounts))
        .route("/api/v4/spot/orders", get(list_orders).post(place_order).delete(cancel_all))
        .route("/api/v4/spot/orders/{order_id}", get(get_order).delete(cancel_order).patch(amend_order))
        .route("/api/v4/spot/open_orders", get(open_orders))
        .route("/api/v4/spot/my_trades", get(my_trades))
        .route("/api/v4/spot/fee", get(fee))
        .route("/api/v4/margin/currency_pairs", get(empty_list))
        .route("/api/v4/futures/{settle}/contracts", get(empty_list))
        .route("/api/v4/delivery/{settle}/contracts", get(empty_list))
        .route("/api/v4/options/underlyings", get(empty_list))
        .route("/api/v4/account/detail", get(account_detail))
        .route("/api/v4/wallet/small_balance", post(small_balance))
        .route("/api/v4/wallet/small_balance_history", get(small_balance_history))
        .route("/api/v4/{*rest}", any(|| async { GateError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "Not found") }))
        .method_not_allowed_fallback(|| async {
            GateError::new(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", "Method not allowed")
        })
        .layer(middleware::from_fn_with_state(ctx.clone(), faults))
        .with_state(ctx)
}

/// Markets the sim does not have (margin pairs, futures, delivery and options
/// contracts): none.
async fn empty_list() -> Json<Value> {
    Json(json!([]))
}

/// What a Gate rate limit applies to: order placements and amendments per currency
/// pair (`orders BTC_USDT`), every other request per endpoint (`GET /api/v4/spot/tickers`,
/// ids in paths replaced by their names).
fn limit_key(method: &Method, path: &str, pair: Option<&str>) -> (bool, String) {
    let is_order = (method == Method::POST && path == "/api/v4/spot/orders")
        || (method == Method::PATCH && path.starts_with("/api/v4/spot/orders/"));
    if is_order {
        return (true, format!("orders {}", pair.unwrap_or("")));
    }
    let endpoint = [
        ("/api/v4/spot/orders/", "{order_id}"),
        ("/api/v4/spot/currency_pairs/", "{currency_pair}"),
        ("/api/v4/spot/currencies/", "{currency}"),
    ]
    .iter()
    .find(|(prefix, _)| path.starts_with(prefix) && path.len() > prefix.len())
    .map_or_else(|| path.to_string(), |(prefix, name)| format!("{prefix}{name}"));
    (false, format!("{method} {endpoint}"))
}

/// Enforces Gate's limits ([`crate::RateLimits`]: order placements and amendments
/// `gate_orders_per_sec` per currency pair per second, other requests
/// `gate_requests_per_10s` per endpoint per 10 s, on the protocol clock): over one, 429
/// `TOO_MANY_REQUESTS` (Gate has no 418 and sends no `Retry-After`); reports the
/// window in Gate's headers `X-Gate-RateLimit-Requests-Remain`, `-Limit` and
/// `-Reset-Timestamp` (ms) on every response. Then injects latency, 429s and 5xxs (the
/// same [`crate::FaultConfig`] as Binance's side).
async fn faults(State(c): S, req: Request, next: Next) -> Response {
    let s = &c.sim;
    // An order's pair is in its JSON body (or, for an amendment, maybe the query).
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return GateError::bad("INVALID_REQUEST_BODY", "Request body too large or unreadable").into_response();
    };
    let pair = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v.get("currency_pair").and_then(Value::as_str).map(str::to_string))
        .or_else(|| query(&parts.uri).get("currency_pair").cloned());
    let (is_order, key) = limit_key(&parts.method, parts.uri.path(), pair.as_deref());
    let req = Request::from_parts(parts, axum::body::Body::from(bytes));
    let limits = &s.config().limits;
    let (limit, window_ms) =
        if is_order { (limits.gate_orders_per_sec, 1_000) } else { (limits.gate_requests_per_10s, 10_000) };
    let now = s.server_ms();
    let start = now.div_euclid(window_ms) * window_ms;
    let used = {
        let mut w = lock(&c.windows);
        let slot = w.entry(key).or_insert((start, 0));
        *slot = if slot.0 == start { (start, slot.1 + 1) } else { (start, 1) };
        slot.1
    };
    let latency = s.latency_ms();
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let over = limit > 0 && used > limit;
    let mut resp = if over {
        s.count("gate_429");
        GateError::too_many().into_response()
    } else if s.roll("rate_429", |f| f.rate_429) {
        GateError::too_many().into_response()
    } else if s.roll("rate_5xx", |f| f.rate_5xx) {
        GateError::server().into_response()
    } else {
        next.run(req).await
    };
    let h = resp.headers_mut();
    // No limit: Gate's figure, never reached.
    let shown = if limit == 0 { u64::MAX } else { limit };
    h.insert("X-Gate-RateLimit-Requests-Remain", HeaderValue::from(shown.saturating_sub(used)));
    h.insert("X-Gate-RateLimit-Limit", HeaderValue::from(shown));
    h.insert("X-Gate-RateLimit-Reset-Timestamp", HeaderValue::from(start + window_ms));
    resp
}

// ---------------------------------------------------------------------------------
// Parameters and signing
// ---------------------------------------------------------------------------------

fn query(uri: &Uri) -> Params {
    form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).into_owned().collect()
}

/// Checks `KEY`, `SIGN` (HMAC-SHA512 hex of `METHOD\nPATH\nQUERY\nhex(SHA512(body))\nTIMESTAMP`)
/// and `Timestamp` (Unix seconds, within 60 s of the sim clock).
fn signed(s: &SimState, method: &Method, headers: &HeaderMap, uri: &Uri, body: &str) -> Result<(), GateError> {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).filter(|v| !v.is_empty());
    let (Some(key), Some(sign), Some(ts)) = (header("KEY"), header("SIGN"), header("Timestamp")) else {
        return Err(GateError::new(
            StatusCode::UNAUTHORIZED,
            "MISSING_REQUIRED_HEADER",
            "Missing required header: KEY, SIGN or Timestamp",
        ));
    };
    if key != s.config().api_key {
        return Err(GateError::new(StatusCode::UNAUTHORIZED, "INVALID_KEY", "Invalid key provided"));
    }
    let body_hash = hex::encode(Sha512::digest(body.as_bytes()));
    let raw_query = uri.query().unwrap_or("");
    // The official SDK (and CCXT) sign the query with its values decoded
    // (`a=b c`), while it is sent encoded (`a=b%20c`): either is accepted.
    let decoded: String =
        form_urlencoded::parse(raw_query.as_bytes()).map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let verifies = |query: &str| -> Result<bool, GateError> {
        let payload = format!("{}\n{}\n{query}\n{body_hash}\n{ts}", method.as_str(), uri.path());
        let mut mac = Hmac::<Sha512>::new_from_slice(s.config().secret.as_bytes()).map_err(|_| GateError::server())?;
        mac.update(payload.as_bytes());
        Ok(hex::decode(sign).is_ok_and(|raw| mac.verify_slice(&raw).is_ok()))
    };
    if !verifies(raw_query)? && !verifies(&decoded)? {
        return Err(GateError::new(StatusCode::UNAUTHORIZED, "INVALID_SIGNATURE", "Signature mismatch"));
    }
    let ts_ms: i64 = ts
        .parse::<Decimal>()
        .ok()
        .and_then(|t| (t * Decimal::ONE_THOUSAND).trunc().to_i64())
        .ok_or_else(|| GateError::invalid(format!("Invalid Timestamp header {ts}")))?;
    let skew = s.server_ms() - ts_ms;
    if skew.abs() > MAX_SKEW_MS {
        return Err(GateError::new(
            StatusCode::FORBIDDEN,
            "REQUEST_EXPIRED",
            format!("gap between request Timestamp and server time exceeds {}", MAX_SKEW_MS / 1000),
        ));
    }
    // `x-gate-exptime` (ms): a request received later is refused (Gate API v4.85.0).
    if let Some(exp) = header("X-Gate-Exptime") {
        let exp: i64 =
            exp.trim().parse().map_err(|_| GateError::invalid(format!("Invalid x-gate-exptime header {exp}")))?;
        if s.server_ms() > exp {
            return Err(GateError::new(
                StatusCode::FORBIDDEN,
                "REQUEST_EXPIRED",
                format!("request received after its x-gate-exptime {exp}"),
            ));
        }
    }
    Ok(())
}

/// `BTC_USDT` -> `(BTC, USDT)` among the served symbols.
fn pair_of(s: &SimState, id: &str) -> Option<(Asset, Asset)> {
    s.symbols().iter().find(|(b, q)| pair_id(b, q) == id).cloned()
}

fn pair_id(b: &Asset, q: &Asset) -> String {
    format!("{b}_{q}")
}

fn pair_param(s: &SimState, p: &Params) -> Result<(String, Asset, Asset), GateError> {
    let id = p.get("currency_pair").filter(|v| !v.is_empty()).ok_or_else(|| GateError::missing("currency_pair"))?;
    let (b, q) = pair_of(s, id).ok_or_else(|| GateError::pair(id))?;
    Ok((id.clone(), b, q))
}

/// A plain decimal string, no trailing zeros.
fn d(x: Decimal) -> String {
    x.normalize().to_string()
}

/// Decimal places of a power-of-ten increment (`0.01` -> 2).
fn places(x: Decimal) -> u32 {
    x.normalize().scale()
}

/// A decimal body field given as a string or a number.
fn dec_field(v: &Value, name: &str) -> Result<Option<Decimal>, GateError> {
    let bad = || GateError::invalid(format!("Invalid {name}"));
    match v.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let x = s.parse::<Decimal>().map_err(|_| bad())?;
            Ok(Some(x))
        }
        Some(Value::Number(n)) => n.to_string().parse::<Decimal>().map(Some).map_err(|_| bad()),
        Some(_) => Err(bad()),
    }
}

fn str_field<'a>(v: &'a Value, name: &str) -> Option<&'a str> {
    v.get(name).and_then(Value::as_str)
}

/// An [`ExchangeError`] in Gate's words.
fn exchange_error(e: ExchangeError) -> GateError {
    match e {
        ExchangeError::Duplicate(id) => GateError::invalid(format!("text t-{id} is already used (the sim refuses it)")),
        ExchangeError::Rejected(msg) => {
            if msg.starts_with("insufficient balance") {
                GateError::bad("BALANCE_NOT_ENOUGH", "Not enough balance")
            } else if msg.starts_with("PRICE_FILTER") {
                GateError::bad("INVALID_PRECISION", msg)
            } else if msg.starts_with("NOTIONAL") {
                GateError::invalid(format!("Your order size is too small ({msg})"))
            } else if msg.starts_with("LOT_SIZE") && msg.contains("multiple") {
                GateError::bad("INVALID_PRECISION", msg)
            } else if msg.starts_with("LOT_SIZE") {
                GateError::bad("AMOUNT_TOO_LITTLE", msg)
            } else {
                GateError::invalid(msg)
            }
        }
        ExchangeError::NotFound(msg) => GateError::bad("INVALID_CURRENCY_PAIR", msg),
        ExchangeError::RateLimited { .. } => GateError::too_many(),
        ExchangeError::Auth(msg) => GateError::new(StatusCode::FORBIDDEN, "FORBIDDEN", msg),
        ExchangeError::OutcomeUnknown(_) | ExchangeError::Unavailable(_) => GateError::server(),
    }
}

fn ok(v: Value) -> GateResult {
    Ok(Json(v).into_response())
}

fn venue_id(r: &OrderReport) -> u64 {
    r.venue_id.parse().unwrap_or(0)
}

// ---------------------------------------------------------------------------------
// JSON shapes
// ---------------------------------------------------------------------------------

fn secs(ms: i64) -> String {
    ms.div_euclid(1000).to_string()
}

/// An order as Gate's `/spot/orders` writes it.
fn order_json(c: &Ctx, r: &OrderReport) -> Value {
    let id = venue_id(r);
    let meta = lock(&c.sim.book).orders.get(&id).cloned();
    let extra = lock(&c.extra)
        .get(&id)
        .cloned()
        .unwrap_or_else(|| Extra { text: format!("t-{}", r.client_id.as_str()), ..Extra::default() });
    let expired = meta.as_ref().is_some_and(|m| m.expired);
    let (ty, price, tif, time) = match &meta {
        Some(m) => (
            match m.kind {
                OrderKind::Market => "market",
                OrderKind::Limit { .. } | OrderKind::PostOnly { .. } => "limit",
            },
            match m.kind {
                OrderKind::Market => Decimal::ZERO,
                OrderKind::Limit { price } | OrderKind::PostOnly { price } => price.0,
            },
            m.time_in_force.clone().unwrap_or_else(|| "gtc".into()).to_lowercase(),
            m.time,
        ),
        None => ("market", Decimal::ZERO, "ioc".to_string(), 0),
    };
    let filled_total: Decimal = r.fills.iter().map(|f| f.qty.0 * f.price.0).sum();
    // Fees paid by GT deduction are the order's `gt_fee`; the others its `fee`.
    let is_gt = |f: &&ballast_exchange::Fill| f.fee_asset.as_str() == "GT" && r.base.as_str() != "GT";
    let gt_fee: Decimal = r.fills.iter().filter(is_gt).map(|f| f.fee.0).sum();
    let fee: Decimal = r.fills.iter().filter(|f| !is_gt(f)).map(|f| f.fee.0).sum();
    let fee_currency = r.fills.iter().find(|f| !is_gt(f)).map_or(r.quote.as_str(), |f| f.fee_asset.as_str());
    let avg = if r.filled.0 > Decimal::ZERO { filled_total / r.filled.0 } else { Decimal::ZERO };
    let (amount, left) = match meta.as_ref().and_then(|m| m.quote_qty) {
        Some(q) => (q, (q - filled_total).max(Decimal::ZERO)),
        None => (r.qty.0, r.qty.0 - r.filled.0),
    };
    let (status, finish_as) = match r.status {
        OrderStatus::New | OrderStatus::PartiallyFilled => ("open", "open"),
        OrderStatus::Filled => ("closed", "filled"),
        OrderStatus::Canceled if expired && tif == "fok" => ("cancelled", "fok"),
        OrderStatus::Canceled if expired => ("cancelled", "ioc"),
        // Only an injected partial fill expires an order: what did not fill at once
        // was cancelled, like an IOC order that found too little liquidity.
        OrderStatus::Expired => ("cancelled", "ioc"),
        OrderStatus::Canceled | OrderStatus::Rejected => ("cancelled", "cancelled"),
    };
    let update = r
        .fills
        .iter()
        .map(|f| f.time.0)
        .chain(extra.cancelled_at)
        .chain(extra.amended_at)
        .max()
        .unwrap_or(time)
        .max(time);
    json!({
        "id": id.to_string(),
        "text": extra.text,
        "amend_text": extra.amend_text.as_deref().unwrap_or("-"),
        "create_time": secs(time),
        "update_time": secs(update),
        "create_time_ms": time,
        "update_time_ms": update,
        "status": status,
        "currency_pair": pair_id(&r.base, &r.quote),
        "type": ty,
        "account": "spot",
        "side": match r.side { Side::Buy => "buy", Side::Sell => "sell" },
        "amount": d(amount),
        "price": d(price),
        "time_in_force": tif,
        "iceberg": "0",
        "left": d(left),
        "filled_amount": d(r.filled.0),
        "fill_price": d(filled_total),
        "filled_total": d(filled_total),
        "avg_deal_price": d(avg),
        "fee": d(fee),
        "fee_currency": fee_currency,
        "point_fee": "0",
        "gt_fee": d(gt_fee),
        "gt_maker_fee": "0",
        "gt_taker_fee": "0",
        "gt_discount": gt_fee > Decimal::ZERO,
        "rebated_fee": "0",
        "rebated_fee_currency": r.quote.as_str(),
        "finish_as": finish_as,
    })
}

fn pair_json(s: &SimState, b: &Asset, q: &Asset) -> Value {
    let r = s.rules_of(b, q);
    json!({
        "id": pair_id(b, q),
        "base": b.as_str(),
        "base_name": b.as_str(),
        "quote": q.as_str(),
        "quote_name": q.as_str(),
        "fee": d(s.exchange().config().fee_bps / Decimal::ONE_HUNDRED),
        "min_base_amount": d(r.min_qty),
        "min_quote_amount": d(r.min_notional),
        "max_base_amount": null,
        "max_quote_amount": null,
        "amount_precision": places(r.step),
        "precision": places(r.tick),
        "trade_status": "tradable",
        "sell_start": 0,
        "buy_start": 0,
        "delisting_time": 0,
        "type": "normal",
    })
}

// ---------------------------------------------------------------------------------
// Public routes
// ---------------------------------------------------------------------------------

async fn time(State(c): S) -> Json<Value> {
    Json(json!({"server_time": c.sim.server_ms()}))
}

async fn currency_pairs(State(c): S) -> Json<Value> {
    Json(Value::Array(c.sim.symbols().iter().map(|(b, q)| pair_json(&c.sim, b, q)).collect()))
}

async fn currency_pair(State(c): S, Path(pair): Path<String>) -> GateResult {
    let (b, q) = pair_of(&c.sim, &pair).ok_or_else(|| GateError::pair(&pair))?;
    ok(pair_json(&c.sim, &b, &q))
}

async fn tickers(State(c): S, uri: Uri) -> GateResult {
    let p = query(&uri);
    let pairs = match p.get("currency_pair").filter(|v| !v.is_empty()) {
        Some(id) => vec![pair_of(&c.sim, id).ok_or_else(|| GateError::pair(id))?],
        None => c.sim.symbols().to_vec(),
    };
    let mut out = Vec::new();
    for (b, q) in &pairs {
        let Some(last) = c.sim.last_price(b, q) else { continue };
        let day = c.sim.day_stats(&format!("{b}{q}"), last);
        let change = if day.open > Decimal::ZERO {
            ((last - day.open) / day.open * Decimal::ONE_HUNDRED).round_dp(2)
        } else {
            Decimal::ZERO
        };
        let book = c.sim.depth(b, q, 1);
        let top =
            |side: Option<&(Decimal, Decimal)>| side.map_or((String::new(), String::new()), |(p, q)| (d(*p), d(*q)));
        let (bid, bid_size) = top(book.as_ref().and_then(|x| x.bids.first()));
        let (ask, ask_size) = top(book.as_ref().and_then(|x| x.asks.first()));
        out.push(json!({
            "currency_pair": pair_id(b, q),
            "last": d(last),
            "lowest_ask": ask,
            "lowest_size": ask_size,
            "highest_bid": bid,
            "highest_size": bid_size,
            "change_percentage": d(change),
            "base_volume": d(day.volume),
            "quote_volume": d(day.quote_volume),
            "high_24h": d(day.high),
            "low_24h": d(day.low),
        }));
    }
    ok(Value::Array(out))
}

/// `GET /spot/order_book?currency_pair=[&limit=]`: the synthetic book (see
/// `depth.rs`), `limit` levels a side (default 10, at most 5,000).
async fn order_book(State(c): S, uri: Uri) -> GateResult {
    let s = &c.sim;
    let p = query(&uri);
    let (_, base, quote) = pair_param(s, &p)?;
    let limit = limit_param(&p, 10, 5000)?;
    let book = s.depth(&base, &quote, limit).ok_or_else(|| GateError::pair(&pair_id(&base, &quote)))?;
    let side =
        |levels: &[(Decimal, Decimal)]| -> Vec<Value> { levels.iter().map(|(p, q)| json!([d(*p), d(*q)])).collect() };
    let now = s.now_ms();
    ok(json!({"id": now, "current": now, "update": now, "asks": side(&book.asks), "bids": side(&book.bids)}))
}

/// `GET /spot/trades?currency_pair=[&limit=]`: the account's fills (the sim's only
/// trades), newest first.
async fn public_trades(State(c): S, uri: Uri) -> GateResult {
    let s = &c.sim;
    let p = query(&uri);
    let (pair, base, quote) = pair_param(s, &p)?;
    let limit = limit_param(&p, 100, 1000)?;
    let mut out = Vec::new();
    for (_, m) in orders_on(s, &base, &quote) {
        let Some(r) = s.exchange().query(&m.client_id, &base, &quote).map_err(exchange_error)? else { continue };
        for f in &r.fills {
            out.push((
                f.trade_id.parse::<u64>().unwrap_or(0),
                json!({
                    "id": f.trade_id,
                    "create_time": secs(f.time.0),
                    "create_time_ms": format!("{}.000", f.time.0),
                    "currency_pair": pair,
                    "side": match r.side { Side::Buy => "buy", Side::Sell => "sell" },
                    "amount": d(f.qty.0),
                    "price": d(f.price.0),
                    "sequence_id": f.trade_id,
                }),
            ));
        }
    }
    out.sort_by_key(|(id, _)| std::cmp::Reverse(*id));
    ok(Value::Array(out.into_iter().take(limit).map(|(_, v)| v).collect()))
}

/// The orders placed through the sim on a pair, by venue id.
fn orders_on(s: &SimState, base: &Asset, quote: &Asset) -> Vec<(u64, OrderMeta)> {
    lock(&s.book)
        .orders
        .iter()
        .filter(|(_, m)| &m.base == base && &m.quote == quote)
        .map(|(id, m)| (*id, m.clone()))
        .collect()
}

/// Gate's candle intervals and the Binance name of the same length.
fn gate_interval(i: &str) -> Option<&'static str> {
    Some(match i {
        "1m" => "1m",
        "5m" => "5m",
        "15m" => "15m",
        "30m" => "30m",
        "1h" => "1h",
        "4h" => "4h",
        "8h" => "8h",
        "1d" => "1d",
        "7d" => "1w",
        _ => return None,
    })
}

/// `GET /spot/candlesticks?currency_pair=[&interval=&from=&to=&limit=]` (times in
/// seconds): `[time, quote volume, close, high, low, open, base volume, closed]`.
async fn candlesticks(State(c): S, uri: Uri) -> GateResult {
    let s = &c.sim;
    let p = query(&uri);
    let (_, base, quote) = pair_param(s, &p)?;
    let name = p.get("interval").map_or("30m", String::as_str);
    let binance = gate_interval(name).ok_or_else(|| GateError::invalid(format!("Invalid interval {name}")))?;
    let secs_param = |n: &str| -> Result<Option<i64>, GateError> {
        p.get(n)
            .filter(|v| !v.is_empty())
            .map(|v| v.parse::<i64>().map(|t| t * 1000).map_err(|_| GateError::invalid(format!("Invalid {n}"))))
            .transpose()
    };
    let (from, to) = (secs_param("from")?, secs_param("to")?);
    if from.is_some() && p.contains_key("limit") {
        return Err(GateError::invalid("limit cannot be used with from and to"));
    }
    let limit = limit_param(&p, 100, 1000)?;
    let bars = s
        .bars(&base, &quote, binance, from, to, if from.is_some() { 1000 } else { limit })
        .ok_or_else(|| GateError::invalid(format!("Invalid interval {name}: the sim has no candles at it")))?;
    let out: Vec<Value> = bars
        .iter()
        .map(|b| {
            json!([
                secs(b.open_time),
                d(b.volume * b.close),
                d(b.close),
                d(b.high),
                d(b.low),
                d(b.open),
                d(b.volume),
                if b.closed { "true" } else { "false" }
            ])
        })
        .collect();
    ok(Value::Array(out))
}

fn currency_json(a: &Asset) -> Value {
    json!({
        "currency": a.as_str(), "name": a.as_str(), "delisted": false, "withdraw_disabled": true,
        "withdraw_delayed": false, "deposit_disabled": true, "trade_disabled": false, "fixed_rate": "",
        "chain": "", "chains": [],
    })
}

/// The assets of the served pairs.
fn served_assets(s: &SimState) -> Vec<Asset> {
    let mut all: Vec<Asset> = s.symbols().iter().flat_map(|(b, q)| [b.clone(), q.clone()]).collect();
    all.sort();
    all.dedup();
    all
}

/// `GET /spot/currencies`: the assets of the served pairs (deposits and withdrawals
/// disabled: the sim moves no coins).
async fn currencies(State(c): S) -> Json<Value> {
    Json(Value::Array(served_assets(&c.sim).iter().map(currency_json).collect()))
}

async fn currency(State(c): S, Path(currency): Path<String>) -> GateResult {
    let a = served_assets(&c.sim)
        .into_iter()
        .find(|a| a.as_str() == currency)
        .ok_or_else(|| GateError::bad("INVALID_CURRENCY", format!("Invalid currency {currency}")))?;
    ok(currency_json(&a))
}

/// `GET /spot/fee`: the paper venue's fee, maker and taker; with the GT deduction on
/// (the paper venue charges fees in GT, `ballast sim --fee-discount gt`),
/// `gt_discount` true and `gt_taker_fee` / `gt_maker_fee` the discounted rates (Gate
/// API v4, "Retrieve personal trading fee",
/// <https://www.gate.io/docs/developers/apiv4/en/#retrieve-personal-trading-fee>).
async fn fee(State(c): S, method: Method, headers: HeaderMap, uri: Uri, body: String) -> GateResult {
    signed(&c.sim, &method, &headers, &uri, &body)?;
    let standard = c.sim.exchange().config().fee_bps / Decimal::from(10_000);
    let rate = d(standard);
    // Only while the account holds GT (the sim's fills pay in the quote otherwise).
    let gt = c.sim.exchange().discount_in_effect().map_err(exchange_error)?.filter(|x| x.asset.as_str() == "GT");
    let gt_rate = d(gt.map_or(Decimal::ZERO, |x| standard * x.multiplier));
    ok(json!({"user_id": 1, "taker_fee": rate, "maker_fee": rate, "gt_discount": gt.is_some(),
        "gt_taker_fee": gt_rate, "gt_maker_fee": gt_rate, "loan_fee": "0", "point_type": "0",
        "futures_taker_fee": "0", "futures_maker_fee": "0", "delivery_taker_fee": "0", "delivery_maker_fee": "0",
        "debit_fee": 3}))
}

/// `POST /wallet/small_balance` (signed), body `{"currency": ["FLOKI", ...]}`:
/// "Convert small balance" into GT (Gate API v4, Wallet,
/// <https://www.gate.io/docs/developers/apiv4/en/#convert-small-balance>); each
/// currency's whole free balance at the last prices less the 2 % charge
/// ([`SimState::convert_dust`]). Gate answers 200 with no body; what was converted is
/// read from `GET /wallet/small_balance_history`. A currency that cannot be converted
/// refuses the whole request (400 `INVALID_PARAM_VALUE` naming it), nothing converted.
async fn small_balance(State(c): S, method: Method, headers: HeaderMap, uri: Uri, body: String) -> GateResult {
    signed(&c.sim, &method, &headers, &uri, &body)?;
    let v: Value = serde_json::from_str(&body).map_err(|_| GateError::bad("INVALID_REQUEST_BODY", "Invalid JSON"))?;
    let list = v.get("currency").and_then(Value::as_array).ok_or_else(|| GateError::missing("currency"))?;
    let mut assets = Vec::with_capacity(list.len());
    for x in list {
        let a = x
            .as_str()
            .and_then(|n| Asset::new(n).ok())
            .ok_or_else(|| GateError::invalid(format!("Invalid currency {x}")))?;
        if !assets.contains(&a) {
            assets.push(a);
        }
    }
    if assets.is_empty() {
        return Err(GateError::missing("currency"));
    }
    c.sim.convert_dust(&assets, DustInto::Gate).map_err(|e| match e {
        ExchangeError::Rejected(msg) => GateError::invalid(msg),
        other => exchange_error(other),
    })?;
    Ok(StatusCode::OK.into_response())
}

/// `GET /wallet/small_balance_history[?currency=&page=&limit=]` (signed): the
/// conversions, newest first, each `{id, currency, amount, gt_amount, create_time}`
/// (Gate API v4, Wallet, "List small balance history",
/// <https://www.gate.io/docs/developers/apiv4/en/#list-small-balance-history>).
async fn small_balance_history(State(c): S, method: Method, headers: HeaderMap, uri: Uri, body: String) -> GateResult {
    signed(&c.sim, &method, &headers, &uri, &body)?;
    let p = query(&uri);
    let limit = limit_param(&p, 100, 100)?;
    let page: usize = match p.get("page") {
        None => 1,
        Some(x) => x.parse().ok().filter(|n| *n >= 1).ok_or_else(|| GateError::invalid("Invalid page"))?,
    };
    let log = c.sim.dust_log();
    let rows: Vec<Value> = log
        .iter()
        .enumerate()
        .rev()
        .filter(|(_, r)| p.get("currency").is_none_or(|cur| cur == r.asset.as_str()))
        .skip((page - 1) * limit)
        .take(limit)
        .map(|(i, r)| {
            json!({
                "id": (i + 1).to_string(),
                "currency": r.asset.as_str(),
                "amount": d(r.amount),
                "gt_amount": d(r.got),
                "create_time": r.time.div_euclid(1000),
            })
        })
        .collect();
    ok(json!(rows))
}

/// `GET /account/detail`: a classic (not unified) spot account.
async fn account_detail(State(c): S, method: Method, headers: HeaderMap, uri: Uri, body: String) -> GateResult {
    signed(&c.sim, &method, &headers, &uri, &body)?;
    ok(json!({"user_id": 1, "ip_whitelist": [], "currency_pairs": [], "key": {"mode": 1}, "tier": 0}))
}

// ---------------------------------------------------------------------------------
// Account and orders
// ---------------------------------------------------------------------------------

async fn accounts(State(c): S, method: Method, headers: HeaderMap, uri: Uri, body: String) -> GateResult {
    signed(&c.sim, &method, &headers, &uri, &body)?;
    let p = query(&uri);
    let wanted = p.get("currency").filter(|v| !v.is_empty());
    let balances = c.sim.exchange().balances().map_err(exchange_error)?;
    let out: Vec<Value> = balances
        .iter()
        .filter(|(a, _)| wanted.is_none_or(|w| w == a.as_str()))
        .map(
            |(a, b)| json!({"currency": a.as_str(), "available": d(b.free.0), "locked": d(b.locked.0), "update_id": 1}),
        )
        .collect();
    ok(Value::Array(out))
}

/// Gate's rule for `text`: `t-` and 1 to 28 bytes of `0-9 A-Z a-z _ - .` (Gate's API
/// reference for `Order.text`, as in its SDK `gate-api` 7.2.161, `models/order.py`).
fn valid_text(t: &str) -> Option<&str> {
    let rest = t.strip_prefix("t-")?;
    ((1..=28).contains(&rest.len())
        && rest.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')))
    .then_some(rest)
}

async fn place_order(State(c): S, method: Method, headers: HeaderMap, uri: Uri, body: String) -> GateResult {
    let s = &c.sim;
    signed(s, &method, &headers, &uri, &body)?;
    let v: Value = serde_json::from_str(&body).map_err(|_| GateError::bad("INVALID_REQUEST_BODY", "Invalid JSON"))?;
    let pair = str_field(&v, "currency_pair").ok_or_else(|| GateError::missing("currency_pair"))?;
    let (base, quote) = pair_of(s, pair).ok_or_else(|| GateError::pair(pair))?;
    if !matches!(str_field(&v, "account"), None | Some("spot")) {
        return Err(GateError::invalid("Invalid account: only spot is served"));
    }
    let side = match str_field(&v, "side") {
        Some("buy") => Side::Buy,
        Some("sell") => Side::Sell,
        Some(_) => return Err(GateError::invalid("Invalid side")),
        None => return Err(GateError::missing("side")),
    };
    let amount = dec_field(&v, "amount")?.ok_or_else(|| GateError::missing("amount"))?;
    if amount <= Decimal::ZERO {
        return Err(GateError::invalid("Invalid amount"));
    }
    let ty = str_field(&v, "type").unwrap_or("limit");
    let tif = str_field(&v, "time_in_force");
    let (kind, tif, order_type) = match ty {
        "limit" => {
            let price = dec_field(&v, "price")?.ok_or_else(|| GateError::missing("price"))?;
            match tif.unwrap_or("gtc") {
                t @ ("gtc" | "ioc" | "fok") => (OrderKind::Limit { price: Price(price) }, t.to_string(), "LIMIT"),
                "poc" => (OrderKind::Limit { price: Price(price) }, "poc".to_string(), "LIMIT_MAKER"),
                t => return Err(GateError::invalid(format!("Invalid time_in_force {t}: gtc, ioc, poc or fok"))),
            }
        }
        "market" => match tif.unwrap_or("ioc") {
            t @ ("ioc" | "fok") => (OrderKind::Market, t.to_string(), "MARKET"),
            t => return Err(GateError::invalid(format!("Invalid time_in_force {t}: market orders are ioc or fok"))),
        },
        t => return Err(GateError::invalid(format!("Invalid type {t}"))),
    };
    // A market BUY's amount is in quote: buy what it pays for at the last price.
    let (qty, quote_qty) = if kind == OrderKind::Market && side == Side::Buy {
        (s.qty_for_quote(&base, &quote, amount, side).map_err(exchange_error)?, Some(amount))
    } else {
        (amount, None)
    };
    let (client, text) = match str_field(&v, "text").filter(|t| !t.is_empty()) {
        Some(t) => {
            let id = valid_text(t)
                .ok_or_else(|| GateError::invalid("Invalid text: t- followed by 1 to 28 of 0-9 A-Z a-z _ - ."))?;
            (Some(id.to_string()), t.to_string())
        }
        None => (None, "apiv4".to_string()),
    };
    // Gate's own words for an order below the minimum value (CCXT reads them).
    let min_value = s.rules_of(&base, &quote).min_notional;
    let price_for_value = match kind {
        OrderKind::Limit { price } | OrderKind::PostOnly { price } => Some(price.0),
        OrderKind::Market => s.last_price(&base, &quote),
    };
    if let Some(px) = price_for_value {
        let value = quote_qty.unwrap_or(qty * px);
        if value < min_value {
            return Err(GateError::invalid(format!(
                "Your order size {} {quote} is too small. The minimum is {} {quote} (NOTIONAL filter)",
                d(value),
                d(min_value)
            )));
        }
    }
    if s.roll("reject_rate", |f| f.reject_rate) {
        return Err(GateError::bad("ORDER_REJECTED", "Order rejected"));
    }
    let placement = crate::Placement {
        client,
        base,
        quote,
        side,
        qty,
        kind,
        order_type,
        time_in_force: Some(tif.clone()),
        immediate: matches!(tif.as_str(), "ioc" | "fok") && kind != OrderKind::Market,
        post_only: tif == "poc",
        quote_qty,
        count_orders: false,
    };
    let outcome = s.place(placement);
    if let Ok((id, _)) = &outcome {
        let expired = lock(&s.book).orders.get(id).is_some_and(|m| m.expired);
        let extra = Extra { text, cancelled_at: expired.then(|| s.now_ms()), ..Extra::default() };
        lock(&c.extra).insert(*id, extra);
    }
    if s.roll("drop_after_execution", |f| f.drop_after_execution) {
        // Executed (or refused) at the venue, but the reply is lost.
        return Ok(StatusCode::BAD_GATEWAY.into_response());
    }
    s.maybe_timeout().await;
    let (_, r) = outcome.map_err(|e| match e {
        crate::PlaceError::Duplicate => GateError::invalid("Duplicate text: an open order has it"),
        crate::PlaceError::WouldTake => {
            GateError::bad("POC_FILL_IMMEDIATELY", "Order would match and take immediately so its cancelled")
        }
        crate::PlaceError::TooManyOrders(..) => GateError::too_many(),
        crate::PlaceError::Venue(e) => exchange_error(e),
    })?;
    Ok((StatusCode::CREATED, Json(order_json(&c, &r))).into_response())
}

/// The client id of `order_id` (a Gate order id or `t-<client id>`) on the pair.
fn client_id_of(s: &SimState, order_id: &str, base: &Asset, quote: &Asset) -> Option<ClientOrderId> {
    if let Some(rest) = order_id.strip_prefix("t-") {
        return s.paper_id_of(rest, base, quote);
    }
    let id: u64 = order_id.parse().ok()?;
    lock(&s.book).orders.get(&id).filter(|m| &m.base == base && &m.quote == quote).map(|m| m.client_id.clone())
}

fn find(s: &SimState, order_id: &str, base: &Asset, quote: &Asset) -> Result<OrderReport, GateError> {
    let cid = client_id_of(s, order_id, base, quote).ok_or_else(GateError::not_found)?;
    s.exchange().query(&cid, base, quote).map_err(exchange_error)?.ok_or_else(GateError::not_found)
}

async fn get_order(
    State(c): S,
    Path(order_id): Path<String>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    body: String,
) -> GateResult {
    signed(&c.sim, &method, &headers, &uri, &body)?;
    let (_, base, quote) = pair_param(&c.sim, &query(&uri))?;
    let r = find(&c.sim, &order_id, &base, &quote)?;
    ok(order_json(&c, &r))
}

async fn cancel_order(
    State(c): S,
    Path(order_id): Path<String>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    body: String,
) -> GateResult {
    let s = &c.sim;
    signed(s, &method, &headers, &uri, &body)?;
    let (_, base, quote) = pair_param(s, &query(&uri))?;
    let current = find(s, &order_id, &base, &quote)?;
    match current.status {
        OrderStatus::Filled => return Err(GateError::bad("ORDER_CLOSED", "Order already closed")),
        st if st.is_final() => return Err(GateError::bad("ORDER_CANCELLED", "Order already cancelled")),
        _ => {}
    }
    let r = s.exchange().cancel(&current.client_id, &base, &quote).map_err(|e| match e {
        ExchangeError::NotFound(_) => GateError::not_found(),
        e => exchange_error(e),
    })?;
    let now = s.now_ms();
    lock(&c.extra)
        .entry(venue_id(&r))
        .or_insert_with(|| Extra { text: format!("t-{}", r.client_id.as_str()), ..Extra::default() })
        .cancelled_at = Some(now);
    ok(order_json(&c, &r))
}

/// `PATCH /spot/orders/{order_id}` (an order id or `t-` text): amends an open limit
/// order's `amount` and/or `price` (JSON body with `currency_pair`, or it in the query;
/// `account` spot; `amend_text` up to 31 characters, shown as the order's
/// `amend_text`). The new values are checked as a placement's; a larger amount or
/// price needs the free balance. A `poc` order that the new price would fill is
/// refused (`POC_FILL_IMMEDIATELY`); any other order whose new price the market
/// reaches fills at once. Answers the order.
async fn amend_order(
    State(c): S,
    Path(order_id): Path<String>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    body: String,
) -> GateResult {
    let s = &c.sim;
    signed(s, &method, &headers, &uri, &body)?;
    let v: Value = if body.trim().is_empty() {
        json!({})
    } else {
        serde_json::from_str(&body).map_err(|_| GateError::bad("INVALID_REQUEST_BODY", "Invalid JSON"))?
    };
    let q = query(&uri);
    let field = |name: &str| str_field(&v, name).map(str::to_string).or_else(|| q.get(name).cloned());
    let pair = field("currency_pair").filter(|p| !p.is_empty()).ok_or_else(|| GateError::missing("currency_pair"))?;
    let (base, quote) = pair_of(s, &pair).ok_or_else(|| GateError::pair(&pair))?;
    if !matches!(field("account").as_deref(), None | Some("spot")) {
        return Err(GateError::invalid("Invalid account: only spot is served"));
    }
    let amount = dec_field(&v, "amount")?;
    let price = dec_field(&v, "price")?;
    if amount.is_none() && price.is_none() {
        return Err(GateError::invalid("Either amount or price must be specified"));
    }
    if amount.is_some_and(|a| a <= Decimal::ZERO) {
        return Err(GateError::invalid("Invalid amount"));
    }
    if price.is_some_and(|p| p <= Decimal::ZERO) {
        return Err(GateError::invalid("Invalid price"));
    }
    let amend_text = str_field(&v, "amend_text").filter(|t| !t.is_empty()).map(str::to_string);
    if amend_text.as_ref().is_some_and(|t| t.len() > 31 || !t.bytes().all(|b| b.is_ascii_graphic())) {
        return Err(GateError::invalid("Invalid amend_text: up to 31 printable characters"));
    }
    let current = find(s, &order_id, &base, &quote)?;
    match current.status {
        OrderStatus::Filled => return Err(GateError::bad("ORDER_CLOSED", "Order already closed")),
        st if st.is_final() => return Err(GateError::bad("ORDER_CANCELLED", "Order already cancelled")),
        _ => {}
    }
    let id = venue_id(&current);
    let meta = lock(&s.book).orders.get(&id).cloned().ok_or_else(GateError::not_found)?;
    if meta.order_type == "LIMIT_MAKER"
        && let Some(p) = price
        && s.post_only_takes(&base, &quote, current.side, p)
    {
        return Err(GateError::bad("POC_FILL_IMMEDIATELY", "Order would match and take immediately so its cancelled"));
    }
    let r = s.amend(id, amount, price).map_err(|e| match e {
        ExchangeError::NotFound(_) => GateError::not_found(),
        e => exchange_error(e),
    })?;
    {
        let now = s.now_ms();
        let mut extra = lock(&c.extra);
        let e = extra
            .entry(id)
            .or_insert_with(|| Extra { text: format!("t-{}", r.client_id.as_str()), ..Extra::default() });
        e.amend_text = amend_text.or_else(|| e.amend_text.clone());
        e.amended_at = Some(now);
    }
    ok(order_json(&c, &r))
}

/// `DELETE /spot/orders?currency_pair=[&side=]`: cancels the pair's open orders;
/// answers them.
async fn cancel_all(State(c): S, method: Method, headers: HeaderMap, uri: Uri, body: String) -> GateResult {
    let s = &c.sim;
    signed(s, &method, &headers, &uri, &body)?;
    let p = query(&uri);
    let (_, base, quote) = pair_param(s, &p)?;
    let side = match p.get("side").map(String::as_str) {
        None | Some("") => None,
        Some("buy") => Some(Side::Buy),
        Some("sell") => Some(Side::Sell),
        Some(x) => return Err(GateError::invalid(format!("Invalid side {x}"))),
    };
    let mut out = Vec::new();
    for o in s.exchange().open_orders(&base, &quote).map_err(exchange_error)? {
        if side.is_some_and(|sd| sd != o.side) {
            continue;
        }
        match s.exchange().cancel(&o.client_id, &base, &quote) {
            Ok(r) => {
                lock(&c.extra)
                    .entry(venue_id(&r))
                    .or_insert_with(|| Extra { text: format!("t-{}", r.client_id.as_str()), ..Extra::default() })
                    .cancelled_at = Some(s.now_ms());
                out.push(order_json(&c, &r));
            }
            Err(ExchangeError::NotFound(_) | ExchangeError::Rejected(_)) => {}
            Err(e) => return Err(exchange_error(e)),
        }
    }
    ok(Value::Array(out))
}

fn limit_param(p: &Params, default: usize, max: usize) -> Result<usize, GateError> {
    match p.get("limit") {
        None => Ok(default),
        Some(v) => v.parse::<usize>().map(|l| l.clamp(1, max)).map_err(|_| GateError::invalid("Invalid limit")),
    }
}

fn page_param(p: &Params) -> Result<usize, GateError> {
    match p.get("page") {
        None => Ok(1),
        Some(v) => v.parse::<usize>().map(|n| n.max(1)).map_err(|_| GateError::invalid("Invalid page")),
    }
}

async fn list_orders(State(c): S, method: Method, headers: HeaderMap, uri: Uri, body: String) -> GateResult {
    let s = &c.sim;
    signed(s, &method, &headers, &uri, &body)?;
    let p = query(&uri);
    let (_, base, quote) = pair_param(s, &p)?;
    let limit = limit_param(&p, 100, 1000)?;
    let skip = (page_param(&p)? - 1) * limit;
    let open = match p.get("status").map(String::as_str) {
        Some("open") => true,
        Some("finished") => false,
        Some(_) => return Err(GateError::invalid("Invalid status: open or finished")),
        None => return Err(GateError::missing("status")),
    };
    let side = p.get("side").map(String::as_str);
    let wanted_side = |r: &OrderReport| match side {
        Some("buy") => r.side == Side::Buy,
        Some("sell") => r.side == Side::Sell,
        _ => true,
    };
    let out: Vec<Value> = if open {
        let mut rs = s.exchange().open_orders(&base, &quote).map_err(exchange_error)?;
        rs.sort_by_key(venue_id);
        rs.iter().filter(|r| wanted_side(r)).skip(skip).take(limit).map(|r| order_json(&c, r)).collect()
    } else {
        // Most recent first, among the orders placed through the sim.
        let cids: Vec<ClientOrderId> = lock(&s.book)
            .orders
            .values()
            .rev()
            .filter(|m| m.base == base && m.quote == quote)
            .map(|m| m.client_id.clone())
            .collect();
        let mut out = Vec::new();
        let mut seen = 0;
        for cid in cids {
            if out.len() >= limit {
                break;
            }
            let Some(r) = s.exchange().query(&cid, &base, &quote).map_err(exchange_error)? else { continue };
            if !r.status.is_final() || !wanted_side(&r) {
                continue;
            }
            seen += 1;
            if seen > skip {
                out.push(order_json(&c, &r));
            }
        }
        out
    };
    ok(Value::Array(out))
}

async fn open_orders(State(c): S, method: Method, headers: HeaderMap, uri: Uri, body: String) -> GateResult {
    let s = &c.sim;
    signed(s, &method, &headers, &uri, &body)?;
    let mut out = Vec::new();
    for (b, q) in s.symbols() {
        let mut rs = s.exchange().open_orders(b, q).map_err(exchange_error)?;
        if rs.is_empty() {
            continue;
        }
        rs.sort_by_key(venue_id);
        out.push(json!({
            "currency_pair": pair_id(b, q),
            "total": rs.len(),
            "orders": rs.iter().map(|r| order_json(&c, r)).collect::<Vec<_>>(),
        }));
    }
    ok(Value::Array(out))
}

async fn my_trades(State(c): S, method: Method, headers: HeaderMap, uri: Uri, body: String) -> GateResult {
    let s = &c.sim;
    signed(s, &method, &headers, &uri, &body)?;
    let p = query(&uri);
    let (pair, base, quote) = pair_param(s, &p)?;
    let limit = limit_param(&p, 100, 1000)?;
    let skip = (page_param(&p)? - 1) * limit;
    let order_id: Option<u64> = match p.get("order_id").filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(v.parse().map_err(|_| GateError::invalid("Invalid order_id"))?),
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
        let text = lock(&c.extra).get(&id).map_or_else(|| format!("t-{}", m.client_id.as_str()), |e| e.text.clone());
        for f in &r.fills {
            trades.push((
                f.trade_id.parse::<u64>().unwrap_or(0),
                json!({
                    "id": f.trade_id,
                    "create_time": secs(f.time.0),
                    "create_time_ms": format!("{}.000000", f.time.0),
                    "currency_pair": pair,
                    "side": match r.side { Side::Buy => "buy", Side::Sell => "sell" },
                    "role": if m.rested { "maker" } else { "taker" },
                    "amount": d(f.qty.0),
                    "price": d(f.price.0),
                    "order_id": id.to_string(),
                    "fee": d(f.fee.0),
                    "fee_currency": f.fee_asset.as_str(),
                    "point_fee": "0",
                    "gt_fee": "0",
                    "amend_text": "-",
                    "sequence_id": f.trade_id,
                    "text": text,
                }),
            ));
        }
    }
    // Newest first, as Gate.
    trades.sort_by_key(|(id, _)| std::cmp::Reverse(*id));
    ok(Value::Array(trades.into_iter().skip(skip).take(limit).map(|(_, v)| v).collect()))
}

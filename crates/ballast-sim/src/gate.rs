//! The Gate API v4 spot dialect (under `/api/v4`): routes, signing checks, JSON
//! shapes, error labels, on the same paper venue and faults as the Binance dialect.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use ballast_core::planner::Side;
use ballast_core::{Asset, Price, Qty};
use ballast_exchange::{ClientOrderId, Exchange, ExchangeError, OrderKind, OrderReport, OrderRequest, OrderStatus};
use hmac::{Hmac, Mac};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};
use sha2::{Digest, Sha512};

use crate::{OrderMeta, SimState, lock};

/// How far (ms) a request's `Timestamp` may be from the sim clock (Gate: 60 s).
const MAX_SKEW_MS: i64 = 60_000;

/// What the Gate dialect remembers about an order beyond [`OrderMeta`].
#[derive(Clone, Debug, Default)]
struct Extra {
    /// The `text` as sent (`t-...`) or `apiv4` when none was.
    text: String,
    /// An IOC order that did not cross and was cancelled at once (`finish_as: ioc`).
    ioc_expired: bool,
    /// A market BUY: the quote amount ordered (Gate's `amount` for market buys).
    quote_amount: Option<Decimal>,
    /// When it was cancelled (ms of the sim clock).
    cancelled_at: Option<i64>,
}

/// The state of the Gate routes: the shared sim and the Gate-only order details.
struct Ctx {
    sim: Arc<SimState>,
    extra: Mutex<BTreeMap<u64, Extra>>,
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
    let ctx = Arc::new(Ctx { sim, extra: Mutex::new(BTreeMap::new()) });
    axum::Router::new()
        .route("/api/v4/spot/time", get(time))
        .route("/api/v4/spot/currency_pairs", get(currency_pairs))
        .route("/api/v4/spot/currency_pairs/{pair}", get(currency_pair))
        .route("/api/v4/spot/tickers", get(tickers))
        .route("/api/v4/spot/accounts", get(accounts))
        .route("/api/v4/spot/orders", get(list_orders).post(place_order))
        .route("/api/v4/spot/orders/{order_id}", get(get_order).delete(cancel_order))
        .route("/api/v4/spot/open_orders", get(open_orders))
        .route("/api/v4/spot/my_trades", get(my_trades))
        .route("/api/v4/{*rest}", any(|| async { GateError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "Not found") }))
        .layer(middleware::from_fn_with_state(ctx.clone(), faults))
        .with_state(ctx)
}

/// Injects latency, 429s and 5xxs (the same [`crate::FaultConfig`] as Binance's side).
async fn faults(State(c): S, req: Request, next: Next) -> Response {
    let s = &c.sim;
    let latency = s.latency_ms();
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    if s.roll("rate_429", |f| f.rate_429) {
        GateError::too_many().into_response()
    } else if s.roll("rate_5xx", |f| f.rate_5xx) {
        GateError::server().into_response()
    } else {
        next.run(req).await
    }
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
    let payload = format!("{}\n{}\n{}\n{body_hash}\n{ts}", method.as_str(), uri.path(), uri.query().unwrap_or(""));
    let mut mac = Hmac::<Sha512>::new_from_slice(s.config().secret.as_bytes()).map_err(|_| GateError::server())?;
    mac.update(payload.as_bytes());
    if !hex::decode(sign).is_ok_and(|raw| mac.verify_slice(&raw).is_ok()) {
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
    let (ty, price, tif, time) = match &meta {
        Some(m) => (
            match m.kind {
                OrderKind::Market => "market",
                OrderKind::Limit { .. } => "limit",
            },
            match m.kind {
                OrderKind::Market => Decimal::ZERO,
                OrderKind::Limit { price } => price.0,
            },
            m.time_in_force.clone().unwrap_or_else(|| "gtc".into()).to_lowercase(),
            m.time,
        ),
        None => ("market", Decimal::ZERO, "ioc".to_string(), 0),
    };
    let filled_total: Decimal = r.fills.iter().map(|f| f.qty.0 * f.price.0).sum();
    let fee: Decimal = r.fills.iter().map(|f| f.fee.0).sum();
    let avg = if r.filled.0 > Decimal::ZERO { filled_total / r.filled.0 } else { Decimal::ZERO };
    let (amount, left) = match extra.quote_amount {
        Some(q) => (q, (q - filled_total).max(Decimal::ZERO)),
        None => (r.qty.0, r.qty.0 - r.filled.0),
    };
    let (status, finish_as) = match r.status {
        OrderStatus::New | OrderStatus::PartiallyFilled => ("open", "open"),
        OrderStatus::Filled => ("closed", "filled"),
        OrderStatus::Canceled if extra.ioc_expired => ("cancelled", "ioc"),
        // Only an injected partial fill expires an order: what did not fill at once
        // was cancelled, like an IOC order that found too little liquidity.
        OrderStatus::Expired => ("cancelled", "ioc"),
        OrderStatus::Canceled | OrderStatus::Rejected => ("cancelled", "cancelled"),
    };
    let update = r.fills.iter().map(|f| f.time.0).chain(extra.cancelled_at).max().unwrap_or(time).max(time);
    json!({
        "id": id.to_string(),
        "text": extra.text,
        "amend_text": "-",
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
        "fee_currency": r.fills.first().map_or(r.quote.as_str(), |f| f.fee_asset.as_str()),
        "point_fee": "0",
        "gt_fee": "0",
        "gt_maker_fee": "0",
        "gt_taker_fee": "0",
        "gt_discount": false,
        "rebated_fee": "0",
        "rebated_fee_currency": r.quote.as_str(),
        "finish_as": finish_as,
    })
}

fn pair_json(s: &SimState, b: &Asset, q: &Asset) -> Value {
    let r = s.rules_of(b);
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
        let prices = c.sim.exchange().prices(std::slice::from_ref(b), q).map_err(exchange_error)?;
        let Some(last) = prices.get(b) else { continue };
        let last = d(last.0);
        out.push(json!({
            "currency_pair": pair_id(b, q),
            "last": last,
            "lowest_ask": last,
            "highest_bid": last,
            "change_percentage": "0",
            "base_volume": "0",
            "quote_volume": "0",
            "high_24h": last,
            "low_24h": last,
        }));
    }
    ok(Value::Array(out))
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
    let (kind, tif) = match ty {
        "limit" => {
            let price = dec_field(&v, "price")?.ok_or_else(|| GateError::missing("price"))?;
            match tif.unwrap_or("gtc") {
                t @ ("gtc" | "ioc") => (OrderKind::Limit { price: Price(price) }, t.to_string()),
                t => return Err(GateError::invalid(format!("Invalid time_in_force {t}: the sim serves gtc and ioc"))),
            }
        }
        "market" => match tif.unwrap_or("ioc") {
            "ioc" => (OrderKind::Market, "ioc".to_string()),
            t => return Err(GateError::invalid(format!("Invalid time_in_force {t}: market orders are ioc"))),
        },
        t => return Err(GateError::invalid(format!("Invalid type {t}"))),
    };
    // A market BUY's amount is in quote: buy what it pays for at the last price.
    let (qty, quote_amount) = if kind == OrderKind::Market && side == Side::Buy {
        let prices = s.exchange().prices(std::slice::from_ref(&base), &quote).map_err(exchange_error)?;
        let last = prices.get(&base).ok_or_else(|| GateError::pair(pair))?.0;
        let config = s.exchange().config();
        let step = s.rules_of(&base).step;
        let unit = last * (Decimal::ONE + config.slippage_bps / Decimal::from(10_000));
        let raw = amount / unit;
        let qty = if step > Decimal::ZERO { (raw / step).floor() * step } else { raw };
        (qty, Some(amount))
    } else {
        (amount, None)
    };
    let (client_id, text) = match str_field(&v, "text").filter(|t| !t.is_empty()) {
        Some(t) => {
            let id = t
                .strip_prefix("t-")
                .and_then(|rest| ClientOrderId::new(rest).ok())
                .ok_or_else(|| GateError::invalid("Invalid text: t- followed by 1 to 26 of A-Z a-z 0-9 - _"))?;
            (id, t.to_string())
        }
        None => {
            let n = {
                let mut book = lock(&s.book);
                book.next_auto_id += 1;
                book.next_auto_id
            };
            (ClientOrderId::new(&format!("sim-{n}")).map_err(|_| GateError::server())?, "apiv4".to_string())
        }
    };
    if s.roll("reject_rate", |f| f.reject_rate) {
        return Err(GateError::bad("ORDER_REJECTED", "Order rejected"));
    }
    let req = OrderRequest { client_id, base, quote, side, qty: Qty(qty), kind };
    s.check_override(&req).map_err(exchange_error)?;
    s.maybe_partial_fill();
    let now = s.now_ms();
    let mut outcome = s.exchange().place(&req);
    let mut ioc_expired = false;
    if let Ok(r) = &outcome
        && tif == "ioc"
        && r.status == OrderStatus::New
    {
        // Did not cross: the unfilled IOC order is cancelled at once.
        outcome = s.exchange().cancel(&r.client_id, &r.base, &r.quote);
        ioc_expired = true;
    }
    if let Ok(r) = &outcome {
        let meta = OrderMeta {
            client_id: r.client_id.clone(),
            base: r.base.clone(),
            quote: r.quote.clone(),
            kind,
            time_in_force: Some(tif.clone()),
            time: now,
            rested: r.status == OrderStatus::New,
        };
        lock(&s.book).orders.insert(venue_id(r), meta);
        let extra = Extra { text, ioc_expired, quote_amount, cancelled_at: ioc_expired.then_some(now) };
        lock(&c.extra).insert(venue_id(r), extra);
    }
    if s.roll("drop_after_execution", |f| f.drop_after_execution) {
        // Executed (or refused) at the venue, but the reply is lost.
        return Ok(StatusCode::BAD_GATEWAY.into_response());
    }
    s.maybe_timeout().await;
    let r = outcome.map_err(exchange_error)?;
    Ok((StatusCode::CREATED, Json(order_json(&c, &r))).into_response())
}

/// The client id of `order_id` (a Gate order id or `t-<client id>`) on the pair.
fn client_id_of(s: &SimState, order_id: &str, base: &Asset, quote: &Asset) -> Option<ClientOrderId> {
    if let Some(rest) = order_id.strip_prefix("t-") {
        return ClientOrderId::new(rest).ok();
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

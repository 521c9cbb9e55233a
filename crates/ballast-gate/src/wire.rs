//! Gate API v4 JSON shapes and their translation to ballast types. Pure functions,
//! no I/O: tested directly against CCXT's recorded responses.

use std::collections::BTreeMap;

use ballast_core::planner::Side;
use ballast_core::{Asset, Price, Qty, SymbolRules, Timestamp};
use ballast_exchange::{Balance, ClientOrderId, DustConversion, FeeRates, Fill, OrderReport, OrderStatus, Touch};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::Value;

/// Gate's currency pair id: `BTC_USDT`.
pub fn pair_id(base: &Asset, quote: &Asset) -> String {
    format!("{}_{}", base.as_str(), quote.as_str())
}

/// Gate's `text` for a client order id: `t-` followed by the id (at most 28 bytes).
pub fn text_of(client_id: &ClientOrderId) -> String {
    format!("t-{}", client_id.as_str())
}

/// A decimal as Gate expects it in a request: plain, no trailing zeros.
pub fn dec_str(d: Decimal) -> String {
    d.normalize().to_string()
}

fn field<'a>(v: &'a Value, name: &str) -> Result<&'a Value, String> {
    v.get(name).filter(|x| !x.is_null()).ok_or_else(|| format!("missing field {name:?} in {v}"))
}

fn str_field<'a>(v: &'a Value, name: &str) -> Result<&'a str, String> {
    field(v, name)?.as_str().ok_or_else(|| format!("field {name:?} is not a string in {v}"))
}

/// A decimal field, written by Gate as a string (or, rarely, a number).
pub fn dec_field(v: &Value, name: &str) -> Result<Decimal, String> {
    match field(v, name)? {
        Value::String(s) => ballast_core::money::parse_decimal(s).map_err(|e| format!("field {name:?}: {e}")),
        Value::Number(n) => {
            ballast_core::money::parse_decimal(&n.to_string()).map_err(|e| format!("field {name:?}: {e}"))
        }
        other => Err(format!("field {name:?} is not a number: {other}")),
    }
}

fn opt_dec(v: &Value, name: &str) -> Result<Option<Decimal>, String> {
    match v.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => dec_field(v, name).map(Some),
    }
}

/// `10^-places`: Gate gives precisions as decimal places.
fn ten_pow_neg(places: Decimal) -> Result<Decimal, String> {
    let p = places.to_u32().ok_or_else(|| format!("bad precision {places}"))?;
    if places.fract() != Decimal::ZERO || p > 28 {
        return Err(format!("bad precision {places}"));
    }
    Ok(Decimal::new(1, p))
}

/// Rules from a `/spot/currency_pairs` entry: `precision` (price decimals) gives the
/// tick, `amount_precision` the step, `min_base_amount` the minimum quantity and
/// `min_quote_amount` the minimum order value (absent minimums are zero).
pub fn parse_rules(v: &Value) -> Result<SymbolRules, String> {
    Ok(SymbolRules {
        tick: ten_pow_neg(dec_field(v, "precision")?)?,
        step: ten_pow_neg(dec_field(v, "amount_precision")?)?,
        min_qty: opt_dec(v, "min_base_amount")?.unwrap_or_default(),
        min_notional: opt_dec(v, "min_quote_amount")?.unwrap_or_default(),
    })
}

/// Balances from `/spot/accounts` (`available` → free, `locked` → locked). Currencies
/// whose code is not a valid [`Asset`] are skipped.
pub fn parse_balances(v: &Value) -> Result<BTreeMap<Asset, Balance>, String> {
    let arr = v.as_array().ok_or("accounts: expected an array")?;
    let mut out = BTreeMap::new();
    for a in arr {
        let Ok(asset) = Asset::new(str_field(a, "currency")?) else { continue };
        let free = Qty(dec_field(a, "available")?);
        let locked = Qty(opt_dec(a, "locked")?.unwrap_or_default());
        out.insert(asset, Balance { free, locked });
    }
    Ok(out)
}

/// Last prices by currency pair id from `/spot/tickers`.
pub fn parse_tickers(v: &Value) -> Result<BTreeMap<String, Price>, String> {
    let arr = v.as_array().ok_or("tickers: expected an array")?;
    let mut out = BTreeMap::new();
    for t in arr {
        let Some(last) = opt_dec(t, "last")? else { continue };
        if last > Decimal::ZERO {
            out.insert(str_field(t, "currency_pair")?.to_string(), Price(last));
        }
    }
    Ok(out)
}

/// The best bid and ask of `pair` from `/spot/tickers` (`highest_bid`, `lowest_ask`); a
/// side without orders (empty or 0) is an error naming it.
pub fn parse_touch(v: &Value, pair: &str) -> Result<Touch, String> {
    let arr = v.as_array().ok_or("tickers: expected an array")?;
    let t = arr
        .iter()
        .find(|t| t.get("currency_pair").and_then(Value::as_str) == Some(pair))
        .ok_or_else(|| format!("no ticker for {pair}"))?;
    let side = |key: &str| -> Result<Price, String> {
        match opt_dec(t, key)? {
            Some(p) if p > Decimal::ZERO => Ok(Price(p)),
            _ => Err(format!("{key}: no order on that side of the book")),
        }
    };
    let (bid, ask) = (side("highest_bid")?, side("lowest_ask")?);
    if bid.0 >= ask.0 {
        return Err(format!("crossed book: bid {} >= ask {}", bid.0, ask.0));
    }
    Ok(Touch { bid, ask })
}

/// The effective rates from `GET /spot/fee`: `gt_maker_fee` / `gt_taker_fee` when the
/// GT deduction is on (`gt_discount`), else `maker_fee` / `taker_fee`.
pub fn parse_fee(v: &Value) -> Result<FeeRates, String> {
    let gt = v.get("gt_discount").and_then(Value::as_bool).unwrap_or(false);
    let (maker, taker) = if gt { ("gt_maker_fee", "gt_taker_fee") } else { ("maker_fee", "taker_fee") };
    Ok(FeeRates {
        maker: dec_field(v, maker)?.normalize(),
        taker: dec_field(v, taker)?.normalize(),
        discount_asset: if gt { Asset::new("GT").ok() } else { None },
    })
}

/// What `POST /wallet/small_balance` gave, from `/wallet/small_balance_history`: for
/// each asset the latest record (`amount` taken, `gt_amount` received). Gate states no
/// separate charge.
pub fn parse_small_balance(v: &Value, assets: &[Asset]) -> Result<DustConversion, String> {
    let arr = v.as_array().ok_or("small_balance_history: expected an array")?;
    let mut converted = Vec::new();
    for a in assets {
        let latest = arr
            .iter()
            .filter(|r| r.get("currency").and_then(Value::as_str) == Some(a.as_str()))
            .max_by_key(|r| r.get("create_time").and_then(Value::as_i64).unwrap_or(0))
            .ok_or_else(|| format!("no conversion of {a} in the history"))?;
        converted.push((a.clone(), Qty(dec_field(latest, "amount")?), Qty(dec_field(latest, "gt_amount")?)));
    }
    Ok(DustConversion { into: Asset::new("GT").map_err(|e| e.to_string())?, converted, charge: Qty::ZERO })
}

/// Server time in milliseconds from `/spot/time`.
pub fn parse_server_time(v: &Value) -> Result<i64, String> {
    let ms = dec_field(v, "server_time")?;
    ms.trunc().to_i64().ok_or_else(|| format!("bad server_time {ms}"))
}

/// Fills from `/spot/my_trades`, oldest first.
pub fn parse_trades(v: &Value) -> Result<Vec<Fill>, String> {
    let arr = v.as_array().ok_or("my_trades: expected an array")?;
    let mut fills = Vec::with_capacity(arr.len());
    for t in arr {
        let time = match opt_dec(t, "create_time_ms")? {
            Some(ms) => ms.trunc(),
            None => dec_field(t, "create_time")? * Decimal::ONE_THOUSAND,
        };
        let fee_asset = Asset::new(str_field(t, "fee_currency")?).map_err(|e| e.to_string())?;
        fills.push(Fill {
            trade_id: str_field(t, "id")?.to_string(),
            qty: Qty(dec_field(t, "amount")?),
            price: Price(dec_field(t, "price")?),
            fee: Qty(opt_dec(t, "fee")?.unwrap_or_default()),
            fee_asset,
            time: Timestamp(time.trunc().to_i64().unwrap_or(0)),
        });
    }
    fills.sort_by(|a, b| (a.time, &a.trade_id).cmp(&(b.time, &b.trade_id)));
    Ok(fills)
}

/// The client id of an order from its `text`: ours are `t-<id>`; an order placed
/// elsewhere keeps its text (`web`, `apiv4`) or, if that is not a valid id, `g<order id>`.
pub fn client_id_of(text: &str, venue_id: &str) -> Result<ClientOrderId, String> {
    let t = text.strip_prefix("t-").unwrap_or(text);
    ClientOrderId::new(t).or_else(|_| ClientOrderId::new(&format!("g{venue_id}")))
}

/// An order object (`/spot/orders`, `/spot/open_orders` entries). `fills` are the
/// order's trades if already fetched.
///
/// Quantities: `amount` is the base quantity, except for a Gate market BUY where it
/// is the quote amount to spend; then the ordered and executed base quantities are
/// the sum of the fills (ballast itself never places such orders, see the crate docs).
/// Executed: `filled_amount` when present, else `amount - left`.
pub fn parse_order(v: &Value, base: &Asset, quote: &Asset, fills: Vec<Fill>) -> Result<OrderReport, String> {
    let venue_id = match field(v, "id")? {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let text = v.get("text").and_then(Value::as_str).unwrap_or("");
    let side = match str_field(v, "side")? {
        "buy" => Side::Buy,
        "sell" => Side::Sell,
        s => return Err(format!("unknown side {s:?}")),
    };
    let market_buy = side == Side::Buy && v.get("type").and_then(Value::as_str) == Some("market");
    let amount = dec_field(v, "amount")?;
    let fills_total: Decimal = fills.iter().map(|f| f.qty.0).sum();
    let (qty, filled) = if market_buy {
        let filled = opt_dec(v, "filled_amount")?.unwrap_or(fills_total);
        (filled, filled)
    } else {
        let filled = match opt_dec(v, "filled_amount")? {
            Some(f) => f,
            None => amount - opt_dec(v, "left")?.unwrap_or(amount),
        };
        (amount, filled)
    };
    let finish_as = v.get("finish_as").and_then(Value::as_str).unwrap_or("");
    let status = match str_field(v, "status")? {
        "open" if filled > Decimal::ZERO => OrderStatus::PartiallyFilled,
        "open" => OrderStatus::New,
        "closed" => OrderStatus::Filled,
        "cancelled" => match finish_as {
            "ioc" | "fok" | "small" | "depth_not_enough" | "trader_not_enough" | "poc" => OrderStatus::Expired,
            _ => OrderStatus::Canceled,
        },
        s => return Err(format!("unknown order status {s:?}")),
    };
    Ok(OrderReport {
        client_id: client_id_of(text, &venue_id)?,
        venue_id,
        base: base.clone(),
        quote: quote.clone(),
        side,
        qty: Qty(qty),
        status,
        filled: Qty(filled),
        fills,
        created: created_ms(v),
    })
}

/// The order's `create_time_ms` (a number or a string, possibly with a fraction), if
/// readable.
fn created_ms(v: &Value) -> Option<Timestamp> {
    let d = match v.get("create_time_ms")? {
        Value::String(s) => s.parse::<Decimal>().ok()?,
        Value::Number(n) => n.to_string().parse::<Decimal>().ok()?,
        _ => return None,
    };
    d.trunc().to_i64().map(Timestamp)
}

/// True when the order's trades should be fetched: something was executed.
pub fn has_executions(v: &Value) -> bool {
    let pos = |name| opt_dec(v, name).ok().flatten().is_some_and(|d| d > Decimal::ZERO);
    if pos("filled_amount") || pos("filled_total") || pos("fill_price") {
        return true;
    }
    match (opt_dec(v, "amount").ok().flatten(), opt_dec(v, "left").ok().flatten()) {
        (Some(a), Some(l)) => l < a,
        _ => false,
    }
}

/// The orders of `pair` in a list response: either flat (`/spot/orders`) or grouped
/// by pair (`/spot/open_orders`: `[{currency_pair, total, orders: [...]}]`).
pub fn orders_of_pair<'a>(v: &'a Value, pair: &str) -> Result<Vec<&'a Value>, String> {
    let arr = v.as_array().ok_or("orders: expected an array")?;
    let mut out = Vec::new();
    for e in arr {
        if let Some(orders) = e.get("orders").and_then(Value::as_array) {
            if e.get("currency_pair").and_then(Value::as_str) == Some(pair) {
                out.extend(orders.iter());
            }
        } else if e.get("currency_pair").and_then(Value::as_str).is_none_or(|p| p == pair) {
            out.push(e);
        }
    }
    Ok(out)
}

/// One candle of `/spot/candlesticks`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candle {
    /// Open time, ms since the epoch.
    pub open_time_ms: i64,
    /// Open.
    pub open: Decimal,
    /// High.
    pub high: Decimal,
    /// Low.
    pub low: Decimal,
    /// Close.
    pub close: Decimal,
    /// Volume in the base currency.
    pub volume: Decimal,
    /// False while the candle is still forming.
    pub closed: bool,
}

/// Parses `/spot/candlesticks`: rows of `[time (s), quote volume, close, high, low,
/// open, base volume, window closed]`, all strings.
pub fn parse_candles(v: &Value) -> Result<Vec<Candle>, String> {
    let rows = v.as_array().ok_or("candlesticks: expected an array")?;
    let mut out = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let r = row.as_array().ok_or_else(|| format!("candlesticks row {i}: expected an array"))?;
        let text = |k: usize| -> Result<&str, String> {
            r.get(k).and_then(Value::as_str).ok_or_else(|| format!("candlesticks row {i}: field {k} missing"))
        };
        let dec = |k: usize| -> Result<Decimal, String> {
            let t = text(k)?;
            t.parse::<Decimal>()
                .or_else(|_| Decimal::from_scientific(t))
                .map_err(|_| format!("candlesticks row {i}: field {k} {t:?} is not a number"))
        };
        let secs: i64 = text(0)?.parse().map_err(|_| format!("candlesticks row {i}: bad time"))?;
        out.push(Candle {
            open_time_ms: secs * 1000,
            open: dec(5)?,
            high: dec(3)?,
            low: dec(4)?,
            close: dec(2)?,
            volume: dec(6)?,
            closed: r.get(7).and_then(Value::as_str).map(|s| s == "true").unwrap_or(true),
        });
    }
    Ok(out)
}

//! Reading Binance JSON into ballast types. Numbers may come as strings (Binance's
//! amounts) or JSON numbers (ids); both are accepted.

use std::collections::BTreeMap;

use ballast_core::money::parse_decimal;
use ballast_core::planner::Side;
use ballast_core::{Asset, Price, Qty, SymbolRules, Timestamp};
use ballast_exchange::{Balance, ClientOrderId, DustConversion, FeeRates, Fill, OrderReport, OrderStatus, Touch};
use rust_decimal::Decimal;
use serde_json::Value;

/// A field as text: a string as is, a number printed.
pub(crate) fn text(v: &Value, key: &str) -> Result<String, String> {
    match v.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(Value::Bool(b)) => Ok(b.to_string()),
        _ => Err(format!("missing field {key:?}")),
    }
}

/// A decimal field (string or number).
pub(crate) fn dec(v: &Value, key: &str) -> Result<Decimal, String> {
    let t = text(v, key)?;
    parse_decimal(&t).map(|d| d.normalize()).map_err(|_| format!("field {key:?} is not a number: {t:?}"))
}

fn int(v: &Value, key: &str) -> Result<i64, String> {
    let t = text(v, key)?;
    t.parse::<i64>().map_err(|_| format!("field {key:?} is not an integer: {t:?}"))
}

fn asset(v: &Value, key: &str) -> Result<Asset, String> {
    let t = text(v, key)?;
    Asset::new(&t).map_err(|e| e.to_string())
}

/// The rules of one `exchangeInfo` symbol entry, from its filters:
/// `PRICE_FILTER.tickSize`; the coarser of `LOT_SIZE` and `MARKET_LOT_SIZE` step and
/// minimum quantity (a zero in `MARKET_LOT_SIZE` means "no constraint"); the minimum
/// notional from `NOTIONAL` (or the legacy `MIN_NOTIONAL`), applied to every order.
pub fn rules_from_symbol(sym: &Value) -> Result<SymbolRules, String> {
    let filters = sym.get("filters").and_then(Value::as_array).ok_or("symbol entry without filters")?;
    let mut rules =
        SymbolRules { tick: Decimal::ZERO, step: Decimal::ZERO, min_qty: Decimal::ZERO, min_notional: Decimal::ZERO };
    for f in filters {
        match f.get("filterType").and_then(Value::as_str).unwrap_or("") {
            "PRICE_FILTER" => rules.tick = dec(f, "tickSize")?,
            "LOT_SIZE" | "MARKET_LOT_SIZE" => {
                rules.step = rules.step.max(dec(f, "stepSize")?);
                rules.min_qty = rules.min_qty.max(dec(f, "minQty")?);
            }
            "NOTIONAL" | "MIN_NOTIONAL" => rules.min_notional = rules.min_notional.max(dec(f, "minNotional")?),
            _ => {}
        }
    }
    Ok(rules)
}

/// The best bid and ask from `GET /api/v3/ticker/bookTicker` (`bidPrice`, `askPrice`).
/// A side without orders (price 0 or null) is an error naming it.
pub fn touch(v: &Value) -> Result<Touch, String> {
    let side = |key: &str| -> Result<Price, String> {
        let p = dec(v, key)?;
        if p <= Decimal::ZERO {
            return Err(format!("{key} {p}: no order on that side of the book"));
        }
        Ok(Price(p))
    };
    let (bid, ask) = (side("bidPrice")?, side("askPrice")?);
    if bid.0 >= ask.0 {
        return Err(format!("crossed book: bid {} >= ask {}", bid.0, ask.0));
    }
    Ok(Touch { bid, ask })
}

/// The effective rates from `GET /api/v3/account/commission`: the standard commission
/// (times `discount.discount` when the BNB discount is enabled for the account and the
/// symbol: "Standard commission is reduced by this rate when paying commission in
/// BNB"), plus the tax commission and the special commission when given.
pub fn fee_rates(v: &Value) -> Result<FeeRates, String> {
    let part = |table: &str, key: &str| -> Result<Decimal, String> {
        match v.get(table) {
            Some(t) if !t.is_null() => dec(t, key).map_err(|e| format!("{table}: {e}")),
            _ => Ok(Decimal::ZERO),
        }
    };
    let d = v.get("discount");
    let flag = |k: &str| d.and_then(|d| d.get(k)).and_then(Value::as_bool).unwrap_or(false);
    let discounted = flag("enabledForAccount") && flag("enabledForSymbol");
    let factor = if discounted { dec(d.unwrap_or(&Value::Null), "discount")? } else { Decimal::ONE };
    let rate = |key: &str| -> Result<Decimal, String> {
        let standard = part("standardCommission", key)?;
        if v.get("standardCommission").is_none() {
            return Err("missing standardCommission".into());
        }
        Ok((standard * factor + part("taxCommission", key)? + part("specialCommission", key)?).normalize())
    };
    let discount_asset = if discounted {
        d.and_then(|d| d.get("discountAsset")).and_then(Value::as_str).and_then(|s| Asset::new(s).ok())
    } else {
        None
    };
    Ok(FeeRates { maker: rate("maker")?, taker: rate("taker")?, discount_asset })
}

/// What `POST /sapi/v1/asset/dust` converted into BNB: per `transferResult` entry the
/// `fromAsset`, its `amount` and the `transferedAmount` of BNB; `totalServiceCharge`.
pub fn dust(v: &Value) -> Result<DustConversion, String> {
    let list = v.get("transferResult").and_then(Value::as_array).ok_or("dust: missing transferResult")?;
    let mut converted = Vec::with_capacity(list.len());
    for t in list {
        converted.push((asset(t, "fromAsset")?, Qty(dec(t, "amount")?), Qty(dec(t, "transferedAmount")?)));
    }
    Ok(DustConversion {
        into: Asset::new("BNB").map_err(|e| e.to_string())?,
        converted,
        charge: Qty(dec(v, "totalServiceCharge")?),
    })
}

/// Balances from `/api/v3/account`. Assets whose name ballast cannot represent are
/// skipped.
pub fn balances_from_account(v: &Value) -> Result<BTreeMap<Asset, Balance>, String> {
    let list = v.get("balances").and_then(Value::as_array).ok_or("account without balances")?;
    let mut out = BTreeMap::new();
    for b in list {
        let Ok(a) = asset(b, "asset") else { continue };
        out.insert(a, Balance { free: Qty(dec(b, "free")?), locked: Qty(dec(b, "locked")?) });
    }
    Ok(out)
}

/// Binance order status to ballast's.
pub fn status(s: &str) -> Result<OrderStatus, String> {
    Ok(match s {
        "NEW" | "PENDING_NEW" => OrderStatus::New,
        "PARTIALLY_FILLED" => OrderStatus::PartiallyFilled,
        "FILLED" => OrderStatus::Filled,
        "CANCELED" | "PENDING_CANCEL" => OrderStatus::Canceled,
        "REJECTED" => OrderStatus::Rejected,
        "EXPIRED" | "EXPIRED_IN_MATCH" => OrderStatus::Expired,
        other => return Err(format!("unknown order status {other:?}")),
    })
}

fn side(v: &Value) -> Result<Side, String> {
    match text(v, "side")?.as_str() {
        "BUY" => Ok(Side::Buy),
        "SELL" => Ok(Side::Sell),
        other => Err(format!("unknown side {other:?}")),
    }
}

/// One fill of a `newOrderRespType=FULL` response (`tradeId`, `qty`, `price`,
/// `commission`, `commissionAsset`; no time: `time` is the order's).
pub fn fill_from_full(f: &Value, time: Timestamp) -> Result<Fill, String> {
    Ok(Fill {
        trade_id: text(f, "tradeId")?,
        qty: Qty(dec(f, "qty")?),
        price: Price(dec(f, "price")?),
        fee: Qty(dec(f, "commission")?),
        fee_asset: asset(f, "commissionAsset")?,
        time,
    })
}

/// One fill of `/api/v3/myTrades` (`id`, `qty`, `price`, `commission`,
/// `commissionAsset`, `time`).
pub fn fill_from_trade(t: &Value) -> Result<Fill, String> {
    Ok(Fill {
        trade_id: text(t, "id")?,
        qty: Qty(dec(t, "qty")?),
        price: Price(dec(t, "price")?),
        fee: Qty(dec(t, "commission")?),
        fee_asset: asset(t, "commissionAsset")?,
        time: Timestamp(int(t, "time")?),
    })
}

/// An order (POST, GET or DELETE `/api/v3/order`, or an `openOrders` entry). The
/// client id is `client_id` when given (a cancel response's `clientOrderId` is the
/// cancel's own id), else the order's `clientOrderId`. Fills come from a FULL
/// response's `fills`, if any.
pub fn order_report(
    v: &Value,
    client_id: Option<&ClientOrderId>,
    base: &Asset,
    quote: &Asset,
) -> Result<OrderReport, String> {
    let client_id = match client_id {
        Some(c) => c.clone(),
        None => ClientOrderId::new(&text(v, "clientOrderId")?)?,
    };
    let time =
        Timestamp(int(v, "transactTime").or_else(|_| int(v, "updateTime")).or_else(|_| int(v, "time")).unwrap_or(0));
    let fills = match v.get("fills").and_then(Value::as_array) {
        Some(list) => list.iter().map(|f| fill_from_full(f, time)).collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    Ok(OrderReport {
        client_id,
        venue_id: text(v, "orderId")?,
        base: base.clone(),
        quote: quote.clone(),
        side: side(v)?,
        qty: Qty(dec(v, "origQty")?),
        status: status(&text(v, "status")?)?,
        filled: Qty(dec(v, "executedQty")?),
        fills,
        // `time` in a query, `transactTime` in a placement's answer.
        created: int(v, "time").or_else(|_| int(v, "transactTime")).ok().map(Timestamp),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;
    use serde_json::json;

    #[test]
    fn market_lot_size_coarser_and_legacy_min_notional() {
        let sym = json!({"filters": [
            {"filterType": "PRICE_FILTER", "tickSize": "0.00010000"},
            {"filterType": "LOT_SIZE", "stepSize": "0.01000000", "minQty": "0.01000000"},
            {"filterType": "MARKET_LOT_SIZE", "stepSize": "0.10000000", "minQty": "0.00000000"},
            {"filterType": "MIN_NOTIONAL", "minNotional": "10.00000000"}
        ]});
        let r = rules_from_symbol(&sym).unwrap();
        assert_eq!((r.tick, r.step, r.min_qty, r.min_notional), (dec!(0.0001), dec!(0.1), dec!(0.01), dec!(10)));
    }

    #[test]
    fn every_status_maps() {
        for (s, want) in [
            ("NEW", OrderStatus::New),
            ("PARTIALLY_FILLED", OrderStatus::PartiallyFilled),
            ("FILLED", OrderStatus::Filled),
            ("CANCELED", OrderStatus::Canceled),
            ("REJECTED", OrderStatus::Rejected),
            ("EXPIRED", OrderStatus::Expired),
            ("EXPIRED_IN_MATCH", OrderStatus::Expired),
        ] {
            assert_eq!(status(s).unwrap(), want);
        }
        assert!(status("WHAT").is_err());
    }
}

"""Gate's official SDK (gate-api), default options, its host pointed at the sim."""

import time
import types
from decimal import Decimal

import gate_api
from gate_api.exceptions import GateApiException

from common import KEY, SECRET, SIM_URL, check, done, faults, now_ms, raises, step


def api(key=KEY, secret=SECRET):
    config = gate_api.Configuration(host=SIM_URL + "/api/v4", key=key, secret=secret)
    return gate_api.SpotApi(gate_api.ApiClient(config))


def gate_error(name, label, fn):
    e = raises(name, GateApiException, fn)
    if e is not None:
        check(f"{name}: label {label}", e.label == label, (e.status, e.label, e.message))


_sent = []


def paced(call):
    """`call` kept, with every other paced call, under 10 a second: Gate's limit on
    order placements and amendments per pair, which the sim enforces (the SDK does not
    throttle, unlike ccxt, so a script for the real venue must pace itself too)."""

    def wrapper(*args, **kwargs):
        if len(_sent) >= 9 and time.monotonic() - _sent[-9] < 1.05:
            time.sleep(1.05 - (time.monotonic() - _sent[-9]))
        _sent.append(time.monotonic())
        return call(*args, **kwargs)

    return wrapper


spot = api()
spot.create_order = paced(spot.create_order)
spot.amend_order = paced(spot.amend_order)
pair = "BTC_USDT"
pairs = step("list_currency_pairs", spot.list_currency_pairs)
check("pairs list BTC_USDT", pairs is not None and any(p.id == pair for p in pairs))
check("get_currency_pair", (step("get_currency_pair", lambda: spot.get_currency_pair(pair)) or gate_api.CurrencyPair()).base == "BTC")
cur = step("list_currencies", spot.list_currencies)
check("currencies list BTC and USDT", cur is not None and {"BTC", "USDT"} <= {c.currency for c in cur})
tk = step("list_tickers", lambda: spot.list_tickers(currency_pair=pair))
last = Decimal(tk[0].last) if tk else Decimal(0)
check("ticker", last > 0, tk)
if tk:
    check("ticker has bid, ask and a 24h volume", tk[0].highest_bid and tk[0].lowest_ask and Decimal(tk[0].base_volume) > 0, tk[0])
ob = step("list_order_book", lambda: spot.list_order_book(pair, limit=5))
check("order book 5 a side", ob is not None and len(ob.bids) == 5 and len(ob.asks) == 5, ob)
if ob and tk:
    check("book: bid < last < ask, the ticker's bid and ask its top", Decimal(ob.bids[0][0]) < last < Decimal(ob.asks[0][0]) and (tk[0].highest_bid, tk[0].lowest_ask) == (ob.bids[0][0], ob.asks[0][0]), (ob.bids[0], ob.asks[0], tk[0].highest_bid, tk[0].lowest_ask))
k = step("list_candlesticks", lambda: spot.list_candlesticks(pair, interval="4h", limit=5))
check("candlesticks limit=5 gives 5", k is not None and len(k) == 5, k)
if k:
    check("newest candle is the bar of now (one clock)", now_ms() - 4 * 3600_000 <= int(k[-1][0]) * 1000 <= now_ms(), k[-1])
k = step("list_candlesticks 1d", lambda: spot.list_candlesticks(pair, interval="1d", limit=3))
check("1d: 3 candles, the newest today's, open", k is not None and len(k) == 3 and int(k[-1][0]) == now_ms() // 86_400_000 * 86_400, k)
gate_error("candlesticks 1h without 1h data", "INVALID_PARAM_VALUE", lambda: spot.list_candlesticks(pair, interval="1h", limit=3))
acc = step("list_spot_accounts", lambda: spot.list_spot_accounts(currency="USDT"))
check("10000 USDT available", acc is not None and Decimal(acc[0].available) == 10000, acc)

since = now_ms() // 1000 - 3600
o = step("market buy by cost", lambda: spot.create_order(gate_api.Order(currency_pair=pair, type="market", side="buy", amount="50", time_in_force="ioc")))
check("market buy (amount = quote) filled", o is not None and o.status == "closed", o)
o = step("market sell by amount", lambda: spot.create_order(gate_api.Order(currency_pair=pair, type="market", side="sell", amount="0.0005", time_in_force="ioc")))
check("market sell filled", o is not None and o.status == "closed" and Decimal(o.filled_amount) == Decimal("0.0005"), o)
price = str((last * Decimal("0.8")).quantize(Decimal("0.01")))
lim = step("limit buy", lambda: spot.create_order(gate_api.Order(currency_pair=pair, side="buy", amount="0.001", price=price, text="t-sdk.limit-1")))
check("limit rests", lim is not None and lim.status == "open", lim)
if lim:
    g = step("get_order by id", lambda: spot.get_order(lim.id, pair))
    check("get_order by id", g is not None and g.id == lim.id, g)
    g = step("get_order by text", lambda: spot.get_order("t-sdk.limit-1", pair))
    check("get_order by text", g is not None and g.id == lim.id, g)
    x = step("cancel_order by text", lambda: spot.cancel_order("t-sdk.limit-1", pair))
    check("cancelled", x is not None and x.status == "cancelled", x)
lim2 = step("limit buy 2", lambda: spot.create_order(gate_api.Order(currency_pair=pair, side="buy", amount="0.001", price=price)))
if lim2:
    x = step("cancel_order by id", lambda: spot.cancel_order(lim2.id, pair))
    check("cancelled by id", x is not None and x.status == "cancelled", x)
am = step("limit to amend", lambda: spot.create_order(gate_api.Order(currency_pair=pair, side="buy", amount="0.001", price=price, text="t-sdk.amend")))
if am:
    price2 = str((last * Decimal("0.7")).quantize(Decimal("0.01")))
    x = step("amend_order price and amount", lambda: spot.amend_order(am.id, gate_api.OrderPatch(currency_pair=pair, amount="0.002", price=price2, amend_text="lower")))
    check("amended: new price and amount, same id", x is not None and x.id == am.id and Decimal(x.price) == Decimal(price2) and Decimal(x.amount) == Decimal("0.002") and x.amend_text == "lower", x)
    x = step("amend_order by text, pair in the query", lambda: spot.amend_order("t-sdk.amend", gate_api.OrderPatch(amount="0.0015"), currency_pair=pair))
    check("amended by text", x is not None and Decimal(x.amount) == Decimal("0.0015"), x)
    gate_error("amend to a price off the tick", "INVALID_PRECISION", lambda: spot.amend_order(am.id, gate_api.OrderPatch(currency_pair=pair, price=price2 + "1")))
    x = step("cancel the amended order", lambda: spot.cancel_order(am.id, pair))
    check("cancelled", x is not None and x.status == "cancelled", x)
    gate_error("amend a cancelled order", "ORDER_CANCELLED", lambda: spot.amend_order(am.id, gate_api.OrderPatch(currency_pair=pair, price=price2)))
po = step("post-only", lambda: spot.create_order(gate_api.Order(currency_pair=pair, side="buy", amount="0.001", price=price, time_in_force="poc")))
check("post-only rests", po is not None and po.status == "open", po)
gate_error("post-only that would take", "POC_FILL_IMMEDIATELY", lambda: spot.create_order(gate_api.Order(
    currency_pair=pair, side="buy", amount="0.001", price=str((last * Decimal("1.1")).quantize(Decimal("0.01"))), time_in_force="poc")))
op = step("list_orders open", lambda: spot.list_orders(pair, "open"))
check("one open", op is not None and len(op) == 1, op)
fin = step("list_orders finished", lambda: spot.list_orders(pair, "finished"))
check("finished: 2 filled, 3 cancelled", fin is not None and sorted(x.finish_as for x in fin) == ["cancelled", "cancelled", "cancelled", "filled", "filled"], fin and [x.finish_as for x in fin])
tr = step("list_my_trades from an hour ago", lambda: spot.list_my_trades(currency_pair=pair, _from=since))
check("2 trades from an hour ago", tr is not None and len(tr) == 2, tr)
ca = step("cancel_orders", lambda: spot.cancel_orders(currency_pair=pair))
check("cancel all: the open one", ca is not None and len(ca) == 1, ca)

gate_error("bad signature", "INVALID_SIGNATURE", lambda: api(secret="wrong").list_spot_accounts())
gate_error("bad key", "INVALID_KEY", lambda: api(key="wrong").list_spot_accounts())
# The SDK's clock two minutes behind (it stamps requests with time.time()).
real_time = gate_api.api_client.time
gate_api.api_client.time = types.SimpleNamespace(time=lambda: real_time.time() - 120)
try:
    gate_error("stale timestamp", "REQUEST_EXPIRED", spot.list_spot_accounts)
finally:
    gate_api.api_client.time = real_time
gate_error("insufficient balance", "BALANCE_NOT_ENOUGH", lambda: spot.create_order(gate_api.Order(currency_pair=pair, side="buy", amount="1", price=price)))
gate_error("min notional", "INVALID_PARAM_VALUE", lambda: spot.create_order(gate_api.Order(currency_pair=pair, side="buy", amount="0.0001", price=price)))
gate_error("lot size", "INVALID_PRECISION", lambda: spot.create_order(gate_api.Order(currency_pair=pair, side="buy", amount="0.0012345", price=price)))
gate_error("unknown pair", "INVALID_CURRENCY_PAIR", lambda: spot.list_tickers(currency_pair="NOPE_USDT"))
faults({"rate_429": 1})
try:
    gate_error("429", "TOO_MANY_REQUESTS", lambda: spot.list_tickers(currency_pair=pair))
finally:
    faults(None)
done()

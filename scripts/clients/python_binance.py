"""python-binance, default options, its API URLs pointed at the sim."""

from decimal import Decimal

from binance.client import Client
from binance.exceptions import BinanceAPIException

from common import KEY, SECRET, SIM_URL, check, done, faults, now_ms, raises, step

# The base URL is all that changes (the client pings it when created).
Client.API_URL = SIM_URL + "/api"
Client.MARGIN_API_URL = SIM_URL + "/sapi"


def api_error(name, code, status, fn):
    e = raises(name, BinanceAPIException, fn)
    if e is not None:
        check(f"{name}: code {code}, HTTP {status}", (e.code, e.status_code) == (code, status), (e.code, e.status_code, e.message))


c = step("Client()", lambda: Client(KEY, SECRET))
sym = "BTCUSDT"
info = step("get_exchange_info", c.get_exchange_info)
check("exchange info lists BTCUSDT", info is not None and any(s["symbol"] == sym for s in info["symbols"]))
check("get_symbol_info", (step("get_symbol_info", lambda: c.get_symbol_info(sym)) or {}).get("baseAsset") == "BTC")
t = step("get_symbol_ticker", lambda: c.get_symbol_ticker(symbol=sym))
last = Decimal(t["price"]) if t else Decimal(0)
check("ticker price", last > 0, t)
t24 = step("get_ticker", lambda: c.get_ticker(symbol=sym))
check("24h ticker", t24 is not None and Decimal(t24["lastPrice"]) == last, t24)
book = step("get_order_book", lambda: c.get_order_book(symbol=sym, limit=5))
check("order book 5 a side", book is not None and len(book["bids"]) == 5 and len(book["asks"]) == 5, book)
check("book ticker", step("get_orderbook_ticker", lambda: c.get_orderbook_ticker(symbol=sym)) is not None)
check("avg price", step("get_avg_price", lambda: c.get_avg_price(symbol=sym)) is not None)
k = step("get_klines", lambda: c.get_klines(symbol=sym, interval="4h", limit=5))
check("klines limit=5 gives 5", k is not None and len(k) == 5, k)
if k:
    check("newest kline is the bar of now (one clock)", now_ms() - 4 * 3600_000 <= k[-1][0] <= now_ms(), k[-1])
k = step("get_klines 1d", lambda: c.get_klines(symbol=sym, interval="1d", limit=3))
check("1d klines: 3, the newest today's", k is not None and len(k) == 3 and k[-1][0] == now_ms() // 86_400_000 * 86_400_000, k)
api_error("klines 1h without 1h data", -1120, 400, lambda: c.get_klines(symbol=sym, interval="1h", limit=3))
srv = step("get_server_time", c.get_server_time)
check("server time is wall time", srv is not None and abs(srv["serverTime"] - now_ms()) < 60_000, srv)
bal = step("get_asset_balance", lambda: c.get_asset_balance(asset="USDT"))
check("10000 USDT free", bal is not None and Decimal(bal["free"]) == 10000, bal)
acct = step("get_account", c.get_account)
check("balances have 8 decimals", acct is not None and all(len(b["free"].split(".")[1]) == 8 for b in acct["balances"]), acct)

t0 = now_ms() - 3600_000
o = step("order_market_buy quantity", lambda: c.order_market_buy(symbol=sym, quantity="0.001"))
check("market buy filled", o is not None and o["status"] == "FILLED", o)
if o:
    # python-binance makes its own id ("x-" + broker tag + random hex, about 32
    # characters; its length varies with the random part): accepted, as Binance would.
    cid = o["clientOrderId"]
    check("default client id (x-..., up to 36 chars) accepted", cid.startswith("x-") and 20 <= len(cid) <= 36, cid)
o = step("order_market_buy quoteOrderQty", lambda: c.order_market_buy(symbol=sym, quoteOrderQty="50"))
check("market buy by cost filled", o is not None and o["status"] == "FILLED" and Decimal(o["cummulativeQuoteQty"]) <= 50, o)
check("create_test_order", step("create_test_order", lambda: c.create_test_order(symbol=sym, side="BUY", type="MARKET", quantity="0.001")) == {})
price = str((last * Decimal("0.8")).quantize(Decimal("0.01")))
lim = step("order_limit_buy", lambda: c.order_limit_buy(symbol=sym, quantity="0.001", price=price))
check("limit rests", lim is not None and lim["status"] == "NEW", lim)
if lim:
    g = step("get_order by id", lambda: c.get_order(symbol=sym, orderId=lim["orderId"]))
    check("get_order by id", g is not None and g["orderId"] == lim["orderId"], g)
    g = step("get_order by client id", lambda: c.get_order(symbol=sym, origClientOrderId=lim["clientOrderId"]))
    check("get_order by client id", g is not None and g["orderId"] == lim["orderId"], g)
    x = step("cancel_order by id", lambda: c.cancel_order(symbol=sym, orderId=lim["orderId"]))
    check("cancelled", x is not None and x["status"] == "CANCELED", x)
lim2 = step("limit with own id", lambda: c.order_limit_buy(symbol=sym, quantity="0.001", price=price, newClientOrderId="mine:1/a.b"))
if lim2:
    x = step("cancel_order by client id", lambda: c.cancel_order(symbol=sym, origClientOrderId="mine:1/a.b"))
    check("cancelled by client id", x is not None and x["status"] == "CANCELED", x)
mk = step("LIMIT_MAKER", lambda: c.create_order(symbol=sym, side="BUY", type="LIMIT_MAKER", quantity="0.001", price=price))
check("post-only rests", mk is not None and mk.get("orderId") is not None, mk)
api_error("post-only that would take", -2010, 400, lambda: c.create_order(
    symbol=sym, side="BUY", type="LIMIT_MAKER", quantity="0.001", price=str((last * Decimal("1.1")).quantize(Decimal("0.01")))))
op = step("get_open_orders", lambda: c.get_open_orders(symbol=sym))
check("one open", op is not None and len(op) == 1, op)
al = step("get_all_orders", lambda: c.get_all_orders(symbol=sym))
check("all orders: 2 filled, 2 cancelled, 1 open", al is not None and sorted(x["status"] for x in al) == ["CANCELED", "CANCELED", "FILLED", "FILLED", "NEW"], al and [x["status"] for x in al])
tr = step("get_my_trades since an hour ago", lambda: c.get_my_trades(symbol=sym, startTime=t0))
check("2 trades since an hour ago", tr is not None and len(tr) == 2, tr)
ca = step("cancel_all_open_orders", lambda: c._delete("openOrders", True, data={"symbol": sym}))
check("cancel all open orders", ca is not None and len(ca) == 1, ca)

api_error("bad signature", -1022, 400, lambda: Client(KEY, "wrong").get_account())
api_error("bad key", -2015, 401, lambda: Client("wrong", SECRET).get_account())
stale = Client(KEY, SECRET)
stale.timestamp_offset = -120_000
api_error("stale timestamp", -1021, 400, stale.get_account)
api_error("insufficient balance", -2010, 400, lambda: c.order_market_buy(symbol=sym, quantity="1"))
api_error("min notional", -1013, 400, lambda: c.order_limit_buy(symbol=sym, quantity="0.0001", price=str((last / 100).quantize(Decimal("0.01")))))
api_error("lot size", -1013, 400, lambda: c.order_market_buy(symbol=sym, quantity="0.000001"))
api_error("unknown symbol", -1121, 400, lambda: c.get_symbol_ticker(symbol="NOPEUSDT"))
faults({"rate_429": 1})
try:
    api_error("429", -1003, 429, lambda: c.get_symbol_ticker(symbol=sym))
finally:
    faults(None)
done()

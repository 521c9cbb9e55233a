"""ccxt's binance, default options, every URL's host pointed at the sim."""

import ccxt

from common import KEY, SECRET, check, done, faults, now_ms, pointed, raises, step


def client(key=KEY, secret=SECRET):
    ex = ccxt.binance({"apiKey": key, "secret": secret})
    ex.urls["api"] = pointed(ex.urls["api"])
    return ex


ex = client()
sym = "BTC/USDT"
markets = step("load_markets", ex.load_markets)
check("load_markets lists BTC/USDT", markets is not None and sym in markets, list(markets or [])[:5])
ticker = step("fetch_ticker", lambda: ex.fetch_ticker(sym))
last = ticker["last"] if ticker else None
check("ticker has a last price", last is not None and last > 0, ticker)
book = step("fetch_order_book", lambda: ex.fetch_order_book(sym, 5))
check("order book has 5 levels a side", book is not None and len(book["bids"]) == 5 and len(book["asks"]) == 5, book)
if book and ticker:
    check("book: bid < last < ask, the ticker's bid and ask its top", book["bids"][0][0] < last < book["asks"][0][0] and (ticker["bid"], ticker["ask"]) == (book["bids"][0][0], book["asks"][0][0]), (book["bids"][0], book["asks"][0], ticker["bid"], ticker["ask"]))
    check("book: sizes grow away from the top", [b[1] for b in book["bids"]] == sorted(b[1] for b in book["bids"]) and book["bids"][4][1] > book["bids"][0][1], book["bids"])
candles = step("fetch_ohlcv", lambda: ex.fetch_ohlcv(sym, "4h", limit=5))
check("fetch_ohlcv limit=5 gives 5 bars", candles is not None and len(candles) == 5, candles)
if candles:
    check("the newest bar is the bar of now (one clock)", now_ms() - 4 * 3600_000 <= candles[-1][0] <= now_ms(), candles[-1])
days = step("fetch_ohlcv 1d", lambda: ex.fetch_ohlcv(sym, "1d", limit=3))
check("1d: 3 bars, the newest today's", days is not None and len(days) == 3 and days[-1][0] == now_ms() // 86_400_000 * 86_400_000, days)
weeks = step("fetch_ohlcv 1w (made from days)", lambda: ex.fetch_ohlcv(sym, "1w", limit=2))
check("1w: 2 bars", weeks is not None and len(weeks) == 2, weeks)
# BTC has no bundled 1h candles: Binance's "Invalid interval", not an empty list.
raises("fetch_ohlcv 1h without 1h data", ccxt.BadRequest, lambda: ex.fetch_ohlcv(sym, "1h", limit=3))
bal = step("fetch_balance", ex.fetch_balance)
check("balance: 10000 USDT free", bal is not None and bal["USDT"]["free"] == 10000, bal and bal.get("USDT"))

t0 = now_ms() - 3600_000
o = step("market buy by amount", lambda: ex.create_order(sym, "market", "buy", 0.001))
check("market buy filled", o is not None and o["status"] == "closed" and o["filled"] == 0.001, o)
if o:
    check("default client order id accepted", bool(o["clientOrderId"]), o["clientOrderId"])
o = step("market buy by cost", lambda: ex.create_market_buy_order_with_cost(sym, 50))
check("market buy by cost filled about 50 USDT", o is not None and o["status"] == "closed" and 45 < o["cost"] <= 50, o)

price = float(ex.price_to_precision(sym, last * 0.8))
lim = step("limit buy", lambda: ex.create_order(sym, "limit", "buy", 0.001, price))
check("limit buy rests open", lim is not None and lim["status"] == "open", lim)
if lim:
    f = step("fetch_order by id", lambda: ex.fetch_order(lim["id"], sym))
    check("fetch_order by id", f is not None and f["id"] == lim["id"], f)
    f = step("fetch_order by client id", lambda: ex.fetch_order(None, sym, {"origClientOrderId": lim["clientOrderId"]}))
    check("fetch_order by client id", f is not None and f["id"] == lim["id"], f)
    c = step("cancel_order by id", lambda: ex.cancel_order(lim["id"], sym))
    check("cancelled", c is not None and c["status"] == "canceled", c)
lim2 = step("limit buy 2", lambda: ex.create_order(sym, "limit", "buy", 0.001, price, {"clientOrderId": "my-order.2"}))
if lim2:
    check("own client id kept", lim2["clientOrderId"] == "my-order.2", lim2)
    c = step("cancel_order by client id", lambda: ex.cancel_order(None, sym, {"origClientOrderId": "my-order.2"}))
    check("cancelled by client id", c is not None and c["status"] == "canceled", c)
po = step("post-only limit", lambda: ex.create_order(sym, "limit", "buy", 0.001, price, {"postOnly": True}))
check("post-only rests", po is not None and po["id"] is not None, po)
if po:
    f = ex.fetch_order(po["id"], sym)
    check("post-only is LIMIT_MAKER", f["info"]["type"] == "LIMIT_MAKER" and f["postOnly"], f["info"])
raises("post-only that would take", ccxt.OrderImmediatelyFillable,
       lambda: ex.create_order(sym, "limit", "buy", 0.001, float(ex.price_to_precision(sym, last * 1.1)), {"postOnly": True}))
opened = step("fetch_open_orders", lambda: ex.fetch_open_orders(sym))
check("one open order", opened is not None and len(opened) == 1, opened)
closed = step("fetch_closed_orders", lambda: ex.fetch_closed_orders(sym))
check("closed orders: the 2 filled", closed is not None and [x["status"] for x in closed] == ["closed", "closed"], closed)
every = step("fetch_orders", lambda: ex.fetch_orders(sym))
check("all orders: 2 filled, 2 cancelled, 1 open", every is not None and sorted(x["status"] for x in every) == ["canceled", "canceled", "closed", "closed", "open"], every and [x["status"] for x in every])
trades = step("fetch_my_trades since an hour ago", lambda: ex.fetch_my_trades(sym, since=t0))
check("my trades since an hour ago: 2", trades is not None and len(trades) == 2, trades)
ca = step("cancel_all_orders", lambda: ex.cancel_all_orders(sym))
check("cancel_all_orders cancelled the open one", ca is not None and len(ca) == 1, ca)
check("nothing open", ex.fetch_open_orders(sym) == [])

# Errors, each to ccxt's class for it.
raises("bad signature", ccxt.AuthenticationError, lambda: client(secret="wrong").fetch_balance())
raises("bad key", ccxt.AuthenticationError, lambda: client(key="wrong").fetch_balance())
stale = client()
stale.load_markets()
stale.options["timeDifference"] = 120_000  # its clock two minutes behind
raises("stale timestamp", ccxt.InvalidNonce, stale.fetch_balance)
raises("insufficient balance", ccxt.InsufficientFunds, lambda: ex.create_order(sym, "market", "buy", 1))
# Binance answers -1013 "Filter failure: NOTIONAL", which ccxt raises as BadRequest.
raises("min notional", ccxt.BadRequest, lambda: ex.create_order(sym, "limit", "buy", 0.0001, price / 100))
raises("lot size", ccxt.InvalidOrder, lambda: ex.private_post_order(
    {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.000001"}))
raises("unknown symbol", ccxt.BadSymbol, lambda: ex.public_get_ticker_price({"symbol": "NOPEUSDT"}))
faults({"rate_429": 1})
try:
    # ccxt's binance raises DDoSProtection for any 418 or 429.
    raises("429", ccxt.DDoSProtection, lambda: ex.fetch_ticker(sym))
finally:
    faults(None)
done()

"""ccxt's gate, default options, every URL's host pointed at the sim."""

import ccxt

from common import KEY, SECRET, check, done, faults, now_ms, pointed, raises, step


def client(key=KEY, secret=SECRET):
    ex = ccxt.gate({"apiKey": key, "secret": secret})
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
candles = step("fetch_ohlcv", lambda: ex.fetch_ohlcv(sym, "4h", limit=5))
check("fetch_ohlcv limit=5 gives 5 bars", candles is not None and len(candles) == 5, candles)
if candles:
    check("the newest bar is the bar of now (one clock)", now_ms() - 4 * 3600_000 <= candles[-1][0] <= now_ms(), candles[-1])
days = step("fetch_ohlcv 1d", lambda: ex.fetch_ohlcv(sym, "1d", limit=3))
check("1d: 3 bars, the newest today's", days is not None and len(days) == 3 and days[-1][0] == now_ms() // 86_400_000 * 86_400_000, days)
raises("fetch_ohlcv 1h without 1h data", ccxt.BadRequest, lambda: ex.fetch_ohlcv(sym, "1h", limit=3))
bal = step("fetch_balance", ex.fetch_balance)
check("balance: 10000 USDT free", bal is not None and bal["USDT"]["free"] == 10000, bal and bal.get("USDT"))

t0 = now_ms() - 3600_000
# ccxt's gate needs a price to turn a market buy's amount into the cost Gate takes.
o = step("market buy by amount", lambda: ex.create_order(sym, "market", "buy", 0.001, last))
check("market buy filled", o is not None and o["status"] == "closed", o)
if o:
    check("client order id (text) kept", bool(o["clientOrderId"]), o)
o = step("market buy by cost", lambda: ex.create_market_buy_order_with_cost(sym, 50))
check("market buy by cost filled", o is not None and o["status"] == "closed", o)

price = float(ex.price_to_precision(sym, last * 0.8))
lim = step("limit buy", lambda: ex.create_order(sym, "limit", "buy", 0.001, price))
check("limit buy rests open", lim is not None and lim["status"] == "open", lim)
if lim:
    f = step("fetch_order by id", lambda: ex.fetch_order(lim["id"], sym))
    check("fetch_order by id", f is not None and f["id"] == lim["id"], f)
    c = step("cancel_order by id", lambda: ex.cancel_order(lim["id"], sym))
    check("cancelled", c is not None and c["status"] == "canceled", c)
lim2 = step("limit buy with a client id", lambda: ex.create_order(sym, "limit", "buy", 0.001, price, {"clientOrderId": "t-my.order2"}))
if lim2:
    check("own client id kept", lim2["clientOrderId"] == "t-my.order2", lim2)
    f = step("fetch_order by client id", lambda: ex.fetch_order("t-my.order2", sym))
    check("fetch_order by client id", f is not None and f["id"] == lim2["id"], f)
    c = step("cancel_order by client id", lambda: ex.cancel_order("t-my.order2", sym))
    check("cancelled by client id", c is not None and c["status"] == "canceled", c)
ed = step("limit to edit", lambda: ex.create_order(sym, "limit", "buy", 0.001, price))
if ed:
    price2 = float(ex.price_to_precision(sym, last * 0.7))
    e2 = step("edit_order", lambda: ex.edit_order(ed["id"], sym, "limit", "buy", 0.002, price2))
    check("edited: same id, new amount and price", e2 is not None and e2["id"] == ed["id"] and e2["amount"] == 0.002 and e2["price"] == price2, e2)
    f = step("fetch the edited order", lambda: ex.fetch_order(ed["id"], sym))
    check("fetched with the new price", f is not None and f["price"] == price2 and f["status"] == "open", f)
    c = step("cancel the edited order", lambda: ex.cancel_order(ed["id"], sym))
    check("cancelled", c is not None and c["status"] == "canceled", c)
po = step("post-only limit", lambda: ex.create_order(sym, "limit", "buy", 0.001, price, {"postOnly": True}))
check("post-only rests", po is not None and po["status"] == "open" and po["postOnly"], po)
raises("post-only that would take", ccxt.OrderImmediatelyFillable,
       lambda: ex.create_order(sym, "limit", "buy", 0.001, float(ex.price_to_precision(sym, last * 1.1)), {"postOnly": True}))
opened = step("fetch_open_orders", lambda: ex.fetch_open_orders(sym))
check("one open order", opened is not None and len(opened) == 1, opened)
closed = step("fetch_closed_orders", lambda: ex.fetch_closed_orders(sym))
# Gate's finished orders: the 2 filled and the 3 cancelled.
check("closed orders: 2 filled, 3 cancelled", closed is not None and sorted(x["status"] for x in closed) == ["canceled", "canceled", "canceled", "closed", "closed"], closed and [x["status"] for x in closed])
trades = step("fetch_my_trades since an hour ago", lambda: ex.fetch_my_trades(sym, since=t0))
check("my trades since an hour ago: 2", trades is not None and len(trades) == 2, trades)
ca = step("cancel_all_orders", lambda: ex.cancel_all_orders(sym))
check("cancel_all_orders", ca is not None, ca)
check("nothing open", ex.fetch_open_orders(sym) == [])

raises("bad signature", ccxt.AuthenticationError, lambda: client(secret="wrong").fetch_balance())
raises("bad key", ccxt.AuthenticationError, lambda: client(key="wrong").fetch_balance())
stale = client()
stale.load_markets()
stale.nonce = lambda: now_ms() - 120_000  # its clock two minutes behind
raises("stale timestamp", ccxt.AuthenticationError, stale.fetch_balance)
raises("insufficient balance", ccxt.InsufficientFunds, lambda: ex.create_order(sym, "limit", "buy", 1, price))
# Gate's label INVALID_PARAM_VALUE ("Your order size ... is too small"), which ccxt
# matches exactly, as BadRequest, before its broad match on the message.
raises("min notional", ccxt.BadRequest, lambda: ex.create_order(sym, "limit", "buy", 0.0001, price / 100))
raises("lot size", ccxt.InvalidOrder, lambda: ex.private_spot_post_orders(
    {"currency_pair": "BTC_USDT", "side": "buy", "type": "limit", "amount": "0.0012345", "price": str(price)}))
raises("unknown symbol", ccxt.BadSymbol, lambda: ex.public_spot_get_tickers({"currency_pair": "NOPE_USDT"}))
faults({"rate_429": 1})
try:
    raises("429", ccxt.RateLimitExceeded, lambda: ex.fetch_ticker(sym))
finally:
    faults(None)
done()

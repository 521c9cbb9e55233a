"""The sim's enforced rate limits, seen through the clients' default options.

Run against a `ballast sim` started with low limits:
    --weight-per-minute 40 --orders-per-day 3 --ban-after 2 --gate-requests-per-10s 5
Binance: unfilled orders over the day's limit are 429 -1015; request weight over the
minute's is 429 -1003 with Retry-After to the minute's end; a third 429 in the minute
bans the IP (418 -1003, Retry-After to the ban's end). Gate: over an endpoint's limit is
429 TOO_MANY_REQUESTS with Gate's X-Gate-RateLimit-* headers.
"""

import json
import time
import urllib.request
from decimal import Decimal

import ccxt
import gate_api
from binance.client import Client
from binance.exceptions import BinanceAPIException
from gate_api.exceptions import GateApiException

from common import KEY, SECRET, SIM_URL, check, done, pointed, raises, step

Client.API_URL = SIM_URL + "/api"
Client.MARGIN_API_URL = SIM_URL + "/sapi"


def get(path):
    """A GET outside the clients: (JSON body, headers)."""
    with urllib.request.urlopen(SIM_URL + path, timeout=10) as r:
        return json.loads(r.read()), r.headers


def wait_for_room(window_ms, need_ms, now_ms):
    """Sleeps into the next window when less than `need_ms` is left in this one, so the
    checks below all fall in one window (they take well under a second)."""
    left = window_ms - now_ms % window_ms
    if left < need_ms:
        time.sleep(left / 1000 + 0.05)


# --- Binance ---------------------------------------------------------------------
wait_for_room(60_000, 25_000, get("/sim/clock")[0]["venue"])
c = step("Client()", lambda: Client(KEY, SECRET))
ex = ccxt.binance({"apiKey": KEY, "secret": SECRET})
ex.urls["api"] = pointed(ex.urls["api"])
sym = "BTCUSDT"
last = Decimal(c.get_symbol_ticker(symbol=sym)["price"])
price = str((last * Decimal("0.8")).quantize(Decimal("0.01")))

# Unfilled orders: three rest (the day's limit); the fourth is refused, not placed.
for i in range(3):
    o = step(f"resting order {i + 1}", lambda: c.order_limit_buy(symbol=sym, quantity="0.001", price=price))
    check(f"resting order {i + 1} placed", o is not None and o["status"] == "NEW", o)
e = raises("4th unfilled order (python-binance)", BinanceAPIException,
           lambda: c.order_limit_buy(symbol=sym, quantity="0.001", price=price, newClientOrderId="over-the-limit"))
if e is not None:
    check("-1015, HTTP 429", (e.code, e.status_code) == (-1015, 429), (e.code, e.status_code, e.message))
    check("says the day's limit", "3 orders per 1 DAY" in e.message, e.message)
    retry = int(e.response.headers.get("Retry-After", "0"))
    check("Retry-After up to the day's end", 0 < retry <= 86_400, retry)
e = raises("4th unfilled order (ccxt)", ccxt.DDoSProtection, lambda: ex.private_post_order(
    {"symbol": sym, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001", "price": price}))
if e is not None:
    check("ccxt: 429 -1015", "429" in str(e) and "-1015" in str(e), str(e))
check("the refused orders were not placed", len(c.get_open_orders(symbol=sym)) == 3)

# Request weight: tickers (weight 2) until the minute's 40 are spent.
first = None
for _ in range(30):
    try:
        c.get_symbol_ticker(symbol=sym)
    except BinanceAPIException as err:
        first = err
        break
check("over the minute's weight: python-binance raises", first is not None)
if first is not None:
    check("429 -1003", (first.code, first.status_code) == (-1003, 429), (first.code, first.status_code, first.message))
    used = int(first.response.headers.get("X-MBX-USED-WEIGHT-1M", "0"))
    check("X-MBX-USED-WEIGHT-1M over 40", used > 40, used)
    retry = int(first.response.headers.get("Retry-After", "0"))
    now = get("/sim/clock")[0]["venue"]
    check("Retry-After counts down to the minute's end", 0 < retry <= 60 and abs(retry - (60 - now % 60_000 / 1000)) <= 2,
          (retry, now % 60_000))
e = raises("second 429 (ccxt)", ccxt.DDoSProtection, lambda: ex.public_get_ticker_price({"symbol": sym}))
if e is not None:
    check("ccxt: 429 -1003", "429" in str(e) and "-1003" in str(e), str(e))
# A third 429 in the minute is one too many: the IP is banned.
e = raises("went on: banned (python-binance)", BinanceAPIException, lambda: c.get_symbol_ticker(symbol=sym))
if e is not None:
    check("418 -1003", (e.code, e.status_code) == (-1003, 418), (e.code, e.status_code, e.message))
    retry = int(e.response.headers.get("Retry-After", "0"))
    check("Retry-After to the ban's end (2 minutes)", 110 <= retry <= 120, retry)
    check("says until when", "banned until" in e.message, e.message)
e = raises("during the ban (ccxt)", ccxt.DDoSProtection, lambda: ex.public_get_ticker_price({"symbol": sym}))
if e is not None:
    check("ccxt: 418", "418" in str(e), str(e))

# --- Gate ------------------------------------------------------------------------
wait_for_room(10_000, 5_000, get("/sim/clock")[0]["venue"])
spot = gate_api.SpotApi(gate_api.ApiClient(gate_api.Configuration(host=SIM_URL + "/api/v4", key=KEY, secret=SECRET)))
gx = ccxt.gate({"apiKey": KEY, "secret": SECRET})
gx.urls["api"] = pointed(gx.urls["api"])
for i in range(5):
    step(f"list_tickers {i + 1} of 5", lambda: spot.list_tickers(currency_pair="BTC_USDT"))
e = raises("6th list_tickers in 10 s (gate-api)", GateApiException, lambda: spot.list_tickers(currency_pair="BTC_USDT"))
if e is not None:
    check("429 TOO_MANY_REQUESTS", (e.status, e.label) == (429, "TOO_MANY_REQUESTS"), (e.status, e.label, e.message))
    h = {k.lower(): v for k, v in (e.headers or {}).items()}
    check("Gate's headers: none left of 5", (h.get("x-gate-ratelimit-requests-remain"), h.get("x-gate-ratelimit-limit")) == ("0", "5"), h)
    check("Gate's headers: the window's end", int(h.get("x-gate-ratelimit-reset-timestamp", "0")) % 10_000 == 0, h)
raises("7th (ccxt gate)", ccxt.RateLimitExceeded, lambda: gx.public_spot_get_tickers({"currency_pair": "BTC_USDT"}))
check("another endpoint is not limited", step("list_order_book", lambda: spot.list_order_book("BTC_USDT", limit=1)) is not None)
done()

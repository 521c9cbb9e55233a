"""Shared helpers of the client checks: each script runs one client library, with its
default options and only the base URL pointed at a running `ballast sim`, through the
ordinary calls of a trading script, and exits non-zero with what went wrong.

Environment: SIM_URL (http://127.0.0.1:PORT), SIM_KEY and SIM_SECRET (the sim's key
pair; default sim-key / sim-secret).
"""

import json
import os
import sys
import time
import traceback
import urllib.request
from decimal import Decimal

SIM_URL = os.environ.get("SIM_URL", "http://127.0.0.1:9000").rstrip("/")
KEY = os.environ.get("SIM_KEY", "sim-key")
SECRET = os.environ.get("SIM_SECRET", "sim-secret")

if not SIM_URL.startswith("http://127.0.0.1:"):
    sys.exit(f"SIM_URL must be a loopback sim, not {SIM_URL}")

_failures = []
_passed = 0


def pointed(urls):
    """ccxt's URL table with every https://host replaced by the sim (the base URL)."""
    if isinstance(urls, dict):
        return {k: pointed(v) for k, v in urls.items()}
    if isinstance(urls, str) and urls.startswith("https://"):
        return SIM_URL + "/" + urls.split("/", 3)[3] if urls.count("/") >= 3 else SIM_URL
    return urls


def check(name, cond, detail=""):
    """Records one expectation."""
    global _passed
    if cond:
        _passed += 1
        print(f"ok   {name}")
    else:
        _failures.append(f"{name}: {detail}")
        print(f"FAIL {name}: {detail}")


def step(name, fn):
    """Runs one call; an exception is a failure (with its traceback), not the end."""
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - every client error is a finding
        _failures.append(f"{name}: {type(e).__name__}: {e}")
        print(f"FAIL {name}: {type(e).__name__}: {e}")
        traceback.print_exc(file=sys.stdout)
        return None


def raises(name, exc_class, fn):
    """Expects `fn` to raise `exc_class` (or a subclass)."""
    try:
        fn()
    except exc_class as e:
        check(name, True)
        print(f"     ({type(e).__name__}: {str(e)[:160]})")
        return e
    except Exception as e:  # noqa: BLE001
        check(name, False, f"raised {type(e).__module__}.{type(e).__name__}: {e}, expected {exc_class.__name__}")
        return None
    check(name, False, f"nothing raised, expected {exc_class.__name__}")
    return None


def faults(body=None):
    """Sets the sim's faults (`POST /sim/faults` with a JSON body) or turns them off
    (`DELETE`)."""
    if body is None:
        req = urllib.request.Request(SIM_URL + "/sim/faults", method="DELETE")
    else:
        req = urllib.request.Request(SIM_URL + "/sim/faults", data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def now_ms():
    return int(time.time() * 1000)


def dec(x):
    return Decimal(str(x))


def done():
    print(f"\n{_passed} passed, {len(_failures)} failed")
    if _failures:
        print("failures:")
        for f in _failures:
            print(f"  - {f}")
        sys.exit(1)

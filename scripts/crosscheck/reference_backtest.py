#!/usr/bin/env python3
"""Independent reference implementation of the ideal backtest in /work/shared/BACKTEST.md.

Written from the conventions document alone (not from the Rust sources), with the
Python standard library only, so that `ballast backtest --sim ideal` can be checked
against it. See scripts/crosscheck/README.md.

Usage (the subset of `ballast backtest` flags it understands):

    python3 scripts/crosscheck/reference_backtest.py --assets BTC,ETH,XRP \
        --weights equal|custom:BTC=50,ETH=30,XRP=20 --mode hodl|calendar|threshold \
        --every 7d --threshold 5 --threshold-kind absolute|relative --fee-bps 10 \
        --interval 1d|4h|1h --start 2019-01-01 --end 2025-12-31 --initial 10000 \
        [--data data/binance-spot] [--format json]

Prints one JSON object with final_value, cagr, volatility, sharpe, max_drawdown,
rebalances, fees_paid, turnover, bars, start, end, a `hodl` object with the same, and
excess_vs_hodl.
"""

import argparse
import csv
import datetime as dt
import gzip
import json
import math
import os
import sys

# Bar length in minutes for each supported candle interval.
INTERVAL_MINUTES = {"1h": 60, "4h": 240, "1d": 1440}
# Units accepted by --every, in minutes.
EVERY_UNITS = {"m": 1, "h": 60, "d": 1440, "w": 10080}


class UsageError(Exception):
    pass


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------


def parse_timestamp(text):
    """`YYYY-MM-DD` or `YYYY-MM-DD HH:MM:SS` (open time, UTC) -> naive UTC datetime."""
    text = text.strip()
    if len(text) not in (10, 19) or text[4] != "-" or text[7] != "-":
        raise ValueError("bad timestamp %r" % text)
    return dt.datetime.fromisoformat(text)  # C-implemented; strptime is 20x slower


def format_timestamp(ts):
    """The date alone at midnight, else date and time (as ballast prints them)."""
    if ts.hour == 0 and ts.minute == 0 and ts.second == 0:
        return ts.strftime("%Y-%m-%d")
    return ts.strftime("%Y-%m-%d %H:%M:%S")


def candle_path(data_dir, asset, interval):
    base = os.path.join(data_dir, "%sUSDT_%s.csv" % (asset, interval))
    for p in (base + ".gz", base):
        if os.path.exists(p):
            return p
    raise UsageError("no candle file for %s %s in %s" % (asset, interval, data_dir))


def load_closes(path, start, end_exclusive):
    """{timestamp: close} for the candles whose open time is in [start, end_exclusive)."""
    opener = gzip.open if path.endswith(".gz") else open
    closes = {}
    with opener(path, "rt", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        cols = [h.strip().lower() for h in header]
        i_ts, i_close = cols.index("timestamp"), cols.index("close")
        for row in reader:
            if not row:
                continue
            ts = parse_timestamp(row[i_ts])
            if start <= ts < end_exclusive:
                price = float(row[i_close])  # handles scientific notation (SHIB)
                if not (price > 0 and math.isfinite(price)):
                    raise UsageError("%s: %s: bad close %r" % (path, row[i_ts], row[i_close]))
                closes[ts] = price
    return closes


def load_prices(data_dir, assets, interval, start_day, end_day):
    """The aligned clock (intersection of timestamps) and prices[t][i]."""
    start = dt.datetime.combine(start_day, dt.time())
    end_exclusive = dt.datetime.combine(end_day + dt.timedelta(days=1), dt.time())
    per_asset = [load_closes(candle_path(data_dir, a, interval), start, end_exclusive) for a in assets]
    common = set(per_asset[0])
    for closes in per_asset[1:]:
        common &= set(closes)
    clock = sorted(common)
    prices = [[closes[t] for closes in per_asset] for t in clock]
    return clock, prices


# ---------------------------------------------------------------------------
# Simulation
# ---------------------------------------------------------------------------


def rebalance_value(value, targets, holdings_value, fee):
    """Post-trade value V' solving V' = V - f * sum_i |w_i V' - q_i p_i| (iterated to 1e-12)."""
    v = value
    for _ in range(1000):
        traded = sum(abs(w * v - h) for w, h in zip(targets, holdings_value))
        nxt = value - fee * traded
        if abs(nxt - v) <= 1e-12 * max(1.0, abs(value)):
            v = nxt
            break
        v = nxt
    traded = sum(abs(w * v - h) for w, h in zip(targets, holdings_value))
    return v, traded


def simulate(prices, targets, fee, initial, mode, every_bars=None, threshold=None, kind="absolute"):
    """Run one strategy. Returns (values, rebalances, fees_paid, traded_after_initial)."""
    n = len(targets)
    p0 = prices[0]
    v0 = initial / (1.0 + fee)
    qty = [targets[i] * v0 / p0[i] for i in range(n)]
    fees = initial - v0
    values = [v0]
    rebalances = 0
    traded_total = 0.0
    last = 0
    limit = None if threshold is None else threshold / 100.0
    for t in range(1, len(prices)):
        p = prices[t]
        hv = [qty[i] * p[i] for i in range(n)]
        value = sum(hv)
        trigger = False
        if mode == "calendar":
            trigger = t - last >= every_bars
        elif mode == "threshold":
            for i in range(n):
                w = hv[i] / value
                if kind == "absolute":
                    drift = abs(w - targets[i])
                else:
                    drift = abs(w / targets[i] - 1.0)
                if drift > limit:
                    trigger = True
                    break
        if trigger:
            new_value, traded = rebalance_value(value, targets, hv, fee)
            fees += value - new_value
            traded_total += traded
            rebalances += 1
            last = t
            qty = [targets[i] * new_value / p[i] for i in range(n)]
            value = new_value
        values.append(value)
    return values, rebalances, fees, traded_total


def metrics(values, initial, periods_per_year, rebalances, fees, traded, clock):
    bars = len(values)
    returns = [values[t] / values[t - 1] - 1.0 for t in range(1, bars)]
    years = (bars - 1) / periods_per_year
    final = values[-1]
    cagr = (final / initial) ** (1.0 / years) - 1.0 if years > 0 else None
    if len(returns) >= 2:
        mean = sum(returns) / len(returns)
        var = sum((r - mean) ** 2 for r in returns) / (len(returns) - 1)
        vol = math.sqrt(var) * math.sqrt(periods_per_year)
        sharpe = mean * periods_per_year / vol if vol > 0 else None
    else:
        vol, sharpe = None, None
    peak = values[0]
    mdd = 0.0
    for v in values:
        if v > peak:
            peak = v
        dd = 1.0 - v / peak
        if dd > mdd:
            mdd = dd
    mean_value = sum(values) / bars
    return {
        "final_value": final,
        "cagr": cagr,
        "volatility": vol,
        "sharpe": sharpe,
        "max_drawdown": mdd,
        "rebalances": rebalances,
        "fees_paid": fees,
        "turnover": traded / mean_value,
        "bars": bars,
        "start": format_timestamp(clock[0]),
        "end": format_timestamp(clock[-1]),
    }


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------


def parse_weights(spec, assets):
    if spec == "equal":
        return [1.0 / len(assets)] * len(assets)
    if not spec.startswith("custom:"):
        raise UsageError("--weights: only equal or custom:A=x,B=y,... are supported")
    given = {}
    for part in spec[len("custom:"):].split(","):
        name, _, pct = part.partition("=")
        given[name.strip().upper()] = float(pct)
    if set(given) != set(assets):
        raise UsageError("--weights: custom weights must name exactly the --assets")
    total = sum(given.values())
    if abs(total - 100.0) > 1e-9:
        raise UsageError("--weights: custom weights sum to %s, not 100" % total)
    return [given[a] / 100.0 for a in assets]


def parse_every(spec, interval):
    unit = spec[-1]
    if unit not in EVERY_UNITS:
        raise UsageError("--every: unknown unit in %r" % spec)
    minutes = int(spec[:-1]) * EVERY_UNITS[unit]
    bar = INTERVAL_MINUTES[interval]
    if minutes <= 0 or minutes % bar != 0:
        raise UsageError("--every %s is not a whole number of %s bars" % (spec, interval))
    return minutes // bar


def run(args):
    assets = [a.strip().upper() for a in args.assets.split(",") if a.strip()]
    if args.interval not in INTERVAL_MINUTES:
        raise UsageError("--interval: 1d, 4h or 1h")
    targets = parse_weights(args.weights, assets)
    fee = float(args.fee_bps) / 10000.0
    initial = float(args.initial)
    every_bars = None
    if args.mode == "calendar":
        if not args.every:
            raise UsageError("--mode calendar needs --every")
        every_bars = parse_every(args.every, args.interval)
    threshold = None
    if args.mode == "threshold":
        if args.threshold is None:
            raise UsageError("--mode threshold needs --threshold")
        threshold = float(args.threshold)
        if args.threshold_kind == "relative" and min(targets) <= 0:
            raise UsageError("a relative threshold needs every target weight above zero")
    start_day = dt.date.fromisoformat(args.start)
    end_day = dt.date.fromisoformat(args.end)
    clock, prices = load_prices(args.data, assets, args.interval, start_day, end_day)
    if len(clock) < 2:
        raise UsageError("fewer than two common bars in the window")
    ppy = 365.0 * 1440.0 / INTERVAL_MINUTES[args.interval]

    strat = simulate(prices, targets, fee, initial, args.mode, every_bars, threshold, args.threshold_kind)
    hodl = simulate(prices, targets, fee, initial, "hodl")
    out = metrics(strat[0], initial, ppy, strat[1], strat[2], strat[3], clock)
    out["hodl"] = metrics(hodl[0], initial, ppy, hodl[1], hodl[2], hodl[3], clock)
    out["excess_vs_hodl"] = out["final_value"] / out["hodl"]["final_value"] - 1.0
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--assets", required=True)
    ap.add_argument("--weights", default="equal")
    ap.add_argument("--mode", choices=["hodl", "calendar", "threshold"], default="threshold")
    ap.add_argument("--every")
    ap.add_argument("--threshold")
    ap.add_argument("--threshold-kind", choices=["absolute", "relative"], default="absolute")
    ap.add_argument("--fee-bps", default="10")
    ap.add_argument("--interval", default="1d")
    ap.add_argument("--start", required=True)
    ap.add_argument("--end", required=True)
    ap.add_argument("--initial", default="10000")
    ap.add_argument("--data", default="data/binance-spot")
    ap.add_argument("--sim", choices=["ideal"], default="ideal")
    ap.add_argument("--format", choices=["json"], default="json")
    args = ap.parse_args(argv)
    try:
        out = run(args)
    except UsageError as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    json.dump(out, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

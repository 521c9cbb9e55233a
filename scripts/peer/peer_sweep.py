#!/usr/bin/env python3
"""The `ballast sweep` benchmark grid, run with vectorbt as a Python peer.

Loads the bundled 4h candles once, runs every configuration of the grid with
vectorbt's own simulator (order execution, fees, cash accounting, call sequence) and
times it. See scripts/peer/README.md for the grid, what the peer does and does not do
the same way as ballast, and how the time is measured. Meant to be run by run_peer.sh
inside a throwaway venv; it needs vectorbt (numba, numpy, pandas come with it).

Grid flags use the syntax of `ballast sweep` (lists `1,2,5` or ranges `a:b:step`, both
ends included); the defaults are the benchmark grid.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from decimal import Decimal

T_START = time.perf_counter()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import vectorbt as vbt  # noqa: E402
from numba import njit  # noqa: E402
from vectorbt.portfolio import nb as pnb  # noqa: E402
from vectorbt.portfolio.enums import Direction, SizeType  # noqa: E402

T_IMPORTED = time.perf_counter()

ASSETS = "BTC,ETH,XRP,BNB,SOL,ADA,DOGE,LTC,TRX,DOT,LINK"
UNIT_HOURS = {"h": Decimal(1), "d": Decimal(24), "w": Decimal(168)}
INTERVAL_HOURS = {"1h": 1, "4h": 4, "1d": 24}


# ---------------------------------------------------------------------------
# Grid
# ---------------------------------------------------------------------------


def decimal_values(spec, parse=Decimal):
    """`1,2,5` or `a:b:step` (both ends included, exact decimal steps)."""
    if ":" in spec:
        a, b, step = (parse(x) for x in spec.split(":"))
        out, k = [], 0
        while a + k * step <= b:
            out.append(a + k * step)
            k += 1
        return out
    return [parse(x) for x in spec.split(",")]


def parse_hours(text):
    return Decimal(text[:-1]) * UNIT_HOURS[text[-1]]


def build_grid(args):
    """[(mode, param, kind, fee_bps)] in a fixed order: thresholds by kind, then calendar."""
    bar_hours = INTERVAL_HOURS[args.interval]
    fees = decimal_values(args.fees)
    grid = []
    modes = args.modes.split(",")
    for fee in fees:
        if "threshold" in modes:
            for kind in args.threshold_kinds.split(","):
                for x in decimal_values(args.thresholds):
                    grid.append(("threshold", float(x), kind, float(fee)))
        if "calendar" in modes:
            for h in decimal_values(args.every, parse_hours):
                if h % bar_hours:
                    raise SystemExit("--every %sh is not a whole number of %s bars" % (h, args.interval))
                grid.append(("calendar", int(h / bar_hours), None, float(fee)))
    return grid


def label(cfg):
    mode, p, kind, fee = cfg
    if mode == "threshold":
        return "threshold %g%% %s, fee %g bps" % (p, kind, fee)
    return "calendar every %d bars, fee %g bps" % (p, fee)


# ---------------------------------------------------------------------------
# Data: the same files and clock as ballast (BACKTEST.md: intersection, [start, end])
# ---------------------------------------------------------------------------


def load_close(data_dir, assets, interval, start, end):
    cols = {}
    for a in assets:
        path = os.path.join(data_dir, "%sUSDT_%s.csv.gz" % (a, interval))
        df = pd.read_csv(path, usecols=["timestamp", "close"], dtype={"timestamp": str, "close": float})
        idx = pd.to_datetime(df["timestamp"], format="ISO8601")
        cols[a] = pd.Series(df["close"].to_numpy(), index=idx)
    close = pd.concat(cols, axis=1, join="inner").sort_index()
    lo, hi = pd.Timestamp(start), pd.Timestamp(end) + pd.Timedelta(days=1)
    return close[(close.index >= lo) & (close.index < hi)]


# ---------------------------------------------------------------------------
# Threshold trigger: vectorbt's from_order_func with two numba callbacks
# ---------------------------------------------------------------------------


@njit
def threshold_pre_segment_nb(c, weights, thresholds, relative, size_type, direction, order_value_out):
    """Value the group at this bar's close, decide whether to rebalance, order sells first."""
    for col in range(c.from_col, c.to_col):
        c.last_val_price[col] = c.close[c.i, col]
    rebalance = c.i == 0  # the initial buy
    if not rebalance:
        value = pnb.get_group_value_ctx_nb(c)
        limit = thresholds[c.group]
        for k in range(c.group_len):
            col = c.from_col + k
            w = c.last_position[col] * c.last_val_price[col] / value
            if relative[c.group]:
                drift = abs(w / weights[k] - 1.0)
            else:
                drift = abs(w - weights[k])
            if drift > limit:
                rebalance = True
                break
    if rebalance:
        pnb.sort_call_seq_nb(c, weights, size_type, direction, order_value_out, ctx_select=False)
    return (rebalance,)


@njit
def threshold_order_nb(c, rebalance, weights, fee):
    if not rebalance:
        return pnb.order_nothing_nb()
    return pnb.order_nb(
        size=weights[c.col - c.from_col],
        price=c.close[c.i, c.col],
        size_type=SizeType.TargetPercent,
        direction=Direction.LongOnly,
        fees=fee,
    )


def tile(close_np, m):
    return np.tile(close_np, (1, m))


def summarize(pf, n_cols, m):
    """The metrics ballast reports, from vectorbt's own accessors, one row per config."""
    value = pf.value().to_numpy()  # (bars, m)
    final = value[-1]
    fees = pf.orders.fees.sum(group_by=np.repeat(np.arange(m), n_cols)).to_numpy()
    notional = (pf.orders.size * pf.orders.price).sum(group_by=np.repeat(np.arange(m), n_cols)).to_numpy()
    return {
        "final_value": final,
        "cagr": pf.annualized_return().to_numpy(),
        "volatility": pf.annualized_volatility().to_numpy(),
        "sharpe": pf.sharpe_ratio().to_numpy(),
        "max_drawdown": -pf.max_drawdown().to_numpy(),
        "fees_paid": fees,
        "turnover_incl_initial": notional / value.mean(axis=0),
    }


def run_threshold(close_np, index, cfgs, weights, initial):
    m, n = len(cfgs), close_np.shape[1]
    thresholds = np.array([p / 100.0 for _, p, _, _ in cfgs])
    relative = np.array([kind == "relative" for _, _, kind, _ in cfgs])
    fee = cfgs[0][3] / 10000.0
    assert all(c[3] == cfgs[0][3] for c in cfgs), "one fee per chunk"
    close = pd.DataFrame(tile(close_np, m), index=index)
    pf = vbt.Portfolio.from_order_func(
        close,
        threshold_order_nb,
        weights,
        fee,
        pre_segment_func_nb=threshold_pre_segment_nb,
        pre_segment_args=(
            weights,
            thresholds,
            relative,
            np.array([SizeType.TargetPercent]),
            np.array([Direction.LongOnly]),
            np.empty(n),
        ),
        group_by=np.repeat(np.arange(m), n),
        cash_sharing=True,
        init_cash=initial,
        freq=FREQ,
    )
    return summarize(pf, n, m)


# ---------------------------------------------------------------------------
# Calendar: vectorbt's from_orders with target-percent sizes on the rebalance bars
# ---------------------------------------------------------------------------


def run_calendar(close_np, index, cfgs, weights, initial):
    m, n = len(cfgs), close_np.shape[1]
    fee = cfgs[0][3] / 10000.0
    assert all(c[3] == cfgs[0][3] for c in cfgs), "one fee per chunk"
    size = np.full((close_np.shape[0], m * n), np.nan)
    for j, (_, every, _, _) in enumerate(cfgs):
        size[::every, j * n:(j + 1) * n] = weights
    close = pd.DataFrame(tile(close_np, m), index=index)
    pf = vbt.Portfolio.from_orders(
        close,
        size=size,
        size_type="targetpercent",
        direction="longonly",
        fees=fee,
        group_by=np.repeat(np.arange(m), n),
        cash_sharing=True,
        call_seq="auto",  # sells before buys, as a rebalance must
        init_cash=initial,
        freq=FREQ,
    )
    return summarize(pf, n, m)


FREQ = "4h"


def run_grid(close, grid, initial, chunk):
    """Every config of the grid; returns {metric: array in grid order}."""
    close_np = close.to_numpy()
    n = close_np.shape[1]
    weights = np.full(n, 1.0 / n)
    out = {}
    # Consecutive configs of one mode and one fee go to vectorbt together, `chunk` at a time.
    pos = 0
    while pos < len(grid):
        end = pos
        while end < len(grid) and end - pos < chunk and grid[end][0] == grid[pos][0] and grid[end][3] == grid[pos][3]:
            end += 1
        cfgs = grid[pos:end]
        runner = run_threshold if cfgs[0][0] == "threshold" else run_calendar
        res = runner(close_np, close.index, cfgs, weights, initial)
        for k, v in res.items():
            out.setdefault(k, []).append(v)
        pos = end
    return {k: np.concatenate(v) for k, v in out.items()}


# ---------------------------------------------------------------------------
# Agreement with ballast on a few configs
# ---------------------------------------------------------------------------


def ballast_final(ballast, args, cfg):
    mode, p, kind, fee = cfg
    cmd = [
        ballast, "backtest", "--sim", "ideal", "--format", "json", "--data", args.data,
        "--assets", args.assets, "--interval", args.interval, "--start", args.start, "--end", args.end,
        "--initial", str(args.initial), "--fee-bps", "%g" % fee, "--mode", mode,
    ]
    if mode == "threshold":
        cmd += ["--threshold", "%g" % p, "--threshold-kind", kind]
    else:
        cmd += ["--every", "%dh" % (p * INTERVAL_HOURS[args.interval])]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        return None, out.stderr.strip()
    v = json.loads(out.stdout)
    return v, None


def check_configs(grid):
    """A few representative configs of the grid (and the same at zero fees)."""
    wanted = [
        ("threshold", 5.0, "absolute"),
        ("threshold", 20.0, "relative"),
        ("threshold", 1.0, "absolute"),
        ("calendar", 6, None),
        ("calendar", 42, None),
        ("calendar", 168, None),
    ]
    picked = [c for c in grid if (c[0], c[1], c[2]) in wanted]
    seen, out = set(), []
    for c in picked:
        if (c[0], c[1], c[2]) not in seen:
            seen.add((c[0], c[1], c[2]))
            out.append(c)
    return out + [(m, p, k, 0.0) for (m, p, k, _) in out]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="data/binance-spot")
    ap.add_argument("--assets", default=ASSETS)
    ap.add_argument("--interval", default="4h")
    ap.add_argument("--start", default="2021-01-01")
    ap.add_argument("--end", default="2025-12-31")
    ap.add_argument("--modes", default="threshold,calendar")
    ap.add_argument("--thresholds", default="0.5:42:0.1")
    ap.add_argument("--threshold-kinds", default="absolute,relative")
    ap.add_argument("--every", default="4h:28d:4h")
    ap.add_argument("--fees", default="10")
    ap.add_argument("--initial", type=float, default=10000.0)
    ap.add_argument("--chunk", type=int, default=25, help="configs per vectorbt call")
    ap.add_argument("--passes", type=int, default=2, help="timed passes over the grid (1st includes JIT)")
    ap.add_argument("--ballast", help="ballast binary: compare a few configs with `ballast backtest`")
    ap.add_argument("--out", help="write every config's metrics (last pass) as CSV here")
    ap.add_argument("--json", help="write the timing summary as JSON here")
    args = ap.parse_args()

    global FREQ
    FREQ = args.interval
    grid = build_grid(args)

    t0 = time.perf_counter()
    close = load_close(args.data, args.assets.split(","), args.interval, args.start, args.end)
    t_load = time.perf_counter() - t0
    print("peer: vectorbt %s (numpy %s, pandas %s, numba %s), Python %s"
          % (vbt.__version__, np.__version__, pd.__version__, __import__("numba").__version__,
             sys.version.split()[0]))
    print("data: %d assets x %d bars (%s .. %s), loaded in %.3f s; import took %.3f s"
          % (close.shape[1], close.shape[0], close.index[0], close.index[-1], t_load, T_IMPORTED - T_START))
    print("grid: %d configs (%d threshold, %d calendar), chunk %d configs per vectorbt call"
          % (len(grid), sum(c[0] == "threshold" for c in grid), sum(c[0] == "calendar" for c in grid),
             args.chunk))

    passes = []
    result = None
    for k in range(args.passes):
        t0 = time.perf_counter()
        result = run_grid(close, grid, args.initial, args.chunk)
        dt_ = time.perf_counter() - t0
        passes.append(dt_)
        what = "cold: includes numba JIT compilation" if k == 0 else "warm: JIT already done"
        print("pass %d (%s): %.3f s sweep; with data loading %.3f s = %.1f configs/s"
              % (k + 1, what, dt_, dt_ + t_load, len(grid) / (dt_ + t_load)))

    summary = {
        "peer": "vectorbt",
        "vectorbt": vbt.__version__,
        "numba": __import__("numba").__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "python": sys.version.split()[0],
        "configs": len(grid),
        "bars": int(close.shape[0]),
        "assets": int(close.shape[1]),
        "import_s": T_IMPORTED - T_START,
        "load_s": t_load,
        "sweep_cold_s": passes[0],
        "sweep_warm_s": min(passes[1:]) if len(passes) > 1 else None,
        "total_cold_s": t_load + passes[0],
        "total_warm_s": t_load + min(passes[1:]) if len(passes) > 1 else None,
    }
    summary["configs_per_s_cold"] = len(grid) / summary["total_cold_s"]
    if summary["total_warm_s"]:
        summary["configs_per_s_warm"] = len(grid) / summary["total_warm_s"]

    if args.out:
        rows = {"mode": [c[0] for c in grid], "param": [c[1] for c in grid], "kind": [c[2] or "" for c in grid],
                "fee_bps": [c[3] for c in grid]}
        rows.update(result)
        pd.DataFrame(rows).to_csv(args.out, index=False)

    # Agreement check (outside the timing): the peer on a few configs, and ballast on the same.
    checks = check_configs(grid)
    if checks:
        res = run_grid(close, checks, args.initial, args.chunk)
        print("\nagreement (final value of 10000 USDT; peer = vectorbt, its conventions, see README):")
        print("  %-44s %16s %16s %10s" % ("config", "peer", "ballast", "rel diff"))
        summary["checks"] = []
        for i, c in enumerate(checks):
            peer = float(res["final_value"][i])
            theirs = None
            if args.ballast:
                v, err = ballast_final(args.ballast, args, c)
                theirs = v["final_value"] if v else None
            rel = abs(peer / theirs - 1.0) if theirs else None
            print("  %-44s %16.4f %16s %10s" % (label(c), peer, "%.4f" % theirs if theirs else "-",
                                               "%.2e" % rel if rel is not None else "-"))
            summary["checks"].append({"config": label(c), "peer_final_value": peer, "ballast_final_value": theirs})

    print("\nsummary: " + json.dumps(summary))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(summary, fh, indent=2)


if __name__ == "__main__":
    main()

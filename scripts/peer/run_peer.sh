#!/usr/bin/env bash
# The benchmark sweep, timed with ballast and with a Python peer (vectorbt) in the same run.
#
#   bash scripts/peer/run_peer.sh            # from anywhere; works in the repository root
#
# 1. times `ballast sweep` on the grid (target/release/ballast; build it first with
#    `cargo build --release`; skipped with a note if it is missing),
# 2. creates a throwaway venv in a temp dir and `pip install`s the peer (not timed),
# 3. runs scripts/peer/peer_sweep.py on the same grid (cold pass with numba JIT, then
#    warm passes), and a few configs of it with `ballast backtest` to show agreement,
# 4. prints the ratio. The venv is deleted at the end (KEEP_VENV=1 keeps it).
#
# Environment: PEER_SPEC (default vectorbt==1.2.0), PYTHON (default python3),
# BALLAST (default target/release/ballast), RUNS (ballast repetitions, default 5),
# PASSES (peer passes over the grid, default 3: one cold, two warm).
# See scripts/peer/README.md for the grid and what the peer does.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
PEER_SPEC="${PEER_SPEC:-vectorbt==1.2.0}"
BALLAST="${BALLAST:-$ROOT/target/release/ballast}"
RUNS="${RUNS:-5}"
PASSES="${PASSES:-3}"

# The grid (README.md): 416 thresholds x 2 kinds + 168 calendar intervals = 1000 configs.
ASSETS=BTC,ETH,XRP,BNB,SOL,ADA,DOGE,LTC,TRX,DOT,LINK
GRID=(--assets "$ASSETS" --start 2021-01-01 --end 2025-12-31
      --thresholds 0.5:42:0.1 --threshold-kinds absolute,relative --every 4h:28d:4h --fees 10)
SWEEP=("$BALLAST" sweep "${GRID[@]}" --intervals 4h --modes threshold,calendar --weights equal
       --sim ideal --format csv --no-progress)

WORK="$(mktemp -d "${TMPDIR:-/tmp}/ballast-peer.XXXXXX")"
cleanup() { if [[ "${KEEP_VENV:-0}" != 1 ]]; then rm -rf "$WORK"; else echo "kept $WORK"; fi; }
trap cleanup EXIT

echo "== machine: $(uname -sm), $(nproc) cores, $("$PYTHON" --version 2>&1)"

# 1. ballast -----------------------------------------------------------------------
BALLAST_JSON="$WORK/ballast.json"
if [[ -x "$BALLAST" ]] && "$BALLAST" sweep --help >/dev/null 2>&1; then
  echo "== ballast: ${SWEEP[*]} > /dev/null"
  "${SWEEP[@]}" > "$WORK/ballast_sweep.csv"
  echo "   rows: $(($(wc -l < "$WORK/ballast_sweep.csv") - 1))"
  "$PYTHON" - "$RUNS" "$BALLAST_JSON" "${SWEEP[@]}" <<'EOF'
import json, statistics, subprocess, sys, time
runs, out, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
res = {}
for label, extra in (("all_cores", []), ("one_thread", ["--threads", "1"])):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd + extra, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
    res[label] = {"best_s": min(times), "median_s": statistics.median(times), "runs": runs}
    print("   %-10s best %.3f s, median %.3f s over %d runs (process start, loading and output included)"
          % (label, min(times), statistics.median(times), runs))
json.dump(res, open(out, "w"))
EOF
else
  echo "== ballast: $BALLAST with a sweep command not found; build it (cargo build --release). Timing the peer only."
fi

# 2. the peer's venv (not timed) ------------------------------------------------------
echo "== peer: $PYTHON -m venv $WORK/venv; pip install $PEER_SPEC"
"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$PEER_SPEC"
"$WORK/venv/bin/python" -m pip freeze --disable-pip-version-check | grep -iE '^(vectorbt|numba|numpy|pandas|llvmlite)==' | sed 's/^/   /'

# 3. the peer -----------------------------------------------------------------------
PEER_ARGS=(--assets "$ASSETS" --interval 4h --start 2021-01-01 --end 2025-12-31 --modes threshold,calendar
           --thresholds 0.5:42:0.1 --threshold-kinds absolute,relative --every 4h:28d:4h --fees 10
           --passes "$PASSES" --json "$WORK/peer.json")
[[ -x "$BALLAST" ]] && PEER_ARGS+=(--ballast "$BALLAST")
echo "== peer: python scripts/peer/peer_sweep.py ${PEER_ARGS[*]}"
"$WORK/venv/bin/python" scripts/peer/peer_sweep.py "${PEER_ARGS[@]}" | grep -v '^summary: '

# 4. the ratio ----------------------------------------------------------------------
echo "== result"
"$PYTHON" - "$WORK/peer.json" "$BALLAST_JSON" <<'EOF'
import json, os, sys
peer = json.load(open(sys.argv[1]))
n = peer["configs"]
print("   peer  vectorbt %s: cold %.2f s (%.1f configs/s, numba JIT included), warm %.2f s (%.1f configs/s);"
      " data loading included, import %.2f s and pip excluded"
      % (peer["vectorbt"], peer["total_cold_s"], peer["configs_per_s_cold"], peer["total_warm_s"] or float("nan"),
         peer.get("configs_per_s_warm", float("nan")), peer["import_s"]))
if os.path.exists(sys.argv[2]):
    b = json.load(open(sys.argv[2]))
    for label, v in b.items():
        t = v["best_s"]
        print("   ballast sweep (%s): %.3f s (%.0f configs/s); peer warm / ballast = %.0fx, peer cold / ballast = %.0fx"
              % (label, t, n / t, (peer["total_warm_s"] or float("nan")) / t, peer["total_cold_s"] / t))
EOF

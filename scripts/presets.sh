#!/usr/bin/env bash
# Regenerates the shipped presets (presets/*.toml) and docs/PRESETS.md with
# `ballast optimize` (walk-forward selection) on the bundled 4h candles.
# Usage: bash scripts/presets.sh   (from the repository root; ~1 minute)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
B=./target/release/ballast
COMMON=(--intervals 4h --end 2025-12-31 --in-sample 730d --out-of-sample 180d --rank-by sharpe --fees 10)
THRESHOLDS=(--modes threshold --thresholds 1:20:1 --threshold-kinds absolute,relative)
CALENDAR=(--modes calendar --every 12h,1d,2d,3d,7d,14d,21d,28d)
BOTH=(--modes threshold,calendar --thresholds 1:20:1 --threshold-kinds absolute,relative --every 12h,1d,2d,3d,7d,14d,21d,28d)

doc=docs/PRESETS.md
{
  echo "# Presets"
  echo
  echo "Ready-made strategies whose parameters were chosen on history by walk-forward"
  echo "selection (\`ballast optimize\`): on every rolling 730-day in-sample window the grid is"
  echo "ranked by Sharpe ratio and the best configuration is judged on the following 180"
  echo "days, out of sample. The out-of-sample windows tile the period after the first"
  echo "in-sample window. A preset is the configuration chosen most often; its figures below"
  echo "are that configuration held fixed over every out-of-sample window, next to HODL of"
  echo "the same coins and the record of the walk-forward procedure itself (which may pick a"
  echo "different configuration per window). Every out-of-sample window is bought fresh at"
  echo "its start with the capital carried over, HODL included, so the HODL line is \"HODL"
  echo "restarted every 180 days\", not one buy-and-hold over the whole period. Ideal"
  echo "simulation (BACKTEST.md), 10 bps fee, on the bundled Binance 4h candles."
  echo
  echo "Past results say nothing certain about the future: read the HODL line too. Where a"
  echo "preset trails HODL out of sample, that is reported, not hidden."
  echo
  echo "Regenerate everything (presets and this page): \`bash scripts/presets.sh\`."
  echo
  echo "\`ballast presets\` lists them; \`ballast presets show NAME\` prints one;"
  echo "\`ballast backtest --preset NAME\` runs it; the bot issue's \`bot create --profile\`"
  echo "starts a bot from one."
} > "$doc"

run() {
  local name=$1 desc=$2; shift 2
  local cmd=("$B" optimize --name "$name" --description "$desc" --write-preset "presets/$name.toml" "${COMMON[@]}" "$@")
  echo "== $name" >&2
  local out
  out=$("${cmd[@]}")
  {
    echo
    echo "## $name"
    echo
    echo "$desc"
    echo
    echo '```'
    echo "$out"
    echo '```'
    echo
    echo "Command:"
    echo
    echo '```sh'
    echo "ballast optimize --name $name --write-preset presets/$name.toml ${COMMON[*]} $*" | sed "s/--description [^-]*//"
    echo '```'
  } >> "$doc"
}

run majors-threshold "BTC, ETH, BNB and XRP in equal parts, rebalanced on drift." \
  --assets BTC,ETH,BNB,XRP --weights equal --start 2019-01-01 "${THRESHOLDS[@]}"
run majors-calendar "BTC, ETH, BNB and XRP in equal parts, rebalanced on a schedule." \
  --assets BTC,ETH,BNB,XRP --weights equal --start 2019-01-01 "${CALENDAR[@]}"
run top10-equal "Ten large coins in equal parts; threshold or calendar, whichever history chose." \
  --assets BTC,ETH,XRP,BNB,SOL,ADA,DOGE,LTC,TRX,LINK --weights equal --start 2020-09-01 "${BOTH[@]}"
run majors-risk-parity "Six large coins weighted for equal risk (AI Balance: risk parity on a 90-day window, re-estimated at each rebalance)." \
  --assets BTC,ETH,BNB,XRP,SOL,ADA --weights risk-parity --lookback 90d --start 2020-09-01 "${BOTH[@]}"
run market-cap-capped "Five large coins by market cap, no coin above 40 %." \
  --assets BTC,ETH,BNB,XRP,SOL --weights market-cap --max-weight 40 --start 2020-10-01 "${BOTH[@]}"
echo "wrote presets/*.toml and $doc" >&2

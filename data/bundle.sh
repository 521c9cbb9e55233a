#!/usr/bin/env bash
# Regenerates the bundled market data in this folder from the staged copies in
# ../shared/data (or the directory given as the first argument). Deterministic: the
# same inputs give byte-identical outputs (gzip -9 -n stores no name and no mtime).
#
#   data/bundle.sh [SOURCE_DATA_DIR]
#
# What it does, and nothing else:
# - binance-spot: <SYM>USDT_1d.csv for 21 coins and <SYM>USDT_4h.csv for 11 coins,
#   with the LAST row dropped (an in-progress candle at download time, ~2026-01-06),
#   gzip -9 -n. The 1h files are not bundled.
# - cmc-monthly: coinmarketcap_monthly_all_snapshots.csv unchanged, gzip -9 -n.
# - SHA256SUMS: checksums of the bundled files.
set -euo pipefail
export LC_ALL=C

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="${1:-$here/../../shared/data}"
src="$(cd "$src" && pwd)"

daily="ADA ATOM AVAX BCH BNB BTC DOGE DOT ETC ETH LINK LTC MATIC PAXG SHIB SOL TRX UNI XLM XMR XRP"
four_hour="ADA BNB BTC DOGE DOT ETH LINK LTC SOL TRX XRP"
header="timestamp,open,high,low,close,volume"

mkdir -p "$here/binance-spot" "$here/cmc-monthly"
rm -f "$here"/binance-spot/*.csv.gz "$here"/cmc-monthly/*.csv.gz

bundle_candles() { # SYM INTERVAL
    local in="$src/binance-spot/$1USDT_$2.csv" out="$here/binance-spot/$1USDT_$2.csv.gz"
    [ -f "$in" ] || { echo "missing $in" >&2; exit 1; }
    [ "$(head -n 1 "$in" | tr -d '\r')" = "$header" ] || { echo "unexpected header in $in" >&2; exit 1; }
    # Drop the last line (the in-progress candle).
    sed '$d' "$in" | gzip -9 -n > "$out"
    printf '%-22s %6d rows, last kept %s, dropped %s\n' "$(basename "$out")" \
        "$(($(wc -l < "$in") - 2))" "$(tail -n 2 "$in" | head -n 1 | cut -d, -f1)" "$(tail -n 1 "$in" | cut -d, -f1)"
}

for s in $daily; do bundle_candles "$s" 1d; done
for s in $four_hour; do bundle_candles "$s" 4h; done

gzip -9 -n < "$src/cmc-monthly/coinmarketcap_monthly_all_snapshots.csv" \
    > "$here/cmc-monthly/coinmarketcap_monthly_all_snapshots.csv.gz"

(cd "$here" && sha256sum binance-spot/*.csv.gz cmc-monthly/*.csv.gz > SHA256SUMS)
echo "bundle: $(du -sh "$here" | cut -f1) in $here"

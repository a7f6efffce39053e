#!/usr/bin/env bash
# Draws docs/grafana/eventstore.png: the dashboard's append panels from a real scrape of
# `eventstore bench append --metrics-listen` (scrape.py once a second, then panels.gp), for
# machines without Grafana.
#   docs/grafana/render-panels.sh [STORE_URI] [SECONDS]
# STORE_URI defaults to a new SQLite file in a temporary directory; SECONDS to 30. Needs the
# built CLI (build/bin/eventstore, or $EVENTSTORE), python3 and gnuplot.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
eventstore=${EVENTSTORE:-$here/../../build/bin/eventstore}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
store=${1:-sqlite:$tmp/bench.db}
seconds=${2:-30}

"$eventstore" --store "$store" bench append --concurrency 64 --streams 1000 --warmup-s 0 --duration-s "$seconds" \
  --quiet --json --metrics-listen 127.0.0.1:0 >"$tmp/bench.json" 2>"$tmp/bench.err" &
bench=$!
port=""
for _ in $(seq 1 200); do
  port=$(sed -n 's|^eventstore: info: serving metrics at http://127.0.0.1:\([0-9]*\)/metrics$|\1|p' "$tmp/bench.err")
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || { echo "render-panels: the bench serves no metrics: $(cat "$tmp/bench.err")" >&2; exit 1; }
python3 "$here/scrape.py" "http://127.0.0.1:$port/metrics" "$seconds" "$tmp/panels.dat"
wait "$bench"
cp "$tmp/panels.dat" "$here/eventstore-panels.dat"
gnuplot -e "data='$tmp/panels.dat'; out='$here/eventstore.png'; title='eventstore bench append on ${store%%:*}, 64 in flight, scraped once a second'" \
  "$here/panels.gp"
echo "render-panels: wrote $here/eventstore.png and $here/eventstore-panels.dat"

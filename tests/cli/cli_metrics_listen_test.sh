#!/usr/bin/env bash
# --metrics-listen and bench --metrics (docs/observability.md, "Serving /metrics from the CLI"):
#   - bad addresses: exit 2, one error line, no store file created; a port in use likewise;
#   - subscribe --follow on sqlite: /metrics scraped over HTTP while it runs shows the feed
#     entries it delivered and the checkpoint it saved, exactly, before and after more appends;
#   - bench append on sqlite: the appends counter grows between two scrapes and agrees with its
#     latency histogram; bench --metrics aggregates without serving;
#   - a build without prometheus-cpp: the flags fail with one clear line.
#   tests/cli/cli_metrics_listen_test.sh path/to/eventstore
# EVENTSTORE_TEST_PROMETHEUS=1 when the binary was built with prometheus-cpp (set by ctest).
set -u
# shellcheck source=tests/lib/cli_helpers.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/cli_helpers.sh"
EVENTSTORE=$(executable_path cli_metrics_listen_test "${1:?usage: cli_metrics_listen_test.sh path/to/eventstore}") ||
  exit 1
enter_temp_dir
clear_store_environment

command -v python3 >/dev/null || { echo "FAIL: python3 is needed to scrape /metrics over HTTP" >&2; exit 1; }

DB="sqlite:$TMP/shop.db"
NEW="$TMP/never.db"
ORDER=0de30000-0000-8000-8000-0000000000a1

# ---- a build without prometheus-cpp ---------------------------------------------------------
if [ "${EVENTSTORE_TEST_PROMETHEUS:-0}" != 1 ]; then
  echo "NOTE: this build has no prometheus-cpp: only the refusal of --metrics-listen is checked" >&2
  run --store "sqlite:$NEW" demo --quiet --metrics-listen 127.0.0.1:0
  expect_error 2 "--metrics-listen without prometheus-cpp"
  expect_contains "prometheus-cpp" "$ERR" "the error names what is missing"
  if [ ! -e "$NEW" ]; then ok; else fail "--metrics-listen without prometheus-cpp created the store file"; fi
  finish cli_metrics_listen_test
  exit
fi

# free_port: a TCP port of 127.0.0.1 nothing listens on right now.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
# scrape PORT: the body of GET http://127.0.0.1:PORT/metrics into $SCRAPE; status 1 when no answer.
scrape() {
  SCRAPE=$(python3 - "$1" <<'EOF'
import sys, urllib.request
with urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5) as response:
    assert response.status == 200, response.status
    sys.stdout.write(response.read().decode())
EOF
  )
}
# sample NAME{LABELS}: the value of that exact series in $SCRAPE ("" when absent).
sample() { printf '%s\n' "$SCRAPE" | awk -v series="$1" '$1 == series { print $2 }'; }
# expect_sample NAME{LABELS} VALUE DESCRIPTION: the series has that value (compared as numbers).
expect_sample() {
  local got
  got=$(sample "$1")
  if [ -n "$got" ] && python3 -c 'import sys; sys.exit(float(sys.argv[1]) != float(sys.argv[2]))' "$got" "$2"; then ok
  else fail "$3: $1 is '$got', want $2"; fi
}
# wait_for_lines FILE N: until FILE has N lines (20 s at most).
wait_for_lines() {
  for _ in $(seq 1 400); do
    [ "$(wc -l <"$1")" -ge "$2" ] && return 0
    sleep 0.05
  done
  return 1
}
# wait_for_port FILE: the port of the "serving metrics at" line of FILE (20 s at most).
wait_for_port() {
  local port
  for _ in $(seq 1 400); do
    port=$(sed -n 's|^eventstore: info: serving metrics at http://127.0.0.1:\([0-9]*\)/metrics$|\1|p' "$1")
    [ -n "$port" ] && { echo "$port"; return 0; }
    sleep 0.05
  done
  return 1
}
append() {  # append EXPECTED TYPE...: one append of one event per TYPE to $ORDER
  local expected=$1 args=()
  shift
  for type in "$@"; do args+=(--event "$type" --data '{"n":1}'); done
  "$EVENTSTORE" --store "$DB" append --context shop --type order --id "$ORDER" --expected-version "$expected" \
    "${args[@]}" >/dev/null || fail "append at $expected"
}

# ---- bad addresses: exit 2, one line, nothing written -----------------------------------------
for address in nonsense 127.0.0.1 127.0.0.1: :9464 127.0.0.1:99999 127.0.0.1:94x4 'bad host:9464' 127.0.0.1:-1; do
  run --store "sqlite:$NEW" demo --quiet --metrics-listen "$address"
  expect_error 2 "demo --metrics-listen '$address'"
  expect_contains "--metrics-listen" "$ERR" "the error for '$address' names the flag"
  if [ ! -e "$NEW" ]; then ok; else fail "--metrics-listen '$address' created the store file"; rm -f "$NEW"*; fi
done
run --store "sqlite:$NEW" subscribe --context shop --name x --metrics-listen 127.0.0.1
expect_error 2 "subscribe --metrics-listen without a port"
run --store "sqlite:$NEW" bench append --metrics-listen nonsense --ops 1
expect_error 2 "bench append --metrics-listen without a port"
run --store "sqlite:$NEW" bench append --raw --metrics --ops 1
expect_error 2 "bench append --raw --metrics"
if [ ! -e "$NEW" ]; then ok; else fail "a refused bench created the store file"; rm -f "$NEW"*; fi
for command in demo subscribe relay "bench append" "bench mixed"; do
  # shellcheck disable=SC2086
  run $command --help
  expect_contains "--metrics-listen" "$OUT" "'$command --help' lists --metrics-listen"
done

# ---- subscribe --follow: the feed it delivered and its checkpoint, scraped ---------------------
append no-stream OrderCreated ItemAdded ItemAdded
append 3 ItemRemoved OrderPaid
PORT=$(free_port)
"$EVENTSTORE" --store "$DB" subscribe --context shop --name probe --follow --metrics-listen "127.0.0.1:$PORT" \
  >"$TMP/sub.out" 2>"$TMP/sub.err" &
SUBSCRIBER=$!
BACKGROUND+=("$SUBSCRIBER")
if wait_for_lines "$TMP/sub.out" 5; then ok; else fail "subscribe printed $(wc -l <"$TMP/sub.out") of 5 entries"; fi
expect_eq "$(wait_for_port "$TMP/sub.err")" "$PORT" "subscribe says where it serves the metrics"
# The checkpoint is saved right after the page is printed: give it the moment it takes.
for _ in $(seq 1 100); do
  scrape "$PORT" && [ "$(sample 'eventstore_checkpoint_position{context="shop",subscription="probe"}')" = 5 ] && break
  sleep 0.05
done
if scrape "$PORT"; then ok; else fail "GET http://127.0.0.1:$PORT/metrics failed"; fi
expect_contains "# TYPE eventstore_feed_entries_total counter" "$SCRAPE" "the feed entries counter is declared"
expect_contains "# TYPE eventstore_checkpoint_position gauge" "$SCRAPE" "the checkpoint gauge is declared"
expect_sample 'eventstore_feed_entries_total{context="shop"}' 5 "entries delivered after 2 appends of 3 + 2 events"
expect_sample 'eventstore_checkpoint_position{context="shop",subscription="probe"}' 5 "the checkpoint saved"
expect_lacks "eventstore_appends_total{" "$SCRAPE" "subscribe appended nothing"

# A second process cannot serve on the same port: exit 2, and no store file made.
run --store "sqlite:$NEW" demo --quiet --metrics-listen "127.0.0.1:$PORT"
expect_error 2 "demo --metrics-listen on a port in use"
expect_contains "cannot listen there" "$ERR" "the error says the port cannot be used"
if [ ! -e "$NEW" ]; then ok; else fail "a port in use still created the store file"; rm -f "$NEW"*; fi

append 5 OrderShipped ItemAdded ItemAdded
if wait_for_lines "$TMP/sub.out" 8; then ok; else fail "subscribe printed $(wc -l <"$TMP/sub.out") of 8 entries"; fi
for _ in $(seq 1 100); do
  scrape "$PORT" && [ "$(sample 'eventstore_checkpoint_position{context="shop",subscription="probe"}')" = 8 ] && break
  sleep 0.05
done
expect_sample 'eventstore_feed_entries_total{context="shop"}' 8 "entries delivered after 3 more events"
expect_sample 'eventstore_checkpoint_position{context="shop",subscription="probe"}' 8 "the checkpoint moved on"
kill -INT "$SUBSCRIBER"
wait "$SUBSCRIBER"
expect_eq "$?" 0 "subscribe --follow --metrics-listen ends with exit code 0 on SIGINT"
if scrape "$PORT" 2>/dev/null; then fail "/metrics still answers after the command ended"; else ok; fi

# ---- bench append: the appends it made, scraped while it runs ----------------------------------
"$EVENTSTORE" --store "sqlite:$TMP/bench.db" bench append --concurrency 4 --warmup-s 0 --duration-s 6 --json \
  --metrics-listen 127.0.0.1:0 >"$TMP/bench.out" 2>"$TMP/bench.err" &
BENCH=$!
BENCH_PORT=$(wait_for_port "$TMP/bench.err") || fail "bench did not say where it serves the metrics: $(cat "$TMP/bench.err")"
OK_SERIES='eventstore_appends_total{aggregate_type="bench_stream",context="bench",outcome="ok"}'
HISTOGRAM='{aggregate_type="bench_stream",context="bench",outcome="ok"}'
first=""
for _ in $(seq 1 100); do
  scrape "$BENCH_PORT" 2>/dev/null && first=$(sample "$OK_SERIES") && [ -n "$first" ] && [ "$first" != 0 ] && break
  sleep 0.05
done
sleep 1
scrape "$BENCH_PORT" || fail "GET /metrics of bench failed"
second=$(sample "$OK_SERIES")
if [ -n "$first" ] && [ -n "$second" ] && python3 -c 'import sys; sys.exit(not 0 < float(sys.argv[1]) < float(sys.argv[2]))' \
  "$first" "$second"; then ok; else fail "bench's ok appends went from '$first' to '$second', want growth"; fi
# One histogram's count and its +Inf bucket are read under its lock: always equal.
expect_eq "$(sample "eventstore_append_seconds_count$HISTOGRAM")" \
  "$(sample "eventstore_append_seconds_bucket${HISTOGRAM%\}},le=\"+Inf\"}")" "append_seconds' count is its +Inf bucket"
in_flight=$(sample eventstore_appends_in_flight)
if [ -n "$in_flight" ] && python3 -c 'import sys; sys.exit(not 0 <= float(sys.argv[1]) <= 4)' "$in_flight"; then ok
else fail "eventstore_appends_in_flight is '$in_flight', want 0..4 (--concurrency 4)"; fi
wait "$BENCH"
expect_eq "$?" 0 "bench append --metrics-listen exit code"
expect_contains '"metrics":"served"' "$(cat "$TMP/bench.out")" "bench's JSON says the metrics were served"
expect_contains '"errors":{}' "$(cat "$TMP/bench.out")" "bench append with a served sink had no errors"

# ---- bench --metrics: a sink that aggregates, nothing served -----------------------------------
run --store "sqlite:$TMP/bench2.db" bench append --metrics --ops 50 --warmup-s 0 --concurrency 2 --json
expect_rc 0 "bench append --metrics"
expect_contains '"metrics":"aggregated"' "$OUT" "bench's JSON says the metrics were aggregated"
expect_contains '"ops":50,' "$OUT" "bench append --metrics made its operations"
expect_lacks "serving metrics" "$ERR" "bench --metrics serves nothing"
run --store "sqlite:$TMP/bench2.db" bench append --ops 50 --warmup-s 0 --concurrency 2 --json
expect_contains '"metrics":"none"' "$OUT" "bench's JSON says when there was no sink"

finish cli_metrics_listen_test

#!/usr/bin/env bash
# End-to-end checks of `eventstore bench` options: --server-pid (the CPU time of other processes
# over the measured window) and --shape (only with --raw on a cluster), with exit code 2 and one
# error line for bad input; `bench load`'s points, and on a cluster (SCYLLA_HOSTS) its raw paged read.
#   tests/cli/cli_bench_test.sh path/to/eventstore
set -u
# shellcheck source=tests/lib/cli_helpers.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/cli_helpers.sh"
EVENTSTORE=$(executable_path cli_bench_test "${1:?usage: cli_bench_test.sh path/to/eventstore}") || exit 1
enter_temp_dir
CLUSTER_ENV=()
for v in SCYLLA_HOSTS SCYLLA_USERNAME SCYLLA_PASSWORD SCYLLA_KEYSPACE SCYLLA_CA_FILE SCYLLA_HOSTSELECTIONPOLICY; do
  [ -n "${!v:-}" ] && CLUSTER_ENV+=("$v=${!v}")
done
clear_store_environment

# A busy process stands in for the server: its CPU time over the window is reported per append.
( while :; do :; done ) &
BUSY=$!
BACKGROUND+=("$BUSY")
run --store memory: bench append --concurrency 4 --duration-s 1 --warmup-s 0 --server-pid "$BUSY" --json
expect_rc 0 "bench append --server-pid"
server=$(printf '%s' "$OUT" | sed -n 's/.*"server_cpu_us_per_op":\([0-9.]*\).*/\1/p')
cores=$(printf '%s' "$OUT" | sed -n 's/.*"server_cores":\([0-9.]*\).*/\1/p')
if awk -v v="$server" 'BEGIN { exit !(v > 0) }'; then ok; else fail "server_cpu_us_per_op $server, want > 0"; fi
# The busy loop keeps at most one core busy (the tick count is coarse: 10 ms).
if awk -v v="$cores" 'BEGIN { exit !(v > 0.2 && v < 1.2) }'; then ok; else fail "server_cores $cores, want ~1"; fi

run --store memory: bench append --concurrency 4 --duration-s 1 --warmup-s 0 --json
expect_rc 0 "bench append without --server-pid"
expect_lacks "server_cpu" "$OUT" "no server figures without --server-pid"

kill "$BUSY" 2>/dev/null
wait "$BUSY" 2>/dev/null
run --store memory: bench append --duration-s 1 --server-pid "$BUSY"
expect_error 2 "--server-pid of a process that is gone"
expect_contains "no such process" "$ERR" "the error names the pid's problem"
run --store memory: bench append --duration-s 1 --server-pid 0
expect_error 2 "--server-pid 0"

run --store memory: bench append --duration-s 1 --shape seed
expect_error 2 "--shape without --raw"
expect_contains "--shape" "$ERR" "the error names --shape"
run --store "sqlite:$TMP/b.db" bench append --duration-s 1 --raw --shape seed
expect_error 2 "--shape on SQLite"
run --store memory: bench append --duration-s 1 --raw --shape nosuch
expect_error 2 "an unknown --shape"

# bench load: a full replay (page sizes A-B-B-A) and a snapshot load per length; the raw paged
# read only on a cluster.
run --store "sqlite:$TMP/load.db" bench load --lengths 10,30 --repeats 2 --snapshot-every 8 --page-size 7 \
  --compare-page-size 3 --json
expect_rc 0 "bench load on SQLite"
count() { printf '%s' "$OUT" | grep -o "$1" | wc -l | tr -d ' '; }
expect_eq "$(count '"snapshots":false,"replayed":[0-9]*,"page_size":7,"loads":2')" 2 "a full replay per length, page 7"
expect_eq "$(count '"snapshots":false,"replayed":[0-9]*,"page_size":3,"loads":2')" 2 "a full replay per length, page 3"
expect_eq "$(count '"snapshots":true,"replayed":[0-9]*,"page_size":7,"loads":2')" 2 "a snapshot load per length"
expect_eq "$(count '"raw":true')" 0 "no raw paged read on SQLite"
run --store memory: bench load --lengths 10 --raw
expect_error 2 "bench load --raw"

if [[ " ${CLUSTER_ENV[*]} " == *" SCYLLA_HOSTS="* ]]; then
  OUT=$(env "${CLUSTER_ENV[@]}" "$EVENTSTORE" bench load --lengths 25 --repeats 2 --page-size 10 --json 2>"$TMP/err")
  RC=$?
  ERR=$(cat "$TMP/err")
  expect_rc 0 "bench load on the cluster"
  expect_eq "$(count '"raw":true')" 1 "one raw paged read"
  expect_contains '"events":25,"snapshots":false,"replayed":25,"page_size":10,"raw":true,"loads":2' "$OUT" \
    "the raw paged read of the whole stream, at the load's page size"
else
  echo "cli_bench_test: SKIPPED the cluster's bench load (SCYLLA_HOSTS is not set)" >&2
fi

finish cli_bench_test

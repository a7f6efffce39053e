#!/usr/bin/env bash
# eventstore health (docs/cli.md, docs/observability.md "Health") on memory: and sqlite:: one JSON
# line and exit code 0 when healthy; exit code 1 and the reason for a missing file, a file that is
# not a store, a schema of another revision, an unreachable cluster; exit code 2 for bad usage;
# nothing created; no password printed.
#   tests/cli/cli_health_test.sh path/to/eventstore
set -u
# shellcheck source=tests/lib/cli_helpers.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/cli_helpers.sh"
EVENTSTORE=$(executable_path cli_health_test "${1:?usage: cli_health_test.sh path/to/eventstore}") || exit 1
enter_temp_dir
clear_store_environment

command -v python3 >/dev/null || { echo "FAIL: python3 is needed to read the JSON line" >&2; exit 1; }

# field EXPR: the Python expression EXPR on the JSON line of stdout (as `j`), printed as JSON.
field() { python3 -c 'import json, sys; j = json.loads(sys.argv[1]); print(json.dumps(eval(sys.argv[2])))' "$OUT" "$1"; }
expect_field() {  # expect_field EXPR JSON DESCRIPTION
  expect_eq "$(field "$1" 2>&1)" "$2" "$3 ($1)"
}
# expect_one_line DESCRIPTION: stdout is exactly one JSON object line.
expect_one_line() {
  if [ "$(printf '%s\n' "$OUT" | wc -l)" = 1 ] && [[ "$OUT" == "{"*"}" ]]; then ok
  else fail "$1: stdout is not one JSON line: '$OUT'"; fi
}
copy_store() {  # copy_store FROM TO: a SQLite file with its write-ahead log, if any
  cp "$1" "$2"
  if [ -e "$1-wal" ]; then cp "$1-wal" "$2-wal"; fi
}
KEYS='["healthy", "store", "backend", "answers", "round_trip_ms", "schema_current", "schema", "hosts", "relay_leases", "problems"]'

# ---- memory: ---------------------------------------------------------------------------------
run --store memory: health
expect_rc 0 "health on memory:"
expect_one_line "health on memory:"
expect_field 'list(j)' "$KEYS" "health's keys, in order"
expect_field 'j["healthy"], j["answers"], j["schema_current"]' '[true, true, true]' "memory: is healthy"
expect_field 'j["backend"], j["store"], j["hosts"], j["relay_leases"], j["problems"]' \
  '["memory", "memory:", [], [], []]' "memory: report"
expect_field 'isinstance(j["round_trip_ms"], (int, float)) and j["round_trip_ms"] >= 0' true "memory: round trip"
expect_eq "$ERR" "" "a healthy check prints nothing on stderr"

# ---- sqlite: ---------------------------------------------------------------------------------
run --store "sqlite:$TMP/missing.db" health
expect_rc 1 "health on a missing SQLite file"
expect_one_line "health on a missing SQLite file"
expect_field 'j["healthy"], j["answers"], j["round_trip_ms"], j["hosts"]' '[false, false, null, []]' "missing file"
expect_field 'any("no store file at" in p for p in j["problems"])' true "the missing file is the problem"
if [ ! -e "$TMP/missing.db" ]; then ok; else fail "health created the SQLite file"; fi

"$EVENTSTORE" --store "sqlite:$TMP/shop.db" append --context shop --type order \
  --id 0de30000-0000-8000-8000-0000000000b1 --expected-version no-stream --event OrderCreated >/dev/null ||
  fail "append to shop.db"
run --store "sqlite:$TMP/shop.db" health --timeout 2s
expect_rc 0 "health on a SQLite store"
expect_one_line "health on a SQLite store"
expect_field 'j["healthy"], j["answers"], j["schema_current"], j["backend"]' '[true, true, true, "sqlite"]' \
  "SQLite store report"
expect_field 'j["schema"]' '"user_version 3 (current 3)"' "the schema revision is the current one"
expect_field 'j["store"], j["hosts"], j["relay_leases"], j["problems"]' "[\"sqlite:$TMP/shop.db\", [], [], []]" \
  "SQLite store report"
expect_field 'j["round_trip_ms"] >= 0' true "SQLite round trip"
# The default store is sqlite:eventstore.db in the current directory.
copy_store "$TMP/shop.db" "$TMP/eventstore.db"
run health
expect_rc 0 "health on the default store"

printf 'not a database, just text\n%.0s' $(seq 1 200) >"$TMP/text.db"
run --store "sqlite:$TMP/text.db" health
expect_rc 1 "health on a text file"
expect_field 'j["healthy"], j["answers"]' '[false, false]' "a text file does not answer as a store"
expect_field 'len(j["problems"]) == 1 and "text.db" in j["problems"][0]' true "the problem names the file"

python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("CREATE TABLE t (x)"); c.commit()' \
  "$TMP/other.db"
run --store "sqlite:$TMP/other.db" health
expect_rc 1 "health on another application's SQLite file"
expect_field 'j["answers"], j["schema_current"]' '[true, false]' "another application's file answers, not as a store"
expect_field 'any("is not an eventstore file" in p for p in j["problems"])' true "another application's file"

copy_store "$TMP/shop.db" "$TMP/old.db"
python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("PRAGMA user_version = 1"); c.commit()' \
  "$TMP/old.db"
run --store "sqlite:$TMP/old.db" health
expect_rc 1 "health on a store of an older schema revision"
expect_field 'j["schema_current"], j["schema"]' '[false, "user_version 1 (current 3)"]' "an older revision"
expect_field 'any("revision 1" in p for p in j["problems"])' true "the problem names the revision"

# ---- bad usage: exit code 2, one error line, nothing created ----------------------------------
for timeout in 0 abc -1 5x 1.2.3 601 0ms .5; do
  run --store "sqlite:$TMP/never.db" health --timeout "$timeout"
  expect_error 2 "health --timeout '$timeout'"
done
run --store "bogus:x" health
expect_error 2 "health on an unknown scheme"
run --store "sqlite:$TMP/never.db" health extra
expect_error 2 "health with an extra argument"
if [ ! -e "$TMP/never.db" ]; then ok; else fail "a refused health check created the SQLite file"; fi
run health --help
expect_rc 0 "health --help"
expect_contains "liveness probe" "$OUT" "health --help says what it is for"
run --help
expect_contains "health" "$OUT" "eventstore --help lists health"

# ---- an unreachable cluster: exit code 1 within the timeout, the password never printed ---------
if [[ "${EVENTSTORE_TEST_BACKENDS:-}" == *scylla* ]]; then
  # Port 1 of the loopback: nothing listens there, the connection is refused at once.
  start=$(date +%s)
  run --store 'scylla://app:s3cr3t-pw@127.0.0.1:1/health_ks' health --timeout 1s
  elapsed=$(($(date +%s) - start))
  expect_rc 1 "health on an unreachable cluster"
  expect_one_line "health on an unreachable cluster"
  expect_field 'j["healthy"], j["answers"], j["backend"]' '[false, false, "scylla"]' "unreachable cluster"
  expect_field 'j["store"]' '"scylla://app:***@127.0.0.1:1/health_ks"' "the store is printed without its password"
  expect_field 'len(j["problems"]) >= 1' true "the unreachable cluster's problem"
  expect_lacks "s3cr3t" "$OUT$ERR" "the password is not printed"
  if [ "$elapsed" -le 20 ]; then ok; else fail "health --timeout 1s took ${elapsed}s on an unreachable cluster"; fi
  run --store 'scylla://127.0.0.1/ks?bogus=1' health
  expect_error 2 "health on a cluster URI with an unknown option"

  # A server that accepts connections and never answers: the check ends at its deadline, --timeout
  # (plus a quarter second), as unhealthy.
  SILENT_PORT_FILE=$TMP/silent.port
  python3 - "$SILENT_PORT_FILE" <<'EOF' &
import os, socket, sys, time
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen(64)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(server.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
server.settimeout(0.2)
held = []
end = time.time() + 30
while time.time() < end:
    try:
        held.append(server.accept()[0])
    except OSError:
        pass
EOF
  BACKGROUND+=("$!")
  for _ in $(seq 1 100); do [ -s "$SILENT_PORT_FILE" ] && break; sleep 0.05; done
  start=$(date +%s%N)
  run --store "scylla://127.0.0.1:$(cat "$SILENT_PORT_FILE")/health_ks" health --timeout 1s
  elapsed_ms=$((($(date +%s%N) - start) / 1000000))
  expect_rc 1 "health on a server that never answers"
  expect_one_line "health on a server that never answers"
  expect_field 'j["healthy"], j["answers"], j["backend"], j["problems"]' \
    '[false, false, "scylla", ["no answer within 1000 ms"]]' "a server that never answers"
  if [ "$elapsed_ms" -ge 1000 ] && [ "$elapsed_ms" -le 3000 ]; then ok
  else fail "health --timeout 1s on a server that never answers took $elapsed_ms ms, want 1000..3000"; fi
else
  echo "NOTE: this build has no scylla:// backend: the unreachable-cluster checks did NOT run" >&2
fi

finish cli_health_test

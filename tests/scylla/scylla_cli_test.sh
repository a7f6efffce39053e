#!/usr/bin/env bash
# The eventstore CLI against a CQL cluster, and compatibility with the seed's data model:
#   - schema apply --print (no connection): the exact CQL, runnable as it is by a CQL shell;
#   - schema apply on a new keyspace, twice (idempotent); the columns, types, key positions and
#     compaction in system_schema are the seed's, plus the static stream_version;
#   - a keyspace created with the seed's own DDL and rows written the seed's way (plain INSERTs,
#     no stream_version): schema apply adds the column, the rows load, an append adopts the
#     stream at the right expected version, and what we write reads back the seed's way;
#   - append / read / head / snapshot show / demo end to end.
#
#   tests/scylla/scylla_cli_test.sh path/to/eventstore path/to/repo
#
# Needs SCYLLA_HOSTS (exit 77 = skipped without it) and scripts/local-cassandra's CQL client,
# which talks to the local cluster (scripts/local-cassandra start). Uses its own keyspaces
# es_cli_*, es_seed_*, es_print_* and drops them at the end.
set -u
EVENTSTORE=${1:?usage: scylla_cli_test.sh path/to/eventstore path/to/repo}
ROOT=${2:?usage: scylla_cli_test.sh path/to/eventstore path/to/repo}
LC=$ROOT/scripts/local-cassandra

if [ -z "${SCYLLA_HOSTS:-}" ]; then
  echo "SKIPPED: SCYLLA_HOSTS is not set, so the CLI-on-a-cluster and seed compatibility tests did NOT run." >&2
  echo "         Start scripts/local-cassandra and eval \"\$(scripts/local-cassandra env)\"." >&2
  exit 77
fi
# shellcheck source=tests/lib/cli_helpers.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/cli_helpers.sh"
unset EVENTSTORE_STORE

make_temp_dir
hex() { od -An -N5 -tx1 /dev/urandom | tr -d ' \n'; }
KS=es_cli_$(hex)
KS_SEED=es_seed_$(hex)
KS_PRINT=es_print_$(hex)

cql() { "$LC" cql --timeout 60 "$@"; }
test_cleanup() {
  cql "DROP KEYSPACE IF EXISTS $KS; DROP KEYSPACE IF EXISTS $KS_SEED; DROP KEYSPACE IF EXISTS $KS_PRINT" >/dev/null 2>&1
}

# run [ARGS...]: the CLI on keyspace $KEYSPACE (default $KS); sets RC, OUT, ERR.
run() {
  SCYLLA_KEYSPACE=${KEYSPACE:-$KS} "$EVENTSTORE" "$@" </dev/null >"$TMP/out" 2>"$TMP/err"
  RC=$?
  OUT=$(cat "$TMP/out")
  ERR=$(cat "$TMP/err")
}
# rows CQL: the result rows of one SELECT (no header, no "(N rows)" line).
rows() { cql "$@" | sed '1d;/^([0-9]* rows)$/d'; }

# The CQL client must reach the cluster: without it nothing below can be checked.
if ! cql "SELECT release_version FROM system.local" >"$TMP/probe" 2>&1; then
  echo "FAIL: scripts/local-cassandra cql cannot reach the cluster (is it the local one?):" >&2
  cat "$TMP/probe" >&2
  exit 1
fi
hosts_count=$(($(tr -cd , <<<"$SCYLLA_HOSTS" | wc -c) + 1))
RF=$((hosts_count < 3 ? hosts_count : 3))
echo "cluster $SCYLLA_HOSTS ($(sed -n 2p "$TMP/probe")), keyspaces $KS $KS_SEED $KS_PRINT, RF $RF"

ID=0de30000-0000-8000-8000-0000000000c1
S=(--context shop --type order --id "$ID")

# ---- schema apply --print: no connection, the exact statements ------------------------------
EVENT_STORE_COLUMNS="bounded_context varchar, aggregate_id uuid, aggregate_type varchar, event_id uuid, event_type varchar, event_version int, event_data varchar, event_timestamp timestamp, event_metadata varchar"
SNAPSHOT_COLUMNS="bounded_context varchar, aggregate_id uuid, aggregate_type varchar, snapshot_data varchar, snapshot_version int, snapshot_timestamp timestamp, snapshot_metadata varchar"
run --store "scylla://127.0.0.1:1/$KS_PRINT" schema apply --replication-factor "$RF" --print
expect_rc 0 "schema apply --print needs no connection"
expect_contains "CREATE KEYSPACE IF NOT EXISTS $KS_PRINT WITH replication = {'class': 'NetworkTopologyStrategy', 'replication_factor': $RF};" "$OUT" "--print keyspace"
expect_contains "CREATE TABLE IF NOT EXISTS $KS_PRINT.event_store ($EVENT_STORE_COLUMNS, stream_version int static, truncated_before int static, hard_deleted boolean static, PRIMARY KEY ((bounded_context, aggregate_id, aggregate_type), event_version)) WITH compaction = {'class': 'SizeTieredCompactionStrategy'};" "$OUT" "--print event_store"
expect_contains "CREATE TABLE IF NOT EXISTS $KS_PRINT.aggregate_snapshot ($SNAPSHOT_COLUMNS, PRIMARY KEY ((bounded_context, aggregate_id, aggregate_type))) WITH compaction = {'class': 'LeveledCompactionStrategy'};" "$OUT" "--print aggregate_snapshot"
expect_contains "-- ALTER TABLE $KS_PRINT.event_store ADD stream_version int static" "$OUT" "--print names the adopt statement (as a comment)"
expect_contains "-- ALTER TABLE $KS_PRINT.event_store ADD truncated_before int static" "$OUT" "--print names the lifecycle's truncated_before (as a comment)"
expect_contains "-- ALTER TABLE $KS_PRINT.event_store ADD hard_deleted boolean static" "$OUT" "--print names the lifecycle's hard_deleted (as a comment)"
expect_contains "tablets = {'enabled': false}" "$OUT" "--print mentions tablets"
printf '%s\n' "$OUT" >"$TMP/printed.cql"
run --store "scylla://127.0.0.1:1/x" schema apply --datacenter dc1:3 --datacenter dc2:2 --print
expect_rc 0 "--print with data centres"
expect_contains "{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 2}" "$OUT" "--print data centres"
run --store "scylla://127.0.0.1:1/x" schema apply --replication-factor 0 --print
expect_rc 2 "--replication-factor 0"

# The printed CQL runs as it is.
if cql -f "$TMP/printed.cql" >"$TMP/cql.out" 2>&1; then ok; else fail "the --print output does not run in a CQL shell: $(cat "$TMP/cql.out")"; fi

# ---- schema apply on a new keyspace, twice ---------------------------------------------------
run schema apply --replication-factor "$RF"
expect_rc 0 "schema apply on a new keyspace"
expect_contains "schema ok: scylla://" "$OUT" "schema apply output"
run schema apply --replication-factor "$RF"
expect_rc 0 "schema apply again (idempotent)"
run schema apply --replication-factor 2
expect_rc 0 "schema apply with another replication factor keeps the keyspace"

# ---- system_schema: the seed's columns, types, key positions, compaction ---------------------
columns() {  # columns KEYSPACE TABLE: "name kind position type" lines, sorted
  rows "SELECT column_name, kind, position, type FROM system_schema.columns WHERE keyspace_name='$1' AND table_name='$2'" |
    sed 's/ | /,/g' | sort
}
EXPECTED_EVENT_STORE="aggregate_id,partition_key,1,uuid
aggregate_type,partition_key,2,text
bounded_context,partition_key,0,text
event_data,regular,-1,text
event_id,regular,-1,uuid
event_metadata,regular,-1,text
event_timestamp,regular,-1,timestamp
event_type,regular,-1,text
event_version,clustering,0,int
hard_deleted,static,-1,boolean
stream_version,static,-1,int
truncated_before,static,-1,int"
EXPECTED_SNAPSHOT="aggregate_id,partition_key,1,uuid
aggregate_type,partition_key,2,text
bounded_context,partition_key,0,text
snapshot_data,regular,-1,text
snapshot_metadata,regular,-1,text
snapshot_timestamp,regular,-1,timestamp
snapshot_version,regular,-1,int"
expect_eq "$(columns "$KS" event_store)" "$EXPECTED_EVENT_STORE" "event_store columns"
expect_eq "$(columns "$KS" aggregate_snapshot)" "$EXPECTED_SNAPSHOT" "aggregate_snapshot columns"
expect_eq "$(columns "$KS_PRINT" event_store)" "$EXPECTED_EVENT_STORE" "event_store columns from the printed CQL"
expect_eq "$(columns "$KS_PRINT" aggregate_snapshot)" "$EXPECTED_SNAPSHOT" "aggregate_snapshot columns from the printed CQL"
compaction() { rows "SELECT compaction FROM system_schema.tables WHERE keyspace_name='$1' AND table_name='$2'"; }
expect_contains "SizeTieredCompactionStrategy" "$(compaction "$KS" event_store)" "event_store compaction"
expect_contains "LeveledCompactionStrategy" "$(compaction "$KS" aggregate_snapshot)" "aggregate_snapshot compaction"
clustering=$(rows "SELECT clustering_order FROM system_schema.columns WHERE keyspace_name='$KS' AND table_name='event_store' AND column_name='event_version'")
expect_eq "$clustering" "asc" "event_version clustering order"
replication=$(rows "SELECT replication FROM system_schema.keyspaces WHERE keyspace_name='$KS'")
expect_contains "NetworkTopologyStrategy" "$replication" "keyspace strategy"
expect_contains "'datacenter1': '$RF'" "$replication" "replication factor of the first apply kept"

# ---- the CLI end to end ----------------------------------------------------------------------
run head "${S[@]}"
expect_rc 0 "head of a missing stream"; expect_eq "$OUT" "0" "head of a missing stream"
# shellcheck disable=SC2162  # `read` is the eventstore command run by run(), not the builtin
run read "${S[@]}"
expect_rc 0 "read of a missing stream"; expect_eq "$OUT" "" "read of a missing stream"
run append "${S[@]}" --expected-version no-stream \
  --event OrderCreated --data '{"customer":"ada@example.com"}' --metadata '{"user":"ada"}' \
  --event-id 11111111-1111-4111-8111-111111111111 \
  --event ItemAdded --data '{"sku":"book-dune","quantity":2}' --event-id 22222222-2222-4222-8222-222222222222
expect_rc 0 "append two events"
FIRST='{"next_expected_version":2,"events":[{"event_id":"11111111-1111-4111-8111-111111111111","event_version":1},{"event_id":"22222222-2222-4222-8222-222222222222","event_version":2}]}'
expect_eq "$OUT" "$FIRST" "append output"
run append "${S[@]}" --expected-version no-stream \
  --event OrderCreated --data '{"customer":"ada@example.com"}' --metadata '{"user":"ada"}' \
  --event-id 11111111-1111-4111-8111-111111111111 \
  --event ItemAdded --data '{"sku":"book-dune","quantity":2}' --event-id 22222222-2222-4222-8222-222222222222
expect_rc 0 "idempotent retry"; expect_eq "$OUT" "$FIRST" "idempotent retry prints the original result"
run append "${S[@]}" --expected-version 1 --event OrderPaid
expect_rc 3 "conflict"; expect_contains "2" "$ERR" "conflict names the current version"
run append "${S[@]}" --expected-version any --event OrderPaid --data '{"amount_cents":3798}'
expect_rc 0 "append any"; expect_contains '"next_expected_version":3' "$OUT" "append any output"
run head "${S[@]}"
expect_eq "$OUT" "3" "head after appends"
# shellcheck disable=SC2162  # `read` is the eventstore command run by run(), not the builtin
run read "${S[@]}"
expect_eq "$(printf '%s\n' "$OUT" | wc -l | tr -d ' ')" "3" "read prints 3 events"
expect_contains '"event_version":1,"event_id":"11111111-1111-4111-8111-111111111111","event_type":"OrderCreated"' "$OUT" "read event 1"
expect_contains '"event_data":{"customer":"ada@example.com"},"event_metadata":{"user":"ada"}' "$OUT" "read event 1 data and metadata"
# shellcheck disable=SC2162  # `read` is the eventstore command run by run(), not the builtin
run read "${S[@]}" --backward --limit 1 --page-size 1
expect_contains '"event_version":3' "$OUT" "read backward"
expect_eq "$(printf '%s\n' "$OUT" | wc -l | tr -d ' ')" "1" "read backward limit 1"
run snapshot show "${S[@]}"
expect_rc 0 "snapshot show"; expect_eq "$OUT" "null" "no snapshot yet"
run append "${S[@]}" --expected-version 3 --event Bad --data '{not json'
expect_rc 2 "bad JSON is invalid"

# What we wrote reads back the seed's way: plain columns, JSON text.
row=$(rows "SELECT event_version, event_type, event_data, event_metadata FROM $KS.event_store WHERE bounded_context='shop' AND aggregate_id=$ID AND aggregate_type='order' AND event_version=1")
expect_eq "$row" '1 | OrderCreated | {"customer":"ada@example.com"} | {"user":"ada"}' "our event read with the seed's columns"
sv=$(rows "SELECT stream_version FROM $KS.event_store WHERE bounded_context='shop' AND aggregate_id=$ID AND aggregate_type='order' LIMIT 1")
expect_eq "$sv" "3" "static stream_version"

# demo, twice (the second run resumes), then a snapshot through the CLI and the seed's columns.
run demo --orders 20 --quiet
expect_rc 0 "demo --orders 20"
expect_contains "orders:             #1..#20 in this run" "$OUT" "demo summary"
# The feed's read model (in memory on a cluster) holds every order once the demo ends.
expect_contains "read model:         20 orders by 20 customers" "$OUT" "demo's read model"
run demo --orders 5 --quiet
expect_rc 0 "demo again"
expect_contains "#21..#25 in this run" "$OUT" "demo resumes"
expect_contains "read model:         25 orders by 25 customers" "$OUT" "demo's read model, rebuilt from the feed"
snap_found=""
for n in $(seq 1 25); do
  oid=$(printf '0de30000-0000-8000-8000-%012x' "$n")
  run snapshot show --context demo --type order --id "$oid"
  if [ "$RC" = 0 ] && [ "$OUT" != "null" ]; then snap_found=$oid; break; fi
done
if [ -n "$snap_found" ]; then
  ok
  expect_contains '"snapshot_version":' "$OUT" "snapshot show output"
  # shellcheck disable=SC2001  # a capture group: no parameter expansion does that
  version=$(sed 's/.*"snapshot_version":\([0-9]*\).*/\1/' <<<"$OUT")
  seed_snap=$(rows "SELECT snapshot_version, snapshot_data FROM $KS.aggregate_snapshot WHERE bounded_context='demo' AND aggregate_id=$snap_found AND aggregate_type='order'")
  expect_contains "$version | {" "$seed_snap" "our snapshot read with the seed's columns is JSON text"
  if python3 -c 'import json,sys; json.loads(sys.argv[1].split(" | ",1)[1])' "$seed_snap" 2>/dev/null; then ok; else fail "snapshot_data is not JSON: $seed_snap"; fi
else
  fail "no demo order has a snapshot"
fi

# ---- seed compatibility: the seed's own DDL and rows written the seed's way ------------------
SEED_ID=0de30000-0000-8000-8000-0000000000d1
SEED_ID2=0de30000-0000-8000-8000-0000000000d2
E1=a0000000-0000-4000-8000-000000000001
E2=a0000000-0000-4000-8000-000000000002
E3=a0000000-0000-4000-8000-000000000003
# Rows exactly as the seed's Go library writes them (eh-scylla event_store.go and
# aggregate_snapshot.go): each Save is one logged batch of its INSERT ... IF NOT EXISTS, with
# event_metadata the JSON of the event's metadata map ('null' when it has none); a snapshot is a
# plain INSERT in a logged batch with '' as metadata and gocql's client-side write timestamp.
seed_insert() {  # seed_insert AGGREGATE_ID VERSION EVENT_ID TYPE DATA METADATA_JSON TIMESTAMP_MS
  printf "INSERT INTO event_store (bounded_context, aggregate_id, aggregate_type, event_id, event_type, event_version, event_data, event_timestamp, event_metadata) VALUES ('order', %s, 'Order', %s, '%s', %s, '%s', %s, '%s') IF NOT EXISTS;\n" \
    "$1" "$3" "$4" "$2" "$5" "$7" "$6"
}
seed_save() {  # seed_save: one Save call of the seed, its INSERT lines on stdin
  echo "BEGIN BATCH"; cat; echo "APPLY BATCH;"
}
seed_snapshot() {  # seed_snapshot AGGREGATE_ID VERSION DATA TIMESTAMP_MS
  printf "BEGIN BATCH USING TIMESTAMP %s INSERT INTO aggregate_snapshot (bounded_context, aggregate_id, aggregate_type, snapshot_data, snapshot_version, snapshot_timestamp, snapshot_metadata) VALUES ('order', %s, 'Order', '%s', %s, %s, ''); APPLY BATCH;\n" \
    "$(date +%s%6N)" "$1" "$3" "$2" "$4"
}
{
  # The seed's DDL verbatim, except a replication factor the test cluster can serve.
  echo "CREATE KEYSPACE $KS_SEED WITH replication = {'class': 'NetworkTopologyStrategy', 'replication_factor' : $RF};"
  echo "USE $KS_SEED;"
  echo "CREATE TABLE event_store (bounded_context varchar, aggregate_id uuid, aggregate_type varchar, event_id uuid, event_type varchar, event_version int, event_data varchar, event_timestamp timestamp, event_metadata varchar, PRIMARY KEY ((bounded_context, aggregate_id, aggregate_type), event_version));"
  echo "CREATE TABLE aggregate_snapshot (bounded_context varchar, aggregate_id uuid, aggregate_type varchar, snapshot_data varchar, snapshot_version int, snapshot_timestamp timestamp, snapshot_metadata varchar, PRIMARY KEY ((bounded_context, aggregate_id, aggregate_type))) WITH compaction = { 'class' : 'LeveledCompactionStrategy' };"
  {
    seed_insert "$SEED_ID" 1 "$E1" OrderCreated '{"customer":"seed@example.com"}' '{"user":"go"}' 1700000000123
    seed_insert "$SEED_ID" 2 "$E2" ItemAdded '{"sku":"x","quantity":1}' null 1700000000456
  } | seed_save
  seed_insert "$SEED_ID" 3 "$E3" ItemAdded '{"sku":"y","quantity":2}' null 1700000000789 | seed_save
  seed_snapshot "$SEED_ID" 2 '{"status":"open"}' 1700000000500
} >"$TMP/seed.cql"
if cql -f "$TMP/seed.cql" >"$TMP/cql.out" 2>&1; then ok; else fail "seed DDL and rows: $(cat "$TMP/cql.out")"; fi

KEYSPACE=$KS_SEED
SEED=(--context order --type Order --id "$SEED_ID")
run schema apply
expect_rc 0 "schema apply on the seed's keyspace adds stream_version"
run schema apply
expect_rc 0 "schema apply on the seed's keyspace, again"
expect_eq "$(columns "$KS_SEED" event_store)" "$EXPECTED_EVENT_STORE" "seed event_store after schema apply: seed columns + stream_version, truncated_before, hard_deleted"
expect_eq "$(columns "$KS_SEED" aggregate_snapshot)" "$EXPECTED_SNAPSHOT" "seed aggregate_snapshot unchanged"
# The Go library keeps writing after our schema apply: another stream, the seed's way.
{
  echo "USE $KS_SEED;"
  {
    seed_insert "$SEED_ID2" 1 a0000000-0000-4000-8000-000000000011 OrderCreated '{"customer":"two"}' null 1700000001000
    seed_insert "$SEED_ID2" 2 a0000000-0000-4000-8000-000000000012 ItemAdded '{"sku":"z","quantity":3}' null 1700000001001
  } | seed_save
} >"$TMP/seed2.cql"
if cql -f "$TMP/seed2.cql" >"$TMP/cql.out" 2>&1; then ok; else fail "seed rows after apply: $(cat "$TMP/cql.out")"; fi

# shellcheck disable=SC2162  # `read` is the eventstore command run by run(), not the builtin
run read "${SEED[@]}"
expect_rc 0 "read of a seed stream"
expect_eq "$(printf '%s\n' "$OUT" | head -1)" '{"bounded_context":"order","aggregate_type":"Order","aggregate_id":"'$SEED_ID'","event_version":1,"event_id":"'$E1'","event_type":"OrderCreated","event_timestamp":"2023-11-14T22:13:20.123Z","event_data":{"customer":"seed@example.com"},"event_metadata":{"user":"go"}}' "seed event 1 as we read it"
expect_eq "$(printf '%s\n' "$OUT" | wc -l | tr -d ' ')" "3" "seed stream has 3 events"
run head "${SEED[@]}"
expect_eq "$OUT" "3" "head of a seed stream (no stream_version) is its last event version"
run snapshot show "${SEED[@]}"
expect_eq "$OUT" '{"snapshot_version":2,"snapshot_timestamp":"2023-11-14T22:13:20.500Z","snapshot_data":{"status":"open"},"snapshot_metadata":null}' "seed snapshot as we read it"
run append "${SEED[@]}" --expected-version 2 --event ItemRemoved
expect_rc 3 "stale expected version on a seed stream"; expect_contains "3" "$ERR" "conflict names the seed stream's version"
run append "${SEED[@]}" --expected-version no-stream --event OrderCreated
expect_rc 3 "no-stream on a seed stream"
run append "${SEED[@]}" --expected-version 4 --event ItemRemoved
expect_rc 3 "expected version ahead of a seed stream"
ADOPT=(--event OrderPaid --data '{"amount_cents":100}' --metadata '{"user":"cpp"}' --event-id b0000000-0000-4000-8000-000000000004)
run append "${SEED[@]}" --expected-version 3 "${ADOPT[@]}"
expect_rc 0 "append adopts a seed stream at its version"
ADOPTED='{"next_expected_version":4,"events":[{"event_id":"b0000000-0000-4000-8000-000000000004","event_version":4}]}'
expect_eq "$OUT" "$ADOPTED" "adopting append output"
run append "${SEED[@]}" --expected-version 3 "${ADOPT[@]}"
expect_rc 0 "retry of the adopting append"; expect_eq "$OUT" "$ADOPTED" "retry of the adopting append is idempotent"
sv=$(rows "SELECT stream_version FROM $KS_SEED.event_store WHERE bounded_context='order' AND aggregate_id=$SEED_ID AND aggregate_type='Order' LIMIT 1")
expect_eq "$sv" "4" "the adopted stream has stream_version"
run append "${SEED[@]}" --expected-version 4 --event OrderShipped
expect_rc 0 "append after adoption"
# The seed's library appends once more (version 6, stream_version stays 5): we adopt it again.
{ echo "USE $KS_SEED;"; seed_insert "$SEED_ID" 6 a0000000-0000-4000-8000-000000000006 OrderNoted '{"by":"go"}' null 1700000002000 | seed_save; } >"$TMP/seed3.cql"
if cql -f "$TMP/seed3.cql" >"$TMP/cql.out" 2>&1; then ok; else fail "seed row after adoption: $(cat "$TMP/cql.out")"; fi
run head "${SEED[@]}"
expect_eq "$OUT" "6" "head counts the seed's later event"
run append "${SEED[@]}" --expected-version 5 --event Late
expect_rc 3 "expected version behind the seed's later event"; expect_contains "6" "$ERR" "conflict names version 6"
run append "${SEED[@]}" --expected-version 6 --event AfterSeed
expect_rc 0 "append after the seed's later event re-adopts the stream"; expect_contains '"event_version":7' "$OUT" "re-adopting append at 7"
sv=$(rows "SELECT stream_version FROM $KS_SEED.event_store WHERE bounded_context='order' AND aggregate_id=$SEED_ID AND aggregate_type='Order' LIMIT 1")
expect_eq "$sv" "7" "stream_version after re-adoption"
run append --context order --type Order --id "$SEED_ID2" --expected-version any --event ItemAdded
expect_rc 0 "append any to a seed stream"; expect_contains '"event_version":3' "$OUT" "append any goes after the seed's events"
# Ours, read the seed's way (the columns its Go library selects).
seed_rows=$(rows "SELECT event_version, event_id, event_type, event_data, event_metadata FROM $KS_SEED.event_store WHERE bounded_context='order' AND aggregate_id=$SEED_ID AND aggregate_type='Order' ORDER BY event_version ASC")
expect_eq "$(printf '%s\n' "$seed_rows" | sed -n 4p)" '4 | b0000000-0000-4000-8000-000000000004 | OrderPaid | {"amount_cents":100} | {"user":"cpp"}' "our appended event, read the seed's way"
expect_eq "$(printf '%s\n' "$seed_rows" | wc -l | tr -d ' ')" "7" "seed stream has 7 events"
ts=$(rows "SELECT event_timestamp FROM $KS_SEED.event_store WHERE bounded_context='order' AND aggregate_id=$SEED_ID AND aggregate_type='Order' AND event_version=4")
expect_contains "$(date -u +%Y-)" "$ts" "our event_timestamp is a CQL timestamp of now"
unset KEYSPACE

finish scylla_cli_test

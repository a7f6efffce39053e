#!/usr/bin/env bash
# eventstore health on a cluster (docs/observability.md, "Health"):
#   - a keyspace without the schema: the cluster answers, its hosts are connected, exit code 1 and
#     the missing tables named;
#   - after schema apply: exit code 0, every host of SCYLLA_HOSTS connected with its data centre;
#   - a relay running (with --metrics-listen, scraped when the build serves metrics): its lease is
#     live, with its owner and epoch; after it stops, the lease is no longer live;
#   - the password of the environment is never printed.
#
#   tests/scylla/scylla_health_test.sh path/to/eventstore path/to/repo
#
# Needs SCYLLA_HOSTS (exit 77 = skipped without it). Uses its own keyspace es_health_* and drops
# it at the end (with scripts/local-cassandra's CQL client).
set -u
EVENTSTORE=${1:?usage: scylla_health_test.sh path/to/eventstore path/to/repo}
ROOT=${2:?usage: scylla_health_test.sh path/to/eventstore path/to/repo}
LC=$ROOT/scripts/local-cassandra

if [ -z "${SCYLLA_HOSTS:-}" ]; then
  echo "SKIPPED: SCYLLA_HOSTS is not set, so 'eventstore health' on a cluster was NOT tested." >&2
  echo "         Start scripts/local-cassandra and eval \"\$(scripts/local-cassandra env)\"." >&2
  exit 77
fi
# shellcheck source=tests/lib/cli_helpers.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/cli_helpers.sh"
unset EVENTSTORE_STORE
command -v python3 >/dev/null || { echo "FAIL: python3 is needed to read the JSON line" >&2; exit 1; }

make_temp_dir
KS=es_health_$(od -An -N5 -tx1 /dev/urandom | tr -d ' \n')
export SCYLLA_KEYSPACE=$KS
test_cleanup() { "$LC" cql --timeout 60 "DROP KEYSPACE IF EXISTS $KS" >/dev/null 2>&1; }
hosts_count=$(($(tr -cd , <<<"$SCYLLA_HOSTS" | wc -c) + 1))
RF=${EVENTSTORE_TEST_REPLICATION_FACTOR:-$((hosts_count < 3 ? hosts_count : 3))}

field() { python3 -c 'import json, sys; j = json.loads(sys.argv[1]); print(json.dumps(eval(sys.argv[2])))' "$OUT" "$1"; }
expect_field() {  # expect_field EXPR JSON DESCRIPTION
  expect_eq "$(field "$1" 2>&1)" "$2" "$3 ($1)"
}
expect_no_password() {  # expect_no_password DESCRIPTION
  if [ -z "${SCYLLA_PASSWORD:-}" ]; then return; fi
  expect_lacks "$SCYLLA_PASSWORD" "$OUT$ERR" "$1: the password is not printed"
}
# The hosts of SCYLLA_HOSTS without their ports, as a Python list.
SEEDS=$(python3 -c 'import json, sys; print(json.dumps([h.strip().rsplit(":", 1)[0] if h.count(":") == 1 else h.strip() for h in sys.argv[1].split(",")]))' "$SCYLLA_HOSTS")

# ---- no schema yet: the cluster answers, the store is not healthy -------------------------------
run health --timeout 10s
expect_rc 1 "health on a keyspace without the schema"
expect_field 'j["answers"], j["schema_current"], j["backend"]' '[true, false, "scylla"]' "no schema"
expect_field 'any("lacks" in p and "schema apply" in p for p in j["problems"])' true "the problem says what to run"
expect_field 'any(h["connected"] for h in j["hosts"])' true "a host is connected even without the schema"
expect_no_password "health without the schema"
echo "without the schema: $OUT"

# ---- after schema apply: healthy, every seed host connected ---------------------------------------
"$EVENTSTORE" schema apply --replication-factor "$RF" >/dev/null || fail "schema apply on $KS"
run health --timeout 10s
expect_rc 0 "health after schema apply"
expect_field 'j["healthy"], j["answers"], j["schema_current"], j["problems"]' '[true, true, true, []]' "healthy"
expect_field 'j["round_trip_ms"] > 0' true "the round trip took some time"
expect_field "sorted(set(h['address'].rsplit(':', 1)[0] for h in j['hosts'] if h['connected']) & set($SEEDS)) == sorted(set($SEEDS))" \
  true "every host of SCYLLA_HOSTS ($SCYLLA_HOSTS) is connected"
expect_field 'all(h["datacenter"] != "" and h["enabled"] for h in j["hosts"])' true "the hosts' data centres are known"
expect_field 'j["relay_leases"]' '[]' "no relay ran yet"
expect_contains "event_store with stream_version" "$(field 'j["schema"]')" "the schema line says what was checked"
expect_no_password "health after schema apply"
echo "healthy: $OUT"

# ---- a relay's lease ---------------------------------------------------------------------------------
metrics=()
if "$EVENTSTORE" relay --help | grep -q -- --metrics-listen && "$EVENTSTORE" --store memory: demo --quiet --orders 1 \
  --metrics-listen 127.0.0.1:0 >/dev/null 2>&1; then
  metrics=(--metrics-listen 127.0.0.1:0)
fi
"$EVENTSTORE" relay --context health_shop --lease-ms 6000 "${metrics[@]}" >"$TMP/relay.out" 2>"$TMP/relay.err" &
RELAY=$!
BACKGROUND+=("$RELAY")
for _ in $(seq 1 300); do
  grep -q '"holds_lease":true' "$TMP/relay.out" && break
  sleep 0.1
done
if grep -q '"holds_lease":true' "$TMP/relay.out"; then ok; else fail "the relay did not take the lease: $(cat "$TMP/relay.out" "$TMP/relay.err")"; fi
run health --timeout 10s
expect_rc 0 "health with a relay running"
expect_field '[(l["context"], l["live"], l["epoch"] >= 1, l["owner"] != "", 0 < l["expires_in_ms"] <= 6000) for l in j["relay_leases"]]' \
  '[["health_shop", true, true, true, true]]' "the relay's lease is live"
if [ ${#metrics[@]} -gt 0 ]; then
  port=$(sed -n 's|^eventstore: info: serving metrics at http://127.0.0.1:\([0-9]*\)/metrics$|\1|p' "$TMP/relay.err")
  if [ -n "$port" ] && python3 -c 'import sys, urllib.request; urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read()' "$port"; then ok
  else fail "relay --metrics-listen: /metrics does not answer (port '$port')"; fi
else
  echo "NOTE: this build serves no metrics: relay --metrics-listen was NOT scraped" >&2
fi
kill -INT "$RELAY"
wait "$RELAY"
expect_eq "$?" 0 "the relay stops on SIGINT"
run health --timeout 10s
expect_rc 0 "health after the relay stopped (a lease is reported, not judged)"
expect_field '[(l["context"], l["live"]) for l in j["relay_leases"]]' '[["health_shop", false]]' "the lease was given up"
expect_no_password "health with a lease"

finish scylla_health_test

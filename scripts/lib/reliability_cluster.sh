# shellcheck shell=bash
# The cluster steps of scripts/reliability (cluster, cluster-feed), sourced by it: they use its settings (OUT,
# BUILD_DIR, HC, KEYSPACE, CLUSTER_SECONDS, RELAY_LEASE_MS, LIFECYCLE_RATE) and helpers (note, record, fail, run_hc, hc_figures,
# need_binaries). The cluster a step starts is stopped at exit (stop_cluster); anyone else's is left alone.
# --- the cluster ---------------------------------------------------------------------------
LC=scripts/local-cassandra
started_cluster=0
stop_cluster() { ((started_cluster)) && { note "stopping the cluster this script started"; "$LC" stop >/dev/null 2>&1 || true; }; }

cluster_uri() { # [hosts] [query]
  echo "scylla://${1:-127.0.0.1,127.0.0.2,127.0.0.3}/$KEYSPACE${2:+?$2}"
}

# has_scylla STEP: whether the build has the scylla:// backend; records "SKIP STEP: ..." when not.
has_scylla() {
  has_backend "$BUILD_DIR/bin/eventstore" scylla && return 0
  record "SKIP $1: $BUILD_DIR was built without the scylla:// backend (EVENTSTORE_WITH_SCYLLA=OFF)"
  return 1
}

# start_local_cluster STEP: three local nodes (stopped at exit), SCYLLA_HOSTS and the schema at RF 3.
start_local_cluster() {
  note "starting a three-node cluster (scripts/local-cassandra start --nodes 3)"
  if ! timeout 900 "$LC" start --nodes 3 >"$OUT/cluster-start.log" 2>&1; then
    fail "$1: scripts/local-cassandra start --nodes 3 failed -- see $OUT/cluster-start.log"; "$LC" stop >/dev/null 2>&1
    return 1
  fi
  started_cluster=1
  trap stop_cluster EXIT
  export SCYLLA_HOSTS=127.0.0.1,127.0.0.2,127.0.0.3 SCYLLA_KEYSPACE=$KEYSPACE
  timeout 300 "$BUILD_DIR/bin/eventstore" schema apply --replication-factor 3 >"$OUT/schema.log" 2>&1 ||
    { fail "$1: schema apply --replication-factor 3 -- see $OUT/schema.log"; return 1; }
}

# An external cluster (SCYLLA_HOSTS): no fault injection, a plain concurrent history against it.
cluster_external() {
  local hosts=${SCYLLA_HOSTS// /}
  SCYLLA_KEYSPACE=$KEYSPACE "$BUILD_DIR/bin/eventstore" schema apply --replication-factor "${RELIABILITY_RF:-3}" \
    >"$OUT/schema.log" 2>&1 || { fail "schema apply on $hosts -- see $OUT/schema.log"; return; }
  run_hc cluster-external --store "$(cluster_uri "$hosts")" --processes 2 --threads 4 --duration-s "$HISTORY_SECONDS" \
    --retry-unknown --min-acked 100
  record "NOTE cluster: SCYLLA_HOSTS is set: no node faults injected (they need scripts/local-cassandra)"
}

# pause_and_resume N LOG: node N paused (SIGSTOP) for 8 s, resumed, and 5 s to settle; fails when the pause did.
pause_and_resume() {
  local paused=1
  "$LC" pause "$1" >>"$2" 2>&1 && paused=0
  sleep 8
  "$LC" resume "$1" >>"$2" 2>&1
  sleep 5
  return $paused
}

# 1. Faults, one node at a time, while writers run: kill -9 + restart, pause + resume.
# The runs of this step run no relay, so they read no feed (--feed-readers 0): the feed under node
# and relay faults is the cluster-feed step's.
cluster_node_faults() {
  local kills=0 pauses=0 one_down_ok=0 one_down_runs=0
  note "fault run: ${CLUSTER_SECONDS}s of writers while nodes are killed, restarted, paused, resumed"
  timeout --kill-after=30 $((CLUSTER_SECONDS + 900)) "$HC" --json --store "$(cluster_uri "" timeout_ms=2000)" \
    --processes 2 --threads 4 --streams 6 --duration-s "$CLUSTER_SECONDS" --retry-unknown --final-read-retry-s 300 \
    --feed-readers 0 --lifecycle-rate "$LIFECYCLE_RATE" >"$OUT/cluster-faults.json" 2>"$OUT/cluster-faults.log" &
  local hc_pid=$! end=$((SECONDS + CLUSTER_SECONDS - 20)) n=1
  while ((SECONDS < end)) && kill -0 "$hc_pid" 2>/dev/null; do
    "$LC" kill "$n" >>"$OUT/cluster-faults.log" 2>&1 && kills=$((kills + 1))
    sleep 5
    # With one node down, appends keep succeeding (RF 3, QUORUM).
    one_down_runs=$((one_down_runs + 1))
    if timeout 300 "$HC" --json --store "$(cluster_uri "" timeout_ms=5000)" --threads 2 --streams 2 --duration-s 5 \
         --retry-unknown --min-acked 5 --feed-readers 0 --lifecycle-rate "$LIFECYCLE_RATE" >"$OUT/cluster-one-down-$one_down_runs.json" 2>&1; then
      one_down_ok=$((one_down_ok + 1))
    else
      fail "cluster: with node $n down: $(hc_figures "$OUT/cluster-one-down-$one_down_runs.json")"
    fi
    timeout 600 "$LC" restart "$n" >>"$OUT/cluster-faults.log" 2>&1 || fail "cluster: restart of node $n failed"
    ((SECONDS < end)) || break
    pause_and_resume "$n" "$OUT/cluster-faults.log" && pauses=$((pauses + 1))
    n=$((n % 3 + 1))
  done
  wait "$hc_pid"; local rc=$?
  if ((rc == 0)); then record "PASS cluster faults ($kills kills+restarts, $pauses pauses, one-node-down runs $one_down_ok/$one_down_runs): $(hc_figures "$OUT/cluster-faults.json")"
  else fail "cluster faults (exit $rc; $kills kills, $pauses pauses): $(hc_figures "$OUT/cluster-faults.json") -- see $OUT/cluster-faults.json"; fi
}

# 2. Two nodes down: every append must fail as unavailable; nothing acknowledged is lost.
cluster_two_down() {
  note "two nodes down"
  "$LC" kill 1 >>"$OUT/cluster-two-down.log" 2>&1; "$LC" kill 2 >>"$OUT/cluster-two-down.log" 2>&1
  sleep 15  # let node 3 mark them down
  timeout --kill-after=30 900 "$HC" --json --store "$(cluster_uri 127.0.0.3 timeout_ms=2000)" --threads 2 --streams 2 \
    --duration-s 15 --expect-unavailable --final-read-retry-s 600 --feed-readers 0 --lifecycle-rate "$LIFECYCLE_RATE" \
    >"$OUT/cluster-two-down.json" 2>>"$OUT/cluster-two-down.log" &
  local hc_pid=$!
  sleep 20
  timeout 600 "$LC" restart 1 >>"$OUT/cluster-two-down.log" 2>&1
  timeout 600 "$LC" restart 2 >>"$OUT/cluster-two-down.log" 2>&1
  wait "$hc_pid"; local rc=$?
  if ((rc == 0)); then record "PASS cluster two nodes down (all appends unavailable): $(hc_figures "$OUT/cluster-two-down.json")"
  else fail "cluster two nodes down (exit $rc): $(hc_figures "$OUT/cluster-two-down.json") -- see $OUT/cluster-two-down.json"; fi
}

# cluster_unknown_outcomes NAME THREADS STREAMS WHAT: a very short timeout and a paused coordinator for 10 s
# while THREADS writers append to STREAMS streams, retrying unknown outcomes with the same ids.
cluster_unknown_outcomes() {
  local name=$1 threads=$2 streams=$3 what=$4
  timeout --kill-after=30 900 "$HC" --json --store "$(cluster_uri "" "timeout_ms=${RELIABILITY_SHORT_TIMEOUT_MS:-15}")" \
    --threads "$threads" --streams "$streams" --duration-s 40 --retry-unknown --final-read-retry-s 300 \
    --feed-readers 0 --lifecycle-rate "$LIFECYCLE_RATE" >"$OUT/$name.json" 2>"$OUT/$name.log" &
  local hc_pid=$!
  sleep 10; "$LC" pause 1 >>"$OUT/$name.log" 2>&1; sleep 10
  "$LC" resume 1 >>"$OUT/$name.log" 2>&1
  wait "$hc_pid"; local rc=$?
  if ((rc == 0)); then record "PASS $what: $(hc_figures "$OUT/$name.json")"
  else fail "$what (exit $rc): $(hc_figures "$OUT/$name.json") -- see $OUT/$name.json"; fi
}

step_cluster() {
  need_binaries history-check eventstore || return
  has_scylla cluster || return
  if [[ -n ${SCYLLA_HOSTS:-} ]]; then cluster_external; return; fi
  if "$LC" status >"$OUT/cluster-status.log" 2>&1; then
    record "SKIP cluster faults: a local cluster started by someone else is running ($(head -1 "$OUT/cluster-status.log")); it is left alone"
    return
  fi
  start_local_cluster cluster || return
  cluster_node_faults
  cluster_two_down
  # 3. Unknown outcomes: a very short timeout and a paused node; retried with the same ids.
  note "unknown outcomes: timeout_ms=${RELIABILITY_SHORT_TIMEOUT_MS:-15} and a paused coordinator"
  cluster_unknown_outcomes cluster-unknown 4 3 "cluster unknown outcomes"
  # 4. The same on one hot stream (8 threads): conflicts and unknown outcomes resolved side by
  #    side, where a resolving read that saw the head and the rows apart reported conflicts at
  #    the expected version itself (issue 10 item 3; the checker's conflict_inconsistent).
  note "unknown outcomes on one stream: 8 threads, timeout_ms=${RELIABILITY_SHORT_TIMEOUT_MS:-15}, a paused coordinator"
  cluster_unknown_outcomes cluster-unknown-one-stream 8 1 "cluster unknown outcomes, one stream"
}

# --- the cluster's feed ----------------------------------------------------------------------
# The relay (`eventstore relay --context C`) orders a context's feed on a cluster. Each phase runs
# history-check with a context of its own (--context) and feed readers while relays for that
# context are killed or paused; the readers wait for the head to stand still for
# --feed-settle-s before the checks. A cluster may repeat an event (relay died between
# publishing and recording its progress): counted as duplicates, not a violation; a hole, a
# disagreement, a lost or rejected event is.
relay_pids=()
relay_start() { # LOG CONTEXT: one more relay for CONTEXT in the background, appended to relay_pids
  "$BUILD_DIR/bin/eventstore" --store "$(cluster_uri "" timeout_ms=2000)" relay --context "$2" \
    --lease-ms "$RELAY_LEASE_MS" >>"$1" 2>&1 &
  relay_pids+=($!)
}
relays_stop() { # stops the relays this script started (SIGCONT first: a paused one cannot exit)
  local pid
  for pid in "${relay_pids[@]}"; do kill -CONT "$pid" 2>/dev/null; kill -TERM "$pid" 2>/dev/null; done
  for pid in "${relay_pids[@]}"; do wait "$pid" 2>/dev/null; done
  relay_pids=()
}
relay_holding() { # LOG_PREFIX: the index in relay_pids of the relay whose last status line holds the lease
  local i
  for i in "${!relay_pids[@]}"; do
    if [[ $(grep '^{' "$1-$i.log" 2>/dev/null | tail -1 | jq -r '.holds_lease' 2>/dev/null) == true ]]; then
      echo "$i"; return 0
    fi
  done
  return 1
}
feed_context() { echo "hc-$1-$(date +%s)-$RANDOM"; }
feed_hc() { # NAME CONTEXT SECONDS ARGS...: history-check with feed readers against the cluster, in the background
  local name=$1 context=$2 seconds=$3; shift 3
  timeout --kill-after=30 $((seconds + 1200)) "$HC" --json --store "$(cluster_uri "" timeout_ms=2000)" \
    --context "$context" --processes 2 --threads 4 --streams 6 --duration-s "$seconds" --retry-unknown \
    --feed-readers 3 --feed-settle-s "${FEED_SETTLE_S:-20}" --final-read-retry-s 300 \
    --lifecycle-rate "$LIFECYCLE_RATE" "$@" \
    >"$OUT/$name.json" 2>"$OUT/$name.log" &
  hc_pid=$!
}
feed_result() { # NAME RC WHAT
  local duplicates; duplicates=$(jq -r '.feed.duplicates // "?"' "$OUT/$1.json" 2>/dev/null)
  if (($2 == 0)); then record "PASS $3 (feed duplicates $duplicates): $(hc_figures "$OUT/$1.json")"
  else fail "$3 (exit $2): $(hc_figures "$OUT/$1.json") -- see $OUT/$1.json, $OUT/$1.log"; fi
}

# 1. kill -9 of the relay mid-publish, restarted after 0..3 s (a new relay waits out the dead
#    one's lease, then publishes what it left: maybe again, never with a hole).
cluster_feed_relay_kills() {
  local name=cluster-feed-relay-kills context; context=$(feed_context relay-kills)
  note "feed: relay kill -9 every 2..6 s for ${CLUSTER_SECONDS}s (context $context)"
  relay_start "$OUT/$name-relay-0.log" "$context"
  feed_hc "$name" "$context" "$CLUSTER_SECONDS"
  local kills=0 end=$((SECONDS + CLUSTER_SECONDS))
  while ((SECONDS < end)) && kill -0 "$hc_pid" 2>/dev/null; do
    sleep $((RANDOM % 5 + 2))
    kill -9 "${relay_pids[0]}" 2>/dev/null && kills=$((kills + 1))
    wait "${relay_pids[0]}" 2>/dev/null
    relay_pids=()
    sleep "$((RANDOM % 4)).$((RANDOM % 10))"
    relay_start "$OUT/$name-relay-0.log" "$context"
  done
  wait "$hc_pid"; local rc=$?  # the last relay runs until the readers have settled
  relays_stop
  feed_result "$name" "$rc" "cluster feed, relay killed $kills times mid-publish"
}

# 2. Two relays; the one holding the lease is paused (SIGSTOP) for three leases, so the other
#    takes over; resumed, its next write must fail its condition (the feed never forks).
cluster_feed_relay_pauses() {
  local name=cluster-feed-relay-pauses context; context=$(feed_context relay-pauses)
  note "feed: two relays, the lease holder paused past its lease (${RELAY_LEASE_MS} ms) repeatedly (context $context)"
  relay_start "$OUT/$name-relay-0.log" "$context"
  relay_start "$OUT/$name-relay-1.log" "$context"
  feed_hc "$name" "$context" "$CLUSTER_SECONDS"
  local pauses=0 takeovers=0 end=$((SECONDS + CLUSTER_SECONDS)) holder pause_s=$(((RELAY_LEASE_MS * 3 + 999) / 1000))
  while ((SECONDS < end)) && kill -0 "$hc_pid" 2>/dev/null; do
    sleep 3
    holder=$(relay_holding "$OUT/$name-relay") || continue
    kill -STOP "${relay_pids[$holder]}" && pauses=$((pauses + 1))
    sleep "$pause_s"
    relay_holding "$OUT/$name-relay" >/dev/null && takeovers=$((takeovers + 1))
    kill -CONT "${relay_pids[$holder]}"
  done
  wait "$hc_pid"; local rc=$?
  relays_stop
  feed_result "$name" "$rc" "cluster feed, lease holder paused $pauses times past its lease ($takeovers takeovers seen)"
  ((pauses > 0)) || fail "cluster feed relay pauses: no relay was ever seen holding the lease -- see $OUT/$name-relay-*.log"
}

# 3. One node of three killed and restarted, then paused and resumed, while writers, readers
#    and a relay run.
cluster_feed_node_faults() {
  local name=cluster-feed-node-faults context; context=$(feed_context node-faults)
  note "feed: one node at a time killed/paused for ${CLUSTER_SECONDS}s with a relay running (context $context)"
  relay_start "$OUT/$name-relay-0.log" "$context"
  feed_hc "$name" "$context" "$CLUSTER_SECONDS"
  local kills=0 pauses=0 n=1 end=$((SECONDS + CLUSTER_SECONDS - 20))
  while ((SECONDS < end)) && kill -0 "$hc_pid" 2>/dev/null; do
    "$LC" kill "$n" >>"$OUT/$name.log" 2>&1 && kills=$((kills + 1))
    sleep 10
    timeout 600 "$LC" restart "$n" >>"$OUT/$name.log" 2>&1 || fail "cluster feed: restart of node $n failed"
    ((SECONDS < end)) || break
    pause_and_resume "$n" "$OUT/$name.log" && pauses=$((pauses + 1))
    # A relay that gave up (its process ended) is replaced; the count is in the log.
    kill -0 "${relay_pids[0]}" 2>/dev/null || { echo "relay exited; restarted" >>"$OUT/$name.log"; relay_pids=(); relay_start "$OUT/$name-relay-0.log" "$context"; }
    n=$((n % 3 + 1))
  done
  wait "$hc_pid"; local rc=$?
  relays_stop
  feed_result "$name" "$rc" "cluster feed, $kills node kills+restarts and $pauses pauses"
}

step_cluster_feed() {
  need_binaries history-check eventstore || return
  has_scylla "cluster feed" || return
  if ! "$BUILD_DIR/bin/eventstore" relay --help >/dev/null 2>&1; then
    record "SKIP cluster feed: this eventstore has no relay command"
    return
  fi
  local external=0
  if ((started_cluster)); then
    :  # the cluster step's own cluster, schema applied, SCYLLA_HOSTS exported
  elif [[ -n ${SCYLLA_HOSTS:-} ]]; then
    external=1
    SCYLLA_KEYSPACE=$KEYSPACE "$BUILD_DIR/bin/eventstore" schema apply --replication-factor "${RELIABILITY_RF:-3}" \
      >"$OUT/schema-feed.log" 2>&1 || { fail "cluster feed: schema apply on $SCYLLA_HOSTS -- see $OUT/schema-feed.log"; return; }
  elif "$LC" status >"$OUT/cluster-status.log" 2>&1; then
    record "SKIP cluster feed: a local cluster started by someone else is running ($(head -1 "$OUT/cluster-status.log")); it is left alone"
    return
  else
    start_local_cluster "cluster feed" || return
  fi
  cluster_feed_relay_kills
  cluster_feed_relay_pauses
  if ((external)); then
    record "NOTE cluster feed: SCYLLA_HOSTS is set: no node faults injected (they need scripts/local-cassandra)"
  else
    cluster_feed_node_faults
  fi
}

#!/usr/bin/env bash
# End-to-end checks of feed read, subscribe and feed status (docs/cli.md): output lines and keys,
# --from/--limit/filters, named checkpoints saved after each page, --follow ended by SIGINT and
# SIGTERM, input validation (exit 2, one error line, nothing written), on memory: and sqlite:.
#   tests/cli/cli_feed_test.sh path/to/eventstore
set -u
# shellcheck source=tests/lib/cli_helpers.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/cli_helpers.sh"
EVENTSTORE=$(executable_path cli_feed_test "${1:?usage: cli_feed_test.sh path/to/eventstore}") || exit 1
enter_temp_dir
clear_store_environment

# The "position" values of stdout, space separated.
positions() { printf '%s\n' "$OUT" | sed -n 's/^{"position":\([0-9]*\),.*/\1/p' | tr '\n' ' ' | sed 's/ $//'; }
expect_positions() {  # expect_positions "1 2 3" DESCRIPTION
  local got
  got=$(positions)
  if [ "$got" = "$1" ]; then ok; else fail "$2: positions '$got', want '$1'"; fi
}
# wait_for_lines FILE N: until FILE has N lines (10 s at most).
wait_for_lines() {
  for _ in $(seq 1 200); do
    [ "$(wc -l <"$1")" -ge "$2" ] && return 0
    sleep 0.05
  done
  return 1
}
checkpoint_of() {  # checkpoint_of STORE CONTEXT NAME: the stored position ("" when none)
  "$EVENTSTORE" --store "$1" feed status --context "$2" |
    sed -n "s/.*{\"name\":\"$3\",\"position\":\([0-9]*\),.*/\1/p"
}

UUID='[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
TS='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'
DB="sqlite:$TMP/feed.db"
ORDER=0de30000-0000-8000-8000-0000000000f1
CART=0de30000-0000-8000-8000-0000000000f2

# ---- --help -------------------------------------------------------------------------------
for command in feed "feed read" "feed status" subscribe; do
  # shellcheck disable=SC2086
  run $command --help
  expect_rc 0 "'$command --help'"
  expect_contains "Usage:" "$OUT" "'$command --help'"
  expect_contains "Example" "$OUT" "'$command --help' shows examples"
done
run feed read --help
expect_contains "AFTER position POS (default 0: from the start)" "$OUT" "feed read --help explains --from"
run --help
expect_contains "feed" "$OUT" "eventstore --help lists feed"
expect_contains "subscribe" "$OUT" "eventstore --help lists subscribe"

# ---- invalid input: exit 2, one error line, no store file created --------------------------
NEW="sqlite:$TMP/never.db"
bad() {  # bad DESCRIPTION ARGS...
  local description=$1
  shift
  run "$@"
  expect_error 2 "$description"
  if [ ! -e "$TMP/never.db" ]; then ok; else fail "$description: created the store file"; rm -f "$TMP"/never.db*; fi
}
bad "--from with trailing letters" --store "$NEW" feed read --context shop --from 12abc
bad "--from negative" --store "$NEW" feed read --context shop --from -1
bad "--from past int64" --store "$NEW" feed read --context shop --from 9223372036854775808
bad "--from empty" --store "$NEW" feed read --context shop --from ''
bad "--from with a plus sign" --store "$NEW" feed read --context shop --from +3
bad "--from with spaces" --store "$NEW" feed read --context shop --from ' 3'
bad "--limit negative" --store "$NEW" feed read --context shop --limit -2
bad "--page-size 0" --store "$NEW" feed read --context shop --page-size 0
bad "--page-size over 100000" --store "$NEW" subscribe --context shop --name a --page-size 100001
bad "empty --context" --store "$NEW" feed read --context ''
bad "missing --context" --store "$NEW" feed read
bad "empty --event-type" --store "$NEW" feed read --context shop --event-type ''
bad "empty --aggregate-type" --store "$NEW" subscribe --context shop --name a --aggregate-type ''
bad "empty --name" --store "$NEW" subscribe --context shop --name ''
bad "missing --name" --store "$NEW" subscribe --context shop
bad "subscribe --from is not an option" --store "$NEW" subscribe --context shop --name a --from 3
bad "feed without a command" --store "$NEW" feed
bad "feed with an unknown command" --store "$NEW" feed tail --context shop
bad "feed status: empty --context" --store "$NEW" feed status --context ''
run --store "$NEW" feed read --context shop --from 12abc
expect_contains "--from" "$ERR" "the error names --from"
# A context the store refuses (invalid UTF-8) is exit 2 too.
run --store memory: feed read --context $'\xff'
expect_error 2 "feed read of a context that is not UTF-8"

# ---- memory: an empty feed ----------------------------------------------------------------
run --store memory: feed read --context shop
expect_rc 0 "feed read on an empty memory: store"
expect_out "" "feed read on an empty memory: store"
run --store memory: feed status --context shop
expect_rc 0 "feed status on memory:"
expect_out '\{"head":0,"checkpoints":\[\],"relay":null\}' "feed status of an empty feed"
run --store memory: subscribe --context shop --name a
expect_rc 0 "subscribe on an empty memory: store"
expect_out "" "subscribe on an empty memory: store"

# ---- sqlite: feed read ----------------------------------------------------------------------
append() {  # append TYPE ID EVENT...
  local type=$1 id=$2 events=()
  shift 2
  for e in "$@"; do events+=(--event "$e" --data "{\"e\":\"$e\"}"); done
  "$EVENTSTORE" --store "$DB" append --context shop --type "$type" --id "$id" --expected-version any \
    "${events[@]}" >/dev/null || fail "append $type $*"
}
append order "$ORDER" OrderCreated ItemAdded ItemAdded
append cart "$CART" CartOpened CartFilled
append order "$ORDER" OrderPaid
append order 0de30000-0000-8000-8000-0000000000f3 OrderCreated OrderNoted
"$EVENTSTORE" --store "$DB" append --context billing --type invoice --id "$ORDER" --expected-version any \
  --event InvoiceIssued >/dev/null || fail "append in another context"

run --store "$DB" feed read --context shop
expect_rc 0 "feed read"
expect_positions "1 2 3 4 5 6 7 8" "feed read prints every position in order"
FIRST=$(printf '%s\n' "$OUT" | head -n 1)
LINE1="\{\"position\":1,\"bounded_context\":\"shop\",\"aggregate_type\":\"order\",\"aggregate_id\":\"$ORDER\",\"event_version\":1,\"event_id\":\"$UUID\",\"event_type\":\"OrderCreated\",\"event_timestamp\":\"$TS\",\"event_data\":\{\"e\":\"OrderCreated\"\},\"event_metadata\":null\}"
if [[ "$FIRST" =~ ^$LINE1$ ]]; then ok; else fail "feed read line keys: '$FIRST'"; fi
expect_lacks "billing" "$OUT" "feed read shows one context"
# The lines are read's lines plus position: the same event in both.
READ_LINE=$("$EVENTSTORE" --store "$DB" read --context shop --type order --id "$ORDER" --limit 1)
if [ "{\"position\":1,${READ_LINE#\{}" = "$FIRST" ]; then ok; else fail "feed line is not read's line plus position"; fi

run --store "$DB" feed read --context shop --from 4
expect_positions "5 6 7 8" "--from 4 prints the entries after position 4"
run --store "$DB" feed read --context shop --limit 2
expect_positions "1 2" "--limit 2"
run --store "$DB" feed read --context shop --from 3 --limit 1 --page-size 1
expect_positions "4" "--from 3 --limit 1"
run --store "$DB" feed read --context shop --limit 0
expect_out "" "--limit 0 prints nothing"
run --store "$DB" feed read --context shop --from 8
expect_rc 0 "--from the head"
expect_out "" "--from the head prints nothing"
run --store "$DB" feed read --context shop --from 1000
expect_out "" "--from past the head prints nothing"
run --store "$DB" feed read --context shop --page-size 3 --event-type ItemAdded --event-type CartFilled
expect_positions "2 3 5" "--event-type, repeated: any of them"
run --store "$DB" feed read --context shop --aggregate-type cart
expect_positions "4 5" "--aggregate-type"
run --store "$DB" feed read --context shop --aggregate-type cart --event-type OrderPaid
expect_out "" "filters together: both must match"
run --store "$DB" feed read --context shop --no-data --limit 1
expect_out "\{\"position\":1,\"bounded_context\":\"shop\",\"aggregate_type\":\"order\",\"aggregate_id\":\"$ORDER\",\"event_version\":1,\"event_id\":\"$UUID\",\"event_type\":\"OrderCreated\",\"event_timestamp\":\"$TS\"\}" "--no-data leaves out data and metadata"
run --store "$DB" feed read --context billing
expect_positions "1" "each context has its own positions"

# ---- sqlite: subscribe and feed status -------------------------------------------------------
run --store "$DB" subscribe --context shop --name mailer --page-size 3
expect_rc 0 "subscribe"
expect_positions "1 2 3 4 5 6 7 8" "subscribe prints the feed from the start"
if [ "$(checkpoint_of "$DB" shop mailer)" = 8 ]; then ok; else fail "subscribe saved no checkpoint at 8"; fi
run --store "$DB" subscribe --context shop --name mailer
expect_out "" "subscribe again: nothing new"
append cart "$CART" CartClosed
append order "$ORDER" OrderShipped
run --store "$DB" subscribe --context shop --name mailer
expect_positions "9 10" "subscribe resumes after its checkpoint"
run --store "$DB" subscribe --context shop --name late --from-end
expect_out "" "subscribe --from-end starts at the head"
run --store "$DB" subscribe --context shop --name late
expect_out "" "a --from-end subscriber has a checkpoint at the head"
# A filtered subscriber's checkpoint passes what it skips.
run --store "$DB" subscribe --context shop --name shipping --event-type OrderShipped --page-size 4
expect_positions "10" "filtered subscribe"
run --store "$DB" subscribe --context shop --name none --event-type NeverWritten --page-size 4
expect_out "" "a subscriber whose filter matches nothing"

run --store "$DB" feed status --context shop
expect_rc 0 "feed status"
expect_out "\{\"head\":10,\"checkpoints\":\[\{\"name\":\"late\",\"position\":10,\"lag\":0,\"updated\":\"$TS\"\},\{\"name\":\"mailer\",\"position\":10,\"lag\":0,\"updated\":\"$TS\"\},\{\"name\":\"none\",\"position\":10,\"lag\":0,\"updated\":\"$TS\"\},\{\"name\":\"shipping\",\"position\":10,\"lag\":0,\"updated\":\"$TS\"\}\],\"relay\":null\}" "feed status lists checkpoints with their lag"
append order "$ORDER" OrderArchived
run --store "$DB" feed status --context shop
expect_contains '{"name":"mailer","position":10,"lag":1,' "$OUT" "lag = head - position"
run --store "$DB" feed status --context nowhere
expect_out '\{"head":0,"checkpoints":\[\],"relay":null\}' "feed status of an unused context"

# A reader that stops early (stdout closed, the default SIGPIPE) loses nothing: the checkpoint is
# saved only after a page is written, so the next run prints from there.
"$EVENTSTORE" --store "$DB" subscribe --context shop --name pipe --page-size 2 | head -n 1 >/dev/null
SAVED=$(checkpoint_of "$DB" shop pipe)
SAVED=${SAVED:-0}
run --store "$DB" subscribe --context shop --name pipe --page-size 2
EXPECTED=$(seq "$((SAVED + 1))" 11 | tr '\n' ' ' | sed 's/ $//')
expect_positions "$EXPECTED" "after a closed pipe, subscribe resumes at its checkpoint ($SAVED)"

# ---- --follow ends with SIGINT / SIGTERM, exit code 0 ---------------------------------------
"$EVENTSTORE" --store "$DB" feed read --context shop --from 11 --follow >"$TMP/follow.out" 2>"$TMP/follow.err" &
FOLLOW=$!
BACKGROUND+=("$FOLLOW")
sleep 0.3
append cart "$CART" CartReopened
if wait_for_lines "$TMP/follow.out" 1; then ok; else fail "feed read --follow did not print a new entry"; fi
kill -INT "$FOLLOW"
wait "$FOLLOW"
RC=$?
ERR=$(cat "$TMP/follow.err")
expect_rc 0 "feed read --follow ends with SIGINT"
OUT=$(cat "$TMP/follow.out")
expect_positions "12" "feed read --follow printed the live entry"

"$EVENTSTORE" --store "$DB" subscribe --context shop --name live --from-end --follow --page-size 1 \
  >"$TMP/sub.out" 2>"$TMP/sub.err" &
SUB=$!
BACKGROUND+=("$SUB")
sleep 0.3
append order "$ORDER" OrderReturned OrderRefunded
if wait_for_lines "$TMP/sub.out" 2; then ok; else fail "subscribe --follow did not print the new entries"; fi
sleep 0.2
kill -TERM "$SUB"
wait "$SUB"
RC=$?
ERR=$(cat "$TMP/sub.err")
expect_rc 0 "subscribe --follow ends with SIGTERM"
OUT=$(cat "$TMP/sub.out")
expect_positions "13 14" "subscribe --follow printed the live entries"
if [ "$(checkpoint_of "$DB" shop live)" = 14 ]; then ok; else fail "subscribe --follow saved no checkpoint at 14"; fi

# --follow with --limit stops after the limit.
"$EVENTSTORE" --store "$DB" feed read --context shop --from 14 --follow --limit 1 >"$TMP/limit.out" &
LIMITED=$!
BACKGROUND+=("$LIMITED")
sleep 0.3
append cart "$CART" CartEmptied
for _ in $(seq 1 100); do kill -0 "$LIMITED" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$LIMITED" 2>/dev/null; then fail "feed read --follow --limit 1 kept running"; kill "$LIMITED"; else ok; fi
wait "$LIMITED"
RC=$?
expect_rc 0 "feed read --follow --limit 1"
OUT=$(cat "$TMP/limit.out")
expect_positions "15" "feed read --follow --limit 1"

# No progress line on stderr when stderr is not a terminal.
run --store "$DB" feed read --context shop
if [ -z "$ERR" ]; then ok; else fail "feed read wrote on stderr: '$ERR'"; fi

finish cli_feed_test

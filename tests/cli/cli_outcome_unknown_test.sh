#!/usr/bin/env bash
# Issue 10, item 1: after an unknown outcome (exit code 6), `append` prints the command that
# retries it with the same event ids, and that command settles it without writing twice.
# The unknown outcome is real: SQLite's commit fails with EIO (the test-only LD_PRELOAD library
# io_fault.cc fails every write to the store's -wal file), which the SQLite backend answers with
# kOutcomeUnknown.
#   tests/cli/cli_outcome_unknown_test.sh path/to/eventstore path/to/io_fault.so
set -u
# shellcheck source=tests/lib/cli_helpers.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/cli_helpers.sh"
EVENTSTORE=${1:?usage: cli_outcome_unknown_test.sh path/to/eventstore path/to/io_fault.so}
IO_FAULT=${2:?usage: cli_outcome_unknown_test.sh path/to/eventstore path/to/io_fault.so}
EVENTSTORE=$(realpath "$EVENTSTORE")  # the test cd's away
IO_FAULT=$(realpath "$IO_FAULT")
enter_temp_dir
clear_store_environment

# Writes to FILE-wal fail with EIO. (An ASan build needs its runtime first; the order does not
# matter here, nothing of ASan is intercepted.)
run_failing_commit() {
  EVENTSTORE_TEST_FAIL_WRITES_TO=.db-wal LD_PRELOAD="$IO_FAULT${LD_PRELOAD:+ $LD_PRELOAD}" \
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" run "$@"
}
# The retry command of the last unknown outcome's hint (the line indented by two spaces), run
# with the built binary.
run_retry_command() {
  local command
  command=$(printf '%s\n' "$HINT" | sed -n 's/^  eventstore //p')
  [ -n "$command" ] || { fail "no retry command in: $HINT"; return; }
  eval "run $command"
}
expect_unknown_outcome() {  # expect_unknown_outcome DESCRIPTION; keeps stderr in HINT
  HINT=$ERR
  if [ "$RC" = 6 ]; then ok; else fail "$1: exit code $RC, want 6 (stderr: $ERR)"; return; fi
  if [[ "$(printf '%s\n' "$ERR" | head -n 1)" == "eventstore: error: "* ]]; then ok
  else fail "$1: the first stderr line is not the error line: $ERR"; fi
  if [ "$(printf '%s\n' "$ERR" | grep -c '^eventstore: error: ')" = 1 ]; then ok
  else fail "$1: not exactly one error line: $ERR"; fi
  if [ -z "$OUT" ]; then ok; else fail "$1: stdout not empty: $OUT"; fi
}
ids_of() { printf '%s\n' "$1" | grep -o '[0-9a-f]\{8\}-[0-9a-f]\{4\}-[0-9a-f]\{4\}-[0-9a-f]\{4\}-[0-9a-f]\{12\}'; }

DB="sqlite:$TMP/store.db"
S=(--context shop --type order --id 0de30000-0000-8000-8000-0000000000e1)
run --store "$DB" append "${S[@]}" --expected-version no-stream --event OrderCreated
[ "$RC" = 0 ] || { echo "cli_outcome_unknown_test: cannot create the store: $ERR" >&2; exit 1; }

# ---- --event groups: the hint carries an --event-id for every event -----------------------
run_failing_commit --store "$DB" append "${S[@]}" --expected-version 1 \
  --event ItemAdded --data '{"sku":"it'"'"'s a book","quantity":1}' \
  --event Noted --metadata '{"by":"ada"}' --event-id 11111111-2222-4333-8444-5555555555e1
expect_unknown_outcome "append whose commit fails with EIO"
HINT_IDS=$(ids_of "$(printf '%s\n' "$ERR" | sed -n 's/^  eventstore //p')" | grep -v '^0de30000' | tr '\n' ' ')
if [ "$(wc -w <<<"$HINT_IDS")" = 2 ] && [[ "$HINT_IDS" == *11111111-2222-4333-8444-5555555555e1* ]]; then ok
else fail "the retry command does not hold one id per event: '$HINT_IDS' in $ERR"; fi
run_retry_command
if [ "$RC" = 0 ]; then ok; else fail "the printed retry command: exit $RC: $ERR"; fi
FIRST_RETRY=$OUT
if [ "$(ids_of "$OUT" | tr '\n' ' ')" = "$HINT_IDS" ]; then ok
else fail "the retry appended other ids than the hint's: '$OUT' vs '$HINT_IDS'"; fi
run_retry_command
if [ "$RC" = 0 ] && [ "$OUT" = "$FIRST_RETRY" ]; then ok
else fail "a second retry is not idempotent: exit $RC, '$OUT' vs '$FIRST_RETRY'"; fi
run --store "$DB" head "${S[@]}"
if [ "$OUT" = 3 ]; then ok; else fail "the events were not written exactly once: head $OUT, want 3"; fi
run --store "$DB" read "${S[@]}" --from 2 --limit 1
if [[ "$OUT" == *'"event_data":{"sku":"it'"'"'s a book","quantity":1}'* ]]; then ok
else fail "the retry did not carry the data as typed: $OUT"; fi

# ---- --events-file: the hint carries --event-ids ------------------------------------------
printf '%s\n' '{"event_type":"OrderPaid","event_data":{"amount_cents":1999}}' \
  '{"event_type":"Shipped","event_id":"11111111-2222-4333-8444-5555555555e2"}' >"$TMP/events.jsonl"
run_failing_commit --store "$DB" append "${S[@]}" --expected-version any --events-file "$TMP/events.jsonl"
expect_unknown_outcome "append --events-file whose commit fails with EIO"
if [[ "$ERR" == *"--event-ids "*",11111111-2222-4333-8444-5555555555e2"* ]]; then ok
else fail "the retry command lacks --event-ids with the file's own id second: $ERR"; fi
run_retry_command
if [ "$RC" = 0 ]; then ok; else fail "the printed retry command for an events file: exit $RC: $ERR"; fi
run --store "$DB" head "${S[@]}"
if [ "$OUT" = 5 ]; then ok; else fail "the events file was not written exactly once: head $OUT, want 5"; fi

# ---- --events-file -: the same command, the same events on stdin ---------------------------
printf '%s\n' '{"event_type":"Returned"}' '{"event_type":"Refunded","event_data":{"amount_cents":1999}}' >"$TMP/stdin.jsonl"
STDIN_FILE="$TMP/stdin.jsonl" run_failing_commit --store "$DB" append "${S[@]}" --expected-version 5 --events-file -
expect_unknown_outcome "append --events-file - whose commit fails with EIO"
if [[ "$ERR" == *"same events on stdin"* ]]; then ok; else fail "no stdin note in: $ERR"; fi
STDIN_FILE="$TMP/stdin.jsonl" run_retry_command
if [ "$RC" = 0 ]; then ok; else fail "the printed retry command for stdin: exit $RC: $ERR"; fi
run --store "$DB" head "${S[@]}"
if [ "$OUT" = 7 ]; then ok; else fail "the stdin events were not written exactly once: head $OUT, want 7"; fi

finish cli_outcome_unknown_test

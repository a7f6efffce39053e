#!/usr/bin/env bash
# shellcheck disable=SC2016  # the system events' types start with '$': single quotes keep it literal
# eventstore stream truncate | delete (docs/cli.md, docs/lifecycle.md) on sqlite: what each
# prints and hides, the system events in read and in the feed, exit code 7 after a hard delete,
# the confirmation (--yes without a terminal; the question on one), bad input writing nothing.
#   tests/cli/cli_stream_test.sh path/to/eventstore
set -u
# shellcheck source=tests/lib/cli_helpers.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/cli_helpers.sh"
EVENTSTORE=$(executable_path cli_stream_test "${1:?usage: cli_stream_test.sh path/to/eventstore}") || exit 1
enter_temp_dir
clear_store_environment

UUID='[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
DB="sqlite:$TMP/s.db"
S=(--context shop --type order --id 0de30000-0000-8000-8000-0000000000b1)
append_notes() {  # append_notes N: N events of type Note at any version
  local i
  for ((i = 0; i < $1; i++)); do
    run --store "$DB" append "${S[@]}" --expected-version any --event Note --data "{\"n\":$i}"
    expect_rc 0 "append Note $i"
  done
}
versions() {  # versions [READ OPTIONS]: the event_version and event_type of each event read
  run --store "$DB" read "${S[@]}" "$@"
  printf '%s\n' "$OUT" | sed -E 's/.*"event_version":([0-9]+).*"event_type":"([^"]*)".*/\1 \2/'
}

for command in "stream" "stream delete" "stream truncate"; do
  # shellcheck disable=SC2086
  run $command --help
  expect_rc 0 "'$command --help'"
  expect_contains "Example" "$OUT" "'$command --help' shows examples"
done

# ---- bad input: exit 2, nothing written (not even the file) ----------------------------------
run --store "$DB" stream truncate "${S[@]}" --yes
expect_error 2 "truncate without --before"
run --store "$DB" stream truncate "${S[@]}" --before 0 --yes
expect_error 2 "truncate --before 0"
run --store "$DB" stream truncate "${S[@]}" --before 5 --expected-version 3 --yes
expect_error 2 "--before above --expected-version + 1"
run --store "$DB" stream delete "${S[@]}" --event-id nope --yes
expect_error 2 "delete --event-id not a UUID"
if [ ! -e "$TMP/s.db" ]; then ok; else fail "bad input created the store file"; fi
run --store "$DB" append "${S[@]}" --expected-version any --event '$deleted'
expect_error 2 "a user append of a '\$' type"

# ---- truncate ---------------------------------------------------------------------------------
append_notes 5
run --store "sqlite:$TMP/untouched.db" stream delete "${S[@]}"
expect_error 2 "delete without --yes and without a terminal"
if [ ! -e "$TMP/untouched.db" ]; then ok; else fail "a refused delete created the store file"; fi
run --store "$DB" stream truncate "${S[@]}" --before 4
expect_error 2 "truncate without --yes and without a terminal"
expect_contains "--yes" "$ERR" "the error asks for --yes"
expect_eq "$(versions | head -1)" "1 Note" "nothing truncated without --yes"
run --store "$DB" stream truncate "${S[@]}" --before 4 --yes
expect_rc 0 "truncate --before 4"
expect_out "\{\"operation\":\"truncate\",\"before\":4,\"event_version\":6,\"event_id\":\"$UUID\",\"next_expected_version\":6\}" \
  "truncate's output"
expect_eq "$(versions)" "4 Note
5 Note
6 \$truncated" "a truncated stream reads from its before"
expect_eq "$(versions --backward)" "6 \$truncated
5 Note
4 Note" "and backward down to it"
run --store "$DB" stream truncate "${S[@]}" --before 8 --yes
expect_error 2 "truncate above head + 1"
run --store "$DB" stream truncate "${S[@]}" --before 2 --expected-version 5 --yes
expect_error 3 "truncate at a stale expected version"
run --store "$DB" head "${S[@]}"
expect_out 6 "head counts the \$truncated event"
run --store "$DB" feed read --context shop --no-data
expect_rc 0 "feed read after the truncate"
expect_contains '"event_type":"$truncated"' "$OUT" "the feed holds the \$truncated event"
expect_lacks '"event_version":3,' "$OUT" "the truncated events left the feed"
expect_contains '"position":4,' "$OUT" "the kept events keep their positions"

# ---- soft delete, then the stream continues ---------------------------------------------------
run --store "$DB" stream delete "${S[@]}" --expected-version 6 --yes
expect_rc 0 "soft delete"
expect_out "\{\"operation\":\"delete\",\"event_version\":7,\"event_id\":\"$UUID\",\"next_expected_version\":7\}" \
  "delete's output"
expect_eq "$(versions)" "7 \$deleted" "a deleted stream reads as its \$deleted event"
run --store "$DB" append "${S[@]}" --expected-version no-stream --event Note
expect_error 3 "no-stream after a soft delete is a conflict"
run --store "$DB" append "${S[@]}" --expected-version 7 --event Note
expect_rc 0 "an append continues a soft-deleted stream"
expect_eq "$(versions)" "7 \$deleted
8 Note" "the continued stream"

# ---- the feed holds the system events; an entry whose event was removed is left out ----------
run --store "$DB" feed read --context shop --no-data
expect_rc 0 "feed read after the delete"
expect_contains '"event_type":"$deleted"' "$OUT" "the feed holds the \$deleted event"
expect_lacks '"event_type":"$truncated"' "$OUT" "the \$truncated event the delete removed left the feed"
expect_lacks '"event_version":1,' "$OUT" "so did the truncated events"

# ---- hard delete: exit code 7 for every later write -------------------------------------------
HARD_ID=5a5a5a5a-0000-4000-8000-000000000001
run --store "$DB" stream delete "${S[@]}" --hard --event-id "$HARD_ID" --yes
expect_rc 0 "hard delete"
expect_out "\{\"operation\":\"delete\",\"event_version\":9,\"event_id\":\"$HARD_ID\",\"next_expected_version\":9\}" \
  "hard delete's output"
run --store "$DB" stream delete "${S[@]}" --hard --event-id "$HARD_ID" --yes
expect_rc 0 "the hard delete retried with its event id"
expect_out "\{\"operation\":\"delete\",\"event_version\":9,\"event_id\":\"$HARD_ID\",\"next_expected_version\":9\}" \
  "the retry answers the original result"
run --store "$DB" append "${S[@]}" --expected-version any --event Note
expect_error 7 "append to a hard-deleted stream"
expect_contains "hard-deleted" "$ERR" "the error says the stream was hard-deleted"
run --store "$DB" stream truncate "${S[@]}" --before 9 --yes
expect_error 7 "truncate of a hard-deleted stream"
run --store "$DB" stream delete "${S[@]}" --yes
expect_error 7 "soft delete of a hard-deleted stream"
expect_eq "$(versions)" "9 \$hard-deleted" "a hard-deleted stream reads as its \$hard-deleted event"

# ---- the question on a terminal ---------------------------------------------------------------
if command -v script >/dev/null; then
  T=(--context shop --type order --id 0de30000-0000-8000-8000-0000000000b2)
  run --store "$DB" append "${T[@]}" --expected-version any --event Note --event Note
  expect_rc 0 "append to the second stream"
  answer() {  # answer WORD: stream delete on a terminal (script(1)), WORD typed at the question
    printf '%s\n' "$1" | script -qec "$(printf '%q ' "$EVENTSTORE" --store "$DB" stream delete "${T[@]}")" /dev/null \
      >"$TMP/tty" 2>&1
    RC=$?
  }
  answer n
  expect_rc 1 "answering n"
  expect_contains "is at version 2: delete it" "$(cat "$TMP/tty")" "the question names the version"
  expect_contains "nothing done" "$(cat "$TMP/tty")" "answering n does nothing"
  run --store "$DB" head "${T[@]}"
  expect_out 2 "nothing deleted after n"
  answer y
  expect_rc 0 "answering y"
  run --store "$DB" head "${T[@]}"
  expect_out 3 "deleted after y"
else
  echo "SKIPPED: the confirmation on a terminal (script(1) from util-linux is not installed)"
fi

finish cli_stream_test

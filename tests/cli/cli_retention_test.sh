#!/usr/bin/env bash
# shellcheck disable=SC2016  # the system events' types start with '$': single quotes keep it literal
# eventstore stream retention and eventstore scavenge (docs/cli.md, include/eventstore/retention.h)
# on sqlite: showing, setting and clearing a policy; bad input writing nothing; reads hiding what a
# policy expires (and showing it again once cleared); scavenge --dry-run changing nothing; the
# confirmation (--yes without a terminal, refused before the store is opened); scavenge removing
# what the policy hides with one $truncated event per stream, and removing nothing the second time.
#   tests/cli/cli_retention_test.sh path/to/eventstore
set -u
# shellcheck source=tests/lib/cli_helpers.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/cli_helpers.sh"
EVENTSTORE=$(executable_path cli_retention_test "${1:?usage: cli_retention_test.sh path/to/eventstore}") || exit 1
enter_temp_dir
clear_store_environment

DB="sqlite:$TMP/r.db"
ORDER=(--context shop --type order)
S=(--context shop --type order --id 0de30000-0000-8000-8000-0000000000c1)
INVOICE=(--context shop --type invoice --id 0de30000-0000-8000-8000-0000000000c2)
STREAM_S="shop/order/0de30000-0000-8000-8000-0000000000c1"
append_notes() {  # append_notes N STREAM-OPTIONS...: N events of type Note at any version
  local i n=$1
  shift
  for ((i = 1; i <= n; i++)); do
    run --store "$DB" append "$@" --expected-version any --event Note --data "{\"n\":$i}"
    expect_rc 0 "append Note $i"
  done
}
versions() {  # versions STREAM-OPTIONS...: the event_version and event_type of each event read
  run --store "$DB" read "$@"
  printf '%s\n' "$OUT" | sed -E 's/.*"event_version":([0-9]+).*"event_type":"([^"]*)".*/\1 \2/'
}

for command in "stream retention" "scavenge"; do
  # shellcheck disable=SC2086
  run $command --help
  expect_rc 0 "'$command --help'"
  expect_contains "Example" "$OUT" "'$command --help' shows examples"
done
run stream retention --help
expect_contains "confirmation" "$OUT" "'stream retention --help' says why it asks nothing"
run scavenge --help
for word in "feed" "relay" "floor" "\$truncated" "Idempotent" "concurrent"; do
  expect_contains "$word" "$OUT" "'scavenge --help' explains ($word)"
done

# ---- bad input: exit 2, one error line, nothing written (not even the file) ------------------
for age in 3x 0 0s -5 10w 1.5h "" 12hh h 36501d 99999999999999999999; do
  run --store "$DB" stream retention "${ORDER[@]}" --max-age "$age"
  expect_error 2 "--max-age '$age'"
done
run --store "$DB" stream retention "${ORDER[@]}" --max-age 3x
expect_contains "90s, 15m, 12h, 30d" "$ERR" "the error says what a duration looks like"
for count in 0 -1 abc 2x ""; do
  run --store "$DB" stream retention "${ORDER[@]}" --max-count "$count"
  expect_error 2 "--max-count '$count'"
done
run --store "$DB" stream retention "${ORDER[@]}" --max-count 2 --clear
expect_error 2 "--clear with --max-count"
run --store "$DB" stream retention "${ORDER[@]}" --max-age 1d --clear
expect_error 2 "--clear with --max-age"
run --store "$DB" stream retention --context shop --type '$retention' --max-count 2
expect_error 2 "a reserved '\$' type"
run --store "$DB" stream retention --context shop --type order --id 0de30000-0000-8000-8000-0000000000c1
expect_error 2 "--id is no option of stream retention"
run --store "$DB" stream retention --context shop --max-count 2
expect_error 2 "stream retention without --type"
run --store "$DB" scavenge --type order --dry-run
expect_error 2 "scavenge without --context"
if [ ! -e "$TMP/r.db" ]; then ok; else fail "bad input created the store file"; fi

# ---- show, set (wholesale), clear -----------------------------------------------------------
run --store "$DB" stream retention "${ORDER[@]}"
expect_rc 0 "show without a policy"
expect_out '\{"context":"shop","aggregate_type":"order","policy":null\}' "no policy shows as null"
run --store "$DB" stream retention "${ORDER[@]}" --max-age 12h --max-count 1000
expect_rc 0 "set --max-age 12h --max-count 1000"
expect_out '\{"context":"shop","aggregate_type":"order","max_age_seconds":43200,"max_count":1000,"event_version":1\}' \
  "set prints the policy and its event's version"
run --store "$DB" stream retention "${ORDER[@]}"
expect_out '\{"context":"shop","aggregate_type":"order","max_age_seconds":43200,"max_count":1000\}' "show after set"
run --store "$DB" stream retention "${ORDER[@]}" --max-age 15m
expect_out '\{"context":"shop","aggregate_type":"order","max_age_seconds":900,"max_count":null,"event_version":2\}' \
  "a set replaces the policy wholesale"
run --store "$DB" stream retention "${ORDER[@]}"
expect_out '\{"context":"shop","aggregate_type":"order","max_age_seconds":900,"max_count":null\}' \
  "the count left out is no limit"
for pair in 90:90 90s:90 2m:120 30d:2592000; do
  run --store "$DB" stream retention --context shop --type units --max-age "${pair%%:*}"
  expect_rc 0 "--max-age ${pair%%:*}"
  expect_contains "\"max_age_seconds\":${pair#*:}," "$OUT" "--max-age ${pair%%:*} is ${pair#*:} s"
done
# Bad input on an existing store changes nothing either.
run --store "$DB" stream retention "${ORDER[@]}" --max-count 0
expect_error 2 "--max-count 0 on an existing store"
run --store "$DB" stream retention "${ORDER[@]}" --max-age 5y
expect_error 2 "--max-age 5y on an existing store"
run --store "$DB" stream retention "${ORDER[@]}"
expect_out '\{"context":"shop","aggregate_type":"order","max_age_seconds":900,"max_count":null\}' \
  "the policy is unchanged after bad input"
run --store "$DB" stream retention "${ORDER[@]}" --clear
expect_out '\{"context":"shop","aggregate_type":"order","policy":null,"event_version":3\}' \
  "clear prints a null policy and its event's version (no event was written by the bad input)"
run --store "$DB" stream retention "${ORDER[@]}"
expect_out '\{"context":"shop","aggregate_type":"order","policy":null\}' "show after clear"

# ---- reads hide what a policy expires, at once and reversibly --------------------------------
append_notes 5 "${S[@]}"
append_notes 3 "${INVOICE[@]}"
run --store "$DB" stream retention "${ORDER[@]}" --max-count 2
expect_rc 0 "set --max-count 2"
expect_eq "$(versions "${S[@]}")" "4 Note
5 Note" "a read shows the last 2 versions"
expect_eq "$(versions "${S[@]}" --backward)" "5 Note
4 Note" "and so does a backward read"
run --store "$DB" head "${S[@]}"
expect_out 5 "head is unchanged by a policy"
expect_eq "$(versions "${INVOICE[@]}")" "1 Note
2 Note
3 Note" "another type is not affected"
run --store "$DB" stream retention "${ORDER[@]}" --clear
expect_rc 0 "clear"
expect_eq "$(versions "${S[@]}" | wc -l | tr -d ' ')" 5 "a cleared policy shows every event again"
run --store "$DB" stream retention "${ORDER[@]}" --max-count 2
expect_rc 0 "set --max-count 2 again"

# A max age: everything older expires but the stream's last event.
CART=(--context shop --type cart --id 0de30000-0000-8000-8000-0000000000c3)
append_notes 3 "${CART[@]}"
sleep 2
run --store "$DB" stream retention --context shop --type cart --max-age 1s
expect_rc 0 "set --max-age 1s"
expect_eq "$(versions "${CART[@]}")" "3 Note" "a max age hides all but the last event"
run --store "$DB" stream retention --context shop --type cart --clear
expect_rc 0 "clear the cart policy"

# ---- scavenge --dry-run: reports, changes nothing --------------------------------------------
run --store "$DB" scavenge --context shop --type invoice --dry-run
expect_error 2 "scavenge --type of a type without a policy"
expect_contains "no retention policy" "$ERR" "the error says the type has no policy"
BEFORE_READ=$(versions "${S[@]}")
run --store "$DB" scavenge --context shop --dry-run
expect_rc 0 "scavenge --dry-run (no terminal, no --yes)"
DRY_OUT=$OUT
expect_eq "$OUT" "{\"stream\":\"$STREAM_S\",\"removed_from\":1,\"before\":5,\"events\":4,\"dry_run\":true}
{\"streams_examined\":1,\"streams_truncated\":1,\"events_removed\":4,\"streams_busy\":0,\"dry_run\":true}" \
  "the dry run's lines"
expect_eq "$ERR" "" "no progress bar when stderr is not a terminal"
run --store "$DB" scavenge --context shop --type order --dry-run
expect_rc 0 "a second dry run, with --type"
expect_eq "$OUT" "$DRY_OUT" "a second dry run reports the same: the first removed nothing"
expect_eq "$(versions "${S[@]}")" "$BEFORE_READ" "a dry run leaves the read unchanged"
run --store "$DB" head "${S[@]}"
expect_out 5 "a dry run leaves the head unchanged"

# ---- the confirmation: refused without --yes and without a terminal, before opening ----------
run --store "sqlite:$TMP/untouched.db" scavenge --context shop
expect_error 2 "scavenge without --yes and without a terminal"
expect_contains "--yes" "$ERR" "the error asks for --yes"
if [ ! -e "$TMP/untouched.db" ]; then ok; else fail "a refused scavenge created the store file"; fi
run --store "$DB" scavenge --context shop
expect_error 2 "scavenge without --yes on the store"
run --store "$DB" head "${S[@]}"
expect_out 5 "nothing truncated without --yes"

# ---- scavenge --yes: one $truncated per stream; a second run removes nothing -----------------
run --store "$DB" scavenge --context shop --yes
expect_rc 0 "scavenge --yes"
expect_eq "$OUT" "{\"stream\":\"$STREAM_S\",\"removed_from\":1,\"before\":5,\"events\":4,\"dry_run\":false}
{\"streams_examined\":1,\"streams_truncated\":1,\"events_removed\":4,\"streams_busy\":0,\"dry_run\":false}" \
  "scavenge's lines"
expect_eq "$ERR" "" "nothing on stderr"
run --store "$DB" head "${S[@]}"
expect_out 6 "the \$truncated event is the head"
run --store "$DB" stream retention "${ORDER[@]}" --clear
expect_rc 0 "clear after the scavenge"
expect_eq "$(versions "${S[@]}")" "5 Note
6 \$truncated" "the scavenged events are gone for good: clearing the policy does not bring them back"
run --store "$DB" stream retention "${ORDER[@]}" --max-count 2
expect_rc 0 "set --max-count 2 once more"
expect_eq "$(versions "${INVOICE[@]}" | wc -l | tr -d ' ')" 3 "a type without a policy is not scavenged"
run --store "$DB" scavenge --context shop --yes
expect_rc 0 "a second scavenge"
expect_out '\{"streams_examined":1,"streams_truncated":0,"events_removed":0,"streams_busy":0,"dry_run":false\}' \
  "a second scavenge removes nothing"
run --store "$DB" head "${S[@]}"
expect_out 6 "and appends nothing"
run --store "$DB" scavenge --context nowhere --yes
expect_out '\{"streams_examined":0,"streams_truncated":0,"events_removed":0,"streams_busy":0,"dry_run":false\}' \
  "a context without policies: nothing to do"

# ---- the question on a terminal ---------------------------------------------------------------
if command -v script >/dev/null; then
  append_notes 3 "${S[@]}"
  answer() {  # answer WORD: scavenge on a terminal (script(1)), WORD typed at the question
    printf '%s\n' "$1" | script -qec "$(printf '%q ' "$EVENTSTORE" --store "$DB" scavenge --context shop)" /dev/null \
      >"$TMP/tty" 2>&1
    RC=$?
  }
  answer n
  expect_rc 1 "answering n"
  expect_contains "Scavenge context 'shop'" "$(cat "$TMP/tty")" "the question names the context"
  expect_contains "nothing done" "$(cat "$TMP/tty")" "answering n does nothing"
  run --store "$DB" head "${S[@]}"
  expect_out 9 "nothing truncated after n"
  answer y
  expect_rc 0 "answering y"
  expect_contains '"streams_truncated":1' "$(cat "$TMP/tty")" "truncated after y"
  run --store "$DB" head "${S[@]}"
  expect_out 10 "the \$truncated event after y"
else
  echo "SKIPPED: the confirmation on a terminal (script(1) from util-linux is not installed)"
fi

finish cli_retention_test

#!/usr/bin/env bash
# eventstore subject forget (docs/erasure.md, docs/cli.md) on sqlite: files: refuses without --yes
# when stdin is not a terminal (nothing written), then hard-deletes the subject's key stream and
# prints one JSON line: key_deleted for a subject with a key, no_key for one without,
# already_forgotten the second time. The key stream's id is the name-based UUID (v5) of the
# subject id; afterwards no key can be appended to it (exit code 7).
#   tests/cli/cli_subject_test.sh path/to/eventstore
set -u
# shellcheck source=tests/lib/cli_helpers.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/cli_helpers.sh"
EVENTSTORE=$(executable_path cli_subject_test "${1:?usage: cli_subject_test.sh path/to/eventstore}") || exit 1
enter_temp_dir
clear_store_environment

command -v python3 >/dev/null || { echo "FAIL: python3 is needed to read the JSON line" >&2; exit 1; }
field() { python3 -c 'import json, sys; j = json.loads(sys.argv[1]); print(json.dumps(eval(sys.argv[2])))' "$OUT" "$1"; }
expect_field() {  # expect_field EXPR JSON DESCRIPTION
  expect_eq "$(field "$1" 2>&1)" "$2" "$3 ($1)"
}
# The key stream's aggregate id of a subject (include/eventstore/personal_data.h).
key_id() { python3 -c 'import sys, uuid; print(uuid.uuid5(uuid.UUID("4f1c2e8a-935b-4d27-a60e-71c43d95b802"), sys.argv[1]))' "$1"; }
STORE="sqlite:$TMP/store.db"
# shellcheck disable=SC2016  # the context's name, '$' and all
KEYS='$subject_keys'

# ---- help and usage ----------------------------------------------------------------------------
run subject forget --help
expect_rc 0 "subject forget --help"
expect_contains "Example" "$OUT" "subject forget --help shows an example"
expect_contains "--yes" "$OUT" "subject forget --help explains --yes"
run --help
expect_contains "subject" "$OUT" "eventstore --help lists subject"
run --store "$STORE" subject
expect_error 2 "subject without a command"
run --store "$STORE" subject forget
expect_error 2 "subject forget without --subject"
run --store "$STORE" subject forget --subject ""
expect_error 2 "an empty subject"

# Not a terminal and no --yes: refused before the store is opened.
run --store "$STORE" subject forget --subject ada
expect_error 2 "forget without --yes, stdin not a terminal"
expect_contains "--yes" "$ERR" "the refusal names --yes"
if [ -e "$TMP/store.db" ]; then fail "a refused forget created the store"; else ok; fi

# ---- forget --------------------------------------------------------------------------------------
ADA=$(key_id ada)
run --store "$STORE" append --context "$KEYS" --type subject_key --id "$ADA" --expected-version no-stream \
  --event subject_key --data '{"subject":"ada","kek":"0000000000000000","wrapped":"AAAA"}'
expect_rc 0 "a key for ada"

run --store "$STORE" subject forget --subject ada --yes
if [ "$RC" = 2 ] && [[ "$ERR" == *"lifecycle"* ]]; then
  echo "cli_subject_test: SKIP the forget itself: this build's sqlite: has no hard delete yet ($ERR)"
  finish cli_subject_test
  exit $?
fi
expect_rc 0 "forget ada"
expect_field 'j["subject"], j["outcome"], j["key_stream"]' "[\"ada\", \"key_deleted\", \"$KEYS/subject_key/$ADA\"]" \
  "forget ada"
expect_contains "hard-deleted at version 2" "$OUT" "forget ada says where"

run --store "$STORE" read --context "$KEYS" --type subject_key --id "$ADA"
expect_rc 0 "read ada's key stream"
expect_lacks '"wrapped"' "$OUT" "ada's key is gone"
# shellcheck disable=SC2016  # a literal '$'
expect_contains '"$hard-deleted"' "$OUT" "ada's key stream reads as its hard delete"

run --store "$STORE" append --context "$KEYS" --type subject_key --id "$ADA" --expected-version any \
  --event subject_key --data '{"subject":"ada","kek":"0000000000000000","wrapped":"AAAA"}'
expect_error 7 "no new key for a forgotten subject"

run --store "$STORE" subject forget --subject ada --yes
expect_rc 0 "forget ada again"
expect_field 'j["outcome"]' '"already_forgotten"' "forget ada again"

run --store "$STORE" subject forget --subject "bob@nowhere" --yes
expect_rc 0 "forget a subject without a key"
expect_field 'j["outcome"], j["key_stream"]' "[\"no_key\", \"$KEYS/subject_key/$(key_id 'bob@nowhere')\"]" \
  "forget a subject without a key"

finish cli_subject_test

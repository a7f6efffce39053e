# shellcheck shell=bash
# The shared preamble of the end-to-end test scripts (tests/cli/*.sh, tests/examples/*.sh, tests/scylla/*.sh),
# sourced after `set -u`. A test counts its checks with `ok` and `fail`, runs the binary under test with `run`,
# and ends with `finish NAME`, whose status is the test's (0 when no check failed).
#
#   executable_path NAME PATH   the absolute path of the executable PATH (the tests cd away), or exit 1
#   make_temp_dir               a fresh $TMP; at exit the processes in BACKGROUND are killed, `test_cleanup` runs
#                               when the test defines one, and $TMP is removed
#   enter_temp_dir              make_temp_dir, and $TMP the current directory from then on
#   clear_store_environment     unsets the variables the CLI reads a store and its cluster settings from
#   run ARGS...                 "$EVENTSTORE" ARGS, stdin from $STDIN_FILE (default /dev/null); sets RC, OUT, ERR
#   expect_* ...                one check each (see each function)

FAILURES=0
CHECKS=0
BACKGROUND=()

fail() {
  FAILURES=$((FAILURES + 1))
  echo "FAIL: $*" >&2
}
ok() { CHECKS=$((CHECKS + 1)); }

executable_path() {  # executable_path NAME PATH
  [ -x "$2" ] || { echo "$1: $2 is not an executable" >&2; exit 1; }
  echo "$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"
}

cli_helpers_cleanup() {
  local pid
  for pid in "${BACKGROUND[@]}"; do kill "$pid" 2>/dev/null; done
  if declare -F test_cleanup >/dev/null; then test_cleanup; fi
  rm -rf "$TMP"
}
make_temp_dir() {
  TMP=$(mktemp -d)
  trap cli_helpers_cleanup EXIT
}
enter_temp_dir() {
  make_temp_dir
  cd "$TMP" || exit 1
}

clear_store_environment() {
  unset EVENTSTORE_STORE SCYLLA_HOSTS SCYLLA_USERNAME SCYLLA_PASSWORD SCYLLA_KEYSPACE SCYLLA_CA_FILE \
    SCYLLA_HOSTSELECTIONPOLICY
}

run() {  # run [ARGS...]: the CLI; sets RC, OUT, ERR. Reads stdin from $STDIN_FILE when set.
  "$EVENTSTORE" "$@" <"${STDIN_FILE:-/dev/null}" >"$TMP/out" 2>"$TMP/err"
  RC=$?
  OUT=$(cat "$TMP/out")
  ERR=$(cat "$TMP/err")
}

expect_rc() {  # expect_rc CODE DESCRIPTION
  if [ "$RC" = "$1" ]; then ok; else fail "$2: exit code $RC, want $1 (stderr: $ERR)"; fi
}
expect_out() {  # expect_out REGEX DESCRIPTION: the whole stdout matches
  if [[ "$OUT" =~ ^$1$ ]]; then ok; else fail "$2: stdout '$OUT' does not match '$1'"; fi
}
expect_contains() {  # expect_contains TEXT HAYSTACK DESCRIPTION
  if [[ "$2" == *"$1"* ]]; then ok; else fail "$3: '$2' lacks '$1'"; fi
}
expect_lacks() {  # expect_lacks TEXT HAYSTACK DESCRIPTION
  if [[ "$2" != *"$1"* ]]; then ok; else fail "$3: '$2' holds '$1'"; fi
}
expect_eq() {  # expect_eq GOT WANT DESCRIPTION
  if [ "$1" = "$2" ]; then ok; else fail "$3:"$'\n'"--- got:"$'\n'"$1"$'\n'"--- want:"$'\n'"$2"; fi
}
expect_error() {  # expect_error CODE DESCRIPTION: that exit code, one error line, empty stdout
  expect_rc "$1" "$2"
  if [ "$(printf '%s\n' "$ERR" | wc -l)" = 1 ] && [[ "$ERR" == "eventstore: error: "* ]]; then ok
  else fail "$2: stderr is not one 'eventstore: error:' line: '$ERR'"; fi
  if [ -z "$OUT" ]; then ok; else fail "$2: stdout not empty: '$OUT'"; fi
}

finish() {  # finish NAME: the summary line; the status is the test's
  echo "$1: $CHECKS checks passed, $FAILURES failed"
  [ "$FAILURES" = 0 ]
}

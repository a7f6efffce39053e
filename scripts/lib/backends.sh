# shellcheck shell=bash
# Which store backends a build of the eventstore CLI has, read from its --version line:
#   eventstore <version> (backends: memory, sqlite, scylla)
# (`scylla` only when it was built with EVENTSTORE_WITH_SCYLLA=ON). Sourced by scripts/reliability, bench/run and
# the tests; tests/lib/backends_test.sh checks it against fake binaries.
#
#   has_backend EVENTSTORE NAME   status 0 when EVENTSTORE lists NAME; 1 when it does not, or its --version line
#                                 is not of that form (an older binary, or not the CLI)

has_backend() {
  local line names pattern='^eventstore [^ ]+ \(backends: ([a-z0-9_]+(, [a-z0-9_]+)*)\)$'
  line=$("$1" --version 2>/dev/null | head -n 1) || return 1
  [[ $line =~ $pattern ]] || return 1
  names=", ${BASH_REMATCH[1]}, "
  [[ $names == *", $2, "* ]]
}

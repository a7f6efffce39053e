#!/usr/bin/env bash
# has_backend (scripts/lib/backends.sh) against fake eventstore binaries: each prints one --version line.
#   tests/lib/backends_test.sh
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib/backends.sh
source "$here/../../scripts/lib/backends.sh"
# shellcheck source=tests/lib/cli_helpers.sh
source "$here/cli_helpers.sh"
make_temp_dir

fake() {  # fake NAME VERSION_LINE: an executable printing VERSION_LINE for --version
  # shellcheck disable=SC2016  # $1 belongs to the fake script, not to this one
  printf '#!/bin/sh\n[ "$1" = --version ] && printf "%%s\\n" "%s"\n' "$2" >"$TMP/$1"
  chmod +x "$TMP/$1"
}
expect_backend() {  # expect_backend FAKE NAME WANT(yes|no)
  local got=no
  has_backend "$TMP/$1" "$2" && got=yes
  expect_eq "$got" "$3" "has_backend $1 $2"
}

fake full 'eventstore 0.1.0 (backends: memory, sqlite, scylla)'
fake no-cluster 'eventstore 0.1.0 (backends: memory, sqlite)'
fake older 'eventstore 0.1.0'
fake other 'history-check 0.1.0 (backends: memory, sqlite, scylla)'
fake prefix 'eventstore 0.1.0 (backends: memory, sqlite, scylladb)'
expect_backend full scylla yes
expect_backend full memory yes
expect_backend full sqlite yes
expect_backend no-cluster scylla no
expect_backend no-cluster sqlite yes
expect_backend older scylla no
expect_backend other scylla no
expect_backend prefix scylla no
expect_backend missing scylla no

finish backends_test

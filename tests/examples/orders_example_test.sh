#!/usr/bin/env bash
# The orders example end to end: its order, and its read model fed from the feed exactly once
# (examples/orders/customer_revenue.h): totals equal what the example appended, on memory:, on
# a sqlite: store run twice (the read model resumes from its position), after the read model is
# deleted (rebuilt from position 0), and refused with a store it was not built from.
#   tests/examples/orders_example_test.sh path/to/orders_example
set -u
# shellcheck source=tests/lib/cli_helpers.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/cli_helpers.sh"
EXAMPLE=${1:?usage: orders_example_test.sh path/to/orders_example}
EXAMPLE=$(cd "$(dirname "$EXAMPLE")" && pwd)/$(basename "$EXAMPLE")
enter_temp_dir

check() {  # check DESCRIPTION EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then ok; else
    FAILURES=$((FAILURES + 1))
    printf 'FAIL: %s\n  expected: %s\n  actual:   %s\n' "$1" "$2" "$3" >&2
  fi
}
run() {  # run ARGS...: sets RC and OUT
  OUT=$("$EXAMPLE" "$@" 2>"$TMP/err")
  RC=$?
}
line() { printf '%s\n' "$OUT" | grep -E "$1"; }
# The read model's rows, spaces squeezed.
rows() { printf '%s\n' "$OUT" | grep '@example.com ' | tr -s ' '; }

# One run appends 36 events: the first order (7), three orders before the catch-up (10), six
# placed by the writer thread while the read model follows (19). Per run, per customer:
# orders, cancelled, revenue.
expected_rows() {  # expected_rows RUNS
  local n=$1
  printf 'dee@example.com %d 0 %s\nbob@example.com %d 0 %s\nada@example.com %d %d %s\ncy@example.com %d %d %s\n' \
    $((2 * n)) "$(cents $((10997 * n)))" $((3 * n)) "$(cents $((9459 * n)))" \
    $((3 * n)) "$n" "$(cents $((5443 * n)))" $((2 * n)) "$n" "$(cents $((1950 * n)))"
}
cents() { printf '%d.%02d' $(($1 / 100)) $(($1 % 100)); }

# ---- memory: ---------------------------------------------------------------------------------
run memory:
check "memory: exit code" 0 "$RC"
check "memory: refused command" "refused as expected: only a paid order can be shipped" "$(line '^refused')"
check "memory: feed before the catch-up" "feed of 'shop': head 17; read model in memory at position 0" "$(line '^feed of')"
check "memory: catch-up" "caught up: 17 events applied, now at position 17" "$(line '^caught up')"
check "memory: live" "19 events applied, now at position 36" \
  "$(line '^followed live' | sed -E 's/followed live: ([0-9]+ events applied).* now at/\1, now at/')"
check "memory: read model" "$(expected_rows 1)" "$(rows)"
check "memory: position" "read model at position 36 of feed head 36" "$(line '^read model at')"

# ---- sqlite: twice, then rebuilt ----------------------------------------------------------------
run "sqlite:$TMP/orders.db"
check "sqlite first run: exit code" 0 "$RC"
check "sqlite: read model next to the store" "feed of 'shop': head 17; read model $TMP/orders_read_model.db at position 0" \
  "$(line '^feed of')"
check "sqlite first run: read model" "$(expected_rows 1)" "$(rows)"
[ -f "$TMP/orders_read_model.db" ]
check "sqlite: the read model file exists" 0 $?

run "sqlite:$TMP/orders.db"
check "sqlite second run: exit code" 0 "$RC"
check "sqlite second run: resumes at the first run's position" \
  "feed of 'shop': head 53; read model $TMP/orders_read_model.db at position 36" "$(line '^feed of')"
check "sqlite second run: catch-up applies only the new events" "caught up: 17 events applied, now at position 53" \
  "$(line '^caught up')"
check "sqlite second run: read model (nothing applied twice)" "$(expected_rows 2)" "$(rows)"
check "sqlite second run: position" "read model at position 72 of feed head 72" "$(line '^read model at')"

rm "$TMP/orders_read_model.db"
run "sqlite:$TMP/orders.db"
check "rebuilt: exit code" 0 "$RC"
check "rebuilt: catch-up from position 0" "caught up: 89 events applied, now at position 89" "$(line '^caught up')"
check "rebuilt: read model" "$(expected_rows 3)" "$(rows)"

# An explicit read model path; and a read model is refused with a store it was not built from.
run "sqlite:$TMP/other.db" "$TMP/custom.db"
check "explicit read model path" "feed of 'shop': head 17; read model $TMP/custom.db at position 0" "$(line '^feed of')"
run memory: "$TMP/orders_read_model.db"
check "read model of another store: exit code" 1 "$RC"
if grep -q "past the feed's head" "$TMP/err"; then ok; else fail "read model of another store: $(cat "$TMP/err")"; fi

finish orders_example_test

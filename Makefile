# The two commands of the quick start:
#   make run    install what is missing, build, run the demo on the embedded store
#   make test   install, lint, build, start a Cassandra node unless SCYLLA_HOSTS is set, run every test
# Working on the code (docs/contributing.md):
#   make lint     shellcheck, clang-format, clang-tidy, rustfmt, clippy (scripts/lint); fails on any finding
#   make format   clang-format -i on the tracked C++ files and cargo fmt on the Rust crate
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: all deps build run test test-unit lint format bench bench-quick clean

all: build

deps:
	@scripts/install-deps

build: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DEVENTSTORE_WERROR=ON >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	$(BUILD_DIR)/bin/eventstore --store sqlite:eventstore.db demo

test: deps
	@scripts/install-deps --cluster
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory build
	@scripts/run-tests $(BUILD_DIR)

lint:
	@scripts/install-deps --lint
	@JOBS=$(JOBS) scripts/lint

format:
	@scripts/install-deps --lint
	@scripts/lint format

# Only the tests that need no cluster.
test-unit: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)

clean:
	rm -rf $(BUILD_DIR)

# ---- Reliability (docs/RELIABILITY.md) -------------------------------------------------------
#   make test-sanitize   the test suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   make reliability     history checks (with the feed), SQLite kill -9 loops, fuzzers, three-node fault runs (and the feed
#                        under relay and node faults), auth/TLS
#   make fuzz            only the fuzzers, FUZZ_SECONDS (default 60) each
ASAN_BUILD_DIR ?= build-asan
# The scylla:// backend links a Rust static library; the sanitized build leaves it out unless
# SANITIZE_SCYLLA=ON (the Rust code is not instrumented either way).
SANITIZE_SCYLLA ?= OFF
# package.install_and_consume is left out: it links an uninstrumented consumer against the
# instrumented library, which the ASan runtime refuses.
SANITIZE_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
FUZZ_SECONDS ?= 60
export FUZZ_SECONDS

.PHONY: test-sanitize reliability fuzz

test-sanitize: deps
	@cmake -S . -B $(ASAN_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DEVENTSTORE_WITH_SCYLLA=$(SANITIZE_SCYLLA) "-DCMAKE_CXX_FLAGS=$(SANITIZE_FLAGS)" \
	  "-DCMAKE_EXE_LINKER_FLAGS=$(SANITIZE_FLAGS)" "-DCMAKE_SHARED_LINKER_FLAGS=$(SANITIZE_FLAGS)" >/dev/null
	@cmake --build $(ASAN_BUILD_DIR) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD_DIR) --output-on-failure -j $(JOBS) --timeout 900 -E "^package\\."

reliability: build
	@scripts/install-deps --cluster --fuzz
	@BUILD_DIR=$(BUILD_DIR) scripts/reliability all

fuzz:
	@scripts/install-deps --fuzz
	@BUILD_DIR=$(BUILD_DIR) scripts/reliability fuzz

# ---- Benchmarks (docs/BENCHMARKS.md) ---------------------------------------------------------
#   make bench         the full suite; rewrites docs/BENCHMARKS.md and docs/bench/*.png
#   make bench-quick   a sanity run (< 3 min); writes build/bench/quick/BENCHMARKS.md
# Both start a local Cassandra node unless SCYLLA_HOSTS is set or one runs (and stop it after).
bench: build
	@BUILD_DIR=$(BUILD_DIR) bench/run

bench-quick: build
	@BUILD_DIR=$(BUILD_DIR) bench/run --quick

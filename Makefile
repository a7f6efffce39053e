# The two commands of the quick start:
#   make run    install what is missing, build, run the demo on the embedded store
#   make test   install, build, start a Cassandra node unless SCYLLA_HOSTS is set, run every test
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: all deps build run test test-unit bench bench-quick clean

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
	@$(MAKE) --no-print-directory build
	@scripts/run-tests $(BUILD_DIR)

# Only the tests that need no cluster.
test-unit: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)

clean:
	rm -rf $(BUILD_DIR)

// What the bench driver sends requests to: the store through its public asynchronous API, or
// the raw ceilings (docs/BENCHMARKS.md).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "bench.h"
#include "bench_core.h"

namespace eventstore_cli::bench {

// Issues requests; each completes exactly once by a push to the Sink given at construction,
// from any thread. Used from one thread.
class AsyncTarget {
 public:
  virtual ~AsyncTarget() = default;
  // A new, empty stream; returns its handle.
  virtual std::size_t add_stream() = 0;
  // Appends the bench's events to `stream`, expecting it at version `expected`.
  virtual void append(std::size_t stream, std::int64_t expected, std::uint32_t slot) = 0;
  // Reads the latest `events` events of `stream` (backward).
  virtual void read(std::size_t stream, std::uint64_t events, std::uint32_t slot) = 0;
};

// The store of `uri`, through open_store and EventStore::append_async / read.
std::unique_ptr<AsyncTarget> make_store_target(const std::string& uri, const BenchArgs& args, Sink& sink);
// scylla://: the same CQL through the Rust bridge, without the store (src/scylla/raw_bench.h).
std::unique_ptr<AsyncTarget> make_raw_scylla_target(const std::string& uri, const BenchArgs& args, Sink& sink);

// `--blocking`: `concurrency` threads, each calling the store's blocking append() (or reads)
// in a loop over its own streams.
RunResult run_blocking(const std::string& uri, const BenchArgs& args, Progress& progress);

// sqlite: a plain loop of the same transactions, `concurrency` threads with a connection each.
RunResult run_raw_sqlite(const std::string& uri, const BenchArgs& args, Progress& progress);

// bench load.
int run_load(const std::string& uri, const BenchArgs& args);

// bench feed (bench_feed.cc): exit 1 when an acknowledged event was never delivered.
int run_feed(const std::string& uri, BenchArgs& args);

// bench long (bench_long.cc): its subcommand of `bench`, and its run.
void add_long_command(CLI::App* bench, BenchArgs& args);
int run_long(const std::string& uri, const BenchArgs& args);

// JSON text of about `size` bytes: {"seq":N,"pad":"xxx..."}.
std::string payload(std::uint64_t size, std::uint64_t seed);

}  // namespace eventstore_cli::bench

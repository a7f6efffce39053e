// eventstore bench: append, mixed and aggregate-load benchmarks on any store URI, and the raw
// ceilings they are compared with (docs/BENCHMARKS.md).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}
namespace eventstore {
class MetricsSink;
}

namespace eventstore_cli {

struct BenchArgs {
  std::string mode;  // "append", "mixed", "load", "feed" or "long"
  // append / mixed
  std::uint64_t streams = 0;       // 0: as many as --concurrency
  std::uint64_t concurrency = 16;  // requests in flight, all issued from one thread (or --blocking)
  std::uint64_t events_per_append = 1;
  std::uint64_t event_size = 100;  // bytes of JSON data per event
  double duration_s = 10;
  std::optional<std::uint64_t> ops;  // stop after this many measured operations instead
  double warmup_s = 2;
  double read_ratio = 0.5;         // mixed: share of reads
  std::uint64_t read_events = 10;  // mixed: a read returns the stream's latest N events
  bool raw = false;                // the ceiling: the same work without the store's layers
  bool blocking = false;           // --concurrency threads calling the blocking API instead
  std::string shape = "store";     // --raw on a cluster: "store" or "seed" (RawShape)
  std::vector<int> server_pids;    // local server processes whose CPU time is measured too
  // load
  std::vector<std::int64_t> lengths{10, 100, 1000, 10000, 100000};
  std::int64_t snapshot_every = 100;
  std::uint64_t repeats = 20;
  double max_point_s = 20;  // per stream length and mode
  std::uint64_t populate_batch = 500;
  std::uint64_t page_size = 1000;
  // load: also replay every stream with this page size, alternating with --page-size (0: no)
  std::uint64_t compare_page_size = 0;
  // long (also --snapshot-every, --populate-batch, --page-size, --event-size; bench_long.cc)
  std::vector<std::int64_t> long_lengths{1000, 1000000};
  std::uint64_t rounds = 5;
  std::uint64_t head_appends = 100;
  std::uint64_t tail_reads = 20;
  std::optional<std::uint64_t> id_seed;
  // feed (also --concurrency, --event-size, --duration-s, --warmup-s, --page-size)
  std::optional<double> rate;  // delivery phase events/s; default half the measured ceiling
  // append / mixed, on the store (not --raw): its metrics sink (metrics_listen.h). --metrics-listen
  // serves it; --metrics only aggregates (the cost of a sink, against none). Set by run_bench.
  std::optional<std::string> metrics_listen;
  bool metrics = false;
  std::shared_ptr<eventstore::MetricsSink> metrics_sink;
  // output
  bool json = false;
  bool quiet = false;
};

// Registers `bench append|mixed|load|feed|long` on `app`; returns the bench command.
CLI::App* add_bench_command(CLI::App& app, BenchArgs& args);
// Runs the subcommand that was selected on the command returned by add_bench_command.
int run_bench(const std::string& uri, BenchArgs& args, const CLI::App& bench);

}  // namespace eventstore_cli

// Requests from threads of their own, one in flight per thread, each calling a blocking API in
// a loop: the form of the raw SQLite ceiling and of `bench append --blocking`.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "bench.h"
#include "bench_core.h"

namespace eventstore_cli::bench {

// One thread's loop over its own streams, round robin.
class ThreadLoop {
 public:
  virtual ~ThreadLoop() = default;
  virtual void add_stream() = 0;

  // Runs until `phase` is 2; counts and times the operations that end in phase 1.
  void run(const BenchArgs& args, const std::atomic<int>& phase, std::atomic<std::uint64_t>& measured,
           std::uint64_t seed);

  RunResult result;

 protected:
  using enum Outcome;
  virtual std::size_t stream_count() const = 0;
  virtual Outcome append(std::size_t stream) = 0;  // the bench's events, at the stream's version
  virtual Outcome read(std::size_t stream) = 0;    // the stream's latest events, backward
  const char* error_kind_ = "unavailable";         // the kind of the last kFailed
};

// Starts one thread per loop, measures after the warm-up, stops after the duration or the
// operation count, and merges the loops' results.
RunResult run_thread_loops(std::vector<std::unique_ptr<ThreadLoop>>& loops, const BenchArgs& args, Progress& progress);

}  // namespace eventstore_cli::bench

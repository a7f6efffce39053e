#include "bench_threads.h"

#include <cstdio>
#include <random>
#include <thread>

namespace eventstore_cli::bench {

void ThreadLoop::run(const BenchArgs& args, const std::atomic<int>& phase, std::atomic<std::uint64_t>& measured,
                     std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::size_t next = 0;
  while (phase.load(std::memory_order_relaxed) < 2) {
    const std::size_t stream = next;
    next = (next + 1) % stream_count();
    const bool is_read = args.mode == "mixed" && std::uniform_real_distribution<double>(0, 1)(rng) < args.read_ratio;
    const Clock::time_point start = Clock::now();
    const Outcome outcome = is_read ? read(stream) : append(stream);
    const Clock::time_point end = Clock::now();
    if (phase.load(std::memory_order_relaxed) != 1) continue;
    const auto ns =
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count());
    if (outcome == kApplied) {
      ++result.ops;
      result.all.record(ns);
      if (is_read) {
        ++result.reads;
        result.read_latency.record(ns);
      } else {
        result.events += args.events_per_append;
        result.appends.record(ns);
      }
      measured.fetch_add(1, std::memory_order_relaxed);
    } else if (outcome == kConflict) {
      ++result.conflicts;
    } else {
      ++result.errors[error_kind_];
    }
  }
}

RunResult run_thread_loops(std::vector<std::unique_ptr<ThreadLoop>>& loops, const BenchArgs& args, Progress& progress) {
  const std::uint64_t streams = args.streams ? args.streams : args.concurrency;
  for (std::uint64_t s = 0; s < streams; ++s) loops[s % loops.size()]->add_stream();
  std::atomic<int> phase{args.warmup_s > 0 ? 0 : 1};
  std::atomic<std::uint64_t> measured{0};

  RunResult result;
  const Clock::time_point start = Clock::now();
  const auto warm = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(args.warmup_s));
  const auto duration = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(args.duration_s));
  Clock::time_point window_start = start;
  if (phase.load() == 1) result.cpu_before = Usage::now();
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < loops.size(); ++i)
    threads.emplace_back([&, i] { loops[i]->run(args, phase, measured, 0x5eed + i); });
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const Clock::time_point now = Clock::now();
    if (phase.load() == 0) {
      if (now >= start + warm) {
        result.cpu_before = Usage::now();
        window_start = Clock::now();
        phase.store(1);
      } else {
        progress.update("warm-up", std::chrono::duration<double>(now - start) / std::chrono::duration<double>(warm),
                        "");
      }
      continue;
    }
    const std::uint64_t n = measured.load(std::memory_order_relaxed);
    if (args.ops ? n >= *args.ops : now >= window_start + duration) {
      phase.store(2);
      result.cpu_after = Usage::now();
      result.window_s = seconds(Clock::now() - window_start);
      result.threads = thread_count();
      break;
    }
    const double fraction = args.ops ? static_cast<double>(n) / static_cast<double>(*args.ops)
                                     : seconds(now - window_start) / args.duration_s;
    char detail[96];
    std::snprintf(detail, sizeof detail, "%llu ops  %.0f ops/s  %zu threads", static_cast<unsigned long long>(n),
                  static_cast<double>(n) / std::max(1e-9, seconds(now - window_start)), loops.size());
    progress.update("run", fraction, detail);
  }
  for (std::thread& t : threads) t.join();
  progress.finish();
  for (const auto& loop : loops) {
    const RunResult& r = loop->result;
    result.ops += r.ops;
    result.events += r.events;
    result.reads += r.reads;
    result.all.merge(r.all);
    result.appends.merge(r.appends);
    result.read_latency.merge(r.read_latency);
    result.conflicts += r.conflicts;
    for (const auto& [kind, n] : r.errors) result.errors[kind] += n;
  }
  result.max_in_flight = loops.size();
  return result;
}

}  // namespace eventstore_cli::bench

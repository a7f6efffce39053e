// The writers of a history-check run: threads that append to the plan's streams with real
// expected versions, now and then truncate or delete one (--lifecycle-rate), and record every
// attempt (see history.h).
//
// Thread safety: run_workload starts and joins its own threads; the store must be thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "history.h"

namespace historycheck {

struct WorkloadConfig {
  int threads = 4;
  int process = 0;                   // this process's index (part of every op id)
  std::optional<std::uint64_t> ops;  // logical appends to start in all (this process)
  double duration_s = 10;            // stop starting appends after this long
  std::uint64_t seed = 1;
  bool retry_unknown = false;            // retry an unknown outcome with the same ids until resolved
  int max_retries = 100;                 // attempts per append when retrying unknowns
  double retry_grace_s = 60;             // how long after the deadline unknowns may still be retried
  double read_check_probability = 0.25;  // after an ack, read head and the appended range
  int max_events = 3;                    // events per append: 1..max_events
  double async_probability = 0.5;        // use append_async instead of the blocking append
  double read_head_probability = 0.5;    // read head first even when a version is known
  double stale_probability = 0.05;       // expect one version too few on purpose (a sure conflict)
  // Lifecycle changes (docs/lifecycle.md) instead of appends, this share of the operations:
  // hard_delete_share hard deletes (only on the hard-deletable streams, the last quarter of them
  // when there are two or more: elsewhere a truncate), 20 % soft deletes, the rest truncates, at an
  // exact expected version (any() for one in five). The lightly truncated streams (the first half)
  // get only truncates of their older half, so that their final read keeps about half of what was
  // acknowledged. A writer that learned a stream is hard-deleted writes to it again only with
  // probability dead_probe_probability.
  double lifecycle_rate = 0;
  double hard_delete_share = 0.05;
  double dead_probe_probability = 0.05;
  // Called (from the writer threads, at once) with each attempt just before its append is sent
  // (outcome kUnknown: what stays if the process dies now) and again with its outcome, so a
  // writer process killed mid-append leaves a history (main.cc writes them as JSON lines).
  std::function<void(const Attempt&)> on_record;
};

struct WorkloadStats {
  std::atomic<std::uint64_t> head_errors{0};
};

// The streams of the plan that only get truncates of their older half: the first n / 2 of n.
bool lightly_truncated(std::size_t stream, std::size_t streams);

// The streams of the plan a hard delete may be made on: the last max(1, n / 4) of n >= 2 streams.
bool hard_deletable(std::size_t stream, std::size_t streams);

std::vector<Attempt> run_workload(eventstore::Store& store, const Plan& plan, const WorkloadConfig& config,
                                  WorkloadStats& stats);

}  // namespace historycheck

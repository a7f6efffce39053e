// history-check's command line: the options of a run, their defaults and limits, and what they
// mean for the writers (docs/RELIABILITY.md; scripts/reliability and tests/reliability call it).
//
// Invariants: parse_options answers only Options within the documented limits.
// Errors: parse_options prints a usage error on stderr and answers exit code 2 (0 after --help,
// printed on stdout); usage_error prints one and answers 2.
// Thread safety: single-threaded (main, before any thread starts).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "workload.h"

namespace historycheck {

struct Options {
  std::string store = "memory:";
  int threads = 4;
  int processes = 1;
  std::size_t streams = 4;
  double duration_s = 10;
  std::optional<std::uint64_t> ops;
  bool retry_unknown = false;
  double read_check = 0.25;
  int max_events = 3;
  double stale = 0.05;
  double lifecycle_rate = 0.03;
  std::optional<std::uint64_t> seed;
  double final_read_retry_s = 60;
  std::optional<std::uint64_t> min_acked;
  bool expect_unavailable = false;
  bool json = false;
  std::string history_out;
  bool self_test = false;
  bool quiet = false;
  std::string context;
  int feed_readers = -1;  // -1: 2 when the store keeps a feed
  std::optional<double> feed_settle_s;
  std::uint32_t feed_page = 64;
  double feed_kill = 0.03;
  bool writers_may_die = false;
  std::string writer_pids;
};

// Parses argv into `options`. Answers nothing when the run should go on, else the exit code to
// end with at once.
std::optional<int> parse_options(int argc, char** argv, Options& options);

// Prints "history-check: MESSAGE" and where to look on stderr; answers exit code 2.
int usage_error(const std::string& message);

// The writers' configuration for writer process `process` (0 when the writers are threads of
// this process): --ops split between the processes, a seed of its own.
WorkloadConfig workload_config(const Options& options, int process);

}  // namespace historycheck

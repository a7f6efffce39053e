// history-check's writer processes (--processes P): a supervisor process starts P writer
// processes, each running the workload and writing every attempt to a file of its own as it goes,
// replaces writers killed by SIGKILL (--writers-may-die), and the main process merges their files
// into one history once the supervisor has exited.
//
// Invariants: the supervisor is forked before the main process opens a store or starts a thread
// (it forks writers at any time, which is only safe in a single-threaded process).
// Errors: fork_supervisor answers -1 when fork(2) fails (perror printed); the supervisor exits 3
// when a writer failed other than by SIGKILL with --writers-may-die, 0 otherwise;
// merge_writer_files throws std::runtime_error for a malformed record.
// Thread safety: main-thread only.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <vector>

#include "history.h"
#include "options.h"

namespace historycheck {

struct ProcessFigures {
  int writers = 0;
  int killed = 0;
  std::uint64_t in_flight_at_death = 0;  // intents without an outcome: appends the kill cut short
  std::uint64_t torn_lines = 0;
};

// Forks the supervisor of the writer processes and answers its pid (the child never returns).
pid_t fork_supervisor(const Options& options, const Plan& plan);

// Merges the writer processes' files: the last record of each (process, op, attempt) wins, so an
// intent without an outcome (the writer died mid-append) stays as an unknown outcome. Adds the
// writers' failed head reads to `head_errors`; removes the files.
std::vector<Attempt> merge_writer_files(pid_t parent, ProcessFigures& figures, std::uint64_t& head_errors);

}  // namespace historycheck

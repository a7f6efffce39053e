// The feed rows of a group commit: the events a batch inserted get the next positions of their
// contexts, in the order of the jobs (so each stream's versions in order), as rows of event_feed
// of at most kMaxFeedRowEvents events each, written in the batch's transaction.
//
// Invariants: the transaction's write lock makes the last position read inside it the file's,
// whichever process wrote it; the last positions this writer committed are remembered and
// trusted only while the file's data version shows no other connection has committed since.
// Errors: append throws what the connection throws, and kCorruption for a damaged feed head.
// Thread safety: used by one thread at a time, with the writer's connection (the committer).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sqlite/connection.h"
#include "sqlite/jobs.h"

namespace eventstore::detail {

class FeedRows {
 public:
  // Inside the batch's transaction: writes the feed rows of the appends of `batch` that
  // succeeded (results[i] is batch[i]'s).
  void append(Connection& c, const std::vector<Job>& batch, const std::vector<JobResult>& results);
  // After the COMMIT of append's rows: they are the file's last positions now.
  void committed(Connection& c);
  // After a failed COMMIT: nothing remembered can be trusted.
  void forget() { last_.clear(); }

 private:
  // The last position of each context this writer committed, valid while the file's data
  // version is version_; the positions of the transaction in progress.
  std::vector<std::pair<std::string, std::int64_t>> last_;
  std::optional<unsigned> version_;
  std::vector<std::pair<std::string, std::int64_t>> written_;
};

}  // namespace eventstore::detail

// GroupCommit commits a batch of the writer's jobs (jobs.h) on the writer's connection as one
// transaction with one SAVEPOINT per job, so that a job that fails leaves the others of its batch
// committed.
//
// Invariants: results[i] is the result of batch[i]; a job reported successful is in the file
// after commit() returns (its COMMIT succeeded); a failed job wrote nothing. The events a batch
// inserted get the next positions of their contexts' feeds in the same transaction (FeedRows).
// A lone job runs without a savepoint (its failure rolls back the transaction).
// Errors (as results, never thrown): an append's kVersionConflict, kInvalidArgument (past
// max_version), a snapshot's kInvalidArgument (above the head); a failed COMMIT fails every job:
// kOutcomeUnknown where the commit may have reached the log, else kUnavailable; any other
// exception fails the whole batch with kUnavailable ("nothing was written").
// Thread safety: a GroupCommit is used by one thread at a time: the writer's committer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "eventstore/limits.h"
#include "sqlite/connection.h"
#include "sqlite/feed_rows.h"
#include "sqlite/jobs.h"

namespace eventstore::detail {

class GroupCommit {
 public:
  // `connection` has had open_schema run on it.
  GroupCommit(std::unique_ptr<Connection> connection, const Limits& limits);

  // Commits `batch` (fills `results`, one per job). Never throws.
  void commit(std::vector<Job>& batch, std::vector<JobResult>& results);

  sqlite3* db() const { return connection_->db(); }

 private:
  void commit_batch(std::vector<Job>& batch, std::vector<JobResult>& results);
  JobResult run_job(AppendJob& job);
  JobResult run_job(SnapshotJob& job);
  JobResult run_job(CheckpointJob& job);
  Result<AppendResult> append(AppendJob& job);
  std::vector<Uuid> ids_at(const StreamId& stream, const std::string& aggregate_id, std::int64_t first, std::int64_t n);
  Result<SnapshotSaveResult> save_snapshot_row(const SnapshotJob& job);
  std::int64_t save_checkpoint_row(const CheckpointJob& job);

  std::unique_ptr<Connection> connection_;
  Limits limits_;
  FeedRows feed_rows_;
};

}  // namespace eventstore::detail

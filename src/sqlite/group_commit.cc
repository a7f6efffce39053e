// Committing a batch of jobs as one transaction (group_commit.h).
#include "sqlite/group_commit.h"

#include <utility>

#include "core/lifecycle.h"
#include "core/max_version.h"
#include "core/validation.h"
#include "sqlite/lifecycle_rows.h"
#include "sqlite/reads.h"

namespace eventstore::detail {
namespace {

// The transaction was rolled back: nothing of this batch was written.
void fail_all(const std::vector<Job>& batch, std::vector<JobResult>& results, const Error& e) {
  const Error lost(e.code() == ErrorCode::kInternal ? ErrorCode::kUnavailable : e.code(),
                   std::string(e.what()) + " (the transaction was rolled back; nothing was written)");
  results.clear();
  for (const Job& job : batch) results.push_back(failure_for(job, lost));
}

}  // namespace

GroupCommit::GroupCommit(std::unique_ptr<Connection> connection, const Limits& limits)
    : connection_(std::move(connection)), limits_(limits) {}

// commit_batch, with any other exception (e.g. bad_alloc) failing the whole batch.
void GroupCommit::commit(std::vector<Job>& batch, std::vector<JobResult>& results) {
  try {
    commit_batch(batch, results);
  } catch (const std::exception& e) {
    roll_back_quietly(*connection_);
    const Error error(ErrorCode::kUnavailable,
                      connection_->options().display + ": write failed, nothing was written: " + e.what());
    results.clear();
    for (const Job& job : batch) results.push_back(failure_for(job, error));
  }
}

// One transaction, one savepoint per job (none for a lone job); fills `results` (one per job).
void GroupCommit::commit_batch(std::vector<Job>& batch, std::vector<JobResult>& results) {
  Connection& c = *connection_;
  results.clear();
  try {
    c.run(kBegin, "begin a write transaction");
  } catch (const Error& e) {
    for (const Job& job : batch) results.push_back(failure_for(job, e));
    return;
  }
  // A lone job needs no savepoint: if it fails, the whole transaction is rolled back instead.
  const bool lone = batch.size() == 1;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    try {
      if (!lone) c.run(kSavepoint, "savepoint");
      JobResult result = std::visit([this](auto& job) { return run_job(job); }, batch[i]);
      const bool failed = std::visit([](const auto& r) { return !r.ok(); }, result);
      if (lone && failed) {
        c.run(kRollback, "roll back a failed append");
        results.push_back(std::move(result));
        return;
      }
      if (failed) c.run(kRollbackTo, "roll back a failed append");
      if (!lone) c.run(kRelease, "release savepoint");
      results.push_back(std::move(result));
    } catch (const Error& e) {
      if (sqlite3_get_autocommit(c.db())) return fail_all(batch, results, e);
      roll_back_quietly(c, lone ? "ROLLBACK" : "ROLLBACK TO job; RELEASE job");
      results.push_back(failure_for(batch[i], e));
      if (lone) return;
    }
  }
  try {
    feed_rows_.append(c, batch, results);
  } catch (const Error& e) {
    roll_back_quietly(c);
    return fail_all(batch, results, e);
  }
  const int rc = sqlite3_step(c.statement(kCommit));
  sqlite3_reset(c.statement(kCommit));
  if (rc == SQLITE_DONE) return feed_rows_.committed(c);
  feed_rows_.forget();
  Error error = c.error(rc, "commit");
  const int primary = rc & 0xff;
  // BUSY or FULL at COMMIT: nothing reached the file. Anything else (an I/O error while
  // writing the WAL) may have left the commit in the log: the outcome is unknown.
  if (primary != SQLITE_BUSY && primary != SQLITE_FULL && primary != SQLITE_NOMEM)
    error =
        Error(ErrorCode::kOutcomeUnknown, std::string(error.what()) + " (retry with the same event ids to find out)");
  roll_back_quietly(c);
  // Every job's result is void: those that succeeded were not (or maybe not) committed, and
  // a conflict may have been observed against appends of this batch that are now undone.
  const Error undone(ErrorCode::kUnavailable, std::string(error.what()));
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const ErrorCode code =
        std::visit([](const auto& r) { return r.ok() ? ErrorCode::kInternal : r.error().code(); }, results[i]);
    if (std::visit([](const auto& r) { return r.ok(); }, results[i])) {
      results[i] = failure_for(batch[i], error);
    } else if (code == ErrorCode::kVersionConflict) {
      results[i] = failure_for(batch[i], undone);
    }
  }
}

JobResult GroupCommit::run_job(AppendJob& job) { return JobResult(std::in_place_index<0>, append(job)); }
JobResult GroupCommit::run_job(SnapshotJob& job) { return JobResult(std::in_place_index<1>, save_snapshot_row(job)); }
JobResult GroupCommit::run_job(CheckpointJob& job) {
  return JobResult(std::in_place_index<2>, save_checkpoint_row(job));
}

// The memory backend's rules, inside the savepoint. Throws only SQLite errors.
Result<AppendResult> GroupCommit::append(AppendJob& job) {
  Connection& c = *connection_;
  std::string aggregate_id = job.stream.aggregate_id.to_string();
  std::int64_t head = 0;
  StreamLifecycle lifecycle;
  try {
    head = head_of(c, job.stream, aggregate_id, "read head");
    lifecycle = lifecycle_of(c, job.stream, aggregate_id);
  } catch (const Error& e) {
    return e;
  }
  const auto count = static_cast<std::int64_t>(job.events.size());
  const std::int64_t at = job.expected.is_any() ? head : job.expected.version();
  // A retry of an append that already landed returns its original result.
  const std::int64_t retry_at = job.expected.is_any() ? head - count : at;
  if (head >= retry_at + count && retry_at >= 0 &&
      is_same_append(job.events, ids_at(job.stream, aggregate_id, retry_at + 1, count)))
    return make_append_result(retry_at + 1, job.events);
  if (lifecycle.hard_deleted) return Error::stream_deleted(head, to_string(job.stream));
  if (at != head)
    return Error::conflict(head, "version conflict on " + to_string(job.stream) + ": expected " +
                                     job.expected.to_string() + ", stream is at " + std::to_string(head));
  if (job.change)
    if (std::optional<Error> invalid = lifecycle_before_error(*job.change, head + 1)) return std::move(*invalid);
  if (head + count > limits_.max_version) return past_max_version(job.stream, limits_.max_version);
  {
    Bound q(c, kInsert);
    q.stream(job.stream, aggregate_id);
    for (std::int64_t i = 0; i < count; ++i) {
      const EventData& e = job.events[static_cast<std::size_t>(i)];
      const std::string event_id = e.event_id->to_string();
      q.integer(4, head + i + 1);
      q.text(5, event_id);
      q.text(6, e.event_type);
      q.optional_text(7, e.data);
      q.integer(8, e.timestamp->time_since_epoch().count());
      q.optional_text(9, e.metadata);
      q.step("insert an event");
      sqlite3_reset(q.get());
    }
  }
  if (job.change) apply_lifecycle_change(c, job.stream, aggregate_id, *job.change, head + 1);
  job.inserted_from = head + 1;
  job.aggregate_id = std::move(aggregate_id);
  return make_append_result(head + 1, job.events);
}

std::vector<Uuid> GroupCommit::ids_at(const StreamId& stream, const std::string& aggregate_id, std::int64_t first,
                                      std::int64_t n) {
  std::vector<Uuid> ids;
  Bound q(*connection_, kIdsRange);
  q.stream(stream, aggregate_id);
  q.integer(4, first);
  q.integer(5, first + n - 1);
  while (q.step("read event ids")) {
    const std::optional<std::string> text = column_text(q.get(), 0);
    const std::optional<Uuid> id = text ? Uuid::parse(*text) : std::nullopt;
    if (!id) return {};  // a damaged id matches nothing; reads report the corruption
    ids.push_back(*id);
  }
  return ids;
}

// A stored snapshot above the head (from a restore of backups taken at different times) is
// replaced by any snapshot at or below the head: "never backwards" holds only among those.
Result<SnapshotSaveResult> GroupCommit::save_snapshot_row(const SnapshotJob& job) {
  Connection& c = *connection_;
  const std::string aggregate_id = job.stream.aggregate_id.to_string();
  std::int64_t head = 0;
  try {
    head = head_of(c, job.stream, aggregate_id, "read head");
  } catch (const Error& e) {
    return e;
  }
  if (lifecycle_of(c, job.stream, aggregate_id).hard_deleted) return Error::stream_deleted(head, to_string(job.stream));
  if (job.snapshot.version > head) return snapshot_above_head(job.stream, job.snapshot.version, head);
  {
    Bound q(c, kSnapshotUpsert);
    q.stream(job.stream, aggregate_id);
    q.integer(4, job.snapshot.version);
    q.text(5, job.snapshot.data);
    q.integer(6, job.snapshot.timestamp.time_since_epoch().count());
    q.optional_text(7, job.snapshot.metadata);
    q.integer(8, head);
    q.step("save snapshot");
  }
  if (sqlite3_changes(c.db()) > 0) return SnapshotSaveResult{true, job.snapshot.version};
  Bound q(c, kSnapshotVersion);
  q.stream(job.stream, aggregate_id);
  const std::int64_t latest = q.step("read snapshot version") ? sqlite3_column_int64(q.get(), 0) : 0;
  return SnapshotSaveResult{false, latest};
}

// Forward only: the upsert changes nothing when the stored position is at or above this one,
// and then the stored position is read back.
std::int64_t GroupCommit::save_checkpoint_row(const CheckpointJob& job) {
  Connection& c = *connection_;
  {
    Bound q(c, kCheckpointUpsert);
    q.text(1, job.context);
    q.text(2, job.name);
    q.integer(3, job.position);
    q.integer(4, now_ms().time_since_epoch().count());
    if (q.step("save a checkpoint")) return sqlite3_column_int64(q.get(), 0);
  }
  Bound q(c, kCheckpointLoad);
  q.text(1, job.context);
  q.text(2, job.name);
  if (!q.step("read a checkpoint") || sqlite3_column_type(q.get(), 0) != SQLITE_INTEGER)
    throw Error(ErrorCode::kCorruption,
                c.options().display + ": checkpoint '" + job.name + "' of " + job.context + " has a damaged position");
  return sqlite3_column_int64(q.get(), 0);
}

}  // namespace eventstore::detail

// What the writer commits: appends (and lifecycle changes), snapshot saves and checkpoint saves, each with the callback
// that gets its result, and the helpers that answer them.
//
// Invariants: a job was validated on the caller's thread before it was queued; each job's
// callback runs exactly once.
// Errors: none thrown here; complete() logs what a callback throws and swallows it.
// Thread safety: a job belongs to one thread at a time (the queue's, then the committer's).
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "eventstore/event_store.h"
#include "eventstore/feed.h"
#include "eventstore/log.h"
#include "eventstore/snapshot_store.h"

namespace eventstore::detail {

// An append, or a lifecycle change (`change` set; `events` is its one system event).
struct AppendJob {
  StreamId stream;
  ExpectedVersion expected;
  std::vector<EventData> events;  // validated and completed by prepare_append or prepare_lifecycle
  EventStore::AppendCallback callback;
  // Set when the job inserted its events: the first version and the aggregate id as stored,
  // for the feed.
  std::int64_t inserted_from = 0;
  std::string aggregate_id = {};
  std::optional<LifecycleChange> change = {};
};

struct SnapshotJob {
  StreamId stream;
  Snapshot snapshot;  // validated, timestamp in milliseconds
  SnapshotStore::SaveCallback callback;
};

struct CheckpointJob {
  std::string context;
  std::string name;
  std::int64_t position;
  FeedStore::PositionCallback callback;
};

// JobResult holds the result of the Job of the same index.
using Job = std::variant<AppendJob, SnapshotJob, CheckpointJob>;
using JobResult = std::variant<Result<AppendResult>, Result<SnapshotSaveResult>, Result<std::int64_t>>;

// The result `error` for `job`.
JobResult failure_for(const Job& job, const Error& error);

// The bytes of event and snapshot data a job carries (what bounds a batch).
std::size_t job_bytes(const Job& job);

// Runs a job's callback with its result; an exception it throws is logged, never propagated.
template <class Callback, class Value>
void complete(Callback& callback, Value&& value) {
  try {
    callback(std::forward<Value>(value));
  } catch (const std::exception& e) {
    log(LogLevel::kError, std::string("sqlite store: a callback threw: ") + e.what());
  } catch (...) {
    log(LogLevel::kError, "sqlite store: a callback threw");
  }
}

// Completes every job of `batch` with its result of `results`.
void complete_all(std::vector<Job>& batch, std::vector<JobResult>& results);

}  // namespace eventstore::detail

// SnapshotStore: the latest snapshot of each aggregate, one per stream. A snapshot's version is
// never above its stream's head: a save above the head is refused. A save never replaces a
// snapshot with an older (or equal) version, also when writers race; a stored snapshot above
// the head (left by a restore of the two tables from backups taken at different times) does
// not count, and any snapshot at or below the head replaces it.
//
// Callbacks follow the rules of event_store.h: called exactly once, maybe on a backend thread,
// must not block.
//
// Thread safety: all methods may be called from any number of threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "eventstore/event.h"
#include "eventstore/export.h"
#include "eventstore/result.h"
#include "eventstore/stream_id.h"

namespace eventstore {

struct EVENTSTORE_EXPORT Snapshot {
  std::int64_t version = 0;             // the stream version the state was taken at (>= 1)
  std::string data;                     // JSON text of the aggregate's state
  std::optional<std::string> metadata;  // JSON object text, or none
  Timestamp timestamp{};                // when it was taken, UTC milliseconds
};

struct EVENTSTORE_EXPORT SnapshotSaveResult {
  // True if this snapshot is now the latest; false if the store already held one at the same
  // or a newer version, at or below the stream's head (the stored one is kept).
  bool stored = false;
  std::int64_t latest_version = 0;  // the version of the snapshot the store now holds
};

class EVENTSTORE_EXPORT SnapshotStore {
 public:
  virtual ~SnapshotStore() = default;

  using LoadCallback = std::function<void(Result<std::optional<Snapshot>>)>;
  // The latest snapshot, or nullopt if there is none. Its version is not checked against the
  // stream's head (that costs a read): AggregateStore::load detects one above the head.
  virtual void load_snapshot_async(const StreamId& stream, LoadCallback callback) = 0;

  using SaveCallback = std::function<void(Result<SnapshotSaveResult>)>;
  // Stores `snapshot` unless a snapshot at the same or a newer version, at or below the
  // stream's head, exists. Fails with kInvalidArgument (version < 1, a version above the
  // stream's head, including any version of a stream that does not exist; bad JSON; over
  // Limits::max_event_bytes), kUnavailable, kOutcomeUnknown, kUnauthorized, kInternal; nothing
  // is stored on failure.
  virtual void save_snapshot_async(const StreamId& stream, Snapshot snapshot, SaveCallback callback) = 0;

  // Blocking forms: throw eventstore::Error.
  std::optional<Snapshot> load_snapshot(const StreamId& stream);
  SnapshotSaveResult save_snapshot(const StreamId& stream, Snapshot snapshot);
};

}  // namespace eventstore

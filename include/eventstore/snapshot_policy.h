// SnapshotPolicy: when the aggregate store writes a snapshot after a save (or, opted in, after
// a load that replayed many events). The default is every_n_events(100).
//
// Thread safety: the policies made here are stateless and safe to share; a user predicate must
// be safe to call from the threads that use the aggregate store.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>

#include "eventstore/event.h"
#include "eventstore/export.h"
#include "eventstore/stream_id.h"

namespace eventstore {

struct EVENTSTORE_EXPORT SnapshotContext {
  const StreamId& stream;
  std::int64_t version_before = 0;         // the stream version before the save
  std::int64_t version_after = 0;          // the stream version after it
  std::int64_t snapshot_version = 0;       // the latest known snapshot's version, 0 if none
  std::optional<Timestamp> snapshot_time;  // when that snapshot was taken
  Timestamp now{};
};

using SnapshotPolicy = std::function<bool(const SnapshotContext&)>;

// Fires when a save crosses a multiple of n: (before / n) < (after / n). This also fires when
// one save appends several events past the multiple. Requires n >= 1 (else invalid_argument).
EVENTSTORE_EXPORT SnapshotPolicy every_n_events(std::int64_t n);
// Fires when there is no snapshot yet, or the latest is at least `interval` old.
EVENTSTORE_EXPORT SnapshotPolicy every_interval(std::chrono::milliseconds interval);
// Never fires.
EVENTSTORE_EXPORT SnapshotPolicy never();

}  // namespace eventstore

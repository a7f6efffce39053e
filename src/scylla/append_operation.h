// One append on the cluster. An append is one conditional batch on the stream's partition:
//   UPDATE stream_version = N+k IF stream_version = N   (null for N = 0)
//   + INSERT version N+1 .. N+k IF NOT EXISTS
// so the expected-version check, contiguity and atomicity are one Paxos round. Streams written
// by the seed's library have no stream_version (or one that lags behind events the seed's library
// appended later); an append at their head adopts them (StaticCondition in append_operation.cc).
// With the feed on, the append's marker goes beside its batch (feed_markers.h, docs/feed.md).
// Every append batch also requires hard_deleted = null (the same static row): a hard-deleted
// stream refuses it, answered as kStreamDeleted.
//
// A lifecycle change (start_lifecycle) is the same operation for its one system event, with
// another batch (docs/scylla.md, "Lifecycle"):
//   UPDATE stream_version = N+1, truncated_before = B (, hard_deleted = true)
//     IF stream_version = N AND truncated_before = <as read> AND hard_deleted = null
//   + INSERT version N+1 IF NOT EXISTS
//   + DELETE FROM event_store WHERE <stream> AND event_version < B   (one range tombstone)
// where B = max(the before read with the head, the change's own before). It always starts with
// a SERIAL read of the head and the static columns, and reads again whenever a batch is refused
// for a before it did not know. After a delete is stored, the stream's snapshot row is deleted
// (IF EXISTS) before the answer.
//
// Errors (through `callback`): those of EventStore::append_async (kVersionConflict, kUnavailable,
// kOutcomeUnknown after a write whose outcome could not be settled, kInvalidArgument past the
// maximum version, ...).
// Thread safety: start_append may be called from any thread; the callback runs on a driver thread.
#pragma once

#include <memory>
#include <vector>

#include "eventstore/event_store.h"
#include "scylla/connection.h"
#include "scylla/feed_markers.h"

namespace eventstore::detail {

// Appends `events` (already checked and completed by prepare_append) to `stream` if it is at
// `expected`, and answers `callback` once. `markers` is null with feed=false.
void start_append(std::shared_ptr<Connection> connection, std::shared_ptr<const FeedSettings> feed,
                  std::shared_ptr<MarkerWriter> markers, StreamId stream, ExpectedVersion expected,
                  std::vector<EventData> events, EventStore::AppendCallback callback);

// Appends `event` (the system event prepare_lifecycle built for `change`) and applies `change`,
// answering `callback` once (kInvalidArgument for a truncate's before above the version it lands
// at, kStreamDeleted, and the errors of start_append).
void start_lifecycle(std::shared_ptr<Connection> connection, std::shared_ptr<const FeedSettings> feed,
                     std::shared_ptr<MarkerWriter> markers, StreamId stream, LifecycleChange change, EventData event,
                     EventStore::AppendCallback callback);

}  // namespace eventstore::detail

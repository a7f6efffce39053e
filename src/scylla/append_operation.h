// One append on the cluster. An append is one conditional batch on the stream's partition:
//   UPDATE stream_version = N+k IF stream_version = N   (null for N = 0)
//   + INSERT version N+1 .. N+k IF NOT EXISTS
// so the expected-version check, contiguity and atomicity are one Paxos round. Streams written
// by the seed's library have no stream_version (or one that lags behind events the seed's library
// appended later); an append at their head adopts them (StaticCondition in append_operation.cc).
// With the feed on, the append's marker goes beside its batch (feed_markers.h, docs/feed.md).
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

}  // namespace eventstore::detail

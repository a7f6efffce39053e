// The store's values as the bridge's rows and back: a stream's partition key, a stored event, the
// head a read of a stream's partition shows.
//
// Invariants: decode_row never returns an event without a type (a stored row without one is
// corruption).
//
// Thread safety: pure functions; call them from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "eventstore/event.h"
#include "eventstore/stream_id.h"
#include "eventstore/uuid.h"
#include "eventstore_scylla_bridge/src/lib.rs.h"

namespace eventstore::detail {

bridge::StreamKey key_of(const StreamId& stream);

inline Uuid uuid_of(const std::array<std::uint8_t, 16>& bytes) { return Uuid(bytes); }

// The stream's version as the cluster sees it: the static column, or for streams written by the
// seed's library (no static column) the highest event version.
std::int64_t head_of(const bridge::StreamSlice& slice);

// Throws Error(kCorruption) for a row without an event_type.
RecordedEvent decode_row(const StreamId& stream, const bridge::EventRow& row);

// The event ids of the slice's rows, in its order.
std::vector<Uuid> ids_in(const bridge::StreamSlice& slice);

}  // namespace eventstore::detail

// The store's values as the bridge's rows and back: see rows.h.
#include "scylla/rows.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <string_view>

#include "eventstore/error.h"
#include "scylla/connection.h"

namespace eventstore::detail {

bridge::StreamKey key_of(const StreamId& stream) {
  bridge::StreamKey key;
  key.bounded_context = stream.bounded_context;
  key.aggregate_type = stream.aggregate_type;
  std::copy(stream.aggregate_id.bytes().begin(), stream.aggregate_id.bytes().end(), key.aggregate_id.begin());
  return key;
}

std::int64_t head_of(const bridge::StreamSlice& slice) {
  std::int64_t head = 0;
  if (slice.has_stream_version) head = slice.stream_version;
  if (slice.has_max_version) head = std::max<std::int64_t>(head, slice.max_version);
  return head;
}

RecordedEvent decode_row(const StreamId& stream, const bridge::EventRow& row) {
  if (row.event_type.empty())
    throw Error(ErrorCode::kCorruption,
                "event " + std::to_string(row.version) + " of " + to_string(stream) + " has no event_type");
  RecordedEvent event;
  event.stream = stream;
  event.version = row.version;
  event.event_id = uuid_of(row.event_id);
  event.event_type = to_std(row.event_type);
  if (row.has_data) event.data = to_std(row.data);
  // The seed's library stores the JSON of an event's absent metadata map: the text null.
  if (row.has_metadata && std::string_view(row.metadata.data(), row.metadata.size()) != "null")
    event.metadata = to_std(row.metadata);
  event.timestamp = Timestamp(std::chrono::milliseconds(row.timestamp_ms));
  return event;
}

std::vector<Uuid> ids_in(const bridge::StreamSlice& slice) {
  std::vector<Uuid> ids;
  for (const bridge::EventRow& row : slice.events) ids.push_back(uuid_of(row.event_id));
  return ids;
}

}  // namespace eventstore::detail

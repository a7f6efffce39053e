#include "core/lifecycle.h"

#include "core/validation.h"

namespace eventstore::detail {

EventData prepare_lifecycle(const StreamId& stream, const LifecycleChange& change, const Limits& limits) {
  validate_stream(stream, limits);
  if (!change.expected.is_any() && (change.expected.version() < 0 || change.expected.version() >= limits.max_version))
    throw Error::invalid("expected version " + std::to_string(change.expected.version()) + " is outside 0.." +
                         std::to_string(limits.max_version - 1));
  EventData event;
  event.event_id = change.event_id ? *change.event_id : Uuid::random();
  if (event.event_id->is_nil()) throw Error::invalid("the lifecycle event's id must not be the nil UUID");
  event.timestamp = now_ms();
  switch (change.kind) {
    case LifecycleKind::kTruncate:
      if (change.before < 1)
        throw Error::invalid("truncate before must be at least 1, got " + std::to_string(change.before));
      if (!change.expected.is_any() && change.before > change.expected.version() + 1)
        throw Error::invalid("truncate before " + std::to_string(change.before) + " is above the stream's version " +
                             std::to_string(change.expected.version()) + " + 1");
      event.event_type = kTruncatedEventType;
      event.data = "{\"before\":" + std::to_string(change.before) + "}";
      break;
    case LifecycleKind::kSoftDelete:
      event.event_type = kDeletedEventType;
      event.data = "{}";
      break;
    case LifecycleKind::kHardDelete:
      event.event_type = kHardDeletedEventType;
      event.data = "{}";
      break;
  }
  return event;
}

std::int64_t lifecycle_before(const LifecycleChange& change, std::int64_t version) {
  return change.kind == LifecycleKind::kTruncate ? change.before : version;
}

std::optional<Error> lifecycle_before_error(const LifecycleChange& change, std::int64_t version) {
  if (change.kind != LifecycleKind::kTruncate || change.before <= version) return std::nullopt;
  return Error::invalid("truncate before " + std::to_string(change.before) + " is above the stream's version " +
                        std::to_string(version - 1) + " + 1");
}

}  // namespace eventstore::detail

namespace eventstore {

void EventStore::change_lifecycle_async(const StreamId& stream, LifecycleChange change, AppendCallback callback) {
  (void)stream;
  (void)change;
  callback(Error::invalid("this store has no lifecycle (truncate, delete)"));
}

}  // namespace eventstore

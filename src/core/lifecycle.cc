#include "core/lifecycle.h"

#include <nlohmann/json.hpp>

#include "core/validation.h"

namespace eventstore::detail {

bool is_system_event_type(std::string_view event_type) { return !event_type.empty() && event_type[0] == '$'; }

std::optional<LifecycleKind> lifecycle_kind_of(std::string_view event_type) {
  if (event_type == kTruncatedEventType) return LifecycleKind::kTruncate;
  if (event_type == kDeletedEventType) return LifecycleKind::kSoftDelete;
  if (event_type == kHardDeletedEventType) return LifecycleKind::kHardDelete;
  return std::nullopt;
}

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

std::optional<std::int64_t> stored_lifecycle_before(const RecordedEvent& event) {
  const std::optional<LifecycleKind> kind = lifecycle_kind_of(event.event_type);
  if (!kind) return std::nullopt;
  if (*kind != LifecycleKind::kTruncate) return event.version;
  try {
    const nlohmann::json data = nlohmann::json::parse(event.data.value_or("null"));
    const nlohmann::json& before = data.at("before");
    if (before.is_number_integer() && before.get<std::int64_t>() >= 1) return before.get<std::int64_t>();
  } catch (const nlohmann::json::exception&) {
  }
  throw Error(ErrorCode::kCorruption, "the $truncated event at version " + std::to_string(event.version) + " of " +
                                          to_string(event.stream) + " has no valid \"before\"");
}

}  // namespace eventstore::detail

namespace eventstore {

void EventStore::change_lifecycle_async(const StreamId& stream, LifecycleChange change, AppendCallback callback) {
  (void)stream;
  (void)change;
  callback(Error::invalid("this store has no lifecycle (truncate, delete)"));
}

}  // namespace eventstore

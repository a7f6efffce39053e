#include "validation.h"

#include <cstdint>
#include <limits>
#include <string>
#include <unordered_set>

#include "json_text.h"
#include "max_version.h"

namespace eventstore::detail {
namespace {

void check_identifier(std::string_view what, std::string_view value, const Limits& limits) {
  if (value.empty()) throw Error::invalid(std::string(what) + " must not be empty");
  if (value.size() > limits.max_identifier_bytes)
    throw Error::invalid(std::string(what) + " is " + std::to_string(value.size()) + " bytes, over the limit of " +
                         std::to_string(limits.max_identifier_bytes));
  if (!is_valid_utf8(value)) throw Error::invalid(std::string(what) + " is not valid UTF-8");
}

bool json_ok(const std::string& text, bool object_only) {
  const JsonText kind = classify_json_text(text);
  return object_only ? kind == JsonText::kObject : kind != JsonText::kInvalid;
}

bool identifier_ok(std::string_view value, const Limits& limits) {
  return !value.empty() && value.size() <= limits.max_identifier_bytes && is_valid_utf8(value);
}

// Throws invalid_argument naming `what` unless `text` is JSON (an object when `object_only`).
void check_json(std::string_view what, const std::string& text, bool object_only) {
  const JsonText kind = classify_json_text(text);
  if (kind == JsonText::kInvalid)
    throw Error::invalid(std::string(what) + " is not valid JSON (or nests deeper than " +
                         std::to_string(kMaxJsonDepth) + " levels)");
  if (object_only && kind != JsonText::kObject) throw Error::invalid(std::string(what) + " must be a JSON object");
}

}  // namespace

bool is_valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t length;
    std::uint32_t code;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      length = 2;
      code = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      length = 3;
      code = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      length = 4;
      code = c & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code = (code << 6) | (next & 0x3F);
    }
    const bool overlong =
        (length == 2 && code < 0x80) || (length == 3 && code < 0x800) || (length == 4 && code < 0x10000);
    if (overlong || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return false;
    i += length;
  }
  return true;
}

void validate_stream(const StreamId& stream, const Limits& limits) {
  check_identifier("bounded context", stream.bounded_context, limits);
  check_identifier("aggregate type", stream.aggregate_type, limits);
  if (stream.aggregate_id.is_nil()) throw Error::invalid("aggregate id must not be the nil UUID");
}

void validate_context(const std::string& context, const Limits& limits) {
  check_identifier("bounded context", context, limits);
}

void validate_feed_read(const std::string& context, const FeedReadOptions& options, const Limits& limits) {
  validate_context(context, limits);
  if (options.after < 0) throw Error::invalid("feed position must be at least 0, got " + std::to_string(options.after));
  if (options.limit < 1 || options.limit > 100000)
    throw Error::invalid("feed page limit must be 1..100000, got " + std::to_string(options.limit));
}

std::int64_t feed_page_end(const FeedReadOptions& options) {
  const auto limit = static_cast<std::int64_t>(options.limit);
  return options.after > std::numeric_limits<std::int64_t>::max() - limit ? std::numeric_limits<std::int64_t>::max()
                                                                          : options.after + limit;
}

void validate_checkpoint(const std::string& context, const std::string& name, const Limits& limits) {
  validate_context(context, limits);
  check_identifier("checkpoint name", name, limits);
}

void validate_checkpoint_save(const std::string& context, const std::string& name, std::int64_t position,
                              const Limits& limits) {
  validate_checkpoint(context, name, limits);
  if (position < 0) throw Error::invalid("checkpoint position must be at least 0, got " + std::to_string(position));
}

void prepare_append(const StreamId& stream, ExpectedVersion expected, std::vector<EventData>& events,
                    const Limits& limits) {
  validate_stream(stream, limits);
  if (events.empty()) throw Error::invalid("an append needs at least one event");
  if (events.size() > limits.max_events_per_append)
    throw Error::invalid("append of " + std::to_string(events.size()) + " events is over the limit of " +
                         std::to_string(limits.max_events_per_append));
  if (!expected.is_any()) {
    if (expected.version() < 0)
      throw Error::invalid("expected version " + std::to_string(expected.version()) + " is outside 0.." +
                           std::to_string(limits.max_version));
    // Also an expected version above the maximum: a stream already past a lowered limit.
    if (static_cast<std::int64_t>(events.size()) > limits.max_version - expected.version())
      throw past_max_version(stream, limits.max_version);
  }
  std::size_t total = 0;
  // Duplicate ids: a linear scan for the usual few events, a hash set beyond.
  constexpr std::size_t kLinearIds = 16;
  std::unordered_set<Uuid> ids;
  for (std::size_t i = 0; i < events.size(); ++i) {
    EventData& e = events[i];
    // Built only for an error message: this loop runs for every event of every append.
    const auto which = [i] { return "event " + std::to_string(i + 1); };
    if (!identifier_ok(e.event_type, limits)) check_identifier(which() + " type", e.event_type, limits);
    if (e.event_type[0] == '$')
      throw Error::invalid(which() + " type '" + e.event_type +
                           "' starts with '$', which is reserved for the store's system events");
    if (e.data && !json_ok(*e.data, false)) check_json(which() + " data", *e.data, false);
    if (e.metadata && !json_ok(*e.metadata, true)) check_json(which() + " metadata", *e.metadata, true);
    const std::size_t bytes = event_bytes(e.event_type, e.data, e.metadata);
    if (bytes > limits.max_event_bytes)
      throw Error::invalid(which() + " is " + std::to_string(bytes) + " bytes, over the limit of " +
                           std::to_string(limits.max_event_bytes));
    total += bytes;
    if (!e.event_id) e.event_id = Uuid::random();
    if (e.event_id->is_nil()) throw Error::invalid(which() + " id must not be the nil UUID");
    bool repeated = false;
    if (events.size() <= kLinearIds) {
      for (std::size_t k = 0; k < i && !repeated; ++k) repeated = *events[k].event_id == *e.event_id;
    } else {
      repeated = !ids.insert(*e.event_id).second;
    }
    if (repeated) throw Error::invalid(which() + " repeats the event id " + e.event_id->to_string());
    e.timestamp = e.timestamp ? std::chrono::time_point_cast<std::chrono::milliseconds>(*e.timestamp) : now_ms();
  }
  if (total > limits.max_append_bytes)
    throw Error::invalid("append of " + std::to_string(total) + " bytes is over the limit of " +
                         std::to_string(limits.max_append_bytes));
}

void validate_read(const StreamId& stream, const ReadOptions& options, const Limits& limits) {
  validate_stream(stream, limits);
  if (options.page_size < 1 || options.page_size > 100000)
    throw Error::invalid("page size must be 1..100000, got " + std::to_string(options.page_size));
  if (options.page_bytes < 1) throw Error::invalid("page bytes must be at least 1, got 0");
  if (options.from && *options.from < 1)
    throw Error::invalid("read from version must be >= 1, got " + std::to_string(*options.from));
}

void validate_snapshot(const StreamId& stream, const Snapshot& snapshot, const Limits& limits) {
  validate_stream(stream, limits);
  if (snapshot.version < 1 || snapshot.version > limits.max_version)
    throw Error::invalid("snapshot version must be 1.." + std::to_string(limits.max_version) + ", got " +
                         std::to_string(snapshot.version));
  check_json("snapshot data", snapshot.data, false);
  if (snapshot.metadata) check_json("snapshot metadata", *snapshot.metadata, true);
  const std::size_t bytes = snapshot.data.size() + (snapshot.metadata ? snapshot.metadata->size() : 0);
  if (bytes > limits.max_event_bytes)
    throw Error::invalid("snapshot is " + std::to_string(bytes) + " bytes, over the limit of " +
                         std::to_string(limits.max_event_bytes));
}

std::size_t event_bytes(const std::string& type, const std::optional<std::string>& data,
                        const std::optional<std::string>& metadata) {
  return type.size() + (data ? data->size() : 0) + (metadata ? metadata->size() : 0);
}

AppendResult make_append_result(std::int64_t first_version, const std::vector<EventData>& events) {
  AppendResult result;
  result.first_version = first_version;
  result.next_expected_version = first_version + static_cast<std::int64_t>(events.size()) - 1;
  result.event_ids.reserve(events.size());
  for (const EventData& e : events) result.event_ids.push_back(*e.event_id);
  return result;
}

Error snapshot_above_head(const StreamId& stream, std::int64_t version, std::int64_t head) {
  return Error::invalid("snapshot of " + to_string(stream) + " at version " + std::to_string(version) +
                        " is above the stream's head (" + std::to_string(head) + "); nothing was stored");
}

bool is_same_append(const std::vector<EventData>& events, const std::vector<Uuid>& stored_ids) {
  if (stored_ids.size() != events.size()) return false;
  for (std::size_t i = 0; i < events.size(); ++i)
    if (!events[i].event_id || *events[i].event_id != stored_ids[i]) return false;
  return true;
}

namespace {

class FailedCursor final : public EventCursor {
 public:
  explicit FailedCursor(Error error) : error_(std::move(error)) {}

  void next_page_async(PageCallback callback) override {
    if (!error_) return callback(std::vector<RecordedEvent>{});
    Error error = std::move(*error_);
    error_.reset();
    callback(std::move(error));
  }

 private:
  std::optional<Error> error_;
};

}  // namespace

std::unique_ptr<EventCursor> failed_cursor(Error error) { return std::make_unique<FailedCursor>(std::move(error)); }

}  // namespace eventstore::detail

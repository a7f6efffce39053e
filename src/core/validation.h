// Input checks shared by every backend. Each throws Error(kInvalidArgument) naming what is wrong
// and the limit exceeded; none has side effects beyond filling in defaults.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eventstore/event_store.h"
#include "eventstore/feed.h"
#include "eventstore/limits.h"
#include "eventstore/snapshot_store.h"

namespace eventstore::detail {

bool is_valid_utf8(std::string_view text);

// Runs `check` (one of the validators below); the Error it threw, if any. The form of every
// asynchronous entry point:
//   if (auto error = validation_error([&] { validate_stream(stream, limits); })) return callback(std::move(*error));
template <class Check>
std::optional<Error> validation_error(Check&& check) {
  try {
    check();
  } catch (const Error& e) {
    return e;
  }
  return std::nullopt;
}

// A cursor whose read was refused before it started: its first page is `error`, then the end.
// What every backend's read() returns when validate_read fails.
std::unique_ptr<EventCursor> failed_cursor(Error error);

// Context and type: non-empty valid UTF-8 within the identifier limit; a non-nil aggregate id.
void validate_stream(const StreamId& stream, const Limits& limits);

// A bounded context name: non-empty valid UTF-8 within the identifier limit.
void validate_context(const std::string& context, const Limits& limits);

// A feed read: a valid context, after >= 0, limit 1..100000.
void validate_feed_read(const std::string& context, const FeedReadOptions& options, const Limits& limits);

// The last position a page read with `options` may cover: after + limit, at most INT64_MAX.
std::int64_t feed_page_end(const FeedReadOptions& options);

// A valid context and a checkpoint name that is a valid identifier.
void validate_checkpoint(const std::string& context, const std::string& name, const Limits& limits);

// validate_checkpoint, and a position to store of at least 0.
void validate_checkpoint_save(const std::string& context, const std::string& name, std::int64_t position,
                              const Limits& limits);

// Checks an append and fills in missing event ids and timestamps (truncating given ones to
// milliseconds). Rejects: an empty append, too many events or bytes, a bad event type, data
// that is not JSON, metadata that is not a JSON object, a type starting with '$' (reserved for
// the lifecycle's system events, core/lifecycle.h), duplicate or nil event ids, an
// expected version outside 0..max_version, or one that would push the stream past it.
void prepare_append(const StreamId& stream, ExpectedVersion expected, std::vector<EventData>& events,
                    const Limits& limits);

// page_size 1..100000, page_bytes >= 1, from >= 1 when given.
void validate_read(const StreamId& stream, const ReadOptions& options, const Limits& limits);

// Version 1..max_version, data a JSON text, metadata a JSON object, size within max_event_bytes.
void validate_snapshot(const StreamId& stream, const Snapshot& snapshot, const Limits& limits);

// What an event counts against a byte limit or budget: its type, data and metadata.
std::size_t event_bytes(const std::string& type, const std::optional<std::string>& data,
                        const std::optional<std::string>& metadata);

// The kInvalidArgument of a snapshot whose version is above the stream's head (0: no stream).
Error snapshot_above_head(const StreamId& stream, std::int64_t version, std::int64_t head);

// The result of an append of `events` that landed at first_version.
AppendResult make_append_result(std::int64_t first_version, const std::vector<EventData>& events);

// True if `stored_ids` (the ids at versions expected+1...) are exactly the ids of `events`: the
// append already happened, and retrying it must return the original result.
bool is_same_append(const std::vector<EventData>& events, const std::vector<Uuid>& stored_ids);

}  // namespace eventstore::detail

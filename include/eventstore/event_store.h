// EventStore: appends to and reads from aggregate event streams. The contract every backend
// keeps (docs/semantics.md):
//  - Versions start at 1 and are contiguous. An append is all-or-nothing.
//  - An append succeeds only if the stream is at the expected version; otherwise it fails with
//    kVersionConflict carrying the stream's current version, and writes nothing.
//  - Idempotent retry: repeating an append that already succeeded (same event ids, same
//    expected version) returns the original result and writes nothing more.
//  - Reads see every acknowledged append (read-your-writes); a missing stream reads as empty.
//  - Bad input fails with kInvalidArgument and writes nothing.
//
// Asynchronous first: every operation takes a callback that is called exactly once, possibly
// on a backend thread and possibly before the call returns. Callbacks must not block; a
// callback may start further operations, and may drop the last reference to its store (every
// operation already accepted still completes). The blocking forms wait for the callback.
//
// Thread safety: all methods may be called from any number of threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "eventstore/event.h"
#include "eventstore/expected_version.h"
#include "eventstore/export.h"
#include "eventstore/result.h"
#include "eventstore/stream_id.h"

namespace eventstore {

struct EVENTSTORE_EXPORT AppendResult {
  std::int64_t first_version = 0;          // version of the first appended event
  std::int64_t next_expected_version = 0;  // the stream's version after the append
  std::vector<Uuid> event_ids;             // in append order; event i is at first_version + i
};

enum class Direction { kForward, kBackward };

struct EVENTSTORE_EXPORT ReadOptions {
  Direction direction = Direction::kForward;
  // First version to return (inclusive). Default: 1 forward, the head backward.
  std::optional<std::int64_t> from;
  // At most this many events in all. Default: no limit.
  std::optional<std::uint64_t> limit;
  // At most this many events per page (one round trip). Must be 1..100000.
  std::uint32_t page_size = 1000;
  // At most this many bytes per page, counted as for Limits::max_event_bytes (event type +
  // data + metadata): a page ends before the event that would take it past the budget. A page
  // always holds at least one event, so an event larger than the budget comes alone. Together
  // with page_size it bounds the memory of a read. Must be at least 1. Default 4 MiB.
  std::size_t page_bytes = 4 * 1024 * 1024;
};

// A cursor over one read. Pages arrive in stream order (by direction).
// Thread safety: one page request at a time; a cursor is used by one caller.
class EVENTSTORE_EXPORT EventCursor {
 public:
  virtual ~EventCursor() = default;

  // Delivers the next page: a non-empty vector, or an empty one when the read is complete.
  // On error the cursor is finished; a new read can resume from the last version seen.
  using PageCallback = std::function<void(Result<std::vector<RecordedEvent>>)>;
  virtual void next_page_async(PageCallback callback) = 0;

  // Blocking form: the next page, empty when done. Throws eventstore::Error.
  std::vector<RecordedEvent> next_page();
};

class EVENTSTORE_EXPORT EventStore {
 public:
  virtual ~EventStore() = default;

  using AppendCallback = std::function<void(Result<AppendResult>)>;
  // Appends `events` (at least one) to `stream` if it is at `expected`. Fails with
  // kInvalidArgument (bad input, a limit exceeded), kVersionConflict, kUnavailable (nothing
  // written), kOutcomeUnknown (retry with the same event ids to find out), kUnauthorized,
  // kInternal. Missing event ids and timestamps are filled in before anything is written.
  virtual void append_async(const StreamId& stream, ExpectedVersion expected, std::vector<EventData> events,
                            AppendCallback callback) = 0;

  // Starts a read. Invalid options (page_size, page_bytes, from; see ReadOptions) fail the
  // first page with kInvalidArgument.
  virtual std::unique_ptr<EventCursor> read(const StreamId& stream, const ReadOptions& options) = 0;

  using HeadCallback = std::function<void(Result<std::int64_t>)>;
  // The stream's current version; 0 when it does not exist.
  virtual void head_async(const StreamId& stream, HeadCallback callback) = 0;

  // Blocking forms: throw eventstore::Error. `append` is append_async and a wait, unless a
  // backend has a faster way for a caller that waits anyway (SQLite commits on this thread).
  virtual AppendResult append(const StreamId& stream, ExpectedVersion expected, std::vector<EventData> events);
  std::int64_t head(const StreamId& stream);
  // Calls `visit` for every event of the read, page by page, in bounded memory.
  void for_each(const StreamId& stream, const ReadOptions& options,
                const std::function<void(const RecordedEvent&)>& visit);
  // The whole read in one vector: for short streams and tests.
  std::vector<RecordedEvent> read_all(const StreamId& stream, const ReadOptions& options = {});
};

}  // namespace eventstore

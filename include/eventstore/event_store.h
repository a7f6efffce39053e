// EventStore: appends to and reads from aggregate event streams. The contract every backend
// keeps (docs/semantics.md):
//  - Versions start at 1 and are contiguous. An append is all-or-nothing.
//  - An append succeeds only if the stream is at the expected version; otherwise it fails with
//    kVersionConflict carrying the stream's current version, and writes nothing.
//  - Idempotent retry: repeating an append that already succeeded (same event ids, same
//    expected version) returns the original result and writes nothing more.
//  - Reads see every acknowledged append (read-your-writes); a missing stream reads as empty.
//  - Bad input fails with kInvalidArgument and writes nothing.
//  - Lifecycle (docs/lifecycle.md): truncating or deleting a stream appends one system event
//    (a type starting with '$'; user appends of such types are kInvalidArgument) under the same
//    rules as an append, and atomically with it hides the events below a version; a hard delete
//    also refuses every later write with kStreamDeleted.
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

// The system events a lifecycle change appends (docs/lifecycle.md). Each hides every event below
// a version, its "before": reads start there, and the events below it are removed physically.
//   "$truncated"    data {"before": N}: the events below N, N at most its own version.
//   "$deleted"      data {}: every event below it (before = its own version). The stream reads
//                   as this one event, its version is the stream's last; appends continue after it.
//   "$hard-deleted" data {}: as "$deleted", and the stream can never be written again: every
//                   later append, truncate, delete or snapshot save fails with kStreamDeleted.
// Each later change only raises "before"; a "$truncated" with a lower one hides nothing more.
inline constexpr const char* kTruncatedEventType = "$truncated";
inline constexpr const char* kDeletedEventType = "$deleted";
inline constexpr const char* kHardDeletedEventType = "$hard-deleted";

enum class LifecycleKind { kTruncate, kSoftDelete, kHardDelete };

// One lifecycle change of a stream.
struct EVENTSTORE_EXPORT LifecycleChange {
  LifecycleKind kind = LifecycleKind::kTruncate;
  // kTruncate only: the first version that stays readable, 1..head + 1 (head + 1 hides every
  // event but the "$truncated" one itself). Ignored by the deletes.
  std::int64_t before = 0;
  // As for an append: the stream's version the change is made at.
  ExpectedVersion expected = ExpectedVersion::any();
  // The system event's id; give it to make a retry after kOutcomeUnknown idempotent.
  std::optional<Uuid> event_id;
};

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
  // with page_size it bounds the memory of a read (on a cluster, which fetches one page ahead,
  // to about two pages). Must be at least 1. Default 4 MiB.
  std::size_t page_bytes = 4 * 1024 * 1024;
  // Also return the events a retention policy hides (retention.h). What a truncate or a delete
  // hid is gone either way.
  bool include_expired = false;
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
  // The stream's current version; 0 when it does not exist. A deleted stream's version is its
  // "$deleted" or "$hard-deleted" event's.
  virtual void head_async(const StreamId& stream, HeadCallback callback) = 0;

  // Appends the system event of `change` (see LifecycleChange) at the head + 1, if the stream
  // is at change.expected, and hides the events below its "before" in the same atomic step; the
  // hidden events are then removed (on a cluster: one range tombstone, docs/lifecycle.md). The
  // result is the system event's append result. Fails as append does (kVersionConflict,
  // kOutcomeUnknown: retry with the same event_id, ...), with kInvalidArgument for a truncate
  // "before" outside 1..head + 1, and with kStreamDeleted once the stream was hard-deleted.
  // The default fails with kInvalidArgument ("this store has no lifecycle").
  virtual void change_lifecycle_async(const StreamId& stream, LifecycleChange change, AppendCallback callback);

  // Blocking forms: throw eventstore::Error. `append` is append_async and a wait, unless a
  // backend has a faster way for a caller that waits anyway (SQLite commits on this thread).
  virtual AppendResult append(const StreamId& stream, ExpectedVersion expected, std::vector<EventData> events);
  std::int64_t head(const StreamId& stream);
  AppendResult change_lifecycle(const StreamId& stream, LifecycleChange change);
  // Shorthands for change_lifecycle.
  AppendResult truncate_stream(const StreamId& stream, std::int64_t before,
                               ExpectedVersion expected = ExpectedVersion::any());
  AppendResult delete_stream(const StreamId& stream, bool hard = false,
                             ExpectedVersion expected = ExpectedVersion::any());
  // Calls `visit` for every event of the read, page by page, in bounded memory.
  void for_each(const StreamId& stream, const ReadOptions& options,
                const std::function<void(const RecordedEvent&)>& visit);
  // The whole read in one vector: for short streams and tests.
  std::vector<RecordedEvent> read_all(const StreamId& stream, const ReadOptions& options = {});
};

}  // namespace eventstore

// The queries that read the file, and the decoding of their rows into the library's values: a
// stream's head, events, snapshots, the feed's pages and head, checkpoints. Used by the store
// (on a pooled read connection), its cursors, and the writer (inside its transaction).
//
// Invariants: nothing malformed is returned: a stored row that does not decode is kCorruption
// (naming the file, the stream or context, and what is wrong), except a damaged snapshot, which
// is skipped with a warning (the aggregate then replays from the start).
// Errors: each call throws kCorruption as above, and what the Connection throws.
// Thread safety: each call uses the connection it is given, which the caller holds alone.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "eventstore/event.h"
#include "eventstore/feed.h"
#include "eventstore/snapshot_store.h"
#include "sqlite/connection.h"

namespace eventstore::detail {

// A stored version above this is damage (far past any Limits::max_version), and keeps the
// version arithmetic of an append clear of overflow.
constexpr std::int64_t kMaxStoredVersion = std::numeric_limits<std::int64_t>::max() / 4;

// The kCorruption of a stored row of `stream`: "<file>: stored row of <stream> <what>".
Error corrupt_row(const SqliteOptions& options, const StreamId& stream, const std::string& what);

// Decodes the event row at `s` (columns 0-7 as statements.h lists them) of `stream`.
RecordedEvent decode_event(const SqliteOptions& options, const StreamId& stream, sqlite3_stmt* s);

// The stream's last version, 0 when it has none. `aggregate_id` is the stream's id as text.
std::int64_t head_of(Connection& c, const StreamId& stream, const std::string& aggregate_id, std::string_view what);

// The stream's snapshot, or nullopt (none, or a damaged one, skipped with a warning).
std::optional<Snapshot> load_snapshot_row(Connection& c, const StreamId& stream);

// The context's last feed position, 0 when its feed is empty.
std::int64_t feed_head_of(Connection& c, const std::string& context);

// Positions after+1 .. after+limit of the context's feed (`options` validated), each joined to
// its event in the same read snapshot; events the filter rejects, and events a lifecycle change
// removed, are left out.
FeedPage read_feed_page(Connection& c, const std::string& context, const FeedReadOptions& options);

// The checkpoint `name` of `context`, or nullopt.
std::optional<Checkpoint> load_checkpoint_row(Connection& c, const std::string& context, const std::string& name);

// The context's feed head and every checkpoint, by name.
FeedStatus read_feed_status(Connection& c, const std::string& context);

}  // namespace eventstore::detail

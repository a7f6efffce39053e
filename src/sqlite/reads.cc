// The read queries and the decoding of their rows (reads.h).
#include "sqlite/reads.h"

#include <chrono>
#include <utility>

#include "core/validation.h"
#include "eventstore/log.h"

namespace eventstore::detail {
namespace {

// A checkpoint row: position and updated_ms at columns `first` and `first + 1`.
Checkpoint checkpoint_row(const SqliteOptions& options, sqlite3_stmt* s, const std::string& name,
                          const std::string& context, int first = 0) {
  if (sqlite3_column_type(s, first) != SQLITE_INTEGER || sqlite3_column_type(s, first + 1) != SQLITE_INTEGER)
    throw Error(ErrorCode::kCorruption, options.display + ": checkpoint '" + name + "' of " + context +
                                            " has a damaged position or updated_ms");
  return Checkpoint{name, sqlite3_column_int64(s, first),
                    Timestamp(std::chrono::milliseconds(sqlite3_column_int64(s, first + 1)))};
}

}  // namespace

Error corrupt_row(const SqliteOptions& options, const StreamId& stream, const std::string& what) {
  return Error(ErrorCode::kCorruption, options.display + ": stored row of " + to_string(stream) + " " + what);
}

RecordedEvent decode_event(const SqliteOptions& options, const StreamId& stream, sqlite3_stmt* s) {
  RecordedEvent event;
  event.stream = stream;
  if (sqlite3_column_type(s, 0) != SQLITE_INTEGER)
    throw corrupt_row(options, stream, "has a non-integer event_version");
  event.version = sqlite3_column_int64(s, 0);
  const std::string at = "at version " + std::to_string(event.version);
  const std::optional<std::string> id = column_text(s, 1);
  const std::optional<Uuid> uuid = id ? Uuid::parse(*id) : std::nullopt;
  if (!uuid) throw corrupt_row(options, stream, at + " has an event_id that is not a UUID");
  event.event_id = *uuid;
  std::optional<std::string> type = column_text(s, 2);
  if (!type || type->empty() || !is_valid_utf8(*type))
    throw corrupt_row(options, stream, at + " has a missing or malformed event_type");
  event.event_type = std::move(*type);
  if (sqlite3_column_int(s, 6) == 0) throw corrupt_row(options, stream, at + " has event_data that is not JSON");
  event.data = column_text(s, 3);
  if (sqlite3_column_type(s, 4) != SQLITE_INTEGER)
    throw corrupt_row(options, stream, at + " has a missing or non-integer event_timestamp");
  event.timestamp = Timestamp(std::chrono::milliseconds(sqlite3_column_int64(s, 4)));
  if (sqlite3_column_int(s, 7) == 0)
    throw corrupt_row(options, stream, at + " has event_metadata that is not a JSON object");
  event.metadata = column_text(s, 5);
  return event;
}

std::int64_t head_of(Connection& c, const StreamId& stream, const std::string& aggregate_id, std::string_view what) {
  Bound q(c, kHead);
  q.stream(stream, aggregate_id);
  if (!q.step(what)) return 0;
  const std::int64_t head = sqlite3_column_int64(q.get(), 0);
  if (sqlite3_column_type(q.get(), 0) != SQLITE_INTEGER || head < 1 || head > kMaxStoredVersion)
    throw Error(ErrorCode::kCorruption, "stream " + to_string(stream) + " has a damaged event_version");
  return head;
}

// A damaged snapshot row is skipped with a warning (the contract: a snapshot that fails to
// decode is skipped and the aggregate replays from the start), never returned malformed.
std::optional<Snapshot> load_snapshot_row(Connection& c, const StreamId& stream) {
  const std::string aggregate_id = stream.aggregate_id.to_string();
  Bound q(c, kSnapshotLoad);
  q.stream(stream, aggregate_id);
  if (!q.step("load snapshot")) return std::nullopt;
  sqlite3_stmt* s = q.get();
  const char* damage = nullptr;
  if (sqlite3_column_type(s, 0) != SQLITE_INTEGER || sqlite3_column_int64(s, 0) < 1) {
    damage = "a missing or invalid snapshot_version";
  } else if (sqlite3_column_int(s, 4) == 0) {
    damage = "snapshot_data that is missing or not JSON";
  } else if (sqlite3_column_type(s, 2) != SQLITE_INTEGER) {
    damage = "a missing or non-integer snapshot_timestamp";
  } else if (sqlite3_column_int(s, 5) == 0) {
    damage = "snapshot_metadata that is not a JSON object";
  }
  if (damage) {
    log(LogLevel::kWarning,
        corrupt_row(c.options(), stream, std::string("has a snapshot with ") + damage + "; it is skipped").what());
    return std::nullopt;
  }
  Snapshot snapshot;
  snapshot.version = sqlite3_column_int64(s, 0);
  snapshot.data = *column_text(s, 1);
  snapshot.timestamp = Timestamp(std::chrono::milliseconds(sqlite3_column_int64(s, 2)));
  snapshot.metadata = column_text(s, 3);
  return snapshot;
}

std::int64_t feed_head_of(Connection& c, const std::string& context) {
  Bound q(c, kFeedHead);
  q.text(1, context);
  q.step("read the feed's head");
  if (sqlite3_column_type(q.get(), 0) == SQLITE_NULL) return 0;
  if (sqlite3_column_type(q.get(), 0) != SQLITE_INTEGER)
    throw Error(ErrorCode::kCorruption, c.options().display + ": the feed of " + context + " has a damaged position");
  return sqlite3_column_int64(q.get(), 0);
}

FeedPage read_feed_page(Connection& c, const std::string& context, const FeedReadOptions& options) {
  FeedPage page;
  page.last_position = options.after;
  Bound q(c, options.with_data ? kFeedRead : kFeedReadRefs);
  q.text(1, context);
  q.integer(2, options.after);
  const std::int64_t end = feed_page_end(options);
  q.integer(3, end);
  q.integer(4, end > std::numeric_limits<std::int64_t>::max() - static_cast<std::int64_t>(kMaxFeedRowEvents)
                   ? std::numeric_limits<std::int64_t>::max()
                   : end + static_cast<std::int64_t>(kMaxFeedRowEvents) - 1);
  while (q.step("read the feed")) {
    sqlite3_stmt* row = q.get();
    const std::int64_t position = sqlite3_column_int64(row, 8);
    const std::string where =
        c.options().display + ": the feed of " + context + " at position " + std::to_string(position);
    // Dense: each row is the position after the previous one.
    if (position != page.last_position + 1)
      throw Error(ErrorCode::kCorruption, where + " follows position " + std::to_string(page.last_position));
    page.last_position = position;
    std::optional<std::string> type = column_text(row, 9);
    const std::optional<std::string> id_text = column_text(row, 10);
    const std::optional<Uuid> id = id_text ? Uuid::parse(*id_text) : std::nullopt;
    if (!type || !id || sqlite3_column_type(row, 11) != SQLITE_INTEGER)
      throw Error(ErrorCode::kCorruption, where + " has a damaged reference");
    StreamId stream{context, std::move(*type), *id};
    // An event a lifecycle change removed (below its stream's "before", column 12) is left out,
    // as a filtered one (docs/sqlite.md, "Stream lifecycle"); any other missing event is damage.
    if (sqlite3_column_type(row, 0) == SQLITE_NULL && sqlite3_column_type(row, 12) == SQLITE_INTEGER &&
        sqlite3_column_int64(row, 11) < sqlite3_column_int64(row, 12))
      continue;
    if (sqlite3_column_type(row, 0) == SQLITE_NULL)
      throw Error(ErrorCode::kCorruption, where + " refers to version " +
                                              std::to_string(sqlite3_column_int64(row, 11)) + " of " +
                                              to_string(stream) + ", which is not stored");
    // Filtered out before the event is decoded: its type is all the filter needs.
    if (!options.filter.empty()) {
      RecordedEvent probe;
      probe.stream = stream;
      probe.event_type = column_text(row, 2).value_or("");
      if (!options.filter.matches(probe)) continue;
    }
    FeedEntry& entry = page.entries.emplace_back();
    entry.position = position;
    entry.event = decode_event(c.options(), stream, row);
  }
  return page;
}

std::optional<Checkpoint> load_checkpoint_row(Connection& c, const std::string& context, const std::string& name) {
  Bound q(c, kCheckpointLoad);
  q.text(1, context);
  q.text(2, name);
  std::optional<Checkpoint> checkpoint;
  if (q.step("load a checkpoint")) checkpoint = checkpoint_row(c.options(), q.get(), name, context);
  return checkpoint;
}

FeedStatus read_feed_status(Connection& c, const std::string& context) {
  FeedStatus status;
  status.head = feed_head_of(c, context);
  Bound q(c, kCheckpointList);
  q.text(1, context);
  while (q.step("list checkpoints")) {
    const std::optional<std::string> name = column_text(q.get(), 0);
    status.checkpoints.push_back(checkpoint_row(c.options(), q.get(), name.value_or(""), context, 1));
  }
  return status;
}

}  // namespace eventstore::detail

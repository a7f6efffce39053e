// Creates and checks the file's schema (schema.h).
#include "sqlite/schema.h"

#include <chrono>
#include <string>
#include <thread>

namespace eventstore::detail {
namespace {

constexpr const char* kSchemaSql =
    "CREATE TABLE IF NOT EXISTS event_store ("
    " bounded_context TEXT NOT NULL,"
    " aggregate_id TEXT NOT NULL,"
    " aggregate_type TEXT NOT NULL,"
    " event_version INTEGER NOT NULL,"
    " event_id TEXT,"
    " event_type TEXT,"
    " event_data TEXT,"
    " event_timestamp INTEGER,"
    " event_metadata TEXT,"
    " PRIMARY KEY (bounded_context, aggregate_id, aggregate_type, event_version)"
    ") WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS aggregate_snapshot ("
    " bounded_context TEXT NOT NULL,"
    " aggregate_id TEXT NOT NULL,"
    " aggregate_type TEXT NOT NULL,"
    " snapshot_data TEXT,"
    " snapshot_version INTEGER,"
    " snapshot_timestamp INTEGER,"
    " snapshot_metadata TEXT,"
    " PRIMARY KEY (bounded_context, aggregate_id, aggregate_type)"
    ") WITHOUT ROWID;";

// The feed (docs/sqlite.md, "The feed"). A writer appends one row per context and group
// commit, listing the events it inserted, each [aggregate_type, aggregate_id, event_version],
// at the positions first_position..last_position that follow the context's last one.
// event_feed_entries shows one row per position.
constexpr const char* kFeedSchemaSql =
    "CREATE TABLE IF NOT EXISTS event_feed ("
    " bounded_context TEXT NOT NULL,"
    " last_position INTEGER NOT NULL,"
    " first_position INTEGER NOT NULL,"
    " events TEXT NOT NULL,"
    " PRIMARY KEY (bounded_context, last_position)"
    ") WITHOUT ROWID;"
    "CREATE VIEW IF NOT EXISTS event_feed_entries AS"
    " SELECT r.bounded_context AS bounded_context, r.first_position + j.key AS position,"
    " json_extract(j.value, '$[0]') AS aggregate_type, json_extract(j.value, '$[1]') AS aggregate_id,"
    " json_extract(j.value, '$[2]') AS event_version"
    " FROM event_feed r, json_each(r.events) j;"
    "CREATE TABLE IF NOT EXISTS feed_checkpoint ("
    " bounded_context TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " position INTEGER NOT NULL,"
    " updated_ms INTEGER NOT NULL,"  // UTC milliseconds
    " PRIMARY KEY (bounded_context, name)"
    ") WITHOUT ROWID;";

// Stream lifecycle (docs/lifecycle.md): a row per stream that was ever truncated or deleted,
// written in the transaction of its system event. before_version: the first version that is
// still readable (the rows below it are deleted); hard_deleted: 1 once hard-deleted (no write is
// ever accepted again). Revision 3 added it; a stream without a row has neither.
constexpr const char* kLifecycleSchemaSql =
    "CREATE TABLE IF NOT EXISTS stream_lifecycle ("
    " bounded_context TEXT NOT NULL,"
    " aggregate_id TEXT NOT NULL,"
    " aggregate_type TEXT NOT NULL,"
    " before_version INTEGER NOT NULL,"
    " hard_deleted INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (bounded_context, aggregate_id, aggregate_type)"
    ") WITHOUT ROWID;";

// Fills an empty feed from the events of a file written before it, one row per event: each
// stream's events in version order; across streams by time, each event taking the latest
// timestamp of its stream up to it (so a stream whose timestamps go backwards keeps its version
// order). event_store has no rowid, so the order of insertion is not stored.
constexpr const char* kFeedBackfillSql =
    "INSERT INTO event_feed (bounded_context, last_position, first_position, events) "
    "SELECT bounded_context, position, position, json_array(json_array(aggregate_type, aggregate_id, event_version)) "
    "FROM (SELECT bounded_context, aggregate_type, aggregate_id, event_version, row_number() OVER ("
    "PARTITION BY bounded_context ORDER BY at, aggregate_id, aggregate_type, event_version) AS position "
    "FROM (SELECT bounded_context, aggregate_id, aggregate_type, event_version, "
    "max(coalesce(event_timestamp, 0)) OVER (PARTITION BY bounded_context, aggregate_id, aggregate_type "
    "ORDER BY event_version ROWS UNBOUNDED PRECEDING) AS at FROM event_store))";

// Switching a new file to WAL needs an exclusive lock, and SQLite does not call the busy
// handler for it (processes opening a new file at once would fail): retry until busy_timeout.
std::string switch_to_wal(Connection& c) {
  std::string mode = c.query_text("PRAGMA journal_mode", "read the journal mode");
  if (mode == "wal") return mode;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(c.options().busy_timeout_ms);
  for (;;) {
    try {
      return c.query_text("PRAGMA journal_mode = WAL", "switch to WAL mode");
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kUnavailable || std::chrono::steady_clock::now() >= deadline) throw;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

// True when the file is empty (the schema must be created); false when it is ours; throws
// kCorruption when it is some other SQLite file or a newer schema.
bool check_identity(Connection& c) {
  const SqliteOptions& o = c.options();
  // One statement, so one read snapshot: another process may be creating the schema.
  const auto [app, version, objects] = c.query_ints(
      "SELECT (SELECT application_id FROM pragma_application_id()), "
      "(SELECT user_version FROM pragma_user_version()), (SELECT count(*) FROM sqlite_schema)",
      "read the file header");
  if (app == kApplicationId) {
    if (version > kSchemaVersion)
      throw Error(ErrorCode::kCorruption, o.display + ": " + o.file + " has eventstore schema version " +
                                              std::to_string(version) + ", newer than this library's " +
                                              std::to_string(kSchemaVersion));
    return version < kSchemaVersion;
  }
  if (app == 0 && version == 0 && objects == 0) return true;
  throw Error(ErrorCode::kCorruption, o.display + ": " + o.file +
                                          " is an SQLite file but not an eventstore SQLite file (application_id " +
                                          std::to_string(app) + ", user_version " + std::to_string(version) + ", " +
                                          std::to_string(objects) + " schema objects)");
}

}  // namespace

void open_schema(Connection& c) {
  const SqliteOptions& o = c.options();
  check_identity(c);  // before anything changes a file that may not be ours
  const std::string mode = switch_to_wal(c);
  if (mode != "wal")
    throw Error(ErrorCode::kUnavailable,
                o.display + ": cannot switch " + o.file + " to WAL mode (journal_mode is '" + mode + "')");
  apply_write_pragmas(c);
  c.run(kBegin, "create the schema");
  try {
    if (check_identity(c)) {
      // A new file, or one of revision 1 (events without a feed) or 2 (no stream_lifecycle).
      const bool feed_missing =
          c.query_ints("SELECT count(*) = 0 FROM sqlite_schema WHERE type = 'table' AND name = 'event_feed'",
                       "read the schema")[0] != 0;
      c.exec(kSchemaSql, "create the schema");
      c.exec(kFeedSchemaSql, "create the feed's tables");
      c.exec(kLifecycleSchemaSql, "create the lifecycle table");
      if (feed_missing) c.exec(kFeedBackfillSql, "fill the feed from the stored events");
      c.exec(("PRAGMA application_id = " + std::to_string(kApplicationId)).c_str(), "create the schema");
      c.exec(("PRAGMA user_version = " + std::to_string(kSchemaVersion)).c_str(), "create the schema");
    }
    c.run(kCommit, "create the schema");
  } catch (...) {
    roll_back_quietly(c);
    throw;
  }
}

}  // namespace eventstore::detail

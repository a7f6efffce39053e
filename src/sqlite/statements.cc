// The SQL text of the SQLite backend's statements (statements.h).
#include "sqlite/statements.h"

#include <array>

namespace eventstore::detail {
namespace {

// The validity columns let SQLite check stored JSON while it reads the row (json_valid is its
// strict RFC 8259 parser); CASE keeps json_type away from malformed text.
#define ES_STREAM_KEY "bounded_context = ?1 AND aggregate_id = ?2 AND aggregate_type = ?3"
#define ES_EVENT_COLUMNS                                                               \
  "event_version, event_id, event_type, event_data, event_timestamp, event_metadata, " \
  "(event_data IS NULL OR json_valid(event_data)), "                                   \
  "CASE WHEN event_metadata IS NULL THEN 1 WHEN json_valid(event_metadata) "           \
  "THEN json_type(event_metadata) = 'object' ELSE 0 END"
// A page of a feed: positions ?2 < position <= ?3 of the event_feed rows (each listing the
// events at first_position, first_position + 1, ...; ?4 = ?3 + kMaxFeedRowEvents - 1 ends the
// scan), each joined to its event. Columns 0-7 as ES_EVENT_COLUMNS (ES_FEED_DATA gives 3-7),
// then position, aggregate type, aggregate id, version.
// The stream's lifecycle "before" (docs/lifecycle.md), NULL when it has none.
#define ES_BEFORE "(SELECT before_version FROM stream_lifecycle WHERE " ES_STREAM_KEY ")"
#define ES_FEED_PAGE(ES_FEED_DATA)                                                                       \
  "SELECT e.event_version, e.event_id, e.event_type, " ES_FEED_DATA                                      \
  ", f.position, f.aggregate_type, f.aggregate_id, f.event_version, "                                    \
  "(SELECT l.before_version FROM stream_lifecycle l WHERE l.bounded_context = ?1 "                       \
  "AND l.aggregate_id = f.aggregate_id AND l.aggregate_type = f.aggregate_type) "                        \
  "FROM (SELECT r.first_position + j.key AS position, json_extract(j.value, '$[0]') AS aggregate_type, " \
  "json_extract(j.value, '$[1]') AS aggregate_id, json_extract(j.value, '$[2]') AS event_version "       \
  "FROM event_feed r, json_each(r.events) j "                                                            \
  "WHERE r.bounded_context = ?1 AND r.last_position > ?2 AND r.last_position <= ?4 "                     \
  "AND r.first_position <= ?3) f "                                                                       \
  "LEFT JOIN event_store e ON e.bounded_context = ?1 AND e.aggregate_id = f.aggregate_id "               \
  "AND e.aggregate_type = f.aggregate_type AND e.event_version = f.event_version "                       \
  "WHERE f.position > ?2 AND f.position <= ?3 ORDER BY f.position"

constexpr std::array<const char*, kStmtCount> kSql = {
    "BEGIN IMMEDIATE",
    "COMMIT",
    "ROLLBACK",
    "SAVEPOINT job",
    "RELEASE job",
    "ROLLBACK TO job",
    "SELECT event_version FROM event_store WHERE " ES_STREAM_KEY " ORDER BY event_version DESC LIMIT 1",
    "SELECT event_id FROM event_store WHERE " ES_STREAM_KEY
    " AND event_version >= ?4 AND event_version <= ?5 ORDER BY event_version",
    "INSERT INTO event_store (bounded_context, aggregate_id, aggregate_type, event_version, event_id, "
    "event_type, event_data, event_timestamp, event_metadata) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    "SELECT " ES_EVENT_COLUMNS ", " ES_BEFORE " FROM event_store WHERE " ES_STREAM_KEY
    " AND event_version >= max(?4, coalesce(" ES_BEFORE ", 1)) ORDER BY event_version ASC LIMIT ?5",
    "SELECT " ES_EVENT_COLUMNS ", " ES_BEFORE " FROM event_store WHERE " ES_STREAM_KEY
    " AND event_version <= ?4 AND event_version >= coalesce(" ES_BEFORE ", 1) ORDER BY event_version DESC LIMIT ?5",
    "SELECT snapshot_version, snapshot_data, snapshot_timestamp, snapshot_metadata, "
    "(snapshot_data IS NOT NULL AND json_valid(snapshot_data)), "
    "CASE WHEN snapshot_metadata IS NULL THEN 1 WHEN json_valid(snapshot_metadata) "
    "THEN json_type(snapshot_metadata) = 'object' ELSE 0 END "
    "FROM aggregate_snapshot WHERE " ES_STREAM_KEY,
    "INSERT INTO aggregate_snapshot (bounded_context, aggregate_id, aggregate_type, snapshot_version, "
    "snapshot_data, snapshot_timestamp, snapshot_metadata) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
    "ON CONFLICT (bounded_context, aggregate_id, aggregate_type) DO UPDATE SET "
    "snapshot_version = excluded.snapshot_version, snapshot_data = excluded.snapshot_data, "
    "snapshot_timestamp = excluded.snapshot_timestamp, snapshot_metadata = excluded.snapshot_metadata "
    "WHERE aggregate_snapshot.snapshot_version IS NULL "
    "OR excluded.snapshot_version > aggregate_snapshot.snapshot_version "
    "OR aggregate_snapshot.snapshot_version > ?8",
    "SELECT snapshot_version FROM aggregate_snapshot WHERE " ES_STREAM_KEY,
    ES_FEED_PAGE("e.event_data, e.event_timestamp, e.event_metadata, "
                 "(e.event_data IS NULL OR json_valid(e.event_data)), "
                 "CASE WHEN e.event_metadata IS NULL THEN 1 WHEN json_valid(e.event_metadata) "
                 "THEN json_type(e.event_metadata) = 'object' ELSE 0 END"),
    ES_FEED_PAGE("NULL, e.event_timestamp, NULL, 1, 1"),
    "SELECT max(last_position) FROM event_feed WHERE bounded_context = ?1",
    "INSERT INTO event_feed (bounded_context, last_position, first_position, events) VALUES (?1, ?2, ?3, ?4)",
    "SELECT position, updated_ms FROM feed_checkpoint WHERE bounded_context = ?1 AND name = ?2",
    "INSERT INTO feed_checkpoint (bounded_context, name, position, updated_ms) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (bounded_context, name) DO UPDATE SET position = excluded.position, "
    "updated_ms = excluded.updated_ms WHERE excluded.position > feed_checkpoint.position "
    "RETURNING position",
    "SELECT name, position, updated_ms FROM feed_checkpoint WHERE bounded_context = ?1 ORDER BY name",
    "SELECT before_version, hard_deleted FROM stream_lifecycle WHERE " ES_STREAM_KEY,
    "INSERT INTO stream_lifecycle (bounded_context, aggregate_id, aggregate_type, before_version, hard_deleted) "
    "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (bounded_context, aggregate_id, aggregate_type) DO UPDATE SET "
    "before_version = max(before_version, excluded.before_version), "
    "hard_deleted = max(hard_deleted, excluded.hard_deleted)",
    "DELETE FROM event_store WHERE " ES_STREAM_KEY " AND event_version < ?4",
    "DELETE FROM aggregate_snapshot WHERE " ES_STREAM_KEY,
};

#undef ES_FEED_PAGE
#undef ES_BEFORE

#undef ES_EVENT_COLUMNS
#undef ES_STREAM_KEY

}  // namespace

const char* statement_sql(Stmt id) { return kSql[id]; }

}  // namespace eventstore::detail

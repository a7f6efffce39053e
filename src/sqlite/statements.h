// The SQL text of every prepared statement the SQLite backend runs, by name. The raw benchmark
// loop (tools/eventstore/bench_sqlite_raw.cc) runs the same statements.
//
// Invariants: statement_sql(id) is a single statement; the parameters of each are listed below.
// Rows of kReadForward, kReadBackward (and columns 0-7 of kFeedRead) are event rows:
//   0 event_version, 1 event_id, 2 event_type, 3 event_data, 4 event_timestamp,
//   5 event_metadata, 6 data is NULL or valid JSON (0/1), 7 metadata is NULL or a JSON object (0/1)
// and kReadForward, kReadBackward have 8: the stream's lifecycle "before" (NULL: none).
// Errors: none (constant text).
// Thread safety: constants.
#pragma once

#include <cstddef>

namespace eventstore::detail {

// A row of event_feed lists at most this many events, so that a page read parses little more
// than the positions it returns.
constexpr std::size_t kMaxFeedRowEvents = 1000;

// ?1 ?2 ?3 are the stream: bounded_context, aggregate_id, aggregate_type (where a statement has them).
enum Stmt : std::size_t {
  kBegin,  // BEGIN IMMEDIATE
  kCommit,
  kRollback,
  kSavepoint,       // SAVEPOINT job
  kRelease,         // RELEASE job
  kRollbackTo,      // ROLLBACK TO job
  kHead,            // the stream's last event_version, if any
  kIdsRange,        // event_id of versions ?4..?5, in order
  kInsert,          // one event: ?4 version, ?5 id, ?6 type, ?7 data, ?8 timestamp (ms), ?9 metadata
  kReadForward,     // event rows from version max(?4, the stream's "before") up, at most ?5
  kReadBackward,    // event rows from version ?4 down to the stream's "before", at most ?5
  kSnapshotLoad,    // version, data, timestamp, metadata, data is JSON (0/1), metadata is an object (0/1)
  kSnapshotUpsert,  // ?4 version, ?5 data, ?6 timestamp, ?7 metadata; ?8 the stream's head: a stored
                    // snapshot above it is replaced whatever its version
  kSnapshotVersion,
  kFeedRead,          // context ?1, positions ?2 < p <= ?3, ?4 = ?3 + kMaxFeedRowEvents - 1: event
                      // rows, then 8 position, 9 aggregate_type, 10 aggregate_id, 11 event_version,
                      // 12 the stream's lifecycle "before" (NULL: none)
  kFeedReadRefs,      // as kFeedRead, with NULL data and metadata (the filter needs only the type)
  kFeedHead,          // max(last_position) of context ?1 (NULL when empty)
  kFeedInsert,        // ?1 context, ?2 last_position, ?3 first_position, ?4 events (JSON array)
  kCheckpointLoad,    // position, updated_ms of context ?1, name ?2
  kCheckpointUpsert,  // ?1 context, ?2 name, ?3 position, ?4 updated_ms; returns the position if it moved
  kCheckpointList,    // name, position, updated_ms of context ?1, by name
  kLifecycleLoad,     // before_version, hard_deleted of the stream (no row: never changed)
  kLifecycleUpsert,   // ?4 before_version, ?5 hard_deleted; each only ever grows
  kDeleteBelow,       // the stream's events below version ?4
  kSnapshotDelete,    // the stream's snapshot
  kStmtCount
};

const char* statement_sql(Stmt id);

}  // namespace eventstore::detail

// The sqlite:PATH backend. Layout, durability and the concurrency model are in docs/sqlite.md.
//
// Structure:
//  - Connection: one sqlite3 handle and its cached prepared statements; used by one thread at
//    a time (the handles are opened SQLITE_OPEN_NOMUTEX).
//  - Shared: what the store and its cursors share: the path, the options and a small pool of
//    read connections (a cursor may outlive the store).
//  - SqliteStore: validates on the caller's thread, then queues writes (appends and snapshot
//    saves) for one writer thread, which commits everything pending as one transaction with
//    one SAVEPOINT per job (group commit) and completes the callbacks after COMMIT. Reads and
//    heads run on the caller's thread on a pooled read connection.
#include "sqlite/sqlite_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <filesystem>
#include <limits>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/blocking.h"
#include "core/validation.h"
#include "eventstore/log.h"

namespace eventstore::detail {
namespace {

// "EVST": marks a file as ours in the SQLite header (PRAGMA application_id).
constexpr std::int32_t kApplicationId = 0x45565354;
// PRAGMA user_version: the schema revision this code writes and reads. 2 added the feed's
// tables, which a library of revision 1 would not fill: it refuses the file.
constexpr std::int32_t kSchemaVersion = 2;
// A stored version above this is damage (far past any Limits::max_version), and keeps the
// version arithmetic of an append clear of overflow.
constexpr std::int64_t kMaxStoredVersion = std::numeric_limits<std::int64_t>::max() / 4;
// At most this many jobs go into one group commit.
constexpr std::size_t kMaxBatch = 512;
// A group commit stops taking jobs once it holds this many bytes of event and snapshot data.
constexpr std::size_t kMaxBatchBytes = 16 * 1024 * 1024;
// Idle read connections kept open.
constexpr std::size_t kMaxIdleReaders = 8;
// The checkpoint thread is asked to work each time the WAL grows by this many pages (SQLite's
// own automatic checkpoint threshold); past kWalPagesLimit the writer checkpoints itself.
constexpr int kCheckpointPages = 1000;
constexpr int kWalPagesLimit = 8 * kCheckpointPages;
// A row of event_feed lists at most this many events, so that a page read parses little more
// than the positions it returns.
constexpr std::size_t kMaxFeedRowEvents = 1000;

constexpr sqlite3_destructor_type kStatic = nullptr;  // SQLITE_STATIC without its cast

// ---------------------------------------------------------------------------------------------
// Options and errors

struct SqliteOptions {
  std::string file;              // the file path, without "?OPTIONS"
  std::string display;           // "sqlite:" + the path as given
  bool synchronous_full = false;  // PRAGMA synchronous=FULL instead of NORMAL
  int busy_timeout_ms = 5000;
};

SqliteOptions parse_options(const std::string& path) {
  SqliteOptions options;
  options.display = "sqlite:" + path;
  const std::size_t question = path.find('?');
  options.file = path.substr(0, question);
  if (options.file.empty()) throw Error::invalid("sqlite: needs a file path, as in sqlite:events.db");
  if (options.file == ":memory:" || options.file.starts_with("file:"))
    throw Error::invalid("sqlite:" + options.file +
                         " is not supported: give a file path (use memory: for an in-process store)");
  if (question == std::string::npos) return options;
  std::string_view query = std::string_view(path).substr(question + 1);
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (item.empty()) continue;
    const std::size_t eq = item.find('=');
    const std::string key(item.substr(0, eq));
    const std::string value(eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1));
    if (key == "synchronous") {
      if (value == "normal" || value == "NORMAL") {
        options.synchronous_full = false;
      } else if (value == "full" || value == "FULL") {
        options.synchronous_full = true;
      } else {
        throw Error::invalid("sqlite option synchronous must be normal or full, got '" + value + "'");
      }
    } else if (key == "busy_timeout") {
      int ms = -1;
      if (!value.empty() && value.size() <= 9 &&
          std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
        ms = std::stoi(value);
      if (ms < 0) throw Error::invalid("sqlite option busy_timeout must be milliseconds, got '" + value + "'");
      options.busy_timeout_ms = ms;
    } else {
      throw Error::invalid("unknown sqlite option '" + key + "' (known: synchronous, busy_timeout)");
    }
  }
  return options;
}

bool is_permission_errno(int err) { return err == EACCES || err == EPERM || err == EROFS; }

// False when permissions forbid writing `file` (if it exists) or creating files next to it.
// SQLite's own errno after a failed open is often that of its last fallback attempt.
bool may_write(const std::string& file) {
  auto denied = [](const std::string& path, int mode) {
    return faccessat(AT_FDCWD, path.c_str(), mode, AT_EACCESS) != 0 && is_permission_errno(errno);
  };
  if (access(file.c_str(), F_OK) == 0 && denied(file, R_OK | W_OK)) return false;
  std::string dir = std::filesystem::path(file).parent_path().string();
  if (dir.empty()) dir = ".";
  return !denied(dir, W_OK | X_OK);
}

// Maps an SQLite result code to a typed error, with one line naming the file.
Error sqlite_error(int rc, sqlite3* db, const SqliteOptions& options, std::string_view what) {
  const int primary = rc & 0xff;
  std::string detail = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  const int sys = db ? sqlite3_system_errno(db) : 0;
  const std::string where = options.display + ": " + std::string(what) + ": ";
  switch (primary) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Error(ErrorCode::kUnavailable,
                   where + "the file is locked by another connection (waited busy_timeout=" +
                       std::to_string(options.busy_timeout_ms) + " ms); nothing was written");
    case SQLITE_FULL:
      return Error(ErrorCode::kUnavailable, where + "the disk or file is full (" + detail + ")");
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return Error(ErrorCode::kUnauthorized,
                   where + "no permission to write " + options.file + " or its directory (" + detail + ")");
    case SQLITE_CANTOPEN:
      if (is_permission_errno(sys) || !may_write(options.file))
        return Error(ErrorCode::kUnauthorized, where + "no permission to open or create " + options.file +
                                                   " or its -wal/-shm files in its directory");
      return Error(ErrorCode::kUnavailable,
                   where + "cannot open " + options.file + " (" + (sys ? std::strerror(sys) : detail) + ")");
    case SQLITE_NOTADB:
      return Error(ErrorCode::kCorruption, options.display + ": " + options.file +
                                               " is not an eventstore SQLite file (" + detail + ")");
    case SQLITE_CORRUPT:
      return Error(ErrorCode::kCorruption, where + options.file + " is corrupt (" + detail + ")");
    case SQLITE_IOERR:
      return Error(ErrorCode::kUnavailable, where + "I/O error on " + options.file + " (" + detail + ")");
    case SQLITE_NOMEM:
      return Error(ErrorCode::kUnavailable, where + "out of memory");
    default:
      return Error(ErrorCode::kInternal, where + detail + " (sqlite code " + std::to_string(rc) + ")");
  }
}

// ---------------------------------------------------------------------------------------------
// Connections and statements

enum Stmt : std::size_t {
  kBegin,
  kCommit,
  kRollback,
  kSavepoint,
  kRelease,
  kRollbackTo,
  kHead,
  kIdsRange,
  kInsert,
  kReadForward,
  kReadBackward,
  kSnapshotLoad,
  kSnapshotUpsert,
  kSnapshotVersion,
  kFeedRead,
  kFeedReadRefs,
  kFeedHead,
  kFeedInsert,
  kCheckpointLoad,
  kCheckpointUpsert,
  kCheckpointList,
  kStmtCount
};

// The validity columns let SQLite check stored JSON while it reads the row (json_valid is its
// strict RFC 8259 parser); CASE keeps json_type away from malformed text.
#define ES_STREAM_KEY "bounded_context = ?1 AND aggregate_id = ?2 AND aggregate_type = ?3"
#define ES_EVENT_COLUMNS                                                                         \
  "event_version, event_id, event_type, event_data, event_timestamp, event_metadata, "          \
  "(event_data IS NULL OR json_valid(event_data)), "                                            \
  "CASE WHEN event_metadata IS NULL THEN 1 WHEN json_valid(event_metadata) "                     \
  "THEN json_type(event_metadata) = 'object' ELSE 0 END"
// A page of a feed: positions ?2 < position <= ?3 of the event_feed rows (each listing the
// events at first_position, first_position + 1, ...; ?4 = ?3 + kMaxFeedRowEvents - 1 ends the
// scan), each joined to its event. Columns 0-7 as ES_EVENT_COLUMNS (ES_FEED_DATA gives 3-7),
// then position, aggregate type, aggregate id, version.
#define ES_FEED_PAGE(ES_FEED_DATA)                                                               \
  "SELECT e.event_version, e.event_id, e.event_type, " ES_FEED_DATA                             \
  ", f.position, f.aggregate_type, f.aggregate_id, f.event_version "                            \
  "FROM (SELECT r.first_position + j.key AS position, json_extract(j.value, '$[0]') AS aggregate_type, " \
  "json_extract(j.value, '$[1]') AS aggregate_id, json_extract(j.value, '$[2]') AS event_version "       \
  "FROM event_feed r, json_each(r.events) j "                                                    \
  "WHERE r.bounded_context = ?1 AND r.last_position > ?2 AND r.last_position <= ?4 "            \
  "AND r.first_position <= ?3) f "                                                               \
  "LEFT JOIN event_store e ON e.bounded_context = ?1 AND e.aggregate_id = f.aggregate_id "       \
  "AND e.aggregate_type = f.aggregate_type AND e.event_version = f.event_version "               \
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
    "SELECT " ES_EVENT_COLUMNS " FROM event_store WHERE " ES_STREAM_KEY
    " AND event_version >= ?4 ORDER BY event_version ASC LIMIT ?5",
    "SELECT " ES_EVENT_COLUMNS " FROM event_store WHERE " ES_STREAM_KEY
    " AND event_version <= ?4 ORDER BY event_version DESC LIMIT ?5",
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
};

#undef ES_FEED_PAGE

#undef ES_EVENT_COLUMNS
#undef ES_STREAM_KEY

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

class Connection {
 public:
  Connection(const SqliteOptions& options, bool create) : options_(options) {
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    const int rc = sqlite3_open_v2(options_.file.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) {
      Error error = sqlite_error(rc, db_, options_, "open");
      sqlite3_close_v2(db_);
      db_ = nullptr;
      throw error;
    }
    sqlite3_busy_timeout(db_, options_.busy_timeout_ms);
    if (sqlite3_db_readonly(db_, "main") == 1) {
      sqlite3_close_v2(db_);
      db_ = nullptr;
      throw Error(ErrorCode::kUnauthorized,
                  options_.display + ": open: " + options_.file + " is read-only (no write permission)");
    }
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    for (sqlite3_stmt* s : statements_) sqlite3_finalize(s);
    sqlite3_close_v2(db_);
  }

  sqlite3* db() const { return db_; }
  const SqliteOptions& options() const { return options_; }

  Error error(int rc, std::string_view what) const { return sqlite_error(rc, db_, options_, what); }

  // Runs SQL text without results (pragmas, schema); throws the mapped error.
  void exec(const char* sql, std::string_view what) {
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) throw error(rc, what);
  }

  // The three integers of the first row of a query (zeros when it has none).
  std::array<std::int64_t, 3> query_ints(const char* sql, std::string_view what) {
    std::array<std::int64_t, 3> values{};
    first_row(sql, what, [&values](sqlite3_stmt* s) {
      for (int i = 0; i < 3; ++i) values[static_cast<std::size_t>(i)] = sqlite3_column_int64(s, i);
    });
    return values;
  }

  // The text of the first row's first column (empty when there is none).
  std::string query_text(const char* sql, std::string_view what) {
    std::string value;
    first_row(sql, what, [&value](sqlite3_stmt* s) {
      if (const unsigned char* text = sqlite3_column_text(s, 0)) value = reinterpret_cast<const char*>(text);
    });
    return value;
  }

  // Runs an unprepared query and hands its first row, if any, to `read`.
  template <class Read>
  void first_row(const char* sql, std::string_view what, Read&& read) {
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql, -1, &s, nullptr);
    if (rc == SQLITE_OK) rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) read(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
      Error e = error(rc, what);
      sqlite3_finalize(s);
      throw e;
    }
    sqlite3_finalize(s);
  }

  // A cached prepared statement, reset and with its bindings cleared.
  sqlite3_stmt* statement(Stmt id) {
    sqlite3_stmt*& s = statements_[id];
    if (!s) {
      const int rc = sqlite3_prepare_v3(db_, kSql[id], -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
      if (rc != SQLITE_OK) {
        sqlite3_finalize(s);
        s = nullptr;
        throw error(rc, "prepare");
      }
    }
    return s;
  }

  // Runs a statement without result rows (BEGIN, SAVEPOINT, ...).
  void run(Stmt id, std::string_view what) {
    sqlite3_stmt* s = statement(id);
    const int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) throw error(rc, what);
  }

 private:
  SqliteOptions options_;
  sqlite3* db_ = nullptr;
  std::array<sqlite3_stmt*, kStmtCount> statements_{};
};

// Resets a statement when it goes out of scope (releases its read snapshot).
class Bound {
 public:
  Bound(Connection& connection, Stmt id) : connection_(connection), stmt_(connection.statement(id)) {}
  Bound(const Bound&) = delete;
  Bound& operator=(const Bound&) = delete;
  ~Bound() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  sqlite3_stmt* get() const { return stmt_; }

  void text(int index, std::string_view value) {
    check(sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), kStatic));
  }
  void optional_text(int index, const std::optional<std::string>& value) {
    if (value) {
      text(index, *value);
    } else {
      check(sqlite3_bind_null(stmt_, index));
    }
  }
  void integer(int index, std::int64_t value) { check(sqlite3_bind_int64(stmt_, index, value)); }
  void stream(const StreamId& id, const std::string& aggregate_id) {
    text(1, id.bounded_context);
    text(2, aggregate_id);
    text(3, id.aggregate_type);
  }

  // SQLITE_ROW -> true, SQLITE_DONE -> false, else throws.
  bool step(std::string_view what) {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw connection_.error(rc, what);
  }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) throw connection_.error(rc, "bind");
  }

  Connection& connection_;
  sqlite3_stmt* stmt_;
};

std::optional<std::string> column_text(sqlite3_stmt* s, int column) {
  if (sqlite3_column_type(s, column) == SQLITE_NULL) return std::nullopt;
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(s, column));
  return std::string(text ? text : "", static_cast<std::size_t>(sqlite3_column_bytes(s, column)));
}

// ---------------------------------------------------------------------------------------------
// Shared state: options and the read pool

struct Shared {
  SqliteOptions options;
  Limits limits;
  std::mutex pool_mutex;
  std::vector<std::unique_ptr<Connection>> idle;

  // A read connection, returned to the pool when the lease ends.
  class Lease {
   public:
    Lease(Shared& shared, std::unique_ptr<Connection> connection)
        : shared_(shared), connection_(std::move(connection)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { shared_.give_back(std::move(connection_)); }
    Connection& operator*() const { return *connection_; }

   private:
    Shared& shared_;
    std::unique_ptr<Connection> connection_;
  };

  Lease reader() {
    {
      std::lock_guard lock(pool_mutex);
      if (!idle.empty()) {
        std::unique_ptr<Connection> c = std::move(idle.back());
        idle.pop_back();
        return Lease(*this, std::move(c));
      }
    }
    auto connection = std::make_unique<Connection>(options, /*create=*/false);
    connection->exec("PRAGMA query_only = 1", "configure a read connection");
    return Lease(*this, std::move(connection));
  }

  void give_back(std::unique_ptr<Connection> connection) {
    if (!connection) return;
    std::lock_guard lock(pool_mutex);
    if (idle.size() < kMaxIdleReaders) idle.push_back(std::move(connection));
  }

  Error corrupt(const StreamId& stream, const std::string& what) const {
    return Error(ErrorCode::kCorruption, options.display + ": stored row of " + to_string(stream) + " " + what);
  }
};

// Decodes one event row selected with ES_EVENT_COLUMNS.
RecordedEvent decode_event(const Shared& shared, const StreamId& stream, sqlite3_stmt* s) {
  RecordedEvent event;
  event.stream = stream;
  if (sqlite3_column_type(s, 0) != SQLITE_INTEGER) throw shared.corrupt(stream, "has a non-integer event_version");
  event.version = sqlite3_column_int64(s, 0);
  const std::string at = "at version " + std::to_string(event.version);
  const std::optional<std::string> id = column_text(s, 1);
  const std::optional<Uuid> uuid = id ? Uuid::parse(*id) : std::nullopt;
  if (!uuid) throw shared.corrupt(stream, at + " has an event_id that is not a UUID");
  event.event_id = *uuid;
  std::optional<std::string> type = column_text(s, 2);
  if (!type || type->empty() || !is_valid_utf8(*type))
    throw shared.corrupt(stream, at + " has a missing or malformed event_type");
  event.event_type = std::move(*type);
  if (sqlite3_column_int(s, 6) == 0) throw shared.corrupt(stream, at + " has event_data that is not JSON");
  event.data = column_text(s, 3);
  if (sqlite3_column_type(s, 4) != SQLITE_INTEGER)
    throw shared.corrupt(stream, at + " has a missing or non-integer event_timestamp");
  event.timestamp = Timestamp(std::chrono::milliseconds(sqlite3_column_int64(s, 4)));
  if (sqlite3_column_int(s, 7) == 0)
    throw shared.corrupt(stream, at + " has event_metadata that is not a JSON object");
  event.metadata = column_text(s, 5);
  return event;
}

// ---------------------------------------------------------------------------------------------
// Cursor

class SqliteCursor final : public EventCursor {
 public:
  SqliteCursor(std::shared_ptr<Shared> shared, StreamId stream, ReadOptions options)
      : shared_(std::move(shared)), stream_(std::move(stream)), options_(options),
        aggregate_id_(stream_.aggregate_id.to_string()) {
    try {
      validate_read(stream_, options_, shared_->limits);
    } catch (const Error& e) {
      error_ = e;
    }
    remaining_ = options_.limit.value_or(UINT64_MAX);
    const bool forward = options_.direction == Direction::kForward;
    next_ = options_.from.value_or(forward ? 1 : INT64_MAX);
  }

  void next_page_async(PageCallback callback) override {
    if (error_) {
      Error error = *error_;
      error_.reset();
      done_ = true;
      return callback(std::move(error));
    }
    std::optional<Result<std::vector<RecordedEvent>>> result;
    try {
      result.emplace(fetch());
    } catch (const Error& e) {
      done_ = true;
      result.emplace(e);
    }
    callback(std::move(*result));
  }

 private:
  std::vector<RecordedEvent> fetch() {
    std::vector<RecordedEvent> page;
    const bool forward = options_.direction == Direction::kForward;
    if (done_ || remaining_ == 0 || next_ < 1) {
      done_ = true;
      return page;
    }
    const std::uint64_t want = std::min<std::uint64_t>(options_.page_size, remaining_);
    bool budget_reached = false;
    {
      Shared::Lease lease = shared_->reader();
      Bound q(*lease, forward ? kReadForward : kReadBackward);
      q.stream(stream_, aggregate_id_);
      q.integer(4, next_);
      q.integer(5, static_cast<std::int64_t>(want));
      std::size_t bytes = 0;
      while (q.step("read")) {
        // The row is measured before it is decoded: the page ends before the event that would
        // take it past the budget, and the next page resumes at that event.
        sqlite3_stmt* row = q.get();
        bytes += static_cast<std::size_t>(sqlite3_column_bytes(row, 2)) +
                 static_cast<std::size_t>(sqlite3_column_bytes(row, 3)) +
                 static_cast<std::size_t>(sqlite3_column_bytes(row, 5));
        if (!page.empty() && bytes > options_.page_bytes) {
          budget_reached = true;
          break;
        }
        RecordedEvent event = decode_event(*shared_, stream_, q.get());
        // Versions are contiguous: a hole or a repeat is a damaged file, not a short read.
        if (!page.empty() || forward || continued_) {
          const std::int64_t expected = page.empty() ? next_ : page.back().version + (forward ? 1 : -1);
          if (event.version != expected)
            throw shared_->corrupt(stream_, "is missing version " + std::to_string(expected) +
                                                " (found " + std::to_string(event.version) + ")");
        }
        page.push_back(std::move(event));
      }
    }
    if (page.size() < want && !budget_reached) done_ = true;
    if (!page.empty()) {
      next_ = page.back().version + (forward ? 1 : -1);
      continued_ = true;  // from now on a page must start exactly at next_, backward too
    }
    remaining_ -= page.size();
    return page;
  }

  std::shared_ptr<Shared> shared_;
  StreamId stream_;
  ReadOptions options_;
  std::string aggregate_id_;
  std::optional<Error> error_;
  std::int64_t next_ = 1;
  bool continued_ = false;
  std::uint64_t remaining_ = 0;
  bool done_ = false;
};

// ---------------------------------------------------------------------------------------------
// Writes

// Copies the WAL back into the database file on its own thread and connection, so that the
// writer never waits for a checkpoint's writes and fsyncs (the SQLite WAL documentation,
// sqlite.org/wal.html, section "Application-Initiated Checkpoints", suggests this). The
// writer's connection has automatic checkpoints off and calls on_commit after each commit.
class Checkpointer {
 public:
  explicit Checkpointer(const SqliteOptions& options)
      : connection_(options, /*create=*/false) {
    // A connection checkpoints only once it has read the file and found it in WAL mode.
    connection_.query_text("PRAGMA journal_mode", "open the checkpoint connection");
    thread_ = std::thread([this] { loop(); });
  }
  ~Checkpointer() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // Installs the hook on the writer's connection.
  void watch(sqlite3* writer) {
    sqlite3_wal_autocheckpoint(writer, 0);
    sqlite3_wal_hook(writer, &Checkpointer::on_commit, this);
  }

 private:
  // Called by the thread that committed; `pages` is the WAL's length, which restarts from zero once
  // a checkpoint has copied all of it.
  static int on_commit(void* self, sqlite3* writer, const char*, int pages) {
    auto* c = static_cast<Checkpointer*>(self);
    if (pages < c->last_pages_) c->next_request_at_ = kCheckpointPages;
    c->last_pages_ = pages;
    if (pages >= kWalPagesLimit) {
      // The log restarts only after a checkpoint that no commit overtook, which under a steady
      // stream of commits only the writer can run: it waits for the checkpoint thread's run to
      // end, then copies the rest itself (SQLite's automatic checkpoint would copy all of it).
      std::lock_guard run(c->run_mutex_);
      sqlite3_wal_checkpoint_v2(writer, "main", SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    } else if (pages >= c->next_request_at_) {
      c->next_request_at_ = pages + kCheckpointPages;
      {
        std::lock_guard lock(c->mutex_);
        c->due_ = true;
      }
      c->wake_.notify_one();
    }
    return SQLITE_OK;
  }

  void loop() {
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return due_ || stopping_; });
        if (stopping_) return;
        due_ = false;
      }
      // PASSIVE: copies what it can without waiting for readers or the writer. BUSY means
      // another connection is checkpointing: that one does the work.
      int rc;
      {
        std::lock_guard run(run_mutex_);
        rc = sqlite3_wal_checkpoint_v2(connection_.db(), "main", SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      }
      if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY)
        log(LogLevel::kWarning, std::string(connection_.error(rc, "checkpoint").what()));
    }
  }

  Connection connection_;
  int last_pages_ = 0;                      // used by one committing thread at a time
  int next_request_at_ = kCheckpointPages;  // likewise
  std::mutex run_mutex_;                    // held while checkpointing
  std::mutex mutex_;
  std::condition_variable wake_;
  bool due_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

struct AppendJob {
  StreamId stream;
  ExpectedVersion expected;
  std::vector<EventData> events;
  EventStore::AppendCallback callback;
  // Set by the writer when the job inserted its events: the first version and the aggregate id
  // as stored, for the feed.
  std::int64_t inserted_from = 0;
  std::string aggregate_id = {};
};

struct SnapshotJob {
  StreamId stream;
  Snapshot snapshot;
  SnapshotStore::SaveCallback callback;
};

struct CheckpointJob {
  std::string context;
  std::string name;
  std::int64_t position;
  FeedStore::PositionCallback callback;
};

// JobResult holds the result of the Job of the same index.
using Job = std::variant<AppendJob, SnapshotJob, CheckpointJob>;
using JobResult = std::variant<Result<AppendResult>, Result<SnapshotSaveResult>, Result<std::int64_t>>;

template <class Callback, class Value>
void complete(Callback& callback, Value&& value) {
  try {
    callback(std::forward<Value>(value));
  } catch (const std::exception& e) {
    log(LogLevel::kError, std::string("sqlite store: a callback threw: ") + e.what());
  } catch (...) {
    log(LogLevel::kError, "sqlite store: a callback threw");
  }
}

class SqliteStore final : public Store {
 public:
  SqliteStore(SqliteOptions options, const Limits& limits) : shared_(std::make_shared<Shared>()) {
    shared_->options = std::move(options);
    shared_->limits = limits;
    writer_ = std::make_unique<Connection>(shared_->options, /*create=*/true);
    open_schema();
    checkpointer_ = std::make_unique<Checkpointer>(shared_->options);
    checkpointer_->watch(writer_->db());
    thread_ = std::thread([this] {
      writer_loop();
      if (owned_by_writer_) {
        thread_.detach();
        delete this;
      }
    });
  }

  // The deleter of the shared_ptr that open_sqlite_store returns. Dropping the last reference
  // inside a callback runs it on the writer thread, which cannot join itself and is still
  // completing its batch: it then stops taking jobs, drains the queue, and deletes the store
  // (closing its connections) as its last act.
  static void release(SqliteStore* store) {
    if (std::this_thread::get_id() != store->thread_.get_id()) {
      delete store;
      return;
    }
    store->owned_by_writer_ = true;
    std::lock_guard lock(store->mutex_);
    store->stopping_ = true;
  }

  ~SqliteStore() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  std::string describe() const override { return shared_->options.display; }

  // The blocking form commits on the caller's thread when the writer is idle and nothing is
  // queued (two thread hand-offs fewer), and otherwise queues behind what is there.
  AppendResult append(const StreamId& stream, ExpectedVersion expected, std::vector<EventData> events) override {
    prepare_append(stream, expected, events, shared_->limits);
    std::vector<Job> batch;
    batch.push_back(AppendJob{stream, expected, std::move(events), {}});
    {
      std::unique_lock lock(mutex_);
      if (stopping_ || writing_ || !queue_.empty()) {
        lock.unlock();
        return detail::wait_for<AppendResult>([&](auto done) {
          std::get<AppendJob>(batch.front()).callback = std::move(done);
          enqueue(std::move(batch.front()));
        });
      }
      writing_ = true;
    }
    std::vector<JobResult> results;
    commit_guarded(batch, results);
    {
      std::lock_guard lock(mutex_);
      writing_ = false;
      if (queue_.empty()) return std::get<0>(std::move(results.front())).get();
    }
    wake_.notify_one();  // what was queued meanwhile is the writer's
    return std::get<0>(std::move(results.front())).get();
  }

  void append_async(const StreamId& stream, ExpectedVersion expected, std::vector<EventData> events,
                    AppendCallback callback) override {
    try {
      prepare_append(stream, expected, events, shared_->limits);
    } catch (const Error& e) {
      return callback(e);
    }
    enqueue(AppendJob{stream, expected, std::move(events), std::move(callback)});
  }

  std::unique_ptr<EventCursor> read(const StreamId& stream, const ReadOptions& options) override {
    return std::make_unique<SqliteCursor>(shared_, stream, options);
  }

  void head_async(const StreamId& stream, HeadCallback callback) override {
    std::optional<Result<std::int64_t>> result;
    try {
      validate_stream(stream, shared_->limits);
      Shared::Lease lease = shared_->reader();
      result.emplace(head_of(*lease, stream, stream.aggregate_id.to_string(), "read head"));
    } catch (const Error& e) {
      result.emplace(e);
    }
    callback(std::move(*result));
  }

  void load_snapshot_async(const StreamId& stream, LoadCallback callback) override {
    std::optional<Result<std::optional<Snapshot>>> result;
    try {
      validate_stream(stream, shared_->limits);
      result.emplace(load_snapshot_row(stream));
    } catch (const Error& e) {
      result.emplace(e);
    }
    callback(std::move(*result));
  }

  void save_snapshot_async(const StreamId& stream, Snapshot snapshot, SaveCallback callback) override {
    try {
      validate_snapshot(stream, snapshot, shared_->limits);
    } catch (const Error& e) {
      return callback(e);
    }
    snapshot.timestamp = std::chrono::time_point_cast<std::chrono::milliseconds>(snapshot.timestamp);
    enqueue(SnapshotJob{stream, std::move(snapshot), std::move(callback)});
  }

  void read_feed_async(const std::string& context, const FeedReadOptions& options,
                       FeedPageCallback callback) override {
    std::optional<Result<FeedPage>> result;
    try {
      validate_feed_read(context, options, shared_->limits);
      result.emplace(read_feed_page(context, options));
    } catch (const Error& e) {
      result.emplace(e);
    }
    callback(std::move(*result));
  }

  void feed_head_async(const std::string& context, PositionCallback callback) override {
    std::optional<Result<std::int64_t>> result;
    try {
      validate_context(context, shared_->limits);
      Shared::Lease lease = shared_->reader();
      result.emplace(feed_head_of(*lease, context));
    } catch (const Error& e) {
      result.emplace(e);
    }
    callback(std::move(*result));
  }

  void load_checkpoint_async(const std::string& context, const std::string& name,
                             CheckpointCallback callback) override {
    std::optional<Result<std::optional<Checkpoint>>> result;
    try {
      validate_checkpoint(context, name, shared_->limits);
      Shared::Lease lease = shared_->reader();
      Bound q(*lease, kCheckpointLoad);
      q.text(1, context);
      q.text(2, name);
      std::optional<Checkpoint> checkpoint;
      if (q.step("load a checkpoint")) checkpoint = checkpoint_row(q.get(), name, context);
      result.emplace(std::move(checkpoint));
    } catch (const Error& e) {
      result.emplace(e);
    }
    callback(std::move(*result));
  }

  void save_checkpoint_async(const std::string& context, const std::string& name, std::int64_t position,
                             PositionCallback callback) override {
    try {
      validate_checkpoint_save(context, name, position, shared_->limits);
    } catch (const Error& e) {
      return callback(e);
    }
    enqueue(CheckpointJob{context, name, position, std::move(callback)});
  }

  void feed_status_async(const std::string& context, StatusCallback callback) override {
    std::optional<Result<FeedStatus>> result;
    try {
      validate_context(context, shared_->limits);
      Shared::Lease lease = shared_->reader();
      FeedStatus status;
      status.head = feed_head_of(*lease, context);
      Bound q(*lease, kCheckpointList);
      q.text(1, context);
      while (q.step("list checkpoints")) {
        const std::optional<std::string> name = column_text(q.get(), 0);
        status.checkpoints.push_back(checkpoint_row(q.get(), name.value_or(""), context, 1));
      }
      result.emplace(std::move(status));
    } catch (const Error& e) {
      result.emplace(e);
    }
    callback(std::move(*result));
  }

 private:
  // --- the feed ------------------------------------------------------------------------------

  std::int64_t feed_head_of(Connection& c, const std::string& context) const {
    Bound q(c, kFeedHead);
    q.text(1, context);
    q.step("read the feed's head");
    if (sqlite3_column_type(q.get(), 0) == SQLITE_NULL) return 0;
    if (sqlite3_column_type(q.get(), 0) != SQLITE_INTEGER)
      throw Error(ErrorCode::kCorruption, shared_->options.display + ": the feed of " + context +
                                              " has a damaged position");
    return sqlite3_column_int64(q.get(), 0);
  }

  // A checkpoint row: position and updated_ms at columns `first` and `first + 1`.
  Checkpoint checkpoint_row(sqlite3_stmt* s, const std::string& name, const std::string& context,
                            int first = 0) const {
    if (sqlite3_column_type(s, first) != SQLITE_INTEGER || sqlite3_column_type(s, first + 1) != SQLITE_INTEGER)
      throw Error(ErrorCode::kCorruption, shared_->options.display + ": checkpoint '" + name + "' of " + context +
                                              " has a damaged position or updated_ms");
    return Checkpoint{name, sqlite3_column_int64(s, first),
                      Timestamp(std::chrono::milliseconds(sqlite3_column_int64(s, first + 1)))};
  }

  // Positions after+1 .. after+limit, each joined to its event in the same read snapshot.
  FeedPage read_feed_page(const std::string& context, const FeedReadOptions& options) {
    FeedPage page;
    page.last_position = options.after;
    Shared::Lease lease = shared_->reader();
    Bound q(*lease, options.with_data ? kFeedRead : kFeedReadRefs);
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
      const std::string where = shared_->options.display + ": the feed of " + context + " at position " +
                                std::to_string(position);
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
      entry.event = decode_event(*shared_, stream, row);
    }
    return page;
  }

  // --- opening -------------------------------------------------------------------------------

  // Checks that the file is ours (or empty), switches it to WAL and creates the tables.
  void open_schema() {
    Connection& c = *writer_;
    const SqliteOptions& o = shared_->options;
    check_identity(c);  // before anything changes a file that may not be ours
    const std::string mode = switch_to_wal(c);
    if (mode != "wal")
      throw Error(ErrorCode::kUnavailable, o.display + ": cannot switch " + o.file +
                                               " to WAL mode (journal_mode is '" + mode + "')");
    c.exec(o.synchronous_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL", "configure");
    c.run(kBegin, "create the schema");
    try {
      if (check_identity(c)) {
        // A new file, or one of revision 1 (events without a feed).
        const bool feed_missing =
            c.query_ints("SELECT count(*) = 0 FROM sqlite_schema WHERE type = 'table' AND name = 'event_feed'",
                         "read the schema")[0] != 0;
        c.exec(kSchemaSql, "create the schema");
        c.exec(kFeedSchemaSql, "create the feed's tables");
        if (feed_missing) c.exec(kFeedBackfillSql, "fill the feed from the stored events");
        c.exec(("PRAGMA application_id = " + std::to_string(kApplicationId)).c_str(), "create the schema");
        c.exec(("PRAGMA user_version = " + std::to_string(kSchemaVersion)).c_str(), "create the schema");
      }
      c.run(kCommit, "create the schema");
    } catch (...) {
      if (!sqlite3_get_autocommit(c.db())) sqlite3_exec(c.db(), "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }

  // Switching a new file to WAL needs an exclusive lock, and SQLite does not call the busy
  // handler for it (processes opening a new file at once would fail): retry until busy_timeout.
  std::string switch_to_wal(Connection& c) {
    std::string mode = c.query_text("PRAGMA journal_mode", "read the journal mode");
    if (mode == "wal") return mode;
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(shared_->options.busy_timeout_ms);
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
    const SqliteOptions& o = shared_->options;
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
    throw Error(ErrorCode::kCorruption,
                o.display + ": " + o.file + " is an SQLite file but not an eventstore SQLite file (application_id " +
                    std::to_string(app) + ", user_version " + std::to_string(version) + ", " +
                    std::to_string(objects) + " schema objects)");
  }

  // --- shared queries ------------------------------------------------------------------------

  static std::int64_t head_of(Connection& c, const StreamId& stream, const std::string& aggregate_id,
                              std::string_view what) {
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
  std::optional<Snapshot> load_snapshot_row(const StreamId& stream) {
    Shared::Lease lease = shared_->reader();
    const std::string aggregate_id = stream.aggregate_id.to_string();
    Bound q(*lease, kSnapshotLoad);
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
      log(LogLevel::kWarning, shared_->corrupt(stream, std::string("has a snapshot with ") + damage +
                                                           "; it is skipped")
                                  .what());
      return std::nullopt;
    }
    Snapshot snapshot;
    snapshot.version = sqlite3_column_int64(s, 0);
    snapshot.data = *column_text(s, 1);
    snapshot.timestamp = Timestamp(std::chrono::milliseconds(sqlite3_column_int64(s, 2)));
    snapshot.metadata = column_text(s, 3);
    return snapshot;
  }

  // --- the writer ----------------------------------------------------------------------------

  void enqueue(Job job) {
    {
      std::unique_lock lock(mutex_);
      if (!stopping_) {
        queue_.push_back(std::move(job));
        lock.unlock();
        wake_.notify_one();
        return;
      }
    }
    const Error closing(ErrorCode::kUnavailable, shared_->options.display + ": the store is closing; nothing was written");
    std::visit([&closing](auto& j) { complete(j.callback, closing); }, job);
  }

  void writer_loop() {
    std::vector<Job> batch;
    std::vector<JobResult> results;
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || (!queue_.empty() && !writing_); });
        // Stopping drains: whatever was queued before the store closed is still committed.
        if (queue_.empty()) return;
        wake_.wait(lock, [this] { return !writing_; });
        batch.clear();
        std::size_t bytes = 0;
        while (!queue_.empty() && batch.size() < kMaxBatch && bytes < kMaxBatchBytes) {
          bytes += job_bytes(queue_.front());
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        writing_ = true;
      }
      commit_guarded(batch, results);
      {
        std::lock_guard lock(mutex_);
        writing_ = false;
      }
      for (std::size_t i = 0; i < batch.size(); ++i) {
        if (auto* a = std::get_if<AppendJob>(&batch[i])) {
          complete(a->callback, std::move(std::get<0>(results[i])));
        } else if (auto* s = std::get_if<SnapshotJob>(&batch[i])) {
          complete(s->callback, std::move(std::get<1>(results[i])));
        } else {
          complete(std::get<CheckpointJob>(batch[i]).callback, std::move(std::get<2>(results[i])));
        }
      }
      batch.clear();
      results.clear();
    }
  }

  // commit_batch, with any other exception (e.g. bad_alloc) failing the whole group.
  void commit_guarded(std::vector<Job>& batch, std::vector<JobResult>& results) {
    try {
      commit_batch(batch, results);
    } catch (const std::exception& e) {
      if (!sqlite3_get_autocommit(writer_->db())) sqlite3_exec(writer_->db(), "ROLLBACK", nullptr, nullptr, nullptr);
      const Error error(ErrorCode::kUnavailable,
                        shared_->options.display + ": write failed, nothing was written: " + e.what());
      results.clear();
      for (const Job& job : batch) results.push_back(failure_for(job, error));
    }
  }

  static std::size_t job_bytes(const Job& job) {
    if (const auto* a = std::get_if<AppendJob>(&job)) {
      std::size_t bytes = 0;
      for (const EventData& e : a->events) bytes += event_bytes(e.event_type, e.data, e.metadata);
      return bytes;
    }
    if (const auto* s = std::get_if<SnapshotJob>(&job))
      return s->snapshot.data.size() + (s->snapshot.metadata ? s->snapshot.metadata->size() : 0);
    return 0;
  }

  static JobResult failure_for(const Job& job, const Error& error) {
    switch (job.index()) {
      case 0:
        return JobResult(std::in_place_index<0>, error);
      case 1:
        return JobResult(std::in_place_index<1>, error);
      default:
        return JobResult(std::in_place_index<2>, error);
    }
  }

  // One transaction, one savepoint per job (none for a lone job); fills `results` (one per job).
  void commit_batch(std::vector<Job>& batch, std::vector<JobResult>& results) {
    Connection& c = *writer_;
    results.clear();
    try {
      c.run(kBegin, "begin a write transaction");
    } catch (const Error& e) {
      for (const Job& job : batch) results.push_back(failure_for(job, e));
      return;
    }
    // A lone job needs no savepoint: if it fails, the whole transaction is rolled back instead.
    const bool lone = batch.size() == 1;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      try {
        if (!lone) c.run(kSavepoint, "savepoint");
        JobResult result = std::visit([this, &c](auto& job) { return run_job(c, job); }, batch[i]);
        const bool failed = std::visit([](const auto& r) { return !r.ok(); }, result);
        if (lone && failed) {
          c.run(kRollback, "roll back a failed append");
          results.push_back(std::move(result));
          return;
        }
        if (failed) c.run(kRollbackTo, "roll back a failed append");
        if (!lone) c.run(kRelease, "release savepoint");
        results.push_back(std::move(result));
      } catch (const Error& e) {
        if (sqlite3_get_autocommit(c.db())) return fail_all(batch, results, e);
        sqlite3_exec(c.db(), lone ? "ROLLBACK" : "ROLLBACK TO job; RELEASE job", nullptr, nullptr, nullptr);
        results.push_back(failure_for(batch[i], e));
        if (lone) return;
      }
    }
    try {
      append_to_feeds(c, batch, results);
    } catch (const Error& e) {
      if (!sqlite3_get_autocommit(c.db())) sqlite3_exec(c.db(), "ROLLBACK", nullptr, nullptr, nullptr);
      return fail_all(batch, results, e);
    }
    const int rc = sqlite3_step(c.statement(kCommit));
    sqlite3_reset(c.statement(kCommit));
    if (rc == SQLITE_DONE) return remember_feed_heads(c);
    feed_last_.clear();
    Error error = c.error(rc, "commit");
    const int primary = rc & 0xff;
    // BUSY or FULL at COMMIT: nothing reached the file. Anything else (an I/O error while
    // writing the WAL) may have left the commit in the log: the outcome is unknown.
    if (primary != SQLITE_BUSY && primary != SQLITE_FULL && primary != SQLITE_NOMEM)
      error = Error(ErrorCode::kOutcomeUnknown,
                    std::string(error.what()) + " (retry with the same event ids to find out)");
    if (!sqlite3_get_autocommit(c.db())) sqlite3_exec(c.db(), "ROLLBACK", nullptr, nullptr, nullptr);
    // Every job's result is void: those that succeeded were not (or maybe not) committed, and
    // a conflict may have been observed against appends of this batch that are now undone.
    const Error undone(ErrorCode::kUnavailable, std::string(error.what()));
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const ErrorCode code = std::visit(
          [](const auto& r) { return r.ok() ? ErrorCode::kInternal : r.error().code(); }, results[i]);
      if (std::visit([](const auto& r) { return r.ok(); }, results[i])) {
        results[i] = failure_for(batch[i], error);
      } else if (code == ErrorCode::kVersionConflict) {
        results[i] = failure_for(batch[i], undone);
      }
    }
  }

  // The transaction was rolled back: nothing of this batch was written.
  static void fail_all(const std::vector<Job>& batch, std::vector<JobResult>& results, const Error& e) {
    const Error lost(e.code() == ErrorCode::kInternal ? ErrorCode::kUnavailable : e.code(),
                     std::string(e.what()) + " (the transaction was rolled back; nothing was written)");
    results.clear();
    for (const Job& job : batch) results.push_back(failure_for(job, lost));
  }

  // Gives the events the batch inserted the next positions of their contexts, in the order of
  // the jobs (so each stream's versions in order), in the batch's transaction: its write lock
  // makes the last position read here the file's, whichever process wrote it.
  void append_to_feeds(Connection& c, std::vector<Job>& batch, const std::vector<JobResult>& results) {
    struct Pending {
      const std::string* context;
      std::string events;  // JSON array elements, without the brackets
      std::size_t count = 0;
      std::optional<std::int64_t> last;  // the context's last position, read at the first row
    };
    std::vector<Pending> feeds;  // in order of first appearance; usually one
    // The last positions this writer committed are the file's while no other connection has
    // committed since (the pager's data version, read inside this transaction, is unchanged).
    if (const std::optional<unsigned> version = data_version(c); !version || version != feed_version_)
      feed_last_.clear();
    feed_written_.clear();
    const auto flush = [&c, this](Pending& feed) {
      if (!feed.last) {
        const auto known = std::find_if(feed_last_.begin(), feed_last_.end(),
                                        [&feed](const auto& k) { return k.first == *feed.context; });
        feed.last = known != feed_last_.end() ? known->second : feed_head_of(c, *feed.context);
      }
      feed.events.insert(feed.events.begin(), '[');
      feed.events.push_back(']');
      Bound q(c, kFeedInsert);
      q.text(1, *feed.context);
      q.integer(2, *feed.last + static_cast<std::int64_t>(feed.count));
      q.integer(3, *feed.last + 1);
      q.text(4, feed.events);
      q.step("append to the feed");
      *feed.last += static_cast<std::int64_t>(feed.count);
      feed.events.clear();
      feed.count = 0;
    };
    for (std::size_t i = 0; i < batch.size(); ++i) {
      auto* job = std::get_if<AppendJob>(&batch[i]);
      if (!job || job->inserted_from == 0 || !std::get<0>(results[i]).ok()) continue;
      const std::string& context = job->stream.bounded_context;
      auto feed = std::find_if(feeds.begin(), feeds.end(), [&](const Pending& f) { return *f.context == context; });
      if (feed == feeds.end()) feed = feeds.insert(feeds.end(), Pending{&context, {}, 0, std::nullopt});
      for (std::size_t k = 0; k < job->events.size(); ++k) {
        if (feed->count == kMaxFeedRowEvents) flush(*feed);
        std::string& out = feed->events;
        out += feed->count > 0 ? ",[" : "[";
        out += nlohmann::json(job->stream.aggregate_type).dump();
        out += ",\"";
        out += job->aggregate_id;
        out += "\",";
        std::array<char, 24> digits;
        const auto end = std::to_chars(digits.data(), digits.data() + digits.size(),
                                       job->inserted_from + static_cast<std::int64_t>(k)).ptr;
        out.append(digits.data(), end);
        out += ']';
        ++feed->count;
      }
    }
    for (Pending& feed : feeds) {
      if (feed.count > 0) flush(feed);
      feed_written_.emplace_back(*feed.context, *feed.last);
    }
  }

  // Called after a COMMIT of append_to_feeds' rows: they are the file's last positions now.
  void remember_feed_heads(Connection& c) {
    for (auto& [context, last] : feed_written_) {
      auto known = std::find_if(feed_last_.begin(), feed_last_.end(),
                                [&context](const auto& k) { return k.first == context; });
      if (known == feed_last_.end()) {
        feed_last_.emplace_back(std::move(context), last);
      } else {
        known->second = last;
      }
    }
    feed_written_.clear();
    feed_version_ = data_version(c);
  }

  // Changes whenever another connection (of this process or another) has committed to the file,
  // as seen by the connection's current or last transaction.
  static std::optional<unsigned> data_version(Connection& c) {
    unsigned version = 0;
    if (sqlite3_file_control(c.db(), "main", SQLITE_FCNTL_DATA_VERSION, &version) != SQLITE_OK) return std::nullopt;
    return version;
  }

  JobResult run_job(Connection& c, AppendJob& job) { return JobResult(std::in_place_index<0>, append(c, job)); }
  JobResult run_job(Connection& c, SnapshotJob& job) {
    return JobResult(std::in_place_index<1>, save_snapshot_row(c, job));
  }
  JobResult run_job(Connection& c, CheckpointJob& job) {
    return JobResult(std::in_place_index<2>, save_checkpoint_row(c, job));
  }

  // The memory backend's rules, inside the savepoint. Throws only SQLite errors.
  Result<AppendResult> append(Connection& c, AppendJob& job) {
    const Limits& limits = shared_->limits;
    std::string aggregate_id = job.stream.aggregate_id.to_string();
    std::int64_t head = 0;
    try {
      head = head_of(c, job.stream, aggregate_id, "read head");
    } catch (const Error& e) {
      return e;
    }
    const auto count = static_cast<std::int64_t>(job.events.size());
    const std::int64_t at = job.expected.is_any() ? head : job.expected.version();
    // A retry of an append that already landed returns its original result.
    const std::int64_t retry_at = job.expected.is_any() ? head - count : at;
    if (head >= retry_at + count && retry_at >= 0 &&
        is_same_append(job.events, ids_at(c, job.stream, aggregate_id, retry_at + 1, count)))
      return make_append_result(retry_at + 1, job.events);
    if (at != head)
      return Error::conflict(head, "version conflict on " + to_string(job.stream) + ": expected " +
                                       job.expected.to_string() + ", stream is at " + std::to_string(head));
    if (head + count > limits.max_version)
      return Error::invalid("append would take the stream past the maximum version " +
                            std::to_string(limits.max_version));
    {
      Bound q(c, kInsert);
      q.stream(job.stream, aggregate_id);
      for (std::int64_t i = 0; i < count; ++i) {
        const EventData& e = job.events[static_cast<std::size_t>(i)];
        const std::string event_id = e.event_id->to_string();
        q.integer(4, head + i + 1);
        q.text(5, event_id);
        q.text(6, e.event_type);
        q.optional_text(7, e.data);
        q.integer(8, e.timestamp->time_since_epoch().count());
        q.optional_text(9, e.metadata);
        q.step("insert an event");
        sqlite3_reset(q.get());
      }
    }
    job.inserted_from = head + 1;
    job.aggregate_id = std::move(aggregate_id);
    return make_append_result(head + 1, job.events);
  }

  std::vector<Uuid> ids_at(Connection& c, const StreamId& stream, const std::string& aggregate_id,
                           std::int64_t first, std::int64_t n) {
    std::vector<Uuid> ids;
    Bound q(c, kIdsRange);
    q.stream(stream, aggregate_id);
    q.integer(4, first);
    q.integer(5, first + n - 1);
    while (q.step("read event ids")) {
      const std::optional<std::string> text = column_text(q.get(), 0);
      const std::optional<Uuid> id = text ? Uuid::parse(*text) : std::nullopt;
      if (!id) return {};  // a damaged id matches nothing; reads report the corruption
      ids.push_back(*id);
    }
    return ids;
  }

  // A stored snapshot above the head (from a restore of backups taken at different times) is
  // replaced by any snapshot at or below the head: "never backwards" holds only among those.
  Result<SnapshotSaveResult> save_snapshot_row(Connection& c, const SnapshotJob& job) {
    const std::string aggregate_id = job.stream.aggregate_id.to_string();
    std::int64_t head = 0;
    try {
      head = head_of(c, job.stream, aggregate_id, "read head");
    } catch (const Error& e) {
      return e;
    }
    if (job.snapshot.version > head) return snapshot_above_head(job.stream, job.snapshot.version, head);
    {
      Bound q(c, kSnapshotUpsert);
      q.stream(job.stream, aggregate_id);
      q.integer(4, job.snapshot.version);
      q.text(5, job.snapshot.data);
      q.integer(6, job.snapshot.timestamp.time_since_epoch().count());
      q.optional_text(7, job.snapshot.metadata);
      q.integer(8, head);
      q.step("save snapshot");
    }
    if (sqlite3_changes(c.db()) > 0) return SnapshotSaveResult{true, job.snapshot.version};
    Bound q(c, kSnapshotVersion);
    q.stream(job.stream, aggregate_id);
    const std::int64_t latest = q.step("read snapshot version") ? sqlite3_column_int64(q.get(), 0) : 0;
    return SnapshotSaveResult{false, latest};
  }

  // Forward only: the upsert changes nothing when the stored position is at or above this one,
  // and then the stored position is read back.
  static std::int64_t save_checkpoint_row(Connection& c, const CheckpointJob& job) {
    {
      Bound q(c, kCheckpointUpsert);
      q.text(1, job.context);
      q.text(2, job.name);
      q.integer(3, job.position);
      q.integer(4, now_ms().time_since_epoch().count());
      if (q.step("save a checkpoint")) return sqlite3_column_int64(q.get(), 0);
    }
    Bound q(c, kCheckpointLoad);
    q.text(1, job.context);
    q.text(2, job.name);
    if (!q.step("read a checkpoint") || sqlite3_column_type(q.get(), 0) != SQLITE_INTEGER)
      throw Error(ErrorCode::kCorruption, c.options().display + ": checkpoint '" + job.name + "' of " +
                                              job.context + " has a damaged position");
    return sqlite3_column_int64(q.get(), 0);
  }

  std::shared_ptr<Shared> shared_;
  std::unique_ptr<Connection> writer_;
  // Used with writer_ only. The last position of each context this writer committed, valid
  // while the file's data version is feed_version_; the positions of the transaction in progress.
  std::vector<std::pair<std::string, std::int64_t>> feed_last_;
  std::optional<unsigned> feed_version_;
  std::vector<std::pair<std::string, std::int64_t>> feed_written_;
  std::unique_ptr<Checkpointer> checkpointer_;  // destroyed before writer_
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> queue_;
  bool writing_ = false;  // writer_ is in use, by the writer thread or a blocking append
  bool stopping_ = false;
  bool owned_by_writer_ = false;  // set and read on the writer thread only
  std::thread thread_;
};

}  // namespace

std::shared_ptr<Store> open_sqlite_store(const std::string& path, const StoreOptions& options) {
  return std::shared_ptr<SqliteStore>(new SqliteStore(parse_options(path), options.limits), &SqliteStore::release);
}

}  // namespace eventstore::detail

// One sqlite3 handle and its cached prepared statements (Connection), a statement bound for one
// use (Bound), and the mapping of SQLite result codes to eventstore errors (sqlite_error).
//
// Invariants: a Connection is open from construction to destruction, read-write (a read-only file
// is refused), with busy_timeout set; each statement is prepared at its first use and kept.
// A Bound statement is reset and its bindings cleared when the Bound goes out of scope (which
// ends its read snapshot).
// Errors: every call that runs SQL throws the Error sqlite_error maps its result code to:
// kUnavailable (locked past busy_timeout, disk full, I/O, out of memory, cannot open),
// kUnauthorized (no permission), kCorruption (not a database, corrupt), kInternal (others).
// Thread safety: a Connection is used by one thread at a time (handles are opened
// SQLITE_OPEN_NOMUTEX); its owner makes sure of it.
#pragma once

#include <sqlite3.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "eventstore/error.h"
#include "eventstore/stream_id.h"
#include "sqlite/options.h"
#include "sqlite/statements.h"

namespace eventstore::detail {

// Maps an SQLite result code to a typed error, with one line naming the file and `what` was done.
Error sqlite_error(int rc, sqlite3* db, const SqliteOptions& options, std::string_view what);

class Connection {
 public:
  // Opens options.file; `create` makes it if missing. Throws the mapped error, or kUnauthorized
  // when the file opens read-only.
  Connection(const SqliteOptions& options, bool create);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  sqlite3* db() const { return db_; }
  const SqliteOptions& options() const { return options_; }

  Error error(int rc, std::string_view what) const { return sqlite_error(rc, db_, options_, what); }

  // Runs SQL text without results (pragmas, schema).
  void exec(const char* sql, std::string_view what);

  // The three integers of the first row of a query (zeros when it has none).
  std::array<std::int64_t, 3> query_ints(const char* sql, std::string_view what);

  // The text of the first row's first column (empty when there is none).
  std::string query_text(const char* sql, std::string_view what);

  // The cached prepared statement `id`; whoever steps it resets it.
  sqlite3_stmt* statement(Stmt id);

  // Runs a statement without result rows (BEGIN, SAVEPOINT, ...).
  void run(Stmt id, std::string_view what);

 private:
  // Runs an unprepared query and hands its first row, if any, to `read`.
  template <class Read>
  void first_row(const char* sql, std::string_view what, Read&& read);

  SqliteOptions options_;
  sqlite3* db_ = nullptr;
  std::array<sqlite3_stmt*, kStmtCount> statements_{};
};

// The pragmas of a connection that writes: synchronous as the options say. (WAL mode is the
// file's, set once by open_schema.)
void apply_write_pragmas(Connection& connection);

// Rolls back the connection's transaction, if one is open; never throws. For error paths, where
// the error being reported matters more than the rollback's.
void roll_back_quietly(Connection& connection, const char* sql = "ROLLBACK");

// A column's text, or nullopt for NULL.
std::optional<std::string> column_text(sqlite3_stmt* s, int column);

// A cached statement bound for one use: reset, with its bindings cleared, when it goes out of scope.
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

  // The bound text must outlive the Bound (SQLITE_STATIC: SQLite does not copy it).
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
  // ?1 ?2 ?3: the stream's key (`aggregate_id` is its text form).
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
  static constexpr sqlite3_destructor_type kStatic = nullptr;  // SQLITE_STATIC without its cast

  void check(int rc) {
    if (rc != SQLITE_OK) throw connection_.error(rc, "bind");
  }

  Connection& connection_;
  sqlite3_stmt* stmt_;
};

}  // namespace eventstore::detail

// Connections to the SQLite file, their statements and the mapping of SQLite's errors (connection.h).
#include "sqlite/connection.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace eventstore::detail {
namespace {

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

}  // namespace

Error sqlite_error(int rc, sqlite3* db, const SqliteOptions& options, std::string_view what) {
  const int primary = rc & 0xff;
  std::string detail = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  const int sys = db ? sqlite3_system_errno(db) : 0;
  const std::string where = options.display + ": " + std::string(what) + ": ";
  switch (primary) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Error(ErrorCode::kUnavailable, where + "the file is locked by another connection (waited busy_timeout=" +
                                                std::to_string(options.busy_timeout_ms) + " ms); nothing was written");
    case SQLITE_FULL: return Error(ErrorCode::kUnavailable, where + "the disk or file is full (" + detail + ")");
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
      return Error(ErrorCode::kCorruption,
                   options.display + ": " + options.file + " is not an eventstore SQLite file (" + detail + ")");
    case SQLITE_CORRUPT: return Error(ErrorCode::kCorruption, where + options.file + " is corrupt (" + detail + ")");
    case SQLITE_IOERR:
      return Error(ErrorCode::kUnavailable, where + "I/O error on " + options.file + " (" + detail + ")");
    case SQLITE_NOMEM: return Error(ErrorCode::kUnavailable, where + "out of memory");
    default: return Error(ErrorCode::kInternal, where + detail + " (sqlite code " + std::to_string(rc) + ")");
  }
}

Connection::Connection(const SqliteOptions& options, bool create) : options_(options) {
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

Connection::~Connection() {
  for (sqlite3_stmt* s : statements_) sqlite3_finalize(s);
  sqlite3_close_v2(db_);
}

void Connection::exec(const char* sql, std::string_view what) {
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) throw error(rc, what);
}

template <class Read>
void Connection::first_row(const char* sql, std::string_view what, Read&& read) {
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

std::array<std::int64_t, 3> Connection::query_ints(const char* sql, std::string_view what) {
  std::array<std::int64_t, 3> values{};
  first_row(sql, what, [&values](sqlite3_stmt* s) {
    for (int i = 0; i < 3; ++i) values[static_cast<std::size_t>(i)] = sqlite3_column_int64(s, i);
  });
  return values;
}

std::string Connection::query_text(const char* sql, std::string_view what) {
  std::string value;
  first_row(sql, what, [&value](sqlite3_stmt* s) {
    if (const unsigned char* text = sqlite3_column_text(s, 0)) value = reinterpret_cast<const char*>(text);
  });
  return value;
}

sqlite3_stmt* Connection::statement(Stmt id) {
  sqlite3_stmt*& s = statements_[id];
  if (!s) {
    const int rc = sqlite3_prepare_v3(db_, statement_sql(id), -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(s);
      s = nullptr;
      throw error(rc, "prepare");
    }
  }
  return s;
}

void Connection::run(Stmt id, std::string_view what) {
  sqlite3_stmt* s = statement(id);
  const int rc = sqlite3_step(s);
  sqlite3_reset(s);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) throw error(rc, what);
}

void apply_write_pragmas(Connection& connection) {
  connection.exec(connection.options().synchronous_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
                  "configure");
}

void roll_back_quietly(Connection& connection, const char* sql) {
  if (!sqlite3_get_autocommit(connection.db())) sqlite3_exec(connection.db(), sql, nullptr, nullptr, nullptr);
}

std::optional<std::string> column_text(sqlite3_stmt* s, int column) {
  if (sqlite3_column_type(s, column) == SQLITE_NULL) return std::nullopt;
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(s, column));
  return std::string(text ? text : "", static_cast<std::size_t>(sqlite3_column_bytes(s, column)));
}

}  // namespace eventstore::detail

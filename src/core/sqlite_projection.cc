// SqliteProjection: a page's entries and the projection's position in one transaction of the
// user's database. Two tables, created if missing:
//   eventstore_projections(name, position): where each projection is in its feed;
//   eventstore_projection_streams(name, bounded_context, aggregate_type, aggregate_id, version):
//     the highest version applied per stream, so that a repeated event (feed.h, "Duplicates") is
//     skipped. One row per stream the projection has applied an event of.
#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <string_view>
#include <utility>

#include "eventstore/subscription.h"

namespace eventstore {
namespace {

Error sqlite_error(sqlite3* db, const std::string& what) {
  return Error(ErrorCode::kInternal, "SqliteProjection: " + what + ": " + sqlite3_errmsg(db));
}

void exec(sqlite3* db, const char* sql, const std::string& what) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) throw sqlite_error(db, what);
}

class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &statement_, nullptr) != SQLITE_OK)
      throw sqlite_error(db, std::string("prepare '") + sql + "'");
  }
  ~Statement() { sqlite3_finalize(statement_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& text(int index, const std::string& value) {
    check(sqlite3_bind_text(statement_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Statement& integer(int index, std::int64_t value) {
    check(sqlite3_bind_int64(statement_, index, value));
    return *this;
  }
  // Steps once: true when a row is there.
  bool step() {
    const int rc = sqlite3_step(statement_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw sqlite_error(db_, "step");
  }
  std::int64_t column(int index) { return sqlite3_column_int64(statement_, index); }
  void reset() {
    sqlite3_reset(statement_);
    sqlite3_clear_bindings(statement_);
  }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) throw sqlite_error(db_, "bind");
  }
  sqlite3* db_;
  sqlite3_stmt* statement_ = nullptr;
};

constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS eventstore_projections("
    "  name TEXT PRIMARY KEY, position INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS eventstore_projection_streams("
    "  name TEXT NOT NULL, bounded_context TEXT NOT NULL, aggregate_type TEXT NOT NULL,"
    "  aggregate_id TEXT NOT NULL, version INTEGER NOT NULL,"
    "  PRIMARY KEY (name, bounded_context, aggregate_type, aggregate_id)) WITHOUT ROWID;";

std::int64_t stored_position(sqlite3* db, const std::string& name) {
  Statement select(db, "SELECT position FROM eventstore_projections WHERE name = ?1");
  select.text(1, name);
  return select.step() ? select.column(0) : 0;
}

// `value` into `metric`, labelled with the page's context and the projection's name.
void report(MetricsSink* metrics, const std::string& name, const FeedPage& page, const Metric& metric, double value) {
  if (!metrics || page.entries.empty()) return;
  const std::array<std::string_view, 2> labels = {page.entries.front().event.stream.bounded_context, name};
  metrics->record(metric, labels, value);
}

}  // namespace

SqliteProjection::SqliteProjection(sqlite3* db, std::string name, std::shared_ptr<MetricsSink> metrics)
    : SqliteProjection(db, std::move(name)) {
  metrics_ = std::move(metrics);
}

SqliteProjection::SqliteProjection(sqlite3* db, std::string name) : db_(db), name_(std::move(name)) {
  if (!db_) throw Error::invalid("SqliteProjection: no database");
  if (name_.empty()) throw Error::invalid("SqliteProjection: the name must not be empty");
  exec(db_, kSchema, "create its tables");
  position_ = stored_position(db_, name_);
}

std::int64_t SqliteProjection::position() const { return position_; }

void SqliteProjection::apply(const FeedPage& page,
                             const std::function<void(sqlite3* db, const FeedEntry& entry)>& apply) {
  exec(db_, "BEGIN IMMEDIATE", "begin");
  std::int64_t skipped = 0;
  bool in_handler = false;
  try {
    // Read inside the transaction: another SqliteProjection of the same name may have moved it.
    const std::int64_t position = stored_position(db_, name_);
    Statement applied(db_,
                      "SELECT version FROM eventstore_projection_streams WHERE name = ?1 AND bounded_context = ?2"
                      " AND aggregate_type = ?3 AND aggregate_id = ?4");
    Statement record(
        db_,
        "INSERT INTO eventstore_projection_streams(name, bounded_context, aggregate_type, aggregate_id,"
        " version) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(name, bounded_context, aggregate_type, aggregate_id) DO UPDATE SET version = excluded.version");
    for (const FeedEntry& entry : page.entries) {
      if (entry.position <= position) {  // applied with an earlier page
        ++skipped;
        continue;
      }
      const StreamId& stream = entry.event.stream;
      const std::string id = stream.aggregate_id.to_string();
      applied.text(1, name_).text(2, stream.bounded_context).text(3, stream.aggregate_type).text(4, id);
      const bool seen = applied.step() && entry.event.version <= applied.column(0);
      applied.reset();
      if (seen) {  // a repeated event
        ++skipped;
        continue;
      }
      in_handler = true;
      apply(db_, entry);
      in_handler = false;
      record.text(1, name_).text(2, stream.bounded_context).text(3, stream.aggregate_type).text(4, id);
      record.integer(5, entry.event.version);
      record.step();
      record.reset();
    }
    const std::int64_t moved = std::max(position, page.last_position);
    Statement save(db_,
                   "INSERT INTO eventstore_projections(name, position) VALUES (?1, ?2)"
                   " ON CONFLICT(name) DO UPDATE SET position = excluded.position");
    save.text(1, name_).integer(2, moved);
    save.step();
    exec(db_, "COMMIT", "commit");
    position_ = moved;
  } catch (...) {
    // SQLite may have rolled back already (after some errors, or a failed COMMIT).
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    if (in_handler) report(metrics_.get(), name_, page, metrics::subscription_handler_failures_total, 1);
    throw;
  }
  if (skipped > 0)
    report(metrics_.get(), name_, page, metrics::subscription_duplicates_total, static_cast<double>(skipped));
}

}  // namespace eventstore

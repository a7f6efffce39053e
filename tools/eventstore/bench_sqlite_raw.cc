// The SQLite ceiling of `eventstore bench --raw`: a plain loop of the transactions the store
// runs, straight on sqlite3, with the store's file, schema, statements and pragmas (WAL,
// synchronous as in the URI, busy_timeout). One append is
//   BEGIN IMMEDIATE; <head query>; INSERT per event; COMMIT
// (a conflict rolls back). Concurrency N = N threads, each with its own connection and its own
// streams: SQLite's calls are blocking, so this is how a plain program gets N in flight.
#include <sqlite3.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "bench_targets.h"
#include "bench_threads.h"
#include "core/store_uri.h"
#include "eventstore/eventstore.h"

namespace eventstore_cli::bench {
namespace {

// Identical to the store's statements (src/sqlite/sqlite_store.cc).
#define ES_STREAM_KEY "bounded_context = ?1 AND aggregate_id = ?2 AND aggregate_type = ?3"
#define ES_EVENT_COLUMNS                                                                \
  "event_version, event_id, event_type, event_data, event_timestamp, event_metadata, " \
  "(event_data IS NULL OR json_valid(event_data)), "                                   \
  "CASE WHEN event_metadata IS NULL THEN 1 WHEN json_valid(event_metadata) "            \
  "THEN json_type(event_metadata) = 'object' ELSE 0 END"
constexpr const char* kHeadSql =
    "SELECT event_version FROM event_store WHERE " ES_STREAM_KEY " ORDER BY event_version DESC LIMIT 1";
constexpr const char* kInsertSql =
    "INSERT INTO event_store (bounded_context, aggregate_id, aggregate_type, event_version, event_id, "
    "event_type, event_data, event_timestamp, event_metadata) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
constexpr const char* kReadBackwardSql = "SELECT " ES_EVENT_COLUMNS " FROM event_store WHERE " ES_STREAM_KEY
                                         " AND event_version <= ?4 ORDER BY event_version DESC LIMIT ?5";
#undef ES_EVENT_COLUMNS
#undef ES_STREAM_KEY

struct FileOptions {
  std::string file;
  bool synchronous_full = false;
  int busy_timeout_ms = 5000;
};

FileOptions file_options(const std::string& uri) {
  const eventstore::detail::StoreUri parsed = eventstore::detail::parse_store_uri(uri);
  FileOptions o;
  const std::string& path = parsed.sqlite_path;
  const std::size_t q = path.find('?');
  o.file = path.substr(0, q);
  if (q != std::string::npos) {
    std::string query = path.substr(q + 1);
    std::size_t pos = 0;
    while (pos <= query.size()) {
      const std::size_t amp = std::min(query.find('&', pos), query.size());
      const std::string item = query.substr(pos, amp - pos);
      const std::size_t eq = item.find('=');
      const std::string key = item.substr(0, eq), value = eq == std::string::npos ? "" : item.substr(eq + 1);
      if (key == "synchronous") o.synchronous_full = value == "full" || value == "FULL";
      if (key == "busy_timeout") o.busy_timeout_ms = std::stoi(value);
      pos = amp + 1;
    }
  }
  return o;
}

class RawLoop final : public ThreadLoop {
 public:
  RawLoop(const FileOptions& o, const BenchArgs& args) : args_(args), data_(payload(args.event_size, 1)) {
    if (sqlite3_open_v2(o.file.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK)
      throw eventstore::Error(eventstore::ErrorCode::kUnavailable, "raw sqlite: cannot open " + o.file);
    sqlite3_busy_timeout(db_, o.busy_timeout_ms);
    exec(o.synchronous_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
    begin_ = prepare("BEGIN IMMEDIATE");
    commit_ = prepare("COMMIT");
    rollback_ = prepare("ROLLBACK");
    head_ = prepare(kHeadSql);
    insert_ = prepare(kInsertSql);
    read_ = prepare(kReadBackwardSql);
  }
  RawLoop(const RawLoop&) = delete;
  RawLoop& operator=(const RawLoop&) = delete;
  ~RawLoop() override {
    for (sqlite3_stmt* s : {begin_, commit_, rollback_, head_, insert_, read_}) sqlite3_finalize(s);
    sqlite3_close_v2(db_);
  }

  void add_stream() override { streams_.push_back(Stream{eventstore::Uuid::random().to_string(), 0}); }

 private:
  struct Stream {
    std::string id;
    std::int64_t version;
  };

  sqlite3_stmt* prepare(const char* sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK)
      throw eventstore::Error(eventstore::ErrorCode::kInternal, std::string("raw sqlite: ") + sqlite3_errmsg(db_));
    return s;
  }
  void exec(const char* sql) { sqlite3_exec(db_, sql, nullptr, nullptr, nullptr); }
  static bool step_done(sqlite3_stmt* s) {
    const int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW;
  }
  void bind_stream(sqlite3_stmt* s, const Stream& stream) {
    sqlite3_bind_text(s, 1, "bench", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, stream.id.data(), static_cast<int>(stream.id.size()), SQLITE_STATIC);
    sqlite3_bind_text(s, 3, "bench_stream", -1, SQLITE_STATIC);
  }

  std::size_t stream_count() const override { return streams_.size(); }

  Outcome append(std::size_t index) override {
    Stream& stream = streams_[index];
    if (!step_done(begin_)) return kFailed;
    bind_stream(head_, stream);
    std::int64_t head = 0;
    int rc = sqlite3_step(head_);
    if (rc == SQLITE_ROW) head = sqlite3_column_int64(head_, 0);
    sqlite3_reset(head_);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return rollback(kFailed);
    if (head != stream.version) {
      stream.version = head;
      return rollback(kConflict);
    }
    bind_stream(insert_, stream);
    const std::int64_t now = eventstore::now_ms().time_since_epoch().count();
    for (std::uint64_t i = 0; i < args_.events_per_append; ++i) {
      const std::string event_id = eventstore::Uuid::random().to_string();
      sqlite3_bind_int64(insert_, 4, head + 1 + static_cast<std::int64_t>(i));
      sqlite3_bind_text(insert_, 5, event_id.data(), static_cast<int>(event_id.size()), SQLITE_STATIC);
      sqlite3_bind_text(insert_, 6, "BenchEvent", -1, SQLITE_STATIC);
      sqlite3_bind_text(insert_, 7, data_.data(), static_cast<int>(data_.size()), SQLITE_STATIC);
      sqlite3_bind_int64(insert_, 8, now);
      sqlite3_bind_null(insert_, 9);
      if (!step_done(insert_)) return rollback(kFailed);
    }
    if (!step_done(commit_)) return rollback(kFailed);
    stream.version = head + static_cast<std::int64_t>(args_.events_per_append);
    return kApplied;
  }

  Outcome rollback(Outcome status) {
    if (!sqlite3_get_autocommit(db_)) step_done(rollback_);
    return status;
  }

  Outcome read(std::size_t index) override {
    const Stream& stream = streams_[index];
    bind_stream(read_, stream);
    sqlite3_bind_int64(read_, 4, INT64_MAX);
    sqlite3_bind_int64(read_, 5, static_cast<std::int64_t>(args_.read_events));
    int rc;
    std::size_t bytes = 0;
    while ((rc = sqlite3_step(read_)) == SQLITE_ROW) {
      for (int c = 1; c <= 5; ++c) bytes += static_cast<std::size_t>(sqlite3_column_bytes(read_, c));
      bytes += static_cast<std::size_t>(sqlite3_column_int(read_, 6) + sqlite3_column_int(read_, 7));
    }
    sqlite3_reset(read_);
    sink_ += bytes;
    return rc == SQLITE_DONE ? kApplied : kFailed;
  }

  const BenchArgs& args_;
  std::string data_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* begin_ = nullptr;
  sqlite3_stmt* commit_ = nullptr;
  sqlite3_stmt* rollback_ = nullptr;
  sqlite3_stmt* head_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* read_ = nullptr;
  std::vector<Stream> streams_;
  std::size_t sink_ = 0;
};

}  // namespace

RunResult run_raw_sqlite(const std::string& uri, const BenchArgs& args, Progress& progress) {
  // The store creates the file, switches it to WAL and creates the schema, as for the store run.
  eventstore::open_store(uri).reset();
  const FileOptions options = file_options(uri);
  std::vector<std::unique_ptr<ThreadLoop>> loops;
  for (std::uint64_t i = 0; i < args.concurrency; ++i) loops.push_back(std::make_unique<RawLoop>(options, args));
  return run_thread_loops(loops, args, progress);
}

}  // namespace eventstore_cli::bench

// The SQLite ceiling of `eventstore bench --raw`: a plain loop of the transactions the store
// runs, straight on sqlite3, with the store's file, schema, statements and pragmas (WAL,
// synchronous as in the URI, busy_timeout): the backend's own Connection, statement text and
// URI options (src/sqlite/connection.h, statements.h, options.h), without its writer.
// One append is
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
#include "sqlite/connection.h"
#include "sqlite/options.h"
#include "sqlite/statements.h"

namespace eventstore_cli::bench {
namespace {

using eventstore::detail::Connection;
using eventstore::detail::SqliteOptions;

class RawLoop final : public ThreadLoop {
 public:
  RawLoop(const SqliteOptions& o, const BenchArgs& args)
      : args_(args), data_(payload(args.event_size, 1)), connection_(o, /*create=*/false) {
    eventstore::detail::apply_write_pragmas(connection_);
    begin_ = connection_.statement(eventstore::detail::kBegin);
    commit_ = connection_.statement(eventstore::detail::kCommit);
    rollback_ = connection_.statement(eventstore::detail::kRollback);
    head_ = connection_.statement(eventstore::detail::kHead);
    insert_ = connection_.statement(eventstore::detail::kInsert);
    read_ = connection_.statement(eventstore::detail::kReadBackward);
  }
  RawLoop(const RawLoop&) = delete;
  RawLoop& operator=(const RawLoop&) = delete;

  void add_stream() override { streams_.push_back(Stream{eventstore::Uuid::random().to_string(), 0}); }

 private:
  struct Stream {
    std::string id;
    std::int64_t version;
  };

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
    if (!sqlite3_get_autocommit(connection_.db())) step_done(rollback_);
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
  Connection connection_;  // owns the statements below
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
  const SqliteOptions options = eventstore::detail::parse_options(eventstore::detail::parse_store_uri(uri).sqlite_path);
  std::vector<std::unique_ptr<ThreadLoop>> loops;
  for (std::uint64_t i = 0; i < args.concurrency; ++i) loops.push_back(std::make_unique<RawLoop>(options, args));
  return run_thread_loops(loops, args, progress);
}

}  // namespace eventstore_cli::bench

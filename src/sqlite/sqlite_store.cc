// The sqlite:PATH backend's Store: validates on the caller's thread, then hands writes to the
// Writer (writer.h: group commit on one connection) and runs reads on the caller's thread on a
// pooled read connection (reader_pool.h, reads.h, cursor.h). Layout, durability and the
// concurrency model are in docs/sqlite.md. The other files of src/sqlite/:
//   options     the URI's options            connection    sqlite3 handles, statements, errors
//   statements  the SQL text                 schema        identity, WAL, tables, feed backfill
//   reads       queries and row decoding     checkpointer  the WAL checkpoint thread
//   jobs        what the writer commits      group_commit  one transaction per batch
//   feed_rows   a batch's feed positions     writer        the writer thread and its queue
//   lifecycle_rows  a stream's truncate/delete state and the writes of a change
#include "sqlite/sqlite_store.h"

#include <chrono>
#include <optional>
#include <utility>

#include "core/lifecycle.h"
#include "core/validation.h"
#include "sqlite/cursor.h"
#include "sqlite/reader_pool.h"
#include "sqlite/reads.h"
#include "sqlite/schema.h"
#include "sqlite/writer.h"

namespace eventstore::detail {
namespace {

// Runs `query` on a pooled read connection; its result, or the Error it threw.
template <class T, class Query>
Result<T> on_reader(ReaderPool& pool, Query&& query) {
  try {
    ReaderPool::Lease lease = pool.lease();
    return query(*lease);
  } catch (const Error& e) {
    return e;
  }
}

class SqliteStore final : public Store {
 public:
  SqliteStore(SqliteOptions options, const Limits& limits, std::shared_ptr<MetricsSink> metrics)
      : limits_(limits), readers_(std::make_shared<ReaderPool>(options)) {
    auto connection = std::make_unique<Connection>(options, /*create=*/true);
    open_schema(*connection);
    writer_ = std::make_unique<Writer>(std::move(connection), limits_, std::move(metrics));
  }

  // The deleter of the shared_ptr that open_sqlite_store returns. Dropping the last reference
  // inside a callback runs it on the writer thread, which cannot join itself: the writer then
  // deletes the store (closing its connections) as its thread's last act.
  static void release(SqliteStore* store) {
    if (!store->writer_->on_writer_thread()) {
      delete store;
      return;
    }
    store->writer_->close_from_writer_thread([store] { delete store; });
  }

  // Closes the writer while the whole store is alive: callbacks it completes may still call it.
  ~SqliteStore() override { writer_->close(); }

  std::string describe() const override { return readers_->options().display; }

  AppendResult append(const StreamId& stream, ExpectedVersion expected, std::vector<EventData> events) override {
    prepare_append(stream, expected, events, limits_);
    return writer_->append(AppendJob{stream, expected, std::move(events), {}});
  }

  void append_async(const StreamId& stream, ExpectedVersion expected, std::vector<EventData> events,
                    AppendCallback callback) override {
    if (auto error = validation_error([&] { prepare_append(stream, expected, events, limits_); }))
      return callback(std::move(*error));
    writer_->enqueue(AppendJob{stream, expected, std::move(events), std::move(callback)});
  }

  // A lifecycle change is an append of its system event (AppendJob::change): same queue, same
  // checks, and its writes (lifecycle_rows.h) in the same transaction.
  void change_lifecycle_async(const StreamId& stream, LifecycleChange change, AppendCallback callback) override {
    std::vector<EventData> events;
    if (auto error = validation_error([&] { events.push_back(prepare_lifecycle(stream, change, limits_)); }))
      return callback(std::move(*error));
    const ExpectedVersion expected = change.expected;
    writer_->enqueue(AppendJob{stream, expected, std::move(events), std::move(callback), 0, {}, change});
  }

  std::unique_ptr<EventCursor> read(const StreamId& stream, const ReadOptions& options) override {
    if (auto error = validation_error([&] { validate_read(stream, options, limits_); }))
      return failed_cursor(std::move(*error));
    return std::make_unique<SqliteCursor>(readers_, stream, options);
  }

  void head_async(const StreamId& stream, HeadCallback callback) override {
    if (auto error = validation_error([&] { validate_stream(stream, limits_); })) return callback(std::move(*error));
    callback(on_reader<std::int64_t>(
        *readers_, [&](Connection& c) { return head_of(c, stream, stream.aggregate_id.to_string(), "read head"); }));
  }

  void load_snapshot_async(const StreamId& stream, LoadCallback callback) override {
    if (auto error = validation_error([&] { validate_stream(stream, limits_); })) return callback(std::move(*error));
    callback(
        on_reader<std::optional<Snapshot>>(*readers_, [&](Connection& c) { return load_snapshot_row(c, stream); }));
  }

  void save_snapshot_async(const StreamId& stream, Snapshot snapshot, SaveCallback callback) override {
    if (auto error = validation_error([&] { validate_snapshot(stream, snapshot, limits_); }))
      return callback(std::move(*error));
    snapshot.timestamp = std::chrono::time_point_cast<std::chrono::milliseconds>(snapshot.timestamp);
    writer_->enqueue(SnapshotJob{stream, std::move(snapshot), std::move(callback)});
  }

  void read_feed_async(const std::string& context, const FeedReadOptions& options, FeedPageCallback callback) override {
    if (auto error = validation_error([&] { validate_feed_read(context, options, limits_); }))
      return callback(std::move(*error));
    callback(on_reader<FeedPage>(*readers_, [&](Connection& c) { return read_feed_page(c, context, options); }));
  }

  void feed_head_async(const std::string& context, PositionCallback callback) override {
    if (auto error = validation_error([&] { validate_context(context, limits_); })) return callback(std::move(*error));
    callback(on_reader<std::int64_t>(*readers_, [&](Connection& c) { return feed_head_of(c, context); }));
  }

  void load_checkpoint_async(const std::string& context, const std::string& name,
                             CheckpointCallback callback) override {
    if (auto error = validation_error([&] { validate_checkpoint(context, name, limits_); }))
      return callback(std::move(*error));
    callback(on_reader<std::optional<Checkpoint>>(
        *readers_, [&](Connection& c) { return load_checkpoint_row(c, context, name); }));
  }

  void save_checkpoint_async(const std::string& context, const std::string& name, std::int64_t position,
                             PositionCallback callback) override {
    if (auto error = validation_error([&] { validate_checkpoint_save(context, name, position, limits_); }))
      return callback(std::move(*error));
    writer_->enqueue(CheckpointJob{context, name, position, std::move(callback)});
  }

  void feed_status_async(const std::string& context, StatusCallback callback) override {
    if (auto error = validation_error([&] { validate_context(context, limits_); })) return callback(std::move(*error));
    callback(on_reader<FeedStatus>(*readers_, [&](Connection& c) { return read_feed_status(c, context); }));
  }

 private:
  const Limits limits_;
  // Shared with the cursors, which may outlive the store.
  std::shared_ptr<ReaderPool> readers_;
  std::unique_ptr<Writer> writer_;
};

}  // namespace

std::shared_ptr<Store> open_sqlite_store(const std::string& path, const StoreOptions& options) {
  return std::shared_ptr<SqliteStore>(new SqliteStore(parse_options(path), options.limits, options.metrics),
                                      &SqliteStore::release);
}

}  // namespace eventstore::detail

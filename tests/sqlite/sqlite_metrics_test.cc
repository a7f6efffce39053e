// What the sqlite:PATH backend measures inside (docs/observability.md, "Inside the backends"):
// the appends of each group commit and its time, the checkpoints by who ran them, the log's
// length after each.
#include <sqlite3.h>

#include <gtest/gtest.h>

#include "conformance/recording_sink.h"
#include "sqlite_test_support.h"

namespace sqlite_test {
namespace {

using eventstore::testing::RecordingSink;

std::shared_ptr<es::Store> open_measured(const std::string& file, std::shared_ptr<RecordingSink> sink) {
  es::StoreOptions options;
  options.metrics = std::move(sink);
  return es::open_store("sqlite:" + file, options);
}

// Appends of 10 events of about two pages each (an event and its overflow page).
void append_padded(es::Store& store, const es::StreamId& stream, int from, int to) {
  const std::string page_of_data = R"({"pad":")" + std::string(3500, 'x') + R"("})";
  for (int a = from; a < to; ++a)
    store.append(stream, es::ExpectedVersion::exact(a * 10),
                 std::vector<es::EventData>(10, event("Padded", page_of_data)));
}

// 300 appends in flight at once: however the writer groups them, the group sizes add up to them,
// and each group commit is timed once. A snapshot write is a group of no append.
TEST(SqliteMetrics, GroupSizesAddUpToTheAppends) {
  TempDir dir;
  auto sink = std::make_shared<RecordingSink>();
  auto store = open_measured(dir.file(), sink);
  constexpr int kAppends = 300;
  std::vector<es::StreamId> streams;
  for (int s = 0; s < 30; ++s) streams.push_back(stream_of());
  std::mutex mutex;
  std::condition_variable done;
  int pending = kAppends;
  int failed = 0;
  for (int i = 0; i < kAppends; ++i)
    store->append_async(streams[static_cast<std::size_t>(i % 30)], es::ExpectedVersion::any(), one_event(),
                        [&](es::Result<es::AppendResult> result) {
                          std::lock_guard lock(mutex);
                          if (!result.ok()) ++failed;
                          if (--pending == 0) done.notify_all();
                        });
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(done.wait_for(lock, std::chrono::seconds(60), [&] { return pending == 0; }));
  }
  EXPECT_EQ(failed, 0);
  const double groups = sink->value("eventstore_sqlite_group_appends:count");
  EXPECT_EQ(sink->value("eventstore_sqlite_group_appends:sum"), kAppends);
  EXPECT_GE(groups, 1);
  EXPECT_LE(groups, kAppends);
  EXPECT_EQ(sink->value("eventstore_sqlite_group_commit_seconds:count"), groups);
  EXPECT_GT(sink->value("eventstore_sqlite_group_commit_seconds:sum"), 0);

  store->save_snapshot(streams[0], es::Snapshot{1, R"({"n":1})", std::nullopt, es::now_ms()});
  EXPECT_EQ(sink->value("eventstore_sqlite_group_appends:count"), groups + 1);
  EXPECT_EQ(sink->value("eventstore_sqlite_group_appends:sum"), kAppends);
  // The blocking append commits on the caller's thread when the writer is idle: measured too.
  store->append(streams[0], es::ExpectedVersion::any(), one_event());
  EXPECT_EQ(sink->value("eventstore_sqlite_group_appends:sum"), kAppends + 1);
}

// About 3,000 pages of log: the checkpoint thread runs (every 1,000 pages), timed, and reports
// the log's length after it; the writer, under its 8,000-page limit, never checkpoints itself.
TEST(SqliteMetrics, BackgroundCheckpointsAreTimedWithTheLogLength) {
  TempDir dir;
  auto sink = std::make_shared<RecordingSink>();
  auto store = open_measured(dir.file(), sink);
  append_padded(*store, stream_of(), 0, 150);
  const double checkpoints =
      sink->wait_for("eventstore_sqlite_checkpoints_total,background", [](double v) { return v >= 1; });
  EXPECT_GE(checkpoints, 1) << "no background checkpoint was reported";
  EXPECT_GE(sink->wait_for("eventstore_sqlite_checkpoint_seconds,background:count",
                           [&](double v) { return v >= checkpoints; }),
            checkpoints);
  EXPECT_GE(sink->records("eventstore_sqlite_wal_pages"), 1);
  EXPECT_GT(sink->max("eventstore_sqlite_wal_pages"), 0);
  EXPECT_LE(sink->max("eventstore_sqlite_wal_pages"), 8100);
  EXPECT_EQ(sink->records("eventstore_sqlite_checkpoints_total,writer"), 0);
}

// A reader holding an old snapshot keeps every checkpoint from reaching the end of the log, so
// the log outgrows its 8,000-page limit and the committing thread checkpoints itself (the pause
// appends see), each time reporting a log past the limit.
TEST(SqliteMetrics, TheWriterCheckpointsItselfPastTheLogLimit) {
  TempDir dir;
  auto sink = std::make_shared<RecordingSink>();
  auto store = open_measured(dir.file(), sink);
  const es::StreamId stream = stream_of();
  append_padded(*store, stream, 0, 1);
  sqlite3* reader = nullptr;
  ASSERT_EQ(sqlite3_open_v2(dir.file().c_str(), &reader, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM sqlite_master;", nullptr, nullptr, nullptr), SQLITE_OK);
  append_padded(*store, stream, 1, 500);  // about 10,000 pages
  sqlite3_exec(reader, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_close(reader);
  EXPECT_GE(sink->value("eventstore_sqlite_checkpoints_total,writer"), 1);
  EXPECT_EQ(sink->value("eventstore_sqlite_checkpoint_seconds,writer:count"),
            sink->value("eventstore_sqlite_checkpoints_total,writer"));
  EXPECT_GE(sink->max("eventstore_sqlite_wal_pages"), 8000);
}

// Without a sink the store reports nothing and behaves the same.
TEST(SqliteMetrics, WithoutASinkNothingIsMeasured) {
  TempDir dir;
  auto store = open(dir.file());
  EXPECT_EQ(store->metrics_sink(), nullptr);
  store->append(stream_of(), es::ExpectedVersion::any(), one_event());
}

}  // namespace
}  // namespace sqlite_test

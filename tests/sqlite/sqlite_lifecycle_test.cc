// Tests of the sqlite:PATH backend's stream lifecycle (docs/sqlite.md, "Stream lifecycle"): the
// stream_lifecycle table and the upgrade of a revision-2 file, the rows a change removes, the
// feed's entries of removed events, and lifecycle changes inside group commits.
#include "sqlite_test_support.h"

#include <sqlite3.h>

#include <gtest/gtest.h>

namespace sqlite_test {
namespace {

std::string key_of(const es::StreamId& s) {
  return "bounded_context = " + sql_quote(s.bounded_context) +
         " AND aggregate_id = " + sql_quote(s.aggregate_id.to_string()) +
         " AND aggregate_type = " + sql_quote(s.aggregate_type);
}

std::vector<std::int64_t> versions(es::Store& store, const es::StreamId& s) {
  std::vector<std::int64_t> out;
  for (const es::RecordedEvent& e : store.read_all(s)) out.push_back(e.version);
  return out;
}

// Every entry of the context's feed: "version@position".
std::vector<std::string> feed_of(es::Store& store, const std::string& context, bool with_data) {
  std::vector<std::string> out;
  es::FeedReadOptions options;
  options.limit = 2;
  options.with_data = with_data;
  for (;;) {
    const es::FeedPage p = store.read_feed(context, options);
    for (const es::FeedEntry& e : p.entries)
      out.push_back(std::to_string(e.event.version) + "@" + std::to_string(e.position));
    if (p.last_position == options.after) break;
    options.after = p.last_position;
  }
  return out;
}

TEST(SqliteLifecycle, ChangesAreRowsInStreamLifecycleAndRemoveWhatTheyHide) {
  TempDir dir;
  auto store = open(dir.file());
  const es::StreamId s = stream_of();
  for (int i = 0; i < 5; ++i) store->append(s, es::ExpectedVersion::any(), {event()});
  store->save_snapshot(s, es::Snapshot{5, "{}", std::nullopt, es::now_ms()});
  Raw raw(dir.file());
  EXPECT_EQ(raw.one("SELECT count(*) FROM stream_lifecycle"), "0");

  store->truncate_stream(s, 4);  // 6
  EXPECT_EQ(raw.one("SELECT before_version || '|' || hard_deleted FROM stream_lifecycle WHERE " + key_of(s)), "4|0");
  EXPECT_EQ(raw.rows("SELECT event_version FROM event_store WHERE " + key_of(s) + " ORDER BY event_version"),
            (std::vector<std::string>{"4", "5", "6"}));
  EXPECT_EQ(raw.one("SELECT count(*) FROM aggregate_snapshot WHERE " + key_of(s)), "1");

  store->truncate_stream(s, 2);  // 7: before stays 4
  EXPECT_EQ(raw.one("SELECT before_version FROM stream_lifecycle WHERE " + key_of(s)), "4");

  store->delete_stream(s);  // 8
  EXPECT_EQ(raw.one("SELECT before_version || '|' || hard_deleted FROM stream_lifecycle WHERE " + key_of(s)), "8|0");
  EXPECT_EQ(raw.rows("SELECT event_version FROM event_store WHERE " + key_of(s)), (std::vector<std::string>{"8"}));
  EXPECT_EQ(raw.one("SELECT count(*) FROM aggregate_snapshot WHERE " + key_of(s)), "0");

  store->append(s, es::ExpectedVersion::exact(8), {event()});
  store->delete_stream(s, true);  // 10
  EXPECT_EQ(raw.one("SELECT before_version || '|' || hard_deleted FROM stream_lifecycle WHERE " + key_of(s)), "10|1");
  EXPECT_EQ(raw.rows("SELECT event_type FROM event_store WHERE " + key_of(s)),
            (std::vector<std::string>{"$hard-deleted"}));
  // Reopened, the state is the file's.
  store.reset();
  store = open(dir.file());
  EXPECT_EQ(error_of([&] { store->append(s, es::ExpectedVersion::any(), {event()}); }).code(),
            es::ErrorCode::kStreamDeleted);
  EXPECT_EQ(versions(*store, s), std::vector<std::int64_t>{10});
}

// A file of revision 2 (a feed, no stream_lifecycle) opens, gets the table, and keeps its data.
TEST(SqliteLifecycle, UpgradesARevision2File) {
  TempDir dir;
  const es::StreamId s = stream_of();
  {
    auto store = open(dir.file());
    for (int i = 0; i < 4; ++i) store->append(s, es::ExpectedVersion::any(), {event()});
  }
  {
    Raw raw(dir.file());
    raw.exec("DROP TABLE stream_lifecycle; PRAGMA user_version = 2;");
  }
  auto store = open(dir.file());
  Raw raw(dir.file());
  EXPECT_EQ(raw.one("PRAGMA user_version"), "3");
  EXPECT_EQ(raw.one("SELECT count(*) FROM stream_lifecycle"), "0");
  EXPECT_EQ(versions(*store, s), (std::vector<std::int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(store->truncate_stream(s, 3).first_version, 5);
  EXPECT_EQ(versions(*store, s), (std::vector<std::int64_t>{3, 4, 5}));
  EXPECT_EQ(feed_of(*store, "sales", true), (std::vector<std::string>{"3@3", "4@4", "5@5"}));
}

// A removed event's feed entry is left out, with or without data; a missing event that no
// lifecycle change removed is still damage.
TEST(SqliteLifecycle, TheFeedLeavesOutRemovedEventsButNotDamage) {
  TempDir dir;
  auto store = open(dir.file());
  const es::StreamId s = stream_of();
  for (int i = 0; i < 4; ++i) store->append(s, es::ExpectedVersion::any(), {event()});
  store->truncate_stream(s, 3);  // 5
  EXPECT_EQ(feed_of(*store, "sales", true), (std::vector<std::string>{"3@3", "4@4", "5@5"}));
  EXPECT_EQ(feed_of(*store, "sales", false), (std::vector<std::string>{"3@3", "4@4", "5@5"}));
  EXPECT_EQ(store->feed_head("sales"), 5);
  Raw(dir.file()).exec("DELETE FROM event_store WHERE " + key_of(s) + " AND event_version = 4");
  EXPECT_EQ(error_of([&] { feed_of(*store, "sales", true); }).code(), es::ErrorCode::kCorruption);
  EXPECT_EQ(error_of([&] { feed_of(*store, "sales", false); }).code(), es::ErrorCode::kCorruption);
  // A stream read sees the hole too.
  EXPECT_EQ(error_of([&] { store->read_all(s); }).code(), es::ErrorCode::kCorruption);
}

TEST(SqliteLifecycle, ADamagedLifecycleRowIsCorruption) {
  TempDir dir;
  auto store = open(dir.file());
  const es::StreamId s = stream_of();
  store->append(s, es::ExpectedVersion::any(), {event()});
  store->truncate_stream(s, 1);
  Raw(dir.file()).exec("UPDATE stream_lifecycle SET hard_deleted = 'x' WHERE " + key_of(s));
  EXPECT_EQ(error_of([&] { store->append(s, es::ExpectedVersion::any(), {event()}); }).code(),
            es::ErrorCode::kCorruption);
  EXPECT_EQ(versions(*store, s), (std::vector<std::int64_t>{1, 2}));
}

// Lifecycle changes share group commits with appends: a refused change rolls back alone, and a
// truncate sees the appends committed before it in the same group.
TEST(SqliteLifecycle, ChangesInAGroupCommitSucceedOrFailAlone) {
  TempDir dir;
  auto store = open(dir.file());
  const es::StreamId s = stream_of();
  store->append(s, es::ExpectedVersion::any(), {event()});
  constexpr int kRounds = 20;
  std::vector<std::future<es::Result<es::AppendResult>>> results;
  std::vector<std::shared_ptr<std::promise<es::Result<es::AppendResult>>>> promises;
  const auto submit = [&](auto&& start) {
    auto p = std::make_shared<std::promise<es::Result<es::AppendResult>>>();
    results.push_back(p->get_future());
    promises.push_back(p);
    start([p](es::Result<es::AppendResult> r) { p->set_value(std::move(r)); });
  };
  for (int i = 0; i < kRounds; ++i) {
    submit([&](auto cb) { store->append_async(s, es::ExpectedVersion::any(), {event()}, cb); });
    // Refused: expected version 0 on a stream that exists.
    submit([&](auto cb) {
      store->change_lifecycle_async(
          s, es::LifecycleChange{es::LifecycleKind::kTruncate, 1, es::ExpectedVersion::no_stream(), std::nullopt}, cb);
    });
    // Accepted: hides everything up to the append just queued (at least 2 + 2i after the earlier ones).
    submit([&](auto cb) {
      store->change_lifecycle_async(
          s, es::LifecycleChange{es::LifecycleKind::kTruncate, 2 + 2 * i, es::ExpectedVersion::any(), std::nullopt},
          cb);
    });
  }
  std::int64_t highest_before = 1;
  for (std::size_t k = 0; k < results.size(); ++k) {
    const es::Result<es::AppendResult> r = results[k].get();
    if (k % 3 == 1) {
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.error().code(), es::ErrorCode::kVersionConflict);
    } else {
      ASSERT_TRUE(r.ok()) << k << ": " << r.error().what();
      if (k % 3 == 2) highest_before = 2 + 2 * static_cast<std::int64_t>(k / 3);
    }
  }
  EXPECT_EQ(store->head(s), 1 + 2 * kRounds);
  std::vector<std::int64_t> expected;
  for (std::int64_t v = highest_before; v <= 1 + 2 * kRounds; ++v) expected.push_back(v);
  EXPECT_EQ(versions(*store, s), expected);
  EXPECT_EQ(Raw(dir.file()).one("SELECT min(event_version) FROM event_store WHERE " + key_of(s)),
            std::to_string(highest_before));
  EXPECT_EQ(feed_of(*store, "sales", true).size(), expected.size());
}

}  // namespace
}  // namespace sqlite_test

// Tests of the sqlite:PATH backend's feed (docs/sqlite.md, "The feed"): its tables, positions
// dense across writers and processes, the backfill of a file written before it, checkpoints.
#include "sqlite_test_support.h"

#include <sqlite3.h>

#include <gtest/gtest.h>

namespace sqlite_test {
namespace {

// The whole feed of `context`: each entry's "type/id/version", by position, checking that the
// positions are 1, 2, 3, ... and that the store's head is the last one.
std::vector<std::string> whole_feed(es::Store& store, const std::string& context, std::uint32_t page = 7) {
  std::vector<std::string> out;
  es::FeedReadOptions options;
  options.limit = page;
  options.with_data = false;
  for (;;) {
    const es::FeedPage p = store.read_feed(context, options);
    for (const es::FeedEntry& e : p.entries) {
      EXPECT_EQ(e.position, static_cast<std::int64_t>(out.size()) + 1);
      out.push_back(e.event.stream.aggregate_type + "/" + e.event.stream.aggregate_id.to_string() + "/" +
                    std::to_string(e.event.version));
    }
    if (p.last_position == options.after) break;
    options.after = p.last_position;
  }
  EXPECT_EQ(store.feed_head(context), static_cast<std::int64_t>(out.size()));
  return out;
}

std::string ref(const es::StreamId& stream, std::int64_t version) {
  return stream.aggregate_type + "/" + stream.aggregate_id.to_string() + "/" + std::to_string(version);
}

TEST(SqliteFeed, CreatesTheFeedTables) {
  TempDir dir;
  auto store = open(dir.file());
  const es::StreamId stream = stream_of();
  store->append(stream, es::ExpectedVersion::no_stream(), {event(), event("Paid")});
  store->save_checkpoint("sales", "projector", 2);
  Raw raw(dir.file());
  EXPECT_EQ(raw.rows("SELECT bounded_context, position, aggregate_type, aggregate_id, event_version "
                     "FROM event_feed_entries ORDER BY position"),
            (std::vector<std::string>{"sales|1|Order|" + stream.aggregate_id.to_string() + "|1",
                                      "sales|2|Order|" + stream.aggregate_id.to_string() + "|2"}));
  EXPECT_EQ(raw.one("SELECT bounded_context, name, position FROM feed_checkpoint"), "sales|projector|2");
}

// The JSON list of a feed row quotes the aggregate type.
TEST(SqliteFeed, AggregateTypesWithQuotesAndControlCharactersRoundTrip) {
  TempDir dir;
  auto store = open(dir.file());
  const es::StreamId stream = stream_of("Or\"de\\r\x01\xc3\xa9");
  store->append(stream, es::ExpectedVersion::no_stream(), {event()});
  const es::FeedPage page = store->read_feed("sales", {});
  ASSERT_EQ(page.entries.size(), 1u);
  EXPECT_EQ(page.entries[0].event.stream, stream);
  EXPECT_EQ(page.entries[0].event.data, R"({"n":1})");
}

TEST(SqliteFeed, CheckpointsSurviveReopeningAndOnlyMoveForward) {
  TempDir dir;
  {
    auto store = open(dir.file());
    EXPECT_EQ(store->save_checkpoint("sales", "projector", 5), 5);
  }
  auto store = open(dir.file());
  ASSERT_TRUE(store->load_checkpoint("sales", "projector").has_value());
  EXPECT_EQ(store->load_checkpoint("sales", "projector")->position, 5);
  EXPECT_EQ(store->save_checkpoint("sales", "projector", 3), 5);
  EXPECT_EQ(store->load_checkpoint("sales", "projector")->position, 5);
  EXPECT_FALSE(store->load_checkpoint("billing", "projector").has_value());
}

// A file of schema revision 1 (events, no feed) gets a feed at its first open: every stored
// event once, each stream in version order, streams interleaved by time.
TEST(SqliteFeed, BackfillsAFileWrittenBeforeTheFeed) {
  TempDir dir;
  const std::string file = dir.file();
  const es::StreamId a{"sales", "Order", es::Uuid::random()};
  const es::StreamId b{"sales", "Customer", es::Uuid::random()};
  const es::StreamId c{"billing", "Invoice", es::Uuid::random()};
  {
    Raw raw(file);
    raw.exec(
        "CREATE TABLE event_store (bounded_context TEXT NOT NULL, aggregate_id TEXT NOT NULL, "
        "aggregate_type TEXT NOT NULL, event_version INTEGER NOT NULL, event_id TEXT, event_type TEXT, "
        "event_data TEXT, event_timestamp INTEGER, event_metadata TEXT, "
        "PRIMARY KEY (bounded_context, aggregate_id, aggregate_type, event_version)) WITHOUT ROWID;"
        "CREATE TABLE aggregate_snapshot (bounded_context TEXT NOT NULL, aggregate_id TEXT NOT NULL, "
        "aggregate_type TEXT NOT NULL, snapshot_data TEXT, snapshot_version INTEGER, snapshot_timestamp INTEGER, "
        "snapshot_metadata TEXT, PRIMARY KEY (bounded_context, aggregate_id, aggregate_type)) WITHOUT ROWID;"
        "PRAGMA application_id = 1163285332; PRAGMA user_version = 1;");
    const auto insert = [&raw](const es::StreamId& s, int version, long long ms) {
      raw.exec("INSERT INTO event_store VALUES (" + sql_quote(s.bounded_context) + ", " +
               sql_quote(s.aggregate_id.to_string()) + ", " + sql_quote(s.aggregate_type) + ", " +
               std::to_string(version) + ", " + sql_quote(es::Uuid::random().to_string()) + ", 'Happened', '{}', " +
               std::to_string(ms) + ", NULL)");
    };
    insert(a, 1, 1000);
    insert(b, 1, 2000);
    insert(a, 2, 3000);
    insert(c, 1, 1500);
    // b's clock went backwards: version 2 still comes after version 1, with b's latest time.
    insert(b, 2, 500);
    insert(a, 3, 2500);
  }
  auto store = open(file);
  EXPECT_EQ(Raw(file).one("PRAGMA user_version"), "3");
  // By time: a1 (1000), b1 (2000), b2 (2000, after b1), a2 (3000), a3 (3000, after a2).
  EXPECT_EQ(whole_feed(*store, "sales", 2),
            (std::vector<std::string>{ref(a, 1), ref(b, 1), ref(b, 2), ref(a, 2), ref(a, 3)}));
  EXPECT_EQ(whole_feed(*store, "billing"), (std::vector<std::string>{ref(c, 1)}));
  // The feed continues after the backfilled positions, and a second open backfills nothing.
  store->append(b, es::ExpectedVersion::exact(2), {event()});
  store.reset();
  store = open(file);
  EXPECT_EQ(whole_feed(*store, "sales"),
            (std::vector<std::string>{ref(a, 1), ref(b, 1), ref(b, 2), ref(a, 2), ref(a, 3), ref(b, 3)}));
}

// Appends that fail leave no position, whether alone or in a group commit, and whether the
// failure is a conflict, an SQLite error between two of its inserts, or the feed's own insert
// (which fails the whole group: nothing of it is written).
TEST(SqliteFeed, FailedAppendsLeaveNoPosition) {
  TempDir dir;
  auto store = open(dir.file());
  {
    Raw raw(dir.file());
    raw.exec(
        "CREATE TRIGGER poison BEFORE INSERT ON event_store WHEN NEW.event_type = 'Poison' "
        "BEGIN SELECT RAISE(ABORT, 'poisoned event'); END;"
        "CREATE TRIGGER poison_feed BEFORE INSERT ON event_feed WHEN NEW.bounded_context = 'poisoned' "
        "BEGIN SELECT RAISE(ABORT, 'poisoned feed'); END;");
  }
  const es::StreamId s = stream_of();
  std::vector<std::string> expected;
  store->append(s, es::ExpectedVersion::no_stream(), {event()});
  expected.push_back(ref(s, 1));
  // Alone: the blocking append commits on this thread.
  EXPECT_EQ(error_of([&] { store->append(s, es::ExpectedVersion::exact(0), {event()}); }).code(),
            es::ErrorCode::kVersionConflict);
  error_of([&] { store->append(s, es::ExpectedVersion::exact(1), {event(), event("Poison")}); });
  EXPECT_EQ(store->head(s), 1);
  // In groups: many appends in flight, every third one failing after its first insert.
  std::vector<std::future<es::Result<es::AppendResult>>> results;
  std::vector<es::StreamId> streams;
  for (int i = 0; i < 60; ++i) {
    streams.push_back(stream_of());
    auto promise = std::make_shared<std::promise<es::Result<es::AppendResult>>>();
    results.push_back(promise->get_future());
    std::vector<es::EventData> events{event(), event(i % 3 == 0 ? "Poison" : "Paid")};
    store->append_async(streams.back(), es::ExpectedVersion::no_stream(), std::move(events),
                        [promise](es::Result<es::AppendResult> r) { promise->set_value(std::move(r)); });
  }
  for (int i = 0; i < 60; ++i) {
    const es::Result<es::AppendResult> r = results[static_cast<std::size_t>(i)].get();
    EXPECT_EQ(r.ok(), i % 3 != 0) << i;
    if (r.ok()) {
      expected.push_back(ref(streams[static_cast<std::size_t>(i)], 1));
      expected.push_back(ref(streams[static_cast<std::size_t>(i)], 2));
    }
  }
  store->append(s, es::ExpectedVersion::exact(1), {event()});
  expected.push_back(ref(s, 2));
  EXPECT_EQ(whole_feed(*store, "sales"), expected);
  // The feed's insert failing undoes the append's events too.
  const es::StreamId poisoned{"poisoned", "Order", es::Uuid::random()};
  EXPECT_NE(error_of([&] { store->append(poisoned, es::ExpectedVersion::no_stream(), {event()}); }).code(),
            es::ErrorCode::kInternal);
  EXPECT_EQ(store->head(poisoned), 0);
  EXPECT_EQ(store->feed_head("poisoned"), 0);
}

// Two stores on one file (two writers, as two processes would be) append at once: the feed
// holds every event once, at positions 1..N, each stream's versions in order.
TEST(SqliteFeed, TwoStoresOnOneFileAppendingAtOnceGiveADenseFeed) {
  TempDir dir;
  std::vector<std::shared_ptr<es::Store>> stores{open(dir.file()), open(dir.file())};
  constexpr int kStreamsPerStore = 8, kAppendsPerStream = 40;
  std::vector<std::vector<es::StreamId>> streams(2);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int w = 0; w < 2; ++w) {
    for (int i = 0; i < kStreamsPerStore; ++i) streams[static_cast<std::size_t>(w)].push_back(stream_of());
    threads.emplace_back([&, w] {
      es::Store& store = *stores[static_cast<std::size_t>(w)];
      const auto& mine = streams[static_cast<std::size_t>(w)];
      // Each round: one async append per stream in flight, two events each, then wait.
      for (int round = 0; round < kAppendsPerStream; ++round) {
        std::vector<std::future<bool>> done;
        for (const es::StreamId& s : mine) {
          auto promise = std::make_shared<std::promise<bool>>();
          done.push_back(promise->get_future());
          store.append_async(s, es::ExpectedVersion::exact(2 * round), {event(), event("Paid")},
                             [promise](es::Result<es::AppendResult> r) { promise->set_value(r.ok()); });
        }
        for (auto& f : done)
          if (!f.get()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);
  const std::vector<std::string> feed = whole_feed(*stores[0], "sales", 100);
  EXPECT_EQ(feed, whole_feed(*stores[1], "sales", 33));
  ASSERT_EQ(feed.size(), std::size_t{2 * kStreamsPerStore * kAppendsPerStream * 2});
  std::map<std::string, std::int64_t> last_version;
  for (const std::string& entry : feed) {
    const std::size_t slash = entry.rfind('/');
    std::int64_t& last = last_version[entry.substr(0, slash)];
    EXPECT_EQ(std::stoll(entry.substr(slash + 1)), last + 1) << entry;
    last = std::stoll(entry.substr(slash + 1));
  }
  EXPECT_EQ(last_version.size(), std::size_t{2 * kStreamsPerStore});
}

// A writer remembers the last position it committed; another writer's commit in between must
// make it read the position again.
TEST(SqliteFeed, AWriterSeesPositionsAnotherWriterGaveInBetween) {
  TempDir dir;
  auto first = open(dir.file());
  auto second = open(dir.file());
  const es::StreamId a = stream_of(), b = stream_of();
  first->append(a, es::ExpectedVersion::no_stream(), {event()});
  second->append(b, es::ExpectedVersion::no_stream(), {event(), event(), event()});
  first->append(a, es::ExpectedVersion::exact(1), {event()});
  second->append(b, es::ExpectedVersion::exact(3), {event()});
  {
    Raw raw(dir.file());
    raw.exec("INSERT INTO event_feed VALUES ('sales', 8, 7, '[]')");  // as another program might
  }
  first->append(a, es::ExpectedVersion::exact(2), {event()});
  Raw raw(dir.file());
  EXPECT_EQ(raw.rows("SELECT first_position, last_position FROM event_feed ORDER BY last_position"),
            (std::vector<std::string>{"1|1", "2|4", "5|5", "6|6", "7|8", "9|9"}));
}

TEST(SqliteFeed, PagesCarryDataOnlyWhenAskedAndFilterWithoutStalling) {
  TempDir dir;
  auto store = open(dir.file());
  const es::StreamId order = stream_of("Order"), customer = stream_of("Customer");
  store->append(order, es::ExpectedVersion::no_stream(), {event("Created", R"({"n":1})")});
  store->append(customer, es::ExpectedVersion::no_stream(), {event("Joined", R"({"n":2})")});
  store->append(order, es::ExpectedVersion::exact(1), {event("Paid", R"({"n":3})")});
  es::FeedReadOptions options;
  options.filter.aggregate_types = {"Customer"};
  options.limit = 1;
  options.after = 2;
  es::FeedPage page = store->read_feed("sales", options);
  EXPECT_TRUE(page.entries.empty());
  EXPECT_EQ(page.last_position, 3);
  options.after = 0;
  options.limit = 10;
  page = store->read_feed("sales", options);
  ASSERT_EQ(page.entries.size(), 1u);
  EXPECT_EQ(page.entries[0].position, 2);
  EXPECT_EQ(page.entries[0].event.data, R"({"n":2})");
  EXPECT_EQ(page.last_position, 3);
  options.with_data = false;
  options.filter = {};
  page = store->read_feed("sales", options);
  ASSERT_EQ(page.entries.size(), 3u);
  EXPECT_EQ(page.entries[2].event.event_type, "Paid");
  EXPECT_FALSE(page.entries[2].event.data.has_value());
  EXPECT_EQ(page.entries[2].event.version, 2);
}

TEST(SqliteFeed, AFeedEntryWhoseEventIsGoneIsCorruption) {
  TempDir dir;
  auto store = open(dir.file());
  const es::StreamId s = stream_of();
  store->append(s, es::ExpectedVersion::no_stream(), {event(), event()});
  Raw(dir.file()).exec("DELETE FROM event_store WHERE event_version = 2");
  const es::Error e = error_of([&] { store->read_feed("sales", {}); });
  EXPECT_EQ(e.code(), es::ErrorCode::kCorruption);
  EXPECT_NE(std::string(e.what()).find("position 2"), std::string::npos) << e.what();
}

}  // namespace
}  // namespace sqlite_test

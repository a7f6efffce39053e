// Stream lifecycle on the cluster (docs/scylla.md, "Lifecycle"), below the conformance suite:
// what the lifecycle batch leaves in event_store (the static columns, one range tombstone instead
// of the rows), streams of the seed's library, reads that filter rows the range delete did not
// remove, a hard delete racing appends, and injected faults.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "backend_store.h"
#include "feed_test_support.h"
#include "scylla/cql.h"

namespace eventstore::testing {
namespace {

namespace cql = detail::cql;

const std::shared_ptr<detail::Connection>& connection() {
  static std::shared_ptr<detail::Connection> c = detail::scylla_connection(*cluster());
  return c;
}

std::string events_table() { return keyspace() + ".event_store"; }

// Every row event_store holds for `stream`, tombstoned ones left out: their versions.
std::vector<std::int32_t> stored_versions(const StreamId& s) {
  std::vector<std::int32_t> out;
  for (const cql::Row& row :
       cql::execute(connection(),
                    {"SELECT event_version FROM " + events_table() +
                         " WHERE bounded_context = ? AND aggregate_id = ? AND aggregate_type = ? AND event_version > ?",
                     {s.bounded_context, s.aggregate_id, s.aggregate_type, std::int32_t{-1}}}))
    out.push_back(cql::int32(row[0]));
  return out;
}

struct Statics {
  std::optional<std::int32_t> stream_version, truncated_before;
  std::optional<bool> hard_deleted;
};

Statics statics(const StreamId& s) {
  const auto rows =
      cql::execute(connection(), {"SELECT stream_version, truncated_before, hard_deleted FROM " + events_table() +
                                      " WHERE bounded_context = ? AND aggregate_id = ? AND "
                                      "aggregate_type = ? LIMIT 1",
                                  {s.bounded_context, s.aggregate_id, s.aggregate_type}});
  if (rows.empty()) return {};
  return {cql::optional_int32(rows[0][0]), cql::optional_int32(rows[0][1]), cql::optional_boolean(rows[0][2])};
}

std::vector<std::int64_t> versions(const std::vector<RecordedEvent>& events) {
  std::vector<std::int64_t> out;
  for (const RecordedEvent& e : events) out.push_back(e.version);
  return out;
}

std::vector<std::int64_t> range(std::int64_t from, std::int64_t to) {
  std::vector<std::int64_t> out;
  for (std::int64_t v = from; v <= to; ++v) out.push_back(v);
  return out;
}

ReadOptions backward() {
  ReadOptions o;
  o.direction = Direction::kBackward;
  return o;
}

Error error_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "the call succeeded";
  return Error(ErrorCode::kInternal, "no error");
}

// The seed's library's rows: plain INSERTs, no stream_version.
void seed_append(const StreamId& s, int from, int to, const std::string& using_clause = "") {
  for (int v = from; v <= to; ++v)
    detail::execute_statement(*cluster(), "INSERT INTO " + events_table() +
                                              " (bounded_context, aggregate_id, aggregate_type, event_version, "
                                              "event_id, event_type, event_data, event_timestamp, event_metadata) "
                                              "VALUES ('" +
                                              s.bounded_context + "', " + s.aggregate_id.to_string() + ", '" +
                                              s.aggregate_type + "', " + std::to_string(v) + ", " +
                                              Uuid::random().to_string() +
                                              ", 'Seeded', '{}', toTimestamp(now()), 'null') " + using_clause);
}

TEST(ScyllaLifecycle, TruncateIsOneBatchWithTheStaticColumnsAndARangeDelete) {
  SKIP_WITHOUT_CLUSTER();
  const StreamId s = fresh_stream("lc");
  cluster()->append(s, ExpectedVersion::no_stream(), events(10));
  const AppendResult r = cluster()->truncate_stream(s, 7, ExpectedVersion::exact(10));
  EXPECT_EQ(r.first_version, 11);
  EXPECT_EQ(r.next_expected_version, 11);
  const Statics st = statics(s);
  EXPECT_EQ(st.stream_version, 11);
  EXPECT_EQ(st.truncated_before, 7);
  EXPECT_FALSE(st.hard_deleted.has_value());
  EXPECT_EQ(stored_versions(s), (std::vector<std::int32_t>{7, 8, 9, 10, 11}));  // rows below 7 are gone
  EXPECT_EQ(versions(cluster()->read_all(s)), range(7, 11));
  EXPECT_EQ(versions(cluster()->read_all(s, backward())), (std::vector<std::int64_t>{11, 10, 9, 8, 7}));
  ReadOptions from3;
  from3.from = 3;
  from3.limit = 2;
  EXPECT_EQ(versions(cluster()->read_all(s, from3)), (std::vector<std::int64_t>{7, 8}));
  ReadOptions back5 = backward();
  back5.from = 5;
  EXPECT_TRUE(cluster()->read_all(s, back5).empty());
  const auto all = cluster()->read_all(s);
  EXPECT_EQ(all.back().event_type, "$truncated");
  EXPECT_EQ(all.back().data, "{\"before\":7}");
  EXPECT_EQ(cluster()->head(s), 11);
  // A lower before hides nothing more, and never brings anything back.
  cluster()->truncate_stream(s, 2);
  EXPECT_EQ(statics(s).truncated_before, 7);
  EXPECT_EQ(versions(cluster()->read_all(s)), range(7, 12));
  // Appends go on after it.
  EXPECT_EQ(cluster()->append(s, ExpectedVersion::exact(12), events(1)).first_version, 13);
}

TEST(ScyllaLifecycle, TruncateBeforeAboveTheHeadWritesNothing) {
  SKIP_WITHOUT_CLUSTER();
  const StreamId s = fresh_stream("lc");
  cluster()->append(s, ExpectedVersion::no_stream(), events(3));
  EXPECT_EQ(error_of([&] { cluster()->truncate_stream(s, 5); }).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(cluster()->head(s), 3);
  EXPECT_FALSE(statics(s).truncated_before.has_value());
  // head + 1 is allowed: only the "$truncated" event stays.
  cluster()->truncate_stream(s, 4);
  EXPECT_EQ(versions(cluster()->read_all(s)), (std::vector<std::int64_t>{4}));
  const Error conflict = error_of([&] { cluster()->truncate_stream(s, 2, ExpectedVersion::exact(3)); });
  EXPECT_EQ(conflict.code(), ErrorCode::kVersionConflict);
  EXPECT_EQ(conflict.current_version(), 4);
}

TEST(ScyllaLifecycle, SoftDeleteReadsAsItsEventRemovesTheSnapshotAndAppendsContinue) {
  SKIP_WITHOUT_CLUSTER();
  const StreamId s = fresh_stream("lc");
  cluster()->append(s, ExpectedVersion::no_stream(), events(5));
  ASSERT_TRUE(cluster()->save_snapshot(s, Snapshot{5, "{\"n\":5}", std::nullopt, now_ms()}).stored);
  const AppendResult r = cluster()->delete_stream(s, false, ExpectedVersion::exact(5));
  EXPECT_EQ(r.first_version, 6);
  EXPECT_FALSE(cluster()->load_snapshot(s).has_value());
  const auto all = cluster()->read_all(s);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].version, 6);
  EXPECT_EQ(all[0].event_type, "$deleted");
  EXPECT_EQ(stored_versions(s), (std::vector<std::int32_t>{6}));
  EXPECT_EQ(cluster()->head(s), 6);
  EXPECT_EQ(cluster()->append(s, ExpectedVersion::exact(6), events(1)).first_version, 7);
  EXPECT_TRUE(cluster()->save_snapshot(s, Snapshot{7, "{\"n\":1}", std::nullopt, now_ms()}).stored);
}

TEST(ScyllaLifecycle, HardDeleteRefusesEveryLaterWriteAndAnswersItsOwnRetry) {
  SKIP_WITHOUT_CLUSTER();
  const StreamId s = fresh_stream("lc");
  cluster()->append(s, ExpectedVersion::no_stream(), events(4));
  ASSERT_TRUE(cluster()->save_snapshot(s, Snapshot{4, "{}", std::nullopt, now_ms()}).stored);
  LifecycleChange hard{LifecycleKind::kHardDelete, 0, ExpectedVersion::exact(4), Uuid::random()};
  const AppendResult r = cluster()->change_lifecycle(s, hard);
  EXPECT_EQ(r.first_version, 5);
  EXPECT_EQ(statics(s).hard_deleted, true);
  EXPECT_FALSE(cluster()->load_snapshot(s).has_value());
  // Its own retry, with the same event id, is answered as the original.
  const AppendResult again = cluster()->change_lifecycle(s, hard);
  EXPECT_EQ(again.first_version, 5);
  EXPECT_EQ(again.event_ids, r.event_ids);
  const auto expect_deleted = [&](const std::function<void()>& call, const std::string& what) {
    const Error e = error_of(call);
    EXPECT_EQ(e.code(), ErrorCode::kStreamDeleted) << what << ": " << e.what();
    EXPECT_EQ(e.current_version(), 5) << what;
  };
  expect_deleted([&] { cluster()->append(s, ExpectedVersion::exact(5), events(1)); }, "exact append");
  expect_deleted([&] { cluster()->append(s, ExpectedVersion::any(), events(2)); }, "any append");
  expect_deleted([&] { cluster()->append(s, ExpectedVersion::exact(3), events(1)); }, "stale exact append");
  expect_deleted([&] { cluster()->truncate_stream(s, 5); }, "truncate");
  expect_deleted([&] { cluster()->delete_stream(s, false); }, "soft delete");
  expect_deleted([&] { cluster()->delete_stream(s, true, ExpectedVersion::exact(5)); }, "hard delete again");
  expect_deleted([&] { cluster()->save_snapshot(s, Snapshot{5, "{}", std::nullopt, now_ms()}); }, "snapshot save");
  EXPECT_EQ(cluster()->head(s), 5);
  EXPECT_EQ(stored_versions(s), (std::vector<std::int32_t>{5}));
  EXPECT_FALSE(cluster()->load_snapshot(s).has_value());
  const auto all = cluster()->read_all(s);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].event_type, "$hard-deleted");
}

// Snapshot saves racing a hard delete: once both are done, no snapshot of the stream is left,
// and every save that answered after the delete's acknowledgement was refused.
TEST(ScyllaLifecycle, SnapshotSavesRacingAHardDeleteLeaveNoSnapshot) {
  SKIP_WITHOUT_CLUSTER();
  for (int round = 0; round < 5; ++round) {
    const StreamId s = fresh_stream("lc");
    cluster()->append(s, ExpectedVersion::no_stream(), events(3));
    std::atomic<bool> deleted{false};
    std::atomic<int> late_stored{0};
    std::vector<std::thread> savers;
    for (int t = 0; t < 3; ++t)
      savers.emplace_back([&, t] {
        for (int i = 0; i < 15; ++i) {
          const bool after = deleted.load();
          try {
            const SnapshotSaveResult r =
                cluster()->save_snapshot(s, Snapshot{1 + (i + t) % 3, "{}", std::nullopt, now_ms()});
            if (after && r.stored) ++late_stored;
          } catch (const Error& e) {
            EXPECT_EQ(e.code(), ErrorCode::kStreamDeleted) << e.what();
            return;
          }
        }
      });
    std::this_thread::sleep_for(std::chrono::milliseconds(5 * round));
    cluster()->delete_stream(s, true);
    deleted = true;
    for (std::thread& t : savers) t.join();
    EXPECT_EQ(late_stored.load(), 0) << "round " << round;
    EXPECT_FALSE(cluster()->load_snapshot(s).has_value()) << "round " << round;
  }
}

// Writers append with any() from threads while a hard delete lands: every append acknowledged
// is below the delete's version, every one after it is refused, and nothing is written after it.
TEST(ScyllaLifecycle, HardDeleteRacingAppendsFromThreads) {
  SKIP_WITHOUT_CLUSTER();
  const StreamId s = fresh_stream("lc");
  cluster()->append(s, ExpectedVersion::no_stream(), events(1));
  std::atomic<bool> deleted{false};
  std::atomic<int> refused{0}, late_success{0};
  std::vector<std::int64_t> acknowledged[4];
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t)
    writers.emplace_back([&, t] {
      for (int i = 0; i < 60; ++i) {
        const bool after = deleted.load();
        try {
          acknowledged[t].push_back(cluster()->append(s, ExpectedVersion::any(), events(1)).first_version);
          if (after) ++late_success;
        } catch (const Error& e) {
          EXPECT_EQ(e.code(), ErrorCode::kStreamDeleted) << e.what();
          ++refused;
          if (refused > 8) return;
        }
      }
    });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const AppendResult d = cluster()->delete_stream(s, true);
  deleted = true;
  for (std::thread& w : writers) w.join();
  EXPECT_EQ(late_success.load(), 0);
  EXPECT_GT(refused.load(), 0);
  for (const auto& versions_of_thread : acknowledged)
    for (std::int64_t v : versions_of_thread) EXPECT_LT(v, d.first_version);
  EXPECT_EQ(cluster()->head(s), d.first_version);
  EXPECT_EQ(stored_versions(s), (std::vector<std::int32_t>{static_cast<std::int32_t>(d.first_version)}));
  EXPECT_EQ(versions(cluster()->read_all(s)), (std::vector<std::int64_t>{d.first_version}));
}

// Streams the seed's library wrote (no stream_version): the change lands after their last event
// and adopts them, as an append does.
TEST(ScyllaLifecycle, SeedStreamsAreTruncatedAndDeleted) {
  SKIP_WITHOUT_CLUSTER();
  const StreamId s = fresh_stream("lc");
  seed_append(s, 1, 5);
  EXPECT_EQ(cluster()->truncate_stream(s, 3).first_version, 6);
  EXPECT_EQ(statics(s).stream_version, 6);
  EXPECT_EQ(versions(cluster()->read_all(s)), range(3, 6));
  seed_append(s, 7, 8);  // the seed's library appends on, without the static column
  EXPECT_EQ(cluster()->delete_stream(s).first_version, 9);
  EXPECT_EQ(versions(cluster()->read_all(s)), (std::vector<std::int64_t>{9}));
  // An exact change at the seed stream's head.
  const StreamId t = fresh_stream("lc");
  seed_append(t, 1, 2);
  EXPECT_EQ(cluster()->truncate_stream(t, 2, ExpectedVersion::exact(2)).first_version, 3);
  EXPECT_EQ(versions(cluster()->read_all(t)), range(2, 3));
}

// Reads never depend on the range delete: a row below before that survives it (written later
// with a client timestamp above the tombstone's, as the seed's library could) stays hidden.
TEST(ScyllaLifecycle, ReadsHideRowsBelowBeforeThatTheDeleteDidNotRemove) {
  SKIP_WITHOUT_CLUSTER();
  const StreamId s = fresh_stream("lc");
  cluster()->append(s, ExpectedVersion::no_stream(), events(6));
  cluster()->truncate_stream(s, 5);
  const std::int64_t future_us = (now_ms().time_since_epoch().count() + 3'600'000) * 1000;
  seed_append(s, 2, 3, "USING TIMESTAMP " + std::to_string(future_us));
  EXPECT_EQ(stored_versions(s), (std::vector<std::int32_t>{2, 3, 5, 6, 7}));
  EXPECT_EQ(versions(cluster()->read_all(s)), range(5, 7));
  EXPECT_EQ(versions(cluster()->read_all(s, backward())), (std::vector<std::int64_t>{7, 6, 5}));
  ReadOptions paged;
  paged.page_size = 1;
  EXPECT_EQ(versions(cluster()->read_all(s, paged)), range(5, 7));
}

// The lifecycle batch goes through the append's fault handling: an unanswered batch that applied
// is found by the SERIAL read; one never sent is sent again.
TEST(ScyllaLifecycle, UnknownOutcomesAreResolved) {
  SKIP_WITHOUT_CLUSTER();
  const StreamId s = fresh_stream("lc");
  cluster()->append(s, ExpectedVersion::no_stream(), events(3));
  detail::inject_batch_faults(*cluster(), {{true, ErrorCode::kOutcomeUnknown}});
  EXPECT_EQ(cluster()->truncate_stream(s, 3, ExpectedVersion::exact(3)).first_version, 4);
  detail::inject_batch_faults(*cluster(), {{false, ErrorCode::kOutcomeUnknown}});
  EXPECT_EQ(cluster()->delete_stream(s, true, ExpectedVersion::any()).first_version, 5);
  EXPECT_EQ(versions(cluster()->read_all(s)), (std::vector<std::int64_t>{5}));
  EXPECT_EQ(statics(s).truncated_before, 5);
}

// Two truncates racing with any(): both land, one after the other, and before only grows.
TEST(ScyllaLifecycle, RacingTruncatesKeepTheHigherBefore) {
  SKIP_WITHOUT_CLUSTER();
  const StreamId s = fresh_stream("lc");
  cluster()->append(s, ExpectedVersion::no_stream(), events(20));
  std::thread a([&] { cluster()->truncate_stream(s, 15); });
  std::thread b([&] { cluster()->truncate_stream(s, 10); });
  a.join();
  b.join();
  EXPECT_EQ(cluster()->head(s), 22);
  EXPECT_EQ(statics(s).truncated_before, 15);
  EXPECT_EQ(versions(cluster()->read_all(s)), range(15, 22));
}

// The relay over truncated streams: a stream truncated after its events were published keeps
// its entries (with_data: data and metadata absent for the removed rows) and gains "$truncated";
// one truncated before the relay got to it is published from its before on, without a stall
// or an error, and its later appends follow.
TEST(ScyllaLifecycle, TheRelayPublishesTruncatedStreamsFromTheirBefore) {
  SKIP_WITHOUT_CLUSTER();
  using namespace std::chrono_literals;
  const auto store = open_backend_store();
  const std::string context = fresh_context("lc_feed");
  const StreamId early{context, "order", Uuid::random()}, late{context, "order", Uuid::random()};
  std::set<Uuid> expected;
  const auto append = [&](const StreamId& s, int n) {
    for (const Uuid& id : store->append(s, ExpectedVersion::any(), events(n)).event_ids) expected.insert(id);
  };
  auto relay = store->start_relay(relay_options(context));
  append(early, 10);
  ASSERT_TRUE(eventually([&] { return ids_in(read_raw_feed(*store, context)) == expected; }, 30s));
  expected.insert(store->truncate_stream(early, 8).event_ids.at(0));
  ASSERT_TRUE(eventually([&] { return ids_in(read_raw_feed(*store, context)) == expected; }, 30s));
  relay.reset();  // the late stream is written and truncated while no relay runs
  const std::vector<Uuid> late_ids = store->append(late, ExpectedVersion::no_stream(), events(10)).event_ids;
  const Uuid late_truncated = store->truncate_stream(late, 9).event_ids.at(0);
  expected.insert(late_ids.begin() + 8, late_ids.end());
  expected.insert(late_truncated);
  relay = store->start_relay(relay_options(context));
  ASSERT_TRUE(eventually([&] { return ids_in(read_raw_feed(*store, context)) == expected; }, 30s))
      << "the feed holds " << ids_in(read_raw_feed(*store, context)).size() << " of " << expected.size();
  append(late, 2);  // versions 12, 13: published after the jump
  ASSERT_TRUE(eventually([&] { return ids_in(read_raw_feed(*store, context)) == expected; }, 30s));
  std::this_thread::sleep_for(300ms);
  const RawFeed feed = read_raw_feed(*store, context);
  EXPECT_EQ(feed.rows.size(), expected.size()) << "an event published twice";
  EXPECT_TRUE(relay->stats().last_error.empty()) << relay->stats().last_error;
  FeedReadOptions options;
  options.limit = 1000;
  const FeedPage page = store->read_feed(context, options);
  ASSERT_EQ(page.entries.size(), expected.size());
  std::vector<std::pair<std::int64_t, std::string>> late_entries;
  for (const FeedEntry& entry : page.entries) {
    const RecordedEvent& e = entry.event;
    const bool removed = e.stream == early && e.version < 8;
    EXPECT_EQ(e.data.has_value(), !removed) << "version " << e.version << " of " << to_string(e.stream);
    if (removed) {
      EXPECT_FALSE(e.metadata.has_value());
    }
    if (e.stream == late) late_entries.emplace_back(e.version, e.event_type);
  }
  const std::vector<std::pair<std::int64_t, std::string>> want = {
      {9, "Happened"}, {10, "Happened"}, {11, "$truncated"}, {12, "Happened"}, {13, "Happened"}};
  EXPECT_EQ(late_entries, want);
}

}  // namespace
}  // namespace eventstore::testing

namespace eventstore::testing {
namespace {

// Not run by default (docs/scylla.md, "Lifecycle"): the read cost of a stream truncated by one
// range tombstone against the same stream untruncated. 10,000 events, truncated before 9,990:
// a backward read of 10 and a forward read of everything, median of kRuns each. With
// LC_FLUSH_CMD set (e.g. "scripts/local-cassandra nodetool flush KS event_store") the events are
// flushed before the truncate (the tombstone then sits in the memtable above an SSTable of the
// rows), and everything is measured again after a second flush (two SSTables); with
// LC_COMPACT_CMD also after a compaction.
TEST(ScyllaLifecycle, DISABLED_ReadCostOfATruncatedStream) {
  SKIP_WITHOUT_CLUSTER();
  constexpr int kRuns = 15;
  const StreamId plain = fresh_stream("cost"), truncated = fresh_stream("cost");
  for (const StreamId& s : {plain, truncated})
    for (int i = 0; i < 10; ++i) {
      std::vector<EventData> batch = events(1000);
      cluster()->append(s, ExpectedVersion::exact(i * 1000), std::move(batch));
    }
  const char* flush = std::getenv("LC_FLUSH_CMD");
  const char* compact = std::getenv("LC_COMPACT_CMD");
  if (flush) {
    ASSERT_EQ(std::system(flush), 0) << flush;
  }
  cluster()->truncate_stream(truncated, 9990);
  cluster()->append(plain, ExpectedVersion::any(), events(1));  // the same head: 10,001
  const auto median_ms = [&](const StreamId& s, const ReadOptions& options, std::size_t expect) {
    std::vector<double> times;
    for (int r = 0; r < kRuns; ++r) {
      const auto start = std::chrono::steady_clock::now();
      const std::size_t n = cluster()->read_all(s, options).size();
      times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
      EXPECT_EQ(n, expect);
    }
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
  };
  const auto measure = [&](const std::string& where) {
    ReadOptions last10 = backward();
    last10.limit = 10;
    const double plain_back = median_ms(plain, last10, 10), cut_back = median_ms(truncated, last10, 10);
    const double plain_all = median_ms(plain, {}, 10001), cut_all = median_ms(truncated, {}, 12);
    ReadOptions from_before;
    from_before.from = 9990;
    const double cut_from = median_ms(truncated, from_before, 12);
    const double plain_from = median_ms(plain, from_before, 12);
    std::printf("[%s] backward 10: untruncated %.2f ms, truncated %.2f ms (ratio %.2f)\n", where.c_str(), plain_back,
                cut_back, cut_back / plain_back);
    std::printf(
        "[%s] forward all: untruncated %.2f ms (10,001 events), truncated %.2f ms (12 events, ratio %.2f "
        "to the untruncated read of the same 12 from 9,990: %.2f ms); truncated from 9,990: %.2f ms\n",
        where.c_str(), plain_all, cut_all, cut_all / plain_from, plain_from, cut_from);
  };
  measure(flush ? "rows in an SSTable, tombstone in the memtable" : "memtable");
  if (!flush) return;
  ASSERT_EQ(std::system(flush), 0) << flush;
  measure("rows and tombstone in two SSTables");
  if (!compact) return;
  ASSERT_EQ(std::system(compact), 0) << compact;
  measure("compacted");
}

}  // namespace
}  // namespace eventstore::testing

// Stream lifecycle (include/eventstore/event_store.h, docs/lifecycle.md) on every backend:
// truncate, soft delete and hard delete as system events appended under the append's rules,
// what reads, heads, snapshots and the feed show afterwards, races with appends, and the
// aggregate store's load over deleted and truncated streams.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "counter_aggregate.h"
#include "store_conformance.h"

namespace eventstore::testing {
namespace {

using namespace std::chrono_literals;

constexpr auto kPublishWait = 60s;

class LifecycleConformance : public StoreTest {
 public:
  static LifecycleChange change(LifecycleKind kind, ExpectedVersion expected, std::optional<Uuid> id = std::nullopt,
                                std::int64_t before = 0) {
    return LifecycleChange{kind, before, expected, id};
  }

  // Every entry of the context's feed that passes `filter`.
  std::vector<FeedEntry> read_feed_all(const FeedFilter& filter = {}, bool with_data = true,
                                       std::uint32_t limit = 1000) {
    std::vector<FeedEntry> all;
    FeedReadOptions options;
    options.limit = limit;
    options.with_data = with_data;
    options.filter = filter;
    for (;;) {
      FeedPage page = store().read_feed(context_, options);
      if (page.last_position == options.after) return all;
      EXPECT_GT(page.last_position, options.after);
      for (FeedEntry& entry : page.entries) all.push_back(std::move(entry));
      options.after = page.last_position;
    }
  }

  void expect_stream_deleted(const std::function<void()>& write, std::int64_t version, const char* what) {
    const std::optional<Error> e = error_of(write);
    ASSERT_TRUE(e) << what;
    EXPECT_EQ(e->code(), ErrorCode::kStreamDeleted) << what << ": " << e->what();
    EXPECT_EQ(e->current_version(), std::optional<std::int64_t>(version)) << what;
  }

  void expect_conflict(const std::function<void()>& write, std::int64_t version, const char* what) {
    const std::optional<Error> e = error_of(write);
    ASSERT_TRUE(e) << what;
    EXPECT_EQ(e->code(), ErrorCode::kVersionConflict) << what << ": " << e->what();
    EXPECT_EQ(e->current_version(), std::optional<std::int64_t>(version)) << what;
  }
};

// ---------------------------------------------------------------------------------------------
// Truncate.

TEST_P(LifecycleConformance, TruncateHidesTheEventsBelowBeforeInEveryRead) {
  const StreamId s = new_stream();
  append_n(s, 10);
  const AppendResult r = store().truncate_stream(s, 5);
  EXPECT_EQ(r.first_version, 11);
  EXPECT_EQ(r.next_expected_version, 11);
  ASSERT_EQ(r.event_ids.size(), 1u);
  EXPECT_EQ(store().head(s), 11);

  const std::vector<RecordedEvent> all = store().read_all(s);
  EXPECT_EQ(versions_of(all), range(5, 11));
  ASSERT_EQ(all.size(), 7u);
  EXPECT_EQ(all.front().data, std::optional<std::string>(R"({"i":5})"));  // 5 itself stays
  EXPECT_EQ(all.back().event_type, kTruncatedEventType);
  EXPECT_EQ(all.back().event_id, r.event_ids[0]);
  EXPECT_EQ(all.back().data, std::optional<std::string>(R"({"before":5})"));

  EXPECT_EQ(versions_of(store().read_all(s, forward(1))), range(5, 11));
  EXPECT_EQ(versions_of(store().read_all(s, forward(4))), range(5, 11));
  EXPECT_EQ(versions_of(store().read_all(s, forward(7))), range(7, 11));
  EXPECT_EQ(versions_of(store().read_all(s, forward(1, 3))), range(5, 7));
  EXPECT_EQ(versions_of(store().read_all(s, forward(1, std::nullopt, 1))), range(5, 11));
  EXPECT_EQ(versions_of(store().read_all(s, forward(2, 2, 1))), range(5, 6));

  EXPECT_EQ(versions_of(store().read_all(s, backward())), range(11, 5));
  EXPECT_EQ(versions_of(store().read_all(s, backward(6))), range(6, 5));
  EXPECT_TRUE(store().read_all(s, backward(4)).empty());
  EXPECT_TRUE(store().read_all(s, backward(1)).empty());
  EXPECT_EQ(versions_of(store().read_all(s, backward(std::nullopt, 2))), range(11, 10));
  EXPECT_EQ(versions_of(store().read_all(s, backward(std::nullopt, std::nullopt, 1))), range(11, 5));
  EXPECT_EQ(versions_of(store().read_all(s, backward(8, 10, 1))), range(8, 5));
}

TEST_P(LifecycleConformance, TruncateAtOneHidesNothingAndAtHeadPlusOneLeavesOnlyItsEvent) {
  const StreamId s = new_stream();
  append_n(s, 3);
  EXPECT_EQ(store().truncate_stream(s, 1).first_version, 4);
  EXPECT_EQ(versions_of(store().read_all(s)), range(1, 4));
  EXPECT_EQ(store().truncate_stream(s, 5).first_version, 5);  // head + 1 = its own version
  const std::vector<RecordedEvent> all = store().read_all(s);
  ASSERT_EQ(versions_of(all), std::vector<std::int64_t>{5});
  EXPECT_EQ(all[0].event_type, kTruncatedEventType);
  EXPECT_EQ(versions_of(store().read_all(s, backward())), std::vector<std::int64_t>{5});
  EXPECT_EQ(store().head(s), 5);
  // Appends continue after it.
  EXPECT_EQ(store().append(s, ExpectedVersion::exact(5), events(1)).first_version, 6);
  EXPECT_EQ(versions_of(store().read_all(s)), range(5, 6));
}

TEST_P(LifecycleConformance, TruncateBeforeAboveHeadPlusOneIsInvalidAndWritesNothing) {
  const StreamId s = new_stream();
  append_n(s, 3);
  EXPECT_ES_ERROR(store().truncate_stream(s, 5), ErrorCode::kInvalidArgument);
  EXPECT_ES_ERROR(store().truncate_stream(s, 5, ExpectedVersion::exact(3)), ErrorCode::kInvalidArgument);
  EXPECT_ES_ERROR(store().truncate_stream(s, 0), ErrorCode::kInvalidArgument);
  EXPECT_ES_ERROR(store().truncate_stream(s, -1), ErrorCode::kInvalidArgument);
  EXPECT_EQ(store().head(s), 3);
  EXPECT_EQ(versions_of(store().read_all(s)), range(1, 3));
  // A stream that does not exist: only before 1 (its own version) is allowed.
  const StreamId missing = new_stream();
  EXPECT_ES_ERROR(store().truncate_stream(missing, 2), ErrorCode::kInvalidArgument);
  EXPECT_EQ(store().head(missing), 0);
  EXPECT_TRUE(store().read_all(missing).empty());
}

TEST_P(LifecycleConformance, ALowerTruncateDoesNotResurrectEvents) {
  const StreamId s = new_stream();
  append_n(s, 10);
  store().truncate_stream(s, 6);                               // 11
  EXPECT_EQ(store().truncate_stream(s, 3).first_version, 12);  // hides nothing more
  EXPECT_EQ(versions_of(store().read_all(s)), range(6, 12));
  EXPECT_EQ(versions_of(store().read_all(s, forward(2))), range(6, 12));
  EXPECT_EQ(versions_of(store().read_all(s, backward())), range(12, 6));
  EXPECT_TRUE(store().read_all(s, backward(5)).empty());
  EXPECT_EQ(store().head(s), 12);
}

TEST_P(LifecycleConformance, ALifecycleChangeOfAStreamThatDoesNotExistIsItsFirstEvent) {
  const StreamId a = new_stream();
  EXPECT_EQ(store().truncate_stream(a, 1, ExpectedVersion::no_stream()).first_version, 1);
  EXPECT_EQ(versions_of(store().read_all(a)), std::vector<std::int64_t>{1});
  const StreamId b = new_stream();
  EXPECT_EQ(store().delete_stream(b, false, ExpectedVersion::no_stream()).first_version, 1);
  EXPECT_EQ(store().head(b), 1);
  EXPECT_EQ(store().append(b, ExpectedVersion::exact(1), events(1)).first_version, 2);
}

// ---------------------------------------------------------------------------------------------
// Soft delete.

TEST_P(LifecycleConformance, ASoftDeletedStreamReadsAsItsDeletedEventAndContinues) {
  const StreamId s = new_stream();
  append_n(s, 4);
  const AppendResult r = store().delete_stream(s);
  EXPECT_EQ(r.first_version, 5);
  EXPECT_EQ(store().head(s), 5);
  const std::vector<RecordedEvent> all = store().read_all(s);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].version, 5);
  EXPECT_EQ(all[0].event_type, kDeletedEventType);
  EXPECT_EQ(all[0].event_id, r.event_ids[0]);
  EXPECT_EQ(versions_of(store().read_all(s, backward())), std::vector<std::int64_t>{5});
  EXPECT_EQ(versions_of(store().read_all(s, forward(1, std::nullopt, 1))), std::vector<std::int64_t>{5});
  EXPECT_TRUE(store().read_all(s, backward(4)).empty());

  expect_conflict([&] { store().append(s, ExpectedVersion::no_stream(), events(1)); }, 5, "no_stream after a delete");
  expect_conflict([&] { store().append(s, ExpectedVersion::exact(4), events(1)); }, 5, "the old head");
  EXPECT_EQ(store().append(s, ExpectedVersion::exact(5), events(2)).first_version, 6);
  EXPECT_EQ(store().append(s, ExpectedVersion::any(), events(1)).first_version, 8);
  EXPECT_EQ(versions_of(store().read_all(s)), range(5, 8));
  // A second soft delete hides what came after the first.
  EXPECT_EQ(store().delete_stream(s).first_version, 9);
  EXPECT_EQ(versions_of(store().read_all(s)), std::vector<std::int64_t>{9});
}

TEST_P(LifecycleConformance, DeletesRemoveTheSnapshotAndASoftDeletedStreamTakesANewOne) {
  const StreamId s = new_stream();
  append_n(s, 4);
  store().save_snapshot(s, Snapshot{4, R"({"v":4})", std::nullopt, now_ms()});
  store().truncate_stream(s, 3);  // a truncate keeps it
  ASSERT_TRUE(store().load_snapshot(s));
  EXPECT_EQ(store().load_snapshot(s)->version, 4);
  store().delete_stream(s);  // 6
  EXPECT_FALSE(store().load_snapshot(s));
  const SnapshotSaveResult saved = store().save_snapshot(s, Snapshot{6, R"({"v":6})", std::nullopt, now_ms()});
  EXPECT_TRUE(saved.stored);
  ASSERT_TRUE(store().load_snapshot(s));
  EXPECT_EQ(store().load_snapshot(s)->version, 6);
}

// ---------------------------------------------------------------------------------------------
// Hard delete.

TEST_P(LifecycleConformance, AHardDeletedStreamRefusesEveryWrite) {
  const StreamId s = new_stream();
  append_n(s, 3);
  store().save_snapshot(s, Snapshot{3, R"({"v":3})", std::nullopt, now_ms()});
  const AppendResult r = store().delete_stream(s, true);
  EXPECT_EQ(r.first_version, 4);
  EXPECT_EQ(store().head(s), 4);
  const std::vector<RecordedEvent> all = store().read_all(s);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].event_type, kHardDeletedEventType);
  EXPECT_EQ(all[0].version, 4);
  EXPECT_FALSE(store().load_snapshot(s));

  expect_stream_deleted([&] { store().append(s, ExpectedVersion::any(), events(1)); }, 4, "append any");
  expect_stream_deleted([&] { store().append(s, ExpectedVersion::exact(4), events(1)); }, 4, "append exact");
  expect_stream_deleted([&] { store().append(s, ExpectedVersion::exact(2), events(1)); }, 4, "append stale");
  expect_stream_deleted([&] { store().append(s, ExpectedVersion::no_stream(), events(1)); }, 4, "append no_stream");
  expect_stream_deleted([&] { store().truncate_stream(s, 4); }, 4, "truncate");
  expect_stream_deleted([&] { store().truncate_stream(s, 2, ExpectedVersion::exact(4)); }, 4, "truncate exact");
  expect_stream_deleted([&] { store().delete_stream(s); }, 4, "soft delete");
  expect_stream_deleted([&] { store().delete_stream(s, true); }, 4, "another hard delete");
  expect_stream_deleted(
      [&] {
        store().save_snapshot(s, Snapshot{4, R"({"v":4})", std::nullopt, now_ms()});
      },
      4, "save_snapshot");
  expect_stream_deleted(
      [&] {
        store().save_snapshot(s, Snapshot{1, R"({"v":1})", std::nullopt, now_ms()});
      },
      4, "save_snapshot below");
  EXPECT_EQ(store().head(s), 4);
  EXPECT_EQ(versions_of(store().read_all(s)), std::vector<std::int64_t>{4});
  EXPECT_FALSE(store().load_snapshot(s));
}

TEST_P(LifecycleConformance, ARetryOfTheHardDeleteWithItsEventIdGetsTheSameResult) {
  const StreamId s = new_stream();
  append_n(s, 2);
  const Uuid id = Uuid::random();
  const AppendResult first =
      store().change_lifecycle(s, change(LifecycleKind::kHardDelete, ExpectedVersion::exact(2), id));
  const AppendResult again =
      store().change_lifecycle(s, change(LifecycleKind::kHardDelete, ExpectedVersion::exact(2), id));
  EXPECT_EQ(again.first_version, first.first_version);
  EXPECT_EQ(again.next_expected_version, first.next_expected_version);
  EXPECT_EQ(again.event_ids, first.event_ids);
  EXPECT_EQ(first.event_ids, std::vector<Uuid>{id});
  EXPECT_EQ(store().head(s), 3);

  const StreamId t = new_stream();
  append_n(t, 1);
  const Uuid id_any = Uuid::random();
  const AppendResult any_first =
      store().change_lifecycle(t, change(LifecycleKind::kHardDelete, ExpectedVersion::any(), id_any));
  const AppendResult any_again =
      store().change_lifecycle(t, change(LifecycleKind::kHardDelete, ExpectedVersion::any(), id_any));
  EXPECT_EQ(any_again.first_version, 2);
  EXPECT_EQ(any_again.event_ids, any_first.event_ids);
  // A different id is a new change: refused.
  expect_stream_deleted(
      [&] { store().change_lifecycle(t, change(LifecycleKind::kHardDelete, ExpectedVersion::exact(1))); }, 2,
      "a hard delete with another id");
  EXPECT_EQ(versions_of(store().read_all(t)), std::vector<std::int64_t>{2});
}

// ---------------------------------------------------------------------------------------------
// The append's rules: expected versions, idempotent retry, reserved types.

TEST_P(LifecycleConformance, LifecycleChangesCheckTheExpectedVersionAndWriteNothingOnConflict) {
  const StreamId s = new_stream();
  append_n(s, 5);
  expect_conflict([&] { store().truncate_stream(s, 3, ExpectedVersion::exact(4)); }, 5, "truncate at 4");
  expect_conflict([&] { store().truncate_stream(s, 1, ExpectedVersion::no_stream()); }, 5, "truncate no_stream");
  expect_conflict([&] { store().delete_stream(s, false, ExpectedVersion::exact(6)); }, 5, "delete at 6");
  expect_conflict([&] { store().delete_stream(s, true, ExpectedVersion::no_stream()); }, 5, "hard delete no_stream");
  EXPECT_EQ(store().head(s), 5);
  EXPECT_EQ(versions_of(store().read_all(s)), range(1, 5));
  EXPECT_EQ(store().truncate_stream(s, 3, ExpectedVersion::exact(5)).first_version, 6);
  expect_conflict([&] { store().delete_stream(s, true, ExpectedVersion::exact(5)); }, 6, "hard delete at 5");
  EXPECT_EQ(store().delete_stream(s, true, ExpectedVersion::exact(6)).first_version, 7);
  // A conflict on a missing stream reports 0 and creates nothing.
  const StreamId missing = new_stream();
  expect_conflict([&] { store().delete_stream(missing, false, ExpectedVersion::exact(3)); }, 0, "missing stream");
  EXPECT_EQ(store().head(missing), 0);
}

TEST_P(LifecycleConformance, ARetryOfATruncateWithItsEventIdIsIdempotent) {
  const StreamId s = new_stream();
  append_n(s, 5);
  const Uuid id = Uuid::random();
  const LifecycleChange truncate = change(LifecycleKind::kTruncate, ExpectedVersion::exact(5), id, 3);
  const AppendResult first = store().change_lifecycle(s, truncate);
  EXPECT_EQ(first.first_version, 6);
  const AppendResult again = store().change_lifecycle(s, truncate);
  EXPECT_EQ(again.first_version, 6);
  EXPECT_EQ(again.next_expected_version, 6);
  EXPECT_EQ(again.event_ids, std::vector<Uuid>{id});
  const AppendResult any_again =
      store().change_lifecycle(s, change(LifecycleKind::kTruncate, ExpectedVersion::any(), id, 3));
  EXPECT_EQ(any_again.first_version, 6);
  EXPECT_EQ(store().head(s), 6);
  EXPECT_EQ(versions_of(store().read_all(s)), range(3, 6));
  // Once other events follow it, a retry at its expected version is still answered as the original.
  append_n(s, 2);
  EXPECT_EQ(store().change_lifecycle(s, truncate).first_version, 6);
  EXPECT_EQ(store().head(s), 8);
}

TEST_P(LifecycleConformance, UserAppendsOfReservedTypesAreRefused) {
  const StreamId s = new_stream();
  for (const char* type : {"$truncated", "$deleted", "$hard-deleted", "$custom", "$"}) {
    SCOPED_TRACE(type);
    EXPECT_ES_ERROR(store().append(s, ExpectedVersion::any(), {event(type, "{}")}), ErrorCode::kInvalidArgument);
  }
  EXPECT_EQ(store().head(s), 0);
  append_n(s, 1);
  EXPECT_ES_ERROR(store().append(s, ExpectedVersion::any(), {event("Fine"), event("$truncated", R"({"before":2})")}),
                  ErrorCode::kInvalidArgument);
  EXPECT_EQ(versions_of(store().read_all(s)), std::vector<std::int64_t>{1});
  // A '$' elsewhere in the type is a user type.
  EXPECT_EQ(store().append(s, ExpectedVersion::any(), {event("Paid$")}).first_version, 2);
}

TEST_P(LifecycleConformance, TheAsynchronousFormReportsThroughItsCallback) {
  const StreamId s = new_stream();
  append_n(s, 2);
  std::promise<Result<AppendResult>> done;
  store().change_lifecycle_async(s, change(LifecycleKind::kTruncate, ExpectedVersion::any(), std::nullopt, 9),
                                 [&](Result<AppendResult> r) { done.set_value(std::move(r)); });
  const Result<AppendResult> r = done.get_future().get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  std::promise<Result<AppendResult>> deleted;
  store().change_lifecycle_async(s, change(LifecycleKind::kSoftDelete, ExpectedVersion::exact(2)),
                                 [&](Result<AppendResult> r2) { deleted.set_value(std::move(r2)); });
  const Result<AppendResult> d = deleted.get_future().get();
  ASSERT_TRUE(d.ok()) << d.error().what();
  EXPECT_EQ(d.value().first_version, 3);
}

// ---------------------------------------------------------------------------------------------
// The feed.

TEST_P(LifecycleConformance, SystemEventsAppearInTheFeedAndPassEveryEventTypeFilter) {
  start_relay();
  const StreamId a = new_stream("Order");
  const StreamId b = new_stream("Order");
  const StreamId c = new_stream("Customer");
  append_n(a, 3);                                                // positions 1-3
  const AppendResult truncated = store().truncate_stream(a, 3);  // 4
  append_n(b, 2);                                                // 5-6
  const AppendResult deleted = store().delete_stream(b);         // 7
  append_n(c, 1);                                                // 8
  const AppendResult hard = store().delete_stream(c, true);      // 9
  const std::map<Uuid, std::pair<StreamId, const char*>> system = {{truncated.event_ids[0], {a, kTruncatedEventType}},
                                                                   {deleted.event_ids[0], {b, kDeletedEventType}},
                                                                   {hard.event_ids[0], {c, kHardDeletedEventType}}};

  // On a cluster the entries appear within the relay's delay.
  const auto deadline = std::chrono::steady_clock::now() + kPublishWait;
  std::vector<FeedEntry> feed = read_feed_all();
  const auto all_system_events_in = [&](const std::vector<FeedEntry>& entries) {
    std::size_t found = 0;
    for (const FeedEntry& e : entries) found += system.count(e.event.event_id);
    return found == system.size();
  };
  while (!all_system_events_in(feed) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
    feed = read_feed_all();
  }
  ASSERT_TRUE(all_system_events_in(feed)) << "the system events did not reach the feed";

  std::map<StreamId, std::int64_t> last_version;
  std::set<std::int64_t> positions;
  for (const FeedEntry& entry : feed) {
    const RecordedEvent& e = entry.event;
    EXPECT_TRUE(positions.insert(entry.position).second) << entry.position;
    EXPECT_GT(e.version, last_version[e.stream]) << "per stream, versions in order";
    last_version[e.stream] = e.version;
    if (auto it = system.find(e.event_id); it != system.end()) {
      EXPECT_EQ(e.stream, it->second.first);
      EXPECT_EQ(e.event_type, it->second.second);
      EXPECT_EQ(e.data, std::optional<std::string>(e.event_type == kTruncatedEventType ? R"({"before":3})" : "{}"));
      continue;
    }
    const bool removed = (e.stream == a && e.version < 3) || e.stream == b || e.stream == c;
    if (!removed) {
      EXPECT_EQ(e.stream, a);
      EXPECT_EQ(e.version, 3);
      EXPECT_EQ(e.data, std::optional<std::string>(R"({"i":3})"));
    } else {
      // Embedded: a removed event's entry is left out (its position stays taken). A cluster may
      // still list it, but never with data it no longer holds.
      EXPECT_TRUE(GetParam().shared) << "removed event " << to_string(e.stream) << " v" << e.version
                                     << " listed at position " << entry.position;
      EXPECT_FALSE(e.data) << "removed event with data at position " << entry.position;
      EXPECT_FALSE(e.metadata);
    }
  }
  if (!GetParam().shared) {
    // The positions the appends took stay theirs.
    std::vector<std::pair<std::int64_t, std::int64_t>> at;  // position, version
    for (const FeedEntry& entry : feed) at.emplace_back(entry.position, entry.event.version);
    EXPECT_EQ(at, (std::vector<std::pair<std::int64_t, std::int64_t>>{{3, 3}, {4, 4}, {7, 3}, {9, 2}}));
    EXPECT_EQ(store().feed_head(context_), 9);
    EXPECT_EQ(read_feed_all({}, true, 1).size(), 4u);  // pages of one position, the removed ones empty
  }

  // A reader filtered by event type still gets every system event, in the same order.
  const std::vector<FeedEntry> filtered = read_feed_all(FeedFilter{{}, {"NoSuchType"}});
  std::vector<Uuid> system_in_order;
  for (const FeedEntry& entry : feed)
    if (system.count(entry.event.event_id)) system_in_order.push_back(entry.event.event_id);
  std::vector<Uuid> filtered_ids;
  for (const FeedEntry& entry : filtered) filtered_ids.push_back(entry.event.event_id);
  EXPECT_EQ(filtered_ids, system_in_order);
  // An aggregate-type filter still applies to them.
  const std::vector<FeedEntry> customers = read_feed_all(FeedFilter{{"Customer"}, {"NoSuchType"}});
  ASSERT_EQ(customers.size(), 1u);
  EXPECT_EQ(customers[0].event.event_id, hard.event_ids[0]);
  // Without data: the same system entries, with their types.
  std::vector<Uuid> refs;
  for (const FeedEntry& entry : read_feed_all(FeedFilter{{}, {"NoSuchType"}}, false)) {
    refs.push_back(entry.event.event_id);
    EXPECT_EQ(entry.event.event_type, system.at(entry.event.event_id).second);
    EXPECT_FALSE(entry.event.data);
  }
  EXPECT_EQ(refs, system_in_order);
}

// ---------------------------------------------------------------------------------------------
// Races.

TEST_P(LifecycleConformance, AppendsRacingAHardDeleteNeverLandAboveIt) {
  const StreamId s = new_stream();
  append_n(s, 1);
  constexpr int kThreads = 4;
  constexpr int kMaxAppends = 40;
  std::atomic<bool> deleted{false};
  std::atomic<int> late_successes{0};
  std::atomic<int> refused_after{0};
  std::mutex mutex;
  std::vector<std::int64_t> acknowledged;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < kMaxAppends; ++i) {
        const bool after = deleted.load();
        try {
          const AppendResult r = store().append(s, ExpectedVersion::any(), events(1));
          if (after) ++late_successes;
          std::lock_guard lock(mutex);
          acknowledged.push_back(r.first_version);
        } catch (const Error& e) {
          if (e.code() == ErrorCode::kStreamDeleted) {
            if (after) {
              ++refused_after;
              return;
            }
          } else if (e.code() != ErrorCode::kVersionConflict && e.code() != ErrorCode::kOutcomeUnknown) {
            ADD_FAILURE() << "append failed with " << e.what();
            return;
          }
        }
      }
    });
  std::this_thread::sleep_for(5ms);
  // A hard delete whose outcome is unknown is retried with its event id (nothing can land after it).
  const LifecycleChange hard_delete = change(LifecycleKind::kHardDelete, ExpectedVersion::any(), Uuid::random());
  std::optional<AppendResult> landed;
  for (int attempt = 0; !landed; ++attempt) {
    try {
      landed = store().change_lifecycle(s, hard_delete);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kOutcomeUnknown || attempt == 5) throw;
    }
  }
  const AppendResult hard = *landed;
  deleted = true;
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(late_successes.load(), 0) << "an append started after the hard delete returned was acknowledged";
  std::set<std::int64_t> unique(acknowledged.begin(), acknowledged.end());
  EXPECT_EQ(unique.size(), acknowledged.size()) << "two appends acknowledged at one version";
  for (std::int64_t v : acknowledged) {
    EXPECT_GT(v, 1);
    EXPECT_LT(v, hard.first_version) << "an append acknowledged above the hard delete";
  }
  if (!GetParam().shared) {
    EXPECT_EQ(static_cast<std::int64_t>(acknowledged.size()), hard.first_version - 2);
  }
  expect_stream_deleted([&] { store().append(s, ExpectedVersion::any(), events(1)); }, hard.first_version,
                        "append after the race");
  EXPECT_EQ(store().head(s), hard.first_version);
  EXPECT_EQ(versions_of(store().read_all(s)), std::vector<std::int64_t>{hard.first_version});
}

TEST_P(LifecycleConformance, RacingTruncatesNeverHideAnEventAtOrAboveTheirBefore) {
  const StreamId s = new_stream();
  append_n(s, 20);
  constexpr int kThreads = 3;
  constexpr int kPerThread = 8;
  std::atomic<std::int64_t> highest_before{1};
  std::atomic<int> appends{0};
  std::atomic<int> truncates{0};
  // Befores of truncates whose outcome was unknown (a cluster under contention): maybe applied.
  std::mutex mutex;
  std::set<std::int64_t> maybe_befores;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        try {
          if ((i + t) % 2 == 0) {
            store().append(s, ExpectedVersion::any(), events(1));
            ++appends;
            continue;
          }
          // head only grows: a before of at most head + 1 is valid wherever the truncate lands.
          const std::int64_t head = store().head(s);
          const std::int64_t before = 1 + (head * (3 + t + i)) % (head + 1);
          AppendResult r;
          try {
            r = store().truncate_stream(s, before);
          } catch (const Error& e) {
            if (e.code() != ErrorCode::kOutcomeUnknown) throw;
            std::lock_guard lock(mutex);
            maybe_befores.insert(before);
            continue;
          }
          EXPECT_GE(r.first_version, before);
          ++truncates;
          std::int64_t seen = highest_before.load();
          while (seen < before && !highest_before.compare_exchange_weak(seen, before)) {
          }
          // Nothing at or above its before is hidden (a later truncate may raise it).
          const std::vector<RecordedEvent> tail = store().read_all(s, forward(before));
          ASSERT_FALSE(tail.empty());
          EXPECT_GE(tail.front().version, before);
          for (std::size_t k = 1; k < tail.size(); ++k) EXPECT_EQ(tail[k].version, tail[k - 1].version + 1);
          EXPECT_GE(tail.back().version, r.first_version);
        } catch (const Error& e) {
          if (e.code() != ErrorCode::kVersionConflict && e.code() != ErrorCode::kOutcomeUnknown)
            ADD_FAILURE() << e.what();
        }
      }
    });
  for (std::thread& t : threads) t.join();
  const std::int64_t head = store().head(s);
  if (!GetParam().shared) {
    EXPECT_EQ(head, 20 + appends.load() + truncates.load());
  }
  // Every event from the highest before up is there, in order; nothing below it.
  std::int64_t first = highest_before.load();
  const std::vector<RecordedEvent> all = store().read_all(s);
  ASSERT_FALSE(all.empty());
  if (all.front().version != first && maybe_befores.count(all.front().version) > 0 && all.front().version > first)
    first = all.front().version;  // a truncate of unknown outcome was applied
  EXPECT_EQ(versions_of(all), range(first, head));
  EXPECT_EQ(versions_of(store().read_all(s, backward(std::nullopt, std::nullopt, 2))), range(head, first));
}

// ---------------------------------------------------------------------------------------------
// The aggregate store.

class AggregateLifecycle : public LifecycleConformance {
 protected:
  using Counters = AggregateStore<Counter>;

  std::unique_ptr<Counters> counters(SnapshotPolicy policy) {
    AggregateStoreOptions options;
    options.snapshot_policy = std::move(policy);
    options.page_size = 3;  // small pages: loads cross page boundaries
    return std::make_unique<Counters>(store_, context_, options);
  }

  // Saves `n` Added{1} events in one save.
  static void add(Counters& counters, const Uuid& id, int n) {
    Aggregate<Counter> a = counters.load(id);
    for (int i = 0; i < n; ++i) a.record(Added{1});
    counters.save(a);
  }
};

TEST_P(AggregateLifecycle, ASoftDeletedAggregateLoadsFreshAtItsDeletedVersionAndContinues) {
  auto counters_store = counters(never());
  const Uuid id = Uuid::random();
  add(*counters_store, id, 3);
  store().delete_stream(counters_store->stream_of(id));  // 4
  Aggregate<Counter> a = counters_store->load(id);
  EXPECT_EQ(a.version(), 4);
  EXPECT_EQ(a.state().total, 0);
  EXPECT_EQ(a.state().adds, 0);
  a.record(Added{7});
  counters_store->save(a);
  EXPECT_EQ(a.version(), 5);
  const Aggregate<Counter> again = counters_store->load(id);
  EXPECT_EQ(again.version(), 5);
  EXPECT_EQ(again.state().total, 7);
  EXPECT_EQ(again.state().adds, 1);
}

TEST_P(AggregateLifecycle, ASoftDeletedAggregateWithASnapshotLoadsFreshToo) {
  auto counters_store = counters(every_n_events(2));
  const Uuid id = Uuid::random();
  add(*counters_store, id, 4);
  ASSERT_TRUE(store().load_snapshot(counters_store->stream_of(id)));
  store().delete_stream(counters_store->stream_of(id));  // 5
  const Aggregate<Counter> a = counters_store->load(id);
  EXPECT_EQ(a.version(), 5);
  EXPECT_EQ(a.state().total, 0);
}

TEST_P(AggregateLifecycle, LoadingAHardDeletedAggregateThrowsStreamDeleted) {
  auto counters_store = counters(never());
  const Uuid id = Uuid::random();
  add(*counters_store, id, 2);
  store().delete_stream(counters_store->stream_of(id), true);  // 3
  const std::optional<Error> e = error_of([&] { counters_store->load(id); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code(), ErrorCode::kStreamDeleted) << e->what();
  EXPECT_EQ(e->current_version(), std::optional<std::int64_t>(3));
}

TEST_P(AggregateLifecycle, ATruncateTheSnapshotCoversKeepsTheLoadedState) {
  auto counters_store = counters(every_n_events(10));
  const Uuid id = Uuid::random();
  add(*counters_store, id, 10);  // snapshot at 10
  add(*counters_store, id, 2);   // 12
  const std::optional<Snapshot> snapshot = store().load_snapshot(counters_store->stream_of(id));
  ASSERT_TRUE(snapshot);
  ASSERT_EQ(snapshot->version, 10);
  const Aggregate<Counter> before = counters_store->load(id);
  EXPECT_EQ(before.state().total, 12);

  store().truncate_stream(counters_store->stream_of(id), 8);  // 13, below the snapshot
  Aggregate<Counter> a = counters_store->load(id);
  EXPECT_EQ(a.version(), 13);
  EXPECT_EQ(a.state().total, before.state().total);
  EXPECT_EQ(a.state().adds, before.state().adds);

  store().truncate_stream(counters_store->stream_of(id), 11);  // 14: the snapshot's own event goes too
  a = counters_store->load(id);
  EXPECT_EQ(a.version(), 14);
  EXPECT_EQ(a.state().total, 12);
  a.record(Added{5});
  counters_store->save(a);
  EXPECT_EQ(counters_store->load(id).state().total, 17);
}

TEST_P(AggregateLifecycle, ATruncateNoSnapshotCoversFailsTheLoadWithCorruption) {
  auto counters_store = counters(never());
  const Uuid id = Uuid::random();
  add(*counters_store, id, 5);
  store().truncate_stream(counters_store->stream_of(id), 3);
  EXPECT_ES_ERROR(counters_store->load(id), ErrorCode::kCorruption);

  auto snapshotting = counters(every_n_events(4));
  const Uuid other = Uuid::random();
  add(*snapshotting, other, 4);  // snapshot at 4
  add(*snapshotting, other, 2);  // 6 (no new snapshot: 8 not crossed)
  ASSERT_EQ(store().load_snapshot(snapshotting->stream_of(other))->version, 4);
  store().truncate_stream(snapshotting->stream_of(other), 6);  // above the snapshot + 1
  EXPECT_ES_ERROR(snapshotting->load(other), ErrorCode::kCorruption);
}

INSTANTIATE_TEST_SUITE_P(Backends, LifecycleConformance, ::testing::ValuesIn(all_store_factories()), factory_name);
INSTANTIATE_TEST_SUITE_P(Backends, AggregateLifecycle, ::testing::ValuesIn(all_store_factories()), factory_name);

}  // namespace
}  // namespace eventstore::testing

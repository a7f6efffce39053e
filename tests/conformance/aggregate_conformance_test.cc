// The aggregate store on every backend: load = snapshot + newer events, snapshot decode
// failures, snapshot policies, failed snapshot writes, execute() and conflicts.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>

#include "counter_aggregate.h"
#include "log_capture.h"
#include "store_conformance.h"

namespace eventstore::testing {
namespace {

using namespace std::chrono_literals;

class AggregateConformance : public StoreTest {
 protected:
  using Counters = AggregateStore<Counter>;

  std::unique_ptr<Counters> counters(SnapshotPolicy policy, std::int64_t snapshot_on_load_after = 0,
                                     std::shared_ptr<Store> on = nullptr) {
    AggregateStoreOptions options;
    options.snapshot_policy = std::move(policy);
    options.snapshot_on_load_after = snapshot_on_load_after;
    options.page_size = 7;  // small pages: loads cross page boundaries
    return std::make_unique<Counters>(on ? on : store_, context_, options);
  }

  // Brings the counter `id` to `version` with Added{1} events, without snapshots.
  void prepare(const Uuid& id, int version) {
    auto plain = counters(never());
    Aggregate<Counter> a = plain->load(id);
    for (int i = a.version(); i < version; ++i) a.record(Added{1});
    plain->save(a);
    ASSERT_EQ(store().head(plain->stream_of(id)), version);
  }

  StreamId stream_of(const Uuid& id) const { return StreamId{context_, "Counter", id}; }
};

TEST_P(AggregateConformance, NewAggregateLoadsEmpty) {
  auto store = counters(never());
  const Aggregate<Counter> a = store->load(Uuid::random());
  EXPECT_EQ(a.version(), 0);
  EXPECT_EQ(a.state().total, 0);
  EXPECT_TRUE(a.uncommitted().empty());
  EXPECT_EQ(store->stats().events_replayed, 0u);
}

TEST_P(AggregateConformance, SaveAppendsAndLoadReplays) {
  auto counters_store = counters(never());
  const Uuid id = Uuid::random();
  Aggregate<Counter> a = counters_store->load(id);
  a.record(Added{5});
  a.record(Added{3});
  a.record(Reset{"audit"});
  a.record(Added{2});
  EXPECT_EQ(a.state().total, 2);
  EXPECT_EQ(a.version(), 0);
  const SaveResult saved = counters_store->save(a);
  ASSERT_TRUE(saved.append);
  EXPECT_EQ(saved.append->first_version, 1);
  EXPECT_EQ(saved.append->next_expected_version, 4);
  EXPECT_FALSE(saved.snapshot_written);
  EXPECT_EQ(a.version(), 4);
  EXPECT_TRUE(a.uncommitted().empty());

  // Stored under the aggregate's type with the codec's names and JSON.
  const std::vector<RecordedEvent> stored = store().read_all(stream_of(id));
  ASSERT_EQ(stored.size(), 4u);
  EXPECT_EQ(stored[0].event_type, "Added");
  EXPECT_EQ(nlohmann::json::parse(stored[0].data.value_or("null")), nlohmann::json({{"amount", 5}}));
  EXPECT_EQ(stored[2].event_type, "Reset");
  EXPECT_EQ(nlohmann::json::parse(stored[2].data.value_or("null")), nlohmann::json({{"reason", "audit"}}));

  auto fresh = counters(never());
  const Aggregate<Counter> b = fresh->load(id);
  EXPECT_EQ(b.version(), 4);
  EXPECT_EQ(b.state().total, 2);
  EXPECT_EQ(b.state().adds, 3);
  EXPECT_EQ(b.state().resets, 1);
  EXPECT_EQ(fresh->stats().events_replayed, 4u);

  // Nothing recorded: nothing saved.
  Aggregate<Counter> c = fresh->load(id);
  const SaveResult nothing = fresh->save(c);
  EXPECT_FALSE(nothing.append);
  EXPECT_FALSE(nothing.snapshot_written);
  EXPECT_EQ(store().head(stream_of(id)), 4);
}

TEST_P(AggregateConformance, LoadIsTheSnapshotPlusNewerEvents) {
  const Uuid id = Uuid::random();
  prepare(id, 3);
  // A snapshot whose state differs from a replay, so the test can tell which was used.
  const nlohmann::json snapshot_state = {{"total", 1000}, {"adds", 50}, {"resets", 7}};
  ASSERT_TRUE(store().save_snapshot(stream_of(id), Snapshot{3, snapshot_state.dump(), std::nullopt, now_ms()}).stored);
  {
    auto plain = counters(never());
    Aggregate<Counter> a = plain->load(id);
    EXPECT_EQ(a.version(), 3);
    EXPECT_EQ(a.state().total, 1000);
    EXPECT_EQ(plain->stats().events_replayed, 0u);
    a.record(Added{10});
    a.record(Added{20});
    plain->save(a);
  }
  auto fresh = counters(never());
  const Aggregate<Counter> b = fresh->load(id);
  EXPECT_EQ(b.version(), 5);
  EXPECT_EQ(b.state().total, 1030);
  EXPECT_EQ(b.state().adds, 52);
  EXPECT_EQ(b.state().resets, 7);
  EXPECT_EQ(fresh->stats().events_replayed, 2u);
  EXPECT_EQ(fresh->stats().snapshot_decode_failures, 0u);
}

TEST_P(AggregateConformance, WrittenSnapshotsHoldTheStateAtTheirVersion) {
  const Uuid id = Uuid::random();
  auto every_two = counters(every_n_events(2));
  Aggregate<Counter> a = every_two->load(id);
  a.record(Added{4});
  a.record(Added{6});
  EXPECT_TRUE(every_two->save(a).snapshot_written);
  const std::optional<Snapshot> snapshot = store().load_snapshot(stream_of(id));
  ASSERT_TRUE(snapshot);
  EXPECT_EQ(snapshot->version, 2);
  EXPECT_EQ(nlohmann::json::parse(snapshot->data).get<Counter>().total, 10);
  EXPECT_EQ(every_two->stats().snapshots_written, 1u);
  // The next load starts from it.
  auto fresh = counters(never());
  EXPECT_EQ(fresh->load(id).state().total, 10);
  EXPECT_EQ(fresh->stats().events_replayed, 0u);
}

TEST_P(AggregateConformance, SnapshotThatFailsToDecodeIsSkippedWithAWarning) {
  for (const std::string& bad : std::vector<std::string>{
           R"({"unexpected":true})", R"([1,2,3])", R"({"total":"many","adds":1,"resets":0})", R"("just a string")"}) {
    SCOPED_TRACE(bad);
    const Uuid id = Uuid::random();
    {
      auto plain = counters(never());
      Aggregate<Counter> a = plain->load(id);
      a.record(Added{2});
      a.record(Added{3});
      a.record(Reset{"r"});
      a.record(Added{7});
      plain->save(a);
    }
    ASSERT_TRUE(store().save_snapshot(stream_of(id), Snapshot{3, bad, std::nullopt, now_ms()}).stored);
    LogCapture log;
    auto fresh = counters(never());
    const Aggregate<Counter> b = fresh->load(id);
    EXPECT_EQ(b.version(), 4);
    EXPECT_EQ(b.state().total, 7);
    EXPECT_EQ(b.state().adds, 3);
    EXPECT_EQ(b.state().resets, 1);
    EXPECT_EQ(fresh->stats().snapshot_decode_failures, 1u);
    EXPECT_EQ(fresh->stats().events_replayed, 4u);
    EXPECT_EQ(log.warnings_containing("does not decode"), 1);
  }
}

TEST_P(AggregateConformance, EveryNEventsFiresWhenOneSaveCrossesAMultiple) {
  const Uuid id = Uuid::random();
  prepare(id, 9);
  auto every_ten = counters(every_n_events(10));
  Aggregate<Counter> a = every_ten->load(id);
  ASSERT_EQ(a.version(), 9);
  a.record(Added{1});
  a.record(Added{1});
  a.record(Added{1});
  const SaveResult saved = every_ten->save(a);  // 9 -> 12 crosses 10
  EXPECT_TRUE(saved.snapshot_written);
  EXPECT_EQ(every_ten->stats().snapshots_written, 1u);
  const std::optional<Snapshot> snapshot = store().load_snapshot(stream_of(id));
  ASSERT_TRUE(snapshot);
  EXPECT_EQ(snapshot->version, 12);
  EXPECT_EQ(nlohmann::json::parse(snapshot->data).get<Counter>().total, 12);
}

TEST_P(AggregateConformance, EveryNEventsFiresWhenASaveLandsOnAMultiple) {
  const Uuid id = Uuid::random();
  prepare(id, 9);
  auto every_ten = counters(every_n_events(10));
  Aggregate<Counter> a = every_ten->load(id);
  a.record(Added{1});
  EXPECT_TRUE(every_ten->save(a).snapshot_written);  // 9 -> 10
  ASSERT_TRUE(store().load_snapshot(stream_of(id)));
  EXPECT_EQ(store().load_snapshot(stream_of(id))->version, 10);
}

TEST_P(AggregateConformance, EveryNEventsDoesNotFireWithoutCrossing) {
  const Uuid id = Uuid::random();
  prepare(id, 10);
  auto every_ten = counters(every_n_events(10));
  Aggregate<Counter> a = every_ten->load(id);
  a.record(Added{1});
  EXPECT_FALSE(every_ten->save(a).snapshot_written);  // 10 -> 11
  a.record(Added{1});
  a.record(Added{1});
  EXPECT_FALSE(every_ten->save(a).snapshot_written);  // 11 -> 13
  EXPECT_EQ(store().load_snapshot(stream_of(id)), std::nullopt);
  EXPECT_EQ(every_ten->stats().snapshots_written, 0u);
  // 13 -> 20 crosses again.
  for (int i = 0; i < 7; ++i) a.record(Added{1});
  EXPECT_TRUE(every_ten->save(a).snapshot_written);
  EXPECT_EQ(store().load_snapshot(stream_of(id))->version, 20);
}

TEST_P(AggregateConformance, EveryIntervalFiresOnTheFirstSaveThenWaits) {
  const Uuid id = Uuid::random();
  auto hourly = counters(every_interval(1h));
  Aggregate<Counter> a = hourly->load(id);
  a.record(Added{1});
  EXPECT_TRUE(hourly->save(a).snapshot_written);
  a.record(Added{1});
  EXPECT_FALSE(hourly->save(a).snapshot_written);
  // A fresh load knows when the stored snapshot was taken.
  Aggregate<Counter> b = hourly->load(id);
  b.record(Added{1});
  EXPECT_FALSE(hourly->save(b).snapshot_written);
  EXPECT_EQ(store().load_snapshot(stream_of(id))->version, 1);
  EXPECT_EQ(hourly->stats().snapshots_written, 1u);

  // An interval of zero snapshots every save.
  auto always = counters(every_interval(0ms));
  Aggregate<Counter> c = always->load(id);
  c.record(Added{1});
  EXPECT_TRUE(always->save(c).snapshot_written);
  c.record(Added{1});
  EXPECT_TRUE(always->save(c).snapshot_written);
  EXPECT_EQ(store().load_snapshot(stream_of(id))->version, 5);
}

TEST_P(AggregateConformance, NeverPolicyNeverSnapshots) {
  const Uuid id = Uuid::random();
  auto plain = counters(never());
  Aggregate<Counter> a = plain->load(id);
  for (int save = 0; save < 6; ++save) {
    for (int i = 0; i < 50; ++i) a.record(Added{1});
    EXPECT_FALSE(plain->save(a).snapshot_written);
  }
  EXPECT_EQ(a.version(), 300);
  EXPECT_EQ(store().load_snapshot(stream_of(id)), std::nullopt);
  EXPECT_EQ(plain->stats().snapshots_written, 0u);
}

TEST_P(AggregateConformance, UserPredicateSeesTheSaveAndDecides) {
  struct Seen {
    StreamId stream;
    std::int64_t before, after, snapshot_version;
    bool has_snapshot_time;
    Timestamp now;
  };
  auto seen = std::make_shared<std::vector<Seen>>();
  SnapshotPolicy policy = [seen](const SnapshotContext& c) {
    seen->push_back(
        Seen{c.stream, c.version_before, c.version_after, c.snapshot_version, c.snapshot_time.has_value(), c.now});
    return c.version_after >= 4 && c.snapshot_version == 0;
  };
  const Uuid id = Uuid::random();
  auto custom = counters(policy);
  Aggregate<Counter> a = custom->load(id);
  const Timestamp start = now_ms();
  a.record(Added{1});
  a.record(Added{1});
  EXPECT_FALSE(custom->save(a).snapshot_written);  // 0 -> 2
  for (int i = 0; i < 3; ++i) a.record(Added{1});
  EXPECT_TRUE(custom->save(a).snapshot_written);  // 2 -> 5
  a.record(Added{1});
  EXPECT_FALSE(custom->save(a).snapshot_written);  // 5 -> 6, a snapshot exists

  ASSERT_EQ(seen->size(), 3u);
  const StreamId stream = stream_of(id);
  EXPECT_EQ((*seen)[0].stream, stream);
  EXPECT_EQ((*seen)[0].before, 0);
  EXPECT_EQ((*seen)[0].after, 2);
  EXPECT_EQ((*seen)[0].snapshot_version, 0);
  EXPECT_FALSE((*seen)[0].has_snapshot_time);
  EXPECT_EQ((*seen)[1].before, 2);
  EXPECT_EQ((*seen)[1].after, 5);
  EXPECT_EQ((*seen)[2].before, 5);
  EXPECT_EQ((*seen)[2].after, 6);
  EXPECT_EQ((*seen)[2].snapshot_version, 5);
  EXPECT_TRUE((*seen)[2].has_snapshot_time);
  for (const Seen& s : *seen) {
    EXPECT_GE(s.now, start - 1s);
    EXPECT_LE(s.now, now_ms() + 1s);
  }
  EXPECT_EQ(store().load_snapshot(stream)->version, 5);

  // A fresh load passes the stored snapshot's version and time to the predicate.
  seen->clear();
  Aggregate<Counter> b = custom->load(id);
  b.record(Added{1});
  custom->save(b);
  ASSERT_EQ(seen->size(), 1u);
  EXPECT_EQ((*seen)[0].snapshot_version, 5);
  EXPECT_TRUE((*seen)[0].has_snapshot_time);
  EXPECT_EQ((*seen)[0].before, 6);
  EXPECT_EQ((*seen)[0].after, 7);
}

TEST_P(AggregateConformance, SnapshotOnLoadAfterReplayingMoreThanN) {
  const Uuid id = Uuid::random();
  prepare(id, 5);
  auto on_load = counters(never(), /*snapshot_on_load_after=*/5);
  Aggregate<Counter> a = on_load->load(id);  // replays 5: not more than 5
  EXPECT_EQ(store().load_snapshot(stream_of(id)), std::nullopt);
  EXPECT_EQ(on_load->stats().snapshots_written, 0u);
  a.record(Added{1});
  on_load->save(a);  // the save's policy is never()
  EXPECT_EQ(store().load_snapshot(stream_of(id)), std::nullopt);

  const Aggregate<Counter> b = on_load->load(id);  // replays 6 > 5
  EXPECT_EQ(b.state().total, 6);
  EXPECT_EQ(on_load->stats().snapshots_written, 1u);
  const std::optional<Snapshot> snapshot = store().load_snapshot(stream_of(id));
  ASSERT_TRUE(snapshot);
  EXPECT_EQ(snapshot->version, 6);
  EXPECT_EQ(nlohmann::json::parse(snapshot->data).get<Counter>().total, 6);

  on_load->load(id);  // replays nothing after the snapshot
  EXPECT_EQ(on_load->stats().snapshots_written, 1u);
  // Off by default.
  const Uuid other = Uuid::random();
  prepare(other, 50);
  auto plain = counters(never());
  plain->load(other);
  EXPECT_EQ(store().load_snapshot(stream_of(other)), std::nullopt);
}

TEST_P(AggregateConformance, FailedSnapshotWriteIsCountedAndTheSaveSucceeds) {
  for (auto mode : {SnapshotWriteFailingStore::Mode::kCallbackError, SnapshotWriteFailingStore::Mode::kThrow}) {
    SCOPED_TRACE(mode == SnapshotWriteFailingStore::Mode::kThrow ? "throwing" : "failing callback");
    auto failing = std::make_shared<SnapshotWriteFailingStore>(store_, mode);
    LogCapture log;
    auto every_one = counters(every_n_events(1), 0, failing);
    const Uuid id = Uuid::random();
    Aggregate<Counter> a = every_one->load(id);
    a.record(Added{1});
    a.record(Added{2});
    SaveResult saved;
    ASSERT_NO_THROW(saved = every_one->save(a));
    ASSERT_TRUE(saved.append);
    EXPECT_EQ(saved.append->next_expected_version, 2);
    EXPECT_FALSE(saved.snapshot_written);
    EXPECT_EQ(a.version(), 2);
    EXPECT_TRUE(a.uncommitted().empty());
    EXPECT_EQ(failing->attempts, 1);
    EXPECT_EQ(every_one->stats().snapshot_write_failures, 1u);
    EXPECT_EQ(every_one->stats().snapshots_written, 0u);
    EXPECT_EQ(log.warnings_containing("not written"), 1);
    // The events are stored; no snapshot is.
    EXPECT_EQ(store().head(stream_of(id)), 2);
    EXPECT_EQ(store().load_snapshot(stream_of(id)), std::nullopt);
    a.record(Added{3});
    ASSERT_NO_THROW(every_one->save(a));
    EXPECT_EQ(every_one->stats().snapshot_write_failures, 2u);
    EXPECT_EQ(every_one->load(id).state().total, 6);
  }
}

TEST_P(AggregateConformance, ConcurrentSaveConflictsAndLeavesTheAggregateUnchanged) {
  const Uuid id = Uuid::random();
  prepare(id, 2);
  auto plain = counters(never());
  Aggregate<Counter> first = plain->load(id);
  Aggregate<Counter> second = plain->load(id);
  first.record(Added{10});
  plain->save(first);
  second.record(Added{20});
  std::optional<Error> e = error_of([&] { plain->save(second); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code(), ErrorCode::kVersionConflict) << e->what();
  EXPECT_EQ(e->current_version(), std::optional<std::int64_t>(3));
  EXPECT_EQ(second.version(), 2);
  EXPECT_EQ(second.uncommitted().size(), 1u);
  EXPECT_EQ(plain->load(id).state().total, 12);
}

TEST_P(AggregateConformance, ExecuteRetriesOnConflict) {
  const Uuid id = Uuid::random();
  auto plain = counters(never());
  int calls = 0;
  const SaveResult saved = plain->execute(id, [&](Aggregate<Counter>& a) {
    ++calls;
    if (calls == 1) {
      // Another writer gets there first.
      store().append(stream_of(id), ExpectedVersion::any(),
                     {EventData{std::nullopt, "Added", R"({"amount":100})", std::nullopt, std::nullopt}});
    }
    a.record(Added{1});
  });
  EXPECT_EQ(calls, 2);
  ASSERT_TRUE(saved.append);
  EXPECT_EQ(saved.append->first_version, 2);
  const Aggregate<Counter> after = plain->load(id);
  EXPECT_EQ(after.version(), 2);
  EXPECT_EQ(after.state().total, 101);
}

TEST_P(AggregateConformance, ExecuteGivesUpAfterMaxAttempts) {
  const Uuid id = Uuid::random();
  auto plain = counters(never());
  int calls = 0;
  std::optional<Error> e = error_of([&] {
    plain->execute(
        id,
        [&](Aggregate<Counter>& a) {
          ++calls;
          store().append(stream_of(id), ExpectedVersion::any(),
                         {EventData{std::nullopt, "Added", R"({"amount":1})", std::nullopt, std::nullopt}});
          a.record(Added{1000});
        },
        3);
  });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code(), ErrorCode::kVersionConflict);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(plain->load(id).state().total, 3);
}

TEST_P(AggregateConformance, ConcurrentExecutesAllApply) {
  const Uuid id = Uuid::random();
  auto plain = counters(never());
  constexpr int kThreads = 6;
  const int per_thread = GetParam().shared ? 3 : 8;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < per_thread; ++i) {
        try {
          plain->execute(
              id, [](Aggregate<Counter>& a) { a.record(Added{1}); }, 1000);
        } catch (const std::exception&) {
          ++failures;
        }
      }
    });
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  const Aggregate<Counter> a = plain->load(id);
  EXPECT_EQ(a.state().total, kThreads * per_thread);
  EXPECT_EQ(a.version(), kThreads * per_thread);
}

TEST_P(AggregateConformance, UndecodableEventsAreCorruption) {
  auto plain = counters(never());
  const Uuid unknown = Uuid::random();
  store().append(stream_of(unknown), ExpectedVersion::no_stream(),
                 {EventData{std::nullopt, "Exploded", "{}", std::nullopt, std::nullopt}});
  EXPECT_ES_ERROR(plain->load(unknown), ErrorCode::kCorruption);
  const Uuid wrong_shape = Uuid::random();
  store().append(stream_of(wrong_shape), ExpectedVersion::no_stream(),
                 {EventData{std::nullopt, "Added", R"({"amount":"lots"})", std::nullopt, std::nullopt}});
  EXPECT_ES_ERROR(plain->load(wrong_shape), ErrorCode::kCorruption);
}

INSTANTIATE_TEST_SUITE_P(Backends, AggregateConformance, ::testing::ValuesIn(all_store_factories()), factory_name);

}  // namespace
}  // namespace eventstore::testing

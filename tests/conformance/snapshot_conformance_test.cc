// Snapshots above the stream's head, on every backend (issue 10, item 5): a store refuses to
// save one, and an aggregate store that loads one (API misuse, or the two tables restored from
// backups taken at different times) ignores it and replays the stream instead of being stuck.
#include <memory>
#include <optional>

#include "counter_aggregate.h"
#include "log_capture.h"
#include "store_conformance.h"

namespace eventstore::testing {
namespace {

// Forwards to a real store, but its load_snapshot returns a snapshot at `version`, whatever the
// stream's head, as a store restored from an older backup of its events would.
class SnapshotAboveHeadStore final : public Store {
 public:
  SnapshotAboveHeadStore(std::shared_ptr<Store> inner, std::int64_t version)
      : inner_(std::move(inner)), version_(version) {}

  std::string describe() const override { return "snapshot-above-head(" + inner_->describe() + ")"; }
  void append_async(const StreamId& s, ExpectedVersion e, std::vector<EventData> events, AppendCallback cb) override {
    inner_->append_async(s, e, std::move(events), std::move(cb));
  }
  std::unique_ptr<EventCursor> read(const StreamId& s, const ReadOptions& o) override { return inner_->read(s, o); }
  void head_async(const StreamId& s, HeadCallback cb) override { inner_->head_async(s, std::move(cb)); }
  void load_snapshot_async(const StreamId&, LoadCallback cb) override {
    const nlohmann::json state = {{"total", 1000}, {"adds", 1000}, {"resets", 0}};
    cb(std::optional<Snapshot>(Snapshot{version_, state.dump(), std::nullopt, now_ms()}));
  }
  void save_snapshot_async(const StreamId& s, Snapshot snapshot, SaveCallback cb) override {
    inner_->save_snapshot_async(s, std::move(snapshot), std::move(cb));
  }

 private:
  std::shared_ptr<Store> inner_;
  std::int64_t version_;
};

class SnapshotConformance : public StoreTest {
 protected:
  StreamId counter_stream(const Uuid& id) const { return StreamId{context_, "Counter", id}; }

  // The counter `id` at `version`, with Added{1} events.
  void prepare(const Uuid& id, int version) {
    std::vector<EventData> batch;
    for (int i = 0; i < version; ++i)
      batch.push_back(EventData{Uuid::random(), "Added", R"({"amount":1})", std::nullopt, std::nullopt});
    store().append(counter_stream(id), ExpectedVersion::no_stream(), std::move(batch));
  }

  AggregateStore<Counter> counters_on(std::shared_ptr<Store> on, SnapshotPolicy policy,
                                      std::int64_t snapshot_on_load_after = 0) {
    AggregateStoreOptions options;
    options.snapshot_policy = std::move(policy);
    options.snapshot_on_load_after = snapshot_on_load_after;
    options.page_size = 7;
    return AggregateStore<Counter>(std::move(on), context_, options);
  }
};

TEST_P(SnapshotConformance, SaveSnapshotAboveTheHeadIsRefusedAndStoresNothing) {
  const StreamId stream = new_stream();
  append_n(stream, 1);
  ASSERT_TRUE(store().save_snapshot(stream, Snapshot{1, R"({"at":1})", std::nullopt, now_ms()}).stored);

  for (const std::int64_t above : {std::int64_t{2}, std::int64_t{1000}}) {
    SCOPED_TRACE(above);
    EXPECT_ES_ERROR(store().save_snapshot(stream, Snapshot{above, R"({"at":"above"})", std::nullopt, now_ms()}),
                    ErrorCode::kInvalidArgument);
    const std::optional<Snapshot> kept = store().load_snapshot(stream);
    ASSERT_TRUE(kept);
    EXPECT_EQ(kept->version, 1);
    EXPECT_EQ(kept->data, R"({"at":1})");
  }
}

TEST_P(SnapshotConformance, SaveSnapshotOfAMissingStreamIsRefused) {
  const StreamId stream = new_stream();
  EXPECT_ES_ERROR(store().save_snapshot(stream, Snapshot{1, "{}", std::nullopt, now_ms()}),
                  ErrorCode::kInvalidArgument);
  EXPECT_EQ(store().load_snapshot(stream), std::nullopt);
}

TEST_P(SnapshotConformance, SaveSnapshotAtTheHeadIsStored) {
  const StreamId stream = new_stream();
  append_n(stream, 3);
  const SnapshotSaveResult saved = store().save_snapshot(stream, Snapshot{3, R"({"at":3})", std::nullopt, now_ms()});
  EXPECT_TRUE(saved.stored);
  EXPECT_EQ(saved.latest_version, 3);
  EXPECT_EQ(store().load_snapshot(stream)->version, 3);
}

TEST_P(SnapshotConformance, LoadIgnoresASnapshotAboveTheHeadAndReplaysFromVersionOne) {
  const Uuid id = Uuid::random();
  prepare(id, 1);
  auto restored = std::make_shared<SnapshotAboveHeadStore>(store_, 1000);
  auto counters = counters_on(restored, every_n_events(1));
  LogCapture log;

  Aggregate<Counter> a = counters.load(id);
  EXPECT_EQ(a.version(), 1);
  EXPECT_EQ(a.state().total, 1);
  EXPECT_EQ(a.state().adds, 1);
  EXPECT_EQ(counters.stats().snapshots_above_head, 1u);
  EXPECT_EQ(counters.stats().snapshot_decode_failures, 0u);
  EXPECT_EQ(counters.stats().events_replayed, 1u);
  EXPECT_EQ(log.warnings_containing("above the stream's head"), 1);

  a.record(Added{1});
  SaveResult saved;
  ASSERT_NO_THROW(saved = counters.save(a));
  ASSERT_TRUE(saved.append);
  EXPECT_EQ(saved.append->first_version, 2);
  EXPECT_TRUE(saved.snapshot_written);
  const std::optional<Snapshot> written = store().load_snapshot(counter_stream(id));
  ASSERT_TRUE(written);
  EXPECT_EQ(written->version, 2);
  EXPECT_EQ(nlohmann::json::parse(written->data).get<Counter>().total, 2);
}

TEST_P(SnapshotConformance, LoadOfAnEmptyStreamIgnoresASnapshot) {
  auto restored = std::make_shared<SnapshotAboveHeadStore>(store_, 5);
  auto counters = counters_on(restored, never());
  LogCapture log;
  Aggregate<Counter> a = counters.load(Uuid::random());
  EXPECT_EQ(a.version(), 0);
  EXPECT_EQ(a.state().total, 0);
  EXPECT_EQ(counters.stats().snapshots_above_head, 1u);
  a.record(Added{1});
  ASSERT_NO_THROW(counters.save(a));
  EXPECT_EQ(a.version(), 1);
}

TEST_P(SnapshotConformance, TheSavePolicyDoesNotSeeAnIgnoredSnapshot) {
  const Uuid id = Uuid::random();
  prepare(id, 3);
  auto restored = std::make_shared<SnapshotAboveHeadStore>(store_, 1000);
  struct Seen {
    std::int64_t before, after, snapshot_version;
    bool has_snapshot_time;
  };
  std::optional<Seen> seen;
  auto counters = counters_on(restored, [&seen](const SnapshotContext& c) {
    seen = Seen{c.version_before, c.version_after, c.snapshot_version, c.snapshot_time.has_value()};
    return false;
  });
  LogCapture log;
  Aggregate<Counter> a = counters.load(id);
  a.record(Added{1});
  counters.save(a);
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->before, 3);
  EXPECT_EQ(seen->after, 4);
  EXPECT_EQ(seen->snapshot_version, 0);
  EXPECT_FALSE(seen->has_snapshot_time);
}

TEST_P(SnapshotConformance, SnapshotOnLoadWritesACorrectSnapshotAfterIgnoringOne) {
  const Uuid id = Uuid::random();
  prepare(id, 3);
  auto restored = std::make_shared<SnapshotAboveHeadStore>(store_, 1000);
  auto counters = counters_on(restored, never(), /*snapshot_on_load_after=*/2);
  LogCapture log;
  const Aggregate<Counter> a = counters.load(id);  // replays 3 > 2
  EXPECT_EQ(a.state().total, 3);
  EXPECT_EQ(counters.stats().snapshots_written, 1u);
  const std::optional<Snapshot> written = store().load_snapshot(counter_stream(id));
  ASSERT_TRUE(written);
  EXPECT_EQ(written->version, 3);
  EXPECT_EQ(nlohmann::json::parse(written->data).get<Counter>().total, 3);
}

TEST_P(SnapshotConformance, ASnapshotAtTheHeadIsNotAppliedTwice) {
  const Uuid id = Uuid::random();
  prepare(id, 4);
  const nlohmann::json state = {{"total", 1000}, {"adds", 4}, {"resets", 0}};
  ASSERT_TRUE(store().save_snapshot(counter_stream(id), Snapshot{4, state.dump(), std::nullopt, now_ms()}).stored);
  auto counters = counters_on(store_, never());
  const Aggregate<Counter> a = counters.load(id);
  EXPECT_EQ(a.version(), 4);
  EXPECT_EQ(a.state().total, 1000);
  EXPECT_EQ(a.state().adds, 4);
  EXPECT_EQ(counters.stats().events_replayed, 0u);
  EXPECT_EQ(counters.stats().snapshots_above_head, 0u);
}

INSTANTIATE_TEST_SUITE_P(Backends, SnapshotConformance, ::testing::ValuesIn(all_store_factories()), factory_name);

}  // namespace
}  // namespace eventstore::testing

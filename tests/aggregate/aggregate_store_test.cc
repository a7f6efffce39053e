// The aggregate store's own logic, on memory: (the conformance suite runs the rest on every
// backend).
#include <cstdio>
#include <stdexcept>

#include "conformance/counter_aggregate.h"
#include "conformance/test_support.h"

namespace eventstore::testing {
namespace {

AggregateStoreOptions with_policy(SnapshotPolicy policy, std::uint32_t page_size = 1000) {
  AggregateStoreOptions options;
  options.snapshot_policy = std::move(policy);
  options.page_size = page_size;
  return options;
}

TEST(AggregateStore, RejectsAMissingStoreOrContext) {
  EXPECT_ES_ERROR(AggregateStore<Counter>(nullptr, "ctx"), ErrorCode::kInvalidArgument);
  EXPECT_ES_ERROR(AggregateStore<Counter>(open_store("memory:"), ""), ErrorCode::kInvalidArgument);
}

struct AddedAgain {
  static constexpr std::string_view event_type = "Added";
  int x = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(AddedAgain, x)

struct DuplicateNames {
  static constexpr std::string_view aggregate_type = "Duplicate";
  using Event = std::variant<Added, AddedAgain>;
  void apply(const Added&) {}
  void apply(const AddedAgain&) {}
};

TEST(AggregateStore, RejectsACodecWithDuplicateNames) {
  EXPECT_ES_ERROR(AggregateStore<DuplicateNames>(open_store("memory:"), "ctx"), ErrorCode::kInvalidArgument);
}

TEST(Aggregate, RecordAppliesAtOnceAndQueues) {
  Aggregate<Counter> a(Uuid::random());
  EXPECT_EQ(a.version(), 0);
  a.record(Added{3});
  a.record(Reset{"why"});
  a.record(Added{4});
  EXPECT_EQ(a.state().total, 4);
  EXPECT_EQ(a.state().resets, 1);
  ASSERT_EQ(a.uncommitted().size(), 3u);
  EXPECT_TRUE(std::holds_alternative<Reset>(a.uncommitted()[1]));
  EXPECT_EQ(a.version(), 0);
}

TEST(AggregateStore, StreamIsContextTypeAndId) {
  AggregateStore<Counter> counters(open_store("memory:"), "billing");
  const Uuid id = Uuid::random();
  EXPECT_EQ(counters.stream_of(id), (StreamId{"billing", "Counter", id}));
}

TEST(AggregateStore, LoadsAcrossManySmallPages) {
  auto store = open_store("memory:");
  AggregateStore<Counter> counters(store, "ctx", with_policy(never(), 1));
  const Uuid id = Uuid::random();
  Aggregate<Counter> a = counters.load(id);
  for (int i = 1; i <= 25; ++i) a.record(Added{i});
  counters.save(a);
  const Aggregate<Counter> b = counters.load(id);
  EXPECT_EQ(b.version(), 25);
  EXPECT_EQ(b.state().total, 25 * 26 / 2);
  EXPECT_EQ(counters.stats().events_replayed, 25u);
  counters.load(id);
  EXPECT_EQ(counters.stats().events_replayed, 50u);  // the counter accumulates
}

TEST(AggregateStore, ExecuteWithNothingRecordedSavesNothing) {
  auto store = open_store("memory:");
  AggregateStore<Counter> counters(store, "ctx", with_policy(every_n_events(1)));
  const Uuid id = Uuid::random();
  int calls = 0;
  const SaveResult r = counters.execute(id, [&](Aggregate<Counter>&) { ++calls; });
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(r.append);
  EXPECT_FALSE(r.snapshot_written);
  EXPECT_EQ(store->head(counters.stream_of(id)), 0);
}

TEST(AggregateStore, ExecutePropagatesACommandsExceptionAndSavesNothing) {
  auto store = open_store("memory:");
  AggregateStore<Counter> counters(store, "ctx");
  const Uuid id = Uuid::random();
  int calls = 0;
  EXPECT_THROW(counters.execute(id,
                                [&](Aggregate<Counter>& a) {
                                  ++calls;
                                  a.record(Added{1});
                                  throw std::logic_error("command refused");
                                }),
               std::logic_error);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(store->head(counters.stream_of(id)), 0);
}

// Forwards to a store but fails every append with kUnavailable.
class UnavailableAppends final : public Store {
 public:
  explicit UnavailableAppends(std::shared_ptr<Store> inner) : inner_(std::move(inner)) {}
  std::string describe() const override { return "unavailable"; }
  void append_async(const StreamId&, ExpectedVersion, std::vector<EventData>, AppendCallback cb) override {
    cb(Error(ErrorCode::kUnavailable, "cluster down (test)"));
  }
  std::unique_ptr<EventCursor> read(const StreamId& s, const ReadOptions& o) override { return inner_->read(s, o); }
  void head_async(const StreamId& s, HeadCallback cb) override { inner_->head_async(s, std::move(cb)); }
  void load_snapshot_async(const StreamId& s, LoadCallback cb) override {
    inner_->load_snapshot_async(s, std::move(cb));
  }
  void save_snapshot_async(const StreamId& s, Snapshot snap, SaveCallback cb) override {
    inner_->save_snapshot_async(s, std::move(snap), std::move(cb));
  }

 private:
  std::shared_ptr<Store> inner_;
};

TEST(AggregateStore, ExecuteRetriesOnlyConflicts) {
  AggregateStore<Counter> counters(std::make_shared<UnavailableAppends>(open_store("memory:")), "ctx");
  int calls = 0;
  std::optional<Error> e = error_of([&] {
    counters.execute(Uuid::random(), [&](Aggregate<Counter>& a) {
      ++calls;
      a.record(Added{1});
    });
  });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code(), ErrorCode::kUnavailable);
  EXPECT_EQ(calls, 1);
}

TEST(AggregateStore, FailedSaveLeavesTheAggregateUnchanged) {
  AggregateStore<Counter> counters(std::make_shared<UnavailableAppends>(open_store("memory:")), "ctx");
  Aggregate<Counter> a = counters.load(Uuid::random());
  a.record(Added{1});
  EXPECT_ES_ERROR(counters.save(a), ErrorCode::kUnavailable);
  EXPECT_EQ(a.version(), 0);
  EXPECT_EQ(a.uncommitted().size(), 1u);
  EXPECT_EQ(counters.stats().snapshots_written, 0u);
}

TEST(AggregateStore, ABrokenSnapshotIsReplacedByTheNextOne) {
  auto store = open_store("memory:");
  AggregateStore<Counter> counters(store, "ctx", with_policy(every_n_events(5)));
  const Uuid id = Uuid::random();
  {
    AggregateStore<Counter> plain(store, "ctx", with_policy(never()));
    Aggregate<Counter> a = plain.load(id);
    for (int i = 0; i < 4; ++i) a.record(Added{1});
    plain.save(a);
  }
  set_log_sink(nullptr);
  store->save_snapshot(counters.stream_of(id), Snapshot{3, R"({"broken":1})", std::nullopt, now_ms()});
  Aggregate<Counter> a = counters.load(id);
  EXPECT_EQ(counters.stats().snapshot_decode_failures, 1u);
  EXPECT_EQ(a.state().total, 4);
  a.record(Added{1});
  EXPECT_TRUE(counters.save(a).snapshot_written);  // 4 -> 5, newer than the broken one at 3
  const Aggregate<Counter> b = counters.load(id);
  EXPECT_EQ(counters.stats().snapshot_decode_failures, 1u);
  EXPECT_EQ(b.state().total, 5);
  EXPECT_EQ(b.version(), 5);
  set_log_sink(
      [](LogLevel, std::string_view m) { std::fprintf(stderr, "%.*s\n", static_cast<int>(m.size()), m.data()); });
}

TEST(AggregateStore, ANewerSnapshotFromElsewhereIsKeptAndNotCountedAsAFailure) {
  auto store = open_store("memory:");
  const Uuid id = Uuid::random();
  const StreamId stream{"ctx", "Counter", id};
  // Between this save's append and its snapshot write, another process appends and stores a
  // snapshot at a higher version.
  SnapshotPolicy policy = [&store, &stream](const SnapshotContext&) {
    store->append(
        stream, ExpectedVersion::exact(1),
        std::vector<EventData>(49, EventData{std::nullopt, "Added", R"({"amount":2})", std::nullopt, std::nullopt}));
    store->save_snapshot(stream, Snapshot{50, R"({"total":99,"adds":1,"resets":0})", std::nullopt, now_ms()});
    return true;
  };
  AggregateStore<Counter> counters(store, "ctx", with_policy(policy));
  Aggregate<Counter> a = counters.load(id);
  a.record(Added{1});
  const SaveResult r = counters.save(a);
  EXPECT_FALSE(r.snapshot_written);
  EXPECT_EQ(counters.stats().snapshots_written, 0u);
  EXPECT_EQ(counters.stats().snapshot_write_failures, 0u);
  EXPECT_EQ(store->load_snapshot(counters.stream_of(id))->version, 50);
}

// An aggregate that cannot be snapshotted: no JSON conversion for its state.
struct Plain {
  static constexpr std::string_view aggregate_type = "Plain";
  using Event = std::variant<Added>;
  std::int64_t total = 0;
  void apply(const Added& e) { total += e.amount; }
};
static_assert(AggregateState<Plain>);
static_assert(!Snapshottable<Plain>);

TEST(AggregateStore, AggregatesWithoutJsonStateAreNeverSnapshotted) {
  auto store = open_store("memory:");
  AggregateStoreOptions options = with_policy(every_n_events(1));
  options.snapshot_on_load_after = 1;
  AggregateStore<Plain> plains(store, "ctx", options);
  const Uuid id = Uuid::random();
  Aggregate<Plain> a = plains.load(id);
  a.record(Added{2});
  a.record(Added{3});
  EXPECT_FALSE(plains.save(a).snapshot_written);
  EXPECT_EQ(plains.load(id).state().total, 5);
  EXPECT_EQ(store->load_snapshot(plains.stream_of(id)), std::nullopt);
  EXPECT_EQ(plains.stats().snapshots_written, 0u);
}

}  // namespace
}  // namespace eventstore::testing

// The aggregate store after an unknown outcome, on every backend: an event keeps the id it got
// when recorded, so saving the same aggregate object again is an idempotent retry that never
// applies a command twice (issue 10, item 1).
#include <optional>
#include <set>

#include "counter_aggregate.h"
#include "store_conformance.h"

namespace eventstore::testing {
namespace {

// Forwards to a real store, but answers its first append with kOutcomeUnknown, as a cluster
// does when a write times out after it was sent: with kApplied the append reached the store
// first (a lost acknowledgement), with kNotApplied it never did.
class FirstAppendOutcomeUnknown final : public Store {
 public:
  enum class Mode { kApplied, kNotApplied };

  FirstAppendOutcomeUnknown(std::shared_ptr<Store> inner, Mode mode) : inner_(std::move(inner)), mode_(mode) {}

  std::string describe() const override { return "first-append-unknown(" + inner_->describe() + ")"; }
  void append_async(const StreamId& s, ExpectedVersion e, std::vector<EventData> events, AppendCallback cb) override {
    ++appends;
    if (appends > 1) return inner_->append_async(s, e, std::move(events), std::move(cb));
    if (mode_ == Mode::kApplied) lost_result = inner_->append(s, e, std::move(events));
    cb(Error(ErrorCode::kOutcomeUnknown, "the write timed out after it was sent (test)"));
  }
  std::unique_ptr<EventCursor> read(const StreamId& s, const ReadOptions& o) override { return inner_->read(s, o); }
  void head_async(const StreamId& s, HeadCallback cb) override { inner_->head_async(s, std::move(cb)); }
  void load_snapshot_async(const StreamId& s, LoadCallback cb) override {
    inner_->load_snapshot_async(s, std::move(cb));
  }
  void save_snapshot_async(const StreamId& s, Snapshot snapshot, SaveCallback cb) override {
    inner_->save_snapshot_async(s, std::move(snapshot), std::move(cb));
  }

  int appends = 0;
  std::optional<AppendResult> lost_result;  // what the store answered to the lost first append

 private:
  std::shared_ptr<Store> inner_;
  Mode mode_;
};

class AggregateRetryConformance : public StoreTest {
 protected:
  using Counters = AggregateStore<Counter>;
  using Mode = FirstAppendOutcomeUnknown::Mode;

  std::shared_ptr<FirstAppendOutcomeUnknown> unknown_first(Mode mode) {
    return std::make_shared<FirstAppendOutcomeUnknown>(store_, mode);
  }
  Counters counters_on(std::shared_ptr<Store> store) {
    AggregateStoreOptions options;
    options.snapshot_policy = never();
    return Counters(std::move(store), context_, options);
  }
  StreamId stream_of(const Uuid& id) const { return StreamId{context_, "Counter", id}; }
};

TEST_P(AggregateRetryConformance, RecordedEventsKeepTheirIdsUntilSaved) {
  auto counters = counters_on(store_);
  const Uuid id = Uuid::random();
  Aggregate<Counter> a = counters.load(id);
  a.record(Added{1});
  a.record(Reset{"r"});
  a.record(Added{2});
  const std::vector<Uuid> ids = a.uncommitted_ids();
  ASSERT_EQ(ids.size(), a.uncommitted().size());
  EXPECT_EQ(std::set<Uuid>(ids.begin(), ids.end()).size(), 3u);
  for (const Uuid& event_id : ids) EXPECT_FALSE(event_id.is_nil());

  const SaveResult saved = counters.save(a);
  ASSERT_TRUE(saved.append);
  EXPECT_EQ(saved.append->event_ids, ids);
  EXPECT_EQ(ids_of(store().read_all(stream_of(id))), ids);
  EXPECT_TRUE(a.uncommitted().empty());
  EXPECT_TRUE(a.uncommitted_ids().empty());
}

TEST_P(AggregateRetryConformance, SaveAgainAfterALostAcknowledgementReturnsTheOriginalResult) {
  auto lossy = unknown_first(Mode::kApplied);
  auto counters = counters_on(lossy);
  const Uuid id = Uuid::random();
  Aggregate<Counter> a = counters.load(id);
  a.record(Added{5});
  const std::vector<Uuid> ids = a.uncommitted_ids();

  EXPECT_ES_ERROR(counters.save(a), ErrorCode::kOutcomeUnknown);
  ASSERT_TRUE(lossy->lost_result) << "the first append did not reach the store";
  // A failed save leaves the aggregate as it was: same events, same ids, same version.
  EXPECT_EQ(a.version(), 0);
  EXPECT_EQ(a.uncommitted().size(), 1u);
  EXPECT_EQ(a.uncommitted_ids(), ids);

  SaveResult retried;
  ASSERT_NO_THROW(retried = counters.save(a));
  ASSERT_TRUE(retried.append);
  EXPECT_EQ(retried.append->first_version, lossy->lost_result->first_version);
  EXPECT_EQ(retried.append->next_expected_version, lossy->lost_result->next_expected_version);
  EXPECT_EQ(retried.append->event_ids, ids);
  EXPECT_EQ(a.version(), 1);
  EXPECT_TRUE(a.uncommitted().empty());
  EXPECT_TRUE(a.uncommitted_ids().empty());

  EXPECT_EQ(store().head(stream_of(id)), 1);
  EXPECT_EQ(counters_on(store_).load(id).state().total, 5);
}

TEST_P(AggregateRetryConformance, SaveAgainAfterAnUnknownOutcomeThatWasNotAppliedAppendsNow) {
  auto lossy = unknown_first(Mode::kNotApplied);
  auto counters = counters_on(lossy);
  const Uuid id = Uuid::random();
  Aggregate<Counter> a = counters.load(id);
  a.record(Added{5});
  const std::vector<Uuid> ids = a.uncommitted_ids();
  EXPECT_ES_ERROR(counters.save(a), ErrorCode::kOutcomeUnknown);
  EXPECT_EQ(store().head(stream_of(id)), 0);

  const SaveResult retried = counters.save(a);
  ASSERT_TRUE(retried.append);
  EXPECT_EQ(retried.append->first_version, 1);
  EXPECT_EQ(retried.append->event_ids, ids);
  EXPECT_EQ(counters_on(store_).load(id).state().total, 5);
}

TEST_P(AggregateRetryConformance, SaveAgainAfterAnUnknownOutcomeConflictsWhenAnotherWriterGotThere) {
  auto lossy = unknown_first(Mode::kNotApplied);
  auto counters = counters_on(lossy);
  const Uuid id = Uuid::random();
  Aggregate<Counter> a = counters.load(id);
  a.record(Added{5});
  EXPECT_ES_ERROR(counters.save(a), ErrorCode::kOutcomeUnknown);
  store().append(stream_of(id), ExpectedVersion::no_stream(),
                 {EventData{Uuid::random(), "Added", R"({"amount":100})", std::nullopt, std::nullopt}});

  std::optional<Error> e = error_of([&] { counters.save(a); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code(), ErrorCode::kVersionConflict) << e->what();
  EXPECT_EQ(e->current_version(), std::optional<std::int64_t>(1));
  EXPECT_EQ(a.version(), 0);
  EXPECT_EQ(a.uncommitted().size(), 1u);
  EXPECT_EQ(counters_on(store_).load(id).state().total, 100);
}

TEST_P(AggregateRetryConformance, ExecuteAfterALostAcknowledgementAppliesTheCommandOnce) {
  auto lossy = unknown_first(Mode::kApplied);
  auto counters = counters_on(lossy);
  const Uuid id = Uuid::random();
  int calls = 0;
  SaveResult saved;
  ASSERT_NO_THROW(saved = counters.execute(id, [&](Aggregate<Counter>& a) {
    ++calls;
    a.record(Added{5});
  }));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(lossy->appends, 2);
  ASSERT_TRUE(saved.append);
  ASSERT_TRUE(lossy->lost_result);
  EXPECT_EQ(saved.append->event_ids, lossy->lost_result->event_ids);
  EXPECT_EQ(store().head(stream_of(id)), 1);
  EXPECT_EQ(counters_on(store_).load(id).state().total, 5);
}

TEST_P(AggregateRetryConformance, ExecuteAfterAnUnknownOutcomeThatWasNotAppliedAppliesTheCommandOnce) {
  auto lossy = unknown_first(Mode::kNotApplied);
  auto counters = counters_on(lossy);
  const Uuid id = Uuid::random();
  int calls = 0;
  ASSERT_NO_THROW(counters.execute(id, [&](Aggregate<Counter>& a) {
    ++calls;
    a.record(Added{5});
  }));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(store().head(stream_of(id)), 1);
  EXPECT_EQ(counters_on(store_).load(id).state().total, 5);
}

TEST_P(AggregateRetryConformance, ExecuteCountsUnknownOutcomesAgainstMaxAttempts) {
  auto lossy = unknown_first(Mode::kApplied);
  auto counters = counters_on(lossy);
  const Uuid id = Uuid::random();
  int calls = 0;
  std::optional<Error> e = error_of([&] {
    counters.execute(
        id,
        [&](Aggregate<Counter>& a) {
          ++calls;
          a.record(Added{5});
        },
        1);
  });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code(), ErrorCode::kOutcomeUnknown);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(lossy->appends, 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, AggregateRetryConformance, ::testing::ValuesIn(all_store_factories()), factory_name);

}  // namespace
}  // namespace eventstore::testing

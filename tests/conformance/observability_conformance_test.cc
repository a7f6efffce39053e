// Metrics and spans (include/eventstore/metrics.h, tracing.h, docs/observability.md) on every
// backend: a scripted sequence of operations, then the value of each metric it moved.
#include <sqlite3.h>

#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "counter_aggregate.h"
#include "recording_sink.h"
#include "store_conformance.h"

namespace eventstore::testing {
namespace {

struct RecordedSpan {
  std::string name;
  std::map<std::string, std::string> attributes;
  std::string outcome;
  bool ended = false;
};

// Spans with a fixed W3C trace context, kept for inspection.
class RecordingTracer final : public Tracer {
 public:
  static constexpr const char* kTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

  class RecordingSpan final : public Span {
   public:
    RecordingSpan(RecordingTracer& tracer, std::size_t index) : tracer_(tracer), index_(index) {}
    void set_attribute(std::string_view key, std::string_view value) override {
      std::lock_guard lock(tracer_.mutex_);
      tracer_.spans_[index_].attributes[std::string(key)] = std::string(value);
    }
    void set_attribute(std::string_view key, std::int64_t value) override { set_attribute(key, std::to_string(value)); }
    void end(std::string_view outcome, std::string_view) override {
      std::lock_guard lock(tracer_.mutex_);
      tracer_.spans_[index_].outcome = std::string(outcome);
      tracer_.spans_[index_].ended = true;
    }
    std::string traceparent() const override { return kTraceparent; }

   private:
    RecordingTracer& tracer_;
    std::size_t index_;
  };

  std::unique_ptr<Span> start_span(std::string_view name) override {
    std::lock_guard lock(mutex_);
    spans_.push_back(RecordedSpan{std::string(name), {}, "", false});
    return std::make_unique<RecordingSpan>(*this, spans_.size() - 1);
  }

  std::vector<RecordedSpan> spans(const std::string& name) const {
    std::lock_guard lock(mutex_);
    std::vector<RecordedSpan> out;
    for (const RecordedSpan& s : spans_)
      if (s.name == name) out.push_back(s);
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<RecordedSpan> spans_;
};

class Observability : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    StoreOptions options;
    options.metrics = sink_;
    options.tracer = tracer_;
    observed_ = open_with(options);
    ASSERT_NE(observed_, nullptr);
    // One store for every helper of the fixture: memory: stores do not share their data.
    plain_ = std::exchange(store_, observed_);
  }
  void TearDown() override {
    observed_.reset();
    plain_.reset();
    StoreTest::TearDown();
  }

  std::string labels(const std::string& type) const { return "," + context_ + "," + type; }

  std::shared_ptr<RecordingSink> sink_ = std::make_shared<RecordingSink>();
  std::shared_ptr<RecordingTracer> tracer_ = std::make_shared<RecordingTracer>();
  std::shared_ptr<Store> observed_;
  std::shared_ptr<Store> plain_;  // opened without sink or tracer
};

TEST_P(Observability, AppendsAreCountedByOutcomeWithTheirEventsAndBytes) {
  const StreamId stream = new_stream("Order");
  std::vector<EventData> two = events(2);
  std::size_t bytes = 0;
  for (const EventData& e : two) bytes += e.event_type.size() + e.data->size();
  observed_->append(stream, ExpectedVersion::no_stream(), two);
  EXPECT_ES_ERROR(observed_->append(stream, ExpectedVersion::no_stream(), events(1)), ErrorCode::kVersionConflict);
  EXPECT_ES_ERROR(observed_->append(stream, ExpectedVersion::any(), {event("")}), ErrorCode::kInvalidArgument);
  std::promise<void> done;
  observed_->append_async(stream, ExpectedVersion::exact(2), events(1), [&](Result<AppendResult> r) {
    EXPECT_TRUE(r.ok());
    done.set_value();
  });
  done.get_future().wait();

  const std::string order = labels("Order");
  EXPECT_EQ(sink_->value("eventstore_appends_total" + order + ",ok"), 2);
  EXPECT_EQ(sink_->value("eventstore_appends_total" + order + ",version_conflict"), 1);
  EXPECT_EQ(sink_->value("eventstore_appends_total" + order + ",invalid_argument"), 1);
  EXPECT_EQ(sink_->value("eventstore_append_seconds" + order + ",ok:count"), 2);
  EXPECT_GT(sink_->value("eventstore_append_seconds" + order + ",ok:sum"), 0);
  EXPECT_EQ(sink_->value("eventstore_appended_events_total" + order), 3);
  EXPECT_EQ(sink_->value("eventstore_appended_bytes_total" + order), bytes + event().event_type.size() + 7);
  EXPECT_EQ(sink_->value("eventstore_appends_in_flight"), 0);
  EXPECT_EQ(sink_->max("eventstore_appends_in_flight"), 1);
  EXPECT_EQ(sink_->value("eventstore_append_bytes_in_flight"), 0);
}

TEST_P(Observability, ReadsAreCountedByPage) {
  const StreamId stream = new_stream("Order");
  append_n(stream, 3);
  EXPECT_EQ(observed_->read_all(stream, forward(std::nullopt, std::nullopt, 2)).size(), 3u);
  const std::string order = labels("Order");
  EXPECT_EQ(sink_->value("eventstore_read_events_total" + order), 3);
  // Two pages of events and the empty page that ends the read.
  EXPECT_EQ(sink_->value("eventstore_read_pages_total" + order + ",ok"), 3);
  EXPECT_EQ(sink_->value("eventstore_read_page_seconds" + order + ",ok:count"), 3);
  EXPECT_EQ(tracer_->spans("eventstore.read").size(), 3u);
}

TEST_P(Observability, SnapshotWritesAreCountedStoredOrRefused) {
  const StreamId stream = new_stream("Order");
  append_n(stream, 2);
  EXPECT_TRUE(observed_->save_snapshot(stream, Snapshot{2, R"({"n":2})", std::nullopt, now_ms()}).stored);
  EXPECT_FALSE(observed_->save_snapshot(stream, Snapshot{1, R"({"n":1})", std::nullopt, now_ms()}).stored);
  EXPECT_ES_ERROR(observed_->save_snapshot(stream, Snapshot{3, R"({"n":3})", std::nullopt, now_ms()}),
                  ErrorCode::kInvalidArgument);
  const std::string order = labels("Order");
  EXPECT_EQ(sink_->value("eventstore_snapshot_writes_total" + order + ",ok"), 1);
  EXPECT_EQ(sink_->value("eventstore_snapshot_writes_total" + order + ",refused_older"), 1);
  EXPECT_EQ(sink_->value("eventstore_snapshot_writes_total" + order + ",invalid_argument"), 1);
}

TEST_P(Observability, AggregateLoadsReportReplayedEventsAndSnapshotUse) {
  AggregateStoreOptions options;
  options.snapshot_policy = every_n_events(3);
  AggregateStore<Counter> counters(observed_, context_, options);
  const Uuid id = Uuid::random();
  Aggregate<Counter> a = counters.load(id);
  a.record(Added{1});
  a.record(Added{2});
  counters.save(a);  // 2 events: no snapshot
  Aggregate<Counter> b = counters.load(id);
  b.record(Added{3});
  counters.save(b);  // 3 events: a snapshot at 3
  b.record(Added{4});
  counters.save(b);
  counters.load(id);  // the snapshot at 3, then 1 event

  const std::string counter = labels("Counter");
  EXPECT_EQ(sink_->value("eventstore_aggregate_loads_total" + counter + ",none"), 2);
  EXPECT_EQ(sink_->value("eventstore_aggregate_loads_total" + counter + ",used"), 1);
  EXPECT_EQ(sink_->value("eventstore_aggregate_events_replayed" + counter + ":count"), 3);
  EXPECT_EQ(sink_->value("eventstore_aggregate_events_replayed" + counter + ":sum"), 0 + 2 + 1);
  EXPECT_EQ(sink_->value("eventstore_aggregate_load_seconds" + counter + ":count"), 3);
  const std::vector<RecordedSpan> loads = tracer_->spans("eventstore.aggregate.load");
  ASSERT_EQ(loads.size(), 3u);
  EXPECT_EQ(loads.back().attributes.at("eventstore.snapshot"), "used");
  EXPECT_EQ(loads.back().outcome, "ok");
  EXPECT_EQ(tracer_->spans("eventstore.aggregate.save").size(), 3u);
}

TEST_P(Observability, FeedReadsHeadAndCheckpointsAreReported) {
  const StreamId stream = new_stream("Order");
  append_n(stream, 2);
  const std::int64_t head = observed_->feed_head(context_);
  FeedReadOptions options;
  options.limit = 10;
  const FeedPage page = observed_->read_feed(context_, options);
  observed_->save_checkpoint(context_, "reporting", page.last_position);

  EXPECT_EQ(sink_->value("eventstore_feed_head," + context_), static_cast<double>(head));
  EXPECT_EQ(sink_->value("eventstore_feed_pages_total," + context_ + ",ok"), 1);
  EXPECT_EQ(sink_->value("eventstore_feed_entries_total," + context_), static_cast<double>(page.entries.size()));
  EXPECT_EQ(sink_->value("eventstore_checkpoint_position," + context_ + ",reporting"),
            static_cast<double>(page.last_position));
}

TEST_P(Observability, AppendSpansCarryTheOperationAndTheTraceContextReachesReaders) {
  const StreamId stream = new_stream("Order");
  observed_->append(stream, ExpectedVersion::no_stream(),
                    {event("Placed", R"({"n":1})", R"({"user":"ann"})"), event("Paid", R"({"n":2})")});
  EXPECT_ES_ERROR(observed_->append(stream, ExpectedVersion::no_stream(), events(1)), ErrorCode::kVersionConflict);

  const std::vector<RecordedSpan> appends = tracer_->spans("eventstore.append");
  ASSERT_EQ(appends.size(), 2u);
  EXPECT_EQ(appends[0].attributes.at("eventstore.context"), context_);
  EXPECT_EQ(appends[0].attributes.at("eventstore.aggregate_type"), "Order");
  EXPECT_EQ(appends[0].attributes.at("eventstore.aggregate_id"), stream.aggregate_id.to_string());
  EXPECT_EQ(appends[0].attributes.at("eventstore.expected_version"), "no-stream");
  EXPECT_EQ(appends[0].attributes.at("eventstore.events"), "2");
  EXPECT_EQ(appends[0].outcome, "ok");
  EXPECT_EQ(appends[1].outcome, "version_conflict");
  EXPECT_TRUE(appends[1].ended);

  const std::vector<RecordedEvent> read = store().read_all(stream);
  ASSERT_EQ(read.size(), 2u);
  for (const RecordedEvent& e : read) EXPECT_EQ(traceparent_of(e), RecordingTracer::kTraceparent);
  // The application's own metadata is kept as written, the member added in front.
  EXPECT_EQ(read[0].metadata,
            std::string(R"({"traceparent":")") + RecordingTracer::kTraceparent + R"(","user":"ann"})");
}

// The feed of context_ once it holds `count` entries (a cluster publishes within the relay's delay).
FeedPage whole_feed(Store& store, const std::string& context, std::int64_t count) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  FeedReadOptions all;
  all.limit = 1000;
  FeedPage page = store.read_feed(context, all);
  while (page.last_position < count && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    page = store.read_feed(context, all);
  }
  EXPECT_EQ(page.last_position, count);
  return page;
}

TEST_P(Observability, SubscriptionsReportTheirLagAndTheEntriesDeliveredAgain) {
  RelayOptions relay_options;
  relay_options.context = context_;
  const std::unique_ptr<FeedRelay> relay = observed_->start_relay(relay_options);  // nullptr on the embedded stores
  // Five events appended a minute ago (by their timestamps).
  std::vector<EventData> old = events(5);
  for (EventData& e : old) e.timestamp = now_ms() - std::chrono::minutes(1);
  observed_->append(new_stream("Order"), ExpectedVersion::no_stream(), old);
  whole_feed(*observed_, context_, 5);

  SubscriptionOptions options;
  options.context = context_;
  options.name = "mailer";
  options.page_size = 3;
  options.poll_interval = std::chrono::milliseconds(2);
  const std::string mailer = "," + context_ + ",mailer";
  const std::string lag = "eventstore_subscription_lag_positions" + mailer;
  const std::string lag_seconds = "eventstore_subscription_lag_seconds" + mailer;
  const std::string duplicates = "eventstore_subscription_duplicates_total" + mailer;
  {
    std::unique_ptr<Subscription> subscription = Subscription::open(observed_, options);
    ASSERT_EQ(subscription->next_page().entries.size(), 3u);  // positions 1..3
    // The head (5) less the starting position (no checkpoint yet: 0).
    EXPECT_EQ(sink_->wait_for(lag, [](double v) { return v == 5; }), 5);
    EXPECT_GE(sink_->value(lag_seconds), 59);
    EXPECT_LT(sink_->value(lag_seconds), 600);
    EXPECT_EQ(subscription->save_checkpoint(), 3);
    EXPECT_EQ(sink_->value(lag), 2);
    ASSERT_EQ(subscription->next_page().entries.size(), 2u);  // 4..5
    EXPECT_EQ(sink_->value(lag), 2);
    EXPECT_TRUE(subscription->next_page().entries.empty());  // at the head
    EXPECT_EQ(sink_->value(lag_seconds), 0);
    EXPECT_EQ(sink_->value(duplicates), 0);
  }
  // Reopened under its name: it resumes after its checkpoint (3), so 4 and 5 come again.
  std::unique_ptr<Subscription> restarted = Subscription::open(observed_, options);
  ASSERT_EQ(restarted->next_page().entries.size(), 2u);
  EXPECT_EQ(sink_->value(duplicates), 2);
  EXPECT_EQ(restarted->save_checkpoint(), 5);
  EXPECT_EQ(sink_->value(lag), 0);
  // The asynchronous form reports the same: at the head, an empty page after its wait.
  std::promise<void> waited;
  restarted->next_page_async(std::chrono::milliseconds(1), [&](Result<FeedPage> page) {
    EXPECT_TRUE(page.ok() && page.value().entries.empty());
    waited.set_value();
  });
  waited.get_future().wait();
  EXPECT_EQ(sink_->value(lag_seconds), 0);
  EXPECT_EQ(sink_->value(duplicates), 2);
  // A subscription without a name has no checkpoint: nothing reported under an empty name.
  options.name.clear();
  Subscription::open(observed_, options)->next_page();
  EXPECT_EQ(sink_->records("eventstore_subscription_lag_positions," + context_ + ","), 0);
}

// A consumer whose handler fails goes back to its checkpoint and is given those entries again.
TEST_P(Observability, AFailedHandlerIsCountedAndItsEntriesComeAgain) {
  RelayOptions relay_options;
  relay_options.context = context_;
  const std::unique_ptr<FeedRelay> relay = observed_->start_relay(relay_options);
  observed_->append(new_stream("Order"), ExpectedVersion::no_stream(), events(5));
  whole_feed(*observed_, context_, 5);
  SubscriptionOptions options;
  options.context = context_;
  options.name = "billing";
  options.page_size = 3;
  std::unique_ptr<Subscription> subscription = Subscription::open(observed_, options);
  subscription->next_page();  // 1..3
  EXPECT_EQ(subscription->save_checkpoint(), 3);
  EXPECT_EQ(subscription->next_page().entries.size(), 2u);  // 4..5: the handler fails on them
  subscription->handler_failed();
  EXPECT_EQ(subscription->position(), 3);
  const FeedPage again = subscription->next_page();
  ASSERT_EQ(again.entries.size(), 2u);
  EXPECT_EQ(again.entries.front().position, 4);
  const std::string billing = "," + context_ + ",billing";
  EXPECT_EQ(sink_->value("eventstore_subscription_handler_failures_total" + billing), 1);
  EXPECT_EQ(sink_->value("eventstore_subscription_duplicates_total" + billing), 2);
  // Without a checkpoint saved, back to where it started.
  options.name = "audit";
  options.start = StartPosition::after(1);
  std::unique_ptr<Subscription> audit = Subscription::open(observed_, options);
  audit->next_page();
  audit->handler_failed();
  EXPECT_EQ(audit->position(), 1);
  EXPECT_EQ(sink_->value("eventstore_subscription_handler_failures_total," + context_ + ",audit"), 1);
}

TEST_P(Observability, AProjectionGivenTheSinkCountsHandlerFailuresAndDuplicates) {
  RelayOptions relay_options;
  relay_options.context = context_;
  const std::unique_ptr<FeedRelay> relay = observed_->start_relay(relay_options);
  observed_->append(new_stream("Order"), ExpectedVersion::no_stream(), events(4));
  const FeedPage page = whole_feed(*observed_, context_, 4);
  ASSERT_EQ(page.entries.size(), 4u);

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
  {
    SqliteProjection projection(db, "orders_view", sink_);
    int applied = 0;
    EXPECT_THROW(projection.apply(page,
                                  [&](sqlite3*, const FeedEntry&) {
                                    if (++applied == 2) throw std::runtime_error("the handler failed");
                                  }),
                 std::runtime_error);
    const std::string view = "," + context_ + ",orders_view";
    EXPECT_EQ(sink_->value("eventstore_subscription_handler_failures_total" + view), 1);
    EXPECT_EQ(projection.position(), 0);
    projection.apply(page, [](sqlite3*, const FeedEntry&) {});
    EXPECT_EQ(sink_->value("eventstore_subscription_duplicates_total" + view), 0);
    // The same page again (a consumer that could not save its own checkpoint): all four skipped.
    projection.apply(page, [](sqlite3*, const FeedEntry&) { ADD_FAILURE() << "applied twice"; });
    EXPECT_EQ(sink_->value("eventstore_subscription_duplicates_total" + view), 4);
    EXPECT_EQ(sink_->value("eventstore_subscription_handler_failures_total" + view), 1);
  }
  sqlite3_close(db);
}

TEST_P(Observability, AStoreWithoutSinkOrTracerReportsNothing) {
  EXPECT_EQ(plain_->metrics_sink(), nullptr);
  EXPECT_EQ(plain_->tracer(), nullptr);
  EXPECT_EQ(observed_->metrics_sink(), sink_);
  EXPECT_EQ(observed_->tracer(), tracer_);
}

INSTANTIATE_TEST_SUITE_P(Backends, Observability, ::testing::ValuesIn(all_store_factories()), factory_name);

}  // namespace
}  // namespace eventstore::testing

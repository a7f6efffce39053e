// What the scylla:// backend measures inside (docs/observability.md, "Inside the backends"),
// against the real cluster: the append's extra batches and how its unknown outcomes resolved
// (faults injected into its batches, inject_batch_faults), and the feed relay's publication,
// lag and lease.
#include <chrono>
#include <future>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "backend_store.h"
#include "conformance/recording_sink.h"

namespace eventstore::testing {
namespace {

using detail::InjectedBatchFault;
using namespace std::chrono_literals;

constexpr InjectedBatchFault kLostBeforeSending{false, ErrorCode::kOutcomeUnknown};
constexpr InjectedBatchFault kAppliedButUnanswered{true, ErrorCode::kOutcomeUnknown};

// The backend's own store (for inject_batch_faults), reporting into `sink`.
std::shared_ptr<Store> open_measured(std::shared_ptr<MetricsSink> sink) {
  cluster();  // the schema
  ::unsetenv("EVENTSTORE_STORE");
  const std::string uri = default_store_uri();
  StoreOptions options;
  options.metrics = std::move(sink);
  return detail::open_scylla_store(detail::parse_store_uri(uri).cluster, redact_uri(uri), options);
}

std::string labels(const StreamId& stream) { return "," + stream.bounded_context + "," + stream.aggregate_type; }

// Eight "any" appends to one stream at once: all read the same head, one batch wins each round,
// the others go again after the new head. Every append succeeds.
TEST(ScyllaMetrics, RacingAnyAppendsResendTheirBatches) {
  SKIP_WITHOUT_CLUSTER();
  cluster();
  auto sink = std::make_shared<RecordingSink>();
  StoreOptions options;
  options.metrics = sink;
  ::unsetenv("EVENTSTORE_STORE");
  auto store = open_store(default_store_uri(), options);
  const StreamId stream = fresh_stream("metrics");
  std::vector<std::future<void>> appends;
  for (int i = 0; i < 8; ++i)
    appends.push_back(
        std::async(std::launch::async, [&] { store->append(stream, ExpectedVersion::any(), events(1)); }));
  for (auto& append : appends) EXPECT_NO_THROW(append.get());
  EXPECT_EQ(store->head(stream), 8);
  EXPECT_EQ(sink->value("eventstore_appends_total" + labels(stream) + ",ok"), 8);
  EXPECT_GE(sink->value("eventstore_cluster_resent_batches_total" + labels(stream) + ",lost_race"), 1);
  EXPECT_EQ(sink->value("eventstore_cluster_resent_batches_total" + labels(stream) + ",unapplied_retry"), 0);
  EXPECT_EQ(sink->value("eventstore_cluster_contention_failures_total" + labels(stream)), 0);
  EXPECT_EQ(sink->records("eventstore_cluster_unknown_outcomes_total" + labels(stream) + ",applied"), 0);
}

TEST(ScyllaMetrics, AnUnansweredBatchThatAppliedResolvesAsApplied) {
  SKIP_WITHOUT_CLUSTER();
  auto sink = std::make_shared<RecordingSink>();
  auto store = open_measured(sink);
  const StreamId stream = fresh_stream("metrics");
  detail::inject_batch_faults(*store, {kAppliedButUnanswered});
  EXPECT_EQ(store->append(stream, ExpectedVersion::no_stream(), events(2)).first_version, 1);
  const std::string unknown = "eventstore_cluster_unknown_outcomes_total" + labels(stream);
  EXPECT_EQ(sink->value(unknown + ",applied"), 1);
  EXPECT_EQ(sink->value(unknown + ",not_applied"), 0);
  EXPECT_EQ(sink->value(unknown + ",still_unknown"), 0);
  EXPECT_EQ(sink->value("eventstore_cluster_resent_batches_total" + labels(stream) + ",unapplied_retry"), 0);
}

TEST(ScyllaMetrics, ALostBatchIsReadBackAsNotAppliedAndSentAgain) {
  SKIP_WITHOUT_CLUSTER();
  auto sink = std::make_shared<RecordingSink>();
  auto store = open_measured(sink);
  const StreamId stream = fresh_stream("metrics");
  detail::inject_batch_faults(*store, {kLostBeforeSending});
  EXPECT_EQ(store->append(stream, ExpectedVersion::no_stream(), events(1)).first_version, 1);
  const std::string unknown = "eventstore_cluster_unknown_outcomes_total" + labels(stream);
  EXPECT_EQ(sink->value(unknown + ",not_applied"), 1);
  EXPECT_EQ(sink->value(unknown + ",applied"), 0);
  EXPECT_EQ(sink->value("eventstore_cluster_resent_batches_total" + labels(stream) + ",unapplied_retry"), 1);
}

// Lost on every attempt (the first and its two retries): the last one stays unknown.
TEST(ScyllaMetrics, ABatchLostOnEveryRetryStaysUnknown) {
  SKIP_WITHOUT_CLUSTER();
  auto sink = std::make_shared<RecordingSink>();
  auto store = open_measured(sink);
  const StreamId stream = fresh_stream("metrics");
  detail::inject_batch_faults(*store, {kLostBeforeSending, kLostBeforeSending, kLostBeforeSending});
  try {
    store->append(stream, ExpectedVersion::no_stream(), events(1));
    ADD_FAILURE() << "the append succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kOutcomeUnknown) << e.what();
  }
  const std::string unknown = "eventstore_cluster_unknown_outcomes_total" + labels(stream);
  EXPECT_EQ(sink->value(unknown + ",not_applied"), 2);
  EXPECT_EQ(sink->value(unknown + ",still_unknown"), 1);
  EXPECT_EQ(sink->value("eventstore_cluster_resent_batches_total" + labels(stream) + ",unapplied_retry"), 2);
}

// A stream the seed's library wrote (two events, no stream_version): the first batch, conditioned
// on the expected version, is refused; a SERIAL read finds the stream at that version, and the
// batch goes again to adopt it.
TEST(ScyllaMetrics, AppendingToASeedStreamResendsItsBatchToAdoptIt) {
  SKIP_WITHOUT_CLUSTER();
  auto sink = std::make_shared<RecordingSink>();
  auto store = open_measured(sink);
  const StreamId stream = fresh_stream("metrics");
  for (int version = 1; version <= 2; ++version)
    detail::execute_statement(
        *store, "BEGIN BATCH INSERT INTO " + keyspace() +
                    ".event_store (bounded_context, aggregate_id, aggregate_type, event_id, event_type, event_version, "
                    "event_data, event_timestamp, event_metadata) VALUES ('" +
                    stream.bounded_context + "', " + stream.aggregate_id.to_string() + ", '" + stream.aggregate_type +
                    "', " + Uuid::random().to_string() + ", 'Seeded', " + std::to_string(version) +
                    ", '{}', toTimestamp(now()), 'null') IF NOT EXISTS; APPLY BATCH");
  EXPECT_EQ(store->append(stream, ExpectedVersion::exact(2), events(1)).first_version, 3);
  EXPECT_EQ(sink->value("eventstore_cluster_resent_batches_total" + labels(stream) + ",adoption"), 1);
  EXPECT_EQ(sink->value("eventstore_cluster_resent_batches_total" + labels(stream) + ",lost_race"), 0);
  // Adopted: the next append needs no second batch.
  EXPECT_EQ(store->append(stream, ExpectedVersion::exact(3), events(1)).first_version, 4);
  EXPECT_EQ(sink->value("eventstore_cluster_resent_batches_total" + labels(stream) + ",adoption"), 1);
}

// A relay of a fresh context: takes the lease (one takeover), publishes two appends' three
// events through their markers, reports no lag once they are out, and gives the lease up at stop.
TEST(ScyllaMetrics, TheRelayReportsPublicationLagAndLease) {
  SKIP_WITHOUT_CLUSTER();
  auto sink = std::make_shared<RecordingSink>();
  auto store = open_measured(sink);
  const StreamId first = fresh_stream("metrics");
  const StreamId second{first.bounded_context, "invoice", Uuid::random()};
  const std::string context = "," + first.bounded_context;
  RelayOptions options;
  options.context = first.bounded_context;
  options.lease = 3000ms;
  std::unique_ptr<FeedRelay> relay = store->start_relay(options);
  ASSERT_NE(relay, nullptr);
  EXPECT_EQ(sink->wait_for("eventstore_relay_lease_held" + context, [](double v) { return v == 1; }), 1);
  EXPECT_EQ(sink->value("eventstore_relay_lease_takeovers_total" + context), 1);

  store->append(first, ExpectedVersion::no_stream(), events(2));
  store->append(second, ExpectedVersion::no_stream(), events(1));
  EXPECT_EQ(sink->wait_for("eventstore_relay_published_entries_total" + context, [](double v) { return v >= 3; }), 3);
  const double through_markers = sink->value("eventstore_relay_commit_to_feed_seconds" + context + ":count");
  EXPECT_GE(through_markers, 1);
  EXPECT_LE(through_markers, 2);
  EXPECT_GT(sink->value("eventstore_relay_commit_to_feed_seconds" + context + ":sum"), 0);
  EXPECT_LT(sink->value("eventstore_relay_commit_to_feed_seconds" + context + ":sum"), 60);
  // Each append is published through its marker or, if reconciliation found it first, repaired.
  EXPECT_EQ(through_markers + (sink->value("eventstore_relay_repairs_total" + context) > 0 ? 1 : 0), 2);
  EXPECT_EQ(sink->wait_for("eventstore_relay_lag_seconds" + context, [](double v) { return v == 0; }), 0);
  EXPECT_EQ(store->feed_head(first.bounded_context), 3);

  // A refused append leaves its marker behind: pending (the relay's lag) until the relay settles it.
  const StreamId refused{first.bounded_context, "order", Uuid::random()};
  EXPECT_THROW(store->append(refused, ExpectedVersion::exact(5), events(1)), Error);
  EXPECT_GT(sink->wait_for("eventstore_relay_lag_seconds" + context, [](double v) { return v > 0; }), 0);
  EXPECT_EQ(sink->value("eventstore_relay_published_entries_total" + context), 3);

  relay->stop();
  EXPECT_EQ(sink->value("eventstore_relay_lease_held" + context), 0);
  EXPECT_EQ(sink->value("eventstore_relay_lease_takeovers_total" + context), 1);
}

// Every host the store's session connects to is reported connected (1), labelled by its
// address and data centre, right after the store opens.
TEST(ScyllaMetrics, EachHostIsReportedConnected) {
  SKIP_WITHOUT_CLUSTER();
  auto sink = std::make_shared<RecordingSink>();
  auto store = open_measured(sink);
  const std::string prefix = "eventstore_cluster_host_connected,";
  std::map<std::string, double> hosts;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while ((hosts = sink->values_with_prefix(prefix)).empty() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  ASSERT_FALSE(hosts.empty()) << "no host reported";
  bool one_connected = false;
  for (const auto& [key, value] : hosts) {
    EXPECT_TRUE(value == 0 || value == 1) << key;
    EXPECT_NE(key.find(':'), std::string::npos) << "the address label has its port: " << key;
    one_connected = one_connected || value == 1;
  }
  EXPECT_TRUE(one_connected) << "no host reported connected";
}

}  // namespace
}  // namespace eventstore::testing

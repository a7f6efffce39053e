#include "eventstore/metrics.h"

#include <array>

namespace eventstore::metrics {
namespace {

constexpr std::array<std::string_view, 3> kStreamOutcome = {"context", "aggregate_type", "outcome"};
constexpr std::array<std::string_view, 2> kStream = {"context", "aggregate_type"};
constexpr std::array<std::string_view, 3> kStreamSnapshot = {"context", "aggregate_type", "snapshot"};
constexpr std::array<std::string_view, 2> kContextOutcome = {"context", "outcome"};
constexpr std::array<std::string_view, 1> kContext = {"context"};
constexpr std::array<std::string_view, 2> kContextSubscription = {"context", "subscription"};

// Seconds: from a local SQLite commit (~0.1 ms) to a cluster append timing out (5 s default).
constexpr std::array<double, 15> kSecondsBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                    0.05,   0.1,     0.25,   0.5,   1,      2.5,   5};
// Events replayed by one load: the snapshot policy's default is every 100 events.
constexpr std::array<double, 9> kEventCountBuckets = {0, 1, 10, 50, 100, 500, 1000, 10000, 100000};

}  // namespace

const Metric appends_total{
    "eventstore_appends_total", "Appends answered, by outcome", MetricType::kCounter, kStreamOutcome, {}};
const Metric append_seconds{"eventstore_append_seconds", "Time from an append's call to its answer, by outcome",
                            MetricType::kHistogram, kStreamOutcome, kSecondsBuckets};
const Metric appended_events_total{
    "eventstore_appended_events_total", "Events of acknowledged appends", MetricType::kCounter, kStream, {}};
const Metric appended_bytes_total{"eventstore_appended_bytes_total",
                                  "Bytes (type + data + metadata) of the events of acknowledged appends",
                                  MetricType::kCounter,
                                  kStream,
                                  {}};
const Metric read_pages_total{"eventstore_read_pages_total",
                              "Pages of stream reads answered, by outcome",
                              MetricType::kCounter,
                              kStreamOutcome,
                              {}};
const Metric read_events_total{
    "eventstore_read_events_total", "Events delivered by stream reads", MetricType::kCounter, kStream, {}};
const Metric read_page_seconds{"eventstore_read_page_seconds",
                               "Time from a stream read's page request to its delivery, by outcome",
                               MetricType::kHistogram, kStreamOutcome, kSecondsBuckets};
const Metric snapshot_writes_total{"eventstore_snapshot_writes_total",
                                   "Snapshot writes, by outcome: ok (stored), refused_older (the store holds one "
                                   "at the same or a newer version), or an error",
                                   MetricType::kCounter,
                                   kStreamOutcome,
                                   {}};
const Metric aggregate_loads_total{"eventstore_aggregate_loads_total",
                                   "AggregateStore loads that succeeded, by whether a snapshot was used",
                                   MetricType::kCounter,
                                   kStreamSnapshot,
                                   {}};
const Metric aggregate_load_seconds{"eventstore_aggregate_load_seconds", "Time of a successful AggregateStore load",
                                    MetricType::kHistogram, kStream, kSecondsBuckets};
const Metric aggregate_events_replayed{"eventstore_aggregate_events_replayed",
                                       "Events replayed by one AggregateStore load", MetricType::kHistogram, kStream,
                                       kEventCountBuckets};
const Metric appends_in_flight{
    "eventstore_appends_in_flight", "Appends admitted and not yet answered", MetricType::kGauge, {}, {}};
const Metric append_bytes_in_flight{"eventstore_append_bytes_in_flight",
                                    "Event bytes of the appends admitted and not yet answered",
                                    MetricType::kGauge,
                                    {},
                                    {}};
const Metric feed_pages_total{
    "eventstore_feed_pages_total", "Feed pages read, by outcome", MetricType::kCounter, kContextOutcome, {}};
const Metric feed_entries_total{
    "eventstore_feed_entries_total", "Feed entries delivered by feed reads", MetricType::kCounter, kContext, {}};
const Metric feed_head{"eventstore_feed_head",
                       "The last head position of the context's feed this process saw",
                       MetricType::kGauge,
                       kContext,
                       {}};
const Metric checkpoint_position{"eventstore_checkpoint_position",
                                 "The position last saved under the subscription's name",
                                 MetricType::kGauge,
                                 kContextSubscription,
                                 {}};

std::span<const Metric* const> all() {
  static constexpr std::array<const Metric*, 17> kAll = {
      &appends_total,          &append_seconds,         &appended_events_total,     &appended_bytes_total,
      &read_pages_total,       &read_events_total,      &read_page_seconds,         &snapshot_writes_total,
      &aggregate_loads_total,  &aggregate_load_seconds, &aggregate_events_replayed, &appends_in_flight,
      &append_bytes_in_flight, &feed_pages_total,       &feed_entries_total,        &feed_head,
      &checkpoint_position};
  return kAll;
}

}  // namespace eventstore::metrics

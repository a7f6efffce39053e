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

constexpr std::array<std::string_view, 3> kStreamReason = {"context", "aggregate_type", "reason"};
constexpr std::array<std::string_view, 3> kStreamResolution = {"context", "aggregate_type", "resolution"};
constexpr std::array<std::string_view, 1> kMode = {"mode"};
constexpr std::array<std::string_view, 2> kHost = {"address", "datacenter"};
// Appends per SQLite group commit: at most Writer::kMaxBatch (512) jobs go into one.
constexpr std::array<double, 11> kGroupBuckets = {0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512};
// From a marker to its entries in the feed: a relay polls every 20 ms by default, looks at a slow
// append again up to every second, and settles a marker after 20 s.
constexpr std::array<double, 13> kRelaySecondsBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                         1,     2.5,  5,     10,   30,  60};

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

const Metric cluster_resent_batches_total{
    "eventstore_cluster_resent_batches_total",
    "Conditional batches a cluster append sent beyond its first, by reason: lost_race (an any append whose head "
    "moved), unapplied_retry (a timed-out batch read back as not applied), adoption (a stream of the seed's library)",
    MetricType::kCounter,
    kStreamReason,
    {}};
const Metric cluster_contention_failures_total{"eventstore_cluster_contention_failures_total",
                                               "Cluster any appends that gave up after losing too many races for the "
                                               "head (answered unavailable, nothing written)",
                                               MetricType::kCounter,
                                               kStream,
                                               {}};
const Metric cluster_host_connected{"eventstore_cluster_host_connected",
                                    "1 while the driver holds an open connection to the cluster host, else 0; "
                                    "sampled every 5 s",
                                    MetricType::kGauge,
                                    kHost,
                                    {}};
const Metric cluster_unknown_outcomes_total{
    "eventstore_cluster_unknown_outcomes_total",
    "Cluster append batches whose answer was lost, by what the SERIAL read back found: applied, not_applied, or "
    "still_unknown (the append is answered outcome_unknown)",
    MetricType::kCounter,
    kStreamResolution,
    {}};
const Metric sqlite_group_appends{"eventstore_sqlite_group_appends",
                                  "Appends committed together in one SQLite group commit (transaction)",
                                  MetricType::kHistogram,
                                  {},
                                  kGroupBuckets};
const Metric sqlite_group_commit_seconds{"eventstore_sqlite_group_commit_seconds",
                                         "Time of one SQLite group commit, from BEGIN to the end of COMMIT",
                                         MetricType::kHistogram,
                                         {},
                                         kSecondsBuckets};
const Metric sqlite_wal_pages{"eventstore_sqlite_wal_pages",
                              "Pages in the SQLite write-ahead log after the last checkpoint",
                              MetricType::kGauge,
                              {},
                              {}};
const Metric sqlite_checkpoints_total{"eventstore_sqlite_checkpoints_total",
                                      "SQLite WAL checkpoints, by who ran them: background (the checkpoint thread) "
                                      "or writer (the committing thread, past the WAL's limit)",
                                      MetricType::kCounter,
                                      kMode,
                                      {}};
const Metric sqlite_checkpoint_seconds{"eventstore_sqlite_checkpoint_seconds", "Time of one SQLite WAL checkpoint",
                                       MetricType::kHistogram, kMode, kSecondsBuckets};
const Metric relay_lag_seconds{"eventstore_relay_lag_seconds",
                               "Age of the oldest marker whose append the relay has not published yet (0: none)",
                               MetricType::kGauge,
                               kContext,
                               {}};
const Metric relay_commit_to_feed_seconds{
    "eventstore_relay_commit_to_feed_seconds",
    "Time from an append's feed marker to its events' publication in the feed, per append the relay published",
    MetricType::kHistogram, kContext, kRelaySecondsBuckets};
const Metric relay_published_entries_total{"eventstore_relay_published_entries_total",
                                           "Entries the relay wrote into the feed",
                                           MetricType::kCounter,
                                           kContext,
                                           {}};
const Metric relay_repairs_total{"eventstore_relay_repairs_total",
                                 "Entries the relay published that no marker announced (found by reconciliation)",
                                 MetricType::kCounter,
                                 kContext,
                                 {}};
const Metric relay_lease_held{"eventstore_relay_lease_held",
                              "1 while a relay of this process holds the context's lease, else 0",
                              MetricType::kGauge,
                              kContext,
                              {}};
const Metric relay_lease_takeovers_total{"eventstore_relay_lease_takeovers_total",
                                         "Times a relay of this process took the context's lease (a new epoch)",
                                         MetricType::kCounter,
                                         kContext,
                                         {}};
const Metric subscription_lag_positions{"eventstore_subscription_lag_positions",
                                        "Positions between the feed's head and the subscription's checkpoint",
                                        MetricType::kGauge,
                                        kContextSubscription,
                                        {}};
const Metric subscription_lag_seconds{
    "eventstore_subscription_lag_seconds",
    "Age of the last entry the subscription delivered, when delivered (0 once a page finds it at the head)",
    MetricType::kGauge,
    kContextSubscription,
    {}};
const Metric subscription_duplicates_total{
    "eventstore_subscription_duplicates_total",
    "Feed entries delivered again: after a restart from an older checkpoint, or applied before (projections)",
    MetricType::kCounter,
    kContextSubscription,
    {}};
const Metric subscription_handler_failures_total{"eventstore_subscription_handler_failures_total",
                                                 "Pages whose handler failed (threw, or was reported failed)",
                                                 MetricType::kCounter,
                                                 kContextSubscription,
                                                 {}};

std::span<const Metric* const> all() {
  static constexpr std::array<const Metric*, 36> kAll = {&appends_total,
                                                         &append_seconds,
                                                         &appended_events_total,
                                                         &appended_bytes_total,
                                                         &read_pages_total,
                                                         &read_events_total,
                                                         &read_page_seconds,
                                                         &snapshot_writes_total,
                                                         &aggregate_loads_total,
                                                         &aggregate_load_seconds,
                                                         &aggregate_events_replayed,
                                                         &appends_in_flight,
                                                         &append_bytes_in_flight,
                                                         &feed_pages_total,
                                                         &feed_entries_total,
                                                         &feed_head,
                                                         &checkpoint_position,
                                                         &cluster_resent_batches_total,
                                                         &cluster_contention_failures_total,
                                                         &cluster_unknown_outcomes_total,
                                                         &cluster_host_connected,
                                                         &sqlite_group_appends,
                                                         &sqlite_group_commit_seconds,
                                                         &sqlite_wal_pages,
                                                         &sqlite_checkpoints_total,
                                                         &sqlite_checkpoint_seconds,
                                                         &relay_lag_seconds,
                                                         &relay_commit_to_feed_seconds,
                                                         &relay_published_entries_total,
                                                         &relay_repairs_total,
                                                         &relay_lease_held,
                                                         &relay_lease_takeovers_total,
                                                         &subscription_lag_positions,
                                                         &subscription_lag_seconds,
                                                         &subscription_duplicates_total,
                                                         &subscription_handler_failures_total};
  return kAll;
}

}  // namespace eventstore::metrics

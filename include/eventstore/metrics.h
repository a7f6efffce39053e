// Metrics: what a store measures, reported into a sink the application provides
// (StoreOptions::metrics). docs/observability.md lists every metric with its unit and labels.
//
// Invariants:
//  - Nothing is measured, and nothing of this costs, while StoreOptions::metrics is null.
//  - Every metric is one of the constants of `metrics::` below: its name carries its unit
//    (Prometheus style: _total for counters, _seconds, _bytes), its label names are fixed, and a
//    histogram's bucket bounds are fixed and documented.
//  - Label values are bounded: contexts, aggregate types, outcomes, subscription names and the
//    fixed words of a reason, resolution or mode (below); never aggregate ids or event ids.
//
// Thread safety: a sink's record() is called from any thread of the store (the caller's, the
// driver's, the SQLite writer's), concurrently; it must be thread-safe and quick, and must not
// call back into the store.
#pragma once

#include <span>
#include <string_view>

#include "eventstore/export.h"

namespace eventstore {

enum class MetricType {
  kCounter,    // record() adds the value (>= 0)
  kGauge,      // record() sets the value
  kHistogram,  // record() observes the value
};

struct EVENTSTORE_EXPORT Metric {
  std::string_view name;
  std::string_view help;
  MetricType type;
  std::span<const std::string_view> label_names;
  std::span<const double> buckets;  // histograms: upper bounds, ascending (+Inf is implied)
};

class EVENTSTORE_EXPORT MetricsSink {
 public:
  virtual ~MetricsSink() = default;
  // `label_values` holds one value per metric.label_names, in that order.
  virtual void record(const Metric& metric, std::span<const std::string_view> label_values, double value) = 0;
};

// The outcome label of an append, a read, a snapshot write: "ok" or the ErrorCode's name in
// snake case ("version_conflict", "outcome_unknown", "invalid_argument", "unavailable", ...).
namespace metrics {

// Labels: context, aggregate_type, outcome.
extern EVENTSTORE_EXPORT const Metric appends_total;          // appends answered
extern EVENTSTORE_EXPORT const Metric append_seconds;         // from the call to the answer (histogram)
extern EVENTSTORE_EXPORT const Metric read_pages_total;       // pages of stream reads answered
extern EVENTSTORE_EXPORT const Metric read_page_seconds;      // from a page's request to its delivery (histogram)
extern EVENTSTORE_EXPORT const Metric snapshot_writes_total;  // outcome "ok" (stored), "refused_older", or an error
// Labels: context, aggregate_type.
extern EVENTSTORE_EXPORT const Metric appended_events_total;      // events of acknowledged appends
extern EVENTSTORE_EXPORT const Metric appended_bytes_total;       // their type + data + metadata bytes
extern EVENTSTORE_EXPORT const Metric read_events_total;          // events delivered by stream reads
extern EVENTSTORE_EXPORT const Metric aggregate_load_seconds;     // successful AggregateStore loads (histogram)
extern EVENTSTORE_EXPORT const Metric aggregate_events_replayed;  // events replayed per load (histogram)
// Labels: context, aggregate_type, snapshot ("used" or "none").
extern EVENTSTORE_EXPORT const Metric aggregate_loads_total;  // successful AggregateStore loads
// No labels (gauges).
extern EVENTSTORE_EXPORT const Metric appends_in_flight;       // admitted and not yet answered
extern EVENTSTORE_EXPORT const Metric append_bytes_in_flight;  // their event bytes
// Labels: context, outcome.
extern EVENTSTORE_EXPORT const Metric feed_pages_total;  // feed pages read
// Labels: context.
extern EVENTSTORE_EXPORT const Metric feed_entries_total;  // entries delivered by feed reads
extern EVENTSTORE_EXPORT const Metric feed_head;           // the last feed head this process saw (gauge)
// Labels: context, subscription.
extern EVENTSTORE_EXPORT const Metric checkpoint_position;  // the last position saved under the name (gauge)

// Inside the backends (docs/observability.md, "Inside the backends").
// Cluster appends. Labels: context, aggregate_type, reason ("lost_race", "unapplied_retry",
// "adoption").
extern EVENTSTORE_EXPORT const Metric cluster_resent_batches_total;  // conditional batches beyond an append's first
// Labels: context, aggregate_type.
extern EVENTSTORE_EXPORT const Metric cluster_contention_failures_total;  // "any" appends that lost too many races
// Labels: context, aggregate_type, resolution ("applied", "not_applied", "still_unknown").
extern EVENTSTORE_EXPORT const Metric cluster_unknown_outcomes_total;  // batches whose answer was lost
// Cluster hosts. Labels: address, datacenter.
extern EVENTSTORE_EXPORT const Metric cluster_host_connected;  // 1 while the driver holds a connection (gauge)
// SQLite. No labels.
extern EVENTSTORE_EXPORT const Metric sqlite_group_appends;         // appends per group commit (histogram)
extern EVENTSTORE_EXPORT const Metric sqlite_group_commit_seconds;  // time of one group commit (histogram)
extern EVENTSTORE_EXPORT const Metric sqlite_wal_pages;             // the WAL's length after a checkpoint (gauge)
// Labels: mode ("background": the checkpoint thread; "writer": the committing thread, past the
// WAL's limit).
extern EVENTSTORE_EXPORT const Metric sqlite_checkpoints_total;   // checkpoints run
extern EVENTSTORE_EXPORT const Metric sqlite_checkpoint_seconds;  // their time (histogram)
// The cluster feed's relay. Labels: context.
extern EVENTSTORE_EXPORT const Metric relay_lag_seconds;              // oldest unpublished marker's age (gauge)
extern EVENTSTORE_EXPORT const Metric relay_commit_to_feed_seconds;   // marker written to entries published
extern EVENTSTORE_EXPORT const Metric relay_published_entries_total;  // feed entries written
extern EVENTSTORE_EXPORT const Metric relay_repairs_total;            // of which found by reconciliation
extern EVENTSTORE_EXPORT const Metric relay_lease_held;               // 1 while this process holds the lease
extern EVENTSTORE_EXPORT const Metric relay_lease_takeovers_total;    // leases taken (each a new epoch)
// Subscriptions and projections. Labels: context, subscription.
extern EVENTSTORE_EXPORT const Metric subscription_lag_positions;           // feed head - checkpoint (gauge)
extern EVENTSTORE_EXPORT const Metric subscription_lag_seconds;             // age of the last delivered entry (gauge)
extern EVENTSTORE_EXPORT const Metric subscription_duplicates_total;        // entries delivered again
extern EVENTSTORE_EXPORT const Metric subscription_handler_failures_total;  // handlers that threw

// Every metric above, for documentation and for sinks that declare metrics up front.
EVENTSTORE_EXPORT std::span<const Metric* const> all();

}  // namespace metrics
}  // namespace eventstore

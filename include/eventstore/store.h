// Store: one event store, its snapshot store and its feeds, opened from a URI.
//
//   memory:                  in this process only; for tests and prototypes
//   sqlite:PATH              an embedded SQLite file (created if missing), WAL mode
//   scylla://[USER[:PASSWORD]@]HOST[:PORT][,HOST[:PORT]...][/KEYSPACE][?OPTIONS]
//                            a ScyllaDB or Cassandra cluster (docs/scylla.md lists OPTIONS)
//   Every scheme also takes max_in_flight=N and max_in_flight_bytes=N in its query, as in
//   memory:?max_in_flight=8 (see StoreOptions).
//
// Thread safety: a Store is safe to use from many threads; share it with shared_ptr.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "eventstore/event_store.h"
#include "eventstore/export.h"
#include "eventstore/feed.h"
#include "eventstore/limits.h"
#include "eventstore/metrics.h"
#include "eventstore/snapshot_store.h"
#include "eventstore/tracing.h"

namespace eventstore {

// How `apply_schema` creates a cluster keyspace (NetworkTopologyStrategy). Ignored by the
// embedded backends, whose schema is created when the store opens.
struct EVENTSTORE_EXPORT SchemaOptions {
  // Replicas in every data centre, when `datacenters` is empty. The seed's default is 3.
  int replication_factor = 3;
  // Replicas per named data centre, e.g. {{"dc1", 3}, {"dc2", 3}}.
  std::vector<std::pair<std::string, int>> datacenters;
};

class EVENTSTORE_EXPORT Store : public EventStore, public SnapshotStore, public FeedStore {
 public:
  // The URI it was opened with, passwords replaced by "***" and without the store-level
  // options max_in_flight, max_in_flight_bytes and max_stream_version.
  virtual std::string describe() const = 0;
  // Creates the keyspace and tables the backend needs if missing, and adds our additive
  // columns to tables created by the seed. Idempotent. An existing keyspace keeps its
  // replication. Throws eventstore::Error.
  virtual void apply_schema(const SchemaOptions& options) { (void)options; }
  // The sink and the tracer the store was opened with (StoreOptions), or null; the aggregate
  // store reports its loads through them.
  virtual const std::shared_ptr<MetricsSink>& metrics_sink() const;
  virtual const std::shared_ptr<Tracer>& tracer() const;
};

// Backpressure (docs/semantics.md): an append is in flight from its admission until its
// callback runs (append_async) or it returns (append). Past either bound, append_async calls its
// callback at once with kUnavailable ("too many appends in flight"; nothing written) and the
// blocking append waits for room. One append larger than max_in_flight_bytes is admitted when
// nothing else is in flight (Limits bounds it). The URI options max_in_flight=N and
// max_in_flight_bytes=N, valid for every scheme, override these fields.
struct EVENTSTORE_EXPORT StoreOptions {
  Limits limits;
  // Appends in flight per store; at least 1.
  std::size_t max_in_flight = 1024;
  // Bytes of the events in flight per store (type + data + metadata of each event); at least 1.
  std::size_t max_in_flight_bytes = 64 * 1024 * 1024;
  // Where the store reports its metrics (metrics.h); none measured when null.
  std::shared_ptr<MetricsSink> metrics;
  // Where the store's operations become spans (tracing.h); none when null.
  std::shared_ptr<Tracer> tracer;
  // How long a store may use a retention policy it read (retention.h) before it reads it again:
  // how soon a policy set through another store object applies to this one's reads.
  std::chrono::milliseconds retention_refresh{5000};
};

// Opens the store named by `uri`, bounded by `options` (the URI's max_in_flight,
// max_in_flight_bytes and max_stream_version override the fields, the last one
// options.limits.max_version; the backend never sees these options). Throws
// eventstore::Error: kInvalidArgument, before any connection, for a malformed URI, an unknown
// scheme, a percent-decoded part that is not valid UTF-8, contradictory options (tls=false with
// ca_file, cert_file or key_file), or a bound that is not a whole number >= 1 (naming the
// option; max_stream_version: 1..2147483647); kUnavailable / kUnauthorized when the store
// cannot be reached or refuses the credentials, kCorruption for a file that is not a store.
EVENTSTORE_EXPORT std::shared_ptr<Store> open_store(std::string_view uri, const StoreOptions& options = {});

// The statements `apply_schema` runs on the store named by `uri` (CQL for a cluster), without
// connecting to it; empty for the embedded backends. Throws Error(kInvalidArgument).
EVENTSTORE_EXPORT std::vector<std::string> schema_statements(std::string_view uri, const SchemaOptions& options);

// The default store URI: $EVENTSTORE_STORE if set; else a scylla:// URI built from the seed's
// variables (SCYLLA_HOSTS, SCYLLA_USERNAME, SCYLLA_PASSWORD, SCYLLA_HOSTSELECTIONPOLICY,
// SCYLLA_KEYSPACE) if SCYLLA_HOSTS is set; else "sqlite:eventstore.db".
EVENTSTORE_EXPORT std::string default_store_uri();

// `uri` with any password replaced by "***": safe to print.
EVENTSTORE_EXPORT std::string redact_uri(std::string_view uri);

}  // namespace eventstore

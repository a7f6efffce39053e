// Store: one event store and its snapshot store, opened from a URI.
//
//   memory:                  in this process only; for tests and prototypes
//   sqlite:PATH              an embedded SQLite file (created if missing), WAL mode
//   scylla://[USER[:PASSWORD]@]HOST[:PORT][,HOST[:PORT]...][/KEYSPACE][?OPTIONS]
//                            a ScyllaDB or Cassandra cluster (docs/scylla.md lists OPTIONS)
//
// Thread safety: a Store is safe to use from many threads; share it with shared_ptr.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "eventstore/event_store.h"
#include "eventstore/limits.h"
#include "eventstore/snapshot_store.h"

namespace eventstore {

// How `apply_schema` creates a cluster keyspace (NetworkTopologyStrategy). Ignored by the
// embedded backends, whose schema is created when the store opens.
struct SchemaOptions {
  // Replicas in every data centre, when `datacenters` is empty. The seed's default is 3.
  int replication_factor = 3;
  // Replicas per named data centre, e.g. {{"dc1", 3}, {"dc2", 3}}.
  std::vector<std::pair<std::string, int>> datacenters;
};

class Store : public EventStore, public SnapshotStore {
 public:
  // The URI it was opened with, passwords replaced by "***".
  virtual std::string describe() const = 0;
  // Creates the keyspace and tables the backend needs if missing, and adds our additive
  // columns to tables created by the seed. Idempotent. An existing keyspace keeps its
  // replication. Throws eventstore::Error.
  virtual void apply_schema(const SchemaOptions& options) { (void)options; }
};

struct StoreOptions {
  Limits limits;
};

// Opens the store named by `uri`. Throws eventstore::Error: kInvalidArgument for a malformed
// URI, an unknown scheme, a percent-decoded part that is not valid UTF-8, or contradictory
// options (tls=false with ca_file, cert_file or key_file), before any connection;
// kUnavailable / kUnauthorized when the store cannot be reached or refuses the credentials,
// kCorruption for a file that is not a store.
std::shared_ptr<Store> open_store(std::string_view uri, const StoreOptions& options = {});

// The statements `apply_schema` runs on the store named by `uri` (CQL for a cluster), without
// connecting to it; empty for the embedded backends. Throws Error(kInvalidArgument).
std::vector<std::string> schema_statements(std::string_view uri, const SchemaOptions& options);

// The default store URI: $EVENTSTORE_STORE if set; else a scylla:// URI built from the seed's
// variables (SCYLLA_HOSTS, SCYLLA_USERNAME, SCYLLA_PASSWORD, SCYLLA_HOSTSELECTIONPOLICY,
// SCYLLA_KEYSPACE) if SCYLLA_HOSTS is set; else "sqlite:eventstore.db".
std::string default_store_uri();

// `uri` with any password replaced by "***": safe to print.
std::string redact_uri(std::string_view uri);

}  // namespace eventstore

// The scylla:// backend: a ScyllaDB or Cassandra cluster through the Rust driver bridge.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/store_uri.h"
#include "eventstore/store.h"

namespace eventstore::detail {

// Connects (blocking) and returns the store. `redacted_uri` is what describe() shows.
// Throws Error: kInvalidArgument for unknown or malformed URI options, kUnavailable,
// kUnauthorized.
std::shared_ptr<Store> open_scylla_store(const ClusterUri& uri, const std::string& redacted_uri,
                                         const StoreOptions& options);

// The CQL that apply_schema runs for `keyspace`, in order.
std::vector<std::string> scylla_schema_statements(const std::string& keyspace, const SchemaOptions& options);

// The keyspace a URI names, or the seed's "event_sourcing".
std::string scylla_keyspace(const ClusterUri& uri);

}  // namespace eventstore::detail

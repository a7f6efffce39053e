// `eventstore schema apply`: creates what a store needs (tables, keyspace). The options only
// mean something for a cluster (scylla://); memory: and sqlite: stores create their schema
// when they are opened.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace eventstore_cli {

struct SchemaRequest {
  // SimpleStrategy-style replication factor for a new keyspace (--replication-factor N).
  std::optional<int> replication_factor;
  // NetworkTopologyStrategy: (data centre, replicas) pairs (--datacenter DC:N, repeatable).
  std::vector<std::pair<std::string, int>> datacenters;
  // Print the statements instead of running them (--print).
  bool print = false;
};

// The options as typed on the command line, validated into a SchemaRequest (throws UsageError).
SchemaRequest parse_schema_request(const std::optional<std::string>& replication_factor,
                                   const std::vector<std::string>& datacenters, bool print);

// Applies (or prints) the schema of the store at `uri`; returns the exit code.
int run_schema_apply(const std::string& uri, const SchemaRequest& request);

}  // namespace eventstore_cli

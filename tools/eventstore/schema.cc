#include "schema.h"

#include <cstdio>
#include <limits>

#include "cli.h"
#include "eventstore/eventstore.h"

namespace eventstore_cli {

SchemaRequest parse_schema_request(const std::optional<std::string>& replication_factor,
                                   const std::vector<std::string>& datacenters, bool print) {
  SchemaRequest request;
  request.print = print;
  if (replication_factor && !datacenters.empty())
    throw UsageError("--replication-factor and --datacenter exclude each other");
  if (replication_factor)
    request.replication_factor = static_cast<int>(parse_integer(*replication_factor, "--replication-factor", 1, 100));
  for (const std::string& dc : datacenters) {
    const std::size_t colon = dc.rfind(':');
    if (colon == std::string::npos || colon == 0)
      throw UsageError("--datacenter must be DC:N (a data centre name and a replica count), got '" + dc + "'");
    const std::string name = dc.substr(0, colon);
    for (const auto& [seen, replicas] : request.datacenters)
      if (seen == name) throw UsageError("--datacenter " + name + " is given twice");
    request.datacenters.emplace_back(
        name,
        static_cast<int>(parse_integer(dc.substr(colon + 1), "the replica count of --datacenter " + name, 1, 100)));
  }
  return request;
}

int run_schema_apply(const std::string& uri, const SchemaRequest& request) {
  const bool cluster_options = request.replication_factor || !request.datacenters.empty();
  const bool cluster = uri.starts_with("scylla://");
  if (!cluster && cluster_options)
    throw UsageError("--replication-factor and --datacenter apply only to scylla:// stores");
  eventstore::SchemaOptions options;
  if (request.replication_factor) options.replication_factor = *request.replication_factor;
  options.datacenters = request.datacenters;
  if (request.print) {
    // Without connecting: the statements apply_schema would run (none for memory: / sqlite:).
    const std::vector<std::string> statements = eventstore::schema_statements(uri, options);
    if (statements.empty())
      std::printf("-- %s: the schema is created when the store opens; no statements\n", printable_uri(uri).c_str());
    for (const std::string& statement : statements) std::printf("%s;\n", statement.c_str());
    return 0;
  }
  // memory: and sqlite: create their schema when opened (a file that is not a store fails here
  // with exit code 1); for scylla:// apply_schema creates the keyspace and tables if missing.
  const std::shared_ptr<eventstore::Store> store = eventstore::open_store(uri);
  store->apply_schema(options);
  if (cluster) std::printf("schema ok: %s\n", printable_uri(store->describe()).c_str());
  else
    std::printf("schema ok: %s (created when the store opens; nothing to do)\n",
                printable_uri(store->describe()).c_str());
  return 0;
}

}  // namespace eventstore_cli

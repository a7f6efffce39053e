// check_health for scylla:// (core/health.h): a session of its own with the check's timeout, one
// read of system.local for the round trip, the keyspace's tables and columns from system_schema,
// the hosts as the driver knows them, and the rows of feed_relay.
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/health.h"
#include "scylla/connection.h"
#include "scylla/cql.h"
#include "scylla/feed_markers.h"
#include "scylla/session_config.h"

namespace eventstore::detail {
namespace {

using Steady = std::chrono::steady_clock;

double ms_since(Steady::time_point start) {
  return std::chrono::duration<double, std::milli>(Steady::now() - start).count();
}

// The tables of `keyspace`, each with its columns.
std::map<std::string, std::set<std::string>> tables_of(const std::shared_ptr<Connection>& connection,
                                                       const std::string& keyspace) {
  std::map<std::string, std::set<std::string>> tables;
  for (const cql::Row& row :
       cql::execute(connection,
                    {"SELECT table_name, column_name FROM system_schema.columns WHERE keyspace_name = ?", {keyspace}},
                    {cql::Consistency::kOne}))
    tables[cql::text(row.at(0))].insert(cql::text(row.at(1)));
  return tables;
}

void check_schema(const std::shared_ptr<Connection>& connection, const std::string& keyspace, bool feed,
                  HealthReport& report) {
  const std::map<std::string, std::set<std::string>> tables = tables_of(connection, keyspace);
  std::vector<std::string> wanted{"event_store", "aggregate_snapshot"};
  if (feed) wanted.insert(wanted.end(), {"feed_markers", "feed", "feed_relay", "feed_progress", "feed_checkpoints"});
  std::string missing;
  for (const std::string& table : wanted)
    if (!tables.contains(table)) missing += (missing.empty() ? "" : ", ") + table;
  const auto events = tables.find("event_store");
  // The additive static columns every append's batch names (schema.cc).
  std::string lacking;
  for (const char* column : {"stream_version", "truncated_before", "hard_deleted"})
    if (events != tables.end() && !events->second.contains(column))
      lacking += (lacking.empty() ? "" : ", ") + std::string(column);
  std::string list;
  for (const std::string& table : wanted) list += (list.empty() ? "" : ", ") + table;
  if (!missing.empty()) {
    report.schema = "keyspace " + keyspace + " lacks " + missing;
    report.problems.push_back(report.schema + " (create it with: eventstore schema apply)");
  } else if (!lacking.empty()) {
    report.schema = "event_store of keyspace " + keyspace + " lacks the column(s) " + lacking;
    report.problems.push_back(report.schema + " (add them with: eventstore schema apply)");
  } else {
    report.schema = "keyspace " + keyspace + ": " + list +
                    " present, event_store with stream_version, truncated_before, hard_deleted";
    report.schema_current = true;
  }
}

void read_leases(const std::shared_ptr<Connection>& connection, HealthReport& report) {
  const Timestamp now = now_ms();
  for (const cql::Row& row : cql::execute(connection,
                                          {"SELECT bounded_context, owner, epoch, lease_expires FROM " +
                                               cql::table(connection, "feed_relay") + " LIMIT 10000",
                                           {}},
                                          {cql::Consistency::kQuorum})) {
    RelayLeaseHealth lease;
    lease.context = cql::text(row.at(0));
    lease.owner = cql::optional_text(row.at(1)).value_or("");
    lease.epoch = cql::optional_int64(row.at(2)).value_or(0);
    lease.expires = cql::optional_timestamp(row.at(3)).value_or(Timestamp{});
    lease.expires_in_ms = (lease.expires - now).count();
    lease.live = lease.expires_in_ms > 0 && !lease.owner.empty();
    report.relay_leases.push_back(std::move(lease));
  }
}

}  // namespace

void check_scylla_health(const ClusterUri& uri, const HealthOptions& options, HealthReport& report) {
  bridge::SessionConfig config = session_config_from(uri);  // throws kInvalidArgument like open_store
  const FeedSettings feed = feed_settings_from(uri);
  const auto timeout = static_cast<std::uint32_t>(options.timeout.count());
  config.connect_timeout_ms = timeout;
  config.request_timeout_ms = timeout;
  config.resolve_timeout_ms = timeout;
  config.worker_threads = 1;
  const std::string keyspace = to_std(config.keyspace);
  std::shared_ptr<Connection> connection;
  try {
    connection = connect_session(std::move(config), report.store, Limits{}, nullptr);
  } catch (const Error& e) {
    report.problems.push_back(e.what());
    return;
  }
  try {
    const Steady::time_point start = Steady::now();
    cql::execute(connection, {"SELECT release_version FROM system.local", {}}, {cql::Consistency::kOne});
    report.round_trip_ms = ms_since(start);
    report.answers = true;
  } catch (const Error& e) {
    report.problems.push_back(std::string("the cluster does not answer: ") + e.what());
  }
  if (report.answers) {
    try {
      check_schema(connection, keyspace, feed.markers, report);
    } catch (const Error& e) {
      report.schema = "unknown";
      report.problems.push_back(std::string("cannot read the schema: ") + e.what());
    }
  }
  for (const bridge::HostState& host : connection->session->host_states())
    report.hosts.push_back(
        HostHealth{to_std(host.address), to_std(host.datacenter), to_std(host.rack), host.enabled, host.connected});
  if (report.schema_current && feed.markers) {
    try {
      read_leases(connection, report);
    } catch (const Error& e) {
      report.problems.push_back(std::string("cannot read the relays' leases: ") + e.what());
    }
  }
}

}  // namespace eventstore::detail

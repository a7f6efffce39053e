// The cluster schema: exactly the seed's keyspace, tables, columns and types, plus additive
// static columns (stream_version, which makes an append's expected-version check one condition;
// truncated_before and hard_deleted, a stream's lifecycle), plus the feed's own tables
// (docs/feed.md), which the seed's library never reads.
#include <cctype>

#include "scylla/scylla_store.h"

namespace eventstore::detail {
namespace {

bool is_cql_identifier(const std::string& name) {
  if (name.empty() || name.size() > 48 || !std::isalpha(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  return true;
}

std::string quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

}  // namespace

std::string scylla_keyspace(const ClusterUri& uri) {
  const std::string keyspace = uri.keyspace.empty() ? "event_sourcing" : uri.keyspace;
  if (!is_cql_identifier(keyspace))
    throw Error::invalid("keyspace '" + keyspace +
                         "' must be a letter then letters, digits or '_', at most 48 characters");
  return keyspace;
}

std::vector<std::string> scylla_schema_ddl(const std::string& keyspace, const SchemaOptions& options) {
  std::string replication = "{'class': 'NetworkTopologyStrategy'";
  if (options.datacenters.empty()) {
    if (options.replication_factor < 1)
      throw Error::invalid("replication factor must be at least 1, got " + std::to_string(options.replication_factor));
    replication += ", 'replication_factor': " + std::to_string(options.replication_factor);
  }
  for (const auto& [datacenter, factor] : options.datacenters) {
    if (datacenter.empty()) throw Error::invalid("a data centre name must not be empty");
    if (factor < 1) throw Error::invalid("replication factor of data centre '" + datacenter + "' must be at least 1");
    replication += ", " + quoted(datacenter) + ": " + std::to_string(factor);
  }
  replication += "}";
  return {
      "CREATE KEYSPACE IF NOT EXISTS " + keyspace + " WITH replication = " + replication,
      "CREATE TABLE IF NOT EXISTS " + keyspace +
          ".event_store (bounded_context varchar, aggregate_id uuid, aggregate_type varchar, "
          "event_id uuid, event_type varchar, event_version int, event_data varchar, "
          "event_timestamp timestamp, event_metadata varchar, stream_version int static, "
          "truncated_before int static, hard_deleted boolean static, "
          "PRIMARY KEY ((bounded_context, aggregate_id, aggregate_type), event_version)) "
          "WITH compaction = {'class': 'SizeTieredCompactionStrategy'}",
      "CREATE TABLE IF NOT EXISTS " + keyspace +
          ".aggregate_snapshot (bounded_context varchar, aggregate_id uuid, aggregate_type varchar, "
          "snapshot_data varchar, snapshot_version int, snapshot_timestamp timestamp, "
          "snapshot_metadata varchar, PRIMARY KEY ((bounded_context, aggregate_id, aggregate_type))) "
          "WITH compaction = {'class': 'LeveledCompactionStrategy'}",
      // The feed's tables. Markers: written before each append, read by the relay by time
      // bucket (marker time in ms / 60000) and shard (0..3, from the aggregate id); they only
      // expire (3 days), so time windows of one hour compact them away whole.
      "CREATE TABLE IF NOT EXISTS " + keyspace +
          ".feed_markers (bounded_context text, bucket bigint, shard int, marker_id timeuuid, "
          "aggregate_type text, aggregate_id uuid, first_event_id uuid, event_count int, "
          "PRIMARY KEY ((bounded_context, bucket, shard), marker_id)) "
          "WITH default_time_to_live = 259200 AND compaction = {'class': 'TimeWindowCompactionStrategy', "
          "'compaction_window_unit': 'HOURS', 'compaction_window_size': 1}",
      // The feed: position p of a context lives in bucket (p - 1) / 65536; `head` is the bucket's
      // last position, the condition of the relay's batch. Append-only, read by ranges.
      "CREATE TABLE IF NOT EXISTS " + keyspace +
          ".feed (bounded_context text, bucket bigint, position bigint, head bigint static, "
          "aggregate_type text, aggregate_id uuid, event_version int, event_id uuid, event_type text, "
          "event_timestamp timestamp, PRIMARY KEY ((bounded_context, bucket), position)) "
          "WITH compaction = {'class': 'SizeTieredCompactionStrategy'}",
      // One row per context, overwritten in place (lease renewals, progress): leveled compaction.
      "CREATE TABLE IF NOT EXISTS " + keyspace +
          ".feed_relay (bounded_context text PRIMARY KEY, owner text, epoch bigint, lease_expires timestamp, "
          "markers_scanned_to timestamp, head bigint) "
          "WITH compaction = {'class': 'LeveledCompactionStrategy'}",
      "CREATE TABLE IF NOT EXISTS " + keyspace +
          ".feed_progress (bounded_context text, aggregate_id uuid, aggregate_type text, published_version int, "
          "PRIMARY KEY ((bounded_context, aggregate_id, aggregate_type))) "
          "WITH compaction = {'class': 'LeveledCompactionStrategy'}",
      "CREATE TABLE IF NOT EXISTS " + keyspace +
          ".feed_checkpoints (bounded_context text, name text, position bigint, updated timestamp, "
          "PRIMARY KEY ((bounded_context), name)) "
          "WITH compaction = {'class': 'LeveledCompactionStrategy'}",
  };
}

std::string scylla_adopt_statement(const std::string& keyspace) {
  return "ALTER TABLE " + keyspace + ".event_store ADD stream_version int static";
}

std::vector<std::string> scylla_adopt_statements(const std::string& keyspace) {
  return {scylla_adopt_statement(keyspace), "ALTER TABLE " + keyspace + ".event_store ADD truncated_before int static",
          "ALTER TABLE " + keyspace + ".event_store ADD hard_deleted boolean static"};
}

std::vector<std::string> scylla_schema_statements(const std::string& keyspace, const SchemaOptions& options) {
  std::vector<std::string> statements = scylla_schema_ddl(keyspace, options);
  const std::string ddl_event_store = statements[1];
  // What apply_schema does beyond the plain statements, as comments, so that the output can be
  // fed to a CQL shell as it is: every comment precedes a statement and ends with a newline (the
  // server's lexer needs it), with no ';' and only paired quotes inside (simple splitters).
  statements[0] =
      "-- On ScyllaDB with tablets (LWT needs vnodes there through 2025.3), schema apply adds\n"
      "-- AND tablets = {'enabled': false} here (servers without tablets refuse that option).\n" +
      statements[0];
  statements[1] =
      "-- On an event_store table created by the seed library (without stream_version), or before the\n"
      "-- lifecycle columns, schema apply also adds the additive static columns it lacks:\n";
  for (const std::string& alter : scylla_adopt_statements(keyspace)) statements[1] += "-- " + alter + "\n";
  statements[1] += ddl_event_store;
  return statements;
}

}  // namespace eventstore::detail

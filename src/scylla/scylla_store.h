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

// For tests of the append's fault handling: the next append batches of `store` (a store made by
// open_scylla_store), one per fault, fail with the fault's error kind; `applied` says whether the
// batch is sent and applied first (a lost acknowledgement) or never sent.
struct InjectedBatchFault {
  bool applied = false;
  ErrorCode code = ErrorCode::kUnavailable;  // kUnavailable or kOutcomeUnknown
};
void inject_batch_faults(Store& store, const std::vector<InjectedBatchFault>& faults);

struct Connection;  // connection.h

// The session of `store` (a store made by open_scylla_store), for the generic CQL calls (cql.h):
// the relay, and tests that write the feed's tables by hand. Throws Error(kInvalidArgument) for
// another store.
std::shared_ptr<Connection> scylla_connection(Store& store);

// For tests that write rows the way another client does (the seed's library): runs one CQL
// statement, unprepared, on `store` (a store made by open_scylla_store). Throws Error.
void execute_statement(Store& store, const std::string& cql);

// The CQL that apply_schema runs for `keyspace`, in order: keyspace, event_store,
// aggregate_snapshot, then the feed's tables (feed_markers, feed, feed_relay, feed_progress,
// feed_checkpoints; all additive, CREATE TABLE IF NOT EXISTS). Throws Error(kInvalidArgument) for
// bad options.
std::vector<std::string> scylla_schema_ddl(const std::string& keyspace, const SchemaOptions& options);

// Adds the static stream_version column to an event_store created by the seed's library.
std::string scylla_adopt_statement(const std::string& keyspace);

// The additive static columns an existing event_store may lack, one ALTER each, in order:
// stream_version (the seed's tables), then truncated_before and hard_deleted (the lifecycle's,
// docs/scylla.md "Lifecycle"; tables created before it). Each is refused as invalid when the
// column exists.
std::vector<std::string> scylla_adopt_statements(const std::string& keyspace);

// What schema_statements() returns and `schema apply --print` shows: the statements above, with
// what apply_schema does conditionally (tablets, the adopt statement) as CQL comments, so that
// cqlsh can run the output as it is.
std::vector<std::string> scylla_schema_statements(const std::string& keyspace, const SchemaOptions& options);

// The keyspace a URI names, or the seed's "event_sourcing".
std::string scylla_keyspace(const ClusterUri& uri);

}  // namespace eventstore::detail

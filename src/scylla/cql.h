// Generic CQL through the bridge, for the feed's tables (markers, feed, relay lease, progress,
// checkpoints): prepared statements cached by their text, typed values in and out. The event and
// snapshot paths keep their own narrow bridge calls.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "eventstore/event.h"
#include "eventstore/result.h"
#include "eventstore/uuid.h"

namespace eventstore::detail {

struct Connection;  // connection.h: the session shared by a store and its operations

namespace cql {

struct Null {};
// One bound value or one column of a result row. The alternative must match the column's CQL
// type: text, int, bigint, uuid (also timeuuid), timestamp, boolean; else kInvalidArgument, and
// nothing is sent. Text must be valid UTF-8; a timeuuid column takes only a version 1 Uuid. A
// Null in an INSERT writes a tombstone: leave the column out instead where it can be.
using Value = std::variant<Null, std::string, std::int32_t, std::int64_t, Uuid, Timestamp, bool>;
using Row = std::vector<Value>;

enum class Consistency {
  kQuorum,  // QUORUM, or LOCAL_QUORUM with local_consistency
  kSerial,  // SERIAL / LOCAL_SERIAL reads (settle any Paxos round in progress)
  kOne,     // ONE, or LOCAL_ONE with local_consistency
};

struct Statement {
  std::string cql;
  std::vector<Value> values;
};

struct Options {
  Consistency consistency = Consistency::kQuorum;
  // Retried by the driver on timeouts. False for conditional writes. A write that is idempotent
  // and timed out fails with kUnavailable (running it again is harmless); one that is not, with
  // kOutcomeUnknown. Conditional statements and batches are never idempotent, whatever this says.
  bool idempotent = true;
  // USING TIMESTAMP is in the CQL when needed; 0 = the driver's default timestamp.
};

// Rows of a result. For a conditional statement or batch the first column is "[applied]"
// (a bool), followed by the existing row's columns when not applied.
using RowsCallback = std::function<void(Result<std::vector<Row>>)>;

// Runs one statement (prepared once per session and text), all rows of its result unpaged: use
// LIMIT. The session has no current keyspace: name tables with table() below. A conditional
// statement or batch (INSERT, UPDATE or DELETE with IF) is routed as the append batch is (the
// partition's replicas in ring order, so that Paxos rounds on one partition meet). The callback
// follows the rules of event_store.h. Errors map as for the store: kUnavailable, kOutcomeUnknown
// (a write that may have been applied), kUnauthorized, kInvalidArgument, kInternal.
void execute(const std::shared_ptr<Connection>& connection, Statement statement, Options options,
             RowsCallback callback);

// A logged batch of `statements` (conditional if any has IF; then all must be on one partition).
void batch(const std::shared_ptr<Connection>& connection, std::vector<Statement> statements, Options options,
           RowsCallback callback);

// Blocking forms. Throw eventstore::Error.
std::vector<Row> execute(const std::shared_ptr<Connection>& connection, Statement statement, Options options = {});
std::vector<Row> batch(const std::shared_ptr<Connection>& connection, std::vector<Statement> statements,
                       Options options = {});

// Rows with their column names, for results whose columns vary: a conditional statement that
// was not applied answers "[applied]" and then the current values of columns that differ between
// servers (ScyllaDB answers one row per statement of a batch, each with the old values, applied
// or not; Cassandra a single "[applied]" column when applied, else the rows the conditions read).
struct Rows {
  std::vector<std::string> columns;
  std::vector<Row> rows;
  // The value of `column` in row `row`, or nullptr when the result has no such column.
  const Value* find(std::size_t row, const std::string& column) const;
};
using NamedRowsCallback = std::function<void(Result<Rows>)>;
void execute_named(const std::shared_ptr<Connection>& connection, Statement statement, Options options,
                   NamedRowsCallback callback);
void batch_named(const std::shared_ptr<Connection>& connection, std::vector<Statement> statements, Options options,
                 NamedRowsCallback callback);

// "keyspace.name" for the connection's keyspace.
std::string table(const std::shared_ptr<Connection>& connection, const std::string& name);

// The "[applied]" column of a conditional statement's or batch's rows. Throws Error(kInternal)
// when there is none.
bool applied(const std::vector<Row>& rows);

// Typed access to a column; throws Error(kInternal) when the value is another type. A Null
// reads as std::nullopt through the optional forms.
const std::string& text(const Value& value);
std::int32_t int32(const Value& value);
std::int64_t int64(const Value& value);
const Uuid& uuid(const Value& value);
Timestamp timestamp(const Value& value);
bool boolean(const Value& value);
bool is_null(const Value& value);
std::optional<std::string> optional_text(const Value& value);
std::optional<std::int32_t> optional_int32(const Value& value);
std::optional<std::int64_t> optional_int64(const Value& value);
std::optional<Uuid> optional_uuid(const Value& value);
std::optional<Timestamp> optional_timestamp(const Value& value);
std::optional<bool> optional_boolean(const Value& value);

}  // namespace cql
}  // namespace eventstore::detail

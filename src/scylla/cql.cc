// Generic CQL through the bridge's execute_cql (cql.h).
#include "scylla/cql.h"

#include <utility>

#include "core/blocking.h"
#include "scylla/connection.h"

namespace eventstore::detail::cql {
namespace {

bridge::CqlValue blank(bridge::CqlKind kind) {
  bridge::CqlValue v{};
  v.kind = kind;
  return v;
}

bridge::CqlValue to_bridge(const Value& value) {
  struct Visitor {
    bridge::CqlValue operator()(const Null&) const { return blank(bridge::CqlKind::Null); }
    bridge::CqlValue operator()(const std::string& s) const {
      bridge::CqlValue v = blank(bridge::CqlKind::Text);
      v.text = rust::String(s);
      return v;
    }
    bridge::CqlValue operator()(std::int32_t i) const {
      bridge::CqlValue v = blank(bridge::CqlKind::Int);
      v.number = i;
      return v;
    }
    bridge::CqlValue operator()(std::int64_t i) const {
      bridge::CqlValue v = blank(bridge::CqlKind::BigInt);
      v.number = i;
      return v;
    }
    bridge::CqlValue operator()(const Uuid& u) const {
      bridge::CqlValue v = blank(bridge::CqlKind::Uuid);
      std::copy(u.bytes().begin(), u.bytes().end(), v.uuid.begin());
      return v;
    }
    bridge::CqlValue operator()(Timestamp t) const {
      bridge::CqlValue v = blank(bridge::CqlKind::Timestamp);
      v.number = t.time_since_epoch().count();
      return v;
    }
    bridge::CqlValue operator()(bool b) const {
      bridge::CqlValue v = blank(bridge::CqlKind::Boolean);
      v.boolean = b;
      return v;
    }
  };
  return std::visit(Visitor{}, value);
}

Value from_bridge(const bridge::CqlValue& v) {
  switch (v.kind) {
    case bridge::CqlKind::Null: return Null{};
    case bridge::CqlKind::Text: return to_std(v.text);
    case bridge::CqlKind::Int: return static_cast<std::int32_t>(v.number);
    case bridge::CqlKind::BigInt: return static_cast<std::int64_t>(v.number);
    case bridge::CqlKind::Uuid: {
      std::array<std::uint8_t, 16> bytes{};
      std::copy(v.uuid.begin(), v.uuid.end(), bytes.begin());
      return Uuid(bytes);
    }
    case bridge::CqlKind::Timestamp: return Timestamp(std::chrono::milliseconds(v.number));
    case bridge::CqlKind::Boolean: return v.boolean;
  }
  throw Error(ErrorCode::kInternal, "cql: the bridge answered a value of an unknown kind");
}

bridge::CqlConsistency to_bridge(Consistency c) {
  switch (c) {
    case Consistency::kSerial: return bridge::CqlConsistency::Serial;
    case Consistency::kOne: return bridge::CqlConsistency::One;
    case Consistency::kQuorum: break;
  }
  return bridge::CqlConsistency::Quorum;
}

class RowsDone final : public bridge::CqlCompletion {
 public:
  explicit RowsDone(NamedRowsCallback callback) : callback_(std::move(callback)) {}

  void on_ok(bridge::CqlResult result) noexcept override {
    guarded([&] {
      std::optional<Rows> rows;
      try {
        rows.emplace();
        rows->rows = decode(result);
        rows->columns.reserve(result.columns.size());
        for (const rust::String& name : result.columns) rows->columns.push_back(to_std(name));
      } catch (const Error& e) {
        return callback_(e);
      }
      callback_(std::move(*rows));
    });
  }

  void on_error(const bridge::BridgeError& error) noexcept override {
    guarded([&] { callback_(to_error(error, "cql")); });
  }

 private:
  static std::vector<Row> decode(const bridge::CqlResult& result) {
    const std::size_t columns = result.columns.size();
    if (result.values.size() != columns * result.row_count)
      throw Error(ErrorCode::kInternal, "cql: the bridge answered " + std::to_string(result.values.size()) +
                                            " values for " + std::to_string(result.row_count) + " rows of " +
                                            std::to_string(columns) + " columns");
    std::vector<Row> rows(result.row_count);
    for (std::size_t r = 0; r < result.row_count; ++r) {
      rows[r].reserve(columns);
      for (std::size_t c = 0; c < columns; ++c) rows[r].push_back(from_bridge(result.values[r * columns + c]));
    }
    return rows;
  }

  NamedRowsCallback callback_;
};

void run(const std::shared_ptr<Connection>& connection, std::vector<Statement> statements, bool batch, Options options,
         NamedRowsCallback callback) {
  bridge::CqlRequest request{};
  try {
    if (statements.empty()) throw Error::invalid("cql: a request without statements");
    for (const Statement& statement : statements) {
      bridge::CqlStatement s{};
      s.cql = rust::String(statement.cql);
      s.values.reserve(statement.values.size());
      for (const Value& value : statement.values) s.values.push_back(to_bridge(value));
      request.statements.push_back(std::move(s));
    }
  } catch (const Error& e) {
    return callback(e);
  } catch (const std::exception& e) {  // rust::String refuses text that is not UTF-8
    return callback(Error::invalid(std::string("cql: ") + e.what()));
  }
  request.batch = batch;
  request.consistency = to_bridge(options.consistency);
  request.idempotent = options.idempotent;
  connection->session->execute_cql(std::move(request), std::make_unique<RowsDone>(std::move(callback)));
}

[[noreturn]] void wrong_type(const Value& value, const char* wanted) {
  static constexpr const char* kNames[] = {"null", "text", "int", "bigint", "uuid", "timestamp", "boolean"};
  throw Error(ErrorCode::kInternal,
              std::string("cql: a column read as ") + wanted + " holds a " + kNames[value.index()] + " value");
}

template <class T>
const T& as(const Value& value, const char* wanted) {
  const T* v = std::get_if<T>(&value);
  if (!v) wrong_type(value, wanted);
  return *v;
}

NamedRowsCallback unnamed(RowsCallback callback) {
  return [callback = std::move(callback)](Result<Rows> rows) {
    if (!rows.ok()) return callback(rows.error());
    callback(std::move(std::move(rows).value().rows));
  };
}

std::vector<Statement> one(Statement statement) {
  std::vector<Statement> statements;
  statements.push_back(std::move(statement));
  return statements;
}

}  // namespace

const Value* Rows::find(std::size_t row, const std::string& column) const {
  for (std::size_t c = 0; c < columns.size(); ++c)
    if (columns[c] == column) return row < rows.size() && c < rows[row].size() ? &rows[row][c] : nullptr;
  return nullptr;
}

void execute_named(const std::shared_ptr<Connection>& connection, Statement statement, Options options,
                   NamedRowsCallback callback) {
  run(connection, one(std::move(statement)), false, options, std::move(callback));
}

void batch_named(const std::shared_ptr<Connection>& connection, std::vector<Statement> statements, Options options,
                 NamedRowsCallback callback) {
  run(connection, std::move(statements), true, options, std::move(callback));
}

void execute(const std::shared_ptr<Connection>& connection, Statement statement, Options options,
             RowsCallback callback) {
  run(connection, one(std::move(statement)), false, options, unnamed(std::move(callback)));
}

void batch(const std::shared_ptr<Connection>& connection, std::vector<Statement> statements, Options options,
           RowsCallback callback) {
  run(connection, std::move(statements), true, options, unnamed(std::move(callback)));
}

std::vector<Row> execute(const std::shared_ptr<Connection>& connection, Statement statement, Options options) {
  return wait_for<std::vector<Row>>(
      [&](auto done) { execute(connection, std::move(statement), options, std::move(done)); });
}

std::vector<Row> batch(const std::shared_ptr<Connection>& connection, std::vector<Statement> statements,
                       Options options) {
  return wait_for<std::vector<Row>>(
      [&](auto done) { batch(connection, std::move(statements), options, std::move(done)); });
}

std::string table(const std::shared_ptr<Connection>& connection, const std::string& name) {
  return connection->keyspace + "." + name;
}

bool applied(const std::vector<Row>& rows) {
  if (rows.empty() || rows.front().empty())
    throw Error(ErrorCode::kInternal, "cql: a conditional statement answered no [applied] column");
  return boolean(rows.front().front());
}

const std::string& text(const Value& value) { return as<std::string>(value, "text"); }
std::int32_t int32(const Value& value) { return as<std::int32_t>(value, "int"); }
std::int64_t int64(const Value& value) { return as<std::int64_t>(value, "bigint"); }
const Uuid& uuid(const Value& value) { return as<Uuid>(value, "uuid"); }
Timestamp timestamp(const Value& value) { return as<Timestamp>(value, "timestamp"); }
bool boolean(const Value& value) { return as<bool>(value, "boolean"); }
bool is_null(const Value& value) { return std::holds_alternative<Null>(value); }

std::optional<std::string> optional_text(const Value& value) {
  return is_null(value) ? std::nullopt : std::optional<std::string>(text(value));
}
std::optional<std::int32_t> optional_int32(const Value& value) {
  return is_null(value) ? std::nullopt : std::optional<std::int32_t>(int32(value));
}
std::optional<std::int64_t> optional_int64(const Value& value) {
  return is_null(value) ? std::nullopt : std::optional<std::int64_t>(int64(value));
}
std::optional<Uuid> optional_uuid(const Value& value) {
  return is_null(value) ? std::nullopt : std::optional<Uuid>(uuid(value));
}
std::optional<Timestamp> optional_timestamp(const Value& value) {
  return is_null(value) ? std::nullopt : std::optional<Timestamp>(timestamp(value));
}
std::optional<bool> optional_boolean(const Value& value) {
  return is_null(value) ? std::nullopt : std::optional<bool>(boolean(value));
}

}  // namespace eventstore::detail::cql

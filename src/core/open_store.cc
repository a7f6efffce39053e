// open_store: the one place that knows every backend.
#include "bounded_store.h"
#include "eventstore/store.h"
#include "instrumented_store.h"
#include "memory/memory_store.h"
#include "retention_store.h"
#include "sqlite/sqlite_store.h"
#include "store_uri.h"
#ifdef EVENTSTORE_WITH_SCYLLA
#include "scylla/scylla_store.h"
#endif

namespace eventstore {
namespace {

std::shared_ptr<Store> open_backend(std::string_view uri, const StoreOptions& options) {
  const detail::StoreUri parsed = detail::parse_store_uri(uri);
  switch (parsed.scheme) {
    case detail::StoreUri::Scheme::kMemory: return detail::make_memory_store(options);
    case detail::StoreUri::Scheme::kSqlite: return detail::open_sqlite_store(parsed.sqlite_path, options);
    case detail::StoreUri::Scheme::kScylla:
#ifdef EVENTSTORE_WITH_SCYLLA
      return detail::open_scylla_store(parsed.cluster, redact_uri(uri), options);
#else
      throw Error::invalid("this build of eventstore has no scylla:// backend");
#endif
  }
  throw Error(ErrorCode::kInternal, "unreachable store scheme");
}

}  // namespace

std::shared_ptr<Store> open_store(std::string_view uri, const StoreOptions& given) {
  const detail::BackendUri backend = detail::take_store_level_options(uri);
  StoreOptions options = given;
  if (backend.options.max_stream_version) options.limits.max_version = *backend.options.max_stream_version;
  const std::size_t max_in_flight = backend.options.max_in_flight.value_or(options.max_in_flight);
  const std::size_t max_in_flight_bytes = backend.options.max_in_flight_bytes.value_or(options.max_in_flight_bytes);
  if (max_in_flight == 0) throw Error::invalid("StoreOptions::max_in_flight must be at least 1");
  if (max_in_flight_bytes == 0) throw Error::invalid("StoreOptions::max_in_flight_bytes must be at least 1");
  if (options.retention_refresh.count() < 0)
    throw Error::invalid("StoreOptions::retention_refresh must not be negative");
  std::shared_ptr<Store> retained =
      detail::apply_retention(open_backend(backend.uri, options), options.retention_refresh, options.limits);
  std::shared_ptr<Store> bounded =
      detail::bound_appends_in_flight(std::move(retained), max_in_flight, max_in_flight_bytes, options.metrics);
  return detail::instrument(std::move(bounded), options.metrics, options.tracer);
}

const std::shared_ptr<MetricsSink>& Store::metrics_sink() const {
  static const std::shared_ptr<MetricsSink> kNone;
  return kNone;
}

const std::shared_ptr<Tracer>& Store::tracer() const {
  static const std::shared_ptr<Tracer> kNone;
  return kNone;
}

std::vector<std::string> schema_statements(std::string_view uri, const SchemaOptions& options) {
  const detail::StoreUri parsed = detail::parse_store_uri(detail::take_store_level_options(uri).uri);
  if (parsed.scheme != detail::StoreUri::Scheme::kScylla) return {};
#ifdef EVENTSTORE_WITH_SCYLLA
  return detail::scylla_schema_statements(detail::scylla_keyspace(parsed.cluster), options);
#else
  (void)options;
  throw Error::invalid("this build of eventstore has no scylla:// backend");
#endif
}

}  // namespace eventstore

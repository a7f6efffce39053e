// check_health: the store's health as an operator's probe sees it (include/eventstore/health.h).
#include "core/health.h"

#include <algorithm>
#include <chrono>

#include "eventstore/error.h"
#include "eventstore/store.h"
#include "store_uri.h"

namespace eventstore {
namespace {

void check_memory_health(HealthReport& report) {
  // A memory: store is this process's own: it answers if it can be made and read.
  const auto start = std::chrono::steady_clock::now();
  try {
    const std::shared_ptr<Store> store = open_store("memory:");
    (void)store->feed_head("health");
    report.answers = true;
    report.round_trip_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    report.schema_current = true;
    report.schema = "in memory (no schema)";
  } catch (const Error& e) {
    report.problems.push_back(std::string("the memory store does not answer: ") + e.what());
  }
}

}  // namespace

bool HealthReport::healthy() const {
  if (!answers || !schema_current || !problems.empty()) return false;
  if (backend != "scylla") return true;
  return std::any_of(hosts.begin(), hosts.end(), [](const HostHealth& h) { return h.connected; });
}

HealthReport check_health(std::string_view uri, const HealthOptions& options) {
  if (options.timeout < std::chrono::milliseconds(1) || options.timeout > std::chrono::minutes(10))
    throw Error::invalid("the health check's timeout must be 1 ms .. 10 min");
  const detail::BackendUri backend = detail::take_store_level_options(uri);
  const detail::StoreUri parsed = detail::parse_store_uri(backend.uri);
  HealthReport report;
  report.store = redact_uri(backend.uri);
  switch (parsed.scheme) {
    case detail::StoreUri::Scheme::kMemory:
      report.backend = "memory";
      check_memory_health(report);
      break;
    case detail::StoreUri::Scheme::kSqlite:
      report.backend = "sqlite";
      detail::check_sqlite_health(parsed.sqlite_path, options, report);
      break;
    case detail::StoreUri::Scheme::kScylla: report.backend = "scylla";
#ifdef EVENTSTORE_WITH_SCYLLA
      detail::check_scylla_health(parsed.cluster, options, report);
#else
      throw Error::invalid("this build of eventstore has no scylla:// backend");
#endif
      break;
  }
  if (report.problems.empty() && !report.healthy()) report.problems.emplace_back("the driver has no connected host");
  return report;
}

}  // namespace eventstore

#include "store_factories.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <stdexcept>

#include <gtest/gtest.h>

#include "eventstore/uuid.h"

namespace eventstore::testing {
namespace {

std::mutex temp_mutex;
// Never destroyed: cleanup_at_exit below runs after the function-local statics made later, and
// a process that exits in the middle of a test (a death test) still has directories listed.
std::vector<std::filesystem::path>& temp_dirs() {
  static auto* const dirs = new std::vector<std::filesystem::path>;
  return *dirs;
}

std::filesystem::path fresh_temp_dir() {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("eventstore-conformance-" + Uuid::random().to_string());
  std::filesystem::create_directories(dir);
  std::lock_guard lock(temp_mutex);
  temp_dirs().push_back(dir);
  return dir;
}

struct TempCleanup {
  ~TempCleanup() { remove_temp_files(); }
} cleanup_at_exit;

#ifdef EVENTSTORE_WITH_SCYLLA
// The cluster store built from the seed's variables, opened once per process (a session is
// expensive) and shared by the tests, which isolate themselves with random contexts.
std::mutex cluster_mutex;
std::shared_ptr<Store>& shared_cluster() {
  static std::shared_ptr<Store> store;
  return store;
}

// Closes the shared cluster store when the tests end, not in static destruction (when the
// driver's runtime may already be gone).
class ClusterEnvironment final : public ::testing::Environment {
 public:
  void TearDown() override {
    std::lock_guard lock(cluster_mutex);
    shared_cluster().reset();
  }
};
[[maybe_unused]] ::testing::Environment* const cluster_environment =
    ::testing::AddGlobalTestEnvironment(new ClusterEnvironment);

bool default_limits(const Limits& l) {
  const Limits d;
  return l.max_event_bytes == d.max_event_bytes && l.max_events_per_append == d.max_events_per_append &&
         l.max_append_bytes == d.max_append_bytes && l.max_identifier_bytes == d.max_identifier_bytes &&
         l.max_version == d.max_version;
}

std::shared_ptr<Store> open_cluster(const StoreOptions& options) {
  std::lock_guard lock(cluster_mutex);
  ::unsetenv("EVENTSTORE_STORE");  // the cluster comes from SCYLLA_HOSTS & co., never a file
  const std::string uri = default_store_uri();
  if (!uri.starts_with("scylla://"))
    throw std::runtime_error("default_store_uri() with SCYLLA_HOSTS set is not scylla://: " + redact_uri(uri));
  std::shared_ptr<Store>& shared = shared_cluster();
  if (!shared) {
    shared = open_store(uri);
    // Create the keyspace and tables if missing (idempotent; an existing keyspace keeps its
    // replication). A new keyspace gets one replica per listed host, at most the seed's 3.
    const std::string hosts = std::getenv("SCYLLA_HOSTS");
    SchemaOptions schema;
    schema.replication_factor = std::min<int>(3, 1 + static_cast<int>(std::count(hosts.begin(), hosts.end(), ',')));
    shared->apply_schema(schema);
  }
  const StoreOptions defaults;
  if (!default_limits(options.limits) || options.max_in_flight != defaults.max_in_flight ||
      options.max_in_flight_bytes != defaults.max_in_flight_bytes || options.metrics || options.tracer)
    return open_store(uri, options);
  return shared;
}
#endif

}  // namespace

std::string random_context(const std::string& prefix) {
  std::string hex = Uuid::random().to_string();
  std::erase(hex, '-');
  return prefix + "_" + hex;
}

void remove_temp_files() {
  std::lock_guard lock(temp_mutex);
  for (const auto& dir : temp_dirs()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
  temp_dirs().clear();
}

std::vector<StoreFactory> all_store_factories() {
  std::vector<StoreFactory> factories;
  factories.push_back({"memory", [](const StoreOptions& o) { return open_store("memory:", o); }, "", false, {}});
  factories.push_back(
      {"sqlite",
       [](const StoreOptions& o) { return open_store("sqlite:" + (fresh_temp_dir() / "events.db").string(), o); }, "",
       false,
       [] {
         const std::string uri = "sqlite:" + (fresh_temp_dir() / "events.db").string();
         return std::function<std::shared_ptr<Store>()>([uri] { return open_store(uri); });
       }});
#ifdef EVENTSTORE_WITH_SCYLLA
  const char* hosts = std::getenv("SCYLLA_HOSTS");
  if (hosts && *hosts) {
    factories.push_back({"scylla", open_cluster, "", true, [] {
                           open_cluster(StoreOptions{});  // creates the keyspace and tables if missing
                           return std::function<std::shared_ptr<Store>()>(
                               [] { return open_store(default_store_uri()); });
                         }});
  } else {
    factories.push_back({"scylla", nullptr, "SCYLLA_HOSTS not set: cluster conformance NOT run", true, {}});
  }
#endif
  return factories;
}

}  // namespace eventstore::testing

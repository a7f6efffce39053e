#include "store_factories.h"

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <stdexcept>

#include "eventstore/uuid.h"

namespace eventstore::testing {
namespace {

std::mutex temp_mutex;
std::vector<std::filesystem::path>& temp_dirs() {
  static std::vector<std::filesystem::path> dirs;
  return dirs;
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
std::shared_ptr<Store> open_cluster(const StoreOptions& options) {
  static std::mutex mutex;
  static std::shared_ptr<Store> shared;
  std::lock_guard lock(mutex);
  ::unsetenv("EVENTSTORE_STORE");  // the cluster comes from SCYLLA_HOSTS & co., never a file
  const std::string uri = default_store_uri();
  if (!uri.starts_with("scylla://"))
    throw std::runtime_error("default_store_uri() with SCYLLA_HOSTS set is not scylla://: " + redact_uri(uri));
  const bool default_limits = options.limits.max_event_bytes == Limits{}.max_event_bytes &&
                              options.limits.max_events_per_append == Limits{}.max_events_per_append &&
                              options.limits.max_append_bytes == Limits{}.max_append_bytes &&
                              options.limits.max_identifier_bytes == Limits{}.max_identifier_bytes &&
                              options.limits.max_version == Limits{}.max_version;
  if (!default_limits) return open_store(uri, options);
  if (!shared) shared = open_store(uri, options);
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
  factories.push_back({"memory", [](const StoreOptions& o) { return open_store("memory:", o); }, "", false});
  factories.push_back({"sqlite",
                       [](const StoreOptions& o) {
                         return open_store("sqlite:" + (fresh_temp_dir() / "events.db").string(), o);
                       },
                       "", false});
#ifdef EVENTSTORE_WITH_SCYLLA
  const char* hosts = std::getenv("SCYLLA_HOSTS");
  if (hosts && *hosts) {
    factories.push_back({"scylla", open_cluster, "", true});
  } else {
    factories.push_back({"scylla", nullptr, "SCYLLA_HOSTS not set: cluster conformance NOT run", true});
  }
#endif
  return factories;
}

}  // namespace eventstore::testing

// The scylla:// backend's own store (not wrapped by open_store), for tests that reach below the
// public API: injected batch faults, rows written the way other clients write them. The cluster
// comes from the seed's variables; without SCYLLA_HOSTS the tests skip, loudly.
#pragma once

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/store_uri.h"
#include "eventstore/eventstore.h"
#include "scylla/scylla_store.h"

namespace eventstore::testing {

inline bool have_cluster() {
  const char* hosts = std::getenv("SCYLLA_HOSTS");
  return hosts && *hosts;
}

#define SKIP_WITHOUT_CLUSTER()                                                                      \
  do {                                                                                              \
    if (!::eventstore::testing::have_cluster())                                                     \
      GTEST_SKIP() << "SKIPPED: SCYLLA_HOSTS is not set, so this cluster test did NOT run. "        \
                      "Start scripts/local-cassandra and eval \"$(scripts/local-cassandra env)\"."; \
  } while (0)

// A new connection to the cluster of the seed's variables, with the schema applied.
inline std::shared_ptr<Store> open_backend_store() {
  ::unsetenv("EVENTSTORE_STORE");
  const std::string uri = default_store_uri();
  auto store = detail::open_scylla_store(detail::parse_store_uri(uri).cluster, redact_uri(uri), {});
  store->apply_schema({1, {}});
  return store;
}

// One shared connection per test process.
inline std::shared_ptr<Store> cluster() {
  static std::shared_ptr<Store> store = open_backend_store();
  return store;
}

// The keyspace the tests use (SCYLLA_KEYSPACE, as scripts/run-tests exports it).
inline std::string keyspace() {
  ::unsetenv("EVENTSTORE_STORE");
  return detail::scylla_keyspace(detail::parse_store_uri(default_store_uri()).cluster);
}

inline StreamId fresh_stream(const std::string& prefix) {
  return StreamId{prefix + "_" + Uuid::random().to_string().substr(0, 8), "order", Uuid::random()};
}

inline std::vector<EventData> events(int n) {
  std::vector<EventData> out;
  for (int i = 0; i < n; ++i)
    out.push_back(EventData{Uuid::random(), "Happened", "{\"i\":" + std::to_string(i) + "}", {}, {}});
  return out;
}

}  // namespace eventstore::testing

// The stores the conformance suite runs on. Each factory opens a fresh, isolated store; tests
// also use random bounded contexts and aggregate ids, so the suite can share one cluster.
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "eventstore/store.h"

namespace eventstore::testing {

struct StoreFactory {
  std::string name;  // "memory", "sqlite", "scylla": the test-name suffix
  // A fresh store with `options`; nullptr when the backend cannot run here (`skip_reason` says why).
  std::function<std::shared_ptr<Store>(const StoreOptions& options)> open;
  std::string skip_reason;
  // Shared (a cluster): other runs write to it too; only random contexts isolate a test.
  bool shared = false;
  // A new place to store data, and an opener whose every call opens a new, independent store
  // object over it (SQLite: one fresh file; cluster: a new session). Empty for memory:, whose
  // data ends with its store.
  std::function<std::function<std::shared_ptr<Store>()>()> new_durable_location;
};

// gtest prints the parameter by name.
inline void PrintTo(const StoreFactory& factory, std::ostream* os) { *os << factory.name; }

// memory:, sqlite:<fresh temp file>, and (when built with the cluster backend) scylla.
std::vector<StoreFactory> all_store_factories();

// A unique bounded context for one test ("conformance_<random hex>").
std::string random_context(const std::string& prefix = "conformance");

// Removes the temporary SQLite files made by the factories of this process.
void remove_temp_files();

}  // namespace eventstore::testing

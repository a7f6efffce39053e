// The stores the personal data tests run on: memory: and sqlite: (forgetting a subject is the
// lifecycle's hard delete of its key stream). Not the cluster: the tests use fixed subject ids,
// which would meet earlier runs' keys on a shared keyspace.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "eventstore/store.h"

namespace eventstore::testing {

struct PersonalDataStore {
  std::string name;
  std::function<std::shared_ptr<Store>()> open;
};
inline void PrintTo(const PersonalDataStore& store, std::ostream* os) { *os << store.name; }

// A fresh SQLite file in a directory removed when the test binary exits.
inline std::string temp_sqlite_uri() {
  struct Dirs {
    std::vector<std::filesystem::path> paths;
    ~Dirs() {
      std::error_code ignored;
      for (const auto& path : paths) std::filesystem::remove_all(path, ignored);
    }
  };
  static Dirs dirs;
  const auto dir = std::filesystem::temp_directory_path() / ("eventstore-personal-" + Uuid::random().to_string());
  std::filesystem::create_directories(dir);
  dirs.paths.push_back(dir);
  return "sqlite:" + (dir / "events.db").string();
}

inline std::vector<PersonalDataStore> personal_data_stores() {
  return {
      {"memory", [] { return open_store("memory:"); }},
      {"sqlite", [] { return open_store(temp_sqlite_uri()); }},
  };
}

inline std::string store_test_name(const ::testing::TestParamInfo<PersonalDataStore>& info) { return info.param.name; }

}  // namespace eventstore::testing

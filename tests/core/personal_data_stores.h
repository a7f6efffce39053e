// The stores the personal data tests run on: memory: and sqlite: with the lifecycle's hard delete
// emulated by HardDeleteFakeStore, and the same backends as they are ("native"), which skip
// while their backend has no hard delete yet.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/hard_delete_fake_store.h"
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
      {"memory_fake", [] { return std::make_shared<HardDeleteFakeStore>(open_store("memory:")); }},
      {"sqlite_fake", [] { return std::make_shared<HardDeleteFakeStore>(open_store(temp_sqlite_uri())); }},
      {"memory_native", [] { return open_store("memory:"); }},
      {"sqlite_native", [] { return open_store(temp_sqlite_uri()); }},
  };
}

// False when `store` refuses a hard delete as a store without a lifecycle.
inline bool has_hard_delete(Store& store) {
  try {
    store.delete_stream(StreamId{"probe", "probe", Uuid::random()}, true);
    return true;
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kInvalidArgument) return false;
    throw;
  }
}

inline std::string store_test_name(const ::testing::TestParamInfo<PersonalDataStore>& info) { return info.param.name; }

}  // namespace eventstore::testing

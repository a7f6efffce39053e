// eventstore::check_health (include/eventstore/health.h) through the public library, on memory:
// and sqlite:; the CLI's tests (tests/cli/cli_health_test.sh, tests/scylla/scylla_health_test.sh)
// cover the command and the cluster.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "eventstore/eventstore.h"

namespace eventstore {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "health_test_XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

TEST(CheckHealth, MemoryIsHealthyWithNoHosts) {
  const HealthReport report = check_health("memory:");
  EXPECT_TRUE(report.healthy());
  EXPECT_EQ(report.backend, "memory");
  EXPECT_TRUE(report.answers);
  ASSERT_TRUE(report.round_trip_ms.has_value());
  EXPECT_GE(*report.round_trip_ms, 0.0);
  EXPECT_TRUE(report.hosts.empty());
  EXPECT_TRUE(report.relay_leases.empty());
  EXPECT_TRUE(report.problems.empty());
}

TEST(CheckHealth, AMissingSqliteFileIsUnhealthyAndNotCreated) {
  TempDir dir;
  const std::filesystem::path file = dir.path() / "missing.db";
  const HealthReport report = check_health("sqlite:" + file.string());
  EXPECT_FALSE(report.healthy());
  EXPECT_FALSE(report.answers);
  EXPECT_FALSE(report.round_trip_ms.has_value());
  ASSERT_EQ(report.problems.size(), 1u);
  EXPECT_NE(report.problems[0].find("no store file"), std::string::npos) << report.problems[0];
  EXPECT_FALSE(std::filesystem::exists(file));
}

TEST(CheckHealth, ASqliteStoreIsHealthyWhileOpenAndAfter) {
  TempDir dir;
  const std::string uri = "sqlite:" + (dir.path() / "shop.db").string();
  {
    const std::shared_ptr<Store> store = open_store(uri);
    store->append(StreamId{"shop", "order", Uuid::random()}, ExpectedVersion::no_stream(),
                  {EventData{std::nullopt, "OrderCreated", "{}", {}, {}}});
    const HealthReport open = check_health(uri);
    EXPECT_TRUE(open.healthy()) << (open.problems.empty() ? "" : open.problems[0]);
  }
  const HealthReport report = check_health(uri, HealthOptions{std::chrono::milliseconds(500)});
  EXPECT_TRUE(report.healthy()) << (report.problems.empty() ? "" : report.problems[0]);
  EXPECT_EQ(report.backend, "sqlite");
  EXPECT_EQ(report.store, uri);
  EXPECT_TRUE(report.schema_current);
  EXPECT_EQ(report.schema, "user_version 3 (current 3)");
  EXPECT_TRUE(report.hosts.empty());
}

TEST(CheckHealth, RefusesWhatOpenStoreRefuses) {
  EXPECT_THROW(check_health("bogus:x"), Error);
  EXPECT_THROW(check_health("sqlite:"), Error);
  EXPECT_THROW(check_health("memory:", HealthOptions{std::chrono::milliseconds(0)}), Error);
  EXPECT_THROW(check_health("memory:", HealthOptions{std::chrono::minutes(11)}), Error);
  try {
    check_health("bogus:x");
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace eventstore

// The fixture of the conformance suite: one fresh store per test from each factory, a random
// bounded context per test, and helpers to make events and reads.
#pragma once

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "store_factories.h"
#include "test_support.h"

namespace eventstore::testing {

class StoreTest : public ::testing::TestWithParam<StoreFactory> {
 public:  // the helpers are used by free functions of the tests too
  void SetUp() override {
    if (!GetParam().open) {
      std::fprintf(stderr,
                   "\n**********************************************************************\n"
                   "*** SKIPPED on %s: %s\n"
                   "**********************************************************************\n",
                   GetParam().name.c_str(), GetParam().skip_reason.c_str());
      GTEST_SKIP() << GetParam().skip_reason;
    }
    store_ = GetParam().open(StoreOptions{});
    ASSERT_NE(store_, nullptr);
    context_ = random_context();
  }

  void TearDown() override {
    relays_.clear();
    store_.reset();
    remove_temp_files();
  }

  // A relay for this test's context when the backend needs one (a cluster); stopped at TearDown.
  void start_relay() {
    RelayOptions options;
    options.context = context_;
    options.lease = std::chrono::milliseconds(3000);
    options.poll_interval = std::chrono::milliseconds(10);
    if (auto relay = store().start_relay(options)) relays_.push_back(std::move(relay));
  }

  // Another store of the same backend with other options (for limits).
  std::shared_ptr<Store> open_with(const StoreOptions& options) { return GetParam().open(options); }

  Store& store() { return *store_; }

  // A new stream in this test's bounded context.
  StreamId new_stream(const std::string& type = "Order") { return StreamId{context_, type, Uuid::random()}; }

  // An event with a fresh id.
  static EventData event(const std::string& type = "Happened",
                         std::optional<std::string> data = std::string(R"({"n":1})"),
                         std::optional<std::string> metadata = std::nullopt) {
    return EventData{Uuid::random(), type, std::move(data), std::move(metadata), std::nullopt};
  }

  // `n` events with fresh ids; data {"i": first_index + k}.
  static std::vector<EventData> events(int n, int first_index = 1, const std::string& type = "Happened") {
    std::vector<EventData> out;
    for (int k = 0; k < n; ++k) out.push_back(event(type, R"({"i":)" + std::to_string(first_index + k) + "}"));
    return out;
  }

  static ReadOptions forward(std::optional<std::int64_t> from = std::nullopt,
                             std::optional<std::uint64_t> limit = std::nullopt, std::uint32_t page_size = 1000) {
    ReadOptions o;
    o.direction = Direction::kForward;
    o.from = from;
    o.limit = limit;
    o.page_size = page_size;
    return o;
  }

  static ReadOptions backward(std::optional<std::int64_t> from = std::nullopt,
                              std::optional<std::uint64_t> limit = std::nullopt, std::uint32_t page_size = 1000) {
    ReadOptions o = forward(from, limit, page_size);
    o.direction = Direction::kBackward;
    return o;
  }

  // Appends `n` events with expected version any; returns their ids.
  std::vector<Uuid> append_n(const StreamId& stream, int n) {
    std::vector<EventData> batch = events(n);
    std::vector<Uuid> ids = ids_of(batch);
    store().append(stream, ExpectedVersion::any(), std::move(batch));
    return ids;
  }

  std::shared_ptr<Store> store_;
  std::string context_;
  std::vector<std::unique_ptr<FeedRelay>> relays_;
};

// gtest parameter names: "memory", "sqlite", "scylla".
inline std::string factory_name(const ::testing::TestParamInfo<StoreFactory>& info) { return info.param.name; }

}  // namespace eventstore::testing

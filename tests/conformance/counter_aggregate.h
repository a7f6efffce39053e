// A tiny aggregate for tests: a counter with Added and Reset events, snapshotted as JSON.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "eventstore/eventstore.h"

namespace eventstore::testing {

struct Added {
  static constexpr std::string_view event_type = "Added";
  std::int64_t amount = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Added, amount)

struct Reset {
  static constexpr std::string_view event_type = "Reset";
  std::string reason;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Reset, reason)

struct Counter {
  static constexpr std::string_view aggregate_type = "Counter";
  using Event = std::variant<Added, Reset>;

  std::int64_t total = 0;
  std::int64_t adds = 0;
  std::int64_t resets = 0;

  void apply(const Added& e) {
    total += e.amount;
    ++adds;
  }
  void apply(const Reset&) {
    total = 0;
    ++resets;
  }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Counter, total, adds, resets)

static_assert(AggregateState<Counter>);
static_assert(Snapshottable<Counter>);

// A Store that forwards everything to another, except that snapshot writes fail (as a cluster
// write may), or throw before they start.
class SnapshotWriteFailingStore final : public Store {
 public:
  enum class Mode { kCallbackError, kThrow };

  explicit SnapshotWriteFailingStore(std::shared_ptr<Store> inner, Mode mode = Mode::kCallbackError)
      : inner_(std::move(inner)), mode_(mode) {}

  std::string describe() const override { return "failing-snapshots(" + inner_->describe() + ")"; }
  void append_async(const StreamId& s, ExpectedVersion e, std::vector<EventData> events, AppendCallback cb) override {
    inner_->append_async(s, e, std::move(events), std::move(cb));
  }
  std::unique_ptr<EventCursor> read(const StreamId& s, const ReadOptions& o) override { return inner_->read(s, o); }
  void head_async(const StreamId& s, HeadCallback cb) override { inner_->head_async(s, std::move(cb)); }
  void load_snapshot_async(const StreamId& s, LoadCallback cb) override {
    inner_->load_snapshot_async(s, std::move(cb));
  }
  void save_snapshot_async(const StreamId&, Snapshot, SaveCallback cb) override {
    ++attempts;
    if (mode_ == Mode::kThrow) throw std::runtime_error("snapshot store exploded");
    cb(Error(ErrorCode::kUnavailable, "snapshot write failed (test)"));
  }

  int attempts = 0;

 private:
  std::shared_ptr<Store> inner_;
  Mode mode_;
};

}  // namespace eventstore::testing

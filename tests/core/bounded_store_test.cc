// The bound on appends in flight (src/core/bounded_store.h), on an inner store whose completions
// the test holds and releases: the exact admission rule, exactly-once release, and the blocking
// append's wait.
#include "core/bounded_store.h"

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include "conformance/test_support.h"

namespace eventstore::detail {
namespace {

using namespace std::chrono_literals;

// Holds every async append's callback until the test completes it.
class HeldStore final : public Store {
 public:
  enum class Mode { kHold, kCompleteInline, kCompleteTwice, kThrow };

  std::string describe() const override { return "held:"; }

  void append_async(const StreamId&, ExpectedVersion, std::vector<EventData>, AppendCallback callback) override {
    Mode mode;
    {
      std::lock_guard lock(mutex_);
      ++async_calls_;
      mode = mode_;
      if (mode == Mode::kHold) return held_.push_back(std::move(callback));
    }
    if (mode == Mode::kThrow) throw std::runtime_error("the inner store failed");
    callback(AppendResult{1, 1, {}});
    if (mode == Mode::kCompleteTwice) callback(AppendResult{1, 1, {}});
  }

  AppendResult append(const StreamId&, ExpectedVersion, std::vector<EventData>) override {
    ++blocking_calls_;
    if (throw_in_blocking_) throw Error(ErrorCode::kUnavailable, "the inner store is down");
    return AppendResult{1, 1, {}};
  }

  std::unique_ptr<EventCursor> read(const StreamId&, const ReadOptions&) override { return nullptr; }
  void head_async(const StreamId&, HeadCallback callback) override { callback(std::int64_t{7}); }
  void load_snapshot_async(const StreamId&, LoadCallback callback) override { callback(std::optional<Snapshot>()); }
  void save_snapshot_async(const StreamId&, Snapshot, SaveCallback callback) override {
    callback(SnapshotSaveResult{true, 1});
  }

  void set_mode(Mode mode) {
    std::lock_guard lock(mutex_);
    mode_ = mode;
  }
  void throw_in_blocking(bool on) { throw_in_blocking_ = on; }

  // Completes the oldest held append.
  void complete_oldest() {
    AppendCallback callback;
    {
      std::lock_guard lock(mutex_);
      ASSERT_FALSE(held_.empty());
      callback = std::move(held_.front());
      held_.pop_front();
    }
    callback(AppendResult{1, 1, {}});
  }

  int async_calls() {
    std::lock_guard lock(mutex_);
    return async_calls_;
  }
  int blocking_calls() const { return blocking_calls_; }

 private:
  std::mutex mutex_;
  Mode mode_ = Mode::kHold;
  std::deque<AppendCallback> held_;
  int async_calls_ = 0;
  std::atomic<int> blocking_calls_{0};
  std::atomic<bool> throw_in_blocking_{false};
};

const StreamId kStream{"ctx", "T", Uuid::random()};

// One event of exactly `bytes` (>= 3) bytes: type + data + metadata.
std::vector<EventData> of_bytes(std::size_t bytes) {
  return {EventData{Uuid::random(), "T", std::string(bytes - 3, 'x'), std::string("{}"), std::nullopt}};
}

// Offers an append; returns its error if it called back before returning, else nullopt.
// The callback may run after offer() returned: what it shares with offer() lives on the heap.
std::optional<Error> offer(Store& store, std::size_t bytes = 10, int* calls = nullptr) {
  struct Offer {
    bool returned = false;
    std::optional<Error> error;
  };
  auto shared = std::make_shared<Offer>();
  store.append_async(kStream, ExpectedVersion::any(), of_bytes(bytes), [shared, calls](Result<AppendResult> result) {
    if (calls) ++*calls;
    if (!shared->returned && !result.ok()) shared->error = result.error();
  });
  shared->returned = true;
  return shared->error;
}

bool refused(const std::optional<Error>& error) {
  return error && error->code() == ErrorCode::kUnavailable &&
         std::string(error->what()).find("nothing was written") != std::string::npos;
}

TEST(BoundedStore, RefusesPastTheCountAtOnceAndAdmitsAgainAfterACompletion) {
  auto inner = std::make_shared<HeldStore>();
  auto store = bound_appends_in_flight(inner, 3, 1000);
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(offer(*store));
  const std::optional<Error> error = offer(*store);
  ASSERT_TRUE(refused(error));
  EXPECT_NE(std::string(error->what()).find("too many appends in flight (3 appends, 30 bytes"), std::string::npos)
      << error->what();
  EXPECT_EQ(inner->async_calls(), 3) << "a refused append reached the backend";
  inner->complete_oldest();
  EXPECT_FALSE(offer(*store));
  EXPECT_TRUE(refused(offer(*store)));
}

TEST(BoundedStore, RefusesPastTheBytes) {
  auto inner = std::make_shared<HeldStore>();
  auto store = bound_appends_in_flight(inner, 100, 100);
  EXPECT_FALSE(offer(*store, 60));
  EXPECT_TRUE(refused(offer(*store, 50)));
  EXPECT_FALSE(offer(*store, 40)) << "60 + 40 bytes fit a bound of 100";
  EXPECT_TRUE(refused(offer(*store, 3)));
  EXPECT_EQ(inner->async_calls(), 2);
}

TEST(BoundedStore, AnAppendOverTheByteBoundIsAdmittedOnlyAlone) {
  auto inner = std::make_shared<HeldStore>();
  auto store = bound_appends_in_flight(inner, 100, 10);
  EXPECT_FALSE(offer(*store, 50));
  EXPECT_TRUE(refused(offer(*store, 5)));
  EXPECT_TRUE(refused(offer(*store, 50)));
  inner->complete_oldest();
  EXPECT_FALSE(offer(*store, 5));
  EXPECT_TRUE(refused(offer(*store, 50))) << "not alone any more";
}

TEST(BoundedStore, InlineCompletionFreesTheSlotBeforeTheCallerCallback) {
  auto inner = std::make_shared<HeldStore>();
  inner->set_mode(HeldStore::Mode::kCompleteInline);
  auto store = bound_appends_in_flight(inner, 1, 1000);
  std::optional<Error> nested;
  bool nested_called = false;
  store->append_async(kStream, ExpectedVersion::any(), of_bytes(10), [&](Result<AppendResult> result) {
    ASSERT_TRUE(result.ok());
    store->append_async(kStream, ExpectedVersion::any(), of_bytes(10), [&](Result<AppendResult> inner_result) {
      nested_called = true;
      if (!inner_result.ok()) nested = inner_result.error();
    });
  });
  EXPECT_TRUE(nested_called);
  EXPECT_FALSE(nested) << "an append from the callback was refused: " << nested->what();
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(offer(*store));
  EXPECT_EQ(inner->async_calls(), 12);
}

TEST(BoundedStore, AnInnerCallbackRunTwiceFreesOneSlot) {
  auto inner = std::make_shared<HeldStore>();
  auto store = bound_appends_in_flight(inner, 2, 1000);
  EXPECT_FALSE(offer(*store));  // held
  inner->set_mode(HeldStore::Mode::kCompleteTwice);
  int calls = 0;
  EXPECT_FALSE(offer(*store, 10, &calls));
  EXPECT_EQ(calls, 2);
  inner->set_mode(HeldStore::Mode::kHold);
  EXPECT_FALSE(offer(*store));
  EXPECT_TRUE(refused(offer(*store))) << "the second call freed a slot that was not its own";
}

TEST(BoundedStore, AnInnerThatThrowsFreesTheSlot) {
  auto inner = std::make_shared<HeldStore>();
  auto store = bound_appends_in_flight(inner, 1, 1000);
  inner->set_mode(HeldStore::Mode::kThrow);
  EXPECT_THROW(offer(*store), std::runtime_error);
  inner->set_mode(HeldStore::Mode::kHold);
  EXPECT_FALSE(offer(*store));

  inner->complete_oldest();
  inner->throw_in_blocking(true);
  EXPECT_ES_ERROR(store->append(kStream, ExpectedVersion::any(), of_bytes(10)), ErrorCode::kUnavailable);
  EXPECT_FALSE(offer(*store)) << "the blocking append that threw kept its slot";
}

TEST(BoundedStore, BlockingAppendWaitsForRoomThenUsesTheInnerBlockingAppend) {
  auto inner = std::make_shared<HeldStore>();
  auto store = bound_appends_in_flight(inner, 1, 1000);
  EXPECT_FALSE(offer(*store));
  std::atomic<bool> appended{false};
  std::thread blocking([&] {
    store->append(kStream, ExpectedVersion::any(), of_bytes(10));
    appended = true;
  });
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(appended) << "the blocking append did not wait for room";
  EXPECT_EQ(inner->blocking_calls(), 0);
  inner->complete_oldest();
  blocking.join();
  EXPECT_TRUE(appended);
  EXPECT_EQ(inner->blocking_calls(), 1);
  EXPECT_EQ(inner->async_calls(), 1) << "the blocking append went through append_async";
  EXPECT_FALSE(offer(*store)) << "the blocking append kept its slot";
}

TEST(BoundedStore, OtherMethodsForward) {
  auto inner = std::make_shared<HeldStore>();
  auto store = bound_appends_in_flight(inner, 1, 1);
  EXPECT_FALSE(offer(*store));
  EXPECT_EQ(store->describe(), "held:");
  EXPECT_EQ(store->head(kStream), 7) << "reads are not bounded";
  EXPECT_FALSE(store->load_snapshot(kStream));
  EXPECT_TRUE(store->save_snapshot(kStream, Snapshot{1, "{}", std::nullopt, {}}).stored);
}

}  // namespace
}  // namespace eventstore::detail

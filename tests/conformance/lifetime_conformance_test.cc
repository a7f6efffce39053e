// Issue 10 item 6: the last reference to a store may be dropped inside one of its own
// callbacks, on whatever thread the backend runs it (SQLite: the writer thread, which the
// store's destructor used to join from itself and abort with EDEADLK). The store must
// complete every accepted operation's callback exactly once, and what it committed must be
// there for the next store opened on the same data.
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "store_conformance.h"

namespace eventstore::testing {
namespace {

// What each named callback received, and how often it ran; shared with the callbacks.
class CallLog {
 public:
  void record(const std::string& name, const std::string& failure = "") {
    {
      std::lock_guard lock(mutex_);
      ++calls_[name];
      if (!failure.empty()) failures_[name] = failure;
    }
    changed_.notify_all();
  }
  template <class T>
  void record(const std::string& name, const Result<T>& result) {
    record(name, result.ok() ? "" : std::string(result.error().what()));
  }
  // Records `result`'s error, or `wrong` when it succeeded with the wrong value.
  template <class T, class Check>
  void record(const std::string& name, const Result<T>& result, Check&& right, const std::string& wrong) {
    record(name, !result.ok() ? std::string(result.error().what()) : right(result.value()) ? "" : wrong);
  }

  // Waits until every one of `names` has run (generously: a failure here is a lost callback).
  bool wait_for(const std::vector<std::string>& names) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(60), [&] {
      for (const std::string& name : names)
        if (!calls_.contains(name)) return false;
      return true;
    });
  }

  // Each of `names` ran exactly once, without an error.
  void expect_each_once_and_ok(const std::vector<std::string>& names) {
    std::lock_guard lock(mutex_);
    for (const std::string& name : names) {
      EXPECT_EQ(calls_[name], 1) << name;
      EXPECT_EQ(failures_[name], "") << name;
    }
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, int> calls_;
  std::map<std::string, std::string> failures_;
};

class StoreLifetime : public StoreTest {
 protected:
  // A store of this backend that the test will hand to one callback as its only owner. On a
  // backend with durable data, `open_again` opens a new store over the same data.
  std::shared_ptr<Store> open_doomed() {
    if (GetParam().new_durable_location) {
      open_again_ = GetParam().new_durable_location();
      return open_again_();
    }
    return open_with(StoreOptions{});
  }

  // Starts an append and a snapshot save on `store` from inside a callback, then drops what
  // must be the last reference to it there: both were accepted before, so both complete.
  static void start_more_and_release(std::shared_ptr<Store>& store, const std::shared_ptr<CallLog>& log,
                                     const StreamId& stream, std::int64_t head) {
    store->append_async(stream, ExpectedVersion::exact(head), events(1),
                        [log](Result<AppendResult> r) { log->record("append after", r); });
    store->save_snapshot_async(stream, Snapshot{head, R"({"n":1})", std::nullopt, now_ms()},
                               [log](Result<SnapshotSaveResult> r) { log->record("snapshot after", r); });
    store.reset();
  }

  // The next store on the same data sees the stream at `head` and the snapshot at `snapshot`.
  void expect_durable(const StreamId& stream, std::int64_t head, std::int64_t snapshot) {
    if (!open_again_) {
      std::fprintf(stderr, "*** %s: data ends with the store; not reopened\n", GetParam().name.c_str());
      return;
    }
    const std::shared_ptr<Store> fresh = open_again_();
    EXPECT_EQ(versions_of(fresh->read_all(stream)), range(1, head));
    const std::optional<Snapshot> kept = fresh->load_snapshot(stream);
    ASSERT_TRUE(kept.has_value());
    EXPECT_EQ(kept->version, snapshot);
  }

  std::function<std::shared_ptr<Store>()> open_again_;
};

const std::vector<std::string> kAll{"released", "append after", "snapshot after"};

TEST_P(StoreLifetime, LastReferenceDroppedInAnAppendCallback) {
  std::shared_ptr<Store> doomed = open_doomed();
  const StreamId stream = new_stream();
  const auto log = std::make_shared<CallLog>();
  Store& raw = *doomed;
  raw.append_async(stream, ExpectedVersion::no_stream(), events(1),
                   [store = std::move(doomed), log, stream](Result<AppendResult> r) mutable {
                     log->record("released", r);
                     start_more_and_release(store, log, stream, 1);
                   });
  ASSERT_TRUE(log->wait_for(kAll));
  log->expect_each_once_and_ok(kAll);
  expect_durable(stream, 2, 1);
}

TEST_P(StoreLifetime, LastReferenceDroppedInAHeadCallback) {
  std::shared_ptr<Store> doomed = open_doomed();
  const StreamId stream = new_stream();
  doomed->append(stream, ExpectedVersion::no_stream(), events(1));
  const auto log = std::make_shared<CallLog>();
  Store& raw = *doomed;
  raw.head_async(stream, [store = std::move(doomed), log, stream](Result<std::int64_t> r) mutable {
    log->record(
        "released", r, [](std::int64_t head) { return head == 1; }, "the head is not 1");
    start_more_and_release(store, log, stream, 1);
  });
  ASSERT_TRUE(log->wait_for(kAll));
  log->expect_each_once_and_ok(kAll);
  expect_durable(stream, 2, 1);
}

TEST_P(StoreLifetime, LastReferenceDroppedInAReadPageCallback) {
  std::shared_ptr<Store> doomed = open_doomed();
  const StreamId stream = new_stream();
  doomed->append(stream, ExpectedVersion::no_stream(), events(3));
  std::unique_ptr<EventCursor> cursor = doomed->read(stream, forward(std::nullopt, std::nullopt, 2));
  const auto log = std::make_shared<CallLog>();
  cursor->next_page_async([store = std::move(doomed), log, stream](Result<std::vector<RecordedEvent>> r) mutable {
    log->record(
        "released", r, [](const auto& page) { return versions_of(page) == range(1, 2); },
        "the first page is not versions 1, 2");
    start_more_and_release(store, log, stream, 3);
  });
  ASSERT_TRUE(log->wait_for(kAll));
  log->expect_each_once_and_ok(kAll);
  cursor.reset();
  expect_durable(stream, 4, 3);
}

// A cluster cursor fetches one page ahead: the cursor and then the store go while that fetch is
// in flight (the sanitizer build would see its answer touch freed memory).
TEST_P(StoreLifetime, CursorAndStoreDroppedWhileTheNextPageIsFetched) {
  std::shared_ptr<Store> doomed = open_doomed();
  const StreamId stream = new_stream();
  doomed->append(stream, ExpectedVersion::no_stream(), events(50));
  std::unique_ptr<EventCursor> cursor = doomed->read(stream, forward(std::nullopt, std::nullopt, 5));
  EXPECT_EQ(versions_of(cursor->next_page()), range(1, 5));
  cursor.reset();
  EXPECT_EQ(versions_of(doomed->read_all(stream, forward(std::nullopt, std::nullopt, 7))), range(1, 50));
  cursor = doomed->read(stream, forward(std::nullopt, std::nullopt, 5));
  EXPECT_EQ(versions_of(cursor->next_page()), range(1, 5));
  cursor.reset();
  doomed.reset();
  if (!open_again_) return;
  EXPECT_EQ(versions_of(open_again_()->read_all(stream)), range(1, 50));
}

TEST_P(StoreLifetime, LastReferenceDroppedInASnapshotSaveCallback) {
  std::shared_ptr<Store> doomed = open_doomed();
  const StreamId stream = new_stream();
  doomed->append(stream, ExpectedVersion::no_stream(), events(2));
  const auto log = std::make_shared<CallLog>();
  Store& raw = *doomed;
  raw.save_snapshot_async(stream, Snapshot{1, R"({"n":0})", std::nullopt, now_ms()},
                          [store = std::move(doomed), log, stream](Result<SnapshotSaveResult> r) mutable {
                            log->record("released", r);
                            start_more_and_release(store, log, stream, 2);
                          });
  ASSERT_TRUE(log->wait_for(kAll));
  log->expect_each_once_and_ok(kAll);
  expect_durable(stream, 3, 2);
}

TEST_P(StoreLifetime, LastReferenceDroppedInASnapshotLoadCallback) {
  std::shared_ptr<Store> doomed = open_doomed();
  const StreamId stream = new_stream();
  doomed->append(stream, ExpectedVersion::no_stream(), events(1));
  const auto log = std::make_shared<CallLog>();
  Store& raw = *doomed;
  raw.load_snapshot_async(stream, [store = std::move(doomed), log, stream](Result<std::optional<Snapshot>> r) mutable {
    log->record(
        "released", r, [](const auto& snapshot) { return !snapshot; }, "a snapshot that was never saved");
    start_more_and_release(store, log, stream, 1);
  });
  ASSERT_TRUE(log->wait_for(kAll));
  log->expect_each_once_and_ok(kAll);
  expect_durable(stream, 2, 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreLifetime, ::testing::ValuesIn(all_store_factories()), factory_name);

}  // namespace
}  // namespace eventstore::testing

// The feed's contract (include/eventstore/feed.h, docs/feed.md) on every backend. On a cluster
// each test runs a relay for its context; entries then appear within the relay's delay, so the
// tests wait for them (kPublishWait) where the embedded backends have them at once.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "store_conformance.h"

namespace eventstore::testing {
namespace {

using namespace std::chrono_literals;

constexpr auto kPublishWait = 60s;

class FeedConformance : public StoreTest {
 public:
  void SetUp() override {
    StoreTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    start_relay(store());
  }

  void TearDown() override {
    relays_.clear();
    StoreTest::TearDown();
  }

  // A relay for this test's context on `s` when its backend needs one.
  void start_relay(Store& s) {
    RelayOptions options;
    options.context = context_;
    options.lease = 3000ms;
    options.poll_interval = 10ms;
    if (auto relay = s.start_relay(options)) relays_.push_back(std::move(relay));
  }

  // Every entry of the context's feed (no filter), page by page of `limit` positions.
  std::vector<FeedEntry> read_whole_feed(std::uint32_t limit = 1000, bool with_data = true) {
    return read_whole_feed(store(), limit, with_data);
  }

  std::vector<FeedEntry> read_whole_feed(Store& s, std::uint32_t limit = 1000, bool with_data = true) {
    std::vector<FeedEntry> all;
    FeedReadOptions options;
    options.limit = limit;
    options.with_data = with_data;
    for (;;) {
      FeedPage page = s.read_feed(context_, options);
      if (page.last_position == options.after) return all;
      EXPECT_GT(page.last_position, options.after);
      for (FeedEntry& entry : page.entries) all.push_back(std::move(entry));
      options.after = page.last_position;
    }
  }

  // The feed once it holds at least `count` entries (at once on the embedded backends; within the
  // relay's delay on a cluster). Fails the test when it does not get there in kPublishWait.
  std::vector<FeedEntry> feed_with(std::size_t count, std::uint32_t limit = 1000, bool with_data = true) {
    const auto deadline = std::chrono::steady_clock::now() + kPublishWait;
    std::vector<FeedEntry> all = read_whole_feed(limit, with_data);
    while (all.size() < count && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(20ms);
      all = read_whole_feed(limit, with_data);
    }
    EXPECT_GE(all.size(), count) << "the feed did not reach " << count << " entries in " << kPublishWait.count()
                                 << " s";
    return all;
  }

  // Checks positions 1..n in order, and that each event appears once (duplicates are allowed on a
  // cluster only after a relay died, which these tests do not do).
  static void expect_dense_without_duplicates(const std::vector<FeedEntry>& feed) {
    std::set<Uuid> ids;
    for (std::size_t i = 0; i < feed.size(); ++i) {
      EXPECT_EQ(feed[i].position, static_cast<std::int64_t>(i + 1)) << "entry " << i;
      EXPECT_TRUE(ids.insert(feed[i].event.event_id).second) << "event at position " << feed[i].position << " repeated";
    }
  }

  // Per stream: versions 1, 2, 3, ... in feed order.
  static void expect_stream_order(const std::vector<FeedEntry>& feed) {
    std::map<StreamId, std::int64_t> last;
    for (const FeedEntry& entry : feed) {
      std::int64_t& version = last[entry.event.stream];
      EXPECT_EQ(entry.event.version, version + 1) << to_string(entry.event.stream) << " at " << entry.position;
      version = entry.event.version;
    }
  }

  std::vector<std::unique_ptr<FeedRelay>> relays_;
};

TEST_P(FeedConformance, AnEmptyFeedHasHeadZeroAndAnEmptyPage) {
  EXPECT_EQ(store().feed_head(context_), 0);
  const FeedPage page = store().read_feed(context_, FeedReadOptions{});
  EXPECT_TRUE(page.entries.empty());
  EXPECT_EQ(page.last_position, 0);
  EXPECT_EQ(store().feed_status(context_).head, 0);
}

TEST_P(FeedConformance, EveryAppendedEventAppearsOnceDenseAndInStreamOrder) {
  const StreamId a = new_stream("Order");
  const StreamId b = new_stream("Customer");
  std::vector<EventData> first = events(2, 1, "Placed");
  first[0].metadata = R"({"by":"test"})";
  const std::vector<Uuid> a1 = ids_of(first);
  store().append(a, ExpectedVersion::no_stream(), std::move(first));
  const std::vector<Uuid> b1 = append_n(b, 3);
  const std::vector<Uuid> a2 = append_n(a, 1);

  const std::vector<FeedEntry> feed = feed_with(6);
  ASSERT_EQ(feed.size(), 6u);
  expect_dense_without_duplicates(feed);
  expect_stream_order(feed);
  std::vector<RecordedEvent> stored_a = store().read_all(a);
  std::vector<RecordedEvent> stored_b = store().read_all(b);
  std::map<Uuid, RecordedEvent> stored;
  for (const RecordedEvent& e : stored_a) stored[e.event_id] = e;
  for (const RecordedEvent& e : stored_b) stored[e.event_id] = e;
  for (const FeedEntry& entry : feed) {
    auto it = stored.find(entry.event.event_id);
    ASSERT_NE(it, stored.end()) << "position " << entry.position << " holds an event that is not stored";
    const RecordedEvent& e = it->second;
    EXPECT_EQ(entry.event.stream, e.stream);
    EXPECT_EQ(entry.event.version, e.version);
    EXPECT_EQ(entry.event.event_type, e.event_type);
    EXPECT_EQ(entry.event.timestamp, e.timestamp);
    EXPECT_EQ(entry.event.data, e.data);
    EXPECT_EQ(entry.event.metadata, e.metadata);
  }
  // The first two events of `a` are one append: adjacent, in order.
  const auto at = [&](const Uuid& id) {
    return std::find_if(feed.begin(), feed.end(), [&](const FeedEntry& x) { return x.event.event_id == id; })->position;
  };
  EXPECT_EQ(at(a1[1]), at(a1[0]) + 1);
  EXPECT_LT(at(a1[1]), at(a2[0]));
  EXPECT_EQ(at(b1[2]), at(b1[0]) + 2);
  EXPECT_EQ(store().feed_head(context_), 6);
}

TEST_P(FeedConformance, WithoutDataEntriesCarryReferencesOnly) {
  const StreamId s = new_stream();
  append_n(s, 2);
  const std::vector<FeedEntry> feed = feed_with(2, 1000, /*with_data=*/false);
  ASSERT_EQ(feed.size(), 2u);
  for (const FeedEntry& entry : feed) {
    EXPECT_EQ(entry.event.stream, s);
    EXPECT_FALSE(entry.event.data.has_value());
    EXPECT_FALSE(entry.event.metadata.has_value());
    EXPECT_FALSE(entry.event.event_type.empty());
  }
}

TEST_P(FeedConformance, RejectedAppendsNeverAppear) {
  const StreamId s = new_stream();
  const std::vector<Uuid> good = append_n(s, 2);
  std::vector<EventData> stale = events(1);
  const Uuid rejected = *stale[0].event_id;
  EXPECT_ES_ERROR(store().append(s, ExpectedVersion::exact(1), std::move(stale)), ErrorCode::kVersionConflict);
  std::vector<EventData> invalid = events(1);
  invalid[0].data = "{not json";
  EXPECT_ES_ERROR(store().append(s, ExpectedVersion::exact(2), std::move(invalid)), ErrorCode::kInvalidArgument);
  const std::vector<Uuid> last = append_n(s, 1);

  const std::vector<FeedEntry> feed = feed_with(3);
  ASSERT_EQ(feed.size(), 3u);
  expect_dense_without_duplicates(feed);
  for (const FeedEntry& entry : feed) EXPECT_NE(entry.event.event_id, rejected);
  EXPECT_EQ(feed[2].event.event_id, last[0]);
}

TEST_P(FeedConformance, AnIdempotentRetryAddsNothing) {
  const StreamId s = new_stream();
  std::vector<EventData> batch = events(2);
  store().append(s, ExpectedVersion::no_stream(), batch);
  store().append(s, ExpectedVersion::no_stream(), batch);  // the same ids: answered from what is stored
  append_n(s, 1);
  const std::vector<FeedEntry> feed = feed_with(3);
  EXPECT_EQ(feed.size(), 3u);
  expect_dense_without_duplicates(feed);
}

TEST_P(FeedConformance, PagesCoverTheFeedByPositionAndStopAtTheHead) {
  const StreamId s = new_stream();
  append_n(s, 5);
  feed_with(5);
  FeedReadOptions options;
  options.limit = 2;
  std::vector<std::int64_t> lasts;
  std::vector<std::int64_t> positions;
  for (;;) {
    const FeedPage page = store().read_feed(context_, options);
    if (page.last_position == options.after) {
      EXPECT_TRUE(page.entries.empty());
      break;
    }
    EXPECT_LE(page.entries.size(), 2u);
    for (const FeedEntry& entry : page.entries) positions.push_back(entry.position);
    lasts.push_back(page.last_position);
    options.after = page.last_position;
  }
  EXPECT_EQ(positions, (std::vector<std::int64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(lasts, (std::vector<std::int64_t>{2, 4, 5}));
  // Reading from the middle.
  options.after = 3;
  options.limit = 1000;
  const FeedPage rest = store().read_feed(context_, options);
  ASSERT_EQ(rest.entries.size(), 2u);
  EXPECT_EQ(rest.entries[0].position, 4);
  EXPECT_EQ(rest.last_position, 5);
  // Past the head: an empty page that stays where it was asked.
  options.after = 42;
  const FeedPage past = store().read_feed(context_, options);
  EXPECT_TRUE(past.entries.empty());
  EXPECT_EQ(past.last_position, 42);
}

TEST_P(FeedConformance, FiltersSkipEntriesButThePageStillCoversThem) {
  const StreamId order = new_stream("Order");
  const StreamId customer = new_stream("Customer");
  store().append(order, ExpectedVersion::any(), events(1, 1, "Placed"));
  store().append(customer, ExpectedVersion::any(), events(1, 1, "Registered"));
  store().append(order, ExpectedVersion::any(), events(1, 2, "Shipped"));
  store().append(customer, ExpectedVersion::any(), events(1, 2, "Moved"));
  // Across streams the feed's order is the order of publication (on a cluster, the relay's):
  // the expected positions come from the unfiltered feed.
  const std::vector<FeedEntry> all = feed_with(4);
  std::vector<std::int64_t> customers;
  std::int64_t shipped = 0;
  for (const FeedEntry& entry : all) {
    if (entry.event.stream.aggregate_type == "Customer") customers.push_back(entry.position);
    if (entry.event.event_type == "Shipped") shipped = entry.position;
  }

  FeedReadOptions options;
  options.filter.aggregate_types = {"Customer"};
  FeedPage page = store().read_feed(context_, options);
  ASSERT_EQ(page.entries.size(), 2u);
  EXPECT_EQ(page.entries[0].position, customers.at(0));
  EXPECT_EQ(page.entries[1].position, customers.at(1));
  EXPECT_EQ(page.last_position, 4);

  options.filter = FeedFilter{{}, {"Shipped"}};
  page = store().read_feed(context_, options);
  ASSERT_EQ(page.entries.size(), 1u);
  EXPECT_EQ(page.entries[0].event.event_type, "Shipped");
  EXPECT_EQ(page.entries[0].position, shipped);
  EXPECT_EQ(page.last_position, 4);

  // Everything filtered out: no entries, yet the page moves the reader past them.
  options.filter = FeedFilter{{"Invoice"}, {}};
  options.limit = 3;
  page = store().read_feed(context_, options);
  EXPECT_TRUE(page.entries.empty());
  EXPECT_EQ(page.last_position, 3);
}

TEST_P(FeedConformance, ContextsHaveFeedsOfTheirOwn) {
  const std::string other = random_context();
  const StreamId here = new_stream();
  const StreamId there{other, "Order", Uuid::random()};
  append_n(here, 2);
  store().append(there, ExpectedVersion::any(), events(3));
  const std::vector<FeedEntry> feed = feed_with(2);
  EXPECT_EQ(feed.size(), 2u);
  for (const FeedEntry& entry : feed) EXPECT_EQ(entry.event.stream, here);
}

TEST_P(FeedConformance, PositionsNeverChangeAsTheFeedGrows) {
  const StreamId s = new_stream();
  const StreamId t = new_stream();
  append_n(s, 3);
  const std::vector<FeedEntry> before = feed_with(3);
  append_n(t, 2);
  append_n(s, 2);
  const std::vector<FeedEntry> after = feed_with(7);
  ASSERT_GE(after.size(), before.size());
  for (std::size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(after[i].position, before[i].position);
    EXPECT_EQ(after[i].event.event_id, before[i].event.event_id);
  }
  expect_dense_without_duplicates(after);
  expect_stream_order(after);
}

TEST_P(FeedConformance, ConcurrentAppendsGiveADenseFeedOfExactlyTheAcknowledgedEvents) {
  constexpr int kThreads = 4;
  constexpr int kAppends = 15;
  const StreamId shared = new_stream();
  std::vector<StreamId> own;
  for (int t = 0; t < kThreads; ++t) own.push_back(new_stream());
  std::mutex mutex;
  std::set<Uuid> acknowledged;
  std::set<Uuid> rejected;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAppends; ++i) {
        const bool on_shared = i % 2 == 0;
        const StreamId& stream = on_shared ? shared : own[static_cast<std::size_t>(t)];
        std::vector<EventData> batch = events(1 + i % 2);
        const std::vector<Uuid> ids = ids_of(batch);
        try {
          // The shared stream with a guessed version: some of these conflict.
          const ExpectedVersion expected =
              on_shared ? ExpectedVersion::exact(store().head(stream)) : ExpectedVersion::any();
          store().append(stream, expected, std::move(batch));
          std::lock_guard lock(mutex);
          acknowledged.insert(ids.begin(), ids.end());
        } catch (const Error& e) {
          ASSERT_EQ(e.code(), ErrorCode::kVersionConflict) << e.what();
          std::lock_guard lock(mutex);
          rejected.insert(ids.begin(), ids.end());
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  const std::vector<FeedEntry> feed = feed_with(acknowledged.size());
  expect_dense_without_duplicates(feed);
  expect_stream_order(feed);
  std::set<Uuid> in_feed;
  for (const FeedEntry& entry : feed) in_feed.insert(entry.event.event_id);
  EXPECT_EQ(in_feed, acknowledged);
  for (const Uuid& id : rejected) EXPECT_EQ(in_feed.count(id), 0u);
}

TEST_P(FeedConformance, CheckpointsAreStoredByNameAndOnlyMoveForward) {
  EXPECT_FALSE(store().load_checkpoint(context_, "read-model").has_value());
  const Timestamp before = now_ms();
  EXPECT_EQ(store().save_checkpoint(context_, "read-model", 5), 5);
  EXPECT_EQ(store().save_checkpoint(context_, "read-model", 3), 5);
  EXPECT_EQ(store().save_checkpoint(context_, "other", 0), 0);
  const std::optional<Checkpoint> stored = store().load_checkpoint(context_, "read-model");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->name, "read-model");
  EXPECT_EQ(stored->position, 5);
  EXPECT_GE(stored->updated, before - std::chrono::seconds(5));
  EXPECT_EQ(store().save_checkpoint(context_, "read-model", 9), 9);
  // Names are per context.
  EXPECT_FALSE(store().load_checkpoint(random_context(), "read-model").has_value());

  const FeedStatus status = store().feed_status(context_);
  ASSERT_EQ(status.checkpoints.size(), 2u);
  std::map<std::string, std::int64_t> by_name;
  for (const Checkpoint& c : status.checkpoints) by_name[c.name] = c.position;
  EXPECT_EQ(by_name["read-model"], 9);
  EXPECT_EQ(by_name["other"], 0);
}

TEST_P(FeedConformance, ConcurrentCheckpointSavesKeepTheHighest) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) store().save_checkpoint(context_, "racing", t * 10 + i);
    });
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(store().load_checkpoint(context_, "racing")->position, 39);
}

TEST_P(FeedConformance, BadInputIsRefused) {
  FeedReadOptions options;
  options.after = -1;
  EXPECT_ES_ERROR(store().read_feed(context_, options), ErrorCode::kInvalidArgument);
  options.after = 0;
  options.limit = 0;
  EXPECT_ES_ERROR(store().read_feed(context_, options), ErrorCode::kInvalidArgument);
  options.limit = 100001;
  EXPECT_ES_ERROR(store().read_feed(context_, options), ErrorCode::kInvalidArgument);
  EXPECT_ES_ERROR(store().read_feed("", FeedReadOptions{}), ErrorCode::kInvalidArgument);
  EXPECT_ES_ERROR(store().read_feed("bad\xff", FeedReadOptions{}), ErrorCode::kInvalidArgument);
  EXPECT_ES_ERROR(store().feed_head(""), ErrorCode::kInvalidArgument);
  EXPECT_ES_ERROR(store().save_checkpoint(context_, "", 1), ErrorCode::kInvalidArgument);
  EXPECT_ES_ERROR(store().save_checkpoint(context_, "bad\xff", 1), ErrorCode::kInvalidArgument);
  EXPECT_ES_ERROR(store().save_checkpoint(context_, "ok", -1), ErrorCode::kInvalidArgument);
  EXPECT_ES_ERROR(store().load_checkpoint(context_, std::string(1000, 'n')), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(store().load_checkpoint(context_, "ok").has_value()) << "a refused save stored something";
}

TEST_P(FeedConformance, TheFeedAndCheckpointsOutliveTheStoreObject) {
  if (!GetParam().new_durable_location) GTEST_SKIP() << GetParam().name << " keeps nothing after its store is gone";
  auto open = GetParam().new_durable_location();
  std::vector<Uuid> ids;
  {
    std::shared_ptr<Store> first = open();
    start_relay(*first);
    const StreamId s = new_stream();
    std::vector<EventData> batch = events(3);
    ids = ids_of(batch);
    first->append(s, ExpectedVersion::no_stream(), std::move(batch));
    first->save_checkpoint(context_, "durable", 2);
    const auto deadline = std::chrono::steady_clock::now() + kPublishWait;
    while (first->feed_head(context_) < 3 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(20ms);
    relays_.clear();
  }
  std::shared_ptr<Store> second = open();
  const std::vector<FeedEntry> feed = read_whole_feed(*second);
  ASSERT_EQ(feed.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(feed[i].event.event_id, ids[i]);
  EXPECT_EQ(second->load_checkpoint(context_, "durable")->position, 2);
}

TEST_P(FeedConformance, AsynchronousFormsCallBackOnce) {
  const StreamId s = new_stream();
  append_n(s, 1);
  feed_with(1);
  std::promise<Result<FeedPage>> page;
  store().read_feed_async(context_, FeedReadOptions{}, [&](Result<FeedPage> r) { page.set_value(std::move(r)); });
  EXPECT_EQ(page.get_future().get().get().entries.size(), 1u);
  std::promise<Result<std::int64_t>> head;
  store().feed_head_async(context_, [&](Result<std::int64_t> r) { head.set_value(std::move(r)); });
  EXPECT_EQ(head.get_future().get().get(), 1);
  std::promise<Result<FeedPage>> refused;
  FeedReadOptions bad;
  bad.limit = 0;
  store().read_feed_async(context_, bad, [&](Result<FeedPage> r) { refused.set_value(std::move(r)); });
  Result<FeedPage> r = refused.get_future().get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Backends, FeedConformance, ::testing::ValuesIn(all_store_factories()), factory_name);

}  // namespace
}  // namespace eventstore::testing

// Subscriptions and SqliteProjection on every backend: where a subscription starts, the switch
// from catch-up to live under a concurrent writer, resuming after a consumer dies, filtered
// checkpoints, the asynchronous wait, and exactly-once projections into SQLite.
// Over 500 lines on purpose: one fixture, one file (the suite reads as the contract of subscription.h).
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <map>
#include <set>
#include <stdexcept>
#include <thread>

#include "store_conformance.h"

namespace eventstore::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A cluster publishes within the relay's delay; the embedded stores at once.
constexpr auto kPatience = 30s;

class SubscriptionConformance : public StoreTest {
 public:
  void SetUp() override {
    StoreTest::SetUp();
    if (IsSkipped()) return;
    RelayOptions relay;
    relay.context = context_;
    relay_ = store().start_relay(relay);  // nullptr on the embedded stores
  }
  void TearDown() override {
    relay_.reset();
    StoreTest::TearDown();
  }

  SubscriptionOptions options(const std::string& name = "", StartPosition start = StartPosition::beginning(),
                              std::uint32_t page_size = 1000) const {
    SubscriptionOptions o;
    o.context = context_;
    o.name = name;
    o.start = start;
    o.page_size = page_size;
    o.poll_interval = 2ms;
    return o;
  }

  std::unique_ptr<Subscription> open(const SubscriptionOptions& o) { return Subscription::open(store_, o); }

  // Pages until `count` entries have arrived (or kPatience passed): what they delivered.
  static std::vector<FeedEntry> take(Subscription& subscription, std::size_t count) {
    std::vector<FeedEntry> entries;
    const Clock::time_point deadline = Clock::now() + kPatience;
    while (entries.size() < count && Clock::now() < deadline) {
      const std::int64_t before = subscription.position();
      FeedPage page = subscription.next_page(100ms);
      EXPECT_GE(page.last_position, before);
      EXPECT_EQ(subscription.position(), page.last_position);
      for (FeedEntry& entry : page.entries) {
        EXPECT_GT(entry.position, before);
        EXPECT_LE(entry.position, page.last_position);
        entries.push_back(std::move(entry));
      }
    }
    EXPECT_EQ(entries.size(), count) << "not every entry arrived within " << kPatience.count() << " s";
    return entries;
  }

  // Pages until the position reaches `position` (or kPatience passed).
  static std::vector<FeedEntry> take_until(Subscription& subscription, std::int64_t position) {
    std::vector<FeedEntry> entries;
    const Clock::time_point deadline = Clock::now() + kPatience;
    while (subscription.position() < position && Clock::now() < deadline) {
      FeedPage page = subscription.next_page(100ms);
      for (FeedEntry& entry : page.entries) entries.push_back(std::move(entry));
    }
    EXPECT_EQ(subscription.position(), position);
    return entries;
  }

  // The feed's head once it holds at least `count` entries.
  std::int64_t head_at_least(std::int64_t count) {
    const Clock::time_point deadline = Clock::now() + kPatience;
    std::int64_t head = store().feed_head(context_);
    while (head < count && Clock::now() < deadline) {
      std::this_thread::sleep_for(10ms);
      head = store().feed_head(context_);
    }
    EXPECT_GE(head, count);
    return head;
  }

  static std::vector<std::int64_t> positions_of(const std::vector<FeedEntry>& entries) {
    std::vector<std::int64_t> out;
    for (const FeedEntry& e : entries) out.push_back(e.position);
    return out;
  }
  static std::vector<Uuid> ids_of_entries(const std::vector<FeedEntry>& entries) {
    std::vector<Uuid> out;
    for (const FeedEntry& e : entries) out.push_back(e.event.event_id);
    return out;
  }

  std::unique_ptr<FeedRelay> relay_;
};

TEST_P(SubscriptionConformance, OpenRejectsBadOptions) {
  SubscriptionOptions o = options();
  o.context = "";
  EXPECT_ES_ERROR(open(o), ErrorCode::kInvalidArgument);
  o = options();
  o.page_size = 0;
  EXPECT_ES_ERROR(open(o), ErrorCode::kInvalidArgument);
  o.page_size = 100001;
  EXPECT_ES_ERROR(open(o), ErrorCode::kInvalidArgument);
  o = options("", StartPosition::after(-1));
  EXPECT_ES_ERROR(open(o), ErrorCode::kInvalidArgument);
  o = options();
  o.poll_interval = 0ms;
  EXPECT_ES_ERROR(open(o), ErrorCode::kInvalidArgument);
  EXPECT_ES_ERROR(Subscription::open(nullptr, options()), ErrorCode::kInvalidArgument);

  o = options();
  o.page_size = 100000;
  auto subscription = open(o);
  EXPECT_ES_ERROR(subscription->save_checkpoint(), ErrorCode::kInvalidArgument);  // no name
  EXPECT_ES_ERROR(subscription->next_page(-1ms), ErrorCode::kInvalidArgument);
}

TEST_P(SubscriptionConformance, EmptyFeedGivesEmptyPagesAtPositionZero) {
  auto subscription = open(options("reader"));
  EXPECT_EQ(subscription->position(), 0);
  const FeedPage page = subscription->next_page();
  EXPECT_TRUE(page.entries.empty());
  EXPECT_EQ(page.last_position, 0);
  EXPECT_EQ(subscription->save_checkpoint(), 0);
  EXPECT_EQ(open(options("", StartPosition::end()))->position(), 0);
}

TEST_P(SubscriptionConformance, CatchUpThenLiveWithNoGapOrDuplicate) {
  std::vector<StreamId> streams;
  for (int i = 0; i < 4; ++i) streams.push_back(new_stream());
  std::vector<Uuid> appended;
  for (const StreamId& stream : streams)
    for (const Uuid& id : append_n(stream, 10)) appended.push_back(id);

  auto subscription = open(options("", StartPosition::beginning(), 7));
  // Live appends start while the subscription is still catching up.
  constexpr int kLiveBatches = 60;
  std::vector<Uuid> live;
  std::thread writer([&] {
    for (int i = 0; i < kLiveBatches; ++i) {
      const int n = 1 + i % 3;
      for (const Uuid& id : append_n(streams[static_cast<std::size_t>(i) % streams.size()], n)) live.push_back(id);
      std::this_thread::sleep_for(1ms);
    }
  });
  std::size_t live_count = 0;
  for (int i = 0; i < kLiveBatches; ++i) live_count += static_cast<std::size_t>(1 + i % 3);
  std::vector<FeedEntry> entries;
  try {
    entries = take(*subscription, appended.size() + live_count);
  } catch (...) {
    writer.join();
    throw;
  }
  writer.join();
  for (const Uuid& id : live) appended.push_back(id);

  EXPECT_EQ(positions_of(entries), range(1, static_cast<std::int64_t>(appended.size())));
  std::vector<Uuid> got = ids_of_entries(entries);
  std::sort(got.begin(), got.end());
  std::sort(appended.begin(), appended.end());
  EXPECT_EQ(got, appended) << "every appended event exactly once";
  std::map<Uuid, std::int64_t> last_version;
  for (const FeedEntry& e : entries) {
    EXPECT_EQ(e.event.stream.bounded_context, context_);
    EXPECT_EQ(e.event.version, last_version[e.event.stream.aggregate_id] + 1) << "per stream, in version order";
    last_version[e.event.stream.aggregate_id] = e.event.version;
  }
  // Nothing more, and the wait at the head ends empty.
  const FeedPage page = subscription->next_page(20ms);
  EXPECT_TRUE(page.entries.empty());
  EXPECT_EQ(page.last_position, static_cast<std::int64_t>(appended.size()));
}

TEST_P(SubscriptionConformance, StartsAtBeginningEndOrAfterAPosition) {
  const StreamId stream = new_stream();
  const std::vector<Uuid> first = append_n(stream, 5);
  head_at_least(5);

  auto from_end = open(options("", StartPosition::end()));
  EXPECT_EQ(from_end->position(), 5);
  auto after_three = open(options("", StartPosition::after(3)));
  EXPECT_EQ(after_three->position(), 3);
  auto from_beginning = open(options("", StartPosition::beginning()));
  EXPECT_EQ(from_beginning->position(), 0);

  const std::vector<Uuid> second = append_n(stream, 2);
  EXPECT_EQ(ids_of_entries(take(*from_end, 2)), second);
  EXPECT_EQ(positions_of(take(*after_three, 4)), range(4, 7));
  const std::vector<FeedEntry> all = take(*from_beginning, 7);
  EXPECT_EQ(positions_of(all), range(1, 7));
  const std::vector<Uuid> all_ids = ids_of_entries(all);
  EXPECT_EQ(std::vector<Uuid>(all_ids.begin(), all_ids.begin() + 5), first);

  // A start past the head waits there: nothing is invented.
  auto beyond = open(options("", StartPosition::after(100)));
  const FeedPage page = beyond->next_page(10ms);
  EXPECT_TRUE(page.entries.empty());
  EXPECT_EQ(page.last_position, 100);
}

TEST_P(SubscriptionConformance, NamedCheckpointWinsOverTheStart) {
  append_n(new_stream(), 6);
  head_at_least(6);
  auto first = open(options("projector", StartPosition::beginning(), 4));
  EXPECT_EQ(first->position(), 0);
  take_until(*first, 4);
  EXPECT_EQ(first->save_checkpoint(), 4);

  auto again = open(options("projector", StartPosition::end()));
  EXPECT_EQ(again->position(), 4) << "the checkpoint, not the end";
  EXPECT_EQ(positions_of(take(*again, 2)), range(5, 6));

  const std::optional<Checkpoint> stored = store().load_checkpoint(context_, "projector");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->position, 4);
  // A name without a checkpoint yet uses the start.
  EXPECT_EQ(open(options("other", StartPosition::after(2)))->position(), 2);
}

TEST_P(SubscriptionConformance, CheckpointsOnlyMoveForward) {
  append_n(new_stream(), 5);
  head_at_least(5);
  auto ahead = open(options("shared", StartPosition::beginning()));
  take_until(*ahead, 5);
  EXPECT_EQ(ahead->save_checkpoint(), 5);
  auto named_behind = open(options("shared2", StartPosition::after(2)));
  EXPECT_EQ(named_behind->save_checkpoint(), 2);
  EXPECT_EQ(store().save_checkpoint(context_, "shared", 3), 5);
  EXPECT_EQ(store().load_checkpoint(context_, "shared")->position, 5);
  // A subscription that resumes from the checkpoint and saves without moving keeps it.
  auto resumed = open(options("shared", StartPosition::beginning()));
  EXPECT_EQ(resumed->position(), 5);
  EXPECT_EQ(resumed->save_checkpoint(), 5);
}

TEST_P(SubscriptionConformance, KilledConsumerResumesAfterItsCheckpointWithNothingMissed) {
  const StreamId stream = new_stream();
  const std::vector<Uuid> appended = append_n(stream, 20);
  head_at_least(20);

  std::vector<FeedEntry> applied;  // what the consumer had applied and checkpointed
  {
    auto consumer = open(options("worker", StartPosition::beginning(), 3));
    for (int page = 0; page < 3; ++page) {
      FeedPage p = consumer->next_page();
      applied.insert(applied.end(), p.entries.begin(), p.entries.end());
      consumer->save_checkpoint();
    }
    EXPECT_EQ(consumer->position(), 9);
    // Two more pages read, then the process "dies" before saving.
    consumer->next_page();
    consumer->next_page();
    EXPECT_EQ(consumer->position(), 15);
  }
  auto restarted = open(options("worker", StartPosition::end(), 3));
  EXPECT_EQ(restarted->position(), 9) << "resumes after its checkpoint";
  const std::vector<FeedEntry> rest = take(*restarted, 11);
  EXPECT_EQ(positions_of(rest), range(10, 20));
  applied.insert(applied.end(), rest.begin(), rest.end());
  EXPECT_EQ(ids_of_entries(applied), appended) << "no hole, no repeat across the restart";
}

TEST_P(SubscriptionConformance, FilteredSubscriptionAdvancesItsPositionAndCheckpoint) {
  const StreamId orders = new_stream("Order");
  const StreamId carts = new_stream("Cart");
  store().append(orders, ExpectedVersion::any(), events(3, 1, "Placed"));
  store().append(carts, ExpectedVersion::any(), events(4, 1, "Filled"));
  store().append(orders, ExpectedVersion::any(), events(2, 1, "Shipped"));
  store().append(carts, ExpectedVersion::any(), events(5, 1, "Filled"));  // the tail matches nothing
  head_at_least(14);

  SubscriptionOptions o = options("shipping", StartPosition::beginning(), 4);
  o.filter.aggregate_types = {"Order"};
  o.filter.event_types = {"Shipped"};
  auto subscription = open(o);
  const std::vector<FeedEntry> entries = take_until(*subscription, 14);
  // Across streams the feed's order is the order of publication (on a cluster, the relay's).
  std::vector<std::int64_t> shipped;
  for (const FeedEntry& e : store().read_feed(context_, FeedReadOptions{0, 1000, false, {}}).entries)
    if (e.event.event_type == "Shipped") shipped.push_back(e.position);
  ASSERT_EQ(shipped.size(), 2u);
  EXPECT_EQ(positions_of(entries), shipped);
  for (const FeedEntry& e : entries) EXPECT_EQ(e.event.event_type, "Shipped");
  EXPECT_EQ(subscription->save_checkpoint(), 14) << "the checkpoint passes what the filter skipped";

  // A subscription whose filter matches nothing still moves.
  SubscriptionOptions none = options("nothing", StartPosition::beginning(), 5);
  none.filter.event_types = {"NeverWritten"};
  auto idle = open(none);
  EXPECT_TRUE(take_until(*idle, 14).empty());
  EXPECT_EQ(idle->save_checkpoint(), 14);
  EXPECT_EQ(store().load_checkpoint(context_, "nothing")->position, 14);
}

TEST_P(SubscriptionConformance, WithoutDataEntriesHoldNoPayload) {
  append_n(new_stream(), 2);
  SubscriptionOptions o = options();
  o.with_data = false;
  auto subscription = open(o);
  for (const FeedEntry& e : take(*subscription, 2)) {
    EXPECT_FALSE(e.event.data.has_value());
    EXPECT_FALSE(e.event.event_id.is_nil());
  }
  auto with_data = open(options());
  for (const FeedEntry& e : take(*with_data, 2)) EXPECT_TRUE(e.event.data.has_value());
}

TEST_P(SubscriptionConformance, AsyncWaitDoesNotBlockTheCaller) {
  const StreamId stream = new_stream();
  auto subscription = open(options());
  std::promise<Result<FeedPage>> delivered;
  const Clock::time_point asked = Clock::now();
  subscription->next_page_async(20s, [&](Result<FeedPage> page) { delivered.set_value(std::move(page)); });
  EXPECT_LT(Clock::now() - asked, 1s) << "next_page_async returned only after waiting";
  // A second request while one is under way is refused.
  std::promise<Result<FeedPage>> refused;
  subscription->next_page_async(0ms, [&](Result<FeedPage> page) { refused.set_value(std::move(page)); });
  Result<FeedPage> second = refused.get_future().get();
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code(), ErrorCode::kInvalidArgument);

  std::future<Result<FeedPage>> future = delivered.get_future();
  EXPECT_EQ(future.wait_for(50ms), std::future_status::timeout) << "an empty feed delivered a page";
  const std::vector<Uuid> ids = append_n(stream, 1);
  ASSERT_EQ(future.wait_for(kPatience), std::future_status::ready);
  Result<FeedPage> page = future.get();
  ASSERT_TRUE(page.ok()) << page.error().what();
  ASSERT_EQ(page.value().entries.size(), 1u);
  EXPECT_EQ(page.value().entries[0].event.event_id, ids[0]);
  EXPECT_EQ(subscription->position(), 1);

  // At the head, a short wait ends with an empty page and the position unchanged.
  std::promise<Result<FeedPage>> empty;
  const Clock::time_point started = Clock::now();
  subscription->next_page_async(60ms, [&](Result<FeedPage> p) { empty.set_value(std::move(p)); });
  Result<FeedPage> at_head = empty.get_future().get();
  EXPECT_GE(Clock::now() - started, 60ms);
  ASSERT_TRUE(at_head.ok());
  EXPECT_TRUE(at_head.value().entries.empty());
  EXPECT_EQ(at_head.value().last_position, 1);
  EXPECT_EQ(subscription->position(), 1);
}

TEST_P(SubscriptionConformance, AsyncWaitOutlivesItsSubscription) {
  auto subscription = open(options());
  std::promise<Result<FeedPage>> delivered;
  subscription->next_page_async(20s, [&](Result<FeedPage> page) { delivered.set_value(std::move(page)); });
  subscription.reset();  // the pending wait ends early, with what it has
  std::future<Result<FeedPage>> future = delivered.get_future();
  ASSERT_EQ(future.wait_for(5s), std::future_status::ready);
  Result<FeedPage> page = future.get();
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page.value().entries.empty());
}

TEST_P(SubscriptionConformance, TheLongestWaitIsNotAnOverflow) {
  auto subscription = open(options());
  std::promise<Result<FeedPage>> delivered;
  subscription->next_page_async(std::chrono::milliseconds::max(),
                                [&](Result<FeedPage> page) { delivered.set_value(std::move(page)); });
  std::future<Result<FeedPage>> future = delivered.get_future();
  EXPECT_EQ(future.wait_for(50ms), std::future_status::timeout) << "the wait ended at once";
  append_n(new_stream(), 1);
  ASSERT_EQ(future.wait_for(kPatience), std::future_status::ready);
  Result<FeedPage> page = future.get();
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page.value().entries.size(), 1u);
}

// A process that ends while an asynchronous wait is pending exits cleanly: the shared timer's
// thread is stopped and the pending wait dropped.
TEST_P(SubscriptionConformance, ExitWithAWaitPendingIsClean) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        auto subscription = open(options());
        subscription->next_page_async(20s, [](Result<FeedPage>) { std::_Exit(3); });
        std::this_thread::sleep_for(20ms);
        std::exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

// ---- SqliteProjection --------------------------------------------------------------------

class ReadModel {
 public:
  ReadModel() {
    dir_ = std::filesystem::temp_directory_path() / ("eventstore-projection-" + Uuid::random().to_string());
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "read_model.db").string();
    reopen();
    exec("CREATE TABLE IF NOT EXISTS applied(event_id TEXT NOT NULL, position INTEGER NOT NULL)");
  }
  ~ReadModel() {
    sqlite3_close(db_);
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  ReadModel(const ReadModel&) = delete;
  ReadModel& operator=(const ReadModel&) = delete;

  // A new connection, as after a crash of the process that had the old one.
  void reopen() {
    if (db_) sqlite3_close(db_);
    db_ = nullptr;
    if (sqlite3_open(path_.c_str(), &db_) != SQLITE_OK) throw std::runtime_error("cannot open the read model");
  }
  sqlite3* db() { return db_; }

  void exec(const std::string& sql) {
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK)
      throw std::runtime_error(sqlite3_errmsg(db_));
  }
  static void insert(sqlite3* db, const FeedEntry& entry) {
    const std::string sql = "INSERT INTO applied VALUES ('" + entry.event.event_id.to_string() + "', " +
                            std::to_string(entry.position) + ")";
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK)
      throw std::runtime_error(sqlite3_errmsg(db));
  }
  // The applied event ids in insertion order.
  std::vector<Uuid> applied() {
    std::vector<Uuid> out;
    sqlite3_stmt* statement = nullptr;
    sqlite3_prepare_v2(db_, "SELECT event_id FROM applied ORDER BY rowid", -1, &statement, nullptr);
    while (sqlite3_step(statement) == SQLITE_ROW)
      out.push_back(*Uuid::parse(reinterpret_cast<const char*>(sqlite3_column_text(statement, 0))));
    sqlite3_finalize(statement);
    return out;
  }

 private:
  std::filesystem::path dir_;
  std::string path_;
  sqlite3* db_ = nullptr;
};

TEST_P(SubscriptionConformance, SqliteProjectionRejectsBadArguments) {
  ReadModel model;
  EXPECT_ES_ERROR(SqliteProjection(nullptr, "p"), ErrorCode::kInvalidArgument);
  EXPECT_ES_ERROR(SqliteProjection(model.db(), ""), ErrorCode::kInvalidArgument);
  SqliteProjection projection(model.db(), "p");
  EXPECT_EQ(projection.position(), 0);
  // A transaction the caller left open: SQLite refuses BEGIN, reported as kInternal.
  model.exec("BEGIN");
  EXPECT_ES_ERROR(projection.apply(FeedPage{{}, 1}, [](sqlite3*, const FeedEntry&) {}), ErrorCode::kInternal);
  model.exec("ROLLBACK");
  EXPECT_EQ(projection.position(), 0);
}

TEST_P(SubscriptionConformance, SqliteProjectionIsExactlyOnceAcrossACrash) {
  std::vector<Uuid> appended;
  for (int i = 0; i < 3; ++i)
    for (const Uuid& id : append_n(new_stream(), 7)) appended.push_back(id);
  const std::int64_t head = head_at_least(21);

  ReadModel model;
  {
    SqliteProjection projection(model.db(), "orders_view");
    auto subscription = open(options("", StartPosition::after(projection.position()), 4));
    int applied_in_page = 0;
    for (int page = 0; page < 3; ++page) {
      const FeedPage p = subscription->next_page();
      projection.apply(p, [&](sqlite3* db, const FeedEntry& entry) { ReadModel::insert(db, entry); });
    }
    EXPECT_EQ(projection.position(), 12);
    // The fourth page fails after two of its entries were written: the transaction rolls back.
    const FeedPage p = subscription->next_page();
    ASSERT_EQ(p.entries.size(), 4u);
    EXPECT_THROW(projection.apply(p,
                                  [&](sqlite3* db, const FeedEntry& entry) {
                                    if (++applied_in_page == 3) throw std::runtime_error("crash while applying");
                                    ReadModel::insert(db, entry);
                                  }),
                 std::runtime_error);
    EXPECT_EQ(projection.position(), 12);
    EXPECT_EQ(model.applied().size(), 12u) << "the failed page left nothing behind";
  }
  // The process restarts: a new connection, a new projection object, a subscription after its position.
  model.reopen();
  SqliteProjection projection(model.db(), "orders_view");
  EXPECT_EQ(projection.position(), 12);
  auto subscription = open(options("", StartPosition::after(projection.position()), 4));
  while (subscription->position() < head) {
    const FeedPage p = subscription->next_page();
    projection.apply(p, [&](sqlite3* db, const FeedEntry& entry) { ReadModel::insert(db, entry); });
  }
  EXPECT_EQ(projection.position(), head);
  // Across streams the feed's order is the order of publication (on a cluster, the relay's).
  std::vector<Uuid> in_feed_order;
  for (const FeedEntry& e : store().read_feed(context_, FeedReadOptions{0, 1000, false, {}}).entries)
    in_feed_order.push_back(e.event.event_id);
  std::vector<Uuid> sorted_feed = in_feed_order, sorted_appended = appended;
  std::sort(sorted_feed.begin(), sorted_feed.end());
  std::sort(sorted_appended.begin(), sorted_appended.end());
  ASSERT_EQ(sorted_feed, sorted_appended);
  EXPECT_EQ(model.applied(), in_feed_order) << "each event once, in feed order";

  // Applying a page again changes nothing.
  auto replay = open(options("", StartPosition::beginning(), 100));
  const FeedPage all = replay->next_page();
  projection.apply(all, [&](sqlite3* db, const FeedEntry& entry) { ReadModel::insert(db, entry); });
  EXPECT_EQ(model.applied(), in_feed_order);
  EXPECT_EQ(projection.position(), head);
}

TEST_P(SubscriptionConformance, SqliteProjectionSkipsARepeatedEvent) {
  const StreamId stream = new_stream();
  const std::vector<Uuid> appended = append_n(stream, 4);
  head_at_least(4);
  auto subscription = open(options("", StartPosition::beginning(), 2));
  const FeedPage first = subscription->next_page();
  const FeedPage second = subscription->next_page();
  ASSERT_EQ(first.entries.size(), 2u);
  ASSERT_EQ(second.entries.size(), 2u);

  ReadModel model;
  SqliteProjection projection(model.db(), "dedup");
  const auto insert = [](sqlite3* db, const FeedEntry& entry) { ReadModel::insert(db, entry); };
  projection.apply(first, insert);
  // As a cluster relay that died before recording its progress would: version 2 again, at a
  // later position, then the next pages.
  FeedPage repeated = second;
  FeedEntry again = first.entries[1];
  again.position = second.entries[0].position;
  repeated.entries.insert(repeated.entries.begin(), again);
  for (std::size_t i = 1; i < repeated.entries.size(); ++i)
    repeated.entries[i].position = again.position + static_cast<std::int64_t>(i);
  repeated.last_position = repeated.entries.back().position;
  projection.apply(repeated, insert);
  EXPECT_EQ(model.applied(), appended) << "version 2 applied once";
  EXPECT_EQ(projection.position(), repeated.last_position);

  // Two projections with their own names keep their own positions and versions.
  SqliteProjection other(model.db(), "other");
  EXPECT_EQ(other.position(), 0);
  std::size_t count = 0;
  other.apply(first, [&](sqlite3*, const FeedEntry&) { ++count; });
  EXPECT_EQ(count, 2u);
}

INSTANTIATE_TEST_SUITE_P(Backends, SubscriptionConformance, ::testing::ValuesIn(all_store_factories()), factory_name);

}  // namespace
}  // namespace eventstore::testing

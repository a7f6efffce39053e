// The cluster's feed relay against the real node (src/scylla/relay.h, docs/feed.md "The relay"):
// markers written by appends, publication (dense, once, per-stream version order), two relays
// racing, lease hand-over and takeover after a relay process dies, a stolen lease, reconciliation
// of events written without markers, rejected appends, and the delivery delay from an append's
// acknowledgement to its feed entry. The feed is read raw from the feed table (QUORUM), so the
// checks do not depend on the feed's reader.
// Over 500 lines on purpose: one fixture on one node, one file (its helpers are in feed_test_support.h).
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "backend_store.h"
#include "feed_test_support.h"
#include "scylla/cql.h"
#include "scylla/feed_markers.h"
#include "scylla/relay.h"

extern char** environ;

namespace eventstore::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace cql = detail::cql;

bool holds_lease(const FeedRelay& relay) { return relay.stats().holds_lease; }

// Appends `appends` appends of 1..3 events to each of `streams` streams of `context`, from one
// thread per stream; answers every event id appended.
std::set<Uuid> append_many(Store& store, const std::string& context, int streams, int appends) {
  std::mutex mutex;
  std::set<Uuid> ids;
  std::vector<std::thread> threads;
  for (int s = 0; s < streams; ++s)
    threads.emplace_back([&, s] {
      const StreamId stream{context, s % 2 == 0 ? "order" : "invoice", Uuid::random()};
      std::int64_t version = 0;
      for (int a = 0; a < appends; ++a) {
        const auto batch = events(1 + (a + s) % 3);
        store.append(stream, ExpectedVersion::exact(version), batch);
        version += static_cast<std::int64_t>(batch.size());
        std::lock_guard lock(mutex);
        for (const EventData& e : batch) ids.insert(*e.event_id);
      }
    });
  for (std::thread& t : threads) t.join();
  return ids;
}

TEST(ScyllaRelay, PublishesEveryEventOnceDenseInVersionOrder) {
  SKIP_WITHOUT_CLUSTER();
  const auto store = open_backend_store();
  const std::string context = fresh_context("relay_once");
  const auto relay = store->start_relay(relay_options(context));
  ASSERT_NE(relay, nullptr);
  const std::set<Uuid> ids = append_many(*store, context, 6, 8);
  ASSERT_TRUE(eventually([&] { return ids_in(read_raw_feed(*store, context)) == ids; }, 30s))
      << "the feed holds " << ids_in(read_raw_feed(*store, context)).size() << " of " << ids.size() << " events";
  std::this_thread::sleep_for(300ms);  // nothing more arrives
  const RawFeed feed = read_raw_feed(*store, context);
  expect_well_formed(feed);
  EXPECT_EQ(feed.rows.size(), ids.size()) << "an event published twice by a single relay";
  const RelayStats stats = relay->stats();
  EXPECT_TRUE(stats.holds_lease);
  EXPECT_EQ(stats.head, static_cast<std::int64_t>(ids.size()));
  EXPECT_EQ(stats.events_published, ids.size());
  EXPECT_EQ(stats.repairs, 0u) << "events with markers counted as repairs";
  EXPECT_TRUE(stats.last_error.empty()) << stats.last_error;
  // The feed's reader (read_feed) sees the same entries, with their events' data.
  FeedReadOptions options;
  options.limit = 1000;
  const FeedPage page = store->read_feed(context, options);
  ASSERT_EQ(page.entries.size(), feed.rows.size());
  EXPECT_EQ(page.last_position, static_cast<std::int64_t>(feed.rows.size()));
  for (std::size_t i = 0; i < page.entries.size(); ++i) {
    EXPECT_EQ(page.entries[i].position, feed.rows[i].position);
    EXPECT_EQ(page.entries[i].event.event_id, feed.rows[i].event_id);
    EXPECT_EQ(page.entries[i].event.version, feed.rows[i].version);
    EXPECT_TRUE(page.entries[i].event.data.has_value());
  }
  EXPECT_EQ(store->feed_head(context), static_cast<std::int64_t>(feed.rows.size()));
  const FeedStatus status = store->feed_status(context);
  ASSERT_TRUE(status.relay.has_value());
  EXPECT_TRUE(status.relay->live);
  EXPECT_EQ(status.relay->epoch, stats.epoch);
}

// Two relays that both publish (neither looks at the lease, as two relays that each believe
// they hold it) and a reader that keeps reading the feed: every position the reader saw keeps
// its entry, the feed is dense, and an event appears twice only with the same id.
TEST(ScyllaRelay, TwoRelaysRacingNeverFork) {
  SKIP_WITHOUT_CLUSTER();
  const auto store = open_backend_store();
  const std::string context = fresh_context("relay_race");
  detail::RelayTuning racing;
  racing.settle_window = 20s;
  racing.look_back = 10s;
  racing.ignore_lease = true;
  const auto first = detail::start_scylla_relay(*store, relay_options(context), racing);
  const auto second = detail::start_scylla_relay(*open_backend_store(), relay_options(context), racing);
  std::atomic<bool> reading{true};
  std::map<std::int64_t, Uuid> observed;
  std::atomic<int> conflicts{0};
  std::thread reader([&] {
    while (reading) {
      for (const FeedRow& row : read_raw_feed(*store, context).rows) {
        const auto [it, inserted] = observed.emplace(row.position, row.event_id);
        if (!inserted && it->second != row.event_id) ++conflicts;
      }
      std::this_thread::sleep_for(5ms);
    }
  });
  const std::set<Uuid> ids = append_many(*store, context, 6, 10);
  const bool all = eventually([&] { return ids_in(read_raw_feed(*store, context)) == ids; }, 60s);
  std::this_thread::sleep_for(200ms);  // the slower relay publishes its duplicates under the reader
  reading = false;
  reader.join();
  ASSERT_TRUE(all);
  first->stop();  // nothing is published after the final read
  second->stop();
  const RawFeed feed = read_raw_feed(*store, context);
  expect_well_formed(feed);
  EXPECT_EQ(conflicts.load(), 0) << "a position changed its entry under a reader";
  for (const FeedRow& row : feed.rows) {
    const auto it = observed.find(row.position);
    if (it != observed.end()) {
      EXPECT_EQ(it->second, row.event_id) << "position " << row.position;
    }
  }
  const std::uint64_t published = first->stats().events_published + second->stats().events_published;
  EXPECT_EQ(published, feed.rows.size()) << "the relays' counts and the feed disagree";
  std::printf(
      "two racing relays: %zu events, %zu feed entries (%zu duplicates), %llu and %llu by each, %zu "
      "positions observed while racing\n",
      ids.size(), feed.rows.size(), feed.rows.size() - ids.size(),
      static_cast<unsigned long long>(first->stats().events_published),
      static_cast<unsigned long long>(second->stats().events_published), observed.size());
}

// Two ordinary relays: only one holds the lease at a time, and the feed is exact.
TEST(ScyllaRelay, TwoRelaysShareTheLease) {
  SKIP_WITHOUT_CLUSTER();
  const auto store = open_backend_store();
  const std::string context = fresh_context("relay_pair");
  const auto first = store->start_relay(relay_options(context));
  const auto second = open_backend_store()->start_relay(relay_options(context));
  ASSERT_TRUE(eventually([&] { return holds_lease(*first) || holds_lease(*second); }, 10s));
  const std::set<Uuid> ids = append_many(*store, context, 4, 6);
  ASSERT_TRUE(eventually([&] { return ids_in(read_raw_feed(*store, context)) == ids; }, 30s));
  EXPECT_NE(holds_lease(*first), holds_lease(*second));
  const RawFeed feed = read_raw_feed(*store, context);
  expect_well_formed(feed);
  EXPECT_EQ(feed.rows.size(), ids.size());
}

TEST(ScyllaRelay, StopHandsTheLeaseOverAtOnce) {
  SKIP_WITHOUT_CLUSTER();
  const auto store = open_backend_store();
  const std::string context = fresh_context("relay_stop");
  const auto lease = 1500ms;
  auto first = store->start_relay(relay_options(context, lease));
  ASSERT_TRUE(eventually([&] { return holds_lease(*first); }, 10s));
  const auto second = store->start_relay(relay_options(context, lease));
  std::this_thread::sleep_for(lease);  // the second waits: the lease is renewed
  EXPECT_TRUE(holds_lease(*first));
  EXPECT_FALSE(holds_lease(*second));
  const std::set<Uuid> before = append_many(*store, context, 2, 3);
  ASSERT_TRUE(eventually([&] { return ids_in(read_raw_feed(*store, context)) == before; }, 20s));
  const auto stopped = Clock::now();
  first->stop();
  EXPECT_FALSE(holds_lease(*first));
  ASSERT_TRUE(eventually([&] { return holds_lease(*second); }, lease + 5s));
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - stopped);
  std::printf("takeover after stop(): %lld ms (lease %lld ms, poll 10 ms)\n", static_cast<long long>(took.count()),
              static_cast<long long>(lease.count()));
  EXPECT_LT(took, lease + 10ms + 500ms);
  EXPECT_GT(second->stats().epoch, 0);
  // The new owner continues the feed after the old one's entries.
  std::set<Uuid> all = before;
  all.merge(append_many(*store, context, 2, 3));
  ASSERT_TRUE(eventually([&] { return ids_in(read_raw_feed(*store, context)) == all; }, 20s));
  const RawFeed feed = read_raw_feed(*store, context);
  expect_well_formed(feed);
}

#ifdef EVENTSTORE_CLI_PATH
// A relay process killed with SIGKILL (no release): the waiting relay takes over within the
// lease and one poll of the last renewal.
TEST(ScyllaRelay, TakeoverAfterARelayProcessDiesWithinLeaseAndPoll) {
  SKIP_WITHOUT_CLUSTER();
  const auto store = open_backend_store();
  const std::string context = fresh_context("relay_kill");
  const auto lease = 1500ms;
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  std::vector<std::string> args{EVENTSTORE_CLI_PATH, "relay", "--context", context,
                                "--lease-ms",        "1500",  "--poll-ms", "10"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::unsetenv("EVENTSTORE_STORE");
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, EVENTSTORE_CLI_PATH, &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  FILE* lines = ::fdopen(out[0], "r");
  char line[1024];
  bool holding = false;
  while (!holding && std::fgets(line, sizeof line, lines))
    holding = std::string(line).find("\"holds_lease\":true") != std::string::npos;
  ASSERT_TRUE(holding) << "the relay process never took the lease";
  const auto waiting = store->start_relay(relay_options(context, lease));
  std::this_thread::sleep_for(lease);
  EXPECT_FALSE(holds_lease(*waiting));
  const std::set<Uuid> ids = append_many(*store, context, 2, 3);
  ASSERT_TRUE(eventually([&] { return ids_in(read_raw_feed(*store, context)) == ids; }, 20s))
      << "the relay process did not publish";
  const auto killed = Clock::now();
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::fclose(lines);
  ASSERT_TRUE(eventually([&] { return holds_lease(*waiting); }, lease + 10s));
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - killed);
  std::printf("takeover after SIGKILL of the owner: %lld ms (lease %lld ms, poll 10 ms)\n",
              static_cast<long long>(took.count()), static_cast<long long>(lease.count()));
  EXPECT_LT(took, lease + 10ms + 500ms);
  std::set<Uuid> all = ids;
  all.merge(append_many(*store, context, 2, 3));
  ASSERT_TRUE(eventually([&] { return ids_in(read_raw_feed(*store, context)) == all; }, 20s));
  expect_well_formed(read_raw_feed(*store, context));
}

// SIGTERM: exit code 0, the lease given up (another relay takes it at once).
TEST(ScyllaRelay, CliRelayExitsZeroOnSigtermAndGivesUpTheLease) {
  SKIP_WITHOUT_CLUSTER();
  const auto store = open_backend_store();
  const std::string context = fresh_context("relay_term");
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  std::vector<std::string> args{EVENTSTORE_CLI_PATH, "relay", "--context", context, "--lease-ms", "5000"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::unsetenv("EVENTSTORE_STORE");
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, EVENTSTORE_CLI_PATH, &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  FILE* lines = ::fdopen(out[0], "r");
  char line[1024];
  bool holding = false;
  while (!holding && std::fgets(line, sizeof line, lines))
    holding = std::string(line).find("\"holds_lease\":true") != std::string::npos;
  ASSERT_TRUE(holding);
  const auto waiting = store->start_relay(relay_options(context, 5000ms));
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::fclose(lines);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  const auto exited = Clock::now();
  ASSERT_TRUE(eventually([&] { return holds_lease(*waiting); }, 10s));
  EXPECT_LT(Clock::now() - exited, 2500ms) << "the lease was not given up";
}
#endif

// The lease row rewritten to another owner (as a relay that took over while this one was
// paused): the relay stops publishing at its next renewal, and takes the lease back once the
// other owner lets it expire.
TEST(ScyllaRelay, ARelayWhoseLeaseWasTakenStopsPublishing) {
  SKIP_WITHOUT_CLUSTER();
  const auto store = open_backend_store();
  const std::string context = fresh_context("relay_stolen");
  const auto lease = 1500ms;
  const auto relay = store->start_relay(relay_options(context, lease));
  ASSERT_TRUE(eventually([&] { return holds_lease(*relay); }, 10s));
  const std::set<Uuid> before = append_many(*store, context, 2, 2);
  ASSERT_TRUE(eventually([&] { return ids_in(read_raw_feed(*store, context)) == before; }, 20s));
  const auto connection = detail::scylla_connection(*store);
  const std::string table = keyspace() + ".feed_relay";
  const auto rows = cql::execute(connection, {"SELECT epoch FROM " + table + " WHERE bounded_context = ?", {context}},
                                 {cql::Consistency::kSerial, true});
  ASSERT_EQ(rows.size(), 1u);
  const std::int64_t epoch = cql::int64(rows[0][0]);
  const auto stolen = cql::execute(
      connection,
      {"UPDATE " + table + " SET owner = ?, epoch = ?, lease_expires = ? WHERE bounded_context = ? IF epoch = ?",
       {std::string("thief"), epoch + 1, now_ms() + std::chrono::hours(1), context, epoch}},
      {cql::Consistency::kQuorum, false});
  ASSERT_TRUE(cql::boolean(stolen[0][0]));
  const auto taken = Clock::now();
  ASSERT_TRUE(eventually([&] { return !holds_lease(*relay); }, lease + 2s));
  std::printf(
      "a stolen lease noticed after %lld ms (lease %lld ms)\n",
      static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - taken).count()),
      static_cast<long long>(lease.count()));
  const std::int64_t head = read_raw_feed(*store, context).head;
  const std::uint64_t published = relay->stats().events_published;
  const std::set<Uuid> during = append_many(*store, context, 2, 2);
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(read_raw_feed(*store, context).head, head) << "published without the lease";
  EXPECT_EQ(relay->stats().events_published, published);
  EXPECT_FALSE(holds_lease(*relay));
  // The thief lets its lease expire: the relay takes over with a higher epoch and catches up.
  cql::execute(connection,
               {"UPDATE " + table + " SET lease_expires = ? WHERE bounded_context = ? IF owner = ?",
                {Timestamp{}, context, std::string("thief")}},
               {cql::Consistency::kQuorum, false});
  ASSERT_TRUE(eventually([&] { return holds_lease(*relay); }, 5s));
  EXPECT_EQ(relay->stats().epoch, epoch + 2);
  std::set<Uuid> all = before;
  all.insert(during.begin(), during.end());
  ASSERT_TRUE(eventually([&] { return ids_in(read_raw_feed(*store, context)) == all; }, 20s));
  expect_well_formed(read_raw_feed(*store, context));
}

// Events with no marker: appended through a store with feed=false, and rows written the way the
// seed's library writes them (no stream_version). Reconciliation publishes them, in version order,
// and counts every one as a repair.
TEST(ScyllaRelay, ReconciliationPublishesEventsWithoutMarkersAsRepairs) {
  SKIP_WITHOUT_CLUSTER();
  const auto store = open_backend_store();
  const auto unmarked = open_with("feed=false");
  const std::string context = fresh_context("relay_repair");
  std::set<Uuid> ids;
  for (int s = 0; s < 2; ++s) {
    const StreamId stream{context, "order", Uuid::random()};
    const auto batch = events(3);
    unmarked->append(stream, ExpectedVersion::no_stream(), batch);
    for (const EventData& e : batch) ids.insert(*e.event_id);
  }
  const Uuid seed_stream = Uuid::random();
  for (int version = 1; version <= 2; ++version) {
    const Uuid id = Uuid::random();
    ids.insert(id);
    detail::execute_statement(
        *store, "BEGIN BATCH INSERT INTO " + keyspace() +
                    ".event_store (bounded_context, aggregate_id, aggregate_type, event_id, event_type, event_version, "
                    "event_data, event_timestamp, event_metadata) VALUES ('" +
                    context + "', " + seed_stream.to_string() + ", 'order', " + id.to_string() + ", 'Seeded', " +
                    std::to_string(version) + ", '{}', toTimestamp(now()), 'null') IF NOT EXISTS; APPLY BATCH");
  }
  RelayOptions options = relay_options(context);
  options.reconcile_interval = 500ms;
  const auto relay = store->start_relay(options);
  ASSERT_TRUE(eventually([&] { return ids_in(read_raw_feed(*store, context)) == ids; }, 30s))
      << relay->stats().last_error;
  // Later ones too, by the next pass.
  const StreamId later{context, "invoice", Uuid::random()};
  const auto batch = events(2);
  unmarked->append(later, ExpectedVersion::no_stream(), batch);
  for (const EventData& e : batch) ids.insert(*e.event_id);
  expect_feed_holds_once(*store, context, ids, 30s, [&] { return relay->stats().last_error; });
  // The counter moves once the pass that published the events ends, just after they appear.
  EXPECT_TRUE(eventually([&] { return relay->stats().repairs == ids.size(); }, 10s))
      << relay->stats().repairs << " repairs for " << ids.size() << " events";
}

// A rejected append wrote its marker: the relay settles it after the settle window (timeout_ms
// 1000: 4 s) and never publishes its events.
TEST(ScyllaRelay, ARejectedAppendNeverAppears) {
  SKIP_WITHOUT_CLUSTER();
  const auto store = open_with("timeout_ms=1000");
  const std::string context = fresh_context("relay_rejected");
  const auto relay = store->start_relay(relay_options(context));
  const StreamId stream{context, "order", Uuid::random()};
  const auto accepted = events(2);
  store->append(stream, ExpectedVersion::no_stream(), accepted);
  const auto rejected = events(2);
  try {
    store->append(stream, ExpectedVersion::exact(1), rejected);
    FAIL() << "the conflicting append succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kVersionConflict) << e.what();
  }
  // Its marker is there.
  const auto markers = cql::execute(detail::scylla_connection(*store),
                                    {"SELECT first_event_id FROM " + keyspace() +
                                         ".feed_markers WHERE bounded_context = ? AND bucket = ? AND shard = ?",
                                     {context, detail::marker_bucket(now_ms()),
                                      static_cast<std::int32_t>(detail::marker_shard(stream.aggregate_id))}});
  bool marked = false;
  for (const cql::Row& row : markers) marked = marked || cql::uuid(row[0]) == *rejected.front().event_id;
  bool marked_earlier = false;  // the minute may have turned between the append and the read
  if (!marked) {
    const auto earlier = cql::execute(detail::scylla_connection(*store),
                                      {"SELECT first_event_id FROM " + keyspace() +
                                           ".feed_markers WHERE bounded_context = ? AND bucket = ? AND shard = ?",
                                       {context, detail::marker_bucket(now_ms()) - 1,
                                        static_cast<std::int32_t>(detail::marker_shard(stream.aggregate_id))}});
    for (const cql::Row& row : earlier)
      marked_earlier = marked_earlier || cql::uuid(row[0]) == *rejected.front().event_id;
  }
  EXPECT_TRUE(marked || marked_earlier) << "the rejected append wrote no marker";
  const auto next = events(1);
  store->append(stream, ExpectedVersion::exact(2), next);
  std::this_thread::sleep_for(4s + 3s);  // past the settle window
  const RawFeed feed = read_raw_feed(*store, context);
  expect_well_formed(feed);
  const std::set<Uuid> ids = ids_in(feed);
  for (const EventData& e : rejected) EXPECT_FALSE(ids.contains(*e.event_id)) << "a rejected event was published";
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_EQ(relay->stats().repairs, 0u);
}

// relay=CONTEXT in the URI: the store runs the relay for its lifetime, and gives up the lease
// when it is destroyed.
TEST(ScyllaRelay, TheUriOptionRunsARelayForTheStoresLifetime) {
  SKIP_WITHOUT_CLUSTER();
  const std::string context = fresh_context("relay_uri");
  auto store = open_with("relay=" + context);
  const std::set<Uuid> ids = append_many(*store, context, 2, 3);
  ASSERT_TRUE(eventually([&] { return ids_in(read_raw_feed(*store, context)) == ids; }, 20s));
  const auto connection = detail::scylla_connection(*store);
  store.reset();
  const auto rows = cql::execute(
      connection,
      {"SELECT lease_expires, head FROM " + keyspace() + ".feed_relay WHERE bounded_context = ?", {context}},
      {cql::Consistency::kSerial, true});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_LE(cql::timestamp(rows[0][0]), now_ms()) << "the lease was not given up";
  EXPECT_EQ(cql::int64(rows[0][1]), static_cast<std::int64_t>(ids.size()));
}

// A keyspace without the feed's tables: until a marker of the store has been stored, markers go
// before their batches, so the marker that cannot be written fails the append: nothing is appended.
TEST(ScyllaRelay, AnAppendWhoseMarkerFailsWritesNothing) {
  SKIP_WITHOUT_CLUSTER();
  // A keyspace with the event tables (the seed's, plus our static columns) but no feed tables.
  const std::string bare = keyspace() + "_nofeed";
  const auto store = open_backend_store();
  detail::execute_statement(*store, "CREATE KEYSPACE IF NOT EXISTS " + bare +
                                        " WITH replication = {'class': 'NetworkTopologyStrategy', "
                                        "'replication_factor': 1}");
  detail::execute_statement(*store,
                            "CREATE TABLE IF NOT EXISTS " + bare +
                                ".event_store (bounded_context varchar, aggregate_id uuid, aggregate_type "
                                "varchar, event_id uuid, event_type varchar, event_version int, event_data "
                                "varchar, event_timestamp timestamp, event_metadata varchar, stream_version int "
                                "static, truncated_before int static, hard_deleted boolean static, "
                                "PRIMARY KEY ((bounded_context, aggregate_id, aggregate_type), "
                                "event_version))");
  // A keyspace left by a run before the lifecycle columns: add them (refused when there).
  for (const std::string& alter : detail::scylla_adopt_statements(bare)) {
    try {
      detail::execute_statement(*store, alter);
    } catch (const Error&) {
    }
  }
  detail::execute_statement(*store, "CREATE TABLE IF NOT EXISTS " + bare +
                                        ".aggregate_snapshot (bounded_context varchar, aggregate_id uuid, "
                                        "aggregate_type varchar, snapshot_data varchar, snapshot_version int, "
                                        "snapshot_timestamp timestamp, snapshot_metadata varchar, PRIMARY KEY "
                                        "((bounded_context, aggregate_id, aggregate_type)))");
  ::unsetenv("EVENTSTORE_STORE");
  detail::ClusterUri uri = detail::parse_store_uri(default_store_uri()).cluster;
  uri.keyspace = bare;
  const auto bare_store = detail::open_scylla_store(uri, "bare", {});
  const StreamId stream = fresh_stream("relay_nomarker");
  try {
    bare_store->append(stream, ExpectedVersion::no_stream(), events(1));
    FAIL() << "an append without its marker succeeded";
  } catch (const Error& e) {
    EXPECT_NE(e.code(), ErrorCode::kOutcomeUnknown) << e.what();
    EXPECT_NE(std::string(e.what()).find("marker"), std::string::npos) << e.what();
  }
  EXPECT_EQ(bare_store->head(stream), 0);
  uri.options["feed"] = "false";
  EXPECT_EQ(
      detail::open_scylla_store(uri, "bare", {})->append(stream, ExpectedVersion::no_stream(), events(1)).first_version,
      1);
}

// Routes the marker writes of one stream through `on_marker` (the others proceed at once), for
// the life of the guard.
class MarkerHookGuard {
 public:
  MarkerHookGuard(StreamId stream, std::function<void(std::function<void(std::optional<Error>)>)> on_marker) {
    detail::set_marker_write_hook_for_tests([stream = std::move(stream), on_marker = std::move(on_marker)](
                                                const StreamId& of, std::function<void(std::optional<Error>)> proceed) {
      if (of == stream) return on_marker(std::move(proceed));
      proceed(std::nullopt);
    });
  }
  ~MarkerHookGuard() { detail::set_marker_write_hook_for_tests({}); }
  MarkerHookGuard(const MarkerHookGuard&) = delete;
  MarkerHookGuard& operator=(const MarkerHookGuard&) = delete;
};

// The feed_markers rows that name `first_event_id` (the stream's shard, this minute and the last).
std::size_t markers_naming(Store& store, const StreamId& stream, const Uuid& first_event_id) {
  std::size_t found = 0;
  for (std::int64_t bucket = detail::marker_bucket(now_ms()) - 1; bucket <= detail::marker_bucket(now_ms()); ++bucket)
    for (const cql::Row& row : cql::execute(
             detail::scylla_connection(store),
             {"SELECT first_event_id FROM " + keyspace() +
                  ".feed_markers WHERE bounded_context = ? AND bucket = ? AND shard = ?",
              {stream.bounded_context, bucket, static_cast<std::int32_t>(detail::marker_shard(stream.aggregate_id))}}))
      if (cql::uuid(row[0]) == first_event_id) ++found;
  return found;
}

// An attempt that starts more than marker_refresh_after (2 s with timeout_ms 1000) after the
// append's last marker writes a fresh one beside its batch: the first batch fails with an unknown
// outcome without being sent, and its marker is held 2.5 s, so the retry starts 2.5 s after it.
TEST(ScyllaRelay, ALateRetryWritesAFreshMarker) {
  SKIP_WITHOUT_CLUSTER();
  const auto store = open_with("timeout_ms=1000");
  const std::string context = fresh_context("relay_refresh");
  store->append({context, "order", Uuid::random()}, ExpectedVersion::no_stream(), events(1));  // a marker stored
  const StreamId stream{context, "order", Uuid::random()};
  std::mutex mutex;
  std::vector<Clock::time_point> asked;
  std::vector<std::thread> holders;
  {
    MarkerHookGuard hook(stream, [&](std::function<void(std::optional<Error>)> proceed) {
      std::lock_guard lock(mutex);
      asked.push_back(Clock::now());
      if (asked.size() > 1) return proceed(std::nullopt);
      holders.emplace_back([proceed = std::move(proceed)] {
        std::this_thread::sleep_for(2500ms);
        proceed(std::nullopt);
      });
    });
    detail::inject_batch_faults(*store, {{false, ErrorCode::kOutcomeUnknown}});
    const auto batch = events(2);
    EXPECT_EQ(store->append(stream, ExpectedVersion::no_stream(), batch).first_version, 1);
    for (std::thread& holder : holders) holder.join();
    ASSERT_EQ(asked.size(), 2u) << "the late retry wrote no fresh marker";
    EXPECT_GE(asked[1] - asked[0], 2000ms);
    EXPECT_EQ(markers_naming(*store, stream, *batch.front().event_id), 2u);
  }
  EXPECT_EQ(store->head(stream), 2);
}

// The batch lands before its marker: the relay publishes the append through the next append's
// marker while the first marker is held back, and the late marker then adds nothing. The first
// append is answered only once its marker is stored.
TEST(ScyllaRelay, ABatchThatLandsBeforeItsMarkerIsPublishedOnce) {
  SKIP_WITHOUT_CLUSTER();
  const auto store = open_backend_store();
  const std::string context = fresh_context("relay_late_marker");
  const auto relay = store->start_relay(relay_options(context));
  std::set<Uuid> ids;
  const auto warm_up = events(1);
  store->append({context, "order", Uuid::random()}, ExpectedVersion::no_stream(), warm_up);
  ids.insert(*warm_up.front().event_id);
  const StreamId stream{context, "order", Uuid::random()};
  std::mutex mutex;
  int marker_writes = 0;
  std::function<void(std::optional<Error>)> held;  // the first append's marker
  std::promise<Result<AppendResult>> first_answer;
  {
    MarkerHookGuard hook(stream, [&](std::function<void(std::optional<Error>)> proceed) {
      std::unique_lock lock(mutex);
      if (marker_writes++ == 0) {
        held = std::move(proceed);
        return;
      }
      lock.unlock();
      proceed(std::nullopt);
    });
    const auto first = events(2);
    store->append_async(stream, ExpectedVersion::no_stream(), first,
                        [&](Result<AppendResult> result) { first_answer.set_value(std::move(result)); });
    for (const EventData& e : first) ids.insert(*e.event_id);
    auto answered = first_answer.get_future();
    const bool landed = eventually([&] { return store->head(stream) == 2; }, 10s);
    EXPECT_TRUE(landed) << "the batch did not land while its marker was held";
    EXPECT_EQ(answered.wait_for(0ms), std::future_status::timeout) << "answered before its marker was stored";
    if (landed) {
      const auto second = events(1);
      for (const EventData& e : second) ids.insert(*e.event_id);
      store->append(stream, ExpectedVersion::exact(2), second);
      EXPECT_TRUE(eventually([&] { return ids_in(read_raw_feed(*store, context)) == ids; }, 20s))
          << relay->stats().last_error;
    }
    {
      std::lock_guard lock(mutex);
      ASSERT_TRUE(held);
    }
    held(std::nullopt);
    const Result<AppendResult> result = answered.get();
    ASSERT_TRUE(result.ok()) << result.error().what();
    EXPECT_EQ(result.value().first_version, 1);
  }
  // The late marker is read by the relay's look-back (every 2.5 s) and finds nothing new.
  std::this_thread::sleep_for(4s);
  expect_feed_holds_once(*store, context, ids, 0ms, [] { return "an event missing or unexpected"; });
  EXPECT_EQ(relay->stats().events_published, ids.size());
}

// A marker that cannot be written, twice (beside the batch, then a fresh one before the answer),
// while its batch applies: the append is acknowledged, and reconciliation publishes its events as
// repairs.
TEST(ScyllaRelay, AnAppendWhoseMarkerCannotBeWrittenIsAcknowledgedAndRepaired) {
  SKIP_WITHOUT_CLUSTER();
  const auto store = open_backend_store();
  const std::string context = fresh_context("relay_no_marker");
  std::set<Uuid> ids;
  const auto warm_up = events(1);
  store->append({context, "order", Uuid::random()}, ExpectedVersion::no_stream(), warm_up);
  ids.insert(*warm_up.front().event_id);
  const StreamId stream{context, "order", Uuid::random()};
  std::atomic<int> refused{0};
  const auto batch = events(3);
  {
    MarkerHookGuard hook(stream, [&](std::function<void(std::optional<Error>)> proceed) {
      ++refused;
      proceed(Error(ErrorCode::kUnavailable, "injected marker failure"));
    });
    EXPECT_EQ(store->append(stream, ExpectedVersion::no_stream(), batch).first_version, 1);
  }
  EXPECT_EQ(refused.load(), 2) << "a failed marker is written again, once, before the answer";
  for (const EventData& e : batch) ids.insert(*e.event_id);
  RelayOptions options = relay_options(context);
  options.reconcile_interval = 500ms;
  const auto relay = store->start_relay(options);
  expect_feed_holds_once(*store, context, ids, 30s, [&] { return relay->stats().last_error; });
  EXPECT_EQ(relay->stats().repairs, batch.size());
}

TEST(ScyllaRelay, BadOptionsAreInvalidArguments) {
  SKIP_WITHOUT_CLUSTER();
  const auto store = open_backend_store();
  auto expect_invalid = [&](RelayOptions options) {
    try {
      store->start_relay(options);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
    }
  };
  expect_invalid(relay_options(""));
  expect_invalid(relay_options("c", 100ms));
  RelayOptions slow = relay_options("c", 3000ms);
  slow.poll_interval = 1000ms;
  expect_invalid(slow);
  RelayOptions eager = relay_options("c");
  eager.reconcile_interval = 1ms;
  expect_invalid(eager);
}

// The URI options are checked before any connection.
TEST(ScyllaRelayUri, FeedOptionsAreCheckedBeforeConnecting) {
  for (const char* bad : {"feed=maybe", "relay=", "relay=a,,b", "relay=%FF"}) {
    try {
      open_store(std::string("scylla://127.0.0.1:1?") + bad);
      ADD_FAILURE() << bad << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << bad << ": " << e.what();
    }
  }
  for (const char* good : {"feed=false", "feed=true", "relay=shop", "relay=shop,billing"}) {
    try {
      open_store(std::string("scylla://127.0.0.1:1?connect_timeout_ms=500&") + good);
      ADD_FAILURE() << good << ": connected to port 1";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kUnavailable) << good << ": " << e.what();
    }
  }
  const detail::FeedSettings settings =
      detail::feed_settings_from(detail::parse_store_uri("scylla://h?relay=a%2Cb,c&timeout_ms=1000&feed=0").cluster);
  EXPECT_FALSE(settings.markers);
  EXPECT_EQ(settings.relay_contexts, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(settings.settle_window(), 4000ms);
  EXPECT_EQ(settings.marker_refresh_after(), 2000ms);
}

TEST(ScyllaRelayUri, TimeuuidsAreVersionOneOrderedAndUnique) {
  const Timestamp t = now_ms();
  std::set<Uuid> ids;
  for (int i = 0; i < 10000; ++i) {
    const Uuid id = detail::make_timeuuid(t);
    EXPECT_EQ(id.bytes()[6] >> 4, 1);
    EXPECT_EQ(id.bytes()[8] & 0xC0, 0x80);
    ids.insert(id);
    EXPECT_EQ(detail::timeuuid_time(id), t);
  }
  // Past 10,000 in one millisecond, after a later time, and back again: still unique, still at
  // the time asked for.
  for (int i = 0; i < 10000; ++i) ids.insert(detail::make_timeuuid(t));
  EXPECT_EQ(ids.size(), 20000u);
  EXPECT_EQ(detail::timeuuid_time(detail::make_timeuuid(t + std::chrono::hours(1))), t + std::chrono::hours(1));
  const Uuid back = detail::make_timeuuid(t);
  EXPECT_EQ(detail::timeuuid_time(back), t);
  EXPECT_FALSE(ids.contains(back));
  int shards[detail::kMarkerShards] = {};
  for (int i = 0; i < 4000; ++i) ++shards[detail::marker_shard(Uuid::random())];
  for (int count : shards) EXPECT_GT(count, 800);
}

// The delay from an append's acknowledgement to its entry in the feed, at a steady rate from a
// few writers, with one relay at its defaults (poll 20 ms), seen by a reader polling the feed
// every 5 ms. Printed; the bound is loose (a shared 2-core machine).
TEST(ScyllaRelay, DeliveryDelayFromAckToFeed) {
  SKIP_WITHOUT_CLUSTER();
  const auto store = open_backend_store();
  const std::string context = fresh_context("relay_delay");
  RelayOptions options;
  options.context = context;
  const auto relay = store->start_relay(options);
  ASSERT_TRUE(eventually([&] { return holds_lease(*relay); }, 10s));
  std::mutex mutex;
  std::map<Uuid, Clock::time_point> acked;
  std::map<Uuid, Clock::time_point> seen;
  std::atomic<bool> reading{true};
  std::thread reader([&] {
    const auto connection = detail::scylla_connection(*store);
    std::int64_t after = 0;
    while (reading) {
      const auto rows = cql::execute(connection, {"SELECT position, event_id FROM " + keyspace() +
                                                      ".feed WHERE bounded_context = ? AND bucket = 0 AND position > ?",
                                                  {context, after}});
      const auto now = Clock::now();
      std::lock_guard lock(mutex);
      for (const cql::Row& row : rows) {
        after = std::max(after, cql::int64(row[0]));
        seen.emplace(cql::uuid(row[1]), now);
      }
      std::this_thread::sleep_for(5ms);
    }
  });
  constexpr int kWriters = 4;
  constexpr int kAppends = 60;  // per writer, one every 40 ms: 100 appends/s
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w)
    writers.emplace_back([&] {
      const StreamId stream{context, "order", Uuid::random()};
      for (int a = 0; a < kAppends; ++a) {
        const auto batch = events(1);
        store->append(stream, ExpectedVersion::exact(a), batch);
        {
          std::lock_guard lock(mutex);
          acked.emplace(*batch.front().event_id, Clock::now());
        }
        std::this_thread::sleep_for(40ms);
      }
    });
  for (std::thread& t : writers) t.join();
  ASSERT_TRUE(eventually(
      [&] {
        std::lock_guard lock(mutex);
        return seen.size() >= acked.size();
      },
      20s));
  reading = false;
  reader.join();
  std::vector<double> delays;
  for (const auto& [id, at] : acked) {
    const auto it = seen.find(id);
    ASSERT_NE(it, seen.end());
    delays.push_back(std::chrono::duration<double, std::milli>(it->second - at).count());
  }
  std::sort(delays.begin(), delays.end());
  const auto pct = [&](double p) {
    return delays[static_cast<std::size_t>(p * static_cast<double>(delays.size() - 1))];
  };
  std::printf(
      "ack-to-feed delay over %zu appends (poll 20 ms, reader every 5 ms): p50 %.1f ms, p90 %.1f ms, p99 %.1f "
      "ms, max %.1f ms (negative: seen before the writer's ack returned)\n",
      delays.size(), pct(0.5), pct(0.9), pct(0.99), delays.back());
  EXPECT_LT(pct(0.99), 2000.0);
  EXPECT_EQ(relay->stats().repairs, 0u);
}

}  // namespace
}  // namespace eventstore::testing

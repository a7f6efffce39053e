// Helpers of the cluster feed's tests (relay_test.cc): stores with URI options, the feed table
// read raw (QUORUM, not through the feed's reader), and the feed's invariants as assertions.
// Needs a cluster (backend_store.h); every helper throws Error on a failed cluster call.
// Thread safety: every helper may be called from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "backend_store.h"
#include "scylla/cql.h"
#include "scylla/scylla_store.h"

namespace eventstore::testing {

inline std::string fresh_context(const std::string& prefix) {
  return prefix + "_" + Uuid::random().to_string().substr(0, 8);
}

// A store of the test cluster with extra URI options (feed=false, timeout_ms=...).
inline std::shared_ptr<Store> open_with(const std::string& options) {
  ::unsetenv("EVENTSTORE_STORE");
  std::string uri = default_store_uri();
  if (!options.empty()) uri += (uri.find('?') == std::string::npos ? "?" : "&") + options;
  auto store = detail::open_scylla_store(detail::parse_store_uri(uri).cluster, redact_uri(uri), {});
  store->apply_schema({1, {}});
  return store;
}

struct FeedRow {
  std::int64_t position = 0;
  std::string type;
  Uuid id;
  std::int32_t version = 0;
  Uuid event_id;
};

// Every row of the context's feed table, in position order, and the heads of its buckets.
struct RawFeed {
  std::vector<FeedRow> rows;
  std::int64_t head = 0;  // the last bucket's head
};

inline RawFeed read_raw_feed(Store& store, const std::string& context) {
  namespace cql = detail::cql;
  const auto connection = detail::scylla_connection(store);
  RawFeed feed;
  for (std::int64_t bucket = 0;; ++bucket) {
    const auto rows =
        cql::execute(connection, {"SELECT position, aggregate_type, aggregate_id, event_version, event_id, head FROM " +
                                      keyspace() + ".feed WHERE bounded_context = ? AND bucket = ?",
                                  {context, bucket}});
    if (rows.empty()) break;
    for (const cql::Row& row : rows) {
      if (cql::is_null(row[0])) continue;
      feed.rows.push_back(
          {cql::int64(row[0]), cql::text(row[1]), cql::uuid(row[2]), cql::int32(row[3]), cql::uuid(row[4])});
    }
    feed.head = cql::is_null(rows[0][5]) ? 0 : cql::int64(rows[0][5]);
  }
  return feed;
}

inline std::set<Uuid> ids_in(const RawFeed& feed) {
  std::set<Uuid> ids;
  for (const FeedRow& row : feed.rows) ids.insert(row.event_id);
  return ids;
}

// Waits until `done` or `limit`; true if done.
inline bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

// The feed's invariants: positions 1..N without a gap, the bucket head at N; an event id
// repeated only with the same stream and version; per stream, first occurrences in version
// order without a gap from 1.
inline void expect_well_formed(const RawFeed& feed) {
  for (std::size_t i = 0; i < feed.rows.size(); ++i)
    ASSERT_EQ(feed.rows[i].position, static_cast<std::int64_t>(i) + 1) << "a hole in the feed";
  EXPECT_EQ(feed.head, static_cast<std::int64_t>(feed.rows.size()));
  std::map<Uuid, const FeedRow*> first;
  std::map<std::pair<std::string, Uuid>, std::int32_t> last_version;
  for (const FeedRow& row : feed.rows) {
    const auto [it, inserted] = first.emplace(row.event_id, &row);
    if (!inserted) {
      EXPECT_EQ(it->second->id, row.id) << "event id " << row.event_id.to_string() << " twice with other streams";
      EXPECT_EQ(it->second->version, row.version);
      continue;
    }
    std::int32_t& last = last_version[{row.type, row.id}];
    EXPECT_EQ(row.version, last + 1) << "stream " << row.id.to_string() << " out of order at position " << row.position;
    last = row.version;
  }
}

// Waits up to `limit` for the context's feed to hold exactly the events `ids`, then checks the
// feed's invariants and that it holds each of them once. `why` is shown when it does not.
inline void expect_feed_holds_once(Store& store, const std::string& context, const std::set<Uuid>& ids,
                                   std::chrono::milliseconds limit, const std::function<std::string()>& why) {
  ASSERT_TRUE(eventually([&] { return ids_in(read_raw_feed(store, context)) == ids; }, limit)) << why();
  const RawFeed feed = read_raw_feed(store, context);
  expect_well_formed(feed);
  EXPECT_EQ(feed.rows.size(), ids.size()) << "an event published twice";
}

inline RelayOptions relay_options(const std::string& context,
                                  std::chrono::milliseconds lease = std::chrono::milliseconds(3000)) {
  RelayOptions options;
  options.context = context;
  options.lease = lease;
  options.poll_interval = std::chrono::milliseconds(10);
  return options;
}

}  // namespace eventstore::testing

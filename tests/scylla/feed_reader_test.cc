// The cluster's feed, read side (src/scylla/feed_reader.h), and the generic CQL calls it runs on
// (src/scylla/cql.h), against a real node. The feed rows are written here by hand with the very
// batch the relay writes (one conditional batch per bucket: UPDATE feed SET head = new IF head =
// old, or IF head = null for a new bucket, plus plain INSERTs of the positions), so these tests
// need no relay. Positions sit near the first bucket boundary (65536).
// Over 500 lines on purpose: one fixture on one node, one file.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "backend_store.h"
#include "core/blocking.h"
#include "scylla/cql.h"
#include "scylla/feed_reader.h"

namespace eventstore::testing {
namespace {

namespace cql = detail::cql;
using detail::feed_bucket;
using detail::feed_bucket_end;
using detail::kFeedBucketSize;

std::shared_ptr<detail::Connection> connection() {
  static std::shared_ptr<detail::Connection> c = detail::scylla_connection(*cluster());
  return c;
}

std::string table(const std::string& name) { return cql::table(connection(), name); }

std::string fresh_context(const std::string& prefix) { return prefix + "_" + Uuid::random().to_string().substr(0, 8); }

ErrorCode code_of(const std::function<void()>& fn, std::string* message = nullptr) {
  try {
    fn();
  } catch (const Error& e) {
    if (message) *message = e.what();
    return e.code();
  }
  ADD_FAILURE() << "no error";
  return ErrorCode::kInternal;
}

// What a feed entry references.
struct Ref {
  StreamId stream;
  std::int64_t version = 0;
  Uuid event_id;
  std::string event_type;
  Timestamp timestamp{};
};

// Appends `n` events to a new stream of `context` and answers their references.
std::vector<Ref> append_stream(const std::string& context, const std::string& type, int n,
                               const std::string& event_type = "Happened") {
  const StreamId stream{context, type, Uuid::random()};
  std::vector<EventData> data;
  for (int i = 0; i < n; ++i)
    data.push_back(EventData{Uuid::random(), event_type, "{\"i\":" + std::to_string(i) + "}",
                             i % 2 ? std::optional<std::string>("{\"m\":" + std::to_string(i) + "}") : std::nullopt,
                             now_ms()});
  cluster()->append(stream, ExpectedVersion::no_stream(), data);
  std::vector<Ref> refs;
  for (int i = 0; i < n; ++i) refs.push_back(Ref{stream, i + 1, *data[i].event_id, event_type, *data[i].timestamp});
  return refs;
}

// Publishes `refs` at positions first, first + 1, ... as the relay does: per bucket, one
// conditional batch that moves the bucket's static head from what it is (read at SERIAL) to the
// batch's last position and inserts the positions.
void publish(const std::string& context, std::int64_t first, const std::vector<Ref>& refs) {
  std::size_t i = 0;
  std::int64_t position = first;
  while (i < refs.size()) {
    const std::int64_t bucket = feed_bucket(position);
    const std::int64_t last =
        std::min<std::int64_t>(feed_bucket_end(bucket), first + static_cast<std::int64_t>(refs.size()) - 1);
    const auto heads = cql::execute(
        connection(),
        {"SELECT head FROM " + table("feed") + " WHERE bounded_context = ? AND bucket = ? LIMIT 1", {context, bucket}},
        {cql::Consistency::kSerial, true});
    const std::optional<std::int64_t> old = heads.empty() ? std::nullopt : cql::optional_int64(heads[0][0]);
    std::vector<cql::Statement> batch;
    const std::string update = "UPDATE " + table("feed") + " SET head = ? WHERE bounded_context = ? AND bucket = ? ";
    if (old) batch.push_back({update + "IF head = ?", {last, context, bucket, *old}});
    else batch.push_back({update + "IF head = null", {last, context, bucket}});
    for (; position <= last; ++position, ++i) {
      const Ref& r = refs[i];
      batch.push_back({"INSERT INTO " + table("feed") +
                           " (bounded_context, bucket, position, aggregate_type, aggregate_id, event_version, "
                           "event_id, event_type, event_timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       {context, bucket, position, r.stream.aggregate_type, r.stream.aggregate_id,
                        static_cast<std::int32_t>(r.version), r.event_id, r.event_type, r.timestamp}});
    }
    const auto rows = cql::batch(connection(), std::move(batch), {cql::Consistency::kQuorum, false});
    ASSERT_TRUE(cql::applied(rows)) << "the relay's batch at bucket " << bucket << " was not applied";
  }
}

void set_relay_row(const std::string& context, std::int64_t head, std::chrono::milliseconds expires_in,
                   const std::string& owner = "host:1:abc", std::int64_t epoch = 3) {
  cql::execute(connection(), {"INSERT INTO " + table("feed_relay") +
                                  " (bounded_context, owner, epoch, lease_expires, head) VALUES (?, ?, ?, ?, ?)",
                              {context, owner, epoch, now_ms() + expires_in, head}});
}

FeedPage read(const std::string& context, std::int64_t after, std::uint32_t limit, bool with_data = false,
              FeedFilter filter = {}) {
  FeedReadOptions options;
  options.after = after;
  options.limit = limit;
  options.with_data = with_data;
  options.filter = std::move(filter);
  return cluster()->read_feed(context, options);
}

std::vector<std::int64_t> positions(const FeedPage& page) {
  std::vector<std::int64_t> out;
  for (const FeedEntry& e : page.entries) out.push_back(e.position);
  return out;
}

std::vector<std::int64_t> range(std::int64_t from, std::int64_t to) {
  std::vector<std::int64_t> out;
  for (std::int64_t p = from; p <= to; ++p) out.push_back(p);
  return out;
}

// The feed of a context near the first bucket boundary: positions 65530..65545, entries of two
// streams (order: 10 events, then invoice: 6), interleaved.
struct BoundaryFeed {
  std::string context = fresh_context("feedrd");
  std::vector<Ref> orders;
  std::vector<Ref> invoices;
  std::vector<Ref> published;                                  // by position - kFirst
  static constexpr std::int64_t kFirst = kFeedBucketSize - 6;  // 65530
  static constexpr std::int64_t kLast = kFirst + 15;           // 65545

  BoundaryFeed() {
    orders = append_stream(context, "order", 10, "OrderPlaced");
    invoices = append_stream(context, "invoice", 6, "InvoiceSent");
    std::size_t o = 0, v = 0;
    for (int i = 0; i < 16; ++i) published.push_back(i % 3 == 2 || i == 15 ? invoices[v++] : orders[o++]);
    // In three relay batches: two in bucket 0 (the second with IF head = old), one in bucket 1.
    publish(context, kFirst, {published.begin(), published.begin() + 3});
    publish(context, kFirst + 3, {published.begin() + 3, published.end()});
  }
};

TEST(ScyllaFeedSchema, ApplySchemaCreatesTheFeedTables) {
  SKIP_WITHOUT_CLUSTER();
  cluster();
  const auto rows = cql::execute(
      connection(),
      {"SELECT table_name, default_time_to_live FROM system_schema.tables WHERE keyspace_name = ?", {keyspace()}});
  std::vector<std::string> tables;
  for (const auto& row : rows) {
    tables.push_back(cql::text(row[0]));
    if (cql::text(row[0]) == "feed_markers") {
      EXPECT_EQ(cql::int32(row[1]), 259200);
    }
  }
  for (const char* name : {"feed_markers", "feed", "feed_relay", "feed_progress", "feed_checkpoints"})
    EXPECT_NE(std::find(tables.begin(), tables.end(), name), tables.end()) << name;
  const auto columns = cql::execute(
      connection(), {"SELECT column_name, kind, type FROM system_schema.columns WHERE keyspace_name = ? AND "
                     "table_name = 'feed'",
                     {keyspace()}});
  bool static_head = false;
  for (const auto& row : columns)
    if (cql::text(row[0]) == "head") static_head = cql::text(row[1]) == "static" && cql::text(row[2]) == "bigint";
  EXPECT_TRUE(static_head);
  // Idempotent: applying again changes nothing and fails nothing.
  cluster()->apply_schema({1, {}});
}

TEST(ScyllaCql, TypedValuesRoundTrip) {
  SKIP_WITHOUT_CLUSTER();
  const std::string context = fresh_context("cql");
  const Uuid id = Uuid::random();
  const Uuid event = Uuid::random();
  const Timestamp at = now_ms();
  cql::execute(connection(), {"INSERT INTO " + table("feed") +
                                  " (bounded_context, bucket, position, aggregate_type, aggregate_id, event_version, "
                                  "event_id, event_type, event_timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                              {context, std::int64_t{7}, std::int64_t{9}, std::string("t\xc3\xa9"), id,
                               std::int32_t{-2}, event, cql::Null{}, at}});
  const auto rows = cql::execute(connection(),
                                 {"SELECT position, aggregate_type, aggregate_id, event_version, event_id, event_type, "
                                  "event_timestamp, head FROM " +
                                      table("feed") + " WHERE bounded_context = ? AND bucket = ?",
                                  {context, std::int64_t{7}}},
                                 {cql::Consistency::kOne, true});
  ASSERT_EQ(rows.size(), 1u);
  const auto& row = rows[0];
  ASSERT_EQ(row.size(), 8u);
  EXPECT_EQ(cql::int64(row[0]), 9);
  EXPECT_EQ(cql::text(row[1]), "t\xc3\xa9");
  EXPECT_EQ(cql::uuid(row[2]), id);
  EXPECT_EQ(cql::int32(row[3]), -2);
  EXPECT_EQ(cql::uuid(row[4]), event);
  EXPECT_TRUE(cql::is_null(row[5]));
  EXPECT_EQ(cql::optional_text(row[5]), std::nullopt);
  EXPECT_EQ(cql::timestamp(row[6]), at);
  EXPECT_TRUE(cql::is_null(row[7]));
  EXPECT_EQ(code_of([&] { cql::int32(row[0]); }), ErrorCode::kInternal) << "a bigint read as int";

  // A timeuuid column takes a Uuid value (a version 1 one) and reads back as one.
  std::array<std::uint8_t, 16> bytes = Uuid::random().bytes();
  bytes[6] = static_cast<std::uint8_t>((bytes[6] & 0x0f) | 0x10);
  const Uuid marker(bytes);
  cql::execute(connection(),
               {"INSERT INTO " + table("feed_markers") +
                    " (bounded_context, bucket, shard, marker_id, aggregate_type, aggregate_id, "
                    "first_event_id, event_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                {context, std::int64_t{1}, std::int32_t{2}, marker, std::string("order"), id, event, std::int32_t{3}}});
  const auto markers =
      cql::execute(connection(), {"SELECT marker_id, event_count, TTL(event_count) FROM " + table("feed_markers") +
                                      " WHERE bounded_context = ? AND bucket = ? AND shard = ?",
                                  {context, std::int64_t{1}, std::int32_t{2}}});
  ASSERT_EQ(markers.size(), 1u);
  EXPECT_EQ(cql::uuid(markers[0][0]), marker);
  EXPECT_EQ(cql::int32(markers[0][1]), 3);
  EXPECT_GT(cql::int32(markers[0][2]), 259000) << "the table's default TTL applies";
}

TEST(ScyllaCql, ConditionalResultsAndErrors) {
  SKIP_WITHOUT_CLUSTER();
  const std::string context = fresh_context("cqlif");
  const std::string insert = "INSERT INTO " + table("feed_checkpoints") +
                             " (bounded_context, name, position, updated) VALUES (?, ?, ?, ?) IF NOT EXISTS";
  EXPECT_TRUE(cql::applied(cql::execute(connection(), {insert, {context, std::string("a"), std::int64_t{5}, now_ms()}},
                                        {cql::Consistency::kQuorum, false})));
  const auto again = detail::wait_for<cql::Rows>([&](auto done) {
    cql::execute_named(connection(), {insert, {context, std::string("a"), std::int64_t{6}, now_ms()}},
                       {cql::Consistency::kQuorum, false}, done);
  });
  ASSERT_FALSE(again.rows.empty());
  EXPECT_EQ(again.columns.front(), "[applied]");
  EXPECT_FALSE(cql::applied(again.rows));
  const cql::Value* position = again.find(0, "position");
  ASSERT_NE(position, nullptr);
  EXPECT_EQ(cql::int64(*position), 5);
  EXPECT_EQ(again.find(0, "no_such_column"), nullptr);

  std::string message;
  // A value of the wrong type: nothing is sent.
  EXPECT_EQ(code_of([&] {
              cql::execute(connection(), {insert, {context, std::string("b"), std::string("five"), now_ms()}},
                           {cql::Consistency::kQuorum, false});
            }),
            ErrorCode::kInvalidArgument);
  // Text that is not UTF-8 never reaches the bridge.
  EXPECT_EQ(code_of([&] {
              cql::execute(connection(), {insert, {context, std::string("\xff"), std::int64_t{1}, now_ms()}},
                           {cql::Consistency::kQuorum, false});
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([&] { cql::execute(connection(), {"SELEC 1", {}}); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of(
                [&] {
                  cql::execute(connection(), {"SELECT x FROM " + table("no_such_table"), {}});
                },
                &message),
            ErrorCode::kInvalidArgument);
  EXPECT_NE(message.find("schema apply"), std::string::npos) << message;
  EXPECT_EQ(code_of([&] { cql::batch(connection(), {}); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([&] { cql::applied({}); }), ErrorCode::kInternal);
}

TEST(ScyllaFeedRead, EmptyFeed) {
  SKIP_WITHOUT_CLUSTER();
  const std::string context = fresh_context("feedempty");
  const FeedPage page = read(context, 0, 10, true);
  EXPECT_TRUE(page.entries.empty());
  EXPECT_EQ(page.last_position, 0);
  EXPECT_EQ(read(context, 500, 10).last_position, 500) << "at the head, last_position is `after`";
  const std::int64_t far = std::numeric_limits<std::int64_t>::max();
  EXPECT_EQ(read(context, far, 10).last_position, far);
  EXPECT_EQ(cluster()->feed_head(context), 0);
  const FeedStatus status = cluster()->feed_status(context);
  EXPECT_EQ(status.head, 0);
  EXPECT_TRUE(status.checkpoints.empty());
  EXPECT_FALSE(status.relay.has_value());
}

TEST(ScyllaFeedRead, BadOptionsAreInvalid) {
  SKIP_WITHOUT_CLUSTER();
  EXPECT_EQ(code_of([] { read("ctx", -1, 10); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([] { read("ctx", 0, 0); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([] { read("ctx", 0, 100001); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([] { read("", 0, 10); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([] { cluster()->feed_head(""); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([] { cluster()->feed_status("\xff"); }), ErrorCode::kInvalidArgument);
}

TEST(ScyllaFeedRead, PagesCrossTheBucketBoundary) {
  SKIP_WITHOUT_CLUSTER();
  const BoundaryFeed feed;
  const auto& first = BoundaryFeed::kFirst;
  const auto& last = BoundaryFeed::kLast;

  FeedPage all = read(feed.context, first - 1, 100);
  EXPECT_EQ(positions(all), range(first, last));
  EXPECT_EQ(all.last_position, last);
  for (std::size_t i = 0; i < all.entries.size(); ++i) {
    const RecordedEvent& e = all.entries[i].event;
    const Ref& r = feed.published[i];
    EXPECT_EQ(e.stream, r.stream);
    EXPECT_EQ(e.version, r.version);
    EXPECT_EQ(e.event_id, r.event_id);
    EXPECT_EQ(e.event_type, r.event_type);
    EXPECT_EQ(e.timestamp, r.timestamp);
    EXPECT_FALSE(e.data.has_value()) << "without with_data";
  }
  // Pages of every size from every start cover the feed with no hole and no repeat.
  for (std::uint32_t limit : {1u, 2u, 3u, 5u, 7u, 16u}) {
    std::vector<std::int64_t> seen;
    std::int64_t after = first - 1;
    for (int pages = 0; pages < 100; ++pages) {
      const FeedPage page = read(feed.context, after, limit);
      ASSERT_LE(page.entries.size(), limit);
      if (page.entries.empty()) {
        EXPECT_EQ(page.last_position, after);
        break;
      }
      const auto p = positions(page);
      seen.insert(seen.end(), p.begin(), p.end());
      EXPECT_EQ(page.last_position, p.back());
      after = page.last_position;
    }
    EXPECT_EQ(seen, range(first, last)) << "limit " << limit;
  }
  // Exactly at the boundary.
  EXPECT_EQ(positions(read(feed.context, kFeedBucketSize - 2, 2)), range(kFeedBucketSize - 1, kFeedBucketSize));
  EXPECT_EQ(positions(read(feed.context, kFeedBucketSize - 1, 3)), range(kFeedBucketSize, kFeedBucketSize + 2));
  EXPECT_EQ(positions(read(feed.context, kFeedBucketSize, 2)), range(kFeedBucketSize + 1, kFeedBucketSize + 2));
  EXPECT_EQ(read(feed.context, last, 10).last_position, last);
  EXPECT_TRUE(read(feed.context, last, 10).entries.empty());
}

TEST(ScyllaFeedRead, WithDataFetchesPayloads) {
  SKIP_WITHOUT_CLUSTER();
  const BoundaryFeed feed;
  const FeedPage page = read(feed.context, BoundaryFeed::kFirst - 1, 100, true);
  ASSERT_EQ(page.entries.size(), feed.published.size());
  std::vector<RecordedEvent> orders = cluster()->read_all(feed.orders[0].stream);
  std::vector<RecordedEvent> invoices = cluster()->read_all(feed.invoices[0].stream);
  for (const FeedEntry& entry : page.entries) {
    const RecordedEvent& e = entry.event;
    const auto& stored = e.stream.aggregate_type == "order" ? orders : invoices;
    ASSERT_GE(e.version, 1);
    ASSERT_LE(e.version, static_cast<std::int64_t>(stored.size()));
    const RecordedEvent& want = stored[e.version - 1];
    EXPECT_EQ(e.event_id, want.event_id);
    EXPECT_EQ(e.data, want.data) << "position " << entry.position;
    EXPECT_EQ(e.metadata, want.metadata) << "position " << entry.position;
    EXPECT_TRUE(e.data.has_value());
  }
  // A page that starts mid-stream and crosses the boundary.
  const FeedPage part = read(feed.context, kFeedBucketSize - 2, 5, true);
  ASSERT_EQ(positions(part), range(kFeedBucketSize - 1, kFeedBucketSize + 3));
  for (const FeedEntry& entry : part.entries) EXPECT_TRUE(entry.event.data.has_value()) << entry.position;
}

// A repeated event (a relay that died before recording its progress publishes it again) gets its
// data too; a page of more than 1,000 consecutive versions of one stream is read in several
// range reads.
TEST(ScyllaFeedRead, WithDataForDuplicatesAndLongRuns) {
  SKIP_WITHOUT_CLUSTER();
  const std::string context = fresh_context("feedlong");
  std::vector<Ref> refs = append_stream(context, "order", 1000);
  const std::vector<Ref> more = append_stream(context, "invoice", 3);
  // The order stream grows past 1,000 events (one append holds at most 1,000).
  std::vector<EventData> tail;
  for (int i = 0; i < 300; ++i)
    tail.push_back(EventData{Uuid::random(), "Happened", "{\"t\":" + std::to_string(i) + "}", {}, now_ms()});
  cluster()->append(refs[0].stream, ExpectedVersion::exact(1000), tail);
  for (int i = 0; i < 300; ++i)
    refs.push_back(Ref{refs[0].stream, 1001 + i, *tail[i].event_id, "Happened", *tail[i].timestamp});
  std::vector<Ref> published = {more[0], refs[0], more[1], refs[1], refs[0], more[1]};
  published.insert(published.end(), refs.begin() + 2, refs.end());
  published.push_back(more[2]);
  // In batches of 100 (a logged batch of all of them would pass Cassandra's batch size limit).
  for (std::size_t i = 0; i < published.size(); i += 100)
    publish(context, 1 + static_cast<std::int64_t>(i),
            {published.begin() + static_cast<std::ptrdiff_t>(i),
             published.begin() + static_cast<std::ptrdiff_t>(std::min(i + 100, published.size()))});
  const FeedPage page = read(context, 0, 5000, true);
  ASSERT_EQ(page.entries.size(), published.size());
  EXPECT_EQ(page.last_position, static_cast<std::int64_t>(published.size()));
  const std::vector<RecordedEvent> orders = cluster()->read_all(refs[0].stream);
  ASSERT_EQ(orders.size(), 1300u);
  for (const FeedEntry& entry : page.entries) {
    const RecordedEvent& e = entry.event;
    ASSERT_TRUE(e.data.has_value()) << "position " << entry.position;
    if (e.stream == refs[0].stream) {
      EXPECT_EQ(e.data, orders[e.version - 1].data) << "position " << entry.position;
    }
  }
  EXPECT_EQ(page.entries[4].event.event_id, refs[0].event_id) << "the repeat";
  EXPECT_EQ(page.entries[4].event.data, page.entries[1].event.data);
}

TEST(ScyllaFeedRead, FiltersSkipButTheCheckpointAdvances) {
  SKIP_WITHOUT_CLUSTER();
  const BoundaryFeed feed;
  FeedFilter invoices;
  invoices.aggregate_types = {"invoice"};
  const FeedPage page = read(feed.context, BoundaryFeed::kFirst - 1, 100, true, invoices);
  EXPECT_EQ(page.entries.size(), feed.invoices.size());
  for (const FeedEntry& e : page.entries) {
    EXPECT_EQ(e.event.stream.aggregate_type, "invoice");
    EXPECT_TRUE(e.event.data.has_value());
  }
  EXPECT_EQ(page.last_position, BoundaryFeed::kLast) << "the page covers the skipped entries too";

  FeedFilter placed;
  placed.event_types = {"OrderPlaced"};
  EXPECT_EQ(read(feed.context, BoundaryFeed::kFirst - 1, 100, false, placed).entries.size(), feed.orders.size());

  FeedFilter nothing;
  nothing.event_types = {"NeverHappened"};
  const FeedPage none = read(feed.context, BoundaryFeed::kFirst - 1, 4, true, nothing);
  EXPECT_TRUE(none.entries.empty());
  EXPECT_EQ(none.last_position, BoundaryFeed::kFirst + 3) << "a filtered-out page still moves the checkpoint";
}

TEST(ScyllaFeedRead, AMissingEventIsCorruptionOnlyWithData) {
  SKIP_WITHOUT_CLUSTER();
  const std::string context = fresh_context("feedbad");
  std::vector<Ref> refs = append_stream(context, "order", 2);
  Ref ghost = refs[0];
  ghost.version = 7;  // the stream has 2 events
  Ref other = refs[1];
  other.event_id = Uuid::random();  // another event than the stored one
  publish(context, 1, {refs[0], ghost});
  std::string message;
  EXPECT_EQ(code_of([&] { read(context, 0, 10, true); }, &message), ErrorCode::kCorruption);
  EXPECT_NE(message.find("position 2"), std::string::npos) << message;
  EXPECT_EQ(read(context, 0, 10, false).entries.size(), 2u);

  const std::string context2 = fresh_context("feedbad");
  std::vector<Ref> refs2 = append_stream(context2, "order", 2);
  refs2[1].event_id = Uuid::random();
  publish(context2, 1, refs2);
  EXPECT_EQ(code_of([&] { read(context2, 0, 10, true); }, &message), ErrorCode::kCorruption);
  EXPECT_NE(message.find("event_store holds event"), std::string::npos) << message;
}

TEST(ScyllaFeedHead, FoundFromAnyHint) {
  SKIP_WITHOUT_CLUSTER();
  const BoundaryFeed feed;
  // No relay row: from bucket 0 (full) into bucket 1.
  EXPECT_EQ(cluster()->feed_head(feed.context), BoundaryFeed::kLast);
  // A hint in the right bucket, behind the head, ahead of it (an empty bucket: back), far ahead.
  for (std::int64_t hint : {BoundaryFeed::kLast, std::int64_t{5}, kFeedBucketSize + 1, 3 * kFeedBucketSize + 7}) {
    set_relay_row(feed.context, hint, std::chrono::seconds(10));
    EXPECT_EQ(cluster()->feed_head(feed.context), BoundaryFeed::kLast) << "hint " << hint;
  }
  // A head exactly at a bucket's end.
  const std::string context = fresh_context("feedend");
  const std::vector<Ref> refs = append_stream(context, "order", 4);
  publish(context, kFeedBucketSize - 3, refs);
  EXPECT_EQ(cluster()->feed_head(context), kFeedBucketSize);
  set_relay_row(context, 2 * kFeedBucketSize, std::chrono::seconds(10));
  EXPECT_EQ(cluster()->feed_head(context), kFeedBucketSize);
  set_relay_row(context, 1, std::chrono::seconds(10));
  EXPECT_EQ(cluster()->feed_head(context), kFeedBucketSize);
  const FeedPage page = read(context, kFeedBucketSize - 4, 100);
  EXPECT_EQ(positions(page), range(kFeedBucketSize - 3, kFeedBucketSize));
  set_relay_row(context, std::numeric_limits<std::int64_t>::max(), std::chrono::seconds(10));
  EXPECT_EQ(cluster()->feed_head(context), kFeedBucketSize) << "a hint far ahead: bisected back";
}

// Far from the hint: buckets 0..40 full (only their static heads are written here, which the
// search reads as it reads the last row), bucket 41 partly. Without a hint the search gallops
// forward from bucket 0; from a hint far ahead it bisects back; both in a few reads.
TEST(ScyllaFeedHead, FoundFarFromTheHint) {
  SKIP_WITHOUT_CLUSTER();
  const std::string context = fresh_context("feedfar");
  for (std::int64_t bucket = 0; bucket <= 41; ++bucket) {
    const std::int64_t head = bucket < 41 ? feed_bucket_end(bucket) : feed_bucket_end(40) + 5;
    cql::execute(connection(), {"UPDATE " + table("feed") + " SET head = ? WHERE bounded_context = ? AND bucket = ?",
                                {head, context, bucket}});
  }
  const std::int64_t want = feed_bucket_end(40) + 5;
  EXPECT_EQ(cluster()->feed_head(context), want);
  for (std::int64_t hint : {std::int64_t{1}, feed_bucket_end(17), want, want + 1, std::int64_t{1} << 40}) {
    set_relay_row(context, hint, std::chrono::seconds(10));
    EXPECT_EQ(cluster()->feed_head(context), want) << "hint " << hint;
  }
  // Bucket 41 full too, 42 empty: the head is bucket 41's end.
  cql::execute(connection(), {"UPDATE " + table("feed") + " SET head = ? WHERE bounded_context = ? AND bucket = ?",
                              {feed_bucket_end(41), context, std::int64_t{41}}});
  EXPECT_EQ(cluster()->feed_head(context), feed_bucket_end(41));
  set_relay_row(context, 0, std::chrono::seconds(10));
  EXPECT_EQ(cluster()->feed_head(context), feed_bucket_end(41));
}

TEST(ScyllaFeedCheckpoints, ForwardOnly) {
  SKIP_WITHOUT_CLUSTER();
  const std::string context = fresh_context("feedcp");
  EXPECT_EQ(cluster()->load_checkpoint(context, "projector"), std::nullopt);
  const Timestamp before = now_ms();
  EXPECT_EQ(cluster()->save_checkpoint(context, "projector", 10), 10);
  auto loaded = cluster()->load_checkpoint(context, "projector");
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->name, "projector");
  EXPECT_EQ(loaded->position, 10);
  EXPECT_GE(loaded->updated, before);
  EXPECT_EQ(cluster()->save_checkpoint(context, "projector", 5), 10) << "a save below keeps the stored one";
  EXPECT_EQ(cluster()->save_checkpoint(context, "projector", 10), 10);
  EXPECT_EQ(cluster()->load_checkpoint(context, "projector")->position, 10);
  EXPECT_EQ(cluster()->save_checkpoint(context, "projector", 70000), 70000);
  EXPECT_EQ(cluster()->save_checkpoint(context, "other", 0), 0);
  EXPECT_EQ(cluster()->load_checkpoint(context, "other")->position, 0);
  EXPECT_EQ(cluster()->load_checkpoint(fresh_context("feedcp"), "projector"), std::nullopt) << "per context";

  EXPECT_EQ(code_of([&] { cluster()->save_checkpoint(context, "projector", -1); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([&] { cluster()->save_checkpoint(context, "", 1); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([&] { cluster()->save_checkpoint("", "x", 1); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([&] { cluster()->load_checkpoint(context, std::string(300, 'n')); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(cluster()->load_checkpoint(context, "projector")->position, 70000) << "bad saves wrote nothing";

  // A row without a position (written by someone else) is taken over.
  cql::execute(connection(), {"INSERT INTO " + table("feed_checkpoints") +
                                  " (bounded_context, name, updated) "
                                  "VALUES (?, ?, ?)",
                              {context, std::string("bare"), now_ms()}});
  EXPECT_EQ(cluster()->load_checkpoint(context, "bare"), std::nullopt);
  EXPECT_EQ(cluster()->save_checkpoint(context, "bare", 3), 3);
  EXPECT_EQ(cluster()->load_checkpoint(context, "bare")->position, 3);
}

// Savers race on one name (a new one: the first saves race to insert it), each with rising
// positions. Every answer is at least the saver's own position, each saver's answers never go
// down, and the stored checkpoint ends at the highest position saved.
TEST(ScyllaFeedCheckpoints, ConcurrentSaversOnlyMoveItForward) {
  SKIP_WITHOUT_CLUSTER();
  const std::string context = fresh_context("feedcpr");
  constexpr int kSavers = 6;
  constexpr int kSaves = 15;
  std::atomic<std::int64_t> highest{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kSavers; ++t) {
    threads.emplace_back([&, t] {
      std::int64_t last_answer = 0;
      for (int i = 0; i < kSaves; ++i) {
        const std::int64_t position = 1 + i * kSavers + ((t * 7 + i * 3) % kSavers);
        try {
          const std::int64_t answer = cluster()->save_checkpoint(context, "shared", position);
          std::int64_t seen = highest.load();
          while (seen < position && !highest.compare_exchange_weak(seen, position)) {
          }
          if (answer < position || answer < last_answer) {
            ADD_FAILURE() << "saver " << t << " saved " << position << " and got " << answer << " after "
                          << last_answer;
          }
          last_answer = answer;
        } catch (const Error& e) {
          ++failures;
          ADD_FAILURE() << "saver " << t << ": " << e.what();
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_TRUE(cluster()->load_checkpoint(context, "shared").has_value());
  EXPECT_EQ(cluster()->load_checkpoint(context, "shared")->position, highest.load());
}

TEST(ScyllaFeedStatus, HeadCheckpointsAndLease) {
  SKIP_WITHOUT_CLUSTER();
  const BoundaryFeed feed;
  cluster()->save_checkpoint(feed.context, "b-reader", 65531);
  cluster()->save_checkpoint(feed.context, "a-reader", 12);
  FeedStatus status = cluster()->feed_status(feed.context);
  EXPECT_EQ(status.head, BoundaryFeed::kLast);
  ASSERT_EQ(status.checkpoints.size(), 2u);
  EXPECT_EQ(status.checkpoints[0].name, "a-reader") << "by name";
  EXPECT_EQ(status.checkpoints[0].position, 12);
  EXPECT_EQ(status.checkpoints[1].name, "b-reader");
  EXPECT_EQ(status.checkpoints[1].position, 65531);
  EXPECT_GT(status.checkpoints[1].updated, Timestamp{});
  EXPECT_FALSE(status.relay.has_value()) << "no relay ever ran";

  set_relay_row(feed.context, BoundaryFeed::kLast, std::chrono::seconds(30), "host-a:42:xyz", 7);
  status = cluster()->feed_status(feed.context);
  ASSERT_TRUE(status.relay.has_value());
  EXPECT_EQ(status.relay->owner, "host-a:42:xyz");
  EXPECT_EQ(status.relay->epoch, 7);
  EXPECT_TRUE(status.relay->live);
  EXPECT_GT(status.relay->expires, now_ms());

  set_relay_row(feed.context, BoundaryFeed::kLast, -std::chrono::seconds(1), "host-b:43:xyz", 8);
  status = cluster()->feed_status(feed.context);
  ASSERT_TRUE(status.relay.has_value());
  EXPECT_EQ(status.relay->owner, "host-b:43:xyz");
  EXPECT_FALSE(status.relay->live) << "an expired lease";
  EXPECT_EQ(status.head, BoundaryFeed::kLast);

  // A relay that gave its lease up (no owner, no expiry): still reported, not live.
  cql::execute(connection(), {"UPDATE " + table("feed_relay") +
                                  " SET owner = null, lease_expires = null WHERE "
                                  "bounded_context = ?",
                              {feed.context}});
  status = cluster()->feed_status(feed.context);
  ASSERT_TRUE(status.relay.has_value());
  EXPECT_EQ(status.relay->owner, "");
  EXPECT_EQ(status.relay->epoch, 8);
  EXPECT_FALSE(status.relay->live);
}

}  // namespace
}  // namespace eventstore::testing

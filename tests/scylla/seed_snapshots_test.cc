// Snapshots on the cluster when rows come from elsewhere: the seed's library (plain INSERTs in a
// logged batch, "" as metadata, client-side write timestamps), damaged rows, and a snapshot above
// the stream's head (tables restored from backups taken at different times). Issue 10 items 5, 9
// and 10; docs/scylla.md, "Sharing streams with the seed's library".
#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "backend_store.h"

namespace eventstore::testing {
namespace {

// A snapshot row exactly as the seed's AggregateSnapshot.Store writes it: an INSERT of all seven
// columns in a logged batch, metadata "", the write timestamp from the client's clock (gocql's
// default), here `clock_ahead` ahead of ours.
void seed_writes_snapshot(const StreamId& stream, std::int64_t version, const std::string& data,
                          std::chrono::seconds clock_ahead = std::chrono::seconds(0)) {
  using namespace std::chrono;
  const auto client_now = system_clock::now() + clock_ahead;
  const auto write_us = duration_cast<microseconds>(client_now.time_since_epoch()).count();
  const auto timestamp_ms = duration_cast<milliseconds>(client_now.time_since_epoch()).count();
  detail::execute_statement(
      *cluster(), "BEGIN BATCH USING TIMESTAMP " + std::to_string(write_us) + " INSERT INTO " + keyspace() +
                      ".aggregate_snapshot (bounded_context, aggregate_id, aggregate_type, snapshot_data, "
                      "snapshot_version, snapshot_timestamp, snapshot_metadata) VALUES ('" +
                      stream.bounded_context + "', " + stream.aggregate_id.to_string() + ", '" + stream.aggregate_type +
                      "', '" + data + "', " + std::to_string(version) + ", " + std::to_string(timestamp_ms) +
                      ", ''); APPLY BATCH");
}

void set_snapshot_column(const StreamId& stream, const std::string& assignment) {
  detail::execute_statement(*cluster(), "UPDATE " + keyspace() + ".aggregate_snapshot SET " + assignment +
                                            " WHERE bounded_context = '" + stream.bounded_context +
                                            "' AND aggregate_id = " + stream.aggregate_id.to_string() +
                                            " AND aggregate_type = '" + stream.aggregate_type + "'");
}

Snapshot ours(std::int64_t version) { return Snapshot{version, R"({"by":"us"})", std::nullopt, now_ms()}; }

// Item 9: the seed's "" metadata reads as none, as an absent value does.
TEST(ScyllaSeedSnapshots, TheSeedsEmptyMetadataReadsAsNone) {
  SKIP_WITHOUT_CLUSTER();
  const StreamId stream = fresh_stream("seedsnap");
  cluster()->append(stream, ExpectedVersion::no_stream(), events(3));
  seed_writes_snapshot(stream, 2, R"({"status":"open"})");
  const auto loaded = cluster()->load_snapshot(stream);
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->version, 2);
  EXPECT_EQ(loaded->data, R"({"status":"open"})");
  EXPECT_FALSE(loaded->metadata.has_value()) << "metadata: '" << *loaded->metadata << "'";
}

// Item 9: the cluster reader checks a snapshot row as the SQLite reader does, and skips a
// damaged one (the aggregate then replays from version 1) instead of returning it.
TEST(ScyllaSeedSnapshots, DamagedSnapshotRowsAreSkipped) {
  SKIP_WITHOUT_CLUSTER();
  const char* damages[] = {"snapshot_data = 'not json'", "snapshot_data = null", "snapshot_timestamp = null",
                           "snapshot_metadata = '[1]'", "snapshot_version = 0"};
  for (const char* damage : damages) {
    const StreamId stream = fresh_stream("damaged");
    cluster()->append(stream, ExpectedVersion::no_stream(), events(2));
    ASSERT_TRUE(cluster()->save_snapshot(stream, ours(2)).stored);
    set_snapshot_column(stream, damage);
    EXPECT_FALSE(cluster()->load_snapshot(stream).has_value()) << damage;
  }
}

// Item 10: the seed's writer with a clock ahead of ours shadows our later (Paxos) write: it is
// not reported as stored, and the store says which version it holds.
TEST(ScyllaSeedSnapshots, AWriteShadowedByTheSeedsClockIsNotReportedAsStored) {
  SKIP_WITHOUT_CLUSTER();
  const StreamId stream = fresh_stream("shadow");
  cluster()->append(stream, ExpectedVersion::no_stream(), events(5));
  seed_writes_snapshot(stream, 2, R"({"by":"seed"})", std::chrono::hours(1));
  const SnapshotSaveResult saved = cluster()->save_snapshot(stream, ours(5));
  EXPECT_FALSE(saved.stored);
  EXPECT_EQ(saved.latest_version, 2);
  EXPECT_EQ(cluster()->load_snapshot(stream)->version, 2);
}

// Item 5: a snapshot above the head is refused, and one stored above the head (by a restore)
// is replaced by a correct one.
TEST(ScyllaSeedSnapshots, ASnapshotAboveTheHeadIsRefusedAndAStoredOneIsReplaced) {
  SKIP_WITHOUT_CLUSTER();
  const StreamId stream = fresh_stream("abovehead");
  cluster()->append(stream, ExpectedVersion::no_stream(), events(1));
  try {
    cluster()->save_snapshot(stream, ours(1000));
    ADD_FAILURE() << "a snapshot above the head was stored";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
  }
  EXPECT_FALSE(cluster()->load_snapshot(stream).has_value());
  seed_writes_snapshot(stream, 1000, R"({"restored":true})");
  const SnapshotSaveResult saved = cluster()->save_snapshot(stream, ours(1));
  EXPECT_TRUE(saved.stored);
  EXPECT_EQ(saved.latest_version, 1);
  EXPECT_EQ(cluster()->load_snapshot(stream)->version, 1);
}

}  // namespace
}  // namespace eventstore::testing

// Tests of the sqlite:PATH backend's file: its layout, reopening it, a file that is locked,
// read-only, corrupt, foreign or newer, the options in the path, and damaged rows.
#include "sqlite_test_support.h"

#include <sqlite3.h>

#include <gtest/gtest.h>

namespace sqlite_test {
namespace {

TEST(SqliteStore, CreatesTheSeedTablesInWalMode) {
  TempDir dir;
  auto store = open(dir.file());
  EXPECT_EQ(store->describe(), "sqlite:" + dir.file());
  Raw raw(dir.file());
  EXPECT_EQ(raw.one("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(raw.one("PRAGMA application_id"), std::to_string(0x45565354));
  EXPECT_EQ(raw.one("PRAGMA user_version"), "3");
  std::vector<std::string> columns;
  for (const std::string& row : raw.rows("SELECT name FROM pragma_table_info('event_store')")) columns.push_back(row);
  EXPECT_EQ(columns,
            (std::vector<std::string>{"bounded_context", "aggregate_id", "aggregate_type", "event_version", "event_id",
                                      "event_type", "event_data", "event_timestamp", "event_metadata"}));
  columns.clear();
  for (const std::string& row : raw.rows("SELECT name FROM pragma_table_info('aggregate_snapshot')"))
    columns.push_back(row);
  EXPECT_EQ(columns, (std::vector<std::string>{"bounded_context", "aggregate_id", "aggregate_type", "snapshot_data",
                                               "snapshot_version", "snapshot_timestamp", "snapshot_metadata"}));
}

TEST(SqliteStore, StoresReadableRows) {
  TempDir dir;
  auto store = open(dir.file());
  const es::StreamId stream = stream_of();
  es::EventData e = event("Created", R"({"a":1})");
  e.metadata = R"({"user":"u"})";
  e.timestamp = es::Timestamp(std::chrono::milliseconds(1700000000123));
  const es::AppendResult result = store->append(stream, es::ExpectedVersion::no_stream(), {e});
  Raw raw(dir.file());
  EXPECT_EQ(raw.one("SELECT bounded_context, aggregate_id, aggregate_type, event_version, event_id, event_type, "
                    "event_data, event_timestamp, event_metadata FROM event_store"),
            "sales|" + stream.aggregate_id.to_string() + "|Order|1|" + result.event_ids[0].to_string() +
                "|Created|{\"a\":1}|1700000000123|{\"user\":\"u\"}");
}

TEST(SqliteStore, ReopeningKeepsEventsAndSnapshots) {
  TempDir dir;
  const es::StreamId stream = stream_of();
  es::AppendResult first;
  {
    auto store = open(dir.file());
    first = store->append(stream, es::ExpectedVersion::no_stream(), {event(), event("Paid")});
    store->save_snapshot(stream, es::Snapshot{2, R"({"state":2})", std::nullopt, es::now_ms()});
  }
  auto store = open(dir.file());
  EXPECT_EQ(store->head(stream), 2);
  const auto events = store->read_all(stream);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].event_id, first.event_ids[0]);
  EXPECT_EQ(events[1].event_type, "Paid");
  const auto snapshot = store->load_snapshot(stream);
  ASSERT_TRUE(snapshot);
  EXPECT_EQ(snapshot->version, 2);
  EXPECT_EQ(snapshot->data, R"({"state":2})");
  // The append continues where it left off, and a retry of the first append is still idempotent.
  EXPECT_EQ(store->append(stream, es::ExpectedVersion::exact(2), {event()}).first_version, 3);
  std::vector<es::EventData> retry = {event(), event("Paid")};
  retry[0].event_id = first.event_ids[0];
  retry[1].event_id = first.event_ids[1];
  EXPECT_EQ(store->append(stream, es::ExpectedVersion::no_stream(), retry).first_version, 1);
  EXPECT_EQ(store->head(stream), 3);
}

TEST(SqliteStore, LockedFileIsUnavailableAndWritesNothing) {
  TempDir dir;
  auto store = open(dir.file(), "?busy_timeout=100");
  const es::StreamId stream = stream_of();
  Raw raw(dir.file());
  raw.exec("BEGIN EXCLUSIVE");
  raw.exec("INSERT INTO aggregate_snapshot VALUES ('x', 'y', 'z', '{}', 1, 0, NULL)");  // takes the write lock
  const es::Error error = error_of([&] { store->append(stream, es::ExpectedVersion::no_stream(), one_event()); });
  EXPECT_EQ(error.code(), es::ErrorCode::kUnavailable) << error.what();
  EXPECT_NE(std::string(error.what()).find(dir.file()), std::string::npos) << error.what();
  const es::Error snapshot_error = error_of([&] {
    store->save_snapshot(stream, es::Snapshot{1, "{}", std::nullopt, es::now_ms()});
  });
  EXPECT_EQ(snapshot_error.code(), es::ErrorCode::kUnavailable) << snapshot_error.what();
  // Reads still work while another connection writes (WAL).
  EXPECT_EQ(store->head(stream), 0);
  raw.exec("ROLLBACK");
  EXPECT_EQ(store->head(stream), 0);
  EXPECT_TRUE(store->read_all(stream).empty());
  EXPECT_FALSE(store->load_snapshot(stream));
  EXPECT_EQ(store->append(stream, es::ExpectedVersion::no_stream(), one_event()).first_version, 1);
}

TEST(SqliteStore, ReadOnlyFileIsUnauthorized) {
  TempDir dir;
  open(dir.file());  // creates it
  fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                  fs::perms::others_read | fs::perms::others_exec);
  for (const auto& entry : fs::directory_iterator(dir.path()))
    fs::permissions(entry.path(), fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  EXPECT_TRUE(as_unprivileged([&] { return open_fails_with(dir.file(), es::ErrorCode::kUnauthorized, dir.file()); }));
}

TEST(SqliteStore, ReadOnlyDirectoryIsUnauthorized) {
  TempDir dir;
  fs::permissions(dir.path(), fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                                  fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec);
  EXPECT_TRUE(as_unprivileged([&] { return open_fails_with(dir.file(), es::ErrorCode::kUnauthorized, dir.file()); }));
  EXPECT_FALSE(fs::exists(dir.file()));
}

// A writable store file in a directory where its -wal and -shm files cannot be created.
TEST(SqliteStore, StoreInReadOnlyDirectoryIsUnauthorized) {
  TempDir dir;
  open(dir.file());
  ASSERT_FALSE(fs::exists(dir.file() + "-wal"));  // removed at the last close
  fs::permissions(dir.file(), fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                                  fs::perms::group_write | fs::perms::others_read | fs::perms::others_write);
  fs::permissions(dir.path(), fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                                  fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec);
  EXPECT_TRUE(as_unprivileged([&] { return open_fails_with(dir.file(), es::ErrorCode::kUnauthorized, dir.file()); }));
}

TEST(SqliteStore, MissingDirectoryIsUnavailable) {
  TempDir dir;
  const std::string file = (dir.path() / "no-such-dir" / "events.db").string();
  EXPECT_TRUE(open_fails_with(file, es::ErrorCode::kUnavailable, file));
}

TEST(SqliteStore, GarbageFileIsCorruption) {
  TempDir dir;
  {
    std::ofstream out(dir.file(), std::ios::binary);
    for (int i = 0; i < 8192; ++i) out.put(static_cast<char>((i * 131 + 7) % 256));
  }
  EXPECT_TRUE(open_fails_with(dir.file(), es::ErrorCode::kCorruption, "is not an eventstore SQLite file"));
  {
    std::ofstream out(dir.file(), std::ios::binary | std::ios::trunc);
    out << "hello, I am a text file\n";
  }
  EXPECT_TRUE(open_fails_with(dir.file(), es::ErrorCode::kCorruption, "is not an eventstore SQLite file"));
}

TEST(SqliteStore, ForeignSqliteFileIsCorruptionAndLeftAlone) {
  TempDir dir;
  {
    Raw raw(dir.file());
    raw.exec("CREATE TABLE contacts (name TEXT); INSERT INTO contacts VALUES ('ada')");
  }
  EXPECT_TRUE(open_fails_with(dir.file(), es::ErrorCode::kCorruption, "not an eventstore SQLite file"));
  Raw raw(dir.file());
  EXPECT_EQ(raw.one("PRAGMA journal_mode"), "delete");  // not switched to WAL
  EXPECT_EQ(raw.one("SELECT count(*) FROM sqlite_schema"), "1");
}

TEST(SqliteStore, NewerSchemaIsRejected) {
  TempDir dir;
  open(dir.file());
  {
    Raw raw(dir.file());
    raw.exec("PRAGMA user_version = 99");
  }
  EXPECT_TRUE(open_fails_with(dir.file(), es::ErrorCode::kCorruption, "schema version 99"));
}

TEST(SqliteStore, EmptyFileBecomesAStore) {
  TempDir dir;
  { std::ofstream out(dir.file()); }
  auto store = open(dir.file());
  EXPECT_EQ(store->append(stream_of(), es::ExpectedVersion::any(), one_event()).first_version, 1);
}

TEST(SqliteStore, OptionsInThePath) {
  TempDir dir;
  auto store = open(dir.file(), "?synchronous=full&busy_timeout=50");
  EXPECT_EQ(store->describe(), "sqlite:" + dir.file() + "?synchronous=full&busy_timeout=50");
  EXPECT_EQ(store->append(stream_of(), es::ExpectedVersion::any(), one_event()).first_version, 1);
  EXPECT_EQ(error_of([&] { open(dir.file(), "?synchronous=sometimes"); }).code(), es::ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_of([&] { open(dir.file(), "?busy_timeout=-1"); }).code(), es::ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_of([&] { open(dir.file(), "?cache=huge"); }).code(), es::ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_of([&] { es::open_store("sqlite::memory:"); }).code(), es::ErrorCode::kInvalidArgument);
}

// Rows written by something else, damaged: reads fail with kCorruption instead of crashing.
TEST(SqliteStore, MalformedRowsAreCorruption) {
  TempDir dir;
  auto store = open(dir.file());
  Raw raw(dir.file());
  const std::string good_id = sql_quote(es::Uuid::random().to_string());
  struct Case {
    std::string name;
    std::string values;  // event_version, event_id, event_type, event_data, event_timestamp, event_metadata
  };
  const std::vector<Case> cases = {
      {"bad uuid", "1, 'not-a-uuid', 'Created', '{}', 0, NULL"},
      {"null event_id", "1, NULL, 'Created', '{}', 0, NULL"},
      {"null event_type", "1, " + good_id + ", NULL, '{}', 0, NULL"},
      {"data not JSON", "1, " + good_id + ", 'Created', '{oops', 0, NULL"},
      {"metadata not an object", "1, " + good_id + ", 'Created', '{}', 0, '[1]'"},
      {"metadata not JSON", "1, " + good_id + ", 'Created', '{}', 0, 'nope'"},
      {"timestamp not integer", "1, " + good_id + ", 'Created', '{}', 'yesterday', NULL"},
      {"gap at the start", "2, " + good_id + ", 'Created', '{}', 0, NULL"},
  };
  for (const Case& c : cases) {
    const es::StreamId stream = stream_of();
    raw.exec(
        "INSERT INTO event_store (bounded_context, aggregate_id, aggregate_type, event_version, event_id, "
        "event_type, event_data, event_timestamp, event_metadata) VALUES ('sales', " +
        sql_quote(stream.aggregate_id.to_string()) + ", 'Order', " + c.values + ")");
    const es::Error error = error_of([&] { store->read_all(stream); });
    EXPECT_EQ(error.code(), es::ErrorCode::kCorruption) << c.name << ": " << error.what();
  }
  // A hole in the middle of a stream.
  const es::StreamId holed = stream_of();
  for (int v : {1, 2, 4}) {
    raw.exec("INSERT INTO event_store VALUES ('sales', " + sql_quote(holed.aggregate_id.to_string()) + ", 'Order', " +
             std::to_string(v) + ", " + sql_quote(es::Uuid::random().to_string()) + ", 'Created', NULL, 0, NULL)");
  }
  EXPECT_EQ(error_of([&] { store->read_all(holed); }).code(), es::ErrorCode::kCorruption);
  es::ReadOptions backward;
  backward.direction = es::Direction::kBackward;
  EXPECT_EQ(error_of([&] { store->read_all(holed, backward); }).code(), es::ErrorCode::kCorruption);
  // Found by fuzz_sqlite_rows: a hole between two backward pages of one event each.
  const es::StreamId gapped = stream_of();
  for (int v : {2, 4}) {
    raw.exec("INSERT INTO event_store VALUES ('sales', " + sql_quote(gapped.aggregate_id.to_string()) + ", 'Order', " +
             std::to_string(v) + ", " + sql_quote(es::Uuid::random().to_string()) + ", 'Created', NULL, 0, NULL)");
  }
  backward.page_size = 1;
  EXPECT_EQ(error_of([&] { store->read_all(gapped, backward); }).code(), es::ErrorCode::kCorruption);
}

// Found by fuzz_sqlite_rows: a version that is not an integer, or one so large that version
// arithmetic would overflow, is corruption for head and append alike, not an internal error.
TEST(SqliteStore, DamagedVersionIsCorruption) {
  TempDir dir;
  auto store = open(dir.file());
  Raw raw(dir.file());
  for (const std::string version : {"'seven'", "9223372036854775807"}) {
    const es::StreamId stream = stream_of();
    raw.exec("INSERT INTO event_store VALUES ('sales', " + sql_quote(stream.aggregate_id.to_string()) + ", 'Order', " +
             version + ", " + sql_quote(es::Uuid::random().to_string()) + ", 'Created', NULL, 0, NULL)");
    EXPECT_EQ(error_of([&] { store->head(stream); }).code(), es::ErrorCode::kCorruption) << version;
    EXPECT_EQ(error_of([&] { store->append(stream, es::ExpectedVersion::any(), {event("Created")}); }).code(),
              es::ErrorCode::kCorruption)
        << version;
  }
}

// A damaged snapshot row is skipped with a warning (replay from the start), and a later save
// replaces it.
TEST(SqliteStore, DamagedSnapshotIsSkipped) {
  TempDir dir;
  auto store = open(dir.file());
  Raw raw(dir.file());
  std::vector<std::string> warnings;
  es::set_log_sink([&warnings](es::LogLevel, std::string_view message) { warnings.emplace_back(message); });
  const std::vector<std::string> rows = {"'not json', 3, 0, NULL", "'{}', NULL, 0, NULL", "'{}', 3, 'noon', NULL",
                                         "'{}', 3, 0, '\"text\"'"};
  for (const std::string& row : rows) {
    const es::StreamId stream = stream_of();
    store->append(stream, es::ExpectedVersion::no_stream(), {event(), event(), event(), event()});
    raw.exec("INSERT INTO aggregate_snapshot VALUES ('sales', " + sql_quote(stream.aggregate_id.to_string()) +
             ", 'Order', " + row + ")");
    EXPECT_FALSE(store->load_snapshot(stream)) << row;
    EXPECT_TRUE(store->save_snapshot(stream, es::Snapshot{4, R"({"ok":true})", std::nullopt, es::now_ms()}).stored)
        << row;
    ASSERT_TRUE(store->load_snapshot(stream)) << row;
    EXPECT_EQ(store->load_snapshot(stream)->data, R"({"ok":true})");
  }
  es::set_log_sink(nullptr);
  ASSERT_EQ(warnings.size(), rows.size());
  EXPECT_NE(warnings[0].find("snapshot_data that is missing or not JSON"), std::string::npos) << warnings[0];
}

// A snapshot row above the stream's head, as a restore of the two tables from backups taken at
// different times leaves it (issue 10, item 5): a load ignores it, and a correct snapshot
// replaces it although its version is lower.
TEST(SqliteStore, ASnapshotRowAboveTheHeadIsIgnoredAndReplaced) {
  TempDir dir;
  auto store = open(dir.file());
  es::AggregateStoreOptions options;
  options.snapshot_policy = es::never();
  es::AggregateStore<es::testing::Counter> counters(store, "sales", options);
  const es::Uuid id = es::Uuid::random();
  const es::StreamId stream = counters.stream_of(id);
  store->append(stream, es::ExpectedVersion::no_stream(), {event("Added", R"({"amount":1})")});
  Raw raw(dir.file());
  raw.exec("INSERT INTO aggregate_snapshot VALUES ('sales', " + sql_quote(id.to_string()) +
           ", 'Counter', '{\"total\":1000,\"adds\":1000,\"resets\":0}', 1000, 0, NULL)");
  ASSERT_EQ(store->load_snapshot(stream)->version, 1000);

  std::vector<std::string> warnings;
  es::set_log_sink([&warnings](es::LogLevel, std::string_view message) { warnings.emplace_back(message); });
  es::Aggregate<es::testing::Counter> loaded = counters.load(id);
  es::set_log_sink(nullptr);
  EXPECT_EQ(loaded.version(), 1);
  EXPECT_EQ(loaded.state().total, 1);
  EXPECT_EQ(counters.stats().snapshots_above_head, 1u);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("above the stream's head"), std::string::npos) << warnings[0];

  loaded.record(es::testing::Added{2});
  EXPECT_EQ(counters.save(loaded).append->next_expected_version, 2);
  const es::SnapshotSaveResult saved =
      store->save_snapshot(stream, es::Snapshot{2, R"({"total":3,"adds":2,"resets":0})", std::nullopt, es::now_ms()});
  EXPECT_TRUE(saved.stored);
  EXPECT_EQ(saved.latest_version, 2);
  const auto snapshot = store->load_snapshot(stream);
  ASSERT_TRUE(snapshot);
  EXPECT_EQ(snapshot->version, 2);
  EXPECT_EQ(counters.load(id).state().total, 3);
  EXPECT_EQ(counters.stats().snapshots_above_head, 1u);
}

}  // namespace
}  // namespace sqlite_test

// Tests of the sqlite:PATH backend beyond the conformance suite: the file itself (layout,
// reopening, locked, read-only, corrupt, foreign), group commit, several processes on one file,
// damaged rows and shutdown.
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "conformance/counter_aggregate.h"
#include "eventstore/log.h"
#include "eventstore/store.h"

namespace es = eventstore;
namespace fs = std::filesystem;

namespace {

// A fresh directory, removed (permissions restored first) when the test ends.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "es-sqlite-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ignored);
    for (const auto& entry : fs::recursive_directory_iterator(path_, ignored))
      fs::permissions(entry.path(), fs::perms::owner_all, fs::perm_options::add, ignored);
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }
  std::string file(const std::string& name = "events.db") const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

es::StreamId stream_of(std::string type = "Order") {
  return es::StreamId{"sales", std::move(type), es::Uuid::random()};
}

es::EventData event(std::string type = "Created", std::string data = R"({"n":1})") {
  es::EventData e;
  e.event_type = std::move(type);
  e.data = std::move(data);
  return e;
}

std::vector<es::EventData> one_event(es::Uuid id = es::Uuid::random()) {
  es::EventData e = event();
  e.event_id = id;
  return {e};
}

std::shared_ptr<es::Store> open(const std::string& file, const std::string& options = "") {
  return es::open_store("sqlite:" + file + options);
}

// The error `f` throws; a test failure and kInternal if it throws none.
es::Error error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const es::Error& e) {
    return e;
  }
  ADD_FAILURE() << "expected an eventstore::Error";
  return es::Error(es::ErrorCode::kInternal, "no error");
}

// A raw SQLite connection to poke at the file as another program would.
class Raw {
 public:
  explicit Raw(const std::string& file) {
    if (sqlite3_open(file.c_str(), &db_) != SQLITE_OK) ADD_FAILURE() << sqlite3_errmsg(db_);
    sqlite3_busy_timeout(db_, 5000);
  }
  Raw(const Raw&) = delete;
  Raw& operator=(const Raw&) = delete;
  ~Raw() { sqlite3_close(db_); }
  void exec(const std::string& sql) {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << (message ? message : "?");
      sqlite3_free(message);
    }
  }
  // Every row of a query, columns joined by '|'.
  std::vector<std::string> rows(const std::string& sql) {
    std::vector<std::string> out;
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db_);
      return out;
    }
    while (sqlite3_step(s) == SQLITE_ROW) {
      std::string row;
      for (int i = 0; i < sqlite3_column_count(s); ++i) {
        if (i) row += "|";
        const unsigned char* text = sqlite3_column_text(s, i);
        row += text ? reinterpret_cast<const char*>(text) : "NULL";
      }
      out.push_back(row);
    }
    sqlite3_finalize(s);
    return out;
  }
  std::string one(const std::string& sql) {
    auto r = rows(sql);
    return r.empty() ? "" : r.front();
  }

 private:
  sqlite3* db_ = nullptr;
};

std::string sql_quote(const std::string& text) { return "'" + text + "'"; }

// An event id unique to (process, i). Uuid::random() in a forked child continues the generator
// state it inherited from the parent, so children would produce the same ids.
es::Uuid fork_safe_id(int process, int i) {
  std::array<std::uint8_t, 16> bytes = es::Uuid::random().bytes();
  bytes[0] = static_cast<std::uint8_t>(process + 1);
  bytes[1] = static_cast<std::uint8_t>(i);
  bytes[2] = static_cast<std::uint8_t>(i >> 8);
  return es::Uuid(bytes);
}

// Runs `body` in a child process as the unprivileged user "nobody" when the test runs as root
// (root ignores file permissions); returns true if `body` returned true.
bool as_unprivileged(const std::function<bool()>& body) {
  if (geteuid() != 0) return body();
  const pid_t pid = fork();
  if (pid == 0) {
    bool ok = false;
    if (setgid(65534) == 0 && setuid(65534) == 0) {
      try {
        ok = body();
      } catch (...) {
        ok = false;
      }
    }
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// True if opening `file` fails with `code` and a message containing `needle`.
bool open_fails_with(const std::string& file, es::ErrorCode code, const std::string& needle) {
  try {
    open(file);
  } catch (const es::Error& e) {
    const std::string message = e.what();
    if (e.code() != code || message.find(needle) == std::string::npos) {
      std::fprintf(stderr, "got %s: %s\n", std::string(es::to_string(e.code())).c_str(), message.c_str());
      return false;
    }
    return true;
  }
  std::fprintf(stderr, "open of %s succeeded\n", file.c_str());
  return false;
}

// ---------------------------------------------------------------------------------------------

TEST(SqliteStore, CreatesTheSeedTablesInWalMode) {
  TempDir dir;
  auto store = open(dir.file());
  EXPECT_EQ(store->describe(), "sqlite:" + dir.file());
  Raw raw(dir.file());
  EXPECT_EQ(raw.one("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(raw.one("PRAGMA application_id"), std::to_string(0x45565354));
  EXPECT_EQ(raw.one("PRAGMA user_version"), "2");
  std::vector<std::string> columns;
  for (const std::string& row : raw.rows("SELECT name FROM pragma_table_info('event_store')")) columns.push_back(row);
  EXPECT_EQ(columns, (std::vector<std::string>{"bounded_context", "aggregate_id", "aggregate_type", "event_version",
                                               "event_id", "event_type", "event_data", "event_timestamp",
                                               "event_metadata"}));
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
  const es::Error snapshot_error =
      error_of([&] { store->save_snapshot(stream, es::Snapshot{1, "{}", std::nullopt, es::now_ms()}); });
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
    raw.exec("INSERT INTO event_store (bounded_context, aggregate_id, aggregate_type, event_version, event_id, "
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
    raw.exec("INSERT INTO event_store VALUES ('sales', " + sql_quote(stream.aggregate_id.to_string()) +
             ", 'Order', " + version + ", " + sql_quote(es::Uuid::random().to_string()) + ", 'Created', NULL, 0, NULL)");
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

// 256 appends in flight from one thread across 16 streams, each with its exact expected version:
// the writer commits them in groups, in submission order, and acknowledges every one.
TEST(SqliteStore, ManyInFlightAppendsFromOneThread) {
  TempDir dir;
  auto store = open(dir.file());
  constexpr int kStreams = 16;
  constexpr int kPerStream = 16;
  std::vector<es::StreamId> streams;
  for (int s = 0; s < kStreams; ++s) streams.push_back(stream_of());
  std::mutex mutex;
  std::condition_variable done;
  int pending = kStreams * kPerStream;
  std::vector<std::string> failures;
  std::map<es::StreamId, std::vector<es::Uuid>> submitted;
  for (int i = 0; i < kPerStream; ++i) {
    for (int s = 0; s < kStreams; ++s) {
      const es::Uuid id = es::Uuid::random();
      submitted[streams[s]].push_back(id);
      store->append_async(streams[s], es::ExpectedVersion::exact(i), one_event(id),
                          [&, i](es::Result<es::AppendResult> result) {
                            std::lock_guard lock(mutex);
                            if (!result.ok()) {
                              failures.push_back(result.error().what());
                            } else if (result.value().first_version != i + 1) {
                              failures.push_back("wrong version " + std::to_string(result.value().first_version));
                            }
                            if (--pending == 0) done.notify_all();
                          });
    }
  }
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(done.wait_for(lock, std::chrono::seconds(60), [&] { return pending == 0; }));
  }
  EXPECT_TRUE(failures.empty()) << failures.front();
  for (const es::StreamId& s : streams) {
    const auto events = store->read_all(s);
    ASSERT_EQ(events.size(), static_cast<std::size_t>(kPerStream));
    for (int v = 0; v < kPerStream; ++v) {
      EXPECT_EQ(events[static_cast<std::size_t>(v)].version, v + 1);
      EXPECT_EQ(events[static_cast<std::size_t>(v)].event_id, submitted[s][static_cast<std::size_t>(v)]);
    }
  }
}

// Checkpoints run on their own thread: with ~3,000 pages in the log, well under the 8,000 at
// which the writer would checkpoint itself, the database file grows while the store is open.
// And the log stays bounded under continuous writes: the writer checkpoints itself past 8,000
// pages; without that the log would hold all of the ~24,000 pages written here.
TEST(SqliteStore, CheckpointsRunBesideTheWriterAndBoundTheLog) {
  TempDir dir;
  auto store = open(dir.file());
  const std::string page_of_data = R"({"pad":")" + std::string(3500, 'x') + R"("})";
  const es::StreamId stream = stream_of();
  constexpr int kEventsPerAppend = 10;  // about 20 pages: each event takes a page and an overflow page
  std::uintmax_t largest_log = 0;
  int appended = 0;
  auto append_until = [&](int appends) {
    for (; appended < appends; ++appended) {
      std::vector<es::EventData> events(kEventsPerAppend, event("Padded", page_of_data));
      store->append(stream, es::ExpectedVersion::exact(appended * kEventsPerAppend), std::move(events));
      std::error_code ignored;
      largest_log = std::max(largest_log, fs::file_size(dir.file() + "-wal", ignored) + 0);
    }
  };
  append_until(150);
  std::uintmax_t database = 0;
  for (int waited_ms = 0; waited_ms < 10000 && database < 1000 * 4096; waited_ms += 20) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    database = fs::file_size(dir.file());
  }
  EXPECT_GE(database, 1000u * 4096) << "no checkpoint copied the log into the database while the store was open";
  append_until(1200);
  EXPECT_LE(largest_log, 8100u * (4096 + 24)) << "the WAL grew past the limit";
  EXPECT_EQ(store->head(stream), 1200 * kEventsPerAppend);
}

// In one group commit, a conflicting append rolls back only itself; an idempotent retry queued
// behind its original returns the original result.
TEST(SqliteStore, GroupCommitIsolatesConflictsAndRetries) {
  TempDir dir;
  auto store = open(dir.file());
  const es::StreamId a = stream_of();
  const es::StreamId b = stream_of();
  const es::Uuid a1 = es::Uuid::random();
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::optional<es::Result<es::AppendResult>>> results(5);
  int pending = 5;
  auto submit = [&](int slot, const es::StreamId& s, es::ExpectedVersion expected, std::vector<es::EventData> ev) {
    store->append_async(s, expected, std::move(ev), [&, slot](es::Result<es::AppendResult> r) {
      std::lock_guard lock(mutex);
      results[static_cast<std::size_t>(slot)].emplace(std::move(r));
      if (--pending == 0) cv.notify_all();
    });
  };
  std::vector<es::EventData> two = {event(), event("Paid")};  // partly bad: whole append fails
  submit(0, a, es::ExpectedVersion::no_stream(), one_event(a1));
  submit(1, a, es::ExpectedVersion::no_stream(), one_event());           // conflict at 1
  submit(2, b, es::ExpectedVersion::no_stream(), std::move(two));        // fine
  submit(3, a, es::ExpectedVersion::no_stream(), one_event(a1));         // retry of 0
  submit(4, b, es::ExpectedVersion::exact(5), one_event());              // conflict at 2
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return pending == 0; }));
  }
  ASSERT_TRUE(results[0]->ok());
  EXPECT_EQ(results[0]->value().first_version, 1);
  ASSERT_FALSE(results[1]->ok());
  EXPECT_EQ(results[1]->error().code(), es::ErrorCode::kVersionConflict);
  EXPECT_EQ(results[1]->error().current_version(), 1);
  ASSERT_TRUE(results[2]->ok());
  EXPECT_EQ(results[2]->value().next_expected_version, 2);
  ASSERT_TRUE(results[3]->ok());
  EXPECT_EQ(results[3]->value().first_version, 1);
  EXPECT_EQ(results[3]->value().event_ids, results[0]->value().event_ids);
  ASSERT_FALSE(results[4]->ok());
  EXPECT_EQ(results[4]->error().current_version(), 2);
  EXPECT_EQ(store->head(a), 1);
  EXPECT_EQ(store->head(b), 2);
}

// Several processes append to one stream of one file with expected versions; every process
// retries its conflicts. The stream ends contiguous, each event once, each process's in order.
TEST(SqliteStore, SeveralProcessesAppendToOneFile) {
  TempDir dir;
  const es::StreamId stream = stream_of();
  open(dir.file());  // create it (and WAL mode) before the children race
  constexpr int kProcesses = 4;
  constexpr int kAppends = 40;
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int code = 0;
      try {
        auto store = open(dir.file(), "?busy_timeout=10000");
        for (int i = 0; i < kAppends; ++i) {
          es::EventData e = event("Appended", "{\"process\":" + std::to_string(p) + ",\"i\":" + std::to_string(i) + "}");
          e.event_id = fork_safe_id(p, i);
          for (;;) {
            const std::int64_t head = store->head(stream);
            try {
              store->append(stream, es::ExpectedVersion::exact(head), {e});
              break;
            } catch (const es::Error& error) {
              if (error.code() != es::ErrorCode::kVersionConflict) throw;
            }
          }
        }
      } catch (...) {
        code = 1;
      }
      _exit(code);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  auto store = open(dir.file());
  const auto events = store->read_all(stream);
  ASSERT_EQ(events.size(), static_cast<std::size_t>(kProcesses * kAppends));
  std::set<es::Uuid> ids;
  std::map<int, int> next_i;
  for (std::size_t v = 0; v < events.size(); ++v) {
    EXPECT_EQ(events[v].version, static_cast<std::int64_t>(v + 1));
    ids.insert(events[v].event_id);
    const std::string& data = *events[v].data;
    const int p = data[11] - '0';
    const int i = std::stoi(data.substr(data.find("\"i\":") + 4));
    EXPECT_EQ(next_i[p]++, i) << "process " << p << " out of order";
  }
  EXPECT_EQ(ids.size(), events.size());
}

// A blocking append commits on the caller's thread only when nothing is queued: behind
// appends in flight it waits its turn, so exact versions issued in order all succeed; when
// several threads mix both forms, every append lands once.
TEST(SqliteStore, BlockingAppendKeepsItsPlaceBehindAppendsInFlight) {
  TempDir dir;
  auto store = open(dir.file());
  const es::StreamId stream = stream_of();
  std::atomic<int> failures{0};
  for (int round = 0; round < 20; ++round) {
    const int base = round * 51;
    for (int i = 0; i < 50; ++i)
      store->append_async(stream, es::ExpectedVersion::exact(base + i), one_event(),
                          [&](es::Result<es::AppendResult> r) { failures += r.ok() ? 0 : 1; });
    EXPECT_EQ(store->append(stream, es::ExpectedVersion::exact(base + 50), one_event()).first_version, base + 51);
  }
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(store->head(stream), 20 * 51);

  const es::StreamId shared = stream_of();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        if ((t + i) % 2 == 0) {
          store->append(shared, es::ExpectedVersion::any(), one_event());
        } else {
          std::promise<void> done;
          store->append_async(shared, es::ExpectedVersion::any(), one_event(), [&](es::Result<es::AppendResult> r) {
            failures += r.ok() ? 0 : 1;
            done.set_value();
          });
          done.get_future().wait();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  const auto events = store->read_all(shared);
  ASSERT_EQ(events.size(), 200u);
  std::set<es::Uuid> ids;
  for (std::size_t v = 0; v < events.size(); ++v) {
    EXPECT_EQ(events[v].version, static_cast<std::int64_t>(v + 1));
    ids.insert(events[v].event_id);
  }
  EXPECT_EQ(ids.size(), 200u);
}

TEST(SqliteStore, ManyThreadsAppendToOneStream) {
  TempDir dir;
  auto store = open(dir.file());
  const es::StreamId stream = stream_of();
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        try {
          store->append(stream, es::ExpectedVersion::any(), one_event());
        } catch (...) {
          ++failures;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  const auto events = store->read_all(stream);
  ASSERT_EQ(events.size(), 200u);
  for (std::size_t v = 0; v < events.size(); ++v) EXPECT_EQ(events[v].version, static_cast<std::int64_t>(v + 1));
}

TEST(SqliteStore, SnapshotsNeverGoBackwards) {
  TempDir dir;
  auto store = open(dir.file());
  const es::StreamId stream = stream_of();
  store->append(stream, es::ExpectedVersion::no_stream(), std::vector<es::EventData>(7, event()));
  auto save = [&](std::int64_t v) {
    return store->save_snapshot(stream, es::Snapshot{v, "{\"v\":" + std::to_string(v) + "}", R"({"m":1})", es::now_ms()});
  };
  EXPECT_TRUE(save(5).stored);
  const es::SnapshotSaveResult older = save(3);
  EXPECT_FALSE(older.stored);
  EXPECT_EQ(older.latest_version, 5);
  EXPECT_FALSE(save(5).stored);
  EXPECT_TRUE(save(7).stored);
  const auto loaded = store->load_snapshot(stream);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->version, 7);
  EXPECT_EQ(loaded->data, R"({"v":7})");
  EXPECT_EQ(loaded->metadata, R"({"m":1})");
}

TEST(SqliteStore, PagesAreKeysetBounded) {
  TempDir dir;
  auto store = open(dir.file());
  const es::StreamId stream = stream_of();
  std::vector<es::EventData> events;
  for (int i = 0; i < 25; ++i) events.push_back(event());
  store->append(stream, es::ExpectedVersion::no_stream(), events);
  es::ReadOptions options;
  options.page_size = 10;
  options.direction = es::Direction::kBackward;
  options.from = 22;
  options.limit = 15;
  auto cursor = store->read(stream, options);
  std::vector<std::size_t> sizes;
  std::vector<std::int64_t> versions;
  for (auto page = cursor->next_page(); !page.empty(); page = cursor->next_page()) {
    sizes.push_back(page.size());
    for (const auto& e : page) versions.push_back(e.version);
  }
  EXPECT_EQ(sizes, (std::vector<std::size_t>{10, 5}));
  ASSERT_EQ(versions.size(), 15u);
  EXPECT_EQ(versions.front(), 22);
  EXPECT_EQ(versions.back(), 8);
}

TEST(SqliteStore, CursorOutlivesTheStore) {
  TempDir dir;
  const es::StreamId stream = stream_of();
  std::unique_ptr<es::EventCursor> cursor;
  {
    auto store = open(dir.file());
    store->append(stream, es::ExpectedVersion::no_stream(), {event(), event(), event()});
    es::ReadOptions options;
    options.page_size = 2;
    cursor = store->read(stream, options);
  }
  EXPECT_EQ(cursor->next_page().size(), 2u);
  EXPECT_EQ(cursor->next_page().size(), 1u);
  EXPECT_TRUE(cursor->next_page().empty());
}

// Destroying the store with appends still queued completes every callback exactly once, and
// what was acknowledged is in the file.
TEST(SqliteStore, ClosingCompletesEveryCallback) {
  TempDir dir;
  const es::StreamId stream = stream_of();
  constexpr int kAppends = 1000;
  std::atomic<int> called{0};
  std::atomic<int> ok{0};
  std::atomic<int> other{0};
  {
    auto store = open(dir.file());
    for (int i = 0; i < kAppends; ++i) {
      store->append_async(stream, es::ExpectedVersion::any(), one_event(), [&](es::Result<es::AppendResult> r) {
        ++called;
        if (r.ok()) {
          ++ok;
        } else if (r.error().code() != es::ErrorCode::kUnavailable) {
          ++other;
        }
      });
    }
  }
  EXPECT_EQ(called.load(), kAppends);
  EXPECT_EQ(other.load(), 0);
  auto store = open(dir.file());
  EXPECT_EQ(store->head(stream), ok.load());
}

}  // namespace

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

// ---------------------------------------------------------------------------------------------
// The feed (docs/sqlite.md, "The feed")

namespace {

// The whole feed of `context`: each entry's "type/id/version", by position, checking that the
// positions are 1, 2, 3, ... and that the store's head is the last one.
std::vector<std::string> whole_feed(es::Store& store, const std::string& context, std::uint32_t page = 7) {
  std::vector<std::string> out;
  es::FeedReadOptions options;
  options.limit = page;
  options.with_data = false;
  for (;;) {
    const es::FeedPage p = store.read_feed(context, options);
    for (const es::FeedEntry& e : p.entries) {
      EXPECT_EQ(e.position, static_cast<std::int64_t>(out.size()) + 1);
      out.push_back(e.event.stream.aggregate_type + "/" + e.event.stream.aggregate_id.to_string() + "/" +
                    std::to_string(e.event.version));
    }
    if (p.last_position == options.after) break;
    options.after = p.last_position;
  }
  EXPECT_EQ(store.feed_head(context), static_cast<std::int64_t>(out.size()));
  return out;
}

std::string ref(const es::StreamId& stream, std::int64_t version) {
  return stream.aggregate_type + "/" + stream.aggregate_id.to_string() + "/" + std::to_string(version);
}

TEST(SqliteFeed, CreatesTheFeedTables) {
  TempDir dir;
  auto store = open(dir.file());
  const es::StreamId stream = stream_of();
  store->append(stream, es::ExpectedVersion::no_stream(), {event(), event("Paid")});
  store->save_checkpoint("sales", "projector", 2);
  Raw raw(dir.file());
  EXPECT_EQ(raw.rows("SELECT bounded_context, position, aggregate_type, aggregate_id, event_version "
                     "FROM event_feed_entries ORDER BY position"),
            (std::vector<std::string>{"sales|1|Order|" + stream.aggregate_id.to_string() + "|1",
                                      "sales|2|Order|" + stream.aggregate_id.to_string() + "|2"}));
  EXPECT_EQ(raw.one("SELECT bounded_context, name, position FROM feed_checkpoint"), "sales|projector|2");
}

// The JSON list of a feed row quotes the aggregate type.
TEST(SqliteFeed, AggregateTypesWithQuotesAndControlCharactersRoundTrip) {
  TempDir dir;
  auto store = open(dir.file());
  const es::StreamId stream = stream_of("Or\"de\\r\x01\xc3\xa9");
  store->append(stream, es::ExpectedVersion::no_stream(), {event()});
  const es::FeedPage page = store->read_feed("sales", {});
  ASSERT_EQ(page.entries.size(), 1u);
  EXPECT_EQ(page.entries[0].event.stream, stream);
  EXPECT_EQ(page.entries[0].event.data, R"({"n":1})");
}

TEST(SqliteFeed, CheckpointsSurviveReopeningAndOnlyMoveForward) {
  TempDir dir;
  {
    auto store = open(dir.file());
    EXPECT_EQ(store->save_checkpoint("sales", "projector", 5), 5);
  }
  auto store = open(dir.file());
  ASSERT_TRUE(store->load_checkpoint("sales", "projector").has_value());
  EXPECT_EQ(store->load_checkpoint("sales", "projector")->position, 5);
  EXPECT_EQ(store->save_checkpoint("sales", "projector", 3), 5);
  EXPECT_EQ(store->load_checkpoint("sales", "projector")->position, 5);
  EXPECT_FALSE(store->load_checkpoint("billing", "projector").has_value());
}

// A file of schema revision 1 (events, no feed) gets a feed at its first open: every stored
// event once, each stream in version order, streams interleaved by time.
TEST(SqliteFeed, BackfillsAFileWrittenBeforeTheFeed) {
  TempDir dir;
  const std::string file = dir.file();
  const es::StreamId a{"sales", "Order", es::Uuid::random()};
  const es::StreamId b{"sales", "Customer", es::Uuid::random()};
  const es::StreamId c{"billing", "Invoice", es::Uuid::random()};
  {
    Raw raw(file);
    raw.exec(
        "CREATE TABLE event_store (bounded_context TEXT NOT NULL, aggregate_id TEXT NOT NULL, "
        "aggregate_type TEXT NOT NULL, event_version INTEGER NOT NULL, event_id TEXT, event_type TEXT, "
        "event_data TEXT, event_timestamp INTEGER, event_metadata TEXT, "
        "PRIMARY KEY (bounded_context, aggregate_id, aggregate_type, event_version)) WITHOUT ROWID;"
        "CREATE TABLE aggregate_snapshot (bounded_context TEXT NOT NULL, aggregate_id TEXT NOT NULL, "
        "aggregate_type TEXT NOT NULL, snapshot_data TEXT, snapshot_version INTEGER, snapshot_timestamp INTEGER, "
        "snapshot_metadata TEXT, PRIMARY KEY (bounded_context, aggregate_id, aggregate_type)) WITHOUT ROWID;"
        "PRAGMA application_id = 1163285332; PRAGMA user_version = 1;");
    const auto insert = [&raw](const es::StreamId& s, int version, long long ms) {
      raw.exec("INSERT INTO event_store VALUES (" + sql_quote(s.bounded_context) + ", " +
               sql_quote(s.aggregate_id.to_string()) + ", " + sql_quote(s.aggregate_type) + ", " +
               std::to_string(version) + ", " + sql_quote(es::Uuid::random().to_string()) +
               ", 'Happened', '{}', " + std::to_string(ms) + ", NULL)");
    };
    insert(a, 1, 1000);
    insert(b, 1, 2000);
    insert(a, 2, 3000);
    insert(c, 1, 1500);
    // b's clock went backwards: version 2 still comes after version 1, with b's latest time.
    insert(b, 2, 500);
    insert(a, 3, 2500);
  }
  auto store = open(file);
  EXPECT_EQ(Raw(file).one("PRAGMA user_version"), "2");
  // By time: a1 (1000), b1 (2000), b2 (2000, after b1), a2 (3000), a3 (3000, after a2).
  EXPECT_EQ(whole_feed(*store, "sales", 2),
            (std::vector<std::string>{ref(a, 1), ref(b, 1), ref(b, 2), ref(a, 2), ref(a, 3)}));
  EXPECT_EQ(whole_feed(*store, "billing"), (std::vector<std::string>{ref(c, 1)}));
  // The feed continues after the backfilled positions, and a second open backfills nothing.
  store->append(b, es::ExpectedVersion::exact(2), {event()});
  store.reset();
  store = open(file);
  EXPECT_EQ(whole_feed(*store, "sales"),
            (std::vector<std::string>{ref(a, 1), ref(b, 1), ref(b, 2), ref(a, 2), ref(a, 3), ref(b, 3)}));
}

// Appends that fail leave no position, whether alone or in a group commit, and whether the
// failure is a conflict, an SQLite error between two of its inserts, or the feed's own insert
// (which fails the whole group: nothing of it is written).
TEST(SqliteFeed, FailedAppendsLeaveNoPosition) {
  TempDir dir;
  auto store = open(dir.file());
  {
    Raw raw(dir.file());
    raw.exec("CREATE TRIGGER poison BEFORE INSERT ON event_store WHEN NEW.event_type = 'Poison' "
             "BEGIN SELECT RAISE(ABORT, 'poisoned event'); END;"
             "CREATE TRIGGER poison_feed BEFORE INSERT ON event_feed WHEN NEW.bounded_context = 'poisoned' "
             "BEGIN SELECT RAISE(ABORT, 'poisoned feed'); END;");
  }
  const es::StreamId s = stream_of();
  std::vector<std::string> expected;
  store->append(s, es::ExpectedVersion::no_stream(), {event()});
  expected.push_back(ref(s, 1));
  // Alone: the blocking append commits on this thread.
  EXPECT_EQ(error_of([&] { store->append(s, es::ExpectedVersion::exact(0), {event()}); }).code(),
            es::ErrorCode::kVersionConflict);
  error_of([&] { store->append(s, es::ExpectedVersion::exact(1), {event(), event("Poison")}); });
  EXPECT_EQ(store->head(s), 1);
  // In groups: many appends in flight, every third one failing after its first insert.
  std::vector<std::future<es::Result<es::AppendResult>>> results;
  std::vector<es::StreamId> streams;
  for (int i = 0; i < 60; ++i) {
    streams.push_back(stream_of());
    auto promise = std::make_shared<std::promise<es::Result<es::AppendResult>>>();
    results.push_back(promise->get_future());
    std::vector<es::EventData> events{event(), event(i % 3 == 0 ? "Poison" : "Paid")};
    store->append_async(streams.back(), es::ExpectedVersion::no_stream(), std::move(events),
                        [promise](es::Result<es::AppendResult> r) { promise->set_value(std::move(r)); });
  }
  for (int i = 0; i < 60; ++i) {
    const es::Result<es::AppendResult> r = results[static_cast<std::size_t>(i)].get();
    EXPECT_EQ(r.ok(), i % 3 != 0) << i;
    if (r.ok()) {
      expected.push_back(ref(streams[static_cast<std::size_t>(i)], 1));
      expected.push_back(ref(streams[static_cast<std::size_t>(i)], 2));
    }
  }
  store->append(s, es::ExpectedVersion::exact(1), {event()});
  expected.push_back(ref(s, 2));
  EXPECT_EQ(whole_feed(*store, "sales"), expected);
  // The feed's insert failing undoes the append's events too.
  const es::StreamId poisoned{"poisoned", "Order", es::Uuid::random()};
  EXPECT_NE(error_of([&] { store->append(poisoned, es::ExpectedVersion::no_stream(), {event()}); }).code(),
            es::ErrorCode::kInternal);
  EXPECT_EQ(store->head(poisoned), 0);
  EXPECT_EQ(store->feed_head("poisoned"), 0);
}

// Two stores on one file (two writers, as two processes would be) append at once: the feed
// holds every event once, at positions 1..N, each stream's versions in order.
TEST(SqliteFeed, TwoStoresOnOneFileAppendingAtOnceGiveADenseFeed) {
  TempDir dir;
  std::vector<std::shared_ptr<es::Store>> stores{open(dir.file()), open(dir.file())};
  constexpr int kStreamsPerStore = 8, kAppendsPerStream = 40;
  std::vector<std::vector<es::StreamId>> streams(2);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int w = 0; w < 2; ++w) {
    for (int i = 0; i < kStreamsPerStore; ++i) streams[static_cast<std::size_t>(w)].push_back(stream_of());
    threads.emplace_back([&, w] {
      es::Store& store = *stores[static_cast<std::size_t>(w)];
      const auto& mine = streams[static_cast<std::size_t>(w)];
      // Each round: one async append per stream in flight, two events each, then wait.
      for (int round = 0; round < kAppendsPerStream; ++round) {
        std::vector<std::future<bool>> done;
        for (const es::StreamId& s : mine) {
          auto promise = std::make_shared<std::promise<bool>>();
          done.push_back(promise->get_future());
          store.append_async(s, es::ExpectedVersion::exact(2 * round), {event(), event("Paid")},
                             [promise](es::Result<es::AppendResult> r) { promise->set_value(r.ok()); });
        }
        for (auto& f : done)
          if (!f.get()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);
  const std::vector<std::string> feed = whole_feed(*stores[0], "sales", 100);
  EXPECT_EQ(feed, whole_feed(*stores[1], "sales", 33));
  ASSERT_EQ(feed.size(), std::size_t{2 * kStreamsPerStore * kAppendsPerStream * 2});
  std::map<std::string, std::int64_t> last_version;
  for (const std::string& entry : feed) {
    const std::size_t slash = entry.rfind('/');
    std::int64_t& last = last_version[entry.substr(0, slash)];
    EXPECT_EQ(std::stoll(entry.substr(slash + 1)), last + 1) << entry;
    last = std::stoll(entry.substr(slash + 1));
  }
  EXPECT_EQ(last_version.size(), std::size_t{2 * kStreamsPerStore});
}

TEST(SqliteFeed, PagesCarryDataOnlyWhenAskedAndFilterWithoutStalling) {
  TempDir dir;
  auto store = open(dir.file());
  const es::StreamId order = stream_of("Order"), customer = stream_of("Customer");
  store->append(order, es::ExpectedVersion::no_stream(), {event("Created", R"({"n":1})")});
  store->append(customer, es::ExpectedVersion::no_stream(), {event("Joined", R"({"n":2})")});
  store->append(order, es::ExpectedVersion::exact(1), {event("Paid", R"({"n":3})")});
  es::FeedReadOptions options;
  options.filter.aggregate_types = {"Customer"};
  options.limit = 1;
  options.after = 2;
  es::FeedPage page = store->read_feed("sales", options);
  EXPECT_TRUE(page.entries.empty());
  EXPECT_EQ(page.last_position, 3);
  options.after = 0;
  options.limit = 10;
  page = store->read_feed("sales", options);
  ASSERT_EQ(page.entries.size(), 1u);
  EXPECT_EQ(page.entries[0].position, 2);
  EXPECT_EQ(page.entries[0].event.data, R"({"n":2})");
  EXPECT_EQ(page.last_position, 3);
  options.with_data = false;
  options.filter = {};
  page = store->read_feed("sales", options);
  ASSERT_EQ(page.entries.size(), 3u);
  EXPECT_EQ(page.entries[2].event.event_type, "Paid");
  EXPECT_FALSE(page.entries[2].event.data.has_value());
  EXPECT_EQ(page.entries[2].event.version, 2);
}

TEST(SqliteFeed, AFeedEntryWhoseEventIsGoneIsCorruption) {
  TempDir dir;
  auto store = open(dir.file());
  const es::StreamId s = stream_of();
  store->append(s, es::ExpectedVersion::no_stream(), {event(), event()});
  Raw(dir.file()).exec("DELETE FROM event_store WHERE event_version = 2");
  const es::Error e = error_of([&] { store->read_feed("sales", {}); });
  EXPECT_EQ(e.code(), es::ErrorCode::kCorruption);
  EXPECT_NE(std::string(e.what()).find("position 2"), std::string::npos) << e.what();
}

}  // namespace

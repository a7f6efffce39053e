// The SQLite ceiling of `eventstore bench --raw`: a plain loop of the transactions the store
// runs, straight on sqlite3, with the store's file, schema, statements and pragmas (WAL,
// synchronous as in the URI, busy_timeout). One append is
//   BEGIN IMMEDIATE; <head query>; INSERT per event; COMMIT
// (a conflict rolls back). Concurrency N = N threads, each with its own connection and its own
// streams: SQLite's calls are blocking, so this is how a plain program gets N in flight.
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <cstdio>
#include <thread>
#include <vector>

#include "bench_targets.h"
#include "core/store_uri.h"
#include "eventstore/eventstore.h"

namespace eventstore_cli::bench {
namespace {

// Identical to the store's statements (src/sqlite/sqlite_store.cc).
#define ES_STREAM_KEY "bounded_context = ?1 AND aggregate_id = ?2 AND aggregate_type = ?3"
#define ES_EVENT_COLUMNS                                                                \
  "event_version, event_id, event_type, event_data, event_timestamp, event_metadata, " \
  "(event_data IS NULL OR json_valid(event_data)), "                                   \
  "CASE WHEN event_metadata IS NULL THEN 1 WHEN json_valid(event_metadata) "            \
  "THEN json_type(event_metadata) = 'object' ELSE 0 END"
constexpr const char* kHeadSql =
    "SELECT event_version FROM event_store WHERE " ES_STREAM_KEY " ORDER BY event_version DESC LIMIT 1";
constexpr const char* kInsertSql =
    "INSERT INTO event_store (bounded_context, aggregate_id, aggregate_type, event_version, event_id, "
    "event_type, event_data, event_timestamp, event_metadata) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
constexpr const char* kReadBackwardSql = "SELECT " ES_EVENT_COLUMNS " FROM event_store WHERE " ES_STREAM_KEY
                                         " AND event_version <= ?4 ORDER BY event_version DESC LIMIT ?5";
#undef ES_EVENT_COLUMNS
#undef ES_STREAM_KEY

struct FileOptions {
  std::string file;
  bool synchronous_full = false;
  int busy_timeout_ms = 5000;
};

FileOptions file_options(const std::string& uri) {
  const eventstore::detail::StoreUri parsed = eventstore::detail::parse_store_uri(uri);
  FileOptions o;
  const std::string& path = parsed.sqlite_path;
  const std::size_t q = path.find('?');
  o.file = path.substr(0, q);
  if (q != std::string::npos) {
    std::string query = path.substr(q + 1);
    std::size_t pos = 0;
    while (pos <= query.size()) {
      const std::size_t amp = std::min(query.find('&', pos), query.size());
      const std::string item = query.substr(pos, amp - pos);
      const std::size_t eq = item.find('=');
      const std::string key = item.substr(0, eq), value = eq == std::string::npos ? "" : item.substr(eq + 1);
      if (key == "synchronous") o.synchronous_full = value == "full" || value == "FULL";
      if (key == "busy_timeout") o.busy_timeout_ms = std::stoi(value);
      pos = amp + 1;
    }
  }
  return o;
}

class Loop {
 public:
  Loop(const FileOptions& o, const BenchArgs& args, std::atomic<int>& phase, std::atomic<std::uint64_t>& measured)
      : args_(args), phase_(phase), measured_(measured), data_(payload(args.event_size, 1)) {
    if (sqlite3_open_v2(o.file.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK)
      throw eventstore::Error(eventstore::ErrorCode::kUnavailable, "raw sqlite: cannot open " + o.file);
    sqlite3_busy_timeout(db_, o.busy_timeout_ms);
    exec(o.synchronous_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
    begin_ = prepare("BEGIN IMMEDIATE");
    commit_ = prepare("COMMIT");
    rollback_ = prepare("ROLLBACK");
    head_ = prepare(kHeadSql);
    insert_ = prepare(kInsertSql);
    read_ = prepare(kReadBackwardSql);
  }
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;
  ~Loop() {
    for (sqlite3_stmt* s : {begin_, commit_, rollback_, head_, insert_, read_}) sqlite3_finalize(s);
    sqlite3_close_v2(db_);
  }

  void add_stream() {
    streams_.push_back(Stream{eventstore::Uuid::random().to_string(), 0});
  }

  // Runs until phase 2; counts and times the operations that end in phase 1.
  void run(std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::size_t next = 0;
    while (phase_.load(std::memory_order_relaxed) < 2) {
      Stream& stream = streams_[next];
      next = (next + 1) % streams_.size();
      const bool is_read = args_.mode == "mixed" && std::uniform_real_distribution<double>(0, 1)(rng) < args_.read_ratio;
      const Clock::time_point start = Clock::now();
      int status = is_read ? read(stream) : append(stream);
      const Clock::time_point end = Clock::now();
      if (phase_.load(std::memory_order_relaxed) != 1) continue;
      const auto ns = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count());
      if (status == 0) {
        ++result.ops;
        result.all.record(ns);
        if (is_read) {
          ++result.reads;
          result.read_latency.record(ns);
        } else {
          result.events += args_.events_per_append;
          result.appends.record(ns);
        }
        measured_.fetch_add(1, std::memory_order_relaxed);
      } else if (status == 1) {
        ++result.conflicts;
      } else {
        ++result.errors["unavailable"];
      }
    }
  }

  RunResult result;

 private:
  struct Stream {
    std::string id;
    std::int64_t version;
  };

  sqlite3_stmt* prepare(const char* sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK)
      throw eventstore::Error(eventstore::ErrorCode::kInternal, std::string("raw sqlite: ") + sqlite3_errmsg(db_));
    return s;
  }
  void exec(const char* sql) { sqlite3_exec(db_, sql, nullptr, nullptr, nullptr); }
  static bool step_done(sqlite3_stmt* s) {
    const int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW;
  }
  void bind_stream(sqlite3_stmt* s, const Stream& stream) {
    sqlite3_bind_text(s, 1, "bench", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, stream.id.data(), static_cast<int>(stream.id.size()), SQLITE_STATIC);
    sqlite3_bind_text(s, 3, "bench_stream", -1, SQLITE_STATIC);
  }

  // 0 applied, 1 conflict, 2 error.
  int append(Stream& stream) {
    if (!step_done(begin_)) return 2;
    bind_stream(head_, stream);
    std::int64_t head = 0;
    int rc = sqlite3_step(head_);
    if (rc == SQLITE_ROW) head = sqlite3_column_int64(head_, 0);
    sqlite3_reset(head_);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return rollback(2);
    if (head != stream.version) {
      stream.version = head;
      return rollback(1);
    }
    bind_stream(insert_, stream);
    const std::int64_t now = eventstore::now_ms().time_since_epoch().count();
    for (std::uint64_t i = 0; i < args_.events_per_append; ++i) {
      const std::string event_id = eventstore::Uuid::random().to_string();
      sqlite3_bind_int64(insert_, 4, head + 1 + static_cast<std::int64_t>(i));
      sqlite3_bind_text(insert_, 5, event_id.data(), static_cast<int>(event_id.size()), SQLITE_STATIC);
      sqlite3_bind_text(insert_, 6, "BenchEvent", -1, SQLITE_STATIC);
      sqlite3_bind_text(insert_, 7, data_.data(), static_cast<int>(data_.size()), SQLITE_STATIC);
      sqlite3_bind_int64(insert_, 8, now);
      sqlite3_bind_null(insert_, 9);
      if (!step_done(insert_)) return rollback(2);
    }
    if (!step_done(commit_)) return rollback(2);
    stream.version = head + static_cast<std::int64_t>(args_.events_per_append);
    return 0;
  }

  int rollback(int status) {
    if (!sqlite3_get_autocommit(db_)) step_done(rollback_);
    return status;
  }

  int read(const Stream& stream) {
    bind_stream(read_, stream);
    sqlite3_bind_int64(read_, 4, INT64_MAX);
    sqlite3_bind_int64(read_, 5, static_cast<std::int64_t>(args_.read_events));
    int rc;
    std::size_t bytes = 0;
    while ((rc = sqlite3_step(read_)) == SQLITE_ROW) {
      for (int c = 1; c <= 5; ++c) bytes += static_cast<std::size_t>(sqlite3_column_bytes(read_, c));
      bytes += static_cast<std::size_t>(sqlite3_column_int(read_, 6) + sqlite3_column_int(read_, 7));
    }
    sqlite3_reset(read_);
    sink_ += bytes;
    return rc == SQLITE_DONE ? 0 : 2;
  }

  const BenchArgs& args_;
  std::atomic<int>& phase_;
  std::atomic<std::uint64_t>& measured_;
  std::string data_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* begin_ = nullptr;
  sqlite3_stmt* commit_ = nullptr;
  sqlite3_stmt* rollback_ = nullptr;
  sqlite3_stmt* head_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* read_ = nullptr;
  std::vector<Stream> streams_;
  std::size_t sink_ = 0;
};

}  // namespace

RunResult run_raw_sqlite(const std::string& uri, const BenchArgs& args, Progress& progress) {
  // The store creates the file, switches it to WAL and creates the schema, as for the store run.
  eventstore::open_store(uri).reset();
  const FileOptions options = file_options(uri);
  std::atomic<int> phase{args.warmup_s > 0 ? 0 : 1};
  std::atomic<std::uint64_t> measured{0};
  std::vector<std::unique_ptr<Loop>> loops;
  const std::uint64_t streams = args.streams ? args.streams : args.concurrency;
  for (std::uint64_t i = 0; i < args.concurrency; ++i) loops.push_back(std::make_unique<Loop>(options, args, phase, measured));
  for (std::uint64_t s = 0; s < streams; ++s) loops[s % args.concurrency]->add_stream();

  RunResult result;
  const Clock::time_point start = Clock::now();
  const auto warm = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(args.warmup_s));
  const auto duration = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(args.duration_s));
  Clock::time_point window_start = start;
  if (phase.load() == 1) result.cpu_before = Usage::now();
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < loops.size(); ++i) threads.emplace_back([&loops, i] { loops[i]->run(0x5eed + i); });
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const Clock::time_point now = Clock::now();
    if (phase.load() == 0) {
      if (now >= start + warm) {
        result.cpu_before = Usage::now();
        window_start = Clock::now();
        phase.store(1);
      } else {
        progress.update("warm-up", std::chrono::duration<double>(now - start) / std::chrono::duration<double>(warm), "");
      }
      continue;
    }
    const std::uint64_t n = measured.load(std::memory_order_relaxed);
    const bool done = args.ops ? n >= *args.ops : now >= window_start + duration;
    if (done) {
      phase.store(2);
      result.cpu_after = Usage::now();
      result.window_s = seconds(Clock::now() - window_start);
      result.threads = thread_count();
      break;
    }
    const double fraction = args.ops ? static_cast<double>(n) / static_cast<double>(*args.ops)
                                     : seconds(now - window_start) / args.duration_s;
    char detail[96];
    std::snprintf(detail, sizeof detail, "%llu ops  %.0f ops/s  %llu threads", static_cast<unsigned long long>(n),
                  static_cast<double>(n) / std::max(1e-9, seconds(now - window_start)),
                  static_cast<unsigned long long>(args.concurrency));
    progress.update("run", fraction, detail);
  }
  for (std::thread& t : threads) t.join();
  progress.finish();
  for (const auto& loop : loops) {
    const RunResult& r = loop->result;
    result.ops += r.ops;
    result.events += r.events;
    result.reads += r.reads;
    result.all.merge(r.all);
    result.appends.merge(r.appends);
    result.read_latency.merge(r.read_latency);
    result.conflicts += r.conflicts;
    for (const auto& [kind, n] : r.errors) result.errors[kind] += n;
  }
  result.max_in_flight = args.concurrency;
  return result;
}

}  // namespace eventstore_cli::bench

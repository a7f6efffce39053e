// libFuzzer harness: decoding stored rows of the SQLite backend. Each input writes fuzzed rows
// (any SQLite type in any column) into event_store and aggregate_snapshot with the sqlite3 C
// API, then reads them through eventstore::open_store("sqlite:..."): head, forward and backward
// reads, reads from fuzzed versions, the snapshot, and an append.
// Contract (docs/semantics.md): a corrupt row gives eventstore::Error(kCorruption) - never a
// crash, never undefined behaviour, never another exception - and what a read returns is well
// formed (versions contiguous in read order, ids, event types).
#include <fuzzer/FuzzedDataProvider.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "core/validation.h"
#include "eventstore/eventstore.h"

namespace {

using namespace eventstore;

const Uuid kAggregate = *Uuid::parse("0f0f0f0f-1111-4222-8333-444455556666");
const StreamId kStream{"ctx", "Type", kAggregate};

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz_sqlite_rows: %s\n", what.c_str());
  std::abort();
}

// A scratch directory: /dev/shm when there is one (fsync is free on tmpfs), else $TMPDIR or /tmp.
std::string scratch_dir() {
  if (access("/dev/shm", W_OK) == 0) return "/dev/shm";
  const char* tmp = std::getenv("TMPDIR");
  return tmp && *tmp ? tmp : "/tmp";
}

std::string path() { return scratch_dir() + "/fuzz-sqlite-rows-" + std::to_string(getpid()) + ".db"; }

void exec(sqlite3* db, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string message = error ? error : "?";
    sqlite3_free(error);
    fail(std::string("setup: ") + sql + ": " + message);
  }
}

// Binds a value of a fuzzed SQLite type at `index`, or `good` (a well-formed text value, or an
// integer when `good_int` is set) most of the time.
void bind_value(FuzzedDataProvider& in, sqlite3_stmt* s, int index, const std::string& good, std::int64_t good_int,
                bool use_int) {
  static const sqlite3_destructor_type kTransient = reinterpret_cast<sqlite3_destructor_type>(-1);
  switch (in.ConsumeIntegralInRange<int>(0, 9)) {
    case 0: sqlite3_bind_null(s, index); return;
    case 1: sqlite3_bind_int64(s, index, in.ConsumeIntegral<std::int64_t>()); return;
    case 2: sqlite3_bind_double(s, index, in.ConsumeFloatingPoint<double>()); return;
    case 3: {
      const std::string text = in.ConsumeRandomLengthString(64);
      sqlite3_bind_text(s, index, text.data(), static_cast<int>(text.size()), kTransient);
      return;
    }
    case 4: {
      const std::string blob = in.ConsumeRandomLengthString(64);
      sqlite3_bind_blob(s, index, blob.data(), static_cast<int>(blob.size()), kTransient);
      return;
    }
    default:
      if (use_int) {
        sqlite3_bind_int64(s, index, good_int);
      } else {
        sqlite3_bind_text(s, index, good.data(), static_cast<int>(good.size()), kTransient);
      }
  }
}

void write_rows(FuzzedDataProvider& in) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path().c_str(), &db) != SQLITE_OK) fail("cannot open the file");
  sqlite3_busy_timeout(db, 5000);
  exec(db, "PRAGMA synchronous = OFF");
  exec(db, "BEGIN; DELETE FROM event_store; DELETE FROM aggregate_snapshot;");
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db,
                         "INSERT OR REPLACE INTO event_store (bounded_context, aggregate_id, aggregate_type, "
                         "event_version, event_id, event_type, event_data, event_timestamp, event_metadata) "
                         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                         -1, &s, nullptr) != SQLITE_OK)
    fail(std::string("prepare: ") + sqlite3_errmsg(db));
  const std::size_t rows = in.ConsumeIntegralInRange<std::size_t>(0, 8);
  for (std::size_t i = 0; i < rows; ++i) {
    const bool our_stream = in.ConsumeIntegralInRange<int>(0, 7) != 0;
    bind_value(in, s, 1, our_stream ? kStream.bounded_context : "other", 0, false);
    bind_value(in, s, 2, kAggregate.to_string(), 0, false);
    bind_value(in, s, 3, kStream.aggregate_type, 0, false);
    bind_value(in, s, 4, "", static_cast<std::int64_t>(i) + 1, true);
    bind_value(in, s, 5, Uuid::random().to_string(), 0, false);
    bind_value(in, s, 6, "Happened", 0, false);
    bind_value(in, s, 7, "{\"n\":1}", 0, false);
    bind_value(in, s, 8, "", 1700000000000, true);
    bind_value(in, s, 9, "{}", 0, false);
    sqlite3_step(s);  // a NOT NULL key column may refuse a row: fine
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  }
  sqlite3_finalize(s);
  if (in.ConsumeBool()) {
    if (sqlite3_prepare_v2(db,
                           "INSERT OR REPLACE INTO aggregate_snapshot (bounded_context, aggregate_id, aggregate_type, "
                           "snapshot_data, snapshot_version, snapshot_timestamp, snapshot_metadata) "
                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                           -1, &s, nullptr) != SQLITE_OK)
      fail(std::string("prepare: ") + sqlite3_errmsg(db));
    bind_value(in, s, 1, kStream.bounded_context, 0, false);
    bind_value(in, s, 2, kAggregate.to_string(), 0, false);
    bind_value(in, s, 3, kStream.aggregate_type, 0, false);
    bind_value(in, s, 4, "{\"state\":1}", 0, false);
    bind_value(in, s, 5, "", 1, true);
    bind_value(in, s, 6, "", 1700000000000, true);
    bind_value(in, s, 7, "{}", 0, false);
    sqlite3_step(s);
    sqlite3_finalize(s);
  }
  exec(db, "COMMIT");
  sqlite3_close(db);
}

// Runs `f`; an eventstore::Error must be one of the allowed codes.
template <class F>
bool attempt(const char* what, F&& f, std::initializer_list<ErrorCode> allowed = {ErrorCode::kCorruption}) {
  try {
    f();
    return true;
  } catch (const Error& e) {
    for (ErrorCode code : allowed)
      if (e.code() == code) return false;
    fail(std::string(what) + ": unexpected error " + std::string(to_string(e.code())) + ": " + e.what());
  }
}

void check_page(const std::vector<RecordedEvent>& events, bool forward) {
  for (std::size_t i = 0; i < events.size(); ++i) {
    const RecordedEvent& e = events[i];
    if (e.stream != kStream) fail("a read returned an event of another stream");
    if (e.event_type.empty() || !detail::is_valid_utf8(e.event_type)) fail("a read returned a bad event type");
    if (i > 0 && e.version != events[i - 1].version + (forward ? 1 : -1)) fail("a read returned versions out of order");
  }
  if (forward && !events.empty() && events.front().version < 1) fail("a forward read returned a version below 1");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool ready = [] {
    set_log_sink({});
    for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path() + suffix).c_str());
    open_store("sqlite:" + path());  // creates the schema
    return true;
  }();
  (void)ready;
  FuzzedDataProvider in(data, size);
  write_rows(in);

  std::shared_ptr<Store> store = open_store("sqlite:" + path());
  std::int64_t head = 0;
  attempt("head", [&] { head = store->head(kStream); });
  for (const bool forward : {true, false}) {
    ReadOptions options;
    options.direction = forward ? Direction::kForward : Direction::kBackward;
    options.page_size = in.ConsumeIntegralInRange<std::uint32_t>(1, 4);
    if (in.ConsumeBool()) options.from = in.ConsumeIntegralInRange<std::int64_t>(1, INT64_MAX);
    attempt("read", [&] {
      std::vector<RecordedEvent> all = store->read_all(kStream, options);
      check_page(all, forward);
    });
  }
  attempt("load snapshot", [&] {
    const std::optional<Snapshot> snapshot = store->load_snapshot(kStream);
    if (snapshot && snapshot->version < 1) fail("a snapshot with a version below 1");
  });
  const ExpectedVersion expected = in.ConsumeBool() ? ExpectedVersion::any() : ExpectedVersion::exact(head);
  attempt("append",
          [&] {
            store->append(kStream, expected, {EventData{std::nullopt, "Appended", "{}", std::nullopt, std::nullopt}});
          },
          {ErrorCode::kCorruption, ErrorCode::kVersionConflict, ErrorCode::kInvalidArgument});
  return 0;
}

// check_health for sqlite:PATH (core/health.h): the file is opened read-only, so a probe never
// creates a store or changes one; the round trip is a read of the file's header pragmas.
#include <sqlite3.h>
#include <sys/stat.h>

#include <chrono>
#include <memory>
#include <string>

#include "core/health.h"
#include "sqlite/options.h"
#include "sqlite/schema.h"

namespace eventstore::detail {
namespace {

struct CloseDatabase {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};

}  // namespace

void check_sqlite_health(const std::string& path, const HealthOptions& options, HealthReport& report) {
  const SqliteOptions parsed = parse_options(path);  // throws kInvalidArgument like open_store
  struct stat info {};
  if (::stat(parsed.file.c_str(), &info) != 0) {
    report.problems.push_back("no store file at " + parsed.file);
    return;
  }
  sqlite3* raw = nullptr;
  const int opened = sqlite3_open_v2(parsed.file.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<sqlite3, CloseDatabase> db(raw);
  if (opened != SQLITE_OK) {
    report.problems.push_back("cannot open " + parsed.file + ": " + (db ? sqlite3_errmsg(db.get()) : "out of memory"));
    return;
  }
  sqlite3_busy_timeout(db.get(), static_cast<int>(options.timeout.count()));
  const auto start = std::chrono::steady_clock::now();
  sqlite3_stmt* raw_statement = nullptr;
  int rc = sqlite3_prepare_v2(db.get(),
                              "SELECT (SELECT application_id FROM pragma_application_id()), "
                              "(SELECT user_version FROM pragma_user_version())",
                              -1, &raw_statement, nullptr);
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> statement(raw_statement, sqlite3_finalize);
  if (rc == SQLITE_OK) rc = sqlite3_step(statement.get());
  if (rc != SQLITE_ROW) {
    report.problems.push_back("cannot read " + parsed.file + ": " + sqlite3_errmsg(db.get()));
    return;
  }
  report.answers = true;
  report.round_trip_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  const std::int32_t application_id = sqlite3_column_int(statement.get(), 0);
  const std::int32_t version = sqlite3_column_int(statement.get(), 1);
  report.schema = "user_version " + std::to_string(version) + " (current " + std::to_string(kSchemaVersion) + ")";
  if (application_id != kApplicationId) {
    report.schema = "application_id " + std::to_string(application_id) + " is not a store's";
    report.problems.push_back(parsed.file + " is not an eventstore file");
  } else if (version != kSchemaVersion) {
    report.problems.push_back(
        "the schema is revision " + std::to_string(version) + ", this library's is " + std::to_string(kSchemaVersion) +
        (version < kSchemaVersion ? " (opening the store upgrades it)" : " (a newer library wrote it)"));
  } else {
    report.schema_current = true;
  }
}

}  // namespace eventstore::detail

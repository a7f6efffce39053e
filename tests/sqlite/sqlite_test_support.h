// What the tests of the sqlite:PATH backend share: a temporary directory, a raw SQLite
// connection to poke at the file as another program would, and small builders of streams, events
// and stores.
#pragma once

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

namespace sqlite_test {

namespace es = eventstore;
namespace fs = std::filesystem;

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

inline es::StreamId stream_of(std::string type = "Order") {
  return es::StreamId{"sales", std::move(type), es::Uuid::random()};
}

inline es::EventData event(std::string type = "Created", std::string data = R"({"n":1})") {
  es::EventData e;
  e.event_type = std::move(type);
  e.data = std::move(data);
  return e;
}

inline std::vector<es::EventData> one_event(es::Uuid id = es::Uuid::random()) {
  es::EventData e = event();
  e.event_id = id;
  return {e};
}

inline std::shared_ptr<es::Store> open(const std::string& file, const std::string& options = "") {
  return es::open_store("sqlite:" + file + options);
}

// The error `f` throws; a test failure and kInternal if it throws none.
inline es::Error error_of(const std::function<void()>& f) {
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

inline std::string sql_quote(const std::string& text) { return "'" + text + "'"; }

// An event id unique to (process, i). Uuid::random() in a forked child continues the generator
// state it inherited from the parent, so children would produce the same ids.
inline es::Uuid fork_safe_id(int process, int i) {
  std::array<std::uint8_t, 16> bytes = es::Uuid::random().bytes();
  bytes[0] = static_cast<std::uint8_t>(process + 1);
  bytes[1] = static_cast<std::uint8_t>(i);
  bytes[2] = static_cast<std::uint8_t>(i >> 8);
  return es::Uuid(bytes);
}

// Runs `body` in a child process as the unprivileged user "nobody" when the test runs as root
// (root ignores file permissions); returns true if `body` returned true.
inline bool as_unprivileged(const std::function<bool()>& body) {
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
inline bool open_fails_with(const std::string& file, es::ErrorCode code, const std::string& needle) {
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

}  // namespace sqlite_test

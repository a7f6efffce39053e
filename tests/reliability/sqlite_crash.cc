// sqlite_crash: the embedded store under kill -9.
//
// A child process appends in a loop to a SQLite file (several threads, two streams, real
// expected versions) and reports over a pipe each append it is about to make ("intent") and each
// acknowledged one, before it continues. The parent kills it with SIGKILL at a random moment,
// reopens the file and checks:
//   - the file opens and PRAGMA integrity_check is "ok";
//   - every append ever acknowledged is there, with its ids at its versions;
//   - every stream holds exactly the versions 1..head and head() agrees;
//   - every stored event belongs to exactly one append the child attempted; an append that was
//     in flight when the child died is all there or not at all.
// Repeated --kills times on the same file. Exit status 0 when no violation was found.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <CLI/CLI.hpp>

#include "eventstore/eventstore.h"
#include "write_line.h"

namespace {

using namespace eventstore;

constexpr int kStreams = 2;

struct Options {
  std::string file;
  int kills = 30;
  int max_ms = 200;
  int threads = 3;
  int pace_us = 500;  // pause of each child thread between appends: bounds the file's growth
  std::uint64_t seed = 0;
  bool keep = false;
  bool verbose = false;
};

StreamId stream_of(int s) {
  static const Uuid ids[kStreams] = {*Uuid::parse("5a1f0000-0000-4000-8000-000000000001"),
                                     *Uuid::parse("5a1f0000-0000-4000-8000-000000000002")};
  return StreamId{"sqlite-crash", "Counter", ids[s]};
}

// One line per write(2): lines are far below PIPE_BUF, so each arrives whole or not at all.
void report(int fd, const std::string& line) {
  if (!historycheck::write_line(fd, line)) _exit(4);
}

std::string join(const std::vector<Uuid>& ids) {
  std::string text;
  for (std::size_t i = 0; i < ids.size(); ++i) text += (i ? "," : "") + ids[i].to_string();
  return text;
}

[[noreturn]] void run_child(const Options& o, int fd, std::uint64_t seed) {
  try {
    std::shared_ptr<Store> store = open_store("sqlite:" + o.file);
    std::atomic<std::uint64_t> next_op{1};
    std::vector<std::thread> threads;
    for (int t = 0; t < o.threads; ++t)
      threads.emplace_back([&, t] {
        std::mt19937_64 rng(seed * 31 + static_cast<std::uint64_t>(t));
        for (;;) {
          if (o.pace_us > 0)
            std::this_thread::sleep_for(std::chrono::microseconds(rng() % static_cast<std::uint64_t>(2 * o.pace_us)));
          const int s = static_cast<int>(rng() % kStreams);
          const StreamId stream = stream_of(s);
          std::uint64_t op = 0;
          try {
            const std::int64_t expected = store->head(stream);
            const std::size_t n = 1 + rng() % 4;
            std::vector<EventData> events;
            std::vector<Uuid> ids;
            for (std::size_t i = 0; i < n; ++i) {
              ids.push_back(Uuid::random());
              events.push_back(EventData{ids.back(), "Incremented", "{\"by\":" + std::to_string(i + 1) + "}",
                                         std::nullopt, std::nullopt});
            }
            op = next_op++;
            report(fd, "T " + std::to_string(op) + " " + std::to_string(s) + " " + std::to_string(expected) + " " +
                           join(ids));
            const AppendResult r = store->append(stream, ExpectedVersion::exact(expected), std::move(events));
            report(fd, "A " + std::to_string(op) + " " + std::to_string(r.first_version) + " " +
                           std::to_string(r.next_expected_version) + " " + join(r.event_ids));
          } catch (const Error& e) {
            if (e.code() == ErrorCode::kVersionConflict && op != 0) {
              report(fd, "C " + std::to_string(op));
            } else {
              report(fd, std::string("E ") + e.what());
            }
          }
        }
      });
    for (std::thread& t : threads) t.join();
  } catch (const std::exception& e) {
    report(fd, std::string("E ") + e.what());
  }
  _exit(0);
}

struct Intent {
  int stream = 0;
  std::int64_t expected = 0;
  std::vector<Uuid> ids;
  bool acked = false;
  bool rejected = false;  // a version conflict: nothing may be stored
  std::int64_t first_version = 0;
};

// Over all rounds; printed as "name=value" at the end.
struct Totals {
  std::uint64_t acked_appends = 0, acked_events = 0;
  // Appends in flight at a kill, found in the file (whole) or not at all by the next check.
  std::uint64_t inflight_applied = 0, inflight_not_applied = 0;
  std::uint64_t conflicts = 0, child_errors = 0;  // reported by the child
  std::uint64_t violations = 0;
};

std::vector<Uuid> split_ids(const std::string& text) {
  std::vector<Uuid> ids;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    const std::optional<Uuid> id = Uuid::parse(item);
    if (id) ids.push_back(*id);
  }
  return ids;
}

class Checker {
 public:
  Checker(const Options& o, Totals& totals) : o_(o), totals_(totals) {}

  // Takes the lines one child run reported; ops are numbered per child run.
  void take(int run, const std::string& data) {
    std::stringstream in(data);
    std::string line;
    while (std::getline(in, line)) {
      std::stringstream fields(line);
      std::string kind;
      fields >> kind;
      if (kind == "T") {
        std::uint64_t op;
        Intent intent;
        std::string ids;
        fields >> op >> intent.stream >> intent.expected >> ids;
        intent.ids = split_ids(ids);
        intents_[key(run, op)] = intent;
      } else if (kind == "A") {
        std::uint64_t op;
        std::int64_t first, next;
        std::string ids;
        fields >> op >> first >> next >> ids;
        auto it = intents_.find(key(run, op));
        if (it == intents_.end()) {
          violation("an acknowledgement of op " + std::to_string(op) + " without an intent");
          continue;
        }
        it->second.acked = true;
        it->second.first_version = first;
        if (split_ids(ids) != it->second.ids || first != it->second.expected + 1)
          violation("op " + std::to_string(op) + " acknowledged with other ids or versions");
        ++totals_.acked_appends;
        totals_.acked_events += it->second.ids.size();
      } else if (kind == "C") {
        std::uint64_t op;
        fields >> op;
        auto it = intents_.find(key(run, op));
        if (it != intents_.end()) it->second.rejected = true;
        ++totals_.conflicts;
      } else if (kind == "E") {
        ++totals_.child_errors;
        if (o_.verbose) std::cerr << "sqlite_crash: child error: " << line.substr(2) << "\n";
      }
    }
  }

  // Reopens the file and checks everything reported so far. Unacknowledged intents of this run
  // are resolved (applied or not) and then forgotten as such: they become acknowledged (when
  // applied) for the next rounds, since they are part of the file now.
  void verify(int run) {
    check_integrity();
    std::unordered_map<Uuid, std::pair<int, std::int64_t>> stored;
    try {
      std::shared_ptr<Store> store = open_store("sqlite:" + o_.file);
      for (int s = 0; s < kStreams; ++s) {
        std::int64_t previous = 0;
        store->for_each(stream_of(s), ReadOptions{}, [&](const RecordedEvent& e) {
          if (e.version != previous + 1)
            violation("stream " + std::to_string(s) + " goes from version " + std::to_string(previous) + " to " +
                      std::to_string(e.version));
          previous = e.version;
          if (!stored.emplace(e.event_id, std::make_pair(s, e.version)).second)
            violation("event " + e.event_id.to_string() + " is stored twice");
        });
        const std::int64_t head = store->head(stream_of(s));
        if (head != previous)
          violation("stream " + std::to_string(s) + ": head() is " + std::to_string(head) + ", last version " +
                    std::to_string(previous));
      }
    } catch (const std::exception& e) {
      violation(std::string("reopening the file failed: ") + e.what());
      return;
    }
    std::set<Uuid> attempted;
    for (auto& [k, intent] : intents_) {
      std::size_t present = 0;
      for (const Uuid& id : intent.ids) {
        attempted.insert(id);
        present += stored.count(id);
      }
      if (intent.acked) {
        for (std::size_t i = 0; i < intent.ids.size(); ++i) {
          auto it = stored.find(intent.ids[i]);
          const std::int64_t version = intent.first_version + static_cast<std::int64_t>(i);
          if (it == stored.end() || it->second != std::make_pair(intent.stream, version))
            violation("acknowledged event " + intent.ids[i].to_string() + " (stream " + std::to_string(intent.stream) +
                      " version " + std::to_string(version) + ") is " + (it == stored.end() ? "missing" : "misplaced"));
        }
        continue;
      }
      if (k.first != run) continue;  // resolved in an earlier round
      if (intent.rejected) {
        if (present > 0) violation("an append rejected with a version conflict is stored");
        continue;
      }
      if (present == 0) {
        ++totals_.inflight_not_applied;
        continue;
      }
      bool whole = present == intent.ids.size();
      for (std::size_t i = 0; whole && i < intent.ids.size(); ++i)
        whole =
            stored[intent.ids[i]] == std::make_pair(intent.stream, intent.expected + 1 + static_cast<std::int64_t>(i));
      if (!whole) {
        violation("an append in flight at the kill is partly stored (" + std::to_string(present) + " of " +
                  std::to_string(intent.ids.size()) + ") or misplaced");
        continue;
      }
      ++totals_.inflight_applied;
      intent.acked = true;  // it is in the file: from now on it must stay
      intent.first_version = intent.expected + 1;
    }
    // Drop the not-applied intents of this run: their ids must never appear later either, so
    // keep their ids in `attempted_ever_` only.
    for (auto it = intents_.begin(); it != intents_.end();) {
      if (!it->second.acked) {
        for (const Uuid& id : it->second.ids) never_.insert(id);
        it = intents_.erase(it);
      } else {
        ++it;
      }
    }
    for (const auto& [id, where] : stored) {
      if (never_.count(id)) violation("event " + id.to_string() + " of an append found not applied appeared later");
      else if (!attempted.count(id))
        violation("event " + id.to_string() + " at stream " + std::to_string(where.first) + " version " +
                  std::to_string(where.second) + " belongs to no append");
    }
  }

 private:
  static std::pair<int, std::uint64_t> key(int run, std::uint64_t op) { return {run, op}; }

  void check_integrity() {
    // A child killed before its store created the file leaves none; that is fine only while
    // nothing has been acknowledged.
    if (totals_.acked_appends == 0 && access(o_.file.c_str(), F_OK) != 0 && errno == ENOENT) return;
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(o_.file.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
      violation(std::string("sqlite3_open failed: ") + (db ? sqlite3_errmsg(db) : "?") + " (errno " +
                std::to_string(db ? sqlite3_system_errno(db) : 0) + ")");
      sqlite3_close(db);
      return;
    }
    sqlite3_stmt* s = nullptr;
    std::string result = "?";
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
      if (const unsigned char* text = sqlite3_column_text(s, 0)) result = reinterpret_cast<const char*>(text);
    sqlite3_finalize(s);
    sqlite3_close(db);
    if (result != "ok") violation("PRAGMA integrity_check: " + result);
  }

  void violation(const std::string& what) {
    ++totals_.violations;
    if (totals_.violations <= 50) std::cerr << "sqlite_crash: VIOLATION: " << what << "\n";
  }

  const Options& o_;
  Totals& totals_;
  std::map<std::pair<int, std::uint64_t>, Intent> intents_;
  std::set<Uuid> never_;
};

// Parses argv into `o`; answers nothing to go on, else the exit code to end with (0 after --help).
std::optional<int> parse(int argc, char** argv, Options& o) {
  CLI::App app{
      "sqlite_crash: the embedded store under kill -9 (a child appends, the parent kills it with SIGKILL at "
      "a random moment, reopens the file and checks it), repeated --kills times on the same file. "
      "Exit status 0 when no violation was found, 1 otherwise, 2 on a usage or setup error.",
      "sqlite_crash"};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--file", o.file, "The SQLite file (default: $TMPDIR/sqlite-crash-<pid>.db)")->type_name("PATH");
  app.add_option("--kills", o.kills, "Child runs, each killed with SIGKILL (default 30)")->type_name("N");
  app.add_option("--max-ms", o.max_ms, "A child is killed after a random 0..MS milliseconds (default 200)")
      ->type_name("MS");
  app.add_option("--threads", o.threads, "Appending threads of the child (default 3)")->type_name("T");
  app.add_option("--pace-us", o.pace_us,
                 "Pause of each child thread between appends, 0..2*US microseconds (default 500)")
      ->type_name("US");
  app.add_option("--seed", o.seed, "Random seed (default: from the clock)")->type_name("S");
  app.add_flag("--keep", o.keep, "Keep the file also when no violation was found");
  app.add_flag("--verbose", o.verbose, "Print each round and the child's errors");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    std::cerr << "sqlite_crash: " << e.what() << " (see sqlite_crash --help)\n";
    return 2;
  }
  if (o.file.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    o.file = std::string(tmp && *tmp ? tmp : "/tmp") + "/sqlite-crash-" + std::to_string(getpid()) + ".db";
  }
  if (o.seed == 0) o.seed = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  if (o.kills < 1 || o.max_ms < 1 || o.threads < 1) {
    std::cerr << "sqlite_crash: --kills, --max-ms and --threads must be >= 1\n";
    return 2;
  }
  return std::nullopt;
}

void remove_files(const std::string& file) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) std::remove((file + suffix).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (const std::optional<int> exit_code = parse(argc, argv, o)) return *exit_code;
  remove_files(o.file);
  set_log_sink({});
  std::mt19937_64 rng(o.seed);
  Totals totals;
  Checker checker(o, totals);
  const auto started = std::chrono::steady_clock::now();
  for (int run = 1; run <= o.kills; ++run) {
    int fds[2];
    if (pipe(fds) != 0) {
      std::perror("sqlite_crash: pipe");
      return 2;
    }
    std::cout.flush();
    std::cerr.flush();
    const pid_t pid = fork();
    if (pid < 0) {
      std::perror("sqlite_crash: fork");
      return 2;
    }
    if (pid == 0) {
      close(fds[0]);
      run_child(o, fds[1], o.seed + static_cast<std::uint64_t>(run));
    }
    close(fds[1]);
    // Read what the child reports until the kill time, then kill it and drain the pipe.
    const auto kill_at =
        std::chrono::steady_clock::now() +
        std::chrono::milliseconds(static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(o.max_ms)));
    std::string data;
    char buffer[65536];
    bool killed = false;
    for (;;) {
      int timeout = -1;
      if (!killed) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(kill_at - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
          kill(pid, SIGKILL);
          killed = true;
        } else {
          timeout = static_cast<int>(left.count());
        }
      }
      pollfd p{fds[0], POLLIN, 0};
      const int ready = poll(&p, 1, killed ? -1 : timeout);
      if (ready < 0 && errno != EINTR) break;
      if (ready <= 0) continue;
      const ssize_t n = read(fds[0], buffer, sizeof buffer);
      if (n > 0) {
        data.append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        break;  // the child is gone (or exited early: it reported why)
      }
    }
    close(fds[0]);
    int status = 0;
    if (!killed) kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    checker.take(run, data);
    checker.verify(run);
    if (o.verbose)
      std::cerr << "sqlite_crash: round " << run << ": " << totals.acked_appends << " acknowledged appends so far\n";
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << "sqlite_crash: kills=" << o.kills << " acked_appends=" << totals.acked_appends
            << " acked_events=" << totals.acked_events << " inflight_applied=" << totals.inflight_applied
            << " inflight_not_applied=" << totals.inflight_not_applied << " conflicts=" << totals.conflicts
            << " child_errors=" << totals.child_errors << " violations=" << totals.violations
            << " seconds=" << static_cast<int>(seconds) << " seed=" << o.seed << "\n";
  if (totals.violations == 0 && !o.keep) remove_files(o.file);
  if (totals.violations > 0) std::cout << "sqlite_crash: FAIL (file kept: " << o.file << ")\n";
  return totals.violations == 0 ? 0 : 1;
}

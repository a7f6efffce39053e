// history-check: records a history of concurrent appends against any store and checks it.
// See docs/RELIABILITY.md.
#include <fcntl.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "faulty_store.h"
#include "feed_readers.h"
#include "history.h"
#include "workload.h"

namespace {

using namespace historycheck;

constexpr const char* kUsage = R"(usage: history-check [OPTIONS]

Concurrent writers append to a few streams with real expected versions, every attempt and its
outcome is recorded, and a final read checks the history: acknowledged appends present at their
versions, streams contiguous, nothing invented or doubled, nothing of a rejected append stored,
reads after an acknowledgement see it. Feed readers follow the context's feed meanwhile; the
feed must hold every stored event and nothing else, dense, the same for every reader, in
version order per stream, and the subscriber's checkpoint must only move forward.

  --store URI          the store (default memory:); sqlite:PATH, scylla://HOST[,HOST]/KS?...
  --threads N          writer threads per process (default 4)
  --processes P        writer processes, each running --threads threads (default 1; needs a
                       store shared between processes: sqlite: or scylla://)
  --streams S          streams written to (default 4), in a bounded context new to the run
  --duration-s D       stop starting appends after D seconds (default 10)
  --ops N              stop after N appends in all (the duration still bounds the run)
  --retry-unknown      retry an unknown outcome with the same event ids until it resolves
  --read-check P       probability of a read-your-writes check after an ack (default 0.25)
  --max-events N       events per append, 1..N (default 3)
  --stale P            probability of appending with a stale expected version on purpose, to
                       exercise rejected appends (default 0.05)
  --seed N             random seed of the workload (default: from the clock)
  --final-read-retry-s S   keep retrying a failing final read for S seconds (default 60)
  --min-acked N        also fail (exit 3) if fewer than N appends were acknowledged
  --expect-unavailable fail (exit 3) unless no append was acknowledged and some got unavailable
  --json               print the report as JSON instead of text
  --history-out PATH   write every attempt as one JSON line to PATH
  --context NAME       the bounded context of the run (default: hc-<random>); it must be new
                       to the store (a relay started for it beforehand is fine)
  --feed-readers N     feed readers following the context's feed while the writers append
                       (default 2 when the store keeps a feed, else 0); the last one is a
                       subscriber killed at random and restarted from its checkpoint
  --feed-settle-s S    after the writers stop, wait until the feed's head has not moved for S
                       seconds (default 10 on scylla://, where a relay publishes; 0 otherwise)
  --feed-page N        feed readers ask for 1..N positions per page (default 64)
  --feed-kill P        probability per page that the subscriber is killed (default 0.03)
  --writers-may-die    with --processes: a writer process killed by SIGKILL is not an error;
                       its appends in flight count as unknown outcomes (the final read decides)
                       and it is replaced by a new writer process until the duration ends
  --writer-pids PATH   with --processes: keep PATH listing the live writer processes' pids
                       (one a line), for a script that kills them
  --self-test          run the checker against deliberately broken stores; exit 0 if it
                       catches every injected fault
  --quiet              print only the summary line (text mode)

exit status: 0 no violation; 1 violations; 2 usage or setup error; 3 expectation not met
)";

struct Options {
  std::string store = "memory:";
  int threads = 4;
  int processes = 1;
  std::size_t streams = 4;
  double duration_s = 10;
  std::optional<std::uint64_t> ops;
  bool retry_unknown = false;
  double read_check = 0.25;
  int max_events = 3;
  double stale = 0.05;
  std::optional<std::uint64_t> seed;
  double final_read_retry_s = 60;
  std::optional<std::uint64_t> min_acked;
  bool expect_unavailable = false;
  bool json = false;
  std::string history_out;
  bool self_test = false;
  bool quiet = false;
  std::string context;
  int feed_readers = -1;  // -1: 2 when the store keeps a feed
  std::optional<double> feed_settle_s;
  std::uint32_t feed_page = 64;
  double feed_kill = 0.03;
  bool writers_may_die = false;
  std::string writer_pids;
};

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "history-check: " << message << "\n(see history-check --help)\n";
  std::exit(2);
}

template <class T>
T number(const std::string& flag, const std::string& text) {
  try {
    std::size_t used = 0;
    if constexpr (std::is_floating_point_v<T>) {
      const double value = std::stod(text, &used);
      if (used == text.size() && value >= 0) return static_cast<T>(value);
    } else {
      const long long value = std::stoll(text, &used);
      if (used == text.size() && value >= 0) return static_cast<T>(value);
    }
  } catch (const std::exception&) {
  }
  usage_error(flag + " needs a non-negative number, got '" + text + "'");
}

Options parse(int argc, char** argv) {
  Options o;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) usage_error(a + " needs a value");
      return args[++i];
    };
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      std::exit(0);
    } else if (a == "--store") {
      o.store = value();
    } else if (a == "--threads") {
      o.threads = number<int>(a, value());
    } else if (a == "--processes") {
      o.processes = number<int>(a, value());
    } else if (a == "--streams") {
      o.streams = number<std::size_t>(a, value());
    } else if (a == "--duration-s") {
      o.duration_s = number<double>(a, value());
    } else if (a == "--ops") {
      o.ops = number<std::uint64_t>(a, value());
    } else if (a == "--retry-unknown") {
      o.retry_unknown = true;
    } else if (a == "--read-check") {
      o.read_check = number<double>(a, value());
    } else if (a == "--max-events") {
      o.max_events = number<int>(a, value());
    } else if (a == "--stale") {
      o.stale = number<double>(a, value());
    } else if (a == "--seed") {
      o.seed = number<std::uint64_t>(a, value());
    } else if (a == "--final-read-retry-s") {
      o.final_read_retry_s = number<double>(a, value());
    } else if (a == "--min-acked") {
      o.min_acked = number<std::uint64_t>(a, value());
    } else if (a == "--expect-unavailable") {
      o.expect_unavailable = true;
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "--history-out") {
      o.history_out = value();
    } else if (a == "--self-test") {
      o.self_test = true;
    } else if (a == "--quiet") {
      o.quiet = true;
    } else if (a == "--context") {
      o.context = value();
    } else if (a == "--feed-readers") {
      o.feed_readers = number<int>(a, value());
    } else if (a == "--feed-settle-s") {
      o.feed_settle_s = number<double>(a, value());
    } else if (a == "--feed-page") {
      o.feed_page = number<std::uint32_t>(a, value());
    } else if (a == "--feed-kill") {
      o.feed_kill = number<double>(a, value());
    } else if (a == "--writers-may-die") {
      o.writers_may_die = true;
    } else if (a == "--writer-pids") {
      o.writer_pids = value();
    } else {
      usage_error("unknown option '" + a + "'");
    }
  }
  if (o.threads < 1 || o.threads > 1000) usage_error("--threads must be 1..1000");
  if (o.processes < 1 || o.processes > 64) usage_error("--processes must be 1..64");
  if (o.streams < 1 || o.streams > 10000) usage_error("--streams must be 1..10000");
  if (o.max_events < 1 || o.max_events > 100) usage_error("--max-events must be 1..100");
  if (o.read_check > 1 || o.stale > 1 || o.feed_kill > 1)
    usage_error("--read-check, --stale and --feed-kill are probabilities, 0..1");
  if (o.feed_readers > 64) usage_error("--feed-readers must be 0..64");
  if (o.feed_page < 1 || o.feed_page > 100000) usage_error("--feed-page must be 1..100000");
  if ((o.writers_may_die || !o.writer_pids.empty()) && o.processes < 2)
    usage_error("--writers-may-die and --writer-pids need --processes 2 or more");
  return o;
}

WorkloadConfig workload_config(const Options& o, int process) {
  WorkloadConfig c;
  c.threads = o.threads;
  c.process = process;
  if (o.ops) {
    const auto p = static_cast<std::uint64_t>(o.processes);
    c.ops = *o.ops / p + (static_cast<std::uint64_t>(process) < *o.ops % p ? 1 : 0);
  }
  c.duration_s = o.duration_s;
  c.seed = o.seed.value_or(static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count())) +
           static_cast<std::uint64_t>(process) * 1000003;
  c.retry_unknown = o.retry_unknown;
  c.read_check_probability = o.read_check;
  c.max_events = o.max_events;
  c.stale_probability = o.stale;
  return c;
}

std::string temp_dir() {
  const char* tmp = std::getenv("TMPDIR");
  return std::string(tmp && *tmp ? tmp : "/tmp");
}

std::string writer_file(pid_t parent, int index) {
  return temp_dir() + "/history-check-" + std::to_string(parent) + "-" + std::to_string(index) + ".jsonl";
}

// One line per write(2) on a file opened with O_APPEND: a line is whole unless the process died
// inside that very call (a torn last line is skipped when the history is merged).
void write_line(int fd, const std::string& text) {
  const std::string line = text + "\n";
  const char* p = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      _exit(3);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

// A writer process: runs the workload and writes each attempt as it goes (an intent before the
// append is sent, the outcome after), so that kill -9 leaves a history.
[[noreturn]] void writer_process(const Options& o, const Plan& plan, int index, double duration_s, bool split_ops,
                                 const std::string& file) {
  int status = 0;
  try {
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error("cannot write " + file);
    std::shared_ptr<eventstore::Store> store = eventstore::open_store(o.store);
    WorkloadConfig config = workload_config(o, index);
    config.duration_s = duration_s;
    if (!split_ops) config.ops.reset();
    config.on_record = [fd](const Attempt& a) { write_line(fd, to_json(a).dump()); };
    WorkloadStats stats;
    run_workload(*store, plan, config, stats);
    write_line(fd, nlohmann::json({{"head_errors", stats.head_errors.load()}}).dump());
    ::close(fd);
  } catch (const std::exception& e) {
    std::cerr << "history-check: writer process " << index << ": " << e.what() << "\n";
    status = 3;
  }
  std::cout.flush();
  std::cerr.flush();
  _exit(status);
}

void write_pids(const std::string& path, const std::map<pid_t, int>& live) {
  if (path.empty()) return;
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    for (const auto& [pid, index] : live) out << pid << "\n";
  }
  std::rename(tmp.c_str(), path.c_str());
}

// The supervisor: a single-threaded process forked before anything else, so that it can fork
// writer processes at any time (the main process has reader threads and an open store). It
// starts --processes writers, replaces a writer killed by SIGKILL while time remains (with
// --writers-may-die), and exits with 0, or 3 if a writer failed otherwise. It writes how many
// writers it started and how many were killed to <temp>/history-check-<parent>-supervisor.json.
volatile sig_atomic_t g_supervisor_stop = 0;
extern "C" void on_supervisor_signal(int) { g_supervisor_stop = 1; }

[[noreturn]] void supervisor(const Options& o, const Plan& plan, pid_t parent) {
  // SIGTERM (the main process gives up): the writers are killed, nothing is left running.
  struct sigaction action {};
  action.sa_handler = on_supervisor_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  const auto started = std::chrono::steady_clock::now();
  const auto deadline = started + std::chrono::milliseconds(static_cast<std::int64_t>(o.duration_s * 1000));
  std::map<pid_t, int> live;
  int next = 0;
  int killed = 0;
  int failed = 0;
  auto spawn = [&](bool initial) {
    const int index = next++;
    const double left =
        std::chrono::duration<double>(deadline - std::chrono::steady_clock::now()).count();
    std::cout.flush();
    std::cerr.flush();
    const pid_t pid = fork();
    if (pid < 0) {
      std::perror("history-check: fork");
      ++failed;
      return;
    }
    if (pid == 0) writer_process(o, plan, index, initial ? o.duration_s : std::max(0.0, left), initial,
                                 writer_file(parent, index));
    live[pid] = index;
  };
  for (int p = 0; p < o.processes; ++p) spawn(true);
  write_pids(o.writer_pids, live);
  while (!live.empty()) {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, 0);
    if (g_supervisor_stop) {
      for (const auto& [writer, index] : live) kill(writer, SIGKILL);
      while (waitpid(-1, &status, 0) > 0 || errno == EINTR) {
      }
      _exit(3);
    }
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;
    }
    auto it = live.find(pid);
    if (it == live.end()) continue;
    const int index = it->second;
    live.erase(it);
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && o.writers_may_die) {
      ++killed;
      if (std::chrono::steady_clock::now() + std::chrono::milliseconds(500) < deadline) spawn(false);
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::cerr << "history-check: writer process " << index << " (pid " << pid << ") failed (status " << status
                << ")\n";
      ++failed;
    }
    write_pids(o.writer_pids, live);
  }
  {
    std::ofstream out(temp_dir() + "/history-check-" + std::to_string(parent) + "-supervisor.json", std::ios::trunc);
    out << nlohmann::json({{"writers", next}, {"killed", killed}, {"failed", failed}}).dump() << "\n";
  }
  if (!o.writer_pids.empty()) std::remove(o.writer_pids.c_str());
  std::cout.flush();
  std::cerr.flush();
  _exit(failed ? 3 : 0);
}

struct ProcessFigures {
  int writers = 0;
  int killed = 0;
  std::uint64_t in_flight_at_death = 0;  // intents without an outcome: appends the kill cut short
  std::uint64_t torn_lines = 0;
};

// Merges the writer processes' files: the last record of each (process, op, attempt) wins, so an
// intent without an outcome (the writer died mid-append) stays as an unknown outcome.
std::vector<Attempt> merge_writer_files(pid_t parent, ProcessFigures& figures, std::uint64_t& head_errors) {
  {
    std::ifstream in(temp_dir() + "/history-check-" + std::to_string(parent) + "-supervisor.json");
    nlohmann::json j = nlohmann::json::object();
    std::string line;
    if (std::getline(in, line) && !line.empty()) j = nlohmann::json::parse(line);
    figures.writers = j.value("writers", 0);
    figures.killed = j.value("killed", 0);
  }
  std::remove((temp_dir() + "/history-check-" + std::to_string(parent) + "-supervisor.json").c_str());
  std::map<std::tuple<int, std::uint64_t, int>, Attempt> latest;
  for (int index = 0; index < figures.writers; ++index) {
    const std::string file = writer_file(parent, index);
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(line);
      } catch (const nlohmann::json::exception&) {
        ++figures.torn_lines;
        continue;
      }
      if (j.contains("head_errors")) {
        head_errors += j.value("head_errors", std::uint64_t{0});
        continue;
      }
      Attempt a = attempt_from_json(j);
      latest[{a.process, a.op, a.attempt}] = std::move(a);
    }
    std::remove(file.c_str());
  }
  std::vector<Attempt> all;
  for (auto& [key, a] : latest) {
    if (a.outcome == Outcome::kUnknown && a.complete_ns == 0) ++figures.in_flight_at_death;
    all.push_back(std::move(a));
  }
  return all;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  if (o.self_test) return run_self_test(std::cout) == 0 ? 0 : 1;

  const std::string shown = eventstore::redact_uri(o.store);
  if (o.processes > 1 && o.store.starts_with("memory:"))
    usage_error("--processes needs a store shared between processes (sqlite: or scylla://), not memory:");
  Plan plan = Plan::random(o.streams);
  if (!o.context.empty()) plan.context = o.context;
  const bool cluster = o.store.starts_with("scylla://");
  const auto started = std::chrono::steady_clock::now();
  std::uint64_t head_errors = 0;
  std::vector<Attempt> attempts;
  std::shared_ptr<eventstore::Store> store;
  std::optional<FeedHistory> feed_history;
  int feed_readers = 0;
  ProcessFigures processes;
  try {
    // Writer processes are forked (through the supervisor) before this process opens a store or
    // starts a thread.
    pid_t supervisor_pid = -1;
    if (o.processes > 1) {
      std::cout.flush();
      std::cerr.flush();
      const pid_t parent = getpid();
      supervisor_pid = fork();
      if (supervisor_pid < 0) {
        std::perror("history-check: fork");
        return 2;
      }
      if (supervisor_pid == 0) supervisor(o, plan, parent);
    }
    store = eventstore::open_store(o.store);
    // Does the store keep a feed? The defaults of feed.h answer kInvalidArgument.
    bool has_feed = true;
    try {
      store->feed_head(plan.context);
    } catch (const eventstore::Error& e) {
      if (e.code() == eventstore::ErrorCode::kInvalidArgument) has_feed = false;
    }
    feed_readers = o.feed_readers < 0 ? (has_feed ? 2 : 0) : o.feed_readers;
    if (feed_readers > 0 && !has_feed) {
      std::cerr << "history-check: " << shown << " keeps no feed; --feed-readers " << feed_readers
                << " cannot run\n";
      if (supervisor_pid > 0) {
        kill(supervisor_pid, SIGTERM);
        waitpid(supervisor_pid, nullptr, 0);
      }
      return 2;
    }
    FeedReaderConfig feed_config;
    feed_config.readers = feed_readers;
    feed_config.max_page = o.feed_page;
    feed_config.kill_probability = o.feed_kill;
    feed_config.duplicates_allowed = cluster;
    feed_config.settle_s = o.feed_settle_s.value_or(cluster ? 10.0 : 0.0);
    feed_config.catch_up_s = std::max(600.0, o.final_read_retry_s);
    feed_config.seed = o.seed.value_or(static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()));
    std::optional<FeedReaders> readers;
    if (feed_readers > 0) {
      readers.emplace(*store, plan, feed_config);
      readers->start();
    }
    if (o.processes > 1) {
      int status = 0;
      while (waitpid(supervisor_pid, &status, 0) < 0 && errno == EINTR) {
      }
      attempts = merge_writer_files(getpid(), processes, head_errors);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::cerr << "history-check: a writer process failed (supervisor status " << status << ")\n";
        return 2;
      }
    } else {
      WorkloadStats stats;
      attempts = run_workload(*store, plan, workload_config(o, 0), stats);
      head_errors = stats.head_errors.load();
    }
    if (readers) feed_history = readers->finish();
  } catch (const std::exception& e) {
    std::cerr << "history-check: " << shown << ": " << e.what() << "\n";
    return 2;
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const std::vector<StoredStream> stored = read_final(*store, plan, o.final_read_retry_s);
  Report report = check_history(plan, attempts, stored);
  if (feed_history) check_feed(plan, attempts, stored, *feed_history, report);

  if (!o.history_out.empty()) {
    std::ofstream out(o.history_out, std::ios::trunc);
    for (const Attempt& a : attempts) out << to_json(a).dump() << "\n";
  }

  std::string expectation;
  if (o.min_acked && report.acknowledged < *o.min_acked)
    expectation = "only " + std::to_string(report.acknowledged) + " appends acknowledged, expected at least " +
                  std::to_string(*o.min_acked);
  if (o.expect_unavailable && (report.acknowledged > 0 || report.unavailable == 0))
    expectation = "expected every append to fail as unavailable, got " + std::to_string(report.acknowledged) +
                  " acknowledged and " + std::to_string(report.unavailable) + " unavailable";
  const int status = report.violation_total() > 0 ? 1 : !expectation.empty() ? 3 : 0;

  if (o.json) {
    nlohmann::json j = to_json(report);
    j["store"] = shown;
    j["context"] = plan.context;
    j["threads"] = o.threads;
    j["processes"] = o.processes;
    j["elapsed_s"] = elapsed;
    j["head_errors"] = head_errors;
    j["retry_unknown"] = o.retry_unknown;
    j["feed_readers"] = feed_readers;
    if (o.processes > 1)
      j["writer_processes"] = {{"started", processes.writers},
                               {"killed", processes.killed},
                               {"appends_in_flight_at_a_kill", processes.in_flight_at_death},
                               {"torn_lines", processes.torn_lines}};
    j["expectation_failed"] = expectation;
    j["ok"] = status == 0;
    std::cout << j.dump(2) << "\n";
  } else {
    std::ostringstream head;
    head << "history-check: " << shown << ", context " << plan.context << ", " << o.processes << " process"
         << (o.processes > 1 ? "es" : "") << " x " << o.threads << " threads, " << o.streams << " streams, "
         << static_cast<double>(static_cast<long>(elapsed * 10)) / 10 << " s"
         << (o.retry_unknown ? ", retrying unknown outcomes" : "") << "\n";
    if (o.quiet) {
      std::cout << "history-check: " << shown << ": " << report.operations << " operations, " << report.acknowledged
                << " acknowledged, " << report.unknown << " unknown, " << report.violation_total()
                << " violations\n";
    } else {
      std::cout << head.str() << summary_text(report) << "head reads failed: " << head_errors << "\n";
      if (o.processes > 1)
        std::cout << "writer processes: " << processes.writers << " started, " << processes.killed
                  << " killed by SIGKILL (" << processes.in_flight_at_death << " appends in flight at a kill)\n";
    }
    if (!expectation.empty()) std::cout << "expectation not met: " << expectation << "\n";
    std::cout << (status == 0 ? "PASS" : "FAIL") << "\n";
  }
  return status;
}

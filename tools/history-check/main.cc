// history-check: records a history of concurrent appends against any store and checks it.
// See docs/RELIABILITY.md.
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "faulty_store.h"
#include "history.h"
#include "workload.h"

namespace {

using namespace historycheck;

constexpr const char* kUsage = R"(usage: history-check [OPTIONS]

Concurrent writers append to a few streams with real expected versions, every attempt and its
outcome is recorded, and a final read checks the history: acknowledged appends present at their
versions, streams contiguous, nothing invented or doubled, nothing of a rejected append stored,
reads after an acknowledgement see it.

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
    } else {
      usage_error("unknown option '" + a + "'");
    }
  }
  if (o.threads < 1 || o.threads > 1000) usage_error("--threads must be 1..1000");
  if (o.processes < 1 || o.processes > 64) usage_error("--processes must be 1..64");
  if (o.streams < 1 || o.streams > 10000) usage_error("--streams must be 1..10000");
  if (o.max_events < 1 || o.max_events > 100) usage_error("--max-events must be 1..100");
  if (o.read_check > 1 || o.stale > 1) usage_error("--read-check and --stale are probabilities, 0..1");
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

// Forks one writer process per --processes (before this process opens any store or starts a
// thread); each writes its history as JSON lines to a file that is merged here.
std::vector<Attempt> run_processes(const Options& o, const Plan& plan, std::uint64_t& head_errors) {
  const std::string dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    return std::string(tmp && *tmp ? tmp : "/tmp");
  }();
  std::vector<std::pair<pid_t, std::string>> children;
  for (int p = 0; p < o.processes; ++p) {
    const std::string file = dir + "/history-check-" + std::to_string(getpid()) + "-" + std::to_string(p) + ".jsonl";
    std::cout.flush();
    std::cerr.flush();
    const pid_t pid = fork();
    if (pid < 0) {
      std::perror("history-check: fork");
      std::exit(2);
    }
    if (pid == 0) {
      int status = 0;
      try {
        std::shared_ptr<eventstore::Store> store = eventstore::open_store(o.store);
        WorkloadStats stats;
        const std::vector<Attempt> attempts = run_workload(*store, plan, workload_config(o, p), stats);
        std::ofstream out(file, std::ios::trunc);
        out << nlohmann::json({{"head_errors", stats.head_errors.load()}}).dump() << "\n";
        for (const Attempt& a : attempts) out << to_json(a).dump() << "\n";
        out.close();
        if (!out) status = 3;
      } catch (const std::exception& e) {
        std::cerr << "history-check: writer process " << p << ": " << e.what() << "\n";
        status = 3;
      }
      std::cout.flush();
      std::cerr.flush();
      _exit(status);
    }
    children.emplace_back(pid, file);
  }
  std::vector<Attempt> all;
  bool failed = false;
  for (const auto& [pid, file] : children) {
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::cerr << "history-check: writer process " << pid << " failed (status " << status << ")\n";
      failed = true;
    }
    std::ifstream in(file);
    std::string line;
    bool first = true;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      const nlohmann::json j = nlohmann::json::parse(line);
      if (first) {
        head_errors += j.value("head_errors", std::uint64_t{0});
        first = false;
        continue;
      }
      all.push_back(attempt_from_json(j));
    }
    std::remove(file.c_str());
  }
  if (failed) std::exit(2);
  return all;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  if (o.self_test) return run_self_test(std::cout) == 0 ? 0 : 1;

  const std::string shown = eventstore::redact_uri(o.store);
  if (o.processes > 1 && o.store.starts_with("memory:"))
    usage_error("--processes needs a store shared between processes (sqlite: or scylla://), not memory:");
  const Plan plan = Plan::random(o.streams);
  const auto started = std::chrono::steady_clock::now();
  std::uint64_t head_errors = 0;
  std::vector<Attempt> attempts;
  std::shared_ptr<eventstore::Store> store;
  try {
    if (o.processes > 1) {
      attempts = run_processes(o, plan, head_errors);
      store = eventstore::open_store(o.store);
    } else {
      store = eventstore::open_store(o.store);
      WorkloadStats stats;
      attempts = run_workload(*store, plan, workload_config(o, 0), stats);
      head_errors = stats.head_errors.load();
    }
  } catch (const std::exception& e) {
    std::cerr << "history-check: " << shown << ": " << e.what() << "\n";
    return 2;
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const std::vector<StoredStream> stored = read_final(*store, plan, o.final_read_retry_s);
  const Report report = check_history(plan, attempts, stored);

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
    }
    if (!expectation.empty()) std::cout << "expectation not met: " << expectation << "\n";
    std::cout << (status == 0 ? "PASS" : "FAIL") << "\n";
  }
  return status;
}

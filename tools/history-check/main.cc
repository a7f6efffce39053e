// history-check: records a history of concurrent appends against any store and checks it.
// See docs/RELIABILITY.md. main runs the phases: the writers (threads of this process, or writer
// processes) with the feed readers following them, then the final read, the checks and the report.
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "faulty_store.h"
#include "feed_readers.h"
#include "history.h"
#include "options.h"
#include "report.h"
#include "stream_checks.h"
#include "workload.h"
#include "writer_processes.h"

namespace {

using namespace historycheck;

// What the writers and the feed readers left for the checks.
struct Run {
  std::shared_ptr<eventstore::Store> store;
  std::vector<Attempt> attempts;
  std::optional<FeedHistory> feed_history;
  std::uint64_t head_errors = 0;
  int feed_readers = 0;
  ProcessFigures processes;
};

// Runs the writers and the feed readers until the writers stop and the readers caught up.
// Answers the exit code when the run could not be made (2: setup error, printed).
std::optional<int> write_and_follow(const Options& o, const Plan& plan, const std::string& shown, Run& run) {
  const bool cluster = o.store.starts_with("scylla://");
  try {
    // Writer processes are forked (through the supervisor) before this process opens a store or
    // starts a thread.
    pid_t supervisor_pid = -1;
    if (o.processes > 1) {
      supervisor_pid = fork_supervisor(o, plan);
      if (supervisor_pid < 0) return 2;
    }
    run.store = eventstore::open_store(o.store);
    // Does the store keep a feed? The defaults of feed.h answer kInvalidArgument.
    bool has_feed = true;
    try {
      run.store->feed_head(plan.context);
    } catch (const eventstore::Error& e) {
      if (e.code() == eventstore::ErrorCode::kInvalidArgument) has_feed = false;
    }
    run.feed_readers = o.feed_readers < 0 ? (has_feed ? 2 : 0) : o.feed_readers;
    if (run.feed_readers > 0 && !has_feed) {
      std::cerr << "history-check: " << shown << " keeps no feed; --feed-readers " << run.feed_readers
                << " cannot run\n";
      if (supervisor_pid > 0) {
        kill(supervisor_pid, SIGTERM);
        waitpid(supervisor_pid, nullptr, 0);
      }
      return 2;
    }
    FeedReaderConfig feed_config;
    feed_config.readers = run.feed_readers;
    feed_config.max_page = o.feed_page;
    feed_config.kill_probability = o.feed_kill;
    feed_config.duplicates_allowed = cluster;
    feed_config.hidden_may_be_missing = true;  // every backend leaves a hidden event's entry out
    feed_config.settle_s = o.feed_settle_s.value_or(cluster ? 10.0 : 0.0);
    feed_config.catch_up_s = std::max(600.0, o.final_read_retry_s);
    feed_config.seed =
        o.seed.value_or(static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()));
    std::optional<FeedReaders> readers;
    if (run.feed_readers > 0) {
      readers.emplace(*run.store, plan, feed_config);
      readers->start();
    }
    if (o.processes > 1) {
      int status = 0;
      while (waitpid(supervisor_pid, &status, 0) < 0 && errno == EINTR) {
      }
      run.attempts = merge_writer_files(getpid(), run.processes, run.head_errors);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::cerr << "history-check: a writer process failed (supervisor status " << status << ")\n";
        return 2;
      }
    } else {
      WorkloadStats stats;
      run.attempts = run_workload(*run.store, plan, workload_config(o, 0), stats);
      run.head_errors = stats.head_errors.load();
    }
    if (readers) run.feed_history = readers->finish();
  } catch (const std::exception& e) {
    std::cerr << "history-check: " << shown << ": " << e.what() << "\n";
    return 2;
  }
  return std::nullopt;
}

// Empty when the run met --min-acked and --expect-unavailable, else what it missed.
std::string unmet_expectation(const Options& o, const Report& report) {
  std::string expectation;
  if (o.min_acked && report.acknowledged < *o.min_acked)
    expectation = "only " + std::to_string(report.acknowledged) + " appends acknowledged, expected at least " +
                  std::to_string(*o.min_acked);
  if (o.expect_unavailable && (report.acknowledged > 0 || report.unavailable == 0))
    expectation = "expected every append to fail as unavailable, got " + std::to_string(report.acknowledged) +
                  " acknowledged and " + std::to_string(report.unavailable) + " unavailable";
  return expectation;
}

void print_json_report(const Options& o, const Plan& plan, const std::string& shown, const Run& run,
                       const Report& report, double elapsed, const std::string& expectation, int status) {
  nlohmann::json j = to_json(report);
  j["store"] = shown;
  j["context"] = plan.context;
  j["threads"] = o.threads;
  j["processes"] = o.processes;
  j["elapsed_s"] = elapsed;
  j["head_errors"] = run.head_errors;
  j["retry_unknown"] = o.retry_unknown;
  j["feed_readers"] = run.feed_readers;
  if (o.processes > 1)
    j["writer_processes"] = {{"started", run.processes.writers},
                             {"killed", run.processes.killed},
                             {"appends_in_flight_at_a_kill", run.processes.in_flight_at_death},
                             {"torn_lines", run.processes.torn_lines}};
  j["expectation_failed"] = expectation;
  j["ok"] = status == 0;
  std::cout << j.dump(2) << "\n";
}

void print_text_report(const Options& o, const Plan& plan, const std::string& shown, const Run& run,
                       const Report& report, double elapsed, const std::string& expectation, int status) {
  std::ostringstream head;
  head << "history-check: " << shown << ", context " << plan.context << ", " << o.processes << " process"
       << (o.processes > 1 ? "es" : "") << " x " << o.threads << " threads, " << o.streams << " streams, "
       << static_cast<double>(static_cast<long>(elapsed * 10)) / 10 << " s"
       << (o.retry_unknown ? ", retrying unknown outcomes" : "") << "\n";
  if (o.quiet) {
    std::cout << "history-check: " << shown << ": " << report.operations << " operations, " << report.acknowledged
              << " acknowledged, " << report.unknown << " unknown, " << report.violation_total() << " violations\n";
  } else {
    std::cout << head.str() << summary_text(report) << "head reads failed: " << run.head_errors << "\n";
    if (o.processes > 1)
      std::cout << "writer processes: " << run.processes.writers << " started, " << run.processes.killed
                << " killed by SIGKILL (" << run.processes.in_flight_at_death << " appends in flight at a kill)\n";
  }
  if (!expectation.empty()) std::cout << "expectation not met: " << expectation << "\n";
  std::cout << (status == 0 ? "PASS" : "FAIL") << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (const std::optional<int> exit_code = parse_options(argc, argv, o)) return *exit_code;
  if (o.self_test) return run_self_test(std::cout) == 0 ? 0 : 1;

  const std::string shown = eventstore::redact_uri(o.store);
  if (o.processes > 1 && o.store.starts_with("memory:"))
    return usage_error("--processes needs a store shared between processes (sqlite: or scylla://), not memory:");
  Plan plan = Plan::random(o.streams);
  if (!o.context.empty()) plan.context = o.context;
  const auto started = std::chrono::steady_clock::now();
  Run run;
  if (const std::optional<int> failed = write_and_follow(o, plan, shown, run)) return *failed;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const std::vector<StoredStream> stored = read_final(*run.store, plan, o.final_read_retry_s);
  Report report = check_history(plan, run.attempts, stored);
  if (run.feed_history) check_feed(plan, run.attempts, stored, *run.feed_history, report);

  if (!o.history_out.empty()) {
    std::ofstream out(o.history_out, std::ios::trunc);
    for (const Attempt& a : run.attempts) out << to_json(a).dump() << "\n";
  }

  const std::string expectation = unmet_expectation(o, report);
  const int status = report.violation_total() > 0 ? 1 : !expectation.empty() ? 3 : 0;
  if (o.json) print_json_report(o, plan, shown, run, report, elapsed, expectation, status);
  else print_text_report(o, plan, shown, run, report, elapsed, expectation, status);
  return status;
}

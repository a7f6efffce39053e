#include "writer_processes.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <tuple>

#include "workload.h"
#include "write_line.h"

namespace historycheck {
namespace {

std::string temp_dir() {
  const char* tmp = std::getenv("TMPDIR");
  return std::string(tmp && *tmp ? tmp : "/tmp");
}

std::string writer_file(pid_t parent, int index) {
  return temp_dir() + "/history-check-" + std::to_string(parent) + "-" + std::to_string(index) + ".jsonl";
}

std::string supervisor_file(pid_t parent) {
  return temp_dir() + "/history-check-" + std::to_string(parent) + "-supervisor.json";
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
    // A failed write ends the writer at once: the history it leaves must not have holes.
    config.on_record = [fd](const Attempt& a) {
      if (!write_line(fd, to_json(a).dump())) _exit(3);
    };
    WorkloadStats stats;
    run_workload(*store, plan, config, stats);
    if (!write_line(fd, nlohmann::json({{"head_errors", stats.head_errors.load()}}).dump())) _exit(3);
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
    const double left = std::chrono::duration<double>(deadline - std::chrono::steady_clock::now()).count();
    std::cout.flush();
    std::cerr.flush();
    const pid_t pid = fork();
    if (pid < 0) {
      std::perror("history-check: fork");
      ++failed;
      return;
    }
    if (pid == 0)
      writer_process(o, plan, index, initial ? o.duration_s : std::max(0.0, left), initial, writer_file(parent, index));
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
    std::ofstream out(supervisor_file(parent), std::ios::trunc);
    out << nlohmann::json({{"writers", next}, {"killed", killed}, {"failed", failed}}).dump() << "\n";
  }
  if (!o.writer_pids.empty()) std::remove(o.writer_pids.c_str());
  std::cout.flush();
  std::cerr.flush();
  _exit(failed ? 3 : 0);
}

}  // namespace

pid_t fork_supervisor(const Options& o, const Plan& plan) {
  std::cout.flush();
  std::cerr.flush();
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) std::perror("history-check: fork");
  if (pid == 0) supervisor(o, plan, parent);
  return pid;
}

std::vector<Attempt> merge_writer_files(pid_t parent, ProcessFigures& figures, std::uint64_t& head_errors) {
  {
    std::ifstream in(supervisor_file(parent));
    nlohmann::json j = nlohmann::json::object();
    std::string line;
    if (std::getline(in, line) && !line.empty()) j = nlohmann::json::parse(line);
    figures.writers = j.value("writers", 0);
    figures.killed = j.value("killed", 0);
  }
  std::remove(supervisor_file(parent).c_str());
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

}  // namespace historycheck

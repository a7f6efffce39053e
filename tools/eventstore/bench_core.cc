// The pieces of bench_core.h that are not templates: process stats (this process's CPU, RSS and
// threads, and the local server's CPU time), the progress bar, the latency record.
#include "bench_core.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "cli.h"

namespace eventstore_cli::bench {

namespace {
std::vector<int> server_pids;

// utime + stime of /proc/PID/stat (fields 14 and 15), in seconds; -1 if the process is gone.
double process_cpu_s(int pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(file, stat)) return -1;
  const std::size_t name_end = stat.rfind(')');
  if (name_end == std::string::npos) return -1;
  std::istringstream fields(stat.substr(name_end + 2));
  std::string field;
  double ticks = 0;
  for (int index = 3; index <= 15 && fields >> field; ++index)
    if (index >= 14) ticks += std::strtod(field.c_str(), nullptr);
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}
}  // namespace

void set_server_pids(const std::vector<int>& pids) {
  for (int pid : pids)
    if (pid <= 0 || process_cpu_s(pid) < 0)
      throw UsageError("--server-pid " + std::to_string(pid) + ": no such process readable in /proc");
  server_pids = pids;
}

bool has_server_pids() { return !server_pids.empty(); }

Usage Usage::now() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  Usage usage{static_cast<double>(u.ru_utime.tv_sec) + static_cast<double>(u.ru_utime.tv_usec) / 1e6,
              static_cast<double>(u.ru_stime.tv_sec) + static_cast<double>(u.ru_stime.tv_usec) / 1e6, 0};
  for (int pid : server_pids) usage.server_s += std::max(0.0, process_cpu_s(pid));
  return usage;
}

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

int thread_count() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("Threads:", 0) == 0) return std::atoi(line.c_str() + 8);
  return 0;
}

void Progress::update(const std::string& phase, double fraction, const std::string& detail) {
  if (!enabled_) return;
  const Clock::time_point now = Clock::now();
  if (drawn_ && now - last_ < std::chrono::milliseconds(250)) return;
  last_ = now;
  drawn_ = true;
  constexpr int kWidth = 30;
  fraction = std::clamp(fraction, 0.0, 1.0);
  const int filled = static_cast<int>(fraction * kWidth);
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.append(static_cast<std::size_t>(kWidth - filled), '.');
  std::fprintf(stderr, "\r\033[K%-8s [%s] %3d%%  %s", phase.c_str(), bar.c_str(), static_cast<int>(fraction * 100),
               detail.c_str());
  std::fflush(stderr);
}

void Progress::finish() {
  if (enabled_ && drawn_) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
  }
  drawn_ = false;
}

nlohmann::ordered_json latency_json(const Histogram& h) {
  auto r3 = [](double v) { return std::round(v * 1000.0) / 1000.0; };
  nlohmann::ordered_json j;
  j["count"] = h.count();
  j["p50_ms"] = r3(h.quantile_ms(0.50));
  j["p95_ms"] = r3(h.quantile_ms(0.95));
  j["p99_ms"] = r3(h.quantile_ms(0.99));
  j["max_ms"] = r3(h.max_ms());
  j["mean_ms"] = r3(h.mean_ms());
  return j;
}

}  // namespace eventstore_cli::bench

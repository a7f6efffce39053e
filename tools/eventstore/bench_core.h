// Pieces shared by the bench drivers: latency histogram, completion hand-off, process stats,
// progress bar and the result record.
#pragma once

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace eventstore_cli::bench {

using Clock = std::chrono::steady_clock;

inline double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Log-linear latency histogram in nanoseconds: 64 sub-buckets per power of two (<= 1.6% error),
// fixed memory, so recording costs the same at any rate.
class Histogram {
 public:
  Histogram() : counts_(kBuckets, 0) {}
  void record(std::uint64_t ns) {
    ++counts_[index(ns)];
    ++count_;
    sum_ += ns;
    if (ns > max_) max_ = ns;
  }
  void merge(const Histogram& other) {
    for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
    sum_ += other.sum_;
    if (other.max_ > max_) max_ = other.max_;
  }
  std::uint64_t count() const { return count_; }
  double max_ms() const { return static_cast<double>(max_) / 1e6; }
  double mean_ms() const { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) / 1e6 : 0; }
  // The q-quantile (0..1) in milliseconds.
  double quantile_ms(double q) const {
    if (count_ == 0) return 0;
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(count_) + 0.999999);
    if (rank < 1) rank = 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min(static_cast<double>(value(i)), static_cast<double>(max_)) / 1e6;
    }
    return max_ms();
  }

 private:
  static constexpr std::size_t kSub = 64;
  static constexpr std::size_t kBuckets = 59 * kSub;
  static std::size_t index(std::uint64_t ns) {
    if (ns < kSub) return static_cast<std::size_t>(ns);
    const int msb = 63 - __builtin_clzll(ns);
    const int shift = msb - 6;
    return static_cast<std::size_t>(shift + 1) * kSub + static_cast<std::size_t>((ns >> shift) & (kSub - 1));
  }
  // The middle of bucket i.
  static std::uint64_t value(std::size_t i) {
    if (i < kSub) return i;
    const std::size_t shift = i / kSub - 1;
    const std::uint64_t lower = (kSub + i % kSub) << shift;
    return lower + ((std::uint64_t{1} << shift) >> 1);
  }

  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t max_ = 0;
};

// How one request ended, whichever driver sent it (store, blocking loop, raw ceiling).
enum class Outcome : std::uint8_t {
  kApplied,   // the append was applied, the read finished
  kConflict,  // a version conflict (the raw ceiling: the conditional batch was not applied)
  kFailed,    // any other error: its kind is reported beside
};

// One finished request, handed from a backend thread to the client thread.
struct Completion {
  std::uint32_t slot = 0;
  Outcome outcome = Outcome::kApplied;
  const char* error_kind = "";        // static string: error code name
  std::int64_t current_version = -1;  // for a conflict, when known
  Clock::time_point end{};
};

// Completions pushed from any thread; the client thread takes them in batches and sleeps only
// when there are none (one wake-up per batch, not per request).
class Sink {
 public:
  void push(const Completion& c) {
    bool wake;
    {
      std::lock_guard lock(mutex_);
      items_.push_back(c);
      wake = waiting_;
    }
    if (wake) cv_.notify_one();
  }
  // Swaps the pending completions into `out` (cleared first), waiting until `deadline` for one.
  void take(std::vector<Completion>& out, Clock::time_point deadline) {
    out.clear();
    std::unique_lock lock(mutex_);
    if (items_.empty()) {
      waiting_ = true;
      cv_.wait_until(lock, deadline, [this] { return !items_.empty(); });
      waiting_ = false;
    }
    out.swap(items_);
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Completion> items_;
  bool waiting_ = false;
};

// The server processes (a local Cassandra node's pids, --server-pid) whose CPU time every Usage
// also takes. Set once, before a run. Throws UsageError when one is not a readable process.
void set_server_pids(const std::vector<int>& pids);
bool has_server_pids();

// CPU seconds used so far: this process's user and system time, and the server processes'
// user + system time (0 without server pids).
struct Usage {
  double user_s = 0;
  double sys_s = 0;
  double server_s = 0;
  static Usage now();
};

double peak_rss_mb();
int thread_count();

// A one-line progress bar on stderr, redrawn at most 4 times a second.
class Progress {
 public:
  explicit Progress(bool enabled) : enabled_(enabled) {}
  ~Progress() { finish(); }
  void update(const std::string& phase, double fraction, const std::string& detail);
  void finish();

 private:
  bool enabled_;
  bool drawn_ = false;
  Clock::time_point last_{};
};

// The numbers of one run of a request mix.
struct RunResult {
  std::uint64_t ops = 0;
  std::uint64_t events = 0;  // events appended (append ops x events per append)
  std::uint64_t reads = 0;
  std::uint64_t events_read = 0;
  double window_s = 0;
  Histogram all;
  Histogram appends;
  Histogram read_latency;
  std::map<std::string, std::uint64_t> errors;
  std::uint64_t conflicts = 0;
  Usage cpu_before;
  Usage cpu_after;
  std::uint64_t max_in_flight = 0;
  int threads = 0;
  std::uint64_t unfinished = 0;  // requests that did not complete at the end
};

nlohmann::ordered_json latency_json(const Histogram& h);

}  // namespace eventstore_cli::bench

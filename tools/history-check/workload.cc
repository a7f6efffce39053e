#include "workload.h"

#include <algorithm>
#include <chrono>
#include <future>
#include <random>
#include <thread>

namespace historycheck {

using eventstore::AppendResult;
using eventstore::Error;
using eventstore::EventData;
using eventstore::ExpectedVersion;
using eventstore::Result;
using Clock = std::chrono::steady_clock;

namespace {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

class Writer {
 public:
  Writer(eventstore::Store& store, const Plan& plan, const WorkloadConfig& config, WorkloadStats& stats, int thread,
         std::atomic<std::uint64_t>& started, Clock::time_point deadline)
      : store_(store),
        plan_(plan),
        config_(config),
        stats_(stats),
        thread_(thread),
        started_(started),
        deadline_(deadline),
        known_(plan.streams.size()),
        rng_(config.seed * 0x9E3779B97F4A7C15ULL + static_cast<std::uint64_t>(config.process) * 7919 +
             static_cast<std::uint64_t>(thread)) {}

  std::vector<Attempt> run() {
    while (Clock::now() < deadline_) {
      const std::size_t s = sticky_ ? *sticky_ : pick_stream();
      sticky_.reset();
      const eventstore::StreamId stream = plan_.stream(s);
      if (!known_[s] || chance(config_.read_head_probability)) {
        try {
          known_[s] = store_.head(stream);
          failures_ = 0;
        } catch (const std::exception&) {
          ++stats_.head_errors;
          back_off();
          // Append anyway, at the last version seen: the append's own outcome is what is
          // checked (with a quorum down, it must be a clear unavailable error).
          if (!known_[s]) known_[s] = 0;
        }
      }
      if (config_.ops && started_.fetch_add(1) >= *config_.ops) break;
      std::int64_t expected = *known_[s];
      if (expected > 0 && chance(config_.stale_probability)) --expected;
      if (chance(config_.lifecycle_rate)) change_one(s, stream, expected);
      else append_one(s, stream, expected);
    }
    return std::move(attempts_);
  }

 private:
  std::size_t pick(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

  // A stream, mostly one not known to be hard-deleted.
  std::size_t pick_stream() {
    std::size_t s = pick(plan_.streams.size());
    for (int tries = 0; dead_[s] && tries < 8 && !chance(config_.dead_probe_probability); ++tries)
      s = pick(plan_.streams.size());
    return s;
  }

  void back_off() {
    failures_ = std::min(failures_ + 1, 25);
    std::this_thread::sleep_for(std::chrono::milliseconds(10 * failures_ + static_cast<int>(pick(10))));
  }

  std::uint64_t next_op() {
    return (static_cast<std::uint64_t>(config_.process) << 40) | (static_cast<std::uint64_t>(thread_) << 28) |
           ++sequence_;
  }

  void append_one(std::size_t s, const eventstore::StreamId& stream, std::int64_t expected) {
    Attempt base;
    base.op = next_op();
    base.stream = s;
    base.expected = expected;
    const std::size_t n = 1 + pick(static_cast<std::size_t>(std::max(1, config_.max_events)));
    for (std::size_t i = 0; i < n; ++i) base.ids.push_back(Uuid::random());
    run_op(base, stream, [&](int attempt) {
      std::vector<EventData> events;
      for (std::size_t i = 0; i < n; ++i) {
        nlohmann::json data = {{"op", base.op}, {"k", i}, {"attempt", attempt}};
        events.push_back(EventData{base.ids[i], event_type_of(i), data.dump(),
                                   nlohmann::json({{"context", plan_.context}}).dump(), std::nullopt});
      }
      return append(stream, ExpectedVersion::exact(expected), std::move(events));
    });
  }

  // A truncate (mostly), a soft delete or a hard delete of the stream at `expected`.
  void change_one(std::size_t s, const eventstore::StreamId& stream, std::int64_t expected) {
    Attempt base;
    base.op = next_op();
    base.stream = s;
    const double r = std::uniform_real_distribution<double>(0, 1)(rng_);
    const bool light = lightly_truncated(s, plan_.streams.size());
    base.kind = OpKind::kTruncate;
    if (r < config_.hard_delete_share && hard_deletable(s, plan_.streams.size())) base.kind = OpKind::kHardDelete;
    else if (!light && r >= config_.hard_delete_share && r < config_.hard_delete_share + 0.2)
      base.kind = OpKind::kSoftDelete;
    bool any = chance(0.2);
    if (base.kind == OpKind::kTruncate) {
      if (light) {
        // The older half only: the final read keeps about half of the stream.
        base.before = 1 + static_cast<std::int64_t>(pick(static_cast<std::size_t>(expected / 2 + 1)));
      } else if (chance(0.03)) {
        // Above the head + 1 unless the stream moved on meanwhile: kInvalidArgument, nothing written.
        base.before = expected + 2;
        any = true;
      } else if (chance(0.5)) {
        base.before =
            expected + 1 -
            static_cast<std::int64_t>(pick(static_cast<std::size_t>(std::min<std::int64_t>(expected + 1, 10))));
      } else {
        base.before = 1 + static_cast<std::int64_t>(pick(static_cast<std::size_t>(expected + 1)));
      }
    }
    base.expected = any ? -1 : expected;
    base.ids = {Uuid::random()};
    eventstore::LifecycleChange change;
    change.kind = base.kind == OpKind::kTruncate     ? eventstore::LifecycleKind::kTruncate
                  : base.kind == OpKind::kSoftDelete ? eventstore::LifecycleKind::kSoftDelete
                                                     : eventstore::LifecycleKind::kHardDelete;
    change.before = base.before;
    change.expected = any ? ExpectedVersion::any() : ExpectedVersion::exact(expected);
    change.event_id = base.ids[0];
    run_op(base, stream, [&](int) { return change_lifecycle(stream, change); });
  }

  // Sends `base` (attempt 1, then retries with the same ids after unknown outcomes) and records
  // every attempt.
  template <class Send>
  void run_op(const Attempt& base, const eventstore::StreamId& stream, Send send) {
    const std::size_t s = base.stream;
    const auto grace_end =
        deadline_ + std::chrono::milliseconds(static_cast<std::int64_t>(config_.retry_grace_s * 1000));
    for (int attempt = 1;; ++attempt) {
      Attempt a = base;
      a.attempt = attempt;
      a.process = config_.process;
      a.thread = thread_;
      a.invoke_ns = now_ns();
      if (config_.on_record) {
        Attempt intent = a;
        intent.outcome = Outcome::kUnknown;
        intent.error = "in flight when the writer process died";
        config_.on_record(intent);
      }
      std::optional<Result<AppendResult>> result;
      try {
        result.emplace(send(attempt));
      } catch (const Error& e) {
        result.emplace(e);
      } catch (const std::exception& e) {
        result.emplace(Error(eventstore::ErrorCode::kInternal, e.what()));
      }
      a.complete_ns = now_ns();
      if (result->ok()) {
        const AppendResult& ok = result->value();
        a.outcome = Outcome::kOk;
        a.first_version = ok.first_version;
        a.next_version = ok.next_expected_version;
        a.result_ids = ok.event_ids;
        known_[s] = ok.next_expected_version;
        if (a.kind == OpKind::kHardDelete) dead_[s] = true;
        failures_ = 0;
        if (config_.on_record) config_.on_record(a);
        if (chance(config_.read_check_probability)) {
          if (is_lifecycle(a.kind)) lifecycle_read_check(a, stream);
          else read_check(a, stream);
          if (config_.on_record) config_.on_record(a);
        }
        attempts_.push_back(std::move(a));
        return;
      }
      const Error& e = result->error();
      a.outcome = outcome_of(e.code());
      a.error = std::string(eventstore::to_string(e.code())) + ": " + e.what();
      a.current_version = e.current_version();
      const Outcome outcome = a.outcome;
      if (config_.on_record) config_.on_record(a);
      attempts_.push_back(std::move(a));
      known_[s].reset();
      if (outcome == Outcome::kStreamDeleted) {
        dead_[s] = true;
        if (e.current_version()) known_[s] = *e.current_version();
        return;
      }
      if (outcome == Outcome::kConflict) {
        // Re-read the head (the conflict names it) and try again on the same stream.
        if (e.current_version()) known_[s] = *e.current_version();
        sticky_ = s;
        failures_ = 0;
        return;
      }
      const bool unresolved = outcome == Outcome::kUnknown || outcome == Outcome::kOtherError ||
                              (attempt > 1 && outcome == Outcome::kUnavailable);
      if (config_.retry_unknown && unresolved && attempt < config_.max_retries && Clock::now() < grace_end) {
        back_off();
        continue;
      }
      back_off();
      return;
    }
  }

  Result<AppendResult> append(const eventstore::StreamId& stream, ExpectedVersion expected,
                              std::vector<EventData> events) {
    if (!chance(config_.async_probability)) return store_.append(stream, expected, std::move(events));
    auto promise = std::make_shared<std::promise<Result<AppendResult>>>();
    std::future<Result<AppendResult>> future = promise->get_future();
    store_.append_async(stream, expected, std::move(events),
                        [promise](Result<AppendResult> r) { promise->set_value(std::move(r)); });
    return future.get();
  }

  Result<AppendResult> change_lifecycle(const eventstore::StreamId& stream, const eventstore::LifecycleChange& change) {
    if (!chance(config_.async_probability)) return store_.change_lifecycle(stream, change);
    auto promise = std::make_shared<std::promise<Result<AppendResult>>>();
    std::future<Result<AppendResult>> future = promise->get_future();
    store_.change_lifecycle_async(stream, change,
                                  [promise](Result<AppendResult> r) { promise->set_value(std::move(r)); });
    return future.get();
  }

  // The head right after an ack: at least the acknowledged version. False (kNotSeen) if not.
  bool head_check(Attempt& a, const eventstore::StreamId& stream) {
    const std::int64_t head = store_.head(stream);
    if (head >= a.next_version) return true;
    a.read_check = ReadCheck::kNotSeen;
    a.read_detail =
        "head() is " + std::to_string(head) + " right after an ack at version " + std::to_string(a.next_version);
    return false;
  }

  std::vector<eventstore::RecordedEvent> timed_read(Attempt& a, const eventstore::StreamId& stream, std::int64_t from,
                                                    std::uint64_t limit) {
    eventstore::ReadOptions options;
    options.from = from;
    options.limit = limit;
    a.read_from = from;
    a.read_start_ns = now_ns();
    std::vector<eventstore::RecordedEvent> events = store_.read_all(stream, options);
    a.read_end_ns = now_ns();
    a.read_lowest = events.empty() ? 0 : events.front().version;
    return events;
  }

  // Read-your-writes: a head and a read started now must see the acknowledged append, or the
  // part of it no lifecycle change hid meanwhile (kHidden: the checker decides).
  void read_check(Attempt& a, const eventstore::StreamId& stream) {
    try {
      if (!head_check(a, stream)) return;
      const std::vector<eventstore::RecordedEvent> events = timed_read(a, stream, a.first_version, a.ids.size());
      bool match = !events.empty();
      for (std::size_t i = 0; match && i < events.size(); ++i) {
        const std::int64_t version = events[i].version;
        match = version == a.read_lowest + static_cast<std::int64_t>(i) && version >= a.first_version;
        if (match && version <= a.next_version)
          match = events[i].event_id == a.ids[static_cast<std::size_t>(version - a.first_version)];
      }
      if (!match) {
        a.read_check = ReadCheck::kNotSeen;
        a.read_detail = "a read from version " + std::to_string(a.first_version) + " right after the ack returned " +
                        std::to_string(events.size()) + " events, not the acknowledged ids";
        return;
      }
      a.read_check = a.read_lowest == a.first_version ? ReadCheck::kSeen : ReadCheck::kHidden;
    } catch (const std::exception& e) {
      a.read_check = ReadCheck::kFailed;
      a.read_detail = e.what();
    }
  }

  // After a lifecycle change: the head is at least its version, and a read from version 1 starts
  // at or above its "before" (the checker compares read_lowest with every before acknowledged).
  void lifecycle_read_check(Attempt& a, const eventstore::StreamId& stream) {
    try {
      if (!head_check(a, stream)) return;
      if (timed_read(a, stream, 1, 1).empty()) {
        a.read_check = ReadCheck::kNotSeen;
        a.read_detail = "a read from version 1 right after the change at version " + std::to_string(a.first_version) +
                        " returned nothing";
        return;
      }
      a.read_check = ReadCheck::kSeen;
    } catch (const std::exception& e) {
      a.read_check = ReadCheck::kFailed;
      a.read_detail = e.what();
    }
  }

  eventstore::Store& store_;
  const Plan& plan_;
  const WorkloadConfig& config_;
  WorkloadStats& stats_;
  int thread_;
  std::atomic<std::uint64_t>& started_;
  Clock::time_point deadline_;
  std::vector<std::optional<std::int64_t>> known_;
  std::vector<bool> dead_ = std::vector<bool>(plan_.streams.size(), false);  // known to be hard-deleted
  std::optional<std::size_t> sticky_;
  std::mt19937_64 rng_;
  std::uint64_t sequence_ = 0;
  int failures_ = 0;
  std::vector<Attempt> attempts_;
};

}  // namespace

bool lightly_truncated(std::size_t stream, std::size_t streams) { return stream < streams / 2; }

bool hard_deletable(std::size_t stream, std::size_t streams) {
  return streams >= 2 && stream >= streams - std::max<std::size_t>(1, streams / 4);
}

std::vector<Attempt> run_workload(eventstore::Store& store, const Plan& plan, const WorkloadConfig& config,
                                  WorkloadStats& stats) {
  std::atomic<std::uint64_t> started{0};
  const Clock::time_point deadline =
      Clock::now() + std::chrono::milliseconds(static_cast<std::int64_t>(config.duration_s * 1000));
  const int threads = std::max(1, config.threads);
  std::vector<std::vector<Attempt>> per_thread(static_cast<std::size_t>(threads));
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      Writer writer(store, plan, config, stats, t, started, deadline);
      per_thread[static_cast<std::size_t>(t)] = writer.run();
    });
  for (std::thread& w : workers) w.join();
  std::vector<Attempt> all;
  for (auto& list : per_thread)
    for (Attempt& a : list) all.push_back(std::move(a));
  return all;
}

}  // namespace historycheck

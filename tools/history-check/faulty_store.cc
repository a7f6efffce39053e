#include "faulty_store.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>

#include "history.h"
#include "workload.h"

namespace historycheck {

using namespace eventstore;

const char* to_string(Fault fault) {
  switch (fault) {
    case Fault::kNone: return "none";
    case Fault::kDropAck: return "drop-ack";
    case Fault::kDuplicate: return "duplicate";
    case Fault::kInvent: return "invent";
    case Fault::kStoreRejected: return "store-rejected";
    case Fault::kGap: return "gap";
    case Fault::kStaleHead: return "stale-head";
    case Fault::kPartialUnknown: return "partial-unknown";
    case Fault::kLostUnknown: return "lost-unknown";
  }
  return "?";
}

namespace {

struct State {
  std::mutex mutex;
  std::map<StreamId, std::vector<RecordedEvent>> streams;
  std::map<StreamId, std::int64_t> just_appended;  // stream -> version of the last append
  std::set<std::vector<Uuid>> lied_about;          // appends answered unknown by kLostUnknown
};

class FaultyCursor final : public EventCursor {
 public:
  FaultyCursor(std::vector<RecordedEvent> events, ReadOptions options)
      : events_(std::move(events)), options_(options) {
    if (options_.direction == Direction::kBackward) std::reverse(events_.begin(), events_.end());
    const std::int64_t from = options_.from.value_or(options_.direction == Direction::kForward ? 1 : INT64_MAX);
    while (next_ < events_.size() && (options_.direction == Direction::kForward ? events_[next_].version < from
                                                                               : events_[next_].version > from))
      ++next_;
    remaining_ = options_.limit.value_or(UINT64_MAX);
  }

  void next_page_async(PageCallback callback) override {
    std::vector<RecordedEvent> page;
    while (next_ < events_.size() && remaining_ > 0 && page.size() < options_.page_size) {
      page.push_back(events_[next_++]);
      --remaining_;
    }
    callback(std::move(page));
  }

 private:
  std::vector<RecordedEvent> events_;
  ReadOptions options_;
  std::size_t next_ = 0;
  std::uint64_t remaining_ = 0;
};

class FaultyStore final : public Store {
 public:
  FaultyStore(Fault fault, int every) : fault_(fault), every_(std::max(1, every)) {}

  std::string describe() const override { return std::string("faulty:") + to_string(fault_); }

  void append_async(const StreamId& stream, ExpectedVersion expected, std::vector<EventData> events,
                    AppendCallback callback) override {
    std::optional<Result<AppendResult>> result;
    {
      std::lock_guard lock(state_.mutex);
      result.emplace(append_locked(stream, expected, events));
    }
    callback(std::move(*result));
  }

  std::unique_ptr<EventCursor> read(const StreamId& stream, const ReadOptions& options) override {
    std::lock_guard lock(state_.mutex);
    auto it = state_.streams.find(stream);
    return std::make_unique<FaultyCursor>(it == state_.streams.end() ? std::vector<RecordedEvent>{} : it->second,
                                          options);
  }

  void head_async(const StreamId& stream, HeadCallback callback) override {
    std::int64_t head = 0;
    {
      std::lock_guard lock(state_.mutex);
      head = head_locked(stream);
      auto just = state_.just_appended.find(stream);
      if (fault_ == Fault::kStaleHead && just != state_.just_appended.end() && just->second == head &&
          ++stale_count_ % every_ == 0)
        head -= 1;
      state_.just_appended.erase(stream);
    }
    callback(head);
  }

  void load_snapshot_async(const StreamId&, LoadCallback callback) override { callback(std::optional<Snapshot>()); }
  void save_snapshot_async(const StreamId&, Snapshot snapshot, SaveCallback callback) override {
    callback(SnapshotSaveResult{false, snapshot.version});
  }

 private:
  std::int64_t head_locked(const StreamId& stream) {
    auto it = state_.streams.find(stream);
    return it == state_.streams.end() || it->second.empty() ? 0 : it->second.back().version;
  }

  void store(const StreamId& stream, std::int64_t version, const EventData& e) {
    state_.streams[stream].push_back(
        RecordedEvent{stream, version, *e.event_id, e.event_type, e.data, e.metadata, *e.timestamp});
  }

  Result<AppendResult> append_locked(const StreamId& stream, ExpectedVersion expected, std::vector<EventData>& events) {
    for (EventData& e : events) {
      if (!e.event_id) e.event_id = Uuid::random();
      if (!e.timestamp) e.timestamp = now_ms();
    }
    std::vector<Uuid> ids;
    for (const EventData& e : events) ids.push_back(*e.event_id);
    const std::int64_t head = head_locked(stream);
    const auto n = static_cast<std::int64_t>(events.size());
    const std::int64_t at = expected.is_any() ? head : expected.version();
    AppendResult ok;
    ok.first_version = at + 1;
    ok.next_expected_version = at + n;
    ok.event_ids = ids;
    if (state_.lied_about.count(ids)) return ok;  // kLostUnknown: "it worked after all"
    // An idempotent retry returns the original result. (After an injected gap the list is
    // shorter than the head: positions past its end are not a retry.)
    auto& list = state_.streams[stream];
    if (at >= 0 && at + n <= head && static_cast<std::size_t>(at + n) <= list.size()) {
      bool same = true;
      for (std::int64_t i = 0; i < n && same; ++i)
        same = list[static_cast<std::size_t>(at + i)].event_id == ids[static_cast<std::size_t>(i)];
      if (same) return ok;
    }
    if (at != head) {
      if (fault_ == Fault::kStoreRejected && ++count_ % every_ == 0)
        for (std::int64_t i = 0; i < n; ++i) store(stream, head + i + 1, events[static_cast<std::size_t>(i)]);
      return Error::conflict(head, "version conflict: stream is at " + std::to_string(head));
    }
    const bool fire = fault_ != Fault::kStoreRejected && fault_ != Fault::kStaleHead && ++count_ % every_ == 0;
    if (fire && fault_ == Fault::kDropAck) return ok;
    if (fire && fault_ == Fault::kLostUnknown) {
      state_.lied_about.insert(ids);
      return Error(ErrorCode::kOutcomeUnknown, "injected unknown outcome");
    }
    if (fire && fault_ == Fault::kPartialUnknown) {
      store(stream, head + 1, events[0]);
      if (n == 1) store(stream, head + 2, EventData{Uuid::random(), "Invented", std::nullopt, std::nullopt, now_ms()});
      return Error(ErrorCode::kOutcomeUnknown, "injected unknown outcome");
    }
    const std::int64_t base = fire && fault_ == Fault::kGap ? head + 1 : head;
    for (std::int64_t i = 0; i < n; ++i) store(stream, base + i + 1, events[static_cast<std::size_t>(i)]);
    if (fire && fault_ == Fault::kGap) {
      ok.first_version = base + 1;
      ok.next_expected_version = base + n;
    }
    if (fire && fault_ == Fault::kDuplicate) store(stream, base + n + 1, events[0]);
    if (fire && fault_ == Fault::kInvent)
      store(stream, base + n + 1, EventData{Uuid::random(), "Invented", std::nullopt, std::nullopt, now_ms()});
    state_.just_appended[stream] = ok.next_expected_version;
    return ok;
  }

  Fault fault_;
  int every_;
  int count_ = 0;
  int stale_count_ = 0;
  State state_;
};

}  // namespace

std::shared_ptr<Store> make_faulty_store(Fault fault, int every) {
  return std::make_shared<FaultyStore>(fault, every);
}

int run_self_test(std::ostream& out) {
  struct Scenario {
    Fault fault;
    int every;
    bool retry_unknown;
    std::vector<std::string> expect;  // at least one of these kinds must be reported
  };
  const std::vector<Scenario> scenarios = {
      {Fault::kNone, 1, true, {}},
      {Fault::kDropAck, 7, false, {"lost_ack"}},
      {Fault::kDuplicate, 7, false, {"doubled"}},
      {Fault::kInvent, 7, false, {"invented"}},
      {Fault::kStoreRejected, 1, false, {"rejected_stored"}},
      {Fault::kGap, 7, false, {"gap"}},
      {Fault::kStaleHead, 7, false, {"stale_read"}},
      {Fault::kPartialUnknown, 7, false, {"partial_append"}},
      {Fault::kPartialUnknown, 7, true, {"resolved_wrong"}},
      {Fault::kLostUnknown, 7, true, {"lost_ack"}},
  };
  int failed = 0;
  for (const Scenario& scenario : scenarios) {
    std::shared_ptr<Store> store = make_faulty_store(scenario.fault, scenario.every);
    const Plan plan = Plan::random(3);
    WorkloadConfig config;
    config.threads = 3;
    config.ops = 300;
    config.duration_s = 20;
    config.retry_unknown = scenario.retry_unknown;
    config.retry_grace_s = 5;
    config.read_check_probability = 1.0;
    WorkloadStats stats;
    const std::vector<Attempt> attempts = run_workload(*store, plan, config, stats);
    const Report report = check_history(plan, attempts, read_final(*store, plan, 0));
    bool pass;
    if (scenario.expect.empty()) {
      pass = report.violation_total() == 0 && report.acknowledged > 0;
    } else {
      pass = std::any_of(scenario.expect.begin(), scenario.expect.end(),
                         [&](const std::string& kind) { return report.violation_counts.count(kind) > 0; });
    }
    out << (pass ? "PASS " : "FAIL ") << to_string(scenario.fault)
        << (scenario.retry_unknown ? " (retrying unknowns)" : "") << ": " << report.operations << " operations, "
        << report.acknowledged << " acknowledged, violations:";
    if (report.violation_counts.empty()) out << " none";
    for (const auto& [kind, n] : report.violation_counts) out << " " << kind << "=" << n;
    out << "\n";
    if (!pass) {
      ++failed;
      out << summary_text(report);
    }
  }
  return failed;
}

}  // namespace historycheck

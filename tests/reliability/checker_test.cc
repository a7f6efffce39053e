// The history checker must catch every kind of violation: each test runs a short workload
// against a store broken in one way and expects the checker to name that violation, and a
// correct store to pass with none.
#include <gtest/gtest.h>

#include <sstream>

#include "faulty_store.h"
#include "history.h"
#include "workload.h"

namespace historycheck {
namespace {

Report run(const std::shared_ptr<eventstore::Store>& store, bool retry_unknown) {
  const Plan plan = Plan::random(3);
  WorkloadConfig config;
  config.threads = 3;
  config.ops = 300;
  config.duration_s = 20;
  config.retry_unknown = retry_unknown;
  config.retry_grace_s = 5;
  config.read_check_probability = 1.0;
  WorkloadStats stats;
  const std::vector<Attempt> attempts = run_workload(*store, plan, config, stats);
  return check_history(plan, attempts, read_final(*store, plan, 0));
}

void expect_kind(Fault fault, int every, bool retry_unknown, const std::string& kind) {
  const Report report = run(make_faulty_store(fault, every), retry_unknown);
  EXPECT_GT(report.violation_counts.count(kind), 0u)
      << to_string(fault) << " was not reported as " << kind << ":\n" << summary_text(report);
}

TEST(HistoryChecker, CorrectStoresPass) {
  const Report faulty_none = run(make_faulty_store(Fault::kNone, 1), true);
  EXPECT_EQ(faulty_none.violation_total(), 0u) << summary_text(faulty_none);
  EXPECT_GT(faulty_none.acknowledged, 0u);
  const Report memory = run(eventstore::open_store("memory:"), true);
  EXPECT_EQ(memory.violation_total(), 0u) << summary_text(memory);
  EXPECT_GT(memory.conflicts, 0u) << "the workload should provoke conflicts";
  EXPECT_GT(memory.read_checks, 0u);
}

TEST(HistoryChecker, CatchesALostAcknowledgedAppend) { expect_kind(Fault::kDropAck, 7, false, "lost_ack"); }
TEST(HistoryChecker, CatchesADoubledEvent) { expect_kind(Fault::kDuplicate, 7, false, "doubled"); }
TEST(HistoryChecker, CatchesAnInventedEvent) { expect_kind(Fault::kInvent, 7, false, "invented"); }
TEST(HistoryChecker, CatchesAStoredRejectedAppend) { expect_kind(Fault::kStoreRejected, 1, false, "rejected_stored"); }
TEST(HistoryChecker, CatchesAGap) { expect_kind(Fault::kGap, 7, false, "gap"); }
TEST(HistoryChecker, CatchesAStaleReadAfterAck) { expect_kind(Fault::kStaleHead, 7, false, "stale_read"); }
TEST(HistoryChecker, CatchesAPartialUnknownAppend) { expect_kind(Fault::kPartialUnknown, 7, false, "partial_append"); }
TEST(HistoryChecker, CatchesAWronglyResolvedUnknown) { expect_kind(Fault::kPartialUnknown, 7, true, "resolved_wrong"); }
TEST(HistoryChecker, CatchesAnUnknownThatLiesOnRetry) { expect_kind(Fault::kLostUnknown, 7, true, "lost_ack"); }

// The checker on hand-made histories: each rule on its own.
TEST(HistoryChecker, RulesOnAHandMadeHistory) {
  Plan plan;
  plan.context = "hc-test";
  plan.streams = {eventstore::Uuid::random()};
  const eventstore::StreamId stream = plan.stream(0);
  const Uuid a = Uuid::random(), b = Uuid::random(), c = Uuid::random(), d = Uuid::random();
  auto event = [&](std::int64_t version, const Uuid& id) {
    return eventstore::RecordedEvent{stream, version, id, "T", std::nullopt, std::nullopt, {}};
  };
  std::vector<Attempt> history(3);
  history[0].op = 1;
  history[0].ids = {a, b};
  history[0].outcome = Outcome::kOk;
  history[0].first_version = 1;
  history[0].next_version = 2;
  history[0].result_ids = {a, b};
  history[1].op = 2;
  history[1].expected = 0;
  history[1].ids = {c};
  history[1].outcome = Outcome::kConflict;
  history[1].current_version = 2;
  history[2].op = 3;
  history[2].expected = 2;
  history[2].ids = {d};
  history[2].outcome = Outcome::kUnknown;

  StoredStream good;
  good.events = {event(1, a), event(2, b), event(3, d)};
  good.head = 3;
  Report r = check_history(plan, history, {good});
  EXPECT_EQ(r.violation_total(), 0u) << summary_text(r);
  EXPECT_EQ(r.unknown_found_applied, 1u);

  StoredStream bad;
  bad.events = {event(1, a), event(3, c)};
  bad.head = 2;
  r = check_history(plan, history, {bad});
  EXPECT_EQ(r.violation_counts["lost_ack"], 1u) << summary_text(r);
  EXPECT_EQ(r.violation_counts["gap"], 1u);
  EXPECT_EQ(r.violation_counts["rejected_stored"], 1u);
  EXPECT_EQ(r.violation_counts["head_mismatch"], 1u);
  EXPECT_EQ(r.unknown_found_not_applied, 1u);
}

TEST(HistoryChecker, AttemptsRoundTripThroughJson) {
  Attempt a;
  a.op = 42;
  a.attempt = 2;
  a.process = 1;
  a.thread = 3;
  a.stream = 1;
  a.expected = 7;
  a.ids = {Uuid::random(), Uuid::random()};
  a.outcome = Outcome::kOk;
  a.first_version = 8;
  a.next_version = 9;
  a.result_ids = a.ids;
  a.read_check = ReadCheck::kSeen;
  const Attempt b = attempt_from_json(nlohmann::json::parse(to_json(a).dump()));
  EXPECT_EQ(to_json(a), to_json(b));
}

TEST(HistoryChecker, SelfTestPasses) {
  std::ostringstream out;
  EXPECT_EQ(run_self_test(out), 0) << out.str();
}

}  // namespace
}  // namespace historycheck

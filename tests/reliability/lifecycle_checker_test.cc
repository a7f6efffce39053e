// The history checker's lifecycle rules (tools/history-check/lifecycle_checks.h): each rule on a
// hand-made history, and each lifecycle fault of the faulty store caught in a run.
#include <gtest/gtest.h>

#include <map>

#include "faulty_store.h"
#include "feed_history.h"
#include "feed_readers.h"
#include "history.h"
#include "stream_checks.h"
#include "workload.h"

namespace historycheck {
namespace {

using eventstore::RecordedEvent;

// One stream: op 1 appends a, b, c at 1..3 (acknowledged at t 10..20); op 2 truncates before 3 at
// version 4 (acknowledged at t 30..40). A correct final read is c, $truncated.
struct Lifecycle {
  Plan plan;
  Uuid a = Uuid::random(), b = Uuid::random(), c = Uuid::random(), t = Uuid::random();
  std::vector<Attempt> attempts;

  Lifecycle() {
    plan.context = "hc-life";
    plan.streams = {Uuid::random()};
    attempts.push_back(ok(1, OpKind::kAppend, {a, b, c}, 0, 1, 10, 20));
    attempts.push_back(ok(2, OpKind::kTruncate, {t}, 3, 4, 30, 40));
    attempts.back().before = 3;
  }
  static Attempt ok(std::uint64_t op, OpKind kind, std::vector<Uuid> ids, std::int64_t expected, std::int64_t first,
                    std::int64_t invoke_ns, std::int64_t complete_ns) {
    Attempt x;
    x.op = op;
    x.kind = kind;
    x.ids = ids;
    x.expected = expected;
    x.outcome = Outcome::kOk;
    x.first_version = first;
    x.next_version = first + static_cast<std::int64_t>(ids.size()) - 1;
    x.result_ids = ids;
    x.invoke_ns = invoke_ns;
    x.complete_ns = complete_ns;
    return x;
  }
  RecordedEvent event(std::int64_t version, const Uuid& id, const std::string& type = "T",
                      std::optional<std::string> data = std::nullopt) const {
    return RecordedEvent{plan.stream(0), version, id, type, data, std::nullopt, {}};
  }
  RecordedEvent truncated(std::int64_t version, const Uuid& id, std::int64_t before) const {
    return event(version, id, eventstore::kTruncatedEventType, "{\"before\":" + std::to_string(before) + "}");
  }
  Report check(std::vector<RecordedEvent> events) const {
    StoredStream s;
    s.events = std::move(events);
    s.head = s.events.empty() ? 0 : s.events.back().version;
    return check_history(plan, attempts, {s});
  }
};

void expect_only(const Report& r, const std::map<std::string, std::uint64_t>& kinds) {
  EXPECT_EQ(r.violation_counts, kinds) << summary_text(r);
}

TEST(LifecycleChecker, ATruncateHidesExactlyTheEventsBelowItsBefore) {
  const Lifecycle l;
  const Report r = l.check({l.event(3, l.c), l.truncated(4, l.t, 3)});
  expect_only(r, {});
  EXPECT_EQ(r.lifecycle.truncates, 1u);
  EXPECT_EQ(r.lifecycle.events_hidden, 2u);
  EXPECT_EQ(r.lifecycle.streams_truncated, 1u);
  expect_only(l.check({l.event(2, l.b), l.event(3, l.c), l.truncated(4, l.t, 3)}), {{"truncated_visible", 1}});
  expect_only(l.check({l.truncated(4, l.t, 3)}), {{"over_truncated", 1}, {"lost_ack", 1}});
  expect_only(l.check({l.event(3, l.c), l.truncated(4, l.t, 2)}), {{"lifecycle_event_wrong", 1}});
  expect_only(l.check({l.event(3, l.c), l.event(4, l.t, eventstore::kDeletedEventType, "{}")}),
              {{"lifecycle_event_wrong", 1}});
}

TEST(LifecycleChecker, AnUnknownTruncateMayOrMayNotHaveApplied) {
  Lifecycle l;
  l.attempts[1].outcome = Outcome::kUnknown;
  l.attempts[1].before = 3;
  expect_only(l.check({l.event(1, l.a), l.event(2, l.b), l.event(3, l.c)}), {});
  expect_only(l.check({l.event(3, l.c), l.truncated(4, l.t, 3)}), {});
  expect_only(l.check({l.event(3, l.c)}), {});  // applied, and hidden by nothing else: c stays at 3
  expect_only(l.check({l.event(2, l.b), l.event(3, l.c)}), {});
  expect_only(l.check({}), {{"lost_ack", 3}});  // nothing could hide c
}

TEST(LifecycleChecker, ASoftDeleteHidesEverythingBelowItAndAppendsContinue) {
  Lifecycle l;
  const Uuid d = Uuid::random(), e = Uuid::random();
  l.attempts[1] = Lifecycle::ok(2, OpKind::kSoftDelete, {d}, 3, 4, 30, 40);
  l.attempts.push_back(Lifecycle::ok(3, OpKind::kAppend, {e}, 4, 5, 50, 60));
  expect_only(l.check({l.event(4, d, eventstore::kDeletedEventType, "{}"), l.event(5, e)}), {});
  expect_only(l.check({l.event(3, l.c), l.event(4, d, eventstore::kDeletedEventType, "{}"), l.event(5, e)}),
              {{"truncated_visible", 1}});
}

TEST(LifecycleChecker, NothingIsWrittenAfterAHardDelete) {
  Lifecycle l;
  const Uuid h = Uuid::random(), e = Uuid::random(), f = Uuid::random();
  l.attempts[1] = Lifecycle::ok(2, OpKind::kHardDelete, {h}, 3, 4, 30, 40);
  const RecordedEvent deleted = l.event(4, h, eventstore::kHardDeletedEventType, "{}");
  // Refused afterwards, with the hard delete's version: correct.
  Attempt refused = Lifecycle::ok(3, OpKind::kAppend, {e}, 4, 0, 50, 60);
  refused.outcome = Outcome::kStreamDeleted;
  refused.current_version = 4;
  l.attempts.push_back(refused);
  Report r = l.check({deleted});
  expect_only(r, {});
  EXPECT_EQ(r.lifecycle.refused_after_hard_delete, 1u);
  EXPECT_EQ(r.lifecycle.streams_hard_deleted, 1u);
  // Refused with another version.
  l.attempts.back().current_version = 3;
  expect_only(l.check({deleted}), {{"stream_deleted_wrong", 1}});
  // A conflict instead of stream_deleted, for an attempt that started after the ack.
  l.attempts.back().outcome = Outcome::kConflict;
  l.attempts.back().current_version = 4;
  l.attempts.back().expected = 3;
  expect_only(l.check({deleted}), {{"deleted_not_refused", 1}});
  // Acknowledged above the hard delete, and stored there.
  l.attempts.back() = Lifecycle::ok(3, OpKind::kAppend, {f}, 4, 5, 50, 60);
  expect_only(l.check({deleted, l.event(5, f)}), {{"deleted_not_refused", 1}, {"write_after_hard_delete", 2}});
  // Refused before the hard delete was even sent.
  l.attempts.back() = refused;
  l.attempts.back().invoke_ns = 1;
  l.attempts.back().complete_ns = 2;
  expect_only(l.check({deleted}), {{"stream_deleted_wrong", 1}});
  // A stream never hard-deleted refuses nothing as deleted.
  Lifecycle plain;
  plain.attempts.push_back(refused);
  plain.attempts.back().current_version = 4;
  expect_only(plain.check({plain.event(3, plain.c), plain.truncated(4, plain.t, 3)}), {{"stream_deleted_wrong", 1}});
}

TEST(LifecycleChecker, ReadsAfterAnAcknowledgementRespectTheBefores) {
  Lifecycle l;
  const Uuid e = Uuid::random();
  Attempt later = Lifecycle::ok(3, OpKind::kAppend, {e}, 4, 5, 50, 60);
  later.read_check = ReadCheck::kSeen;
  later.read_from = 1;  // as a lifecycle check reads: from version 1
  later.read_lowest = 3;
  later.read_start_ns = 70;
  later.read_end_ns = 80;
  l.attempts.push_back(later);
  const std::vector<RecordedEvent> final_read = {l.event(3, l.c), l.truncated(4, l.t, 3), l.event(5, e)};
  expect_only(l.check(final_read), {});
  l.attempts.back().read_lowest = 2;  // below the before acknowledged at 40
  expect_only(l.check(final_read), {{"truncated_visible", 1}});
  l.attempts.back().read_start_ns = 35;  // the truncate was not acknowledged yet: fine
  expect_only(l.check(final_read), {});
  l.attempts.back().read_lowest = 4;  // skipped c, which no change could hide
  l.attempts.back().read_check = ReadCheck::kHidden;
  expect_only(l.check(final_read), {{"over_truncated", 1}});
}

TEST(LifecycleChecker, AnUnknownAppendMayBePartlyHidden) {
  Lifecycle l;
  l.attempts[0].outcome = Outcome::kUnknown;
  expect_only(l.check({l.event(3, l.c), l.truncated(4, l.t, 3)}), {});
  // c hidden while a and b... cannot be: the visible part must be the top of the append.
  expect_only(l.check({l.event(3, l.a), l.truncated(4, l.t, 3)}), {{"partial_append", 1}});
}

TEST(LifecycleChecker, HiddenEventsKeepTheirFeedEntries) {
  const Lifecycle l;
  StoredStream s;
  s.events = {l.event(3, l.c), l.truncated(4, l.t, 3)};
  s.head = 4;
  auto feed = [&](std::vector<FeedSeen> entries, bool cluster) {
    FeedReaderLog reader;
    reader.pages.push_back(FeedPageSeen{0, static_cast<std::int64_t>(entries.size()), -1, 10, 0, entries});
    reader.final_position = static_cast<std::int64_t>(entries.size());
    reader.reached_head = true;
    FeedHistory h;
    h.readers = {reader};
    h.final_head = reader.final_position;
    h.hidden_may_be_missing = cluster;
    h.duplicates_allowed = cluster;
    Report r = check_history(l.plan, l.attempts, {s});
    check_feed(l.plan, l.attempts, {s}, h, r);
    return r;
  };
  const std::vector<FeedSeen> all = {{1, 0, 1, l.a}, {2, 0, 2, l.b}, {3, 0, 3, l.c}, {4, 0, 4, l.t}};
  const Report kept = feed(all, false);
  expect_only(kept, {});
  EXPECT_EQ(kept.feed->hidden_in_feed, 2u);
  // A hidden event never published: a violation on memory: and sqlite:, not on a cluster.
  const std::vector<FeedSeen> without_a = {{1, 0, 2, l.b}, {2, 0, 3, l.c}, {3, 0, 4, l.t}};
  expect_only(feed(without_a, false), {{"feed_lost_ack", 1}});
  const Report cluster = feed(without_a, true);
  expect_only(cluster, {});
  EXPECT_EQ(cluster.feed->hidden_unpublished, 1u);
  // A visible one never published is a violation everywhere.
  const std::vector<FeedSeen> without_c = {{1, 0, 1, l.a}, {2, 0, 2, l.b}, {3, 0, 4, l.t}};
  expect_only(feed(without_c, true), {{"feed_lost_ack", 1}});
}

TEST(LifecycleChecker, AttemptsRoundTripThroughJson) {
  Attempt x = Lifecycle::ok(7, OpKind::kTruncate, {Uuid::random()}, 4, 5, 1, 2);
  x.before = 3;
  x.read_check = ReadCheck::kHidden;
  x.read_from = 1;
  x.read_lowest = 3;
  x.read_start_ns = 4;
  x.read_end_ns = 5;
  const Attempt y = attempt_from_json(nlohmann::json::parse(to_json(x).dump()));
  EXPECT_EQ(to_json(x), to_json(y));
  EXPECT_EQ(y.kind, OpKind::kTruncate);
  EXPECT_EQ(y.read_lowest, 3);
  x.outcome = Outcome::kStreamDeleted;
  EXPECT_EQ(attempt_from_json(nlohmann::json::parse(to_json(x).dump())).outcome, Outcome::kStreamDeleted);
}

// --- the faulty store's lifecycle faults, caught in a run ------------------------------------

Report run(Fault fault, int every, double lifecycle, double hard_deletes) {
  const std::shared_ptr<eventstore::Store> store = make_faulty_store(fault, every);
  const Plan plan = Plan::random(3);
  WorkloadConfig config;
  config.threads = 3;
  config.ops = 300;
  config.duration_s = 20;
  config.read_check_probability = 1.0;
  config.lifecycle_rate = lifecycle;
  config.hard_delete_share = hard_deletes;
  return run_and_check(*store, plan, config, self_test_feed_config(), 0);
}

TEST(LifecycleChecker, ACorrectStorePassesWithEveryKindOfChange) {
  const Report r = run(Fault::kNone, 1, 0.2, 0.3);
  EXPECT_EQ(r.violation_total(), 0u) << summary_text(r);
  EXPECT_GT(r.lifecycle.truncates, 0u);
  EXPECT_GT(r.lifecycle.soft_deletes, 0u);
  EXPECT_EQ(r.lifecycle.hard_deletes, 1u);
  EXPECT_GT(r.lifecycle.events_hidden, 0u);
  ASSERT_TRUE(r.feed.has_value());
  EXPECT_GT(r.feed->hidden_in_feed, 0u);
}

TEST(LifecycleChecker, CatchesATruncateRemovingTheEventAtItsBefore) {
  const Report r = run(Fault::kTruncateTooFar, 3, 0.2, 0.05);
  EXPECT_GT(r.violation_counts.count("over_truncated"), 0u) << summary_text(r);
}

TEST(LifecycleChecker, CatchesAWriteAfterAHardDelete) {
  const Report r = run(Fault::kWriteAfterHardDelete, 1, 0.2, 0.5);
  EXPECT_GT(r.violation_counts.count("write_after_hard_delete"), 0u) << summary_text(r);
  EXPECT_GT(r.violation_counts.count("deleted_not_refused"), 0u) << summary_text(r);
}

TEST(LifecycleChecker, CatchesAReadBelowAnAcknowledgedBefore) {
  const Report r = run(Fault::kReadBelowBefore, 1, 0.2, 0.05);
  EXPECT_GT(r.violation_counts.count("truncated_visible"), 0u) << summary_text(r);
}

}  // namespace
}  // namespace historycheck

// The history checker must catch every kind of violation: each test runs a short workload
// against a store broken in one way and expects the checker to name that violation, and a
// correct store to pass with none.
#include <gtest/gtest.h>

#include <sstream>

#include "faulty_store.h"
#include "feed_history.h"
#include "feed_readers.h"
#include "history.h"
#include "stream_checks.h"
#include "workload.h"

namespace historycheck {
namespace {

// The workload with two feed readers (one a subscriber) against the store.
Report run(const std::shared_ptr<eventstore::Store>& store, bool retry_unknown) {
  const Plan plan = Plan::random(3);
  WorkloadConfig config;
  config.threads = 3;
  config.ops = 300;
  config.duration_s = 20;
  config.retry_unknown = retry_unknown;
  config.retry_grace_s = 5;
  config.read_check_probability = 1.0;
  return run_and_check(*store, plan, config, self_test_feed_config(), 0);
}

void expect_kind(Fault fault, int every, bool retry_unknown, const std::string& kind) {
  const Report report = run(make_faulty_store(fault, every), retry_unknown);
  EXPECT_GT(report.violation_counts.count(kind), 0u) << to_string(fault) << " was not reported as " << kind << ":\n"
                                                     << summary_text(report);
}

TEST(HistoryChecker, CorrectStoresPass) {
  const Report faulty_none = run(make_faulty_store(Fault::kNone, 1), true);
  EXPECT_EQ(faulty_none.violation_total(), 0u) << summary_text(faulty_none);
  EXPECT_GT(faulty_none.acknowledged, 0u);
  ASSERT_TRUE(faulty_none.feed.has_value());
  EXPECT_GT(faulty_none.feed->head, 0);
  EXPECT_GT(faulty_none.feed->restarts, 0u);
  const Report memory = run(eventstore::open_store("memory:"), true);
  EXPECT_EQ(memory.violation_total(), 0u) << summary_text(memory);
  ASSERT_TRUE(memory.feed.has_value());
  EXPECT_EQ(static_cast<std::uint64_t>(memory.feed->head), memory.events_stored);
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

TEST(FeedChecker, CatchesAHole) { expect_kind(Fault::kFeedHole, 7, false, "feed_hole"); }
TEST(FeedChecker, CatchesAnEntryPublishedBehindAReader) { expect_kind(Fault::kFeedLate, 7, false, "feed_late_entry"); }
TEST(FeedChecker, CatchesAReorderedStream) { expect_kind(Fault::kFeedReorder, 7, false, "feed_reordered"); }
TEST(FeedChecker, CatchesALostAcknowledgedEvent) { expect_kind(Fault::kFeedDropAck, 7, false, "feed_lost_ack"); }
TEST(FeedChecker, CatchesAnEventOfARejectedAppend) { expect_kind(Fault::kFeedRejected, 1, false, "feed_rejected"); }
TEST(FeedChecker, CatchesReadersDisagreeing) { expect_kind(Fault::kFeedDisagree, 7, false, "feed_disagreement"); }
TEST(FeedChecker, CatchesARepeatedEvent) { expect_kind(Fault::kFeedDuplicate, 7, false, "feed_duplicate"); }
TEST(FeedChecker, CatchesACheckpointMovingBackwards) {
  expect_kind(Fault::kCheckpointBackwards, 5, false, "checkpoint_backwards");
}
TEST(FeedChecker, CatchesACheckpointJumpingAhead) { expect_kind(Fault::kCheckpointJump, 1, false, "checkpoint_jump"); }

TEST(FeedChecker, CatchesAFilteredReaderThatStalls) {
  // One event an append: every event is filtered out; a correct store moves the filtered reader
  // over them to the head, a stalled one leaves it behind.
  const Plan plan = Plan::random(3);
  WorkloadConfig config;
  config.threads = 3;
  config.ops = 200;
  config.max_events = 1;
  const Report correct = run_and_check(*make_faulty_store(Fault::kNone, 1), plan, config, self_test_feed_config(), 0);
  EXPECT_EQ(correct.violation_total(), 0u) << summary_text(correct);
  ASSERT_TRUE(correct.feed.has_value());
  EXPECT_EQ(correct.feed->filtered_readers, 1u);
  const Report stalled =
      run_and_check(*make_faulty_store(Fault::kFilterStall, 1), Plan::random(3), config, self_test_feed_config(), 0);
  EXPECT_GT(stalled.violation_counts.count("feed_catch_up"), 0u) << summary_text(stalled);
}
TEST(FeedChecker, CatchesAFilterLettingAnEntryThrough) { expect_kind(Fault::kFilterLeak, 7, false, "filter_wrong"); }

// --- the feed checker on synthetic observations -------------------------------------------
//
// One stream (0) of a plan; three appends: op 1 acknowledged (a at v1, b at v2), op 2 rejected
// with a conflict (c), op 3 with an unknown outcome that applied (d at v3). The correct feed is
// a, b, d at positions 1, 2, 3.
struct Synthetic {
  Plan plan;
  Uuid a = Uuid::random(), b = Uuid::random(), c = Uuid::random(), d = Uuid::random();
  std::vector<Attempt> attempts;
  std::vector<StoredStream> stored;

  Synthetic() {
    plan.context = "hc-feed";
    plan.streams = {Uuid::random(), Uuid::random()};
    attempts.resize(3);
    attempts[0].op = 1;
    attempts[0].ids = {a, b};
    attempts[0].expected = 0;
    attempts[0].outcome = Outcome::kOk;
    attempts[0].first_version = 1;
    attempts[0].next_version = 2;
    attempts[0].result_ids = {a, b};
    attempts[1].op = 2;
    attempts[1].expected = 0;
    attempts[1].ids = {c};
    attempts[1].outcome = Outcome::kConflict;
    attempts[1].current_version = 2;
    attempts[2].op = 3;
    attempts[2].expected = 2;
    attempts[2].ids = {d};
    attempts[2].outcome = Outcome::kUnknown;
    StoredStream s0;
    s0.events = {event(1, a), event(2, b), event(3, d)};
    s0.head = 3;
    stored = {s0, StoredStream{}};
  }
  eventstore::RecordedEvent event(std::int64_t version, const Uuid& id) const {
    return eventstore::RecordedEvent{plan.stream(0), version, id, "T", std::nullopt, std::nullopt, {}};
  }
  FeedSeen at(std::int64_t position, std::int64_t version, const Uuid& id, std::size_t stream = 0) const {
    return FeedSeen{position, static_cast<std::int32_t>(stream), version, id};
  }
  std::vector<FeedSeen> good() const { return {at(1, 1, a), at(2, 2, b), at(3, 3, d)}; }
  static FeedPageSeen page(std::int64_t after, std::int64_t last, std::vector<FeedSeen> entries, std::int64_t at_ns,
                           std::int64_t head_before = -1) {
    FeedPageSeen p;
    p.after = after;
    p.last_position = last;
    p.entries = std::move(entries);
    p.at_ns = at_ns;
    p.head_before = head_before;
    return p;
  }
  // A reader that read `entries` (positions 1..n, in order) in one page.
  static FeedReaderLog reader(int index, const std::vector<FeedSeen>& entries, std::int64_t at_ns = 10) {
    FeedReaderLog log;
    log.reader = index;
    const std::int64_t last = entries.empty() ? 0 : entries.back().position;
    log.pages.push_back(page(0, last, entries, at_ns, last));
    log.final_position = last;
    log.reached_head = true;
    return log;
  }
  // A subscriber that read 1..2, saved 2, was killed, loaded 2, read 3 and saved 3.
  FeedReaderLog subscriber(int index, const std::vector<FeedSeen>& entries) const {
    FeedReaderLog log;
    log.reader = index;
    log.subscriber = true;
    log.checkpoints.push_back({CheckpointSeen::Kind::kLoaded, 0, 0, true});
    log.pages.push_back(page(0, 2, {entries[0], entries[1]}, 5));
    log.checkpoints.push_back({CheckpointSeen::Kind::kSaved, 2, 2});
    log.checkpoints.push_back({CheckpointSeen::Kind::kSaved, 1, 2});  // a stale save keeps 2
    log.restarts = 1;
    log.checkpoints.push_back({CheckpointSeen::Kind::kLoaded, 0, 2});
    log.pages.push_back(page(2, 3, {entries[2]}, 6));
    log.checkpoints.push_back({CheckpointSeen::Kind::kSaved, 3, 3});
    log.final_position = 3;
    log.reached_head = true;
    return log;
  }
  FeedHistory history(std::vector<FeedReaderLog> readers, std::int64_t head = 3) const {
    FeedHistory h;
    h.readers = std::move(readers);
    h.final_head = head;
    return h;
  }
  Report check(const FeedHistory& feed) const {
    Report r = check_history(plan, attempts, stored);
    check_feed(plan, attempts, stored, feed, r);
    return r;
  }
};

// Only these kinds (and nothing else) are reported.
void expect_only(const Report& r, const std::map<std::string, std::uint64_t>& kinds) {
  EXPECT_EQ(r.violation_counts, kinds) << summary_text(r);
}

TEST(FeedChecker, ACorrectFeedPasses) {
  const Synthetic t;
  const Report r = t.check(t.history({Synthetic::reader(0, t.good()), t.subscriber(1, t.good())}));
  expect_only(r, {});
  ASSERT_TRUE(r.feed.has_value());
  EXPECT_EQ(r.feed->head, 3);
  EXPECT_EQ(r.feed->entries, 3u);
  EXPECT_EQ(r.feed->readers, 2u);
  EXPECT_EQ(r.feed->restarts, 1u);
  EXPECT_EQ(r.feed->final_checkpoint, 3);
  EXPECT_EQ(r.feed->acknowledged_in_feed, 2u);
  EXPECT_EQ(r.feed->unknown_applied_in_feed, 1u);
  EXPECT_EQ(r.feed->max_lag, 3);
}

TEST(FeedChecker, AHoleIsReported) {
  const Synthetic t;
  // Position 2 is skipped: the page covers 1..4 with entries at 1, 3, 4.
  const std::vector<FeedSeen> holed = {t.at(1, 1, t.a), t.at(3, 2, t.b), t.at(4, 3, t.d)};
  const Report r = t.check(t.history({Synthetic::reader(0, holed)}, 4));
  expect_only(r, {{"feed_hole", 1}});
}

TEST(FeedChecker, AReorderedStreamIsReported) {
  const Synthetic t;
  const std::vector<FeedSeen> swapped = {t.at(1, 2, t.b), t.at(2, 1, t.a), t.at(3, 3, t.d)};
  expect_only(t.check(t.history({Synthetic::reader(0, swapped)})), {{"feed_reordered", 1}});
}

TEST(FeedChecker, ALostAcknowledgedEventIsReported) {
  const Synthetic t;
  const std::vector<FeedSeen> lost = {t.at(1, 1, t.a), t.at(2, 3, t.d)};
  expect_only(t.check(t.history({Synthetic::reader(0, lost)}, 2)), {{"feed_lost_ack", 1}});
}

TEST(FeedChecker, AnAppliedUnknownOutcomeMissingIsReported) {
  const Synthetic t;
  const std::vector<FeedSeen> without_d = {t.at(1, 1, t.a), t.at(2, 2, t.b)};
  expect_only(t.check(t.history({Synthetic::reader(0, without_d)}, 2)), {{"feed_missing", 1}});
}

TEST(FeedChecker, AnEventOfARejectedAppendIsReported) {
  Synthetic t;
  std::vector<FeedSeen> with_c = t.good();
  with_c.push_back(t.at(4, 4, t.c));
  expect_only(t.check(t.history({Synthetic::reader(0, with_c)}, 4)), {{"feed_rejected", 1}});
  // An unknown outcome the final read shows not applied may not be in the feed either.
  t.stored[0].events.pop_back();
  t.stored[0].head = 2;
  expect_only(t.check(t.history({Synthetic::reader(0, t.good())})), {{"feed_not_stored", 1}});
}

TEST(FeedChecker, InventedAndForeignEntriesAreReported) {
  const Synthetic t;
  std::vector<FeedSeen> extra = t.good();
  extra.push_back(t.at(4, 4, Uuid::random()));
  FeedSeen foreign = t.at(5, 1, Uuid::random());
  foreign.stream = FeedSeen::kForeign;
  extra.push_back(foreign);
  expect_only(t.check(t.history({Synthetic::reader(0, extra)}, 5)), {{"feed_invented", 1}, {"feed_foreign", 1}});
}

TEST(FeedChecker, OnlyTheRunsStreamsAreItsOwn) {
  const Synthetic t;
  const StreamIndex index(t.plan);
  EXPECT_EQ(index.of(t.plan.stream(1)), 1);
  eventstore::StreamId other = t.plan.stream(0);
  other.bounded_context = "another";
  EXPECT_EQ(index.of(other), FeedSeen::kForeign);
  other = t.plan.stream(0);
  other.aggregate_type = "Other";
  EXPECT_EQ(index.of(other), FeedSeen::kForeign);
  other = t.plan.stream(0);
  other.aggregate_id = Uuid::random();
  EXPECT_EQ(index.of(other), FeedSeen::kForeign);
}

TEST(FeedChecker, TwoReadersDisagreeingAtAPositionAreReported) {
  const Synthetic t;
  const std::vector<FeedSeen> other = {t.at(1, 1, t.a), t.at(2, 3, t.d), t.at(3, 2, t.b)};
  const Report r = t.check(t.history({Synthetic::reader(0, t.good()), Synthetic::reader(1, other, 20)}));
  EXPECT_EQ(r.violation_counts.at("feed_disagreement"), 2u) << summary_text(r);
}

TEST(FeedChecker, AnEntryAppearingBehindAReaderIsReported) {
  const Synthetic t;
  // Reader 0 passes position 2 without an entry at t=10; reader 1 reads it at t=20.
  FeedReaderLog early = Synthetic::reader(0, {t.at(1, 1, t.a), t.at(3, 3, t.d)}, 10);
  const Report r = t.check(t.history({early, Synthetic::reader(1, t.good(), 20)}));
  expect_only(r, {{"feed_late_entry", 1}});
  // The other order: an entry seen, then gone.
  const Report gone = t.check(t.history({Synthetic::reader(1, t.good(), 5), early}));
  expect_only(gone, {{"feed_disagreement", 1}});
}

TEST(FeedChecker, RepeatsFollowTheDuplicateRule) {
  Synthetic t;
  std::vector<FeedSeen> repeated = t.good();
  repeated.push_back(t.at(4, 2, t.b));  // b again, same stream, version and id
  FeedHistory h = t.history({Synthetic::reader(0, repeated)}, 4);
  expect_only(t.check(h), {{"feed_duplicate", 1}});  // memory:, sqlite: never repeat
  h.duplicates_allowed = true;                       // a cluster may
  const Report allowed = t.check(h);
  expect_only(allowed, {});
  EXPECT_EQ(allowed.feed->duplicates, 1u);
  repeated.back().version = 3;  // b again, at another version
  h.readers = {Synthetic::reader(0, repeated)};
  expect_only(t.check(h), {{"feed_duplicate_mismatch", 1}});
}

TEST(FeedChecker, AHeadBelowTheEntriesAndAReaderBehindAreReported) {
  const Synthetic t;
  expect_only(t.check(t.history({Synthetic::reader(0, t.good())}, 2)), {{"feed_head_mismatch", 1}});
  FeedReaderLog behind = Synthetic::reader(1, {t.at(1, 1, t.a)});
  behind.reached_head = false;
  expect_only(t.check(t.history({Synthetic::reader(0, t.good()), behind})), {{"feed_catch_up", 1}});
}

TEST(FeedChecker, ACheckpointMovingBackwardsIsReported) {
  const Synthetic t;
  FeedReaderLog sub = t.subscriber(1, t.good());
  sub.checkpoints[2].answered = 1;  // the stale save of 1 moved it back from 2
  expect_only(t.check(t.history({Synthetic::reader(0, t.good()), sub})), {{"checkpoint_backwards", 1}});
  sub = t.subscriber(1, t.good());
  sub.checkpoints[3].answered = 1;  // the load after the kill answered 1, after 2 was stored
  sub.pages[1] = Synthetic::page(1, 3, {t.good()[1], t.good()[2]}, 6);
  expect_only(t.check(t.history({Synthetic::reader(0, t.good()), sub})), {{"checkpoint_backwards", 1}});
}

TEST(FeedChecker, ASubscriberResumingPastItsCheckpointLeavesAHole) {
  const Synthetic t;
  FeedReaderLog sub = t.subscriber(1, t.good());
  // It saved 1 (not 2) before the kill, yet the load answered 2: position 2 was never read by it.
  sub.pages[0] = Synthetic::page(0, 1, {t.good()[0]}, 5);
  sub.checkpoints[1] = {CheckpointSeen::Kind::kSaved, 1, 1};
  sub.checkpoints[2] = {CheckpointSeen::Kind::kSaved, 1, 1};
  expect_only(t.check(t.history({Synthetic::reader(0, t.good()), sub})),
              {{"checkpoint_jump", 1}, {"subscriber_hole", 1}});
}

TEST(FeedChecker, AFilteredReaderGetsExactlyTheMatchingEntries) {
  // Of a, b, d only b (the second event of its append) has the filtered type.
  const Synthetic t;
  FeedReaderLog filtered = Synthetic::reader(1, {t.at(2, 2, t.b)});
  filtered.filtered = true;
  filtered.pages[0].last_position = 3;
  filtered.final_position = 3;
  expect_only(t.check(t.history({Synthetic::reader(0, t.good()), filtered})), {});
  filtered.pages[0].entries = {};
  expect_only(t.check(t.history({Synthetic::reader(0, t.good()), filtered})), {{"filter_missed", 1}});
  filtered.pages[0].entries = {t.at(1, 1, t.a), t.at(2, 2, t.b)};
  expect_only(t.check(t.history({Synthetic::reader(0, t.good()), filtered})), {{"filter_wrong", 1}});
  filtered.pages[0].entries = {t.at(2, 3, t.d)};
  expect_only(t.check(t.history({Synthetic::reader(0, t.good()), filtered})), {{"filter_wrong", 1}});
  // Stalled at its last match, below the head: its checkpoint did not advance over d.
  filtered.pages[0] = Synthetic::page(0, 2, {t.at(2, 2, t.b)}, 10);
  filtered.final_position = 2;
  filtered.reached_head = false;
  expect_only(t.check(t.history({Synthetic::reader(0, t.good()), filtered})), {{"feed_catch_up", 1}});
}

TEST(FeedChecker, AMalformedPageIsReported) {
  const Synthetic t;
  FeedReaderLog r0 = Synthetic::reader(0, t.good());
  r0.pages.push_back(Synthetic::page(3, 2, {}, 30));  // ended before it started
  expect_only(t.check(t.history({r0})), {{"feed_page_malformed", 1}});
}

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

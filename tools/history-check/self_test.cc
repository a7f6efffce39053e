#include <algorithm>
#include <ostream>

#include "faulty_store.h"
#include "feed_readers.h"
#include "history.h"
#include "workload.h"

namespace historycheck {

using eventstore::Store;

FeedReaderConfig self_test_feed_config() {
  FeedReaderConfig feed;
  feed.readers = 3;  // a follower, a filtered reader, a subscriber
  feed.max_page = 16;
  feed.poll = std::chrono::milliseconds(1);
  feed.kill_probability = 0.1;
  feed.catch_up_s = 8;  // a correct store's readers catch up in milliseconds (more under a sanitizer or load)
  return feed;
}

int run_self_test(std::ostream& out) {
  struct Scenario {
    Fault fault;
    int every;
    bool retry_unknown;
    std::vector<std::string> expect;  // at least one of these kinds must be reported
    int max_events = 3;               // 1: every event is of type kAppendedType (filtered out)
    // The share of lifecycle changes: none for the faults of appends and the feed (a truncate may
    // hide the very events a fault touched, which the checker then excuses).
    double lifecycle = 0;
    double hard_deletes = 0.05;  // the share of hard deletes among them (on stream 2 of 3)
  };
  const std::vector<Scenario> scenarios = {
      {Fault::kNone, 1, true, {}, 3, 0.05},
      {Fault::kDropAck, 7, false, {"lost_ack"}},
      {Fault::kDuplicate, 7, false, {"doubled"}},
      {Fault::kInvent, 7, false, {"invented"}},
      {Fault::kStoreRejected, 1, false, {"rejected_stored"}},
      {Fault::kGap, 7, false, {"gap"}},
      {Fault::kStaleHead, 7, false, {"stale_read"}},
      {Fault::kPartialUnknown, 7, false, {"partial_append"}},
      {Fault::kPartialUnknown, 7, true, {"resolved_wrong"}},
      {Fault::kLostUnknown, 7, true, {"lost_ack"}},
      {Fault::kFeedHole, 7, false, {"feed_hole"}},
      {Fault::kFeedLate, 7, false, {"feed_late_entry"}},
      {Fault::kFeedReorder, 7, false, {"feed_reordered"}},
      {Fault::kFeedDropAck, 7, false, {"feed_lost_ack"}},
      {Fault::kFeedRejected, 1, false, {"feed_rejected"}},
      {Fault::kFeedDisagree, 7, false, {"feed_disagreement"}},
      {Fault::kFeedDuplicate, 7, false, {"feed_duplicate"}},
      {Fault::kCheckpointBackwards, 5, false, {"checkpoint_backwards"}},
      {Fault::kCheckpointJump, 1, false, {"checkpoint_jump"}},
      {Fault::kNone, 1, false, {}, 1},
      {Fault::kFilterStall, 1, false, {"feed_catch_up"}, 1},
      {Fault::kFilterLeak, 7, false, {"filter_wrong"}},
      {Fault::kNone, 1, true, {}, 3, 0.2, 0.3},
      {Fault::kTruncateTooFar, 3, false, {"over_truncated"}, 3, 0.2},
      {Fault::kWriteAfterHardDelete, 1, false, {"write_after_hard_delete"}, 3, 0.2, 0.5},
      {Fault::kReadBelowBefore, 1, false, {"truncated_visible"}, 3, 0.2},
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
    config.max_events = scenario.max_events;
    config.lifecycle_rate = scenario.lifecycle;
    config.hard_delete_share = scenario.hard_deletes;
    const Report report = run_and_check(*store, plan, config, self_test_feed_config(), 0);
    bool pass;
    if (scenario.expect.empty()) {
      const LifecycleFigures& l = report.lifecycle;
      pass = report.violation_total() == 0 && report.acknowledged > 0 &&
             (scenario.lifecycle < 0.1 || (l.truncates > 0 && l.soft_deletes > 0 && l.hard_deletes > 0));
    } else {
      pass = std::any_of(scenario.expect.begin(), scenario.expect.end(),
                         [&](const std::string& kind) { return report.violation_counts.count(kind) > 0; });
    }
    out << (pass ? "PASS " : "FAIL ") << to_string(scenario.fault)
        << (scenario.retry_unknown ? " (retrying unknowns)" : "")
        << (scenario.max_events == 1 ? " (one event an append: the filtered reader matches none)" : "") << ": "
        << report.operations << " operations, " << report.acknowledged << " acknowledged ("
        << report.lifecycle.truncates << " truncates, " << report.lifecycle.soft_deletes << " soft and "
        << report.lifecycle.hard_deletes << " hard deletes, " << report.lifecycle.stream_deleted
        << " refused as deleted), violations:";
    if (report.violation_counts.empty()) out << " none";
    for (const auto& [kind, n] : report.violation_counts) out << " " << kind << "=" << n;
    if (report.feed)
      out << "; feed head " << report.feed->head << ", " << report.feed->restarts << " subscriber restarts";
    out << "\n";
    if (!pass) {
      ++failed;
      out << summary_text(report);
    }
  }
  return failed;
}

}  // namespace historycheck

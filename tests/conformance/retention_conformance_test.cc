// Retention (include/eventstore/retention.h, docs/lifecycle.md) on every backend: policies as
// events, what reads show under a policy (by count, by age, both, across pages), scavenge (dry
// run, the truncate, idempotence, racing appends), and the aggregate store over retained streams.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "counter_aggregate.h"
#include "store_conformance.h"

namespace eventstore::testing {
namespace {

using namespace std::chrono_literals;

constexpr auto kPublishWait = 60s;

RetentionPolicy by_count(std::int64_t n) {
  RetentionPolicy p;
  p.max_count = n;
  return p;
}

RetentionPolicy by_age(std::chrono::seconds age) {
  RetentionPolicy p;
  p.max_age = age;
  return p;
}

class RetentionConformance : public StoreTest {
 public:
  std::vector<FeedEntry> read_feed_all() {
    std::vector<FeedEntry> all;
    FeedReadOptions options;
    options.limit = 1000;
    for (;;) {
      FeedPage page = store().read_feed(context_, options);
      if (page.last_position == options.after) return all;
      for (FeedEntry& entry : page.entries) all.push_back(std::move(entry));
      options.after = page.last_position;
    }
  }

  // Waits until the context's feed holds every event of `ids` (at once on a single node; within
  // the relay's delay on a cluster).
  void wait_for_feed(const std::set<Uuid>& ids) {
    const auto deadline = std::chrono::steady_clock::now() + kPublishWait;
    for (;;) {
      std::set<Uuid> missing = ids;
      for (const FeedEntry& e : read_feed_all()) missing.erase(e.event.event_id);
      if (missing.empty()) return;
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << missing.size() << " events did not reach the feed";
      std::this_thread::sleep_for(20ms);
    }
  }

  // `n` events of `stream` with the timestamp `at`; returns their ids.
  std::vector<Uuid> append_at(const StreamId& stream, int n, Timestamp at, int first_index = 1) {
    std::vector<EventData> batch = events(n, first_index);
    for (EventData& e : batch) e.timestamp = at;
    std::vector<Uuid> ids = ids_of(batch);
    store().append(stream, ExpectedVersion::any(), std::move(batch));
    return ids;
  }

  std::vector<Uuid> append_ids(const StreamId& stream, int n) { return append_n(stream, n); }

  std::vector<RecordedEvent> read_expired(const StreamId& stream) {
    ReadOptions o = forward();
    o.include_expired = true;
    return store().read_all(stream, o);
  }

  static std::int64_t before_of(const RecordedEvent& truncated) {
    const nlohmann::json data = nlohmann::json::parse(truncated.data.value_or("null"), nullptr, false);
    if (!data.is_object() || !data.contains("before") || !data["before"].is_number_integer()) {
      ADD_FAILURE() << "a $truncated event without a before: " << truncated.data.value_or("(none)");
      return 0;
    }
    return data["before"].get<std::int64_t>();
  }
};

// ---------------------------------------------------------------------------------------------
// Policies.

TEST_P(RetentionConformance, APolicyIsSetReadAndClearedAsEventsOfItsStream) {
  EXPECT_FALSE(retention_policy(store(), context_, "Order"));
  const RetentionPolicy count = by_count(5);
  const AppendResult first = set_retention_policy(store(), context_, "Order", count);
  EXPECT_EQ(first.first_version, 1);
  EXPECT_EQ(retention_policy(store(), context_, "Order"), std::optional<RetentionPolicy>(count));

  RetentionPolicy both = by_age(3600s);
  both.max_count = 7;
  EXPECT_EQ(set_retention_policy(store(), context_, "Order", both).first_version, 2);
  EXPECT_EQ(retention_policy(store(), context_, "Order"), std::optional<RetentionPolicy>(both));

  // The policy stream holds one retention_policy_set event per call.
  const StreamId policy_stream = retention_policy_stream(context_, "Order");
  EXPECT_EQ(policy_stream.bounded_context, context_);
  EXPECT_EQ(policy_stream.aggregate_type, kRetentionAggregateType);
  EXPECT_EQ(policy_stream, retention_policy_stream(context_, "Order"));
  EXPECT_NE(policy_stream, retention_policy_stream(context_, "Customer"));
  const std::vector<RecordedEvent> stored = store().read_all(policy_stream);
  ASSERT_EQ(stored.size(), 2u);
  for (const RecordedEvent& e : stored) EXPECT_EQ(e.event_type, kRetentionPolicyEventType);

  // Other types and the same type in another context have none.
  EXPECT_FALSE(retention_policy(store(), context_, "Customer"));
  EXPECT_FALSE(retention_policy(store(), random_context(), "Order"));

  // An empty policy clears.
  EXPECT_EQ(set_retention_policy(store(), context_, "Order", RetentionPolicy{}).first_version, 3);
  EXPECT_FALSE(retention_policy(store(), context_, "Order"));
  EXPECT_EQ(store().head(policy_stream), 3);
  // And a new one holds again.
  set_retention_policy(store(), context_, "Order", by_age(60s));
  EXPECT_EQ(retention_policy(store(), context_, "Order"), std::optional<RetentionPolicy>(by_age(60s)));
}

TEST_P(RetentionConformance, ABadPolicyIsInvalidAndWritesNothing) {
  const StreamId policy_stream = retention_policy_stream(context_, "Order");
  EXPECT_ES_ERROR(set_retention_policy(store(), context_, "Order", by_age(0s)), ErrorCode::kInvalidArgument);
  EXPECT_ES_ERROR(set_retention_policy(store(), context_, "Order", by_age(-5s)), ErrorCode::kInvalidArgument);
  EXPECT_ES_ERROR(set_retention_policy(store(), context_, "Order", by_count(0)), ErrorCode::kInvalidArgument);
  EXPECT_ES_ERROR(set_retention_policy(store(), context_, "Order", by_count(-1)), ErrorCode::kInvalidArgument);
  RetentionPolicy one_bad = by_count(3);
  one_bad.max_age = 0s;
  EXPECT_ES_ERROR(set_retention_policy(store(), context_, "Order", one_bad), ErrorCode::kInvalidArgument);
  EXPECT_EQ(store().head(policy_stream), 0);
  EXPECT_FALSE(retention_policy(store(), context_, "Order"));

  EXPECT_ES_ERROR(set_retention_policy(store(), context_, "$retention", by_count(3)), ErrorCode::kInvalidArgument);
  EXPECT_ES_ERROR(set_retention_policy(store(), context_, "$Order", by_count(3)), ErrorCode::kInvalidArgument);
  EXPECT_EQ(store().head(retention_policy_stream(context_, "$Order")), 0);
  EXPECT_EQ(store().head(retention_policy_stream(context_, "$retention")), 0);
  EXPECT_ES_ERROR(set_retention_policy(store(), context_, "", by_count(3)), ErrorCode::kInvalidArgument);
  EXPECT_ES_ERROR(set_retention_policy(store(), "", "Order", by_count(3)), ErrorCode::kInvalidArgument);
  EXPECT_ES_ERROR(retention_policy(store(), "", "Order"), ErrorCode::kInvalidArgument);
  EXPECT_ES_ERROR(retention_policy(store(), context_, "$Order"), ErrorCode::kInvalidArgument);
  EXPECT_ES_ERROR(retention_policies(store(), ""), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(read_feed_all().empty()) << "a refused policy reached the feed";

  // A good one after the bad ones is the stream's first event.
  EXPECT_EQ(set_retention_policy(store(), context_, "Order", by_count(1)).first_version, 1);
}

TEST_P(RetentionConformance, RetentionPoliciesListsTheContextsPoliciesFromItsFeed) {
  start_relay();
  EXPECT_TRUE(retention_policies(store(), context_).empty());
  std::set<Uuid> ids;
  const auto set = [&](const std::string& type, const RetentionPolicy& policy) {
    ids.insert(set_retention_policy(store(), context_, type, policy).event_ids.at(0));
  };
  set("Order", by_count(3));
  set("Customer", by_age(60s));
  set("Invoice", by_count(1));
  set("Invoice", RetentionPolicy{});  // cleared
  set("Order", by_count(4));          // the last one holds
  // Another context's policy is not listed.
  set_retention_policy(store(), random_context(), "Shipment", by_count(2));

  const std::map<std::string, RetentionPolicy> expected = {{"Order", by_count(4)}, {"Customer", by_age(60s)}};
  wait_for_feed(ids);
  if (HasFatalFailure()) return;
  EXPECT_EQ(retention_policies(store(), context_), expected);
}

// ---------------------------------------------------------------------------------------------
// Reads under a policy.

TEST_P(RetentionConformance, MaxCountHidesAllButTheLastVersionsOfEachStreamOfTheType) {
  const StreamId s = new_stream("Order");
  const std::vector<Uuid> ids = append_ids(s, 10);
  const StreamId other_type = new_stream("Customer");
  append_n(other_type, 10);
  const StreamId other_context{random_context(), "Order", Uuid::random()};
  store().append(other_context, ExpectedVersion::any(), events(10));
  EXPECT_EQ(versions_of(store().read_all(s)), range(1, 10));  // (the cache knows "no policy")

  set_retention_policy(store(), context_, "Order", by_count(3));
  const std::vector<RecordedEvent> kept = store().read_all(s);
  EXPECT_EQ(versions_of(kept), range(8, 10));
  EXPECT_EQ(ids_of(kept), std::vector<Uuid>(ids.begin() + 7, ids.end()));
  EXPECT_EQ(versions_of(store().read_all(s, backward())), range(10, 8));
  EXPECT_EQ(versions_of(store().read_all(s, forward(1))), range(8, 10));
  EXPECT_EQ(versions_of(store().read_all(s, forward(2))), range(8, 10));
  EXPECT_EQ(versions_of(store().read_all(s, forward(9))), range(9, 10));
  EXPECT_EQ(versions_of(store().read_all(s, forward(10))), range(10, 10));
  EXPECT_TRUE(store().read_all(s, forward(11)).empty());
  EXPECT_EQ(versions_of(store().read_all(s, forward(std::nullopt, 2))), range(8, 9));
  EXPECT_EQ(versions_of(store().read_all(s, forward(std::nullopt, std::nullopt, 1))), range(8, 10));
  EXPECT_EQ(versions_of(store().read_all(s, backward(9))), range(9, 8));
  EXPECT_EQ(versions_of(store().read_all(s, backward(std::nullopt, 2))), range(10, 9));
  EXPECT_EQ(versions_of(store().read_all(s, backward(std::nullopt, std::nullopt, 1))), range(10, 8));
  EXPECT_TRUE(store().read_all(s, backward(5)).empty());
  EXPECT_EQ(store().head(s), 10);
  EXPECT_EQ(versions_of(read_expired(s)), range(1, 10));
  ReadOptions expired_backward = backward();
  expired_backward.include_expired = true;
  EXPECT_EQ(versions_of(store().read_all(s, expired_backward)), range(10, 1));

  EXPECT_EQ(versions_of(store().read_all(other_type)), range(1, 10));
  EXPECT_EQ(versions_of(store().read_all(other_context)), range(1, 10));

  // A new append moves the window.
  store().append(s, ExpectedVersion::exact(10), events(1));
  EXPECT_EQ(versions_of(store().read_all(s)), range(9, 11));

  // Cleared: everything shows again, at once.
  set_retention_policy(store(), context_, "Order", RetentionPolicy{});
  EXPECT_EQ(versions_of(store().read_all(s)), range(1, 11));
  EXPECT_EQ(versions_of(store().read_all(s, backward())), range(11, 1));
}

TEST_P(RetentionConformance, MaxAgeHidesOldEventsButNeverTheLast) {
  const Timestamp now = now_ms();
  const StreamId s = new_stream("Order");
  append_at(s, 4, now - 2h);
  append_at(s, 2, now, 5);
  const StreamId all_old = new_stream("Order");
  append_at(all_old, 3, now - 2h);
  set_retention_policy(store(), context_, "Order", by_age(3600s));

  EXPECT_EQ(versions_of(store().read_all(s)), range(5, 6));
  EXPECT_EQ(versions_of(store().read_all(s, backward())), range(6, 5));
  EXPECT_EQ(versions_of(store().read_all(s, forward(2))), range(5, 6));
  EXPECT_EQ(versions_of(store().read_all(s, forward(6))), range(6, 6));
  EXPECT_EQ(versions_of(store().read_all(s, forward(std::nullopt, 1))), range(5, 5));
  EXPECT_TRUE(store().read_all(s, backward(4)).empty());
  EXPECT_EQ(store().head(s), 6);
  EXPECT_EQ(versions_of(read_expired(s)), range(1, 6));

  EXPECT_EQ(versions_of(store().read_all(all_old)), range(3, 3));
  EXPECT_EQ(versions_of(store().read_all(all_old, backward())), range(3, 3));
  EXPECT_EQ(versions_of(store().read_all(all_old, forward(std::nullopt, 1))), range(3, 3));
  EXPECT_EQ(store().head(all_old), 3);
  EXPECT_EQ(versions_of(read_expired(all_old)), range(1, 3));
}

TEST_P(RetentionConformance, WithBothLimitsTheHigherFloorWins) {
  const Timestamp now = now_ms();
  // By age the floor is 7, by count (6) it is 5: 7 wins.
  const StreamId age_wins = new_stream("Order");
  append_at(age_wins, 6, now - 2h);
  append_at(age_wins, 4, now, 7);
  // By age the floor is 3, by count (6) it is 5: 5 wins.
  const StreamId count_wins = new_stream("Order");
  append_at(count_wins, 2, now - 2h);
  append_at(count_wins, 8, now, 3);
  RetentionPolicy both = by_age(3600s);
  both.max_count = 6;
  set_retention_policy(store(), context_, "Order", both);

  EXPECT_EQ(versions_of(store().read_all(age_wins)), range(7, 10));
  EXPECT_EQ(versions_of(store().read_all(age_wins, backward())), range(10, 7));
  EXPECT_EQ(versions_of(store().read_all(count_wins)), range(5, 10));
  EXPECT_EQ(versions_of(store().read_all(count_wins, backward())), range(10, 5));
  EXPECT_EQ(versions_of(store().read_all(count_wins, forward(std::nullopt, 2))), range(5, 6));
}

TEST_P(RetentionConformance, PagesAreNeverEmptyBeforeTheEndWhenLeadingEventsAreHidden) {
  const Timestamp now = now_ms();
  const StreamId s = new_stream("Order");
  append_at(s, 5, now - 2h);
  append_at(s, 4, now, 6);
  set_retention_policy(store(), context_, "Order", by_age(3600s));

  const auto pages = [&](const ReadOptions& options) {
    std::vector<std::vector<std::int64_t>> out;
    std::unique_ptr<EventCursor> cursor = store().read(s, options);
    for (int guard = 0; guard < 100; ++guard) {
      std::vector<RecordedEvent> page = cursor->next_page();
      if (page.empty()) break;
      EXPECT_LE(page.size(), options.page_size);
      out.push_back(versions_of(page));
    }
    return out;
  };
  const auto flat = [](const std::vector<std::vector<std::int64_t>>& p) {
    std::vector<std::int64_t> all;
    for (const auto& v : p) all.insert(all.end(), v.begin(), v.end());
    return all;
  };

  const auto fwd = pages(forward(std::nullopt, std::nullopt, 2));
  EXPECT_EQ(flat(fwd), range(6, 9));
  EXPECT_FALSE(fwd.empty());
  const auto limited = pages(forward(std::nullopt, 3, 2));
  EXPECT_EQ(flat(limited), range(6, 8));
  const auto from_three = pages(forward(3, std::nullopt, 2));
  EXPECT_EQ(flat(from_three), range(6, 9));
  const auto bwd = pages(backward(std::nullopt, std::nullopt, 2));
  EXPECT_EQ(flat(bwd), range(9, 6));
  const auto one = pages(forward(std::nullopt, std::nullopt, 1));
  EXPECT_EQ(one.size(), 4u);
  EXPECT_EQ(flat(one), range(6, 9));
}

// ---------------------------------------------------------------------------------------------
// Scavenge.

TEST_P(RetentionConformance, ScavengeTruncatesEachStreamAtItsFloorByCount) {
  start_relay();
  const StreamId a = new_stream("Order");
  const StreamId b = new_stream("Order");
  std::set<Uuid> ids;
  for (const Uuid& id : append_ids(a, 10)) ids.insert(id);
  for (const Uuid& id : append_ids(b, 2)) ids.insert(id);
  ids.insert(set_retention_policy(store(), context_, "Order", by_count(3)).event_ids.at(0));
  wait_for_feed(ids);
  if (HasFatalFailure()) return;

  std::vector<ScavengedStream> seen;
  ScavengeOptions options;
  options.on_stream = [&](const ScavengedStream& s) { seen.push_back(s); };
  options.dry_run = true;
  ScavengeReport report = scavenge(store(), context_, options);
  EXPECT_EQ(report.streams_examined, 2u);
  EXPECT_EQ(report.streams_truncated, 1u);
  EXPECT_EQ(report.events_removed, 8);
  EXPECT_EQ(report.streams_busy, 0u);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].stream, a);
  EXPECT_EQ(seen[0].first_removed, 1);
  EXPECT_EQ(seen[0].before, 9);  // one fewer kept: the truncate's own event counts
  EXPECT_EQ(seen[0].head, 10);
  EXPECT_EQ(seen[0].removed(), 8);
  EXPECT_EQ(store().head(a), 10) << "a dry run wrote";
  EXPECT_EQ(versions_of(read_expired(a)), range(1, 10));

  seen.clear();
  options.dry_run = false;
  report = scavenge(store(), context_, options);
  EXPECT_EQ(report.streams_examined, 2u);
  EXPECT_EQ(report.streams_truncated, 1u);
  EXPECT_EQ(report.events_removed, 8);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].stream, a);
  EXPECT_EQ(seen[0].first_removed, 1);
  EXPECT_EQ(seen[0].before, 9);
  EXPECT_EQ(seen[0].head, 10);
  EXPECT_EQ(store().head(a), 11);
  const std::vector<RecordedEvent> left = read_expired(a);
  EXPECT_EQ(versions_of(left), range(9, 11));
  ASSERT_FALSE(left.empty());
  EXPECT_EQ(left.back().event_type, kTruncatedEventType);
  EXPECT_EQ(before_of(left.back()), 9);
  EXPECT_EQ(versions_of(store().read_all(a)), range(9, 11));  // the last 3 versions
  EXPECT_EQ(versions_of(store().read_all(a, backward())), range(11, 9));
  EXPECT_EQ(store().head(b), 2);
  EXPECT_EQ(versions_of(read_expired(b)), range(1, 2));

  seen.clear();
  report = scavenge(store(), context_, options);
  EXPECT_EQ(report.streams_truncated, 0u);
  EXPECT_EQ(report.events_removed, 0);
  EXPECT_TRUE(seen.empty());
  EXPECT_EQ(store().head(a), 11);
  EXPECT_EQ(store().head(b), 2);
}

TEST_P(RetentionConformance, ScavengeByAgeRemovesOldEventsAndLeavesIdleStreamsAlone) {
  start_relay();
  const Timestamp now = now_ms();
  const StreamId mixed = new_stream("Order");
  const StreamId young = new_stream("Order");
  const StreamId old = new_stream("Order");
  std::set<Uuid> ids;
  for (const Uuid& id : append_at(mixed, 4, now - 2h)) ids.insert(id);
  for (const Uuid& id : append_at(mixed, 2, now, 5)) ids.insert(id);
  for (const Uuid& id : append_at(young, 3, now)) ids.insert(id);
  for (const Uuid& id : append_at(old, 3, now - 2h)) ids.insert(id);
  ids.insert(set_retention_policy(store(), context_, "Order", by_age(3600s)).event_ids.at(0));
  wait_for_feed(ids);
  if (HasFatalFailure()) return;

  std::map<StreamId, ScavengedStream> seen;
  ScavengeOptions options;
  options.now = now;
  options.on_stream = [&](const ScavengedStream& s) { seen.emplace(s.stream, s); };
  ScavengeReport report = scavenge(store(), context_, options);
  EXPECT_EQ(report.streams_examined, 3u);
  EXPECT_EQ(report.streams_truncated, 2u);
  EXPECT_EQ(report.events_removed, 7);
  ASSERT_EQ(seen.size(), 2u);
  ASSERT_TRUE(seen.count(mixed));
  EXPECT_EQ(seen.at(mixed).first_removed, 1);
  EXPECT_EQ(seen.at(mixed).before, 5);
  ASSERT_TRUE(seen.count(old));
  EXPECT_EQ(seen.at(old).first_removed, 1);
  EXPECT_EQ(seen.at(old).before, 4);
  EXPECT_EQ(versions_of(read_expired(mixed)), range(5, 7));
  EXPECT_EQ(versions_of(read_expired(young)), range(1, 3));
  const std::vector<RecordedEvent> old_left = read_expired(old);
  ASSERT_EQ(versions_of(old_left), range(4, 4));
  EXPECT_EQ(old_left[0].event_type, kTruncatedEventType);
  EXPECT_EQ(versions_of(store().read_all(old)), range(4, 4));

  seen.clear();
  report = scavenge(store(), context_, options);
  EXPECT_EQ(report.streams_truncated, 0u);
  EXPECT_EQ(report.events_removed, 0);
  EXPECT_TRUE(seen.empty());

  // Later, when the "$truncated" of the idle stream has expired too, it stays.
  seen.clear();
  options.now = now + 2h;
  report = scavenge(store(), context_, options);
  EXPECT_FALSE(seen.count(old)) << "an idle stream's own $truncated was truncated again";
  EXPECT_EQ(store().head(old), 4);
  EXPECT_TRUE(seen.count(mixed));  // its young events have expired by then
  EXPECT_TRUE(seen.count(young));
}

TEST_P(RetentionConformance, ScavengeSkipsHardDeletedStreamsAndKeepsWhatADeleteLeft) {
  start_relay();
  const StreamId hard = new_stream("Order");
  const StreamId soft = new_stream("Order");
  const StreamId truncated = new_stream("Order");
  // What the feed shows of each stream (not the events a delete or a truncate hid).
  std::set<Uuid> ids;
  append_n(hard, 10);
  ids.insert(store().delete_stream(hard, true).event_ids.at(0));  // 11
  append_n(soft, 5);
  ids.insert(store().delete_stream(soft).event_ids.at(0));    // 6
  for (const Uuid& id : append_ids(soft, 4)) ids.insert(id);  // 7-10
  append_n(truncated, 10);
  ids.insert(store().truncate_stream(truncated, 10).event_ids.at(0));  // 11: 10, 11 left
  ids.insert(set_retention_policy(store(), context_, "Order", by_count(3)).event_ids.at(0));
  wait_for_feed(ids);
  if (HasFatalFailure()) return;

  // Reads under the policy: what the lifecycle left, then the count.
  EXPECT_EQ(versions_of(store().read_all(hard)), range(11, 11));
  EXPECT_EQ(versions_of(store().read_all(soft)), range(8, 10));
  EXPECT_EQ(versions_of(store().read_all(truncated)), range(10, 11));

  std::map<StreamId, ScavengedStream> seen;
  ScavengeOptions options;
  options.on_stream = [&](const ScavengedStream& s) { seen.emplace(s.stream, s); };
  const ScavengeReport report = scavenge(store(), context_, options);
  EXPECT_EQ(report.streams_examined, 3u);
  EXPECT_EQ(report.streams_truncated, 1u);
  EXPECT_EQ(report.events_removed, 3);
  ASSERT_EQ(seen.size(), 1u);
  ASSERT_TRUE(seen.count(soft));
  EXPECT_EQ(seen.at(soft).first_removed, 6);  // from the "$deleted" on
  EXPECT_EQ(seen.at(soft).before, 9);
  EXPECT_EQ(store().head(hard), 11);
  EXPECT_EQ(versions_of(read_expired(hard)), range(11, 11));
  EXPECT_EQ(store().head(truncated), 11);
  EXPECT_EQ(store().head(soft), 11);
  EXPECT_EQ(versions_of(read_expired(soft)), range(9, 11));
}

TEST_P(RetentionConformance, APolicySetThroughAnotherStoreObjectAppliesWithinTheRefresh) {
  if (!GetParam().new_durable_location) GTEST_SKIP() << "memory: has no data another store object could share";
  const auto opener = GetParam().new_durable_location();
  const std::shared_ptr<Store> writer = opener();
  const std::shared_ptr<Store> reader = opener();
  const StreamId s = new_stream("Order");
  writer->append(s, ExpectedVersion::any(), events(10));
  EXPECT_EQ(versions_of(reader->read_all(s)), range(1, 10));  // the reader caches "no policy"

  const auto set_at = std::chrono::steady_clock::now();
  set_retention_policy(*writer, context_, "Order", by_count(3));
  EXPECT_EQ(versions_of(writer->read_all(s)), range(8, 10));
  const StoreOptions defaults;
  const auto deadline = set_at + defaults.retention_refresh + 5s;
  while (versions_of(reader->read_all(s)) != range(8, 10) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(50ms);
  EXPECT_EQ(versions_of(reader->read_all(s)), range(8, 10)) << "not applied within retention_refresh";
}

TEST_P(RetentionConformance, ScavengeOfATypeWithoutAPolicyIsInvalid) {
  set_retention_policy(store(), context_, "Order", by_count(3));
  ScavengeOptions options;
  options.aggregate_type = "Customer";
  EXPECT_ES_ERROR(scavenge(store(), context_, options), ErrorCode::kInvalidArgument);
  options.aggregate_type = "$retention";
  EXPECT_ES_ERROR(scavenge(store(), context_, options), ErrorCode::kInvalidArgument);
  set_retention_policy(store(), context_, "Customer", by_count(3));
  set_retention_policy(store(), context_, "Customer", RetentionPolicy{});  // cleared
  options.aggregate_type = "Customer";
  EXPECT_ES_ERROR(scavenge(store(), context_, options), ErrorCode::kInvalidArgument);
  EXPECT_ES_ERROR(scavenge(store(), "", ScavengeOptions{}), ErrorCode::kInvalidArgument);
  // The type with a policy is fine (nothing to do yet).
  options.aggregate_type = "Order";
  EXPECT_EQ(scavenge(store(), context_, options).streams_truncated, 0u);
}

TEST_P(RetentionConformance, ScavengeRacingAppendsNeverRemovesMoreThanThePolicyHid) {
  constexpr std::int64_t kMaxCount = 3;
  constexpr int kAppends = 200;
  const RetentionPolicy policy = by_count(kMaxCount);
  const StreamId s = new_stream("Order");
  set_retention_policy(store(), context_, "Order", policy);

  std::atomic<bool> done{false};
  std::map<std::int64_t, Uuid> acknowledged;  // version -> event id (the appender's own)
  std::thread appender([&] {
    for (int i = 0; i < kAppends; ++i) {
      std::vector<EventData> batch = events(1, i + 1);
      const Uuid id = *batch[0].event_id;
      try {
        const AppendResult r = store().append(s, ExpectedVersion::any(), std::move(batch));
        acknowledged[r.first_version] = id;
      } catch (const Error& e) {
        ADD_FAILURE() << "append " << i << ": " << e.what();
      }
    }
    done = true;
  });

  std::vector<ScavengedStream> truncates;
  int conflicts = 0;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!done && std::chrono::steady_clock::now() < deadline) {
    try {
      if (auto t = scavenge_stream(store(), s, policy, false, now_ms())) truncates.push_back(*t);
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kVersionConflict) {
        ++conflicts;
        continue;
      }
      ADD_FAILURE() << "scavenge_stream: " << e.what();
      break;
    }
  }
  appender.join();
  // Once more, at rest.
  if (auto t = scavenge_stream(store(), s, policy, false, now_ms())) truncates.push_back(*t);
  std::printf("[          ] %zu truncates, %d conflicts during %d appends\n", truncates.size(), conflicts, kAppends);
  ASSERT_EQ(acknowledged.size(), static_cast<std::size_t>(kAppends));

  std::int64_t floor = 1;
  std::map<std::int64_t, std::int64_t> before_at;  // the $truncated's version -> its before
  for (const ScavengedStream& t : truncates) {
    EXPECT_EQ(t.stream, s);
    EXPECT_LE(t.before, t.head - kMaxCount + 2) << "removed more than the policy hid at head " << t.head;
    EXPECT_LT(t.first_removed, t.before);
    floor = std::max(floor, t.before);
    before_at[t.head + 1] = t.before;
  }
  const std::int64_t head = store().head(s);
  EXPECT_EQ(head, kAppends + static_cast<std::int64_t>(truncates.size()));
  const std::vector<RecordedEvent> all = read_expired(s);
  EXPECT_EQ(versions_of(all), range(floor, head));
  std::map<std::int64_t, const RecordedEvent*> by_version;
  for (const RecordedEvent& e : all) by_version[e.version] = &e;
  for (const auto& [version, id] : acknowledged) {
    EXPECT_FALSE(before_at.count(version)) << "an append and a truncate at the same version " << version;
    if (version < floor) continue;
    ASSERT_TRUE(by_version.count(version)) << "acknowledged version " << version << " lost (floor " << floor << ")";
    EXPECT_EQ(by_version[version]->event_id, id) << version;
  }
  for (const RecordedEvent& e : all) {
    if (e.event_type != kTruncatedEventType) {
      EXPECT_TRUE(acknowledged.count(e.version)) << "an unknown event at " << e.version;
      continue;
    }
    const std::int64_t before = before_of(e);
    EXPECT_LE(before, e.version - kMaxCount + 1) << "the $truncated at " << e.version;
    if (before_at.count(e.version)) {
      EXPECT_EQ(before, before_at[e.version]) << e.version;
    }
  }
  EXPECT_EQ(versions_of(store().read_all(s)), range(head - kMaxCount + 1, head));
}

// ---------------------------------------------------------------------------------------------
// The aggregate store.

class AggregateRetention : public RetentionConformance {
 protected:
  using Counters = AggregateStore<Counter>;

  std::unique_ptr<Counters> counters(SnapshotPolicy policy) {
    AggregateStoreOptions options;
    options.snapshot_policy = std::move(policy);
    options.page_size = 3;
    return std::make_unique<Counters>(store_, context_, options);
  }

  static void add_one(Counters& counters, const Uuid& id) {
    Aggregate<Counter> a = counters.load(id);
    a.record(Added{1});
    counters.save(a);
  }
};

TEST_P(AggregateRetention, SnapshotsMoreOftenThanMaxCountKeepLoadsWorkingBeforeAndAfterScavenge) {
  start_relay();
  set_retention_policy(store(), context_, "Counter", by_count(5));
  auto counters_store = counters(every_n_events(2));
  const Uuid id = Uuid::random();
  for (int i = 0; i < 20; ++i) add_one(*counters_store, id);  // each load replays under the policy
  const StreamId stream = counters_store->stream_of(id);
  ASSERT_TRUE(store().load_snapshot(stream));
  EXPECT_EQ(store().load_snapshot(stream)->version, 20);
  Aggregate<Counter> a = counters_store->load(id);
  EXPECT_EQ(a.version(), 20);
  EXPECT_EQ(a.state().total, 20);
  EXPECT_EQ(versions_of(store().read_all(stream)), range(16, 20));

  std::set<Uuid> ids;
  for (const RecordedEvent& e : read_expired(stream)) ids.insert(e.event_id);
  wait_for_feed(ids);
  if (HasFatalFailure()) return;
  ScavengeOptions options;
  options.aggregate_type = "Counter";
  const ScavengeReport report = scavenge(store(), context_, options);
  EXPECT_EQ(report.streams_truncated, 1u);
  EXPECT_EQ(report.events_removed, 16);
  EXPECT_EQ(store().head(stream), 21);

  a = counters_store->load(id);
  EXPECT_EQ(a.version(), 21);
  EXPECT_EQ(a.state().total, 20);
  EXPECT_EQ(a.state().adds, 20);
  for (int i = 0; i < 3; ++i) add_one(*counters_store, id);
  a = counters_store->load(id);
  EXPECT_EQ(a.version(), 24);
  EXPECT_EQ(a.state().total, 23);
}

TEST_P(AggregateRetention, WithoutSnapshotsALoadOfAStreamWithHiddenEventsIsCorrupt) {
  set_retention_policy(store(), context_, "Counter", by_count(5));
  auto counters_store = counters(never());
  const Uuid id = Uuid::random();
  Aggregate<Counter> a = counters_store->load(id);
  for (int i = 0; i < 5; ++i) a.record(Added{1});
  counters_store->save(a);  // 5: nothing hidden yet
  EXPECT_EQ(counters_store->load(id).state().total, 5);
  a = counters_store->load(id);
  a.record(Added{1});
  counters_store->save(a);  // 6: version 1 hidden
  const std::optional<Error> e = error_of([&] { counters_store->load(id); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code(), ErrorCode::kCorruption) << e->what();
}

INSTANTIATE_TEST_SUITE_P(Backends, RetentionConformance, ::testing::ValuesIn(all_store_factories()), factory_name);
INSTANTIATE_TEST_SUITE_P(Backends, AggregateRetention, ::testing::ValuesIn(all_store_factories()), factory_name);

}  // namespace
}  // namespace eventstore::testing

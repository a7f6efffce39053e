// The pure parts of retention (src/core/retention.h): the floors, and reading a policy stream.
#include "core/retention.h"

#include <gtest/gtest.h>

#include "eventstore/store.h"

namespace eventstore::detail {
namespace {

using namespace std::chrono_literals;

RecordedEvent policy_event(std::int64_t version, std::string type, std::optional<std::string> data) {
  RecordedEvent event;
  event.stream = retention_policy_stream("shop", "cart");
  event.version = version;
  event.event_type = std::move(type);
  event.data = std::move(data);
  return event;
}

TEST(RetentionFloor, ByCountKeepsTheLastVersionsAndNeverGoesBelowOne) {
  RetentionPolicy policy;
  EXPECT_EQ(count_floor(policy, 10), 1);
  policy.max_count = 3;
  EXPECT_EQ(count_floor(policy, 10), 8);
  EXPECT_EQ(count_floor(policy, 2), 1);
  EXPECT_EQ(count_floor(policy, 0), 1);
  policy.max_count = 1;
  EXPECT_EQ(count_floor(policy, 10), 10);
}

TEST(RetentionFloor, AgeCutoffIsNowMinusMaxAge) {
  const Timestamp now = now_ms();
  RetentionPolicy policy;
  EXPECT_FALSE(age_cutoff(policy, now));
  policy.max_age = 90s;
  EXPECT_EQ(age_cutoff(policy, now), now - 90000ms);
}

TEST(RetentionPolicyStream, TheNewestPolicyEventHolds) {
  const auto policy = policy_from_newest_first(
      {policy_event(2, kRetentionPolicyEventType, R"({"aggregate_type":"cart","max_age_seconds":60,"max_count":5})"),
       policy_event(1, kRetentionPolicyEventType, R"({"aggregate_type":"cart","max_count":9})")});
  ASSERT_TRUE(policy);
  EXPECT_EQ(policy->max_age, 60s);
  EXPECT_EQ(policy->max_count, 5);
}

TEST(RetentionPolicyStream, ClearedDeletedOrEmptyMeansNoPolicy) {
  EXPECT_FALSE(policy_from_newest_first({}));
  EXPECT_FALSE(policy_from_newest_first({policy_event(2, kRetentionPolicyEventType, R"({"aggregate_type":"cart"})"),
                                         policy_event(1, kRetentionPolicyEventType, R"({"max_count":9})")}));
  EXPECT_FALSE(policy_from_newest_first(
      {policy_event(2, kDeletedEventType, "{}"), policy_event(1, kRetentionPolicyEventType, R"({"max_count":9})")}));
}

TEST(RetentionPolicyStream, ATruncateOfThePolicyStreamIsSkipped) {
  const auto policy = policy_from_newest_first({policy_event(3, kTruncatedEventType, R"({"before":2})"),
                                                policy_event(2, kRetentionPolicyEventType, R"({"max_count":4})")});
  ASSERT_TRUE(policy);
  EXPECT_EQ(policy->max_count, 4);
}

TEST(RetentionPolicyStream, AnEventItDidNotWriteIsCorruption) {
  for (const char* data : {"null", "[]", R"({"max_count":0})", R"({"max_count":"5"})", R"({"max_age_seconds":-1})",
                           R"({"max_age_seconds":1.5})"}) {
    try {
      policy_from_newest_first({policy_event(1, kRetentionPolicyEventType, std::string(data))});
      ADD_FAILURE() << data << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kCorruption) << data;
    }
  }
  try {
    policy_from_newest_first({policy_event(1, "Something", "{}")});
    ADD_FAILURE() << "a foreign event type was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorruption);
  }
}

TEST(RetentionPolicyStream, MaxAgeIsBoundedSoThatNoClockArithmeticOverflows) {
  const std::shared_ptr<Store> store = open_store("memory:");
  RetentionPolicy policy;
  policy.max_age = eventstore::kMaxRetentionAge;
  EXPECT_NO_THROW(set_retention_policy(*store, "shop", "cart", policy));
  for (const std::chrono::seconds age : {eventstore::kMaxRetentionAge + 1s, std::chrono::seconds::max(), 0s}) {
    policy.max_age = age;
    try {
      set_retention_policy(*store, "shop", "cart", policy);
      ADD_FAILURE() << age.count() << " s was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    }
  }
  EXPECT_EQ(retention_policy(*store, "shop", "cart")->max_age, eventstore::kMaxRetentionAge);
}

// Found by fuzz_prepare_append: under identifier limits shorter than "$retention" every read
// failed, because the policy lookup's own read was refused.
TEST(RetentionStore, LimitsTooSmallForThePolicyStreamsLeaveReadsAlone) {
  StoreOptions options;
  options.limits.max_identifier_bytes = 7;
  const std::shared_ptr<Store> store = open_store("memory:", options);
  const StreamId stream{"shop", "cart", Uuid::random()};
  store->append(stream, ExpectedVersion::no_stream(), {EventData{{}, "Added", "1", {}, {}}});
  EXPECT_EQ(store->read_all(stream).size(), 1u);
  RetentionPolicy policy;
  policy.max_count = 2;
  try {
    set_retention_policy(*store, "shop", "cart", policy);
    ADD_FAILURE() << "a policy was stored under limits that refuse its stream";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  }
}

TEST(RetentionStore, APageCallbackMayStartAnotherReadOfARetainedType) {
  const std::shared_ptr<Store> store = open_store("memory:");
  const StreamId stream{"shop", "cart", Uuid::random()};
  store->append(
      stream, ExpectedVersion::no_stream(),
      {EventData{{}, "Added", "1", {}, {}}, EventData{{}, "Added", "2", {}, {}}, EventData{{}, "Added", "3", {}, {}}});
  RetentionPolicy policy;
  policy.max_count = 2;
  set_retention_policy(*store, "shop", "cart", policy);
  ASSERT_EQ(store->read_all(stream).size(), 2u);  // the policy is cached from here on
  std::size_t outer = 0;
  std::size_t nested = 0;
  std::unique_ptr<EventCursor> nested_cursor;
  std::unique_ptr<EventCursor> cursor = store->read(stream, {});
  cursor->next_page_async([&](Result<std::vector<RecordedEvent>> page) {
    outer = page.value().size();
    nested_cursor = store->read(stream, {});
    nested_cursor->next_page_async(
        [&](Result<std::vector<RecordedEvent>> inner_page) { nested = inner_page.value().size(); });
  });
  EXPECT_EQ(outer, 2u);
  EXPECT_EQ(nested, 2u);
}

}  // namespace
}  // namespace eventstore::detail

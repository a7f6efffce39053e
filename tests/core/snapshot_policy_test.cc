#include "conformance/test_support.h"

namespace eventstore {
namespace {

using namespace std::chrono_literals;

const StreamId kStream{"ctx", "T", *Uuid::parse("123e4567-e89b-12d3-a456-426614174000")};

SnapshotContext save(std::int64_t before, std::int64_t after, std::int64_t snapshot_version = 0,
                     std::optional<Timestamp> snapshot_time = std::nullopt, Timestamp now = now_ms()) {
  return SnapshotContext{kStream, before, after, snapshot_version, snapshot_time, now};
}

TEST(EveryNEvents, FiresWhenASaveReachesOrCrossesAMultiple) {
  const SnapshotPolicy every10 = every_n_events(10);
  EXPECT_TRUE(every10(save(9, 10)));
  EXPECT_TRUE(every10(save(9, 12)));  // one save of 3 events crossing 10
  EXPECT_TRUE(every10(save(0, 10)));
  EXPECT_TRUE(every10(save(5, 25)));  // crossing two multiples
  EXPECT_TRUE(every10(save(19, 20)));
  EXPECT_FALSE(every10(save(10, 11)));
  EXPECT_FALSE(every10(save(10, 19)));
  EXPECT_FALSE(every10(save(0, 9)));
  EXPECT_FALSE(every10(save(11, 13)));
}

TEST(EveryNEvents, OneMeansEverySave) {
  const SnapshotPolicy every1 = every_n_events(1);
  for (std::int64_t v = 0; v < 20; ++v) EXPECT_TRUE(every1(save(v, v + 1)));
}

TEST(EveryNEvents, NeedsAPositiveN) {
  EXPECT_ES_ERROR(every_n_events(0), ErrorCode::kInvalidArgument);
  EXPECT_ES_ERROR(every_n_events(-5), ErrorCode::kInvalidArgument);
}

TEST(EveryInterval, FiresWithoutASnapshotAndWhenTheLatestIsOldEnough) {
  const SnapshotPolicy hourly = every_interval(1h);
  const Timestamp now = now_ms();
  EXPECT_TRUE(hourly(save(0, 1, 0, std::nullopt, now)));
  EXPECT_FALSE(hourly(save(1, 2, 1, now - 59min, now)));
  EXPECT_TRUE(hourly(save(1, 2, 1, now - 60min, now)));
  EXPECT_TRUE(hourly(save(1, 2, 1, now - 3h, now)));
  EXPECT_FALSE(hourly(save(1, 2, 1, now, now)));
  const SnapshotPolicy always = every_interval(0ms);
  EXPECT_TRUE(always(save(1, 2, 1, now, now)));
}

TEST(Never, NeverFires) {
  const SnapshotPolicy policy = never();
  EXPECT_FALSE(policy(save(0, 1)));
  EXPECT_FALSE(policy(save(99, 100)));
  EXPECT_FALSE(policy(save(0, 1000000)));
}

TEST(DefaultPolicy, IsEveryHundredEvents) {
  const AggregateStoreOptions options;
  ASSERT_TRUE(options.snapshot_policy);
  EXPECT_FALSE(options.snapshot_policy(save(0, 99)));
  EXPECT_TRUE(options.snapshot_policy(save(99, 100)));
  EXPECT_TRUE(options.snapshot_policy(save(98, 101)));
  EXPECT_EQ(options.snapshot_on_load_after, 0);
}

}  // namespace
}  // namespace eventstore

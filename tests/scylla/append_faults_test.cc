// The cluster append's answers when batches fail in chosen ways: faults injected into the
// bridge's append batches (inject_batch_faults), against the real cluster, whose SERIAL reads
// then decide.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "backend_store.h"

namespace eventstore::testing {
namespace {

using detail::InjectedBatchFault;

StreamId fresh_stream() { return ::eventstore::testing::fresh_stream("faults"); }

std::vector<Uuid> ids_of(const std::vector<EventData>& events) {
  std::vector<Uuid> ids;
  for (const EventData& e : events) ids.push_back(*e.event_id);
  return ids;
}

Error error_of(Store& store, const StreamId& stream, ExpectedVersion expected, const std::vector<EventData>& batch) {
  try {
    store.append(stream, expected, batch);
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "the append succeeded";
  return Error(ErrorCode::kInternal, "no error");
}

constexpr InjectedBatchFault kLostBeforeSending{false, ErrorCode::kOutcomeUnknown};
constexpr InjectedBatchFault kUnavailable{false, ErrorCode::kUnavailable};
constexpr InjectedBatchFault kAppliedButUnanswered{true, ErrorCode::kOutcomeUnknown};

// Issue 10 item 2: the first batch's outcome is unknown, the read-back finds it not applied, and
// the retry fails as Unavailable. The first batch may still be on its way: not "nothing written".
TEST(ScyllaAppendFaults, UnavailableAfterAnUnknownAttemptIsUnknown) {
  SKIP_WITHOUT_CLUSTER();
  const StreamId stream = fresh_stream();
  const auto batch = events(2);
  detail::inject_batch_faults(*cluster(), {kLostBeforeSending, kUnavailable});
  const Error error = error_of(*cluster(), stream, ExpectedVersion::no_stream(), batch);
  EXPECT_EQ(error.code(), ErrorCode::kOutcomeUnknown) << error.what();
  EXPECT_EQ(cluster()->head(stream), 0);
  // The retry the error asks for settles it.
  const AppendResult retried = cluster()->append(stream, ExpectedVersion::no_stream(), batch);
  EXPECT_EQ(retried.first_version, 1);
  EXPECT_EQ(retried.event_ids, ids_of(batch));
}

TEST(ScyllaAppendFaults, UnavailableAfterAnUnknownAttemptOfAnAnyAppendIsUnknown) {
  SKIP_WITHOUT_CLUSTER();
  const StreamId stream = fresh_stream();
  cluster()->append(stream, ExpectedVersion::no_stream(), events(1));
  detail::inject_batch_faults(*cluster(), {kLostBeforeSending, kUnavailable});
  const Error error = error_of(*cluster(), stream, ExpectedVersion::any(), events(1));
  EXPECT_EQ(error.code(), ErrorCode::kOutcomeUnknown) << error.what();
  EXPECT_EQ(cluster()->head(stream), 1);
}

// Without an unknown outcome before it, an Unavailable batch is what it says: nothing written.
TEST(ScyllaAppendFaults, UnavailableAloneIsUnavailable) {
  SKIP_WITHOUT_CLUSTER();
  const StreamId stream = fresh_stream();
  detail::inject_batch_faults(*cluster(), {kUnavailable});
  const Error error = error_of(*cluster(), stream, ExpectedVersion::no_stream(), events(1));
  EXPECT_EQ(error.code(), ErrorCode::kUnavailable) << error.what();
  EXPECT_EQ(cluster()->head(stream), 0);
}

TEST(ScyllaAppendFaults, AnUnansweredBatchThatAppliedIsASuccess) {
  SKIP_WITHOUT_CLUSTER();
  const StreamId stream = fresh_stream();
  const auto batch = events(3);
  detail::inject_batch_faults(*cluster(), {kAppliedButUnanswered});
  const AppendResult result = cluster()->append(stream, ExpectedVersion::no_stream(), batch);
  EXPECT_EQ(result.first_version, 1);
  EXPECT_EQ(result.event_ids, ids_of(batch));
  EXPECT_EQ(cluster()->read_all(stream).size(), 3u);
}

// Issue 10 item 3: an unknown outcome whose versions another writer took is a conflict that
// reports where the stream is, never the expected version itself.
TEST(ScyllaAppendFaults, AnUnknownAttemptWhoseVersionsOthersTookIsAConflictPastTheExpectedVersion) {
  SKIP_WITHOUT_CLUSTER();
  const StreamId stream = fresh_stream();
  cluster()->append(stream, ExpectedVersion::no_stream(), events(2));
  const auto mine = events(1);
  // The batch is lost; meanwhile the stream moves on by two other appends.
  detail::inject_batch_faults(*cluster(), {kLostBeforeSending});
  auto other = open_backend_store();
  other->append(stream, ExpectedVersion::exact(2), events(1));
  other->append(stream, ExpectedVersion::exact(3), events(2));
  const Error error = error_of(*cluster(), stream, ExpectedVersion::exact(2), mine);
  ASSERT_EQ(error.code(), ErrorCode::kVersionConflict) << error.what();
  EXPECT_EQ(error.current_version(), 5);
}

// Every attempt unknown: the answer stays unknown, and nothing was written twice.
TEST(ScyllaAppendFaults, EveryAttemptUnknownStaysUnknown) {
  SKIP_WITHOUT_CLUSTER();
  const StreamId stream = fresh_stream();
  const auto batch = events(1);
  detail::inject_batch_faults(*cluster(), {kLostBeforeSending, kLostBeforeSending, kLostBeforeSending});
  const Error error = error_of(*cluster(), stream, ExpectedVersion::no_stream(), batch);
  EXPECT_EQ(error.code(), ErrorCode::kOutcomeUnknown) << error.what();
  EXPECT_EQ(cluster()->append(stream, ExpectedVersion::no_stream(), batch).first_version, 1);
  EXPECT_EQ(cluster()->head(stream), 1);
}

}  // namespace
}  // namespace eventstore::testing

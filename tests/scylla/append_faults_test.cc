// The cluster append's answers when batches fail in chosen ways: faults injected into the
// bridge's append batches (inject_batch_faults), against the real cluster, whose SERIAL reads
// then decide. The cluster comes from the seed's variables; without SCYLLA_HOSTS these skip, loudly.
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/store_uri.h"
#include "eventstore/eventstore.h"
#include "scylla/scylla_store.h"

namespace eventstore {
namespace {

using detail::InjectedBatchFault;

bool have_cluster() {
  const char* hosts = std::getenv("SCYLLA_HOSTS");
  return hosts && *hosts;
}

#define SKIP_WITHOUT_CLUSTER()                                                                   \
  do {                                                                                           \
    if (!have_cluster())                                                                         \
      GTEST_SKIP() << "SKIPPED: SCYLLA_HOSTS is not set, so this cluster test did NOT run. "     \
                      "Start scripts/local-cassandra and eval \"$(scripts/local-cassandra env)\"."; \
  } while (0)

// The backend's own store (not wrapped by open_store), so that faults can be injected into it.
std::shared_ptr<Store> cluster() {
  static std::shared_ptr<Store> store = [] {
    ::unsetenv("EVENTSTORE_STORE");
    const std::string uri = default_store_uri();
    auto opened = detail::open_scylla_store(detail::parse_store_uri(uri).cluster, redact_uri(uri), {});
    opened->apply_schema({1, {}});
    return opened;
  }();
  return store;
}

StreamId fresh_stream() {
  std::string hex = Uuid::random().to_string();
  return StreamId{"faults_" + hex.substr(0, 8), "order", Uuid::random()};
}

std::vector<EventData> events(int n) {
  std::vector<EventData> out;
  for (int i = 0; i < n; ++i) out.push_back(EventData{Uuid::random(), "Happened", "{\"i\":" + std::to_string(i) + "}", {}, {}});
  return out;
}

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
  auto other = detail::open_scylla_store(detail::parse_store_uri(default_store_uri()).cluster, "other", {});
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
}  // namespace eventstore

// The event store and snapshot store contract (include/eventstore/event_store.h,
// snapshot_store.h, DESIGN.md "The contract every backend keeps"), run on every backend.
// Over 500 lines on purpose: the whole contract in one suite, so that a backend's author reads it in one place.
#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <future>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "store_conformance.h"

namespace eventstore::testing {
namespace {

using namespace std::chrono_literals;

using StoreConformance = StoreTest;

// ---------------------------------------------------------------------------------------------
// Appends: new streams, expected versions, conflicts, contiguity, atomicity.

TEST_P(StoreConformance, NewStreamStartsAtVersionOne) {
  const StreamId stream = new_stream();
  std::vector<EventData> batch = events(3);
  const std::vector<Uuid> ids = ids_of(batch);
  const AppendResult result = store().append(stream, ExpectedVersion::no_stream(), batch);
  EXPECT_EQ(result.first_version, 1);
  EXPECT_EQ(result.next_expected_version, 3);
  EXPECT_EQ(result.event_ids, ids);
  EXPECT_EQ(store().head(stream), 3);

  const std::vector<RecordedEvent> read = store().read_all(stream);
  ASSERT_EQ(read.size(), 3u);
  for (std::size_t i = 0; i < read.size(); ++i) {
    EXPECT_EQ(read[i].stream, stream);
    EXPECT_EQ(read[i].version, static_cast<std::int64_t>(i + 1));
    EXPECT_EQ(read[i].event_id, ids[i]);
    EXPECT_EQ(read[i].event_type, "Happened");
    EXPECT_EQ(read[i].data, batch[i].data);
    EXPECT_EQ(read[i].metadata, std::nullopt);
  }
}

TEST_P(StoreConformance, MissingEventIdsAreGeneratedAndReturned) {
  const StreamId stream = new_stream();
  std::vector<EventData> batch = events(2);
  batch[0].event_id.reset();
  batch[1].event_id.reset();
  const AppendResult result = store().append(stream, ExpectedVersion::no_stream(), batch);
  ASSERT_EQ(result.event_ids.size(), 2u);
  EXPECT_FALSE(result.event_ids[0].is_nil());
  EXPECT_FALSE(result.event_ids[1].is_nil());
  EXPECT_NE(result.event_ids[0], result.event_ids[1]);
  EXPECT_EQ(ids_of(store().read_all(stream)), result.event_ids);
}

TEST_P(StoreConformance, ExactExpectedVersionAppendsAtThatVersion) {
  const StreamId stream = new_stream();
  EXPECT_EQ(store().append(stream, ExpectedVersion::exact(0), events(1)).first_version, 1);
  const AppendResult second = store().append(stream, ExpectedVersion::exact(1), events(2));
  EXPECT_EQ(second.first_version, 2);
  EXPECT_EQ(second.next_expected_version, 3);
  const AppendResult third = store().append(stream, ExpectedVersion::exact(3), events(1));
  EXPECT_EQ(third.first_version, 4);
  EXPECT_EQ(third.next_expected_version, 4);
  EXPECT_EQ(store().head(stream), 4);
}

TEST_P(StoreConformance, ExactExpectedVersionBehindOrAheadConflictsWithCurrentVersion) {
  const StreamId stream = new_stream();
  store().append(stream, ExpectedVersion::no_stream(), events(2));
  for (std::int64_t expected : {0, 1, 3, 5, 1000}) {
    std::optional<Error> e = error_of([&] { store().append(stream, ExpectedVersion::exact(expected), events(1)); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), ErrorCode::kVersionConflict) << "expected " << expected << ": " << e->what();
    EXPECT_EQ(e->current_version(), std::optional<std::int64_t>(2)) << "expected " << expected;
  }
  // Nothing was written by the conflicts: no gap, no extra events.
  EXPECT_EQ(store().head(stream), 2);
  EXPECT_EQ(versions_of(store().read_all(stream)), range(1, 2));
}

TEST_P(StoreConformance, ExactVersionOnMissingStreamConflictsWithZero) {
  const StreamId stream = new_stream();
  std::optional<Error> e = error_of([&] { store().append(stream, ExpectedVersion::exact(3), events(1)); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code(), ErrorCode::kVersionConflict) << e->what();
  EXPECT_EQ(e->current_version(), std::optional<std::int64_t>(0));
  EXPECT_EQ(store().head(stream), 0);
  EXPECT_TRUE(store().read_all(stream).empty());
}

TEST_P(StoreConformance, NoStreamOnExistingStreamConflicts) {
  const StreamId stream = new_stream();
  store().append(stream, ExpectedVersion::no_stream(), events(3));
  std::optional<Error> e = error_of([&] { store().append(stream, ExpectedVersion::no_stream(), events(1)); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code(), ErrorCode::kVersionConflict) << e->what();
  EXPECT_EQ(e->current_version(), std::optional<std::int64_t>(3));
  EXPECT_EQ(store().head(stream), 3);
}

TEST_P(StoreConformance, NoStreamIsExactZero) {
  EXPECT_EQ(ExpectedVersion::no_stream(), ExpectedVersion::exact(0));
  const StreamId stream = new_stream();
  store().append(stream, ExpectedVersion::exact(0), events(1));
  std::optional<Error> e = error_of([&] { store().append(stream, ExpectedVersion::exact(0), events(1)); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code(), ErrorCode::kVersionConflict);
  EXPECT_EQ(e->current_version(), std::optional<std::int64_t>(1));
}

TEST_P(StoreConformance, AnyAppendsAtTheEndOfNewAndExistingStreams) {
  const StreamId stream = new_stream();
  const AppendResult first = store().append(stream, ExpectedVersion::any(), events(2));
  EXPECT_EQ(first.first_version, 1);
  EXPECT_EQ(first.next_expected_version, 2);
  const AppendResult second = store().append(stream, ExpectedVersion::any(), events(3));
  EXPECT_EQ(second.first_version, 3);
  EXPECT_EQ(second.next_expected_version, 5);
  store().append(stream, ExpectedVersion::exact(5), events(1));
  const AppendResult third = store().append(stream, ExpectedVersion::any(), events(1));
  EXPECT_EQ(third.first_version, 7);
  EXPECT_EQ(versions_of(store().read_all(stream)), range(1, 7));
}

TEST_P(StoreConformance, VersionsAreContiguousAcrossAppendsOfAnySize) {
  const StreamId stream = new_stream();
  std::vector<Uuid> all;
  std::int64_t head = 0;
  for (int n : {1, 5, 2, 17, 1, 1, 40}) {
    std::vector<EventData> batch = events(n);
    for (const Uuid& id : ids_of(batch)) all.push_back(id);
    const AppendResult r = store().append(stream, ExpectedVersion::exact(head), std::move(batch));
    EXPECT_EQ(r.first_version, head + 1);
    head += n;
    EXPECT_EQ(r.next_expected_version, head);
  }
  const std::vector<RecordedEvent> read = store().read_all(stream);
  EXPECT_EQ(versions_of(read), range(1, head));
  EXPECT_EQ(ids_of(read), all);
  EXPECT_EQ(store().head(stream), head);
}

TEST_P(StoreConformance, ConflictingMultiEventAppendWritesNothing) {
  const StreamId stream = new_stream();
  const std::vector<Uuid> original = append_n(stream, 2);
  std::vector<EventData> batch = events(5, 100);
  const std::vector<Uuid> rejected = ids_of(batch);
  std::optional<Error> e = error_of([&] { store().append(stream, ExpectedVersion::exact(1), batch); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code(), ErrorCode::kVersionConflict) << e->what();
  EXPECT_EQ(e->current_version(), std::optional<std::int64_t>(2));
  EXPECT_EQ(store().head(stream), 2);
  EXPECT_EQ(ids_of(store().read_all(stream)), original);
  // The rejected events were not half-written: the same events now append at the right version.
  const AppendResult retry = store().append(stream, ExpectedVersion::exact(2), batch);
  EXPECT_EQ(retry.first_version, 3);
  EXPECT_EQ(retry.event_ids, rejected);
  EXPECT_EQ(versions_of(store().read_all(stream)), range(1, 7));
}

TEST_P(StoreConformance, ConflictingNoStreamAppendOnExistingStreamWritesNothing) {
  const StreamId stream = new_stream();
  const std::vector<Uuid> original = append_n(stream, 1);
  std::optional<Error> e = error_of([&] { store().append(stream, ExpectedVersion::no_stream(), events(3)); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code(), ErrorCode::kVersionConflict);
  EXPECT_EQ(ids_of(store().read_all(stream)), original);
}

// ---------------------------------------------------------------------------------------------
// Idempotent retry.

TEST_P(StoreConformance, RetryWithSameIdsAndExpectedVersionReturnsOriginalResult) {
  const StreamId stream = new_stream();
  store().append(stream, ExpectedVersion::no_stream(), events(1));
  const std::vector<EventData> batch = events(3, 10);
  const AppendResult original = store().append(stream, ExpectedVersion::exact(1), batch);
  const AppendResult retried = store().append(stream, ExpectedVersion::exact(1), batch);
  EXPECT_EQ(retried.first_version, original.first_version);
  EXPECT_EQ(retried.next_expected_version, original.next_expected_version);
  EXPECT_EQ(retried.event_ids, original.event_ids);
  EXPECT_EQ(store().head(stream), 4);
  const std::vector<RecordedEvent> read = store().read_all(stream);
  EXPECT_EQ(versions_of(read), range(1, 4));
  std::vector<Uuid> tail;
  for (std::size_t i = 1; i < read.size(); ++i) tail.push_back(read[i].event_id);
  EXPECT_EQ(tail, ids_of(batch));
}

TEST_P(StoreConformance, RetryOfFirstAppendOfNewStreamReturnsOriginalResult) {
  const StreamId stream = new_stream();
  const std::vector<EventData> batch = events(2);
  const AppendResult original = store().append(stream, ExpectedVersion::no_stream(), batch);
  for (int i = 0; i < 3; ++i) {
    const AppendResult retried = store().append(stream, ExpectedVersion::no_stream(), batch);
    EXPECT_EQ(retried.first_version, 1);
    EXPECT_EQ(retried.next_expected_version, 2);
    EXPECT_EQ(retried.event_ids, original.event_ids);
  }
  EXPECT_EQ(store().head(stream), 2);
  EXPECT_EQ(store().read_all(stream).size(), 2u);
}

TEST_P(StoreConformance, RetryAfterLaterAppendsStillReturnsOriginalResult) {
  const StreamId stream = new_stream();
  const std::vector<EventData> batch = events(2);
  const AppendResult original = store().append(stream, ExpectedVersion::no_stream(), batch);
  append_n(stream, 3);  // others wrote after the lost acknowledgement
  const AppendResult retried = store().append(stream, ExpectedVersion::no_stream(), batch);
  EXPECT_EQ(retried.first_version, original.first_version);
  EXPECT_EQ(retried.next_expected_version, original.next_expected_version);
  EXPECT_EQ(retried.event_ids, original.event_ids);
  EXPECT_EQ(store().head(stream), 5);
}

TEST_P(StoreConformance, DifferentEventsAtATakenVersionConflict) {
  const StreamId stream = new_stream();
  const std::vector<Uuid> original = append_n(stream, 2);
  std::optional<Error> e = error_of([&] { store().append(stream, ExpectedVersion::exact(0), events(2)); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code(), ErrorCode::kVersionConflict) << e->what();
  EXPECT_EQ(e->current_version(), std::optional<std::int64_t>(2));
  EXPECT_EQ(ids_of(store().read_all(stream)), original);
}

TEST_P(StoreConformance, PartlySameEventsAtATakenVersionConflict) {
  const StreamId stream = new_stream();
  std::vector<EventData> batch = events(2);
  store().append(stream, ExpectedVersion::no_stream(), batch);
  // Same first id, different second: not the same append.
  std::vector<EventData> other = batch;
  other[1].event_id = Uuid::random();
  std::optional<Error> e = error_of([&] { store().append(stream, ExpectedVersion::no_stream(), other); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code(), ErrorCode::kVersionConflict) << e->what();
  EXPECT_EQ(e->current_version(), std::optional<std::int64_t>(2));
  EXPECT_EQ(store().head(stream), 2);
}

TEST_P(StoreConformance, ImmediateRetryWithAnyReturnsOriginalResult) {
  const StreamId stream = new_stream();
  append_n(stream, 1);
  const std::vector<EventData> batch = events(2, 50);
  const AppendResult original = store().append(stream, ExpectedVersion::any(), batch);
  EXPECT_EQ(original.first_version, 2);
  const AppendResult retried = store().append(stream, ExpectedVersion::any(), batch);
  EXPECT_EQ(retried.first_version, 2);
  EXPECT_EQ(retried.next_expected_version, 3);
  EXPECT_EQ(retried.event_ids, original.event_ids);
  EXPECT_EQ(store().head(stream), 3);
  EXPECT_EQ(store().read_all(stream).size(), 3u);
}

// ---------------------------------------------------------------------------------------------
// Reads.

TEST_P(StoreConformance, ReadForwardFromAVersion) {
  const StreamId stream = new_stream();
  const std::vector<Uuid> ids = append_n(stream, 10);
  const std::vector<RecordedEvent> read = store().read_all(stream, forward(4));
  EXPECT_EQ(versions_of(read), range(4, 10));
  EXPECT_EQ(ids_of(read), std::vector<Uuid>(ids.begin() + 3, ids.end()));
  EXPECT_EQ(versions_of(store().read_all(stream, forward(10))), range(10, 10));
  EXPECT_TRUE(store().read_all(stream, forward(11)).empty());
  EXPECT_TRUE(store().read_all(stream, forward(1000)).empty());
}

TEST_P(StoreConformance, ReadBackwardFromTheHead) {
  const StreamId stream = new_stream();
  const std::vector<Uuid> ids = append_n(stream, 10);
  const std::vector<RecordedEvent> read = store().read_all(stream, backward());
  EXPECT_EQ(versions_of(read), range(10, 1));
  EXPECT_EQ(ids_of(read), std::vector<Uuid>(ids.rbegin(), ids.rend()));
}

TEST_P(StoreConformance, ReadBackwardFromAVersion) {
  const StreamId stream = new_stream();
  append_n(stream, 10);
  EXPECT_EQ(versions_of(store().read_all(stream, backward(4))), range(4, 1));
  EXPECT_EQ(versions_of(store().read_all(stream, backward(1))), range(1, 1));
  EXPECT_EQ(versions_of(store().read_all(stream, backward(10))), range(10, 1));
  // From beyond the head: there is nothing above the head, so the read starts at it.
  EXPECT_EQ(versions_of(store().read_all(stream, backward(25))), range(10, 1));
}

TEST_P(StoreConformance, ReadWithALimit) {
  const StreamId stream = new_stream();
  append_n(stream, 10);
  EXPECT_EQ(versions_of(store().read_all(stream, forward(std::nullopt, 3))), range(1, 3));
  EXPECT_EQ(versions_of(store().read_all(stream, forward(2, 3))), range(2, 4));
  EXPECT_EQ(versions_of(store().read_all(stream, forward(9, 5))), range(9, 10));
  EXPECT_EQ(versions_of(store().read_all(stream, backward(std::nullopt, 3))), range(10, 8));
  EXPECT_EQ(versions_of(store().read_all(stream, backward(5, 2))), range(5, 4));
  EXPECT_EQ(versions_of(store().read_all(stream, backward(2, 5))), range(2, 1));
  EXPECT_EQ(versions_of(store().read_all(stream, forward(std::nullopt, 10))), range(1, 10));
  EXPECT_EQ(versions_of(store().read_all(stream, forward(std::nullopt, 1000))), range(1, 10));
  EXPECT_TRUE(store().read_all(stream, forward(std::nullopt, 0)).empty());
  // A limit smaller than a page and larger than a page.
  EXPECT_EQ(versions_of(store().read_all(stream, forward(std::nullopt, 7, 3))), range(1, 7));
  EXPECT_EQ(versions_of(store().read_all(stream, backward(std::nullopt, 7, 3))), range(10, 4));
}

// Reads `stream` with a cursor; checks every page is non-empty and at most `page_size`, and
// that the read ends with an empty page. Returns the versions in order.
std::vector<std::int64_t> read_paged(Store& store, const StreamId& stream, const ReadOptions& options,
                                     std::size_t* pages_out = nullptr) {
  std::unique_ptr<EventCursor> cursor = store.read(stream, options);
  std::vector<std::int64_t> versions;
  std::size_t pages = 0;
  for (;;) {
    std::vector<RecordedEvent> page = cursor->next_page();
    if (page.empty()) break;
    ++pages;
    EXPECT_LE(page.size(), options.page_size) << "page " << pages << " is over the page size";
    for (const RecordedEvent& e : page) versions.push_back(e.version);
    if (pages > 100000) {
      ADD_FAILURE() << "the cursor never ends";
      break;
    }
  }
  if (pages_out) *pages_out = pages;
  return versions;
}

TEST_P(StoreConformance, PagingAcrossManyPages) {
  const StreamId stream = new_stream();
  std::vector<Uuid> ids;
  for (int chunk = 0; chunk < 5; ++chunk) {
    std::vector<EventData> batch = events(500, chunk * 500 + 1);
    for (const Uuid& id : ids_of(batch)) ids.push_back(id);
    store().append(stream, ExpectedVersion::exact(chunk * 500), std::move(batch));
  }
  ASSERT_EQ(store().head(stream), 2500);

  std::size_t pages = 0;
  EXPECT_EQ(read_paged(store(), stream, forward(std::nullopt, std::nullopt, 100), &pages), range(1, 2500));
  EXPECT_GE(pages, 25u);
  EXPECT_EQ(read_paged(store(), stream, backward(std::nullopt, std::nullopt, 100), &pages), range(2500, 1));
  EXPECT_GE(pages, 25u);
  EXPECT_EQ(read_paged(store(), stream, forward(1001, 250, 100), &pages), range(1001, 1250));
  EXPECT_GE(pages, 3u);
  EXPECT_EQ(read_paged(store(), stream, backward(1500, 333, 7)), range(1500, 1168));
  EXPECT_EQ(read_paged(store(), stream, forward(2401, std::nullopt, 1)), range(2401, 2500));

  // The data of every event comes back with it, in order, across pages.
  std::size_t index = 0;
  bool data_ok = true;
  store().for_each(stream, forward(std::nullopt, std::nullopt, 100), [&](const RecordedEvent& e) {
    if (index >= ids.size() || e.event_id != ids[index] || e.data != R"({"i":)" + std::to_string(index + 1) + "}")
      data_ok = false;
    ++index;
  });
  EXPECT_TRUE(data_ok);
  EXPECT_EQ(index, ids.size());
}

TEST_P(StoreConformance, CursorKeepsReturningEmptyPagesWhenDone) {
  const StreamId stream = new_stream();
  append_n(stream, 3);
  std::unique_ptr<EventCursor> cursor = store().read(stream, forward(std::nullopt, std::nullopt, 2));
  EXPECT_EQ(cursor->next_page().size(), 2u);
  EXPECT_EQ(cursor->next_page().size(), 1u);
  EXPECT_TRUE(cursor->next_page().empty());
  EXPECT_TRUE(cursor->next_page().empty());
}

TEST_P(StoreConformance, MissingStreamReadsEmptyWithHeadZero) {
  const StreamId stream = new_stream();
  EXPECT_EQ(store().head(stream), 0);
  EXPECT_TRUE(store().read_all(stream).empty());
  EXPECT_TRUE(store().read_all(stream, backward()).empty());
  EXPECT_TRUE(store().read_all(stream, forward(5, 10)).empty());
  EXPECT_TRUE(store().read_all(stream, backward(5, 10)).empty());
  EXPECT_TRUE(store().read(stream, forward())->next_page().empty());
  EXPECT_EQ(store().load_snapshot(stream), std::nullopt);
  // Reading did not create it.
  EXPECT_EQ(store().append(stream, ExpectedVersion::no_stream(), events(1)).first_version, 1);
}

TEST_P(StoreConformance, ReadYourWritesAfterEachAppend) {
  const StreamId stream = new_stream();
  for (int i = 1; i <= 20; ++i) {
    const Uuid id = store().append(stream, ExpectedVersion::exact(i - 1), events(1)).event_ids.at(0);
    EXPECT_EQ(store().head(stream), i);
    const std::vector<RecordedEvent> last = store().read_all(stream, backward(std::nullopt, 1));
    ASSERT_EQ(last.size(), 1u);
    EXPECT_EQ(last[0].event_id, id);
    EXPECT_EQ(last[0].version, i);
  }
}

// ---------------------------------------------------------------------------------------------
// What an event holds.

TEST_P(StoreConformance, MetadataRoundTrips) {
  const StreamId stream = new_stream();
  const std::string metadata = R"({"user":"alice","trace":{"id":"abc","hops":[1,2,3]},"n":1.5,"ok":true})";
  std::vector<EventData> batch{event("WithMeta", R"({"x":1})", metadata), event("EmptyMeta", R"({"x":2})", "{}"),
                               event("NoMeta", R"({"x":3})", std::nullopt)};
  store().append(stream, ExpectedVersion::no_stream(), batch);
  const std::vector<RecordedEvent> read = store().read_all(stream);
  ASSERT_EQ(read.size(), 3u);
  EXPECT_EQ(read[0].metadata, std::optional<std::string>(metadata));
  EXPECT_EQ(read[1].metadata, std::optional<std::string>("{}"));
  EXPECT_EQ(read[2].metadata, std::nullopt);
  EXPECT_EQ(read[0].event_type, "WithMeta");
  EXPECT_EQ(read[2].event_type, "NoMeta");
}

TEST_P(StoreConformance, DataRoundTripsAsAppendedIncludingNone) {
  const StreamId stream = new_stream();
  const std::vector<std::optional<std::string>> datas{std::nullopt,
                                                      "null",
                                                      "{}",
                                                      "[]",
                                                      "\"\"",
                                                      "0",
                                                      "-12.5e3",
                                                      "true",
                                                      R"([1,"two",{"three":[null]}])",
                                                      R"({ "spaced" : [ 1 , 2 ] })"};
  std::vector<EventData> batch;
  for (const auto& d : datas) batch.push_back(event("Data", d));
  store().append(stream, ExpectedVersion::no_stream(), batch);
  const std::vector<RecordedEvent> read = store().read_all(stream);
  ASSERT_EQ(read.size(), datas.size());
  for (std::size_t i = 0; i < datas.size(); ++i) EXPECT_EQ(read[i].data, datas[i]) << "event " << i + 1;
}

TEST_P(StoreConformance, GivenTimestampsKeepMillisecondPrecision) {
  const StreamId stream = new_stream();
  using std::chrono::milliseconds;
  // A clock reading with a sub-millisecond part, brought to the API's millisecond type.
  const auto precise =
      std::chrono::sys_time<std::chrono::microseconds>(std::chrono::microseconds(1'700'000'000'123'456));
  const Timestamp truncated = std::chrono::time_point_cast<milliseconds>(precise);
  ASSERT_EQ(truncated.time_since_epoch().count(), 1'700'000'000'123);
  const Timestamp given(milliseconds(1'234'567'890'987));
  const Timestamp future(milliseconds(4'102'444'800'001));  // 2100-01-01T00:00:00.001Z
  std::vector<EventData> batch = events(3);
  batch[0].timestamp = truncated;
  batch[1].timestamp = given;
  batch[2].timestamp = future;
  store().append(stream, ExpectedVersion::no_stream(), batch);
  const std::vector<RecordedEvent> read = store().read_all(stream);
  ASSERT_EQ(read.size(), 3u);
  EXPECT_EQ(read[0].timestamp, truncated) << format_rfc3339(read[0].timestamp);
  EXPECT_EQ(read[1].timestamp, given) << format_rfc3339(read[1].timestamp);
  EXPECT_EQ(read[2].timestamp, future) << format_rfc3339(read[2].timestamp);
  EXPECT_EQ(format_rfc3339(read[0].timestamp), "2023-11-14T22:13:20.123Z");
}

TEST_P(StoreConformance, DefaultTimestampIsNow) {
  const StreamId stream = new_stream();
  const Timestamp before = now_ms();
  store().append(stream, ExpectedVersion::no_stream(), events(2));
  const Timestamp after = now_ms();
  const std::vector<RecordedEvent> read = store().read_all(stream);
  ASSERT_EQ(read.size(), 2u);
  for (const RecordedEvent& e : read) {
    EXPECT_GE(e.timestamp, before - 1s) << format_rfc3339(e.timestamp) << " vs " << format_rfc3339(before);
    EXPECT_LE(e.timestamp, after + 1s) << format_rfc3339(e.timestamp) << " vs " << format_rfc3339(after);
  }
}

TEST_P(StoreConformance, NonAsciiIdentifiersAndPayloadsRoundTrip) {
  const StreamId stream{context_ + "_Bestellwesen_日本語", "Auftrag_Ü_заказ_🚀", Uuid::random()};
  const std::string data = R"({"name":"Zoë 🍕","city":"Zürich","text":"こんにちは","escaped":"\u00e9\n\t\"q\""})";
  const std::string metadata = R"({"ключ":"значение","emoji":"👍🏽"})";
  std::vector<EventData> batch{event("Bestellt_✓_注文", data, metadata)};
  store().append(stream, ExpectedVersion::no_stream(), batch);
  EXPECT_EQ(store().head(stream), 1);
  const std::vector<RecordedEvent> read = store().read_all(stream);
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read[0].stream, stream);
  EXPECT_EQ(read[0].event_type, "Bestellt_✓_注文");
  EXPECT_EQ(read[0].data, std::optional<std::string>(data));
  EXPECT_EQ(read[0].metadata, std::optional<std::string>(metadata));
  // A stream differing only in Unicode normalization or case is another stream.
  EXPECT_EQ(store().head(StreamId{context_ + "_bestellwesen_日本語", stream.aggregate_type, stream.aggregate_id}), 0);
}

TEST_P(StoreConformance, IdentifiersAtTheByteLimitAreAccepted) {
  // 255 bytes, with multi-byte characters in them.
  std::string context = context_ + "_";
  while (context.size() + 2 <= 255) context += "é";
  while (context.size() < 255) context += "x";
  std::string type;
  while (type.size() + 3 <= 255) type += "€";
  while (type.size() < 255) type += "y";
  ASSERT_EQ(context.size(), 255u);
  ASSERT_EQ(type.size(), 255u);
  const StreamId stream{context, type, Uuid::random()};
  std::vector<EventData> batch{event(type)};
  store().append(stream, ExpectedVersion::no_stream(), batch);
  const std::vector<RecordedEvent> read = store().read_all(stream);
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read[0].stream, stream);
  EXPECT_EQ(read[0].event_type, type);
}

TEST_P(StoreConformance, EventAtTheByteLimitRoundTrips) {
  const StreamId stream = new_stream();
  const std::size_t limit = Limits{}.max_event_bytes;
  const std::string type = "Big";
  // event_type + data == the limit exactly; non-ASCII inside so bytes, not characters, count.
  std::string body = "ü";
  body += std::string(limit - type.size() - 2 - body.size(), 'x');
  const std::string data = "\"" + body + "\"";
  ASSERT_EQ(type.size() + data.size(), limit);
  store().append(stream, ExpectedVersion::no_stream(), {event(type, data)});
  const std::vector<RecordedEvent> read = store().read_all(stream);
  ASSERT_EQ(read.size(), 1u);
  ASSERT_TRUE(read[0].data.has_value());
  EXPECT_EQ(read[0].data->size(), data.size());
  EXPECT_TRUE(*read[0].data == data);
}

TEST_P(StoreConformance, ContextsAndTypesAreSeparateNamespaces) {
  const Uuid id = Uuid::random();
  const std::string other_context = random_context("conformance_other");
  const StreamId a{context_, "Order", id};
  const StreamId b{other_context, "Order", id};
  const StreamId c{context_, "Invoice", id};
  store().append(a, ExpectedVersion::no_stream(), events(3));
  EXPECT_EQ(store().head(b), 0);
  EXPECT_EQ(store().head(c), 0);
  // Each is a new stream: no-stream succeeds on all three.
  EXPECT_EQ(store().append(b, ExpectedVersion::no_stream(), events(1)).first_version, 1);
  EXPECT_EQ(store().append(c, ExpectedVersion::no_stream(), events(2)).first_version, 1);
  EXPECT_EQ(store().head(a), 3);
  EXPECT_EQ(store().head(b), 1);
  EXPECT_EQ(store().head(c), 2);
  for (const RecordedEvent& e : store().read_all(b)) EXPECT_EQ(e.stream, b);
  for (const RecordedEvent& e : store().read_all(c)) EXPECT_EQ(e.stream, c);
  EXPECT_EQ(store().read_all(a).size(), 3u);
  // Snapshots too.
  store().save_snapshot(a, Snapshot{3, R"({"s":"a"})", std::nullopt, now_ms()});
  EXPECT_EQ(store().load_snapshot(b), std::nullopt);
  EXPECT_EQ(store().load_snapshot(c), std::nullopt);
  ASSERT_TRUE(store().load_snapshot(a).has_value());
  // Context and type do not run into each other ("ab"+"c" vs "a"+"bc").
  const StreamId d{context_ + "ab", "c", id};
  const StreamId e{context_ + "a", "bc", id};
  store().append(d, ExpectedVersion::no_stream(), events(1));
  EXPECT_EQ(store().head(e), 0);
}

// ---------------------------------------------------------------------------------------------
// Invalid input: kInvalidArgument, nothing written.

class InvalidInput : public StoreTest {
 protected:
  // Appends `batch` to `stream` expecting kInvalidArgument; then checks nothing was written.
  void expect_rejected(const StreamId& stream, ExpectedVersion expected, std::vector<EventData> batch,
                       const std::string& what) {
    SCOPED_TRACE(what);
    const std::int64_t head_before = store().head(stream);
    const std::vector<Uuid> before = ids_of(store().read_all(stream));
    std::optional<Error> e = error_of([&] { store().append(stream, expected, batch); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), ErrorCode::kInvalidArgument) << e->what();
    EXPECT_EQ(store().head(stream), head_before);
    EXPECT_EQ(ids_of(store().read_all(stream)), before);
    // The asynchronous form delivers the same error to the callback.
    auto promise = std::make_shared<std::promise<std::optional<ErrorCode>>>();
    std::future<std::optional<ErrorCode>> async_code = promise->get_future();
    store().append_async(stream, expected, batch, [promise](Result<AppendResult> r) {
      promise->set_value(r.ok() ? std::nullopt : std::optional<ErrorCode>(r.error().code()));
    });
    ASSERT_EQ(async_code.wait_for(30s), std::future_status::ready) << "the callback never came";
    EXPECT_EQ(async_code.get(), std::optional<ErrorCode>(ErrorCode::kInvalidArgument));
    EXPECT_EQ(store().head(stream), head_before);
  }

  // A stream that cannot be named: every operation on it is kInvalidArgument.
  void expect_bad_stream(const StreamId& stream, const std::string& what) {
    SCOPED_TRACE(what);
    EXPECT_ES_ERROR(store().append(stream, ExpectedVersion::any(), events(1)), ErrorCode::kInvalidArgument);
    EXPECT_ES_ERROR(store().append(stream, ExpectedVersion::no_stream(), events(1)), ErrorCode::kInvalidArgument);
    EXPECT_ES_ERROR(store().head(stream), ErrorCode::kInvalidArgument);
    EXPECT_ES_ERROR(store().read_all(stream), ErrorCode::kInvalidArgument);
    EXPECT_ES_ERROR(store().load_snapshot(stream), ErrorCode::kInvalidArgument);
    EXPECT_ES_ERROR(store().save_snapshot(stream, Snapshot{1, "{}", std::nullopt, now_ms()}),
                    ErrorCode::kInvalidArgument);
  }
};

TEST_P(InvalidInput, BadStreamIdentifiersAreRejected) {
  const Uuid id = Uuid::random();
  expect_bad_stream(StreamId{"", "Order", id}, "empty context");
  expect_bad_stream(StreamId{context_, "", id}, "empty type");
  expect_bad_stream(StreamId{context_ + std::string(256, 'c'), "Order", id}, "context over 255 bytes");
  expect_bad_stream(StreamId{context_, std::string(256, 't'), id}, "type of 256 bytes");
  expect_bad_stream(StreamId{context_ + std::string(200, 'c') + std::string(30, 'e'), "Order", id},
                    "context over 255 bytes (2)");
  expect_bad_stream(StreamId{context_ + "\xff", "Order", id}, "context not UTF-8");
  expect_bad_stream(StreamId{context_ + "\xc3", "Order", id}, "context truncated UTF-8");
  expect_bad_stream(StreamId{context_, "Order\xc0\xaf", id}, "type with overlong UTF-8");
  expect_bad_stream(StreamId{context_, "Order\xed\xa0\x80", id}, "type with a surrogate");
  expect_bad_stream(StreamId{context_, "Order", Uuid{}}, "nil aggregate id");
}

TEST_P(InvalidInput, EmptyAppendIsRejected) {
  const StreamId stream = new_stream();
  expect_rejected(stream, ExpectedVersion::any(), {}, "empty append on a new stream");
  append_n(stream, 1);
  expect_rejected(stream, ExpectedVersion::exact(1), {}, "empty append on an existing stream");
}

TEST_P(InvalidInput, BadEventTypesAreRejected) {
  const StreamId stream = new_stream();
  append_n(stream, 2);
  expect_rejected(stream, ExpectedVersion::exact(2), {event("")}, "empty event type");
  expect_rejected(stream, ExpectedVersion::exact(2), {event(std::string(256, 'e'))}, "event type of 256 bytes");
  expect_rejected(stream, ExpectedVersion::exact(2), {event("Bad\xfe")}, "event type not UTF-8");
  expect_rejected(stream, ExpectedVersion::exact(2), {event("ok"), event("")},
                  "second event's type empty: the first is not written either");
}

TEST_P(InvalidInput, BadDataAndMetadataAreRejected) {
  const StreamId stream = new_stream();
  for (const std::string& bad : std::vector<std::string>{"", "{", "not json", "{\"a\":}", "[1,2", "{} {}", "'single'",
                                                         "NaN", "\xff", "\"\xff\"", "{\"k\":\"\xc3\"}"})
    expect_rejected(stream, ExpectedVersion::any(), {event("E", bad)}, "data '" + bad + "'");
  for (const std::string& not_object : std::vector<std::string>{"[1]", "1", "\"text\"", "null", "true", "[]"})
    expect_rejected(stream, ExpectedVersion::any(), {event("E", "{}", not_object)}, "metadata " + not_object);
  for (const std::string& bad : std::vector<std::string>{"", "{", "{\"a\":1", "nope"})
    expect_rejected(stream, ExpectedVersion::any(), {event("E", "{}", bad)}, "metadata '" + bad + "'");
  expect_rejected(stream, ExpectedVersion::any(), {event("E", "{}"), event("E", "{}", "[1]")},
                  "second event's metadata not an object");
  EXPECT_EQ(store().head(stream), 0);
}

TEST_P(InvalidInput, DuplicateAndNilEventIdsAreRejected) {
  const StreamId stream = new_stream();
  std::vector<EventData> batch = events(3);
  batch[2].event_id = batch[0].event_id;
  expect_rejected(stream, ExpectedVersion::no_stream(), batch, "duplicate event ids");
  std::vector<EventData> nil = events(2);
  nil[1].event_id = Uuid{};
  expect_rejected(stream, ExpectedVersion::no_stream(), nil, "nil event id");
}

TEST_P(InvalidInput, TooManyEventsAreRejected) {
  const StreamId stream = new_stream();
  const auto max = static_cast<int>(Limits{}.max_events_per_append);
  expect_rejected(stream, ExpectedVersion::no_stream(), events(max + 1), "one event over the limit");
  expect_rejected(stream, ExpectedVersion::any(), events(max + 1), "one event over the limit, any");
  // Exactly at the limit is fine.
  EXPECT_EQ(store().append(stream, ExpectedVersion::no_stream(), events(max)).next_expected_version, max);
}

TEST_P(InvalidInput, TooManyBytesAreRejected) {
  const StreamId stream = new_stream();
  const Limits limits;
  // Each event is under the per-event limit; together they are over the per-append limit.
  const std::size_t each = limits.max_event_bytes - 100;
  const std::size_t count = limits.max_append_bytes / each + 1;
  std::vector<EventData> batch;
  for (std::size_t i = 0; i < count; ++i) batch.push_back(event("E", "\"" + std::string(each - 3, 'a') + "\""));
  expect_rejected(stream, ExpectedVersion::no_stream(), batch, "append over the byte limit");
}

TEST_P(InvalidInput, EventOverTheByteLimitIsRejected) {
  const StreamId stream = new_stream();
  const std::size_t limit = Limits{}.max_event_bytes;
  const std::string type = "Big";
  const std::string data = "\"" + std::string(limit - type.size() - 2 + 1, 'x') + "\"";
  ASSERT_EQ(type.size() + data.size(), limit + 1);
  expect_rejected(stream, ExpectedVersion::no_stream(), {event(type, data)}, "data one byte over");
  // Metadata counts too.
  const std::string half = "\"" + std::string(limit / 2, 'x') + "\"";
  const std::string meta = R"({"m":")" + std::string(limit / 2, 'y') + "\"}";
  expect_rejected(stream, ExpectedVersion::no_stream(), {event(type, half, meta)}, "data + metadata over");
}

TEST_P(InvalidInput, NegativeExpectedVersionIsRejected) {
  const StreamId stream = new_stream();
  expect_rejected(stream, ExpectedVersion::exact(-2), events(1), "expected version -2");
  expect_rejected(stream, ExpectedVersion::exact(std::numeric_limits<std::int64_t>::min()), events(1),
                  "expected version INT64_MIN");
  append_n(stream, 1);
  expect_rejected(stream, ExpectedVersion::exact(-5), events(1), "expected version -5 on an existing stream");
}

// exact(-1) is a negative expected version like any other; it must not silently mean "any".
TEST_P(InvalidInput, ExactMinusOneIsNotAny) {
  EXPECT_FALSE(ExpectedVersion::exact(-1).is_any());
  const StreamId stream = new_stream();
  expect_rejected(stream, ExpectedVersion::exact(-1), events(1), "expected version -1");
}

TEST_P(InvalidInput, ExpectedVersionPastTheMaximumIsRejected) {
  const StreamId stream = new_stream();
  const std::int64_t max = Limits{}.max_version;
  expect_rejected(stream, ExpectedVersion::exact(max + 1), events(1), "expected version past the maximum");
  expect_rejected(stream, ExpectedVersion::exact(max), events(1), "append past the maximum version");
  expect_rejected(stream, ExpectedVersion::exact(max - 1), events(2), "append of 2 past the maximum version");
}

TEST_P(InvalidInput, BadReadOptionsFailTheFirstPage) {
  const StreamId stream = new_stream();
  append_n(stream, 3);
  ReadOptions zero_page = forward(std::nullopt, std::nullopt, 0);
  EXPECT_ES_ERROR(store().read(stream, zero_page)->next_page(), ErrorCode::kInvalidArgument);
  EXPECT_ES_ERROR(store().read_all(stream, zero_page), ErrorCode::kInvalidArgument);
  EXPECT_ES_ERROR(store().read_all(stream, backward(std::nullopt, std::nullopt, 0)), ErrorCode::kInvalidArgument);
  EXPECT_ES_ERROR(store().read_all(stream, forward(std::nullopt, std::nullopt, 100001)), ErrorCode::kInvalidArgument);
  EXPECT_ES_ERROR(store().read_all(stream, forward(0)), ErrorCode::kInvalidArgument);
  EXPECT_ES_ERROR(store().read_all(stream, backward(0)), ErrorCode::kInvalidArgument);
  EXPECT_ES_ERROR(store().read_all(stream, forward(-3)), ErrorCode::kInvalidArgument);
  // The bounds themselves are fine.
  EXPECT_EQ(store().read_all(stream, forward(1, std::nullopt, 1)).size(), 3u);
  EXPECT_EQ(store().read_all(stream, forward(1, std::nullopt, 100000)).size(), 3u);
}

TEST_P(InvalidInput, CustomLimitsAreEnforced) {
  StoreOptions options;
  options.limits.max_events_per_append = 3;
  options.limits.max_event_bytes = 100;
  options.limits.max_append_bytes = 150;
  options.limits.max_identifier_bytes = 10;
  options.limits.max_version = 5;
  std::shared_ptr<Store> limited = open_with(options);
  const StreamId stream{"ctx" + random_context("").substr(1, 7), "T", Uuid::random()};
  ASSERT_LE(stream.bounded_context.size(), 10u);
  auto code_of = [&](ExpectedVersion expected, std::vector<EventData> batch) -> std::optional<ErrorCode> {
    try {
      limited->append(stream, expected, std::move(batch));
      return std::nullopt;
    } catch (const Error& e) {
      return e.code();
    }
  };
  const std::optional<ErrorCode> invalid = ErrorCode::kInvalidArgument;
  EXPECT_EQ(code_of(ExpectedVersion::any(), events(4)), invalid) << "4 events, limit 3";
  EXPECT_EQ(code_of(ExpectedVersion::any(), {event("E", "\"" + std::string(98, 'x') + "\"")}), invalid)
      << "event of 1 + 100 bytes, limit 100";
  EXPECT_EQ(code_of(ExpectedVersion::any(),
                    {event("E", "\"" + std::string(80, 'x') + "\""), event("E", "\"" + std::string(80, 'x') + "\"")}),
            invalid)
      << "append of 2 * 83 bytes, limit 150";
  EXPECT_EQ(code_of(ExpectedVersion::any(), {event("Eleven_Long")}), invalid) << "event type of 11 bytes";
  EXPECT_EQ(limited->head(stream), 0);
  EXPECT_EQ(code_of(ExpectedVersion::any(), events(3)), std::nullopt);
  EXPECT_EQ(code_of(ExpectedVersion::exact(3), events(2)), std::nullopt);
  EXPECT_EQ(limited->head(stream), 5);
  // At the maximum version: no more events, with any expected version.
  EXPECT_EQ(code_of(ExpectedVersion::exact(5), events(1)), invalid);
  EXPECT_EQ(code_of(ExpectedVersion::any(), events(1)), invalid);
  EXPECT_EQ(limited->head(stream), 5);
  EXPECT_ES_ERROR(limited->head(StreamId{"context_11b", "T", Uuid::random()}), ErrorCode::kInvalidArgument);
}

TEST_P(InvalidInput, BadSnapshotsAreRejectedAndNothingIsStored) {
  const StreamId stream = new_stream();
  append_n(stream, 1);  // so that version 1 is refused for the reason under test only
  auto expect_invalid = [&](Snapshot snapshot, const std::string& what) {
    SCOPED_TRACE(what);
    EXPECT_ES_ERROR(store().save_snapshot(stream, std::move(snapshot)), ErrorCode::kInvalidArgument);
    EXPECT_EQ(store().load_snapshot(stream), std::nullopt);
  };
  expect_invalid(Snapshot{0, "{}", std::nullopt, now_ms()}, "version 0");
  expect_invalid(Snapshot{-1, "{}", std::nullopt, now_ms()}, "version -1");
  expect_invalid(Snapshot{Limits{}.max_version + 1, "{}", std::nullopt, now_ms()}, "version past the maximum");
  expect_invalid(Snapshot{1, "", std::nullopt, now_ms()}, "empty data");
  expect_invalid(Snapshot{1, "{oops", std::nullopt, now_ms()}, "data not JSON");
  expect_invalid(Snapshot{1, "{}", "[1]", now_ms()}, "metadata not an object");
  expect_invalid(Snapshot{1, "{}", "{", now_ms()}, "metadata not JSON");
  expect_invalid(Snapshot{1, "\"" + std::string(Limits{}.max_event_bytes, 's') + "\"", std::nullopt, now_ms()},
                 "data over the byte limit");
}

// ---------------------------------------------------------------------------------------------
// Snapshots.

TEST_P(StoreConformance, SnapshotsLatestWinsAndNeverGoBackwards) {
  const StreamId stream = new_stream();
  EXPECT_EQ(store().load_snapshot(stream), std::nullopt);
  append_n(stream, 11);

  const Timestamp t5(std::chrono::milliseconds(1'700'000'000'555));
  SnapshotSaveResult saved = store().save_snapshot(stream, Snapshot{5, R"({"v":5})", R"({"by":"test"})", t5});
  EXPECT_TRUE(saved.stored);
  EXPECT_EQ(saved.latest_version, 5);
  std::optional<Snapshot> loaded = store().load_snapshot(stream);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->version, 5);
  EXPECT_EQ(loaded->data, R"({"v":5})");
  EXPECT_EQ(loaded->metadata, std::optional<std::string>(R"({"by":"test"})"));
  EXPECT_EQ(loaded->timestamp, t5);

  saved = store().save_snapshot(stream, Snapshot{10, R"({"v":10})", std::nullopt, now_ms()});
  EXPECT_TRUE(saved.stored);
  EXPECT_EQ(saved.latest_version, 10);
  loaded = store().load_snapshot(stream);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->version, 10);
  EXPECT_EQ(loaded->data, R"({"v":10})");
  EXPECT_EQ(loaded->metadata, std::nullopt);

  // An older snapshot arriving late is not stored.
  saved = store().save_snapshot(stream, Snapshot{7, R"({"v":7})", std::nullopt, now_ms()});
  EXPECT_FALSE(saved.stored);
  EXPECT_EQ(saved.latest_version, 10);
  // Nor is another one at the same version.
  saved = store().save_snapshot(stream, Snapshot{10, R"({"v":"other"})", std::nullopt, now_ms()});
  EXPECT_FALSE(saved.stored);
  EXPECT_EQ(saved.latest_version, 10);
  loaded = store().load_snapshot(stream);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->version, 10);
  EXPECT_EQ(loaded->data, R"({"v":10})");

  saved = store().save_snapshot(stream, Snapshot{11, R"({"v":11})", std::nullopt, now_ms()});
  EXPECT_TRUE(saved.stored);
  EXPECT_EQ(store().load_snapshot(stream)->version, 11);
}

TEST_P(StoreConformance, SnapshotsUnderConcurrentWritersEndAtTheHighestVersion) {
  const StreamId stream = new_stream();
  constexpr int kThreads = 8;
  constexpr int kPerThread = 10;
  append_n(stream, kThreads * kPerThread);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int version = 1 + ((i * kThreads + t) * 37) % (kThreads * kPerThread);
        try {
          const SnapshotSaveResult r = store().save_snapshot(
              stream, Snapshot{version, "{\"v\":" + std::to_string(version) + "}", std::nullopt, now_ms()});
          if (r.latest_version < version) ++failures;
        } catch (const Error&) {
          ++failures;
        }
      }
    });
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  const std::optional<Snapshot> loaded = store().load_snapshot(stream);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->version, kThreads * kPerThread);
  EXPECT_EQ(loaded->data, "{\"v\":" + std::to_string(kThreads * kPerThread) + "}");
}

TEST_P(StoreConformance, NonAsciiSnapshotRoundTrips) {
  const StreamId stream{context_ + "_Kontext_ü", "Typ_ß", Uuid::random()};
  const std::string data = R"({"name":"Ünïcödé 😀","list":["ä","ö"]})";
  append_n(stream, 3);
  store().save_snapshot(stream, Snapshot{3, data, R"({"ключ":"✓"})", now_ms()});
  const std::optional<Snapshot> loaded = store().load_snapshot(stream);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->data, data);
  EXPECT_EQ(loaded->metadata, std::optional<std::string>(R"({"ключ":"✓"})"));
}

// ---------------------------------------------------------------------------------------------
// The asynchronous API.

TEST_P(StoreConformance, ManyAsyncAppendsInFlightFromOneThreadCompleteExactlyOnce) {
  constexpr int kStreams = 20;
  constexpr int kAppends = 200;
  std::vector<StreamId> streams;
  for (int s = 0; s < kStreams; ++s) streams.push_back(new_stream());

  struct Shared {
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<int> calls = std::vector<int>(kAppends, 0);
    std::vector<std::optional<AppendResult>> results = std::vector<std::optional<AppendResult>>(kAppends);
    std::vector<std::string> errors;
    int done = 0;
  };
  auto shared = std::make_shared<Shared>();
  std::vector<Uuid> ids;
  for (int i = 0; i < kAppends; ++i) {
    std::vector<EventData> batch = events(1, i);
    ids.push_back(*batch[0].event_id);
    store().append_async(streams[i % kStreams], ExpectedVersion::any(), std::move(batch),
                         [shared, i](Result<AppendResult> r) {
                           std::lock_guard lock(shared->mutex);
                           ++shared->calls[i];
                           if (r.ok()) shared->results[i] = r.value();
                           else shared->errors.push_back("append " + std::to_string(i) + ": " + r.error().what());
                           ++shared->done;
                           shared->cv.notify_all();
                         });
  }
  {
    std::unique_lock lock(shared->mutex);
    ASSERT_TRUE(shared->cv.wait_for(lock, 120s, [&] { return shared->done >= kAppends; }))
        << "only " << shared->done << " of " << kAppends << " callbacks arrived";
  }
  std::this_thread::sleep_for(50ms);  // a second call of any callback would show up now
  std::lock_guard lock(shared->mutex);
  EXPECT_EQ(shared->done, kAppends);
  for (int i = 0; i < kAppends; ++i) EXPECT_EQ(shared->calls[i], 1) << "callback of append " << i;
  EXPECT_TRUE(shared->errors.empty()) << shared->errors.front();

  for (int s = 0; s < kStreams; ++s) {
    EXPECT_EQ(store().head(streams[s]), kAppends / kStreams);
    const std::vector<RecordedEvent> read = store().read_all(streams[s]);
    EXPECT_EQ(versions_of(read), range(1, kAppends / kStreams));
    std::map<Uuid, std::int64_t> version_of;
    for (const RecordedEvent& e : read) version_of[e.event_id] = e.version;
    for (int i = s; i < kAppends; i += kStreams) {
      ASSERT_TRUE(shared->results[i]) << "append " << i;
      const AppendResult& r = *shared->results[i];
      ASSERT_EQ(r.event_ids.size(), 1u);
      EXPECT_EQ(r.event_ids[0], ids[i]);
      EXPECT_EQ(r.first_version, r.next_expected_version);
      auto it = version_of.find(ids[i]);
      ASSERT_NE(it, version_of.end()) << "append " << i << " is not in its stream";
      EXPECT_EQ(it->second, r.first_version) << "append " << i;
    }
  }
}

TEST_P(StoreConformance, AsyncReadsHeadsAndSnapshotsDeliverResults) {
  const StreamId stream = new_stream();
  append_n(stream, 5);
  std::promise<Result<std::int64_t>> head;
  store().head_async(stream, [&](Result<std::int64_t> r) { head.set_value(std::move(r)); });
  EXPECT_EQ(head.get_future().get().get(), 5);

  std::unique_ptr<EventCursor> cursor = store().read(stream, forward(std::nullopt, std::nullopt, 3));
  std::promise<Result<std::vector<RecordedEvent>>> page;
  cursor->next_page_async([&](Result<std::vector<RecordedEvent>> r) { page.set_value(std::move(r)); });
  EXPECT_EQ(versions_of(page.get_future().get().get()), range(1, 3));

  std::promise<Result<SnapshotSaveResult>> saved;
  store().save_snapshot_async(stream, Snapshot{5, "{}", std::nullopt, now_ms()},
                              [&](Result<SnapshotSaveResult> r) { saved.set_value(std::move(r)); });
  EXPECT_TRUE(saved.get_future().get().get().stored);
  std::promise<Result<std::optional<Snapshot>>> loaded;
  store().load_snapshot_async(stream, [&](Result<std::optional<Snapshot>> r) { loaded.set_value(std::move(r)); });
  std::optional<Snapshot> snapshot = loaded.get_future().get().get();
  ASSERT_TRUE(snapshot);
  EXPECT_EQ(snapshot->version, 5);

  std::promise<Result<AppendResult>> conflict;
  store().append_async(stream, ExpectedVersion::exact(2), events(1),
                       [&](Result<AppendResult> r) { conflict.set_value(std::move(r)); });
  Result<AppendResult> r = conflict.get_future().get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kVersionConflict);
  EXPECT_EQ(r.error().current_version(), std::optional<std::int64_t>(5));
}

// ---------------------------------------------------------------------------------------------
// The race.

// 16 threads each make a fixed number of attempts: read the head, append 1-3 events expecting
// it. With `lockstep`, every round all threads read the head before any of them appends.
void race_on_one_stream(StoreTest& test, Store& store, const StreamId& stream, bool lockstep) {
  constexpr int kThreads = 16;
  const int attempts_per_thread = test.GetParam().shared ? 8 : 25;
  const int total_attempts = kThreads * attempts_per_thread;

  struct Ack {
    AppendResult result;
    std::vector<Uuid> ids;
  };
  std::mutex mutex;
  std::vector<Ack> acks;
  std::vector<std::string> violations;
  std::atomic<int> conflicts{0};
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::barrier round_barrier(kThreads);

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      ++ready;
      while (!go.load()) std::this_thread::yield();
      for (int a = 0; a < attempts_per_thread; ++a) {
        const int n = 1 + (t + a) % 3;  // appends of 1, 2 or 3 events
        std::vector<EventData> batch = StoreTest::events(n, t * 1000 + a * 10);
        const std::vector<Uuid> ids = ids_of(batch);
        std::int64_t head = -1;
        try {
          head = store.head(stream);
        } catch (const Error& e) {
          std::lock_guard lock(mutex);
          violations.push_back(std::string("head failed: ") + e.what());
        }
        // Every thread has read the head before any appends in this round: the appends collide.
        if (lockstep) round_barrier.arrive_and_wait();
        if (head < 0) continue;
        try {
          AppendResult r = store.append(stream, ExpectedVersion::exact(head), std::move(batch));
          std::lock_guard lock(mutex);
          acks.push_back(Ack{std::move(r), ids});
        } catch (const Error& e) {
          std::lock_guard lock(mutex);
          if (e.code() == ErrorCode::kVersionConflict) {
            ++conflicts;
            // The stream only grows, and it was not at `head`: it is past it now.
            if (!e.current_version() || *e.current_version() <= head)
              violations.push_back("conflict at expected " + std::to_string(head) + " reported current version " +
                                   (e.current_version() ? std::to_string(*e.current_version()) : "none"));
          } else {
            violations.push_back(std::string("unexpected ") + std::string(to_string(e.code())) + ": " + e.what());
          }
        }
      }
    });
  while (ready.load() < kThreads) std::this_thread::yield();
  go = true;
  for (std::thread& t : threads) t.join();

  EXPECT_TRUE(violations.empty()) << violations.size() << " violations, first: " << violations.front();
  EXPECT_EQ(static_cast<int>(acks.size()) + conflicts.load(), total_attempts)
      << acks.size() << " acknowledged, " << conflicts.load() << " conflicts";
  EXPECT_GE(acks.size(), 1u);
  // In lockstep, in the first round all threads read head 0 before anyone appended: one wins.
  if (lockstep) {
    EXPECT_GE(conflicts.load(), kThreads - 1);
  }
  std::printf("[ race     ] %s%s: %zu acknowledged, %d conflicts of %d attempts\n", test.GetParam().name.c_str(),
              lockstep ? " (lockstep)" : "", acks.size(), conflicts.load(), total_attempts);

  std::int64_t acknowledged_events = 0;
  for (const Ack& ack : acks) acknowledged_events += static_cast<std::int64_t>(ack.ids.size());
  const std::vector<RecordedEvent> read = store.read_all(stream, StoreTest::forward(std::nullopt, std::nullopt, 97));
  const std::int64_t head = store.head(stream);
  // Every version exists exactly once, 1..head, and holds exactly the acknowledged events.
  EXPECT_EQ(versions_of(read), range(1, head));
  EXPECT_EQ(head, acknowledged_events);
  std::set<Uuid> unique_ids;
  for (const RecordedEvent& e : read) unique_ids.insert(e.event_id);
  EXPECT_EQ(unique_ids.size(), read.size()) << "an event id appears twice";
  // Every acknowledged append is readable at its acknowledged versions with its ids.
  for (const Ack& ack : acks) {
    EXPECT_EQ(ack.result.event_ids, ack.ids);
    EXPECT_EQ(ack.result.next_expected_version - ack.result.first_version + 1,
              static_cast<std::int64_t>(ack.ids.size()));
    for (std::size_t i = 0; i < ack.ids.size(); ++i) {
      const std::int64_t version = ack.result.first_version + static_cast<std::int64_t>(i);
      ASSERT_GE(version, 1);
      ASSERT_LE(version, static_cast<std::int64_t>(read.size()));
      EXPECT_EQ(read[static_cast<std::size_t>(version - 1)].event_id, ack.ids[i]) << "version " << version;
    }
  }
}

TEST_P(StoreConformance, SixteenThreadsRacingOnOneStream) {
  race_on_one_stream(*this, store(), new_stream(), /*lockstep=*/true);
}

TEST_P(StoreConformance, SixteenThreadsFreeRunningOnOneStream) {
  race_on_one_stream(*this, store(), new_stream(), /*lockstep=*/false);
}

TEST_P(StoreConformance, ConcurrentAnyAppendsFromManyThreadsAllLand) {
  const StreamId stream = new_stream();
  constexpr int kThreads = 8;
  const int per_thread = GetParam().shared ? 5 : 25;
  std::mutex mutex;
  std::vector<std::pair<AppendResult, std::vector<Uuid>>> acks;
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        std::vector<EventData> batch = events(1 + (t + i) % 2);
        const std::vector<Uuid> ids = ids_of(batch);
        try {
          AppendResult r = store().append(stream, ExpectedVersion::any(), std::move(batch));
          std::lock_guard lock(mutex);
          acks.emplace_back(std::move(r), ids);
        } catch (const Error&) {
          ++errors;
        }
      }
    });
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  ASSERT_EQ(static_cast<int>(acks.size()), kThreads * per_thread);
  const std::vector<RecordedEvent> read = store().read_all(stream);
  std::int64_t total = 0;
  for (const auto& [result, ids] : acks) {
    total += static_cast<std::int64_t>(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const auto version = static_cast<std::size_t>(result.first_version) + i;
      ASSERT_LE(version, read.size());
      EXPECT_EQ(read[version - 1].event_id, ids[i]);
    }
  }
  EXPECT_EQ(versions_of(read), range(1, total));
}

TEST_P(StoreConformance, DescribeNamesTheStoreWithoutPasswords) {
  const std::string description = store().describe();
  EXPECT_FALSE(description.empty());
  if (const char* password = std::getenv("SCYLLA_PASSWORD"); password && *password && GetParam().name == "scylla") {
    EXPECT_EQ(description.find(password), std::string::npos) << "describe() shows the password";
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreConformance, ::testing::ValuesIn(all_store_factories()), factory_name);
INSTANTIATE_TEST_SUITE_P(Backends, InvalidInput, ::testing::ValuesIn(all_store_factories()), factory_name);

}  // namespace
}  // namespace eventstore::testing

// Issue 10 item 8: a page is bounded by bytes (ReadOptions::page_bytes) as well as by events.
// A page's event type + data + metadata stay within the budget, except a page of one event
// larger than it; the pages together are the read, in order, nothing skipped or repeated.
#include <numeric>
#include <string>
#include <vector>

#include "store_conformance.h"

namespace eventstore::testing {
namespace {

constexpr std::size_t kMiB = 1024 * 1024;

std::size_t bytes_of(const RecordedEvent& e) {
  return e.event_type.size() + (e.data ? e.data->size() : 0) + (e.metadata ? e.metadata->size() : 0);
}

// An event of exactly `bytes` bytes: type "E" and a JSON string as data.
EventData event_of_size(std::size_t bytes) {
  return EventData{Uuid::random(), "E", "\"" + std::string(bytes - 3, 'x') + "\"", std::nullopt, std::nullopt};
}

class ReadBudget : public StoreTest {
 protected:
  // Reads page by page; checks every page against the budget and returns the versions seen.
  std::vector<std::int64_t> read_checked(const StreamId& stream, const ReadOptions& options) {
    std::vector<std::int64_t> versions;
    std::unique_ptr<EventCursor> cursor = store().read(stream, options);
    for (std::vector<RecordedEvent> page = cursor->next_page(); !page.empty(); page = cursor->next_page()) {
      EXPECT_LE(page.size(), options.page_size);
      const std::size_t bytes =
          std::accumulate(page.begin(), page.end(), std::size_t{0},
                          [](std::size_t sum, const RecordedEvent& e) { return sum + bytes_of(e); });
      EXPECT_TRUE(bytes <= options.page_bytes || page.size() == 1)
          << page.size() << " events of " << bytes << " bytes in a page of at most " << options.page_bytes;
      for (const RecordedEvent& e : page) versions.push_back(e.version);
      if (versions.size() > 10000) break;  // a cursor that never ends
    }
    return versions;
  }
};

// Sizes around a 600-byte budget: small ones that share pages, one exactly at it, and two
// above it that must come alone.
const std::vector<std::size_t> kSizes{100, 250, 400, 600, 50, 1000, 50, 50, 300, 299, 301, 2000, 10, 590, 11, 200};

StreamId append_sizes(StoreTest& test, const std::vector<std::size_t>& sizes) {
  const StreamId stream = test.new_stream();
  std::vector<EventData> batch;
  for (std::size_t size : sizes) batch.push_back(event_of_size(size));
  test.store().append(stream, ExpectedVersion::no_stream(), std::move(batch));
  return stream;
}

TEST_P(ReadBudget, ForwardPagesStayWithinTheByteBudget) {
  const StreamId stream = append_sizes(*this, kSizes);
  const auto last = static_cast<std::int64_t>(kSizes.size());
  ReadOptions options = forward();
  options.page_bytes = 600;
  EXPECT_EQ(read_checked(stream, options), range(1, last));
  options.page_size = 2;
  EXPECT_EQ(read_checked(stream, options), range(1, last));
  options = forward(3, 9);
  options.page_bytes = 600;
  EXPECT_EQ(read_checked(stream, options), range(3, 11));
  options.page_bytes = 1;  // every page is one event
  EXPECT_EQ(read_checked(stream, options), range(3, 11));
}

TEST_P(ReadBudget, BackwardPagesStayWithinTheByteBudget) {
  const StreamId stream = append_sizes(*this, kSizes);
  const auto last = static_cast<std::int64_t>(kSizes.size());
  ReadOptions options = backward();
  options.page_bytes = 600;
  EXPECT_EQ(read_checked(stream, options), range(last, 1));
  options.page_size = 3;
  EXPECT_EQ(read_checked(stream, options), range(last, 1));
  options = backward(14, 10);
  options.page_bytes = 700;
  EXPECT_EQ(read_checked(stream, options), range(14, 5));
}

TEST_P(ReadBudget, AnEventLargerThanTheBudgetComesAlone) {
  const StreamId stream = append_sizes(*this, {100, 5000, 100});
  for (ReadOptions options : {forward(), backward()}) {
    options.page_bytes = 1000;
    std::unique_ptr<EventCursor> cursor = store().read(stream, options);
    std::vector<std::size_t> page_lengths;
    for (std::vector<RecordedEvent> page = cursor->next_page(); !page.empty(); page = cursor->next_page()) {
      page_lengths.push_back(page.size());
    }
    EXPECT_EQ(page_lengths, (std::vector<std::size_t>{1, 1, 1}));
  }
}

// The default page (1000 events) of events of the maximum size (1 MiB) holds at most the
// default 4 MiB, not 1 GB.
TEST_P(ReadBudget, TheDefaultPageOfLargeEventsIsBoundedByTheDefaultBudget) {
  EXPECT_EQ(ReadOptions{}.page_size, 1000u);
  EXPECT_EQ(ReadOptions{}.page_bytes, 4 * kMiB);
  const StreamId stream = new_stream();
  for (int i = 0; i < 3; ++i) {
    std::vector<EventData> batch{event_of_size(kMiB), event_of_size(kMiB), event_of_size(kMiB)};
    store().append(stream, ExpectedVersion::any(), std::move(batch));
  }
  const std::vector<std::int64_t> versions = read_checked(stream, ReadOptions{});
  EXPECT_EQ(versions, range(1, 9));
  std::unique_ptr<EventCursor> cursor = store().read(stream, ReadOptions{});
  EXPECT_LE(cursor->next_page().size(), 4u);
}

TEST_P(ReadBudget, AZeroBudgetIsInvalid) {
  const StreamId stream = append_sizes(*this, {100});
  ReadOptions options;
  options.page_bytes = 0;
  EXPECT_ES_ERROR(store().read(stream, options)->next_page(), ErrorCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Backends, ReadBudget, ::testing::ValuesIn(all_store_factories()), factory_name);

}  // namespace
}  // namespace eventstore::testing

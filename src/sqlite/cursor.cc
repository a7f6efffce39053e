// Paging through one stream on pooled read connections (cursor.h).
#include "sqlite/cursor.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "sqlite/reads.h"

namespace eventstore::detail {

SqliteCursor::SqliteCursor(std::shared_ptr<ReaderPool> pool, StreamId stream, ReadOptions options)
    : pool_(std::move(pool)),
      stream_(std::move(stream)),
      options_(options),
      aggregate_id_(stream_.aggregate_id.to_string()) {
  remaining_ = options_.limit.value_or(UINT64_MAX);
  const bool forward = options_.direction == Direction::kForward;
  next_ = options_.from.value_or(forward ? 1 : INT64_MAX);
}

void SqliteCursor::next_page_async(PageCallback callback) {
  std::optional<Result<std::vector<RecordedEvent>>> result;
  try {
    result.emplace(fetch());
  } catch (const Error& e) {
    done_ = true;
    result.emplace(e);
  }
  callback(std::move(*result));
}

std::vector<RecordedEvent> SqliteCursor::fetch() {
  std::vector<RecordedEvent> page;
  const bool forward = options_.direction == Direction::kForward;
  if (done_ || remaining_ == 0 || next_ < 1) {
    done_ = true;
    return page;
  }
  const std::uint64_t want = std::min<std::uint64_t>(options_.page_size, remaining_);
  bool budget_reached = false;
  {
    ReaderPool::Lease lease = pool_->lease();
    Bound q(*lease, forward ? kReadForward : kReadBackward);
    q.stream(stream_, aggregate_id_);
    q.integer(4, next_);
    q.integer(5, static_cast<std::int64_t>(want));
    std::size_t bytes = 0;
    while (q.step("read")) {
      // The row is measured before it is decoded: the page ends before the event that would
      // take it past the budget, and the next page resumes at that event.
      sqlite3_stmt* row = q.get();
      bytes += static_cast<std::size_t>(sqlite3_column_bytes(row, 2)) +
               static_cast<std::size_t>(sqlite3_column_bytes(row, 3)) +
               static_cast<std::size_t>(sqlite3_column_bytes(row, 5));
      if (!page.empty() && bytes > options_.page_bytes) {
        budget_reached = true;
        break;
      }
      RecordedEvent event = decode_event(pool_->options(), stream_, q.get());
      // Versions are contiguous: a hole or a repeat is a damaged file, not a short read. A
      // forward page starts at the stream's lifecycle "before" when next_ is below it (column 8,
      // read in the same snapshot: the events below it are deleted, docs/lifecycle.md).
      if (!page.empty() || forward || continued_) {
        const std::int64_t before = sqlite3_column_type(row, 8) == SQLITE_INTEGER ? sqlite3_column_int64(row, 8) : 1;
        const std::int64_t first = forward ? std::max(next_, before) : next_;
        const std::int64_t expected = page.empty() ? first : page.back().version + (forward ? 1 : -1);
        if (event.version != expected)
          throw corrupt_row(
              pool_->options(), stream_,
              "is missing version " + std::to_string(expected) + " (found " + std::to_string(event.version) + ")");
      }
      page.push_back(std::move(event));
    }
  }
  if (page.size() < want && !budget_reached) done_ = true;
  if (!page.empty()) {
    next_ = page.back().version + (forward ? 1 : -1);
    continued_ = true;  // from now on a page must start exactly at next_, backward too
  }
  remaining_ -= page.size();
  return page;
}

}  // namespace eventstore::detail

// A read of one stream on the cluster: see scylla_cursor.h.
#include "scylla/scylla_cursor.h"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "core/thread_annotations.h"
#include "core/validation.h"
#include "scylla/completions.h"
#include "scylla/rows.h"

namespace eventstore::detail {
namespace {

// Pages keep to ReadOptions::page_bytes exactly: rows fetched beyond a page wait in a buffer for
// the next one. The rows fetched per round trip are sized from the largest event seen so far in
// the read (before any, events of kAssumedEventBytes), growing at most kFetchGrowth-fold from one
// fetch to the next, so the server materialises about a page's budget per round trip unless the
// events grow suddenly within a read.
//
// One fetch runs ahead of the caller: when a fetch lands and the buffer holds less than a page,
// the next one starts at once, so the round trip overlaps the caller's work on the page it was
// given (as gocql's default prefetch does). A cursor destroyed mid-read starts no further fetch.
class ScyllaCursor final : public EventCursor {
 public:
  static constexpr std::size_t kAssumedEventBytes = 64 * 1024;
  static constexpr std::uint64_t kFetchGrowth = 8;

  // `options` passed validate_read.
  ScyllaCursor(std::shared_ptr<Connection> connection, StreamId stream, const ReadOptions& options)
      : state_(std::make_shared<State>(std::move(connection), std::move(stream), options)) {}

  ~ScyllaCursor() override {
    MutexLock lock(state_->mutex);
    state_->abandoned = true;
  }

  ScyllaCursor(const ScyllaCursor&) = delete;
  ScyllaCursor& operator=(const ScyllaCursor&) = delete;

  void next_page_async(PageCallback callback) override {
    std::optional<Result<std::vector<RecordedEvent>>> answer;
    std::optional<std::uint64_t> fetch_rows;
    {
      MutexLock lock(state_->mutex);
      answer = state_->answer();
      if (!answer) state_->waiting = std::move(callback);
      fetch_rows = state_->start_fetch();
    }
    if (fetch_rows) fetch(state_, *fetch_rows);
    if (answer) callback(std::move(*answer));
  }

 private:
  struct State {
    State(std::shared_ptr<Connection> connection_in, StreamId stream_in, const ReadOptions& options)
        : connection(std::move(connection_in)),
          stream(std::move(stream_in)),
          page_size(options.page_size),
          page_bytes(options.page_bytes),
          remaining(options.limit.value_or(std::numeric_limits<std::uint64_t>::max())) {
      const bool forward = options.direction == Direction::kForward;
      const auto clamp = [](std::int64_t v) {
        return static_cast<std::int32_t>(std::min<std::int64_t>(v, std::numeric_limits<std::int32_t>::max()));
      };
      const std::int32_t from = forward ? clamp(options.from.value_or(1)) : 1;
      const std::int32_t to = forward ? std::numeric_limits<std::int32_t>::max()
                                      : clamp(options.from.value_or(std::numeric_limits<std::int32_t>::max()));
      cursor.emplace(
          connection->session->open_read(key_of(stream), from, to, !forward, static_cast<std::int32_t>(page_size)));
    }

    const std::shared_ptr<Connection> connection;
    const StreamId stream;
    const std::uint32_t page_size;
    const std::size_t page_bytes;
    // Used by the one fetch in flight only.
    std::optional<rust::Box<bridge::ReadCursor>> cursor;

    Mutex mutex;
    std::uint64_t remaining GUARDED_BY(mutex);            // events still to fetch (the read's limit)
    bool done GUARDED_BY(mutex) = false;                  // nothing more to fetch
    bool fetching GUARDED_BY(mutex) = false;              // a fetch is in flight
    bool abandoned GUARDED_BY(mutex) = false;             // the cursor is gone
    std::deque<RecordedEvent> fetched GUARDED_BY(mutex);  // fetched, not yet delivered
    std::optional<Error> error GUARDED_BY(mutex);         // delivered once the buffer is empty
    PageCallback waiting GUARDED_BY(mutex);               // a request the buffer could not answer yet
    std::size_t largest_event_bytes GUARDED_BY(mutex) = 0;
    std::uint64_t last_fetch_rows GUARDED_BY(mutex) = 0;

    // The next page if one can be given now: buffered events, then a pending error, then the
    // empty page at the end.
    std::optional<Result<std::vector<RecordedEvent>>> answer() REQUIRES(mutex) {
      if (!fetched.empty()) return Result<std::vector<RecordedEvent>>(take_page());
      if (error) {
        Error e = std::move(*error);
        error.reset();
        return Result<std::vector<RecordedEvent>>(std::move(e));
      }
      if (!fetching && (done || remaining == 0))
        return Result<std::vector<RecordedEvent>>(std::vector<RecordedEvent>{});
      return std::nullopt;
    }

    // Marks a fetch as started and returns its row count when one should start: the read has
    // more, none is in flight, and the buffer holds less than a page.
    std::optional<std::uint64_t> start_fetch() REQUIRES(mutex) {
      if (fetching || done || error || remaining == 0 || abandoned || fetched.size() >= page_size) return std::nullopt;
      const std::size_t event_bytes = largest_event_bytes > 0 ? largest_event_bytes : kAssumedEventBytes;
      std::uint64_t rows = std::max<std::uint64_t>(1, page_bytes / event_bytes);
      if (last_fetch_rows > 0) rows = std::min(rows, last_fetch_rows * kFetchGrowth);
      rows = std::min<std::uint64_t>({rows, page_size, remaining});
      last_fetch_rows = rows;
      fetching = true;
      return rows;
    }

    // A page of the fetched events: at least one, then as many as fit both bounds.
    std::vector<RecordedEvent> take_page() REQUIRES(mutex) {
      std::vector<RecordedEvent> page;
      std::size_t bytes = 0;
      while (!fetched.empty() && page.size() < page_size) {
        const std::size_t next = bytes_of(fetched.front());
        if (!page.empty() && bytes + next > page_bytes) break;
        bytes += next;
        page.push_back(std::move(fetched.front()));
        fetched.pop_front();
      }
      return page;
    }
  };

  static std::size_t bytes_of(const RecordedEvent& e) { return event_bytes(e.event_type, e.data, e.metadata); }

  // Sends one fetch of `rows`; its answer fills the buffer, answers a waiting request and starts
  // the next fetch.
  static void fetch(const std::shared_ptr<State>& state, std::uint64_t rows) {
    (*state->cursor)
        ->next_page(
            static_cast<std::int32_t>(rows),
            done<PageDone>([state](rust::Vec<bridge::EventRow> page, bool more) { converted(state, page, more); },
                           [state](const bridge::BridgeError& e) {
                             landed(state, {}, false, to_error(e, "read of " + to_string(state->stream)));
                           }));
  }

  // The fetched rows as events; a row that is not an event drops the whole fetch for its error.
  static void converted(const std::shared_ptr<State>& state, const rust::Vec<bridge::EventRow>& rows, bool more) {
    std::vector<RecordedEvent> events;
    events.reserve(rows.size());
    try {
      for (const bridge::EventRow& row : rows) events.push_back(decode_row(state->stream, row));
    } catch (const Error& e) {
      return landed(state, {}, false, e);
    }
    landed(state, std::move(events), more, std::nullopt);
  }

  static void landed(const std::shared_ptr<State>& state, std::vector<RecordedEvent> events, bool more,
                     std::optional<Error> error) {
    PageCallback waiting;
    std::optional<Result<std::vector<RecordedEvent>>> answer;
    std::optional<std::uint64_t> next_rows;
    {
      MutexLock lock(state->mutex);
      state->fetching = false;
      if (error) {
        state->error = std::move(error);
        state->done = true;
      } else {
        for (RecordedEvent& event : events) {
          if (state->remaining == 0) break;
          state->largest_event_bytes = std::max(state->largest_event_bytes, bytes_of(event));
          state->fetched.push_back(std::move(event));
          --state->remaining;
        }
        if (!more) state->done = true;
      }
      if (state->waiting) {
        answer = state->answer();
        if (answer) waiting = std::exchange(state->waiting, nullptr);
      }
      next_rows = state->start_fetch();
    }
    if (next_rows) fetch(state, *next_rows);
    if (answer) waiting(std::move(*answer));
  }

  std::shared_ptr<State> state_;
};

}  // namespace

std::unique_ptr<EventCursor> read_scylla_stream(std::shared_ptr<Connection> connection, const StreamId& stream,
                                                const ReadOptions& options) {
  if (auto error = validation_error([&] { validate_read(stream, options, connection->limits); }))
    return failed_cursor(std::move(*error));
  return std::make_unique<ScyllaCursor>(std::move(connection), stream, options);
}

}  // namespace eventstore::detail

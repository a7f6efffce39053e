// A read of one stream on the cluster: see scylla_cursor.h.
#include "scylla/scylla_cursor.h"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

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
class ScyllaCursor final : public EventCursor {
 public:
  static constexpr std::size_t kAssumedEventBytes = 64 * 1024;
  static constexpr std::uint64_t kFetchGrowth = 8;

  // `options` passed validate_read.
  ScyllaCursor(std::shared_ptr<Connection> connection, StreamId stream, const ReadOptions& options)
      : state_(std::make_shared<State>()) {
    state_->connection = std::move(connection);
    state_->stream = std::move(stream);
    state_->remaining = options.limit.value_or(std::numeric_limits<std::uint64_t>::max());
    state_->page_size = options.page_size;
    state_->page_bytes = options.page_bytes;
    const bool forward = options.direction == Direction::kForward;
    const auto clamp = [](std::int64_t v) {
      return static_cast<std::int32_t>(std::min<std::int64_t>(v, std::numeric_limits<std::int32_t>::max()));
    };
    const std::int32_t from = forward ? clamp(options.from.value_or(1)) : 1;
    const std::int32_t to = forward ? std::numeric_limits<std::int32_t>::max()
                                    : clamp(options.from.value_or(std::numeric_limits<std::int32_t>::max()));
    state_->cursor.emplace(state_->connection->session->open_read(key_of(state_->stream), from, to, !forward,
                                                                  static_cast<std::int32_t>(options.page_size)));
  }

  void next_page_async(PageCallback callback) override { fetch(state_, std::move(callback)); }

 private:
  struct State {
    std::shared_ptr<Connection> connection;
    StreamId stream;
    std::optional<rust::Box<bridge::ReadCursor>> cursor;
    std::uint64_t remaining = 0;  // events still to fetch (the read's limit)
    bool done = false;            // nothing more to fetch
    std::uint32_t page_size = 0;
    std::size_t page_bytes = 0;
    std::deque<RecordedEvent> fetched;  // fetched, not yet delivered
    std::size_t largest_event_bytes = 0;
    std::uint64_t last_fetch_rows = 0;
  };

  static std::size_t bytes_of(const RecordedEvent& e) { return event_bytes(e.event_type, e.data, e.metadata); }

  static std::uint64_t rows_to_fetch(const State& state) {
    const std::size_t event_bytes = state.largest_event_bytes > 0 ? state.largest_event_bytes : kAssumedEventBytes;
    std::uint64_t rows = std::max<std::uint64_t>(1, state.page_bytes / event_bytes);
    if (state.last_fetch_rows > 0) rows = std::min(rows, state.last_fetch_rows * kFetchGrowth);
    return std::min<std::uint64_t>({rows, state.page_size, state.remaining});
  }

  // A page of the fetched events: at least one, then as many as fit both bounds.
  static std::vector<RecordedEvent> take_page(State& state) {
    std::vector<RecordedEvent> page;
    std::size_t bytes = 0;
    while (!state.fetched.empty() && page.size() < state.page_size) {
      const std::size_t next = bytes_of(state.fetched.front());
      if (!page.empty() && bytes + next > state.page_bytes) break;
      bytes += next;
      page.push_back(std::move(state.fetched.front()));
      state.fetched.pop_front();
    }
    return page;
  }

  static void fetch(std::shared_ptr<State> state, PageCallback callback) {
    if (!state->fetched.empty()) return callback(take_page(*state));
    if (state->done || state->remaining == 0) return callback(std::vector<RecordedEvent>{});
    const std::uint64_t rows = rows_to_fetch(*state);
    state->last_fetch_rows = rows;
    (*state->cursor)
        ->next_page(static_cast<std::int32_t>(rows),
                    done<PageDone>(
                        [state, callback](rust::Vec<bridge::EventRow> page, bool more) mutable {
                          try {
                            for (const bridge::EventRow& row : page) {
                              if (state->remaining == 0) break;
                              state->fetched.push_back(decode_row(state->stream, row));
                              state->largest_event_bytes =
                                  std::max(state->largest_event_bytes, bytes_of(state->fetched.back()));
                              --state->remaining;
                            }
                          } catch (const Error& e) {
                            state->done = true;
                            state->fetched.clear();
                            return callback(e);
                          }
                          if (!more) state->done = true;
                          fetch(state, std::move(callback));
                        },
                        [state, callback](const bridge::BridgeError& e) {
                          state->done = true;
                          callback(to_error(e, "read of " + to_string(state->stream)));
                        }));
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

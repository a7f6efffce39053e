// The cluster ceiling of `eventstore bench --raw`: see bench_scylla_raw.h.
#include "bench_scylla_raw.h"

#include <algorithm>
#include <cstring>
#include <future>
#include <limits>
#include <mutex>
#include <utility>
#include <vector>

#include "core/store_uri.h"
#include "eventstore/error.h"
#include "eventstore_scylla_bridge/src/lib.rs.h"
#include "scylla/session_config.h"

namespace eventstore_cli::bench {
namespace {

namespace bridge = ::eventstore::bridge;
using eventstore::Error;
using eventstore::ErrorCode;

const char* kind_name(bridge::ErrorKind kind) {
  switch (kind) {
    case bridge::ErrorKind::Unavailable: return "unavailable";
    case bridge::ErrorKind::OutcomeUnknown: return "outcome_unknown";
    case bridge::ErrorKind::Unauthorized: return "unauthorized";
    case bridge::ErrorKind::InvalidArgument: return "invalid_argument";
    case bridge::ErrorKind::Closed: return "closed";
    default: return "internal";
  }
}

class Connected final : public bridge::ConnectCompletion {
 public:
  explicit Connected(std::promise<rust::Box<bridge::Session>>& promise) : promise_(promise) {}
  void on_ok(rust::Box<bridge::Session> session) noexcept override { promise_.set_value(std::move(session)); }
  void on_error(const bridge::BridgeError& error) noexcept override {
    try {
      throw Error(ErrorCode::kUnavailable, "raw connect: " + std::string(error.message));
    } catch (...) {
      promise_.set_exception(std::current_exception());
    }
  }

 private:
  std::promise<rust::Box<bridge::Session>>& promise_;
};

// The minimal completion: a function pointer and its context.
class AppendDone final : public bridge::AppendCompletion {
 public:
  AppendDone(RawDone done, void* context) : done_(done), context_(context) {}
  void on_ok(bridge::AppendOutcome outcome) noexcept override {
    if (outcome.applied) return done_(context_, Outcome::kApplied, 0, -1, "");
    done_(context_, Outcome::kConflict, 0, outcome.has_stream_version ? outcome.stream_version : -1, "");
  }
  void on_error(const bridge::BridgeError& error) noexcept override {
    done_(context_, Outcome::kFailed, 0, -1, kind_name(error.kind));
  }

 private:
  RawDone done_;
  void* context_;
};

struct ReadState {
  rust::Box<bridge::ReadCursor> cursor;
  std::int64_t remaining;
  std::int64_t rows = 0;
  RawDone done;
  void* context;
};

class PageDone final : public bridge::PageCompletion {
 public:
  explicit PageDone(ReadState* state) : state_(state) {}
  void on_ok(rust::Vec<bridge::EventRow> rows, bool more) noexcept override {
    const auto n = std::min<std::int64_t>(static_cast<std::int64_t>(rows.size()), state_->remaining);
    state_->rows += n;
    state_->remaining -= n;
    if (more && state_->remaining > 0) {
      ReadState* state = state_;
      state->cursor->next_page(0, std::make_unique<PageDone>(state));
      return;
    }
    finish(Outcome::kApplied, "");
  }
  void on_error(const bridge::BridgeError& error) noexcept override { finish(Outcome::kFailed, kind_name(error.kind)); }

 private:
  void finish(Outcome outcome, const char* kind) {
    ReadState* state = state_;
    const RawDone done = state->done;
    void* context = state->context;
    const std::int64_t rows = state->rows;
    delete state;  // drops the cursor
    done(context, outcome, rows, -1, kind);
  }

  ReadState* state_;
};

class RawScyllaImpl final : public RawScylla {
 public:
  RawScyllaImpl(rust::Box<bridge::Session> session, bridge::AppendShape shape)
      : session_(std::move(session)), shape_(shape) {}

  std::size_t add_stream(const std::string& bounded_context, const std::string& aggregate_type,
                         const std::array<std::uint8_t, 16>& aggregate_id) override {
    bridge::StreamKey key;
    key.bounded_context = bounded_context;
    key.aggregate_type = aggregate_type;
    std::copy(aggregate_id.begin(), aggregate_id.end(), key.aggregate_id.begin());
    std::lock_guard lock(mutex_);
    keys_.push_back(std::make_unique<bridge::StreamKey>(std::move(key)));
    return keys_.size() - 1;
  }

  void append(std::size_t stream, std::int64_t expected, const RawEvent* events, std::size_t count, RawDone done,
              void* context) override {
    rust::Vec<bridge::EventRow> rows;
    rows.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      bridge::EventRow row{};
      row.version = static_cast<std::int32_t>(expected + 1 + static_cast<std::int64_t>(i));
      std::copy(events[i].event_id.begin(), events[i].event_id.end(), row.event_id.begin());
      row.event_type = rust::String(events[i].event_type.data(), events[i].event_type.size());
      row.has_data = true;
      row.data = rust::String(events[i].data.data(), events[i].data.size());
      row.timestamp_ms = events[i].timestamp_ms;
      rows.push_back(std::move(row));
    }
    session_->append_batch(key(stream), shape_, expected > 0, static_cast<std::int32_t>(expected),
                           static_cast<std::int32_t>(expected + static_cast<std::int64_t>(count)), std::move(rows),
                           std::make_unique<AppendDone>(done, context));
  }

  void read(std::size_t stream, bool backward, std::int64_t from, std::int64_t limit, std::int32_t page_size,
            RawDone done, void* context) override {
    constexpr std::int32_t kMax = std::numeric_limits<std::int32_t>::max();
    const auto clamp = [](std::int64_t v) { return static_cast<std::int32_t>(std::min<std::int64_t>(v, kMax)); };
    const std::int32_t lo = backward ? 1 : clamp(from);
    const std::int32_t hi = backward ? (from > 0 ? clamp(from) : kMax) : kMax;
    const std::int64_t remaining = limit > 0 ? limit : std::numeric_limits<std::int64_t>::max();
    const auto page = static_cast<std::int32_t>(std::min<std::int64_t>(page_size, remaining));
    auto* state = new ReadState{session_->open_read(key(stream), lo, hi, backward, page), remaining, 0, done, context};
    state->cursor->next_page(0, std::make_unique<PageDone>(state));
  }

 private:
  const bridge::StreamKey& key(std::size_t stream) {
    std::lock_guard lock(mutex_);
    return *keys_.at(stream);
  }

  rust::Box<bridge::Session> session_;
  const bridge::AppendShape shape_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<bridge::StreamKey>> keys_;
};

}  // namespace

std::unique_ptr<RawScylla> RawScylla::connect(std::string_view uri, RawShape shape) {
  const eventstore::detail::StoreUri parsed = eventstore::detail::parse_store_uri(uri);
  if (parsed.scheme != eventstore::detail::StoreUri::Scheme::kScylla)
    throw Error::invalid("--raw on a cluster needs a scylla:// URI");
  bridge::SessionConfig config = eventstore::detail::session_config_from(parsed.cluster);
  std::promise<rust::Box<bridge::Session>> promise;
  auto future = promise.get_future();
  bridge::connect(std::move(config), std::make_unique<Connected>(promise));
  return std::make_unique<RawScyllaImpl>(
      future.get(), shape == RawShape::kSeed ? bridge::AppendShape::Seed : bridge::AppendShape::Store);
}

}  // namespace eventstore_cli::bench

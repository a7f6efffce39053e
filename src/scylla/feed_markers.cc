// The cluster's feed, writer side: URI settings, time-based UUIDs and the marker write.
#include "scylla/feed_markers.h"

#include <algorithm>
#include <limits>
#include <mutex>
#include <random>

#include "core/validation.h"
#include "scylla/connection.h"

namespace eventstore::detail {
namespace {

// 100-ns intervals between the UUID epoch (1582-10-15) and the Unix epoch.
constexpr std::uint64_t kUuidEpochOffset = 0x01B21DD213814000ULL;

// Uniqueness within the process: ids of one millisecond count up in 100 ns steps; past 10,000
// in one millisecond, or when asked for a time before the last one (the clock stepped back),
// the clock sequence moves on instead (RFC 9562, 5.1), so that an id's time is always the time
// asked for.
struct TimeuuidState {
  std::mutex mutex;
  std::int64_t last_ms = std::numeric_limits<std::int64_t>::min();
  std::uint16_t counter = 0;
  std::uint16_t clock_sequence = 0;
  std::array<std::uint8_t, 6> node{};

  TimeuuidState() {
    std::random_device device;
    std::mt19937_64 random(static_cast<std::uint64_t>(device()) << 32 ^ device());
    const std::uint64_t bits = random();
    clock_sequence = static_cast<std::uint16_t>(bits & 0x3FFF);
    for (int i = 0; i < 6; ++i) node[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(bits >> (16 + 8 * i));
    node[0] |= 0x01;  // the multicast bit: not a real MAC address (RFC 9562, 6.10)
  }
};

TimeuuidState& timeuuid_state() {
  static TimeuuidState state;
  return state;
}

}  // namespace

FeedSettings feed_settings_from(const ClusterUri& uri) {
  FeedSettings settings;
  if (const auto feed = uri.options.find("feed"); feed != uri.options.end()) {
    if (feed->second == "true" || feed->second == "1") {
      settings.markers = true;
    } else if (feed->second == "false" || feed->second == "0") {
      settings.markers = false;
    } else {
      throw Error::invalid("store URI option feed must be true or false");
    }
  }
  if (const auto relay = uri.options.find("relay"); relay != uri.options.end()) {
    std::string_view list = relay->second;
    for (;;) {
      const std::size_t comma = list.find(',');
      const std::string context(list.substr(0, comma));
      if (context.empty()) throw Error::invalid("store URI option relay needs context names, comma separated");
      try {
        validate_context(context, Limits{});
      } catch (const Error& e) {
        throw Error::invalid(std::string("store URI option relay: ") + e.what());
      }
      if (std::find(settings.relay_contexts.begin(), settings.relay_contexts.end(), context) ==
          settings.relay_contexts.end())
        settings.relay_contexts.push_back(context);
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  if (const auto timeout = uri.options.find("timeout_ms"); timeout != uri.options.end()) {
    // session_config_from checks the value; an invalid one never gets this far.
    try {
      settings.request_timeout = std::chrono::milliseconds(std::stoul(timeout->second));
    } catch (const std::exception&) {
    }
  }
  return settings;
}

Uuid make_timeuuid(Timestamp time) {
  TimeuuidState& state = timeuuid_state();
  const std::int64_t ms = time.time_since_epoch().count();
  std::uint64_t ticks = 0;
  std::uint16_t clock_sequence = 0;
  {
    std::lock_guard lock(state.mutex);
    if (ms > state.last_ms) {
      state.counter = 0;
    } else if (ms == state.last_ms && state.counter < 9999) {
      ++state.counter;
    } else {
      state.counter = 0;
      state.clock_sequence = static_cast<std::uint16_t>((state.clock_sequence + 1) & 0x3FFF);
    }
    state.last_ms = ms;
    ticks = static_cast<std::uint64_t>(ms) * 10000 + state.counter + kUuidEpochOffset;
    clock_sequence = state.clock_sequence;
  }
  std::array<std::uint8_t, 16> b{};
  b[0] = static_cast<std::uint8_t>(ticks >> 24);
  b[1] = static_cast<std::uint8_t>(ticks >> 16);
  b[2] = static_cast<std::uint8_t>(ticks >> 8);
  b[3] = static_cast<std::uint8_t>(ticks);
  b[4] = static_cast<std::uint8_t>(ticks >> 40);
  b[5] = static_cast<std::uint8_t>(ticks >> 32);
  b[6] = static_cast<std::uint8_t>(((ticks >> 56) & 0x0F) | 0x10);  // version 1
  b[7] = static_cast<std::uint8_t>(ticks >> 48);
  b[8] = static_cast<std::uint8_t>(((clock_sequence >> 8) & 0x3F) | 0x80);  // variant 10
  b[9] = static_cast<std::uint8_t>(clock_sequence);
  std::copy(state.node.begin(), state.node.end(), b.begin() + 10);
  return Uuid(b);
}

Timestamp timeuuid_time(const Uuid& id) {
  const auto& b = id.bytes();
  const std::uint64_t ticks = (static_cast<std::uint64_t>(b[6] & 0x0F) << 56) |
                              (static_cast<std::uint64_t>(b[7]) << 48) | (static_cast<std::uint64_t>(b[4]) << 40) |
                              (static_cast<std::uint64_t>(b[5]) << 32) | (static_cast<std::uint64_t>(b[0]) << 24) |
                              (static_cast<std::uint64_t>(b[1]) << 16) | (static_cast<std::uint64_t>(b[2]) << 8) |
                              static_cast<std::uint64_t>(b[3]);
  const auto unix_ticks = static_cast<std::int64_t>(ticks - kUuidEpochOffset);
  return Timestamp(std::chrono::milliseconds(unix_ticks / 10000));
}

int marker_shard(const Uuid& aggregate_id) {
  std::uint32_t hash = 2166136261U;
  for (std::uint8_t byte : aggregate_id.bytes()) hash = (hash ^ byte) * 16777619U;
  return static_cast<int>(hash % kMarkerShards);
}

std::int64_t marker_bucket(Timestamp time) { return time.time_since_epoch().count() / kMarkerBucketMs; }

namespace {

struct MarkerHook {
  std::atomic<bool> set{false};
  std::mutex mutex;
  std::shared_ptr<const MarkerWriteHook> hook;
};

MarkerHook& marker_hook() {
  static MarkerHook state;
  return state;
}

}  // namespace

void set_marker_write_hook_for_tests(MarkerWriteHook hook) {
  MarkerHook& state = marker_hook();
  std::lock_guard lock(state.mutex);
  state.hook = hook ? std::make_shared<const MarkerWriteHook>(std::move(hook)) : nullptr;
  state.set.store(state.hook != nullptr, std::memory_order_relaxed);
}

struct MarkerWriter::Pending {
  bridge::FeedMarker row;
  Timestamp time;
  std::function<void(Result<Timestamp>)> callback;
};

struct MarkerWriter::Partition {
  std::vector<Pending> waiting;
};

// The completion of one marker write (a marker, or one partition's batch of them): calls straight
// back into the writer, no std::function per request.
class MarkerWriter::Done final : public bridge::VoidCompletion {
 public:
  Done(std::shared_ptr<MarkerWriter> writer, std::string key, std::vector<Pending> markers)
      : writer_(std::move(writer)), key_(std::move(key)), markers_(std::move(markers)) {}
  void on_ok() noexcept override {
    guarded([&] { writer_->sent(key_, markers_, std::nullopt); });
  }
  void on_error(const bridge::BridgeError& error) noexcept override {
    guarded([&] { writer_->sent(key_, markers_, to_error(error, "feed marker")); });
  }

 private:
  std::shared_ptr<MarkerWriter> writer_;
  std::string key_;
  std::vector<Pending> markers_;
};

MarkerWriter::MarkerWriter(std::shared_ptr<Connection> connection) : connection_(std::move(connection)) {}

MarkerWriter::~MarkerWriter() = default;

void MarkerWriter::write(const StreamId& stream, const Uuid& first_event_id, std::int32_t event_count,
                         std::function<void(Result<Timestamp>)> callback) {
  const Timestamp time = now_ms();
  const std::int64_t bucket = marker_bucket(time);
  const auto shard = static_cast<std::int32_t>(marker_shard(stream.aggregate_id));
  bridge::FeedMarker row{stream.bounded_context,
                         bucket,
                         shard,
                         make_timeuuid(time).bytes(),
                         stream.aggregate_type,
                         stream.aggregate_id.bytes(),
                         first_event_id.bytes(),
                         event_count};
  Pending marker{std::move(row), time, std::move(callback)};
  // The partition's key; the context is last, so no separator can be ambiguous.
  std::string key = std::to_string(bucket) + ":" + std::to_string(shard) + ":" + stream.bounded_context;
  MarkerHook& hook = marker_hook();
  if (hook.set.load(std::memory_order_relaxed)) {
    std::shared_ptr<const MarkerWriteHook> test_hook;
    {
      std::lock_guard lock(hook.mutex);
      test_hook = hook.hook;
    }
    if (test_hook) {
      auto held = std::make_shared<Pending>(std::move(marker));
      return (*test_hook)(stream, [self = shared_from_this(), key, held](std::optional<Error> error) {
        if (error) return held->callback(std::move(*error));
        self->enqueue(key, std::move(*held));
      });
    }
  }
  enqueue(key, std::move(marker));
}

// Sends `marker` at once when its partition is idle; otherwise it waits for the write in flight.
void MarkerWriter::enqueue(const std::string& key, Pending marker) {
  {
    std::lock_guard lock(mutex_);
    auto [it, idle] = partitions_.try_emplace(key);
    if (!idle) {
      it->second.waiting.push_back(std::move(marker));
      return;
    }
  }
  std::vector<Pending> alone;
  alone.push_back(std::move(marker));
  send(key, std::move(alone));
}

// Sends `markers` (one partition's) as one request.
void MarkerWriter::send(const std::string& key, std::vector<Pending> markers) {
  rust::Vec<bridge::FeedMarker> rows;
  rows.reserve(markers.size());
  for (const Pending& marker : markers) rows.push_back(marker.row);
  connection_->session->write_markers(std::move(rows), kMarkerTtlSeconds,
                                      std::make_unique<Done>(shared_from_this(), key, std::move(markers)));
}

// A write completed: answers its markers and sends what queued meanwhile, or marks the
// partition idle.
void MarkerWriter::sent(const std::string& key, std::vector<Pending>& markers, const std::optional<Error>& error) {
  if (!error) proven_.store(true, std::memory_order_relaxed);
  for (Pending& marker : markers) {
    if (error) {
      marker.callback(*error);
    } else {
      marker.callback(marker.time);
    }
  }
  std::vector<Pending> next;
  {
    std::lock_guard lock(mutex_);
    auto it = partitions_.find(key);
    next.swap(it->second.waiting);
    if (next.empty()) partitions_.erase(it);
  }
  if (!next.empty()) send(key, std::move(next));
}

}  // namespace eventstore::detail

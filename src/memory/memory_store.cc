#include "memory/memory_store.h"

#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/lifecycle.h"
#include "core/validation.h"

namespace eventstore::detail {
namespace {

// One stream: its events from version `before` (the lifecycle's first readable version,
// docs/lifecycle.md) to its head; the events below `before` are erased.
struct Stream {
  std::deque<RecordedEvent> events;
  std::int64_t before = 1;
  bool hard_deleted = false;

  std::int64_t head() const { return before - 1 + static_cast<std::int64_t>(events.size()); }
  // The event at `version`, in before..head().
  const RecordedEvent& at(std::int64_t version) const { return events[static_cast<std::size_t>(version - before)]; }
};

// A feed entry: the event at `version` of a stream. std::map never moves its values, so the
// pointer stays valid (a stream that has events is never erased: its last event stays).
struct FeedRef {
  const Stream* stream;
  std::int64_t version;
};

struct State {
  std::mutex mutex;
  std::map<StreamId, Stream> streams;
  std::map<StreamId, Snapshot> snapshots;
  // Per bounded context: the entry at position p is feeds[context][p - 1].
  std::map<std::string, std::vector<FeedRef>, std::less<>> feeds;
  // (context, name) -> checkpoint.
  std::map<std::pair<std::string, std::string>, Checkpoint> checkpoints;
};

class MemoryCursor final : public EventCursor {
 public:
  MemoryCursor(std::shared_ptr<State> state, StreamId stream, ReadOptions options)
      : state_(std::move(state)), stream_(std::move(stream)), options_(options) {
    remaining_ = options_.limit.value_or(UINT64_MAX);
  }

  void next_page_async(PageCallback callback) override {
    std::vector<RecordedEvent> page;
    if (!done_ && remaining_ > 0) {
      std::lock_guard lock(state_->mutex);
      auto it = state_->streams.find(stream_);
      const std::int64_t head = it == state_->streams.end() ? 0 : it->second.head();
      const std::int64_t before = it == state_->streams.end() ? 1 : it->second.before;
      const bool forward = options_.direction == Direction::kForward;
      if (!next_) next_ = options_.from.value_or(forward ? 1 : head);
      // A truncate between two pages hides what is below its "before" from this read too.
      if (forward) next_ = std::max(*next_, before);
      if (!forward) next_ = std::min(*next_, head);
      const std::uint64_t want = std::min<std::uint64_t>(options_.page_size, remaining_);
      std::size_t bytes = 0;
      while (page.size() < want && *next_ >= before && *next_ <= head) {
        const RecordedEvent& event = it->second.at(*next_);
        bytes += event_bytes(event.event_type, event.data, event.metadata);
        if (!page.empty() && bytes > options_.page_bytes) break;
        page.push_back(event);
        *next_ += forward ? 1 : -1;
      }
      remaining_ -= page.size();
    }
    if (page.empty()) done_ = true;
    callback(std::move(page));
  }

 private:
  std::shared_ptr<State> state_;
  StreamId stream_;
  ReadOptions options_;
  std::optional<std::int64_t> next_;
  std::uint64_t remaining_ = 0;
  bool done_ = false;
};

class MemoryStore final : public Store {
 public:
  explicit MemoryStore(const StoreOptions& options) : limits_(options.limits) {}

  std::string describe() const override { return "memory:"; }

  void append_async(const StreamId& stream, ExpectedVersion expected, std::vector<EventData> events,
                    AppendCallback callback) override {
    std::optional<Result<AppendResult>> result;
    try {
      prepare_append(stream, expected, events, limits_);
      std::lock_guard lock(state_->mutex);
      result.emplace(write_locked(stream, expected, events, nullptr));
    } catch (const Error& e) {
      result.emplace(e);
    }
    callback(std::move(*result));
  }

  void change_lifecycle_async(const StreamId& stream, LifecycleChange change, AppendCallback callback) override {
    std::optional<Result<AppendResult>> result;
    try {
      std::vector<EventData> events{prepare_lifecycle(stream, change, limits_)};
      std::lock_guard lock(state_->mutex);
      result.emplace(write_locked(stream, change.expected, events, &change));
    } catch (const Error& e) {
      result.emplace(e);
    }
    callback(std::move(*result));
  }

  std::unique_ptr<EventCursor> read(const StreamId& stream, const ReadOptions& options) override {
    if (auto error = validation_error([&] { validate_read(stream, options, limits_); }))
      return failed_cursor(std::move(*error));
    return std::make_unique<MemoryCursor>(state_, stream, options);
  }

  void head_async(const StreamId& stream, HeadCallback callback) override {
    if (auto error = validation_error([&] { validate_stream(stream, limits_); })) return callback(std::move(*error));
    std::int64_t head = 0;
    {
      std::lock_guard lock(state_->mutex);
      if (auto it = state_->streams.find(stream); it != state_->streams.end()) head = it->second.head();
    }
    callback(head);
  }

  void load_snapshot_async(const StreamId& stream, LoadCallback callback) override {
    if (auto error = validation_error([&] { validate_stream(stream, limits_); })) return callback(std::move(*error));
    std::optional<Snapshot> snapshot;
    {
      std::lock_guard lock(state_->mutex);
      if (auto it = state_->snapshots.find(stream); it != state_->snapshots.end()) snapshot = it->second;
    }
    callback(std::move(snapshot));
  }

  void save_snapshot_async(const StreamId& stream, Snapshot snapshot, SaveCallback callback) override {
    if (auto error = validation_error([&] { validate_snapshot(stream, snapshot, limits_); }))
      return callback(std::move(*error));
    snapshot.timestamp = std::chrono::time_point_cast<std::chrono::milliseconds>(snapshot.timestamp);
    std::optional<Result<SnapshotSaveResult>> result;
    {
      std::lock_guard lock(state_->mutex);
      const auto events = state_->streams.find(stream);
      const std::int64_t head = events == state_->streams.end() ? 0 : events->second.head();
      if (events != state_->streams.end() && events->second.hard_deleted) {
        result.emplace(Error::stream_deleted(head, to_string(stream)));
      } else if (snapshot.version > head) {
        result.emplace(snapshot_above_head(stream, snapshot.version, head));
      } else {
        auto [it, inserted] = state_->snapshots.try_emplace(stream, snapshot);
        if (!inserted && (it->second.version < snapshot.version || it->second.version > head)) {
          it->second = snapshot;
          inserted = true;
        }
        result.emplace(SnapshotSaveResult{inserted, it->second.version});
      }
    }
    callback(std::move(*result));
  }

  void read_feed_async(const std::string& context, const FeedReadOptions& options, FeedPageCallback callback) override {
    if (auto error = validation_error([&] { validate_feed_read(context, options, limits_); }))
      return callback(std::move(*error));
    FeedPage page;
    page.last_position = options.after;
    {
      std::lock_guard lock(state_->mutex);
      auto feed = state_->feeds.find(context);
      const std::int64_t head = feed == state_->feeds.end() ? 0 : static_cast<std::int64_t>(feed->second.size());
      const std::int64_t last = std::min(head, feed_page_end(options));
      for (std::int64_t position = options.after + 1; position <= last; ++position) {
        const FeedRef& ref = feed->second[static_cast<std::size_t>(position - 1)];
        // An event a lifecycle change removed is left out, as a filtered one (docs/lifecycle.md).
        if (ref.version < ref.stream->before) continue;
        const RecordedEvent& event = ref.stream->at(ref.version);
        if (!options.filter.matches(event)) continue;
        FeedEntry& entry = page.entries.emplace_back();
        entry.position = position;
        if (options.with_data) {
          entry.event = event;
        } else {
          entry.event = RecordedEvent{event.stream, event.version, event.event_id, event.event_type,
                                      std::nullopt, std::nullopt,  event.timestamp};
        }
      }
      page.last_position = std::max(options.after, last);
    }
    callback(std::move(page));
  }

  void feed_head_async(const std::string& context, PositionCallback callback) override {
    if (auto error = validation_error([&] { validate_context(context, limits_); })) return callback(std::move(*error));
    std::int64_t head = 0;
    {
      std::lock_guard lock(state_->mutex);
      head = head_locked(context);
    }
    callback(head);
  }

  void load_checkpoint_async(const std::string& context, const std::string& name,
                             CheckpointCallback callback) override {
    if (auto error = validation_error([&] { validate_checkpoint(context, name, limits_); }))
      return callback(std::move(*error));
    std::optional<Checkpoint> checkpoint;
    {
      std::lock_guard lock(state_->mutex);
      if (auto it = state_->checkpoints.find({context, name}); it != state_->checkpoints.end()) checkpoint = it->second;
    }
    callback(std::move(checkpoint));
  }

  void save_checkpoint_async(const std::string& context, const std::string& name, std::int64_t position,
                             PositionCallback callback) override {
    if (auto error = validation_error([&] { validate_checkpoint_save(context, name, position, limits_); }))
      return callback(std::move(*error));
    std::int64_t stored = 0;
    {
      std::lock_guard lock(state_->mutex);
      auto [it, inserted] = state_->checkpoints.try_emplace({context, name}, Checkpoint{name, position, now_ms()});
      if (!inserted && position > it->second.position) it->second = Checkpoint{name, position, now_ms()};
      stored = it->second.position;
    }
    callback(stored);
  }

  void feed_status_async(const std::string& context, StatusCallback callback) override {
    if (auto error = validation_error([&] { validate_context(context, limits_); })) return callback(std::move(*error));
    FeedStatus status;
    {
      std::lock_guard lock(state_->mutex);
      status.head = head_locked(context);
      for (auto it = state_->checkpoints.lower_bound({context, std::string()});
           it != state_->checkpoints.end() && it->first.first == context; ++it)
        status.checkpoints.push_back(it->second);
    }
    callback(std::move(status));
  }

 private:
  std::int64_t head_locked(const std::string& context) const {
    auto feed = state_->feeds.find(context);
    return feed == state_->feeds.end() ? 0 : static_cast<std::int64_t>(feed->second.size());
  }

  // An append of `events`, or (`change` set) the lifecycle change whose system event `events`
  // holds: the checks of event_store.h in their order, then the write, under state_->mutex.
  AppendResult write_locked(const StreamId& stream, ExpectedVersion expected, const std::vector<EventData>& events,
                            const LifecycleChange* change) {
    Stream& stored = state_->streams[stream];
    const std::int64_t head = stored.head();
    const auto count = static_cast<std::int64_t>(events.size());
    auto ids_at = [&stored](std::int64_t first, std::int64_t n) {
      std::vector<Uuid> ids;
      for (std::int64_t v = std::max(first, stored.before); v < first + n && v <= stored.head(); ++v)
        ids.push_back(stored.at(v).event_id);
      return ids;
    };
    const std::int64_t at = expected.is_any() ? head : expected.version();
    // A retry of an append that already landed returns its original result.
    const std::int64_t retry_at = expected.is_any() ? head - count : at;
    if (head >= retry_at + count && retry_at >= 0 && is_same_append(events, ids_at(retry_at + 1, count)))
      return make_append_result(retry_at + 1, events);
    if (stored.hard_deleted) throw Error::stream_deleted(head, to_string(stream));
    if (at != head) {
      if (head == 0) state_->streams.erase(stream);
      throw Error::conflict(head, "version conflict on " + to_string(stream) + ": expected " + expected.to_string() +
                                      ", stream is at " + std::to_string(head));
    }
    std::optional<Error> invalid;
    if (change) invalid = lifecycle_before_error(*change, head + 1);
    if (!invalid && head + count > limits_.max_version)
      invalid = Error::invalid("append would take the stream past the maximum version " +
                               std::to_string(limits_.max_version));
    if (invalid) {
      if (head == 0) state_->streams.erase(stream);
      throw *invalid;
    }
    std::vector<FeedRef>& feed = state_->feeds[stream.bounded_context];
    for (std::int64_t i = 0; i < count; ++i) {
      const EventData& e = events[static_cast<std::size_t>(i)];
      stored.events.push_back(
          RecordedEvent{stream, head + i + 1, *e.event_id, e.event_type, e.data, e.metadata, *e.timestamp});
      feed.push_back(FeedRef{&stored, head + i + 1});
    }
    if (change) apply_lifecycle(stream, stored, *change, head + 1);
    return make_append_result(head + 1, events);
  }

  // The change's system event is stored at `version`: raises "before" and erases what is below.
  void apply_lifecycle(const StreamId& stream, Stream& stored, const LifecycleChange& change, std::int64_t version) {
    const std::int64_t before = std::max(stored.before, lifecycle_before(change, version));
    while (stored.before < before) {
      stored.events.pop_front();
      ++stored.before;
    }
    if (change.kind == LifecycleKind::kTruncate) return;
    state_->snapshots.erase(stream);
    if (change.kind == LifecycleKind::kHardDelete) stored.hard_deleted = true;
  }

  Limits limits_;
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace

std::shared_ptr<Store> make_memory_store(const StoreOptions& options) { return std::make_shared<MemoryStore>(options); }

}  // namespace eventstore::detail

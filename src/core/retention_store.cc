#include "retention_store.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "forwarding_store.h"
#include "retention.h"
#include "thread_annotations.h"

namespace eventstore::detail {
namespace {

using Clock = std::chrono::steady_clock;
using PolicyCallback = std::function<void(Result<std::optional<RetentionPolicy>>)>;

// The policies read lately, by context and aggregate type ("none" included).
class PolicyCache {
 public:
  PolicyCache(std::shared_ptr<Store> inner, std::chrono::milliseconds refresh)
      : inner_(std::move(inner)), refresh_(refresh) {}

  // The policy of the stream's type if the cache holds it and it is fresh ("none" included);
  // nullopt when it must be read. Allocates nothing: every read asks.
  std::optional<std::optional<RetentionPolicy>> cached(const StreamId& stream) {
    MutexLock lock(mutex_);
    const auto it = entries_.find(KeyView{stream.bounded_context, stream.aggregate_type});
    if (it == entries_.end() || Clock::now() - it->second.read_at >= refresh_) return std::nullopt;
    return it->second.policy;
  }

  // Calls `callback` with the policy of the stream's type, from the cache or read.
  void lookup(const StreamId& stream, PolicyCallback callback, std::unique_ptr<EventCursor>& cursor_holder) {
    // Outside the lock: the callback may go on to read, and its reader may look up again.
    if (std::optional<std::optional<RetentionPolicy>> hit = cached(stream)) return callback(*hit);
    std::uint64_t generation = 0;
    {
      MutexLock lock(mutex_);
      generation = generation_;
    }
    Key key{stream.bounded_context, stream.aggregate_type};
    cursor_holder = inner_->read(retention_policy_stream(key.first, key.second), policy_read_options());
    cursor_holder->next_page_async(
        [this, key, generation, callback = std::move(callback)](Result<std::vector<RecordedEvent>> page) {
          if (!page) return callback(page.error());
          std::optional<RetentionPolicy> policy;
          try {
            policy = policy_from_newest_first(page.value());
          } catch (const Error& e) {
            return callback(e);
          }
          {
            MutexLock lock(mutex_);
            // A policy set since the read began may be missing from what it found.
            if (generation == generation_) entries_[key] = Entry{policy, Clock::now()};
          }
          callback(policy);
        });
  }

  // Forgets every cached policy of `context` (one of its policies is being set).
  void invalidate(const std::string& context) {
    MutexLock lock(mutex_);
    ++generation_;
    std::erase_if(entries_, [&](const auto& entry) { return entry.first.first == context; });
  }

  Store& inner() const { return *inner_; }

 private:
  using Key = std::pair<std::string, std::string>;  // context, aggregate type
  using KeyView = std::pair<std::string_view, std::string_view>;
  struct KeyLess {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      return KeyView(a.first, a.second) < KeyView(b.first, b.second);
    }
  };
  struct Entry {
    std::optional<RetentionPolicy> policy;
    Clock::time_point read_at;
  };

  const std::shared_ptr<Store> inner_;
  const std::chrono::milliseconds refresh_;
  Mutex mutex_;
  std::map<Key, Entry, KeyLess> entries_ GUARDED_BY(mutex_);
  std::uint64_t generation_ GUARDED_BY(mutex_) = 0;
};

// One read of a stream: it looks up the policy and the head on its first page, then reads
// the inner store from the floor and drops what the policy hides.
class RetentionCursor final : public EventCursor {
 public:
  RetentionCursor(std::shared_ptr<PolicyCache> cache, StreamId stream, ReadOptions options)
      : state_(std::make_shared<State>()) {
    state_->cache = std::move(cache);
    state_->stream = std::move(stream);
    state_->options = options;
  }

  void next_page_async(PageCallback callback) override {
    if (state_->started) return pull(state_, std::move(callback));
    state_->started = true;
    const std::shared_ptr<State> state = state_;
    state->cache->lookup(
        state->stream,
        [state, callback = std::move(callback)](Result<std::optional<RetentionPolicy>> policy) mutable {
          if (!policy) return callback(policy.error());
          if (!policy.value()) {
            state->cursor = state->cache->inner().read(state->stream, state->options);
            return pull(state, std::move(callback));
          }
          state->policy = *policy.value();
          state->cache->inner().head_async(state->stream,
                                           [state, callback = std::move(callback)](Result<std::int64_t> head) mutable {
                                             if (!head) return callback(head.error());
                                             start(*state, head.value());
                                             pull(state, std::move(callback));
                                           });
        },
        state->lookup_cursor);
  }

 private:
  struct State {
    std::shared_ptr<PolicyCache> cache;
    StreamId stream;
    ReadOptions options;
    std::unique_ptr<EventCursor> lookup_cursor;
    std::unique_ptr<EventCursor> cursor;
    bool started = false;
    bool done = false;
    // Set when a policy applies.
    std::optional<RetentionPolicy> policy;
    std::int64_t head = 0;
    std::int64_t floor = 1;                  // by count
    std::optional<Timestamp> cutoff;         // by age
    bool leading = true;                     // forward: still among the leading events
    std::optional<std::uint64_t> remaining;  // forward with an age: the read's limit, applied here
  };

  static void start(State& state, std::int64_t head) {
    ReadOptions inner = state.options;
    state.head = head;
    state.floor = count_floor(*state.policy, head);
    state.cutoff = age_cutoff(*state.policy, now_ms());
    // A bad "from" is left for the inner read to refuse.
    const bool valid_from = !inner.from || *inner.from >= 1;
    if (inner.direction == Direction::kForward && valid_from) {
      inner.from = std::max(inner.from.value_or(1), state.floor);
      if (state.cutoff) {
        state.remaining = inner.limit;
        inner.limit.reset();
      }
    }
    state.cursor = state.cache->inner().read(state.stream, inner);
  }

  static void pull(const std::shared_ptr<State>& state, PageCallback callback) {
    if (state->done) return callback(std::vector<RecordedEvent>{});
    state->cursor->next_page_async(
        [state, callback = std::move(callback)](Result<std::vector<RecordedEvent>> page) mutable {
          if (!page) {
            state->done = true;
            return callback(std::move(page));
          }
          if (page.value().empty()) {
            state->done = true;
            return callback(std::move(page));
          }
          if (!state->policy) return callback(std::move(page));
          std::vector<RecordedEvent> kept = keep(*state, std::move(page.value()));
          if (kept.empty() && !state->done) return pull(state, std::move(callback));
          callback(std::move(kept));
        });
  }

  // The events of `page` the policy keeps; sets `done` where the read ends.
  static std::vector<RecordedEvent> keep(State& state, std::vector<RecordedEvent> page) {
    std::vector<RecordedEvent> kept;
    kept.reserve(page.size());
    const auto expired_by_age = [&](const RecordedEvent& event) {
      return state.cutoff && event.timestamp < *state.cutoff && event.version != state.head;
    };
    for (RecordedEvent& event : page) {
      if (state.options.direction == Direction::kBackward) {
        if (event.version < state.floor || expired_by_age(event)) {
          state.done = true;
          break;
        }
      } else {
        if (state.leading && expired_by_age(event)) continue;
        state.leading = false;
        if (state.remaining && (*state.remaining)-- == 0) {
          state.done = true;
          break;
        }
      }
      kept.push_back(std::move(event));
    }
    if (state.remaining && *state.remaining == 0) state.done = true;
    return kept;
  }

  std::shared_ptr<State> state_;
};

class RetentionStore final : public ForwardingStore {
 public:
  RetentionStore(std::shared_ptr<Store> inner, std::chrono::milliseconds refresh)
      : ForwardingStore(inner), cache_(std::make_shared<PolicyCache>(std::move(inner), refresh)) {}

  std::unique_ptr<EventCursor> read(const StreamId& stream, const ReadOptions& options) override {
    if (options.include_expired || stream.bounded_context.empty() || stream.aggregate_type.empty() ||
        stream.aggregate_type.starts_with('$'))
      return inner().read(stream, options);
    // A type known to have no policy is read as it is, without a cursor of this store's own.
    if (std::optional<std::optional<RetentionPolicy>> hit = cache_->cached(stream); hit && !*hit)
      return inner().read(stream, options);
    return std::make_unique<RetentionCursor>(cache_, stream, options);
  }

  void append_async(const StreamId& stream, ExpectedVersion expected, std::vector<EventData> events,
                    AppendCallback callback) override {
    if (stream.aggregate_type != kRetentionAggregateType)
      return inner().append_async(stream, expected, std::move(events), std::move(callback));
    // Invalidated before and after: no read that starts after the answer uses the old policy.
    cache_->invalidate(stream.bounded_context);
    inner().append_async(stream, expected, std::move(events),
                         [cache = cache_, context = stream.bounded_context,
                          callback = std::move(callback)](Result<AppendResult> result) {
                           cache->invalidate(context);
                           callback(std::move(result));
                         });
  }

  void change_lifecycle_async(const StreamId& stream, LifecycleChange change, AppendCallback callback) override {
    if (stream.aggregate_type != kRetentionAggregateType)
      return inner().change_lifecycle_async(stream, change, std::move(callback));
    cache_->invalidate(stream.bounded_context);
    inner().change_lifecycle_async(stream, change,
                                   [cache = cache_, context = stream.bounded_context,
                                    callback = std::move(callback)](Result<AppendResult> result) {
                                     cache->invalidate(context);
                                     callback(std::move(result));
                                   });
  }

  AppendResult append(const StreamId& stream, ExpectedVersion expected, std::vector<EventData> events) override {
    if (stream.aggregate_type != kRetentionAggregateType) return inner().append(stream, expected, std::move(events));
    cache_->invalidate(stream.bounded_context);
    struct InvalidateOnExit {
      PolicyCache& cache;
      const std::string& context;
      ~InvalidateOnExit() { cache.invalidate(context); }
    } on_exit{*cache_, stream.bounded_context};
    return inner().append(stream, expected, std::move(events));
  }

 private:
  const std::shared_ptr<PolicyCache> cache_;
};

}  // namespace

std::shared_ptr<Store> apply_retention(std::shared_ptr<Store> inner, std::chrono::milliseconds refresh,
                                       const Limits& limits) {
  if (std::string_view(kRetentionAggregateType).size() > limits.max_identifier_bytes) return inner;
  return std::make_shared<RetentionStore>(std::move(inner), refresh);
}

}  // namespace eventstore::detail

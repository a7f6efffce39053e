// Subscription: paged reads of a feed from a resolved starting position, waiting at the head by
// polling. The blocking form sleeps on the caller's thread; the asynchronous form schedules its
// polls on one timer thread shared by every subscription of the process (src/core/timer.h).
#include <algorithm>
#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <string_view>
#include <thread>
#include <utility>

#include "blocking.h"
#include "eventstore/subscription.h"
#include "timer.h"
#include "validation.h"

namespace eventstore {
namespace {

using Clock = std::chrono::steady_clock;

void validate(const SubscriptionOptions& options) {
  if (options.context.empty()) throw Error::invalid("subscription: bounded context must not be empty");
  if (!detail::is_valid_utf8(options.context)) throw Error::invalid("subscription: bounded context is not valid UTF-8");
  if (!options.name.empty() && !detail::is_valid_utf8(options.name))
    throw Error::invalid("subscription: checkpoint name is not valid UTF-8");
  if (options.page_size < 1 || options.page_size > 100000)
    throw Error::invalid("subscription: page size must be 1..100000, got " + std::to_string(options.page_size));
  if (options.start.kind == StartPosition::Kind::kAfter && options.start.position < 0)
    throw Error::invalid("subscription: start position must be at least 0, got " +
                         std::to_string(options.start.position));
  if (options.poll_interval <= std::chrono::milliseconds::zero())
    throw Error::invalid("subscription: poll interval must be positive, got " +
                         std::to_string(options.poll_interval.count()) + " ms");
}

// What the pages of one subscription share with the polls still scheduled for it: a poll keeps
// the state (and the store) alive after the Subscription object is gone.
struct State {
  std::shared_ptr<Store> store;
  SubscriptionOptions options;
  std::atomic<std::int64_t> position{0};
  std::atomic<bool> pending{false};  // a page request is under way
  std::atomic<bool> closed{false};   // the Subscription was destroyed: stop waiting
  // The last checkpoint saved (the starting position before the first save).
  std::atomic<std::int64_t> checkpoint{0};
  // Metrics: the store's sink for a subscription with a name (null otherwise), the highest head seen.
  std::shared_ptr<MetricsSink> metrics;
  std::string delivered_key;
  std::atomic<std::int64_t> head_seen{0};

  FeedReadOptions read_options() const {
    FeedReadOptions read;
    read.after = position.load();
    read.limit = options.page_size;
    read.with_data = options.with_data;
    read.filter = options.filter;
    return read;
  }
};

// The highest position delivered under each (store, context, name) in this process, for the
// entries delivered again after a subscription was reopened from an older checkpoint. Answers the
// one before `last`.
std::int64_t exchange_delivered(const std::string& key, std::int64_t last) {
  static std::mutex mutex;
  static std::map<std::string, std::int64_t> delivered;
  const std::lock_guard lock(mutex);
  std::int64_t& highest = delivered[key];
  const std::int64_t before = highest;
  highest = std::max(highest, last);
  return before;
}

void report_lag_positions(const State& state) {
  const std::array<std::string_view, 2> labels = {state.options.context, state.options.name};
  state.metrics->record(metrics::subscription_lag_positions, labels,
                        static_cast<double>(std::max<std::int64_t>(state.head_seen - state.checkpoint, 0)));
}

void see_head(State& state, std::int64_t head) {
  std::int64_t seen = state.head_seen.load();
  while (seen < head && !state.head_seen.compare_exchange_weak(seen, head)) {
  }
  report_lag_positions(state);
}

// A page delivered after `after`: entries delivered before, the age of the last one, and the
// checkpoint's distance from the head (read once more unless the page ends at it).
void report_delivery(const std::shared_ptr<State>& state, const FeedPage& page, std::int64_t after) {
  if (!state->metrics) return;
  const std::array<std::string_view, 2> labels = {state->options.context, state->options.name};
  const std::int64_t delivered_before = exchange_delivered(state->delivered_key, page.last_position);
  if (delivered_before > after) {
    const auto again = std::count_if(page.entries.begin(), page.entries.end(),
                                     [&](const FeedEntry& e) { return e.position <= delivered_before; });
    if (again > 0) state->metrics->record(metrics::subscription_duplicates_total, labels, static_cast<double>(again));
  }
  if (!page.entries.empty()) {
    const Timestamp committed = page.entries.back().event.timestamp;
    if (committed != Timestamp{}) {
      const double age = std::chrono::duration<double>(now_ms() - committed).count();
      state->metrics->record(metrics::subscription_lag_seconds, labels, std::max(age, 0.0));
    }
  } else if (page.last_position == after) {
    state->metrics->record(metrics::subscription_lag_seconds, labels, 0);
  }
  see_head(*state, page.last_position);
  if (page.last_position == after) return;  // at the head
  state->store->feed_head_async(state->options.context, [state](Result<std::int64_t> head) {
    if (head) see_head(*state, head.value());
  });
}

// Far enough to be "never" (a longer max_wait would overflow the clock's nanoseconds).
Clock::time_point deadline_after(std::chrono::milliseconds max_wait) {
  return Clock::now() + std::min<std::chrono::milliseconds>(max_wait, std::chrono::hours(24 * 365 * 100));
}

// A page covers a position when its last_position is past the one it was read after.
bool covers(const FeedPage& page, std::int64_t after) { return page.last_position > after; }

Error regressed(std::int64_t after, const FeedPage& page) {
  return Error(ErrorCode::kInternal, "feed page read after position " + std::to_string(after) + " ends at position " +
                                         std::to_string(page.last_position));
}

// One read of the asynchronous wait: delivers the page when it covers a position, when the
// deadline has passed or when the subscription is closed; otherwise reads again later.
void poll(const std::shared_ptr<State>& state, Clock::time_point deadline, Subscription::PageCallback callback) {
  const FeedReadOptions read = state->read_options();
  state->store->read_feed_async(
      state->options.context, read,
      [state, deadline, after = read.after, callback = std::move(callback)](Result<FeedPage> result) mutable {
        if (!result.ok()) {
          state->pending = false;
          return callback(std::move(result));
        }
        FeedPage page = std::move(result).value();
        if (page.last_position < after) {
          state->pending = false;
          return callback(regressed(after, page));
        }
        const Clock::time_point now = Clock::now();
        if (covers(page, after) || now >= deadline || state->closed) {
          state->position = page.last_position;
          state->pending = false;
          report_delivery(state, page, after);
          return callback(std::move(page));
        }
        const Clock::time_point next = std::min(now + state->options.poll_interval, deadline);
        detail::shared_timer().at(next, [state, deadline, callback = std::move(callback)]() mutable {
          poll(state, deadline, std::move(callback));
        });
      });
}

class PolledSubscription final : public Subscription {
 public:
  explicit PolledSubscription(std::shared_ptr<State> state) : state_(std::move(state)) {}
  ~PolledSubscription() override { state_->closed = true; }

  void next_page_async(std::chrono::milliseconds max_wait, PageCallback callback) override {
    if (max_wait < std::chrono::milliseconds::zero())
      return callback(Error::invalid("subscription: max_wait must not be negative"));
    if (state_->pending.exchange(true))
      return callback(Error::invalid("subscription: a page request is already under way"));
    poll(state_, deadline_after(max_wait), std::move(callback));
  }

  // The blocking wait sleeps on the caller's thread, never on the shared timer's.
  FeedPage wait_for_page(std::chrono::milliseconds max_wait) {
    if (max_wait < std::chrono::milliseconds::zero())
      throw Error::invalid("subscription: max_wait must not be negative");
    if (state_->pending.exchange(true)) throw Error::invalid("subscription: a page request is already under way");
    struct Release {
      State& state;
      ~Release() { state.pending = false; }
    } release{*state_};
    const Clock::time_point deadline = deadline_after(max_wait);
    for (;;) {
      const FeedReadOptions read = state_->read_options();
      FeedPage page = state_->store->read_feed(state_->options.context, read);
      if (page.last_position < read.after) throw regressed(read.after, page);
      const Clock::time_point now = Clock::now();
      if (covers(page, read.after) || now >= deadline) {
        state_->position = page.last_position;
        report_delivery(state_, page, read.after);
        return page;
      }
      std::this_thread::sleep_for(std::min<Clock::duration>(state_->options.poll_interval, deadline - now));
    }
  }

  std::int64_t position() const override { return state_->position; }

  std::int64_t save_checkpoint() override {
    if (state_->options.name.empty())
      throw Error::invalid("subscription: save_checkpoint needs a subscription with a name");
    const std::int64_t stored =
        state_->store->save_checkpoint(state_->options.context, state_->options.name, state_->position);
    state_->checkpoint = stored;
    if (state_->metrics) report_lag_positions(*state_);
    return stored;
  }

  void handler_failed() override {
    if (state_->pending) throw Error::invalid("subscription: a page request is under way");
    state_->position = std::min(state_->position.load(), state_->checkpoint.load());
    if (!state_->metrics) return;
    const std::array<std::string_view, 2> labels = {state_->options.context, state_->options.name};
    state_->metrics->record(metrics::subscription_handler_failures_total, labels, 1);
  }

 private:
  const std::shared_ptr<State> state_;
};

}  // namespace

std::unique_ptr<Subscription> Subscription::open(std::shared_ptr<Store> store, SubscriptionOptions options) {
  if (!store) throw Error::invalid("subscription: no store");
  validate(options);
  auto state = std::make_shared<State>();
  state->store = std::move(store);
  state->options = std::move(options);
  const SubscriptionOptions& o = state->options;
  std::optional<Checkpoint> checkpoint;
  if (!o.name.empty()) checkpoint = state->store->load_checkpoint(o.context, o.name);
  if (checkpoint) {
    state->position = checkpoint->position;
  } else {
    switch (o.start.kind) {
      case StartPosition::Kind::kBeginning: state->position = 0; break;
      case StartPosition::Kind::kAfter: state->position = o.start.position; break;
      case StartPosition::Kind::kEnd: state->position = state->store->feed_head(o.context); break;
    }
  }
  state->checkpoint = state->position.load();
  if (!o.name.empty() && state->store->metrics_sink()) {
    state->metrics = state->store->metrics_sink();
    state->delivered_key = state->store->describe() + '\n' + o.context + '\n' + o.name;
    state->head_seen = state->position.load();
  }
  return std::make_unique<PolledSubscription>(std::move(state));
}

FeedPage Subscription::next_page(std::chrono::milliseconds max_wait) {
  if (auto* polled = dynamic_cast<PolledSubscription*>(this)) return polled->wait_for_page(max_wait);
  return detail::wait_for<FeedPage>([&](auto done) { next_page_async(max_wait, std::move(done)); });
}

}  // namespace eventstore

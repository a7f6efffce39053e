// eventstore demo: drives example orders (examples/orders) through their life-cycle with
// AggregateStore<Order>, then shows what the store did.
//
// Order n (1, 2, 3, ...) has the id 0de30000-0000-8000-8000-<n in hex, 12 digits> and a fixed
// plan: a list of saves, each recording a few events, derived from n alone. Orders are created
// in number order, so a run finds the first missing number with a binary search on head(),
// finishes the order before it if an interrupted run left it open, then starts new orders.
// A version conflict (another writer on the same order) reloads it and resumes its plan. An
// unknown outcome (a cluster write that timed out) saves the same order object again: its events
// keep their ids, so the retry never applies a save twice (docs/example.md).
//
// The feed: the example's read model (examples/orders/customer_revenue.h) catches up with the
// context's feed, then follows it live while a writer thread drives the run's last orders.
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <functional>
#include <iterator>
#include <map>
#include <set>
#include <thread>

#include "cli.h"
#include "customer_revenue.h"
#include "metrics_listen.h"
#include "order.h"

namespace eventstore_cli {
namespace {

using orders::Order;
using orders::OrderAggregate;
using Clock = std::chrono::steady_clock;

constexpr const char* kContext = "demo";

eventstore::Uuid order_id(std::int64_t number) {
  std::array<std::uint8_t, 16> bytes{0x0d, 0xe3, 0, 0, 0, 0, 0x80, 0, 0x80, 0, 0, 0, 0, 0, 0, 0};
  for (int i = 0; i < 6; ++i) bytes[static_cast<std::size_t>(15 - i)] = static_cast<std::uint8_t>(number >> (8 * i));
  return eventstore::Uuid(bytes);
}

// splitmix64: a tiny deterministic generator, so an order's plan depends on its number only.
struct Rng {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  std::int64_t between(std::int64_t low, std::int64_t high) {
    return low + static_cast<std::int64_t>(next() % static_cast<std::uint64_t>(high - low + 1));
  }
};

struct Product {
  const char* sku;
  std::int64_t price_cents;
};
constexpr Product kCatalog[] = {
    {"book-dune", 1899},  {"book-sicp", 4599},  {"pen-blue", 199},    {"pen-red", 199},
    {"mug-large", 1250},  {"tea-green", 650},   {"tea-black", 590},   {"lamp-desk", 3499},
    {"cable-usb-c", 999}, {"socks-wool", 1500}, {"notebook-a5", 450}, {"headphones", 8999},
};

using Command = std::function<void(OrderAggregate&)>;
using Save = std::vector<Command>;  // the commands of one save; each records one event

std::vector<Save> plan(std::int64_t number) {
  Rng rng{static_cast<std::uint64_t>(number)};
  std::set<std::string> skus;  // what the order holds after the saves planned so far
  auto add_item = [&](Save& save) {
    const Product& product = kCatalog[rng.between(0, std::size(kCatalog) - 1)];
    const std::int64_t quantity = rng.between(1, 4);
    skus.insert(product.sku);
    save.push_back(
        [product, quantity](OrderAggregate& o) { orders::add_item(o, product.sku, quantity, product.price_cents); });
  };
  std::vector<Save> saves(1);
  const std::string customer = "customer-" + std::to_string(number % 50) + "@example.com";
  saves[0].push_back([customer](OrderAggregate& o) { orders::create(o, customer); });
  for (std::int64_t i = rng.between(1, 3); i > 0; --i) add_item(saves[0]);
  // Every 25th order is a bulk order: long enough for snapshots to matter on load.
  const bool bulk = number % 25 == 0;
  for (std::int64_t n = bulk ? 40 : rng.between(0, 4); n > 0; --n) {
    Save& save = saves.emplace_back();
    for (std::int64_t i = bulk ? rng.between(3, 6) : rng.between(1, 3); i > 0; --i) add_item(save);
    if (skus.size() > 1 && rng.between(1, 100) <= 25) {
      auto it = skus.begin();
      std::advance(it, rng.between(0, static_cast<std::int64_t>(skus.size()) - 1));
      const std::string sku = *it;
      skus.erase(it);
      save.push_back([sku](OrderAggregate& o) { orders::remove_item(o, sku); });
    }
  }
  const std::int64_t fate = rng.between(1, 100);
  if (fate <= 8) {
    saves.push_back({[](OrderAggregate& o) { orders::cancel(o, "customer changed their mind"); }});
    return saves;
  }
  saves.push_back({[](OrderAggregate& o) { orders::pay(o, o.state().total_cents()); }});
  if (fate <= 12) {
    saves.push_back({[](OrderAggregate& o) { orders::cancel(o, "out of stock"); }});
  } else {
    const std::string tracking = "TRK-" + std::to_string(100000 + number);
    saves.push_back({[tracking](OrderAggregate& o) { orders::ship(o, tracking); }});
  }
  return saves;
}

std::int64_t planned_events(const std::vector<Save>& saves) {
  std::int64_t total = 0;
  for (const Save& save : saves) total += static_cast<std::int64_t>(save.size());
  return total;
}

struct RunStats {
  std::uint64_t events = 0;
  std::uint64_t saves = 0;
  std::uint64_t conflicts = 0;
  std::uint64_t unknown_outcomes = 0;
  std::uint64_t resumed = 0;
  std::uint64_t off_plan = 0;
  std::uint64_t shipped = 0;
  std::uint64_t cancelled = 0;
  std::int64_t biggest = 0;  // the order number with the most events
  std::int64_t biggest_version = 0;
  std::map<std::int64_t, std::int64_t> saved_to;  // order number -> its version after this run's saves
};

// Brings order `number` to the end of its plan.
void drive(eventstore::AggregateStore<Order>& repository, std::int64_t number, RunStats& stats) {
  const std::vector<Save> saves = plan(number);
  std::vector<std::int64_t> version_before(1, 0);  // version_before[k]: version when save k starts
  for (const Save& save : saves)
    version_before.push_back(version_before.back() + static_cast<std::int64_t>(save.size()));
  OrderAggregate order = repository.load(order_id(number));
  if (order.version() > 0) ++stats.resumed;
  constexpr int kMaxUnknownInARow = 5;
  int unknown_in_a_row = 0;
  for (;;) {
    const auto at = std::find(version_before.begin(), version_before.end(), order.version());
    if (at == version_before.end()) {  // someone else wrote to it: leave it alone
      ++stats.off_plan;
      break;
    }
    const std::size_t k = static_cast<std::size_t>(at - version_before.begin());
    if (k == saves.size()) break;
    // Still holding the events of a save whose outcome was unknown: save them again as they are.
    if (order.uncommitted().empty())
      for (const Command& command : saves[k]) command(order);
    try {
      const eventstore::SaveResult saved = repository.save(order);
      stats.events += saved.append ? saved.append->event_ids.size() : 0;
      ++stats.saves;
      stats.saved_to[number] = order.version();
      unknown_in_a_row = 0;
    } catch (const eventstore::Error& e) {
      if (e.code() == eventstore::ErrorCode::kOutcomeUnknown && ++unknown_in_a_row < kMaxUnknownInARow) {
        ++stats.unknown_outcomes;
        continue;
      }
      if (e.code() != eventstore::ErrorCode::kVersionConflict) throw;
      ++stats.conflicts;
      unknown_in_a_row = 0;
      order = repository.load(order_id(number));
    }
  }
  if (stats.saved_to.contains(number)) stats.saved_to[number] = order.version();
  if (order.state().status == orders::Status::kShipped) ++stats.shipped;
  if (order.state().status == orders::Status::kCancelled) ++stats.cancelled;
  if (order.version() > stats.biggest_version) {
    stats.biggest_version = order.version();
    stats.biggest = number;
  }
}

// The first order number without a stream; orders 1..result-1 exist.
std::int64_t first_missing(eventstore::Store& store) {
  auto exists = [&store](std::int64_t number) {
    return store.head(eventstore::StreamId{kContext, std::string(Order::aggregate_type), order_id(number)}) > 0;
  };
  std::int64_t missing = 1;
  while (exists(missing)) missing *= 2;
  std::int64_t present = missing / 2;  // 0 or an existing order
  while (missing - present > 1) {
    const std::int64_t middle = present + (missing - present) / 2;
    (exists(middle) ? present : missing) = middle;
  }
  return missing;
}

// The same aggregate without JSON conversion: AggregateStore<Replay> cannot snapshot it, so
// its loads replay every event from version 1.
struct Replay {
  static constexpr std::string_view aggregate_type = Order::aggregate_type;
  using Event = Order::Event;
  Order order;
  template <class E>
  void apply(const E& event) {
    order.apply(event);
  }
};

template <class A>
double median_load_ms(eventstore::AggregateStore<A>& repository, const eventstore::Uuid& id) {
  std::vector<double> times;
  for (int i = 0; i < 7; ++i) {
    const auto start = Clock::now();
    const auto loaded = repository.load(id);
    times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    if (loaded.version() == 0) throw eventstore::Error(eventstore::ErrorCode::kInternal, "demo order vanished");
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

class ProgressBar {
 public:
  ProgressBar(bool enabled, std::size_t total) : enabled_(enabled), total_(total) {}
  void update(std::size_t done) {
    if (!enabled_) return;
    const std::size_t filled = total_ ? done * kWidth / total_ : kWidth;
    if (done != total_ && filled == last_filled_ && Clock::now() - last_draw_ < std::chrono::milliseconds(100)) return;
    last_filled_ = filled;
    last_draw_ = Clock::now();
    std::fprintf(stderr, "\rdemo [%s%s] %zu/%zu orders", std::string(filled, '#').c_str(),
                 std::string(kWidth - filled, '.').c_str(), done, total_);
    if (done == total_) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  }

 private:
  static constexpr std::size_t kWidth = 40;
  bool enabled_;
  std::size_t total_;
  std::size_t last_filled_ = kWidth + 1;
  Clock::time_point last_draw_{};
};

// What the read model did: a catch-up, then live while the writer drove the last orders.
struct FeedRun {
  std::string read_model;       // its file, or "in memory"
  std::int64_t started_at = 0;  // its position when opened
  std::int64_t caught_up_to = 0;
  std::size_t caught_up_events = 0;
  double catch_up_seconds = 0;
  std::size_t live_events = 0;
  std::size_t live_pages = 0;
  std::vector<double> lags_ms;  // per live event: from its append to its page being applied
  double drive_seconds = 0;     // the writer's time in saves
};

// Catches `read_model` up with the feed, then follows it while a writer thread drives `live` (in
// order, paced like a shop's checkouts so that the pages are small) until the read model holds
// every version this run saved of every order. That end test holds on a cluster too, where the
// relay publishes within its delay and another stream's events may come first (docs/feed.md).
void follow_feed(const std::shared_ptr<eventstore::Store>& store, eventstore::AggregateStore<Order>& repository,
                 orders::CustomerRevenue& read_model, const std::vector<std::int64_t>& live, RunStats& stats,
                 ProgressBar& progress, std::size_t done_before, FeedRun& run) {
  const std::unique_ptr<eventstore::Subscription> feed = read_model.subscribe(store, kContext);
  std::map<eventstore::Uuid, std::int64_t> seen;  // order -> highest version in the read model
  auto apply = [&](const eventstore::FeedPage& page) {
    for (const eventstore::FeedEntry& entry : page.entries) {
      std::int64_t& version = seen[entry.event.stream.aggregate_id];
      version = std::max(version, entry.event.version);
    }
    return read_model.apply(page);
  };

  run.started_at = read_model.position();
  const auto start = Clock::now();
  for (;;) {
    const eventstore::FeedPage page = feed->next_page();
    if (page.last_position == read_model.position()) break;
    run.caught_up_events += apply(page);
  }
  run.catch_up_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  run.caught_up_to = read_model.position();

  std::atomic<bool> writing{true};
  std::exception_ptr writer_error;
  std::jthread writer([&] {  // joins on the way out, also when the loop below throws
    try {
      for (std::size_t i = 0; i < live.size(); ++i) {
        const auto saves_start = Clock::now();
        drive(repository, live[i], stats);
        run.drive_seconds += std::chrono::duration<double>(Clock::now() - saves_start).count();
        progress.update(done_before + i + 1);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    } catch (...) {
      writer_error = std::current_exception();
    }
    writing = false;
  });
  auto all_seen = [&] {  // read only once the writer is done with `stats`
    for (const auto& [number, version] : stats.saved_to)
      if (seen[order_id(number)] < version) return false;
    return true;
  };
  while (writing || (!writer_error && !all_seen())) {
    const eventstore::FeedPage page = feed->next_page(std::chrono::milliseconds(100));
    const std::size_t applied = apply(page);
    if (applied == 0) continue;
    run.live_events += applied;
    ++run.live_pages;
    const eventstore::Timestamp now = eventstore::now_ms();
    for (const eventstore::FeedEntry& entry : page.entries)
      run.lags_ms.push_back(std::chrono::duration<double, std::milli>(now - entry.event.timestamp).count());
  }
  writer.join();
  if (writer_error) std::rethrow_exception(writer_error);
}

std::string money(std::int64_t cents) {
  char text[32];
  std::snprintf(text, sizeof text, "%lld.%02lld", static_cast<long long>(cents / 100),
                static_cast<long long>(cents % 100));
  return text;
}

void print_feed(eventstore::Store& store, const orders::CustomerRevenue& read_model, FeedRun& run) {
  std::printf("\nFeed\n");
  std::printf("feed head:          %lld (every event of context '%s', at positions 1, 2, 3, ...)\n",
              static_cast<long long>(store.feed_head(kContext)), kContext);
  std::printf("catch-up:           read model (%s) from position %lld to %lld: %zu events in %.3f s\n",
              run.read_model.c_str(), static_cast<long long>(run.started_at), static_cast<long long>(run.caught_up_to),
              run.caught_up_events, run.catch_up_seconds);
  std::sort(run.lags_ms.begin(), run.lags_ms.end());
  if (!run.lags_ms.empty())
    std::printf(
        "live:               %zu events in %zu pages while the last orders were saved; append to "
        "read model: median %.0f ms, max %.0f ms\n",
        run.live_events, run.live_pages, run.lags_ms[run.lags_ms.size() / 2], run.lags_ms.back());
  std::int64_t orders = 0, cancelled = 0, revenue = 0;
  const std::vector<orders::CustomerTotals> customers = read_model.customers();
  for (const orders::CustomerTotals& c : customers) {
    orders += c.orders;
    cancelled += c.cancelled;
    revenue += c.revenue_cents;
  }
  std::printf("read model:         %lld orders by %zu customers, %lld cancelled, revenue %s\n",
              static_cast<long long>(orders), customers.size(), static_cast<long long>(cancelled),
              money(revenue).c_str());
  if (!customers.empty())
    std::printf("best customer:      %s, %lld order%s, revenue %s\n", customers[0].customer.c_str(),
                static_cast<long long>(customers[0].orders), customers[0].orders == 1 ? "" : "s",
                money(customers[0].revenue_cents).c_str());
  // The projection resumes from the position stored with its rows. The checkpoint in the store is
  // a copy for monitoring: feed_status (`eventstore feed status`) lists every subscriber's position.
  store.save_checkpoint(kContext, "customer_revenue", read_model.position());
  std::string checkpoints;
  for (const eventstore::Checkpoint& c : store.feed_status(kContext).checkpoints)
    checkpoints += (checkpoints.empty() ? "" : ", ") + c.name + " at " + std::to_string(c.position);
  std::printf("position:           %lld, stored with the read model's rows; checkpoints in the store: %s\n",
              static_cast<long long>(read_model.position()), checkpoints.c_str());
}

}  // namespace

int run_demo(const std::string& uri, const DemoArgs& args) {
  const std::int64_t count = parse_integer(args.orders, "--orders", 1, 1000000);
  const std::int64_t every = parse_integer(args.snapshot_every, "--snapshot-every", 1, 1000000);

  const std::shared_ptr<eventstore::Store> store =
      eventstore::open_store(uri, metrics_store_options(args.metrics_listen));
  eventstore::AggregateStoreOptions options;
  options.snapshot_policy = eventstore::every_n_events(every);
  eventstore::AggregateStore<Order> repository(store, kContext, options);

  // Which orders this run drives: the one an interrupted run left open, then new ones.
  std::int64_t next = first_missing(*store);
  std::vector<std::int64_t> numbers;
  if (next > 1) {
    const std::int64_t last = next - 1;
    if (store->head(repository.stream_of(order_id(last))) < planned_events(plan(last))) numbers.push_back(last);
  }
  while (static_cast<std::int64_t>(numbers.size()) < count) numbers.push_back(next++);

  // The last orders (up to 10, at most half) are driven while the read model follows the feed.
  const std::size_t live_count = std::min<std::size_t>(10, numbers.size() / 2);
  const std::vector<std::int64_t> live(numbers.end() - static_cast<std::ptrdiff_t>(live_count), numbers.end());

  RunStats stats;
  ProgressBar progress(!args.quiet && isatty(STDERR_FILENO), numbers.size());
  const auto start = Clock::now();
  for (std::size_t i = 0; i + live_count < numbers.size(); ++i) {
    progress.update(i);
    drive(repository, numbers[i], stats);
  }
  progress.update(numbers.size() - live_count);
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();

  // A cluster's feed is ordered by a relay (docs/feed.md); memory: and sqlite: need none (nullptr).
  eventstore::RelayOptions relay_options;
  relay_options.context = kContext;
  const std::unique_ptr<eventstore::FeedRelay> relay = store->start_relay(relay_options);
  const std::string read_model_path = orders::default_read_model_path(uri);
  orders::CustomerRevenue read_model(read_model_path);
  FeedRun feed;
  feed.read_model = read_model_path == ":memory:" ? "in memory" : read_model_path;
  follow_feed(store, repository, read_model, live, stats, progress, numbers.size() - live_count, feed);
  seconds += feed.drive_seconds;

  if (stats.biggest == 0) throw eventstore::Error(eventstore::ErrorCode::kInternal, "the demo drove no order");
  const eventstore::Uuid biggest = order_id(stats.biggest);
  eventstore::AggregateStoreOptions replay_options;
  replay_options.snapshot_policy = eventstore::never();
  eventstore::AggregateStore<Replay> replay(store, kContext, replay_options);
  const double with_snapshot_ms = median_load_ms(repository, biggest);
  const double replay_ms = median_load_ms(replay, biggest);
  const std::optional<eventstore::Snapshot> snapshot = store->load_snapshot(repository.stream_of(biggest));
  const std::int64_t snapshot_version = snapshot ? snapshot->version : 0;

  std::printf("demo on %s (bounded context '%s', aggregate type '%s')\n", printable_uri(store->describe()).c_str(),
              kContext, std::string(Order::aggregate_type).c_str());
  std::printf("orders:             #%lld..#%lld in this run (%zu orders, %llu resumed); %lld in the store\n",
              static_cast<long long>(numbers.front()), static_cast<long long>(numbers.back()), numbers.size(),
              static_cast<unsigned long long>(stats.resumed), static_cast<long long>(next - 1));
  std::printf("outcomes:           %llu shipped, %llu cancelled%s\n", static_cast<unsigned long long>(stats.shipped),
              static_cast<unsigned long long>(stats.cancelled),
              stats.off_plan ? (", " + std::to_string(stats.off_plan) + " changed by others, left alone").c_str() : "");
  std::printf("events appended:    %llu in %llu saves, %.2f s (%.0f events/s)%s%s\n",
              static_cast<unsigned long long>(stats.events), static_cast<unsigned long long>(stats.saves), seconds,
              seconds > 0 ? static_cast<double>(stats.events) / seconds : 0.0,
              stats.conflicts ? (", " + std::to_string(stats.conflicts) + " conflicts retried").c_str() : "",
              stats.unknown_outcomes
                  ? (", " + std::to_string(stats.unknown_outcomes) + " unknown outcomes saved again").c_str()
                  : "");
  std::printf("snapshots taken:    %llu (every %lld events)\n",
              static_cast<unsigned long long>(repository.stats().snapshots_written), static_cast<long long>(every));
  const std::int64_t tail = stats.biggest_version - snapshot_version;
  std::printf("load with snapshot: %.3f ms (order #%lld: snapshot at version %lld + %lld event%s)\n", with_snapshot_ms,
              static_cast<long long>(stats.biggest), static_cast<long long>(snapshot_version),
              static_cast<long long>(tail), tail == 1 ? "" : "s");
  std::printf("load by replay:     %.3f ms (all %lld events from version 1; median of 7 loads each)\n", replay_ms,
              static_cast<long long>(stats.biggest_version));

  // The stream of the run's last order that is not a (long) bulk order.
  std::int64_t shown = numbers.back();
  for (auto it = numbers.rbegin(); it != numbers.rend(); ++it)
    if (*it % 25 != 0) {
      shown = *it;
      break;
    }
  const eventstore::StreamId stream = repository.stream_of(order_id(shown));
  std::printf("stream of order #%lld (%s), %lld events:\n", static_cast<long long>(shown),
              stream.aggregate_id.to_string().c_str(), static_cast<long long>(store->head(stream)));
  store->for_each(stream, {}, [](const eventstore::RecordedEvent& e) { print_line(event_json_line(e)); });
  print_feed(*store, read_model, feed);
  print_demo_lifecycle(store, order_id(stats.biggest));
  return 0;
}

}  // namespace eventstore_cli

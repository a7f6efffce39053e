// eventstore bench feed: how fast the feed delivers (docs/BENCHMARKS.md, "The feed").
//  1. ceiling: --concurrency threads append as fast as they can, one stream each;
//  2. delivery: one thread appends at a steady rate (--rate, default half the ceiling) while a
//     live Subscription follows the context's feed; each event's delay from the append's
//     acknowledgement to its delivery is recorded;
//  3. catch-up: a Subscription reads the whole context from the start, against the store's
//     paged feed read of the same positions (read_feed in a loop), alternating A-B-B-A.
// On a cluster the command runs a relay for its context in-process.
#include <atomic>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>

#include "bench.h"
#include "bench_core.h"
#include "bench_targets.h"
#include "cli.h"
#include "eventstore/eventstore.h"

namespace eventstore_cli::bench {
namespace {

using eventstore::EventData;
using eventstore::ExpectedVersion;
using eventstore::StreamId;
using eventstore::Uuid;

EventData bench_event(std::uint64_t size, std::uint64_t seq) {
  return EventData{Uuid::random(), "BenchEvent", payload(size, seq), std::nullopt, std::nullopt};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return 0;
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Phase 1: events/s with --concurrency blocking appenders, one stream each.
double measure_ceiling(eventstore::Store& store, const std::string& context, const BenchArgs& args,
                       Progress& progress) {
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> acked{0};
  std::vector<std::thread> threads;
  for (std::uint64_t t = 0; t < args.concurrency; ++t) {
    threads.emplace_back([&, t] {
      const StreamId stream{context, "BenchCeiling", Uuid::random()};
      std::int64_t version = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        try {
          std::vector<EventData> events{bench_event(args.event_size, t)};
          store.append(stream, ExpectedVersion::exact(version), std::move(events));
          ++version;
          acked.fetch_add(1, std::memory_order_relaxed);
        } catch (const eventstore::Error&) {
          version = store.head(stream);
        }
      }
    });
  }
  const Clock::time_point start = Clock::now();
  const auto total = std::chrono::duration<double>(args.warmup_s + args.duration_s);
  std::uint64_t at_window_start = 0;
  Clock::time_point window_start = start;
  bool measuring = args.warmup_s <= 0;
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const Clock::time_point now = Clock::now();
    if (!measuring && seconds(now - start) >= args.warmup_s) {
      measuring = true;
      at_window_start = acked.load();
      window_start = now;
    }
    progress.update("ceiling", seconds(now - start) / total.count(), std::to_string(acked.load()) + " appends");
    if (seconds(now - start) >= total.count()) break;
  }
  const std::uint64_t in_window = acked.load() - at_window_start;
  const double window = seconds(Clock::now() - window_start);
  stop = true;
  for (std::thread& thread : threads) thread.join();
  progress.finish();
  return static_cast<double>(in_window) / std::max(window, 1e-9);
}

struct Delivery {
  double rate = 0;
  std::uint64_t appended = 0;
  std::uint64_t delivered = 0;
  std::uint64_t missing = 0;     // acknowledged, never delivered within the wait
  std::uint64_t before_ack = 0;  // delivered before the append's callback ran (counted as 0 ms)
  Histogram latency;
};

// Phase 2: a paced writer and a live subscriber.
Delivery measure_delivery(std::shared_ptr<eventstore::Store> store, const std::string& context, double rate,
                          const BenchArgs& args, Progress& progress) {
  constexpr std::uint64_t kStreams = 1000;
  const auto count = static_cast<std::uint64_t>(std::ceil(rate * args.duration_s));
  std::vector<std::vector<EventData>> batches;
  std::unordered_map<Uuid, std::uint64_t> seq_of;
  for (std::uint64_t i = 0; i < count; ++i) {
    batches.push_back({bench_event(args.event_size, i)});
    seq_of.emplace(*batches.back()[0].event_id, i);
  }
  std::vector<StreamId> streams;
  for (std::uint64_t s = 0; s < kStreams; ++s) streams.push_back(StreamId{context, "BenchFeed", Uuid::random()});

  const Clock::time_point t0 = Clock::now();
  const auto since_t0 = [t0] {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
  };
  std::vector<std::atomic<std::int64_t>> acked_at(count);
  std::vector<std::int64_t> delivered_at(count, -1);
  for (auto& a : acked_at) a = -1;

  eventstore::SubscriptionOptions options;
  options.context = context;
  options.start = eventstore::StartPosition::end();
  options.with_data = false;
  options.page_size = static_cast<std::uint32_t>(args.page_size);
  auto subscription = eventstore::Subscription::open(store, options);
  std::atomic<bool> writer_done{false};
  std::atomic<std::uint64_t> delivered{0};
  std::atomic<std::uint64_t> acked{0};
  std::thread subscriber([&] {
    Clock::time_point quiet_since = Clock::now();
    for (;;) {
      const eventstore::FeedPage page = subscription->next_page(std::chrono::milliseconds(200));
      const std::int64_t now = since_t0();
      for (const eventstore::FeedEntry& entry : page.entries) {
        auto it = seq_of.find(entry.event.event_id);
        if (it == seq_of.end() || delivered_at[it->second] >= 0) continue;
        delivered_at[it->second] = now;
        delivered.fetch_add(1);
      }
      if (!page.entries.empty()) quiet_since = Clock::now();
      if (writer_done && delivered.load() >= acked.load()) return;
      if (writer_done && Clock::now() - quiet_since > std::chrono::seconds(60)) return;
    }
  });

  // The writer: append i is due at t0 + i / rate; one append in flight per stream.
  std::vector<std::int64_t> version(kStreams, 0);
  std::vector<std::atomic<bool>> busy(kStreams);
  std::mutex version_mutex;
  std::atomic<std::uint64_t> in_flight{0};
  std::uint64_t next_stream = 0;
  for (std::uint64_t i = 0; i < count; ++i) {
    const auto due =
        t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(static_cast<double>(i) / rate));
    std::this_thread::sleep_until(due);
    std::uint64_t s = next_stream;
    for (std::uint64_t tried = 0; busy[s].load() && tried < kStreams; ++tried) s = (s + 1) % kStreams;
    next_stream = (s + 1) % kStreams;
    busy[s] = true;
    std::int64_t expected;
    {
      std::lock_guard lock(version_mutex);
      expected = version[s];
    }
    in_flight.fetch_add(1);
    store->append_async(streams[s], ExpectedVersion::exact(expected), std::move(batches[i]),
                        [&, s, i](eventstore::Result<eventstore::AppendResult> result) {
                          if (result.ok()) {
                            acked_at[i] = since_t0();
                            acked.fetch_add(1);
                            std::lock_guard lock(version_mutex);
                            version[s] = result.value().next_expected_version;
                          }
                          busy[s] = false;
                          in_flight.fetch_sub(1);
                        });
    if (i % 64 == 0)
      progress.update("delivery", static_cast<double>(i) / static_cast<double>(count),
                      std::to_string(delivered.load()) + " of " + std::to_string(acked.load()) + " delivered");
  }
  while (in_flight.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  writer_done = true;
  subscriber.join();
  progress.finish();

  Delivery d;
  d.rate = rate;
  d.appended = acked.load();
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::int64_t ack = acked_at[i].load();
    if (ack < 0) continue;
    if (delivered_at[i] < 0) {
      ++d.missing;
      continue;
    }
    ++d.delivered;
    if (delivered_at[i] < ack) ++d.before_ack;
    d.latency.record(static_cast<std::uint64_t>(std::max<std::int64_t>(0, delivered_at[i] - ack)));
  }
  return d;
}

// Phase 3: events/s of a whole-context read, by a Subscription and by read_feed pages.
struct CatchUp {
  std::uint64_t events = 0;
  std::vector<double> subscription_rates;
  std::vector<double> paged_rates;
};

CatchUp measure_catch_up(std::shared_ptr<eventstore::Store> store, const std::string& context, const BenchArgs& args,
                         Progress& progress) {
  const auto page_size = static_cast<std::uint32_t>(args.page_size);
  auto by_subscription = [&] {
    eventstore::SubscriptionOptions options;
    options.context = context;
    options.page_size = page_size;
    auto subscription = eventstore::Subscription::open(store, options);
    std::uint64_t n = 0;
    const Clock::time_point start = Clock::now();
    for (;;) {
      const eventstore::FeedPage page = subscription->next_page();
      if (page.entries.empty()) break;
      n += page.entries.size();
    }
    return std::make_pair(n, seconds(Clock::now() - start));
  };
  auto by_pages = [&] {
    eventstore::FeedReadOptions options;
    options.limit = page_size;
    std::uint64_t n = 0;
    const Clock::time_point start = Clock::now();
    for (;;) {
      const eventstore::FeedPage page = store->read_feed(context, options);
      if (page.last_position == options.after) break;
      n += page.entries.size();
      options.after = page.last_position;
    }
    return std::make_pair(n, seconds(Clock::now() - start));
  };
  CatchUp c;
  const char* order = "ABBAABBA";  // A: subscription, B: pages
  for (int i = 0; order[i]; ++i) {
    progress.update("catch-up", i / 8.0, order[i] == 'A' ? "subscription" : "paged read");
    const auto [n, s] = order[i] == 'A' ? by_subscription() : by_pages();
    c.events = n;
    (order[i] == 'A' ? c.subscription_rates : c.paged_rates).push_back(static_cast<double>(n) / std::max(s, 1e-9));
  }
  progress.finish();
  return c;
}

}  // namespace

int run_feed(const std::string& uri, BenchArgs& args) {
  if (args.concurrency < 1 || args.concurrency > 1024) throw UsageError("--concurrency must be 1..1024");
  if (args.event_size < 16 || args.event_size > 1024 * 1024) throw UsageError("--event-size must be 16..1048576 bytes");
  if (!(args.duration_s > 0)) throw UsageError("--duration-s must be > 0");
  if (!(args.warmup_s >= 0)) throw UsageError("--warmup-s must be >= 0");
  if (args.rate && !(*args.rate > 0)) throw UsageError("--rate must be > 0");
  if (args.page_size < 1 || args.page_size > 100000) throw UsageError("--page-size must be 1..100000");

  std::shared_ptr<eventstore::Store> store = eventstore::open_store(uri);
  const std::string context = "bench_feed_" + Uuid::random().to_string().substr(0, 8);
  eventstore::RelayOptions relay_options;
  relay_options.context = context;
  const std::unique_ptr<eventstore::FeedRelay> relay = store->start_relay(relay_options);
  Progress progress(!args.json && !args.quiet);

  const double ceiling = measure_ceiling(*store, context, args, progress);
  const double rate = args.rate.value_or(ceiling / 2);
  const Delivery d = measure_delivery(store, context, rate, args, progress);
  const CatchUp c = measure_catch_up(store, context, args, progress);

  auto r1 = [](double v) { return std::round(v * 10.0) / 10.0; };
  auto r3 = [](double v) { return std::round(v * 1000.0) / 1000.0; };
  nlohmann::ordered_json j;
  j["command"] = "feed";
  j["store"] = printable_uri(uri);
  j["relay"] = relay != nullptr;
  j["concurrency"] = args.concurrency;
  j["event_size"] = args.event_size;
  j["ceiling_events_per_s"] = r1(ceiling);
  j["rate_events_per_s"] = r1(d.rate);
  j["appended"] = d.appended;
  j["delivered"] = d.delivered;
  j["missing"] = d.missing;
  j["delivered_before_ack"] = d.before_ack;
  j["delivery"] = latency_json(d.latency);
  j["catch_up_events"] = c.events;
  j["subscription_events_per_s"] = r1(median(c.subscription_rates));
  j["paged_events_per_s"] = r1(median(c.paged_rates));
  j["subscription_to_paged"] = r3(median(c.subscription_rates) / std::max(median(c.paged_rates), 1e-9));
  j["subscription_runs"] = c.subscription_rates;
  j["paged_runs"] = c.paged_rates;
  if (relay) {
    const eventstore::RelayStats stats = relay->stats();
    j["relay_repairs"] = stats.repairs;
    j["relay_events_published"] = stats.events_published;
  }
  if (args.json) {
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("eventstore bench feed  %s  (context %s%s)\n", j["store"].get<std::string>().c_str(), context.c_str(),
                relay ? ", relay in-process" : "");
    std::printf("  append ceiling           %10.1f events/s  (%llu threads, %llu B events)\n", ceiling,
                static_cast<unsigned long long>(args.concurrency), static_cast<unsigned long long>(args.event_size));
    std::printf("  delivery at              %10.1f events/s  %llu delivered, %llu missing\n", d.rate,
                static_cast<unsigned long long>(d.delivered), static_cast<unsigned long long>(d.missing));
    std::printf("  ack to delivery          p50 %.3f ms  p95 %.3f ms  p99 %.3f ms  max %.3f ms\n",
                d.latency.quantile_ms(0.5), d.latency.quantile_ms(0.95), d.latency.quantile_ms(0.99),
                d.latency.max_ms());
    std::printf("  catch-up (%llu events)   subscription %.0f events/s, paged read %.0f events/s, ratio %.3f\n",
                static_cast<unsigned long long>(c.events), median(c.subscription_rates), median(c.paged_rates),
                j["subscription_to_paged"].get<double>());
  }
  return d.missing == 0 ? 0 : 1;
}

}  // namespace eventstore_cli::bench

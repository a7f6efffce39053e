// eventstore bench load: time to load an aggregate (AggregateStore::load) whose stream holds N
// events, without snapshots (replay everything) and with a snapshot every K events (load the
// latest snapshot, replay the tail). On scylla:// also the ceiling of a full replay: the same
// rows read in pages of the same size straight through the driver bridge (no decoding, no apply).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <future>

#include "bench_targets.h"
#ifdef EVENTSTORE_CLI_WITH_SCYLLA
#include "bench_scylla_raw.h"
#endif
#include "cli.h"
#include "eventstore/eventstore.h"

namespace eventstore_cli::bench {

// A counter: the smallest useful aggregate. One event type; its data is padded to --event-size.
struct Incremented {
  static constexpr std::string_view event_type = "Incremented";
  std::int64_t by = 1;
  std::string pad;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Incremented, by, pad)

// Not snapshottable (no JSON conversion): the aggregate store never looks for a snapshot.
struct PlainCounter {
  static constexpr std::string_view aggregate_type = "bench_counter";
  using Event = std::variant<Incremented>;
  std::int64_t count = 0;
  std::int64_t total = 0;
  void apply(const Incremented& e) {
    ++count;
    total += e.by;
  }
};

// The same aggregate, snapshottable.
struct SnapCounter : PlainCounter {};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(SnapCounter, count, total)

namespace {

constexpr const char* kContext = "bench";

struct Point {
  std::int64_t length = 0;
  bool snapshots = false;
  std::int64_t replayed = 0;
  std::uint64_t page_size = 0;
  std::vector<double> ms;
  bool raw = false;  // the raw paged read, not a load
};

#ifdef EVENTSTORE_CLI_WITH_SCYLLA
// Reads every row of `stream` forward in pages of `page_size` through the bridge; blocking.
std::int64_t raw_replay(RawScylla& raw, std::size_t stream, std::int32_t page_size) {
  struct Wait {
    std::promise<std::pair<Outcome, std::int64_t>> done;
  } wait;
  raw.read(
      stream, false, 1, 0, page_size,
      [](void* context, Outcome outcome, std::int64_t rows, std::int64_t, const char*) noexcept {
        static_cast<Wait*>(context)->done.set_value({outcome, rows});
      },
      &wait);
  const auto [outcome, rows] = wait.done.get_future().get();
  if (outcome != Outcome::kApplied)
    throw eventstore::Error(eventstore::ErrorCode::kUnavailable, "bench load: the raw paged read failed");
  return rows;
}
#endif

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

void check(const PlainCounter& c, std::int64_t length) {
  if (c.count != length) throw eventstore::Error(eventstore::ErrorCode::kInternal, "bench load: loaded a wrong count");
}
void check(const SnapCounter& c, std::int64_t length) {
  if (c.count != length) throw eventstore::Error(eventstore::ErrorCode::kInternal, "bench load: loaded a wrong count");
}

}  // namespace

int run_load(const std::string& uri, const BenchArgs& args) {
  if (args.raw) throw UsageError("bench load has no --raw mode");
  if (args.lengths.empty()) throw UsageError("--lengths needs at least one length");
  for (std::int64_t n : args.lengths)
    if (n < 1 || n > 10'000'000) throw UsageError("--lengths must be 1..10000000 each");
  if (args.snapshot_every < 1) throw UsageError("--snapshot-every must be >= 1");
  if (args.repeats < 1) throw UsageError("--repeats must be >= 1");
  if (args.populate_batch < 1 || args.populate_batch > 1000) throw UsageError("--populate-batch must be 1..1000");
  if (args.page_size < 1 || args.page_size > 100000) throw UsageError("--page-size must be 1..100000");
  if (args.compare_page_size > 100000) throw UsageError("--compare-page-size must be 1..100000");

  Progress progress(!args.json && !args.quiet);
  std::shared_ptr<eventstore::Store> store = eventstore::open_store(uri);
  eventstore::AggregateStoreOptions options;
  options.snapshot_policy = eventstore::never();
  options.page_size = static_cast<std::uint32_t>(args.page_size);
  eventstore::AggregateStore<PlainCounter> plain(store, kContext, options);
  eventstore::AggregateStore<SnapCounter> snapped(store, kContext, options);
  eventstore::AggregateStoreOptions compared_options = options;
  if (args.compare_page_size > 0) compared_options.page_size = static_cast<std::uint32_t>(args.compare_page_size);
  eventstore::AggregateStore<PlainCounter> plain_compared(store, kContext, compared_options);
#ifdef EVENTSTORE_CLI_WITH_SCYLLA
  std::unique_ptr<RawScylla> raw;
  if (backend_name(uri) == "scylla") raw = RawScylla::connect(uri, RawShape::kStore);
#endif
  std::vector<std::size_t> raw_streams;

  // Fill one stream per length, in big appends, and store the snapshot the every-K policy
  // would have written last (at the highest multiple of K).
  Incremented event;
  const std::string base = nlohmann::json(event).dump();
  if (args.event_size > base.size()) event.pad.assign(args.event_size - base.size(), 'x');
  const std::string data = nlohmann::json(event).dump();
  std::vector<eventstore::Uuid> ids;
  std::int64_t total = 0, filled = 0;
  for (std::int64_t n : args.lengths) total += n;
  const Clock::time_point fill_start = Clock::now();
  for (std::int64_t n : args.lengths) {
    const eventstore::Uuid id = eventstore::Uuid::random();
    ids.push_back(id);
    const eventstore::StreamId stream = plain.stream_of(id);
#ifdef EVENTSTORE_CLI_WITH_SCYLLA
    if (raw) raw_streams.push_back(raw->add_stream(stream.bounded_context, stream.aggregate_type, id.bytes()));
#endif
    for (std::int64_t at = 0; at < n;) {
      const auto count = std::min<std::int64_t>(static_cast<std::int64_t>(args.populate_batch), n - at);
      std::vector<eventstore::EventData> events(static_cast<std::size_t>(count));
      for (auto& e : events) {
        e.event_type = std::string(Incremented::event_type);
        e.data = data;
      }
      store->append(stream, eventstore::ExpectedVersion::exact(at), std::move(events));
      at += count;
      filled += count;
      char detail[64];
      std::snprintf(detail, sizeof detail, "%lld / %lld events", static_cast<long long>(filled),
                    static_cast<long long>(total));
      progress.update("fill", static_cast<double>(filled) / static_cast<double>(total), detail);
    }
    const std::int64_t at = (n / args.snapshot_every) * args.snapshot_every;
    if (at > 0) {
      eventstore::Snapshot snapshot;
      snapshot.version = at;
      snapshot.data = nlohmann::json(SnapCounter{at, at}).dump();
      snapshot.timestamp = eventstore::now_ms();
      store->save_snapshot(stream, snapshot);
    }
  }
  const double fill_s = seconds(Clock::now() - fill_start);

  std::vector<Point> points;
  const Usage cpu_before = Usage::now();
  std::uint64_t loads = 0;
  for (std::size_t i = 0; i < args.lengths.size(); ++i) {
    const std::int64_t n = args.lengths[i];
    Point off{n, false, n, args.page_size, {}};
    Point compared{n, false, n, args.compare_page_size, {}};
    Point on{n, true, n - (n / args.snapshot_every) * args.snapshot_every, args.page_size, {}};
    Point ceiling{n, false, n, args.page_size, {}, true};
    const auto replay_raw = [&] {
#ifdef EVENTSTORE_CLI_WITH_SCYLLA
      if (raw_replay(*raw, raw_streams[i], static_cast<std::int32_t>(args.page_size)) != n)
        throw eventstore::Error(eventstore::ErrorCode::kInternal, "bench load: the raw read got a wrong count");
#endif
    };
    // One untimed load of each first (connections, caches), then alternate the modes: the full
    // replays (page sizes, raw read) in A-B-B-A order.
    check(plain.load(ids[i]).state(), n);
    check(snapped.load(ids[i]).state(), n);
    if (args.compare_page_size > 0) check(plain_compared.load(ids[i]).state(), n);
    if (!raw_streams.empty()) replay_raw();
    std::vector<Point*> replays = {&off};
    if (args.compare_page_size > 0) replays.push_back(&compared);
    if (!raw_streams.empty()) replays.push_back(&ceiling);
    const Clock::time_point point_start = Clock::now();
    for (std::uint64_t r = 0; r < args.repeats; ++r) {
      std::vector<Point*> order = replays;
      if (r % 2 == 1) std::reverse(order.begin(), order.end());
      order.push_back(&on);
      for (Point* p : order) {
        const Clock::time_point t0 = Clock::now();
        if (p->snapshots) {
          check(snapped.load(ids[i]).state(), n);
        } else if (p == &compared) {
          check(plain_compared.load(ids[i]).state(), n);
        } else if (p == &ceiling) {
          replay_raw();
        } else {
          check(plain.load(ids[i]).state(), n);
        }
        p->ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        ++loads;
      }
      char detail[96];
      std::snprintf(detail, sizeof detail, "%lld events, load %llu/%llu", static_cast<long long>(n),
                    static_cast<unsigned long long>(r + 1), static_cast<unsigned long long>(args.repeats));
      progress.update("load",
                      (static_cast<double>(i) + static_cast<double>(r + 1) / static_cast<double>(args.repeats)) /
                          static_cast<double>(args.lengths.size()),
                      detail);
      if (r + 1 >= 3 && seconds(Clock::now() - point_start) > 2 * args.max_point_s) break;
    }
    points.push_back(std::move(off));
    if (args.compare_page_size > 0) points.push_back(std::move(compared));
    if (!raw_streams.empty()) points.push_back(std::move(ceiling));
    points.push_back(std::move(on));
  }
  const Usage cpu_after = Usage::now();
  progress.finish();

  auto r3 = [](double v) { return std::round(v * 1000.0) / 1000.0; };
  nlohmann::ordered_json j;
  j["command"] = "load";
  j["store"] = printable_uri(uri);
  j["snapshot_every"] = args.snapshot_every;
  j["event_size"] = data.size();
  j["page_size"] = args.page_size;
  j["fill_s"] = r3(fill_s);
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const Point& p : points) {
    nlohmann::ordered_json o;
    o["events"] = p.length;
    o["snapshots"] = p.snapshots;
    o["replayed"] = p.replayed;
    o["page_size"] = p.page_size;
    if (p.raw) o["raw"] = true;
    o["loads"] = p.ms.size();
    o["median_ms"] = r3(quantile(p.ms, 0.5));
    o["p95_ms"] = r3(quantile(p.ms, 0.95));
    o["min_ms"] = r3(quantile(p.ms, 0.0));
    list.push_back(o);
  }
  j["points"] = list;
  const double cpu = (cpu_after.user_s - cpu_before.user_s) + (cpu_after.sys_s - cpu_before.sys_s);
  j["cpu_s"] = r3(cpu);
  j["loads"] = loads;
  j["peak_rss_mb"] = std::round(peak_rss_mb() * 10) / 10;
  if (args.json) {
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }
  std::printf("eventstore bench load  %s  (snapshot every %lld events, %zu-byte events, page %llu)\n",
              j["store"].get<std::string>().c_str(), static_cast<long long>(args.snapshot_every), data.size(),
              static_cast<unsigned long long>(args.page_size));
  std::printf("  %10s  %-9s  %9s  %6s  %6s  %11s  %11s\n", "events", "snapshots", "replayed", "page", "loads",
              "median ms", "p95 ms");
  for (const auto& o : list)
    std::printf("  %10lld  %-9s  %9lld  %6llu  %6zu  %11.3f  %11.3f\n",
                static_cast<long long>(o["events"].get<std::int64_t>()),
                o.contains("raw")            ? "raw read"
                : o["snapshots"].get<bool>() ? "on"
                                             : "off",
                static_cast<long long>(o["replayed"].get<std::int64_t>()),
                static_cast<unsigned long long>(o["page_size"].get<std::uint64_t>()), o["loads"].get<std::size_t>(),
                o["median_ms"].get<double>(), o["p95_ms"].get<double>());
  std::printf("  filled in %.1f s; peak RSS %.1f MB\n", fill_s, j["peak_rss_mb"].get<double>());
  return 0;
}

}  // namespace eventstore_cli::bench

// eventstore bench long: what a stream's length costs. One stream per --lengths (default a
// thousand and a million events), then rounds that measure each stream in turn, the order
// alternating: single-event appends at the head, backward reads of the last events, loads with a
// snapshot (AggregateStore), and a forward read of everything. Quote the ratios of the long
// stream against the short one (docs/BENCHMARKS.md, "Long streams").
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include <CLI/CLI.hpp>

#include "bench_targets.h"
#include "cli.h"
#include "eventstore/eventstore.h"

namespace eventstore_cli::bench {
namespace {

struct Counted {
  static constexpr std::string_view event_type = "Counted";
  std::int64_t by = 1;
  std::string pad;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Counted, by, pad)

struct LongCounter {
  static constexpr std::string_view aggregate_type = "bench_long";
  using Event = std::variant<Counted>;
  std::int64_t count = 0;
  std::int64_t total = 0;
  void apply(const Counted& e) {
    ++count;
    total += e.by;
  }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(LongCounter, count, total)

constexpr const char* kContext = "bench_long";
// The measures, in the order each round runs them on a stream.
constexpr const char* kMeasures[] = {"append_p50", "append_p99", "tail_read", "load", "forward_read"};
constexpr std::size_t kMeasureCount = std::size(kMeasures);

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

// A stream's id: fixed by the seed and the length, so that a second run with --id-seed reuses
// streams a first one filled.
eventstore::Uuid stream_uuid(std::uint32_t seed, std::int64_t length) {
  char text[40];
  std::snprintf(text, sizeof text, "6c6f6e67-%04x-4000-8000-%012llx", static_cast<unsigned>(seed & 0xffff),
                static_cast<unsigned long long>(length));
  return *eventstore::Uuid::parse(text);
}

struct Subject {
  std::int64_t length = 0;
  eventstore::Uuid id;
  eventstore::StreamId stream;
  std::int64_t head = 0;
  std::vector<double> per_round[kMeasureCount];  // one figure per round and measure, in ms
  std::vector<double> appends_ms;                // every head append
};

std::vector<eventstore::EventData> events_of(std::int64_t count, const std::string& data) {
  std::vector<eventstore::EventData> events(static_cast<std::size_t>(count));
  for (auto& e : events) {
    e.event_type = std::string(Counted::event_type);
    e.data = data;
  }
  return events;
}

void require(bool ok, const char* what) {
  if (!ok) throw eventstore::Error(eventstore::ErrorCode::kInternal, std::string("bench long: ") + what);
}

// One round on one stream: the five measures.
void measure(eventstore::Store& store, eventstore::AggregateStore<LongCounter>& aggregates, Subject& s,
             const BenchArgs& args, const std::string& data) {
  std::vector<double> appends;
  for (std::uint64_t i = 0; i < args.head_appends; ++i) {
    const Clock::time_point t0 = Clock::now();
    store.append(s.stream, eventstore::ExpectedVersion::exact(s.head), events_of(1, data));
    appends.push_back(ms_since(t0));
    ++s.head;
  }
  s.appends_ms.insert(s.appends_ms.end(), appends.begin(), appends.end());
  s.per_round[0].push_back(quantile(appends, 0.5));
  s.per_round[1].push_back(quantile(appends, 0.99));

  eventstore::ReadOptions tail;
  tail.direction = eventstore::Direction::kBackward;
  tail.limit = 10;
  tail.page_size = 10;
  std::vector<double> reads;
  for (std::uint64_t i = 0; i < args.tail_reads; ++i) {
    const Clock::time_point t0 = Clock::now();
    const std::vector<eventstore::RecordedEvent> last = store.read_all(s.stream, tail);
    reads.push_back(ms_since(t0));
    const auto want = static_cast<std::size_t>(std::min<std::int64_t>(10, s.head));
    require(last.size() == want && last.front().version == s.head, "a backward read missed the head");
  }
  s.per_round[2].push_back(quantile(reads, 0.5));

  // A snapshot half of --snapshot-every below the head, the average tail an every-N policy
  // leaves (saved untimed).
  const std::int64_t at = s.head - args.snapshot_every / 2;
  if (at > 0) {
    eventstore::Snapshot snapshot;
    snapshot.version = at;
    snapshot.data = nlohmann::json(LongCounter{at, at}).dump();
    snapshot.timestamp = eventstore::now_ms();
    store.save_snapshot(s.stream, snapshot);
  }
  std::vector<double> loads;
  for (std::uint64_t i = 0; i < args.tail_reads; ++i) {
    const Clock::time_point t0 = Clock::now();
    const std::int64_t count = aggregates.load(s.id).state().count;
    loads.push_back(ms_since(t0));
    require(count == s.head, "a load gave a wrong count");
  }
  s.per_round[3].push_back(quantile(loads, 0.5));

  eventstore::ReadOptions all;
  all.page_size = static_cast<std::uint32_t>(args.page_size);
  std::int64_t seen = 0;
  const Clock::time_point t0 = Clock::now();
  store.for_each(s.stream, all, [&seen](const eventstore::RecordedEvent&) { ++seen; });
  s.per_round[4].push_back(ms_since(t0));
  require(seen == s.head, "a forward read missed events");
}

nlohmann::ordered_json spread_json(const std::vector<double>& v) {
  auto r3 = [](double x) { return std::round(x * 1000.0) / 1000.0; };
  nlohmann::ordered_json o;
  o["median"] = r3(quantile(v, 0.5));
  o["min"] = r3(quantile(v, 0.0));
  o["max"] = r3(quantile(v, 1.0));
  return o;
}

}  // namespace

void add_long_command(CLI::App* bench, BenchArgs& args) {
  CLI::App* c = bench->add_subcommand(
      "long", "What a stream's length costs: head appends, tail reads, loads and full reads, long against short");
  c->add_option("--lengths", args.long_lengths, "Stream lengths; the first is the baseline (default 1000,1000000)")
      ->delimiter(',')
      ->type_name("N,N,...");
  c->add_option("--rounds", args.rounds, "Rounds, each measuring every stream, the order alternating (default 5)")
      ->type_name("N");
  c->add_option("--head-appends", args.head_appends,
                "Single-event appends at the head per round and stream (default 100)")
      ->type_name("N");
  c->add_option("--tail-reads", args.tail_reads,
                "Backward reads of the last 10 events, and loads, per round and stream (default 20)")
      ->type_name("N");
  c->add_option("--snapshot-every", args.snapshot_every,
                "A load starts from a snapshot N/2 events below the head (default 100)")
      ->type_name("N");
  c->add_option("--populate-batch", args.populate_batch, "Events per append while filling (default 500; limit 1000)")
      ->type_name("N");
  c->add_option("--page-size", args.page_size, "Events per round trip of the forward read (default 1000)")
      ->type_name("N");
  c->add_option("--event-size", args.event_size, "Bytes of JSON data per event (default 100)")->type_name("BYTES");
  c->add_option("--id-seed", args.id_seed, "Stream ids from this seed: the same seed reuses (and tops up) the streams")
      ->type_name("N");
  c->add_flag("--json", args.json, "Print one JSON object instead of the table (no progress bar)");
  c->add_flag("--quiet", args.quiet, "No progress bar");
  c->footer(
      "Example:\n  eventstore --store sqlite:/tmp/long.db bench long --lengths 1000,1000000 --rounds 5 "
      "--populate-batch 1000");
}

int run_long(const std::string& uri, const BenchArgs& args) {
  if (args.long_lengths.size() < 2) throw UsageError("--lengths needs at least two lengths");
  for (std::int64_t n : args.long_lengths)
    if (n < 1 || n > 100'000'000) throw UsageError("--lengths must be 1..100000000 each");
  std::vector<std::int64_t> sorted = args.long_lengths;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
    throw UsageError("--lengths must differ: a length names its stream");
  if (args.rounds < 1) throw UsageError("--rounds must be >= 1");
  if (args.head_appends < 1 || args.tail_reads < 1) throw UsageError("--head-appends and --tail-reads must be >= 1");
  if (args.snapshot_every < 1) throw UsageError("--snapshot-every must be >= 1");
  if (args.populate_batch < 1 || args.populate_batch > 1000) throw UsageError("--populate-batch must be 1..1000");
  if (args.page_size < 1 || args.page_size > 100000) throw UsageError("--page-size must be 1..100000");

  Progress progress(!args.json && !args.quiet);
  std::shared_ptr<eventstore::Store> store = eventstore::open_store(uri);
  eventstore::AggregateStoreOptions options;
  options.snapshot_policy = eventstore::never();
  options.page_size = static_cast<std::uint32_t>(args.page_size);
  eventstore::AggregateStore<LongCounter> aggregates(store, kContext, options);

  Counted event;
  const std::string base = nlohmann::json(event).dump();
  if (args.event_size > base.size()) event.pad.assign(args.event_size - base.size(), 'x');
  const std::string data = nlohmann::json(event).dump();
  const std::uint32_t seed = args.id_seed ? static_cast<std::uint32_t>(*args.id_seed) : std::random_device{}();

  // Fill each stream up to its length (a reused stream is topped up, never trimmed).
  std::vector<Subject> subjects;
  std::int64_t total = 0, filled = 0;
  for (std::int64_t n : args.long_lengths) total += n;
  const Clock::time_point fill_start = Clock::now();
  for (std::int64_t n : args.long_lengths) {
    Subject s;
    s.length = n;
    s.id = stream_uuid(seed, n);
    s.stream = aggregates.stream_of(s.id);
    s.head = store->head(s.stream);
    filled += std::min(s.head, n);
    while (s.head < n) {
      const auto count = std::min<std::int64_t>(static_cast<std::int64_t>(args.populate_batch), n - s.head);
      store->append(s.stream, eventstore::ExpectedVersion::exact(s.head), events_of(count, data));
      s.head += count;
      filled += count;
      char detail[64];
      std::snprintf(detail, sizeof detail, "%lld / %lld events", static_cast<long long>(filled),
                    static_cast<long long>(total));
      progress.update("fill", static_cast<double>(filled) / static_cast<double>(total), detail);
    }
    subjects.push_back(std::move(s));
  }
  const double fill_s = seconds(Clock::now() - fill_start);

  // One untimed round trip per stream first (connections, caches), then the rounds.
  for (Subject& s : subjects) require(aggregates.load(s.id).state().count == s.head, "a load gave a wrong count");
  for (std::uint64_t r = 0; r < args.rounds; ++r) {
    for (std::size_t k = 0; k < subjects.size(); ++k) {
      Subject& s = subjects[r % 2 == 0 ? k : subjects.size() - 1 - k];
      measure(*store, aggregates, s, args, data);
    }
    progress.update("measure", static_cast<double>(r + 1) / static_cast<double>(args.rounds),
                    "round " + std::to_string(r + 1) + "/" + std::to_string(args.rounds));
  }
  progress.finish();

  auto r3 = [](double v) { return std::round(v * 1000.0) / 1000.0; };
  nlohmann::ordered_json j;
  j["command"] = "long";
  j["store"] = printable_uri(uri);
  j["id_seed"] = seed;
  j["event_size"] = data.size();
  j["rounds"] = args.rounds;
  j["head_appends"] = args.head_appends;
  j["tail_reads"] = args.tail_reads;
  j["snapshot_every"] = args.snapshot_every;
  j["fill_s"] = r3(fill_s);
  nlohmann::ordered_json streams = nlohmann::ordered_json::array();
  const Subject& baseline = subjects.front();
  for (const Subject& s : subjects) {
    nlohmann::ordered_json o;
    o["length"] = s.length;
    o["head"] = s.head;
    o["append_p50_all_ms"] = r3(quantile(s.appends_ms, 0.5));
    o["append_p99_all_ms"] = r3(quantile(s.appends_ms, 0.99));
    for (std::size_t m = 0; m < kMeasureCount; ++m) {
      o[std::string(kMeasures[m]) + "_ms"] = spread_json(s.per_round[m]);
      // The ratio to the baseline within each round: both measured in the same round.
      std::vector<double> ratios;
      for (std::size_t r = 0; r < s.per_round[m].size(); ++r)
        ratios.push_back(baseline.per_round[m][r] > 0 ? s.per_round[m][r] / baseline.per_round[m][r] : 0);
      o[std::string(kMeasures[m]) + "_ratio"] = spread_json(ratios);
      nlohmann::ordered_json rounds = nlohmann::ordered_json::array();
      for (double v : s.per_round[m]) rounds.push_back(r3(v));
      o[std::string(kMeasures[m]) + "_rounds_ms"] = rounds;
    }
    streams.push_back(o);
  }
  j["streams"] = streams;
  j["peak_rss_mb"] = std::round(peak_rss_mb() * 10) / 10;
  if (args.json) {
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }
  std::printf("eventstore bench long  %s  (%zu-byte events, %llu rounds, ids seed %u; filled in %.1f s)\n",
              j["store"].get<std::string>().c_str(), data.size(), static_cast<unsigned long long>(args.rounds), seed,
              fill_s);
  std::printf("  %-12s  %10s  %26s  %22s\n", "measure", "length", "ms: median of rounds [min..max]",
              "ratio to first [min..max]");
  for (std::size_t m = 0; m < kMeasureCount; ++m)
    for (const auto& o : streams) {
      const auto& v = o[std::string(kMeasures[m]) + "_ms"];
      const auto& q = o[std::string(kMeasures[m]) + "_ratio"];
      std::printf("  %-12s  %10lld  %10.3f [%6.3f..%8.3f]  %7.2f [%5.2f..%6.2f]\n", kMeasures[m],
                  static_cast<long long>(o["length"].get<std::int64_t>()), v["median"].get<double>(),
                  v["min"].get<double>(), v["max"].get<double>(), q["median"].get<double>(), q["min"].get<double>(),
                  q["max"].get<double>());
    }
  return 0;
}

}  // namespace eventstore_cli::bench

// eventstore bench append|mixed: requests in flight from ONE client thread (the asynchronous
// API and its callbacks; no thread per request), against the store or its raw ceiling.
// docs/BENCHMARKS.md describes what is measured and how.
#include "bench.h"

#include <cmath>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <random>

#include <CLI/CLI.hpp>

#include "bench_core.h"
#include "bench_targets.h"
#include "cli.h"
#include "metrics_listen.h"

namespace eventstore_cli {
namespace bench {

namespace {

// Drives an AsyncTarget: keeps `concurrency` requests in flight from this thread, one per
// stream at a time, with each stream's exact expected version tracked here.
class Driver {
 public:
  Driver(AsyncTarget& target, const BenchArgs& args, Sink& sink, Progress& progress)
      : target_(target), args_(args), sink_(sink), progress_(progress), rng_(0x5eed) {}

  RunResult run() {
    const std::uint64_t streams = args_.streams ? args_.streams : args_.concurrency;
    next_version_.assign(streams, 0);
    for (std::uint64_t s = 0; s < streams; ++s) {
      stream_handle_.push_back(target_.add_stream());
      free_streams_.push_back(s);
    }
    slots_.resize(args_.concurrency);
    for (std::uint32_t i = 0; i < args_.concurrency; ++i) free_slots_.push_back(i);

    RunResult result;
    const Clock::time_point start = Clock::now();
    const Clock::time_point warm_end = start + to_duration(args_.warmup_s);
    Clock::time_point window_start{}, window_end = Clock::time_point::max();
    bool measuring = false, stopping = false;
    if (args_.warmup_s <= 0) {
      measuring = true;
      window_start = start;
      result.cpu_before = Usage::now();
    }
    auto planned_end = [&] {
      return args_.ops ? Clock::time_point::max()
                       : (measuring ? window_start : warm_end) + to_duration(args_.duration_s);
    };
    std::vector<Completion> done;
    fill(start);
    for (;;) {
      Clock::time_point wake =
          std::min(Clock::now() + std::chrono::milliseconds(100), measuring ? planned_end() : warm_end);
      sink_.take(done, wake);
      for (const Completion& c : done) {
        const bool counted = measuring && !stopping && c.end >= window_start;
        finish(c, counted, result);
        if (counted && args_.ops && result.ops >= *args_.ops && !stopping) {
          stopping = true;
          window_end = c.end;
          result.cpu_after = Usage::now();
        }
      }
      const Clock::time_point now = Clock::now();
      if (!measuring && now >= warm_end) {
        measuring = true;
        window_start = now;
        result.cpu_before = Usage::now();
      }
      if (measuring && !stopping && now >= planned_end()) {
        stopping = true;
        window_end = now;
        result.cpu_after = Usage::now();
      }
      if (!stopping) {
        fill(now);
        result.max_in_flight = std::max<std::uint64_t>(result.max_in_flight, in_flight_);
      }
      if (stopping) {
        if (in_flight_ == 0) break;
        if (now - window_end > std::chrono::seconds(60)) {
          result.unfinished = in_flight_;
          break;
        }
      }
      report_progress(now, start, warm_end, measuring, stopping, window_start, result);
    }
    progress_.finish();
    result.threads = thread_count();
    result.window_s = seconds(window_end - window_start);
    return result;
  }

 private:
  static Clock::duration to_duration(double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  }

  void fill(Clock::time_point now) {
    while (in_flight_ < args_.concurrency && !free_streams_.empty()) {
      const std::uint32_t slot = free_slots_.back();
      free_slots_.pop_back();
      const std::uint64_t stream = free_streams_.front();
      free_streams_.pop_front();
      Slot& s = slots_[slot];
      s.stream = stream;
      s.start = now;
      s.read = args_.mode == "mixed" && std::uniform_real_distribution<double>(0, 1)(rng_) < args_.read_ratio;
      ++in_flight_;
      if (s.read) {
        target_.read(stream_handle_[stream], args_.read_events, slot);
      } else {
        target_.append(stream_handle_[stream], next_version_[stream], slot);
      }
      now = Clock::now();
    }
  }

  void finish(const Completion& c, bool counted, RunResult& result) {
    Slot& s = slots_[c.slot];
    --in_flight_;
    free_slots_.push_back(c.slot);
    bool retire = false;
    if (c.outcome == Outcome::kApplied) {
      if (!s.read) next_version_[s.stream] += static_cast<std::int64_t>(args_.events_per_append);
    } else if (c.outcome == Outcome::kConflict) {
      if (c.current_version >= 0) next_version_[s.stream] = c.current_version;
      else retire = true;
    } else {
      retire = true;  // its version is uncertain now: use a fresh stream instead
    }
    if (retire) {
      stream_handle_[s.stream] = target_.add_stream();
      next_version_[s.stream] = 0;
    }
    free_streams_.push_back(s.stream);
    if (!counted) return;
    const auto ns =
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(c.end - s.start).count());
    if (c.outcome == Outcome::kApplied) {
      ++result.ops;
      result.all.record(ns);
      if (s.read) {
        ++result.reads;
        result.read_latency.record(ns);
      } else {
        result.events += args_.events_per_append;
        result.appends.record(ns);
      }
    } else if (c.outcome == Outcome::kConflict) {
      ++result.conflicts;
    } else {
      ++result.errors[c.error_kind];
    }
  }

  void report_progress(Clock::time_point now, Clock::time_point start, Clock::time_point warm_end, bool measuring,
                       bool stopping, Clock::time_point window_start, const RunResult& result) {
    double fraction;
    if (!measuring) {
      fraction = seconds(now - start) / std::max(1e-9, seconds(warm_end - start));
    } else if (args_.ops) {
      fraction = static_cast<double>(result.ops) / static_cast<double>(*args_.ops);
    } else {
      fraction = seconds(now - window_start) / std::max(1e-9, args_.duration_s);
    }
    char detail[160];
    const double elapsed = measuring ? seconds(now - window_start) : 0;
    std::snprintf(detail, sizeof detail, "%llu ops  %.0f ops/s  %llu in flight%s",
                  static_cast<unsigned long long>(result.ops),
                  elapsed > 0 ? static_cast<double>(result.ops) / elapsed : 0.0,
                  static_cast<unsigned long long>(in_flight_), stopping ? "  (draining)" : "");
    progress_.update(measuring ? "run" : "warm-up", fraction, detail);
  }

  struct Slot {
    std::uint64_t stream = 0;
    Clock::time_point start{};
    bool read = false;
  };

  AsyncTarget& target_;
  const BenchArgs& args_;
  Sink& sink_;
  Progress& progress_;
  std::mt19937_64 rng_;
  std::vector<std::int64_t> next_version_;
  std::vector<std::size_t> stream_handle_;
  std::deque<std::uint64_t> free_streams_;
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_slots_;
  std::uint64_t in_flight_ = 0;
};

nlohmann::ordered_json result_json(const std::string& uri, const BenchArgs& args, const RunResult& r) {
  auto r1 = [](double v) { return std::round(v * 10.0) / 10.0; };
  auto r3 = [](double v) { return std::round(v * 1000.0) / 1000.0; };
  nlohmann::ordered_json j;
  j["command"] = args.mode;
  j["store"] = printable_uri(uri);
  j["backend"] = backend_name(uri);
  j["target"] = args.raw ? "raw" : "store";
  j["metrics"] = args.metrics_listen ? "served" : args.metrics ? "aggregated" : "none";
  if (args.raw && backend_name(uri) == "scylla") j["shape"] = args.shape;
  j["api"] = args.raw ? "raw" : args.blocking ? "blocking" : "async";
  j["streams"] = args.streams ? args.streams : args.concurrency;
  j["concurrency"] = args.concurrency;
  j["events_per_append"] = args.events_per_append;
  j["event_size"] = args.event_size;
  if (args.mode == "mixed") {
    j["read_ratio"] = args.read_ratio;
    j["read_events"] = args.read_events;
  }
  j["warmup_s"] = args.warmup_s;
  j["window_s"] = r3(r.window_s);
  j["ops"] = r.ops;
  j["events"] = r.events;
  const double window = r.window_s > 0 ? r.window_s : 1e-9;
  j["ops_per_s"] = r1(static_cast<double>(r.ops) / window);
  j["events_per_s"] = r1(static_cast<double>(r.events) / window);
  const nlohmann::ordered_json all = latency_json(r.all);
  for (const char* key : {"p50_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms"}) j[key] = all[key];
  if (args.mode == "mixed") {
    j["append_latency"] = latency_json(r.appends);
    j["read_latency"] = latency_json(r.read_latency);
    j["reads"] = r.reads;
  }
  nlohmann::ordered_json errors = nlohmann::ordered_json::object();
  for (const auto& [kind, n] : r.errors) errors[kind] = n;
  j["errors"] = errors;
  j["conflicts"] = r.conflicts;
  const double cpu = (r.cpu_after.user_s - r.cpu_before.user_s) + (r.cpu_after.sys_s - r.cpu_before.sys_s);
  j["cpu_us_per_op"] = r.ops ? r3(cpu * 1e6 / static_cast<double>(r.ops)) : 0.0;
  j["cpu_user_s"] = r3(r.cpu_after.user_s - r.cpu_before.user_s);
  j["cpu_sys_s"] = r3(r.cpu_after.sys_s - r.cpu_before.sys_s);
  j["cpu_cores"] = r3(cpu / window);
  if (has_server_pids()) {
    const double server = r.cpu_after.server_s - r.cpu_before.server_s;
    j["server_cpu_us_per_op"] = r.ops ? r3(server * 1e6 / static_cast<double>(r.ops)) : 0.0;
    j["server_cores"] = r3(server / window);
  }
  j["peak_rss_mb"] = r1(peak_rss_mb());
  j["threads"] = r.threads;
  j["max_in_flight"] = r.max_in_flight;
  // Little's law: the mean number of requests in flight during the window.
  j["mean_in_flight"] = r1(static_cast<double>(r.ops) / window * r.all.mean_ms() / 1000.0);
  if (r.unfinished) j["unfinished"] = r.unfinished;
  return j;
}

void print_human(const nlohmann::ordered_json& j) {
  std::printf("eventstore bench %s  %s  (%s)\n", j["command"].get<std::string>().c_str(),
              j["store"].get<std::string>().c_str(), j["target"].get<std::string>().c_str());
  std::printf("  streams %llu, concurrency %llu, %llu event(s) of %llu B per append, warm-up %.1f s, measured %.2f s\n",
              j["streams"].get<unsigned long long>(), j["concurrency"].get<unsigned long long>(),
              j["events_per_append"].get<unsigned long long>(), j["event_size"].get<unsigned long long>(),
              j["warmup_s"].get<double>(), j["window_s"].get<double>());
  std::printf("  %-22s %12s\n", "metric", "value");
  auto row = [](const char* name, const std::string& value) { std::printf("  %-22s %12s\n", name, value.c_str()); };
  auto num = [](double v, int digits) {
    char b[64];
    std::snprintf(b, sizeof b, "%.*f", digits, v);
    return std::string(b);
  };
  row("ops", std::to_string(j["ops"].get<std::uint64_t>()));
  row("ops/s", num(j["ops_per_s"].get<double>(), 1));
  row("events/s", num(j["events_per_s"].get<double>(), 1));
  for (const char* key : {"p50_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms"}) row(key, num(j[key].get<double>(), 3));
  if (j.contains("read_latency")) {
    row("reads", std::to_string(j["reads"].get<std::uint64_t>()));
    row("append p99_ms", num(j["append_latency"]["p99_ms"].get<double>(), 3));
    row("read p99_ms", num(j["read_latency"]["p99_ms"].get<double>(), 3));
  }
  row("conflicts", std::to_string(j["conflicts"].get<std::uint64_t>()));
  std::string errors;
  for (const auto& [kind, n] : j["errors"].items())
    errors += (errors.empty() ? "" : ",") + kind + "=" + std::to_string(n.get<std::uint64_t>());
  row("errors", errors.empty() ? "0" : errors);
  row("cpu_us_per_op", num(j["cpu_us_per_op"].get<double>(), 1));
  row("client cores busy", num(j["cpu_cores"].get<double>(), 2));
  if (j.contains("server_cpu_us_per_op")) {
    row("server_cpu_us_per_op", num(j["server_cpu_us_per_op"].get<double>(), 1));
    row("server cores busy", num(j["server_cores"].get<double>(), 2));
  }
  row("peak_rss_mb", num(j["peak_rss_mb"].get<double>(), 1));
  row("threads", std::to_string(j["threads"].get<int>()));
  row("max in flight", std::to_string(j["max_in_flight"].get<std::uint64_t>()));
  row("mean in flight", num(j["mean_in_flight"].get<double>(), 1));
}

void validate(const BenchArgs& args) {
  if (args.concurrency < 1 || args.concurrency > 100000) throw UsageError("--concurrency must be 1..100000");
  if (args.streams != 0 && args.streams < args.concurrency)
    throw UsageError("--streams must be at least --concurrency (one request in flight per stream)");
  if (args.events_per_append < 1 || args.events_per_append > 1000)
    throw UsageError("--events-per-append must be 1..1000");
  if (args.event_size < 16 || args.event_size > 1024 * 1024) throw UsageError("--event-size must be 16..1048576 bytes");
  if (!(args.duration_s > 0)) throw UsageError("--duration-s must be > 0");
  if (!(args.warmup_s >= 0)) throw UsageError("--warmup-s must be >= 0");
  if (args.ops && *args.ops < 1) throw UsageError("--ops must be >= 1");
  if (!(args.read_ratio >= 0 && args.read_ratio <= 1)) throw UsageError("--read-ratio must be 0..1");
}

int run_requests(const std::string& uri, BenchArgs& args) {
  validate(args);
  const std::string backend = backend_name(uri);
  Progress progress(!args.json && !args.quiet);
  RunResult result;
  if (args.raw && args.blocking) throw UsageError("--blocking is a way to call the store: it does not go with --raw");
  if (args.raw && (args.metrics || args.metrics_listen))
    throw UsageError("--metrics and --metrics-listen measure the store: they do not go with --raw");
  if (args.shape != "store" && !(args.raw && backend == "scylla"))
    throw UsageError("--shape is a statement shape of the raw cluster ceiling: it needs --raw and a scylla:// store");
  set_server_pids(args.server_pids);
  // Last of the checks: it may start listening.
  if (args.metrics || args.metrics_listen)
    args.metrics_sink = metrics_store_options(args.metrics_listen, args.metrics).metrics;
  if (args.raw && backend == "sqlite") {
    result = run_raw_sqlite(uri, args, progress);
  } else if (args.blocking) {
    result = run_blocking(uri, args, progress);
  } else {
    Sink sink;
    std::unique_ptr<AsyncTarget> target;
    if (args.raw) {
      if (backend != "scylla") throw UsageError("--raw needs a scylla:// or sqlite: store");
      target = make_raw_scylla_target(uri, args, sink);
    } else {
      target = make_store_target(uri, args, sink);
    }
    Driver driver(*target, args, sink, progress);
    result = driver.run();
  }
  const nlohmann::ordered_json j = result_json(uri, args, result);
  if (args.json) {
    std::printf("%s\n", j.dump().c_str());
  } else {
    print_human(j);
  }
  return 0;
}

}  // namespace

std::string payload(std::uint64_t size, std::uint64_t seed) {
  // {"seq":N,"pad":"xxxx..."} padded to `size` bytes.
  std::string head = "{\"seq\":" + std::to_string(seed) + ",\"pad\":\"";
  std::string text = head;
  const std::size_t tail = 2;  // "}
  if (size > head.size() + tail) text.append(size - head.size() - tail, 'x');
  text += "\"}";
  return text;
}

}  // namespace bench

namespace {

// Options every bench command has (each in its place in the command's --help).
void add_event_size(CLI::App* command, BenchArgs& args) {
  command->add_option("--event-size", args.event_size, "Bytes of JSON data per event (default 100)")
      ->type_name("BYTES");
}

void add_server_pid(CLI::App* command, BenchArgs& args) {
  command
      ->add_option("--server-pid", args.server_pids,
                   "Also measure the CPU time of these local server processes (scripts/local-cassandra pid) and "
                   "report server_cpu_us_per_op")
      ->delimiter(',')
      ->type_name("PID,...");
}

void add_output_flags(CLI::App* command, BenchArgs& args) {
  command->add_flag("--json", args.json, "Print one JSON object instead of the table (no progress bar)");
  command->add_flag("--quiet", args.quiet, "No progress bar");
}

}  // namespace

CLI::App* add_bench_command(CLI::App& app, BenchArgs& args) {
  CLI::App* bench = app.add_subcommand("bench", "Measure throughput, latency and client CPU (docs/BENCHMARKS.md)");
  bench->require_subcommand(1);
  auto common = [&args](CLI::App* c) {
    c->add_option("--streams", args.streams, "Streams written, at least --concurrency (default: --concurrency)")
        ->type_name("N");
    c->add_option("--concurrency", args.concurrency,
                  "Requests in flight, all from one client thread; with --blocking, threads (default 16)")
        ->type_name("N");
    c->add_option("--events-per-append", args.events_per_append, "Events per append, 1..1000 (default 1)")
        ->type_name("N");
    add_event_size(c, args);
    c->add_option("--duration-s", args.duration_s, "Measured seconds after the warm-up (default 10)")->type_name("S");
    c->add_option("--ops", args.ops, "Stop after N measured operations instead of --duration-s")->type_name("N");
    c->add_option("--warmup-s", args.warmup_s, "Seconds run before measuring (default 2)")->type_name("S");
    c->add_flag("--raw", args.raw,
                "The ceiling: scylla:// sends the same CQL straight through the driver bridge; sqlite: runs a plain "
                "loop of the same transactions (one thread and connection per unit of concurrency)");
    c->add_flag("--blocking", args.blocking,
                "Call the store's blocking API from --concurrency threads, one request each at a time, like the "
                "raw SQLite loop (default: the asynchronous API from one thread)");
    c->add_flag("--metrics", args.metrics,
                "Open the store with a metrics sink that aggregates (Prometheus, not served): its cost against none");
    add_metrics_listen_option(c, args.metrics_listen);
    c->add_option("--shape", args.shape,
                  "With --raw on scylla://, the append batch's statements: store (the store's), or seed (the seed "
                  "library's: INSERT ... IF NOT EXISTS per event, no expected-version check)")
        ->check(CLI::IsMember({"store", "seed"}))
        ->type_name("SHAPE");
    add_server_pid(c, args);
    add_output_flags(c, args);
  };
  CLI::App* append = bench->add_subcommand("append", "Appends with exact expected versions, one in flight per stream");
  common(append);
  append->footer(
      "Examples:\n"
      "  eventstore --store sqlite:/tmp/b.db bench append --concurrency 64 --duration-s 10\n"
      "  eventstore --store scylla://127.0.0.1/es_bench bench append --concurrency 256 --raw --json");
  CLI::App* mixed = bench->add_subcommand("mixed", "Appends and reads of the latest events, mixed");
  common(mixed);
  mixed->add_option("--read-ratio", args.read_ratio, "Share of requests that are reads, 0..1 (default 0.5)")
      ->type_name("R");
  mixed->add_option("--read-events", args.read_events, "A read returns the stream's latest N events (default 10)")
      ->type_name("N");
  mixed->footer("Example:\n  eventstore --store sqlite:/tmp/b.db bench mixed --concurrency 16 --read-ratio 0.8");
  CLI::App* load = bench->add_subcommand(
      "load",
      "Time to load an aggregate by stream length, snapshots off and on (on scylla://, also a raw paged "
      "read of the same rows)");
  load->add_option("--lengths", args.lengths, "Stream lengths (default 10,100,1000,10000,100000)")
      ->delimiter(',')
      ->type_name("N,N,...");
  load->add_option("--snapshot-every", args.snapshot_every,
                   "Snapshot every N events (default 100, the library's default)")
      ->type_name("N");
  load->add_option("--repeats", args.repeats, "Loads per length and mode (default 20)")->type_name("N");
  load->add_option("--max-point-s", args.max_point_s,
                   "Stop repeating a length and mode after S seconds, with at least 3 loads (default 20)")
      ->type_name("S");
  load->add_option("--populate-batch", args.populate_batch, "Events per append while filling the streams (default 500)")
      ->type_name("N");
  add_event_size(load, args);
  load->add_option(
          "--page-size", args.page_size,
          "Events per round trip while loading (default 1000; the library's AggregateStoreOptions default is 5000)")
      ->type_name("N");
  load->add_option("--compare-page-size", args.compare_page_size,
                   "Also replay each stream (snapshots off) with this page size, alternating with --page-size")
      ->type_name("N");
  add_output_flags(load, args);
  load->footer("Example:\n  eventstore --store sqlite:/tmp/b.db bench load --lengths 10,1000,100000 --repeats 10");
  CLI::App* feed = bench->add_subcommand(
      "feed", "The feed: append ceiling, ack-to-delivery latency of a live subscription, catch-up read rate");
  feed->add_option("--concurrency", args.concurrency, "Appending threads of the ceiling phase (default 16)")
      ->type_name("N");
  feed->add_option("--rate", args.rate, "Events/s appended while measuring delivery (default: half the ceiling)")
      ->type_name("R");
  feed->add_option("--duration-s", args.duration_s, "Seconds of the ceiling and of the delivery phase (default 10)")
      ->type_name("S");
  feed->add_option("--warmup-s", args.warmup_s, "Seconds of the ceiling phase before measuring (default 2)")
      ->type_name("S");
  add_event_size(feed, args);
  feed->add_option("--page-size", args.page_size, "Positions per feed page (default 1000)")->type_name("N");
  add_output_flags(feed, args);
  feed->footer(
      "Runs in a new bounded context; on a cluster it runs a relay for it in-process. Exits 1 if an\n"
      "acknowledged event was not delivered within 60 s.\n"
      "Example:\n  eventstore --store sqlite:/tmp/b.db bench feed --concurrency 64 --duration-s 10");
  bench::add_long_command(bench, args);
  bench->footer(
      "Each command prints a table, or with --json one JSON object: ops_per_s, events_per_s, p50_ms, p95_ms,\n"
      "p99_ms, max_ms, errors (by kind), conflicts, cpu_us_per_op (getrusage user+sys / ops), peak_rss_mb.\n"
      "bench/run drives the full suite and writes docs/BENCHMARKS.md.");
  return bench;
}

int run_bench(const std::string& uri, BenchArgs& args, const CLI::App& bench) {
  for (const CLI::App* sub : bench.get_subcommands()) {
    args.mode = sub->get_name();
    if (args.mode == "load") return bench::run_load(uri, args);
    if (args.mode == "feed") return bench::run_feed(uri, args);
    if (args.mode == "long") return bench::run_long(uri, args);
    return bench::run_requests(uri, args);
  }
  throw UsageError("bench needs a command: append, mixed, load, feed or long (run 'eventstore bench --help')");
}

}  // namespace eventstore_cli

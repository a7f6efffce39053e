#include "options.h"

#include <chrono>
#include <iostream>
#include <stdexcept>
#include <type_traits>

#include <CLI/CLI.hpp>

namespace historycheck {
namespace {

constexpr const char* kDescription =
    "history-check: records a history of concurrent appends against any store and checks it.\n"
    "\n"
    "Concurrent writers append to a few streams with real expected versions, every attempt and its\n"
    "outcome is recorded, and a final read checks the history: acknowledged appends present at their\n"
    "versions, streams contiguous, nothing invented or doubled, nothing of a rejected append stored,\n"
    "reads after an acknowledgement see it. A few operations are lifecycle changes (truncates, soft and\n"
    "hard deletes): reads never return what they hid, nothing at or above a before is removed, nothing\n"
    "is written after a hard delete. Feed readers follow the context's feed meanwhile; the\n"
    "feed must hold every stored event and nothing else, dense, the same for every reader, in\n"
    "version order per stream, and the subscriber's checkpoint must only move forward.";

constexpr const char* kExitStatus =
    "exit status: 0 no violation; 1 violations; 2 usage or setup error; 3 expectation not met";

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A non-negative decimal number, the whole text (std::stod / std::stoll syntax).
template <class T>
T number(const std::string& flag, const std::string& text) {
  try {
    std::size_t used = 0;
    if constexpr (std::is_floating_point_v<T>) {
      const double value = std::stod(text, &used);
      if (used == text.size() && value >= 0) return static_cast<T>(value);
    } else {
      const long long value = std::stoll(text, &used);
      if (used == text.size() && value >= 0) return static_cast<T>(value);
    }
  } catch (const std::exception&) {
  }
  throw UsageError(flag + " needs a non-negative number, got '" + text + "'");
}

// An option whose value is a non-negative number, parsed by `number` into `target` (a
// std::optional is set only when the option is given).
template <class T>
void add_number(CLI::App& app, const std::string& flag, T& target, const std::string& help, const char* type = "N") {
  app.add_option_function<std::string>(
         flag,
         [flag, &target](const std::string& text) {
           if constexpr (requires { typename T::value_type; }) target = number<typename T::value_type>(flag, text);
           else target = number<T>(flag, text);
         },
         help)
      ->type_name(type);
}

void check_limits(const Options& o) {
  if (o.threads < 1 || o.threads > 1000) throw UsageError("--threads must be 1..1000");
  if (o.processes < 1 || o.processes > 64) throw UsageError("--processes must be 1..64");
  if (o.streams < 1 || o.streams > 10000) throw UsageError("--streams must be 1..10000");
  if (o.max_events < 1 || o.max_events > 100) throw UsageError("--max-events must be 1..100");
  if (o.read_check > 1 || o.stale > 1 || o.feed_kill > 1 || o.lifecycle_rate > 1)
    throw UsageError("--read-check, --stale, --lifecycle-rate and --feed-kill are probabilities, 0..1");
  if (o.feed_readers > 64) throw UsageError("--feed-readers must be 0..64");
  if (o.feed_page < 1 || o.feed_page > 100000) throw UsageError("--feed-page must be 1..100000");
  if ((o.writers_may_die || !o.writer_pids.empty()) && o.processes < 2)
    throw UsageError("--writers-may-die and --writer-pids need --processes 2 or more");
}

}  // namespace

std::optional<int> parse_options(int argc, char** argv, Options& o) {
  CLI::App app{kDescription, "history-check"};
  app.footer(kExitStatus);
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // the last one counts
  app.add_option("--store", o.store, "The store (default memory:); sqlite:PATH, scylla://HOST[,HOST]/KS?...")
      ->type_name("URI");
  add_number(app, "--threads", o.threads, "Writer threads per process (default 4)");
  add_number(app, "--processes", o.processes,
             "Writer processes, each running --threads threads (default 1; needs a store shared between "
             "processes: sqlite: or scylla://)",
             "P");
  add_number(app, "--streams", o.streams, "Streams written to (default 4), in a bounded context new to the run", "S");
  add_number(app, "--duration-s", o.duration_s, "Stop starting appends after D seconds (default 10)", "D");
  add_number(app, "--ops", o.ops, "Stop after N appends in all (the duration still bounds the run)");
  app.add_flag("--retry-unknown", o.retry_unknown,
               "Retry an unknown outcome with the same event ids until it resolves");
  add_number(app, "--read-check", o.read_check, "Probability of a read-your-writes check after an ack (default 0.25)",
             "P");
  add_number(app, "--max-events", o.max_events, "Events per append, 1..N (default 3)");
  add_number(app, "--stale", o.stale,
             "Probability of appending with a stale expected version on purpose, to exercise rejected appends "
             "(default 0.05)",
             "P");
  add_number(app, "--lifecycle-rate", o.lifecycle_rate,
             "Share of operations that are lifecycle changes instead of appends: 75 % truncates, 20 % soft "
             "deletes, 5 % hard deletes on the last quarter of the streams (default 0.03; 0: appends only)",
             "P");
  add_number(app, "--seed", o.seed, "Random seed of the workload (default: from the clock)");
  add_number(app, "--final-read-retry-s", o.final_read_retry_s,
             "Keep retrying a failing final read for S seconds (default 60)", "S");
  add_number(app, "--min-acked", o.min_acked, "Also fail (exit 3) if fewer than N appends were acknowledged");
  app.add_flag("--expect-unavailable", o.expect_unavailable,
               "Fail (exit 3) unless no append was acknowledged and some got unavailable");
  app.add_flag("--json", o.json, "Print the report as JSON instead of text");
  app.add_option("--history-out", o.history_out, "Write every attempt as one JSON line to PATH")->type_name("PATH");
  app.add_option("--context", o.context,
                 "The bounded context of the run (default: hc-<random>); it must be new to the store (a relay "
                 "started for it beforehand is fine)")
      ->type_name("NAME");
  add_number(app, "--feed-readers", o.feed_readers,
             "Feed readers following the context's feed while the writers append (default 2 when the store keeps "
             "a feed, else 0); the last one is a subscriber killed at random and restarted from its checkpoint");
  add_number(app, "--feed-settle-s", o.feed_settle_s,
             "After the writers stop, wait until the feed's head has not moved for S seconds (default 10 on "
             "scylla://, where a relay publishes; 0 otherwise)",
             "S");
  add_number(app, "--feed-page", o.feed_page, "Feed readers ask for 1..N positions per page (default 64)");
  add_number(app, "--feed-kill", o.feed_kill, "Probability per page that the subscriber is killed (default 0.03)", "P");
  app.add_flag("--writers-may-die", o.writers_may_die,
               "With --processes: a writer process killed by SIGKILL is not an error; its appends in flight count "
               "as unknown outcomes (the final read decides) and it is replaced by a new writer process until the "
               "duration ends");
  app.add_option("--writer-pids", o.writer_pids,
                 "With --processes: keep PATH listing the live writer processes' pids (one a line), for a script "
                 "that kills them")
      ->type_name("PATH");
  app.add_flag("--self-test", o.self_test,
               "Run the checker against deliberately broken stores; exit 0 if it catches every injected fault");
  app.add_flag("--quiet", o.quiet, "Print only the summary line (text mode)");
  try {
    app.parse(argc, argv);
    check_limits(o);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help: printed on stdout
    return usage_error(e.what());
  } catch (const UsageError& e) {
    return usage_error(e.what());
  }
  return std::nullopt;
}

int usage_error(const std::string& message) {
  std::cerr << "history-check: " << message << "\n(see history-check --help)\n";
  return 2;
}

WorkloadConfig workload_config(const Options& o, int process) {
  WorkloadConfig c;
  c.threads = o.threads;
  c.process = process;
  if (o.ops) {
    const auto p = static_cast<std::uint64_t>(o.processes);
    c.ops = *o.ops / p + (static_cast<std::uint64_t>(process) < *o.ops % p ? 1 : 0);
  }
  c.duration_s = o.duration_s;
  c.seed = o.seed.value_or(static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count())) +
           static_cast<std::uint64_t>(process) * 1000003;
  c.retry_unknown = o.retry_unknown;
  c.read_check_probability = o.read_check;
  c.max_events = o.max_events;
  c.stale_probability = o.stale;
  c.lifecycle_rate = o.lifecycle_rate;
  return c;
}

}  // namespace historycheck

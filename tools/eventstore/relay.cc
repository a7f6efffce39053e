// eventstore relay: runs the relay that orders a bounded context's feed on a cluster until
// SIGINT or SIGTERM (docs/cli.md, docs/feed.md "The relay").
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <thread>

#include "cli.h"
#include "core/store_uri.h"
#include "metrics_listen.h"

namespace eventstore_cli {
namespace {

std::atomic<int> g_signal{0};

extern "C" void on_signal(int signal) { g_signal.store(signal); }

constexpr const char* kNoRelay = "this store orders its feed in the append; no relay is needed";

nlohmann::ordered_json status_line(const std::string& context, const eventstore::RelayStats& stats) {
  nlohmann::ordered_json line;
  line["context"] = context;
  line["holds_lease"] = stats.holds_lease;
  line["epoch"] = stats.epoch;
  line["head"] = stats.head;
  line["published"] = stats.events_published;
  line["repairs"] = stats.repairs;
  if (!stats.last_error.empty()) line["error"] = stats.last_error;
  return line;
}

}  // namespace

int run_relay(const std::string& uri, const RelayArgs& args) {
  eventstore::RelayOptions options;
  options.context = args.context;
  if (options.context.empty()) throw UsageError("--context must not be empty");
  if (args.lease_ms)
    options.lease = std::chrono::milliseconds(parse_integer(*args.lease_ms, "--lease-ms", 300, 3600000));
  if (args.poll_ms)
    options.poll_interval = std::chrono::milliseconds(parse_integer(*args.poll_ms, "--poll-ms", 1, 60000));
  if (options.poll_interval >= options.lease / 3)
    throw UsageError("--poll-ms must be below a third of the lease (" + std::to_string(options.lease.count()) + " ms)");
  // Checked before opening: an embedded store has nothing to relay (and sqlite: would create a
  // file).
  namespace detail = eventstore::detail;
  if (detail::parse_store_uri(detail::take_store_level_options(uri).uri).scheme != detail::StoreUri::Scheme::kScylla)
    throw UsageError(kNoRelay);

  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  const std::shared_ptr<eventstore::Store> store =
      eventstore::open_store(uri, metrics_store_options(args.metrics_listen));
  std::unique_ptr<eventstore::FeedRelay> relay = store->start_relay(options);
  if (!relay) throw UsageError(kNoRelay);

  using Clock = std::chrono::steady_clock;
  constexpr auto kEvery = std::chrono::seconds(5);
  eventstore::RelayStats last = relay->stats();
  print_json_line(status_line(options.context, last));
  std::fflush(stdout);
  Clock::time_point printed = Clock::now();
  while (g_signal.load() == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const eventstore::RelayStats now = relay->stats();
    const bool changed =
        now.holds_lease != last.holds_lease || now.epoch != last.epoch || now.last_error != last.last_error;
    if (changed || Clock::now() - printed >= kEvery) {
      print_json_line(status_line(options.context, now));
      std::fflush(stdout);
      printed = Clock::now();
      last = now;
    }
  }
  relay->stop();
  print_json_line(status_line(options.context, relay->stats()));
  return 0;
}

}  // namespace eventstore_cli

// eventstore health: one JSON line on the store's health and exit code 0 (healthy) or 1, for
// liveness probes (docs/cli.md, docs/observability.md "Health").
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "cli.h"
#include "eventstore/health.h"

namespace eventstore_cli {
namespace {

// Past --timeout, the time the check's own timeouts take to fire and be reported.
constexpr std::chrono::milliseconds kDeadlineGrace{250};

// "5" or "2.5" (seconds), "5s", "500ms".
std::chrono::milliseconds parse_timeout(const std::string& text) {
  std::string number = text;
  double scale = 1000;
  if (number.ends_with("ms")) {
    number.resize(number.size() - 2);
    scale = 1;
  } else if (number.ends_with("s")) {
    number.resize(number.size() - 1);
  }
  const std::string what =
      "--timeout '" + text + "' must be seconds (5, 2.5, 5s) or milliseconds (500ms), 1 ms .. 600 s";
  if (number.empty() || number.find_first_not_of("0123456789.") != std::string::npos ||
      number.find('.') != number.rfind('.') || number.front() == '.' || number.back() == '.')
    throw UsageError(what);
  const double ms = std::stod(number) * scale;
  if (!(ms >= 1 && ms <= 600000)) throw UsageError(what);
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(ms)));
}

nlohmann::ordered_json report_json(const eventstore::HealthReport& report) {
  nlohmann::ordered_json out;
  out["healthy"] = report.healthy();
  out["store"] = report.store;
  out["backend"] = report.backend;
  out["answers"] = report.answers;
  if (report.round_trip_ms) {
    out["round_trip_ms"] = std::round(*report.round_trip_ms * 1000.0) / 1000.0;
  } else {
    out["round_trip_ms"] = nullptr;
  }
  out["schema_current"] = report.schema_current;
  out["schema"] = report.schema;
  out["hosts"] = nlohmann::ordered_json::array();
  for (const eventstore::HostHealth& host : report.hosts) {
    nlohmann::ordered_json h;
    h["address"] = host.address;
    h["datacenter"] = host.datacenter;
    h["rack"] = host.rack;
    h["enabled"] = host.enabled;
    h["connected"] = host.connected;
    out["hosts"].push_back(std::move(h));
  }
  out["relay_leases"] = nlohmann::ordered_json::array();
  for (const eventstore::RelayLeaseHealth& lease : report.relay_leases) {
    nlohmann::ordered_json l;
    l["context"] = lease.context;
    l["owner"] = lease.owner;
    l["epoch"] = lease.epoch;
    l["lease_expires"] = eventstore::format_rfc3339(lease.expires);
    l["expires_in_ms"] = lease.expires_in_ms;
    l["live"] = lease.live;
    out["relay_leases"].push_back(std::move(l));
  }
  out["problems"] = report.problems;
  return out;
}

// What a check that did not finish in time reports.
eventstore::HealthReport late_report(const std::string& uri, std::chrono::milliseconds timeout) {
  eventstore::HealthReport report;
  const std::string backend_uri = eventstore::take_store_level_options(uri).uri;
  report.store = eventstore::redact_uri(backend_uri);
  report.backend = backend_name(backend_uri);
  report.problems.push_back("no answer within " + std::to_string(timeout.count()) + " ms");
  return report;
}

}  // namespace

int run_health(const std::string& uri, const HealthArgs& args) {
  eventstore::HealthOptions options;
  options.timeout = parse_timeout(args.timeout);
  // The library bounds each step by the timeout; a probe wants the whole check bounded: it runs
  // on a thread of its own, and one that is not done by the deadline is reported as unhealthy.
  auto result = std::make_shared<std::promise<eventstore::HealthReport>>();
  std::future<eventstore::HealthReport> future = result->get_future();
  std::thread([result, uri, options] {
    try {
      result->set_value(eventstore::check_health(uri, options));
    } catch (...) {
      result->set_exception(std::current_exception());
    }
  }).detach();
  if (future.wait_for(options.timeout + kDeadlineGrace) != std::future_status::ready) {
    print_line(scrub(json_line(report_json(late_report(uri, options.timeout)))));
    std::fflush(stdout);
    // The check still runs on its thread: end without running the static destructors under it.
    std::_Exit(1);
  }
  const eventstore::HealthReport report = future.get();  // rethrows a bad URI: exit code 2
  print_line(scrub(json_line(report_json(report))));
  return report.healthy() ? 0 : 1;
}

}  // namespace eventstore_cli

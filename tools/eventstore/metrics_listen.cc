#include "metrics_listen.h"

#include <cctype>
#include <cstdio>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli.h"
#ifdef EVENTSTORE_CLI_WITH_PROMETHEUS
#include "eventstore/prometheus.h"
#endif

namespace eventstore_cli {
namespace {

bool all_digits(const std::string& text) {
  if (text.empty()) return false;
  for (char c : text)
    if (c < '0' || c > '9') return false;
  return true;
}

bool valid_host(const std::string& host) {
  if (host.empty()) return false;
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return false;
    for (char c : host.substr(1, host.size() - 2))
      if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.')) return false;
    return true;
  }
  for (char c : host)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-')) return false;
  return true;
}

// HOST:PORT as documented in metrics_listen.h; throws UsageError naming --metrics-listen.
void validate_metrics_address(const std::string& address) {
  const std::size_t colon = address.rfind(':');
  const std::string what = "--metrics-listen '" + address + "'";
  if (colon == std::string::npos) throw UsageError(what + " must be HOST:PORT, as in 127.0.0.1:9464");
  const std::string host = address.substr(0, colon);
  const std::string port = address.substr(colon + 1);
  if (!valid_host(host))
    throw UsageError(what + ": the host must be a name, an IPv4 address or an [IPv6] address, as in 127.0.0.1:9464");
  if (!all_digits(port) || port.size() > 5 || std::stoi(port) > 65535)
    throw UsageError(what + ": the port must be a number 0..65535");
}

}  // namespace

void add_metrics_listen_option(CLI::App* command, std::optional<std::string>& address) {
  command
      ->add_option("--metrics-listen", address,
                   "Serve the store's metrics for Prometheus at http://HOST:PORT/metrics while the command runs "
                   "(PORT 0: any free port, printed on stderr)")
      ->type_name("HOST:PORT");
}

eventstore::StoreOptions metrics_store_options(const std::optional<std::string>& listen_address, bool aggregate_only) {
  eventstore::StoreOptions options;
  if (!listen_address && !aggregate_only) return options;
  if (listen_address) validate_metrics_address(*listen_address);
#ifdef EVENTSTORE_CLI_WITH_PROMETHEUS
  auto metrics = std::make_shared<eventstore::PrometheusMetrics>();
  if (listen_address) {
    try {
      metrics->listen(*listen_address);
    } catch (const eventstore::Error& e) {
      throw UsageError("--metrics-listen " + *listen_address + ": cannot listen there (" + e.what() + ")");
    }
    const std::vector<int> ports = metrics->listening_ports();
    const std::string host = listen_address->substr(0, listen_address->rfind(':'));
    std::fprintf(stderr, "eventstore: info: serving metrics at http://%s:%d/metrics\n", host.c_str(),
                 ports.empty() ? 0 : ports.front());
    std::fflush(stderr);
  }
  options.metrics = std::move(metrics);
  return options;
#else
  throw UsageError(
      "--metrics-listen and --metrics need a build with prometheus-cpp (Debian: prometheus-cpp-dev); this one has none");
#endif
}

}  // namespace eventstore_cli

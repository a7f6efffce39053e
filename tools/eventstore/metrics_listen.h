// --metrics-listen HOST:PORT of the long-running commands (bench, relay, subscribe --follow, demo)
// and bench's --metrics: the store is opened with an eventstore::PrometheusMetrics sink, serving
// http://HOST:PORT/metrics for as long as the store lives (docs/observability.md).
//
// Errors: UsageError (exit code 2) for an address that is not HOST:PORT, a port the tool cannot
// listen on (in use, not allowed), or a build without prometheus-cpp; all raised before the store
// is opened, so nothing is written.
// Thread safety: called from the command's thread, before it opens the store.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "eventstore/store.h"

namespace CLI {
class App;
}

namespace eventstore_cli {

// Registers --metrics-listen on `command`, bound to `address`.
void add_metrics_listen_option(CLI::App* command, std::optional<std::string>& address);

// The options to open the store with. With `listen_address` (HOST:PORT, HOST a name, an IPv4
// address or [IPv6], PORT 0..65535, 0 for any free port), a PrometheusMetrics serving there;
// the line "eventstore: info: serving metrics at http://HOST:PORT/metrics" (the port it got) goes
// to stderr. With `aggregate_only` (bench --metrics) and no address, a PrometheusMetrics that
// only aggregates. Otherwise no sink.
eventstore::StoreOptions metrics_store_options(const std::optional<std::string>& listen_address,
                                               bool aggregate_only = false);

}  // namespace eventstore_cli

// A MetricsSink that keeps the store's metrics in a prometheus-cpp registry and can serve them
// over HTTP at /metrics. Built as the separate library eventstore::prometheus when CMake finds
// prometheus-cpp (Debian: prometheus-cpp-dev); libeventstore itself has no such dependency.
//
//   auto metrics = std::make_shared<eventstore::PrometheusMetrics>();
//   metrics->listen("127.0.0.1:9464");
//   eventstore::StoreOptions options;
//   options.metrics = metrics;
//   auto store = eventstore::open_store("sqlite:app.db", options);
//
// Each metric's family is registered on its first record(); the metric list is metrics.h's.
// Thread safety: record() and listen() may be called from any thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "eventstore/metrics.h"

namespace prometheus {
class Registry;
}

namespace eventstore {

class PrometheusMetrics final : public MetricsSink {
 public:
  // Keeps the metrics in `registry`, or in a new one when null (to serve the application's
  // own metrics beside the store's, pass the application's registry).
  explicit PrometheusMetrics(std::shared_ptr<prometheus::Registry> registry = nullptr);
  ~PrometheusMetrics() override;

  // Serves the registry at http://ADDRESS/metrics until destruction; ADDRESS is "HOST:PORT",
  // port 0 for any free one. Throws Error(kInvalidArgument) for an address without a port,
  // Error(kUnavailable) when it cannot listen there, Error(kInvalidArgument) when already listening.
  void listen(const std::string& address);
  // The ports it listens on (empty before listen()).
  std::vector<int> listening_ports() const;

  const std::shared_ptr<prometheus::Registry>& registry() const;

  void record(const Metric& metric, std::span<const std::string_view> label_values, double value) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace eventstore

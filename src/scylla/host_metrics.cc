#include "scylla/host_metrics.h"

#include <array>
#include <string>
#include <string_view>
#include <utility>

namespace eventstore::detail {

HostMetricsReporter::HostMetricsReporter(std::shared_ptr<Connection> connection, std::shared_ptr<MetricsSink> sink,
                                         std::chrono::milliseconds interval)
    : connection_(std::move(connection)), sink_(std::move(sink)), interval_(interval) {
  thread_ = std::thread([this] { run(); });
}

HostMetricsReporter::~HostMetricsReporter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void HostMetricsReporter::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    sample();
    lock.lock();
    wake_.wait_for(lock, interval_, [this] { return stopping_; });
  }
}

void HostMetricsReporter::sample() {
  for (const bridge::HostState& host : connection_->session->host_states()) {
    const std::string address = to_std(host.address);
    const std::string datacenter = to_std(host.datacenter);
    const std::array<std::string_view, 2> labels = {address, datacenter};
    sink_->record(metrics::cluster_host_connected, labels, host.connected ? 1 : 0);
  }
}

}  // namespace eventstore::detail

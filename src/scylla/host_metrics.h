// The cluster hosts' connection state as a metric (metrics::cluster_host_connected): a thread
// that samples the driver's view of its hosts when it starts and every `interval` after, and
// reports each host into the sink. Started by a cluster store opened with a metrics sink.
//
// Thread safety: the reporter's thread is its own; the destructor stops and joins it (at most
// one sample late), and must not run on that thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "eventstore/metrics.h"
#include "scylla/connection.h"

namespace eventstore::detail {

class HostMetricsReporter {
 public:
  HostMetricsReporter(std::shared_ptr<Connection> connection, std::shared_ptr<MetricsSink> sink,
                      std::chrono::milliseconds interval = std::chrono::seconds(5));
  ~HostMetricsReporter();
  HostMetricsReporter(const HostMetricsReporter&) = delete;
  HostMetricsReporter& operator=(const HostMetricsReporter&) = delete;

 private:
  void run();
  void sample();

  std::shared_ptr<Connection> connection_;
  std::shared_ptr<MetricsSink> sink_;
  std::chrono::milliseconds interval_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace eventstore::detail

// A MetricsSink for tests: keeps what a store reported, by metric name and label values joined
// with ',' ("eventstore_appends_total,ctx,Order,ok"): counters summed, gauges' last and highest
// values, histograms' counts and sums (key + ":count", key + ":sum").
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "eventstore/metrics.h"

namespace eventstore::testing {

class RecordingSink final : public MetricsSink {
 public:
  void record(const Metric& metric, std::span<const std::string_view> label_values, double value) override {
    EXPECT_EQ(label_values.size(), metric.label_names.size()) << metric.name;
    std::string key(metric.name);
    for (std::string_view v : label_values) key += "," + std::string(v);
    std::lock_guard lock(mutex_);
    ++records_[key];
    switch (metric.type) {
      case MetricType::kCounter:
        EXPECT_GE(value, 0) << key;
        values_[key] += value;
        break;
      case MetricType::kGauge:
        values_[key] = value;
        max_[key] = std::max(max_[key], value);
        break;
      case MetricType::kHistogram:
        values_[key + ":count"] += 1;
        values_[key + ":sum"] += value;
        break;
    }
  }

  double value(const std::string& key) const {
    std::lock_guard lock(mutex_);
    auto it = values_.find(key);
    return it == values_.end() ? 0 : it->second;
  }
  double max(const std::string& key) const {
    std::lock_guard lock(mutex_);
    auto it = max_.find(key);
    return it == max_.end() ? 0 : it->second;
  }
  // How many times the metric with these labels was recorded.
  int records(const std::string& key) const {
    std::lock_guard lock(mutex_);
    auto it = records_.find(key);
    return it == records_.end() ? 0 : it->second;
  }

  // The keys recorded so far that start with `prefix`, with their values.
  std::map<std::string, double> values_with_prefix(const std::string& prefix) const {
    std::lock_guard lock(mutex_);
    std::map<std::string, double> found;
    for (const auto& [key, v] : values_)
      if (key.starts_with(prefix)) found.emplace(key, v);
    return found;
  }

  // Waits until `done(value(key))` (values reported from the store's threads arrive a little
  // after the call that caused them); answers the last value seen.
  double wait_for(const std::string& key, const std::function<bool(double)>& done,
                  std::chrono::milliseconds patience = std::chrono::seconds(30)) const {
    const auto deadline = std::chrono::steady_clock::now() + patience;
    double v = value(key);
    while (!done(v) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      v = value(key);
    }
    return v;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, double> values_;
  std::map<std::string, double> max_;
  std::map<std::string, int> records_;
};

}  // namespace eventstore::testing

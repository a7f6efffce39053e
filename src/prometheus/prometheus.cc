#include "eventstore/prometheus.h"

#include <map>
#include <mutex>
#include <shared_mutex>
#include <string_view>
#include <unordered_map>
#include <utility>

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "eventstore/error.h"

namespace eventstore {
namespace {

// One metric's family and its series, by label values joined with '\x1f' (a character no
// bounded context or type name can hold meaningfully; a name holding it only merges series).
struct Series {
  prometheus::Family<prometheus::Counter>* counters = nullptr;
  prometheus::Family<prometheus::Gauge>* gauges = nullptr;
  prometheus::Family<prometheus::Histogram>* histograms = nullptr;
  std::unordered_map<std::string, void*> by_labels;
};

// Into `key`, reusing its capacity.
void series_key(std::span<const std::string_view> label_values, std::string& key) {
  key.clear();
  for (std::string_view value : label_values) {
    key.append(value);
    key.push_back('\x1f');
  }
}

}  // namespace

struct PrometheusMetrics::Impl {
  std::shared_ptr<prometheus::Registry> registry;
  std::unique_ptr<prometheus::Exposer> exposer;
  // Guards series and the families' Add: shared to look a series up (every record, from any
  // thread), exclusive to add one (once per metric and label values).
  mutable std::shared_mutex mutex;
  std::unordered_map<const Metric*, Series> series;

  Series& family_of(const Metric& metric) {
    Series& s = series[&metric];
    if (s.counters || s.gauges || s.histograms) return s;
    const std::string name(metric.name), help(metric.help);
    switch (metric.type) {
      case MetricType::kCounter:
        s.counters = &prometheus::BuildCounter().Name(name).Help(help).Register(*registry);
        break;
      case MetricType::kGauge: s.gauges = &prometheus::BuildGauge().Name(name).Help(help).Register(*registry); break;
      case MetricType::kHistogram:
        s.histograms = &prometheus::BuildHistogram().Name(name).Help(help).Register(*registry);
        break;
    }
    return s;
  }

  static prometheus::Labels labels_of(const Metric& metric, std::span<const std::string_view> values) {
    prometheus::Labels labels;
    for (std::size_t i = 0; i < metric.label_names.size() && i < values.size(); ++i)
      labels.emplace(std::string(metric.label_names[i]), std::string(values[i]));
    return labels;
  }

  // The series of `metric` with `key`'s label values, if it exists. Under a shared lock.
  void* find_series(const Metric& metric, const std::string& key) const {
    const auto s = series.find(&metric);
    if (s == series.end()) return nullptr;
    const auto it = s->second.by_labels.find(key);
    return it == s->second.by_labels.end() ? nullptr : it->second;
  }

  // Finds or adds it. Under the exclusive lock.
  void* series_of(const Metric& metric, std::span<const std::string_view> values, const std::string& key) {
    Series& s = family_of(metric);
    auto [it, inserted] = s.by_labels.try_emplace(key, nullptr);
    if (!inserted) return it->second;
    const prometheus::Labels labels = labels_of(metric, values);
    if (s.counters) it->second = &s.counters->Add(labels);
    if (s.gauges) it->second = &s.gauges->Add(labels);
    if (s.histograms)
      it->second = &s.histograms->Add(
          labels, prometheus::Histogram::BucketBoundaries(metric.buckets.begin(), metric.buckets.end()));
    return it->second;
  }
};

PrometheusMetrics::PrometheusMetrics(std::shared_ptr<prometheus::Registry> registry) : impl_(std::make_unique<Impl>()) {
  impl_->registry = registry ? std::move(registry) : std::make_shared<prometheus::Registry>();
}

PrometheusMetrics::~PrometheusMetrics() = default;

void PrometheusMetrics::listen(const std::string& address) {
  const std::size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 == address.size())
    throw Error::invalid("metrics address '" + address + "' has no port (HOST:PORT)");
  std::lock_guard lock(impl_->mutex);
  if (impl_->exposer) throw Error::invalid("the metrics are already served");
  try {
    impl_->exposer = std::make_unique<prometheus::Exposer>(address);
  } catch (const std::exception& e) {
    throw Error(ErrorCode::kUnavailable, "cannot serve metrics at " + address + ": " + e.what());
  }
  impl_->exposer->RegisterCollectable(impl_->registry);
}

std::vector<int> PrometheusMetrics::listening_ports() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->exposer ? impl_->exposer->GetListeningPorts() : std::vector<int>{};
}

const std::shared_ptr<prometheus::Registry>& PrometheusMetrics::registry() const { return impl_->registry; }

void PrometheusMetrics::record(const Metric& metric, std::span<const std::string_view> label_values, double value) {
  thread_local std::string key;
  series_key(label_values, key);
  void* series = nullptr;
  {
    std::shared_lock lock(impl_->mutex);
    series = impl_->find_series(metric, key);
  }
  if (!series) {
    std::lock_guard lock(impl_->mutex);
    series = impl_->series_of(metric, label_values, key);
  }
  // The series themselves are thread-safe (atomics, or their own lock for histograms).
  switch (metric.type) {
    case MetricType::kCounter: static_cast<prometheus::Counter*>(series)->Increment(value); break;
    case MetricType::kGauge: static_cast<prometheus::Gauge*>(series)->Set(value); break;
    case MetricType::kHistogram: static_cast<prometheus::Histogram*>(series)->Observe(value); break;
  }
}

}  // namespace eventstore

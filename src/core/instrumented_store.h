// The metrics and spans that open_store adds around every backend when StoreOptions::metrics or
// StoreOptions::tracer is set (docs/observability.md). Backend-neutral: what every store does
// (appends, stream reads, snapshot writes, feed reads, checkpoints) is measured here, once.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "eventstore/metrics.h"
#include "eventstore/store.h"
#include "eventstore/tracing.h"

namespace eventstore::detail {

// `inner`, reporting into `metrics` and `tracer` (either may be null; `inner` itself when both
// are). Answers, errors and data pass through unchanged, except that an append traced with a W3C
// trace context gains the member "traceparent" in its events' metadata (tracing.h).
std::shared_ptr<Store> instrument(std::shared_ptr<Store> inner, std::shared_ptr<MetricsSink> metrics,
                                  std::shared_ptr<Tracer> tracer);

// One operation on a stream being measured: its labels (copied: the answer may come after the
// caller's StreamId is gone), its start, and its span with the stream's attributes. Used by the
// measuring layer and by the aggregate store's reports; does nothing where `metrics` or `tracer`
// is null.
class StreamOperation {
 public:
  StreamOperation(MetricsSink* metrics, Tracer* tracer, std::string_view span_name, const StreamId& stream);

  Span* span() const { return span_.get(); }
  double seconds() const;  // since construction

  // The counter `total` and, when given, the histogram `seconds`, labelled with the outcome.
  void count(const Metric& total, const Metric* seconds, const Error* error) const;
  void count(const Metric& total, const Metric* seconds, std::string_view outcome) const;
  // `value` into a metric labelled with the stream only.
  void add(const Metric& metric, double value) const;
  void end_span(const Error* error) const;
  void end_span(std::string_view outcome, std::string_view error) const;

 private:
  MetricsSink* metrics_;
  std::string context_;
  std::string aggregate_type_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::unique_ptr<Span> span_;
};

// "ok", or the error's code name ("version_conflict", ...): the outcome label of every metric.
std::string_view outcome_of(const Error* error);

// `metadata` (a JSON object text, or none) with the member "traceparent": `traceparent` added,
// unless it already has a member of that name.
std::optional<std::string> with_traceparent(const std::optional<std::string>& metadata, std::string_view traceparent);

}  // namespace eventstore::detail

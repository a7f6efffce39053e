// The metrics and spans that open_store adds around every backend when StoreOptions::metrics or
// StoreOptions::tracer is set (docs/observability.md). Backend-neutral: what every store does
// (appends, stream reads, snapshot writes, feed reads, checkpoints) is measured here, once.
#pragma once

#include <memory>

#include "eventstore/metrics.h"
#include "eventstore/store.h"
#include "eventstore/tracing.h"

namespace eventstore::detail {

// `inner`, reporting into `metrics` and `tracer` (either may be null; `inner` itself when both
// are). Answers, errors and data pass through unchanged, except that an append traced with a W3C
// trace context gains the member "traceparent" in its events' metadata (tracing.h).
std::shared_ptr<Store> instrument(std::shared_ptr<Store> inner, std::shared_ptr<MetricsSink> metrics,
                                  std::shared_ptr<Tracer> tracer);

// "ok", or the error's code name ("version_conflict", ...): the outcome label of every metric.
std::string_view outcome_of(const Error* error);

// `metadata` (a JSON object text, or none) with the member "traceparent": `traceparent` added,
// unless it already has a member of that name.
std::optional<std::string> with_traceparent(const std::optional<std::string>& metadata, std::string_view traceparent);

}  // namespace eventstore::detail

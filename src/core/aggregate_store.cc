// The non-template part of aggregate_store.h: reporting loads and saves.
#include "eventstore/aggregate_store.h"

#include <array>
#include <chrono>

#include "instrumented_store.h"

namespace eventstore::detail {

struct AggregateOperation::Impl {
  MetricsSink* metrics;
  std::unique_ptr<Span> span;
  std::string context;
  std::string aggregate_type;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();

  void end(std::string_view outcome, std::string_view error) {
    if (span) span->end(outcome, error);
    span.reset();
  }
};

AggregateOperation::AggregateOperation(const Store& store, std::string_view span_name, const StreamId& stream) {
  MetricsSink* metrics = store.metrics_sink().get();
  Tracer* tracer = store.tracer().get();
  if (!metrics && !tracer) return;
  impl_ = std::make_unique<Impl>(Impl{metrics, nullptr, stream.bounded_context, stream.aggregate_type});
  if (tracer && (impl_->span = tracer->start_span(span_name))) {
    impl_->span->set_attribute("eventstore.context", stream.bounded_context);
    impl_->span->set_attribute("eventstore.aggregate_type", stream.aggregate_type);
    impl_->span->set_attribute("eventstore.aggregate_id", stream.aggregate_id.to_string());
  }
}

AggregateOperation::~AggregateOperation() {
  if (impl_) impl_->end(to_string(ErrorCode::kInternal), "the operation ended by an exception");
}

void AggregateOperation::loaded(std::int64_t events_replayed, bool snapshot_used) {
  if (!impl_) return;
  if (impl_->metrics) {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - impl_->start).count();
    const std::array<std::string_view, 2> stream = {impl_->context, impl_->aggregate_type};
    const std::array<std::string_view, 3> with_snapshot = {impl_->context, impl_->aggregate_type,
                                                           snapshot_used ? "used" : "none"};
    impl_->metrics->record(metrics::aggregate_loads_total, with_snapshot, 1);
    impl_->metrics->record(metrics::aggregate_load_seconds, stream, seconds);
    impl_->metrics->record(metrics::aggregate_events_replayed, stream, static_cast<double>(events_replayed));
  }
  if (impl_->span) {
    impl_->span->set_attribute("eventstore.events", events_replayed);
    impl_->span->set_attribute("eventstore.snapshot", snapshot_used ? "used" : "none");
  }
  impl_->end("ok", "");
}

void AggregateOperation::saved(std::int64_t events_appended) {
  if (!impl_) return;
  if (impl_->span) impl_->span->set_attribute("eventstore.events", events_appended);
  impl_->end("ok", "");
}

void AggregateOperation::failed(const Error& error) {
  if (impl_) impl_->end(outcome_of(&error), error.what());
}

}  // namespace eventstore::detail

// The non-template part of aggregate_store.h: reporting loads and saves.
#include "eventstore/aggregate_store.h"

#include "instrumented_store.h"

namespace eventstore::detail {

struct AggregateOperation::Impl {
  StreamOperation operation;
  bool ended = false;

  void end(std::string_view outcome, std::string_view error) {
    if (!ended) operation.end_span(outcome, error);
    ended = true;
  }
};

AggregateOperation::AggregateOperation(const Store& store, std::string_view span_name, const StreamId& stream) {
  MetricsSink* metrics = store.metrics_sink().get();
  Tracer* tracer = store.tracer().get();
  if (metrics || tracer) impl_ = std::make_unique<Impl>(Impl{StreamOperation(metrics, tracer, span_name, stream)});
}

AggregateOperation::~AggregateOperation() {
  if (impl_) impl_->end(to_string(ErrorCode::kInternal), "the operation ended by an exception");
}

void AggregateOperation::loaded(std::int64_t events_replayed, bool snapshot_used) {
  if (!impl_) return;
  const StreamOperation& operation = impl_->operation;
  operation.count(metrics::aggregate_loads_total, nullptr, snapshot_used ? "used" : "none");
  operation.add(metrics::aggregate_load_seconds, operation.seconds());
  operation.add(metrics::aggregate_events_replayed, static_cast<double>(events_replayed));
  if (Span* span = operation.span()) {
    span->set_attribute("eventstore.events", events_replayed);
    span->set_attribute("eventstore.snapshot", snapshot_used ? "used" : "none");
  }
  impl_->end("ok", "");
}

void AggregateOperation::saved(std::int64_t events_appended) {
  if (!impl_) return;
  if (Span* span = impl_->operation.span()) span->set_attribute("eventstore.events", events_appended);
  impl_->end("ok", "");
}

void AggregateOperation::failed(const Error& error) {
  if (impl_) impl_->end(outcome_of(&error), error.what());
}

}  // namespace eventstore::detail

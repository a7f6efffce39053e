#include "instrumented_store.h"

#include <array>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "forwarding_store.h"
#include "validation.h"

namespace eventstore::detail {
namespace {

class AppendOperation {
 public:
  AppendOperation(MetricsSink* metrics, Tracer* tracer, const StreamId& stream, ExpectedVersion expected,
                  std::vector<EventData>& events)
      : operation_(metrics, tracer, "eventstore.append", stream), events_(events.size()) {
    if (metrics) {
      for (const EventData& event : events) bytes_ += event_bytes(event.event_type, event.data, event.metadata);
    }
    Span* span = operation_.span();
    if (!span) return;
    span->set_attribute("eventstore.expected_version", expected.to_string());
    span->set_attribute("eventstore.events", static_cast<std::int64_t>(events.size()));
    const std::string traceparent = span->traceparent();
    if (traceparent.empty()) return;
    for (EventData& event : events) event.metadata = with_traceparent(event.metadata, traceparent);
  }

  void finish(const Error* error) const {
    operation_.count(metrics::appends_total, &metrics::append_seconds, error);
    if (!error) {
      operation_.add(metrics::appended_events_total, static_cast<double>(events_));
      operation_.add(metrics::appended_bytes_total, static_cast<double>(bytes_));
    }
    operation_.end_span(error);
  }

 private:
  StreamOperation operation_;
  std::size_t events_;
  std::size_t bytes_ = 0;
};

// Reports each page of a stream read: its outcome, its events and how long it took.
class InstrumentedCursor final : public EventCursor {
 public:
  InstrumentedCursor(std::unique_ptr<EventCursor> inner, std::shared_ptr<MetricsSink> metrics,
                     std::shared_ptr<Tracer> tracer, StreamId stream)
      : inner_(std::move(inner)),
        metrics_(std::move(metrics)),
        tracer_(std::move(tracer)),
        stream_(std::move(stream)) {}

  void next_page_async(PageCallback callback) override {
    auto page_read = std::make_shared<StreamOperation>(metrics_.get(), tracer_.get(), "eventstore.read", stream_);
    inner_->next_page_async(
        [metrics = metrics_, page_read, callback = std::move(callback)](Result<std::vector<RecordedEvent>> page) {
          const Error* error = page ? nullptr : &page.error();
          page_read->count(metrics::read_pages_total, &metrics::read_page_seconds, error);
          if (page) {
            page_read->add(metrics::read_events_total, static_cast<double>(page.value().size()));
            if (Span* span = page_read->span())
              span->set_attribute("eventstore.events", static_cast<std::int64_t>(page.value().size()));
          }
          page_read->end_span(error);
          callback(std::move(page));
        });
  }

 private:
  std::unique_ptr<EventCursor> inner_;
  std::shared_ptr<MetricsSink> metrics_;  // kept alive while a page is read
  std::shared_ptr<Tracer> tracer_;
  StreamId stream_;
};

class InstrumentedStore final : public ForwardingStore {
 public:
  InstrumentedStore(std::shared_ptr<Store> inner, std::shared_ptr<MetricsSink> metrics, std::shared_ptr<Tracer> tracer)
      : ForwardingStore(std::move(inner)), metrics_(std::move(metrics)), tracer_(std::move(tracer)) {}

  const std::shared_ptr<MetricsSink>& metrics_sink() const override { return metrics_; }
  const std::shared_ptr<Tracer>& tracer() const override { return tracer_; }

  void append_async(const StreamId& stream, ExpectedVersion expected, std::vector<EventData> events,
                    AppendCallback callback) override {
    auto append = std::make_shared<AppendOperation>(metrics_.get(), tracer_.get(), stream, expected, events);
    // `metrics` keeps the sink alive until the answer: the operation holds a plain pointer to it.
    inner().append_async(stream, expected, std::move(events),
                         [metrics = metrics_, append, callback = std::move(callback)](Result<AppendResult> result) {
                           append->finish(result ? nullptr : &result.error());
                           callback(std::move(result));
                         });
  }

  // The inner store's blocking form, not append_async: the bound on appends in flight waits for
  // room there rather than refusing.
  AppendResult append(const StreamId& stream, ExpectedVersion expected, std::vector<EventData> events) override {
    const AppendOperation append(metrics_.get(), tracer_.get(), stream, expected, events);
    try {
      AppendResult result = inner().append(stream, expected, std::move(events));
      append.finish(nullptr);
      return result;
    } catch (const Error& e) {
      append.finish(&e);
      throw;
    }
  }

  std::unique_ptr<EventCursor> read(const StreamId& stream, const ReadOptions& options) override {
    return std::make_unique<InstrumentedCursor>(inner().read(stream, options), metrics_, tracer_, stream);
  }
  void save_snapshot_async(const StreamId& stream, Snapshot snapshot, SaveCallback callback) override {
    if (!metrics_) return inner().save_snapshot_async(stream, std::move(snapshot), std::move(callback));
    auto write = std::make_shared<StreamOperation>(metrics_.get(), nullptr, "", stream);
    inner().save_snapshot_async(
        stream, std::move(snapshot),
        [metrics = metrics_, write, callback = std::move(callback)](Result<SnapshotSaveResult> result) {
          if (result && !result.value().stored) write->count(metrics::snapshot_writes_total, nullptr, "refused_older");
          else write->count(metrics::snapshot_writes_total, nullptr, result ? nullptr : &result.error());
          callback(std::move(result));
        });
  }

  void read_feed_async(const std::string& context, const FeedReadOptions& options, FeedPageCallback callback) override {
    if (!metrics_) return inner().read_feed_async(context, options, std::move(callback));
    inner().read_feed_async(
        context, options, [metrics = metrics_, context, callback = std::move(callback)](Result<FeedPage> page) {
          const Error* error = page ? nullptr : &page.error();
          const std::array<std::string_view, 2> with_outcome = {context, outcome_of(error)};
          metrics->record(metrics::feed_pages_total, with_outcome, 1);
          if (page) {
            const std::array<std::string_view, 1> labels = {context};
            metrics->record(metrics::feed_entries_total, labels, static_cast<double>(page.value().entries.size()));
          }
          callback(std::move(page));
        });
  }
  void feed_head_async(const std::string& context, PositionCallback callback) override {
    if (!metrics_) return inner().feed_head_async(context, std::move(callback));
    inner().feed_head_async(context,
                            [metrics = metrics_, context, callback = std::move(callback)](Result<std::int64_t> head) {
                              if (head) {
                                const std::array<std::string_view, 1> labels = {context};
                                metrics->record(metrics::feed_head, labels, static_cast<double>(head.value()));
                              }
                              callback(std::move(head));
                            });
  }
  void save_checkpoint_async(const std::string& context, const std::string& name, std::int64_t position,
                             PositionCallback callback) override {
    if (!metrics_) return inner().save_checkpoint_async(context, name, position, std::move(callback));
    inner().save_checkpoint_async(
        context, name, position,
        [metrics = metrics_, context, name, callback = std::move(callback)](Result<std::int64_t> stored) {
          if (stored) {
            const std::array<std::string_view, 2> labels = {context, name};
            metrics->record(metrics::checkpoint_position, labels, static_cast<double>(stored.value()));
          }
          callback(std::move(stored));
        });
  }

 private:
  const std::shared_ptr<MetricsSink> metrics_;
  const std::shared_ptr<Tracer> tracer_;
};

}  // namespace

StreamOperation::StreamOperation(MetricsSink* metrics, Tracer* tracer, std::string_view span_name,
                                 const StreamId& stream)
    : metrics_(metrics), context_(stream.bounded_context), aggregate_type_(stream.aggregate_type) {
  if (!tracer || !(span_ = tracer->start_span(span_name))) return;
  span_->set_attribute("eventstore.context", stream.bounded_context);
  span_->set_attribute("eventstore.aggregate_type", stream.aggregate_type);
  span_->set_attribute("eventstore.aggregate_id", stream.aggregate_id.to_string());
}

double StreamOperation::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void StreamOperation::count(const Metric& total, const Metric* seconds, const Error* error) const {
  count(total, seconds, outcome_of(error));
}

void StreamOperation::count(const Metric& total, const Metric* seconds_metric, std::string_view outcome) const {
  if (!metrics_) return;
  const std::array<std::string_view, 3> labels = {context_, aggregate_type_, outcome};
  metrics_->record(total, labels, 1);
  if (seconds_metric) metrics_->record(*seconds_metric, labels, seconds());
}

void StreamOperation::add(const Metric& metric, double value) const {
  if (!metrics_) return;
  const std::array<std::string_view, 2> labels = {context_, aggregate_type_};
  metrics_->record(metric, labels, value);
}

void StreamOperation::end_span(const Error* error) const {
  end_span(outcome_of(error), error ? std::string_view(error->what()) : std::string_view());
}

void StreamOperation::end_span(std::string_view outcome, std::string_view error) const {
  if (span_) span_->end(outcome, error);
}

std::string_view outcome_of(const Error* error) { return error ? to_string(error->code()) : std::string_view("ok"); }

std::optional<std::string> with_traceparent(const std::optional<std::string>& metadata, std::string_view traceparent) {
  const std::string member = "\"traceparent\":" + nlohmann::json(std::string(traceparent)).dump();
  if (!metadata) return "{" + member + "}";
  // The application's text is kept as written (nlohmann would reorder and re-escape it): the
  // member goes in right after the opening brace. Text that is not a JSON object is left for
  // the store's validation to refuse.
  const nlohmann::json object = nlohmann::json::parse(*metadata, nullptr, false);
  if (!object.is_object() || object.contains("traceparent")) return metadata;
  const std::size_t brace = metadata->find('{');
  std::string text = *metadata;
  text.insert(brace + 1, object.empty() ? member : member + ",");
  return text;
}

std::shared_ptr<Store> instrument(std::shared_ptr<Store> inner, std::shared_ptr<MetricsSink> metrics,
                                  std::shared_ptr<Tracer> tracer) {
  if (!metrics && !tracer) return inner;
  return std::make_shared<InstrumentedStore>(std::move(inner), std::move(metrics), std::move(tracer));
}

}  // namespace eventstore::detail

namespace eventstore {

std::optional<std::string> traceparent_of(const RecordedEvent& event) {
  if (!event.metadata) return std::nullopt;
  const nlohmann::json object = nlohmann::json::parse(*event.metadata, nullptr, false);
  if (!object.is_object()) return std::nullopt;
  const auto it = object.find("traceparent");
  if (it == object.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

}  // namespace eventstore

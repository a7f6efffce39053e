// Tracing: a hook through which the store's operations become spans of the application's tracer
// (OpenTelemetry or any other; docs/observability.md shows an adapter), with no dependency here.
//
// Invariants:
//  - Nothing is traced while StoreOptions::tracer is null.
//  - Spans: "eventstore.append" (one per append, from the call to its answer), "eventstore.read"
//    (one per page of a stream read), "eventstore.aggregate.load" and "eventstore.aggregate.save".
//    Attributes: eventstore.context, eventstore.aggregate_type, eventstore.aggregate_id,
//    eventstore.expected_version (appends), eventstore.events, eventstore.outcome ("ok" or the
//    ErrorCode's name).
//  - An append whose span has a W3C trace context (Span::traceparent() not empty) stores it in
//    the metadata of each of its events as the member "traceparent", unless the application
//    already set one there; traceparent_of() gives it back to a reader (a projection), so a trace
//    follows an event from the command to its read models. The member counts against
//    Limits::max_event_bytes like the rest of the metadata.
//
// Thread safety: start_span() is called from any thread, concurrently. A Span is used by one
// thread at a time but may end on another thread than the one that started it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "eventstore/event.h"
#include "eventstore/export.h"

namespace eventstore {

class EVENTSTORE_EXPORT Span {
 public:
  virtual ~Span() = default;
  virtual void set_attribute(std::string_view key, std::string_view value) = 0;
  virtual void set_attribute(std::string_view key, std::int64_t value) = 0;
  // Ends the span; `outcome` is "ok" or the ErrorCode's name, `error` empty on success.
  virtual void end(std::string_view outcome, std::string_view error) = 0;
  // The span's W3C traceparent ("00-<trace id>-<span id>-<flags>"), or empty.
  virtual std::string traceparent() const { return {}; }
};

class EVENTSTORE_EXPORT Tracer {
 public:
  virtual ~Tracer() = default;
  // A span as a child of whatever the tracer considers current on the calling thread.
  virtual std::unique_ptr<Span> start_span(std::string_view name) = 0;
};

// The "traceparent" member of an event's metadata, if it holds one that is a string.
EVENTSTORE_EXPORT std::optional<std::string> traceparent_of(const RecordedEvent& event);

}  // namespace eventstore

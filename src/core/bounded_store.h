// The bound on appends in flight that open_store puts around every backend (docs/semantics.md,
// "Backpressure").
#pragma once

#include <cstddef>
#include <memory>

#include "eventstore/metrics.h"
#include "eventstore/store.h"

namespace eventstore::detail {

// Wraps `inner` so that at most `max_appends` appends, holding at most `max_bytes` bytes of
// events (type + data + metadata), are in flight at once. An append is in flight from its
// admission until the inner store calls its callback (async) or returns (blocking).
//  - append_async past either bound calls its callback at once with kUnavailable and writes
//    nothing; the blocking append waits for room, then runs the inner blocking append.
//  - One append larger than `max_bytes` is admitted when nothing else is in flight (Limits
//    bounds its size).
//  - Every other method (reads, snapshots, feeds, relays) forwards to `inner`.
//  - With `metrics`, the gauges appends_in_flight and append_bytes_in_flight follow every change.
// Precondition: max_appends >= 1 and max_bytes >= 1.
std::shared_ptr<Store> bound_appends_in_flight(std::shared_ptr<Store> inner, std::size_t max_appends,
                                               std::size_t max_bytes, std::shared_ptr<MetricsSink> metrics = nullptr);

}  // namespace eventstore::detail

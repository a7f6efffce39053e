#include "eventstore/snapshot_policy.h"

#include "eventstore/error.h"

namespace eventstore {

SnapshotPolicy every_n_events(std::int64_t n) {
  if (n < 1) throw Error::invalid("every_n_events needs n >= 1, got " + std::to_string(n));
  return [n](const SnapshotContext& c) { return c.version_before / n < c.version_after / n; };
}

SnapshotPolicy every_interval(std::chrono::milliseconds interval) {
  return [interval](const SnapshotContext& c) { return !c.snapshot_time || c.now - *c.snapshot_time >= interval; };
}

SnapshotPolicy never() {
  return [](const SnapshotContext&) { return false; };
}

}  // namespace eventstore

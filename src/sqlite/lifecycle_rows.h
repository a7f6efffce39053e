// A stream's lifecycle in the file (docs/lifecycle.md, docs/sqlite.md "Stream lifecycle"): its
// row of stream_lifecycle, and the writes of a lifecycle change, which the writer makes in the
// transaction (and savepoint) of the change's system event.
//
// Invariants: a stream's before_version and hard_deleted only grow; once the change is applied,
// event_store holds none of the stream's events below before_version, and a delete (soft or
// hard) has removed the stream's snapshot.
// Errors: each call throws what the Connection throws (SQLite errors).
// Thread safety: each call uses the connection it is given, which the caller holds alone.
#pragma once

#include <cstdint>
#include <string>

#include "eventstore/event_store.h"
#include "sqlite/connection.h"

namespace eventstore::detail {

struct StreamLifecycle {
  std::int64_t before = 1;  // the first version reads may return
  bool hard_deleted = false;
};

// The stream's lifecycle (the defaults when it has no row). `aggregate_id` is the id as text.
StreamLifecycle lifecycle_of(Connection& c, const StreamId& stream, const std::string& aggregate_id);

// The system event of `change` was just inserted at `version`: raises the stream's before to
// lifecycle_before(change, version) (never lowers it), deletes the events below it, marks a hard
// delete, and removes the snapshot for a delete.
void apply_lifecycle_change(Connection& c, const StreamId& stream, const std::string& aggregate_id,
                            const LifecycleChange& change, std::int64_t version);

}  // namespace eventstore::detail

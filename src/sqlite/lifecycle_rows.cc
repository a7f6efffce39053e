// A stream's lifecycle row and the writes of a change (lifecycle_rows.h).
#include "sqlite/lifecycle_rows.h"

#include "core/lifecycle.h"
#include "sqlite/statements.h"

namespace eventstore::detail {

StreamLifecycle lifecycle_of(Connection& c, const StreamId& stream, const std::string& aggregate_id) {
  StreamLifecycle lifecycle;
  Bound q(c, kLifecycleLoad);
  q.stream(stream, aggregate_id);
  if (!q.step("read the stream's lifecycle")) return lifecycle;
  if (sqlite3_column_type(q.get(), 0) != SQLITE_INTEGER || sqlite3_column_int64(q.get(), 0) < 1 ||
      sqlite3_column_type(q.get(), 1) != SQLITE_INTEGER)
    throw Error(ErrorCode::kCorruption,
                c.options().display + ": the lifecycle row of " + to_string(stream) + " is damaged");
  lifecycle.before = sqlite3_column_int64(q.get(), 0);
  lifecycle.hard_deleted = sqlite3_column_int64(q.get(), 1) != 0;
  return lifecycle;
}

void apply_lifecycle_change(Connection& c, const StreamId& stream, const std::string& aggregate_id,
                            const LifecycleChange& change, std::int64_t version) {
  {
    Bound q(c, kLifecycleUpsert);
    q.stream(stream, aggregate_id);
    q.integer(4, lifecycle_before(change, version));
    q.integer(5, change.kind == LifecycleKind::kHardDelete ? 1 : 0);
    q.step("store the stream's lifecycle");
  }
  const StreamLifecycle now = lifecycle_of(c, stream, aggregate_id);
  {
    Bound q(c, kDeleteBelow);
    q.stream(stream, aggregate_id);
    q.integer(4, now.before);
    q.step("remove the events below the stream's before");
  }
  if (change.kind == LifecycleKind::kTruncate) return;
  Bound q(c, kSnapshotDelete);
  q.stream(stream, aggregate_id);
  q.step("remove the stream's snapshot");
}

}  // namespace eventstore::detail

// The snapshot operations of the cluster store (SnapshotStore) on the aggregate_snapshot table.
//
// Invariants: a stored snapshot never moves backwards (the save is one Paxos write conditional on
// the stored version); a snapshot above the stream's head is refused; a damaged snapshot row
// (no data, no timestamp, or one validate_snapshot refuses) loads as none, with a warning.
//
// Errors, through the callback: what validate_stream / validate_snapshot refuse
// (kInvalidArgument); snapshot_above_head (kVersionConflict); kStreamDeleted for a save to a
// hard-deleted stream; kUnavailable, kUnauthorized from the cluster; kOutcomeUnknown when a save
// was written but reading it back failed.
//
// Thread safety: call from any thread; callbacks run on a bridge worker thread (or at once on
// the caller's thread for an argument refused).
#pragma once

#include <functional>
#include <memory>
#include <optional>

#include "eventstore/event_store.h"
#include "eventstore/snapshot_store.h"
#include "scylla/connection.h"

namespace eventstore::detail {

void load_scylla_snapshot(std::shared_ptr<Connection> connection, const StreamId& stream,
                          SnapshotStore::LoadCallback callback);

// A snapshot stored above the stream's head (a restore from backups of the two tables taken at
// different times) is replaced.
void save_scylla_snapshot(std::shared_ptr<Connection> connection, const StreamId& stream, Snapshot snapshot,
                          SnapshotStore::SaveCallback callback);

// Deletes the stream's snapshot row, if any (a deleted stream's: docs/scylla.md, "Lifecycle"):
// one conditional DELETE, ordered after the saves' conditional writes. `callback` gets the error
// of the delete, or none.
void remove_scylla_snapshot(const std::shared_ptr<Connection>& connection, const StreamId& stream,
                            std::function<void(std::optional<Error>)> callback);

// `callback` for a delete of `stream`: on success it is called once the stream's snapshot (state
// derived from the deleted events) is removed; a removal that fails is logged and the delete's
// answer stands (AggregateStore::load starts over at a "$deleted" event anyway). Failures pass
// straight through.
EventStore::AppendCallback after_removing_snapshot(std::shared_ptr<Connection> connection, StreamId stream,
                                                   EventStore::AppendCallback callback);

}  // namespace eventstore::detail

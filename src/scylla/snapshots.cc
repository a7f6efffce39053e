// The snapshot operations of the cluster store: see snapshots.h.
#include "scylla/snapshots.h"

#include <chrono>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "core/validation.h"
#include "eventstore/log.h"
#include "scylla/completions.h"
#include "scylla/cql.h"
#include "scylla/rows.h"

namespace eventstore::detail {
namespace {

OnError save_failed(const SnapshotStore::SaveCallback& callback, const StreamId& stream) {
  return [callback, stream](const bridge::BridgeError& e) {
    callback(to_error(e, "snapshot save of " + to_string(stream)));
  };
}

// The cluster's snapshot row as a Snapshot, checked as the SQLite backend checks its rows: a
// damaged row is skipped with a warning. The seed's library writes "" as metadata: none.
std::optional<Snapshot> checked_snapshot(const StreamId& stream, const bridge::Snapshot& row, const Limits& limits) {
  Snapshot snapshot;
  snapshot.version = row.version;
  snapshot.data = to_std(row.data);
  if (row.has_metadata && !row.metadata.empty()) snapshot.metadata = to_std(row.metadata);
  snapshot.timestamp = Timestamp(std::chrono::milliseconds(row.timestamp_ms));
  std::string damage;
  if (!row.has_data) {
    damage = "no snapshot_data";
  } else if (!row.has_timestamp) {
    damage = "no snapshot_timestamp";
  } else {
    Limits any_size = limits;
    any_size.max_event_bytes = std::numeric_limits<std::size_t>::max();
    if (auto error = validation_error([&] { validate_snapshot(stream, snapshot, any_size); })) damage = error->what();
    else return snapshot;
  }
  log(LogLevel::kWarning, "the snapshot of " + to_string(stream) + " is damaged (" + damage + "); it is skipped");
  return std::nullopt;
}

// A stored snapshot, unless its stream was hard-deleted while it was being written: a hard delete
// removes the snapshot after its batch, so a save that read the head before that batch may write
// after the removal. Read again after the write, the stream shows the delete; the row goes then.
void unless_hard_deleted(const std::shared_ptr<Connection>& connection, const StreamId& stream, std::int64_t version,
                         const SnapshotStore::SaveCallback& callback) {
  connection->session->read_head(
      key_of(stream), /*serial=*/false,
      done<SliceDone>(
          [connection, stream, version, callback](bridge::StreamSlice slice) {
            if (!slice.hard_deleted) return callback(SnapshotSaveResult{true, version});
            const Error deleted = Error::stream_deleted(head_of(slice), to_string(stream));
            remove_scylla_snapshot(connection, stream, [stream, deleted, callback](std::optional<Error> error) {
              if (error)
                log(LogLevel::kWarning, "a snapshot written as " + to_string(stream) +
                                            " was hard-deleted could not be removed: " + error->what());
              callback(deleted);
            });
          },
          [stream, callback](const bridge::BridgeError& e) {
            callback(Error(ErrorCode::kOutcomeUnknown,
                           "snapshot of " + to_string(stream) +
                               " written, but reading its stream's head back failed: " + to_std(e.message)));
          }));
}

// The never-backwards write, then a read that it was not shadowed: the seed's library writes
// snapshots with plain INSERTs at client timestamps, and a row of it with a later timestamp
// than our Paxos write wins on read, although our write was applied.
void save_below_head(std::shared_ptr<Connection> connection, const StreamId& stream, Snapshot snapshot,
                     std::int64_t head, SnapshotStore::SaveCallback callback) {
  bridge::Snapshot row{};
  row.version = static_cast<std::int32_t>(snapshot.version);
  row.has_data = true;
  row.data = snapshot.data;
  row.has_metadata = snapshot.metadata.has_value();
  if (snapshot.metadata) row.metadata = *snapshot.metadata;
  row.has_timestamp = true;
  row.timestamp_ms = snapshot.timestamp.time_since_epoch().count();
  const std::int64_t version = snapshot.version;
  const std::int64_t timestamp_ms = row.timestamp_ms;
  connection->session->save_snapshot(
      key_of(stream), std::move(row), static_cast<std::int32_t>(head),
      done<SnapshotSaveDone>(
          [connection, stream, version, timestamp_ms, callback](bridge::SnapshotSaveOutcome outcome) {
            if (!outcome.stored) return callback(SnapshotSaveResult{false, outcome.existing_version});
            // The read-back's completion holds the connection: the store may be gone by now.
            connection->session->load_snapshot(
                key_of(stream),
                done<SnapshotLoadDone>(
                    [connection, stream, version, timestamp_ms, callback](bridge::SnapshotLoad load) {
                      if (load.found && load.snapshot.version == version && load.snapshot.timestamp_ms == timestamp_ms)
                        return unless_hard_deleted(connection, stream, version, callback);
                      log(LogLevel::kWarning,
                          "the snapshot of " + to_string(stream) + " at version " + std::to_string(version) +
                              " was written but reads back as another (version " +
                              std::to_string(load.found ? load.snapshot.version : 0) +
                              "): a write with a later timestamp, such as the seed library's, shadows it");
                      callback(SnapshotSaveResult{false, load.found ? load.snapshot.version : 0});
                    },
                    [stream, callback](const bridge::BridgeError& e) {
                      callback(Error(ErrorCode::kOutcomeUnknown,
                                     "snapshot of " + to_string(stream) +
                                         " written, but reading it back failed: " + to_std(e.message)));
                    }));
          },
          save_failed(callback, stream)));
}

}  // namespace

void load_scylla_snapshot(std::shared_ptr<Connection> connection, const StreamId& stream,
                          SnapshotStore::LoadCallback callback) {
  if (auto error = validation_error([&] { validate_stream(stream, connection->limits); }))
    return callback(std::move(*error));
  const bridge::Session& session = *connection->session;
  session.load_snapshot(
      key_of(stream),
      done<SnapshotLoadDone>(
          [callback, stream, connection = std::move(connection)](bridge::SnapshotLoad load) {
            callback(load.found ? checked_snapshot(stream, load.snapshot, connection->limits) : std::nullopt);
          },
          [callback, stream](const bridge::BridgeError& e) {
            callback(to_error(e, "snapshot load of " + to_string(stream)));
          }));
}

// One head read first: a snapshot above the head is refused, one stored above it is replaced, and
// a hard-deleted stream refuses every save (kStreamDeleted).
void save_scylla_snapshot(std::shared_ptr<Connection> connection, const StreamId& stream, Snapshot snapshot,
                          SnapshotStore::SaveCallback callback) {
  if (auto error = validation_error([&] { validate_snapshot(stream, snapshot, connection->limits); }))
    return callback(std::move(*error));
  const bridge::Session& session = *connection->session;
  session.read_head(key_of(stream), /*serial=*/false,
                    done<SliceDone>(
                        [connection = std::move(connection), stream, snapshot = std::move(snapshot),
                         callback](bridge::StreamSlice slice) mutable {
                          const std::int64_t head = head_of(slice);
                          if (slice.hard_deleted) return callback(Error::stream_deleted(head, to_string(stream)));
                          if (snapshot.version > head)
                            return callback(snapshot_above_head(stream, snapshot.version, head));
                          save_below_head(std::move(connection), stream, std::move(snapshot), head,
                                          std::move(callback));
                        },
                        save_failed(callback, stream)));
}

void remove_scylla_snapshot(const std::shared_ptr<Connection>& connection, const StreamId& stream,
                            std::function<void(std::optional<Error>)> callback) {
  cql::execute(connection,
               {"DELETE FROM " + cql::table(connection, "aggregate_snapshot") +
                    " WHERE bounded_context = ? AND aggregate_id = ? AND aggregate_type = ? IF EXISTS",
                {stream.bounded_context, stream.aggregate_id, stream.aggregate_type}},
               cql::Options{cql::Consistency::kQuorum, false},
               [callback = std::move(callback)](Result<std::vector<cql::Row>> deleted) {
                 callback(deleted.ok() ? std::nullopt : std::optional<Error>(deleted.error()));
               });
}

EventStore::AppendCallback after_removing_snapshot(std::shared_ptr<Connection> connection, StreamId stream,
                                                   EventStore::AppendCallback callback) {
  return [connection = std::move(connection), stream = std::move(stream),
          callback = std::move(callback)](Result<AppendResult> result) {
    if (!result) return callback(std::move(result));
    auto held = std::make_shared<Result<AppendResult>>(std::move(result));
    remove_scylla_snapshot(connection, stream, [stream, held, callback](std::optional<Error> error) {
      if (error)
        log(LogLevel::kWarning,
            "the snapshot of deleted stream " + to_string(stream) + " could not be removed: " + error->what());
      callback(std::move(*held));
    });
  };
}

}  // namespace eventstore::detail

// The subscribers' checkpoints on a cluster (feed_checkpoints.h), over the generic CQL calls.
#include "scylla/feed_checkpoints.h"

#include <optional>
#include <utility>
#include <vector>

#include "core/validation.h"
#include "eventstore/log.h"
#include "scylla/connection.h"
#include "scylla/feed_cql.h"

namespace eventstore::detail {
namespace {

using cql::Row;
using Rows = std::vector<Row>;

// Lost races of one checkpoint save before it gives up (each round has a winner).
constexpr int kMaxCheckpointRounds = 100;
// Outcome-unknown rounds of one checkpoint save retried before reporting kOutcomeUnknown.
constexpr int kMaxUnknownCheckpointRounds = 2;

class CheckpointSave : public std::enable_shared_from_this<CheckpointSave> {
 public:
  CheckpointSave(std::shared_ptr<Connection> connection, std::string context, std::string name, std::int64_t position,
                 FeedStore::PositionCallback callback)
      : connection_(std::move(connection)),
        context_(std::move(context)),
        name_(std::move(name)),
        position_(position),
        callback_(std::move(callback)),
        table_(cql::table(connection_, "feed_checkpoints")) {}

  // UPDATE ... IF position < ours.
  void update() {
    if (!next_round()) return;
    send({"UPDATE " + table_ + " SET position = ?, updated = ? WHERE bounded_context = ? AND name = ? IF position < ?",
          {position_, now_ms(), context_, name_, position_}},
         [](CheckpointSave& self, const cql::Rows&, std::optional<std::int64_t> stored) {
           if (!stored) return self.insert();  // no row (Cassandra answers only [applied] then)
           if (*stored >= self.position_) return self.callback_(*stored);
           self.update();  // moved below ours after our condition was read: again
         });
  }

 private:
  using Then = void (*)(CheckpointSave&, const cql::Rows&, std::optional<std::int64_t> stored);

  void insert() {
    if (!next_round()) return;
    send({"INSERT INTO " + table_ + " (bounded_context, name, position, updated) VALUES (?, ?, ?, ?) IF NOT EXISTS",
          {context_, name_, position_, now_ms()}},
         [](CheckpointSave& self, const cql::Rows& rows, std::optional<std::int64_t> stored) {
           if (stored && *stored >= self.position_) return self.callback_(*stored);
           // A row without a position (not written by this library) is taken over.
           const cql::Value* column = rows.find(0, "position");
           if (column && cql::is_null(*column)) return self.update_null();
           self.update();
         });
  }

  void update_null() {
    if (!next_round()) return;
    send({"UPDATE " + table_ +
              " SET position = ?, updated = ? WHERE bounded_context = ? AND name = ? IF position = null",
          {position_, now_ms(), context_, name_}},
         [](CheckpointSave& self, const cql::Rows&, std::optional<std::int64_t> stored) {
           if (stored && *stored >= self.position_) return self.callback_(*stored);
           self.update();
         });
  }

  bool next_round() {
    if (++rounds_ <= kMaxCheckpointRounds) return true;
    callback_(Error(ErrorCode::kUnavailable, "checkpoint '" + name_ + "' of '" + context_ +
                                                 "': too much contention; it was not moved by this save"));
    return false;
  }

  // Sends a conditional statement; applied: answers our position; not applied: `then` with the
  // stored position the answer shows, if any.
  void send(cql::Statement statement, Then then) {
    auto self = shared_from_this();
    auto fail = [self](const Error& e) { self->callback_(e); };
    cql::execute_named(connection_, std::move(statement), kConditional, [self, then, fail](Result<cql::Rows> rows) {
      step(fail, [&] {
        if (!rows.ok()) return self->on_error(rows.error());
        const cql::Rows& result = rows.value();
        if (cql::applied(result.rows)) return self->callback_(self->position_);
        const cql::Value* stored = result.find(0, "position");
        then(*self, result, stored ? cql::optional_int64(*stored) : std::nullopt);
      });
    });
  }

  void on_error(const Error& error) {
    // Saving again is harmless: the stored position ends as the highest either way.
    if (error.code() == ErrorCode::kOutcomeUnknown && ++unknown_rounds_ <= kMaxUnknownCheckpointRounds) {
      log(LogLevel::kInfo, "checkpoint '" + name_ + "' of '" + context_ + "': " + error.what() + "; saving again");
      return update();
    }
    callback_(error);
  }

  const std::shared_ptr<Connection> connection_;
  const std::string context_;
  const std::string name_;
  const std::int64_t position_;
  const FeedStore::PositionCallback callback_;
  const std::string table_;
  int rounds_ = 0;
  int unknown_rounds_ = 0;
};

}  // namespace

void scylla_load_checkpoint(const std::shared_ptr<Connection>& connection, const std::string& context,
                            const std::string& name, FeedStore::CheckpointCallback callback) {
  if (auto error = validation_error([&] { validate_checkpoint(context, name, connection->limits); }))
    return callback(std::move(*error));
  cql::execute(connection,
               {"SELECT position, updated FROM " + cql::table(connection, "feed_checkpoints") +
                    " WHERE bounded_context = ? AND name = ?",
                {context, name}},
               kQuorumRead, [name, callback](Result<Rows> rows) {
                 step(callback, [&] {
                   if (!rows.ok()) return callback(rows.error());
                   if (rows.value().empty()) return callback(std::optional<Checkpoint>());
                   const Row& row = rows.value().front();
                   const std::optional<std::int64_t> position = cql::optional_int64(row.at(0));
                   if (!position) return callback(std::optional<Checkpoint>());
                   callback(std::optional<Checkpoint>(
                       Checkpoint{name, *position, cql::optional_timestamp(row.at(1)).value_or(Timestamp{})}));
                 });
               });
}

void scylla_save_checkpoint(const std::shared_ptr<Connection>& connection, const std::string& context,
                            const std::string& name, std::int64_t position, FeedStore::PositionCallback callback) {
  if (auto error = validation_error([&] { validate_checkpoint_save(context, name, position, connection->limits); }))
    return callback(std::move(*error));
  std::make_shared<CheckpointSave>(connection, context, name, position, std::move(callback))->update();
}

}  // namespace eventstore::detail

// The read side of a cluster's feed (feed_reader.h), over the generic CQL calls (cql.h).
#include "scylla/feed_reader.h"

#include <algorithm>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

#include "core/validation.h"
#include "eventstore/log.h"
#include "scylla/connection.h"
#include "scylla/cql.h"

namespace eventstore::detail {
namespace {

using cql::Row;
using cql::Value;
using Rows = std::vector<Row>;

// Versions of one stream read from event_store in one request, at most.
constexpr std::int64_t kMaxRunEvents = 1000;
// event_store range reads of one page in flight at once, at most.
constexpr std::size_t kMaxReadsInFlight = 16;
// Lost races of one checkpoint save before it gives up (each round has a winner).
constexpr int kMaxCheckpointRounds = 100;
// Outcome-unknown rounds of one checkpoint save retried before reporting kOutcomeUnknown.
constexpr int kMaxUnknownCheckpointRounds = 2;

const cql::Options kQuorumRead{cql::Consistency::kQuorum, true};
const cql::Options kConditional{cql::Consistency::kQuorum, false};

// Runs `fn`; an exception it throws goes to `fail` instead (completions must not throw, and the
// caller's callback must still be called once).
template <class Fail, class Fn>
void step(const Fail& fail, Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    fail(e);
  } catch (const std::exception& e) {
    fail(Error(ErrorCode::kInternal, std::string("feed: ") + e.what()));
  }
}

std::string feed_place(const std::string& context, std::int64_t position) {
  return "the feed of '" + context + "' at position " + std::to_string(position);
}

// A column of a row the relay wrote whole: a null there is a damaged row.
template <class T, class Get>
T required(const Row& row, std::size_t i, const char* column, const Get& get, const std::string& where) {
  if (i >= row.size() || cql::is_null(row[i]))
    throw Error(ErrorCode::kCorruption, where + " has no " + column);
  return get(row[i]);
}

// feed columns, in this order.
constexpr const char* kFeedColumns =
    "position, aggregate_type, aggregate_id, event_version, event_id, event_type, event_timestamp";

FeedEntry decode_entry(const std::string& context, const Row& row) {
  FeedEntry entry;
  entry.position = required<std::int64_t>(row, 0, "position", cql::int64, "a row of the feed of '" + context + "'");
  const std::string where = feed_place(context, entry.position);
  RecordedEvent& event = entry.event;
  event.stream.bounded_context = context;
  event.stream.aggregate_type = required<std::string>(row, 1, "aggregate_type", cql::text, where);
  event.stream.aggregate_id = required<Uuid>(row, 2, "aggregate_id", cql::uuid, where);
  event.version = required<std::int32_t>(row, 3, "event_version", cql::int32, where);
  event.event_id = required<Uuid>(row, 4, "event_id", cql::uuid, where);
  event.event_type = required<std::string>(row, 5, "event_type", cql::text, where);
  event.timestamp = required<Timestamp>(row, 6, "event_timestamp", cql::timestamp, where);
  return entry;
}

// One page of the feed: the feed partitions, then (with_data) the events' payloads.
class FeedRead : public std::enable_shared_from_this<FeedRead> {
 public:
  FeedRead(std::shared_ptr<Connection> connection, std::string context, FeedReadOptions options,
           FeedStore::FeedPageCallback callback)
      : connection_(std::move(connection)),
        context_(std::move(context)),
        options_(std::move(options)),
        callback_(std::move(callback)),
        last_(options_.after),
        remaining_(options_.limit) {}

  void start() { read_bucket(); }

 private:
  // Key of a fetched event: aggregate type, aggregate id, version.
  using EventKey = std::tuple<std::string, Uuid, std::int64_t>;
  struct Payload {
    Uuid event_id;
    std::optional<std::string> data;
    std::optional<std::string> metadata;
  };
  struct Run {
    std::string aggregate_type;
    Uuid aggregate_id;
    std::int64_t from = 0;
    std::int64_t to = 0;
  };

  void fail(const Error& error) { callback_(error); }

  void read_bucket() {
    const std::int64_t bucket = feed_bucket(last_ + 1);
    const std::int64_t want = std::min<std::int64_t>(remaining_, feed_bucket_end(bucket) - last_);
    auto self = shared_from_this();
    cql::execute(connection_,
                 {"SELECT " + std::string(kFeedColumns) + " FROM " + cql::table(connection_, "feed") +
                      " WHERE bounded_context = ? AND bucket = ? AND position > ? LIMIT ?",
                  {context_, bucket, last_, static_cast<std::int32_t>(want)}},
                 kQuorumRead, [self, bucket, want](Result<Rows> rows) {
                   step([self](const Error& e) { self->fail(e); },
                        [&] { self->on_bucket(bucket, want, std::move(rows)); });
                 });
  }

  void on_bucket(std::int64_t bucket, std::int64_t want, Result<Rows> rows) {
    if (!rows.ok()) return fail(rows.error());
    std::int64_t got = 0;
    for (const Row& row : rows.value()) {
      FeedEntry entry = decode_entry(context_, row);
      if (entry.position != last_ + 1) {
        // The relay writes a bucket's positions in order, each batch whole: never a hole.
        log(LogLevel::kWarning, feed_place(context_, last_ + 1) + " is missing, but position " +
                                    std::to_string(entry.position) + " exists; the page stops before it");
        break;
      }
      last_ = entry.position;
      ++got;
      --remaining_;
      entries_.push_back(std::move(entry));
    }
    if (got == want && remaining_ > 0 && last_ == feed_bucket_end(bucket)) return read_bucket();
    filtered();
  }

  void filtered() {
    std::vector<FeedEntry> passing;
    for (FeedEntry& entry : entries_)
      if (options_.filter.matches(entry.event)) passing.push_back(std::move(entry));
    entries_ = std::move(passing);
    if (!options_.with_data || entries_.empty()) return finish();
    plan_runs();
    std::vector<std::size_t> first;
    {
      std::lock_guard lock(mutex_);
      while (next_run_ < runs_.size() && in_flight_ < kMaxReadsInFlight) {
        first.push_back(next_run_++);
        ++in_flight_;
      }
    }
    for (std::size_t i : first) read_run(i);
  }

  // The versions of each stream in the page, as runs of consecutive versions.
  void plan_runs() {
    std::map<std::pair<std::string, Uuid>, std::set<std::int64_t>> versions;
    for (const FeedEntry& entry : entries_)
      versions[{entry.event.stream.aggregate_type, entry.event.stream.aggregate_id}].insert(entry.event.version);
    for (const auto& [stream, set] : versions) {
      for (std::int64_t version : set) {
        const bool same_stream = !runs_.empty() && runs_.back().aggregate_type == stream.first &&
                                 runs_.back().aggregate_id == stream.second;
        if (same_stream && runs_.back().to + 1 == version && version - runs_.back().from < kMaxRunEvents) {
          runs_.back().to = version;
        } else {
          runs_.push_back(Run{stream.first, stream.second, version, version});
        }
      }
    }
  }

  void read_run(std::size_t i) {
    const Run& run = runs_[i];
    auto self = shared_from_this();
    cql::execute(connection_,
                 {"SELECT event_version, event_id, event_data, event_metadata FROM " +
                      cql::table(connection_, "event_store") +
                      " WHERE bounded_context = ? AND aggregate_id = ? AND aggregate_type = ? AND event_version >= ? "
                      "AND event_version <= ?",
                  {context_, run.aggregate_id, run.aggregate_type, static_cast<std::int32_t>(run.from),
                   static_cast<std::int32_t>(run.to)}},
                 kQuorumRead, [self, i](Result<Rows> rows) { self->on_run(i, std::move(rows)); });
  }

  void on_run(std::size_t i, Result<Rows> rows) {
    std::unique_lock lock(mutex_);
    --in_flight_;
    if (!error_) {
      if (!rows.ok()) {
        error_ = rows.error();
      } else {
        try {
          store_run(runs_[i], rows.value());
        } catch (const Error& e) {
          error_ = e;
        } catch (const std::exception& e) {
          error_ = Error(ErrorCode::kInternal, std::string("feed: ") + e.what());
        }
      }
    }
    if (error_) {
      // The reads in flight finish first; then the page fails once.
      if (in_flight_ > 0 || reported_) return;
      reported_ = true;
      const Error error = *error_;
      lock.unlock();
      return fail(error);
    }
    if (next_run_ < runs_.size()) {
      const std::size_t next = next_run_++;
      ++in_flight_;
      lock.unlock();
      return read_run(next);
    }
    if (in_flight_ > 0) return;
    lock.unlock();
    step([this](const Error& e) { fail(e); }, [this] { with_payloads(); });
  }

  // Called with mutex_ held.
  void store_run(const Run& run, const Rows& rows) {
    for (const Row& row : rows) {
      const std::string where =
          "event_store row of " + to_string(StreamId{context_, run.aggregate_type, run.aggregate_id});
      const std::int64_t version = required<std::int32_t>(row, 0, "event_version", cql::int32, where);
      Payload payload;
      payload.event_id = required<Uuid>(row, 1, "event_id", cql::uuid, where + " version " + std::to_string(version));
      payload.data = cql::optional_text(row[2]);
      // The seed's library stores the JSON of an event's absent metadata map: the text null.
      payload.metadata = cql::optional_text(row[3]);
      if (payload.metadata && *payload.metadata == "null") payload.metadata.reset();
      payloads_[EventKey{run.aggregate_type, run.aggregate_id, version}] = std::move(payload);
    }
  }

  void with_payloads() {
    for (FeedEntry& entry : entries_) {
      RecordedEvent& event = entry.event;
      auto found = payloads_.find(EventKey{event.stream.aggregate_type, event.stream.aggregate_id, event.version});
      const std::string what = feed_place(context_, entry.position) + " references version " +
                               std::to_string(event.version) + " of " + to_string(event.stream);
      if (found == payloads_.end())
        throw Error(ErrorCode::kCorruption, what + ", which event_store does not hold");
      if (found->second.event_id != event.event_id)
        throw Error(ErrorCode::kCorruption, what + " with event id " + event.event_id.to_string() +
                                                ", but event_store holds event " + found->second.event_id.to_string());
      event.data = found->second.data;
      event.metadata = found->second.metadata;
    }
    finish();
  }

  void finish() {
    FeedPage page;
    page.entries = std::move(entries_);
    page.last_position = last_;
    callback_(std::move(page));
  }

  const std::shared_ptr<Connection> connection_;
  const std::string context_;
  const FeedReadOptions options_;
  const FeedStore::FeedPageCallback callback_;
  std::int64_t last_;       // the last position read
  std::int64_t remaining_;  // positions the page may still cover
  std::vector<FeedEntry> entries_;
  std::vector<Run> runs_;

  std::mutex mutex_;  // guards what the range reads' completions share
  std::size_t next_run_ = 0;
  std::size_t in_flight_ = 0;
  std::optional<Error> error_;
  bool reported_ = false;
  std::map<EventKey, Payload> payloads_;
};

// The feed's last position. The relay fills buckets in order, so the buckets that are full form
// a prefix 0..F-1 of them, and those with rows a prefix 0..F: both "full" and "not empty" are
// monotone in the bucket, and the head is found by galloping then bisecting from the hint's
// bucket, forward over full buckets or backward over empty ones: a few reads from a hint that
// is right, O(log distance) from one far off (or from none: bucket 0).
class HeadSearch : public std::enable_shared_from_this<HeadSearch> {
 public:
  HeadSearch(std::shared_ptr<Connection> connection, std::string context, FeedStore::PositionCallback callback)
      : connection_(std::move(connection)), context_(std::move(context)), callback_(std::move(callback)) {}

  void start(std::int64_t hint) {
    const std::int64_t bucket = hint > 0 ? feed_bucket(hint) : 0;
    last_in(bucket, [bucket](HeadSearch& self, std::int64_t last) {
      if (last == feed_bucket_end(bucket)) return self.gallop(bucket, 1);
      if (last > 0) return self.callback_(last);
      if (bucket == 0) return self.callback_(std::int64_t{0});
      self.bisect_back(-1, 0, bucket);
    });
  }

 private:
  using Then = std::function<void(HeadSearch&, std::int64_t last)>;

  // `full` is full: probes full + step, doubling the step while buckets are full.
  void gallop(std::int64_t full, std::int64_t step) {
    if (full + step > kMaxBucket)
      return callback_(Error(ErrorCode::kCorruption, "the feed of '" + context_ + "' has full buckets up to " +
                                                         std::to_string(full) + ", beyond any real feed"));
    const std::int64_t bucket = full + step;
    last_in(bucket, [full, step, bucket](HeadSearch& self, std::int64_t last) {
      if (last == feed_bucket_end(bucket)) return self.gallop(bucket, step * 2);
      self.bisect_forward(full, bucket, last);
    });
  }

  // `full` is full, `partial` (with `partial_last`) is not: the first bucket that is not full
  // lies in (full, partial]. Its last position is the head, or the end of the bucket before it
  // when it is empty.
  void bisect_forward(std::int64_t full, std::int64_t partial, std::int64_t partial_last) {
    if (partial - full <= 1)
      return callback_(partial_last > 0 ? partial_last : feed_bucket_end(full));
    const std::int64_t mid = full + (partial - full) / 2;
    last_in(mid, [full, partial, partial_last, mid](HeadSearch& self, std::int64_t last) {
      if (last == feed_bucket_end(mid)) return self.bisect_forward(mid, partial, partial_last);
      self.bisect_forward(full, mid, last);
    });
  }

  // `filled` (-1: none known) has rows, with last position `filled_last`; `empty` has none: the
  // last bucket with rows lies in [filled, empty).
  void bisect_back(std::int64_t filled, std::int64_t filled_last, std::int64_t empty) {
    if (empty - filled <= 1) return callback_(filled < 0 ? 0 : filled_last);
    const std::int64_t mid = filled + (empty - filled) / 2;
    last_in(mid, [filled, filled_last, empty, mid](HeadSearch& self, std::int64_t last) {
      if (last > 0) return self.bisect_back(mid, last, empty);
      self.bisect_back(filled, filled_last, mid);
    });
  }

  // The last position in `bucket` (0 when it has none): its last row, or its static head.
  void last_in(std::int64_t bucket, Then then) {
    if (++reads_ > kMaxReads)
      return callback_(Error(ErrorCode::kInternal, "feed head of '" + context_ + "': not found in " +
                                                       std::to_string(kMaxReads) + " reads"));
    auto self = shared_from_this();
    cql::execute(connection_,
                 {"SELECT head, position FROM " + cql::table(connection_, "feed") +
                      " WHERE bounded_context = ? AND bucket = ? ORDER BY position DESC LIMIT 1",
                  {context_, bucket}},
                 kQuorumRead, [self, then = std::move(then)](Result<Rows> rows) {
                   step(self->callback_, [&] {
                     if (!rows.ok()) return self->callback_(rows.error());
                     std::int64_t last = 0;
                     for (const Row& row : rows.value()) {
                       if (row.size() < 2) throw Error(ErrorCode::kInternal, "feed head: a short row");
                       last = std::max({last, cql::optional_int64(row[0]).value_or(0),
                                        cql::optional_int64(row[1]).value_or(0)});
                     }
                     then(*self, last);
                   });
                 });
  }

  // Galloping and bisecting over 2^63 positions take at most about 2 * 47 reads.
  static constexpr int kMaxReads = 200;
  // feed_bucket_end() of buckets up to this one does not overflow.
  static constexpr std::int64_t kMaxBucket = feed_bucket(std::numeric_limits<std::int64_t>::max() - kFeedBucketSize);

  const std::shared_ptr<Connection> connection_;
  const std::string context_;
  const FeedStore::PositionCallback callback_;
  int reads_ = 0;
};

void find_head(const std::shared_ptr<Connection>& connection, const std::string& context, std::int64_t hint,
               FeedStore::PositionCallback callback) {
  const std::int64_t highest = std::numeric_limits<std::int64_t>::max() - 2 * kFeedBucketSize;
  std::make_shared<HeadSearch>(connection, context, std::move(callback))->start(std::min(hint, highest));
}

// The context's row of feed_relay: owner, epoch, lease_expires, head.
void read_relay_row(const std::shared_ptr<Connection>& connection, const std::string& context,
                    std::function<void(Result<std::optional<Row>>)> callback) {
  cql::execute(connection,
               {"SELECT owner, epoch, lease_expires, head FROM " + cql::table(connection, "feed_relay") +
                    " WHERE bounded_context = ?",
                {context}},
               kQuorumRead, [callback](Result<Rows> rows) {
                 if (!rows.ok()) return callback(rows.error());
                 if (rows.value().empty()) return callback(std::optional<Row>());
                 callback(std::optional<Row>(std::move(rows.value().front())));
               });
}

std::int64_t hint_of(const std::optional<Row>& relay) {
  if (!relay || relay->size() < 4) return 0;
  return std::max<std::int64_t>(0, cql::optional_int64((*relay)[3]).value_or(0));
}

class CheckpointSave : public std::enable_shared_from_this<CheckpointSave> {
 public:
  CheckpointSave(std::shared_ptr<Connection> connection, std::string context, std::string name,
                 std::int64_t position, FeedStore::PositionCallback callback)
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

void scylla_read_feed(const std::shared_ptr<Connection>& connection, const std::string& context,
                      const FeedReadOptions& options, FeedStore::FeedPageCallback callback) {
  try {
    validate_feed_read(context, options, connection->limits);
  } catch (const Error& e) {
    return callback(e);
  }
  // No feed reaches this far; the arithmetic on positions past it would overflow.
  if (options.after > std::numeric_limits<std::int64_t>::max() - 2 * kFeedBucketSize)
    return callback(FeedPage{{}, options.after});
  std::make_shared<FeedRead>(connection, context, options, std::move(callback))->start();
}

void scylla_feed_head(const std::shared_ptr<Connection>& connection, const std::string& context,
                      FeedStore::PositionCallback callback) {
  try {
    validate_context(context, connection->limits);
  } catch (const Error& e) {
    return callback(e);
  }
  read_relay_row(connection, context, [connection, context, callback](Result<std::optional<Row>> relay) {
    step(callback, [&] {
      if (!relay.ok()) return callback(relay.error());
      find_head(connection, context, hint_of(relay.value()), callback);
    });
  });
}

void scylla_load_checkpoint(const std::shared_ptr<Connection>& connection, const std::string& context,
                            const std::string& name, FeedStore::CheckpointCallback callback) {
  try {
    validate_checkpoint(context, name, connection->limits);
  } catch (const Error& e) {
    return callback(e);
  }
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
  try {
    validate_checkpoint_save(context, name, position, connection->limits);
  } catch (const Error& e) {
    return callback(e);
  }
  std::make_shared<CheckpointSave>(connection, context, name, position, std::move(callback))->update();
}

void scylla_feed_status(const std::shared_ptr<Connection>& connection, const std::string& context,
                        FeedStore::StatusCallback callback) {
  try {
    validate_context(context, connection->limits);
  } catch (const Error& e) {
    return callback(e);
  }
  read_relay_row(connection, context, [connection, context, callback](Result<std::optional<Row>> relay) {
    step(callback, [&] {
      if (!relay.ok()) return callback(relay.error());
      auto status = std::make_shared<FeedStatus>();
      if (relay.value()) {
        const Row& row = *relay.value();
        // A relay ran (it may have given the lease up: no owner, or an expiry in the past).
        const std::optional<Timestamp> expires = cql::optional_timestamp(row.at(2));
        RelayLease lease;
        lease.owner = cql::optional_text(row.at(0)).value_or("");
        lease.epoch = cql::optional_int64(row.at(1)).value_or(0);
        lease.expires = expires.value_or(Timestamp{});
        lease.live = expires && *expires > now_ms();
        status->relay = std::move(lease);
      }
      find_head(connection, context, hint_of(relay.value()), [connection, context, callback, status](
                                                                 Result<std::int64_t> head) {
        step(callback, [&] {
          if (!head.ok()) return callback(head.error());
          status->head = head.value();
          cql::execute(connection,
                       {"SELECT name, position, updated FROM " + cql::table(connection, "feed_checkpoints") +
                            " WHERE bounded_context = ? LIMIT 100000",
                        {context}},
                       kQuorumRead, [callback, status](Result<Rows> rows) {
                         step(callback, [&] {
                           if (!rows.ok()) return callback(rows.error());
                           for (const Row& row : rows.value()) {
                             const std::optional<std::int64_t> position = cql::optional_int64(row.at(1));
                             if (!position) continue;
                             status->checkpoints.push_back(
                                 Checkpoint{cql::text(row.at(0)), *position,
                                            cql::optional_timestamp(row.at(2)).value_or(Timestamp{})});
                           }
                           callback(std::move(*status));
                         });
                       });
        });
      });
    });
  });
}

}  // namespace eventstore::detail

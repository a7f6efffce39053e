// The read side of a cluster's feed (feed_reader.h), over the generic CQL calls (cql.h). The
// subscribers' checkpoints: feed_checkpoints.cc.
#include "scylla/feed_reader.h"

#include <algorithm>
#include <atomic>
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
#include "scylla/feed_cql.h"

namespace eventstore::detail {
namespace {

using cql::Row;
using cql::Value;
using Rows = std::vector<Row>;

// Versions of one stream read from event_store in one request, at most.
constexpr std::int64_t kMaxRunEvents = 1000;
// event_store range reads of one page in flight at once, at most.
constexpr std::size_t kMaxReadsInFlight = 16;

std::string feed_place(const std::string& context, std::int64_t position) {
  return "the feed of '" + context + "' at position " + std::to_string(position);
}

// A column of a row the relay wrote whole: a null there is a damaged row.
template <class T, class Get>
T required(const Row& row, std::size_t i, const char* column, const Get& get, const std::string& where) {
  if (i >= row.size() || cql::is_null(row[i])) throw Error(ErrorCode::kCorruption, where + " has no " + column);
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
        const bool same_stream =
            !runs_.empty() && runs_.back().aggregate_type == stream.first && runs_.back().aggregate_id == stream.second;
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
    cql::execute(
        connection_,
        {"SELECT event_version, event_id, event_data, event_metadata FROM " + cql::table(connection_, "event_store") +
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

  // An entry whose row is gone because its stream was truncated past it keeps its place in the
  // feed with its data and metadata absent (docs/scylla.md, "Lifecycle"). The truncated_before of
  // each stream with a missing row is read once, to tell that from a row that should be there.
  void with_payloads() {
    if (!befores_read_) {
      std::set<std::pair<std::string, Uuid>> missing;
      for (const FeedEntry& entry : entries_) {
        const RecordedEvent& event = entry.event;
        if (!payloads_.contains(EventKey{event.stream.aggregate_type, event.stream.aggregate_id, event.version}))
          missing.emplace(event.stream.aggregate_type, event.stream.aggregate_id);
      }
      befores_read_ = true;
      if (!missing.empty()) return read_befores(std::vector(missing.begin(), missing.end()));
    }
    for (FeedEntry& entry : entries_) {
      RecordedEvent& event = entry.event;
      auto found = payloads_.find(EventKey{event.stream.aggregate_type, event.stream.aggregate_id, event.version});
      const std::string what = feed_place(context_, entry.position) + " references version " +
                               std::to_string(event.version) + " of " + to_string(event.stream);
      if (found == payloads_.end()) {
        const auto before = befores_.find({event.stream.aggregate_type, event.stream.aggregate_id});
        if (before != befores_.end() && event.version < before->second) continue;  // truncated: no data
        throw Error(ErrorCode::kCorruption, what + ", which event_store does not hold");
      }
      if (found->second.event_id != event.event_id)
        throw Error(ErrorCode::kCorruption, what + " with event id " + event.event_id.to_string() +
                                                ", but event_store holds event " + found->second.event_id.to_string());
      event.data = found->second.data;
      event.metadata = found->second.metadata;
    }
    finish();
  }

  void read_befores(std::vector<std::pair<std::string, Uuid>> streams) {
    auto self = shared_from_this();
    auto left = std::make_shared<std::atomic<std::size_t>>(streams.size());
    for (const auto& [type, id] : streams) {
      cql::execute(connection_,
                   {"SELECT truncated_before FROM " + cql::table(connection_, "event_store") +
                        " WHERE bounded_context = ? AND aggregate_id = ? AND aggregate_type = ? LIMIT 1",
                    {context_, id, type}},
                   kQuorumRead, [self, left, key = std::pair(type, id)](Result<Rows> rows) {
                     {
                       std::lock_guard lock(self->mutex_);
                       if (!rows.ok() && !self->error_) self->error_ = rows.error();
                       if (rows.ok() && !rows.value().empty())
                         if (auto before = cql::optional_int32(rows.value()[0][0])) self->befores_[key] = *before;
                     }
                     if (left->fetch_sub(1) != 1) return;
                     if (self->error_) return self->fail(*self->error_);
                     step([self](const Error& e) { self->fail(e); }, [self] { self->with_payloads(); });
                   });
    }
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
  bool befores_read_ = false;
  std::map<std::pair<std::string, Uuid>, std::int32_t> befores_;  // truncated_before of streams with missing rows
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
    if (partial - full <= 1) return callback_(partial_last > 0 ? partial_last : feed_bucket_end(full));
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
      return callback_(Error(ErrorCode::kInternal,
                             "feed head of '" + context_ + "': not found in " + std::to_string(kMaxReads) + " reads"));
    auto self = shared_from_this();
    cql::execute(
        connection_,
        {"SELECT head, position FROM " + cql::table(connection_, "feed") +
             " WHERE bounded_context = ? AND bucket = ? ORDER BY position DESC LIMIT 1",
         {context_, bucket}},
        kQuorumRead, [self, then = std::move(then)](Result<Rows> rows) {
          step(self->callback_, [&] {
            if (!rows.ok()) return self->callback_(rows.error());
            std::int64_t last = 0;
            for (const Row& row : rows.value()) {
              if (row.size() < 2) throw Error(ErrorCode::kInternal, "feed head: a short row");
              last = std::max({last, cql::optional_int64(row[0]).value_or(0), cql::optional_int64(row[1]).value_or(0)});
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

}  // namespace

void scylla_read_feed(const std::shared_ptr<Connection>& connection, const std::string& context,
                      const FeedReadOptions& options, FeedStore::FeedPageCallback callback) {
  if (auto error = validation_error([&] { validate_feed_read(context, options, connection->limits); }))
    return callback(std::move(*error));
  // No feed reaches this far; the arithmetic on positions past it would overflow.
  if (options.after > std::numeric_limits<std::int64_t>::max() - 2 * kFeedBucketSize)
    return callback(FeedPage{{}, options.after});
  std::make_shared<FeedRead>(connection, context, options, std::move(callback))->start();
}

void scylla_feed_head(const std::shared_ptr<Connection>& connection, const std::string& context,
                      FeedStore::PositionCallback callback) {
  if (auto error = validation_error([&] { validate_context(context, connection->limits); }))
    return callback(std::move(*error));
  read_relay_row(connection, context, [connection, context, callback](Result<std::optional<Row>> relay) {
    step(callback, [&] {
      if (!relay.ok()) return callback(relay.error());
      find_head(connection, context, hint_of(relay.value()), callback);
    });
  });
}

void scylla_feed_status(const std::shared_ptr<Connection>& connection, const std::string& context,
                        FeedStore::StatusCallback callback) {
  if (auto error = validation_error([&] { validate_context(context, connection->limits); }))
    return callback(std::move(*error));
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
      find_head(connection, context, hint_of(relay.value()),
                [connection, context, callback, status](Result<std::int64_t> head) {
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

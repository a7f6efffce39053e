// The relay of a cluster's feed (relay.h; docs/feed.md, "The relay").
//
// One thread runs a loop: without the lease, it watches the lease row and takes it over once
// its expiry has passed; with it, it renews every lease / 3, reads new markers, publishes the
// marked streams' new events, and every reconcile_interval scans the streams' heads for events
// no marker announced. Every cluster call is blocking (cql.h) from this thread; reads of many
// streams or shards go out together (at most kMaxInFlight at a time).
//
// What keeps the feed dense and unforked is the conditional batch per feed bucket:
//   UPDATE feed SET head = H+k WHERE bounded_context = C AND bucket = B IF head = H  (or = null)
//   INSERT INTO feed ... position H+1 ... H+k
// Only one batch can move a bucket's head from H, so a position is written once, by the batch
// that won it; the lease only keeps relays from competing (and publishing duplicates).
#include "scylla/relay.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "core/validation.h"
#include "eventstore/log.h"
#include "scylla/cql.h"

namespace eventstore::detail {
namespace {

using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::int64_t kFeedBucketSize = 65536;    // positions per feed partition
constexpr std::size_t kMaxBatchEntries = 500;      // feed entries per conditional batch
constexpr std::int32_t kStreamReadLimit = 1000;    // events per stream read
constexpr std::int32_t kMarkerPageLimit = 5000;    // markers per shard read
constexpr std::int32_t kScanPageLimit = 1000;      // streams per reconciliation page
constexpr std::int64_t kMaxBucketsPerCycle = 30;   // marker buckets (minutes) read per cycle
constexpr std::size_t kMaxInFlight = 64;           // requests out at once
constexpr std::size_t kMaxCachedStreams = 1000000; // published versions kept in memory
constexpr milliseconds kFastOverlap{1000};         // each marker read starts this before the last
constexpr milliseconds kFirstStartLookBack{10 * 60 * 1000};  // a context's first relay
constexpr milliseconds kMaxBackoff{1000};
constexpr milliseconds kProgressEvery{200};   // feed_progress writes, at most
constexpr milliseconds kRelayRowEvery{1000};  // feed_relay head / markers_scanned_to writes

// A stream of the relay's context.
struct Stream {
  std::string type;
  Uuid id;
  friend auto operator<=>(const Stream&, const Stream&) = default;
};

struct Marker {
  Uuid id;
  Timestamp time;
  Stream stream;
  Uuid first_event_id;
  Steady::time_point next_check;
};

// One event to publish.
struct Entry {
  Stream stream;
  std::int32_t version = 0;
  Uuid event_id;
  std::string event_type;
  Timestamp timestamp{};
};

using Rows = std::vector<cql::Row>;


std::string default_owner() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "unknown-host");
  std::random_device device;
  char random[9];
  std::snprintf(random, sizeof random, "%08x", static_cast<unsigned>(device()));
  return std::string(host) + ":" + std::to_string(::getpid()) + ":" + random;
}

void validate(const RelayOptions& options) {
  try {
    validate_context(options.context, Limits{});
  } catch (const Error& e) {
    throw Error::invalid(std::string("relay: ") + e.what());
  }
  if (options.lease < milliseconds(300) || options.lease > milliseconds(3600 * 1000))
    throw Error::invalid("relay: lease must be 300 ms..1 h, got " + std::to_string(options.lease.count()) + " ms");
  if (options.poll_interval < milliseconds(1) || options.poll_interval > milliseconds(60000) ||
      options.poll_interval >= options.lease / 3)
    throw Error::invalid("relay: poll interval must be 1 ms..60 s and below lease / 3, got " +
                         std::to_string(options.poll_interval.count()) + " ms");
  if (options.reconcile_interval < milliseconds(100) || options.reconcile_interval > milliseconds(7LL * 86400 * 1000))
    throw Error::invalid("relay: reconcile interval must be 100 ms..7 days, got " +
                         std::to_string(options.reconcile_interval.count()) + " ms");
}

// Thrown inside a cycle when the relay finds it no longer holds the lease: nothing more is
// published, and the loop goes back to waiting.
struct LeaseLost {};

class ScyllaRelay final : public FeedRelay {
 public:
  ScyllaRelay(std::shared_ptr<Connection> connection, std::string keyspace, RelayOptions options, RelayTuning tuning)
      : connection_(std::move(connection)),
        keyspace_(std::move(keyspace)),
        options_(std::move(options)),
        tuning_(tuning) {
    if (options_.owner.empty()) options_.owner = default_owner();
    lease_margin_ = std::min<milliseconds>(options_.lease / 4, milliseconds(2000));
    thread_ = std::thread([this] { run(); });
  }

  ~ScyllaRelay() override { stop(); }

  RelayStats stats() const override {
    std::lock_guard lock(stats_mutex_);
    return stats_;
  }

  void stop() override {
    {
      std::lock_guard lock(wait_mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    std::lock_guard lock(join_mutex_);
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
  }

 private:
  // ---- plumbing --------------------------------------------------------------------------

  std::string table(const char* name) const { return keyspace_ + "." + name; }

  Rows run(cql::Statement statement, cql::Consistency consistency = cql::Consistency::kQuorum, bool idempotent = true) {
    return cql::execute(connection_, std::move(statement), cql::Options{consistency, idempotent});
  }

  // Runs the statements, at most kMaxInFlight at a time; the results in their order. Throws the
  // first error.
  std::vector<Rows> run_all(std::vector<cql::Statement> statements, cql::Consistency consistency) {
    struct Shared {
      std::mutex mutex;
      std::condition_variable changed;
      std::size_t in_flight = 0;
      std::vector<std::optional<Result<Rows>>> results;
    };
    auto shared = std::make_shared<Shared>();
    shared->results.resize(statements.size());
    for (std::size_t i = 0; i < statements.size(); ++i) {
      {
        std::unique_lock lock(shared->mutex);
        shared->changed.wait(lock, [&] { return shared->in_flight < kMaxInFlight; });
        ++shared->in_flight;
      }
      cql::execute(connection_, std::move(statements[i]), cql::Options{consistency, true},
                   [shared, i](Result<Rows> result) {
                     std::lock_guard lock(shared->mutex);
                     shared->results[i].emplace(std::move(result));
                     --shared->in_flight;
                     shared->changed.notify_all();
                   });
    }
    std::unique_lock lock(shared->mutex);
    shared->changed.wait(lock, [&] { return shared->in_flight == 0; });
    std::vector<Rows> out;
    out.reserve(shared->results.size());
    for (auto& result : shared->results) {
      if (!result->ok()) throw result->error();
      out.push_back(std::move(*result).value());
    }
    return out;
  }

  bool stopping() {
    std::lock_guard lock(wait_mutex_);
    return stopping_;
  }

  void sleep(milliseconds duration) {
    std::unique_lock lock(wait_mutex_);
    wake_.wait_for(lock, duration, [this] { return stopping_; });
  }

  template <class Fn>
  void update_stats(Fn&& fn) {
    std::lock_guard lock(stats_mutex_);
    fn(stats_);
  }

  std::string what() const { return "relay of '" + options_.context + "' (" + options_.owner + ")"; }

  // ---- the loop ----------------------------------------------------------------------------

  void run() {
    int failures = 0;
    while (!stopping()) {
      try {
        if (!holding_) {
          const milliseconds wait = acquire();
          if (!holding_) {
            sleep(wait);
            continue;
          }
          new_term_ = true;
        }
        if (new_term_) {
          on_acquired();
          new_term_ = false;
        }
        keep_lease();
        bool busy = cycle(false);
        busy = reconcile_step() || busy;
        write_relay_row(false);
        update_stats([&](RelayStats& s) {
          ++s.cycles;
          s.last_error.clear();
        });
        failures = 0;
        if (!busy) sleep(options_.poll_interval);
      } catch (const LeaseLost&) {
        lose_lease("another relay holds the lease, or it could not be renewed in time");
      } catch (const std::exception& e) {
        const std::string message = e.what();
        update_stats([&](RelayStats& s) { s.last_error = message; });
        log(LogLevel::kWarning, what() + ": " + message);
        failures = std::min(failures + 1, 10);
        sleep(std::min<milliseconds>(options_.poll_interval * (1 << failures), kMaxBackoff));
      }
    }
    release();
  }

  // ---- the lease -----------------------------------------------------------------------------

  // Takes the lease if it is free or expired. Otherwise answers how long to wait before looking
  // again: until its expiry, at most one poll interval (a released lease is taken at once).
  milliseconds acquire() {
    if (tuning_.ignore_lease) {
      holding_ = true;
      epoch_ = 0;
      return milliseconds(0);
    }
    const Rows rows = run({"SELECT owner, epoch, lease_expires, head, markers_scanned_to FROM " + table("feed_relay") +
                               " WHERE bounded_context = ?",
                           {options_.context}},
                          cql::Consistency::kQuorum);  // waiting relays poll it: no Paxos round
    const Timestamp now = now_ms();
    const Timestamp expires = now + options_.lease;
    const Steady::time_point sent = Steady::now();
    std::optional<std::string> owner;
    std::optional<std::int64_t> epoch;
    std::optional<Timestamp> old_expires;
    hint_head_ = 0;
    hint_scanned_to_.reset();
    if (!rows.empty()) {
      const cql::Row& row = rows[0];
      if (!cql::is_null(row[0])) owner = cql::text(row[0]);
      epoch = cql::optional_int64(row[1]);
      if (!cql::is_null(row[2])) old_expires = cql::timestamp(row[2]);
      hint_head_ = cql::optional_int64(row[3]).value_or(0);
      if (!cql::is_null(row[4])) hint_scanned_to_ = cql::timestamp(row[4]);
      if (old_expires && *old_expires >= now) {
        const milliseconds left = std::chrono::duration_cast<milliseconds>(*old_expires - now) + milliseconds(1);
        return std::min<milliseconds>(left, options_.poll_interval);
      }
    }
    const std::int64_t new_epoch = epoch.value_or(0) + 1;
    Rows answer;
    if (rows.empty()) {
      answer = run({"INSERT INTO " + table("feed_relay") +
                        " (bounded_context, owner, epoch, lease_expires) VALUES (?, ?, ?, ?) IF NOT EXISTS",
                    {options_.context, options_.owner, new_epoch, expires}},
                   cql::Consistency::kQuorum, false);
    } else {
      // Conditioned on everything observed, the expiry included: a renewal in between wins.
      std::string cql = "UPDATE " + table("feed_relay") +
                        " SET owner = ?, epoch = ?, lease_expires = ? WHERE bounded_context = ? IF ";
      std::vector<cql::Value> values{options_.owner, new_epoch, expires, options_.context};
      cql += owner ? "owner = ?" : "owner = null";
      if (owner) values.emplace_back(*owner);
      cql += epoch ? " AND epoch = ?" : " AND epoch = null";
      if (epoch) values.emplace_back(*epoch);
      cql += old_expires ? " AND lease_expires = ?" : " AND lease_expires = null";
      if (old_expires) values.emplace_back(*old_expires);
      answer = run({std::move(cql), std::move(values)}, cql::Consistency::kQuorum, false);
    }
    if (!cql::applied(answer)) return milliseconds(0);  // someone else moved first: look again
    holding_ = true;
    epoch_ = new_epoch;
    renewed(sent);
    log(LogLevel::kInfo, what() + ": took the lease, epoch " + std::to_string(epoch_) +
                             (owner ? " (from " + *owner + ")" : ""));
    return milliseconds(0);
  }

  void renewed(Steady::time_point sent) {
    renew_at_ = sent + options_.lease / 3;
    deadline_ = sent + options_.lease - lease_margin_;
  }

  // Renews the lease when due. Throws LeaseLost when another relay holds it or it lapsed.
  void keep_lease() {
    if (tuning_.ignore_lease) return;
    const Steady::time_point now = Steady::now();
    if (now >= deadline_) throw LeaseLost{};
    if (now < renew_at_) return;
    const Rows answer = run({"UPDATE " + table("feed_relay") +
                                 " SET lease_expires = ? WHERE bounded_context = ? IF owner = ? AND epoch = ?",
                             {now_ms() + options_.lease, options_.context, options_.owner, epoch_}},
                            cql::Consistency::kQuorum, false);
    if (!cql::applied(answer)) throw LeaseLost{};
    renewed(now);
  }

  // Whether the lease still holds by this machine's clock: checked before every feed batch.
  void require_lease() {
    if (!holding_) throw LeaseLost{};
    if (tuning_.ignore_lease) return;
    if (Steady::now() >= deadline_) throw LeaseLost{};
    if (Steady::now() >= renew_at_) keep_lease();
  }

  // After a feed batch whose condition failed: does the lease row still name this relay?
  bool lease_still_mine() {
    if (tuning_.ignore_lease) return true;
    const Rows rows = run({"SELECT owner, epoch FROM " + table("feed_relay") + " WHERE bounded_context = ?",
                           {options_.context}},
                          cql::Consistency::kSerial);
    return !rows.empty() && !cql::is_null(rows[0][0]) && cql::text(rows[0][0]) == options_.owner &&
           cql::optional_int64(rows[0][1]) == epoch_;
  }

  void lose_lease(const std::string& why) {
    if (!holding_) return;
    holding_ = false;
    try {
      write_progress();  // what this relay did publish (a lower value only costs duplicates)
    } catch (const std::exception&) {
    }
    log(LogLevel::kWarning, what() + ": stopped publishing at epoch " + std::to_string(epoch_) + ": " + why);
    update_stats([](RelayStats& s) { s.holds_lease = false; });
  }

  // At stop: records the head, then lets the lease expire at once so that another relay takes
  // over without waiting for it.
  void release() {
    if (!holding_) return;
    try {
      write_progress();
      write_relay_row(true);
      if (!tuning_.ignore_lease)
        run({"UPDATE " + table("feed_relay") + " SET lease_expires = ? WHERE bounded_context = ? IF owner = ? AND epoch = ?",
             {Timestamp{}, options_.context, options_.owner, epoch_}},
            cql::Consistency::kQuorum, false);
      log(LogLevel::kInfo, what() + ": gave up the lease at epoch " + std::to_string(epoch_));
    } catch (const std::exception& e) {
      log(LogLevel::kWarning, what() + ": could not give up the lease (it expires by itself): " + e.what());
    }
    holding_ = false;
    update_stats([](RelayStats& s) { s.holds_lease = false; });
  }

  // A new term: nothing cached from an earlier one can be trusted (another relay may have
  // published since).
  void on_acquired() {
    published_.clear();
    progress_dirty_.clear();
    recent_.clear();
    seen_.clear();
    pending_.clear();
    head_ = discover_head(tuning_.ignore_lease ? 0 : hint_head_);
    const Timestamp now = now_ms();
    const Timestamp oldest = now - std::chrono::seconds(kMarkerTtlSeconds);
    markers_from_ = hint_scanned_to_ ? std::max(*hint_scanned_to_ - tuning_.look_back, oldest)
                                     : now - std::max<milliseconds>(tuning_.look_back, kFirstStartLookBack);
    scanned_to_ = markers_from_;
    next_look_back_ = Steady::now();
    next_reconcile_ = Steady::now();  // at takeover
    reconcile_active_ = false;
    last_row_write_ = {};
    update_stats([&](RelayStats& s) {
      s.holds_lease = true;
      s.epoch = epoch_;
      s.head = head_;
    });
  }

  // ---- the feed's head -------------------------------------------------------------------------

  // The feed's last position, by SERIAL reads of bucket heads from `guess` (a position known
  // published, so at most the head) up.
  std::int64_t discover_head(std::int64_t guess) {
    std::int64_t bucket = std::max<std::int64_t>(guess, 0) / kFeedBucketSize;
    for (;;) {
      const std::optional<std::int64_t> head = bucket_head(bucket);
      if (!head) {
        if (bucket > 0 && guess > bucket * kFeedBucketSize) {
          log(LogLevel::kWarning, what() + ": the recorded head " + std::to_string(guess) +
                                      " is past the feed's end; looking for it from position 0");
          guess = 0;
          bucket = 0;
          continue;
        }
        return bucket * kFeedBucketSize;
      }
      if (*head == (bucket + 1) * kFeedBucketSize) {
        ++bucket;
        continue;
      }
      return *head;
    }
  }

  std::optional<std::int64_t> bucket_head(std::int64_t bucket) {
    const Rows rows = run({"SELECT head FROM " + table("feed") + " WHERE bounded_context = ? AND bucket = ? LIMIT 1",
                           {options_.context, bucket}},
                          cql::Consistency::kSerial);
    if (rows.empty()) return std::nullopt;
    return cql::optional_int64(rows[0][0]);
  }

  // ---- markers -------------------------------------------------------------------------------

  // Reads the markers written since the last read (and every look_back / 4 those of the whole
  // look-back), adding new ones to pending_.
  void read_markers(bool force_look_back) {
    const Timestamp now = now_ms();
    Timestamp from = markers_from_;
    if (force_look_back || Steady::now() >= next_look_back_) {
      from = std::min(from, now - tuning_.look_back);
      next_look_back_ = Steady::now() + tuning_.look_back / 4;
    }
    const std::int64_t first = marker_bucket(from);
    const std::int64_t last = std::min(marker_bucket(now), first + kMaxBucketsPerCycle - 1);
    const std::string select = "SELECT marker_id, aggregate_type, aggregate_id, first_event_id FROM " +
                               table("feed_markers") +
                               " WHERE bounded_context = ? AND bucket = ? AND shard = ? AND marker_id > ";
    struct Part {
      std::int64_t bucket;
      std::int32_t shard;
    };
    std::vector<Part> parts;
    std::vector<cql::Statement> statements;
    for (std::int64_t bucket = first; bucket <= last; ++bucket)
      for (std::int32_t shard = 0; shard < kMarkerShards; ++shard) {
        parts.push_back({bucket, shard});
        statements.push_back({select + "minTimeuuid(?) LIMIT " + std::to_string(kMarkerPageLimit),
                              {options_.context, bucket, shard, from}});
      }
    std::vector<Rows> results = run_all(std::move(statements), cql::Consistency::kQuorum);
    for (std::size_t i = 0; i < results.size(); ++i) {
      Rows rows = std::move(results[i]);
      for (;;) {
        for (const cql::Row& row : rows) add_marker(row);
        if (rows.size() < static_cast<std::size_t>(kMarkerPageLimit)) break;
        const Uuid after = cql::uuid(rows.back()[0]);
        rows = run({select + "? LIMIT " + std::to_string(kMarkerPageLimit),
                    {options_.context, parts[i].bucket, parts[i].shard, after}});
      }
    }
    if (last == marker_bucket(now)) {
      markers_from_ = std::max(markers_from_, now - std::min<milliseconds>(kFastOverlap, tuning_.look_back));
      scanned_to_ = std::max(scanned_to_, now);
    } else {
      markers_from_ = Timestamp(milliseconds((last + 1) * kMarkerBucketMs));
      scanned_to_ = markers_from_;
    }
    // Ids older than any read can reach again are forgotten.
    const Timestamp forget = std::min(markers_from_, now - tuning_.look_back) - milliseconds(60000);
    for (auto it = seen_.begin(); it != seen_.end();) it = it->second < forget ? seen_.erase(it) : std::next(it);
  }

  void add_marker(const cql::Row& row) {
    const Uuid id = cql::uuid(row[0]);
    const Timestamp time = timeuuid_time(id);
    if (!seen_.emplace(id, time).second) return;
    Marker marker{id, time, Stream{cql::text(row[1]), cql::uuid(row[2])}, cql::uuid(row[3]), Steady::now()};
    pending_.push_back(std::move(marker));
  }

  bool has_pending_marker(const Stream& stream) const {
    return std::any_of(pending_.begin(), pending_.end(), [&](const Marker& m) { return m.stream == stream; });
  }

  // ---- streams -------------------------------------------------------------------------------

  // Reads feed_progress for the streams whose published version is not cached.
  void load_published(const std::set<Stream>& streams) {
    if (published_.size() > kMaxCachedStreams) {
      write_progress();
      published_.clear();
    }
    std::vector<Stream> unknown;
    std::vector<cql::Statement> statements;
    for (const Stream& stream : streams) {
      if (published_.contains(stream)) continue;
      unknown.push_back(stream);
      statements.push_back({"SELECT published_version FROM " + table("feed_progress") +
                                " WHERE bounded_context = ? AND aggregate_id = ? AND aggregate_type = ?",
                            {options_.context, stream.id, stream.type}});
    }
    const std::vector<Rows> results = run_all(std::move(statements), cql::Consistency::kQuorum);
    for (std::size_t i = 0; i < unknown.size(); ++i) {
      std::int32_t version = 0;
      if (!results[i].empty() && !cql::is_null(results[i][0][0])) version = cql::int32(results[i][0][0]);
      published_[unknown[i]] = version;
    }
  }

  struct StreamRead {
    std::vector<Entry> entries;  // to publish, in version order
    bool more = false;           // the read hit its limit: more events follow
  };

  // The events of `streams` above their published versions. A QUORUM read (after an LWT commit
  // it sees a dense prefix of the stream) keeps only the versions right after the published
  // one; a SERIAL read (which first completes any Paxos round left half done) is final, and a
  // gap in it (only streams of the seed's library have them) is stepped over with a warning.
  std::map<Stream, StreamRead> read_streams(const std::map<Stream, bool>& streams) {
    std::set<Stream> keys;
    for (const auto& [stream, serial] : streams) keys.insert(stream);
    load_published(keys);
    std::map<Stream, StreamRead> out;
    for (const bool serial : {false, true}) {
      std::vector<Stream> order;
      std::vector<cql::Statement> statements;
      for (const auto& [stream, is_serial] : streams) {
        if (is_serial != serial) continue;
        order.push_back(stream);
        statements.push_back({"SELECT event_version, event_id, event_type, event_timestamp FROM " +
                                   table("event_store") +
                                   " WHERE bounded_context = ? AND aggregate_id = ? AND aggregate_type = ? AND "
                                   "event_version > ? LIMIT " +
                                   std::to_string(kStreamReadLimit),
                               {options_.context, stream.id, stream.type, published_.at(stream)}});
      }
      const std::vector<Rows> results =
          run_all(std::move(statements), serial ? cql::Consistency::kSerial : cql::Consistency::kQuorum);
      for (std::size_t i = 0; i < order.size(); ++i) {
        const Stream& stream = order[i];
        StreamRead& read = out[stream];
        read.more = results[i].size() >= static_cast<std::size_t>(kStreamReadLimit);
        std::int32_t expected = published_.at(stream) + 1;
        for (const cql::Row& row : results[i]) {
          const std::int32_t version = cql::int32(row[0]);
          if (version != expected) {
            if (!serial) {
              read.more = false;
              break;
            }
            log(LogLevel::kWarning, what() + ": stream " + stream.type + "/" + stream.id.to_string() +
                                        " has no event at versions " + std::to_string(expected) + ".." +
                                        std::to_string(version - 1) + "; publishing from version " +
                                        std::to_string(version));
          }
          Entry entry;
          entry.stream = stream;
          entry.version = version;
          entry.event_id = cql::uuid(row[1]);
          if (!cql::is_null(row[2])) entry.event_type = cql::text(row[2]);
          if (!cql::is_null(row[3])) entry.timestamp = cql::timestamp(row[3]);
          read.entries.push_back(std::move(entry));
          expected = version + 1;
        }
      }
    }
    return out;
  }

  // ---- publishing --------------------------------------------------------------------------

  // Writes `entries` as the next positions of the feed. Throws LeaseLost (nothing more is
  // published) or the error of a batch (the entries not yet published stay unpublished: their
  // markers stay pending).
  void publish(const std::vector<Entry>& entries, bool repair) {
    std::size_t next = 0;
    while (next < entries.size()) {
      require_lease();
      const std::int64_t bucket = head_ / kFeedBucketSize;
      const std::int64_t room = (bucket + 1) * kFeedBucketSize - head_;
      const std::size_t count =
          std::min({static_cast<std::size_t>(room), kMaxBatchEntries, entries.size() - next});
      const std::int64_t new_head = head_ + static_cast<std::int64_t>(count);
      std::vector<cql::Statement> statements;
      statements.reserve(count + 1);
      if (head_ == bucket * kFeedBucketSize) {
        statements.push_back({"UPDATE " + table("feed") +
                                  " SET head = ? WHERE bounded_context = ? AND bucket = ? IF head = null",
                              {new_head, options_.context, bucket}});
      } else {
        statements.push_back({"UPDATE " + table("feed") +
                                  " SET head = ? WHERE bounded_context = ? AND bucket = ? IF head = ?",
                              {new_head, options_.context, bucket, head_}});
      }
      const std::string insert = "INSERT INTO " + table("feed") +
                                 " (bounded_context, bucket, position, aggregate_type, aggregate_id, event_version, "
                                 "event_id, event_type, event_timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
      for (std::size_t i = 0; i < count; ++i) {
        const Entry& e = entries[next + i];
        statements.push_back({insert,
                              {options_.context, bucket, head_ + 1 + static_cast<std::int64_t>(i), e.stream.type,
                               e.stream.id, e.version, e.event_id, e.event_type, e.timestamp}});
      }
      bool done = false;
      try {
        done = cql::applied(cql::batch(connection_, std::move(statements), cql::Options{cql::Consistency::kQuorum, false}));
      } catch (const Error& e) {
        if (e.code() != ErrorCode::kOutcomeUnknown) throw;
        done = resolve_unknown_batch(bucket, entries[next].event_id);
      }
      if (!done) {
        // Another relay wrote at these positions (or the batch was not applied).
        if (!lease_still_mine()) throw LeaseLost{};
        head_ = discover_head(head_);
        update_stats([&](RelayStats& s) { s.head = head_; });
        continue;
      }
      const Timestamp now = now_ms();
      for (std::size_t i = 0; i < count; ++i) {
        const Entry& e = entries[next + i];
        std::int32_t& published = published_[e.stream];
        published = std::max(published, e.version);
        progress_dirty_.insert(e.stream);
        recent_[e.event_id] = now;
      }
      head_ = new_head;
      next += count;
      update_stats([&](RelayStats& s) {
        s.head = head_;
        s.events_published += count;
        if (repair) s.repairs += count;
      });
    }
  }

  // A batch at head_ + 1 whose outcome is unknown: a SERIAL read (which completes or
  // supersedes its Paxos round) of the position it took decides.
  bool resolve_unknown_batch(std::int64_t bucket, const Uuid& first_event_id) {
    const Rows rows = run({"SELECT event_id FROM " + table("feed") +
                               " WHERE bounded_context = ? AND bucket = ? AND position = ?",
                           {options_.context, bucket, head_ + 1}},
                          cql::Consistency::kSerial);
    return !rows.empty() && !cql::is_null(rows[0][0]) && cql::uuid(rows[0][0]) == first_event_id;
  }

  // Records the published versions in feed_progress: at once when `now`, otherwise at most
  // every kProgressEvery (a relay that dies in between leaves the next one to publish those
  // versions again: duplicates, never a hole).
  void write_progress(bool now = true) {
    if (progress_dirty_.empty()) return;
    if (!now && Steady::now() - last_progress_write_ < kProgressEvery) return;
    last_progress_write_ = Steady::now();
    std::vector<Stream> streams(progress_dirty_.begin(), progress_dirty_.end());
    std::vector<cql::Statement> statements;
    for (const Stream& stream : streams)
      statements.push_back({"UPDATE " + table("feed_progress") +
                                " SET published_version = ? WHERE bounded_context = ? AND aggregate_id = ? AND "
                                "aggregate_type = ?",
                            {published_.at(stream), options_.context, stream.id, stream.type}});
    run_all(std::move(statements), cql::Consistency::kQuorum);
    progress_dirty_.clear();
  }

  // The head and how far markers were read, for the next relay and for feed_status (readers
  // find the head from it by probing forward, so it may lag): at most every kRelayRowEvery.
  void write_relay_row(bool force) {
    if (!holding_ || tuning_.ignore_lease) return;
    const Steady::time_point now = Steady::now();
    if (!force && now - last_row_write_ < kRelayRowEvery) return;
    run({"UPDATE " + table("feed_relay") + " SET head = ?, markers_scanned_to = ? WHERE bounded_context = ?",
         {head_, scanned_to_, options_.context}});
    last_row_write_ = now;
  }

  // ---- one cycle -----------------------------------------------------------------------------

  // New markers; the streams of the markers due for a look; their new events published; the
  // markers whose appends are published (or settled) dropped. True if it published anything.
  bool cycle(bool force) {
    read_markers(force);
    const Steady::time_point now = Steady::now();
    const Timestamp wall = now_ms();
    std::map<Stream, bool> streams;  // serial?
    for (const Marker& marker : pending_) {
      if (!force && marker.next_check > now) continue;
      const bool settle = wall - marker.time > tuning_.settle_window;
      streams[marker.stream] = streams[marker.stream] || settle;
    }
    if (streams.empty()) {
      write_progress(false);
      return false;
    }
    std::map<Stream, StreamRead> reads = read_streams(streams);
    std::vector<Entry> entries;
    for (auto& [stream, read] : reads)
      for (Entry& entry : read.entries) entries.push_back(std::move(entry));
    publish(entries, false);
    write_progress(false);
    // Markers: published, settled, or looked at again later (sooner if their stream has more).
    const Timestamp forget = wall - tuning_.settle_window - tuning_.look_back - milliseconds(60000);
    for (auto it = recent_.begin(); it != recent_.end();) it = it->second < forget ? recent_.erase(it) : std::next(it);
    for (auto it = pending_.begin(); it != pending_.end();) {
      const auto read = streams.find(it->stream);
      if (read == streams.end() || (!force && it->next_check > now)) {
        ++it;
        continue;
      }
      if (recent_.contains(it->first_event_id)) {
        it = pending_.erase(it);
        continue;
      }
      if (reads[it->stream].more) {  // the read stopped at its limit: read on at once
        it->next_check = now;
        ++it;
        continue;
      }
      if (read->second) {
        // Settled: its stream was read at SERIAL and everything there is published. An append
        // that commits even later is found by reconciliation.
        it = pending_.erase(it);
        continue;
      }
      // An append commits within milliseconds of its marker, or within a request timeout when
      // it is slow: looked at again after a quarter of the marker's age (at least one poll
      // interval, at most kMaxBackoff).
      const milliseconds age = std::chrono::duration_cast<milliseconds>(wall - it->time);
      it->next_check = now + std::clamp<milliseconds>(age / 4, options_.poll_interval, kMaxBackoff);
      ++it;
    }
    return !entries.empty();
  }

  // ---- reconciliation --------------------------------------------------------------------------

  // One page of the scan of the streams' heads (a token range of event_store), publishing what
  // the relay has not published for streams of its context without a pending marker. True
  // while the scan is under way.
  bool reconcile_step() {
    if (!reconcile_active_) {
      if (Steady::now() < next_reconcile_) return false;
      reconcile_active_ = true;
      reconcile_token_ = std::numeric_limits<std::int64_t>::min();
    }
    const std::string columns =
        "SELECT DISTINCT token(bounded_context, aggregate_id, aggregate_type), bounded_context, aggregate_id, "
        "aggregate_type, stream_version FROM " +
        table("event_store") + " WHERE token(bounded_context, aggregate_id, aggregate_type) ";
    Rows rows = run({columns + "> ? LIMIT " + std::to_string(kScanPageLimit), {reconcile_token_}});
    const bool full = rows.size() >= static_cast<std::size_t>(kScanPageLimit);
    if (full) {
      // Partitions that share the page's last token (a hash collision) must not be skipped.
      const std::int64_t last = cql::int64(rows.back()[0]);
      for (cql::Row& row : run({columns + "= ?", {last}})) rows.push_back(std::move(row));
    }
    std::map<Stream, std::optional<std::int32_t>> heads;
    for (const cql::Row& row : rows) {
      if (cql::text(row[1]) != options_.context) continue;
      std::optional<std::int32_t> head;
      if (!cql::is_null(row[4])) head = cql::int32(row[4]);
      heads[Stream{cql::text(row[3]), cql::uuid(row[2])}] = head;
    }
    if (full) {
      reconcile_token_ = cql::int64(rows[static_cast<std::size_t>(kScanPageLimit) - 1][0]);
    } else {
      reconcile_active_ = false;
      next_reconcile_ = Steady::now() + options_.reconcile_interval;
    }
    if (heads.empty()) return reconcile_active_;
    // Streams of the seed's library have no stream_version: their head is the last event.
    std::vector<Stream> without;
    std::vector<cql::Statement> statements;
    for (const auto& [stream, head] : heads) {
      if (head) continue;
      without.push_back(stream);
      statements.push_back({"SELECT event_version FROM " + table("event_store") +
                                " WHERE bounded_context = ? AND aggregate_id = ? AND aggregate_type = ? ORDER BY "
                                "event_version DESC LIMIT 1",
                            {options_.context, stream.id, stream.type}});
    }
    const std::vector<Rows> last_versions = run_all(std::move(statements), cql::Consistency::kQuorum);
    for (std::size_t i = 0; i < without.size(); ++i)
      heads[without[i]] = last_versions[i].empty() ? 0 : cql::int32(last_versions[i][0][0]);
    std::set<Stream> keys;
    for (const auto& [stream, head] : heads) keys.insert(stream);
    load_published(keys);
    auto behind = [&] {
      std::map<Stream, bool> out;
      for (const auto& [stream, head] : heads)
        if (*head > published_.at(stream) && !has_pending_marker(stream)) out[stream] = true;
      return out;
    };
    if (behind().empty()) return reconcile_active_;
    // An append that just committed has its marker written: read the markers of the whole
    // look-back and look at every pending one first, so that only events no marker announced
    // count as repairs.
    cycle(true);
    load_published(keys);
    for (std::map<Stream, bool> streams = behind(); !streams.empty();) {
      std::map<Stream, StreamRead> reads = read_streams(streams);
      std::vector<Entry> entries;
      std::map<Stream, bool> more;
      for (auto& [stream, read] : reads) {
        if (!read.entries.empty())
          log(LogLevel::kWarning, what() + ": reconciliation publishes " + std::to_string(read.entries.size()) +
                                      " event(s) of " + stream.type + "/" + stream.id.to_string() + " from version " +
                                      std::to_string(read.entries.front().version) + " that no marker announced");
        for (Entry& entry : read.entries) entries.push_back(std::move(entry));
        if (read.more) more[stream] = true;
      }
      publish(entries, true);
      write_progress();
      streams = std::move(more);
    }
    return reconcile_active_;
  }

  // ---- state -----------------------------------------------------------------------------------

  std::shared_ptr<Connection> connection_;
  std::string keyspace_;
  RelayOptions options_;
  RelayTuning tuning_;
  milliseconds lease_margin_{0};

  // Only the relay thread touches what follows, up to the stats.
  bool holding_ = false;
  bool new_term_ = false;  // the lease was taken; on_acquired has not completed yet
  std::int64_t epoch_ = 0;
  Steady::time_point renew_at_{};
  Steady::time_point deadline_{};
  std::int64_t hint_head_ = 0;
  std::optional<Timestamp> hint_scanned_to_;

  std::int64_t head_ = 0;
  std::map<Stream, std::int32_t> published_;  // per stream, the highest version published
  std::set<Stream> progress_dirty_;           // published_ not yet in feed_progress
  std::unordered_map<Uuid, Timestamp> recent_;  // event ids published lately
  std::unordered_map<Uuid, Timestamp> seen_;    // marker ids read lately, with their times
  std::vector<Marker> pending_;                 // markers whose appends are not published yet

  Timestamp markers_from_{};  // the next marker read starts after this time
  Timestamp scanned_to_{};    // every marker up to here has been read
  Steady::time_point next_look_back_{};
  Steady::time_point last_row_write_{};
  Steady::time_point last_progress_write_{};

  bool reconcile_active_ = false;
  std::int64_t reconcile_token_ = 0;
  Steady::time_point next_reconcile_{};

  mutable std::mutex stats_mutex_;
  RelayStats stats_;

  std::mutex wait_mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::mutex join_mutex_;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<FeedRelay> start_scylla_relay(std::shared_ptr<Connection> connection, std::string keyspace,
                                              const RelayOptions& options, const RelayTuning& tuning) {
  validate(options);
  return std::make_unique<ScyllaRelay>(std::move(connection), std::move(keyspace), options, tuning);
}

}  // namespace eventstore::detail

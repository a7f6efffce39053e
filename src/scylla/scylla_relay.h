// The relay of a cluster's feed, inside (relay.h is its interface; docs/feed.md, "The relay").
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
//
// ScyllaRelay is implemented by concern: relay.cc (start, the loop, one cycle), relay_lease.cc,
// relay_publication.cc, relay_reconciliation.cc. Errors: every member that talks to the cluster
// throws Error (kUnavailable, kOutcomeUnknown, ...), or LeaseLost when the relay finds it no
// longer holds the lease; the loop logs them and goes on.
//
// Thread safety: the relay's thread alone calls the private members; stats() and stop() may be
// called from any thread.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "eventstore/feed.h"
#include "scylla/connection.h"
#include "scylla/cql.h"
#include "scylla/feed_markers.h"
#include "scylla/relay.h"

namespace eventstore::detail::relay {

using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::int64_t kFeedBucketSize = 65536;              // positions per feed partition
constexpr std::size_t kMaxBatchEntries = 500;                // feed entries per conditional batch
constexpr std::int32_t kStreamReadLimit = 1000;              // events per stream read
constexpr std::int32_t kMarkerPageLimit = 5000;              // markers per shard read
constexpr std::int32_t kScanPageLimit = 1000;                // streams per reconciliation page
constexpr std::int64_t kMaxBucketsPerCycle = 30;             // marker buckets (minutes) read per cycle
constexpr std::size_t kMaxInFlight = 64;                     // requests out at once
constexpr std::size_t kMaxCachedStreams = 1000000;           // published versions kept in memory
constexpr milliseconds kFastOverlap{1000};                   // each marker read starts this before the last
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

// Thrown inside a cycle when the relay finds it no longer holds the lease: nothing more is
// published, and the loop goes back to waiting.
struct LeaseLost {};

class ScyllaRelay final : public FeedRelay {
 public:
  // Starts the relay's thread. `options` are valid (start_scylla_relay checks them).
  ScyllaRelay(std::shared_ptr<Connection> connection, std::string keyspace, RelayOptions options, RelayTuning tuning);

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
  std::vector<Rows> run_all(std::vector<cql::Statement> statements, cql::Consistency consistency);

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

  // `value` into `metric` (labelled with the context) when the store has a sink.
  void record(const Metric& metric, double value) const {
    if (!connection_->metrics) return;
    const std::array<std::string_view, 1> labels = {options_.context};
    connection_->metrics->record(metric, labels, value);
  }
  void report_lag() const;  // relay.cc

  // ---- the loop (relay.cc) ------------------------------------------------------------------

  void run();
  bool cycle(bool force);

  // ---- the lease and the feed's head (relay_lease.cc) ----------------------------------------

  milliseconds acquire();
  void renewed(Steady::time_point sent);
  void keep_lease();
  void require_lease();
  bool lease_still_mine();
  void lose_lease(const std::string& why);
  void release();
  void on_acquired();
  std::int64_t discover_head(std::int64_t guess);
  std::optional<std::int64_t> bucket_head(std::int64_t bucket);

  // ---- publication (relay_publication.cc): markers, streams, publishing -----------------------

  void read_markers(bool force_look_back);
  void add_marker(const cql::Row& row);
  bool has_pending_marker(const Stream& stream) const;

  struct StreamRead {
    std::vector<Entry> entries;  // to publish, in version order
    bool more = false;           // the read hit its limit: more events follow
  };

  void load_published(const std::set<Stream>& streams);
  std::map<Stream, StreamRead> read_streams(const std::map<Stream, bool>& streams);
  void publish(const std::vector<Entry>& entries, bool repair);
  bool resolve_unknown_batch(std::int64_t bucket, const Uuid& first_event_id);
  void write_progress(bool now = true);
  void write_relay_row(bool force);

  // ---- reconciliation (relay_reconciliation.cc) -----------------------------------------------

  bool reconcile_step();

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
  std::map<Stream, std::int32_t> published_;    // per stream, the highest version published
  std::set<Stream> progress_dirty_;             // published_ not yet in feed_progress
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

}  // namespace eventstore::detail::relay

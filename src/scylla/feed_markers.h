// The cluster's feed, writer side: the settings of a store's feed (URI options feed= and relay=)
// and the marker an append writes beside its conditional batch (docs/feed.md, "Markers").
//
// A marker row says "an append of this stream, starting with this event id, may commit soon":
//   feed_markers ((bounded_context, bucket, shard), marker_id timeuuid)
//     bucket = the marker's time (the writer's clock) in ms / 60000
//     shard  = kMarkerShards-way split of the aggregate id (marker_shard)
//   written at QUORUM with a TTL of kMarkerTtlSeconds, idempotently (same id on a retry), through
//   the bridge's own prepared marker write (rust/scylla-bridge/src/markers.rs).
// The relay (relay.h) reads the markers of its context and publishes the appends they name.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/store_uri.h"
#include "eventstore/event.h"
#include "eventstore/result.h"
#include "eventstore/stream_id.h"
#include "eventstore/uuid.h"

namespace eventstore::detail {

struct Connection;

constexpr int kMarkerShards = 4;
constexpr std::int64_t kMarkerBucketMs = 60000;
constexpr int kMarkerTtlSeconds = 3 * 24 * 3600;

// What the URI says about the feed, and the timings derived from the request timeout.
struct FeedSettings {
  // feed=false: appends write no markers; their events reach the feed only through the relay's
  // reconciliation (every RelayOptions::reconcile_interval), counted as repairs.
  bool markers = true;
  // relay=CONTEXT[,CONTEXT...]: the store runs a relay for each, for its lifetime.
  std::vector<std::string> relay_contexts;
  // timeout_ms (default 5000): every request's client timeout.
  std::chrono::milliseconds request_timeout{5000};

  // How long the relay waits for a marked append to become visible before it settles the
  // marker with a SERIAL read: 4 request timeouts (20 s by default). An attempt of an append
  // starts at most half of it after its marker (the writer writes a fresh marker otherwise)
  // and its client gives up one request timeout later.
  std::chrono::milliseconds settle_window() const { return 4 * request_timeout; }
  // A writer writes a fresh marker before an attempt when its last one is older than this.
  std::chrono::milliseconds marker_refresh_after() const { return settle_window() / 2; }
  // How far back the relay re-reads markers, for markers that landed late (a slow QUORUM
  // write, retried by the driver within one request timeout) or came from a writer whose clock
  // lags the relay's: 2 request timeouts (10 s by default).
  std::chrono::milliseconds marker_look_back() const { return 2 * request_timeout; }
};

// The options feed= and relay= of `uri` (and timeout_ms). Throws Error(kInvalidArgument):
// feed not true/false, relay with an empty or invalid context name. A context named in relay=
// cannot hold a comma (the list's separator; start_relay takes any name).
FeedSettings feed_settings_from(const ClusterUri& uri);

// A version 1 (time-based) UUID at `time` (its time is `time` to the millisecond), random node
// per process. Unique within the process: ids of one millisecond count up in 100 ns steps, and
// the clock sequence moves on past 10,000 of them or when `time` goes back.
Uuid make_timeuuid(Timestamp time);
// The time a version 1 UUID holds, truncated to milliseconds.
Timestamp timeuuid_time(const Uuid& id);

// 0..kMarkerShards-1, from the aggregate id's bytes (FNV-1a): stable across processes and
// versions of the library.
int marker_shard(const Uuid& aggregate_id);
std::int64_t marker_bucket(Timestamp time);

// For tests only (not reachable from the public API): while set, every marker write of every
// MarkerWriter of the process asks the hook first, with the marker's stream, after the marker's
// time was taken. The hook calls `proceed` once, at once or later from any thread: with no error
// the marker is written; with an error the write fails with it and nothing is sent. Costs one
// relaxed atomic load per marker when unset. Pass an empty function to unset it.
using MarkerWriteHook = std::function<void(const StreamId& stream, std::function<void(std::optional<Error>)> proceed)>;
void set_marker_write_hook_for_tests(MarkerWriteHook hook);

// Writes the markers of a store's appends (QUORUM, TTL kMarkerTtlSeconds, idempotent), with
// group commit: while a write to a marker partition is in flight, later markers of that partition
// wait and then go together as one single-partition batch. At low load a marker goes alone at
// once; under load one write carries many, so the server's cost per append falls as load rises.
// Errors (through the callback): kInvalidArgument (the feed's tables are missing: run
// `schema apply`), kUnavailable (a timeout included: the marker may or may not be stored),
// kUnauthorized.
// Thread safety: every member may be called from any thread.
class MarkerWriter : public std::enable_shared_from_this<MarkerWriter> {
 public:
  explicit MarkerWriter(std::shared_ptr<Connection> connection);
  ~MarkerWriter();

  // Writes the marker of an append of `event_count` events of `stream`, starting with
  // `first_event_id`; answers the marker's time (that of its id, taken now) once it is stored,
  // or the write's error.
  void write(const StreamId& stream, const Uuid& first_event_id, std::int32_t event_count,
             std::function<void(Result<Timestamp>)> callback);

  // Whether a marker of this writer has been stored: the feed's table exists. Until then an
  // append writes its marker before its batch, so that a keyspace without the feed's tables
  // fails its appends (kInvalidArgument) instead of appending events no marker announces.
  bool proven() const { return proven_.load(std::memory_order_relaxed); }

 private:
  struct Pending;
  struct Partition;
  class Done;
  void enqueue(const std::string& key, Pending marker);
  void send(const std::string& key, std::vector<Pending> markers);
  void sent(const std::string& key, std::vector<Pending>& markers, const std::optional<Error>& error);

  const std::shared_ptr<Connection> connection_;
  std::atomic<bool> proven_{false};
  std::mutex mutex_;
  std::map<std::string, Partition> partitions_;  // by partition key, while a write is in flight
};

}  // namespace eventstore::detail

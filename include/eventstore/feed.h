// FeedStore: every committed event of a bounded context, each at a position, for every consumer
// (read models, other services, other contexts), and the durable checkpoints of its subscribers.
// The contract every backend keeps (docs/feed.md):
//  - Each bounded context has one feed. Positions are 1, 2, 3, ... with no gap: once a reader
//    has seen position p, every position below p is filled and no entry ever appears or changes
//    below it. All readers see the same entry at the same position.
//  - Every acknowledged event appears in its context's feed: at once on memory: and sqlite:
//    (the position is assigned in the append's own transaction), within the relay's delay on a
//    cluster (docs/feed.md). Nothing of a rejected append ever appears. An append whose outcome
//    was unknown appears exactly when it was applied.
//  - Per stream, the first appearance of each version is in version order.
//  - Duplicates: on a cluster an event may appear again at a later position (same stream,
//    version and event id) after a relay died between publishing and recording its progress.
//    A consumer that must apply each event once skips an event id (or stream and version) it
//    has applied; SqliteProjection (subscription.h) makes this exactly-once for SQLite read
//    models. memory: and sqlite: never repeat an event.
//  - Checkpoints only move forward: a save below the stored position keeps the stored one.
//
// Callbacks follow the rules of event_store.h: called exactly once, maybe on a backend thread,
// must not block.
//
// Thread safety: all methods may be called from any number of threads at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "eventstore/event.h"
#include "eventstore/export.h"
#include "eventstore/result.h"

namespace eventstore {

// One entry of a feed: a reference to a stored event. `event.data` and `event.metadata` are
// filled only when FeedReadOptions::with_data is set.
struct EVENTSTORE_EXPORT FeedEntry {
  std::int64_t position = 0;
  RecordedEvent event;
};

// Which entries a reader wants. An empty list matches everything. The system events of stream
// lifecycle ("$truncated", "$deleted", "$hard-deleted"; event_store.h) pass any event_types list,
// so that a read model filtered by event type still learns what to drop.
struct EVENTSTORE_EXPORT FeedFilter {
  std::vector<std::string> aggregate_types;
  std::vector<std::string> event_types;

  bool matches(const RecordedEvent& event) const;
  bool empty() const { return aggregate_types.empty() && event_types.empty(); }
};

struct EVENTSTORE_EXPORT FeedReadOptions {
  // Entries at positions above this one. At least 0.
  std::int64_t after = 0;
  // At most this many positions per page, filtered-out entries included. Must be 1..100000.
  std::uint32_t limit = 1000;
  // Also fetch each event's data and metadata (on a cluster, one more read per stream and page).
  bool with_data = true;
  FeedFilter filter;
};

struct EVENTSTORE_EXPORT FeedPage {
  // The entries that pass the filter, in position order.
  std::vector<FeedEntry> entries;
  // The highest position the page covered, filtered-out entries included; `after` when the page
  // covered none (the reader is at the head). Once the entries are applied, this is the
  // checkpoint to store: a filtered subscription's checkpoint advances over what it skips.
  std::int64_t last_position = 0;
};

// A subscriber's durable position, stored in the store under a name.
struct EVENTSTORE_EXPORT Checkpoint {
  std::string name;
  std::int64_t position = 0;
  Timestamp updated{};  // when it was last moved
};

// The process that orders a cluster's feed (docs/feed.md, "The relay").
struct EVENTSTORE_EXPORT RelayLease {
  std::string owner;       // "host:pid:random" of the relay holding the lease
  std::int64_t epoch = 0;  // grows with every takeover
  Timestamp expires{};     // the owner renews before this; after it, another relay takes over
  bool live = false;       // expires is in the future (by this machine's clock)
};

struct EVENTSTORE_EXPORT FeedStatus {
  std::int64_t head = 0;                // the feed's last position; 0 when empty
  std::vector<Checkpoint> checkpoints;  // by name
  std::optional<RelayLease> relay;      // cluster only: the lease, if a relay ever ran
};

// Settings of a relay (cluster backend; the embedded backends need none).
struct EVENTSTORE_EXPORT RelayOptions {
  std::string context;                                  // the bounded context it orders
  std::chrono::milliseconds lease{10000};               // lease duration; renewed every lease/3
  std::chrono::milliseconds poll_interval{20};          // pause between cycles that found nothing
  std::chrono::milliseconds reconcile_interval{60000};  // full scan for events without a marker
  std::string owner;                                    // default: "host:pid:random"
};

// What a running relay has done, for status lines and metrics.
struct EVENTSTORE_EXPORT RelayStats {
  bool holds_lease = false;
  std::int64_t epoch = 0;
  std::int64_t head = 0;  // last position it knows published
  std::uint64_t events_published = 0;
  std::uint64_t repairs = 0;  // events found by reconciliation, not by a marker
  std::uint64_t cycles = 0;
  std::string last_error;  // empty when the last cycle succeeded
};

// A relay running on its own thread until destroyed (or stop()). It takes the context's lease,
// publishes, renews, and waits to take over when another relay holds the lease.
class EVENTSTORE_EXPORT FeedRelay {
 public:
  virtual ~FeedRelay() = default;
  virtual RelayStats stats() const = 0;
  // Stops publishing and gives up the lease (so another relay takes over at once). Idempotent.
  virtual void stop() = 0;
};

// Every store open_store returns implements all of these. The defaults, for stores written as
// test doubles, fail with kInvalidArgument ("this store keeps no feed") and start no relay.
class EVENTSTORE_EXPORT FeedStore {
 public:
  virtual ~FeedStore() = default;

  using FeedPageCallback = std::function<void(Result<FeedPage>)>;
  // One page of `context`'s feed after options.after. Never waits for new entries: at the head
  // the page is empty with last_position == after. Fails with kInvalidArgument (bad context,
  // after < 0, limit out of range), kUnavailable, kUnauthorized, kInternal.
  virtual void read_feed_async(const std::string& context, const FeedReadOptions& options, FeedPageCallback callback);

  using PositionCallback = std::function<void(Result<std::int64_t>)>;
  // The feed's last position (0 when empty).
  virtual void feed_head_async(const std::string& context, PositionCallback callback);

  using CheckpointCallback = std::function<void(Result<std::optional<Checkpoint>>)>;
  // The checkpoint stored under `name`, or nullopt. Names are non-empty UTF-8 of at most
  // Limits::max_identifier_bytes.
  virtual void load_checkpoint_async(const std::string& context, const std::string& name, CheckpointCallback callback);

  // Moves `name`'s checkpoint to `position` (>= 0) unless it is already higher; answers the
  // position now stored.
  virtual void save_checkpoint_async(const std::string& context, const std::string& name, std::int64_t position,
                                     PositionCallback callback);

  using StatusCallback = std::function<void(Result<FeedStatus>)>;
  virtual void feed_status_async(const std::string& context, StatusCallback callback);

  // Starts a relay for options.context (cluster). The embedded backends order their feeds in the
  // append itself and return nullptr. Throws Error(kInvalidArgument) for bad options.
  virtual std::unique_ptr<FeedRelay> start_relay(const RelayOptions& options);

  // Blocking forms: throw eventstore::Error.
  FeedPage read_feed(const std::string& context, const FeedReadOptions& options);
  std::int64_t feed_head(const std::string& context);
  std::optional<Checkpoint> load_checkpoint(const std::string& context, const std::string& name);
  std::int64_t save_checkpoint(const std::string& context, const std::string& name, std::int64_t position);
  FeedStatus feed_status(const std::string& context);
};

}  // namespace eventstore

// The relay of a cluster's feed (docs/feed.md, "The relay"): one thread per relay that holds the
// context's lease (row feed_relay, taken and renewed with LWT), reads the markers appends write
// beside their batches (feed_markers.h), reads the marked streams above what it has published
// (feed_progress) and writes their new events as the next positions of the feed, one
// conditional batch per feed bucket (`IF head = H`): two relays can never write different
// entries at one position. A reconciliation pass (a token-range scan of the streams' heads)
// publishes what no marker announced, counted in RelayStats::repairs.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "eventstore/feed.h"
#include "eventstore/store.h"
#include "scylla/feed_markers.h"

namespace eventstore::detail {

struct Connection;

// Timings of a relay that RelayOptions does not carry: they follow from the store's request
// timeout (FeedSettings).
struct RelayTuning {
  // A marker whose append is still invisible after this is settled by a SERIAL read of its
  // stream and dropped.
  std::chrono::milliseconds settle_window{20000};
  // Markers are re-read this far back (every look_back / 4), for late markers.
  std::chrono::milliseconds look_back{10000};
  // For tests only: publish without taking the lease (as a relay that lost its lease and does
  // not know it yet), so that the feed's conditional batches alone keep two relays from forking.
  bool ignore_lease = false;

  static RelayTuning from(const FeedSettings& settings) {
    return RelayTuning{settings.settle_window(), settings.marker_look_back(), false};
  }
};

// Starts a relay on its own thread. Throws Error(kInvalidArgument) for bad options: an invalid
// context, lease outside 300 ms..1 h, poll_interval outside 1 ms..60 s or not below lease / 3,
// reconcile_interval outside 100 ms..7 days.
std::unique_ptr<FeedRelay> start_scylla_relay(std::shared_ptr<Connection> connection, std::string keyspace,
                                              const RelayOptions& options, const RelayTuning& tuning);

// The same on a store made by open_scylla_store (tests: custom tuning). Throws
// Error(kInvalidArgument) for another store.
std::unique_ptr<FeedRelay> start_scylla_relay(Store& store, const RelayOptions& options, const RelayTuning& tuning);

}  // namespace eventstore::detail

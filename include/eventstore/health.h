// Health: whether a store can serve, as an operator's probe sees it (`eventstore health`,
// docs/observability.md "Health"). check_health opens its own short-lived connection to the store
// named by a URI, independent of any Store the application holds, and reports what it found.
//
// Invariants:
//  - check_health never creates anything: a missing SQLite file is reported, not created, and
//    no schema is applied.
//  - healthy() is true exactly when the store answered, its schema is current, nothing else went
//    wrong (`problems` is empty), and (on a cluster) the driver holds a connection to at least one
//    host. The relay's lease is reported, not judged: a feed without a relay is a problem of the
//    feed, not of the store.
//  - Nothing in a report holds a password (the URI is redacted as redact_uri does).
//
// Errors: check_health throws Error(kInvalidArgument) for a URI that open_store would refuse
// before connecting (malformed, unknown scheme or option) and for options out of range; every
// failure of the store itself is a report with healthy() false and the reason in `problems`.
//
// Thread safety: check_health may be called from any thread, concurrently.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eventstore/event.h"
#include "eventstore/export.h"

namespace eventstore {

struct EVENTSTORE_EXPORT HealthOptions {
  // How long the connection and each request may take; 1 ms .. 10 min. On a cluster the driver
  // gets this as its connect and request timeouts, so an unreachable cluster is reported within a
  // few times this (the connection tries each host).
  std::chrono::milliseconds timeout{5000};
};

// One cluster host as the driver knows it (its view, not the server's gossip).
struct EVENTSTORE_EXPORT HostHealth {
  std::string address;     // "ip:port" the driver connects to
  std::string datacenter;  // empty when the driver does not know it
  std::string rack;        // empty when the driver does not know it
  bool enabled = false;    // the driver's load balancing may use it (false: filtered out)
  bool connected = false;  // the driver holds at least one open connection to it
};

// The feed relay's lease of one bounded context (the row of table feed_relay; docs/feed.md).
struct EVENTSTORE_EXPORT RelayLeaseHealth {
  std::string context;
  std::string owner;               // "host:pid:random" of the relay that last held it; empty if none
  std::int64_t epoch = 0;          // grows with every takeover
  Timestamp expires{};             // the holder renews before this
  std::int64_t expires_in_ms = 0;  // expires - now by this machine's clock; negative once lapsed
  bool live = false;               // owner not empty and expires_in_ms > 0: a relay holds it
};

struct EVENTSTORE_EXPORT HealthReport {
  std::string store;    // the URI, redacted
  std::string backend;  // "memory", "sqlite" or "scylla"
  // The store answered a cheap request (SQLite: a read of the file's header; a cluster: a read
  // of system.local), and how long that round trip took.
  bool answers = false;
  std::optional<double> round_trip_ms;
  // The schema is the one this library writes. `schema` says what was checked or what is
  // missing: SQLite "user_version 2 (current 2)"; a cluster "keyspace KS: event_store, ...
  // present, event_store with stream_version" (the feed's tables unless the URI says feed=false).
  bool schema_current = false;
  std::string schema;
  // Cluster hosts (empty for memory: and sqlite:).
  std::vector<HostHealth> hosts;
  // The relays' leases, one per bounded context that ever had a relay (cluster with the feed on,
  // once the schema is current).
  std::vector<RelayLeaseHealth> relay_leases;
  // Why the store is not healthy, one short sentence each; empty when healthy().
  std::vector<std::string> problems;

  // answers, schema_current, no problems, and on a cluster at least one host connected.
  bool healthy() const;
};

// Checks the store named by `uri` (the URIs of open_store; max_in_flight options are ignored).
EVENTSTORE_EXPORT HealthReport check_health(std::string_view uri, const HealthOptions& options = {});

}  // namespace eventstore

// Retention (docs/lifecycle.md, "Retention"): how long the events of an aggregate type are kept.
//
//  - A policy belongs to one aggregate type of one bounded context: a maximum age (by each
//    event's timestamp), a maximum count (the last N versions of each stream, system events
//    included), or both.
//  - It is stored in the store itself, as the events of the stream
//    {context, "$retention", name-based UUID of the type} (retention_policy_stream): each
//    set_retention_policy appends one "retention_policy_set" event and the last one holds. It
//    replicates like any event and reaches the context's feed.
//  - Every store open_store returns applies it at read time, at once: a read of a stream of that
//    type starts at the stream's retention floor (below), as if it were truncated there, unless
//    ReadOptions::include_expired. The stream's last event is never hidden, so a read always
//    shows the stream's version; head() is unchanged. A policy set through the same store object
//    applies to the next read; one set elsewhere within StoreOptions::retention_refresh.
//  - scavenge removes what a policy hides: it truncates each stream at its floor (a "$truncated"
//    event, event_store.h), at the exact version it read, so an append racing it makes it read
//    again rather than remove too much. Until then the events stay on disk and in the feed.
//
// The retention floor of a stream whose last version is H, at time `now`, is the higher of
//   max_count: H - max_count + 1;
//   max_age:   the first version, from the oldest readable one, whose timestamp is at or after
//              now - max_age (an event expires together with every event before it);
// and never above H. Timestamps follow the versions when the store sets them (EventData). With
// timestamps given out of order, a backward read stops at the first expired event it meets.
//
// The aggregate store loads from a snapshot and the events after it: give a retained type a
// snapshot policy that snapshots more often than max_count events and max_age, or a load finds
// the events its state needs expired (kCorruption).
//
// Thread safety: the functions may be called from any number of threads at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "eventstore/event.h"
#include "eventstore/export.h"
#include "eventstore/store.h"
#include "eventstore/stream_id.h"

namespace eventstore {

inline constexpr const char* kRetentionAggregateType = "$retention";
inline constexpr const char* kRetentionPolicyEventType = "retention_policy_set";

// The longest max_age: far beyond any retention, and no clock arithmetic on it overflows.
inline constexpr std::chrono::seconds kMaxRetentionAge{36500LL * 86400};

struct EVENTSTORE_EXPORT RetentionPolicy {
  // Events older than this expire. 1 s to kMaxRetentionAge (36,500 days).
  std::optional<std::chrono::seconds> max_age;
  // Each stream keeps its last max_count versions. At least 1.
  std::optional<std::int64_t> max_count;

  bool empty() const { return !max_age && !max_count; }
  friend bool operator==(const RetentionPolicy&, const RetentionPolicy&) = default;
};

// The stream holding the policies of `aggregate_type` in `context`.
EVENTSTORE_EXPORT StreamId retention_policy_stream(const std::string& context, const std::string& aggregate_type);

// Throws Error(kInvalidArgument), without a store, for what set_retention_policy refuses: a bad
// context or type, a type starting with '$', max_age outside 1 s..kMaxRetentionAge, max_count
// below 1. With the empty policy it checks the context and type alone.
EVENTSTORE_EXPORT void validate_retention_policy(const std::string& context, const std::string& aggregate_type,
                                                 const RetentionPolicy& policy = {});

// Sets the policy of `aggregate_type` in `context`; an empty policy clears it. Returns the
// policy event's append result. Throws Error: kInvalidArgument (validate_retention_policy), and
// what an append throws.
EVENTSTORE_EXPORT AppendResult set_retention_policy(EventStore& store, const std::string& context,
                                                    const std::string& aggregate_type, const RetentionPolicy& policy);

// The policy of `aggregate_type` in `context`, or nullopt. Throws Error: kCorruption for a
// policy event that is not one set_retention_policy writes, and what a read throws.
EVENTSTORE_EXPORT std::optional<RetentionPolicy> retention_policy(EventStore& store, const std::string& context,
                                                                  const std::string& aggregate_type);

// Every policy of `context`, by aggregate type, found through its feed (on a cluster, what the
// relay has published).
EVENTSTORE_EXPORT std::map<std::string, RetentionPolicy> retention_policies(Store& store, const std::string& context);

// One stream a scavenge truncated (or, in a dry run, would truncate).
struct EVENTSTORE_EXPORT ScavengedStream {
  StreamId stream;
  std::int64_t first_removed = 0;  // the oldest readable version before the truncate
  std::int64_t before = 0;         // the truncate's "before": versions first_removed..before-1 go
  std::int64_t head = 0;           // the stream's version it was truncated at
  std::int64_t removed() const { return before - first_removed; }
};

struct EVENTSTORE_EXPORT ScavengeProgress {
  std::int64_t feed_position = 0;  // how far the search for streams has read the feed
  std::int64_t feed_head = 0;
  std::uint64_t streams_found = 0;
  std::uint64_t streams_done = 0;
};

struct EVENTSTORE_EXPORT ScavengeOptions {
  // Only this aggregate type; by default every type of the context with a policy.
  std::optional<std::string> aggregate_type;
  // Report what would be removed, remove nothing.
  bool dry_run = false;
  // The clock max_age is measured against; now_ms() when absent.
  std::optional<Timestamp> now;
  // Called for each stream truncated (or that a dry run would truncate), from the calling thread.
  std::function<void(const ScavengedStream&)> on_stream;
  // Called now and then from the calling thread.
  std::function<void(const ScavengeProgress&)> on_progress;
};

struct EVENTSTORE_EXPORT ScavengeReport {
  std::uint64_t streams_examined = 0;
  std::uint64_t streams_truncated = 0;  // or that a dry run would truncate
  std::int64_t events_removed = 0;      // system events included
  std::uint64_t streams_busy = 0;       // appended to on every attempt; the next run takes them
};

// Removes what the retention policies of `context` hide: finds the streams of each retained
// type through the context's feed (on a cluster, what the relay has published: a later run takes
// the rest), and truncates each at its retention floor when that is above its oldest readable
// version, with ExpectedVersion::exact(the version it read). A truncate is skipped when it would
// remove only system events (so an idle stream is not truncated again and again), and hard-deleted
// streams are skipped. Idempotent: a second run right after the first removes nothing. Throws
// Error: kInvalidArgument (a bad context, a type without a policy), and what reads and
// truncates throw other than a version conflict.
EVENTSTORE_EXPORT ScavengeReport scavenge(Store& store, const std::string& context,
                                          const ScavengeOptions& options = {});

// What scavenge does to one stream under `policy`: the truncate it made, or nullopt when nothing
// was to be removed. Throws as scavenge does, and kVersionConflict when the stream moved under it.
EVENTSTORE_EXPORT std::optional<ScavengedStream> scavenge_stream(EventStore& store, const StreamId& stream,
                                                                 const RetentionPolicy& policy, bool dry_run,
                                                                 Timestamp now);

}  // namespace eventstore

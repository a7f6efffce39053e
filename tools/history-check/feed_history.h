// The feed (include/eventstore/feed.h) as the history checker saw it, and its checks.
//
// Feed readers follow the run's context page by page while the writers append, and record what
// each page held; one of them (the subscriber) is killed now and then and restarts from its
// saved checkpoint. check_feed compares those observations with each other, with the history
// and with the final read.
//
// Errors: none; what is wrong is reported as violations (an unreadable head as feed_read_failed).
// Thread safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "history.h"
#include "report.h"

namespace historycheck {

// One entry as a reader saw it (40 bytes: a long run reads millions).
struct FeedSeen {
  static constexpr std::int32_t kForeign = -1;
  std::int64_t position = 0;
  std::int32_t stream = kForeign;  // index into Plan::streams; kForeign: not a stream of the run
  std::int64_t version = 0;
  Uuid event_id;
};

// The plan's index of a stream read from the feed, or FeedSeen::kForeign.
class StreamIndex {
 public:
  explicit StreamIndex(const Plan& plan);
  std::int32_t of(const eventstore::StreamId& stream) const;

 private:
  const Plan& plan_;
  std::map<Uuid, std::int32_t> index_;
};

// One page: the reader asked for positions after `after` and was told the page covered up to
// `last_position` (every position in (after, last_position] has an entry: the reader reads
// without a filter).
struct FeedPageSeen {
  std::int64_t after = 0;
  std::int64_t last_position = 0;
  std::int64_t head_before = -1;  // feed_head() read just before the page (-1: not read)
  std::int64_t at_ns = 0;         // steady clock, when the page arrived
  int incarnation = 0;            // the subscriber's restarts before this page
  std::vector<FeedSeen> entries;
};

// A checkpoint operation of the subscriber, in the order it made them.
struct CheckpointSeen {
  enum class Kind { kSaved, kLoaded };
  Kind kind = Kind::kSaved;
  std::int64_t requested = 0;  // kSaved: the position asked for
  std::int64_t answered = 0;   // the position the store answered as stored (kLoaded: 0 when none)
  bool none = false;           // kLoaded: no checkpoint was stored
  bool failed = false;         // kSaved: the save failed (it may have been stored): no answer
};

struct FeedReaderLog {
  int reader = 0;
  bool subscriber = false;
  std::vector<FeedPageSeen> pages;
  std::vector<CheckpointSeen> checkpoints;
  std::uint64_t restarts = 0;
  std::uint64_t errors = 0;  // failed reads (retried; not violations)
  std::string last_error;
  std::int64_t final_position = 0;
  bool reached_head = false;  // caught up with the final head before the deadline
  bool final_read = false;    // the read of the whole feed made once the readers stopped
  bool filtered = false;      // read with a filter on event type kNotedType: pages skip the others
};

struct FeedHistory {
  std::vector<FeedReaderLog> readers;
  std::int64_t final_head = 0;      // feed_head() once the head stopped moving
  bool duplicates_allowed = false;  // a cluster may repeat an event (feed.h); memory:/sqlite: never
  // An event a lifecycle change hid may lack its entry: read_feed leaves such entries out from
  // then on (memory:, sqlite: and the cluster, docs/sqlite.md "Stream lifecycle"), and a relay may
  // never publish one hidden before it got to it. False: entries stay, every event is published.
  bool hidden_may_be_missing = true;
  std::optional<std::string> error;  // the final head could not be read
};

// Checks the feed observations (see docs/RELIABILITY.md, "The feed"):
//  1. every acknowledged event and every stored event of the run is in the feed, at its stream
//     and version; nothing of a rejected append, nothing not stored, nothing of another stream;
//     an event hidden by a lifecycle change (below its stream's first version) keeps its entry,
//     or where hidden_may_be_missing may lack one (to readers after it was hidden, or to all:
//     then as many holes as hidden events never seen are excused); system events are entries;
//  2. dense and immutable: all readers agree position by position, positions 1..head have no
//     hole, no entry appears at a position a reader had passed, every reader reached the head;
//  3. per stream, first occurrences are in version order; a repeat has the same stream, version
//     and event id (and is a violation where duplicates are not allowed);
//  4. the subscriber covered 1..head across its restarts; its checkpoints only moved forward;
//  5. a filtered reader's pages hold exactly the matching entries of the positions they covered,
//     and it reached the head (its position advances over what the filter skips).
// Adds the violations and `report.feed` to `report`.
void check_feed(const Plan& plan, const std::vector<Attempt>& attempts, const std::vector<StoredStream>& stored,
                const FeedHistory& feed, Report& report);

}  // namespace historycheck

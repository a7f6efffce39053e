// A deliberately broken in-memory Store, to prove that the checker catches each kind of
// violation: it behaves like a correct store except for one injected fault, which fires on the
// `every`-th occasion (an append, a conflict, a head read right after an append, a truncate).
// It keeps the lifecycle of docs/lifecycle.md: events below a stream's before stay stored but are
// never read (their feed entries stay, as on memory: and sqlite:).
//
// Thread safety: like any Store, safe from many threads (one mutex).
#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "eventstore/eventstore.h"

namespace historycheck {

enum class Fault {
  kNone,
  kDropAck,         // acknowledge an append without storing it
  kDuplicate,       // store the first event of an append twice
  kInvent,          // store an extra event nobody appended
  kStoreRejected,   // report a conflict but store the events anyway
  kGap,             // store an append one version too far
  kStaleHead,       // head() right after an append answers the version before it
  kPartialUnknown,  // store only the first event of an append and report an unknown outcome
  kLostUnknown,     // report unknown, store nothing, then answer a retry with ok (a lie)
  // The feed (the store keeps a correct feed, positions assigned in the append, unless one of
  // these is injected):
  kFeedHole,             // skip a position: it never holds an entry
  kFeedLate,             // hold an entry back and publish it after readers passed its position
  kFeedReorder,          // publish the first two events of an append in swapped positions
  kFeedDropAck,          // store and acknowledge an append but never publish it
  kFeedRejected,         // publish the events of an append rejected with a conflict
  kFeedDisagree,         // one read of a page answers two entries with their events swapped
  kFeedDuplicate,        // publish an event twice (memory: and sqlite: never repeat one)
  kCheckpointBackwards,  // a checkpoint save stores a position below the one it was given
  kCheckpointJump,       // a checkpoint load answers a position beyond the stored one
  kFilterStall,          // a filtered page ends at its last matching entry (its reader stalls)
  kFilterLeak,           // a filtered page also holds one entry the filter excludes
  // The lifecycle:
  kTruncateTooFar,        // a truncate also hides the event at its before
  kWriteAfterHardDelete,  // an append to a hard-deleted stream is stored and acknowledged
  kReadBelowBefore,       // every read of a truncated stream starts one version below its before
};

bool is_feed_fault(Fault fault);

const char* to_string(Fault fault);

std::shared_ptr<eventstore::Store> make_faulty_store(Fault fault, int every = 7);

// Runs a short workload (with feed readers) against a faulty store for each fault and checks that
// the checker reports the expected violation kind (and that the correct store passes with none). Writes one
// line per scenario to `out`; returns the number of scenarios that failed.
int run_self_test(std::ostream& out);

struct FeedReaderConfig;
// The feed readers of the self-test and the checker's tests: 3 (a follower, a filtered reader, a
// subscriber), small pages, 8 s to catch up.
FeedReaderConfig self_test_feed_config();

}  // namespace historycheck

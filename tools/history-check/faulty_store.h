// A deliberately broken in-memory Store, to prove that the checker catches each kind of
// violation: it behaves like a correct store except for one injected fault, which fires on the
// `every`-th occasion (an append, a conflict, or a head read right after an append).
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
};

const char* to_string(Fault fault);

std::shared_ptr<eventstore::Store> make_faulty_store(Fault fault, int every = 7);

// Runs a short workload against a faulty store for each fault and checks that the checker
// reports the expected violation kind (and that the correct store passes with none). Writes one
// line per scenario to `out`; returns the number of scenarios that failed.
int run_self_test(std::ostream& out);

}  // namespace historycheck

// What the feed's read side (feed_reader.cc, feed_checkpoints.cc) shares over the generic CQL
// calls (cql.h): its two kinds of statement, and how a completion hands a failure on.
//
// Invariants: step calls `fail` at most once, and only when `fn` threw.
//
// Thread safety: stateless; used from the bridge's worker threads.
#pragma once

#include <exception>
#include <string>

#include "eventstore/error.h"
#include "scylla/cql.h"

namespace eventstore::detail {

inline const cql::Options kQuorumRead{cql::Consistency::kQuorum, true};
inline const cql::Options kConditional{cql::Consistency::kQuorum, false};

// Runs `fn`; an exception it throws goes to `fail` instead (completions must not throw, and the
// caller's callback must still be called once).
template <class Fail, class Fn>
void step(const Fail& fail, Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    fail(e);
  } catch (const std::exception& e) {
    fail(Error(ErrorCode::kInternal, std::string("feed: ") + e.what()));
  }
}

}  // namespace eventstore::detail

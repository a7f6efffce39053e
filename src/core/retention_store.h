// The read-time half of retention (include/eventstore/retention.h), which open_store puts
// around every backend.
#pragma once

#include <chrono>
#include <memory>

#include "eventstore/store.h"

namespace eventstore::detail {

// Wraps `inner` so that a read of a stream whose aggregate type has a retention policy in its
// context starts at the stream's retention floor (backward: stops there), unless
// ReadOptions::include_expired. A read of such a stream first reads the stream's head (and, at
// most once per `refresh` per context and type, the policy), so it costs one round trip more on
// a cluster; a read of a type without a policy costs a lookup in memory. An append to a policy
// stream through this store makes its next reads look the policy up again. Every other method
// forwards to `inner`. Under `limits` too short for the policy streams' type name no policy can
// be stored (setting one is refused) and the lookups would be refused too: `inner` is returned.
std::shared_ptr<Store> apply_retention(std::shared_ptr<Store> inner, std::chrono::milliseconds refresh,
                                       const Limits& limits);

}  // namespace eventstore::detail

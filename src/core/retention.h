// Retention (include/eventstore/retention.h), the parts the policy functions, scavenge and the
// read-time decorator (retention_store.h) share.
//
// Thread safety: pure functions.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "eventstore/event.h"
#include "eventstore/event_store.h"
#include "eventstore/retention.h"

namespace eventstore::detail {

// A policy stream is read backward in one page of this many events: the last policy event is
// in it unless someone truncated the policy stream this many times in a row.
inline constexpr std::uint32_t kPolicyReadEvents = 16;

// The read of a policy stream that finds its policy: backward, one page of kPolicyReadEvents.
ReadOptions policy_read_options();

// The policy the events of a policy stream (newest first, as a backward read gives them) say
// holds: the newest policy event, none after a delete. Throws Error(kCorruption) for a policy
// event set_retention_policy would not write.
std::optional<RetentionPolicy> policy_from_newest_first(const std::vector<RecordedEvent>& newest_first);

// The retention floor by count alone: head - max_count + 1, at least 1.
std::int64_t count_floor(const RetentionPolicy& policy, std::int64_t head);

// The instant before which events expire by age; nullopt without a max_age.
std::optional<Timestamp> age_cutoff(const RetentionPolicy& policy, Timestamp now);

}  // namespace eventstore::detail

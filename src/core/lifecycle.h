// Stream lifecycle (docs/lifecycle.md), the parts every backend shares: checking a change,
// building its system event and the "before" it sets.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>

#include "eventstore/event_store.h"
#include "eventstore/limits.h"

namespace eventstore::detail {

// Checks `change` for `stream` and returns its system event, ready to append: its id is
// change.event_id or a new one, its timestamp now. Throws Error(kInvalidArgument): a bad stream,
// an expected version outside 0..max_version - 1, a truncate's before < 1, or above
// expected + 1 when the expected version is exact. (Above head + 1 with any() is the backend's
// check, against the head it writes at: lifecycle_before_error.)
EventData prepare_lifecycle(const StreamId& stream, const LifecycleChange& change, const Limits& limits);

// The "before" the change sets when its system event lands at `version`: change.before for a
// truncate, `version` for a delete.
std::int64_t lifecycle_before(const LifecycleChange& change, std::int64_t version);

// kInvalidArgument when a truncate's before is above `version` (its own event's version, the
// head + 1 it would be written at); nullopt when the change may be written there.
std::optional<Error> lifecycle_before_error(const LifecycleChange& change, std::int64_t version);

}  // namespace eventstore::detail

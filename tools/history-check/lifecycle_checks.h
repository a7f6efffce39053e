// The checks of the lifecycle changes of a run (truncates, soft and hard deletes: docs/lifecycle.md,
// docs/RELIABILITY.md "The lifecycle"): where each stream's final read may start, what a hard
// delete refuses, and what the reads made right after an acknowledgement may return.
//
// A change that may have applied raises its stream's "before" (a truncate: its before; a delete:
// its own version); reads never return a version below it, and nothing at or above it is removed.
// The checker knows which changes were acknowledged (their before is certain) and which had an
// unknown outcome (their before may or may not hold), so each stream's first visible version F
// must lie between the two maxima.
//
// Errors: none; what is wrong is reported as violations.
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "history.h"
#include "report.h"

namespace historycheck {

struct StreamBounds {
  std::int64_t first = 1;         // the final read's first version (1 for a stream never written)
  std::int64_t acked_before = 1;  // the highest before of the acknowledged changes
  std::int64_t upper_before = 1;  // the highest before a change that may have applied could set
  // Acknowledged events below this may be absent (hidden): min(first, upper_before).
  std::int64_t excused_below = 1;
  std::optional<std::int64_t> hard_deleted;  // the version of the hard delete that applied
  bool read_failed = false;                  // the final read of the stream failed: nothing known
};

// The bounds of every stream of the plan, from the attempts and the final read.
std::vector<StreamBounds> stream_bounds(const Plan& plan, const std::vector<Attempt>& attempts,
                                        const std::vector<StoredStream>& stored);

// Checks the lifecycle rules and fills `report.lifecycle`:
//  1. each final read starts at or above every acknowledged before (truncated_visible) and at or
//     below the highest before that may have applied (over_truncated; "gap" without any change);
//  2. a read right after an acknowledgement (read_lowest) starts at or above every before
//     acknowledged before it started (truncated_visible) and skips nothing no change invoked
//     before it ended could hide (over_truncated);
//  3. nothing is acknowledged, nor stored, above a hard delete's version (write_after_hard_delete);
//     every attempt started after the hard delete's acknowledgement fails with stream_deleted
//     (deleted_not_refused: unavailable and unknown outcomes are let through); stream_deleted is
//     answered only after a hard delete applied, with its version, and never to a retry of the
//     hard delete itself (stream_deleted_wrong);
//  4. a change's stored system event has its type and before; an acknowledged truncate's before
//     is at most its own version (lifecycle_event_wrong).
void check_lifecycle(const Plan& plan, const std::vector<Attempt>& attempts, const std::vector<StoredStream>& stored,
                     const std::vector<StreamBounds>& bounds, Report& report);

}  // namespace historycheck

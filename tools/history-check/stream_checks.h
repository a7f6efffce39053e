// The checks of the streams: a history of appends against the final read of the store.
//
// Errors: none; what is wrong is reported as violations (a failed final read as
// final_read_failed).
// Thread safety: a pure function.
#pragma once

#include <vector>

#include "history.h"
#include "report.h"

namespace historycheck {

// Checks a history against the final state of the store (see docs/RELIABILITY.md):
//  1. every acknowledged append is stored with its event ids at the acknowledged versions, unless
//     hidden by a lifecycle change (below its stream's first version, within lifecycle_checks.h's
//     bounds);
//  2. every stream holds exactly the versions F..head, in order, and head() agrees (F: its first
//     version, 1 without lifecycle changes: lifecycle_checks.h);
//  3. every stored event belongs to exactly one append that was acknowledged or whose outcome
//     was unknown (nothing invented, nothing doubled), and an unknown append is all or nothing;
//  4. nothing of a rejected append (conflict, unavailable, invalid) is stored;
//  5. reads made right after an acknowledgement saw it (recorded in the attempts);
//  6. the lifecycle rules (check_lifecycle, lifecycle_checks.h).
Report check_history(const Plan& plan, const std::vector<Attempt>& attempts, const std::vector<StoredStream>& stored);

}  // namespace historycheck

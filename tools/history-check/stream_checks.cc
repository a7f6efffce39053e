#include "stream_checks.h"

#include "lifecycle_checks.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

namespace historycheck {

using eventstore::RecordedEvent;

Report check_history(const Plan& plan, const std::vector<Attempt>& attempts, const std::vector<StoredStream>& stored) {
  Report r;
  r.streams = plan.streams.size();
  // Where each stream's final read may start: below, acknowledged events may be hidden.
  const std::vector<StreamBounds> bounds = stream_bounds(plan, attempts, stored);

  // --- the attempts on their own ------------------------------------------------------------
  std::map<std::uint64_t, std::vector<const Attempt*>> by_op;
  for (const Attempt& a : attempts) {
    ++r.operations;
    by_op[a.op].push_back(&a);
    switch (a.outcome) {
      case Outcome::kOk: ++r.acknowledged; break;
      case Outcome::kConflict: ++r.conflicts; break;
      case Outcome::kUnavailable: ++r.unavailable; break;
      case Outcome::kUnknown: ++r.unknown; break;
      case Outcome::kInvalid: ++r.invalid; break;
      case Outcome::kStreamDeleted: break;  // counted in r.lifecycle
      case Outcome::kOtherError: ++r.other_errors; break;
    }
    if (a.outcome == Outcome::kOk) {
      const auto n = static_cast<std::int64_t>(a.ids.size());
      if (a.result_ids != a.ids || a.next_version != a.first_version + n - 1 ||
          (a.expected >= 0 && a.first_version != a.expected + 1))
        r.add("ack_mismatch", attempt_text(a) + " was acknowledged with versions " + std::to_string(a.first_version) +
                                  ".." + std::to_string(a.next_version) + " and ids " + ids_text(a.result_ids));
    }
    if (a.outcome == Outcome::kConflict && a.expected >= 0 && a.current_version == a.expected)
      r.add("conflict_inconsistent", attempt_text(a) + " got a conflict naming the expected version " +
                                         std::to_string(a.expected) + " as current");
    if (a.read_check != ReadCheck::kNone) ++r.read_checks;
    if (a.read_check == ReadCheck::kFailed) ++r.read_check_failures;
    if (a.read_check == ReadCheck::kNotSeen) r.add("stale_read", attempt_text(a) + ": " + a.read_detail);
  }
  r.logical_appends = by_op.size();
  for (auto& [op, list] : by_op)
    std::stable_sort(list.begin(), list.end(),
                     [](const Attempt* x, const Attempt* y) { return x->attempt < y->attempt; });

  // --- the stored streams -------------------------------------------------------------------
  struct Where {
    std::size_t stream;
    std::int64_t version;
  };
  std::unordered_map<Uuid, std::vector<Where>> stored_at;
  for (std::size_t s = 0; s < stored.size() && s < plan.streams.size(); ++s) {
    const StoredStream& st = stored[s];
    const eventstore::StreamId id = plan.stream(s);
    if (st.read_error) {
      r.add("final_read_failed", "stream " + std::to_string(s) + " (" + to_string(id) + "): " + *st.read_error);
      continue;
    }
    // The first version read is checked against the lifecycle changes (check_lifecycle).
    std::int64_t previous = st.events.empty() ? 0 : st.events.front().version - 1;
    for (const RecordedEvent& e : st.events) {
      ++r.events_stored;
      if (e.stream != id)
        r.add("misfiled", "stream " + std::to_string(s) + " returned an event of " + to_string(e.stream));
      if (e.version == previous + 1) {
        // as it should be
      } else if (e.version > previous + 1) {
        r.add("gap", "stream " + std::to_string(s) + " jumps from version " + std::to_string(previous) + " to " +
                         std::to_string(e.version));
      } else {
        r.add("duplicate_version", "stream " + std::to_string(s) + " has version " + std::to_string(e.version) +
                                       " after version " + std::to_string(previous));
      }
      previous = e.version;
      stored_at[e.event_id].push_back(Where{s, e.version});
    }
    if (st.head != previous)
      r.add("head_mismatch", "stream " + std::to_string(s) + ": head() is " + std::to_string(st.head) +
                                 " but the last stored version is " + std::to_string(previous));
  }
  for (const auto& [id, where] : stored_at)
    if (where.size() > 1) {
      std::string places;
      for (const Where& w : where) places += " stream " + std::to_string(w.stream) + " v" + std::to_string(w.version);
      r.add("doubled", "event " + id.to_string() + " is stored " + std::to_string(where.size()) + " times:" + places);
    }

  // --- each logical append against the stored state ----------------------------------------
  std::unordered_set<Uuid> known_ids;
  for (const auto& [op, list] : by_op) {
    const Attempt& first = *list.front();
    for (const Uuid& id : first.ids) known_ids.insert(id);
    const Attempt* ack = nullptr;
    bool had_unknown = false;
    bool conflict_after_unknown = false;
    bool ok_after_unknown = false;
    for (const Attempt* a : list) {
      if (a->ids != first.ids || a->stream != first.stream || a->expected != first.expected)
        r.add("ack_mismatch",
              attempt_text(*a) + " retries " + attempt_text(first) + " with different ids or expectation");
      if (a->outcome == Outcome::kOk) {
        if (ack && (ack->first_version != a->first_version || ack->result_ids != a->result_ids))
          r.add("ack_mismatch", attempt_text(*a) + " was acknowledged at version " + std::to_string(a->first_version) +
                                    " but an earlier attempt at " + std::to_string(ack->first_version));
        if (!ack) ack = a;
        if (had_unknown) ok_after_unknown = true;
      }
      if (a->outcome == Outcome::kUnknown || a->outcome == Outcome::kOtherError) had_unknown = true;
      if (a->outcome == Outcome::kConflict && had_unknown && !ack) conflict_after_unknown = true;
    }

    std::size_t present = 0;
    for (const Uuid& id : first.ids) present += stored_at.count(id) ? 1 : 0;

    if (ack) {
      r.events_acknowledged += ack->ids.size();
      for (std::size_t i = 0; i < ack->ids.size(); ++i) {
        const std::int64_t version = ack->first_version + static_cast<std::int64_t>(i);
        auto it = stored_at.find(ack->ids[i]);
        if (it == stored_at.end() && ack->stream < bounds.size() && version < bounds[ack->stream].excused_below) {
          ++r.lifecycle.events_hidden;  // below the stream's before
          continue;
        }
        if (it == stored_at.end()) {
          r.add("lost_ack", attempt_text(*ack) + ": event " + ack->ids[i].to_string() + " acknowledged at version " +
                                std::to_string(version) + " is not stored");
          continue;
        }
        const bool in_place = std::any_of(it->second.begin(), it->second.end(), [&](const Where& w) {
          return w.stream == ack->stream && w.version == version;
        });
        if (!in_place)
          r.add("misplaced_ack", attempt_text(*ack) + ": event " + ack->ids[i].to_string() +
                                     " acknowledged at version " + std::to_string(version) + " is stored at stream " +
                                     std::to_string(it->second.front().stream) + " version " +
                                     std::to_string(it->second.front().version));
      }
    } else if (!had_unknown) {
      if (present > 0)
        r.add("rejected_stored", attempt_text(first) + " was rejected (" + to_string(list.back()->outcome) + ") but " +
                                     std::to_string(present) + " of its events are stored");
    } else if (conflict_after_unknown) {
      if (present > 0)
        r.add("resolved_wrong", attempt_text(first) + ": a retry after an unknown outcome got a conflict, but " +
                                    std::to_string(present) + " of its events are stored");
    } else if (present > 0) {
      // An unknown outcome that happened: all of it, contiguous, at the expected place, except a
      // lower part below the stream's first version (hidden by a lifecycle change).
      std::size_t k = 0;
      while (!stored_at.count(first.ids[k])) ++k;
      const Where base = stored_at[first.ids[k]].front();
      const std::int64_t start = base.version - static_cast<std::int64_t>(k);
      const std::int64_t visible_from = first.stream < bounds.size() ? bounds[first.stream].first : 1;
      bool whole = base.stream == first.stream && (first.expected < 0 || start == first.expected + 1);
      for (std::size_t i = 0; whole && i < first.ids.size(); ++i) {
        const std::int64_t version = start + static_cast<std::int64_t>(i);
        auto it = stored_at.find(first.ids[i]);
        if (version < visible_from) whole = it == stored_at.end();
        else
          whole = it != stored_at.end() && it->second.front().stream == base.stream &&
                  it->second.front().version == version;
      }
      if (!whole)
        r.add("partial_append", attempt_text(first) + " (outcome unknown): " + std::to_string(present) + " of " +
                                    std::to_string(first.ids.size()) +
                                    " events are stored, or not contiguously at the expected version");
    }

    if (had_unknown) {
      ++r.unknown_appends;
      if (ok_after_unknown) {
        ++r.unknown_resolved_by_retry_applied;
      } else if (conflict_after_unknown) {
        ++r.unknown_resolved_by_retry_not_applied;
      } else if (!ack) {
        if (present > 0) {
          ++r.unknown_found_applied;
        } else {
          ++r.unknown_found_not_applied;
        }
      }
    }
  }
  for (const auto& [id, where] : stored_at)
    if (!known_ids.count(id))
      r.add("invented", "event " + id.to_string() + " at stream " + std::to_string(where.front().stream) + " version " +
                            std::to_string(where.front().version) + " belongs to no append of the run");
  check_lifecycle(plan, attempts, stored, bounds, r);
  return r;
}

}  // namespace historycheck

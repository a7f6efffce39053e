#include "lifecycle_checks.h"

#include <algorithm>
#include <climits>
#include <map>
#include <unordered_map>

#include <nlohmann/json.hpp>

namespace historycheck {

using eventstore::RecordedEvent;

namespace {

// One logical operation: its attempts in order, and what became of it.
struct Op {
  std::vector<const Attempt*> attempts;
  const Attempt* ack = nullptr;  // the first ok attempt
  bool unknown = false;          // some attempt had an unknown outcome (or another error)
  const Attempt& first() const { return *attempts.front(); }
};

// A change's before taking effect at a time: once acknowledged (certain), or once invoked
// (possible).
struct BeforeAt {
  std::int64_t ns;
  std::int64_t before;
  const Attempt* attempt;
};

const char* system_type(OpKind kind) {
  switch (kind) {
    case OpKind::kTruncate: return eventstore::kTruncatedEventType;
    case OpKind::kSoftDelete: return eventstore::kDeletedEventType;
    case OpKind::kHardDelete: return eventstore::kHardDeletedEventType;
    case OpKind::kAppend: break;
  }
  return "";
}

// The before a stored "$truncated" names; nullopt when its data has none.
std::optional<std::int64_t> stored_before(const RecordedEvent& e) {
  try {
    const nlohmann::json data = nlohmann::json::parse(e.data.value_or("null"));
    if (data.is_object() && data.contains("before") && data["before"].is_number_integer())
      return data["before"].get<std::int64_t>();
  } catch (const nlohmann::json::exception&) {
  }
  return std::nullopt;
}

std::string stream_text(std::size_t s) { return "stream " + std::to_string(s); }

// The highest before of `list` whose time is before `ns`; `floor` when none.
std::int64_t before_by(const std::vector<BeforeAt>& list, std::int64_t ns, std::int64_t floor,
                       const Attempt** which = nullptr) {
  std::int64_t best = floor;
  for (const BeforeAt& b : list)
    if (b.ns < ns && b.before > best) {
      best = b.before;
      if (which) *which = b.attempt;
    }
  return best;
}

struct Model {
  std::map<std::uint64_t, Op> ops;
  std::unordered_map<Uuid, const RecordedEvent*> visible;  // event id -> its event in the final read
  std::vector<std::vector<BeforeAt>> certain;              // per stream: acknowledged befores
  std::vector<std::vector<BeforeAt>> possible;             // per stream: befores that may have applied
  std::vector<const Op*> hard_delete;                      // per stream: the hard delete that applied
};

Model build_model(const Plan& plan, const std::vector<Attempt>& attempts, const std::vector<StoredStream>& stored) {
  Model m;
  const std::size_t n = plan.streams.size();
  m.certain.resize(n);
  m.possible.resize(n);
  m.hard_delete.assign(n, nullptr);
  for (const Attempt& a : attempts) m.ops[a.op].attempts.push_back(&a);
  for (auto& [id, op] : m.ops) {
    std::stable_sort(op.attempts.begin(), op.attempts.end(),
                     [](const Attempt* x, const Attempt* y) { return x->attempt < y->attempt; });
    for (const Attempt* a : op.attempts) {
      if (a->outcome == Outcome::kOk && !op.ack) op.ack = a;
      if (a->outcome == Outcome::kUnknown || a->outcome == Outcome::kOtherError) op.unknown = true;
    }
  }
  for (std::size_t s = 0; s < stored.size() && s < n; ++s)
    for (const RecordedEvent& e : stored[s].events) m.visible.emplace(e.event_id, &e);
  for (const auto& [id, op] : m.ops) {
    const Attempt& first = op.first();
    if (!is_lifecycle(first.kind) || first.stream >= n || first.ids.empty()) continue;
    auto seen = m.visible.find(first.ids[0]);
    const RecordedEvent* event = seen == m.visible.end() ? nullptr : seen->second;
    std::optional<std::int64_t> version;
    if (op.ack) version = op.ack->first_version;
    else if (event) version = event->version;
    const std::int64_t before = first.kind == OpKind::kTruncate ? first.before : version.value_or(0);
    if (op.ack) m.certain[first.stream].push_back(BeforeAt{op.ack->complete_ns, before, op.ack});
    if ((op.ack || op.unknown || event) && (first.kind == OpKind::kTruncate || version))
      m.possible[first.stream].push_back(BeforeAt{first.invoke_ns, before, &first});
    if (first.kind == OpKind::kHardDelete && version) {
      const Op*& hd = m.hard_delete[first.stream];
      auto hd_version = [&](const Op* o) {
        return o->ack ? o->ack->first_version : m.visible.at(o->first().ids[0])->version;
      };
      if (!hd || *version < hd_version(hd)) hd = &op;
    }
  }
  return m;
}

std::int64_t hard_delete_version(const Model& m, const Op& hd) {
  return hd.ack ? hd.ack->first_version : m.visible.at(hd.first().ids[0])->version;
}

}  // namespace

std::vector<StreamBounds> stream_bounds(const Plan& plan, const std::vector<Attempt>& attempts,
                                        const std::vector<StoredStream>& stored) {
  const Model m = build_model(plan, attempts, stored);
  std::vector<StreamBounds> bounds(plan.streams.size());
  for (std::size_t s = 0; s < bounds.size(); ++s) {
    StreamBounds& b = bounds[s];
    if (s >= stored.size() || stored[s].read_error) {
      b.read_failed = true;
      b.first = b.excused_below = 1;
      continue;
    }
    const StoredStream& st = stored[s];
    b.first = st.events.empty() ? st.head + 1 : st.events.front().version;
    b.acked_before = before_by(m.certain[s], LLONG_MAX, 1);
    b.upper_before = before_by(m.possible[s], LLONG_MAX, 1);
    b.excused_below = std::max<std::int64_t>(1, std::min(b.first, b.upper_before));
    if (m.hard_delete[s]) b.hard_deleted = hard_delete_version(m, *m.hard_delete[s]);
  }
  return bounds;
}

void check_lifecycle(const Plan& plan, const std::vector<Attempt>& attempts, const std::vector<StoredStream>& stored,
                     const std::vector<StreamBounds>& bounds, Report& r) {
  const Model m = build_model(plan, attempts, stored);
  LifecycleFigures& f = r.lifecycle;

  // --- the final read of each stream ---------------------------------------------------------
  for (std::size_t s = 0; s < bounds.size(); ++s) {
    const StreamBounds& b = bounds[s];
    if (b.read_failed) continue;
    if (b.first > 1) ++f.streams_truncated;
    if (b.first < b.acked_before) {
      const Attempt* which = nullptr;
      before_by(m.certain[s], LLONG_MAX, 1, &which);
      r.add("truncated_visible", stream_text(s) + ": the final read starts at version " + std::to_string(b.first) +
                                     ", below the before " + std::to_string(b.acked_before) + " of the acknowledged " +
                                     (which ? attempt_text(*which) : std::string("change")));
    }
    if (b.first > b.upper_before) {
      if (m.possible[s].empty() && b.first > 1)
        r.add("gap", stream_text(s) + " jumps from version 0 to " + std::to_string(b.first));
      else if (!m.possible[s].empty())
        r.add("over_truncated", stream_text(s) + ": the final read starts at version " + std::to_string(b.first) +
                                    ", above every before a lifecycle change may have set (at most " +
                                    std::to_string(b.upper_before) + ")");
    }
  }

  // --- each attempt ---------------------------------------------------------------------------
  for (const Attempt& a : attempts) {
    if (a.stream >= bounds.size()) continue;
    const std::size_t s = a.stream;
    const Op& op = m.ops.at(a.op);
    if (is_lifecycle(a.kind)) {
      ++f.attempts;
      if (a.outcome == Outcome::kOk && &a == op.ack) {
        if (a.kind == OpKind::kTruncate) ++f.truncates;
        if (a.kind == OpKind::kSoftDelete) ++f.soft_deletes;
        if (a.kind == OpKind::kHardDelete) ++f.hard_deletes;
        if (a.kind == OpKind::kTruncate && a.before > a.first_version)
          r.add("lifecycle_event_wrong", attempt_text(a) + " was acknowledged at version " +
                                             std::to_string(a.first_version) + ", below its before");
      }
    }
    if (a.outcome == Outcome::kStreamDeleted) ++f.stream_deleted;
    if (a.read_check == ReadCheck::kHidden) ++f.read_checks_hidden;

    // Reads right after an acknowledgement.
    if ((a.read_check == ReadCheck::kSeen || a.read_check == ReadCheck::kHidden) && a.read_lowest > 0) {
      const Attempt* which = nullptr;
      const std::int64_t lower = before_by(m.certain[s], a.read_start_ns, a.read_from, &which);
      const std::int64_t upper = before_by(m.possible[s], a.read_end_ns, a.read_from);
      if (a.read_lowest < lower)
        r.add("truncated_visible", attempt_text(a) + ": a read from version " + std::to_string(a.read_from) +
                                       " right after the ack returned version " + std::to_string(a.read_lowest) +
                                       ", below the before " + std::to_string(lower) + " of the acknowledged " +
                                       (which ? attempt_text(*which) : std::string("change")));
      else if (a.read_lowest > upper)
        r.add("over_truncated", attempt_text(a) + ": a read from version " + std::to_string(a.read_from) +
                                    " right after the ack started at version " + std::to_string(a.read_lowest) +
                                    "; no lifecycle change invoked by then could hide versions from " +
                                    std::to_string(upper));
    }

    // Hard deletes.
    const Op* hd = m.hard_delete[s];
    if (!hd || bounds[s].read_failed) {
      if (a.outcome == Outcome::kStreamDeleted && !bounds[s].read_failed)
        r.add("stream_deleted_wrong",
              attempt_text(a) + " was refused as deleted, but no hard delete of " + stream_text(s) + " applied");
      continue;
    }
    const std::int64_t h = hard_delete_version(m, *hd);
    const bool own = &op == hd;
    if (a.outcome == Outcome::kOk && !own && a.next_version > h)
      r.add("write_after_hard_delete", attempt_text(a) + " was acknowledged at versions " +
                                           std::to_string(a.first_version) + ".." + std::to_string(a.next_version) +
                                           ", above the hard delete at version " + std::to_string(h));
    if (hd->ack && !own && a.invoke_ns > hd->ack->complete_ns) {
      if (a.outcome == Outcome::kStreamDeleted) ++f.refused_after_hard_delete;
      else if (a.outcome == Outcome::kOk || a.outcome == Outcome::kConflict || a.outcome == Outcome::kInvalid)
        r.add("deleted_not_refused", attempt_text(a) + " started after the hard delete of " + stream_text(s) +
                                         " at version " + std::to_string(h) + " was acknowledged, and ended " +
                                         to_string(a.outcome) + (a.error.empty() ? "" : " (" + a.error + ")"));
    }
    if (a.outcome == Outcome::kStreamDeleted) {
      if (own)
        r.add("stream_deleted_wrong", attempt_text(a) + " retries the hard delete that applied, and was refused");
      else if (a.complete_ns < hd->first().invoke_ns)
        r.add("stream_deleted_wrong",
              attempt_text(a) + " was refused as deleted before the hard delete of " + stream_text(s) + " was sent");
      else if (a.current_version && *a.current_version != h)
        r.add("stream_deleted_wrong", attempt_text(a) + " was refused as deleted at version " +
                                          std::to_string(*a.current_version) + ", but the hard delete is at " +
                                          std::to_string(h));
    }
  }

  // --- stored events: system events as their change, nothing above a hard delete -------------
  std::unordered_map<Uuid, const Attempt*> change_of;
  for (const auto& [id, op] : m.ops)
    if (is_lifecycle(op.first().kind) && !op.first().ids.empty()) change_of[op.first().ids[0]] = &op.first();
  for (std::size_t s = 0; s < stored.size() && s < bounds.size(); ++s) {
    if (bounds[s].read_failed) continue;
    if (bounds[s].hard_deleted) ++f.streams_hard_deleted;
    for (const RecordedEvent& e : stored[s].events) {
      if (bounds[s].hard_deleted && e.version > *bounds[s].hard_deleted)
        r.add("write_after_hard_delete", stream_text(s) + " holds version " + std::to_string(e.version) + " (id " +
                                             e.event_id.to_string() + ") above its hard delete at version " +
                                             std::to_string(*bounds[s].hard_deleted));
      auto it = change_of.find(e.event_id);
      if (it == change_of.end()) continue;
      const Attempt& c = *it->second;
      const bool type_ok = e.event_type == system_type(c.kind);
      const bool before_ok = c.kind != OpKind::kTruncate || stored_before(e) == c.before;
      if (!type_ok || !before_ok)
        r.add("lifecycle_event_wrong", attempt_text(c) + " is stored at version " + std::to_string(e.version) +
                                           " as type " + e.event_type + " with data " + e.data.value_or("(none)"));
    }
  }
}

}  // namespace historycheck

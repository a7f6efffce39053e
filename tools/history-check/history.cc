#include "history.h"

#include <algorithm>
#include <chrono>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <unordered_set>

namespace historycheck {

using eventstore::ErrorCode;
using eventstore::RecordedEvent;

namespace {

constexpr std::size_t kDetailsPerKind = 20;

std::string ids_text(const std::vector<Uuid>& ids) {
  std::string text = "[";
  for (std::size_t i = 0; i < ids.size(); ++i) text += (i ? "," : "") + ids[i].to_string();
  return text + "]";
}

std::string op_text(const Attempt& a) {
  std::ostringstream out;
  out << "op " << a.op << " (process " << a.process << " thread " << a.thread << ", attempt "
      << a.attempt << ", stream " << a.stream << ", expected "
      << (a.expected < 0 ? std::string("any") : std::to_string(a.expected)) << ", ids "
      << ids_text(a.ids) << ")";
  return out.str();
}

Uuid parse_uuid(const nlohmann::json& j) {
  const std::optional<Uuid> id = Uuid::parse(j.get<std::string>());
  if (!id) throw std::runtime_error("history record: bad uuid " + j.dump());
  return *id;
}

std::vector<Uuid> parse_uuids(const nlohmann::json& j) {
  std::vector<Uuid> ids;
  for (const nlohmann::json& item : j) ids.push_back(parse_uuid(item));
  return ids;
}

nlohmann::json uuids_json(const std::vector<Uuid>& ids) {
  nlohmann::json array = nlohmann::json::array();
  for (const Uuid& id : ids) array.push_back(id.to_string());
  return array;
}

const char* read_check_name(ReadCheck c) {
  switch (c) {
    case ReadCheck::kNone: return "none";
    case ReadCheck::kSeen: return "seen";
    case ReadCheck::kNotSeen: return "not_seen";
    case ReadCheck::kFailed: return "failed";
  }
  return "none";
}

}  // namespace

Plan Plan::random(std::size_t count) {
  Plan plan;
  plan.context = "hc-" + Uuid::random().to_string().substr(24);
  for (std::size_t i = 0; i < count; ++i) plan.streams.push_back(Uuid::random());
  return plan;
}

const char* to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::kOk: return "ok";
    case Outcome::kConflict: return "conflict";
    case Outcome::kUnavailable: return "unavailable";
    case Outcome::kUnknown: return "unknown";
    case Outcome::kInvalid: return "invalid";
    case Outcome::kOtherError: return "other_error";
  }
  return "other_error";
}

std::optional<Outcome> outcome_from_string(const std::string& text) {
  for (Outcome o : {Outcome::kOk, Outcome::kConflict, Outcome::kUnavailable, Outcome::kUnknown,
                    Outcome::kInvalid, Outcome::kOtherError})
    if (text == to_string(o)) return o;
  return std::nullopt;
}

Outcome outcome_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::kVersionConflict: return Outcome::kConflict;
    case ErrorCode::kUnavailable: return Outcome::kUnavailable;
    case ErrorCode::kOutcomeUnknown: return Outcome::kUnknown;
    case ErrorCode::kInvalidArgument: return Outcome::kInvalid;
    default: return Outcome::kOtherError;
  }
}

nlohmann::json to_json(const Attempt& a) {
  nlohmann::json j = {{"op", a.op},
                      {"attempt", a.attempt},
                      {"process", a.process},
                      {"thread", a.thread},
                      {"stream", a.stream},
                      {"expected", a.expected},
                      {"ids", uuids_json(a.ids)},
                      {"invoke_ns", a.invoke_ns},
                      {"complete_ns", a.complete_ns},
                      {"outcome", to_string(a.outcome)}};
  if (a.outcome == Outcome::kOk) {
    j["first_version"] = a.first_version;
    j["next_version"] = a.next_version;
    j["result_ids"] = uuids_json(a.result_ids);
  }
  if (a.current_version) j["current_version"] = *a.current_version;
  if (!a.error.empty()) j["error"] = a.error;
  if (a.read_check != ReadCheck::kNone) {
    j["read_check"] = read_check_name(a.read_check);
    if (!a.read_detail.empty()) j["read_detail"] = a.read_detail;
  }
  return j;
}

Attempt attempt_from_json(const nlohmann::json& j) {
  try {
    Attempt a;
    a.op = j.at("op").get<std::uint64_t>();
    a.attempt = j.at("attempt").get<int>();
    a.process = j.at("process").get<int>();
    a.thread = j.at("thread").get<int>();
    a.stream = j.at("stream").get<std::size_t>();
    a.expected = j.at("expected").get<std::int64_t>();
    a.ids = parse_uuids(j.at("ids"));
    a.invoke_ns = j.at("invoke_ns").get<std::int64_t>();
    a.complete_ns = j.at("complete_ns").get<std::int64_t>();
    const std::optional<Outcome> outcome = outcome_from_string(j.at("outcome").get<std::string>());
    if (!outcome) throw std::runtime_error("history record: unknown outcome");
    a.outcome = *outcome;
    if (a.outcome == Outcome::kOk) {
      a.first_version = j.at("first_version").get<std::int64_t>();
      a.next_version = j.at("next_version").get<std::int64_t>();
      a.result_ids = parse_uuids(j.at("result_ids"));
    }
    if (j.contains("current_version")) a.current_version = j["current_version"].get<std::int64_t>();
    if (j.contains("error")) a.error = j["error"].get<std::string>();
    if (j.contains("read_check")) {
      const std::string c = j["read_check"].get<std::string>();
      a.read_check = c == "seen" ? ReadCheck::kSeen : c == "not_seen" ? ReadCheck::kNotSeen
                                                                      : ReadCheck::kFailed;
      if (j.contains("read_detail")) a.read_detail = j["read_detail"].get<std::string>();
    }
    return a;
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(std::string("history record: ") + e.what());
  }
}

std::vector<StoredStream> read_final(eventstore::Store& store, const Plan& plan, double retry_seconds) {
  std::vector<StoredStream> result(plan.streams.size());
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<std::int64_t>(retry_seconds * 1000));
  for (std::size_t s = 0; s < plan.streams.size(); ++s) {
    const eventstore::StreamId stream = plan.stream(s);
    for (;;) {
      StoredStream& out = result[s];
      out = StoredStream{};
      try {
        eventstore::ReadOptions options;
        options.page_size = 500;
        store.for_each(stream, options, [&out](const RecordedEvent& e) { out.events.push_back(e); });
        out.head = store.head(stream);
        break;
      } catch (const std::exception& e) {
        out.read_error = e.what();
        if (std::chrono::steady_clock::now() >= deadline) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
      }
    }
  }
  return result;
}

const std::vector<std::pair<std::string, std::string>> kViolationKinds = {
    {"lost_ack", "an acknowledged event is not stored"},
    {"misplaced_ack", "an acknowledged event is stored at another version or stream"},
    {"ack_mismatch", "an ok result disagrees with the request (ids, versions) or with another ok of the same append"},
    {"gap", "a stream misses a version between 1 and its last"},
    {"duplicate_version", "a version is stored twice, or versions are out of order"},
    {"head_mismatch", "head() disagrees with the last stored version"},
    {"misfiled", "a read of one stream returned an event of another"},
    {"invented", "a stored event belongs to no append of the run"},
    {"doubled", "an event id is stored more than once"},
    {"rejected_stored", "an event of a rejected append (conflict, unavailable, invalid) is stored"},
    {"resolved_wrong", "an unknown outcome resolved as not applied (a retry got a conflict), yet its events are stored"},
    {"partial_append", "some but not all events of an append are stored, or not contiguously"},
    {"conflict_inconsistent", "a conflict reported the expected version as the current one"},
    {"stale_read", "a read started after an acknowledgement did not see it"},
    {"final_read_failed", "the final read of a stream failed"},
};

std::uint64_t Report::violation_total() const {
  std::uint64_t total = 0;
  for (const auto& [kind, count] : violation_counts) total += count;
  return total;
}

void Report::add(const std::string& kind, const std::string& detail) {
  const std::uint64_t n = ++violation_counts[kind];
  if (n <= kDetailsPerKind) violations.push_back(Violation{kind, detail});
}

Report check_history(const Plan& plan, const std::vector<Attempt>& attempts,
                     const std::vector<StoredStream>& stored) {
  Report r;
  r.streams = plan.streams.size();

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
      case Outcome::kOtherError: ++r.other_errors; break;
    }
    if (a.outcome == Outcome::kOk) {
      const auto n = static_cast<std::int64_t>(a.ids.size());
      if (a.result_ids != a.ids || a.next_version != a.first_version + n - 1 ||
          (a.expected >= 0 && a.first_version != a.expected + 1))
        r.add("ack_mismatch", op_text(a) + " was acknowledged with versions " + std::to_string(a.first_version) +
                                  ".." + std::to_string(a.next_version) + " and ids " + ids_text(a.result_ids));
    }
    if (a.outcome == Outcome::kConflict && a.expected >= 0 && a.current_version == a.expected)
      r.add("conflict_inconsistent", op_text(a) + " got a conflict naming the expected version " +
                                         std::to_string(a.expected) + " as current");
    if (a.read_check != ReadCheck::kNone) ++r.read_checks;
    if (a.read_check == ReadCheck::kFailed) ++r.read_check_failures;
    if (a.read_check == ReadCheck::kNotSeen) r.add("stale_read", op_text(a) + ": " + a.read_detail);
  }
  r.logical_appends = by_op.size();
  for (auto& [op, list] : by_op)
    std::stable_sort(list.begin(), list.end(), [](const Attempt* x, const Attempt* y) { return x->attempt < y->attempt; });

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
    std::int64_t previous = 0;
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
      for (const Where& w : where)
        places += " stream " + std::to_string(w.stream) + " v" + std::to_string(w.version);
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
        r.add("ack_mismatch", op_text(*a) + " retries " + op_text(first) + " with different ids or expectation");
      if (a->outcome == Outcome::kOk) {
        if (ack && (ack->first_version != a->first_version || ack->result_ids != a->result_ids))
          r.add("ack_mismatch", op_text(*a) + " was acknowledged at version " + std::to_string(a->first_version) +
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
        if (it == stored_at.end()) {
          r.add("lost_ack", op_text(*ack) + ": event " + ack->ids[i].to_string() + " acknowledged at version " +
                                std::to_string(version) + " is not stored");
          continue;
        }
        const bool in_place = std::any_of(it->second.begin(), it->second.end(), [&](const Where& w) {
          return w.stream == ack->stream && w.version == version;
        });
        if (!in_place)
          r.add("misplaced_ack", op_text(*ack) + ": event " + ack->ids[i].to_string() + " acknowledged at version " +
                                     std::to_string(version) + " is stored at stream " +
                                     std::to_string(it->second.front().stream) + " version " +
                                     std::to_string(it->second.front().version));
      }
    } else if (!had_unknown) {
      if (present > 0)
        r.add("rejected_stored", op_text(first) + " was rejected (" + to_string(list.back()->outcome) + ") but " +
                                     std::to_string(present) + " of its events are stored");
    } else if (conflict_after_unknown) {
      if (present > 0)
        r.add("resolved_wrong", op_text(first) + ": a retry after an unknown outcome got a conflict, but " +
                                    std::to_string(present) + " of its events are stored");
    } else if (present > 0) {
      // An unknown outcome that happened: all of it, contiguous, at the expected place.
      bool whole = present == first.ids.size();
      if (whole) {
        const Where base = stored_at[first.ids[0]].front();
        if (base.stream != first.stream || (first.expected >= 0 && base.version != first.expected + 1)) whole = false;
        for (std::size_t i = 0; whole && i < first.ids.size(); ++i) {
          const Where w = stored_at[first.ids[i]].front();
          whole = w.stream == base.stream && w.version == base.version + static_cast<std::int64_t>(i);
        }
      }
      if (!whole)
        r.add("partial_append", op_text(first) + " (outcome unknown): " + std::to_string(present) + " of " +
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
      r.add("invented", "event " + id.to_string() + " at stream " + std::to_string(where.front().stream) +
                            " version " + std::to_string(where.front().version) + " belongs to no append of the run");
  return r;
}

nlohmann::json to_json(const Report& r) {
  nlohmann::json violations = nlohmann::json::array();
  for (const Violation& v : r.violations) violations.push_back({{"kind", v.kind}, {"detail", v.detail}});
  nlohmann::json counts = nlohmann::json::object();
  for (const auto& [kind, n] : r.violation_counts) counts[kind] = n;
  return {{"operations", r.operations},
          {"logical_appends", r.logical_appends},
          {"acknowledged", r.acknowledged},
          {"conflicts", r.conflicts},
          {"unavailable", r.unavailable},
          {"unknown", r.unknown},
          {"invalid", r.invalid},
          {"other_errors", r.other_errors},
          {"unknown_resolution",
           {{"appends_with_unknown_outcome", r.unknown_appends},
            {"retry_applied", r.unknown_resolved_by_retry_applied},
            {"retry_not_applied", r.unknown_resolved_by_retry_not_applied},
            {"final_read_applied", r.unknown_found_applied},
            {"final_read_not_applied", r.unknown_found_not_applied}}},
          {"read_checks", r.read_checks},
          {"read_check_failures", r.read_check_failures},
          {"events_acknowledged", r.events_acknowledged},
          {"events_stored", r.events_stored},
          {"streams", r.streams},
          {"violations", r.violation_total()},
          {"violation_counts", counts},
          {"violation_details", violations}};
}

std::string summary_text(const Report& r) {
  std::ostringstream out;
  out << "operations " << r.operations << " (logical appends " << r.logical_appends << "): acknowledged "
      << r.acknowledged << ", conflicts " << r.conflicts << ", unavailable " << r.unavailable << ", unknown "
      << r.unknown << ", invalid " << r.invalid << ", other errors " << r.other_errors << "\n";
  out << "unknown outcomes: " << r.unknown_appends << " appends; resolved by retry: "
      << r.unknown_resolved_by_retry_applied << " applied, " << r.unknown_resolved_by_retry_not_applied
      << " not applied; by the final read: " << r.unknown_found_applied << " applied, "
      << r.unknown_found_not_applied << " not applied\n";
  out << "read-after-ack checks " << r.read_checks << " (" << r.read_check_failures << " reads failed)\n";
  out << "final read: " << r.streams << " streams, " << r.events_stored << " events stored, "
      << r.events_acknowledged << " acknowledged\n";
  out << "violations: " << r.violation_total();
  for (const auto& [kind, n] : r.violation_counts) out << " " << kind << "=" << n;
  out << "\n";
  for (const Violation& v : r.violations) out << "  " << v.kind << ": " << v.detail << "\n";
  return out.str();
}

}  // namespace historycheck

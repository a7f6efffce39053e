#include "history.h"

#include <algorithm>
#include <climits>
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
    {"feed_lost_ack", "an acknowledged event is not in the feed"},
    {"feed_missing", "a stored event (an unknown outcome that was applied) is not in the feed"},
    {"feed_misplaced", "a feed entry names another stream or version than the event's"},
    {"feed_rejected", "an event of a rejected append is in the feed"},
    {"feed_not_stored", "an event the final read does not hold (an unknown outcome not applied) is in the feed"},
    {"feed_invented", "a feed entry holds an event id no append of the run sent"},
    {"feed_foreign", "a feed entry of the run's context names a stream the run never wrote"},
    {"feed_hole", "a position between 1 and the head has no entry (or a page passed it without one)"},
    {"feed_late_entry", "an entry appeared at a position a reader had already passed without one"},
    {"feed_disagreement", "two reads of one position returned different entries (readers disagree, or an entry changed or vanished)"},
    {"feed_head_mismatch", "an entry was read at a position above the final feed head"},
    {"feed_page_malformed", "a page's entries are out of order or outside the positions it covered"},
    {"feed_reordered", "a stream's version first appears in the feed after a higher version of that stream"},
    {"feed_duplicate", "an event appears twice in a feed that must never repeat one (memory:, sqlite:)"},
    {"feed_duplicate_mismatch", "a repeated event, stream or version differs from its first appearance"},
    {"feed_catch_up", "a feed reader did not reach the final head"},
    {"feed_read_failed", "the feed's final head could not be read"},
    {"filter_wrong", "a filtered reader got an entry its filter excludes, or one that differs from the feed's"},
    {"filter_missed", "a filtered reader's page skipped a matching entry of the positions it covered"},
    {"subscriber_hole", "the subscriber, across its restarts from its checkpoint, never saw a position of 1..head"},
    {"checkpoint_backwards", "a checkpoint save or load answered a position below one stored before (or below the save's request)"},
    {"checkpoint_jump", "a checkpoint load answered a position above every position saved"},
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

namespace {

std::string entry_text(const FeedSeen& e) {
  return "position " + std::to_string(e.position) + ": " +
         (e.stream == FeedSeen::kForeign ? std::string("a stream not of the run") : "stream " + std::to_string(e.stream)) +
         " v" + std::to_string(e.version) + " id " + e.event_id.to_string();
}

bool same_entry(const FeedSeen& a, const FeedSeen& b) {
  return a.stream == b.stream && a.version == b.version && a.event_id == b.event_id;
}

// Positions above this are not believed (a malformed page); the checker's memory is per position.
constexpr std::int64_t kMaxFeedPositions = 100'000'000;
constexpr std::int64_t kNever = INT64_MAX;

// Reports runs of positions as "a..b" ranges, one violation per run (a hole of a million
// positions is one line, not a million).
template <class Missing>
void add_ranges(Report& r, const std::string& kind, std::int64_t from, std::int64_t to, Missing missing,
                const std::string& prefix, const std::string& suffix) {
  std::int64_t p = from;
  while (p <= to) {
    if (!missing(p)) {
      ++p;
      continue;
    }
    const std::int64_t first = p;
    while (p <= to && missing(p)) ++p;
    const std::int64_t last = p - 1;
    r.add(kind, prefix + (first == last ? "position " + std::to_string(first)
                                        : "positions " + std::to_string(first) + ".." + std::to_string(last)) +
                    suffix);
  }
}

}  // namespace

StreamIndex::StreamIndex(const Plan& plan) : plan_(plan) {
  for (std::size_t i = 0; i < plan.streams.size(); ++i) index_[plan.streams[i]] = static_cast<std::int32_t>(i);
}

std::int32_t StreamIndex::of(const eventstore::StreamId& stream) const {
  if (stream.bounded_context != plan_.context || stream.aggregate_type != plan_.aggregate_type)
    return FeedSeen::kForeign;
  auto it = index_.find(stream.aggregate_id);
  return it == index_.end() ? FeedSeen::kForeign : it->second;
}

void check_feed(const Plan& plan, const std::vector<Attempt>& attempts, const std::vector<StoredStream>& stored,
                const FeedHistory& feed, Report& r) {
  FeedFigures f;
  for (const FeedReaderLog& reader : feed.readers) f.readers += reader.final_read ? 0 : 1;
  for (const FeedReaderLog& reader : feed.readers) f.filtered_readers += reader.filtered ? 1 : 0;
  f.head = feed.final_head;
  if (feed.error) r.add("feed_read_failed", *feed.error);
  const std::int64_t head = feed.final_head;

  // --- the pages: every position each reader passed, with or without an entry -------------
  std::int64_t top = std::max<std::int64_t>(head, 0);
  for (const FeedReaderLog& reader : feed.readers)
    for (const FeedPageSeen& page : reader.pages) {
      top = std::max(top, page.last_position);
      for (const FeedSeen& e : page.entries) top = std::max(top, e.position);
    }
  if (top > kMaxFeedPositions) {
    r.add("feed_page_malformed", "a page or the head names position " + std::to_string(top) +
                                     ", beyond what the checker follows (" + std::to_string(kMaxFeedPositions) + ")");
    top = kMaxFeedPositions;
  }
  struct Slot {
    const FeedSeen* entry = nullptr;
    std::int64_t first_seen_ns = kNever;
    int seen_by = -1;
    std::int64_t first_passed_empty_ns = kNever;
    int passed_empty_by = -1;
  };
  std::vector<Slot> slots(static_cast<std::size_t>(top) + 1);
  auto name_of = [](const FeedReaderLog& reader) {
    return (reader.subscriber ? "subscriber " : reader.final_read ? "final reader " : reader.filtered ? "filtered reader " : "reader ") +
           std::to_string(reader.reader);
  };
  for (const FeedReaderLog& reader : feed.readers) {
    if (reader.filtered) continue;  // checked against the others' entries below
    const std::string who = name_of(reader);
    std::vector<bool> covered(static_cast<std::size_t>(top) + 1, false);
    f.restarts += reader.restarts;
    f.read_errors += reader.errors;
    for (const FeedPageSeen& page : reader.pages) {
      ++f.pages;
      if (page.head_before >= 0) f.max_lag = std::max(f.max_lag, page.head_before - page.after);
      if (page.last_position < page.after || page.after < 0) {
        r.add("feed_page_malformed", who + ": a page after position " + std::to_string(page.after) +
                                         " ended at position " + std::to_string(page.last_position));
        continue;
      }
      auto passed_empty = [&](std::int64_t p) {
        if (p < 1 || p > top) return;
        Slot& s = slots[static_cast<std::size_t>(p)];
        if (page.at_ns < s.first_passed_empty_ns) {
          s.first_passed_empty_ns = page.at_ns;
          s.passed_empty_by = reader.reader;
        }
      };
      std::int64_t previous = page.after;
      for (const FeedSeen& e : page.entries) {
        ++f.observations;
        if (e.position <= previous || e.position > page.last_position || e.position > top) {
          r.add("feed_page_malformed", who + ": a page covering " + std::to_string(page.after + 1) + ".." +
                                           std::to_string(page.last_position) + " held " + entry_text(e) +
                                           " after position " + std::to_string(previous));
          continue;
        }
        for (std::int64_t p = previous + 1; p < e.position; ++p) passed_empty(p);
        previous = e.position;
        Slot& s = slots[static_cast<std::size_t>(e.position)];
        covered[static_cast<std::size_t>(e.position)] = true;
        if (!s.entry) {
          s.entry = &e;
        } else if (!same_entry(*s.entry, e)) {
          r.add("feed_disagreement", who + " read " + entry_text(e) + ", reader " + std::to_string(s.seen_by) +
                                         " read " + entry_text(*s.entry));
        }
        if (page.at_ns < s.first_seen_ns) {
          s.first_seen_ns = page.at_ns;
          s.seen_by = reader.reader;
        }
      }
      for (std::int64_t p = previous + 1; p <= page.last_position && p <= top; ++p) passed_empty(p);
    }
    if (!reader.reached_head || reader.final_position < head)
      r.add("feed_catch_up", who + " stopped at position " + std::to_string(reader.final_position) +
                                 ", below the final head " + std::to_string(head) +
                                 (reader.last_error.empty() ? "" : " (last error: " + reader.last_error + ")"));
    if (reader.subscriber)
      add_ranges(
          r, "subscriber_hole", 1, std::min(head, top), [&](std::int64_t p) { return !covered[static_cast<std::size_t>(p)]; },
          who + " (restarted " + std::to_string(reader.restarts) + " times from its checkpoint) never read ", "");

    // The subscriber's checkpoints only move forward, and only to positions it saved.
    std::int64_t stored_max = 0;
    std::int64_t saved_max = 0;
    for (const CheckpointSeen& c : reader.checkpoints) {
      if (c.kind == CheckpointSeen::Kind::kSaved && c.failed) {
        saved_max = std::max(saved_max, c.requested);
      } else if (c.kind == CheckpointSeen::Kind::kSaved) {
        ++f.checkpoint_saves;
        if (c.answered < c.requested)
          r.add("checkpoint_backwards", who + ": a save of position " + std::to_string(c.requested) +
                                            " was answered " + std::to_string(c.answered));
        else if (c.answered < stored_max)
          r.add("checkpoint_backwards", who + ": a save of position " + std::to_string(c.requested) +
                                            " was answered " + std::to_string(c.answered) + " after " +
                                            std::to_string(stored_max) + " had been stored");
        saved_max = std::max(saved_max, c.requested);
        stored_max = std::max(stored_max, c.answered);
      } else {
        const std::int64_t loaded = c.none ? 0 : c.answered;
        if (loaded < stored_max)
          r.add("checkpoint_backwards", who + ": a load answered " + (c.none ? std::string("no checkpoint") : std::to_string(loaded)) +
                                            " after " + std::to_string(stored_max) + " had been stored");
        else if (loaded > saved_max)
          r.add("checkpoint_jump", who + ": a load answered " + std::to_string(loaded) +
                                       " but the highest position ever saved is " + std::to_string(saved_max));
        stored_max = std::max(stored_max, loaded);
      }
    }
    if (reader.subscriber) f.final_checkpoint = std::max(f.final_checkpoint, stored_max);
  }

  // --- filtered readers: exactly the matching entries of what each page covered --------------
  std::unordered_map<Uuid, bool> noted;  // event id -> its type is kNotedType
  for (const Attempt& a : attempts)
    for (std::size_t i = 0; i < a.ids.size(); ++i) noted[a.ids[i]] = std::string(event_type_of(i)) == kNotedType;
  auto matches = [&](const FeedSeen& e) {
    auto it = noted.find(e.event_id);
    return it != noted.end() && it->second;
  };
  for (const FeedReaderLog& reader : feed.readers) {
    if (!reader.filtered) continue;
    const std::string who = name_of(reader);
    f.read_errors += reader.errors;
    for (const FeedPageSeen& page : reader.pages) {
      ++f.pages;
      if (page.head_before >= 0) f.max_lag = std::max(f.max_lag, page.head_before - page.after);
      if (page.last_position < page.after || page.after < 0) {
        r.add("feed_page_malformed", who + ": a page after position " + std::to_string(page.after) +
                                         " ended at position " + std::to_string(page.last_position));
        continue;
      }
      std::size_t next = 0;
      for (std::int64_t p = page.after + 1; p <= page.last_position && p <= top; ++p) {
        const FeedSeen* expected = slots[static_cast<std::size_t>(p)].entry;
        const FeedSeen* got = next < page.entries.size() && page.entries[next].position == p ? &page.entries[next] : nullptr;
        if (got) ++next;
        if (got) ++f.observations;
        if (got && (!expected || !same_entry(*got, *expected) || !matches(*got)))
          r.add("filter_wrong", who + " read " + entry_text(*got) +
                                    (expected ? (same_entry(*got, *expected) ? " (its type is filtered out)"
                                                                             : "; the feed holds " + entry_text(*expected))
                                              : "; no other reader saw an entry there"));
        else if (!got && expected && matches(*expected))
          r.add("filter_missed", who + ": a page covering " + std::to_string(page.after + 1) + ".." +
                                     std::to_string(page.last_position) + " skipped " + entry_text(*expected));
      }
      if (next != page.entries.size())
        r.add("feed_page_malformed", who + ": a page covering " + std::to_string(page.after + 1) + ".." +
                                         std::to_string(page.last_position) + " held entries out of order or outside it");
    }
    if (!reader.reached_head || reader.final_position < head)
      r.add("feed_catch_up", who + " stopped at position " + std::to_string(reader.final_position) +
                                 ", below the final head " + std::to_string(head) +
                                 (reader.last_error.empty() ? "" : " (last error: " + reader.last_error + ")"));
  }

  // --- dense and immutable ------------------------------------------------------------------
  add_ranges(
      r, "feed_hole", 1, std::min(head, top),
      [&](std::int64_t p) { return slots[static_cast<std::size_t>(p)].entry == nullptr; }, "",
      " (of 1.." + std::to_string(head) + ") never held an entry");
  for (std::int64_t p = 1; p <= top; ++p) {
    const Slot& s = slots[static_cast<std::size_t>(p)];
    if (!s.entry) {
      continue;
    }
    if (s.first_passed_empty_ns != kNever) {
      if (s.first_passed_empty_ns <= s.first_seen_ns)
        r.add("feed_late_entry", "reader " + std::to_string(s.passed_empty_by) + " passed position " +
                                     std::to_string(p) + " without an entry; later reader " +
                                     std::to_string(s.seen_by) + " read " + entry_text(*s.entry));
      else
        r.add("feed_disagreement", "reader " + std::to_string(s.seen_by) + " read " + entry_text(*s.entry) +
                                       "; later reader " + std::to_string(s.passed_empty_by) +
                                       " passed that position without an entry");
    }
    if (p > head)
      r.add("feed_head_mismatch", entry_text(*s.entry) + " was read, but the final head is " + std::to_string(head));
  }

  // --- per stream: first occurrences in version order; repeats repeat the same event --------
  std::unordered_map<Uuid, const FeedSeen*> first_of;  // event id -> its first entry
  std::vector<std::map<std::int64_t, const FeedSeen*>> versions(plan.streams.size());
  std::vector<std::int64_t> highest(plan.streams.size(), 0);
  for (std::int64_t p = 1; p <= top; ++p) {
    const FeedSeen* e = slots[static_cast<std::size_t>(p)].entry;
    if (!e) continue;
    ++f.entries;
    if (e->stream < 0 || static_cast<std::size_t>(e->stream) >= plan.streams.size()) {
      r.add("feed_foreign", entry_text(*e) + " is not a stream of the run");
      continue;
    }
    const auto s = static_cast<std::size_t>(e->stream);
    auto seen = first_of.find(e->event_id);
    if (seen != first_of.end()) {
      ++f.duplicates;
      if (!same_entry(*seen->second, *e))
        r.add("feed_duplicate_mismatch", entry_text(*e) + " repeats the event of " + entry_text(*seen->second));
      else if (!feed.duplicates_allowed)
        r.add("feed_duplicate", entry_text(*e) + " repeats position " + std::to_string(seen->second->position));
      continue;
    }
    auto same_version = versions[s].find(e->version);
    first_of[e->event_id] = e;
    if (same_version != versions[s].end()) {
      ++f.duplicates;
      r.add("feed_duplicate_mismatch", entry_text(*e) + " repeats the version of " + entry_text(*same_version->second) +
                                           " with another event id");
      continue;
    }
    if (e->version < highest[s])
      r.add("feed_reordered", "stream " + std::to_string(s) + ": version " + std::to_string(e->version) +
                                  " first appears at position " + std::to_string(p) + ", after version " +
                                  std::to_string(highest[s]));
    highest[s] = std::max(highest[s], e->version);
    versions[s][e->version] = e;
  }
  f.events = first_of.size();

  // --- against the history and the final read -----------------------------------------------
  enum class Fate { kAcknowledged, kRejected, kUnknown };
  std::map<std::uint64_t, std::vector<const Attempt*>> by_op;
  for (const Attempt& a : attempts) by_op[a.op].push_back(&a);
  std::unordered_map<Uuid, Fate> fate;
  for (const auto& [op, list] : by_op) {
    const Attempt* ack = nullptr;
    bool unknown = false;
    for (const Attempt* a : list) {
      if (a->outcome == Outcome::kOk && !ack) ack = a;
      if (a->outcome == Outcome::kUnknown || a->outcome == Outcome::kOtherError) unknown = true;
    }
    const Fate which = ack ? Fate::kAcknowledged : unknown ? Fate::kUnknown : Fate::kRejected;
    for (const Uuid& id : list.front()->ids) fate[id] = which;
    if (!ack) continue;
    for (std::size_t i = 0; i < ack->ids.size(); ++i) {
      const std::int64_t version = ack->first_version + static_cast<std::int64_t>(i);
      auto it = first_of.find(ack->ids[i]);
      if (it == first_of.end()) {
        r.add("feed_lost_ack", op_text(*ack) + ": event " + ack->ids[i].to_string() + " acknowledged at version " +
                                   std::to_string(version) + " is not in the feed (head " + std::to_string(head) + ")");
      } else if (it->second->stream < 0 || static_cast<std::size_t>(it->second->stream) != ack->stream ||
                 it->second->version != version) {
        r.add("feed_misplaced", op_text(*ack) + ": event " + ack->ids[i].to_string() + " acknowledged at version " +
                                    std::to_string(version) + " is in the feed as " + entry_text(*it->second));
      } else {
        ++f.acknowledged_in_feed;
      }
    }
  }
  struct StoredAt {
    std::size_t stream;
    std::int64_t version;
  };
  std::unordered_map<Uuid, StoredAt> stored_at;
  std::vector<bool> stream_known(plan.streams.size(), false);
  for (std::size_t s = 0; s < stored.size() && s < plan.streams.size(); ++s) {
    if (stored[s].read_error) continue;
    stream_known[s] = true;
    for (const RecordedEvent& e : stored[s].events) {
      stored_at.emplace(e.event_id, StoredAt{s, e.version});
      auto f_it = fate.find(e.event_id);
      if (f_it != fate.end() && f_it->second == Fate::kAcknowledged) continue;  // checked above
      auto it = first_of.find(e.event_id);
      if (it == first_of.end()) {
        r.add("feed_missing", "stream " + std::to_string(s) + " v" + std::to_string(e.version) + " id " +
                                  e.event_id.to_string() + " is stored but not in the feed");
        continue;
      }
      if (it->second->stream < 0 || static_cast<std::size_t>(it->second->stream) != s || it->second->version != e.version) {
        r.add("feed_misplaced", "stream " + std::to_string(s) + " v" + std::to_string(e.version) + " id " +
                                    e.event_id.to_string() + " is in the feed as " + entry_text(*it->second));
      } else if (f_it != fate.end() && f_it->second == Fate::kUnknown) {
        ++f.unknown_applied_in_feed;
      }
    }
  }
  for (const auto& [id, e] : first_of) {
    if (stored_at.count(id)) continue;
    if (e->stream >= 0 && static_cast<std::size_t>(e->stream) < stream_known.size() &&
        !stream_known[static_cast<std::size_t>(e->stream)])
      continue;  // its stream's final read failed
    auto f_it = fate.find(id);
    if (f_it == fate.end())
      r.add("feed_invented", entry_text(*e) + " belongs to no append of the run");
    else if (f_it->second == Fate::kRejected)
      r.add("feed_rejected", entry_text(*e) + " belongs to a rejected append");
    else
      r.add("feed_not_stored", entry_text(*e) + " is not held by the final read (" +
                                   (f_it->second == Fate::kUnknown ? "an unknown outcome" : "an acknowledged append") +
                                   ")");
  }
  r.feed = f;
}

nlohmann::json to_json(const Report& r) {
  nlohmann::json violations = nlohmann::json::array();
  for (const Violation& v : r.violations) violations.push_back({{"kind", v.kind}, {"detail", v.detail}});
  nlohmann::json counts = nlohmann::json::object();
  for (const auto& [kind, n] : r.violation_counts) counts[kind] = n;
  nlohmann::json j = {{"operations", r.operations},
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
  if (r.feed) {
    const FeedFigures& f = *r.feed;
    j["feed"] = {{"head", f.head},
                 {"entries", f.entries},
                 {"events", f.events},
                 {"duplicates", f.duplicates},
                 {"readers", f.readers},
                 {"filtered_readers", f.filtered_readers},
                 {"pages", f.pages},
                 {"observations", f.observations},
                 {"restarts", f.restarts},
                 {"checkpoint_saves", f.checkpoint_saves},
                 {"final_checkpoint", f.final_checkpoint},
                 {"max_lag", f.max_lag},
                 {"read_errors", f.read_errors},
                 {"acknowledged_in_feed", f.acknowledged_in_feed},
                 {"unknown_applied_in_feed", f.unknown_applied_in_feed}};
  }
  return j;
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
  if (r.feed) {
    const FeedFigures& f = *r.feed;
    out << "feed: head " << f.head << ", " << f.entries << " entries (" << f.events << " events, " << f.duplicates
        << " duplicates), " << f.acknowledged_in_feed << " acknowledged events and " << f.unknown_applied_in_feed
        << " applied unknown-outcome events found; " << f.readers << " readers (" << f.filtered_readers
        << " filtered), " << f.pages << " pages, "
        << f.observations << " entries read, " << f.restarts << " subscriber restarts, " << f.checkpoint_saves
        << " checkpoint saves (last " << f.final_checkpoint << "), max lag " << f.max_lag << " positions, "
        << f.read_errors << " read errors\n";
  }
  out << "violations: " << r.violation_total();
  for (const auto& [kind, n] : r.violation_counts) out << " " << kind << "=" << n;
  out << "\n";
  for (const Violation& v : r.violations) out << "  " << v.kind << ": " << v.detail << "\n";
  return out.str();
}

}  // namespace historycheck

#include "feed_history.h"

#include "lifecycle_checks.h"

#include <algorithm>
#include <climits>
#include <unordered_map>

namespace historycheck {

using eventstore::RecordedEvent;

namespace {

std::string entry_text(const FeedSeen& e) {
  return "position " + std::to_string(e.position) + ": " +
         (e.stream == FeedSeen::kForeign ? std::string("a stream not of the run")
                                         : "stream " + std::to_string(e.stream)) +
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
    r.add(kind, prefix +
                    (first == last ? "position " + std::to_string(first)
                                   : "positions " + std::to_string(first) + ".." + std::to_string(last)) +
                    suffix);
  }
}

// Counts `page` in the figures; false, with a violation, when its range is malformed.
bool take_page(const FeedPageSeen& page, const std::string& who, FeedFigures& f, Report& r) {
  ++f.pages;
  if (page.head_before >= 0) f.max_lag = std::max(f.max_lag, page.head_before - page.after);
  if (page.last_position < page.after || page.after < 0) {
    r.add("feed_page_malformed", who + ": a page after position " + std::to_string(page.after) + " ended at position " +
                                     std::to_string(page.last_position));
    return false;
  }
  return true;
}

void check_caught_up(const FeedReaderLog& reader, const std::string& who, std::int64_t head, Report& r) {
  if (!reader.reached_head || reader.final_position < head)
    r.add("feed_catch_up", who + " stopped at position " + std::to_string(reader.final_position) +
                               ", below the final head " + std::to_string(head) +
                               (reader.last_error.empty() ? "" : " (last error: " + reader.last_error + ")"));
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
  // Events below a stream's first version were hidden by a lifecycle change since: their entries
  // may stay, or (hidden_may_be_missing) be left out from then on, or never have been published.
  const std::vector<StreamBounds> bounds = stream_bounds(plan, attempts, stored);
  auto hidden = [&](std::size_t s, std::int64_t version) {
    return s < bounds.size() && !bounds[s].read_failed && version < bounds[s].first;
  };
  auto hidden_entry = [&](const FeedSeen* e) {
    return feed.hidden_may_be_missing && e && e->stream >= 0 && hidden(static_cast<std::size_t>(e->stream), e->version);
  };
  std::vector<bool> subscriber_covered;
  std::string subscriber_who;

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
    return (reader.subscriber   ? "subscriber "
            : reader.final_read ? "final reader "
            : reader.filtered   ? "filtered reader "
                                : "reader ") +
           std::to_string(reader.reader);
  };
  for (const FeedReaderLog& reader : feed.readers) {
    if (reader.filtered) continue;  // checked against the others' entries below
    const std::string who = name_of(reader);
    std::vector<bool> covered(static_cast<std::size_t>(top) + 1, false);
    f.restarts += reader.restarts;
    f.read_errors += reader.errors;
    for (const FeedPageSeen& page : reader.pages) {
      if (!take_page(page, who, f, r)) continue;
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
    check_caught_up(reader, who, head, r);
    if (reader.subscriber) {  // checked once every reader's entries are known, below
      subscriber_covered = covered;
      subscriber_who =
          who + " (restarted " + std::to_string(reader.restarts) + " times from its checkpoint) never read ";
    }

    // The subscriber's checkpoints only move forward, and only to positions it saved.
    std::int64_t stored_max = 0;
    std::int64_t saved_max = 0;
    for (const CheckpointSeen& c : reader.checkpoints) {
      if (c.kind == CheckpointSeen::Kind::kSaved && c.failed) {
        saved_max = std::max(saved_max, c.requested);
      } else if (c.kind == CheckpointSeen::Kind::kSaved) {
        ++f.checkpoint_saves;
        if (c.answered < c.requested)
          r.add("checkpoint_backwards", who + ": a save of position " + std::to_string(c.requested) + " was answered " +
                                            std::to_string(c.answered));
        else if (c.answered < stored_max)
          r.add("checkpoint_backwards", who + ": a save of position " + std::to_string(c.requested) + " was answered " +
                                            std::to_string(c.answered) + " after " + std::to_string(stored_max) +
                                            " had been stored");
        saved_max = std::max(saved_max, c.requested);
        stored_max = std::max(stored_max, c.answered);
      } else {
        const std::int64_t loaded = c.none ? 0 : c.answered;
        if (loaded < stored_max)
          r.add("checkpoint_backwards", who + ": a load answered " +
                                            (c.none ? std::string("no checkpoint") : std::to_string(loaded)) +
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
  for (const Attempt& a : attempts)      // a system event passes any filter (FeedFilter::matches)
    for (std::size_t i = 0; i < a.ids.size(); ++i)
      noted[a.ids[i]] = is_lifecycle(a.kind) || std::string(event_type_of(i)) == kNotedType;
  auto matches = [&](const FeedSeen& e) {
    auto it = noted.find(e.event_id);
    return it != noted.end() && it->second;
  };
  for (const FeedReaderLog& reader : feed.readers) {
    if (!reader.filtered) continue;
    const std::string who = name_of(reader);
    f.read_errors += reader.errors;
    for (const FeedPageSeen& page : reader.pages) {
      if (!take_page(page, who, f, r)) continue;
      std::size_t next = 0;
      for (std::int64_t p = page.after + 1; p <= page.last_position && p <= top; ++p) {
        const FeedSeen* expected = slots[static_cast<std::size_t>(p)].entry;
        const FeedSeen* got =
            next < page.entries.size() && page.entries[next].position == p ? &page.entries[next] : nullptr;
        if (got) ++next;
        if (got) ++f.observations;
        if (got && !expected && matches(*got) && hidden_entry(got)) {
          ++f.hidden_left_out;  // the others read after it was left out
        } else if (got && (!expected || !same_entry(*got, *expected) || !matches(*got)))
          r.add("filter_wrong",
                who + " read " + entry_text(*got) +
                    (expected ? (same_entry(*got, *expected) ? " (its type is filtered out)"
                                                             : "; the feed holds " + entry_text(*expected))
                              : "; no other reader saw an entry there"));
        else if (!got && expected && matches(*expected) && hidden_entry(expected)) ++f.hidden_left_out;
        else if (!got && expected && matches(*expected))
          r.add("filter_missed", who + ": a page covering " + std::to_string(page.after + 1) + ".." +
                                     std::to_string(page.last_position) + " skipped " + entry_text(*expected));
      }
      if (next != page.entries.size())
        r.add("feed_page_malformed", who + ": a page covering " + std::to_string(page.after + 1) + ".." +
                                         std::to_string(page.last_position) +
                                         " held entries out of order or outside it");
    }
    check_caught_up(reader, who, head, r);
  }

  // --- dense and immutable (feed_hole below, once the hidden events are known) -----------------
  for (std::int64_t p = 1; p <= top; ++p) {
    const Slot& s = slots[static_cast<std::size_t>(p)];
    if (!s.entry) {
      continue;
    }
    if (s.first_passed_empty_ns != kNever && hidden_entry(s.entry)) {
      ++f.hidden_left_out;  // left out once hidden (or read in the same instant)
    } else if (s.first_passed_empty_ns != kNever) {
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
      r.add("feed_duplicate_mismatch",
            entry_text(*e) + " repeats the version of " + entry_text(*same_version->second) + " with another event id");
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
      if (it == first_of.end() && feed.hidden_may_be_missing && hidden(ack->stream, version)) {
        ++f.hidden_unpublished;
      } else if (it == first_of.end()) {
        r.add("feed_lost_ack", attempt_text(*ack) + ": event " + ack->ids[i].to_string() + " acknowledged at version " +
                                   std::to_string(version) + " is not in the feed (head " + std::to_string(head) + ")");
      } else if (it->second->stream < 0 || static_cast<std::size_t>(it->second->stream) != ack->stream ||
                 it->second->version != version) {
        r.add("feed_misplaced", attempt_text(*ack) + ": event " + ack->ids[i].to_string() +
                                    " acknowledged at version " + std::to_string(version) + " is in the feed as " +
                                    entry_text(*it->second));
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
      if (it->second->stream < 0 || static_cast<std::size_t>(it->second->stream) != s ||
          it->second->version != e.version) {
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
    if (f_it != fate.end() && f_it->second != Fate::kRejected && e->stream >= 0 &&
        hidden(static_cast<std::size_t>(e->stream), e->version)) {
      ++f.hidden_in_feed;
      continue;
    }
    if (f_it == fate.end()) r.add("feed_invented", entry_text(*e) + " belongs to no append of the run");
    else if (f_it->second == Fate::kRejected) r.add("feed_rejected", entry_text(*e) + " belongs to a rejected append");
    else
      r.add("feed_not_stored", entry_text(*e) + " is not held by the final read (" +
                                   (f_it->second == Fate::kUnknown ? "an unknown outcome" : "an acknowledged append") +
                                   ")");
  }

  // Holes: positions no reader ever saw an entry at. Where hidden entries may be left out, as many
  // holes as there are hidden events never seen in the feed are theirs.
  std::uint64_t holes = 0;
  for (std::int64_t p = 1; p <= std::min(head, top); ++p) holes += slots[static_cast<std::size_t>(p)].entry ? 0 : 1;
  std::uint64_t unseen_hidden = 0;
  if (feed.hidden_may_be_missing)
    for (const auto& [op, list] : by_op) {
      const Attempt* ack = nullptr;
      for (const Attempt* a : list)
        if (a->outcome == Outcome::kOk && !ack) ack = a;
      const Attempt& first = *list.front();
      for (std::size_t i = 0; i < first.ids.size(); ++i) {
        if (first_of.count(first.ids[i]) || stored_at.count(first.ids[i])) continue;
        const bool maybe_hidden = ack ? hidden(ack->stream, ack->first_version + static_cast<std::int64_t>(i))
                                      : fate[first.ids[i]] == Fate::kUnknown;
        unseen_hidden += maybe_hidden ? 1 : 0;
      }
    }
  const bool holes_excused = feed.hidden_may_be_missing && holes <= unseen_hidden;
  if (holes_excused) {
    f.hidden_left_out += holes;
  } else {
    add_ranges(
        r, "feed_hole", 1, std::min(head, top),
        [&](std::int64_t p) { return slots[static_cast<std::size_t>(p)].entry == nullptr; }, "",
        " (of 1.." + std::to_string(head) + ") never held an entry" +
            (feed.hidden_may_be_missing ? " (" + std::to_string(holes) + " holes, " + std::to_string(unseen_hidden) +
                                              " hidden events never seen)"
                                        : ""));
  }
  if (!subscriber_covered.empty())
    add_ranges(
        r, "subscriber_hole", 1, std::min(head, top),
        [&](std::int64_t p) {
          const FeedSeen* e = slots[static_cast<std::size_t>(p)].entry;
          return !subscriber_covered[static_cast<std::size_t>(p)] && !hidden_entry(e) && !(holes_excused && !e);
        },
        subscriber_who, "");
  r.feed = f;
}

}  // namespace historycheck

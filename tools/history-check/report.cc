#include "report.h"

#include <sstream>

namespace historycheck {

namespace {

constexpr std::size_t kDetailsPerKind = 20;

}  // namespace

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
    {"resolved_wrong",
     "an unknown outcome resolved as not applied (a retry got a conflict), yet its events are stored"},
    {"partial_append", "some but not all events of an append are stored, or not contiguously"},
    {"conflict_inconsistent", "a conflict reported the expected version as the current one"},
    {"stale_read", "a read started after an acknowledgement did not see it"},
    {"final_read_failed", "the final read of a stream failed"},
    {"truncated_visible",
     "a read returned a version below the before of a lifecycle change acknowledged before it started"},
    {"over_truncated",
     "a read skipped versions that no lifecycle change invoked by then could hide (an event at or above a "
     "truncate's before removed)"},
    {"write_after_hard_delete", "a write was acknowledged, or an event is stored, above a hard delete's version"},
    {"deleted_not_refused",
     "an attempt started after a hard delete was acknowledged ended other than stream_deleted (ok, conflict, "
     "invalid)"},
    {"stream_deleted_wrong",
     "stream_deleted answered before any hard delete applied, with another version, or to a retry of the hard "
     "delete itself"},
    {"lifecycle_event_wrong",
     "a lifecycle change's stored event has the wrong type or before, or a truncate was acknowledged below its "
     "before"},
    {"feed_lost_ack", "an acknowledged event is not in the feed"},
    {"feed_missing", "a stored event (an unknown outcome that was applied) is not in the feed"},
    {"feed_misplaced", "a feed entry names another stream or version than the event's"},
    {"feed_rejected", "an event of a rejected append is in the feed"},
    {"feed_not_stored", "an event the final read does not hold (an unknown outcome not applied) is in the feed"},
    {"feed_invented", "a feed entry holds an event id no append of the run sent"},
    {"feed_foreign", "a feed entry of the run's context names a stream the run never wrote"},
    {"feed_hole", "a position between 1 and the head has no entry (or a page passed it without one)"},
    {"feed_late_entry", "an entry appeared at a position a reader had already passed without one"},
    {"feed_disagreement",
     "two reads of one position returned different entries (readers disagree, or an entry changed or vanished)"},
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
    {"checkpoint_backwards",
     "a checkpoint save or load answered a position below one stored before (or below the save's request)"},
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
  const LifecycleFigures& l = r.lifecycle;
  j["lifecycle"] = {{"attempts", l.attempts},
                    {"truncates", l.truncates},
                    {"soft_deletes", l.soft_deletes},
                    {"hard_deletes", l.hard_deletes},
                    {"acknowledged", l.truncates + l.soft_deletes + l.hard_deletes},
                    {"stream_deleted", l.stream_deleted},
                    {"refused_after_hard_delete", l.refused_after_hard_delete},
                    {"streams_truncated", l.streams_truncated},
                    {"streams_hard_deleted", l.streams_hard_deleted},
                    {"events_hidden", l.events_hidden},
                    {"read_checks_hidden", l.read_checks_hidden}};
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
                 {"unknown_applied_in_feed", f.unknown_applied_in_feed},
                 {"hidden_in_feed", f.hidden_in_feed},
                 {"hidden_unpublished", f.hidden_unpublished},
                 {"hidden_left_out", f.hidden_left_out}};
  }
  return j;
}

std::string summary_text(const Report& r) {
  std::ostringstream out;
  out << "operations " << r.operations << " (logical appends " << r.logical_appends << "): acknowledged "
      << r.acknowledged << ", conflicts " << r.conflicts << ", unavailable " << r.unavailable << ", unknown "
      << r.unknown << ", invalid " << r.invalid << ", other errors " << r.other_errors << "\n";
  out << "unknown outcomes: " << r.unknown_appends
      << " appends; resolved by retry: " << r.unknown_resolved_by_retry_applied << " applied, "
      << r.unknown_resolved_by_retry_not_applied << " not applied; by the final read: " << r.unknown_found_applied
      << " applied, " << r.unknown_found_not_applied << " not applied\n";
  out << "read-after-ack checks " << r.read_checks << " (" << r.read_check_failures << " reads failed)\n";
  out << "final read: " << r.streams << " streams, " << r.events_stored << " events stored, " << r.events_acknowledged
      << " acknowledged\n";
  if (r.lifecycle.attempts > 0 || r.lifecycle.stream_deleted > 0) {
    const LifecycleFigures& l = r.lifecycle;
    out << "lifecycle: " << l.attempts << " attempts; acknowledged " << l.truncates << " truncates, " << l.soft_deletes
        << " soft deletes, " << l.hard_deletes << " hard deletes; " << l.stream_deleted << " refused as deleted ("
        << l.refused_after_hard_delete << " started after the hard delete's ack); " << l.streams_truncated
        << " streams read from above version 1, " << l.streams_hard_deleted << " hard-deleted; " << l.events_hidden
        << " acknowledged events hidden; " << l.read_checks_hidden << " read checks saw part of their append hidden\n";
  }
  if (r.feed) {
    const FeedFigures& f = *r.feed;
    out << "feed: head " << f.head << ", " << f.entries << " entries (" << f.events << " events, " << f.duplicates
        << " duplicates), " << f.acknowledged_in_feed << " acknowledged events and " << f.unknown_applied_in_feed
        << " applied unknown-outcome events found; " << f.readers << " readers (" << f.filtered_readers
        << " filtered), " << f.pages << " pages, " << f.observations << " entries read, " << f.restarts
        << " subscriber restarts, " << f.checkpoint_saves << " checkpoint saves (last " << f.final_checkpoint
        << "), max lag " << f.max_lag << " positions, " << f.read_errors << " read errors; " << f.hidden_in_feed
        << " entries of hidden events, " << f.hidden_unpublished << " hidden events never published, "
        << f.hidden_left_out << " hidden entries found left out\n";
  }
  out << "violations: " << r.violation_total();
  for (const auto& [kind, n] : r.violation_counts) out << " " << kind << "=" << n;
  out << "\n";
  for (const Violation& v : r.violations) out << "  " << v.kind << ": " << v.detail << "\n";
  return out.str();
}

}  // namespace historycheck

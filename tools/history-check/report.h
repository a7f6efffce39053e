// What a history check found: the run's figures, the violations by kind with the first few
// details of each, and their JSON and text forms.
//
// Invariants: violation_counts counts every violation added; `violations` keeps at most the first
// 20 of each kind (a broken store would otherwise print millions of lines).
// Errors: none (plain values).
// Thread safety: plain values; a Report is filled by one thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace historycheck {

struct Violation {
  std::string kind;    // see kViolationKinds
  std::string detail;  // one line naming the stream, versions and ids
};

// Every kind of violation the checker reports, with what it means.
extern const std::vector<std::pair<std::string, std::string>> kViolationKinds;

// What the feed readers saw, in figures (check_feed).
struct FeedFigures {
  std::int64_t head = 0;
  std::uint64_t entries = 0;     // distinct positions observed
  std::uint64_t events = 0;      // distinct event ids in the feed
  std::uint64_t duplicates = 0;  // entries repeating an event seen at a lower position
  std::uint64_t readers = 0;
  std::uint64_t filtered_readers = 0;  // of `readers`
  std::uint64_t pages = 0;
  std::uint64_t observations = 0;  // entries read, all readers, repeats included
  std::uint64_t restarts = 0;      // subscriber restarts from its checkpoint
  std::uint64_t checkpoint_saves = 0;
  std::int64_t final_checkpoint = 0;
  std::int64_t max_lag = 0;  // positions between a reader and the head when it read
  std::uint64_t read_errors = 0;
  std::uint64_t acknowledged_in_feed = 0;
  std::uint64_t unknown_applied_in_feed = 0;
  std::uint64_t hidden_in_feed = 0;      // entries of events a lifecycle change hid since
  std::uint64_t hidden_unpublished = 0;  // acknowledged, hidden, never published (a cluster)
  std::uint64_t hidden_left_out = 0;     // reads that found a hidden event's entry left out
};

// The lifecycle changes of the run (check_lifecycle).
struct LifecycleFigures {
  std::uint64_t attempts = 0;   // lifecycle attempts (also counted in Report::operations)
  std::uint64_t truncates = 0;  // acknowledged, each kind
  std::uint64_t soft_deletes = 0;
  std::uint64_t hard_deletes = 0;
  std::uint64_t stream_deleted = 0;             // attempts refused with stream_deleted
  std::uint64_t refused_after_hard_delete = 0;  // of those, started after the hard delete's ack
  std::uint64_t streams_truncated = 0;          // streams whose final read starts above version 1
  std::uint64_t streams_hard_deleted = 0;
  std::uint64_t events_hidden = 0;       // acknowledged events below their stream's first version
  std::uint64_t read_checks_hidden = 0;  // read checks whose appended range was partly hidden
};

struct Report {
  std::uint64_t operations = 0;  // append attempts
  std::uint64_t logical_appends = 0;
  std::uint64_t acknowledged = 0;
  std::uint64_t conflicts = 0;
  std::uint64_t unavailable = 0;
  std::uint64_t unknown = 0;  // attempts with an unknown outcome
  std::uint64_t invalid = 0;
  std::uint64_t other_errors = 0;
  // Logical appends that saw an unknown outcome, and how each was resolved.
  std::uint64_t unknown_appends = 0;
  std::uint64_t unknown_resolved_by_retry_applied = 0;
  std::uint64_t unknown_resolved_by_retry_not_applied = 0;
  std::uint64_t unknown_found_applied = 0;      // by the final read
  std::uint64_t unknown_found_not_applied = 0;  // by the final read
  std::uint64_t read_checks = 0;
  std::uint64_t read_check_failures = 0;  // the read itself failed (not a violation)
  std::uint64_t events_acknowledged = 0;
  std::uint64_t events_stored = 0;
  std::uint64_t streams = 0;
  std::map<std::string, std::uint64_t> violation_counts;
  std::vector<Violation> violations;  // the first few of each kind
  std::optional<FeedFigures> feed;    // set by check_feed
  LifecycleFigures lifecycle;         // set by check_history

  std::uint64_t violation_total() const;
  void add(const std::string& kind, const std::string& detail);
};

nlohmann::json to_json(const Report& report);
std::string summary_text(const Report& report);

}  // namespace historycheck

// The history checker's model: what writers did (one Attempt per append call, with its outcome)
// and the checks a final read of the store must pass against it.
//
// A logical append is identified by `op`; its event ids are fixed when it is first tried, and a
// retry after an unknown outcome reuses them (attempt 2, 3, ...). Event ids are therefore the
// link between what was sent and what is stored: the checker matches stored events to appends
// by event id only.
//
// Thread safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eventstore/eventstore.h"

namespace historycheck {

using eventstore::Uuid;

// The streams of one run: a bounded context unique to the run, so that runs sharing a store
// never see each other's events.
struct Plan {
  std::string context;
  std::string aggregate_type = "HistoryCheck";
  std::vector<Uuid> streams;

  eventstore::StreamId stream(std::size_t index) const {
    return eventstore::StreamId{context, aggregate_type, streams.at(index)};
  }
  // A plan with `count` random streams and a random context "hc-<12 hex digits>".
  static Plan random(std::size_t count);
};

enum class Outcome { kOk, kConflict, kUnavailable, kUnknown, kInvalid, kOtherError };
const char* to_string(Outcome outcome);
std::optional<Outcome> outcome_from_string(const std::string& text);
// Where an eventstore::ErrorCode falls.
Outcome outcome_of(eventstore::ErrorCode code);

// What a read made right after an acknowledgement saw.
enum class ReadCheck { kNone, kSeen, kNotSeen, kFailed };

struct Attempt {
  std::uint64_t op = 0;   // the logical append
  int attempt = 1;        // 1, or 2, 3, ... for retries with the same ids after an unknown outcome
  int process = 0;
  int thread = 0;
  std::size_t stream = 0;        // index into Plan::streams
  std::int64_t expected = 0;     // -1 = ExpectedVersion::any()
  std::vector<Uuid> ids;         // the event ids sent, in order
  std::int64_t invoke_ns = 0;    // steady clock (CLOCK_MONOTONIC: comparable across processes)
  std::int64_t complete_ns = 0;
  Outcome outcome = Outcome::kOtherError;
  // kOk: the result.
  std::int64_t first_version = 0;
  std::int64_t next_version = 0;
  std::vector<Uuid> result_ids;
  // kConflict: the version the store reported.
  std::optional<std::int64_t> current_version;
  std::string error;  // the error code name and message, for errors
  ReadCheck read_check = ReadCheck::kNone;
  std::string read_detail;
};

nlohmann::json to_json(const Attempt& attempt);
// Throws std::runtime_error for a malformed record.
Attempt attempt_from_json(const nlohmann::json& json);

// The final state of one stream.
struct StoredStream {
  std::vector<eventstore::RecordedEvent> events;  // a full forward read
  std::int64_t head = 0;
  std::optional<std::string> read_error;  // set when the final read failed (after retries)
};

// Reads every stream of the plan (forward, page by page) and its head. A failing read is
// retried for up to `retry_seconds` (a cluster recovering from faults) before it is recorded
// as failed.
std::vector<StoredStream> read_final(eventstore::Store& store, const Plan& plan, double retry_seconds);

struct Violation {
  std::string kind;    // see kViolationKinds
  std::string detail;  // one line naming the stream, versions and ids
};

// Every kind of violation the checker reports, with what it means.
extern const std::vector<std::pair<std::string, std::string>> kViolationKinds;

// What the feed readers saw, in figures (check_feed).
struct FeedFigures {
  std::int64_t head = 0;
  std::uint64_t entries = 0;          // distinct positions observed
  std::uint64_t events = 0;           // distinct event ids in the feed
  std::uint64_t duplicates = 0;       // entries repeating an event seen at a lower position
  std::uint64_t readers = 0;
  std::uint64_t filtered_readers = 0;  // of `readers`
  std::uint64_t pages = 0;
  std::uint64_t observations = 0;     // entries read, all readers, repeats included
  std::uint64_t restarts = 0;         // subscriber restarts from its checkpoint
  std::uint64_t checkpoint_saves = 0;
  std::int64_t final_checkpoint = 0;
  std::int64_t max_lag = 0;           // positions between a reader and the head when it read
  std::uint64_t read_errors = 0;
  std::uint64_t acknowledged_in_feed = 0;
  std::uint64_t unknown_applied_in_feed = 0;
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
  std::optional<FeedFigures> feed;  // set by check_feed

  std::uint64_t violation_total() const;
  void add(const std::string& kind, const std::string& detail);
};

// Checks a history against the final state of the store (see docs/RELIABILITY.md):
//  1. every acknowledged append is stored with its event ids at the acknowledged versions;
//  2. every stream holds exactly the versions 1..head, in order, and head() agrees;
//  3. every stored event belongs to exactly one append that was acknowledged or whose outcome
//     was unknown (nothing invented, nothing doubled), and an unknown append is all or nothing;
//  4. nothing of a rejected append (conflict, unavailable, invalid) is stored;
//  5. reads made right after an acknowledgement saw it (recorded in the attempts).
Report check_history(const Plan& plan, const std::vector<Attempt>& attempts,
                     const std::vector<StoredStream>& stored);

// --- the feed (include/eventstore/feed.h) -------------------------------------------------
// Feed readers follow the run's context page by page while the writers append, and record what
// each page held; one of them (the subscriber) is killed now and then and restarts from its
// saved checkpoint. check_feed compares those observations with each other, with the history
// and with the final read.

// The event types the writers use: the k-th event of an append is "HistoryCheckAppended" for
// even k, "HistoryCheckNoted" for odd k, so a filtered feed reader (event type Noted) skips some.
inline constexpr const char* kAppendedType = "HistoryCheckAppended";
inline constexpr const char* kNotedType = "HistoryCheckNoted";
inline const char* event_type_of(std::size_t index_in_append) { return index_in_append % 2 ? kNotedType : kAppendedType; }

// One entry as a reader saw it (40 bytes: a long run reads millions).
struct FeedSeen {
  static constexpr std::int32_t kForeign = -1;
  std::int64_t position = 0;
  std::int32_t stream = kForeign;  // index into Plan::streams; kForeign: not a stream of the run
  std::int64_t version = 0;
  Uuid event_id;
};

// The plan's index of a stream read from the feed, or FeedSeen::kForeign.
class StreamIndex {
 public:
  explicit StreamIndex(const Plan& plan);
  std::int32_t of(const eventstore::StreamId& stream) const;

 private:
  const Plan& plan_;
  std::map<Uuid, std::int32_t> index_;
};

// One page: the reader asked for positions after `after` and was told the page covered up to
// `last_position` (every position in (after, last_position] has an entry: the reader reads
// without a filter).
struct FeedPageSeen {
  std::int64_t after = 0;
  std::int64_t last_position = 0;
  std::int64_t head_before = -1;  // feed_head() read just before the page (-1: not read)
  std::int64_t at_ns = 0;         // steady clock, when the page arrived
  int incarnation = 0;            // the subscriber's restarts before this page
  std::vector<FeedSeen> entries;
};

// A checkpoint operation of the subscriber, in the order it made them.
struct CheckpointSeen {
  enum class Kind { kSaved, kLoaded };
  Kind kind = Kind::kSaved;
  std::int64_t requested = 0;  // kSaved: the position asked for
  std::int64_t answered = 0;   // the position the store answered as stored (kLoaded: 0 when none)
  bool none = false;           // kLoaded: no checkpoint was stored
  bool failed = false;         // kSaved: the save failed (it may have been stored): no answer
};

struct FeedReaderLog {
  int reader = 0;
  bool subscriber = false;
  std::vector<FeedPageSeen> pages;
  std::vector<CheckpointSeen> checkpoints;
  std::uint64_t restarts = 0;
  std::uint64_t errors = 0;  // failed reads (retried; not violations)
  std::string last_error;
  std::int64_t final_position = 0;
  bool reached_head = false;  // caught up with the final head before the deadline
  bool final_read = false;    // the read of the whole feed made once the readers stopped
  bool filtered = false;      // read with a filter on event type kNotedType: pages skip the others
};

struct FeedHistory {
  std::vector<FeedReaderLog> readers;
  std::int64_t final_head = 0;       // feed_head() once the head stopped moving
  bool duplicates_allowed = false;   // a cluster may repeat an event (feed.h); memory:/sqlite: never
  std::optional<std::string> error;  // the final head could not be read
};


// Checks the feed observations (see docs/RELIABILITY.md, "The feed"):
//  1. every acknowledged event and every stored event of the run is in the feed, at its stream
//     and version; nothing of a rejected append, nothing not stored, nothing of another stream;
//  2. dense and immutable: all readers agree position by position, positions 1..head have no
//     hole, no entry appears at a position a reader had passed, every reader reached the head;
//  3. per stream, first occurrences are in version order; a repeat has the same stream, version
//     and event id (and is a violation where duplicates are not allowed);
//  4. the subscriber covered 1..head across its restarts; its checkpoints only moved forward;
//  5. a filtered reader's pages hold exactly the matching entries of the positions they covered,
//     and it reached the head (its position advances over what the filter skips).
// Adds the violations and `report.feed` to `report`.
void check_feed(const Plan& plan, const std::vector<Attempt>& attempts, const std::vector<StoredStream>& stored,
                const FeedHistory& feed, Report& report);

nlohmann::json to_json(const Report& report);
std::string summary_text(const Report& report);

}  // namespace historycheck

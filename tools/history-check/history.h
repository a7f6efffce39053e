// The history checker's model of what writers did: one Attempt per append call (or lifecycle
// change: a truncate or a delete, the append of one system event), with its outcome, and the
// final read of the streams they wrote.
//
// A logical append is identified by `op`; its event ids are fixed when it is first tried, and a
// retry after an unknown outcome reuses them (attempt 2, 3, ...). Event ids are therefore the
// link between what was sent and what is stored: the checker matches stored events to appends
// by event id only. The checks are in stream_checks.h and feed_history.h, the report in report.h.
//
// Errors: attempt_from_json throws std::runtime_error for a malformed record; read_final records
// a read that kept failing in StoredStream::read_error instead of throwing.
// Thread safety: plain values and pure functions (read_final uses the store as its callers may).
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

// The event types the writers use: the k-th event of an append is "HistoryCheckAppended" for
// even k, "HistoryCheckNoted" for odd k, so a filtered feed reader (event type Noted) skips some.
inline constexpr const char* kAppendedType = "HistoryCheckAppended";
inline constexpr const char* kNotedType = "HistoryCheckNoted";
inline const char* event_type_of(std::size_t index_in_append) {
  return index_in_append % 2 ? kNotedType : kAppendedType;
}

// kStreamDeleted: refused because the stream was hard-deleted (ErrorCode::kStreamDeleted).
enum class Outcome { kOk, kConflict, kUnavailable, kUnknown, kInvalid, kStreamDeleted, kOtherError };
const char* to_string(Outcome outcome);
std::optional<Outcome> outcome_from_string(const std::string& text);
// Where an eventstore::ErrorCode falls.
Outcome outcome_of(eventstore::ErrorCode code);

// What a read made right after an acknowledgement saw. kHidden: the appended range's lower part
// was not returned (a lifecycle change may have hidden it: the checker decides, read_lowest).
enum class ReadCheck { kNone, kSeen, kNotSeen, kFailed, kHidden };

// What an attempt does: an append of its events, or a lifecycle change (docs/lifecycle.md) whose
// one system event has the attempt's only id.
enum class OpKind { kAppend, kTruncate, kSoftDelete, kHardDelete };
const char* to_string(OpKind kind);
inline bool is_lifecycle(OpKind kind) { return kind != OpKind::kAppend; }

struct Attempt {
  std::uint64_t op = 0;  // the logical append (or lifecycle change)
  OpKind kind = OpKind::kAppend;
  std::int64_t before = 0;  // kTruncate: the "before" asked for
  int attempt = 1;          // 1, or 2, 3, ... for retries with the same ids after an unknown outcome
  int process = 0;
  int thread = 0;
  std::size_t stream = 0;      // index into Plan::streams
  std::int64_t expected = 0;   // -1 = ExpectedVersion::any()
  std::vector<Uuid> ids;       // the event ids sent, in order
  std::int64_t invoke_ns = 0;  // steady clock (CLOCK_MONOTONIC: comparable across processes)
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
  // The read of the check (read_check kSeen, kHidden, kNotSeen after a read): asked from version
  // read_from, returned read_lowest as its lowest version (0: nothing), started at read_start_ns
  // (after the head was read) and ended at read_end_ns (steady clock).
  std::int64_t read_from = 0;
  std::int64_t read_lowest = 0;
  std::int64_t read_start_ns = 0;
  std::int64_t read_end_ns = 0;
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

// One attempt as the checker names it in a violation: "op N (process P thread T, attempt A,
// stream S, expected E, ids [...])".
std::string attempt_text(const Attempt& attempt);
// "[id,id,...]".
std::string ids_text(const std::vector<Uuid>& ids);

}  // namespace historycheck

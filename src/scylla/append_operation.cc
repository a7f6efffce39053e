// One append on the cluster, from validation to its answer (append_operation.h).
#include "scylla/append_operation.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <functional>
#include <limits>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

#include "core/lifecycle.h"
#include "core/max_version.h"
#include "core/validation.h"
#include "eventstore/log.h"
#include "eventstore_scylla_bridge/src/lib.rs.h"
#include "scylla/completions.h"
#include "scylla/rows.h"
#include "scylla/snapshots.h"

namespace eventstore::detail {
namespace {

namespace bridge = ::eventstore::bridge;

// Batches of one "any" append whose head moved under it. Each round of a race has one winner,
// so with W writers racing a given append loses k rounds in a row with probability about
// ((W-1)/W)^k: 16 was lost 12% of the time with 8 writers, 100 about once in 10^6.
constexpr int kMaxAnyAttempts = 100;
constexpr int kMaxUnappliedRetries = 2;  // a timed-out append that proved not applied

// What an append batch requires of the static stream_version column. Normally the expected
// version (null for a new stream). For a stream whose events outrun the column (written by the
// seed's library, which does not know it) the batch "adopts" the stream: it requires the value
// the column holds now, and the versions after the head to be free, and moves the column to the
// new head.
struct StaticCondition {
  bool has_value = false;  // false: IF stream_version = null
  std::int32_t value = 0;
  bool adopting = false;
};

// One of an append's decisions, counted into the store's sink if it has one (docs/observability.md).
void count_decision(const Connection& connection, const StreamId& stream, const Metric& metric,
                    std::string_view label = {}) {
  if (!connection.metrics) return;
  const std::array<std::string_view, 3> labels = {stream.bounded_context, stream.aggregate_type, label};
  connection.metrics->record(metric, std::span(labels).first(metric.label_names.size()), 1);
}

StaticCondition at_version(std::int64_t at) { return {at > 0, static_cast<std::int32_t>(at), false}; }

// The condition for appending at the head `slice` shows.
StaticCondition for_head_of(const bridge::StreamSlice& slice) {
  const std::int64_t head = head_of(slice);
  const bool lagging = head > 0 && (!slice.has_stream_version || slice.stream_version < head);
  if (!lagging) return at_version(head);
  return {slice.has_stream_version, slice.stream_version, true};
}

// One append, from validation to its answer; may take several round trips (see the header).
class AppendOperation : public std::enable_shared_from_this<AppendOperation> {
  friend class BatchDone;

 public:
  AppendOperation(std::shared_ptr<Connection> connection, std::shared_ptr<const FeedSettings> feed,
                  std::shared_ptr<MarkerWriter> markers, StreamId stream, ExpectedVersion expected,
                  std::vector<EventData> events, EventStore::AppendCallback callback,
                  std::optional<LifecycleChange> lifecycle = std::nullopt)
      : connection_(std::move(connection)),
        feed_(std::move(feed)),
        markers_(std::move(markers)),
        stream_(std::move(stream)),
        key_(key_of(stream_)),
        expected_(expected),
        events_(std::move(events)),
        callback_(std::move(callback)),
        lifecycle_(std::move(lifecycle)) {}

  void start() {
    // A lifecycle change needs the stream's before first, whatever its expected version.
    if (expected_.is_any() || lifecycle_) return start_any();
    attempt(expected_.version(), at_version(expected_.version()));
  }

 private:
  std::int64_t count() const { return static_cast<std::int64_t>(events_.size()); }

  // Every answer goes through here. When the last marker of this append could not be written and
  // the append is, or may be, stored, one fresh marker more is written first (mark_again_then_answer).
  void finish(Result<AppendResult> result) {
    if (marker_owed_ && (result.ok() || result.error().code() == ErrorCode::kOutcomeUnknown))
      return mark_again_then_answer(std::move(result));
    answer(std::move(result));
  }

  void answer(Result<AppendResult> result) {
    EventStore::AppendCallback callback = std::move(callback_);
    callback(std::move(result));
  }

  // The static lifecycle columns of a SERIAL view of the stream: the before the next lifecycle
  // batch requires and raises. True (and answered) when the stream is hard-deleted.
  bool note(const bridge::StreamSlice& slice) {
    seen_before_ = slice.has_truncated_before ? std::optional<std::int32_t>(slice.truncated_before) : std::nullopt;
    if (!slice.hard_deleted) return false;
    stream_deleted(head_of(slice));
    return true;
  }

  void stream_deleted(std::int64_t version) { fail(Error::stream_deleted(version, to_string(stream_))); }

  // Every failure goes through here. Once an attempt's outcome was unknown, only a read that shows
  // its versions taken by other events proves it was not applied; until then a request of it may
  // still be on its way, so any later failure that is not such a proof is an unknown outcome too.
  // A hard-deleted stream refuses every attempt, one still on its way included: final too.
  void fail(Error error) {
    if (!maybe_applied_ || error.code() == ErrorCode::kVersionConflict || error.code() == ErrorCode::kStreamDeleted)
      return finish(std::move(error));
    finish(Error(ErrorCode::kOutcomeUnknown, std::string(error.what()) +
                                                 "; an earlier attempt of this append timed "
                                                 "out and may yet apply: retry it with the same event ids"));
  }

  void conflict(std::int64_t current) {
    fail(Error::conflict(current, "version conflict on " + to_string(stream_) + ": expected " + expected_.to_string() +
                                      ", stream is at " + std::to_string(current)));
  }

  // An "any" append that lost kMaxAnyAttempts races in a row: none of its batches applied.
  void too_much_contention() {
    count_decision(*connection_, stream_, metrics::cluster_contention_failures_total);
    fail(Error(ErrorCode::kUnavailable, "append to " + to_string(stream_) + " lost " + std::to_string(kMaxAnyAttempts) +
                                            " races for the head to other writers; nothing was written"));
  }

  OnError fail_with(const std::string& what) {
    auto self = shared_from_this();
    return
        [self, what](const bridge::BridgeError& e) { self->fail(to_error(e, what + " " + to_string(self->stream_))); };
  }

  // "any": one SERIAL read of the head and the ids of the last events: a retry of events already
  // at the tail is recognised, otherwise the batch goes after the head.
  void start_any() {
    auto self = shared_from_this();
    connection_->session->serial_tail(
        key_, static_cast<std::int32_t>(count()),
        done<SliceDone>(
            [self](bridge::StreamSlice tail) {
              const std::int64_t head = head_of(tail);
              if (head >= self->count() && tail.has_max_version && tail.max_version == head &&
                  is_same_append(self->events_, ids_in(tail)))
                return self->finish(make_append_result(head - self->count() + 1, self->events_));
              if (self->note(tail)) return;
              if (!self->expected_.is_any())  // a lifecycle change at an exact version
                return self->attempt(self->expected_.version(), at_version(self->expected_.version()));
              self->attempt(head, for_head_of(tail));
            },
            fail_with("head read of")));
  }

  // One conditional batch appending after version `at`, requiring `condition` of the static
  // stream_version column, with the append's feed marker beside it when it has none yet or its
  // last one is older than FeedSettings::marker_refresh_after (so that the relay, which settles a
  // marker after its settle window, never gives up on an attempt still to come).
  void attempt(std::int64_t at, StaticCondition condition);
  void send_batch(std::int64_t at, StaticCondition condition);
  void mark_then_send(std::int64_t at, StaticCondition condition);
  void mark_beside(std::int64_t at, StaticCondition condition);
  void mark_again_then_answer(Result<AppendResult> result);
  void on_marker(Result<Timestamp> written);

  // The batch's answer reaches the operation here: handled at once, or, when the attempt's marker
  // goes beside it, by whichever of the two completes last (part_done).
  void on_batch_outcome(std::int64_t at, StaticCondition condition, bridge::AppendOutcome outcome) {
    if (!joining_) return on_outcome(at, condition, outcome);
    batch_outcome_.emplace(std::move(outcome));
    part_done(at, condition);
  }
  void on_batch_error(std::int64_t at, StaticCondition condition, const bridge::BridgeError& error) {
    if (!joining_) return on_error(at, error);
    batch_error_.emplace(error);
    part_done(at, condition);
  }
  void part_done(std::int64_t at, StaticCondition condition) {
    if (parts_left_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    joining_ = false;
    if (batch_outcome_) {
      const bridge::AppendOutcome outcome = std::move(*batch_outcome_);
      batch_outcome_.reset();
      return on_outcome(at, condition, outcome);
    }
    const bridge::BridgeError error = std::move(*batch_error_);
    batch_error_.reset();
    on_error(at, error);
  }

  // After a batch at `at` was refused, or timed out: the versions after `at` hold other events,
  // so this attempt can never apply.
  void proven_not_applied() { maybe_applied_ = false; }

  void on_outcome(std::int64_t at, StaticCondition condition, const bridge::AppendOutcome& outcome) {
    if (outcome.applied) return finish(make_append_result(at + 1, events_));
    std::vector<Uuid> existing;
    for (const bridge::ExistingEvent& row : outcome.existing) existing.push_back(uuid_of(row.event_id));
    if (is_same_append(events_, existing)) return finish(make_append_result(at + 1, events_));
    if (outcome.hard_deleted) return stream_deleted(outcome.stream_version);
    // The column is past the version we appended after: a conflict, and it holds the head (it
    // can only lag behind the head, never run ahead of it). An "any" append that lost the race
    // goes again right after it.
    if (outcome.has_stream_version && outcome.stream_version > at && !existing.empty()) {
      proven_not_applied();
      if (!expected_.is_any()) return conflict(outcome.stream_version);
      if (++any_attempts_ >= kMaxAnyAttempts) return too_much_contention();
      count_resent("lost_race");
      return attempt(outcome.stream_version, at_version(outcome.stream_version));
    }
    // Otherwise the answer alone does not tell the head (a stream the seed's library wrote to,
    // an expected version ahead of the head, an "any" append that lost a race, or versions
    // still free after the column moved): one consistent SERIAL read of the head and the
    // versions this batch tried decides.
    auto self = shared_from_this();
    connection_->session->serial_read(key_, static_cast<std::int32_t>(at + 1), static_cast<std::int32_t>(at + count()),
                                      done<SliceDone>(
                                          [self, at, condition](bridge::StreamSlice slice) {
                                            if (is_same_append(self->events_, ids_in(slice)))
                                              return self->finish(make_append_result(at + 1, self->events_));
                                            if (self->note(slice)) return;
                                            const std::int64_t head = head_of(slice);
                                            const StaticCondition now = for_head_of(slice);
                                            if (!slice.events.empty()) self->proven_not_applied();
                                            if (self->expected_.is_any()) {
                                              if (++self->any_attempts_ >= kMaxAnyAttempts)
                                                return self->too_much_contention();
                                              self->count_resent("lost_race");
                                              return self->attempt(head, now);
                                            }
                                            if (head == at && now.adopting && !condition.adopting) {
                                              self->count_resent("adoption");
                                              return self->attempt(at, now);
                                            }
                                            // A lifecycle batch refused only for a before it had
                                            // not read: again, with the before just read.
                                            if (head == at && self->lifecycle_) {
                                              if (++self->any_attempts_ >= kMaxAnyAttempts)
                                                return self->too_much_contention();
                                              self->count_resent("lost_race");
                                              return self->attempt(at, now);
                                            }
                                            self->conflict(head);
                                          },
                                          fail_with("head read of")));
  }

  // A write whose outcome is unknown is resolved by a SERIAL read of the versions it wrote:
  // Paxos completes or supersedes any proposal in flight, so what the read sees is final, except
  // for a request still on its way to the coordinator (a client timeout): that one can only apply
  // while the stream is still at `at`, so a retry with the same event ids settles it, and when
  // every retry times out too the answer stays "unknown", never "nothing was written".
  void on_error(std::int64_t at, const bridge::BridgeError& error) {
    if (error.kind != bridge::ErrorKind::OutcomeUnknown)
      return fail(to_error(error, "append to " + to_string(stream_)));
    maybe_applied_ = true;
    const std::string first_error = to_std(error.message);
    auto self = shared_from_this();
    connection_->session->serial_read(
        key_, static_cast<std::int32_t>(at + 1), static_cast<std::int32_t>(at + count()),
        done<SliceDone>(
            [self, at, first_error](bridge::StreamSlice slice) {
              const std::string what = "append to " + to_string(self->stream_) + " at version " +
                                       std::to_string(at + 1) + " timed out (" + first_error + "); ";
              if (is_same_append(self->events_, ids_in(slice))) {
                self->count_unknown("applied");
                log(LogLevel::kInfo, what + "a serial read found it applied");
                return self->finish(make_append_result(at + 1, self->events_));
              }
              if (self->note(slice)) return;
              const std::int64_t head = head_of(slice);
              if (slice.events.empty() && head == at) {
                self->count_unknown(self->unapplied_retries_ < kMaxUnappliedRetries ? "not_applied" : "still_unknown");
                if (++self->unapplied_retries_ <= kMaxUnappliedRetries) {
                  self->count_resent("unapplied_retry");
                  log(LogLevel::kInfo,
                      what + "a serial read found it was not applied; retrying with the same event ids");
                  return self->attempt(at, for_head_of(slice));
                }
                log(LogLevel::kInfo, what + "it was not applied when read back, but it timed out on every retry");
                return self->finish(Error(ErrorCode::kOutcomeUnknown,
                                          what + "it timed out on " + std::to_string(kMaxUnappliedRetries + 1) +
                                              " attempts; a request still in flight may yet apply it: retry "
                                              "it with the same event ids"));
              }
              log(LogLevel::kInfo,
                  what + "a serial read found it was not applied: the stream is at " + std::to_string(head));
              self->count_unknown("not_applied");
              if (!slice.events.empty()) self->proven_not_applied();
              if (self->expected_.is_any()) {
                if (++self->any_attempts_ >= kMaxAnyAttempts) return self->too_much_contention();
                self->count_resent("lost_race");
                return self->attempt(head, for_head_of(slice));
              }
              self->conflict(head);
            },
            [self, at, first_error](const bridge::BridgeError& e) {
              const std::string what = "append to " + to_string(self->stream_) + " at version " +
                                       std::to_string(at + 1) + " may or may not have been applied (" + first_error +
                                       "), and reading it back failed: " + to_std(e.message);
              log(LogLevel::kInfo, what);
              self->count_unknown("still_unknown");
              self->finish(Error(ErrorCode::kOutcomeUnknown, what + "; retry it with the same event ids"));
            }));
  }

  void count_resent(std::string_view reason) const {
    count_decision(*connection_, stream_, metrics::cluster_resent_batches_total, reason);
  }
  void count_unknown(std::string_view resolution) const {
    count_decision(*connection_, stream_, metrics::cluster_unknown_outcomes_total, resolution);
  }

  std::shared_ptr<Connection> connection_;
  std::shared_ptr<const FeedSettings> feed_;
  std::shared_ptr<MarkerWriter> markers_;  // null with feed=false
  StreamId stream_;
  bridge::StreamKey key_;
  ExpectedVersion expected_;
  std::vector<EventData> events_;
  EventStore::AppendCallback callback_;
  std::optional<LifecycleChange> lifecycle_;  // set for a lifecycle change: its one event is the system event
  std::optional<std::int32_t> seen_before_;   // truncated_before as last read (nullopt: null)
  int any_attempts_ = 0;
  int unapplied_retries_ = 0;
  bool maybe_applied_ = false;            // an attempt's outcome was unknown, and nothing proved it failed
  std::optional<Timestamp> marker_time_;  // of the last feed marker written
  bool marker_owed_ = false;              // the last marker write failed, and no marker was written since
  // While an attempt's marker goes beside its batch: the parts still to complete, and the
  // batch's answer until both have.
  bool joining_ = false;
  std::atomic<int> parts_left_{0};
  std::optional<bridge::AppendOutcome> batch_outcome_;
  std::optional<bridge::BridgeError> batch_error_;
};

// The completion of an append's batch: calls straight back into its operation (no
// std::function per request: this is the hot path).
class BatchDone final : public bridge::AppendCompletion {
 public:
  BatchDone(std::shared_ptr<AppendOperation> operation, std::int64_t at, StaticCondition condition)
      : operation_(std::move(operation)), at_(at), condition_(condition) {}
  void on_ok(bridge::AppendOutcome outcome) noexcept override {
    guarded([&] { operation_->on_batch_outcome(at_, condition_, std::move(outcome)); });
  }
  void on_error(const bridge::BridgeError& error) noexcept override {
    guarded([&] { operation_->on_batch_error(at_, condition_, error); });
  }

 private:
  std::shared_ptr<AppendOperation> operation_;
  std::int64_t at_;
  StaticCondition condition_;
};

void AppendOperation::attempt(std::int64_t at, StaticCondition condition) {
  if (at + count() > connection_->limits.max_version)
    return fail(past_max_version(stream_, connection_->limits.max_version));
  if (lifecycle_)
    if (std::optional<Error> error = lifecycle_before_error(*lifecycle_, at + 1)) return fail(std::move(*error));
  if (!markers_ || (marker_time_ && now_ms() - *marker_time_ <= feed_->marker_refresh_after()))
    return send_batch(at, condition);
  if (!markers_->proven()) return mark_then_send(at, condition);
  mark_beside(at, condition);
}

// The old order, kept until a marker of this store has been stored: a marker that cannot be
// written fails the append before anything of it is written, so that a keyspace without the
// feed's tables refuses appends (kInvalidArgument: run schema apply) instead of taking events
// that no marker announces. A marker whose write timed out may exist; a marker without an append
// is harmless (the relay drops it).
void AppendOperation::mark_then_send(std::int64_t at, StaticCondition condition) {
  auto self = shared_from_this();
  markers_->write(
      stream_, *events_.front().event_id, static_cast<std::int32_t>(count()),
      [self, at, condition](Result<Timestamp> written) {
        if (written) {
          self->marker_time_ = written.value();
          return self->send_batch(at, condition);
        }
        const Error& e = written.error();
        const ErrorCode code = e.code() == ErrorCode::kOutcomeUnknown ? ErrorCode::kUnavailable : e.code();
        self->fail(Error(code, "append to " + to_string(self->stream_) +
                                   ": its feed marker could not be written, so the append was not sent: " + e.what()));
      });
}

// The marker goes out beside the batch, and the batch's answer is handled once both are done:
// the append costs the slower of the two round trips, not their sum (docs/feed.md, "Markers").
// The feed's guarantees hold when the batch lands first, because the relay publishes a stream's
// versions in order from the highest it has published, whatever told it to look:
//  - the relay (another marker of the stream) or a reconciliation pass may publish the events
//    before their marker lands; the marker then finds nothing above the published version and is
//    dropped (its first event id is among those published lately): once, no duplicate. A
//    reconciliation pass that gets there first counts them as repairs;
//  - a marker that cannot be written while the batch applies: one fresh marker more before the
//    answer (finish); if that fails too the append is still acknowledged (its events are stored),
//    logged, and reconciliation publishes the events within its interval;
//  - a marker stored for a batch that is refused: the relay finds nothing of it and settles it;
//  - retries and "any" attempts: an attempt starting more than marker_refresh_after after the
//    last marker writes a fresh one beside it, so a batch still lands within the settle window of
//    a marker whose time precedes it (the marker's time is taken before the batch is sent);
//  - an unknown outcome: the marker was answered before the batch's answer is looked at, so the
//    events, if the batch applies, have a marker (or the fresh one of finish) or are repaired.
void AppendOperation::mark_beside(std::int64_t at, StaticCondition condition) {
  joining_ = true;
  parts_left_.store(2, std::memory_order_relaxed);
  auto self = shared_from_this();
  markers_->write(stream_, *events_.front().event_id, static_cast<std::int32_t>(count()),
                  [self, at, condition](Result<Timestamp> written) {
                    self->on_marker(std::move(written));
                    self->part_done(at, condition);
                  });
  send_batch(at, condition);
}

void AppendOperation::on_marker(Result<Timestamp> written) {
  marker_owed_ = !written.ok();
  if (written) marker_time_ = written.value();
}

// The last marker could not be written and the append is, or may be, stored: one fresh marker
// more before the answer. If it fails too, the answer stands (the events are in the table, or
// may be) and the relay's next reconciliation publishes them, counted as repairs.
void AppendOperation::mark_again_then_answer(Result<AppendResult> result) {
  marker_owed_ = false;
  auto self = shared_from_this();
  auto held = std::make_shared<Result<AppendResult>>(std::move(result));
  markers_->write(stream_, *events_.front().event_id, static_cast<std::int32_t>(count()),
                  [self, held](Result<Timestamp> written) {
                    if (!written)
                      log(LogLevel::kWarning, "append to " + to_string(self->stream_) +
                                                  (held->ok() ? " is stored" : " may be stored") +
                                                  ", but its feed marker could not be written, twice: the relay's "
                                                  "next reconciliation publishes its events: " +
                                                  written.error().what());
                    self->answer(std::move(*held));
                  });
}

void AppendOperation::send_batch(std::int64_t at, StaticCondition condition) {
  rust::Vec<bridge::EventRow> rows;
  rows.reserve(events_.size());
  for (std::size_t i = 0; i < events_.size(); ++i) {
    const EventData& e = events_[i];
    bridge::EventRow row{};
    row.version = static_cast<std::int32_t>(at + 1 + static_cast<std::int64_t>(i));
    std::copy(e.event_id->bytes().begin(), e.event_id->bytes().end(), row.event_id.begin());
    row.event_type = e.event_type;
    row.has_data = e.data.has_value();
    if (e.data) row.data = *e.data;
    row.has_metadata = e.metadata.has_value();
    if (e.metadata) row.metadata = *e.metadata;
    row.timestamp_ms = e.timestamp->time_since_epoch().count();
    rows.push_back(std::move(row));
  }
  auto self = shared_from_this();
  if (lifecycle_) {
    const std::int64_t before = std::max<std::int64_t>(lifecycle_before(*lifecycle_, at + 1), seen_before_.value_or(1));
    return connection_->session->lifecycle_batch(
        key_, condition.has_value, condition.value, static_cast<std::int32_t>(at + 1), seen_before_.has_value(),
        seen_before_.value_or(0), static_cast<std::int32_t>(before), lifecycle_->kind == LifecycleKind::kHardDelete,
        std::move(rows.front()), std::make_unique<BatchDone>(std::move(self), at, condition));
  }
  connection_->session->append_batch(key_, bridge::AppendShape::Store, condition.has_value, condition.value,
                                     static_cast<std::int32_t>(at + count()), std::move(rows),
                                     std::make_unique<BatchDone>(std::move(self), at, condition));
}

}  // namespace

void start_lifecycle(std::shared_ptr<Connection> connection, std::shared_ptr<const FeedSettings> feed,
                     std::shared_ptr<MarkerWriter> markers, StreamId stream, LifecycleChange change, EventData event,
                     EventStore::AppendCallback callback) {
  const ExpectedVersion expected = change.expected;
  std::vector<EventData> events;
  events.push_back(std::move(event));
  std::make_shared<AppendOperation>(std::move(connection), std::move(feed), std::move(markers), std::move(stream),
                                    expected, std::move(events), std::move(callback), change)
      ->start();
}

void start_append(std::shared_ptr<Connection> connection, std::shared_ptr<const FeedSettings> feed,
                  std::shared_ptr<MarkerWriter> markers, StreamId stream, ExpectedVersion expected,
                  std::vector<EventData> events, EventStore::AppendCallback callback) {
  std::make_shared<AppendOperation>(std::move(connection), std::move(feed), std::move(markers), std::move(stream),
                                    expected, std::move(events), std::move(callback))
      ->start();
}

}  // namespace eventstore::detail

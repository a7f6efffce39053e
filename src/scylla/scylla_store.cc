// The scylla:// backend. Appends are one conditional batch on the stream's partition:
//   UPDATE stream_version = N+k IF stream_version = N   (null for N = 0)
//   + INSERT version N+1 .. N+k IF NOT EXISTS
// so the expected-version check, contiguity and atomicity are one Paxos round. Streams written
// by the seed's library have no stream_version (or one that lags behind events the seed's library
// appended later); an append at their head adopts them (see StaticCondition).
#include "scylla/scylla_store.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <deque>
#include <functional>
#include <limits>
#include <string_view>
#include <utility>

#include "core/blocking.h"
#include "core/validation.h"
#include "eventstore/log.h"
#include "scylla/feed_markers.h"
#include "scylla/relay.h"
#include "eventstore_scylla_bridge/src/lib.rs.h"
#include "scylla/connection.h"
#include "scylla/feed_reader.h"

namespace eventstore::detail {
namespace {

namespace bridge = ::eventstore::bridge;

// Batches of one "any" append whose head moved under it. Each round of a race has one winner,
// so with W writers racing a given append loses k rounds in a row with probability about
// ((W-1)/W)^k: 16 was lost 12% of the time with 8 writers, 100 about once in 10^6.
constexpr int kMaxAnyAttempts = 100;
constexpr int kMaxUnappliedRetries = 2;   // a timed-out append that proved not applied

using OnError = std::function<void(const bridge::BridgeError&)>;

// A bridge completion that calls `on_value` with the success values of Base's on_ok, or
// `on_error`; never lets an exception escape into Rust.
template <class Base, class... Values>
class Done final : public Base {
 public:
  using OnValue = std::function<void(Values...)>;
  Done(OnValue on_value, OnError on_error) : on_value_(std::move(on_value)), on_error_(std::move(on_error)) {}
  void on_ok(Values... values) noexcept override { guarded([&] { on_value_(std::move(values)...); }); }
  void on_error(const bridge::BridgeError& error) noexcept override { guarded([&] { on_error_(error); }); }

 private:
  OnValue on_value_;
  OnError on_error_;
};

using ConnectDone = Done<bridge::ConnectCompletion, rust::Box<bridge::Session>>;
using VoidDone = Done<bridge::VoidCompletion>;
using SliceDone = Done<bridge::SliceCompletion, bridge::StreamSlice>;
using PageDone = Done<bridge::PageCompletion, rust::Vec<bridge::EventRow>, bool>;
using SnapshotLoadDone = Done<bridge::SnapshotLoadCompletion, bridge::SnapshotLoad>;
using SnapshotSaveDone = Done<bridge::SnapshotSaveCompletion, bridge::SnapshotSaveOutcome>;

template <class Completion, class OnValue>
std::unique_ptr<Completion> done(OnValue&& on_value, OnError on_error) {
  return std::make_unique<Completion>(std::forward<OnValue>(on_value), std::move(on_error));
}

bridge::StreamKey key_of(const StreamId& stream) {
  bridge::StreamKey key;
  key.bounded_context = stream.bounded_context;
  key.aggregate_type = stream.aggregate_type;
  std::copy(stream.aggregate_id.bytes().begin(), stream.aggregate_id.bytes().end(), key.aggregate_id.begin());
  return key;
}

Uuid uuid_of(const std::array<std::uint8_t, 16>& bytes) { return Uuid(bytes); }

// The stream's version as the cluster sees it: the static column, or for streams written by the
// seed's library (no static column) the highest event version.
std::int64_t head_of(const bridge::StreamSlice& slice) {
  std::int64_t head = 0;
  if (slice.has_stream_version) head = slice.stream_version;
  if (slice.has_max_version) head = std::max<std::int64_t>(head, slice.max_version);
  return head;
}

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

StaticCondition at_version(std::int64_t at) { return {at > 0, static_cast<std::int32_t>(at), false}; }

// The condition for appending at the head `slice` shows.
StaticCondition for_head_of(const bridge::StreamSlice& slice) {
  const std::int64_t head = head_of(slice);
  const bool lagging = head > 0 && (!slice.has_stream_version || slice.stream_version < head);
  if (!lagging) return at_version(head);
  return {slice.has_stream_version, slice.stream_version, true};
}

RecordedEvent decode_row(const StreamId& stream, const bridge::EventRow& row) {
  if (row.event_type.empty())
    throw Error(ErrorCode::kCorruption, "event " + std::to_string(row.version) + " of " + to_string(stream) +
                                            " has no event_type");
  RecordedEvent event;
  event.stream = stream;
  event.version = row.version;
  event.event_id = uuid_of(row.event_id);
  event.event_type = to_std(row.event_type);
  if (row.has_data) event.data = to_std(row.data);
  // The seed's library stores the JSON of an event's absent metadata map: the text null.
  if (row.has_metadata && std::string_view(row.metadata.data(), row.metadata.size()) != "null")
    event.metadata = to_std(row.metadata);
  event.timestamp = Timestamp(std::chrono::milliseconds(row.timestamp_ms));
  return event;
}

std::vector<Uuid> ids_in(const bridge::StreamSlice& slice) {
  std::vector<Uuid> ids;
  for (const bridge::EventRow& row : slice.events) ids.push_back(uuid_of(row.event_id));
  return ids;
}

bridge::SessionConfig config_from(const ClusterUri& uri) {
  bridge::SessionConfig config{};
  for (const std::string& host : uri.hosts) config.hosts.push_back(host);
  config.username = uri.username;
  config.password = uri.password;
  config.keyspace = scylla_keyspace(uri);
  auto as_number = [](const std::string& key, const std::string& value, std::uint32_t max) {
    if (value.empty() || value.size() > 9 || value.find_first_not_of("0123456789") != std::string::npos ||
        std::stoul(value) < 1 || std::stoul(value) > max)
      throw Error::invalid("store URI option " + key + " must be a number from 1 to " + std::to_string(max));
    return static_cast<std::uint32_t>(std::stoul(value));
  };
  auto as_bool = [](const std::string& key, const std::string& value) {
    if (value == "true" || value == "1") return true;
    if (value == "false" || value == "0") return false;
    throw Error::invalid("store URI option " + key + " must be true or false");
  };
  bool tls_refused = false;
  for (const auto& [key, value] : uri.options) {
    if ((key == "ca_file" || key == "cert_file" || key == "key_file") && value.empty())
      throw Error::invalid("store URI option " + key + " needs a path");
    if (key == "dc") {
      config.local_dc = value;
    } else if (key == "consistency") {
      if (value != "quorum" && value != "local_quorum")
        throw Error::invalid("store URI option consistency must be quorum or local_quorum");
      config.local_consistency = value == "local_quorum";
    } else if (key == "timeout_ms") {
      config.request_timeout_ms = as_number(key, value, 600000);
    } else if (key == "resolve_timeout_ms") {
      config.resolve_timeout_ms = as_number(key, value, 600000);
    } else if (key == "connect_timeout_ms") {
      config.connect_timeout_ms = as_number(key, value, 600000);
    } else if (key == "workers") {
      config.worker_threads = as_number(key, value, 64);
    } else if (key == "tls") {
      tls_refused = !as_bool(key, value);
    } else if (key == "ca_file") {
      config.tls_ca_file = value;
    } else if (key == "cert_file") {
      config.tls_cert_file = value;
    } else if (key == "key_file") {
      config.tls_key_file = value;
    } else if (key == "feed" || key == "relay") {
      // The feed's options: feed_settings_from (feed_markers.h).
    } else {
      throw Error::invalid("unknown store URI option '" + key +
                           "' (known: dc, consistency, timeout_ms, resolve_timeout_ms, connect_timeout_ms, workers, tls, "
                           "ca_file, cert_file, key_file, feed, relay)");
    }
  }
  // A TLS file with tls=false would connect in plaintext and send the password in clear.
  std::string tls_files;
  for (const char* key : {"ca_file", "cert_file", "key_file"})
    if (uri.options.contains(key)) tls_files += (tls_files.empty() ? "" : ", ") + std::string(key);
  if (tls_refused && !tls_files.empty())
    throw Error::invalid("store URI options contradict each other: tls=false with " + tls_files +
                         " (remove tls=false to connect with TLS, or the files to connect without)");
  config.tls_enabled = uri.options.contains("tls") ? !tls_refused : !config.tls_ca_file.empty();
  if (config.tls_enabled && config.tls_ca_file.empty())
    throw Error::invalid("store URI option tls needs ca_file=PATH (the CA that signed the servers' certificates)");
  if (config.tls_cert_file.empty() != config.tls_key_file.empty())
    throw Error::invalid("store URI options cert_file and key_file go together");
  if (!config.tls_enabled && !config.tls_cert_file.empty())
    throw Error::invalid("store URI options cert_file and key_file need TLS: give ca_file=PATH too");
  return config;
}

// A read. Pages keep to ReadOptions::page_bytes exactly: rows fetched beyond a page wait in a
// buffer for the next one. The rows fetched per round trip are sized from the largest event
// seen so far in the read (before any, events of kAssumedEventBytes), growing at most
// kFetchGrowth-fold from one fetch to the next, so the server materialises about a page's
// budget per round trip unless the events grow suddenly within a read.
class ScyllaCursor final : public EventCursor {
 public:
  static constexpr std::size_t kAssumedEventBytes = 64 * 1024;
  static constexpr std::uint64_t kFetchGrowth = 8;

  ScyllaCursor(std::shared_ptr<Connection> connection, StreamId stream, const ReadOptions& options)
      : state_(std::make_shared<State>()) {
    state_->connection = std::move(connection);
    state_->stream = std::move(stream);
    state_->remaining = options.limit.value_or(std::numeric_limits<std::uint64_t>::max());
    state_->page_size = options.page_size;
    state_->page_bytes = options.page_bytes;
    try {
      validate_read(state_->stream, options, state_->connection->limits);
      const bool forward = options.direction == Direction::kForward;
      const auto clamp = [](std::int64_t v) {
        return static_cast<std::int32_t>(std::min<std::int64_t>(v, std::numeric_limits<std::int32_t>::max()));
      };
      const std::int32_t from = forward ? clamp(options.from.value_or(1)) : 1;
      const std::int32_t to = forward ? std::numeric_limits<std::int32_t>::max()
                                      : clamp(options.from.value_or(std::numeric_limits<std::int32_t>::max()));
      state_->cursor.emplace(state_->connection->session->open_read(key_of(state_->stream), from, to, !forward,
                                                                    static_cast<std::int32_t>(options.page_size)));
    } catch (const Error& e) {
      state_->error = e;
    }
  }

  void next_page_async(PageCallback callback) override { fetch(state_, std::move(callback)); }

 private:
  struct State {
    std::shared_ptr<Connection> connection;
    StreamId stream;
    std::optional<rust::Box<bridge::ReadCursor>> cursor;
    std::optional<Error> error;
    std::uint64_t remaining = 0;  // events still to fetch (the read's limit)
    bool done = false;            // nothing more to fetch
    std::uint32_t page_size = 0;
    std::size_t page_bytes = 0;
    std::deque<RecordedEvent> fetched;  // fetched, not yet delivered
    std::size_t largest_event_bytes = 0;
    std::uint64_t last_fetch_rows = 0;
  };

  static std::size_t bytes_of(const RecordedEvent& e) { return event_bytes(e.event_type, e.data, e.metadata); }

  static std::uint64_t rows_to_fetch(const State& state) {
    const std::size_t event_bytes = state.largest_event_bytes > 0 ? state.largest_event_bytes : kAssumedEventBytes;
    std::uint64_t rows = std::max<std::uint64_t>(1, state.page_bytes / event_bytes);
    if (state.last_fetch_rows > 0) rows = std::min(rows, state.last_fetch_rows * kFetchGrowth);
    return std::min<std::uint64_t>({rows, state.page_size, state.remaining});
  }

  // A page of the fetched events: at least one, then as many as fit both bounds.
  static std::vector<RecordedEvent> take_page(State& state) {
    std::vector<RecordedEvent> page;
    std::size_t bytes = 0;
    while (!state.fetched.empty() && page.size() < state.page_size) {
      const std::size_t next = bytes_of(state.fetched.front());
      if (!page.empty() && bytes + next > state.page_bytes) break;
      bytes += next;
      page.push_back(std::move(state.fetched.front()));
      state.fetched.pop_front();
    }
    return page;
  }

  static void fetch(std::shared_ptr<State> state, PageCallback callback) {
    if (state->error) {
      Error error = *state->error;
      state->error.reset();
      state->done = true;
      state->fetched.clear();
      return callback(std::move(error));
    }
    if (!state->fetched.empty()) return callback(take_page(*state));
    if (state->done || state->remaining == 0) return callback(std::vector<RecordedEvent>{});
    const std::uint64_t rows = rows_to_fetch(*state);
    state->last_fetch_rows = rows;
    (*state->cursor)->next_page(
        static_cast<std::int32_t>(rows),
        done<PageDone>(
            [state, callback](rust::Vec<bridge::EventRow> page, bool more) mutable {
              try {
                for (const bridge::EventRow& row : page) {
                  if (state->remaining == 0) break;
                  state->fetched.push_back(decode_row(state->stream, row));
                  state->largest_event_bytes = std::max(state->largest_event_bytes, bytes_of(state->fetched.back()));
                  --state->remaining;
                }
              } catch (const Error& e) {
                state->done = true;
                state->fetched.clear();
                return callback(e);
              }
              if (!more) state->done = true;
              fetch(state, std::move(callback));
            },
            [state, callback](const bridge::BridgeError& e) {
              state->done = true;
              callback(to_error(e, "read of " + to_string(state->stream)));
            }));
  }

  std::shared_ptr<State> state_;
};

// One append, from validation to its answer; may take several round trips (see the header).
class AppendOperation : public std::enable_shared_from_this<AppendOperation> {
  friend class BatchDone;
 public:
  AppendOperation(std::shared_ptr<Connection> connection, std::shared_ptr<const FeedSettings> feed,
                  std::shared_ptr<MarkerWriter> markers, StreamId stream, ExpectedVersion expected, std::vector<EventData> events, EventStore::AppendCallback callback)
      : connection_(std::move(connection)),
        feed_(std::move(feed)),
        markers_(std::move(markers)),
        stream_(std::move(stream)),
        key_(key_of(stream_)),
        expected_(expected),
        events_(std::move(events)),
        callback_(std::move(callback)) {}

  void start() {
    if (expected_.is_any()) return start_any();
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

  // Every failure goes through here. Once an attempt's outcome was unknown, only a read that shows
  // its versions taken by other events proves it was not applied; until then a request of it may
  // still be on its way, so any later failure that is not such a proof is an unknown outcome too.
  void fail(Error error) {
    if (!maybe_applied_ || error.code() == ErrorCode::kVersionConflict) return finish(std::move(error));
    finish(Error(ErrorCode::kOutcomeUnknown, std::string(error.what()) + "; an earlier attempt of this append timed "
                                             "out and may yet apply: retry it with the same event ids"));
  }

  void conflict(std::int64_t current) {
    fail(Error::conflict(current, "version conflict on " + to_string(stream_) + ": expected " +
                                      expected_.to_string() + ", stream is at " + std::to_string(current)));
  }

  // An "any" append that lost kMaxAnyAttempts races in a row: none of its batches applied.
  void too_much_contention() {
    fail(Error(ErrorCode::kUnavailable, "append to " + to_string(stream_) + " lost " +
                                            std::to_string(kMaxAnyAttempts) +
                                            " races for the head to other writers; nothing was written"));
  }

  OnError fail_with(const std::string& what) {
    auto self = shared_from_this();
    return [self, what](const bridge::BridgeError& e) { self->fail(to_error(e, what + " " + to_string(self->stream_))); };
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
    // The column is past the version we appended after: a conflict, and it holds the head (it
    // can only lag behind the head, never run ahead of it). An "any" append that lost the race
    // goes again right after it.
    if (outcome.has_stream_version && outcome.stream_version > at && !existing.empty()) {
      proven_not_applied();
      if (!expected_.is_any()) return conflict(outcome.stream_version);
      if (++any_attempts_ >= kMaxAnyAttempts) return too_much_contention();
      return attempt(outcome.stream_version, at_version(outcome.stream_version));
    }
    // Otherwise the answer alone does not tell the head (a stream the seed's library wrote to,
    // an expected version ahead of the head, an "any" append that lost a race, or versions
    // still free after the column moved): one consistent SERIAL read of the head and the
    // versions this batch tried decides.
    auto self = shared_from_this();
    connection_->session->serial_read(
        key_, static_cast<std::int32_t>(at + 1), static_cast<std::int32_t>(at + count()),
        done<SliceDone>(
            [self, at, condition](bridge::StreamSlice slice) {
              if (is_same_append(self->events_, ids_in(slice)))
                return self->finish(make_append_result(at + 1, self->events_));
              const std::int64_t head = head_of(slice);
              const StaticCondition now = for_head_of(slice);
              if (!slice.events.empty()) self->proven_not_applied();
              if (self->expected_.is_any()) {
                if (++self->any_attempts_ >= kMaxAnyAttempts) return self->too_much_contention();
                return self->attempt(head, now);
              }
              if (head == at && now.adopting && !condition.adopting) return self->attempt(at, now);
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
    if (error.kind != bridge::ErrorKind::OutcomeUnknown) return fail(to_error(error, "append to " + to_string(stream_)));
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
                log(LogLevel::kInfo, what + "a serial read found it applied");
                return self->finish(make_append_result(at + 1, self->events_));
              }
              const std::int64_t head = head_of(slice);
              if (slice.events.empty() && head == at) {
                if (++self->unapplied_retries_ <= kMaxUnappliedRetries) {
                  log(LogLevel::kInfo, what + "a serial read found it was not applied; retrying with the same event ids");
                  return self->attempt(at, for_head_of(slice));
                }
                log(LogLevel::kInfo, what + "it was not applied when read back, but it timed out on every retry");
                return self->finish(Error(ErrorCode::kOutcomeUnknown,
                                          what + "it timed out on " + std::to_string(kMaxUnappliedRetries + 1) +
                                              " attempts; a request still in flight may yet apply it: retry "
                                              "it with the same event ids"));
              }
              log(LogLevel::kInfo, what + "a serial read found it was not applied: the stream is at " +
                                       std::to_string(head));
              if (!slice.events.empty()) self->proven_not_applied();
              if (self->expected_.is_any()) {
                if (++self->any_attempts_ >= kMaxAnyAttempts) return self->too_much_contention();
                return self->attempt(head, for_head_of(slice));
              }
              self->conflict(head);
            },
            [self, at, first_error](const bridge::BridgeError& e) {
              const std::string what = "append to " + to_string(self->stream_) + " at version " +
                                       std::to_string(at + 1) + " may or may not have been applied (" +
                                       first_error + "), and reading it back failed: " + to_std(e.message);
              log(LogLevel::kInfo, what);
              self->finish(Error(ErrorCode::kOutcomeUnknown, what + "; retry it with the same event ids"));
            }));
  }

  std::shared_ptr<Connection> connection_;
  std::shared_ptr<const FeedSettings> feed_;
  std::shared_ptr<MarkerWriter> markers_;  // null with feed=false
  StreamId stream_;
  bridge::StreamKey key_;
  ExpectedVersion expected_;
  std::vector<EventData> events_;
  EventStore::AppendCallback callback_;
  int any_attempts_ = 0;
  int unapplied_retries_ = 0;
  bool maybe_applied_ = false;  // an attempt's outcome was unknown, and nothing proved it failed
  std::optional<Timestamp> marker_time_;  // of the last feed marker written
  bool marker_owed_ = false;  // the last marker write failed, and no marker was written since
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
    return fail(Error::invalid("append would take " + to_string(stream_) + " past the maximum version " +
                                 std::to_string(connection_->limits.max_version)));
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
  connection_->session->append_batch(
      key_, condition.has_value, condition.value,
      static_cast<std::int32_t>(at + count()), std::move(rows),
      std::make_unique<BatchDone>(std::move(self), at, condition));
}

class ScyllaStore final : public Store {
 public:
  ScyllaStore(std::shared_ptr<Connection> connection, std::string description, FeedSettings feed)
      : connection_(std::move(connection)),
        description_(std::move(description)),
        feed_(std::make_shared<const FeedSettings>(std::move(feed))),
        markers_(feed_->markers ? std::make_shared<MarkerWriter>(connection_) : nullptr) {}

  // The relays of the URI's relay= option stop (and give up their leases) before the session
  // they use can go.
  ~ScyllaStore() override { relays_.clear(); }

  // The relays of relay=CONTEXT,...: one per context, running for the store's lifetime.
  void start_uri_relays() {
    for (const std::string& context : feed_->relay_contexts) {
      RelayOptions options;
      options.context = context;
      relays_.push_back(start_relay(options));
    }
  }

  std::unique_ptr<FeedRelay> start_relay(const RelayOptions& options) override {
    return start_scylla_relay(connection_, connection_->keyspace, options, RelayTuning::from(*feed_));
  }

  std::string describe() const override { return description_; }

  const bridge::Session& session() const { return *connection_->session; }
  const std::shared_ptr<Connection>& connection() const { return connection_; }

  // One CQL statement, unprepared, waiting for schema agreement after DDL.
  void execute(const std::string& cql) {
    wait_for<bool>([&](auto finished) {
      connection_->session->execute_schema(
          cql, done<VoidDone>([finished]() { finished(true); },
                              [finished](const bridge::BridgeError& e) { finished(to_error(e, "schema")); }));
    });
  }

  void apply_schema(const SchemaOptions& options) override {
    const std::vector<std::string> statements = scylla_schema_ddl(connection_->keyspace, options);
    // ScyllaDB with tablets had no LWT through 2025.3: create the keyspace with vnodes there.
    // Cassandra does not know the option and refuses it; then the plain statement runs.
    try {
      execute(statements[0] + " AND tablets = {'enabled': false}");
    } catch (const Error& e) {
      if (std::string(e.what()).find("tablets") == std::string::npos) throw;
      execute(statements[0]);
    }
    execute(statements[1]);
    try {
      execute(scylla_adopt_statement(connection_->keyspace));
    } catch (const Error& e) {
      // The column is there already (created by statements[1], or adopted before).
      const std::string message = e.what();
      if (message.find("conflicts with an existing column") == std::string::npos &&
          message.find("already exist") == std::string::npos)
        throw;
    }
    for (std::size_t i = 2; i < statements.size(); ++i) execute(statements[i]);
  }

  void append_async(const StreamId& stream, ExpectedVersion expected, std::vector<EventData> events,
                    AppendCallback callback) override {
    try {
      prepare_append(stream, expected, events, connection_->limits);
    } catch (const Error& e) {
      return callback(e);
    }
    std::make_shared<AppendOperation>(connection_, feed_, markers_, stream, expected, std::move(events), std::move(callback))
        ->start();
  }

  std::unique_ptr<EventCursor> read(const StreamId& stream, const ReadOptions& options) override {
    return std::make_unique<ScyllaCursor>(connection_, stream, options);
  }

  void head_async(const StreamId& stream, HeadCallback callback) override {
    try {
      validate_stream(stream, connection_->limits);
    } catch (const Error& e) {
      return callback(e);
    }
    connection_->session->read_head(
        key_of(stream), /*serial=*/false,
        done<SliceDone>([callback](bridge::StreamSlice slice) { callback(head_of(slice)); },
                        [callback, stream](const bridge::BridgeError& e) {
                          callback(to_error(e, "head of " + to_string(stream)));
                        }));
  }

  void load_snapshot_async(const StreamId& stream, LoadCallback callback) override {
    try {
      validate_stream(stream, connection_->limits);
    } catch (const Error& e) {
      return callback(e);
    }
    auto connection = connection_;
    connection_->session->load_snapshot(
        key_of(stream),
        done<SnapshotLoadDone>(
            [callback, stream, connection](bridge::SnapshotLoad load) {
              callback(load.found ? checked_snapshot(stream, load.snapshot, connection->limits) : std::nullopt);
            },
            [callback, stream](const bridge::BridgeError& e) {
              callback(to_error(e, "snapshot load of " + to_string(stream)));
            }));
  }

  // A snapshot above the stream's head is refused, and one stored above it is replaced (a
  // restore from backups of the two tables taken at different times): one head read first.
  void save_snapshot_async(const StreamId& stream, Snapshot snapshot, SaveCallback callback) override {
    try {
      validate_snapshot(stream, snapshot, connection_->limits);
    } catch (const Error& e) {
      return callback(e);
    }
    auto connection = connection_;
    connection_->session->read_head(
        key_of(stream), /*serial=*/false,
        done<SliceDone>(
            [connection, stream, snapshot = std::move(snapshot), callback](bridge::StreamSlice slice) mutable {
              const std::int64_t head = head_of(slice);
              if (snapshot.version > head) return callback(snapshot_above_head(stream, snapshot.version, head));
              save_below_head(std::move(connection), stream, std::move(snapshot), head, std::move(callback));
            },
            save_failed(callback, stream)));
  }

  // The feed's read side: feed_reader.h.
  void read_feed_async(const std::string& context, const FeedReadOptions& options,
                       FeedPageCallback callback) override {
    scylla_read_feed(connection_, context, options, std::move(callback));
  }

  void feed_head_async(const std::string& context, PositionCallback callback) override {
    scylla_feed_head(connection_, context, std::move(callback));
  }

  void load_checkpoint_async(const std::string& context, const std::string& name,
                             CheckpointCallback callback) override {
    scylla_load_checkpoint(connection_, context, name, std::move(callback));
  }

  void save_checkpoint_async(const std::string& context, const std::string& name, std::int64_t position,
                             PositionCallback callback) override {
    scylla_save_checkpoint(connection_, context, name, position, std::move(callback));
  }

  void feed_status_async(const std::string& context, StatusCallback callback) override {
    scylla_feed_status(connection_, context, std::move(callback));
  }

 private:
  static OnError save_failed(const SaveCallback& callback, const StreamId& stream) {
    return [callback, stream](const bridge::BridgeError& e) {
      callback(to_error(e, "snapshot save of " + to_string(stream)));
    };
  }

  // The cluster's snapshot row as a Snapshot, checked as the SQLite backend checks its rows: a
  // damaged row is skipped with a warning. The seed's library writes "" as metadata: none.
  static std::optional<Snapshot> checked_snapshot(const StreamId& stream, const bridge::Snapshot& row,
                                                  const Limits& limits) {
    Snapshot snapshot;
    snapshot.version = row.version;
    snapshot.data = to_std(row.data);
    if (row.has_metadata && !row.metadata.empty()) snapshot.metadata = to_std(row.metadata);
    snapshot.timestamp = Timestamp(std::chrono::milliseconds(row.timestamp_ms));
    std::string damage;
    if (!row.has_data) {
      damage = "no snapshot_data";
    } else if (!row.has_timestamp) {
      damage = "no snapshot_timestamp";
    } else {
      Limits any_size = limits;
      any_size.max_event_bytes = std::numeric_limits<std::size_t>::max();
      try {
        validate_snapshot(stream, snapshot, any_size);
        return snapshot;
      } catch (const Error& e) {
        damage = e.what();
      }
    }
    log(LogLevel::kWarning, "the snapshot of " + to_string(stream) + " is damaged (" + damage + "); it is skipped");
    return std::nullopt;
  }

  // The never-backwards write, then a read that it was not shadowed: the seed's library writes
  // snapshots with plain INSERTs at client timestamps, and a row of it with a later timestamp
  // than our Paxos write wins on read, although our write was applied.
  static void save_below_head(std::shared_ptr<Connection> connection, const StreamId& stream, Snapshot snapshot,
                              std::int64_t head, SaveCallback callback) {
    bridge::Snapshot row{};
    row.version = static_cast<std::int32_t>(snapshot.version);
    row.has_data = true;
    row.data = snapshot.data;
    row.has_metadata = snapshot.metadata.has_value();
    if (snapshot.metadata) row.metadata = *snapshot.metadata;
    row.has_timestamp = true;
    row.timestamp_ms = snapshot.timestamp.time_since_epoch().count();
    const std::int64_t version = snapshot.version;
    const std::int64_t timestamp_ms = row.timestamp_ms;
    connection->session->save_snapshot(
        key_of(stream), std::move(row), static_cast<std::int32_t>(head),
        done<SnapshotSaveDone>(
            [connection, stream, version, timestamp_ms, callback](bridge::SnapshotSaveOutcome outcome) {
              if (!outcome.stored) return callback(SnapshotSaveResult{false, outcome.existing_version});
              // The read-back's completion holds the connection: the store may be gone by now.
              connection->session->load_snapshot(
                  key_of(stream),
                  done<SnapshotLoadDone>(
                      [connection, stream, version, timestamp_ms, callback](bridge::SnapshotLoad load) {
                        if (load.found && load.snapshot.version == version && load.snapshot.timestamp_ms == timestamp_ms)
                          return callback(SnapshotSaveResult{true, version});
                        log(LogLevel::kWarning,
                            "the snapshot of " + to_string(stream) + " at version " + std::to_string(version) +
                                " was written but reads back as another (version " +
                                std::to_string(load.found ? load.snapshot.version : 0) +
                                "): a write with a later timestamp, such as the seed library's, shadows it");
                        callback(SnapshotSaveResult{false, load.found ? load.snapshot.version : 0});
                      },
                      [stream, callback](const bridge::BridgeError& e) {
                        callback(Error(ErrorCode::kOutcomeUnknown, "snapshot of " + to_string(stream) +
                                                                       " written, but reading it back failed: " +
                                                                       to_std(e.message)));
                      }));
            },
            save_failed(callback, stream)));
  }

  std::shared_ptr<Connection> connection_;
  std::string description_;
  std::shared_ptr<const FeedSettings> feed_;
  std::shared_ptr<MarkerWriter> markers_;  // null with feed=false
  std::vector<std::unique_ptr<FeedRelay>> relays_;
};

}  // namespace

namespace {
ScyllaStore& scylla_store_of(Store& store) {
  auto* scylla = dynamic_cast<ScyllaStore*>(&store);
  if (!scylla) throw Error::invalid("not a store made by open_scylla_store");
  return *scylla;
}
}  // namespace

void execute_statement(Store& store, const std::string& cql) { scylla_store_of(store).execute(cql); }

std::shared_ptr<Connection> scylla_connection(Store& store) { return scylla_store_of(store).connection(); }

std::unique_ptr<FeedRelay> start_scylla_relay(Store& store, const RelayOptions& options, const RelayTuning& tuning) {
  const std::shared_ptr<Connection> connection = scylla_connection(store);
  return start_scylla_relay(connection, connection->keyspace, options, tuning);
}

void inject_batch_faults(Store& store, const std::vector<InjectedBatchFault>& faults) {
  ScyllaStore* scylla = &scylla_store_of(store);
  rust::Vec<bridge::BatchFault> injected;
  for (const InjectedBatchFault& fault : faults) {
    const bridge::ErrorKind kind =
        fault.code == ErrorCode::kOutcomeUnknown ? bridge::ErrorKind::OutcomeUnknown : bridge::ErrorKind::Unavailable;
    injected.push_back(bridge::BatchFault{fault.applied, kind});
  }
  scylla->session().inject_batch_faults(std::move(injected));
}

std::shared_ptr<Store> open_scylla_store(const ClusterUri& uri, const std::string& redacted_uri,
                                         const StoreOptions& options) {
  bridge::SessionConfig config = config_from(uri);
  FeedSettings feed = feed_settings_from(uri);
  std::string keyspace = to_std(config.keyspace);
  auto session = wait_for<rust::Box<bridge::Session>>([&](auto finished) {
    bridge::connect(std::move(config),
                    done<ConnectDone>([finished](rust::Box<bridge::Session> s) { finished(std::move(s)); },
                                      [finished, &redacted_uri](const bridge::BridgeError& e) {
                                        finished(to_error(e, "cannot connect to " + redacted_uri));
                                      }));
  });
  auto connection = std::make_shared<Connection>(Connection{std::move(session), options.limits, std::move(keyspace)});
  auto store = std::make_shared<ScyllaStore>(std::move(connection), redacted_uri, std::move(feed));
  store->start_uri_relays();
  return store;
}

}  // namespace eventstore::detail

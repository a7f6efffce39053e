// AggregateStore<A>: loads and saves one kind of aggregate on a Store.
//   load = the latest snapshot + the events after it; a snapshot that fails to decode, or whose
//          version is above the stream's head, is skipped with a warning and the aggregate
//          replays from version 1.
//   save = append the uncommitted events, with the ids they got when recorded, at the loaded
//          version as the expected version, then ask the snapshot policy; a failed snapshot
//          write is logged and counted, never thrown.
//
// After kOutcomeUnknown, save the same Aggregate object again: its events keep their ids, so
// the retry returns the original result if the first attempt was applied, appends now if it
// was not, or fails with kVersionConflict if another writer got there first. Never reload and
// run the command again after an unknown outcome: that can apply it twice.
//
// A user aggregate A is a default-constructible struct with
//   static constexpr std::string_view aggregate_type = "...";
//   using Event = std::variant<E1, E2, ...>;        // see codec.h for the event structs
//   void apply(const E1&); void apply(const E2&);   // state transitions, one per event type
// and, to be snapshotted, is convertible to and from nlohmann::json.
//
// Personal data (personal_data.h, docs/erasure.md): with AggregateStoreOptions::personal_data,
// the personal fields its rules name are encrypted with their subject's key when saved (events
// and snapshots) and decrypted when loaded; once the subject is forgotten, a load gives the
// rule's placeholder in their place (counted in personal_fields_erased), and a save of new
// personal data of that subject fails with kStreamDeleted.
//
// Thread safety: an AggregateStore is safe to use from many threads. An Aggregate<A> is a plain
// value: one thread at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "eventstore/codec.h"
#include "eventstore/export.h"
#include "eventstore/log.h"
#include "eventstore/personal_data.h"
#include "eventstore/snapshot_policy.h"
#include "eventstore/store.h"

namespace eventstore {

namespace detail {
// True when A has an apply() for every alternative of the variant Events.
template <class A, class E>
concept AppliesEvent = requires(A& a, const E& e) {
  a.apply(e);
};
template <class A, class Events>
inline constexpr bool applies_all_v = false;
template <class A, class... Es>
inline constexpr bool applies_all_v<A, std::variant<Es...>> = (AppliesEvent<A, Es> && ...);
}  // namespace detail

template <class A>
concept AggregateState = std::default_initializable<A> && requires {
  { A::aggregate_type } -> std::convertible_to<std::string_view>;
  typename A::Event;
} && detail::applies_all_v<A, typename A::Event>;

template <class A>
concept Snapshottable = requires(const A& a, const nlohmann::json& j) {
  {nlohmann::json(a)};
  {j.template get<A>()};
};

// One loaded aggregate and the events recorded on it since.
template <AggregateState A>
class Aggregate {
 public:
  using Event = typename A::Event;

  explicit Aggregate(Uuid id) : id_(id) {}

  const Uuid& id() const noexcept { return id_; }
  // The stream version this state reflects, not counting uncommitted events.
  std::int64_t version() const noexcept { return version_; }
  const A& state() const noexcept { return state_; }
  const std::vector<Event>& uncommitted() const noexcept { return uncommitted_; }
  // The event ids of uncommitted(), one each, in the same order: given by record() and kept
  // until a save succeeds, so that saving again after kOutcomeUnknown is an idempotent retry.
  const std::vector<Uuid>& uncommitted_ids() const noexcept { return uncommitted_ids_; }

  // Applies `event` to the state and queues it, with a new random event id, for the next save.
  void record(Event event) {
    std::visit([this](const auto& e) { state_.apply(e); }, event);
    uncommitted_.push_back(std::move(event));
    uncommitted_ids_.push_back(Uuid::random());
  }

 private:
  template <AggregateState>
  friend class AggregateStore;

  Uuid id_;
  std::int64_t version_ = 0;
  A state_{};
  std::vector<Event> uncommitted_;
  std::vector<Uuid> uncommitted_ids_;
  std::int64_t snapshot_version_ = 0;
  std::optional<Timestamp> snapshot_time_;
};

struct EVENTSTORE_EXPORT AggregateStoreOptions {
  SnapshotPolicy snapshot_policy = every_n_events(100);
  // When > 0, a load that replayed more than this many events since the last snapshot writes a
  // snapshot (the seed's snapshot-on-load). Off by default.
  std::int64_t snapshot_on_load_after = 0;
  // Events read per round trip while loading; each page also stays within ReadOptions'
  // default byte budget (4 MiB). 5,000 as gocql's default page: a full replay of 10,000 events
  // took 0.85-1.02x the time of 1,000-event pages on a cluster, 1.01-1.07x on SQLite
  // (docs/BENCHMARKS.md, "Page size of a load").
  std::uint32_t page_size = 5000;
  // Encrypts the personal fields of events and snapshots (personal_data.h); none when null.
  std::shared_ptr<const PersonalData> personal_data = nullptr;
};

struct EVENTSTORE_EXPORT AggregateStoreStats {
  std::uint64_t snapshots_written = 0;
  std::uint64_t snapshot_write_failures = 0;
  std::uint64_t snapshot_decode_failures = 0;
  std::uint64_t events_replayed = 0;
  // Loads that ignored a snapshot whose version is above the stream's head (a store restored
  // from backups of its two tables taken at different times, or a misused save_snapshot).
  std::uint64_t snapshots_above_head = 0;
  // Personal fields loaded as the placeholder: their subject was forgotten (personal_data.h).
  std::uint64_t personal_fields_erased = 0;
};

struct EVENTSTORE_EXPORT SaveResult {
  std::optional<AppendResult> append;  // none when there was nothing to save
  bool snapshot_written = false;
};

namespace detail {

// Reports one AggregateStore load or save into its store's sink and tracer (Store::metrics_sink,
// Store::tracer): the metrics aggregate_* and the spans "eventstore.aggregate.load" / ".save".
// Costs nothing when the store has neither.
class EVENTSTORE_EXPORT AggregateOperation {
 public:
  AggregateOperation(const Store& store, std::string_view span_name, const StreamId& stream);
  AggregateOperation(const AggregateOperation&) = delete;
  AggregateOperation& operator=(const AggregateOperation&) = delete;
  ~AggregateOperation();  // a span not ended yet ends as failed ("internal")

  void loaded(std::int64_t events_replayed, bool snapshot_used);
  void saved(std::int64_t events_appended);
  void failed(const Error& error);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;  // null when the store has no sink and no tracer
};

}  // namespace detail

template <AggregateState A>
class AggregateStore {
 public:
  using Event = typename A::Event;

  // Throws Error(kInvalidArgument) for an empty bounded context or a codec with duplicate names.
  AggregateStore(std::shared_ptr<Store> store, std::string bounded_context, AggregateStoreOptions options = {})
      : store_(std::move(store)), context_(std::move(bounded_context)), options_(std::move(options)) {
    if (!store_) throw Error::invalid("aggregate store needs a store");
    if (context_.empty()) throw Error::invalid("bounded context must not be empty");
  }

  StreamId stream_of(const Uuid& id) const { return StreamId{context_, std::string(A::aggregate_type), id}; }

  // The aggregate at its latest version; a new, empty one (version 0) if it has no events.
  // A snapshot above the stream's head is ignored (logged, counted in snapshots_above_head) and
  // the aggregate replays from version 1. A soft-deleted stream (docs/lifecycle.md) loads as a
  // new, empty aggregate at the version of its "$deleted" event, so that its next save continues
  // the stream. Throws eventstore::Error: kStreamDeleted for a hard-deleted stream; kCorruption
  // for an event that does not decode, or for a stream truncated above what the snapshot covers
  // (its first event read from the snapshot's version, or from 1 without a snapshot, is neither
  // at that version nor the next).
  Aggregate<A> load(const Uuid& id) {
    Aggregate<A> aggregate(id);
    const StreamId stream = stream_of(id);
    detail::AggregateOperation report(*store_, "eventstore.aggregate.load", stream);
    std::optional<PersonalDataSession> personal = personal_session();
    PersonalDataSession* const session = personal ? &*personal : nullptr;
    try {
      if constexpr (Snapshottable<A>) restore_snapshot(stream, aggregate, session);
      bool snapshot_used = aggregate.version_ > 0;
      std::optional<std::int64_t> replayed = replay(stream, aggregate, session);
      if (!replayed) {
        ignore_snapshot_above_head(stream, aggregate);
        snapshot_used = false;
        replayed = replay(stream, aggregate, session);
      }
      if constexpr (Snapshottable<A>) {
        if (options_.snapshot_on_load_after > 0 && *replayed > options_.snapshot_on_load_after)
          write_snapshot(stream, aggregate, session);
      }
      report.loaded(*replayed, snapshot_used);
    } catch (const Error& e) {
      if (personal) stats_.personal_fields_erased += personal->erased_fields();
      report.failed(e);
      throw;
    }
    if (personal) stats_.personal_fields_erased += personal->erased_fields();
    return aggregate;
  }

  // Appends the uncommitted events, with their uncommitted_ids(), at the loaded version. On
  // success the aggregate's version advances and its uncommitted events and ids are cleared.
  // Throws eventstore::Error and leaves the aggregate unchanged (events, ids and version):
  //   kVersionConflict  another writer got there first: load again and decide again;
  //   kOutcomeUnknown   the append may have been applied: call save() again with this same
  //                     aggregate (an idempotent retry), never reload and rerun the command;
  //   kStreamDeleted    the stream was hard-deleted, or an event holds personal data of a
  //                     forgotten subject (personal_data.h; nothing written);
  //   any other code of EventStore::append, or of the personal data's key provider.
  SaveResult save(Aggregate<A>& aggregate) {
    SaveResult result;
    if (aggregate.uncommitted_.empty()) return result;
    std::optional<PersonalDataSession> personal = personal_session();
    PersonalDataSession* const session = personal ? &*personal : nullptr;
    std::vector<EventData> events;
    events.reserve(aggregate.uncommitted_.size());
    for (std::size_t i = 0; i < aggregate.uncommitted_.size(); ++i) {
      const Event& event = aggregate.uncommitted_[i];
      const std::string_view type = codec_.type_name(event);
      std::string data = codec_.encode(event);
      if (session) data = session->protect_event(type, data);
      events.push_back(
          EventData{aggregate.uncommitted_ids_[i], std::string(type), std::move(data), std::nullopt, std::nullopt});
    }
    const StreamId stream = stream_of(aggregate.id_);
    const std::int64_t before = aggregate.version_;
    detail::AggregateOperation report(*store_, "eventstore.aggregate.save", stream);
    try {
      result.append = store_->append(stream, ExpectedVersion::exact(before), std::move(events));
    } catch (const Error& e) {
      report.failed(e);
      throw;
    }
    report.saved(static_cast<std::int64_t>(result.append->event_ids.size()));
    aggregate.version_ = result.append->next_expected_version;
    aggregate.uncommitted_.clear();
    aggregate.uncommitted_ids_.clear();
    if constexpr (Snapshottable<A>) {
      const SnapshotContext context{
          stream, before, aggregate.version_, aggregate.snapshot_version_, aggregate.snapshot_time_, now_ms()};
      if (options_.snapshot_policy && options_.snapshot_policy(context))
        result.snapshot_written = write_snapshot(stream, aggregate, session);
    }
    return result;
  }

  // Loads, runs `command` (which records events or throws), and saves. On kVersionConflict it
  // reloads and runs the command again; on kOutcomeUnknown it saves the same aggregate again
  // (same event ids: the command is applied once). At most `max_attempts` saves in all; then,
  // or on any other error, it throws the last error.
  SaveResult execute(const Uuid& id, const std::function<void(Aggregate<A>&)>& command, int max_attempts = 5) {
    Aggregate<A> aggregate = load(id);
    command(aggregate);
    for (int attempt = 1;; ++attempt) {
      try {
        return save(aggregate);
      } catch (const Error& e) {
        const bool conflict = e.code() == ErrorCode::kVersionConflict;
        if ((!conflict && e.code() != ErrorCode::kOutcomeUnknown) || attempt >= max_attempts) throw;
        if (conflict) {
          aggregate = load(id);
          command(aggregate);
        }
      }
    }
  }

  AggregateStoreStats stats() const {
    return AggregateStoreStats{stats_.snapshots_written.load(),        stats_.snapshot_write_failures.load(),
                               stats_.snapshot_decode_failures.load(), stats_.events_replayed.load(),
                               stats_.snapshots_above_head.load(),     stats_.personal_fields_erased.load()};
  }

  const std::shared_ptr<Store>& store() const noexcept { return store_; }

 private:
  // Applies the events after the aggregate's version and returns how many. After a snapshot
  // the read starts at the snapshot's own version, whose event the state already holds: it is
  // not applied again, but its presence proves the snapshot is not above the stream's head
  // without another round trip (so does the next version's, when a truncate removed the
  // snapshot's own). Returns nullopt (nothing applied) when the stream ends before the
  // snapshot's version. The lifecycle's system events (event_store.h) are not applied:
  // "$deleted" starts the aggregate over at its version, "$hard-deleted" throws kStreamDeleted.
  std::optional<std::int64_t> replay(const StreamId& stream, Aggregate<A>& aggregate, PersonalDataSession* personal) {
    const std::int64_t snapshot_at = aggregate.version_;
    ReadOptions read;
    read.from = snapshot_at > 0 ? snapshot_at : 1;
    read.page_size = options_.page_size;
    bool first = true;
    std::int64_t replayed = 0;
    store_->for_each(stream, read, [&](const RecordedEvent& recorded) {
      const bool was_first = std::exchange(first, false);
      const bool system_event = recorded.event_type.starts_with('$');
      if (system_event && recorded.event_type == kHardDeletedEventType)
        throw Error::stream_deleted(recorded.version, to_string(stream));
      if (system_event && recorded.event_type == kDeletedEventType) {
        aggregate = Aggregate<A>(aggregate.id_);  // what came before is gone, snapshot included
        aggregate.version_ = recorded.version;
        return;
      }
      if (was_first && recorded.version != *read.from) {
        if (snapshot_at == 0 || recorded.version != snapshot_at + 1)
          throw Error(
              ErrorCode::kCorruption,
              "stream " + to_string(stream) + " has no event at version " + std::to_string(*read.from) +
                  " but one at " + std::to_string(recorded.version) +
                  (snapshot_at == 0
                       ? " (truncated or expired by a retention policy, and no snapshot covers the "
                         "events below it)"
                       : " (truncated or expired above the snapshot at version " + std::to_string(snapshot_at) + ")"));
      } else if (was_first && snapshot_at > 0) {
        return;  // the snapshot's own event
      }
      aggregate.version_ = recorded.version;
      if (system_event) return;
      Event event = personal
                        ? codec_.decode(recorded.event_type,
                                        personal->reveal_event(recorded.event_type, recorded.data.value_or("null")))
                        : codec_.decode(recorded.event_type, recorded.data.value_or("null"));
      std::visit([&](const auto& e) { aggregate.state_.apply(e); }, event);
      ++replayed;
    });
    stats_.events_replayed += static_cast<std::uint64_t>(replayed);
    if (first && snapshot_at > 0) return std::nullopt;
    return replayed;
  }

  // Forgets the snapshot entirely, so the save's policy does not count it as the last one.
  void ignore_snapshot_above_head(const StreamId& stream, Aggregate<A>& aggregate) {
    ++stats_.snapshots_above_head;
    log(LogLevel::kWarning, "snapshot of " + to_string(stream) + " at version " + std::to_string(aggregate.version_) +
                                " is above the stream's head; ignoring it and replaying from version 1");
    aggregate = Aggregate<A>(aggregate.id_);
  }

  // A snapshot the backend reports as corrupt, or whose state does not decode (personal data
  // that does not authenticate included), is skipped: the aggregate then replays from version 1.
  void restore_snapshot(const StreamId& stream, Aggregate<A>& aggregate, PersonalDataSession* personal) {
    std::optional<Snapshot> snapshot;
    try {
      snapshot = store_->load_snapshot(stream);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kCorruption) throw;
      skip_snapshot(stream, "", e.what());
      return;
    }
    if (!snapshot) return;
    aggregate.snapshot_version_ = snapshot->version;
    aggregate.snapshot_time_ = snapshot->timestamp;
    try {
      const std::string data = personal ? personal->reveal_snapshot(snapshot->data) : std::move(snapshot->data);
      aggregate.state_ = detail::parse_json(data).template get<A>();
      aggregate.version_ = snapshot->version;
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kCorruption) throw;  // the key provider's: kUnavailable, ...
      aggregate.state_ = A{};
      skip_snapshot(stream, " at version " + std::to_string(snapshot->version), e.what());
    } catch (const std::exception& e) {
      aggregate.state_ = A{};
      skip_snapshot(stream, " at version " + std::to_string(snapshot->version), e.what());
    }
  }

  void skip_snapshot(const StreamId& stream, const std::string& at, const std::string& why) {
    ++stats_.snapshot_decode_failures;
    log(LogLevel::kWarning,
        "snapshot of " + to_string(stream) + at + " does not decode; replaying from version 1: " + why);
  }

  // Never throws: a failed snapshot write is logged and counted.
  bool write_snapshot(const StreamId& stream, Aggregate<A>& aggregate, PersonalDataSession* personal) {
    try {
      std::string data = nlohmann::json(aggregate.state_).dump();
      if (personal) data = personal->protect_snapshot(data);
      Snapshot snapshot{aggregate.version_, std::move(data), std::nullopt, now_ms()};
      const SnapshotSaveResult saved = store_->save_snapshot(stream, snapshot);
      aggregate.snapshot_version_ = saved.latest_version;
      aggregate.snapshot_time_ = snapshot.timestamp;
      if (saved.stored) ++stats_.snapshots_written;
      return saved.stored;
    } catch (const std::exception& e) {
      ++stats_.snapshot_write_failures;
      log(LogLevel::kWarning, "snapshot of " + to_string(stream) + " at version " + std::to_string(aggregate.version_) +
                                  " not written: " + e.what());
      return false;
    }
  }

  struct Counters {
    std::atomic<std::uint64_t> snapshots_written{0};
    std::atomic<std::uint64_t> snapshot_write_failures{0};
    std::atomic<std::uint64_t> snapshot_decode_failures{0};
    std::atomic<std::uint64_t> events_replayed{0};
    std::atomic<std::uint64_t> snapshots_above_head{0};
    std::atomic<std::uint64_t> personal_fields_erased{0};
  };

  std::optional<PersonalDataSession> personal_session() const {
    if (!options_.personal_data) return std::nullopt;
    return options_.personal_data->session();
  }

  std::shared_ptr<Store> store_;
  std::string context_;
  AggregateStoreOptions options_;
  EventCodec<Event> codec_;
  Counters stats_;
};

}  // namespace eventstore

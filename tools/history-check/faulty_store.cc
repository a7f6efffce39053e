#include "faulty_store.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>

#include "feed_readers.h"
#include "history.h"
#include "workload.h"

namespace historycheck {

using namespace eventstore;

const char* to_string(Fault fault) {
  switch (fault) {
    case Fault::kNone: return "none";
    case Fault::kDropAck: return "drop-ack";
    case Fault::kDuplicate: return "duplicate";
    case Fault::kInvent: return "invent";
    case Fault::kStoreRejected: return "store-rejected";
    case Fault::kGap: return "gap";
    case Fault::kStaleHead: return "stale-head";
    case Fault::kPartialUnknown: return "partial-unknown";
    case Fault::kLostUnknown: return "lost-unknown";
    case Fault::kFeedHole: return "feed-hole";
    case Fault::kFeedLate: return "feed-late-entry";
    case Fault::kFeedReorder: return "feed-reorder";
    case Fault::kFeedDropAck: return "feed-drop-ack";
    case Fault::kFeedRejected: return "feed-rejected";
    case Fault::kFeedDisagree: return "feed-disagree";
    case Fault::kFeedDuplicate: return "feed-duplicate";
    case Fault::kCheckpointBackwards: return "checkpoint-backwards";
    case Fault::kCheckpointJump: return "checkpoint-jump";
    case Fault::kFilterStall: return "filter-stall";
    case Fault::kFilterLeak: return "filter-leak";
    case Fault::kTruncateTooFar: return "truncate-too-far";
    case Fault::kWriteAfterHardDelete: return "write-after-hard-delete";
    case Fault::kReadBelowBefore: return "read-below-before";
  }
  return "?";
}

bool is_feed_fault(Fault fault) {
  switch (fault) {
    case Fault::kFeedHole:
    case Fault::kFeedLate:
    case Fault::kFeedReorder:
    case Fault::kFeedDropAck:
    case Fault::kFeedRejected:
    case Fault::kFeedDisagree:
    case Fault::kFeedDuplicate:
    case Fault::kCheckpointBackwards:
    case Fault::kCheckpointJump:
    case Fault::kFilterStall:
    case Fault::kFilterLeak: return true;
    default: return false;
  }
}

namespace {

// One context's feed: positions are assigned under the store's lock when an append stores its
// events, so it is dense and never changes (unless a feed fault is injected).
struct ContextFeed {
  std::map<std::int64_t, FeedEntry> entries;
  std::int64_t next = 1;                                 // the next position to assign; the head is next - 1
  std::vector<std::pair<std::int64_t, FeedEntry>> held;  // kFeedLate: entries not yet published
  std::map<std::string, Checkpoint> checkpoints;
};

struct State {
  std::mutex mutex;
  std::map<std::string, ContextFeed> feeds;
  std::map<StreamId, std::vector<RecordedEvent>> streams;  // every event stored, hidden ones too
  struct Life {
    std::int64_t before = 1;  // reads start here
    std::optional<std::int64_t> hard_deleted;
  };
  std::map<StreamId, Life> life;
  std::map<StreamId, std::int64_t> just_appended;  // stream -> version of the last append
  std::set<std::vector<Uuid>> lied_about;          // appends answered unknown by kLostUnknown
};

class FaultyCursor final : public EventCursor {
 public:
  FaultyCursor(std::vector<RecordedEvent> events, ReadOptions options) : events_(std::move(events)), options_(options) {
    if (options_.direction == Direction::kBackward) std::reverse(events_.begin(), events_.end());
    const std::int64_t from = options_.from.value_or(options_.direction == Direction::kForward ? 1 : INT64_MAX);
    while (next_ < events_.size() &&
           (options_.direction == Direction::kForward ? events_[next_].version < from : events_[next_].version > from))
      ++next_;
    remaining_ = options_.limit.value_or(UINT64_MAX);
  }

  void next_page_async(PageCallback callback) override {
    std::vector<RecordedEvent> page;
    while (next_ < events_.size() && remaining_ > 0 && page.size() < options_.page_size) {
      page.push_back(events_[next_++]);
      --remaining_;
    }
    callback(std::move(page));
  }

 private:
  std::vector<RecordedEvent> events_;
  ReadOptions options_;
  std::size_t next_ = 0;
  std::uint64_t remaining_ = 0;
};

class FaultyStore final : public Store {
 public:
  FaultyStore(Fault fault, int every) : fault_(fault), every_(std::max(1, every)) {}

  std::string describe() const override { return std::string("faulty:") + to_string(fault_); }

  void append_async(const StreamId& stream, ExpectedVersion expected, std::vector<EventData> events,
                    AppendCallback callback) override {
    std::optional<Result<AppendResult>> result;
    {
      std::lock_guard lock(state_.mutex);
      result.emplace(append_locked(stream, expected, events));
    }
    callback(std::move(*result));
  }

  std::unique_ptr<EventCursor> read(const StreamId& stream, const ReadOptions& options) override {
    std::lock_guard lock(state_.mutex);
    std::vector<RecordedEvent> visible;
    auto it = state_.streams.find(stream);
    std::int64_t from = state_.life[stream].before;
    if (fault_ == Fault::kReadBelowBefore && from > 1) --from;
    if (it != state_.streams.end())
      for (const RecordedEvent& e : it->second)
        if (e.version >= from) visible.push_back(e);
    return std::make_unique<FaultyCursor>(std::move(visible), options);
  }

  void change_lifecycle_async(const StreamId& stream, LifecycleChange change, AppendCallback callback) override {
    std::optional<Result<AppendResult>> result;
    {
      std::lock_guard lock(state_.mutex);
      result.emplace(change_locked(stream, change));
    }
    callback(std::move(*result));
  }

  void head_async(const StreamId& stream, HeadCallback callback) override {
    std::int64_t head = 0;
    {
      std::lock_guard lock(state_.mutex);
      head = head_locked(stream);
      auto just = state_.just_appended.find(stream);
      if (fault_ == Fault::kStaleHead && just != state_.just_appended.end() && just->second == head &&
          ++stale_count_ % every_ == 0)
        head -= 1;
      state_.just_appended.erase(stream);
    }
    callback(head);
  }

  void read_feed_async(const std::string& context, const FeedReadOptions& options, FeedPageCallback callback) override {
    if (options.after < 0 || options.limit < 1 || options.limit > 100000)
      return callback(Error::invalid("read_feed: after must be >= 0 and limit 1..100000"));
    FeedPage page;
    {
      std::lock_guard lock(state_.mutex);
      ContextFeed& feed = state_.feeds[context];
      const std::int64_t head = feed.next - 1;
      page.last_position = std::max(options.after, std::min(head, options.after + options.limit));
      bool leaked = false;
      for (auto it = feed.entries.upper_bound(options.after);
           it != feed.entries.end() && it->first <= page.last_position; ++it) {
        if (options.filter.matches(it->second.event)) {
          page.entries.push_back(it->second);
        } else if (fault_ == Fault::kFilterLeak && !leaked && ++feed_count_ % every_ == 0) {
          page.entries.push_back(it->second);
          leaked = true;
        }
      }
      if (fault_ == Fault::kFilterStall && !options.filter.empty())
        page.last_position = page.entries.empty() ? options.after : page.entries.back().position;
      if (fault_ == Fault::kFeedDisagree && page.entries.size() >= 2 && ++feed_count_ % every_ == 0)
        std::swap(page.entries[0].event, page.entries[1].event);
      // kFeedLate: an entry held back is published once a reader has passed its position.
      for (auto it = feed.held.begin(); it != feed.held.end();) {
        if (it->second.position <= page.last_position) {
          feed.entries[it->second.position] = it->second;
          it = feed.held.erase(it);
        } else {
          ++it;
        }
      }
    }
    callback(std::move(page));
  }

  void feed_head_async(const std::string& context, PositionCallback callback) override {
    std::int64_t head = 0;
    {
      std::lock_guard lock(state_.mutex);
      head = state_.feeds[context].next - 1;
    }
    callback(head);
  }

  void load_checkpoint_async(const std::string& context, const std::string& name,
                             CheckpointCallback callback) override {
    std::optional<Checkpoint> result;
    {
      std::lock_guard lock(state_.mutex);
      ContextFeed& feed = state_.feeds[context];
      auto it = feed.checkpoints.find(name);
      if (it != feed.checkpoints.end()) {
        result = it->second;
        if (fault_ == Fault::kCheckpointJump && ++feed_count_ % every_ == 0) result->position += 3;
      }
    }
    callback(std::move(result));
  }

  void save_checkpoint_async(const std::string& context, const std::string& name, std::int64_t position,
                             PositionCallback callback) override {
    if (position < 0 || name.empty()) return callback(Error::invalid("save_checkpoint: bad name or position"));
    std::int64_t stored = 0;
    {
      std::lock_guard lock(state_.mutex);
      Checkpoint& c = state_.feeds[context].checkpoints[name];
      c.name = name;
      if (fault_ == Fault::kCheckpointBackwards && position > 2 && ++feed_count_ % every_ == 0) {
        c.position = position - 2;
        c.updated = now_ms();
      } else if (position > c.position) {
        c.position = position;
        c.updated = now_ms();
      }
      stored = c.position;
    }
    callback(stored);
  }

  void feed_status_async(const std::string& context, StatusCallback callback) override {
    FeedStatus status;
    {
      std::lock_guard lock(state_.mutex);
      ContextFeed& feed = state_.feeds[context];
      status.head = feed.next - 1;
      for (const auto& [name, c] : feed.checkpoints) status.checkpoints.push_back(c);
    }
    callback(std::move(status));
  }

  void load_snapshot_async(const StreamId&, LoadCallback callback) override { callback(std::optional<Snapshot>()); }
  void save_snapshot_async(const StreamId&, Snapshot snapshot, SaveCallback callback) override {
    callback(SnapshotSaveResult{false, snapshot.version});
  }

 private:
  Result<AppendResult> change_locked(const StreamId& stream, const LifecycleChange& change) {
    const bool truncate = change.kind == LifecycleKind::kTruncate;
    if (truncate && (change.before < 1 || (!change.expected.is_any() && change.before > change.expected.version() + 1)))
      return Error::invalid("truncate before out of range");
    const Uuid id = change.event_id.value_or(Uuid::random());
    State::Life& life = state_.life[stream];
    AppendResult ok;
    ok.event_ids = {id};
    for (const RecordedEvent& e : state_.streams[stream])
      if (e.event_id == id) {  // an idempotent retry (the hard delete's own too)
        ok.first_version = ok.next_expected_version = e.version;
        return ok;
      }
    if (life.hard_deleted) return Error::stream_deleted(*life.hard_deleted, to_string(stream));
    const std::int64_t head = head_locked(stream);
    if (!change.expected.is_any() && change.expected.version() != head)
      return Error::conflict(head, "version conflict: stream is at " + std::to_string(head));
    const std::int64_t version = head + 1;
    if (truncate && change.before > version) return Error::invalid("truncate before above the head + 1");
    EventData event{id,
                    truncate                                    ? kTruncatedEventType
                    : change.kind == LifecycleKind::kSoftDelete ? kDeletedEventType
                                                                : kHardDeletedEventType,
                    truncate ? "{\"before\":" + std::to_string(change.before) + "}" : "{}", std::nullopt, now_ms()};
    store(stream, version, event);
    std::int64_t before = truncate ? change.before : version;
    if (truncate && fault_ == Fault::kTruncateTooFar && ++count_ % every_ == 0) ++before;
    life.before = std::max(life.before, before);
    if (change.kind == LifecycleKind::kHardDelete) life.hard_deleted = version;
    state_.just_appended[stream] = version;
    ok.first_version = ok.next_expected_version = version;
    return ok;
  }

  std::int64_t head_locked(const StreamId& stream) {
    auto it = state_.streams.find(stream);
    return it == state_.streams.end() || it->second.empty() ? 0 : it->second.back().version;
  }

  // Stores one event and, unless told not to, publishes it in its context's feed.
  void store(const StreamId& stream, std::int64_t version, const EventData& e, bool publish_it = true) {
    state_.streams[stream].push_back(
        RecordedEvent{stream, version, *e.event_id, e.event_type, e.data, e.metadata, *e.timestamp});
    if (publish_it) publish(stream, {version}, {&e}, false);
  }

  // Publishes events (at these versions) at the next positions of the context's feed; `fire`
  // injects the store's feed fault into this append.
  void publish(const StreamId& stream, const std::vector<std::int64_t>& versions,
               const std::vector<const EventData*>& events, bool fire) {
    ContextFeed& feed = state_.feeds[stream.bounded_context];
    if (fire && fault_ == Fault::kFeedDropAck) return;
    if (fire && fault_ == Fault::kFeedHole) ++feed.next;
    std::vector<std::int64_t> positions;
    for (std::size_t i = 0; i < events.size(); ++i) positions.push_back(feed.next++);
    if (fire && fault_ == Fault::kFeedReorder && positions.size() >= 2) std::swap(positions[0], positions[1]);
    for (std::size_t i = 0; i < events.size(); ++i) {
      const EventData& e = *events[i];
      FeedEntry entry{positions[i],
                      RecordedEvent{stream, versions[i], *e.event_id, e.event_type, e.data, e.metadata, *e.timestamp}};
      if (fire && fault_ == Fault::kFeedLate && i == 0) {
        feed.held.emplace_back(entry.position, std::move(entry));
      } else {
        feed.entries[entry.position] = std::move(entry);
      }
    }
    if (fire && fault_ == Fault::kFeedDuplicate) {
      FeedEntry again = feed.entries.count(positions[0]) ? feed.entries[positions[0]] : FeedEntry{};
      again.position = feed.next++;
      feed.entries[again.position] = again;
    }
  }

  // Whether the store's feed fault fires on this append of n events.
  bool feed_fires(std::size_t n) {
    switch (fault_) {
      case Fault::kFeedHole:
      case Fault::kFeedLate:
      case Fault::kFeedDropAck:
      case Fault::kFeedDuplicate: return ++feed_count_ % every_ == 0;
      case Fault::kFeedReorder: return n >= 2 && ++feed_count_ % every_ == 0;
      default: return false;
    }
  }

  Result<AppendResult> append_locked(const StreamId& stream, ExpectedVersion expected, std::vector<EventData>& events) {
    for (EventData& e : events) {
      if (!e.event_id) e.event_id = Uuid::random();
      if (!e.timestamp) e.timestamp = now_ms();
    }
    std::vector<Uuid> ids;
    for (const EventData& e : events) ids.push_back(*e.event_id);
    const std::int64_t head = head_locked(stream);
    const auto n = static_cast<std::int64_t>(events.size());
    const std::optional<std::int64_t> deleted = state_.life[stream].hard_deleted;
    if (deleted && !(fault_ == Fault::kWriteAfterHardDelete && ++count_ % every_ == 0))
      return Error::stream_deleted(*deleted, to_string(stream));
    const std::int64_t at = expected.is_any() ? head : expected.version();
    AppendResult ok;
    ok.first_version = at + 1;
    ok.next_expected_version = at + n;
    ok.event_ids = ids;
    if (state_.lied_about.count(ids)) return ok;  // kLostUnknown: "it worked after all"
    // An idempotent retry returns the original result. (After an injected gap the list is
    // shorter than the head: positions past its end are not a retry.)
    auto& list = state_.streams[stream];
    if (at >= 0 && at + n <= head && static_cast<std::size_t>(at + n) <= list.size()) {
      bool same = true;
      for (std::int64_t i = 0; i < n && same; ++i)
        same = list[static_cast<std::size_t>(at + i)].event_id == ids[static_cast<std::size_t>(i)];
      if (same) return ok;
    }
    if (at != head) {
      if (fault_ == Fault::kStoreRejected && ++count_ % every_ == 0)
        for (std::int64_t i = 0; i < n; ++i) store(stream, head + i + 1, events[static_cast<std::size_t>(i)]);
      if (fault_ == Fault::kFeedRejected && ++feed_count_ % every_ == 0) {
        std::vector<std::int64_t> versions;
        std::vector<const EventData*> published;
        for (std::int64_t i = 0; i < n; ++i) {
          versions.push_back(head + i + 1);
          published.push_back(&events[static_cast<std::size_t>(i)]);
        }
        publish(stream, versions, published, false);
      }
      return Error::conflict(head, "version conflict: stream is at " + std::to_string(head));
    }
    const bool fire = !is_feed_fault(fault_) && fault_ != Fault::kStoreRejected && fault_ != Fault::kStaleHead &&
                      fault_ != Fault::kTruncateTooFar && fault_ != Fault::kWriteAfterHardDelete &&
                      fault_ != Fault::kReadBelowBefore && ++count_ % every_ == 0;
    if (fire && fault_ == Fault::kDropAck) return ok;
    if (fire && fault_ == Fault::kLostUnknown) {
      state_.lied_about.insert(ids);
      return Error(ErrorCode::kOutcomeUnknown, "injected unknown outcome");
    }
    if (fire && fault_ == Fault::kPartialUnknown) {
      store(stream, head + 1, events[0]);
      if (n == 1) store(stream, head + 2, EventData{Uuid::random(), "Invented", std::nullopt, std::nullopt, now_ms()});
      return Error(ErrorCode::kOutcomeUnknown, "injected unknown outcome");
    }
    const std::int64_t base = fire && fault_ == Fault::kGap ? head + 1 : head;
    std::vector<std::int64_t> versions;
    std::vector<const EventData*> published;
    for (std::int64_t i = 0; i < n; ++i) {
      store(stream, base + i + 1, events[static_cast<std::size_t>(i)], false);
      versions.push_back(base + i + 1);
      published.push_back(&events[static_cast<std::size_t>(i)]);
    }
    publish(stream, versions, published, feed_fires(published.size()));
    if (fire && fault_ == Fault::kGap) {
      ok.first_version = base + 1;
      ok.next_expected_version = base + n;
    }
    if (fire && fault_ == Fault::kDuplicate) store(stream, base + n + 1, events[0]);
    if (fire && fault_ == Fault::kInvent)
      store(stream, base + n + 1, EventData{Uuid::random(), "Invented", std::nullopt, std::nullopt, now_ms()});
    state_.just_appended[stream] = ok.next_expected_version;
    return ok;
  }

  Fault fault_;
  int every_;
  int count_ = 0;
  int stale_count_ = 0;
  int feed_count_ = 0;
  State state_;
};

}  // namespace

std::shared_ptr<Store> make_faulty_store(Fault fault, int every) { return std::make_shared<FaultyStore>(fault, every); }

}  // namespace historycheck

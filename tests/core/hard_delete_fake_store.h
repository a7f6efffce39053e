// A store for the personal data tests that has the lifecycle's hard delete whatever its inner
// store has: it keeps the hard-deleted streams itself and otherwise forwards to the inner store.
// As docs/lifecycle.md says of a hard delete: the stream then reads as its one "$hard-deleted"
// event, its head is that event's version, and every append, lifecycle change and snapshot save
// fails with kStreamDeleted. Only kHardDelete is emulated; the other changes are refused.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "eventstore/store.h"

namespace eventstore::testing {

class HardDeleteFakeStore final : public Store {
 public:
  explicit HardDeleteFakeStore(std::shared_ptr<Store> inner) : inner_(std::move(inner)) {}

  std::string describe() const override { return "hard-delete fake over " + inner_->describe(); }

  void append_async(const StreamId& stream, ExpectedVersion expected, std::vector<EventData> events,
                    AppendCallback callback) override {
    if (const auto version = deleted_at(stream)) return callback(Error::stream_deleted(*version, to_string(stream)));
    inner_->append_async(stream, expected, std::move(events), std::move(callback));
  }

  std::unique_ptr<EventCursor> read(const StreamId& stream, const ReadOptions& options) override {
    const auto version = deleted_at(stream);
    if (!version) return inner_->read(stream, options);
    RecordedEvent event{stream, *version, Uuid{}, kHardDeletedEventType, "{}", std::nullopt, now_ms()};
    const bool visible = !options.from || (options.direction == Direction::kForward ? *options.from <= *version
                                                                                    : *options.from >= *version);
    return std::make_unique<OnePage>(visible ? std::vector<RecordedEvent>{event} : std::vector<RecordedEvent>{});
  }

  void head_async(const StreamId& stream, HeadCallback callback) override {
    if (const auto version = deleted_at(stream)) return callback(*version);
    inner_->head_async(stream, std::move(callback));
  }

  void change_lifecycle_async(const StreamId& stream, LifecycleChange change, AppendCallback callback) override {
    if (change.kind != LifecycleKind::kHardDelete) return callback(Error::invalid("the fake has only hard deletes"));
    if (const auto version = deleted_at(stream)) return callback(Error::stream_deleted(*version, to_string(stream)));
    std::int64_t head = 0;
    try {
      head = inner_->head(stream);
    } catch (const Error& e) {
      return callback(e);
    }
    const std::int64_t version = head + 1;
    {
      std::lock_guard lock(mu_);
      deleted_[stream] = version;
    }
    callback(AppendResult{version, version, {change.event_id.value_or(Uuid::random())}});
  }

  void load_snapshot_async(const StreamId& stream, LoadCallback callback) override {
    if (deleted_at(stream)) return callback(std::optional<Snapshot>{});
    inner_->load_snapshot_async(stream, std::move(callback));
  }

  void save_snapshot_async(const StreamId& stream, Snapshot snapshot, SaveCallback callback) override {
    if (const auto version = deleted_at(stream)) return callback(Error::stream_deleted(*version, to_string(stream)));
    inner_->save_snapshot_async(stream, std::move(snapshot), std::move(callback));
  }

  // Hard deletes seen by this fake.
  std::size_t hard_deletes() const {
    std::lock_guard lock(mu_);
    return deleted_.size();
  }

 private:
  class OnePage final : public EventCursor {
   public:
    explicit OnePage(std::vector<RecordedEvent> events) : events_(std::move(events)) {}
    void next_page_async(PageCallback callback) override { callback(std::exchange(events_, {})); }

   private:
    std::vector<RecordedEvent> events_;
  };

  std::optional<std::int64_t> deleted_at(const StreamId& stream) const {
    std::lock_guard lock(mu_);
    const auto found = deleted_.find(stream);
    if (found == deleted_.end()) return std::nullopt;
    return found->second;
  }

  std::shared_ptr<Store> inner_;
  mutable std::mutex mu_;
  std::map<StreamId, std::int64_t> deleted_;
};

}  // namespace eventstore::testing

// The base of the decorators open_store puts around a backend (bounded_store.h,
// instrumented_store.h, retention_store.h): every method forwards to the inner store, and a
// decorator overrides what it changes.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "eventstore/store.h"

namespace eventstore::detail {

class ForwardingStore : public Store {
 public:
  explicit ForwardingStore(std::shared_ptr<Store> inner) : inner_(std::move(inner)) {}

  std::string describe() const override { return inner_->describe(); }
  void apply_schema(const SchemaOptions& options) override { inner_->apply_schema(options); }
  const std::shared_ptr<MetricsSink>& metrics_sink() const override { return inner_->metrics_sink(); }
  const std::shared_ptr<Tracer>& tracer() const override { return inner_->tracer(); }

  void append_async(const StreamId& stream, ExpectedVersion expected, std::vector<EventData> events,
                    AppendCallback callback) override {
    inner_->append_async(stream, expected, std::move(events), std::move(callback));
  }
  AppendResult append(const StreamId& stream, ExpectedVersion expected, std::vector<EventData> events) override {
    return inner_->append(stream, expected, std::move(events));
  }
  std::unique_ptr<EventCursor> read(const StreamId& stream, const ReadOptions& options) override {
    return inner_->read(stream, options);
  }
  void head_async(const StreamId& stream, HeadCallback callback) override {
    inner_->head_async(stream, std::move(callback));
  }
  void change_lifecycle_async(const StreamId& stream, LifecycleChange change, AppendCallback callback) override {
    inner_->change_lifecycle_async(stream, change, std::move(callback));
  }
  void load_snapshot_async(const StreamId& stream, LoadCallback callback) override {
    inner_->load_snapshot_async(stream, std::move(callback));
  }
  void save_snapshot_async(const StreamId& stream, Snapshot snapshot, SaveCallback callback) override {
    inner_->save_snapshot_async(stream, std::move(snapshot), std::move(callback));
  }
  void read_feed_async(const std::string& context, const FeedReadOptions& options, FeedPageCallback callback) override {
    inner_->read_feed_async(context, options, std::move(callback));
  }
  void feed_head_async(const std::string& context, PositionCallback callback) override {
    inner_->feed_head_async(context, std::move(callback));
  }
  void load_checkpoint_async(const std::string& context, const std::string& name,
                             CheckpointCallback callback) override {
    inner_->load_checkpoint_async(context, name, std::move(callback));
  }
  void save_checkpoint_async(const std::string& context, const std::string& name, std::int64_t position,
                             PositionCallback callback) override {
    inner_->save_checkpoint_async(context, name, position, std::move(callback));
  }
  void feed_status_async(const std::string& context, StatusCallback callback) override {
    inner_->feed_status_async(context, std::move(callback));
  }
  std::unique_ptr<FeedRelay> start_relay(const RelayOptions& options) override { return inner_->start_relay(options); }

 protected:
  Store& inner() const { return *inner_; }
  const std::shared_ptr<Store>& inner_ptr() const { return inner_; }

 private:
  const std::shared_ptr<Store> inner_;
};

}  // namespace eventstore::detail

// The blocking forms of EventStore, EventCursor and SnapshotStore: thin layers over the
// asynchronous ones.
#include "blocking.h"

#include "eventstore/event_store.h"
#include "eventstore/snapshot_store.h"

namespace eventstore {

std::vector<RecordedEvent> EventCursor::next_page() {
  return detail::wait_for<std::vector<RecordedEvent>>([this](auto done) { next_page_async(std::move(done)); });
}

AppendResult EventStore::append(const StreamId& stream, ExpectedVersion expected, std::vector<EventData> events) {
  return detail::wait_for<AppendResult>(
      [&](auto done) { append_async(stream, expected, std::move(events), std::move(done)); });
}

std::int64_t EventStore::head(const StreamId& stream) {
  return detail::wait_for<std::int64_t>([&](auto done) { head_async(stream, std::move(done)); });
}

AppendResult EventStore::change_lifecycle(const StreamId& stream, LifecycleChange change) {
  return detail::wait_for<AppendResult>([&](auto done) { change_lifecycle_async(stream, change, std::move(done)); });
}

AppendResult EventStore::truncate_stream(const StreamId& stream, std::int64_t before, ExpectedVersion expected) {
  return change_lifecycle(stream, LifecycleChange{LifecycleKind::kTruncate, before, expected, std::nullopt});
}

AppendResult EventStore::delete_stream(const StreamId& stream, bool hard, ExpectedVersion expected) {
  return change_lifecycle(stream, LifecycleChange{hard ? LifecycleKind::kHardDelete : LifecycleKind::kSoftDelete, 0,
                                                  expected, std::nullopt});
}

void EventStore::for_each(const StreamId& stream, const ReadOptions& options,
                          const std::function<void(const RecordedEvent&)>& visit) {
  std::unique_ptr<EventCursor> cursor = read(stream, options);
  for (;;) {
    std::vector<RecordedEvent> page = cursor->next_page();
    if (page.empty()) return;
    for (const RecordedEvent& event : page) visit(event);
  }
}

std::vector<RecordedEvent> EventStore::read_all(const StreamId& stream, const ReadOptions& options) {
  std::vector<RecordedEvent> events;
  for_each(stream, options, [&events](const RecordedEvent& e) { events.push_back(e); });
  return events;
}

std::optional<Snapshot> SnapshotStore::load_snapshot(const StreamId& stream) {
  return detail::wait_for<std::optional<Snapshot>>([&](auto done) { load_snapshot_async(stream, std::move(done)); });
}

SnapshotSaveResult SnapshotStore::save_snapshot(const StreamId& stream, Snapshot snapshot) {
  return detail::wait_for<SnapshotSaveResult>(
      [&](auto done) { save_snapshot_async(stream, std::move(snapshot), std::move(done)); });
}

}  // namespace eventstore

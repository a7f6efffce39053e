// FeedStore's blocking forms and defaults, and FeedFilter.
#include <algorithm>

#include "blocking.h"
#include "eventstore/feed.h"

namespace eventstore {
namespace {

Error no_feed() { return Error::invalid("this store keeps no feed"); }

bool listed(const std::vector<std::string>& names, const std::string& name) {
  return names.empty() || std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

bool FeedFilter::matches(const RecordedEvent& event) const {
  return listed(aggregate_types, event.stream.aggregate_type) &&
         (listed(event_types, event.event_type) || event.event_type.starts_with('$'));
}

void FeedStore::read_feed_async(const std::string&, const FeedReadOptions&, FeedPageCallback callback) {
  callback(no_feed());
}
void FeedStore::feed_head_async(const std::string&, PositionCallback callback) { callback(no_feed()); }
void FeedStore::load_checkpoint_async(const std::string&, const std::string&, CheckpointCallback callback) {
  callback(no_feed());
}
void FeedStore::save_checkpoint_async(const std::string&, const std::string&, std::int64_t, PositionCallback callback) {
  callback(no_feed());
}
void FeedStore::feed_status_async(const std::string&, StatusCallback callback) { callback(no_feed()); }
std::unique_ptr<FeedRelay> FeedStore::start_relay(const RelayOptions&) { return nullptr; }

FeedPage FeedStore::read_feed(const std::string& context, const FeedReadOptions& options) {
  return detail::wait_for<FeedPage>([&](auto done) { read_feed_async(context, options, std::move(done)); });
}

std::int64_t FeedStore::feed_head(const std::string& context) {
  return detail::wait_for<std::int64_t>([&](auto done) { feed_head_async(context, std::move(done)); });
}

std::optional<Checkpoint> FeedStore::load_checkpoint(const std::string& context, const std::string& name) {
  return detail::wait_for<std::optional<Checkpoint>>(
      [&](auto done) { load_checkpoint_async(context, name, std::move(done)); });
}

std::int64_t FeedStore::save_checkpoint(const std::string& context, const std::string& name, std::int64_t position) {
  return detail::wait_for<std::int64_t>(
      [&](auto done) { save_checkpoint_async(context, name, position, std::move(done)); });
}

FeedStatus FeedStore::feed_status(const std::string& context) {
  return detail::wait_for<FeedStatus>([&](auto done) { feed_status_async(context, std::move(done)); });
}

}  // namespace eventstore

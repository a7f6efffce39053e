// Retention policies and scavenge (include/eventstore/retention.h). Policies are events of a
// stream per aggregate type; scavenge is a truncate per stream at its retention floor.
#include "retention.h"

#include <algorithm>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

#include "eventstore/error.h"
#include "personal_data_crypto.h"
#include "validation.h"

namespace eventstore {
namespace detail {
namespace {

// The namespace of the policy streams' name-based UUIDs (a fixed random UUID: never change it,
// or every stored policy is lost).
constexpr std::array<std::uint8_t, 16> kRetentionNamespace{0x8e, 0x3b, 0x61, 0xd2, 0x0f, 0x47, 0x4a, 0x95,
                                                           0xb3, 0x1c, 0x5e, 0x7a, 0x26, 0xd8, 0x90, 0x4f};

RetentionPolicy parse_policy(const RecordedEvent& event) {
  const auto corrupt = [&](const std::string& why) {
    return Error(ErrorCode::kCorruption, "retention policy event " + to_string(event.stream) + " at version " +
                                             std::to_string(event.version) + " " + why);
  };
  const nlohmann::json data = nlohmann::json::parse(event.data.value_or("null"), nullptr, false);
  if (!data.is_object()) throw corrupt("has no JSON object as data");
  RetentionPolicy policy;
  if (const auto age = data.find("max_age_seconds"); age != data.end()) {
    if (!age->is_number_integer() || age->get<std::int64_t>() < 1 ||
        age->get<std::int64_t>() > kMaxRetentionAge.count())
      throw corrupt("has a bad max_age_seconds");
    policy.max_age = std::chrono::seconds(age->get<std::int64_t>());
  }
  if (const auto count = data.find("max_count"); count != data.end()) {
    if (!count->is_number_integer() || count->get<std::int64_t>() < 1) throw corrupt("has a bad max_count");
    policy.max_count = count->get<std::int64_t>();
  }
  return policy;
}

}  // namespace

std::optional<RetentionPolicy> policy_from_newest_first(const std::vector<RecordedEvent>& newest_first) {
  for (const RecordedEvent& event : newest_first) {
    if (event.event_type == kRetentionPolicyEventType) {
      RetentionPolicy policy = parse_policy(event);
      if (policy.empty()) return std::nullopt;
      return policy;
    }
    if (event.event_type == kDeletedEventType || event.event_type == kHardDeletedEventType) return std::nullopt;
    if (event.event_type != kTruncatedEventType)
      throw Error(ErrorCode::kCorruption, "retention policy stream " + to_string(event.stream) +
                                              " holds an event of type '" + event.event_type + "'");
  }
  return std::nullopt;
}

ReadOptions policy_read_options() {
  ReadOptions options;
  options.direction = Direction::kBackward;
  options.limit = kPolicyReadEvents;
  options.page_size = kPolicyReadEvents;
  return options;
}

std::int64_t count_floor(const RetentionPolicy& policy, std::int64_t head) {
  if (!policy.max_count) return 1;
  return std::max<std::int64_t>(1, head - *policy.max_count + 1);
}

std::optional<Timestamp> age_cutoff(const RetentionPolicy& policy, Timestamp now) {
  if (!policy.max_age) return std::nullopt;
  return now - std::chrono::duration_cast<std::chrono::milliseconds>(*policy.max_age);
}

}  // namespace detail

namespace {

// How often scavenge truncates one stream that keeps being appended to before it gives up on it.
constexpr int kScavengeAttempts = 3;

}  // namespace

StreamId retention_policy_stream(const std::string& context, const std::string& aggregate_type) {
  return StreamId{context, kRetentionAggregateType,
                  detail::name_uuid(Uuid(detail::kRetentionNamespace), aggregate_type)};
}

void validate_retention_policy(const std::string& context, const std::string& aggregate_type,
                               const RetentionPolicy& policy) {
  detail::validate_stream(StreamId{context, aggregate_type, Uuid::random()}, Limits{});
  if (aggregate_type.starts_with('$'))
    throw Error::invalid("aggregate type '" + aggregate_type + "' is reserved ('$'): it takes no retention policy");
  if (policy.max_age && (*policy.max_age < std::chrono::seconds(1) || *policy.max_age > kMaxRetentionAge))
    throw Error::invalid("a retention policy's max_age must be 1 second to 36500 days");
  if (policy.max_count && *policy.max_count < 1)
    throw Error::invalid("a retention policy's max_count must be at least 1");
}

AppendResult set_retention_policy(EventStore& store, const std::string& context, const std::string& aggregate_type,
                                  const RetentionPolicy& policy) {
  validate_retention_policy(context, aggregate_type, policy);
  nlohmann::json data = {{"aggregate_type", aggregate_type}};
  if (policy.max_age) data["max_age_seconds"] = policy.max_age->count();
  if (policy.max_count) data["max_count"] = *policy.max_count;
  EventData event;
  event.event_id = Uuid::random();
  event.event_type = kRetentionPolicyEventType;
  event.data = data.dump();
  return store.append(retention_policy_stream(context, aggregate_type), ExpectedVersion::any(), {std::move(event)});
}

std::optional<RetentionPolicy> retention_policy(EventStore& store, const std::string& context,
                                                const std::string& aggregate_type) {
  validate_retention_policy(context, aggregate_type);
  return detail::policy_from_newest_first(
      store.read_all(retention_policy_stream(context, aggregate_type), detail::policy_read_options()));
}

std::map<std::string, RetentionPolicy> retention_policies(Store& store, const std::string& context) {
  detail::validate_context(context, Limits{});
  std::set<std::string> types;
  FeedReadOptions options;
  options.limit = 10000;
  options.filter.aggregate_types = {kRetentionAggregateType};
  for (;;) {
    const FeedPage page = store.read_feed(context, options);
    for (const FeedEntry& entry : page.entries) {
      if (entry.event.event_type != kRetentionPolicyEventType || !entry.event.data) continue;
      const nlohmann::json data = nlohmann::json::parse(*entry.event.data, nullptr, false);
      if (data.is_object() && data.contains("aggregate_type") && data["aggregate_type"].is_string())
        types.insert(data["aggregate_type"].get<std::string>());
    }
    if (page.last_position == options.after) break;
    options.after = page.last_position;
  }
  std::map<std::string, RetentionPolicy> policies;
  for (const std::string& type : types) {
    if (type.empty() || type.starts_with('$')) continue;
    if (std::optional<RetentionPolicy> policy = retention_policy(store, context, type)) policies[type] = *policy;
  }
  return policies;
}

std::optional<ScavengedStream> scavenge_stream(EventStore& store, const StreamId& stream, const RetentionPolicy& policy,
                                               bool dry_run, Timestamp now) {
  const std::int64_t head = store.head(stream);
  if (head == 0 || policy.empty()) return std::nullopt;
  const std::optional<Timestamp> cutoff = detail::age_cutoff(policy, now);
  const std::int64_t count_floor = detail::count_floor(policy, head);

  // Scan from the oldest readable event while the events are expired by age: where the floor by
  // age lies, and whether a user event is among them.
  ReadOptions read;
  read.include_expired = true;
  std::unique_ptr<EventCursor> cursor = store.read(stream, read);
  std::int64_t first = 0;
  std::int64_t age_floor = 0;  // 0 until found
  bool expired_user_event = false;
  while (age_floor == 0) {
    const std::vector<RecordedEvent> page = cursor->next_page();
    if (page.empty()) break;
    for (const RecordedEvent& event : page) {
      if (first == 0) first = event.version;
      if (!cutoff || event.timestamp >= *cutoff) {
        age_floor = event.version;
        break;
      }
      if (event.event_type == kHardDeletedEventType) return std::nullopt;
      if (!event.event_type.starts_with('$')) expired_user_event = true;
    }
  }
  cursor.reset();
  if (first == 0) return std::nullopt;
  if (age_floor == 0) age_floor = head + 1;

  std::int64_t before = first;
  // By count the truncate keeps one event fewer than max_count before it: its own "$truncated"
  // event becomes the stream's last and counts. Only when the count hides something now, so
  // that the truncate's own event does not call for another truncate on the next run.
  if (count_floor > first) before = std::min(head + 1, count_floor + 1);
  // By age only when a user event expired: a stream whose expired events are all system events
  // (an idle stream's own "$truncated") is left alone.
  if (expired_user_event) before = std::max(before, age_floor);
  if (before <= first) return std::nullopt;

  ScavengedStream result{stream, first, before, head};
  if (dry_run) return result;
  try {
    store.truncate_stream(stream, before, ExpectedVersion::exact(head));
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kStreamDeleted) return std::nullopt;
    throw;
  }
  return result;
}

ScavengeReport scavenge(Store& store, const std::string& context, const ScavengeOptions& options) {
  detail::validate_context(context, Limits{});
  const Timestamp now = options.now.value_or(now_ms());
  std::map<std::string, RetentionPolicy> policies;
  if (options.aggregate_type) {
    std::optional<RetentionPolicy> policy = retention_policy(store, context, *options.aggregate_type);
    if (!policy)
      throw Error::invalid("aggregate type '" + *options.aggregate_type + "' has no retention policy in context '" +
                           context + "'");
    policies[*options.aggregate_type] = *policy;
  } else {
    policies = retention_policies(store, context);
  }
  ScavengeReport report;
  if (policies.empty()) return report;

  ScavengeProgress progress;
  const auto report_progress = [&] {
    if (options.on_progress) options.on_progress(progress);
  };
  progress.feed_head = store.feed_head(context);
  FeedReadOptions feed;
  feed.limit = 10000;
  feed.with_data = false;
  for (const auto& [type, policy] : policies) feed.filter.aggregate_types.push_back(type);
  std::set<StreamId> streams;
  for (;;) {
    const FeedPage page = store.read_feed(context, feed);
    for (const FeedEntry& entry : page.entries) streams.insert(entry.event.stream);
    if (page.last_position == feed.after) break;
    feed.after = page.last_position;
    progress.feed_position = feed.after;
    progress.streams_found = streams.size();
    report_progress();
  }
  progress.feed_position = std::max(progress.feed_head, feed.after);
  progress.streams_found = streams.size();
  report_progress();

  for (const StreamId& stream : streams) {
    const RetentionPolicy& policy = policies.at(stream.aggregate_type);
    ++report.streams_examined;
    for (int attempt = 1;; ++attempt) {
      try {
        if (std::optional<ScavengedStream> done = scavenge_stream(store, stream, policy, options.dry_run, now)) {
          ++report.streams_truncated;
          report.events_removed += done->removed();
          if (options.on_stream) options.on_stream(*done);
        }
        break;
      } catch (const Error& e) {
        if (e.code() != ErrorCode::kVersionConflict) throw;
        if (attempt >= kScavengeAttempts) {
          ++report.streams_busy;
          break;
        }
      }
    }
    ++progress.streams_done;
    report_progress();
  }
  return report;
}

}  // namespace eventstore

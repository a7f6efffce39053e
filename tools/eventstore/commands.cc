// append, read, head and snapshot show.
#include <algorithm>
#include <cstdio>
#include <limits>

#include "cli.h"
#include "core/json_text.h"
#include "event_lines.h"
#include "retry_hint.h"

namespace eventstore_cli {
namespace {

using eventstore::EventData;
using eventstore::ExpectedVersion;
using eventstore::StreamId;

std::string json_text(std::string_view text, std::string_view what, bool object_only) {
  const eventstore::detail::JsonText kind = eventstore::detail::classify_json_text(text);
  if (kind == eventstore::detail::JsonText::kInvalid)
    throw UsageError(std::string(what) + " is not valid JSON: " + std::string(text));
  if (object_only && kind != eventstore::detail::JsonText::kObject)
    throw UsageError(std::string(what) + " must be a JSON object, got: " + std::string(text));
  return std::string(text);
}

EventData from_flags(const AppendEvent& e, std::size_t index) {
  const std::string which = "--event " + std::to_string(index + 1) + " (" + e.type + ")";
  if (e.type.empty()) throw UsageError("--event " + std::to_string(index + 1) + ": the event type must not be empty");
  EventData event;
  event.event_type = e.type;
  if (e.data) event.data = json_text(*e.data, which + ": --data", false);
  if (e.metadata) event.metadata = json_text(*e.metadata, which + ": --metadata", true);
  if (e.event_id) {
    event.event_id = parse_uuid(*e.event_id, which + ": --event-id");
    if (event.event_id->is_nil()) throw UsageError(which + ": --event-id must not be the nil UUID");
  }
  return event;
}

// --event-ids of an events file: exactly one id per event; a line's own event_id must match.
void apply_event_ids(std::string_view list, std::vector<EventData>& events) {
  std::vector<std::string_view> ids;
  for (std::size_t start = 0;;) {
    const std::size_t comma = list.find(',', start);
    ids.push_back(list.substr(start, comma == std::string_view::npos ? comma : comma - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (ids.size() != events.size())
    throw UsageError("--event-ids has " + std::to_string(ids.size()) + " ids for " + std::to_string(events.size()) +
                     " events: give one per event, in order");
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const std::string which = "--event-ids: id " + std::to_string(i + 1);
    const eventstore::Uuid id = parse_uuid(ids[i], which);
    if (id.is_nil()) throw UsageError(which + " must not be the nil UUID");
    if (events[i].event_id && *events[i].event_id != id)
      throw UsageError(which + " differs from the event_id of event " + std::to_string(i + 1) + " in the file");
    events[i].event_id = id;
  }
}

}  // namespace

int run_append(const std::string& uri, const AppendArgs& args) {
  const StreamId stream = parse_stream(args.stream);
  const ExpectedVersion expected = parse_expected_version(args.expected_version);
  if (args.events_file && !args.events.empty())
    throw UsageError("give either --event groups or --events-file, not both");
  std::vector<EventData> events;
  if (args.event_ids && !args.events_file)
    throw UsageError("--event-ids goes with --events-file (use --event-id after each --event)");
  if (args.events_file) {
    events = read_events_file(*args.events_file);
    if (events.empty()) throw UsageError("the events file " + *args.events_file + " holds no events");
    if (args.event_ids) apply_event_ids(*args.event_ids, events);
  } else {
    for (std::size_t i = 0; i < args.events.size(); ++i) events.push_back(from_flags(args.events[i], i));
  }
  if (events.empty()) throw UsageError("append needs at least one --event TYPE (or --events-file FILE)");
  // What the store would refuse is refused before it is opened: bad input writes nothing.
  check_append(stream, expected, events);

  // The ids are drawn here rather than by the store so that an unknown outcome can print them:
  // a retry with the same ids is idempotent.
  RetryCommand retry{args.store_as_typed, args.password_file, args.stream, args.expected_version,
                     args.events,         args.events_file,   {}};
  const bool some_id_drawn =
      std::any_of(events.begin(), events.end(), [](const EventData& event) { return !event.event_id; });
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (!events[i].event_id) events[i].event_id = eventstore::Uuid::random();
    if (args.events_file && some_id_drawn) retry.event_ids.push_back(events[i].event_id->to_string());
    if (!args.events_file) retry.events[i].event_id = events[i].event_id->to_string();
  }

  const std::shared_ptr<eventstore::Store> store = eventstore::open_store(uri);
  eventstore::AppendResult result;
  try {
    result = store->append(stream, expected, std::move(events));
  } catch (const eventstore::Error& e) {
    if (e.code() == eventstore::ErrorCode::kOutcomeUnknown) throw ErrorWithHint(e, format_retry_hint(retry));
    if (e.code() != eventstore::ErrorCode::kVersionConflict) throw;
    const std::int64_t current = e.current_version().value_or(-1);
    throw eventstore::Error(eventstore::ErrorCode::kVersionConflict,
                            "version conflict on " + eventstore::to_string(stream) + ": expected version " +
                                expected.to_string() + ", current version " + std::to_string(current),
                            e.current_version());
  }
  nlohmann::ordered_json out;
  out["next_expected_version"] = result.next_expected_version;
  out["events"] = nlohmann::ordered_json::array();
  for (std::size_t i = 0; i < result.event_ids.size(); ++i) {
    nlohmann::ordered_json event;
    event["event_id"] = result.event_ids[i].to_string();
    event["event_version"] = result.first_version + static_cast<std::int64_t>(i);
    out["events"].push_back(std::move(event));
  }
  print_json_line(out);
  return 0;
}

int run_read(const std::string& uri, const ReadArgs& args) {
  const StreamId stream = parse_stream(args.stream);
  eventstore::ReadOptions options;
  options.direction = args.backward ? eventstore::Direction::kBackward : eventstore::Direction::kForward;
  const eventstore::Limits limits;
  if (args.from) options.from = parse_integer(*args.from, "--from", 1, limits.max_version);
  if (args.limit)
    options.limit =
        static_cast<std::uint64_t>(parse_integer(*args.limit, "--limit", 0, std::numeric_limits<std::int64_t>::max()));
  options.page_size = static_cast<std::uint32_t>(parse_integer(args.page_size, "--page-size", 1, 100000));

  const std::shared_ptr<eventstore::Store> store = eventstore::open_store(uri);
  if (options.limit && *options.limit == 0) return 0;
  // Page by page: memory stays bounded by --page-size and the default page byte budget (4 MiB),
  // whatever the stream's length.
  store->for_each(stream, options, [](const eventstore::RecordedEvent& event) { print_line(event_json_line(event)); });
  return 0;
}

int run_head(const std::string& uri, const StreamArgs& args) {
  const StreamId stream = parse_stream(args);
  const std::shared_ptr<eventstore::Store> store = eventstore::open_store(uri);
  std::printf("%lld\n", static_cast<long long>(store->head(stream)));
  return 0;
}

int run_snapshot_show(const std::string& uri, const StreamArgs& args) {
  const StreamId stream = parse_stream(args);
  const std::shared_ptr<eventstore::Store> store = eventstore::open_store(uri);
  const std::optional<eventstore::Snapshot> snapshot = store->load_snapshot(stream);
  if (!snapshot) {
    print_json_line(nullptr);
    return 0;
  }
  nlohmann::ordered_json out;
  out["snapshot_version"] = snapshot->version;
  out["snapshot_timestamp"] = eventstore::format_rfc3339(snapshot->timestamp);
  // The snapshot's data and metadata as stored, like read's event_data (stored_json_text).
  print_line(json_line_with(out, {{"snapshot_data", stored_json_text(snapshot->data)},
                                  {"snapshot_metadata", stored_json_text(snapshot->metadata)}}));
  return 0;
}

}  // namespace eventstore_cli

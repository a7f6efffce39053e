// The events of `append`: --events-file lines and the check of an append (event_lines.h).
#include "event_lines.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "core/json_text.h"
#include "core/validation.h"

namespace eventstore_cli {
namespace {

using eventstore::EventData;

// The library refuses data and metadata nested deeper than kMaxJsonDepth; a line is one level
// more. Deeper lines are refused before nlohmann::json builds them: its parser is iterative, but
// a line of a million '[' overflowed the stack when the data was re-serialised with dump(),
// which recurses once per level (docs/RELIABILITY.md, defect 8).
constexpr std::size_t kMaxLineDepth = eventstore::detail::kMaxJsonDepth + 1;

// A top-level member of a line: its key as JSON unescapes it, and the exact text of its value.
struct Member {
  std::string key;
  std::string_view value;
};

// The members of `line`, a JSON object the acceptor has accepted, in the order written. The
// values are the line's own text, so that data is stored as written: nlohmann::json would sort
// keys, keep only a repeated key's last value and round numbers (1.10 -> 1.1,
// 123456789012345678901234567890 -> 1.2345678901234568e+29, 1e-400 -> 0.0).
std::vector<Member> top_level_members(std::string_view line, const std::string& where) {
  std::vector<Member> members;
  for (const eventstore::detail::JsonMember& member : eventstore::detail::json_object_members(line)) {
    // The key's quoted text parsed as JSON: "event\u005fdata" is event_data.
    const nlohmann::json key = nlohmann::json::parse(member.quoted_key, nullptr, false);
    if (!key.is_string()) throw UsageError(where + ": not valid JSON");  // not reached: the line was accepted
    members.push_back(Member{key.get<std::string>(), member.value});
  }
  return members;
}

// One line of an events file (see parse_event_lines).
EventData from_line(const std::string& line, std::size_t number) {
  const std::string where = "events file line " + std::to_string(number);
  if (eventstore::detail::json_nests_deeper_than(line, kMaxLineDepth))
    throw UsageError(where + ": JSON nested deeper than " + std::to_string(eventstore::detail::kMaxJsonDepth) +
                     " levels (the limit of event_data and event_metadata)");
  // A BOM opening a line is not part of its JSON (editors write one at the start of a file).
  std::string_view json = line;
  if (json.starts_with("\xEF\xBB\xBF")) json.remove_prefix(3);
  // The store's acceptor decides what is JSON (core/json_text.h); nlohmann::json then gives the
  // types of the members, and the values stored are the line's text.
  const eventstore::detail::JsonText kind = eventstore::detail::classify_json_text(json, kMaxLineDepth);
  if (kind == eventstore::detail::JsonText::kInvalid) throw UsageError(where + ": not valid JSON");
  if (kind != eventstore::detail::JsonText::kObject) throw UsageError(where + ": not a JSON object");
  const nlohmann::json value = nlohmann::json::parse(json, nullptr, false);
  if (!value.is_object()) throw UsageError(where + ": not valid JSON");  // not reached: accepted above
  const std::vector<Member> members = top_level_members(json, where);
  // nlohmann::json keeps a repeated key's last value: which one was meant is not ours to guess.
  std::unordered_set<std::string_view> keys;
  for (const Member& member : members)
    if (!keys.insert(member.key).second) throw UsageError(where + ": key '" + member.key + "' appears twice");
  const auto text_of = [&](std::string_view key) {
    for (const Member& member : members)
      if (member.key == key) return std::string(member.value);
    throw UsageError(where + ": not valid JSON");  // not reached: the key was parsed
  };
  EventData event;
  for (const auto& [key, field] : value.items()) {
    if (key == "event_type") {
      if (!field.is_string() || field.get<std::string>().empty())
        throw UsageError(where + ": event_type must be a non-empty string");
      event.event_type = field.get<std::string>();
    } else if (key == "event_data") {
      if (!field.is_null()) event.data = text_of(key);
    } else if (key == "event_metadata") {
      if (field.is_null()) continue;
      if (!field.is_object()) throw UsageError(where + ": event_metadata must be a JSON object or null");
      event.metadata = text_of(key);
    } else if (key == "event_id") {
      if (field.is_null()) continue;
      if (!field.is_string()) throw UsageError(where + ": event_id must be a UUID string");
      event.event_id = parse_uuid(field.get<std::string>(), where + ": event_id");
      if (event.event_id->is_nil()) throw UsageError(where + ": event_id must not be the nil UUID");
    } else if (key != "bounded_context" && key != "aggregate_type" && key != "aggregate_id" && key != "event_version" &&
               key != "event_timestamp") {
      throw UsageError(where + ": unknown key '" + key +
                       "' (expected event_type, event_data, event_metadata, event_id)");
    }
  }
  if (event.event_type.empty()) throw UsageError(where + ": event_type is missing");
  return event;
}

}  // namespace

std::vector<EventData> parse_event_lines(std::istream& in) {
  std::vector<EventData> events;
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank line
    events.push_back(from_line(line, number));
  }
  return events;
}

std::vector<EventData> read_events_file(const std::string& path) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (path != "-") {
    file.open(path);
    if (!file) throw UsageError("cannot open events file " + path + ": " + std::strerror(errno));
    in = &file;
  }
  std::vector<EventData> events = parse_event_lines(*in);
  if (in->bad()) throw UsageError("cannot read events file " + path);
  return events;
}

void check_append(const eventstore::StreamId& stream, eventstore::ExpectedVersion expected,
                  const std::vector<EventData>& events) {
  std::vector<EventData> copy = events;  // prepare_append fills in ids and timestamps
  try {
    eventstore::detail::prepare_append(stream, expected, copy, eventstore::Limits{});
  } catch (const eventstore::Error& e) {
    if (e.code() != eventstore::ErrorCode::kInvalidArgument) throw;
    throw UsageError(e.what());
  }
}

}  // namespace eventstore_cli

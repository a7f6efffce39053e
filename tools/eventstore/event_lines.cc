// The events of `append`: --events-file lines and the check of an append (event_lines.h).
#include "event_lines.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string_view>

#include "core/validation.h"

namespace eventstore_cli {
namespace {

using eventstore::EventData;

// The library refuses data and metadata nested deeper than this (src/core/validation.cc); a
// line is one level more. Deeper lines are refused before nlohmann::json builds them: its
// parser is iterative, but dump() recurses once per level, and a line of a million '[' would
// overflow the stack.
constexpr std::size_t kMaxValueDepth = 512;
constexpr std::size_t kMaxLineDepth = kMaxValueDepth + 1;

// True if `text` opens more than `limit` arrays or objects inside each other (outside strings).
// Only bounds the depth: whether the text is JSON is for the parser to say.
bool nests_deeper_than(std::string_view text, std::size_t limit) {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

// One line of an events file (see parse_event_lines).
EventData from_line(const std::string& line, std::size_t number) {
  const std::string where = "events file line " + std::to_string(number);
  if (nests_deeper_than(line, kMaxLineDepth))
    throw UsageError(where + ": JSON nested deeper than " + std::to_string(kMaxValueDepth) +
                     " levels (the limit of event_data and event_metadata)");
  // nlohmann::json stops at a NUL byte as at the end of the input, so '{...}\0anything' would
  // parse; JSON never holds a raw NUL (strings escape it).
  if (line.find('\0') != std::string::npos) throw UsageError(where + ": not valid JSON");
  const nlohmann::json value = nlohmann::json::parse(line, nullptr, false);
  if (value.is_discarded()) throw UsageError(where + ": not valid JSON");
  if (!value.is_object()) throw UsageError(where + ": not a JSON object");
  EventData event;
  for (const auto& [key, field] : value.items()) {
    if (key == "event_type") {
      if (!field.is_string() || field.get<std::string>().empty())
        throw UsageError(where + ": event_type must be a non-empty string");
      event.event_type = field.get<std::string>();
    } else if (key == "event_data") {
      if (!field.is_null()) event.data = field.dump();
    } else if (key == "event_metadata") {
      if (field.is_null()) continue;
      if (!field.is_object()) throw UsageError(where + ": event_metadata must be a JSON object or null");
      event.metadata = field.dump();
    } else if (key == "event_id") {
      if (field.is_null()) continue;
      if (!field.is_string()) throw UsageError(where + ": event_id must be a UUID string");
      event.event_id = parse_uuid(field.get<std::string>(), where + ": event_id");
      if (event.event_id->is_nil()) throw UsageError(where + ": event_id must not be the nil UUID");
    } else if (key != "bounded_context" && key != "aggregate_type" && key != "aggregate_id" &&
               key != "event_version" && key != "event_timestamp") {
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

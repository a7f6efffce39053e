// libFuzzer harness: the JSON lines of `eventstore append --events-file`
// (tools/eventstore/event_lines.cc), the input being the whole file.
// Contract (docs/cli.md, tools/eventstore/event_lines.h): parse_event_lines returns events or
// throws the CLI's UsageError (exit code 2, one error line), never another exception, never a
// crash or undefined behaviour, whatever the bytes; the events it returns are well formed (and
// come from lines that are wholly JSON, with no top-level key twice); their data and metadata
// are the exact text of the line's member value (docs/RELIABILITY.md, defect 11); what
// check_append (the CLI's check before it opens a store) accepts is exactly what the library's
// own validation accepts; and an event printed the way `read` prints it parses back to the same
// event, its data less the whitespace outside strings, and a second round trip changes nothing
// (`read | append --events-file -` copies a stream).
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "core/validation.h"
#include "event_lines.h"

namespace {

using eventstore::EventData;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz_cli_lines: %s\n", what.c_str());
  std::abort();
}

std::vector<EventData> parse(const std::string& text, bool& refused, std::string& message) {
  std::istringstream in(text);
  refused = false;
  try {
    return eventstore_cli::parse_event_lines(in);
  } catch (const eventstore_cli::UsageError& e) {
    refused = true;
    message = e.what();
  } catch (const std::exception& e) {
    fail(std::string("an exception other than UsageError: ") + e.what());
  } catch (...) {
    fail("a non-standard exception");
  }
  return {};
}

// The lines parse_event_lines must turn into events: those with more than spaces, tabs and CR
// (std::getline: a last line without '\n' counts too).
std::vector<std::string> content_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (line.find_first_not_of(" \t\r") != std::string::npos) lines.push_back(std::move(line));
    start = end + 1;
  }
  return lines;
}

bool is_json_whitespace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// `stored` (data or metadata of an event from `line`) is the exact text of the member `key` of
// the line: a part of the line, without whitespace around it, the same JSON value as
// nlohmann::json reads for the member. (The line holds no repeated top-level key.)
void check_raw_member(const std::string& line, const nlohmann::json& parsed, const char* key,
                      const std::optional<std::string>& stored, std::size_t number) {
  const std::string which = "event " + std::to_string(number) + " " + key;
  const auto member = parsed.find(key);
  if (member == parsed.end() || member->is_null()) {
    if (stored) fail(which + " stored though the line has none: " + *stored);
    return;
  }
  if (!stored) fail(which + " lost");
  if (stored->empty() || is_json_whitespace(stored->front()) || is_json_whitespace(stored->back()))
    fail(which + " is not trimmed: '" + *stored + "'");
  if (line.find(*stored) == std::string::npos) fail(which + " is not text of the line: " + *stored);
  if (nlohmann::json::parse(*stored, nullptr, false) != *member)
    fail(which + " is another value than the line's: " + *stored);
}

// The top-level keys of `line` (an object nlohmann::json accepts), as written, unescaped.
std::vector<std::string> top_level_keys(const std::string& line) {
  std::vector<std::string> keys;
  const nlohmann::json::parser_callback_t collect = [&](int depth, nlohmann::json::parse_event_t event,
                                                        nlohmann::json& value) {
    if (event == nlohmann::json::parse_event_t::key && depth == 1) keys.push_back(value.get<std::string>());
    return true;
  };
  (void)nlohmann::json::parse(line, collect, false);
  return keys;
}

// Data and metadata are the text of their line as written; no line has a top-level key twice.
void check_as_written(const std::vector<std::string>& lines, const std::vector<EventData>& events) {
  for (std::size_t i = 0; i < events.size(); ++i) {
    const nlohmann::json parsed = nlohmann::json::parse(lines[i], nullptr, false);
    if (!parsed.is_object()) fail("accepted a line that is not a JSON object: " + lines[i]);
    std::vector<std::string> keys = top_level_keys(lines[i]);
    std::sort(keys.begin(), keys.end());
    if (std::adjacent_find(keys.begin(), keys.end()) != keys.end())
      fail("accepted a line with a repeated key: " + lines[i]);
    check_raw_member(lines[i], parsed, "event_data", events[i].data, i + 1);
    check_raw_member(lines[i], parsed, "event_metadata", events[i].metadata, i + 1);
  }
}

// The lines `read` prints for `events` (fixed timestamps, the events' ids or random ones).
std::string print(const std::vector<EventData>& events, const eventstore::StreamId& stream) {
  std::string printed;
  for (std::size_t i = 0; i < events.size(); ++i) {
    eventstore::RecordedEvent r;
    r.stream = stream;
    r.version = static_cast<std::int64_t>(i) + 1;
    r.event_id = events[i].event_id.value_or(eventstore::Uuid::random());
    r.event_type = events[i].event_type;
    r.data = events[i].data;
    r.metadata = events[i].metadata;
    r.timestamp = eventstore::Timestamp(std::chrono::milliseconds(1700000000000));
    printed += eventstore_cli::event_json_line(r);
    printed += '\n';
  }
  return printed;
}

// What read prints for stored JSON text: the text less the whitespace outside strings.
std::optional<std::string> printed_form(const std::optional<std::string>& stored) {
  if (!stored) return std::nullopt;
  return eventstore_cli::stored_json_text(stored);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool quiet = [] {
    eventstore::set_log_sink({});
    return true;
  }();
  (void)quiet;
  const std::string text(reinterpret_cast<const char*>(data), size);
  bool refused = false;
  std::string message;
  const std::vector<EventData> events = parse(text, refused, message);
  if (refused) {
    if (message.empty()) fail("a UsageError without a message");
    if (message.rfind("events file line ", 0) != 0) fail("a UsageError that names no line: " + message);
    return 0;
  }

  // Well formed: one event per non-blank line; a non-empty type; data JSON; metadata an object;
  // no nil id; nothing the CLI does not set (timestamps come from the store).
  const std::vector<std::string> lines = content_lines(text);
  if (events.size() != lines.size()) fail("not one event per non-blank line");
  // JSON holds no control character but its whitespace (strings escape them): a line that
  // does was not wholly read as JSON.
  for (const char c : text)
    if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\r' && c != '\t')
      fail("accepted a line holding the control character " + std::to_string(static_cast<int>(c)));
  for (const EventData& e : events) {
    if (e.event_type.empty()) fail("an event without a type");
    if (e.data && !nlohmann::json::accept(*e.data)) fail("data that is not JSON: " + *e.data);
    if (e.metadata && !nlohmann::json::parse(*e.metadata, nullptr, false).is_object())
      fail("metadata that is not a JSON object: " + *e.metadata);
    if (e.event_id && e.event_id->is_nil()) fail("a nil event id");
    if (e.timestamp) fail("a timestamp set by the parser");
  }
  check_as_written(lines, events);

  // check_append refuses (UsageError) exactly what the library refuses (kInvalidArgument).
  const eventstore::StreamId stream{"ctx", "Type", eventstore::Uuid::random()};
  for (const eventstore::ExpectedVersion expected :
       {eventstore::ExpectedVersion::any(), eventstore::ExpectedVersion::exact(2147483647 - 3)}) {
    bool cli_refused = false;
    std::string cli_message;
    try {
      eventstore_cli::check_append(stream, expected, events);
    } catch (const eventstore_cli::UsageError& e) {
      cli_refused = true;
      cli_message = e.what();
    } catch (const std::exception& e) {
      fail(std::string("check_append threw an exception other than UsageError: ") + e.what());
    }
    std::vector<EventData> prepared = events;
    bool library_refused = false;
    std::string library_message;
    try {
      eventstore::detail::prepare_append(stream, expected, prepared, eventstore::Limits{});
    } catch (const eventstore::Error& e) {
      if (e.code() != eventstore::ErrorCode::kInvalidArgument) fail(std::string("prepare_append: ") + e.what());
      library_refused = true;
      library_message = e.what();
    }
    if (cli_refused != library_refused || cli_message != library_message)
      fail("check_append and the library disagree: '" + cli_message + "' vs '" + library_message + "'");
  }

  // What `read` prints for these events parses back to the same events, data and metadata less
  // the whitespace outside strings; printed and parsed again, they do not change at all.
  const std::string printed = print(events, stream);
  const std::vector<EventData> again = parse(printed, refused, message);
  if (refused) fail("read's output of accepted events is refused: " + message);
  if (again.size() != events.size()) fail("read's output parses to a different number of events");
  for (std::size_t i = 0; i < events.size(); ++i) {
    const EventData& a = events[i];
    const EventData& b = again[i];
    if (a.event_type != b.event_type || printed_form(a.data) != b.data || printed_form(a.metadata) != b.metadata ||
        (a.event_id && a.event_id != b.event_id))
      fail("event " + std::to_string(i + 1) + " changes through read | append: data '" + a.data.value_or("(none)") +
           "' -> '" + b.data.value_or("(none)") + "'");
    // The printed form holds no whitespace outside strings and is the same JSON value.
    for (const auto& [before, after] : {std::pair{&a.data, &b.data}, std::pair{&a.metadata, &b.metadata}}) {
      if (!*after) continue;
      bool in_string = false;
      for (std::size_t k = 0; k < (*after)->size(); ++k) {
        const char c = (**after)[k];
        if (in_string && c == '\\') ++k;
        else if (c == '"') in_string = !in_string;
        else if (!in_string && is_json_whitespace(c)) fail("read printed whitespace outside strings: " + **after);
      }
      if (nlohmann::json::parse(**before, nullptr, false) != nlohmann::json::parse(**after, nullptr, false))
        fail("read printed another JSON value: '" + **before + "' -> '" + **after + "'");
    }
  }
  check_as_written(content_lines(printed), again);
  std::vector<EventData> copied = again;
  for (std::size_t i = 0; i < copied.size(); ++i)
    if (!copied[i].event_id) copied[i].event_id = eventstore::Uuid::random();
  const std::string reprinted = print(copied, stream);
  const std::vector<EventData> third = parse(reprinted, refused, message);
  if (refused) fail("read's output of copied events is refused: " + message);
  if (third.size() != copied.size()) fail("a second round trip changes the number of events");
  for (std::size_t i = 0; i < copied.size(); ++i)
    if (third[i].event_type != copied[i].event_type || third[i].data != copied[i].data ||
        third[i].metadata != copied[i].metadata || third[i].event_id != copied[i].event_id)
      fail("event " + std::to_string(i + 1) + " changes in a second round trip: data '" +
           copied[i].data.value_or("(none)") + "' -> '" + third[i].data.value_or("(none)") + "'");
  return 0;
}

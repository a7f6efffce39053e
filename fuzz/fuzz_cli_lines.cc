// libFuzzer harness: the JSON lines of `eventstore append --events-file`
// (tools/eventstore/event_lines.cc), the input being the whole file.
// Contract (docs/cli.md, tools/eventstore/event_lines.h): parse_event_lines returns events or
// throws the CLI's UsageError (exit code 2, one error line), never another exception, never a
// crash or undefined behaviour, whatever the bytes; the events it returns are well formed (and
// come from lines that are wholly JSON); what
// check_append (the CLI's check before it opens a store) accepts is exactly what the library's
// own validation accepts; and an event printed the way `read` prints it parses back to the same
// event (`read | append --events-file -` copies a stream).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
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

// The number of lines parse_event_lines must turn into events: those with more than spaces,
// tabs and CR (std::getline: a last line without '\n' counts too).
std::size_t content_lines(const std::string& text) {
  std::size_t count = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (text.substr(start, end - start).find_first_not_of(" \t\r") != std::string::npos) ++count;
    start = end + 1;
  }
  return count;
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
  if (events.size() != content_lines(text)) fail("not one event per non-blank line");
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

  // What `read` prints for these events parses back to the same events.
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
    printed += eventstore_cli::event_to_json(r).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    printed += '\n';
  }
  const std::vector<EventData> again = parse(printed, refused, message);
  if (refused) fail("read's output of accepted events is refused: " + message);
  if (again.size() != events.size()) fail("read's output parses to a different number of events");
  for (std::size_t i = 0; i < events.size(); ++i) {
    const EventData& a = events[i];
    const EventData& b = again[i];
    if (a.event_type != b.event_type || a.data != b.data || a.metadata != b.metadata ||
        (a.event_id && a.event_id != b.event_id))
      fail("event " + std::to_string(i + 1) + " changes through read | append: data '" + a.data.value_or("(none)") +
           "' -> '" + b.data.value_or("(none)") + "'");
  }
  return 0;
}

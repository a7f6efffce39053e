// The events of `append`: the lines of --events-file, and the check of a whole append before
// the store is opened. Kept apart from the commands so that a fuzzer links it on its own
// (fuzz/fuzz_cli_lines.cc); it needs only the library and util.cc.
#pragma once

#include <istream>
#include <string>
#include <vector>

#include "cli.h"

namespace eventstore_cli {

// The lines of an events file: one JSON object per line with event_type and optional
// event_data, event_metadata and event_id; the other keys `read` prints are accepted and
// ignored, so `read | append --events-file -` copies a stream. Data and metadata are the exact
// text of their member's value in the line (not re-serialised); a top-level key given twice is
// an error. Lines of only spaces, tabs and CR are skipped. Throws UsageError naming the line
// ("events file line N: ..."); never another exception type.
std::vector<eventstore::EventData> parse_event_lines(std::istream& in);

// parse_event_lines of FILE, or of stdin for "-"; UsageError if it cannot be opened or read.
std::vector<eventstore::EventData> read_events_file(const std::string& path);

// Checks an append as the store will check it (the library's validation with the default
// Limits, which is what the CLI opens stores with), so that invalid input fails before the
// store is opened: UsageError with the library's message.
void check_append(const eventstore::StreamId& stream, eventstore::ExpectedVersion expected,
                  const std::vector<eventstore::EventData>& events);

}  // namespace eventstore_cli

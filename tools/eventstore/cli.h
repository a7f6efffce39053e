// Shared pieces of the eventstore command-line tool: input validation, JSON output and the
// commands. Every command validates all of its input before it opens the store, so bad input
// writes nothing (not even a new SQLite file).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "eventstore/eventstore.h"

namespace eventstore_cli {

// Invalid input or usage: exit code 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A store error followed by lines that say how to recover (main prints the one error line
// first, then `hint`, which ends in a newline).
class ErrorWithHint : public eventstore::Error {
 public:
  ErrorWithHint(const eventstore::Error& error, std::string hint) : eventstore::Error(error), hint_(std::move(hint)) {}
  const std::string& hint() const noexcept { return hint_; }

 private:
  std::string hint_;
};

// The identity options shared by append, read, head and snapshot show (as typed).
struct StreamArgs {
  std::string context;
  std::string type;
  std::string id;
};

// Validates the three parts (UUID syntax, non-empty names); throws UsageError.
eventstore::StreamId parse_stream(const StreamArgs& args);
// A decimal integer in [min, max]; throws UsageError naming `what`.
std::int64_t parse_integer(std::string_view text, std::string_view what, std::int64_t min, std::int64_t max);
// "any", "no-stream" or a version >= 0.
eventstore::ExpectedVersion parse_expected_version(std::string_view text);
// A UUID in canonical form; throws UsageError naming `what`.
eventstore::Uuid parse_uuid(std::string_view text, std::string_view what);

// Output lines. Stored data and metadata are printed as stored, not re-serialised (which would
// sort keys and round numbers): see stored_json_text.
//
// `value` as one line of JSON; invalid UTF-8 in its strings is replaced (U+FFFD).
std::string json_line(const nlohmann::ordered_json& value);
// Stored JSON text as the JSON value printed for it: "null" when absent; the text itself when it
// is valid JSON, less the whitespace outside strings (so that it fits on one line; a leading BOM
// is dropped too); otherwise (text written by another tool) the text as a JSON string.
std::string stored_json_text(const std::optional<std::string>& text);
// The object `fields` as one line, followed by the members `raw`, whose values are JSON text
// already (from stored_json_text).
std::string json_line_with(const nlohmann::ordered_json& fields,
                           std::initializer_list<std::pair<std::string_view, std::string>> raw);
// One read result as the contract's JSON line (keys in the documented order, no newline), after
// the members of `leading` (a feed entry's position); without event_data and event_metadata when
// `with_data` is false.
std::string event_json_line(const eventstore::RecordedEvent& event,
                            nlohmann::ordered_json leading = nlohmann::ordered_json::object(), bool with_data = true);
// Writes `line` and a newline on stdout.
void print_line(std::string line);
// Writes json_line(value) as one line on stdout.
void print_json_line(const nlohmann::ordered_json& value);

// True when both stdin and stderr are terminals: a destructive command may ask there.
bool on_a_terminal();

// Asks `question` on stderr and reads the answer from stdin; true for "y", "Y" or "yes".
bool confirmed(const std::string& question);

// Messages printed by the tool pass through here: any password of the store URI is replaced
// by "***", also if a backend's message would quote it.
void set_secret_source(std::string_view store_uri);
// Also a password given apart from any URI (--password-file, SCYLLA_PASSWORD), as typed and
// percent-encoded.
void add_secret(std::string_view password);
std::string scrub(std::string message);
// The first line of the file at `path` without its line end (\n or \r\n): the password of
// --password-file. UsageError naming the path if the file cannot be read or the line is empty.
std::string read_password_file(const std::string& path);
std::string printable_uri(std::string_view uri);
// "scylla", "sqlite" or "memory" by the URI's scheme; "unknown" for another.
std::string backend_name(std::string_view uri);

// ---- Commands: each returns the process exit code on success (0); errors are thrown. ------
struct AppendEvent {
  std::string type;
  std::optional<std::string> data;
  std::optional<std::string> metadata;
  std::optional<std::string> event_id;
};
struct AppendArgs {
  StreamArgs stream;
  std::string expected_version;
  std::vector<AppendEvent> events;         // from --event groups
  std::optional<std::string> events_file;  // or from a file, "-" for stdin
  std::optional<std::string> event_ids;    // with events_file: "ID,ID,...", one per event
  // For the retry command printed after an unknown outcome (retry_hint.h).
  std::optional<std::string> store_as_typed;  // none when the store came from the environment
  std::optional<std::string> password_file;
};
int run_append(const std::string& uri, const AppendArgs& args);

struct ReadArgs {
  StreamArgs stream;
  std::optional<std::string> from;
  std::optional<std::string> limit;
  std::string page_size = "1000";
  bool backward = false;
};
int run_read(const std::string& uri, const ReadArgs& args);
int run_head(const std::string& uri, const StreamArgs& args);
int run_snapshot_show(const std::string& uri, const StreamArgs& args);

struct DemoArgs {
  std::string orders = "100";
  std::string snapshot_every = "10";
  bool quiet = false;
  std::optional<std::string> metrics_listen;  // HOST:PORT (metrics_listen.h)
};
int run_demo(const std::string& uri, const DemoArgs& args);
// The demo's lifecycle section (demo_lifecycle.cc): order `id` of context "demo_lifecycle" is
// created, truncated below its snapshot, soft-deleted, then hard-deleted, each step printed and
// checked. Throws eventstore::Error (kInternal when a step does not do what it must).
void print_demo_lifecycle(const std::shared_ptr<eventstore::Store>& store, const eventstore::Uuid& id);

// relay (relay.cc): runs the feed's relay of one context until SIGINT/SIGTERM.
struct RelayArgs {
  std::string context;
  std::optional<std::string> lease_ms;
  std::optional<std::string> poll_ms;
  std::optional<std::string> metrics_listen;  // HOST:PORT (metrics_listen.h)
};
int run_relay(const std::string& uri, const RelayArgs& args);

// health (health.cc): one JSON line; exit code 0 when healthy, 1 when not.
struct HealthArgs {
  std::string timeout = "5s";  // seconds ("5", "2.5", "5s") or milliseconds ("500ms")
};
int run_health(const std::string& uri, const HealthArgs& args);

}  // namespace eventstore_cli

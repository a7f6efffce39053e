// What `append` prints after an unknown outcome (exit code 6): the command that retries it with
// the same event ids, so that an append that did land is recognised and not written twice.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli.h"

namespace eventstore_cli {

struct RetryCommand {
  std::optional<std::string> store;          // --store as typed; none when it came from the environment
  std::optional<std::string> password_file;  // --password-file as typed
  StreamArgs stream;
  std::string expected_version;            // as typed
  std::vector<AppendEvent> events;         // the --event groups, each with its event_id set
  std::optional<std::string> events_file;  // or the --events-file as typed ("-" = stdin)
  std::vector<std::string> event_ids;      // with events_file: every event's id in file order,
                                           // empty when every line has its own event_id
};

// `word` as one shell word: unchanged when it holds only characters no shell treats specially,
// else in single quotes ('\'' for a quote inside).
std::string shell_quote(std::string_view word);

// The lines printed on stderr after the error line, each ending in a newline: an explanation
// starting "eventstore: hint:", then the retry command on its own line indented by two spaces.
// The store URI's password is left out of the command (a line says where to give it instead):
// the hint never holds a password.
std::string format_retry_hint(const RetryCommand& command);

}  // namespace eventstore_cli

#include "retry_hint.h"

#include "core/store_uri.h"

namespace eventstore_cli {

std::string shell_quote(std::string_view word) {
  const bool plain = !word.empty() && word.find_first_not_of(
                                          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                          "0123456789_@%+=:,./-") == std::string_view::npos;
  if (plain) return std::string(word);
  std::string quoted = "'";
  for (const char c : word) {
    if (c == '\'') quoted += "'\\''";
    else quoted.push_back(c);
  }
  return quoted + "'";
}

std::string format_retry_hint(const RetryCommand& command) {
  std::vector<std::string> words = {"eventstore"};
  auto add = [&words](std::string_view option, std::string_view value) {
    words.emplace_back(option);
    words.push_back(shell_quote(value));
  };
  bool password_left_out = false;
  if (command.store) {
    const std::string store = eventstore::detail::without_password(*command.store);
    password_left_out = store != *command.store;
    add("--store", store);
  }
  if (command.password_file) add("--password-file", *command.password_file);
  words.emplace_back("append");
  add("--context", command.stream.context);
  add("--type", command.stream.type);
  add("--id", command.stream.id);
  add("--expected-version", command.expected_version);
  for (const AppendEvent& event : command.events) {
    add("--event", event.type);
    if (event.data) add("--data", *event.data);
    if (event.metadata) add("--metadata", *event.metadata);
    if (event.event_id) add("--event-id", *event.event_id);
  }
  if (command.events_file) {
    add("--events-file", *command.events_file);
    if (!command.event_ids.empty()) {
      std::string ids;
      for (const std::string& id : command.event_ids) ids += (ids.empty() ? "" : ",") + id;
      add("--event-ids", ids);
    }
  }
  std::string line = " ";
  for (const std::string& word : words) line += " " + word;

  std::string hint =
      "eventstore: hint: the append may or may not have been applied; this command retries it with the same "
      "event ids (an append that was applied is recognised, not written twice):\n" +
      line + "\n";
  if (command.events_file && *command.events_file == "-")
    hint += "eventstore: hint: give it the same events on stdin\n";
  if (password_left_out)
    hint +=
        "eventstore: hint: the password is left out of --store: give it with --password-file FILE or SCYLLA_PASSWORD\n";
  return hint;
}

}  // namespace eventstore_cli

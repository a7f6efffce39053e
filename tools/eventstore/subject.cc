// eventstore subject forget: erases a data subject's personal data by deleting its key
// (docs/erasure.md). Destructive: asks on a terminal, else needs --yes; prints what it did as one
// JSON line. Needs no key-encryption key: it hard-deletes the subject's key stream.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli.h"
#include "command_line.h"
#include "eventstore/personal_data.h"

namespace eventstore_cli {
namespace {

struct SubjectForgetArgs {
  std::string subject;
  bool yes = false;
};

bool confirmed(const std::string& subject, const eventstore::StreamId& stream) {
  std::fprintf(stderr,
               "Forget subject '%s'? Its key (stream %s) is deleted for good: every personal field of it, in\n"
               "every event, snapshot and backup, can never be read again. Type 'yes' to go on: ",
               subject.c_str(), eventstore::to_string(stream).c_str());
  std::fflush(stderr);
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "yes";
}

int run_subject_forget(const std::string& uri, const SubjectForgetArgs& args) {
  if (args.subject.empty()) throw UsageError("--subject must not be empty");
  const eventstore::StreamId stream = eventstore::subject_key_stream(args.subject);
  if (!args.yes) {
    if (::isatty(STDIN_FILENO) != 1)
      throw UsageError("subject forget is destructive: give --yes (stdin is not a terminal to ask on)");
    if (!confirmed(args.subject, stream)) {
      std::fprintf(stderr, "eventstore: nothing done\n");
      return 1;
    }
  }
  const std::shared_ptr<eventstore::Store> store = eventstore::open_store(uri);
  const eventstore::ForgetResult result = eventstore::forget_subject(*store, args.subject);
  nlohmann::ordered_json line;
  line["subject"] = args.subject;
  line["outcome"] = std::string(eventstore::to_string(result.outcome));
  line["key_stream"] = eventstore::to_string(stream);
  line["detail"] = result.detail;
  print_json_line(line);
  return 0;
}

}  // namespace

void add_subject_commands(CLI::App& app, std::vector<Command>& commands) {
  auto args = std::make_shared<SubjectForgetArgs>();
  CLI::App* subject = app.add_subcommand("subject", "Personal data of data subjects (docs/erasure.md)");
  CLI::App* forget = subject->add_subcommand(
      "forget", "Erase a subject's personal data for good by deleting its key (crypto-shredding)");
  forget->add_option("--subject", args->subject, "The subject id, as in the events' subject field")
      ->type_name("ID")
      ->required();
  forget->add_flag("--yes", args->yes, "Do not ask (required when stdin is not a terminal)");
  forget->footer(
      "Prints one JSON line: subject, outcome (key_deleted, no_key: it never had a key and can now\n"
      "never get one, already_forgotten), key_stream, detail. Loads then give the placeholder \"[erased]\"\n"
      "for its fields; copies outside the store (read models, exports) are not touched: docs/erasure.md.\n"
      "Example:\n  eventstore subject forget --subject 6f1c0e52-3a8b-4d2e-9f57-0b1d2c3e4f50 --yes");
  commands.push_back({subject, {}, "subject needs a command: forget (run 'eventstore subject --help')"});
  commands.push_back({forget, [args](const StoreChoice& store) { return run_subject_forget(store.uri, *args); }, {}});
}

}  // namespace eventstore_cli

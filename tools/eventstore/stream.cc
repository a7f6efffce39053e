// eventstore stream delete | truncate: the stream lifecycle (docs/lifecycle.md) from the command
// line. Both are destructive: they ask on a terminal, or need --yes.
#include <cstdio>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "cli.h"
#include "command_line.h"

namespace eventstore_cli {
namespace {

using eventstore::ErrorCode;
using eventstore::LifecycleChange;
using eventstore::LifecycleKind;
using eventstore::StreamId;

struct LifecycleArgs {
  StreamArgs stream;
  bool hard = false;                     // delete only
  std::optional<std::string> before;     // truncate only
  std::string expected_version = "any";  // as typed
  std::optional<std::string> event_id;   // for a retry after an unknown outcome
  bool yes = false;
};

std::string describe(const LifecycleChange& change, std::int64_t head) {
  const std::string upto = std::to_string(change.kind == LifecycleKind::kTruncate ? change.before - 1 : head);
  switch (change.kind) {
    case LifecycleKind::kTruncate: return "hide and remove its events 1.." + upto;
    case LifecycleKind::kSoftDelete: return "delete it (its events 1.." + upto + " are removed; appends may continue)";
    case LifecycleKind::kHardDelete:
      return "hard-delete it (its events 1.." + upto + " are removed and it can never be written again)";
  }
  return "";
}

int run_lifecycle(const std::string& uri, const LifecycleArgs& args, LifecycleChange change, const std::string& name) {
  const StreamId stream = parse_stream(args.stream);
  change.expected = parse_expected_version(args.expected_version);
  change.event_id = args.event_id ? parse_uuid(*args.event_id, "--event-id") : eventstore::Uuid::random();
  if (change.kind == LifecycleKind::kTruncate && !change.expected.is_any() &&
      change.before > change.expected.version() + 1)
    throw UsageError("--before " + std::to_string(change.before) + " is above --expected-version " +
                     args.expected_version + " + 1");

  // Refused before the store is opened: no new SQLite file either.
  if (!args.yes && !on_a_terminal())
    throw UsageError(name + " is destructive: add --yes to run it without a terminal to confirm on");

  const std::shared_ptr<eventstore::Store> store = eventstore::open_store(uri);
  if (!args.yes) {
    const std::int64_t head = store->head(stream);
    if (!confirmed("Stream " + eventstore::to_string(stream) + " is at version " + std::to_string(head) + ": " +
                   describe(change, head) + "?")) {
      std::fprintf(stderr, "eventstore: nothing done\n");
      return 1;
    }
  }
  eventstore::AppendResult result;
  try {
    result = store->change_lifecycle(stream, change);
  } catch (const eventstore::Error& e) {
    if (e.code() != ErrorCode::kOutcomeUnknown) throw;
    throw ErrorWithHint(e,
                        "eventstore: hint: the change may or may not have been applied; run the same command "
                        "again with --event-id " +
                            change.event_id->to_string() +
                            " (a change that was applied is recognised, not made twice)\n");
  }
  nlohmann::ordered_json out;
  out["operation"] = name.substr(std::string("stream ").size());
  if (change.kind == LifecycleKind::kTruncate) out["before"] = change.before;
  out["event_version"] = result.first_version;
  out["event_id"] = result.event_ids.at(0).to_string();
  out["next_expected_version"] = result.next_expected_version;
  print_json_line(out);
  return 0;
}

void add_common_options(CLI::App* command, LifecycleArgs& args) {
  add_stream_options(command, args.stream);
  command
      ->add_option("--expected-version", args.expected_version,
                   "Change only if the stream is at this version: N, no-stream or any (default any)")
      ->type_name("V");
  command->add_option("--event-id", args.event_id, "The system event's id: to retry after an unknown outcome (exit 6)")
      ->type_name("UUID");
  command->add_flag("--yes", args.yes, "Do not ask for confirmation (needed without a terminal)");
}

}  // namespace

void add_retention_commands(CLI::App& app, CLI::App* stream, std::vector<Command>& commands);  // retention.cc

void add_stream_commands(CLI::App& app, std::vector<Command>& commands) {
  CLI::App* stream =
      app.add_subcommand("stream", "Delete or truncate a stream; retention policies (docs/lifecycle.md)");
  stream->footer(
      "Each change appends one system event ($truncated, $deleted or $hard-deleted) under the same\n"
      "rules as an append, and removes the events it hides. Examples:\n"
      "  eventstore stream truncate --context shop --type order --id 0de30000-0000-8000-8000-000000000001 --before 90\n"
      "  eventstore stream delete --context shop --type order --id 0de30000-0000-8000-8000-000000000001 --hard --yes");
  commands.push_back(
      {stream, {}, "stream needs a command: delete, truncate or retention (run 'eventstore stream --help')"});

  auto delete_args = std::make_shared<LifecycleArgs>();
  CLI::App* remove = stream->add_subcommand("delete", "Delete a stream: it reads as its $deleted event from then on");
  add_common_options(remove, *delete_args);
  remove->add_flag("--hard", delete_args->hard,
                   "Hard delete: the stream can never be written again (appends fail with exit code 7)");
  remove->footer(
      "A soft delete hides and removes every event; the stream keeps its version, and an append at\n"
      "that version (or any) continues it. A hard delete also refuses every later write.\n"
      "Prints {\"operation\",\"event_version\",\"event_id\",\"next_expected_version\"}.\n"
      "Example:\n"
      "  eventstore stream delete --context shop --type order --id 0de30000-0000-8000-8000-000000000001 --yes");
  commands.push_back({remove,
                      [delete_args](const StoreChoice& store) {
                        LifecycleChange change;
                        change.kind = delete_args->hard ? LifecycleKind::kHardDelete : LifecycleKind::kSoftDelete;
                        return run_lifecycle(store.uri, *delete_args, change, "stream delete");
                      },
                      {}});

  auto truncate_args = std::make_shared<LifecycleArgs>();
  CLI::App* truncate =
      stream->add_subcommand("truncate", "Hide and remove the events below a version; the rest stays readable");
  add_common_options(truncate, *truncate_args);
  truncate->add_option("--before", truncate_args->before, "The first version that stays: 1..head + 1")
      ->type_name("N")
      ->required();
  truncate->footer(
      "Truncate below the latest snapshot (eventstore snapshot show) so that the aggregate still loads.\n"
      "Prints {\"operation\",\"before\",\"event_version\",\"event_id\",\"next_expected_version\"}.\n"
      "Example:\n"
      "  eventstore stream truncate --context shop --type order --id 0de30000-0000-8000-8000-000000000001 "
      "--before 90 --yes");
  commands.push_back({truncate,
                      [truncate_args](const StoreChoice& store) {
                        LifecycleChange change;
                        change.kind = LifecycleKind::kTruncate;
                        change.before =
                            parse_integer(*truncate_args->before, "--before", 1, eventstore::Limits{}.max_version);
                        return run_lifecycle(store.uri, *truncate_args, change, "stream truncate");
                      },
                      {}});

  add_retention_commands(app, stream, commands);
}

}  // namespace eventstore_cli

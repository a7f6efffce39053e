// The eventstore tool's command line: one function per command registers its options, help text
// and examples on the CLI11 app (docs/cli.md is the contract) and answers how to run it once the
// store is settled.
//
// Invariants: a command's options are bound to values its Command owns, so they live as long as
// the Command; `run` validates everything it was given before it opens the store.
// Errors: the add_* functions throw nothing the user can cause; `run` throws UsageError (exit
// code 2), ErrorWithHint or eventstore::Error (cli.h) like the run_* functions it calls.
// Thread safety: single-threaded, like CLI11 itself.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace eventstore_cli {

struct StreamArgs;

// The store a command runs on, as settled by main from --store, --password-file and the
// environment (docs/cli.md).
struct StoreChoice {
  std::string uri;                           // complete, with the password when there is one
  std::optional<std::string> as_typed;       // --store as typed; none when it came from the environment
  std::optional<std::string> password_file;  // --password-file as typed
};

// One command, or a group of commands (snapshot, feed, schema).
struct Command {
  CLI::App* app = nullptr;
  // Runs the command; empty for a group, which only holds commands.
  std::function<int(const StoreChoice&)> run;
  // For a group: the usage error when the command line names the group but none of its commands.
  std::string without_command;
};

// Each registers one top-level command (or group) on `app` and appends what it registered to
// `commands`, a group before its commands.
void add_append_command(CLI::App& app, std::vector<Command>& commands);
void add_read_command(CLI::App& app, std::vector<Command>& commands);
void add_head_command(CLI::App& app, std::vector<Command>& commands);
void add_snapshot_commands(CLI::App& app, std::vector<Command>& commands);  // snapshot show
void add_demo_command(CLI::App& app, std::vector<Command>& commands);
void add_schema_commands(CLI::App& app, std::vector<Command>& commands);  // schema apply
void add_feed_commands(CLI::App& app, std::vector<Command>& commands);    // feed read, feed status
void add_subscribe_command(CLI::App& app, std::vector<Command>& commands);
void add_relay_command(CLI::App& app, std::vector<Command>& commands);
void add_health_command(CLI::App& app, std::vector<Command>& commands);
void add_stream_commands(CLI::App& app, std::vector<Command>& commands);  // stream delete, truncate (stream.cc)

// --context, --type and --id, required, bound to `args`.
void add_stream_options(CLI::App* command, StreamArgs& args);

// "eventstore <version> (backends: memory, sqlite[, scylla])": scylla only when this build has
// the cluster backend. Scripts read it to learn what the binary can open.
std::string version_line();

}  // namespace eventstore_cli

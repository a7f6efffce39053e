// eventstore: the command-line tool. A stable contract for scripts: JSON lines on stdout, one
// error line on stderr, documented exit codes (docs/cli.md).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench.h"
#include "cli.h"
#include "command_line.h"
#include "core/store_uri.h"

namespace eventstore_cli {
void add_subject_commands(CLI::App& app, std::vector<Command>& commands);  // subject.cc
namespace {

enum ExitCode : int {
  kOk = 0,
  kOther = 1,
  kUsage = 2,
  kConflict = 3,
  kUnavailable = 4,
  kUnauthorized = 5,
  kOutcomeUnknown = 6,
  kStreamDeleted = 7,
};

int fail(int code, std::string message) {
  for (char& c : message)
    if (c == '\n' || c == '\r') c = ' ';
  std::fprintf(stderr, "eventstore: error: %s\n", scrub(std::move(message)).c_str());
  return code;
}

int exit_code_of(eventstore::ErrorCode code) {
  using eventstore::ErrorCode;
  switch (code) {
    case ErrorCode::kInvalidArgument: return kUsage;
    case ErrorCode::kVersionConflict: return kConflict;
    case ErrorCode::kUnavailable: return kUnavailable;
    case ErrorCode::kUnauthorized: return kUnauthorized;
    case ErrorCode::kOutcomeUnknown: return kOutcomeUnknown;
    case ErrorCode::kStreamDeleted: return kStreamDeleted;
    case ErrorCode::kCorruption:
    case ErrorCode::kInternal: return kOther;
  }
  return kOther;
}

const char* const kStoreHelp =
    "Store URIs:\n"
    "  memory:                 in this process only (empty at every start)\n"
    "  sqlite:PATH             an embedded SQLite file, created if missing\n"
    "  scylla://[USER[:PASSWORD]@]HOST[:PORT][,HOST[:PORT]...][/KEYSPACE][?dc=DC&...]\n"
    "Default: $EVENTSTORE_STORE; else scylla:// from $SCYLLA_HOSTS (and SCYLLA_USERNAME,\n"
    "SCYLLA_PASSWORD, SCYLLA_HOSTSELECTIONPOLICY, SCYLLA_KEYSPACE, SCYLLA_CA_FILE); else\n"
    "sqlite:eventstore.db. For a scylla:// URI, a setting in the URI wins and those variables\n"
    "fill only what it leaves out. Keep the password off the command line: SCYLLA_PASSWORD or\n"
    "--password-file (a password in the URI and in the file is an error).\n"
    "\n"
    "Exit codes: 0 ok, 2 invalid input or usage, 3 version conflict, 4 unavailable or timed out\n"
    "(nothing written), 5 authentication or authorization, 6 outcome unknown, 7 stream\n"
    "hard-deleted (nothing written), 1 anything else.\n"
    "\n"
    "Run 'eventstore COMMAND --help' for a command's options and examples (docs/cli.md).";

int run(int argc, char** argv) {
  CLI::App app{"eventstore: append to and read from event streams on memory:, sqlite: or scylla:// stores.",
               "eventstore"};
  app.set_version_flag("--version", version_line());
  app.fallthrough();  // --store may also follow the command
  app.footer(kStoreHelp);
  std::string store_uri;
  CLI::Option* store_opt =
      app.add_option("--store", store_uri, "Store URI (see below); default: $EVENTSTORE_STORE or sqlite:eventstore.db")
          ->type_name("URI");
  std::string password_file;
  CLI::Option* password_file_opt =
      app.add_option("--password-file", password_file,
                     "scylla://: read the password from the first line of FILE (wins over $SCYLLA_PASSWORD)")
          ->type_name("FILE");

  // Registered in the order of `eventstore --help`. A command line may name several commands
  // (fallthrough); the first of `commands` runs, and the schema commands come last there, as they
  // always have: `schema apply head ...` runs head.
  std::vector<Command> commands;
  std::vector<Command> schema_commands;
  add_append_command(app, commands);
  add_read_command(app, commands);
  add_head_command(app, commands);
  add_snapshot_commands(app, commands);
  add_stream_commands(app, commands);
  add_demo_command(app, commands);
  add_schema_commands(app, schema_commands);
  add_feed_commands(app, commands);
  add_subscribe_command(app, commands);
  auto bench_args = std::make_shared<BenchArgs>();
  CLI::App* bench = add_bench_command(app, *bench_args);
  commands.push_back(
      {bench, [bench_args, bench](const StoreChoice& store) { return run_bench(store.uri, *bench_args, *bench); }, {}});
  add_relay_command(app, commands);
  add_health_command(app, commands);
  add_subject_commands(app, commands);
  commands.insert(commands.end(), schema_commands.begin(), schema_commands.end());

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version: printed on stdout
    // An unknown command shows up as an unexpected argument of the level above it.
    if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr) {
      const CLI::App* level = &app;
      std::string path = "eventstore";
      while (!level->get_subcommands().empty() && level->get_subcommands().front()->count() > 0) {
        level = level->get_subcommands().front();
        path += " " + level->get_name();
      }
      std::vector<std::string> extras = level->remaining();
      if (extras.empty()) extras = app.remaining();
      if (!level->get_subcommands({}).empty() && !extras.empty())
        return fail(kUsage, "unknown command '" + extras.front() + "' (run '" + path + " --help')");
    }
    return fail(kUsage, std::string(e.what()) + " (run 'eventstore --help')");
  }
  if (app.get_subcommands().empty()) return fail(kUsage, "no command given (run 'eventstore --help')");
  for (const Command& group : commands)
    if (!group.run && *group.app && group.app->get_subcommands().empty()) return fail(kUsage, group.without_command);

  StoreChoice store;
  if (store_uri.empty()) {
    if (store_opt->count() > 0) return fail(kUsage, "--store must not be empty");
    store_uri = eventstore::default_store_uri();
  } else {
    store.as_typed = store_uri;
  }
  set_secret_source(store_uri);
  std::optional<std::string> password;
  if (*password_file_opt) {
    password = read_password_file(password_file);
    store.password_file = password_file;
  }
  store.uri = eventstore::detail::complete_from_environment(store_uri, password, "--password-file " + password_file);

  for (const Command& command : commands)
    if (command.run && *command.app) return command.run(store);
  return fail(kUsage, "no command given (run 'eventstore --help')");
}

}  // namespace
}  // namespace eventstore_cli

int main(int argc, char** argv) {
  using namespace eventstore_cli;
  eventstore::set_log_sink([](eventstore::LogLevel level, std::string_view message) {
    // Distinct from the one "eventstore: error:" line that ends a failed command.
    const char* prefix = level >= eventstore::LogLevel::kError     ? "library error"
                         : level == eventstore::LogLevel::kWarning ? "warning"
                                                                   : "info";
    std::string line(message);
    for (char& c : line)
      if (c == '\n' || c == '\r') c = ' ';
    std::fprintf(stderr, "eventstore: %s: %s\n", prefix, scrub(std::move(line)).c_str());
  });
  // Any password on the command line or in the environment is scrubbed from every message,
  // also when the URI was typed in the wrong place.
  std::vector<std::string> arguments(argv, argv + argc);
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.starts_with("--store=")) arg.remove_prefix(8);
    set_secret_source(arg);
    // Best effort: the password is overwritten in the argument memory that ps and
    // /proc/PID/cmdline show (it was visible until now); the command parses the copies.
    if (const auto span = eventstore::detail::password_span(arg)) {
      char* const uri = argv[i] + (arg.data() - argv[i]);
      std::fill(uri + span->colon + 1, uri + span->at, '*');
    }
  }
  std::vector<char*> parsed_argv;
  for (std::string& argument : arguments) parsed_argv.push_back(argument.data());
  if (const char* env = std::getenv("EVENTSTORE_STORE")) set_secret_source(env);
  if (const char* password = std::getenv("SCYLLA_PASSWORD")) add_secret(password);
  try {
    const int code = run(argc, parsed_argv.data());
    if (std::fflush(stdout) != 0) return fail(kOther, "cannot write to stdout");
    return code;
  } catch (const UsageError& e) {
    return fail(kUsage, e.what());
  } catch (const ErrorWithHint& e) {
    const int code = fail(exit_code_of(e.code()), e.what());
    std::fputs(scrub(e.hint()).c_str(), stderr);
    return code;
  } catch (const eventstore::Error& e) {
    return fail(exit_code_of(e.code()), e.what());
  } catch (const std::exception& e) {
    return fail(kOther, e.what());
  } catch (...) {
    return fail(kOther, "unexpected failure");
  }
}

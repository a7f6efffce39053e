// eventstore: the command-line tool. A stable contract for scripts: JSON lines on stdout, one
// error line on stderr, documented exit codes (docs/cli.md).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench.h"
#include "cli.h"
#include "core/store_uri.h"
#include "feed.h"
#include "schema.h"

#ifndef EVENTSTORE_VERSION
#define EVENTSTORE_VERSION "unknown"
#endif

namespace eventstore_cli {
namespace {

enum ExitCode : int {
  kOk = 0,
  kOther = 1,
  kUsage = 2,
  kConflict = 3,
  kUnavailable = 4,
  kUnauthorized = 5,
  kOutcomeUnknown = 6,
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
    "(nothing written), 5 authentication or authorization, 6 outcome unknown, 1 anything else.\n"
    "\n"
    "Run 'eventstore COMMAND --help' for a command's options and examples (docs/cli.md).";

void add_stream_options(CLI::App* command, StreamArgs& args) {
  command->add_option("--context", args.context, "Bounded context")->type_name("NAME")->required();
  command->add_option("--type", args.type, "Aggregate type")->type_name("NAME")->required();
  command->add_option("--id", args.id, "Aggregate id (a UUID)")->type_name("UUID")->required();
}

// CLI11 has no grouped options: the --event, --data, --metadata and --event-id values are
// regrouped here in the order they were typed. Each --event starts a new event; the three
// others belong to the latest --event.
std::vector<AppendEvent> group_events(const CLI::App& append, const CLI::Option* event,
                                      const CLI::Option* data, const CLI::Option* metadata,
                                      const CLI::Option* event_id) {
  std::vector<AppendEvent> events;
  std::map<const CLI::Option*, std::size_t> taken;
  for (const CLI::Option* option : append.parse_order()) {
    const std::string& value = option->results().at(taken[option]++);
    if (option == event) {
      events.push_back(AppendEvent{value, std::nullopt, std::nullopt, std::nullopt});
      continue;
    }
    std::optional<std::string>* field = nullptr;
    if (option == data) field = events.empty() ? nullptr : &events.back().data;
    else if (option == metadata) field = events.empty() ? nullptr : &events.back().metadata;
    else if (option == event_id) field = events.empty() ? nullptr : &events.back().event_id;
    else continue;
    if (!field) throw UsageError(option->get_name() + " must follow an --event TYPE");
    if (*field)
      throw UsageError("--event " + std::to_string(events.size()) + " (" + events.back().type +
                       ") has " + option->get_name() + " twice");
    *field = value;
  }
  return events;
}

int run(int argc, char** argv) {
  CLI::App app{"eventstore: append to and read from event streams on memory:, sqlite: or scylla:// stores.",
               "eventstore"};
  app.set_version_flag("--version", std::string("eventstore ") + EVENTSTORE_VERSION);
  app.fallthrough();  // --store may also follow the command
  app.footer(kStoreHelp);
  std::string store_uri;
  CLI::Option* store_opt = app.add_option("--store", store_uri, "Store URI (see below); default: $EVENTSTORE_STORE or sqlite:eventstore.db")
      ->type_name("URI");
  std::string password_file;
  CLI::Option* password_file_opt =
      app.add_option("--password-file", password_file,
                     "scylla://: read the password from the first line of FILE (wins over $SCYLLA_PASSWORD)")
          ->type_name("FILE");

  // append
  AppendArgs append_args;
  CLI::App* append = app.add_subcommand("append", "Append events to a stream; prints the new version and the events' ids");
  add_stream_options(append, append_args.stream);
  append->add_option("--expected-version", append_args.expected_version,
                     "N (the stream must be at version N; 0 = must not exist), no-stream, or any")
      ->type_name("N|no-stream|any")
      ->required();
  std::vector<std::string> event_types, datas, metadatas, event_ids;
  CLI::Option* event_opt = append->add_option("--event", event_types, "Starts an event of this TYPE (repeat for more events)");
  CLI::Option* data_opt = append->add_option("--data", datas, "JSON value: the data of the preceding --event");
  CLI::Option* metadata_opt = append->add_option("--metadata", metadatas, "JSON object: the metadata of the preceding --event");
  CLI::Option* event_id_opt = append->add_option("--event-id", event_ids, "UUID of the preceding --event (default: a random one)");
  for (CLI::Option* o : {event_opt, data_opt, metadata_opt, event_id_opt}) o->expected(1)->take_all();
  event_opt->type_name("TYPE");
  data_opt->type_name("JSON");
  metadata_opt->type_name("JSON");
  event_id_opt->type_name("UUID");
  std::string events_file;
  CLI::Option* events_file_opt = append->add_option(
      "--events-file", events_file,
      "Read the events from FILE ('-' = stdin): one JSON object per line with event_type and optional event_data, event_metadata, event_id");
  events_file_opt->type_name("FILE")->excludes(event_opt);
  std::string event_ids_list;
  CLI::Option* event_ids_opt = append->add_option(
      "--event-ids", event_ids_list,
      "With --events-file: the ids of its events, in order, comma separated (a line's own event_id must match); "
      "printed by a failed append to retry it");
  event_ids_opt->type_name("ID,ID,...")->needs(events_file_opt);
  append->footer(
      "All events are appended at once or not at all.\n"
      "Examples:\n"
      "  eventstore append --context shop --type order --id 0de30000-0000-8000-8000-000000000001 \\\n"
      "      --expected-version no-stream \\\n"
      "      --event OrderCreated --data '{\"customer\":\"ada\"}' --metadata '{\"user\":\"ada\"}' \\\n"
      "      --event ItemAdded --data '{\"sku\":\"book\",\"quantity\":1,\"unit_price_cents\":1999}'\n"
      "  {\"next_expected_version\":2,\"events\":[{\"event_id\":\"...\",\"event_version\":1},{\"event_id\":\"...\",\"event_version\":2}]}\n"
      "\n"
      "  printf '%s\\n' '{\"event_type\":\"OrderPaid\",\"event_data\":{\"amount_cents\":1999}}' |\n"
      "    eventstore append --context shop --type order --id 0de30000-0000-8000-8000-000000000001 \\\n"
      "      --expected-version 2 --events-file -\n"
      "Exit code 3 on a version conflict (nothing written; the message holds the current version).\n"
      "Exit code 6 (outcome unknown) prints on stderr the command that retries the append with the same\n"
      "event ids, which is safe: an append that was applied is not written twice.");

  // read
  ReadArgs read_args;
  CLI::App* read = app.add_subcommand("read", "Print a stream's events, one JSON object per line");
  add_stream_options(read, read_args.stream);
  read->add_option("--from", read_args.from, "First version to print (inclusive); default 1, or the head with --backward")->type_name("N");
  read->add_option("--limit", read_args.limit, "Print at most N events")->type_name("N");
  read->add_flag("--backward", read_args.backward, "Newest first");
  read->add_option("--page-size", read_args.page_size, "Events fetched per round trip, 1..100000 (default 1000)")->type_name("N");
  read->footer(
      "Each line has the keys bounded_context, aggregate_type, aggregate_id, event_version,\n"
      "event_id, event_type, event_timestamp (RFC 3339, UTC, ms), event_data, event_metadata.\n"
      "A missing stream prints nothing. Streams of any length are read in bounded memory.\n"
      "Examples:\n"
      "  eventstore read --context shop --type order --id 0de30000-0000-8000-8000-000000000001\n"
      "  eventstore read --context shop --type order --id 0de30000-0000-8000-8000-000000000001 --backward --limit 1");

  // head
  StreamArgs head_args;
  CLI::App* head = app.add_subcommand("head", "Print a stream's current version (0 if it does not exist)");
  add_stream_options(head, head_args);
  head->footer("Example:\n  eventstore head --context shop --type order --id 0de30000-0000-8000-8000-000000000001\n  2");

  // snapshot show
  StreamArgs snapshot_args;
  CLI::App* snapshot = app.add_subcommand("snapshot", "Inspect snapshots");
  CLI::App* snapshot_show = snapshot->add_subcommand("show", "Print the latest snapshot of a stream as one JSON line, or null");
  add_stream_options(snapshot_show, snapshot_args);
  snapshot->footer("Example:\n  eventstore snapshot show --context demo --type order --id 0de30000-0000-8000-8000-000000000019");
  snapshot_show->footer(
      "Keys: snapshot_version, snapshot_timestamp, snapshot_data, snapshot_metadata.\n"
      "Example:\n  eventstore snapshot show --context demo --type order --id 0de30000-0000-8000-8000-000000000019");

  // demo
  DemoArgs demo_args;
  CLI::App* demo = app.add_subcommand("demo", "Drive example orders through their life-cycle and show what the store does");
  demo->add_option("--orders", demo_args.orders, "Orders to drive in this run, 1..1000000 (default 100)")->type_name("N");
  demo->add_option("--snapshot-every", demo_args.snapshot_every, "Snapshot policy: every N events, 1..1000000 (default 10)")->type_name("N");
  demo->add_flag("--quiet", demo_args.quiet, "No progress bar");
  demo->footer(
      "Orders live in bounded context 'demo', aggregate type 'order', with ids\n"
      "0de30000-0000-8000-8000-<order number in hex>. A second run on the same store continues:\n"
      "it finishes an order an interrupted run left open, then starts new orders after the last.\n"
      "Examples:\n"
      "  eventstore demo\n"
      "  eventstore --store sqlite:/tmp/shop.db demo --orders 1000 --quiet");

  // schema apply
  std::optional<std::string> replication_factor;
  std::vector<std::string> datacenters;
  bool print_schema = false;
  CLI::App* schema = app.add_subcommand("schema", "Manage the store's schema");
  CLI::App* schema_apply = schema->add_subcommand("apply", "Create the tables (and keyspace) the store needs, if missing");
  CLI::Option* rf_opt = schema_apply->add_option("--replication-factor", replication_factor, "scylla://: replicas in every data centre of a new keyspace (default 3)")->type_name("N");
  CLI::Option* dc_opt = schema_apply->add_option("--datacenter", datacenters, "scylla://: N replicas in data centre DC (repeatable)")->type_name("DC:N");
  rf_opt->excludes(dc_opt);
  schema_apply->add_flag("--print", print_schema, "Print the statements instead of running them");
  schema_apply->footer(
      "memory: and sqlite: stores create their schema when opened: nothing to do.\n"
      "Examples:\n"
      "  eventstore --store sqlite:shop.db schema apply\n"
      "  eventstore --store scylla://10.0.0.1/event_sourcing schema apply --datacenter dc1:3 --datacenter dc2:3");
  schema->footer("Example:\n  eventstore --store sqlite:shop.db schema apply");

  // feed read, feed status, subscribe
  FeedArgs feed_args;
  const auto add_filter_options = [&feed_args](CLI::App* command) {
    command->add_option("--context", feed_args.context, "Bounded context")->type_name("NAME")->required();
    command->add_option("--aggregate-type", feed_args.aggregate_types,
                        "Only events of this aggregate type (repeatable: any of them)")
        ->type_name("TYPE")->expected(1)->take_all();
    command->add_option("--event-type", feed_args.event_types, "Only events of this type (repeatable: any of them)")
        ->type_name("TYPE")->expected(1)->take_all();
    command->add_flag("--no-data", feed_args.no_data, "Leave out event_data and event_metadata (a lighter read)");
    command->add_option("--page-size", feed_args.page_size, "Feed positions read per round trip, 1..100000 (default 1000)")
        ->type_name("N");
  };
  CLI::App* feed = app.add_subcommand("feed", "Read a bounded context's feed: every event of the context, in order");
  CLI::App* feed_read = feed->add_subcommand("read", "Print the feed's entries, one JSON object per line");
  add_filter_options(feed_read);
  feed_read->add_option("--from", feed_args.from,
                        "Print the entries AFTER position POS (default 0: from the start); positions are 1, 2, 3, ...")
      ->type_name("POS");
  feed_read->add_option("--limit", feed_args.limit, "Print at most N entries")->type_name("N");
  feed_read->add_flag("--follow", feed_args.follow,
                      "At the head, keep waiting for new entries until SIGINT or SIGTERM (then exit code 0)");
  feed_read->footer(
      "Each line has the key position, then the keys of 'eventstore read' lines (bounded_context,\n"
      "aggregate_type, aggregate_id, event_version, event_id, event_type, event_timestamp, event_data,\n"
      "event_metadata; the last two left out with --no-data). Without --follow it stops at the head\n"
      "the feed had when it started. Filtered-out entries are skipped, not printed.\n"
      "Examples:\n"
      "  eventstore feed read --context shop\n"
      "  eventstore feed read --context shop --from 1200 --event-type OrderPaid --follow");
  std::string status_context;
  CLI::App* feed_status = feed->add_subcommand("status", "Print the feed's head, its subscribers' checkpoints and its relay as one JSON object");
  feed_status->add_option("--context", status_context, "Bounded context")->type_name("NAME")->required();
  feed_status->footer(
      "Keys: head (the last position, 0 when empty); checkpoints: [{name, position, lag (head - position),\n"
      "updated}]; relay: {owner, epoch, lease_expires, live} on a cluster, else null.\n"
      "Example:\n"
      "  eventstore feed status --context shop\n"
      "  {\"head\":1234,\"checkpoints\":[{\"name\":\"billing\",\"position\":1200,\"lag\":34,\"updated\":\"...\"}],\"relay\":null}");
  feed->footer("Examples:\n  eventstore feed read --context shop --follow\n  eventstore feed status --context shop");
  CLI::App* subscribe = app.add_subcommand(
      "subscribe", "Print a named subscriber's new feed entries as 'feed read' does, saving its checkpoint after each page");
  add_filter_options(subscribe);
  subscribe->add_option("--name", feed_args.name, "The subscriber's name: its checkpoint is stored under it")
      ->type_name("NAME")->required();
  subscribe->add_flag("--follow", feed_args.follow,
                      "At the head, keep waiting for new entries until SIGINT or SIGTERM (then exit code 0)");
  subscribe->add_flag("--from-end", feed_args.from_end,
                      "Without a stored checkpoint, start at the feed's current head (default: from the start)");
  subscribe->footer(
      "Starts after the checkpoint stored under --name; a new name starts at the start (the head with\n"
      "--from-end) and its checkpoint is stored there at once.\n"
      "After each page is written to stdout and flushed, the checkpoint moves to the page's end, also\n"
      "past entries the filters skip. A run that dies before that prints the page again next time\n"
      "(at-least-once). Without --follow it stops at the head the feed had when it started.\n"
      "Examples:\n"
      "  eventstore subscribe --context shop --name mailer --event-type OrderShipped\n"
      "  eventstore subscribe --context shop --name audit --follow --from-end");

  BenchArgs bench_args;
  CLI::App* bench = add_bench_command(app, bench_args);

  // relay
  RelayArgs relay_args;
  CLI::App* relay = app.add_subcommand("relay", "Run the relay that orders a bounded context's feed on a cluster, until SIGINT or SIGTERM");
  relay->add_option("--context", relay_args.context, "Bounded context")->type_name("NAME")->required();
  relay->add_option("--lease-ms", relay_args.lease_ms, "Lease duration, 300..3600000 (default 10000); renewed every third of it")->type_name("N");
  relay->add_option("--poll-ms", relay_args.poll_ms, "Pause between cycles that found nothing, 1..60000 (default 20)")->type_name("N");
  relay->footer(
      "One relay per context publishes at a time (it holds the context's lease); start two or more\n"
      "for fail-over: another takes over within the lease after one dies, at once after one stops.\n"
      "Prints a JSON line when it takes or loses the lease and every 5 s: holds_lease, epoch, head,\n"
      "published, repairs (events found by reconciliation, not by a marker), error (if the last cycle\n"
      "failed). Exits 0 on SIGINT/SIGTERM after giving up the lease. memory: and sqlite: stores order\n"
      "their feeds in the append: exit code 2.\n"
      "Example:\n"
      "  eventstore relay --context shop");

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
  if (*snapshot && !*snapshot_show)
    return fail(kUsage, "snapshot needs a command: show (run 'eventstore snapshot --help')");
  if (*feed && !*feed_read && !*feed_status)
    return fail(kUsage, "feed needs a command: read or status (run 'eventstore feed --help')");
  if (*schema && !*schema_apply)
    return fail(kUsage, "schema needs a command: apply (run 'eventstore schema --help')");

  if (store_uri.empty()) {
    if (store_opt->count() > 0) return fail(kUsage, "--store must not be empty");
    store_uri = eventstore::default_store_uri();
  } else {
    append_args.store_as_typed = store_uri;
  }
  set_secret_source(store_uri);
  std::optional<std::string> password;
  if (*password_file_opt) {
    password = read_password_file(password_file);
    append_args.password_file = password_file;
  }
  store_uri = eventstore::detail::complete_from_environment(store_uri, password, "--password-file " + password_file);

  if (*append) {
    append_args.events = group_events(*append, event_opt, data_opt, metadata_opt, event_id_opt);
    if (*events_file_opt) append_args.events_file = events_file;
    if (*event_ids_opt) append_args.event_ids = event_ids_list;
    return run_append(store_uri, append_args);
  }
  if (*read) return run_read(store_uri, read_args);
  if (*head) return run_head(store_uri, head_args);
  if (*snapshot_show) return run_snapshot_show(store_uri, snapshot_args);
  if (*demo) return run_demo(store_uri, demo_args);
  if (*feed_read) return run_feed_read(store_uri, feed_args);
  if (*feed_status) return run_feed_status(store_uri, status_context);
  if (*subscribe) return run_subscribe(store_uri, feed_args);
  if (*bench) return run_bench(store_uri, bench_args, *bench);
  if (*relay) return run_relay(store_uri, relay_args);
  if (*schema_apply)
    return run_schema_apply(store_uri, parse_schema_request(replication_factor, datacenters, print_schema));
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

#include "command_line.h"

#include <map>
#include <memory>

#include <CLI/CLI.hpp>

#include "cli.h"
#include "feed.h"
#include "metrics_listen.h"
#include "schema.h"

#ifndef EVENTSTORE_VERSION
#define EVENTSTORE_VERSION "unknown"
#endif

namespace eventstore_cli {

void add_stream_options(CLI::App* command, StreamArgs& args) {
  command->add_option("--context", args.context, "Bounded context")->type_name("NAME")->required();
  command->add_option("--type", args.type, "Aggregate type")->type_name("NAME")->required();
  command->add_option("--id", args.id, "Aggregate id (a UUID)")->type_name("UUID")->required();
}

namespace {

// The options of append that describe its events, kept to regroup them after parsing.
struct AppendEventOptions {
  CLI::Option* event = nullptr;
  CLI::Option* data = nullptr;
  CLI::Option* metadata = nullptr;
  CLI::Option* event_id = nullptr;
  CLI::Option* events_file = nullptr;
  CLI::Option* event_ids = nullptr;
  // The values CLI11 stores; the events are taken from the options' results in typed order.
  std::vector<std::string> types, datas, metadatas, event_id_values;
  std::string events_file_value;
  std::string event_ids_value;
};

// CLI11 has no grouped options: the --event, --data, --metadata and --event-id values are
// regrouped here in the order they were typed. Each --event starts a new event; the three
// others belong to the latest --event.
std::vector<AppendEvent> group_events(const CLI::App& append, const AppendEventOptions& options) {
  std::vector<AppendEvent> events;
  std::map<const CLI::Option*, std::size_t> taken;
  for (const CLI::Option* option : append.parse_order()) {
    const std::string& value = option->results().at(taken[option]++);
    if (option == options.event) {
      events.push_back(AppendEvent{value, std::nullopt, std::nullopt, std::nullopt});
      continue;
    }
    std::optional<std::string>* field = nullptr;
    if (option == options.data) field = events.empty() ? nullptr : &events.back().data;
    else if (option == options.metadata) field = events.empty() ? nullptr : &events.back().metadata;
    else if (option == options.event_id) field = events.empty() ? nullptr : &events.back().event_id;
    else continue;
    if (!field) throw UsageError(option->get_name() + " must follow an --event TYPE");
    if (*field)
      throw UsageError("--event " + std::to_string(events.size()) + " (" + events.back().type + ") has " +
                       option->get_name() + " twice");
    *field = value;
  }
  return events;
}

// --context, --aggregate-type, --event-type, --no-data and --page-size of feed read and subscribe.
void add_feed_filter_options(CLI::App* command, FeedArgs& args) {
  command->add_option("--context", args.context, "Bounded context")->type_name("NAME")->required();
  command
      ->add_option("--aggregate-type", args.aggregate_types,
                   "Only events of this aggregate type (repeatable: any of them)")
      ->type_name("TYPE")
      ->expected(1)
      ->take_all();
  command->add_option("--event-type", args.event_types, "Only events of this type (repeatable: any of them)")
      ->type_name("TYPE")
      ->expected(1)
      ->take_all();
  command->add_flag("--no-data", args.no_data, "Leave out event_data and event_metadata (a lighter read)");
  command->add_option("--page-size", args.page_size, "Feed positions read per round trip, 1..100000 (default 1000)")
      ->type_name("N");
}

// Registers `command`, run as run(uri, *args).
template <class Args>
void add_runner(std::vector<Command>& commands, CLI::App* command, std::shared_ptr<Args> args,
                int (*run)(const std::string&, const Args&)) {
  commands.push_back({command, [args, run](const StoreChoice& store) { return run(store.uri, *args); }, {}});
}

}  // namespace

void add_append_command(CLI::App& app, std::vector<Command>& commands) {
  auto args = std::make_shared<AppendArgs>();
  auto options = std::make_shared<AppendEventOptions>();
  CLI::App* append =
      app.add_subcommand("append", "Append events to a stream; prints the new version and the events' ids");
  add_stream_options(append, args->stream);
  append
      ->add_option("--expected-version", args->expected_version,
                   "N (the stream must be at version N; 0 = must not exist), no-stream, or any")
      ->type_name("N|no-stream|any")
      ->required();
  options->event =
      append->add_option("--event", options->types, "Starts an event of this TYPE (repeat for more events)");
  options->data = append->add_option("--data", options->datas, "JSON value: the data of the preceding --event");
  options->metadata =
      append->add_option("--metadata", options->metadatas, "JSON object: the metadata of the preceding --event");
  options->event_id = append->add_option("--event-id", options->event_id_values,
                                         "UUID of the preceding --event (default: a random one)");
  for (CLI::Option* o : {options->event, options->data, options->metadata, options->event_id})
    o->expected(1)->take_all();
  options->event->type_name("TYPE");
  options->data->type_name("JSON");
  options->metadata->type_name("JSON");
  options->event_id->type_name("UUID");
  options->events_file = append->add_option(
      "--events-file", options->events_file_value,
      "Read the events from FILE ('-' = stdin): one JSON object per line with event_type and optional event_data, event_metadata, event_id");
  options->events_file->type_name("FILE")->excludes(options->event);
  options->event_ids = append->add_option(
      "--event-ids", options->event_ids_value,
      "With --events-file: the ids of its events, in order, comma separated (a line's own event_id must match); "
      "printed by a failed append to retry it");
  options->event_ids->type_name("ID,ID,...")->needs(options->events_file);
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
  commands.push_back({append,
                      [append, args, options](const StoreChoice& store) {
                        args->store_as_typed = store.as_typed;
                        args->password_file = store.password_file;
                        args->events = group_events(*append, *options);
                        if (*options->events_file) args->events_file = options->events_file_value;
                        if (*options->event_ids) args->event_ids = options->event_ids_value;
                        return run_append(store.uri, *args);
                      },
                      {}});
}

void add_read_command(CLI::App& app, std::vector<Command>& commands) {
  auto args = std::make_shared<ReadArgs>();
  CLI::App* read = app.add_subcommand("read", "Print a stream's events, one JSON object per line");
  add_stream_options(read, args->stream);
  read->add_option("--from", args->from, "First version to print (inclusive); default 1, or the head with --backward")
      ->type_name("N");
  read->add_option("--limit", args->limit, "Print at most N events")->type_name("N");
  read->add_flag("--backward", args->backward, "Newest first");
  read->add_option("--page-size", args->page_size, "Events fetched per round trip, 1..100000 (default 1000)")
      ->type_name("N");
  read->footer(
      "Each line has the keys bounded_context, aggregate_type, aggregate_id, event_version,\n"
      "event_id, event_type, event_timestamp (RFC 3339, UTC, ms), event_data, event_metadata.\n"
      "A missing stream prints nothing. Streams of any length are read in bounded memory.\n"
      "Examples:\n"
      "  eventstore read --context shop --type order --id 0de30000-0000-8000-8000-000000000001\n"
      "  eventstore read --context shop --type order --id 0de30000-0000-8000-8000-000000000001 --backward --limit 1");
  add_runner(commands, read, args, run_read);
}

void add_head_command(CLI::App& app, std::vector<Command>& commands) {
  auto args = std::make_shared<StreamArgs>();
  CLI::App* head = app.add_subcommand("head", "Print a stream's current version (0 if it does not exist)");
  add_stream_options(head, *args);
  head->footer(
      "Example:\n  eventstore head --context shop --type order --id 0de30000-0000-8000-8000-000000000001\n  2");
  add_runner(commands, head, args, run_head);
}

void add_snapshot_commands(CLI::App& app, std::vector<Command>& commands) {
  auto args = std::make_shared<StreamArgs>();
  CLI::App* snapshot = app.add_subcommand("snapshot", "Inspect snapshots");
  CLI::App* show = snapshot->add_subcommand("show", "Print the latest snapshot of a stream as one JSON line, or null");
  add_stream_options(show, *args);
  snapshot->footer(
      "Example:\n  eventstore snapshot show --context demo --type order --id 0de30000-0000-8000-8000-000000000019");
  show->footer(
      "Keys: snapshot_version, snapshot_timestamp, snapshot_data, snapshot_metadata.\n"
      "Example:\n  eventstore snapshot show --context demo --type order --id 0de30000-0000-8000-8000-000000000019");
  commands.push_back({snapshot, {}, "snapshot needs a command: show (run 'eventstore snapshot --help')"});
  add_runner(commands, show, args, run_snapshot_show);
}

void add_demo_command(CLI::App& app, std::vector<Command>& commands) {
  auto args = std::make_shared<DemoArgs>();
  CLI::App* demo =
      app.add_subcommand("demo", "Drive example orders through their life-cycle and show what the store does");
  demo->add_option("--orders", args->orders, "Orders to drive in this run, 1..1000000 (default 100)")->type_name("N");
  demo->add_option("--snapshot-every", args->snapshot_every, "Snapshot policy: every N events, 1..1000000 (default 10)")
      ->type_name("N");
  demo->add_flag("--quiet", args->quiet, "No progress bar");
  add_metrics_listen_option(demo, args->metrics_listen);
  demo->footer(
      "Orders live in bounded context 'demo', aggregate type 'order', with ids\n"
      "0de30000-0000-8000-8000-<order number in hex>. A second run on the same store continues:\n"
      "it finishes an order an interrupted run left open, then starts new orders after the last.\n"
      "Examples:\n"
      "  eventstore demo\n"
      "  eventstore --store sqlite:/tmp/shop.db demo --orders 1000 --quiet");
  add_runner(commands, demo, args, run_demo);
}

void add_schema_commands(CLI::App& app, std::vector<Command>& commands) {
  struct SchemaOptions {
    std::optional<std::string> replication_factor;
    std::vector<std::string> datacenters;
    bool print = false;
  };
  auto options = std::make_shared<SchemaOptions>();
  CLI::App* schema = app.add_subcommand("schema", "Manage the store's schema");
  CLI::App* apply = schema->add_subcommand("apply", "Create the tables (and keyspace) the store needs, if missing");
  CLI::Option* replication_factor =
      apply
          ->add_option("--replication-factor", options->replication_factor,
                       "scylla://: replicas in every data centre of a new keyspace (default 3)")
          ->type_name("N");
  CLI::Option* datacenter =
      apply->add_option("--datacenter", options->datacenters, "scylla://: N replicas in data centre DC (repeatable)")
          ->type_name("DC:N");
  replication_factor->excludes(datacenter);
  apply->add_flag("--print", options->print, "Print the statements instead of running them");
  apply->footer(
      "memory: and sqlite: stores create their schema when opened: nothing to do.\n"
      "Examples:\n"
      "  eventstore --store sqlite:shop.db schema apply\n"
      "  eventstore --store scylla://10.0.0.1/event_sourcing schema apply --datacenter dc1:3 --datacenter dc2:3");
  schema->footer("Example:\n  eventstore --store sqlite:shop.db schema apply");
  commands.push_back({schema, {}, "schema needs a command: apply (run 'eventstore schema --help')"});
  commands.push_back({apply,
                      [options](const StoreChoice& store) {
                        return run_schema_apply(store.uri, parse_schema_request(options->replication_factor,
                                                                                options->datacenters, options->print));
                      },
                      {}});
}

void add_feed_commands(CLI::App& app, std::vector<Command>& commands) {
  auto args = std::make_shared<FeedArgs>();
  CLI::App* feed = app.add_subcommand("feed", "Read a bounded context's feed: every event of the context, in order");
  CLI::App* read = feed->add_subcommand("read", "Print the feed's entries, one JSON object per line");
  add_feed_filter_options(read, *args);
  read->add_option("--from", args->from,
                   "Print the entries AFTER position POS (default 0: from the start); positions are 1, 2, 3, ...")
      ->type_name("POS");
  read->add_option("--limit", args->limit, "Print at most N entries")->type_name("N");
  read->add_flag("--follow", args->follow,
                 "At the head, keep waiting for new entries until SIGINT or SIGTERM (then exit code 0)");
  read->footer(
      "Each line has the key position, then the keys of 'eventstore read' lines (bounded_context,\n"
      "aggregate_type, aggregate_id, event_version, event_id, event_type, event_timestamp, event_data,\n"
      "event_metadata; the last two left out with --no-data). Without --follow it stops at the head\n"
      "the feed had when it started. Filtered-out entries are skipped, not printed.\n"
      "Examples:\n"
      "  eventstore feed read --context shop\n"
      "  eventstore feed read --context shop --from 1200 --event-type OrderPaid --follow");
  auto status_context = std::make_shared<std::string>();
  CLI::App* status = feed->add_subcommand(
      "status", "Print the feed's head, its subscribers' checkpoints and its relay as one JSON object");
  status->add_option("--context", *status_context, "Bounded context")->type_name("NAME")->required();
  status->footer(
      "Keys: head (the last position, 0 when empty); checkpoints: [{name, position, lag (head - position),\n"
      "updated}]; relay: {owner, epoch, lease_expires, live} on a cluster, else null.\n"
      "Example:\n"
      "  eventstore feed status --context shop\n"
      "  {\"head\":1234,\"checkpoints\":[{\"name\":\"billing\",\"position\":1200,\"lag\":34,\"updated\":\"...\"}],\"relay\":null}");
  feed->footer("Examples:\n  eventstore feed read --context shop --follow\n  eventstore feed status --context shop");
  commands.push_back({feed, {}, "feed needs a command: read or status (run 'eventstore feed --help')"});
  add_runner(commands, read, args, run_feed_read);
  add_runner(commands, status, status_context, run_feed_status);
}

void add_subscribe_command(CLI::App& app, std::vector<Command>& commands) {
  auto args = std::make_shared<FeedArgs>();
  CLI::App* subscribe = app.add_subcommand(
      "subscribe",
      "Print a named subscriber's new feed entries as 'feed read' does, saving its checkpoint after each page");
  add_feed_filter_options(subscribe, *args);
  subscribe->add_option("--name", args->name, "The subscriber's name: its checkpoint is stored under it")
      ->type_name("NAME")
      ->required();
  subscribe->add_flag("--follow", args->follow,
                      "At the head, keep waiting for new entries until SIGINT or SIGTERM (then exit code 0)");
  subscribe->add_flag("--from-end", args->from_end,
                      "Without a stored checkpoint, start at the feed's current head (default: from the start)");
  add_metrics_listen_option(subscribe, args->metrics_listen);
  subscribe->footer(
      "Starts after the checkpoint stored under --name; a new name starts at the start (the head with\n"
      "--from-end) and its checkpoint is stored there at once.\n"
      "After each page is written to stdout and flushed, the checkpoint moves to the page's end, also\n"
      "past entries the filters skip. A run that dies before that prints the page again next time\n"
      "(at-least-once). Without --follow it stops at the head the feed had when it started.\n"
      "Examples:\n"
      "  eventstore subscribe --context shop --name mailer --event-type OrderShipped\n"
      "  eventstore subscribe --context shop --name audit --follow --from-end");
  add_runner(commands, subscribe, args, run_subscribe);
}

void add_relay_command(CLI::App& app, std::vector<Command>& commands) {
  auto args = std::make_shared<RelayArgs>();
  CLI::App* relay = app.add_subcommand(
      "relay", "Run the relay that orders a bounded context's feed on a cluster, until SIGINT or SIGTERM");
  relay->add_option("--context", args->context, "Bounded context")->type_name("NAME")->required();
  relay
      ->add_option("--lease-ms", args->lease_ms,
                   "Lease duration, 300..3600000 (default 10000); renewed every third of it")
      ->type_name("N");
  relay->add_option("--poll-ms", args->poll_ms, "Pause between cycles that found nothing, 1..60000 (default 20)")
      ->type_name("N");
  add_metrics_listen_option(relay, args->metrics_listen);
  relay->footer(
      "One relay per context publishes at a time (it holds the context's lease); start two or more\n"
      "for fail-over: another takes over within the lease after one dies, at once after one stops.\n"
      "Prints a JSON line when it takes or loses the lease and every 5 s: holds_lease, epoch, head,\n"
      "published, repairs (events found by reconciliation, not by a marker), error (if the last cycle\n"
      "failed). Exits 0 on SIGINT/SIGTERM after giving up the lease. memory: and sqlite: stores order\n"
      "their feeds in the append: exit code 2.\n"
      "Example:\n"
      "  eventstore relay --context shop");
  add_runner(commands, relay, args, run_relay);
}

void add_health_command(CLI::App& app, std::vector<Command>& commands) {
  auto args = std::make_shared<HealthArgs>();
  CLI::App* health = app.add_subcommand(
      "health", "Check that the store answers and its schema is current; one JSON line, exit code 0 or 1");
  health
      ->add_option("--timeout", args->timeout,
                   "The check's deadline (also each request's timeout): seconds (5, 2.5, 5s) or 500ms (default 5s)")
      ->type_name("DURATION");
  health->footer(
      "Keys: healthy, store, backend, answers, round_trip_ms, schema_current, schema, hosts (cluster:\n"
      "[{address, datacenter, rack, enabled, connected}], else []), relay_leases ([{context, owner,\n"
      "epoch, lease_expires, expires_in_ms, live}]), problems (why it is not healthy).\n"
      "Exit code 0 when healthy, 1 when not (the line says why), 2 for bad usage. Creates nothing: a\n"
      "missing SQLite file is unhealthy. Usable as a container liveness probe.\n"
      "Examples:\n"
      "  eventstore --store sqlite:shop.db health\n"
      "  eventstore --store scylla://10.0.0.1/event_sourcing health --timeout 2s");
  add_runner(commands, health, args, run_health);
}

std::string version_line() {
#ifdef EVENTSTORE_CLI_WITH_SCYLLA
  constexpr const char* kBackends = "memory, sqlite, scylla";
#else
  constexpr const char* kBackends = "memory, sqlite";
#endif
  return std::string("eventstore ") + EVENTSTORE_VERSION + " (backends: " + kBackends + ")";
}

}  // namespace eventstore_cli

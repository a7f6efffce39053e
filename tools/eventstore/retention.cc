// eventstore stream retention and eventstore scavenge: retention policies per aggregate type
// (include/eventstore/retention.h) from the command line. Setting a policy hides events at read
// time and can be undone until a scavenge, so it asks nothing; scavenge removes them, so it asks
// on a terminal, or needs --yes.
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench_core.h"
#include "cli.h"
#include "command_line.h"
#include "core/validation.h"
#include "eventstore/retention.h"

namespace eventstore_cli {
namespace {

using eventstore::RetentionPolicy;

struct RetentionArgs {
  std::string context;
  std::string type;
  std::optional<std::string> max_age;
  std::optional<std::string> max_count;
  bool clear = false;
};

struct ScavengeArgs {
  std::string context;
  std::optional<std::string> type;
  bool dry_run = false;
  bool yes = false;
  bool quiet = false;
};

// "90s", "15m", "12h", "30d" or "90" (seconds): 1 s .. 36500d.
std::chrono::seconds parse_duration(const std::string& text) {
  const auto bad = [&] {
    return UsageError(
        "--max-age must be an integer with a unit s, m, h or d (90s, 15m, 12h, 30d; a bare integer is "
        "seconds), from 1s to 36500d, got '" +
        text + "'");
  };
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end == text.data()) throw bad();
  const std::string unit(end, text.data() + text.size());
  std::int64_t scale = 0;
  if (unit.empty() || unit == "s") scale = 1;
  else if (unit == "m") scale = 60;
  else if (unit == "h") scale = 3600;
  else if (unit == "d") scale = 86400;
  else throw bad();
  if (value < 1 || value > eventstore::kMaxRetentionAge.count() / scale) throw bad();
  return std::chrono::seconds(value * scale);
}

// What set_retention_policy would refuse for the context and type, refused before the store is
// opened (bad input writes nothing).
void check_retained_type(const std::string& context, const std::string& type) {
  if (context.empty()) throw UsageError("--context must not be empty");
  if (type.empty()) throw UsageError("--type must not be empty");
  if (type.starts_with('$')) throw UsageError("--type '" + type + "' is reserved ('$'): it takes no retention policy");
  eventstore::validate_retention_policy(context, type);
}

nlohmann::ordered_json policy_line(const RetentionArgs& args, const std::optional<RetentionPolicy>& policy) {
  nlohmann::ordered_json out;
  out["context"] = args.context;
  out["aggregate_type"] = args.type;
  if (!policy) {
    out["policy"] = nullptr;
    return out;
  }
  out["max_age_seconds"] = policy->max_age ? nlohmann::ordered_json(policy->max_age->count()) : nullptr;
  out["max_count"] = policy->max_count ? nlohmann::ordered_json(*policy->max_count) : nullptr;
  return out;
}

int run_retention(const std::string& uri, const RetentionArgs& args) {
  check_retained_type(args.context, args.type);
  RetentionPolicy policy;
  if (args.max_age) policy.max_age = parse_duration(*args.max_age);
  if (args.max_count)
    policy.max_count = parse_integer(*args.max_count, "--max-count", 1, eventstore::Limits{}.max_version);
  if (args.clear && !policy.empty()) throw UsageError("--clear goes without --max-age and --max-count");

  const std::shared_ptr<eventstore::Store> store = eventstore::open_store(uri);
  if (!args.clear && policy.empty()) {
    print_json_line(policy_line(args, eventstore::retention_policy(*store, args.context, args.type)));
    return 0;
  }
  const eventstore::AppendResult result = eventstore::set_retention_policy(*store, args.context, args.type, policy);
  nlohmann::ordered_json out = policy_line(args, policy.empty() ? std::nullopt : std::optional(policy));
  out["event_version"] = result.first_version;
  print_json_line(out);
  return 0;
}

int run_scavenge(const std::string& uri, const ScavengeArgs& args) {
  if (args.context.empty()) throw UsageError("--context must not be empty");
  eventstore::detail::validate_context(args.context, eventstore::Limits{});
  if (args.type) check_retained_type(args.context, *args.type);

  // Refused before the store is opened: no new SQLite file either.
  if (!args.dry_run && !args.yes) {
    if (!on_a_terminal())
      throw UsageError("scavenge is destructive: add --yes to run it without a terminal to confirm on (or --dry-run)");
    const std::string what = args.type ? "type '" + *args.type + "'" : "every type with a retention policy";
    if (!confirmed("Scavenge context '" + args.context + "', " + what +
                   ": remove for good the events its retention policy hides?")) {
      std::fprintf(stderr, "eventstore: nothing done\n");
      return 1;
    }
  }

  const std::shared_ptr<eventstore::Store> store = eventstore::open_store(uri);
  bench::Progress progress(!args.quiet && isatty(STDERR_FILENO) != 0);
  const bool clear_bar_per_line = isatty(STDOUT_FILENO) != 0;
  eventstore::ScavengeOptions options;
  options.aggregate_type = args.type;
  options.dry_run = args.dry_run;
  options.on_stream = [&](const eventstore::ScavengedStream& done) {
    if (clear_bar_per_line) progress.finish();
    nlohmann::ordered_json line;
    line["stream"] = eventstore::to_string(done.stream);
    line["removed_from"] = done.first_removed;
    line["before"] = done.before;
    line["events"] = done.removed();
    line["dry_run"] = args.dry_run;
    print_json_line(line);
  };
  options.on_progress = [&](const eventstore::ScavengeProgress& p) {
    if (p.feed_position < p.feed_head) {
      progress.update("finding streams", static_cast<double>(p.feed_position) / static_cast<double>(p.feed_head),
                      std::to_string(p.streams_found) + " streams, feed position " + std::to_string(p.feed_position) +
                          "/" + std::to_string(p.feed_head));
    } else {
      const double fraction =
          p.streams_found == 0 ? 1.0 : static_cast<double>(p.streams_done) / static_cast<double>(p.streams_found);
      progress.update("streams", fraction, std::to_string(p.streams_done) + "/" + std::to_string(p.streams_found));
    }
  };
  const eventstore::ScavengeReport report = eventstore::scavenge(*store, args.context, options);
  progress.finish();
  nlohmann::ordered_json summary;
  summary["streams_examined"] = report.streams_examined;
  summary["streams_truncated"] = report.streams_truncated;
  summary["events_removed"] = report.events_removed;
  summary["streams_busy"] = report.streams_busy;
  summary["dry_run"] = args.dry_run;
  print_json_line(summary);
  return 0;
}

}  // namespace

// `stream retention` under `stream`, and the top-level `scavenge`.
void add_retention_commands(CLI::App& app, CLI::App* stream, std::vector<Command>& commands) {
  auto retention_args = std::make_shared<RetentionArgs>();
  CLI::App* retention = stream->add_subcommand(
      "retention", "Show, set or clear the retention policy of an aggregate type (max age, max count)");
  retention->add_option("--context", retention_args->context, "Bounded context")->type_name("NAME")->required();
  retention->add_option("--type", retention_args->type, "Aggregate type")->type_name("NAME")->required();
  retention
      ->add_option("--max-age", retention_args->max_age,
                   "Events older than this expire: an integer with a unit s, m, h or d (90s, 15m, 12h, 30d; a bare "
                   "integer is seconds)")
      ->type_name("DURATION");
  retention->add_option("--max-count", retention_args->max_count, "Each stream keeps its last N versions (N >= 1)")
      ->type_name("N");
  retention->add_flag("--clear", retention_args->clear, "Remove the policy: every event reads again");
  retention->footer(
      "Without --max-age, --max-count or --clear, prints the type's policy as one JSON line\n"
      "({\"context\",\"aggregate_type\",\"max_age_seconds\",\"max_count\"}, or \"policy\":null when none).\n"
      "With --max-age and/or --max-count, sets the policy, replacing the previous one wholesale (a limit\n"
      "left out is no limit); --clear removes it. Both print the policy set and \"event_version\", the\n"
      "version of the policy event in the type's $retention stream.\n"
      "A policy applies at once, to every stream of the type: reads start at each stream's retention\n"
      "floor (its last event always shows). It asks no confirmation because nothing is removed: until\n"
      "'eventstore scavenge' runs, clearing or widening the policy shows the events again.\n"
      "Examples:\n"
      "  eventstore stream retention --context shop --type order --max-age 30d --max-count 1000\n"
      "  eventstore stream retention --context shop --type order");
  commands.push_back({retention,
                      [retention_args](const StoreChoice& store) { return run_retention(store.uri, *retention_args); },
                      {}});

  auto scavenge_args = std::make_shared<ScavengeArgs>();
  CLI::App* scavenge =
      app.add_subcommand("scavenge", "Remove for good the events the retention policies of a context hide");
  scavenge->add_option("--context", scavenge_args->context, "Bounded context")->type_name("NAME")->required();
  scavenge
      ->add_option("--type", scavenge_args->type,
                   "Only this aggregate type (it must have a policy); default: every type with one")
      ->type_name("NAME");
  scavenge->add_flag("--dry-run", scavenge_args->dry_run, "Print what would be removed, remove nothing");
  scavenge->add_flag("--yes", scavenge_args->yes, "Do not ask for confirmation (needed without a terminal)");
  scavenge->add_flag("--quiet", scavenge_args->quiet, "No progress bar");
  scavenge->footer(
      "Finds the streams of each retained type through the context's feed (on a cluster, what the\n"
      "relay has published: a later run takes the rest) and truncates each at its retention floor:\n"
      "one $truncated event per stream, as 'eventstore stream truncate' appends. Safe against\n"
      "concurrent appends: each truncate is made at the version it read, and a stream appended to\n"
      "meanwhile is read again (\"streams_busy\" counts those it gave up on; the next run takes them).\n"
      "Idempotent: a second run right after the first removes nothing.\n"
      "Prints one JSON line per stream truncated (with --dry-run: that would be)\n"
      "  {\"stream\",\"removed_from\",\"before\",\"events\",\"dry_run\"}\n"
      "then {\"streams_examined\",\"streams_truncated\",\"events_removed\",\"streams_busy\",\"dry_run\"}.\n"
      "Destructive: asks on a terminal, needs --yes without one (not with --dry-run). A progress bar\n"
      "on stderr when it is a terminal.\n"
      "Examples:\n"
      "  eventstore scavenge --context shop --dry-run\n"
      "  eventstore scavenge --context shop --type order --yes");
  commands.push_back(
      {scavenge, [scavenge_args](const StoreChoice& store) { return run_scavenge(store.uri, *scavenge_args); }, {}});
}

}  // namespace eventstore_cli

// `eventstore feed read`, `eventstore subscribe` and `eventstore feed status`: a bounded
// context's feed as JSON lines, a named subscription that checkpoints after each page, and the
// feed's head, checkpoints and relay (docs/cli.md).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "eventstore/feed.h"

namespace eventstore_cli {

// The options as typed; validated by the commands before the store is opened.
struct FeedArgs {
  std::string context;
  std::vector<std::string> aggregate_types;  // --aggregate-type, repeatable
  std::vector<std::string> event_types;      // --event-type, repeatable
  bool no_data = false;
  bool follow = false;
  std::string page_size = "1000";
  // feed read
  std::optional<std::string> from;
  std::optional<std::string> limit;
  // subscribe
  std::string name;
  bool from_end = false;
  std::optional<std::string> metrics_listen;  // HOST:PORT (metrics_listen.h)
};

int run_feed_read(const std::string& uri, const FeedArgs& args);
int run_subscribe(const std::string& uri, const FeedArgs& args);
int run_feed_status(const std::string& uri, const std::string& context);

// One feed entry as a JSON line (no newline): "position", then the keys of `read`'s lines; with
// `with_data` false, without event_data and event_metadata.
std::string feed_entry_json_line(const eventstore::FeedEntry& entry, bool with_data);

}  // namespace eventstore_cli

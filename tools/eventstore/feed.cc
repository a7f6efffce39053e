// feed read, subscribe, feed status.
#include "feed.h"

#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>

#include "cli.h"
#include "metrics_listen.h"

namespace eventstore_cli {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// How long one wait at the head lasts with --follow: a signal is noticed within about this.
constexpr auto kFollowWait = 200ms;
constexpr auto kPollInterval = 50ms;

volatile std::sig_atomic_t stop_requested = 0;

extern "C" void request_stop(int) { stop_requested = 1; }

// With --follow, SIGINT and SIGTERM end the command after the page in hand (exit code 0).
void stop_on_signals() {
  struct sigaction action {};
  action.sa_handler = request_stop;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

// "feed: position P / head H" on stderr while a long catch-up runs, when stderr is a terminal.
class CatchUpProgress {
 public:
  CatchUpProgress() : enabled_(::isatty(STDERR_FILENO) == 1), started_(Clock::now()) {}
  ~CatchUpProgress() { finish(); }
  CatchUpProgress(const CatchUpProgress&) = delete;
  CatchUpProgress& operator=(const CatchUpProgress&) = delete;

  void update(std::int64_t position, std::int64_t head) {
    if (!enabled_ || done_) return;
    if (position >= head) return finish();
    const Clock::time_point now = Clock::now();
    if (now - started_ < 500ms || (drawn_ && now - last_ < 250ms)) return;
    last_ = now;
    drawn_ = true;
    std::fprintf(stderr, "\r\033[Kfeed: position %lld / head %lld (%d%%)", static_cast<long long>(position),
                 static_cast<long long>(head),
                 static_cast<int>(100.0 * static_cast<double>(position) / static_cast<double>(head)));
    std::fflush(stderr);
  }
  void finish() {
    if (drawn_) {
      std::fprintf(stderr, "\r\033[K");
      std::fflush(stderr);
    }
    drawn_ = false;
    done_ = true;
  }

 private:
  const bool enabled_;
  const Clock::time_point started_;
  Clock::time_point last_{};
  bool drawn_ = false;
  bool done_ = false;
};

std::string non_empty(const std::string& value, const char* option) {
  if (value.empty()) throw UsageError(std::string(option) + " must not be empty");
  return value;
}

// The options shared by feed read and subscribe, validated.
eventstore::SubscriptionOptions subscription_options(const FeedArgs& args) {
  eventstore::SubscriptionOptions options;
  options.context = non_empty(args.context, "--context");
  for (const std::string& type : args.aggregate_types)
    options.filter.aggregate_types.push_back(non_empty(type, "--aggregate-type"));
  for (const std::string& type : args.event_types)
    options.filter.event_types.push_back(non_empty(type, "--event-type"));
  options.with_data = !args.no_data;
  options.page_size = static_cast<std::uint32_t>(parse_integer(args.page_size, "--page-size", 1, 100000));
  options.poll_interval = kPollInterval;
  return options;
}

void flush_stdout() {
  if (std::fflush(stdout) != 0) throw std::runtime_error("cannot write to stdout");
}

// Reads pages until the feed's head as it was at the start (or, with --follow, until a signal),
// printing each page's entries. `after_page` runs once a page is written and flushed, when the
// page covered at least one position. At most `limit` entries are printed.
void follow_feed(eventstore::Store& store, eventstore::Subscription& subscription, const FeedArgs& args,
                 std::optional<std::uint64_t> limit, const std::function<void()>& after_page) {
  if (args.follow) stop_on_signals();
  std::int64_t head = store.feed_head(args.context);
  CatchUpProgress progress;
  std::uint64_t printed = 0;
  while (!stop_requested) {
    if (limit && printed >= *limit) break;
    const std::int64_t before = subscription.position();
    if (!args.follow && before >= head) break;
    const eventstore::FeedPage page = subscription.next_page(args.follow ? kFollowWait : 0ms);
    for (const eventstore::FeedEntry& entry : page.entries) {
      if (limit && printed >= *limit) break;
      print_line(feed_entry_json_line(entry, !args.no_data));
      ++printed;
    }
    flush_stdout();
    const bool covered = page.last_position > before;
    if (covered && after_page) after_page();
    if (!covered && !args.follow) break;  // the feed ends before the head it reported: no spinning
    if (subscription.position() > head) head = subscription.position();
    progress.update(subscription.position(), head);
  }
}

}  // namespace

std::string feed_entry_json_line(const eventstore::FeedEntry& entry, bool with_data) {
  return event_json_line(entry.event, {{"position", entry.position}}, with_data);
}

int run_feed_read(const std::string& uri, const FeedArgs& args) {
  eventstore::SubscriptionOptions options = subscription_options(args);
  const std::int64_t from =
      args.from ? parse_integer(*args.from, "--from", 0, std::numeric_limits<std::int64_t>::max()) : 0;
  options.start = eventstore::StartPosition::after(from);
  std::optional<std::uint64_t> limit;
  if (args.limit)
    limit =
        static_cast<std::uint64_t>(parse_integer(*args.limit, "--limit", 0, std::numeric_limits<std::int64_t>::max()));
  if (limit && *limit >= 1 && *limit < options.page_size && options.filter.empty())
    options.page_size = static_cast<std::uint32_t>(*limit);

  const std::shared_ptr<eventstore::Store> store = eventstore::open_store(uri);
  const std::unique_ptr<eventstore::Subscription> subscription = eventstore::Subscription::open(store, options);
  follow_feed(*store, *subscription, args, limit, {});
  return 0;
}

int run_subscribe(const std::string& uri, const FeedArgs& args) {
  eventstore::SubscriptionOptions options = subscription_options(args);
  options.name = non_empty(args.name, "--name");
  options.start = args.from_end ? eventstore::StartPosition::end() : eventstore::StartPosition::beginning();

  const std::shared_ptr<eventstore::Store> store =
      eventstore::open_store(uri, metrics_store_options(args.metrics_listen));
  const std::unique_ptr<eventstore::Subscription> subscription = eventstore::Subscription::open(store, options);
  // A new subscriber is registered where it starts, so that a later run of --from-end resumes
  // there rather than at a newer head (a stored checkpoint never moves back).
  subscription->save_checkpoint();
  // The checkpoint moves only once the page is on stdout: a crash in between prints it again.
  follow_feed(*store, *subscription, args, std::nullopt, [&] { subscription->save_checkpoint(); });
  return 0;
}

int run_feed_status(const std::string& uri, const std::string& context) {
  non_empty(context, "--context");
  const std::shared_ptr<eventstore::Store> store = eventstore::open_store(uri);
  const eventstore::FeedStatus status = store->feed_status(context);
  nlohmann::ordered_json out;
  out["head"] = status.head;
  out["checkpoints"] = nlohmann::ordered_json::array();
  for (const eventstore::Checkpoint& checkpoint : status.checkpoints) {
    nlohmann::ordered_json c;
    c["name"] = checkpoint.name;
    c["position"] = checkpoint.position;
    c["lag"] = status.head - checkpoint.position;
    c["updated"] = eventstore::format_rfc3339(checkpoint.updated);
    out["checkpoints"].push_back(std::move(c));
  }
  if (status.relay) {
    nlohmann::ordered_json relay;
    relay["owner"] = status.relay->owner;
    relay["epoch"] = status.relay->epoch;
    relay["lease_expires"] = eventstore::format_rfc3339(status.relay->expires);
    relay["live"] = status.relay->live;
    out["relay"] = std::move(relay);
  } else {
    out["relay"] = nullptr;
  }
  print_json_line(out);
  return 0;
}

}  // namespace eventstore_cli

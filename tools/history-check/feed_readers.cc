#include "feed_readers.h"

#include <algorithm>
#include <future>
#include <random>

#include "stream_checks.h"

namespace historycheck {

using Clock = std::chrono::steady_clock;

namespace {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

}  // namespace

// What one reader thread shares with finish(): its position and whether it is done for the
// current target.
struct ReaderShared {
  std::atomic<std::int64_t> position{0};
  std::atomic<bool> ready{false};
};

FeedReaders::FeedReaders(eventstore::Store& store, const Plan& plan, FeedReaderConfig config)
    : store_(store), plan_(plan), config_(std::move(config)) {
  if (config_.checkpoint_name.empty()) config_.checkpoint_name = "history-check-" + plan_.context;
  config_.readers = std::max(0, config_.readers);
  logs_.resize(static_cast<std::size_t>(config_.readers));
  for (int i = 0; i < config_.readers; ++i) {
    logs_[static_cast<std::size_t>(i)].reader = i;
    logs_[static_cast<std::size_t>(i)].subscriber = config_.subscriber && i == config_.readers - 1;
    logs_[static_cast<std::size_t>(i)].filtered = config_.readers >= 3 && i == 1;
  }
  shared_ = std::make_unique<ReaderShared[]>(static_cast<std::size_t>(config_.readers));
}

FeedReaders::~FeedReaders() {
  give_up_ = true;
  done_ = true;
  for (std::thread& t : threads_)
    if (t.joinable()) t.join();
}

void FeedReaders::start() {
  for (int i = 0; i < config_.readers; ++i) threads_.emplace_back([this, i] { run(i); });
}

void FeedReaders::run(int index) {
  FeedReaderLog& log = logs_[static_cast<std::size_t>(index)];
  ReaderShared& shared = shared_[static_cast<std::size_t>(index)];
  std::mt19937_64 rng(config_.seed * 0x9E3779B97F4A7C15ULL + static_cast<std::uint64_t>(index) * 104729);
  auto chance = [&rng](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
  const std::string& context = plan_.context;
  const std::string& name = config_.checkpoint_name;
  const StreamIndex streams(plan_);
  std::int64_t position = 0;
  std::int64_t saved = -1;  // the last position this incarnation saved
  int failures = 0;
  auto back_off = [&](const std::exception& e) {
    ++log.errors;
    log.last_error = e.what();
    failures = std::min(failures + 1, 50);
    std::this_thread::sleep_for(std::chrono::milliseconds(10 * failures));
  };
  auto save = [&](std::int64_t at) {
    CheckpointSeen c;
    c.kind = CheckpointSeen::Kind::kSaved;
    c.requested = at;
    try {
      c.answered = store_.save_checkpoint(context, name, at);
    } catch (const std::exception& e) {
      c.failed = true;
      back_off(e);
    }
    log.checkpoints.push_back(c);
    return !c.failed;
  };
  // A restart: the in-memory position is gone; the checkpoint is what the subscriber resumes from.
  auto restart_from_checkpoint = [&]() {
    while (!give_up_) {
      CheckpointSeen c;
      c.kind = CheckpointSeen::Kind::kLoaded;
      try {
        const std::optional<eventstore::Checkpoint> loaded = store_.load_checkpoint(context, name);
        c.none = !loaded;
        c.answered = loaded ? loaded->position : 0;
        log.checkpoints.push_back(c);
        position = c.answered;
        saved = -1;
        return;
      } catch (const std::exception& e) {
        back_off(e);
      }
    }
  };
  if (log.subscriber) restart_from_checkpoint();

  while (!done_ && !give_up_) {
    const std::int64_t target = target_.load();
    if (target >= 0 && position >= target) {
      // At the head the writers left: the subscriber restarts at least once, and saves where it is.
      if (log.subscriber && log.restarts == 0) {
        ++log.restarts;
        restart_from_checkpoint();
        continue;
      }
      if (log.subscriber && saved < position) {
        if (!save(position)) continue;
        saved = position;
      }
      shared.ready = true;
      std::this_thread::sleep_for(config_.poll);
      continue;
    }
    shared.ready = false;
    try {
      FeedPageSeen page;
      page.after = position;
      page.incarnation = static_cast<int>(log.restarts);
      page.head_before = store_.feed_head(context);
      eventstore::FeedReadOptions options;
      options.after = position;
      options.limit = 1 + static_cast<std::uint32_t>(rng() % std::max<std::uint32_t>(1, config_.max_page));
      options.with_data = false;
      if (log.filtered) options.filter.event_types = {kNotedType};
      eventstore::FeedPage got;
      if (chance(config_.async_probability)) {
        std::promise<eventstore::Result<eventstore::FeedPage>> promise;
        std::future<eventstore::Result<eventstore::FeedPage>> future = promise.get_future();
        store_.read_feed_async(context, options, [&promise](eventstore::Result<eventstore::FeedPage> r) {
          promise.set_value(std::move(r));
        });
        got = future.get().get();
      } else {
        got = store_.read_feed(context, options);
      }
      page.at_ns = now_ns();
      page.last_position = got.last_position;
      for (const eventstore::FeedEntry& e : got.entries)
        page.entries.push_back(FeedSeen{e.position, streams.of(e.event.stream), e.event.version, e.event.event_id});
      log.pages.push_back(std::move(page));
      failures = 0;
      const bool at_head = got.last_position <= position;
      position = std::max(position, got.last_position);
      shared.position = position;
      if (log.subscriber && !at_head) {
        if (chance(config_.save_probability)) {
          save(position);
          saved = position;
          if (position > 1 && chance(config_.stale_save_probability))
            save(1 + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(position - 1)));
        }
        if (chance(config_.kill_probability)) {
          ++log.restarts;
          restart_from_checkpoint();
          shared.position = position;
        }
      }
      if (at_head) std::this_thread::sleep_for(config_.poll);
    } catch (const std::exception& e) {
      back_off(e);
    }
  }
  log.final_position = position;
  const std::int64_t target = target_.load();
  log.reached_head = target >= 0 && position >= target;
}

FeedHistory FeedReaders::finish() {
  FeedHistory history;
  history.duplicates_allowed = config_.duplicates_allowed;
  history.hidden_may_be_missing = config_.hidden_may_be_missing;
  const auto deadline = Clock::now() + std::chrono::milliseconds(
                                           static_cast<std::int64_t>((config_.settle_s + config_.catch_up_s) * 1000));
  const auto settle = std::chrono::milliseconds(static_cast<std::int64_t>(config_.settle_s * 1000));
  auto read_head = [&]() -> std::optional<std::int64_t> {
    for (;;) {
      try {
        return store_.feed_head(plan_.context);
      } catch (const std::exception& e) {
        history.error = std::string("feed_head: ") + e.what();
        if (Clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    }
  };
  // The head settles: on a cluster the relay publishes after the acknowledgement.
  std::int64_t head = -1;
  auto stable_since = Clock::now();
  for (;;) {
    const std::optional<std::int64_t> h = read_head();
    if (!h) break;
    if (*h != head) {
      head = *h;
      stable_since = Clock::now();
    }
    if (Clock::now() - stable_since >= settle || Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(settle, std::chrono::milliseconds(200)));
  }
  // Every reader reaches it; if the head moved meanwhile, the new head is the target.
  while (head >= 0) {
    target_ = head;
    for (;;) {
      bool all = true;
      for (int i = 0; i < config_.readers; ++i) {
        const ReaderShared& s = shared_[static_cast<std::size_t>(i)];
        all = all && s.ready.load() && s.position.load() >= head;
      }
      if (all || Clock::now() >= deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    const std::optional<std::int64_t> again = read_head();
    if (!again || *again == head || Clock::now() >= deadline) break;
    head = *again;
    for (int i = 0; i < config_.readers; ++i) shared_[static_cast<std::size_t>(i)].ready = false;
  }
  if (head >= 0 && history.error && history.error->starts_with("feed_head: ")) history.error.reset();
  done_ = true;
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  history.final_head = std::max<std::int64_t>(head, 0);
  history.readers = std::move(logs_);
  // One more reader, fresh, reads the whole feed to the head: an entry that appeared at a
  // position the others had passed without one, or that changed, shows here.
  const StreamIndex streams(plan_);
  FeedReaderLog final_log;
  final_log.reader = config_.readers;
  final_log.final_read = true;
  std::int64_t position = 0;
  while (position < history.final_head) {
    try {
      eventstore::FeedReadOptions options;
      options.after = position;
      options.limit = 1000;
      options.with_data = false;
      const eventstore::FeedPage got = store_.read_feed(plan_.context, options);
      FeedPageSeen page;
      page.after = position;
      page.at_ns = now_ns();
      page.last_position = got.last_position;
      for (const eventstore::FeedEntry& e : got.entries)
        page.entries.push_back(FeedSeen{e.position, streams.of(e.event.stream), e.event.version, e.event.event_id});
      final_log.pages.push_back(std::move(page));
      if (got.last_position <= position) break;  // the head is lower than it said: the checker sees it
      position = got.last_position;
    } catch (const std::exception& e) {
      ++final_log.errors;
      final_log.last_error = e.what();
      if (Clock::now() >= deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  final_log.final_position = position;
  final_log.reached_head = position >= history.final_head;
  history.readers.push_back(std::move(final_log));
  return history;
}

Report run_and_check(eventstore::Store& store, const Plan& plan, const WorkloadConfig& writers,
                     const FeedReaderConfig& feed, double final_read_retry_s) {
  std::optional<FeedReaders> readers;
  if (feed.readers > 0) {
    readers.emplace(store, plan, feed);
    readers->start();
  }
  WorkloadStats stats;
  const std::vector<Attempt> attempts = run_workload(store, plan, writers, stats);
  std::optional<FeedHistory> history;
  if (readers) history = readers->finish();
  const std::vector<StoredStream> stored = read_final(store, plan, final_read_retry_s);
  Report report = check_history(plan, attempts, stored);
  if (history) check_feed(plan, attempts, stored, *history, report);
  return report;
}

}  // namespace historycheck

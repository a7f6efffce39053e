// The feed readers of a history-check run: threads that follow the run's context's feed while
// the writers append and record every page they read (feed_history.h, FeedHistory). Readers 0..N-2
// read from position 0 to the end (reader 1, when N >= 3, with a filter on one event type); the
// last reader is the subscriber: it saves its checkpoint under a name, is "killed" at random
// (drops its position, as a crashed consumer would) and restarts from the checkpoint it loads.
//
// Thread safety: FeedReaders starts and joins its own threads; the store must be thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "feed_history.h"
#include "workload.h"

namespace historycheck {

struct ReaderShared;

struct FeedReaderConfig {
  int readers = 2;  // the last one is the subscriber; with 3 or more, reader 1 is filtered
                    // (event type kNotedType only)
  bool subscriber = true;
  std::string checkpoint_name;  // default: "history-check-<context>"
  std::uint32_t max_page = 64;  // each page asks for 1..max_page positions
  std::chrono::milliseconds poll{5};
  double kill_probability = 0.03;       // per page: the subscriber drops its position and restarts
  double save_probability = 0.5;        // per page: the subscriber saves its checkpoint
  double stale_save_probability = 0.1;  // per save: also save a lower position (must not move it back)
  double async_probability = 0.5;       // read_feed_async instead of read_feed
  bool duplicates_allowed = false;      // recorded in the history for the checker
  bool hidden_may_be_missing = true;    // recorded in the history for the checker (FeedHistory)
  double settle_s = 0;                  // after the writers stop, the head must not move for this long
  double catch_up_s = 300;              // how long the readers get to reach the settled head
  std::uint64_t seed = 1;
};

class FeedReaders {
 public:
  FeedReaders(eventstore::Store& store, const Plan& plan, FeedReaderConfig config);
  ~FeedReaders();
  FeedReaders(const FeedReaders&) = delete;
  FeedReaders& operator=(const FeedReaders&) = delete;

  void start();
  // Call once the writers have stopped: waits until the feed's head has not moved for
  // settle_s (once, at least), lets every reader reach it, joins them and returns what they saw.
  FeedHistory finish();

 private:
  void run(int index);

  eventstore::Store& store_;
  const Plan& plan_;
  FeedReaderConfig config_;
  std::vector<FeedReaderLog> logs_;
  std::vector<std::thread> threads_;
  // -1 while the writers run; then the head every reader must reach.
  std::atomic<std::int64_t> target_{-1};
  std::atomic<bool> give_up_{false};
  std::atomic<bool> done_{false};
  std::unique_ptr<ReaderShared[]> shared_;
};

// Runs the writers with `feed.readers` feed readers alongside (none: no feed check), reads the
// final state and checks the history and the feed.
Report run_and_check(eventstore::Store& store, const Plan& plan, const WorkloadConfig& writers,
                     const FeedReaderConfig& feed, double final_read_retry_s);

}  // namespace historycheck

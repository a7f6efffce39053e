// One timer thread for the whole process: runs tasks at given times (the polls of asynchronous
// subscriptions waiting at the head). Tasks run one at a time and must be short: they start an
// asynchronous operation and return.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace eventstore::detail {

class Timer {
 public:
  using Clock = std::chrono::steady_clock;

  // Runs `task` on the timer thread at `when` (or soon after). After stop(), drops it.
  void at(Clock::time_point when, std::function<void()> task);
  // Ends the thread and drops the tasks still waiting, without running them. Idempotent.
  void stop();

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::multimap<Clock::time_point, std::function<void()>> tasks_;
  bool stopped_ = false;
  std::thread thread_;  // started with the first task
};

// The process's timer. The object lives until the process ends (it is never destroyed, so a
// task scheduled during exit finds it); its thread is stopped when static objects are destroyed.
Timer& shared_timer();

}  // namespace eventstore::detail

#include "timer.h"

#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "eventstore/log.h"

namespace eventstore::detail {

void Timer::at(Clock::time_point when, std::function<void()> task) {
  std::unique_lock lock(mutex_);
  if (stopped_) {
    lock.unlock();
    return;  // `task` is destroyed here, outside the lock
  }
  const bool earliest = tasks_.empty() || when < tasks_.begin()->first;
  tasks_.emplace(when, std::move(task));
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  if (earliest) wake_.notify_one();
}

void Timer::stop() {
  std::multimap<Clock::time_point, std::function<void()>> dropped;
  std::thread thread;
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    dropped.swap(tasks_);
    thread.swap(thread_);
  }
  wake_.notify_one();
  if (thread.joinable()) {
    // exit() called from a task: the timer thread cannot join itself.
    if (thread.get_id() == std::this_thread::get_id()) thread.detach();
    else thread.join();
  }
}

void Timer::run() {
  std::unique_lock lock(mutex_);
  while (!stopped_) {
    if (tasks_.empty()) {
      wake_.wait(lock);
      continue;
    }
    const auto first = tasks_.begin();
    if (first->first > Clock::now()) {
      wake_.wait_until(lock, first->first);
      continue;
    }
    std::function<void()> task = std::move(first->second);
    tasks_.erase(first);
    lock.unlock();
    try {
      task();
    } catch (const std::exception& e) {
      log(LogLevel::kError, std::string("a callback threw on the subscription timer thread: ") + e.what());
    } catch (...) {
      log(LogLevel::kError, "a callback threw on the subscription timer thread");
    }
    task = nullptr;
    lock.lock();
  }
}

Timer& shared_timer() {
  static Timer* const timer = new Timer;
  static const struct Stopper {
    ~Stopper() { timer->stop(); }
  } stopper;
  return *timer;
}

}  // namespace eventstore::detail

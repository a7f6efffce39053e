// The writer thread, its queue, and the blocking append's shortcut (writer.h).
#include "sqlite/writer.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "core/blocking.h"

namespace eventstore::detail {

Writer::Writer(std::unique_ptr<Connection> connection, const Limits& limits, std::shared_ptr<MetricsSink> metrics)
    : options_(connection->options()),
      metrics_(std::move(metrics)),
      group_commit_(std::move(connection), limits),
      checkpointer_(std::make_unique<Checkpointer>(options_, metrics_)) {
  checkpointer_->watch(group_commit_.db());  // the thread has not started: no one else uses it yet
  thread_ = std::thread([this] {
    loop();
    if (last_act_) {
      std::function<void()> last_act = std::move(last_act_);
      thread_.detach();
      last_act();  // destroys this writer
    }
  });
}

Writer::~Writer() { close(); }

void Writer::close() {
  {
    MutexLock lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Writer::close_from_writer_thread(std::function<void()> last_act) {
  last_act_ = std::move(last_act);
  MutexLock lock(mutex_);
  stopping_ = true;
}

AppendResult Writer::append(AppendJob job) {
  if (!try_claim_idle()) {
    return detail::wait_for<AppendResult>([&](auto done) {
      job.callback = std::move(done);
      enqueue(std::move(job));
    });
  }
  std::vector<Job> batch;
  batch.emplace_back(std::move(job));
  std::vector<JobResult> results;
  commit(batch, results);
  if (hand_back()) wake_.notify_one();  // what was queued meanwhile is the writer thread's
  return std::get<0>(std::move(results.front())).get();
}

void Writer::enqueue(Job job) {
  bool queued = false;
  {
    MutexLock lock(mutex_);
    if (!stopping_) {
      queue_.push_back(std::move(job));
      queued = true;
    }
  }
  if (queued) {
    wake_.notify_one();
    return;
  }
  const Error closing(ErrorCode::kUnavailable, options_.display + ": the store is closing; nothing was written");
  std::visit([&closing](auto& j) { complete(j.callback, closing); }, job);
}

void Writer::loop() {
  std::vector<Job> batch;
  std::vector<JobResult> results;
  while (take_batch(batch)) {
    commit(batch, results);
    hand_back();
    complete_all(batch, results);
    batch.clear();
    results.clear();
  }
}

void Writer::commit(std::vector<Job>& batch, std::vector<JobResult>& results) {
  if (!metrics_) return group_commit_.commit(batch, results);
  const auto start = std::chrono::steady_clock::now();
  group_commit_.commit(batch, results);
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  const auto appends =
      std::count_if(batch.begin(), batch.end(), [](const Job& job) { return std::holds_alternative<AppendJob>(job); });
  metrics_->record(metrics::sqlite_group_appends, {}, static_cast<double>(appends));
  metrics_->record(metrics::sqlite_group_commit_seconds, {}, took.count());
}

bool Writer::take_batch(std::vector<Job>& batch) {
  MutexLock lock(mutex_);
  while (!stopping_ && (queue_.empty() || committing_)) wake_.wait(mutex_);
  // Stopping drains: whatever was queued before the store closed is still committed.
  if (queue_.empty()) return false;
  while (committing_) wake_.wait(mutex_);
  batch.clear();
  std::size_t bytes = 0;
  while (!queue_.empty() && batch.size() < kMaxBatch && bytes < kMaxBatchBytes) {
    bytes += job_bytes(queue_.front());
    batch.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  committing_ = true;
  committer_.claim();
  return true;
}

bool Writer::try_claim_idle() {
  MutexLock lock(mutex_);
  if (stopping_ || committing_ || !queue_.empty()) return false;
  committing_ = true;
  committer_.claim();
  return true;
}

bool Writer::hand_back() {
  MutexLock lock(mutex_);
  committing_ = false;
  committer_.hand_back();
  return !queue_.empty();
}

}  // namespace eventstore::detail

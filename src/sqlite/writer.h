// The writer: every write (append, snapshot save, checkpoint save) is a job, committed on the one
// writer connection by GroupCommit. A writer thread takes what is queued, up to kMaxBatch jobs or
// kMaxBatchBytes of data, commits it as one transaction and then completes the callbacks. The
// blocking append commits on the caller's thread instead when the writer is idle and nothing is
// queued (two thread hand-offs fewer); otherwise it queues like the others.
//
// Invariants: one thread at a time uses the connection: the one holding committer_, claimed
// and handed back under mutex_ together with committing_. Jobs are committed in the order they
// were queued; a blocking append that commits itself overtakes no queued job. Closing drains:
// what was queued before close() is still committed and its callbacks run; a job queued after
// gets kUnavailable ("the store is closing").
// Errors: append throws the job's error (as GroupCommit reports it); enqueue never throws (the
// error goes to the job's callback); the constructor throws what opening the checkpointer's
// connection throws.
// Thread safety: append and enqueue may be called from many threads at once, and from
// callbacks (on the writer thread); close from any thread but the writer's (there only inside
// the last act); close_from_writer_thread only from the writer thread.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "core/thread_annotations.h"
#include "eventstore/metrics.h"
#include "sqlite/checkpointer.h"
#include "sqlite/group_commit.h"

namespace eventstore::detail {

// The right to use the writer's connection (the GroupCommit): held by the writer thread while it
// commits a batch, or by a blocking append that found the writer idle. Not a lock: committing_,
// under mutex_, is what other threads see and wait on; this names the holder for the analysis.
class CAPABILITY("role") CommitterRole {
 public:
  void claim() ACQUIRE() {}
  void hand_back() RELEASE() {}
};

class Writer {
 public:
  // At most this many jobs go into one group commit.
  static constexpr std::size_t kMaxBatch = 512;
  // A group commit stops taking jobs once it holds this many bytes of event and snapshot data.
  static constexpr std::size_t kMaxBatchBytes = 16 * 1024 * 1024;

  // `connection` has had open_schema run on it. Starts the checkpointer and the writer thread.
  // `metrics` (may be null) gets each group commit's appends and time, and the checkpointer's.
  Writer(std::unique_ptr<Connection> connection, const Limits& limits, std::shared_ptr<MetricsSink> metrics = nullptr);
  ~Writer();  // close(), then the checkpointer, then the connection
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  AppendResult append(AppendJob job) EXCLUDES(mutex_, committer_);
  void enqueue(Job job) EXCLUDES(mutex_);

  // Stops taking jobs, lets the writer thread commit what is queued, and joins it. Idempotent.
  void close() EXCLUDES(mutex_);

  bool on_writer_thread() const { return std::this_thread::get_id() == thread_.get_id(); }

  // For a callback that drops the last reference to the writer's owner: the writer thread cannot
  // join itself and is still completing its batch. It stops taking jobs, drains the queue, and
  // then runs `last_act` (which destroys the owner, and with it this writer) as its last act.
  void close_from_writer_thread(std::function<void()> last_act) EXCLUDES(mutex_);

 private:
  void loop() EXCLUDES(mutex_, committer_);
  // group_commit_.commit, measured when there is a sink.
  void commit(std::vector<Job>& batch, std::vector<JobResult>& results) REQUIRES(committer_);
  // Waits for queued jobs and an idle connection, moves a batch into `batch` and claims the
  // connection; false once closing and nothing is queued.
  bool take_batch(std::vector<Job>& batch) EXCLUDES(mutex_) TRY_ACQUIRE(true, committer_);
  // Claims the connection for a blocking append if no one has it and nothing is queued.
  bool try_claim_idle() EXCLUDES(mutex_) TRY_ACQUIRE(true, committer_);
  // True when jobs are queued (the writer thread must be woken).
  bool hand_back() EXCLUDES(mutex_) RELEASE(committer_);

  const SqliteOptions options_;
  const std::shared_ptr<MetricsSink> metrics_;
  CommitterRole committer_;
  GroupCommit group_commit_ GUARDED_BY(committer_);
  std::unique_ptr<Checkpointer> checkpointer_;  // destroyed before group_commit_ (its connection)

  // What the writer thread and the callers share.
  Mutex mutex_;
  CondVar wake_;  // a job was queued, the connection was handed back, or closing began
  std::deque<Job> queue_ GUARDED_BY(mutex_);
  bool committing_ GUARDED_BY(mutex_) = false;  // someone holds committer_
  bool stopping_ GUARDED_BY(mutex_) = false;

  std::function<void()> last_act_;  // set and read on the writer thread only
  std::thread thread_;
};

}  // namespace eventstore::detail

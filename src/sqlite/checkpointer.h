// Copies the WAL back into the database file on its own thread and connection, so that the
// writer never waits for a checkpoint's writes and fsyncs (the SQLite WAL documentation,
// sqlite.org/wal.html, section "Application-Initiated Checkpoints", suggests this).
//
// Invariants: once watch() has installed the hook, the writer's connection has automatic
// checkpoints off; the thread is asked to checkpoint each time the WAL grows by
// kCheckpointPages; past kWalPagesLimit the committing thread checkpoints itself (the log
// restarts only after a checkpoint that no commit overtook). One checkpoint runs at a time.
// Errors: the constructor throws what opening a Connection throws; a failed checkpoint is
// logged as a warning (BUSY, another connection checkpointing, is not a failure).
// Thread safety: the hook runs on whichever thread commits on the writer's connection, one at a
// time (the writer's committer role); the checkpoint thread is the object's own.
// The destructor stops and joins the thread; destroy it before the writer's connection.
#pragma once

#include <sqlite3.h>

#include <memory>
#include <string_view>
#include <thread>

#include "core/thread_annotations.h"
#include "eventstore/metrics.h"
#include "sqlite/connection.h"

namespace eventstore::detail {

class Checkpointer {
 public:
  // SQLite's own automatic checkpoint threshold, in pages of the WAL.
  static constexpr int kCheckpointPages = 1000;
  static constexpr int kWalPagesLimit = 8 * kCheckpointPages;

  // `metrics` (may be null) gets each checkpoint's time and the WAL's length after it.
  Checkpointer(const SqliteOptions& options, std::shared_ptr<MetricsSink> metrics);
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // Installs the hook on the writer's connection.
  void watch(sqlite3* writer);

 private:
  // SQLite's WAL hook: `pages` is the WAL's length, which restarts from zero once a checkpoint
  // has copied all of it.
  static int on_commit(void* self, sqlite3* writer, const char* database, int pages);
  void loop() EXCLUDES(mutex_, run_mutex_);
  // One PASSIVE checkpoint on `db`, measured when there is a sink; the caller holds run_mutex_.
  int checkpoint(sqlite3* db, std::string_view mode) REQUIRES(run_mutex_);

  Connection connection_;  // the checkpoint thread's
  const std::shared_ptr<MetricsSink> metrics_;
  // Read and written only by the hook, that is by the thread committing at the time.
  int last_pages_ = 0;
  int next_request_at_ = kCheckpointPages;
  Mutex run_mutex_;  // held while checkpointing: one checkpoint at a time, on either connection
  Mutex mutex_;
  CondVar wake_;
  bool due_ GUARDED_BY(mutex_) = false;
  bool stopping_ GUARDED_BY(mutex_) = false;
  std::thread thread_;
};

}  // namespace eventstore::detail

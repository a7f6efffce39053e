// The checkpoint thread and the writer's WAL hook (checkpointer.h).
#include "sqlite/checkpointer.h"

#include <array>
#include <chrono>
#include <string>
#include <utility>

#include "eventstore/log.h"

namespace eventstore::detail {

Checkpointer::Checkpointer(const SqliteOptions& options, std::shared_ptr<MetricsSink> metrics)
    : connection_(options, /*create=*/false), metrics_(std::move(metrics)) {
  // A connection checkpoints only once it has read the file and found it in WAL mode.
  connection_.query_text("PRAGMA journal_mode", "open the checkpoint connection");
  thread_ = std::thread([this] { loop(); });
}

Checkpointer::~Checkpointer() {
  {
    MutexLock lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void Checkpointer::watch(sqlite3* writer) {
  sqlite3_wal_autocheckpoint(writer, 0);
  sqlite3_wal_hook(writer, &Checkpointer::on_commit, this);
}

int Checkpointer::on_commit(void* self, sqlite3* writer, const char*, int pages) {
  auto* c = static_cast<Checkpointer*>(self);
  if (pages < c->last_pages_) c->next_request_at_ = kCheckpointPages;
  c->last_pages_ = pages;
  if (pages >= kWalPagesLimit) {
    // The log restarts only after a checkpoint that no commit overtook, which under a steady
    // stream of commits only the writer can run: it waits for the checkpoint thread's run to
    // end, then copies the rest itself (SQLite's automatic checkpoint would copy all of it).
    MutexLock run(c->run_mutex_);
    c->checkpoint(writer, "writer");
  } else if (pages >= c->next_request_at_) {
    c->next_request_at_ = pages + kCheckpointPages;
    {
      MutexLock lock(c->mutex_);
      c->due_ = true;
    }
    c->wake_.notify_one();
  }
  return SQLITE_OK;
}

void Checkpointer::loop() {
  for (;;) {
    {
      MutexLock lock(mutex_);
      while (!due_ && !stopping_) wake_.wait(mutex_);
      if (stopping_) return;
      due_ = false;
    }
    // PASSIVE: copies what it can without waiting for readers or the writer. BUSY means
    // another connection is checkpointing: that one does the work.
    int rc;
    {
      MutexLock run(run_mutex_);
      rc = checkpoint(connection_.db(), "background");
    }
    if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY)
      log(LogLevel::kWarning, std::string(connection_.error(rc, "checkpoint").what()));
  }
}

int Checkpointer::checkpoint(sqlite3* db, std::string_view mode) {
  if (!metrics_) return sqlite3_wal_checkpoint_v2(db, "main", SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  int wal_pages = 0;
  const auto start = std::chrono::steady_clock::now();
  const int rc = sqlite3_wal_checkpoint_v2(db, "main", SQLITE_CHECKPOINT_PASSIVE, &wal_pages, nullptr);
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  if (rc != SQLITE_OK) return rc;  // it did not run (BUSY: another connection is checkpointing)
  const std::array<std::string_view, 1> labels = {mode};
  metrics_->record(metrics::sqlite_checkpoints_total, labels, 1);
  metrics_->record(metrics::sqlite_checkpoint_seconds, labels, took.count());
  metrics_->record(metrics::sqlite_wal_pages, {}, wal_pages);
  return rc;
}

}  // namespace eventstore::detail

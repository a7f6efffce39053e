// A small pool of read connections to one file, shared by a store and its cursors (a cursor may
// outlive its store, so the pool is held by shared_ptr).
//
// Invariants: a connection in the pool is idle, open, and query_only; at most kMaxIdleReaders
// are kept (more are closed when handed back).
// Errors: lease() throws what opening a Connection throws (kUnavailable, kUnauthorized,
// kCorruption).
// Thread safety: lease() may be called from many threads at once; a Lease and its connection
// belong to one thread at a time.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "core/thread_annotations.h"
#include "sqlite/connection.h"
#include "sqlite/options.h"

namespace eventstore::detail {

class ReaderPool {
 public:
  // Idle read connections kept open.
  static constexpr std::size_t kMaxIdleReaders = 8;

  explicit ReaderPool(SqliteOptions options) : options_(std::move(options)) {}
  ReaderPool(const ReaderPool&) = delete;
  ReaderPool& operator=(const ReaderPool&) = delete;

  // A read connection, handed back to the pool when the lease ends.
  class Lease {
   public:
    Lease(ReaderPool& pool, std::unique_ptr<Connection> connection) : pool_(pool), connection_(std::move(connection)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { pool_.give_back(std::move(connection_)); }
    Connection& operator*() const { return *connection_; }

   private:
    ReaderPool& pool_;
    std::unique_ptr<Connection> connection_;
  };

  // An idle connection, or a new one.
  Lease lease() EXCLUDES(mutex_);

  const SqliteOptions& options() const { return options_; }

 private:
  void give_back(std::unique_ptr<Connection> connection) EXCLUDES(mutex_);

  const SqliteOptions options_;
  Mutex mutex_;
  std::vector<std::unique_ptr<Connection>> idle_ GUARDED_BY(mutex_);
};

}  // namespace eventstore::detail

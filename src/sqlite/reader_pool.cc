// The pool of read connections (reader_pool.h).
#include "sqlite/reader_pool.h"

#include <utility>

namespace eventstore::detail {

ReaderPool::Lease ReaderPool::lease() {
  {
    MutexLock lock(mutex_);
    if (!idle_.empty()) {
      std::unique_ptr<Connection> connection = std::move(idle_.back());
      idle_.pop_back();
      return Lease(*this, std::move(connection));
    }
  }
  auto connection = std::make_unique<Connection>(options_, /*create=*/false);
  connection->exec("PRAGMA query_only = 1", "configure a read connection");
  return Lease(*this, std::move(connection));
}

void ReaderPool::give_back(std::unique_ptr<Connection> connection) {
  if (!connection) return;
  MutexLock lock(mutex_);
  if (idle_.size() < kMaxIdleReaders) idle_.push_back(std::move(connection));
}

}  // namespace eventstore::detail

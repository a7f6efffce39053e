// The cursor of a stream read: pages of events in version order, each read on a pooled read
// connection, keyset-bounded (a page resumes at the version after the last one returned).
//
// Invariants: the options were validated (SqliteStore::read returns failed_cursor otherwise);
// versions within and across pages are contiguous: a hole or a repeat is kCorruption, never a
// short read; a forward read skips to the stream's lifecycle "before" (docs/lifecycle.md) when it
// is below it, a backward read stops there; a page holds at least one event and ends before the event that would take
// it past page_bytes. After an error the cursor is done. Errors: a page fails with kCorruption (a damaged row or a
// missing version) or what opening or reading a connection throws (kUnavailable, kUnauthorized). Thread safety: one
// page at a time (as every EventCursor); the cursor may outlive its store.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "eventstore/event_store.h"
#include "sqlite/reader_pool.h"

namespace eventstore::detail {

class SqliteCursor final : public EventCursor {
 public:
  SqliteCursor(std::shared_ptr<ReaderPool> pool, StreamId stream, ReadOptions options);

  void next_page_async(PageCallback callback) override;

 private:
  std::vector<RecordedEvent> fetch();

  std::shared_ptr<ReaderPool> pool_;
  StreamId stream_;
  ReadOptions options_;
  std::string aggregate_id_;
  std::int64_t next_ = 1;
  bool continued_ = false;
  std::uint64_t remaining_ = 0;
  bool done_ = false;
};

}  // namespace eventstore::detail

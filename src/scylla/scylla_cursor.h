// A read of one stream on the cluster, page by page (EventCursor).
//
// Invariants: pages keep to ReadOptions::page_size and page_bytes (a page holds at least one
// event); at most one fetch runs ahead of the pages delivered, none once the cursor is
// destroyed; the events fetched before an error are delivered, then the error, and then the
// cursor is at its end.
//
// Errors: the options validate_read refuses come back as the first page (failed_cursor);
// kUnavailable, kUnauthorized, kInvalidArgument (no schema) from the cluster; kCorruption for a
// stored row without an event_type.
//
// Thread safety: one page request at a time per cursor; its callback runs on the caller's thread
// when the page was already fetched, else on a bridge worker thread.
#pragma once

#include <memory>

#include "eventstore/store.h"
#include "scylla/connection.h"

namespace eventstore::detail {

std::unique_ptr<EventCursor> read_scylla_stream(std::shared_ptr<Connection> connection, const StreamId& stream,
                                                const ReadOptions& options);

}  // namespace eventstore::detail

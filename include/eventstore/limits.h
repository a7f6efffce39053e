// Limits: what one append may hold. Every store checks them before writing anything and
// rejects a request that exceeds one with ErrorCode::kInvalidArgument naming the limit.
//
// Thread safety: a value type.
#pragma once

#include <cstddef>
#include <cstdint>

#include "eventstore/export.h"

namespace eventstore {

struct EVENTSTORE_EXPORT Limits {
  // Bytes of one event: event_type + data + metadata.
  std::size_t max_event_bytes = 1024 * 1024;
  // Events in one append.
  std::size_t max_events_per_append = 1000;
  // Bytes of one append: the sum of its events' bytes. On a CQL cluster one append is one
  // batch: the server's batch_size_fail_threshold must be above this (see docs/scylla.md).
  std::size_t max_append_bytes = 4 * 1024 * 1024;
  // Bytes of a bounded context or aggregate type or event type name.
  std::size_t max_identifier_bytes = 255;
  // The highest version a stream may reach (the data model stores versions as a CQL int).
  std::int64_t max_version = 2147483647;
};

}  // namespace eventstore

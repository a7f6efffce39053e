// The error of an append that would take a stream past Limits::max_version: the same words from
// every backend, naming the limit, where it is set, and what to do instead (docs/long-streams.md).
//
// Thread safety: a pure function.
#pragma once

#include <cstdint>
#include <string>

#include "eventstore/error.h"
#include "eventstore/stream_id.h"

namespace eventstore::detail {

inline Error past_max_version(const StreamId& stream, std::int64_t max_version) {
  return Error::invalid("append would take " + to_string(stream) + " past the maximum version " +
                        std::to_string(max_version) +
                        " (Limits::max_version, store URI option max_stream_version): close the books: save a "
                        "snapshot, start a continuation stream from it and append there (docs/long-streams.md)");
}

}  // namespace eventstore::detail

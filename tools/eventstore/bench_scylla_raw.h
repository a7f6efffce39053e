// The cluster ceiling of `eventstore bench --raw` (docs/BENCHMARKS.md): the store's CQL (the same
// prepared conditional append batch, the same paged read) sent straight through the Rust
// bridge's Session, without the store's layers: no validation, no Result, no std::function, no
// retry or conflict resolution, one heap object per request.
//
// Part of the benchmark, not of the library: the static eventstore_bench library of the CLI. It
// calls the bridge's C++ API, which libeventstore exports (the Rust static library stays in the
// .so), and reads the URI with the store's own parser (session_config.h). Nothing here includes
// Rust or cxx headers.
//
// Thread safety: a RawScylla may be used from any number of threads; completions run on the
// bridge's tokio worker threads and must not block.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "bench_core.h"

namespace eventstore_cli::bench {

struct RawEvent {
  std::array<std::uint8_t, 16> event_id{};
  std::string_view event_type;
  std::string_view data;  // JSON text; never null here
  std::int64_t timestamp_ms = 0;
};

// Called exactly once per request, on a bridge thread. kConflict: the conditional batch was not
// applied. `rows` is the number of events read (0 for appends); `stream_version` is the head the
// cluster reported for a batch not applied (-1 when unknown). `error_kind` is one of
// "unavailable", "outcome_unknown", "unauthorized", "invalid_argument", "internal", "closed"
// (empty unless kFailed).
// The statements of the raw append batch: the store's (a condition on the static stream_version
// and IF NOT EXISTS per event), or the seed library's (IF NOT EXISTS per event, no static column;
// it checks no expected version).
enum class RawShape { kStore, kSeed };

using RawDone = void (*)(void* context, Outcome outcome, std::int64_t rows, std::int64_t stream_version,
                         const char* error_kind) noexcept;

class RawScylla {
 public:
  virtual ~RawScylla() = default;

  // Parses a scylla:// URI (the store's parser: session_config_from) and connects; blocking.
  // Throws eventstore::Error like open_store.
  static std::unique_ptr<RawScylla> connect(std::string_view uri, RawShape shape);

  // A stream's partition key, converted once. Returns a handle for the calls below.
  virtual std::size_t add_stream(const std::string& bounded_context, const std::string& aggregate_type,
                                 const std::array<std::uint8_t, 16>& aggregate_id) = 0;

  // One conditional batch of the connection's shape at expected version `expected` (0: the
  // stream must not exist), with events at versions expected+1...
  virtual void append(std::size_t stream, std::int64_t expected, const RawEvent* events, std::size_t count,
                      RawDone done, void* context) = 0;

  // A paged read of the stream: forward from version `from`, or backward from the head, at most
  // `limit` events, `page_size` per page. Completes once every page has arrived.
  virtual void read(std::size_t stream, bool backward, std::int64_t from, std::int64_t limit, std::int32_t page_size,
                    RawDone done, void* context) = 0;
};

}  // namespace eventstore_cli::bench

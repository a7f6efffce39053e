// The options of a sqlite:PATH URI: the file path and what follows "?" (docs/sqlite.md).
//
// Invariants: `file` is a non-empty file path (never ":memory:" or a "file:" URI);
// busy_timeout_ms >= 0.
// Errors: parse_options throws Error(kInvalidArgument) for a missing path, an in-memory or
// "file:" path, an unknown option, or a value out of range (naming it).
// Thread safety: plain values; parse_options is a pure function.
#pragma once

#include <string>

namespace eventstore::detail {

struct SqliteOptions {
  std::string file;               // the file path, without "?OPTIONS"
  std::string display;            // "sqlite:" + the path as given
  bool synchronous_full = false;  // PRAGMA synchronous=FULL instead of NORMAL
  int busy_timeout_ms = 5000;
};

// `path` is what follows "sqlite:", as in "events.db?synchronous=full&busy_timeout=100".
SqliteOptions parse_options(const std::string& path);

}  // namespace eventstore::detail

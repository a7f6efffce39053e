// The sqlite:PATH backend: one SQLite file in WAL mode (docs/sqlite.md). Its parts are in
// src/sqlite/ (sqlite_store.cc lists them); this is its only entry point.
//
// Invariants: the store it returns has the file open with the current schema until the last
// reference is dropped; dropping it commits what was queued, completes every callback and closes
// the file's connections (cursors keep their own read connections).
// Thread safety: open_sqlite_store may be called from many threads, for the same file too; the
// Store is safe to share between threads (store.h).
#pragma once

#include <memory>
#include <string>

#include "eventstore/store.h"

namespace eventstore::detail {

// Opens (creating if missing) the SQLite store at `path`. `path` may end in "?OPTIONS"
// (docs/sqlite.md). Throws eventstore::Error: kCorruption for a file that is not an eventstore
// SQLite file, kUnauthorized for a file or directory it may not write, kUnavailable when the
// file is locked or cannot be opened.
std::shared_ptr<Store> open_sqlite_store(const std::string& path, const StoreOptions& options);

}  // namespace eventstore::detail

// The sqlite:PATH backend: one SQLite file in WAL mode (docs/sqlite.md).
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

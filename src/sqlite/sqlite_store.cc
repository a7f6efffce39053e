#include "sqlite/sqlite_store.h"

namespace eventstore::detail {

std::shared_ptr<Store> open_sqlite_store(const std::string& path, const StoreOptions&) {
  throw Error(ErrorCode::kUnavailable, "sqlite store " + path + ": not implemented yet");
}

}  // namespace eventstore::detail

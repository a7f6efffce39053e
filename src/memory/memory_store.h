// The memory: backend: every stream in this process's memory, lost when it exits.
#pragma once

#include <memory>

#include "eventstore/store.h"

namespace eventstore::detail {

std::shared_ptr<Store> make_memory_store(const StoreOptions& options);

}  // namespace eventstore::detail

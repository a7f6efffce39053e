// A cluster store held by a static object is destroyed during process exit, after tokio's
// thread-local state: the process must still exit 0 (it used to abort). Exit 77 = skipped
// (SCYLLA_HOSTS unset).
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "eventstore/eventstore.h"

namespace {
std::shared_ptr<eventstore::Store> store;
}

int main() {
  if (!std::getenv("SCYLLA_HOSTS")) {
    std::fprintf(stderr, "SCYLLA_HOSTS not set: static_store_at_exit NOT run\n");
    return 77;
  }
  unsetenv("EVENTSTORE_STORE");
  store = eventstore::open_store(eventstore::default_store_uri());
  std::printf("head %lld\n", static_cast<long long>(store->head({"exit_test", "t", eventstore::Uuid::random()})));
  return 0;  // `store` is destroyed by the exit handlers
}

// Runs an asynchronous operation and waits for its callback: the blocking forms of the API.
#pragma once

#include <future>
#include <utility>

#include "eventstore/result.h"

namespace eventstore::detail {

// `start` receives a callback taking Result<T>; returns the value or throws the error.
template <class T, class Start>
T wait_for(Start&& start) {
  std::promise<Result<T>> promise;
  std::future<Result<T>> future = promise.get_future();
  start([&promise](Result<T> result) { promise.set_value(std::move(result)); });
  return future.get().get();
}

}  // namespace eventstore::detail

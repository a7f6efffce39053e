// Result<T>: the value of an asynchronous operation, or the Error it failed with.
//
// Thread safety: a plain value type; not synchronized.
#pragma once

#include <utility>
#include <variant>

#include "eventstore/error.h"

namespace eventstore {

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}

  bool ok() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  // Precondition: ok().
  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  // Precondition: !ok().
  const Error& error() const { return std::get<1>(state_); }

  // The value, or throws the error.
  T get() && {
    if (!ok()) throw std::get<1>(state_);
    return std::get<0>(std::move(state_));
  }

 private:
  std::variant<T, Error> state_;
};

}  // namespace eventstore

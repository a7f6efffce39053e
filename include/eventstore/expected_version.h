// ExpectedVersion: the optimistic-concurrency condition of an append.
//
// Thread safety: a value type.
#pragma once

#include <cstdint>
#include <string>

#include "eventstore/export.h"

namespace eventstore {

class EVENTSTORE_EXPORT ExpectedVersion {
 public:
  // The stream must be exactly at `version`; 0 means the stream must not exist yet. A negative
  // version is rejected by append with kInvalidArgument.
  static constexpr ExpectedVersion exact(std::int64_t version) { return ExpectedVersion(false, version); }
  // The stream must not exist yet (the same as exact(0)).
  static constexpr ExpectedVersion no_stream() { return ExpectedVersion(false, 0); }
  // Append at the end, whatever the version is.
  static constexpr ExpectedVersion any() { return ExpectedVersion(true, 0); }

  constexpr bool is_any() const noexcept { return any_; }
  // Precondition: !is_any().
  constexpr std::int64_t version() const noexcept { return value_; }

  // "any", "no-stream" or the number.
  std::string to_string() const;

  friend constexpr bool operator==(ExpectedVersion, ExpectedVersion) = default;

 private:
  constexpr ExpectedVersion(bool any, std::int64_t value) : any_(any), value_(value) {}
  bool any_;
  std::int64_t value_;
};

}  // namespace eventstore

// ExpectedVersion: the optimistic-concurrency condition of an append.
//
// Thread safety: a value type.
#pragma once

#include <cstdint>
#include <limits>
#include <string>

namespace eventstore {

class ExpectedVersion {
 public:
  // The stream must be exactly at `version`; 0 means the stream must not exist yet. A negative
  // version is rejected by append with kInvalidArgument.
  static constexpr ExpectedVersion exact(std::int64_t version) { return ExpectedVersion(version); }
  // The stream must not exist yet (the same as exact(0)).
  static constexpr ExpectedVersion no_stream() { return ExpectedVersion(0); }
  // Append at the end, whatever the version is.
  static constexpr ExpectedVersion any() { return ExpectedVersion(kAny); }

  constexpr bool is_any() const noexcept { return value_ == kAny; }
  // Precondition: !is_any().
  constexpr std::int64_t version() const noexcept { return value_; }

  // "any", "no-stream" or the number.
  std::string to_string() const;

  friend constexpr bool operator==(ExpectedVersion, ExpectedVersion) = default;

 private:
  static constexpr std::int64_t kAny = std::numeric_limits<std::int64_t>::min();
  constexpr explicit ExpectedVersion(std::int64_t value) : value_(value) {}
  std::int64_t value_;
};

}  // namespace eventstore

// Uuid: a 16-byte UUID, as the aggregate id and the event id of the data model.
//
// Thread safety: a value type. Uuid::random() is safe to call from any thread.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "eventstore/export.h"

namespace eventstore {

class EVENTSTORE_EXPORT Uuid {
 public:
  // The nil UUID 00000000-0000-0000-0000-000000000000.
  constexpr Uuid() = default;
  constexpr explicit Uuid(const std::array<std::uint8_t, 16>& bytes) : bytes_(bytes) {}

  // A random (version 4) UUID from a per-thread generator seeded by the operating system.
  static Uuid random();
  // Parses the canonical 36-character form, either case. nullopt if it is not one.
  static std::optional<Uuid> parse(std::string_view text);

  // The canonical lower-case 36-character form.
  std::string to_string() const;
  const std::array<std::uint8_t, 16>& bytes() const noexcept { return bytes_; }
  bool is_nil() const noexcept;

  friend auto operator<=>(const Uuid&, const Uuid&) = default;

 private:
  std::array<std::uint8_t, 16> bytes_{};
};

}  // namespace eventstore

template <>
struct EVENTSTORE_EXPORT std::hash<eventstore::Uuid> {
  std::size_t operator()(const eventstore::Uuid& id) const noexcept;
};

#include "eventstore/uuid.h"

#include <unistd.h>

#include <random>

#include "hex_digit.h"

namespace eventstore {

Uuid Uuid::random() {
  // Per thread, and seeded again in a child after fork(), so that processes never share a stream.
  thread_local pid_t seeded_in = 0;
  thread_local std::mt19937_64 generator;
  if (seeded_in != getpid()) {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device(), device(), device(), device(), device()};
    generator.seed(seed);
    seeded_in = getpid();
  }
  std::array<std::uint8_t, 16> bytes{};
  for (int half = 0; half < 2; ++half) {
    std::uint64_t word = generator();
    for (int i = 0; i < 8; ++i) bytes[half * 8 + i] = static_cast<std::uint8_t>(word >> (8 * i));
  }
  bytes[6] = static_cast<std::uint8_t>((bytes[6] & 0x0F) | 0x40);  // version 4
  bytes[8] = static_cast<std::uint8_t>((bytes[8] & 0x3F) | 0x80);  // RFC 4122 variant
  return Uuid(bytes);
}

std::optional<Uuid> Uuid::parse(std::string_view text) {
  if (text.size() != 36) return std::nullopt;
  std::array<std::uint8_t, 16> bytes{};
  std::size_t out = 0;
  for (std::size_t i = 0; i < text.size();) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return std::nullopt;
      ++i;
      continue;
    }
    const int high = detail::hex_digit_value(text[i]);
    const int low = detail::hex_digit_value(text[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    bytes[out++] = static_cast<std::uint8_t>(high * 16 + low);
    i += 2;
  }
  return Uuid(bytes);
}

std::string Uuid::to_string() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text;
  text.reserve(36);
  for (std::size_t i = 0; i < bytes_.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) text.push_back('-');
    text.push_back(kDigits[bytes_[i] >> 4]);
    text.push_back(kDigits[bytes_[i] & 0x0F]);
  }
  return text;
}

bool Uuid::is_nil() const noexcept {
  for (std::uint8_t b : bytes_)
    if (b != 0) return false;
  return true;
}

}  // namespace eventstore

std::size_t std::hash<eventstore::Uuid>::operator()(const eventstore::Uuid& id) const noexcept {
  std::size_t h = 0;
  for (std::uint8_t b : id.bytes()) h = h * 131 + b;
  return h;
}

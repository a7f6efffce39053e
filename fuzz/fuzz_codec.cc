// libFuzzer harness: EventCodec::decode of an arbitrary event type name and data text.
// Contract (include/eventstore/codec.h): decode returns an event or throws
// eventstore::Error(kCorruption); nothing else may escape, nothing may crash, and a decoded
// event encodes to JSON that decodes to the same event. detail::parse_json, which decode uses,
// gives exactly what nlohmann::json::parse gives: the same value (type for type, a double bit
// for bit) or an exception with the same message.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "eventstore/codec.h"

namespace {

struct Opened {
  static constexpr std::string_view event_type = "AccountOpened";
  std::string owner;
  std::int64_t limit = 0;
  std::vector<std::string> tags;
  bool operator==(const Opened&) const = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Opened, owner, limit, tags)

struct Deposited {
  static constexpr std::string_view event_type = "MoneyDeposited";
  std::int32_t amount = 0;
  double rate = 0;
  bool flagged = false;
  std::map<std::string, std::uint16_t> notes;
  bool operator==(const Deposited&) const = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Deposited, amount, rate, flagged, notes)

struct Closed {
  static constexpr std::string_view event_type = "AccountClosed";
  std::string reason;
  std::vector<std::vector<std::int64_t>> history;
  bool operator==(const Closed&) const = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Closed, reason, history)

using Event = std::variant<Opened, Deposited, Closed>;
constexpr std::string_view kNames[] = {"AccountOpened", "MoneyDeposited", "AccountClosed"};

// Whether two values are the same, type for type (nlohmann's == holds 0u equal to 0 and -0.0
// equal to 0.0).
bool strictly_equal(const nlohmann::json& a, const nlohmann::json& b) {
  if (a.type() != b.type() || a.size() != b.size()) return false;
  if (a.is_number_float())
    return std::bit_cast<std::uint64_t>(a.get<double>()) == std::bit_cast<std::uint64_t>(b.get<double>());
  if (a.is_array()) {
    for (std::size_t i = 0; i < a.size(); ++i)
      if (!strictly_equal(a[i], b[i])) return false;
    return true;
  }
  if (a.is_object()) {
    for (auto it = a.begin(); it != a.end(); ++it) {
      const auto other = b.find(it.key());
      if (other == b.end() || !strictly_equal(*it, *other)) return false;
    }
    return true;
  }
  return a == b;
}

void check_parse_json(std::string_view text) {
  std::optional<nlohmann::json> fast, reference;
  std::string fast_error, reference_error;
  try {
    fast = eventstore::detail::parse_json(text);
  } catch (const nlohmann::json::exception& e) {
    fast_error = e.what();
  }
  try {
    reference = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    reference_error = e.what();
  }
  if (fast.has_value() != reference.has_value() || fast_error != reference_error) std::abort();
  if (fast && !strictly_equal(*fast, *reference)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const eventstore::EventCodec<Event> codec;
  if (size == 0) return 0;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  // First byte: < 0xF0 picks a known type name; else the next (byte - 0xF0) bytes are the name.
  const auto selector = static_cast<unsigned char>(input[0]);
  input.remove_prefix(1);
  std::string_view type_name;
  if (selector < 0xF0) {
    type_name = kNames[selector % 3];
  } else {
    const std::size_t n = std::min<std::size_t>(selector - 0xF0u, input.size());
    type_name = input.substr(0, n);
    input.remove_prefix(n);
  }
  check_parse_json(input);
  Event event;
  try {
    event = codec.decode(type_name, input);
  } catch (const eventstore::Error& e) {
    if (e.code() != eventstore::ErrorCode::kCorruption) std::abort();
    return 0;
  }
  // A decoded event round-trips.
  const std::string text = codec.encode(event);
  const Event again = codec.decode(codec.type_name(event), text);
  if (again != event && std::holds_alternative<Deposited>(event) &&
      std::get<Deposited>(event).rate != std::get<Deposited>(event).rate)
    return 0;  // NaN never equals itself (JSON cannot hold one, but a conversion might make one)
  if (again != event) std::abort();
  if (codec.type_name(event) != type_name) std::abort();
  return 0;
}

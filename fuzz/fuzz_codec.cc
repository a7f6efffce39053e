// libFuzzer harness: EventCodec::decode of an arbitrary event type name and data text.
// Contract (include/eventstore/codec.h): decode returns an event or throws
// eventstore::Error(kCorruption); nothing else may escape, nothing may crash, and a decoded
// event encodes to JSON that decodes to the same event. detail::parse_json, which decode uses,
// gives exactly what nlohmann::json::parse gives: the same value (type for type, a double bit
// for bit) or an exception with the same message.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/json_agreement.h"
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
  if (!eventstore::testing::parse_json_disagreement(input).empty()) std::abort();
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

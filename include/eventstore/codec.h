// EventCodec: JSON encoding of a user's event types, and the registry mapping stored event type
// names to them. An aggregate's events are one std::variant of plain structs; each struct names
// itself with `static constexpr std::string_view event_type = "...";` and is convertible to and
// from nlohmann::json (for example with NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE).
//
// Thread safety: an EventCodec is immutable after construction and safe to share.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include <nlohmann/json.hpp>

#include "eventstore/error.h"
#include "eventstore/export.h"

namespace eventstore {

namespace detail {
// nlohmann::json::parse(text): the same value, or the same exception (nlohmann's own), about
// three times faster (simdjson reads the text; what it refuses goes to nlohmann).
// Thread safety: safe from any thread (one reused parser per thread).
EVENTSTORE_EXPORT nlohmann::json parse_json(std::string_view text);
}  // namespace detail

template <class T>
concept NamedEvent = requires {
  { T::event_type } -> std::convertible_to<std::string_view>;
};

template <class Variant>
class EventCodec;

template <NamedEvent... Events>
class EventCodec<std::variant<Events...>> {
 public:
  using Event = std::variant<Events...>;

  // Throws Error(kInvalidArgument) if two event types share a name or a name is empty.
  EventCodec() {
    for (std::size_t i = 0; i < names_.size(); ++i) {
      if (names_[i].empty()) throw Error::invalid("an event type has an empty event_type name");
      for (std::size_t j = 0; j < i; ++j)
        if (names_[i] == names_[j])
          throw Error::invalid("two event types share the name '" + std::string(names_[i]) + "'");
    }
  }

  // The stored name of the event's type.
  std::string_view type_name(const Event& event) const { return names_[event.index()]; }

  // The event as JSON text.
  std::string encode(const Event& event) const {
    return std::visit([](const auto& e) { return nlohmann::json(e).dump(); }, event);
  }

  // Decodes a stored event. Throws Error(kCorruption) for an unknown type name or data that
  // does not decode into that type.
  Event decode(std::string_view type_name, std::string_view json_text) const {
    for (std::size_t i = 0; i < names_.size(); ++i)
      if (names_[i] == type_name) return decoders_[i](type_name, json_text);
    throw Error(ErrorCode::kCorruption, "unknown event type '" + std::string(type_name) + "'");
  }

 private:
  using Decoder = Event (*)(std::string_view, std::string_view);

  template <class E>
  static Event decode_as(std::string_view type_name, std::string_view json_text) {
    try {
      return Event(std::in_place_type<E>,
                   detail::parse_json(json_text.empty() ? std::string_view("null") : json_text).template get<E>());
    } catch (const nlohmann::json::exception& e) {
      throw Error(ErrorCode::kCorruption,
                  "event of type '" + std::string(type_name) + "' does not decode: " + e.what());
    }
  }

  std::array<std::string_view, sizeof...(Events)> names_{std::string_view(Events::event_type)...};
  std::array<Decoder, sizeof...(Events)> decoders_{&decode_as<Events>...};
};

}  // namespace eventstore

// codec.h: detail::parse_json. simdjson reads the text, nlohmann::json holds the result.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>
// simdjson's own inline code trips GCC's flow-based -Wnull-dereference inside std::unique_ptr.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <simdjson.h>
#pragma GCC diagnostic pop

#include "eventstore/codec.h"

namespace eventstore::detail {
namespace {

// A parser keeps the capacity of the largest text it read: texts up to this size share one per
// thread, larger ones get their own.
constexpr std::size_t kReusedParserBytes = 64 * 1024;

// The value nlohmann::json::parse gives for the same text: a non-negative integer is
// number_unsigned, a negative one number_integer; a repeated key keeps its last value.
nlohmann::json to_nlohmann(simdjson::dom::element element) {
  using Type = simdjson::dom::element_type;
  switch (element.type()) {
    case Type::ARRAY: {
      nlohmann::json array = nlohmann::json::array();
      const simdjson::dom::array items = element.get_array().value_unsafe();
      for (const simdjson::dom::element item : items) array.push_back(to_nlohmann(item));
      return array;
    }
    case Type::OBJECT: {
      nlohmann::json object = nlohmann::json::object();
      auto& members = object.get_ref<nlohmann::json::object_t&>();
      const simdjson::dom::object fields = element.get_object().value_unsafe();
      for (const simdjson::dom::key_value_pair field : fields)
        members.insert_or_assign(std::string(field.key), to_nlohmann(field.value));
      return object;
    }
    case Type::INT64: {
      const std::int64_t value = element.get_int64().value_unsafe();
      if (value >= 0) return static_cast<std::uint64_t>(value);
      return value;
    }
    case Type::UINT64: return element.get_uint64().value_unsafe();
    case Type::DOUBLE: return element.get_double().value_unsafe();
    case Type::STRING: return std::string(element.get_string().value_unsafe());
    case Type::BOOL: return element.get_bool().value_unsafe();
    case Type::NULL_VALUE: return nullptr;
  }
  return nullptr;
}

// Whether the text may hold the integer -0, which nlohmann reads as number_integer and simdjson
// as 0 like "0" (a "-0" inside a string, as in a date, may give a false yes: harmless).
bool may_hold_negative_zero(std::string_view text) {
  for (std::size_t at = text.find("-0"); at != std::string_view::npos; at = text.find("-0", at + 2)) {
    const std::size_t next = at + 2;
    if (next == text.size() || std::string_view("0123456789.eE").find(text[next]) == std::string_view::npos)
      return true;
  }
  return false;
}

// What simdjson refuses or may read differently, nlohmann decides: the result and the error are
// nlohmann's.
nlohmann::json parse_with(simdjson::dom::parser& parser, std::string_view text) {
  simdjson::dom::element root;
  if (!may_hold_negative_zero(text) && parser.parse(text.data(), text.size()).get(root) == simdjson::SUCCESS)
    return to_nlohmann(root);
  return nlohmann::json::parse(text);
}

}  // namespace

nlohmann::json parse_json(std::string_view text) {
  if (text.size() > kReusedParserBytes) {
    simdjson::dom::parser own;
    return parse_with(own, text);
  }
  thread_local simdjson::dom::parser reused;
  return parse_with(reused, text);
}

}  // namespace eventstore::detail

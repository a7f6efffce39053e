// Whether detail::parse_json agrees with nlohmann::json::parse on one text: the same value (type
// for type, a double bit for bit) or an exception with the same message. Used by
// json_parse_test.cc and fuzz/fuzz_codec.cc.
#pragma once

#include <bit>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "eventstore/codec.h"

namespace eventstore::testing {

// nlohmann's own == holds 0u equal to 0 and -0.0 equal to 0.0; this does not.
inline bool strictly_equal(const nlohmann::json& a, const nlohmann::json& b) {
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

// Empty when the two parsers agree on `text`, else what differs.
inline std::string parse_json_disagreement(std::string_view text) {
  const auto parse = [&](auto&& parser, std::optional<nlohmann::json>& value, std::string& error) {
    try {
      value = parser(text);
    } catch (const nlohmann::json::exception& e) {
      error = e.what();
    }
  };
  std::optional<nlohmann::json> fast, reference;
  std::string fast_error, reference_error;
  parse([](std::string_view t) { return detail::parse_json(t); }, fast, fast_error);
  parse([](std::string_view t) { return nlohmann::json::parse(t); }, reference, reference_error);
  if (fast.has_value() != reference.has_value() || fast_error != reference_error)
    return "parse_json: " + (fast ? fast->dump() : fast_error) +
           "; nlohmann: " + (reference ? reference->dump() : reference_error);
  if (fast && !strictly_equal(*fast, *reference))
    return "parse_json: " + fast->dump() + "; nlohmann: " + reference->dump() + " (types or bits differ)";
  return "";
}

}  // namespace eventstore::testing

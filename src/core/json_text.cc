// The JSON acceptor and the scanning of accepted text (json_text.h).
#include "json_text.h"

#include <locale.h>
#include <stdlib.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "hex_digit.h"
#include "validation.h"

namespace eventstore::detail {
namespace {

// The acceptor (json_text.h): builds nothing, and walks containers with an explicit stack, so
// nesting costs no recursion.
class JsonAcceptor {
 public:
  JsonAcceptor(std::string_view text, std::size_t max_depth)
      : p_(text.data()), end_(text.data() + text.size()), max_depth_(max_depth) {}

  // True if the whole text is one JSON value; `first` receives its first character.
  bool valid(char& first) {
    skip_ws();
    if (p_ == end_) return false;
    first = *p_;
    if (!value()) return false;
    skip_ws();
    return p_ == end_;
  }

 private:
  void skip_ws() {
    while (p_ != end_ && is_json_whitespace(*p_)) ++p_;
  }
  bool literal(std::string_view word) {
    if (static_cast<std::size_t>(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word) return false;
    p_ += word.size();
    return true;
  }
  // After "\u": four hex digits.
  bool code_unit(unsigned& unit) {
    if (end_ - p_ < 4) return false;
    unit = 0;
    for (int i = 0; i < 4; ++i) {
      const int h = hex_digit_value(p_[i]);
      if (h < 0) return false;
      unit = (unit << 4) | static_cast<unsigned>(h);
    }
    p_ += 4;
    return true;
  }
  // Skips whole 8-byte words of printable ASCII other than '"' and '\\', the bulk of most
  // strings, at about one instruction a byte (the per-byte loop takes ~15).
  void skip_plain_ascii() {
    constexpr std::uint64_t kOnes = 0x0101010101010101, kHighs = 0x8080808080808080;
    // Sets the high bit of each byte that is zero (and maybe of bytes above one): no misses.
    const auto zero_bytes = [](std::uint64_t v) { return (v - kOnes) & ~v & kHighs; };
    while (end_ - p_ >= 8) {
      std::uint64_t w;
      std::memcpy(&w, p_, sizeof w);
      const std::uint64_t special = zero_bytes(w ^ (kOnes * '"')) | zero_bytes(w ^ (kOnes * '\\')) |
                                    ((w - kOnes * 0x20) & ~w & kHighs) |  // a byte below 0x20
                                    (w & kHighs);                         // a byte of 0x80 or more
      if (special) return;
      p_ += 8;
    }
  }
  bool string() {
    ++p_;                  // the opening quote
    const char* run = p_;  // a run of unescaped bytes, checked as UTF-8 at once if not ASCII
    bool ascii = true;
    const auto run_ok = [&] {
      return ascii || is_valid_utf8(std::string_view(run, static_cast<std::size_t>(p_ - run)));
    };
    while (p_ != end_) {
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        if (!run_ok()) return false;
        ++p_;
        return true;
      }
      if (c < 0x20) return false;
      if (c != '\\') {
        ascii = ascii && c < 0x80;
        ++p_;
        if (c < 0x80) skip_plain_ascii();
        continue;
      }
      if (!run_ok()) return false;
      ascii = true;
      if (++p_ == end_) return false;
      const char e = *p_++;
      if (e == 'u') {
        unsigned unit;
        if (!code_unit(unit)) return false;
        if (unit >= 0xDC00 && unit <= 0xDFFF) return false;  // a lone low surrogate
        if (unit >= 0xD800 && unit <= 0xDBFF) {              // must be followed by a low one
          if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
          p_ += 2;
          if (!code_unit(unit) || unit < 0xDC00 || unit > 0xDFFF) return false;
        }
      } else if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' && e != 'r' && e != 't') {
        return false;
      }
      run = p_;
    }
    return false;
  }
  bool digits() {
    const char* start = p_;
    while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    return p_ != start;
  }
  bool number() {
    const char* start = p_;
    if (*p_ == '-') ++p_;
    if (p_ == end_) return false;
    if (*p_ == '0') {
      ++p_;
    } else if (!digits()) {
      return false;
    }
    if (p_ != end_ && *p_ == '.') {
      ++p_;
      if (!digits()) return false;
    }
    bool exponent = false;
    if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
      exponent = true;
      ++p_;
      if (p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (!digits()) return false;
    }
    // Without an exponent, fewer than 300 characters cannot overflow a double.
    if (!exponent && p_ - start < 300) return true;
    // nlohmann::json refuses an overflow, not an underflow (it reads as 0): strtod tells them
    // apart (infinite or not). In the C locale: plain strtod follows LC_NUMERIC, and under a
    // comma-decimal locale reads "1.0e400" as 1 (issue 10, item 4).
    static const locale_t c_locale = newlocale(LC_ALL_MASK, "C", nullptr);
    const std::string token(start, p_);
    return std::isfinite(strtod_l(token.c_str(), nullptr, c_locale));
  }
  bool value() {
    // Containers are walked with an explicit stack ('{' or '['), so nesting depth costs no
    // recursion.
    std::string stack;
    for (;;) {
      skip_ws();
      if (p_ == end_) return false;
      // One value.
      switch (*p_) {
        case '{':
        case '[': {
          if (stack.size() >= max_depth_) return false;
          const char open = *p_++;
          skip_ws();
          if (p_ != end_ && *p_ == (open == '{' ? '}' : ']')) {
            ++p_;
            break;
          }
          stack.push_back(open);
          if (open == '{' && !key()) return false;
          continue;
        }
        case '"':
          if (!string()) return false;
          break;
        case 't':
          if (!literal("true")) return false;
          break;
        case 'f':
          if (!literal("false")) return false;
          break;
        case 'n':
          if (!literal("null")) return false;
          break;
        default:
          if (*p_ != '-' && (*p_ < '0' || *p_ > '9')) return false;
          if (!number()) return false;
      }
      // After a value: close containers or move to the next element.
      for (;;) {
        if (stack.empty()) return true;
        skip_ws();
        if (p_ == end_) return false;
        const char close = stack.back() == '{' ? '}' : ']';
        if (*p_ == close) {
          ++p_;
          stack.pop_back();
          continue;
        }
        if (*p_ != ',') return false;
        ++p_;
        if (stack.back() == '{' && !key()) return false;
        break;
      }
    }
  }
  // In an object: "key" ':'.
  bool key() {
    skip_ws();
    if (p_ == end_ || *p_ != '"' || !string()) return false;
    skip_ws();
    if (p_ == end_ || *p_ != ':') return false;
    ++p_;
    return true;
  }

  const char* p_;
  const char* end_;
  const std::size_t max_depth_;
};

}  // namespace

JsonText classify_json_text(std::string_view text, std::size_t max_depth) {
  char first = 0;
  if (!JsonAcceptor(text, max_depth).valid(first)) return JsonText::kInvalid;
  return first == '{' ? JsonText::kObject : JsonText::kOtherValue;
}

std::size_t skip_json_whitespace(std::string_view text, std::size_t at) {
  while (at < text.size() && is_json_whitespace(text[at])) ++at;
  return at;
}

std::size_t json_string_end(std::string_view text, std::size_t quote) {
  for (std::size_t i = quote + 1; i < text.size(); ++i) {
    if (text[i] == '\\') ++i;
    else if (text[i] == '"') return i + 1;
  }
  return text.size();
}

std::size_t json_value_end(std::string_view text, std::size_t start) {
  std::size_t i = start;
  if (i >= text.size()) return text.size();
  if (text[i] == '"') return json_string_end(text, i);
  if (text[i] == '[' || text[i] == '{') {
    std::size_t depth = 0;
    while (i < text.size()) {
      const char c = text[i];
      if (c == '"') {
        i = json_string_end(text, i);
        continue;
      }
      ++i;
      if (c == '[' || c == '{') ++depth;
      else if ((c == ']' || c == '}') && --depth == 0) return i;
    }
    return i;
  }
  while (i < text.size() && !is_json_whitespace(text[i]) && text[i] != ',' && text[i] != '}' && text[i] != ']') ++i;
  return i;
}

bool json_nests_deeper_than(std::string_view text, std::size_t limit) {
  std::size_t depth = 0;
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (c == '"') {
      i = json_string_end(text, i);
      continue;
    }
    ++i;
    if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

std::vector<JsonMember> json_object_members(std::string_view object) {
  std::vector<JsonMember> members;
  std::size_t i = skip_json_whitespace(object, 0) + 1;  // past the '{'
  for (;;) {
    i = skip_json_whitespace(object, i);
    if (i < object.size() && object[i] == ',') i = skip_json_whitespace(object, i + 1);
    if (i >= object.size() || object[i] != '"') return members;  // '}' (or text not accepted)
    const std::size_t key_end = json_string_end(object, i);
    const std::string_view quoted_key = object.substr(i, key_end - i);
    i = skip_json_whitespace(object, key_end);
    if (i >= object.size() || object[i] != ':') return members;
    i = skip_json_whitespace(object, i + 1);
    const std::size_t value_end = json_value_end(object, i);
    if (value_end == i) return members;
    members.push_back(JsonMember{quoted_key, object.substr(i, value_end - i)});
    i = value_end;
  }
}

std::string without_json_whitespace(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      out.push_back(c);
      if (c == '\\' && i + 1 < text.size()) out.push_back(text[++i]);
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
      out.push_back(c);
    } else if (!is_json_whitespace(c)) {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace eventstore::detail

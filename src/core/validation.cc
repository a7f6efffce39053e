#include "validation.h"

#include <locale.h>
#include <stdlib.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <unordered_set>

namespace eventstore::detail {
namespace {

void check_identifier(std::string_view what, std::string_view value, const Limits& limits) {
  if (value.empty()) throw Error::invalid(std::string(what) + " must not be empty");
  if (value.size() > limits.max_identifier_bytes)
    throw Error::invalid(std::string(what) + " is " + std::to_string(value.size()) +
                         " bytes, over the limit of " + std::to_string(limits.max_identifier_bytes));
  if (!is_valid_utf8(value)) throw Error::invalid(std::string(what) + " is not valid UTF-8");
}

// A strict RFC 8259 validator that builds nothing (no DOM, no allocation for nesting up to 64
// levels): appends validate every event's data and metadata, so this is on the hot path.
// Accepts exactly one JSON value with optional surrounding whitespace: strings must be valid
// UTF-8 with no raw control characters, \u escapes must pair surrogates, numbers must be finite
// as doubles (like nlohmann::json, which rejects 1e400). Stricter than nlohmann::json::parse
// in two corners SQLite's json_valid (the read-side check) also refuses: a leading UTF-8 BOM and
// a NUL byte followed by anything.
class JsonValidator {
 public:
  // Deeper nesting is refused: SQLite's json_valid, which reads it back, stops at 2000 levels.
  static constexpr std::size_t kMaxJsonDepth = 512;

  explicit JsonValidator(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {}

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
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  bool literal(std::string_view word) {
    if (static_cast<std::size_t>(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word) return false;
    p_ += word.size();
    return true;
  }
  static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  // After "\u": four hex digits.
  bool code_unit(unsigned& unit) {
    if (end_ - p_ < 4) return false;
    unit = 0;
    for (int i = 0; i < 4; ++i) {
      const int h = hex(p_[i]);
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
    ++p_;  // the opening quote
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
        if (unit >= 0xD800 && unit <= 0xDBFF) {               // must be followed by a low one
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
    // recursion; `expect_value` is set where a value must come next.
    std::string stack;
    for (;;) {
      skip_ws();
      if (p_ == end_) return false;
      // One value.
      switch (*p_) {
        case '{':
          if (stack.size() >= kMaxJsonDepth) return false;
          ++p_;
          skip_ws();
          if (p_ != end_ && *p_ == '}') {
            ++p_;
            break;
          }
          stack.push_back('{');
          if (!key()) return false;
          continue;
        case '[':
          if (stack.size() >= kMaxJsonDepth) return false;
          ++p_;
          skip_ws();
          if (p_ != end_ && *p_ == ']') {
            ++p_;
            break;
          }
          stack.push_back('[');
          continue;
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
};

bool json_ok(const std::string& text, bool object_only) {
  char first = 0;
  return JsonValidator(text).valid(first) && (!object_only || first == '{');
}

bool identifier_ok(std::string_view value, const Limits& limits) {
  return !value.empty() && value.size() <= limits.max_identifier_bytes && is_valid_utf8(value);
}

// Throws invalid_argument naming `what` unless `text` is JSON (an object when `object_only`).
void check_json(std::string_view what, const std::string& text, bool object_only) {
  char first = 0;
  if (!JsonValidator(text).valid(first)) throw Error::invalid(std::string(what) + " is not valid JSON (or nests deeper than " +
                         std::to_string(JsonValidator::kMaxJsonDepth) + " levels)");
  if (object_only && first != '{') throw Error::invalid(std::string(what) + " must be a JSON object");
}

}  // namespace

bool is_valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t length;
    std::uint32_t code;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      length = 2;
      code = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      length = 3;
      code = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      length = 4;
      code = c & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code = (code << 6) | (next & 0x3F);
    }
    const bool overlong = (length == 2 && code < 0x80) || (length == 3 && code < 0x800) ||
                          (length == 4 && code < 0x10000);
    if (overlong || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return false;
    i += length;
  }
  return true;
}

void validate_stream(const StreamId& stream, const Limits& limits) {
  check_identifier("bounded context", stream.bounded_context, limits);
  check_identifier("aggregate type", stream.aggregate_type, limits);
  if (stream.aggregate_id.is_nil()) throw Error::invalid("aggregate id must not be the nil UUID");
}

void validate_context(const std::string& context, const Limits& limits) {
  check_identifier("bounded context", context, limits);
}

void validate_feed_read(const std::string& context, const FeedReadOptions& options, const Limits& limits) {
  validate_context(context, limits);
  if (options.after < 0)
    throw Error::invalid("feed position must be at least 0, got " + std::to_string(options.after));
  if (options.limit < 1 || options.limit > 100000)
    throw Error::invalid("feed page limit must be 1..100000, got " + std::to_string(options.limit));
}

std::int64_t feed_page_end(const FeedReadOptions& options) {
  const auto limit = static_cast<std::int64_t>(options.limit);
  return options.after > std::numeric_limits<std::int64_t>::max() - limit ? std::numeric_limits<std::int64_t>::max()
                                                                         : options.after + limit;
}

void validate_checkpoint(const std::string& context, const std::string& name, const Limits& limits) {
  validate_context(context, limits);
  check_identifier("checkpoint name", name, limits);
}

void validate_checkpoint_save(const std::string& context, const std::string& name, std::int64_t position,
                              const Limits& limits) {
  validate_checkpoint(context, name, limits);
  if (position < 0) throw Error::invalid("checkpoint position must be at least 0, got " + std::to_string(position));
}

void prepare_append(const StreamId& stream, ExpectedVersion expected, std::vector<EventData>& events,
                    const Limits& limits) {
  validate_stream(stream, limits);
  if (events.empty()) throw Error::invalid("an append needs at least one event");
  if (events.size() > limits.max_events_per_append)
    throw Error::invalid("append of " + std::to_string(events.size()) +
                         " events is over the limit of " + std::to_string(limits.max_events_per_append));
  if (!expected.is_any()) {
    if (expected.version() < 0 || expected.version() > limits.max_version)
      throw Error::invalid("expected version " + std::to_string(expected.version()) +
                           " is outside 0.." + std::to_string(limits.max_version));
    if (static_cast<std::int64_t>(events.size()) > limits.max_version - expected.version())
      throw Error::invalid("append would take the stream past the maximum version " +
                           std::to_string(limits.max_version));
  }
  std::size_t total = 0;
  // Duplicate ids: a linear scan for the usual few events, a hash set beyond.
  constexpr std::size_t kLinearIds = 16;
  std::unordered_set<Uuid> ids;
  for (std::size_t i = 0; i < events.size(); ++i) {
    EventData& e = events[i];
    // Built only for an error message: this loop runs for every event of every append.
    const auto which = [i] { return "event " + std::to_string(i + 1); };
    if (!identifier_ok(e.event_type, limits)) check_identifier(which() + " type", e.event_type, limits);
    if (e.data && !json_ok(*e.data, false)) check_json(which() + " data", *e.data, false);
    if (e.metadata && !json_ok(*e.metadata, true)) check_json(which() + " metadata", *e.metadata, true);
    const std::size_t bytes = event_bytes(e.event_type, e.data, e.metadata);
    if (bytes > limits.max_event_bytes)
      throw Error::invalid(which() + " is " + std::to_string(bytes) + " bytes, over the limit of " +
                           std::to_string(limits.max_event_bytes));
    total += bytes;
    if (!e.event_id) e.event_id = Uuid::random();
    if (e.event_id->is_nil()) throw Error::invalid(which() + " id must not be the nil UUID");
    bool repeated = false;
    if (events.size() <= kLinearIds) {
      for (std::size_t k = 0; k < i && !repeated; ++k) repeated = *events[k].event_id == *e.event_id;
    } else {
      repeated = !ids.insert(*e.event_id).second;
    }
    if (repeated) throw Error::invalid(which() + " repeats the event id " + e.event_id->to_string());
    e.timestamp = e.timestamp ? std::chrono::time_point_cast<std::chrono::milliseconds>(*e.timestamp)
                              : now_ms();
  }
  if (total > limits.max_append_bytes)
    throw Error::invalid("append of " + std::to_string(total) + " bytes is over the limit of " +
                         std::to_string(limits.max_append_bytes));
}

void validate_read(const StreamId& stream, const ReadOptions& options, const Limits& limits) {
  validate_stream(stream, limits);
  if (options.page_size < 1 || options.page_size > 100000)
    throw Error::invalid("page size must be 1..100000, got " + std::to_string(options.page_size));
  if (options.page_bytes < 1) throw Error::invalid("page bytes must be at least 1, got 0");
  if (options.from && *options.from < 1)
    throw Error::invalid("read from version must be >= 1, got " + std::to_string(*options.from));
}

void validate_snapshot(const StreamId& stream, const Snapshot& snapshot, const Limits& limits) {
  validate_stream(stream, limits);
  if (snapshot.version < 1 || snapshot.version > limits.max_version)
    throw Error::invalid("snapshot version must be 1.." + std::to_string(limits.max_version) +
                         ", got " + std::to_string(snapshot.version));
  check_json("snapshot data", snapshot.data, false);
  if (snapshot.metadata) check_json("snapshot metadata", *snapshot.metadata, true);
  const std::size_t bytes = snapshot.data.size() + (snapshot.metadata ? snapshot.metadata->size() : 0);
  if (bytes > limits.max_event_bytes)
    throw Error::invalid("snapshot is " + std::to_string(bytes) + " bytes, over the limit of " +
                         std::to_string(limits.max_event_bytes));
}

std::size_t event_bytes(const std::string& type, const std::optional<std::string>& data,
                        const std::optional<std::string>& metadata) {
  return type.size() + (data ? data->size() : 0) + (metadata ? metadata->size() : 0);
}

AppendResult make_append_result(std::int64_t first_version, const std::vector<EventData>& events) {
  AppendResult result;
  result.first_version = first_version;
  result.next_expected_version = first_version + static_cast<std::int64_t>(events.size()) - 1;
  result.event_ids.reserve(events.size());
  for (const EventData& e : events) result.event_ids.push_back(*e.event_id);
  return result;
}

Error snapshot_above_head(const StreamId& stream, std::int64_t version, std::int64_t head) {
  return Error::invalid("snapshot of " + to_string(stream) + " at version " + std::to_string(version) +
                        " is above the stream's head (" + std::to_string(head) + "); nothing was stored");
}

bool is_same_append(const std::vector<EventData>& events, const std::vector<Uuid>& stored_ids) {
  if (stored_ids.size() != events.size()) return false;
  for (std::size_t i = 0; i < events.size(); ++i)
    if (!events[i].event_id || *events[i].event_id != stored_ids[i]) return false;
  return true;
}

namespace {

class FailedCursor final : public EventCursor {
 public:
  explicit FailedCursor(Error error) : error_(std::move(error)) {}

  void next_page_async(PageCallback callback) override {
    if (!error_) return callback(std::vector<RecordedEvent>{});
    Error error = std::move(*error_);
    error_.reset();
    callback(std::move(error));
  }

 private:
  std::optional<Error> error_;
};

}  // namespace

std::unique_ptr<EventCursor> failed_cursor(Error error) { return std::make_unique<FailedCursor>(std::move(error)); }

}  // namespace eventstore::detail

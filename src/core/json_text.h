// JSON text (RFC 8259): the one acceptor of the library and its tools, and the scanning of text
// it has accepted.
//
// The authoritative acceptor is classify_json_text. The store runs it on the data and metadata of
// every append and on every snapshot, so what it accepts is by definition what a store holds;
// the CLI runs the very same function on --data, --metadata, the lines of --events-file and the
// stored text it prints, so that the CLI never accepts what the store refuses (or the reverse).
// It builds nothing: no DOM, no allocation for nesting up to 64 levels (appends are its hot path).
// nlohmann::json is used only where a DOM is needed (the typed fields of an events-file line, the
// codec's decoding, building output), never to decide whether text is JSON; a DOM of stored
// text (events, snapshots) is built by detail::parse_json (codec.h), which gives exactly what
// nlohmann::json::parse gives, faster. nlohmann differs from this acceptor in
// corners (it skips a leading UTF-8 BOM, stops at a NUL byte as at the end of its input, and has
// no nesting limit), and SQLite's json_valid, the read-side check, refuses the first two.
//
// Invariants: accepted text is one JSON value with optional whitespace (space, tab, LF, CR)
// around it; its strings are valid UTF-8 with no raw control character and with paired \u
// surrogates; its numbers are finite as doubles (1e400 is refused, 1e-400 accepted, like
// nlohmann::json); it nests at most `max_depth` arrays and objects; no BOM, no NUL byte outside
// strings (and none inside: a raw control character).
// Errors: none of these functions throws (std::bad_alloc aside).
// Thread safety: pure functions, safe from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace eventstore::detail {

// The nesting the store accepts in data, metadata and snapshots. SQLite's json_valid, which reads
// them back, stops at 2000 levels.
inline constexpr std::size_t kMaxJsonDepth = 512;

enum class JsonText { kInvalid, kObject, kOtherValue };

// What `text` is under the invariants above: an object, another JSON value, or not JSON.
JsonText classify_json_text(std::string_view text, std::size_t max_depth = kMaxJsonDepth);

inline bool is_json_text(std::string_view text) { return classify_json_text(text) != JsonText::kInvalid; }
inline bool is_json_object_text(std::string_view text) { return classify_json_text(text) == JsonText::kObject; }

// The scanning helpers below never read outside `text` and return at most text.size(); on text
// the acceptor has not accepted their results are meaningless but safe.

constexpr bool is_json_whitespace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// The first index at or after `at` that is not JSON whitespace.
std::size_t skip_json_whitespace(std::string_view text, std::size_t at);

// The index just past the string whose opening quote is at `quote` (escapes skipped).
std::size_t json_string_end(std::string_view text, std::size_t quote);

// The index just past the value that starts at `start`: a string, an array or object (strings
// and nested brackets skipped), or a number or literal (up to whitespace, ',', '}' or ']').
std::size_t json_value_end(std::string_view text, std::size_t start);

// True if `text` opens more than `limit` arrays or objects inside each other (outside strings),
// whether or not it is JSON: bounds the work of a parser that builds a DOM before it runs.
bool json_nests_deeper_than(std::string_view text, std::size_t limit);

// A member of an object as written: its key with its quotes and escapes, and its value's text.
struct JsonMember {
  std::string_view quoted_key;
  std::string_view value;
};

// The members of `object`, text the acceptor classified as kObject, in the order written
// (a repeated key is listed each time).
std::vector<JsonMember> json_object_members(std::string_view object);

// Accepted JSON text without the whitespace outside its strings: one line, the same tokens.
// In JSON such whitespace never separates two tokens that would run together ("1 2" is not
// JSON): it only stands next to { } [ ] : , or at the ends, so dropping it changes no token.
std::string without_json_whitespace(std::string_view text);

}  // namespace eventstore::detail

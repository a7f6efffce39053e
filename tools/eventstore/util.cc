// Input validation and output formatting shared by the commands.
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <string_view>

#include "cli.h"
#include "core/json_text.h"
#include "core/store_uri.h"

namespace eventstore_cli {
namespace {

std::vector<std::string>& secrets() {
  static std::vector<std::string> values;
  return values;
}

std::string percent_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      unsigned value = 0;
      const auto [end, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
      if (ec == std::errc() && end == text.data() + i + 3) {
        out.push_back(static_cast<char>(value));
        i += 2;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

}  // namespace

void set_secret_source(std::string_view uri) {
  const std::optional<eventstore::detail::PasswordSpan> span = eventstore::detail::password_span(uri);
  if (!span) return;
  const std::string_view password = uri.substr(span->colon + 1, span->at - span->colon - 1);
  if (password.empty()) return;
  secrets().emplace_back(password);
  if (std::string decoded = percent_decode(password); decoded != password) secrets().push_back(std::move(decoded));
}

void add_secret(std::string_view password) {
  if (password.empty()) return;
  secrets().emplace_back(password);
  if (std::string encoded = eventstore::detail::percent_encode(password); encoded != password)
    secrets().push_back(std::move(encoded));
}

std::string read_password_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError("--password-file " + path + ": cannot open it: " + std::strerror(errno));
  std::string line;
  std::getline(in, line);
  if (in.bad()) throw UsageError("--password-file " + path + ": cannot read it: " + std::strerror(errno));
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty())
    throw UsageError("--password-file " + path + ": its first line is empty (it must hold the password)");
  add_secret(line);
  return line;
}

std::string scrub(std::string message) {
  for (const std::string& secret : secrets()) {
    for (std::size_t at = message.find(secret); at != std::string::npos; at = message.find(secret, at + 3))
      message.replace(at, secret.size(), "***");
  }
  return message;
}

std::string printable_uri(std::string_view uri) { return scrub(eventstore::redact_uri(uri)); }

std::string backend_name(std::string_view uri) {
  if (uri.starts_with("scylla://")) return "scylla";
  if (uri.starts_with("sqlite:")) return "sqlite";
  if (uri.starts_with("memory:")) return "memory";
  return "unknown";
}

std::int64_t parse_integer(std::string_view text, std::string_view what, std::int64_t min, std::int64_t max) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < min || value > max)
    throw UsageError(std::string(what) + " must be an integer in " + std::to_string(min) + ".." + std::to_string(max) +
                     ", got '" + std::string(text) + "'");
  return value;
}

eventstore::ExpectedVersion parse_expected_version(std::string_view text) {
  if (text == "any") return eventstore::ExpectedVersion::any();
  if (text == "no-stream") return eventstore::ExpectedVersion::no_stream();
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < 0 ||
      value > eventstore::Limits{}.max_version)
    throw UsageError("--expected-version must be a version >= 0, 'any' or 'no-stream', got '" + std::string(text) +
                     "'");
  return eventstore::ExpectedVersion::exact(value);
}

eventstore::Uuid parse_uuid(std::string_view text, std::string_view what) {
  std::optional<eventstore::Uuid> id = eventstore::Uuid::parse(text);
  if (!id)
    throw UsageError(std::string(what) + " must be a UUID like 123e4567-e89b-12d3-a456-426614174000, got '" +
                     std::string(text) + "'");
  return *id;
}

eventstore::StreamId parse_stream(const StreamArgs& args) {
  if (args.context.empty()) throw UsageError("--context must not be empty");
  if (args.type.empty()) throw UsageError("--type must not be empty");
  eventstore::Uuid id = parse_uuid(args.id, "--id");
  if (id.is_nil()) throw UsageError("--id must not be the nil UUID");
  return eventstore::StreamId{args.context, args.type, id};
}

std::string json_line(const nlohmann::ordered_json& value) {
  // Invalid UTF-8 in stored text is replaced rather than failing the whole output.
  return value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string stored_json_text(const std::optional<std::string>& text) {
  if (!text) return "null";
  std::string_view json = *text;
  // A BOM is skipped, as nlohmann::json skips it.
  if (json.starts_with("\xEF\xBB\xBF")) json.remove_prefix(3);
  // JSON by the store's own rule (core/json_text.h), printed as written but for the whitespace
  // outside strings, so that it stays on one line.
  if (eventstore::detail::is_json_text(json)) return eventstore::detail::without_json_whitespace(json);
  return json_line(*text);  // not JSON (written by another tool): as a string
}

std::string json_line_with(const nlohmann::ordered_json& fields,
                           std::initializer_list<std::pair<std::string_view, std::string>> raw) {
  std::string line = json_line(fields);
  if (line.empty() || line.back() != '}') throw std::logic_error("json_line_with: not an object");
  line.pop_back();
  for (const auto& [key, value] : raw) {
    if (line.size() > 1) line.push_back(',');
    line += json_line(key);
    line.push_back(':');
    line += value;
  }
  line.push_back('}');
  return line;
}

std::string event_json_line(const eventstore::RecordedEvent& e, nlohmann::ordered_json out, bool with_data) {
  out["bounded_context"] = e.stream.bounded_context;
  out["aggregate_type"] = e.stream.aggregate_type;
  out["aggregate_id"] = e.stream.aggregate_id.to_string();
  out["event_version"] = e.version;
  out["event_id"] = e.event_id.to_string();
  out["event_type"] = e.event_type;
  out["event_timestamp"] = eventstore::format_rfc3339(e.timestamp);
  if (!with_data) return json_line(out);
  return json_line_with(out,
                        {{"event_data", stored_json_text(e.data)}, {"event_metadata", stored_json_text(e.metadata)}});
}

void print_line(std::string line) {
  line.push_back('\n');
  // Stop early when the reader went away (a closed pipe with SIGPIPE ignored).
  if (std::fwrite(line.data(), 1, line.size(), stdout) != line.size())
    throw std::runtime_error("cannot write to stdout");
}

void print_json_line(const nlohmann::ordered_json& value) { print_line(json_line(value)); }

bool on_a_terminal() { return isatty(STDIN_FILENO) != 0 && isatty(STDERR_FILENO) != 0; }

bool confirmed(const std::string& question) {
  std::fprintf(stderr, "%s [y/N] ", question.c_str());
  std::fflush(stderr);
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "y" || answer == "Y" || answer == "yes";
}

}  // namespace eventstore_cli

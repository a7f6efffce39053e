// Parses the options of a sqlite:PATH URI (options.h).
#include "sqlite/options.h"

#include <algorithm>
#include <string_view>

#include "eventstore/error.h"

namespace eventstore::detail {

SqliteOptions parse_options(const std::string& path) {
  SqliteOptions options;
  options.display = "sqlite:" + path;
  const std::size_t question = path.find('?');
  options.file = path.substr(0, question);
  if (options.file.empty()) throw Error::invalid("sqlite: needs a file path, as in sqlite:events.db");
  if (options.file == ":memory:" || options.file.starts_with("file:"))
    throw Error::invalid("sqlite:" + options.file +
                         " is not supported: give a file path (use memory: for an in-process store)");
  if (question == std::string::npos) return options;
  std::string_view query = std::string_view(path).substr(question + 1);
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (item.empty()) continue;
    const std::size_t eq = item.find('=');
    const std::string key(item.substr(0, eq));
    const std::string value(eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1));
    if (key == "synchronous") {
      if (value == "normal" || value == "NORMAL") {
        options.synchronous_full = false;
      } else if (value == "full" || value == "FULL") {
        options.synchronous_full = true;
      } else {
        throw Error::invalid("sqlite option synchronous must be normal or full, got '" + value + "'");
      }
    } else if (key == "busy_timeout") {
      int ms = -1;
      if (!value.empty() && value.size() <= 9 &&
          std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
        ms = std::stoi(value);
      if (ms < 0) throw Error::invalid("sqlite option busy_timeout must be milliseconds, got '" + value + "'");
      options.busy_timeout_ms = ms;
    } else {
      throw Error::invalid("unknown sqlite option '" + key + "' (known: synchronous, busy_timeout)");
    }
  }
  return options;
}

}  // namespace eventstore::detail

// libFuzzer harness: the store URI parser and redact_uri.
// Contract (src/core/store_uri.h, include/eventstore/store.h): parse_store_uri returns or throws
// eventstore::Error(kInvalidArgument), never crashes and never throws another exception type;
// its messages never hold the password; every part of a cluster URI it accepts is valid UTF-8
// (the driver takes them as Rust strings: issue 10, item 12); and redact_uri(uri) never
// contains the password the parser found in uri.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/store_uri.h"
#include "core/validation.h"
#include "eventstore/error.h"
#include "eventstore/store.h"

namespace {

// The text with every byte outside printable ASCII as \xNN.
std::string escaped(const std::string& text) {
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && c != '\\') {
      out.push_back(c);
    } else {
      char buffer[5];
      std::snprintf(buffer, sizeof buffer, "\\x%02x", u);
      out += buffer;
    }
  }
  return out;
}

[[noreturn]] void fail(const char* what, const std::string& uri, const std::string& text) {
  std::fprintf(stderr, "fuzz_store_uri: %s\n  uri:  %s\n  text: %s\n", what, escaped(uri).c_str(),
               escaped(text).c_str());
  std::abort();
}

// Parses `uri`; when `password` is non-empty it is the password the URI was built with.
void check(const std::string& uri, const std::string& password) {
  const std::string redacted = eventstore::redact_uri(uri);
  try {
    const eventstore::detail::StoreUri parsed = eventstore::detail::parse_store_uri(uri);
    const eventstore::detail::ClusterUri& cluster = parsed.cluster;
    auto require_utf8 = [&uri](const std::string& part) {
      if (!eventstore::detail::is_valid_utf8(part))
        fail("the parser accepted a part that is not valid UTF-8", uri, part);
    };
    for (const std::string& host : cluster.hosts) require_utf8(host);
    require_utf8(cluster.username);
    require_utf8(cluster.password);
    require_utf8(cluster.keyspace);
    for (const auto& [name, value] : cluster.options) {
      require_utf8(name);
      require_utf8(value);
    }
    const std::string& found = cluster.password;
    if (!found.empty()) {
      // The parser's user information ends at the last '@' before the first '?', the password
      // starts after its first ':'. Redaction must replace exactly that raw text by "***".
      const std::size_t at = uri.substr(0, uri.find('?')).rfind('@');
      const std::size_t colon = uri.find(':', 9);
      if (at == std::string::npos || colon == std::string::npos || colon > at)
        fail("the parser found a password outside the user information", uri, found);
      if (redacted != uri.substr(0, colon + 1) + "***" + uri.substr(at))
        fail("redact_uri leaves the password in place", uri, redacted);
    }
    // (Unless the password text also stands elsewhere in the URI, e.g. copied into the keyspace.)
    if (!password.empty() && found == password && redacted.find(password) != std::string::npos &&
        uri.find(password) == uri.rfind(password))
      fail("redact_uri leaves the password in place", uri, redacted);
  } catch (const eventstore::Error& e) {
    if (e.code() != eventstore::ErrorCode::kInvalidArgument)
      fail("parse error with a code other than invalid_argument", uri, e.what());
    if (!password.empty() && std::string(e.what()).find(password) != std::string::npos &&
        uri.find(password) == uri.rfind(password))
      fail("a parse error message holds the password", uri, e.what());
  } catch (const std::exception& e) {
    fail("an exception other than eventstore::Error", uri, e.what());
  } catch (...) {
    fail("an exception other than eventstore::Error", uri, "");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  // 1. The input as a URI.
  check(input, "");
  // 2. A cluster URI built around a known password: "scylla://" USER ":" "Pw7" X "Q9" "@" REST,
  //    where the input is split as USER \x01 X \x01 REST. The marker makes the password easy to
  //    spot in any output.
  const std::size_t a = input.find('\x01');
  const std::size_t b = a == std::string::npos ? std::string::npos : input.find('\x01', a + 1);
  if (b != std::string::npos) {
    const std::string user = input.substr(0, a);
    const std::string password = "Pw7" + input.substr(a + 1, b - a - 1) + "Q9";
    const std::string rest = input.substr(b + 1);
    check("scylla://" + user + ":" + password + "@" + rest, password);
  }
  return 0;
}

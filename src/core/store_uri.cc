#include "eventstore/store_uri.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>

#include "eventstore/error.h"
#include "eventstore/store.h"
#include "hex_digit.h"
#include "validation.h"

namespace eventstore {
namespace {

constexpr std::string_view kScyllaPrefix = "scylla://";

// The driver takes every part as a UTF-8 string. `what` names the part, never quotes it: it may
// be the password.
void require_utf8(std::string_view text, std::string_view what) {
  if (!detail::is_valid_utf8(text)) throw Error::invalid("store URI: " + std::string(what) + " is not valid UTF-8");
}

std::string percent_decode(std::string_view text, std::string_view what) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) throw Error::invalid("store URI: bad percent escape in " + std::string(what));
    const int high = detail::hex_digit_value(text[i + 1]);
    const int low = detail::hex_digit_value(text[i + 2]);
    if (high < 0 || low < 0) throw Error::invalid("store URI: bad percent escape in " + std::string(what));
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  require_utf8(out, what);
  return out;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

void check_host(std::string_view host) {
  if (host.empty()) throw Error::invalid("store URI: empty host in the host list");
  require_utf8(host, "a host");
  const std::size_t colon = host.rfind(':');
  if (colon == std::string_view::npos || host.front() == '[') return;
  const std::string_view port = host.substr(colon + 1);
  if (colon == 0 || port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos ||
      std::stoi(std::string(port)) < 1 || std::stoi(std::string(port)) > 65535)
    throw Error::invalid("store URI: a host has a bad port (percent-encode '?', '/' and '@' in a password)");
}

ClusterUri parse_cluster(std::string_view rest) {
  ClusterUri uri;
  std::string_view query;
  if (const std::size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  if (const std::size_t at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const std::size_t colon = userinfo.find(':');
    uri.username = percent_decode(userinfo.substr(0, colon), "the user name");
    if (colon != std::string_view::npos) uri.password = percent_decode(userinfo.substr(colon + 1), "the password");
    if (uri.username.empty()) throw Error::invalid("store URI: empty user name before '@'");
  }
  std::string_view hosts = rest;
  if (const std::size_t slash = rest.find('/'); slash != std::string_view::npos) {
    hosts = rest.substr(0, slash);
    uri.keyspace = percent_decode(rest.substr(slash + 1), "the keyspace");
  }
  if (hosts.empty()) throw Error::invalid("store URI: scylla:// needs at least one host");
  for (std::string_view host : split(hosts, ',')) {
    check_host(host);
    uri.hosts.emplace_back(host);
  }
  if (!query.empty()) {
    for (std::string_view pair : split(query, '&')) {
      const std::size_t eq = pair.find('=');
      if (eq == std::string_view::npos || eq == 0)
        throw Error::invalid("store URI: options need the form key=value, joined by '&'");
      std::string name = percent_decode(pair.substr(0, eq), "an option name");
      // Named only when it looks like one: a '?' inside an unencoded password makes the rest of
      // the password an "option" (docs/RELIABILITY.md, hostile input, defect 2).
      const bool plain_name =
          !name.empty() && name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == std::string::npos;
      uri.options[name] =
          percent_decode(pair.substr(eq + 1), plain_name ? "the value of option " + name : "the value of an option");
    }
  }
  return uri;
}

}  // namespace

std::optional<PasswordSpan> password_span(std::string_view uri) {
  if (!uri.starts_with(kScyllaPrefix)) return std::nullopt;
  // As parse_cluster: the user information ends at the last '@' before the query.
  const std::size_t at = uri.substr(0, uri.find('?')).rfind('@');
  if (at == std::string_view::npos) return std::nullopt;
  const std::size_t colon = uri.substr(0, at).find(':', kScyllaPrefix.size());
  if (colon == std::string_view::npos) return std::nullopt;
  return PasswordSpan{colon, at};
}

std::string without_password(std::string_view uri) {
  const std::optional<PasswordSpan> span = password_span(uri);
  if (!span) return std::string(uri);
  return std::string(uri.substr(0, span->colon)) + std::string(uri.substr(span->at));
}

std::string percent_encode(std::string_view text) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kDigits[u >> 4]);
      out.push_back(kDigits[u & 0x0F]);
    }
  }
  return out;
}

std::string format_cluster_uri(const ClusterUri& uri) {
  std::string out(kScyllaPrefix);
  if (!uri.username.empty()) {
    out += percent_encode(uri.username);
    if (!uri.password.empty()) out += ":" + percent_encode(uri.password);
    out += "@";
  }
  for (std::size_t i = 0; i < uri.hosts.size(); ++i) out += (i == 0 ? "" : ",") + uri.hosts[i];
  if (!uri.keyspace.empty()) out += "/" + percent_encode(uri.keyspace);
  char separator = '?';
  for (const auto& [name, value] : uri.options) {
    out += separator + percent_encode(name) + "=" + percent_encode(value);
    separator = '&';
  }
  return out;
}

namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

// Fills what `cluster` leaves out from the seed's variables (complete_from_environment's rule);
// `password`, when set, takes SCYLLA_PASSWORD's place. True if anything was filled.
bool fill_from_environment(ClusterUri& cluster, const std::optional<std::string>& password) {
  bool filled = false;
  auto fill = [&filled](std::string& field, std::string value) {
    if (!field.empty() || value.empty()) return;
    field = std::move(value);
    filled = true;
  };
  auto fill_option = [&](const std::string& name, std::string value) {
    if (cluster.options.contains(name) || value.empty()) return;
    cluster.options[name] = std::move(value);
    filled = true;
  };
  fill(cluster.username, env("SCYLLA_USERNAME"));
  if (!cluster.username.empty()) fill(cluster.password, password ? *password : env("SCYLLA_PASSWORD"));
  fill(cluster.keyspace, env("SCYLLA_KEYSPACE"));
  fill_option("dc", env("SCYLLA_HOSTSELECTIONPOLICY"));
  const auto tls = cluster.options.find("tls");
  if (tls == cluster.options.end() || (tls->second != "false" && tls->second != "0"))
    fill_option("ca_file", env("SCYLLA_CA_FILE"));
  return filled;
}

}  // namespace

std::string complete_from_environment(std::string_view uri, const std::optional<std::string>& password,
                                      std::string_view password_source) {
  // Not parsed unless scylla://: memory: and sqlite: URIs, store-level options and all, are
  // open_store's to check.
  if (!uri.starts_with(kScyllaPrefix)) {
    if (password) throw Error::invalid(std::string(password_source) + " applies only to scylla:// stores");
    return std::string(uri);
  }
  StoreUri parsed = parse_store_uri(uri);
  ClusterUri& cluster = parsed.cluster;
  if (password && !cluster.password.empty())
    throw Error::invalid("the password is given twice: in the store URI and in " + std::string(password_source));
  const bool filled = fill_from_environment(cluster, password);
  if (password && cluster.username.empty())
    throw Error::invalid(std::string(password_source) +
                         " gives a password but there is no user name (USER@ in the store URI, or SCYLLA_USERNAME)");
  return filled ? format_cluster_uri(cluster) : std::string(uri);
}

StoreUri parse_store_uri(std::string_view uri) {
  StoreUri parsed;
  if (uri == "memory:") {
    parsed.scheme = StoreUri::Scheme::kMemory;
  } else if (uri.starts_with("sqlite:")) {
    parsed.scheme = StoreUri::Scheme::kSqlite;
    parsed.sqlite_path = std::string(uri.substr(7));
    if (parsed.sqlite_path.starts_with("//")) parsed.sqlite_path.erase(0, 2);
    if (parsed.sqlite_path.empty())
      throw Error::invalid("store URI: sqlite: needs a file path, as in sqlite:events.db");
  } else if (uri.starts_with(kScyllaPrefix)) {
    parsed.scheme = StoreUri::Scheme::kScylla;
    parsed.cluster = parse_cluster(uri.substr(kScyllaPrefix.size()));
  } else {
    // The URI itself is not repeated: it may hold a password in a form we cannot redact.
    const std::string_view scheme = uri.substr(0, std::min(uri.find(':'), std::size_t{20}));
    throw Error::invalid("store URI has an unknown scheme '" + std::string(scheme) +
                         "': use memory:, sqlite:PATH or scylla://HOST[,HOST...]");
  }
  return parsed;
}

namespace {

std::size_t positive_option(std::string_view name, std::string_view value) {
  std::size_t number = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number);
  if (value.empty() || error != std::errc() || end != value.data() + value.size() || number == 0)
    throw Error::invalid("store URI option " + std::string(name) + " must be a whole number >= 1, got '" +
                         std::string(value.substr(0, 40)) + "'");
  return number;
}

std::int64_t version_option(std::string_view name, std::string_view value) {
  std::int64_t number = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number);
  if (value.empty() || error != std::errc() || end != value.data() + value.size() || number < 1 ||
      number > Limits{}.max_version)
    throw Error::invalid("store URI option " + std::string(name) + " must be a whole number 1.." +
                         std::to_string(Limits{}.max_version) + ", got '" + std::string(value.substr(0, 40)) + "'");
  return number;
}

}  // namespace

BackendUri take_store_level_options(std::string_view uri) {
  BackendUri result;
  const std::size_t question = uri.find('?');
  if (question == std::string_view::npos) {
    result.uri = std::string(uri);
    return result;
  }
  std::vector<std::string_view> kept;
  for (std::string_view item : split(uri.substr(question + 1), '&')) {
    const std::string_view key = item.substr(0, item.find('='));
    const std::string_view value = key.size() < item.size() ? item.substr(key.size() + 1) : std::string_view();
    if (key == "max_in_flight") {
      result.options.max_in_flight = positive_option(key, value);
    } else if (key == "max_in_flight_bytes") {
      result.options.max_in_flight_bytes = positive_option(key, value);
    } else if (key == "max_stream_version") {
      result.options.max_stream_version = version_option(key, value);
    } else {
      kept.push_back(item);
    }
  }
  result.uri = std::string(uri.substr(0, question));
  if (std::all_of(kept.begin(), kept.end(), [](std::string_view item) { return item.empty(); })) return result;
  std::string query;
  for (std::size_t i = 0; i < kept.size(); ++i) query += (i == 0 ? "" : "&") + std::string(kept[i]);
  if (result.uri == "memory:")
    throw Error::invalid(
        "memory: takes no options but max_in_flight, max_in_flight_bytes and max_stream_version, got '" +
        query.substr(0, 40) + "'");
  result.uri += '?' + query;
  return result;
}

std::string redact_uri(std::string_view uri) {
  const std::optional<PasswordSpan> span = password_span(uri);
  if (!span) return std::string(uri);
  return std::string(uri.substr(0, span->colon + 1)) + "***" + std::string(uri.substr(span->at));
}

std::string default_store_uri() {
  if (const char* store = std::getenv("EVENTSTORE_STORE"); store && *store) return store;
  const char* hosts = std::getenv("SCYLLA_HOSTS");
  if (!hosts || !*hosts) return "sqlite:eventstore.db";
  std::string host_list = hosts;
  host_list.erase(std::remove(host_list.begin(), host_list.end(), ' '), host_list.end());
  ClusterUri cluster;
  for (std::string_view host : split(host_list, ',')) cluster.hosts.emplace_back(host);
  fill_from_environment(cluster, std::nullopt);
  return format_cluster_uri(cluster);
}

}  // namespace eventstore

// Store URIs (their forms are listed in store.h): parsing one into its parts, completing one
// from the environment, and printing one without its password, which any application that logs
// its configuration wants (redact_uri in store.h masks the password instead).
//
// Invariants: parse_store_uri(format_cluster_uri(c)) gives back c; no error message ever holds a
// password.
// Errors: the parsing functions throw Error(kInvalidArgument) as each says; the others throw
// nothing (std::bad_alloc aside).
// Thread safety: pure functions (complete_from_environment reads the environment), safe from any
// thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eventstore/export.h"

namespace eventstore {

struct EVENTSTORE_EXPORT ClusterUri {
  std::vector<std::string> hosts;              // "host" or "host:port", at least one
  std::string username;                        // percent-decoded; empty when none
  std::string password;                        // percent-decoded; empty when none
  std::string keyspace;                        // empty when the URI names none
  std::map<std::string, std::string> options;  // the query, percent-decoded
};

struct EVENTSTORE_EXPORT StoreUri {
  enum class Scheme { kMemory, kSqlite, kScylla } scheme = Scheme::kMemory;
  std::string sqlite_path;  // for kSqlite
  ClusterUri cluster;       // for kScylla
};

// The parts of a store URI as its backend sees it: without the store-level options, which
// open_store takes out first (take_store_level_options). Throws Error(kInvalidArgument) naming
// what is wrong, also a percent-decoded part (user name, password, host, keyspace, option name
// or value) that is not valid UTF-8 (the driver takes them as UTF-8 strings); the message never
// holds a password.
EVENTSTORE_EXPORT StoreUri parse_store_uri(std::string_view uri);

// Every byte but A-Z a-z 0-9 - _ . ~ as %XX: how a user name, password or keyspace is written
// in a URI.
EVENTSTORE_EXPORT std::string percent_encode(std::string_view text);

// The options of every scheme's query that configure the store, not its backend
// (include/eventstore/store.h, StoreOptions).
struct EVENTSTORE_EXPORT StoreLevelOptions {
  std::optional<std::size_t> max_in_flight;
  std::optional<std::size_t> max_in_flight_bytes;
  std::optional<std::int64_t> max_stream_version;  // Limits::max_version, 1..2147483647
};

struct EVENTSTORE_EXPORT BackendUri {
  std::string uri;  // the URI without the store-level options (and without '?' if none remain)
  StoreLevelOptions options;
};

// Takes max_in_flight=N, max_in_flight_bytes=N and max_stream_version=N out of the query of
// `uri` (after its first '?'), keeping the other options in order for the backend; the last of
// repeated ones wins. Throws Error(kInvalidArgument) naming the option when its value is not a
// whole number >= 1 (for max_stream_version: 1..2147483647, a cluster's versions being CQL ints),
// and for any other option on memory:, which has none.
EVENTSTORE_EXPORT BackendUri take_store_level_options(std::string_view uri);

// Where the raw (still percent-encoded) password of a scylla:// URI lies: between `colon` and
// `at`, both excluded. None when the URI has no password part.
struct EVENTSTORE_EXPORT PasswordSpan {
  std::size_t colon;
  std::size_t at;
};
EVENTSTORE_EXPORT std::optional<PasswordSpan> password_span(std::string_view uri);

// A scylla:// URI that parse_store_uri parses back into `uri`: every part percent-encoded but
// the hosts, options in name order.
EVENTSTORE_EXPORT std::string format_cluster_uri(const ClusterUri& uri);

// `uri` without its password (the ':' before it included), e.g. scylla://user@h1 for
// scylla://user:secret@h1; any other URI unchanged. Unlike redact_uri, the result still works:
// the password can then come from elsewhere (complete_from_environment).
EVENTSTORE_EXPORT std::string without_password(std::string_view uri);

// A store URI completed from the seed's environment variables, by one rule: a setting in the
// URI wins; a variable only fills a setting the URI leaves out:
//   SCYLLA_USERNAME             the user name
//   SCYLLA_PASSWORD             the password, when there is a user name (from either source)
//   SCYLLA_KEYSPACE             the keyspace
//   SCYLLA_HOSTSELECTIONPOLICY  option dc
//   SCYLLA_CA_FILE              option ca_file, unless the URI sets tls=false
// SCYLLA_HOSTS never applies: a scylla:// URI names its hosts. `password`, when set, is a
// password given apart from the URI (the CLI's --password-file, named by `password_source` in
// messages): it wins over SCYLLA_PASSWORD.
// Returns `uri` itself when nothing is filled, memory: and sqlite: URIs included; otherwise
// format_cluster_uri of the completed URI (which holds the password: never print it).
// Throws Error(kInvalidArgument) as parse_store_uri does; also when `password` is set and the
// URI holds a password too ("given twice"), has no user name (nor SCYLLA_USERNAME), or is not
// a scylla:// URI. Messages never hold a password.
EVENTSTORE_EXPORT std::string complete_from_environment(std::string_view uri,
                                                        const std::optional<std::string>& password = std::nullopt,
                                                        std::string_view password_source = "the password file");

}  // namespace eventstore

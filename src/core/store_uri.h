// Store URIs: parsing, the default URI and redaction (see include/eventstore/store.h).
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace eventstore::detail {

struct ClusterUri {
  std::vector<std::string> hosts;  // "host" or "host:port", at least one
  std::string username;            // percent-decoded; empty when none
  std::string password;            // percent-decoded; empty when none
  std::string keyspace;            // empty when the URI names none
  std::map<std::string, std::string> options;  // the query, percent-decoded
};

struct StoreUri {
  enum class Scheme { kMemory, kSqlite, kScylla } scheme = Scheme::kMemory;
  std::string sqlite_path;  // for kSqlite
  ClusterUri cluster;       // for kScylla
};

// Throws Error(kInvalidArgument) naming what is wrong; the message never holds a password.
StoreUri parse_store_uri(std::string_view uri);

std::string percent_encode(std::string_view text);

// The options of every scheme's query that configure the store, not its backend
// (include/eventstore/store.h, StoreOptions).
struct StoreLevelOptions {
  std::optional<std::size_t> max_in_flight;
  std::optional<std::size_t> max_in_flight_bytes;
};

struct BackendUri {
  std::string uri;  // the URI without the store-level options (and without '?' if none remain)
  StoreLevelOptions options;
};

// Takes max_in_flight=N and max_in_flight_bytes=N out of the query of `uri` (after its first
// '?'), keeping the other options in order for the backend; the last of repeated ones wins.
// Throws Error(kInvalidArgument) naming the option when its value is not a whole number >= 1,
// and for any other option on memory:, which has none.
BackendUri take_store_level_options(std::string_view uri);

}  // namespace eventstore::detail

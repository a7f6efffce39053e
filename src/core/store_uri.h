// Store URIs: parsing, the default URI and redaction (see include/eventstore/store.h).
#pragma once

#include <map>
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

}  // namespace eventstore::detail

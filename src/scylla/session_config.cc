// The cluster session's settings from a scylla:// URI: see session_config.h.
#include "scylla/session_config.h"

#include <string>

#include "eventstore/error.h"
#include "scylla/scylla_store.h"

namespace eventstore::detail {
namespace {

std::uint32_t as_number(const std::string& key, const std::string& value, std::uint32_t max) {
  if (value.empty() || value.size() > 9 || value.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(value) < 1 || std::stoul(value) > max)
    throw Error::invalid("store URI option " + key + " must be a number from 1 to " + std::to_string(max));
  return static_cast<std::uint32_t>(std::stoul(value));
}

bool as_bool(const std::string& key, const std::string& value) {
  if (value == "true" || value == "1") return true;
  if (value == "false" || value == "0") return false;
  throw Error::invalid("store URI option " + key + " must be true or false");
}

}  // namespace

bridge::SessionConfig session_config_from(const ClusterUri& uri) {
  bridge::SessionConfig config{};
  for (const std::string& host : uri.hosts) config.hosts.push_back(host);
  config.username = uri.username;
  config.password = uri.password;
  config.keyspace = scylla_keyspace(uri);
  bool tls_refused = false;
  for (const auto& [key, value] : uri.options) {
    if ((key == "ca_file" || key == "cert_file" || key == "key_file") && value.empty())
      throw Error::invalid("store URI option " + key + " needs a path");
    if (key == "dc") {
      config.local_dc = value;
    } else if (key == "consistency") {
      if (value != "quorum" && value != "local_quorum")
        throw Error::invalid("store URI option consistency must be quorum or local_quorum");
      config.local_consistency = value == "local_quorum";
    } else if (key == "timeout_ms") {
      config.request_timeout_ms = as_number(key, value, 600000);
    } else if (key == "resolve_timeout_ms") {
      config.resolve_timeout_ms = as_number(key, value, 600000);
    } else if (key == "connect_timeout_ms") {
      config.connect_timeout_ms = as_number(key, value, 600000);
    } else if (key == "workers") {
      config.worker_threads = as_number(key, value, 64);
    } else if (key == "tls") {
      tls_refused = !as_bool(key, value);
    } else if (key == "ca_file") {
      config.tls_ca_file = value;
    } else if (key == "cert_file") {
      config.tls_cert_file = value;
    } else if (key == "key_file") {
      config.tls_key_file = value;
    } else if (key == "feed" || key == "relay") {
      // The feed's options: feed_settings_from (feed_markers.h).
    } else {
      throw Error::invalid(
          "unknown store URI option '" + key +
          "' (known: dc, consistency, timeout_ms, resolve_timeout_ms, connect_timeout_ms, workers, tls, "
          "ca_file, cert_file, key_file, feed, relay)");
    }
  }
  // A TLS file with tls=false would connect in plaintext and send the password in clear.
  std::string tls_files;
  for (const char* key : {"ca_file", "cert_file", "key_file"})
    if (uri.options.contains(key)) tls_files += (tls_files.empty() ? "" : ", ") + std::string(key);
  if (tls_refused && !tls_files.empty())
    throw Error::invalid("store URI options contradict each other: tls=false with " + tls_files +
                         " (remove tls=false to connect with TLS, or the files to connect without)");
  config.tls_enabled = uri.options.contains("tls") ? !tls_refused : !config.tls_ca_file.empty();
  if (config.tls_enabled && config.tls_ca_file.empty())
    throw Error::invalid("store URI option tls needs ca_file=PATH (the CA that signed the servers' certificates)");
  if (config.tls_cert_file.empty() != config.tls_key_file.empty())
    throw Error::invalid("store URI options cert_file and key_file go together");
  if (!config.tls_enabled && !config.tls_cert_file.empty())
    throw Error::invalid("store URI options cert_file and key_file need TLS: give ca_file=PATH too");
  return config;
}

}  // namespace eventstore::detail

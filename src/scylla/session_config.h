// The cluster session's settings from a scylla:// URI: the one reading of the URI's options that
// the store, the raw benchmark (`eventstore bench --raw`) and the tests share, so that they
// connect with the same driver settings. The feed's options (feed=, relay=) are accepted here and
// read by feed_settings_from (feed_markers.h).
//
// Invariants of the config returned: tls_enabled implies a tls_ca_file; tls_cert_file and
// tls_key_file are both set or both empty, and only with TLS; numbers are within their bounds.
//
// Thread safety: a pure function; call it from any thread.
#pragma once

#include "core/store_uri.h"
#include "eventstore_scylla_bridge/src/lib.rs.h"

namespace eventstore::detail {

// The settings of `uri` (hosts, credentials, keyspace or the seed's "event_sourcing", dc,
// consistency, timeouts, workers, TLS). Throws Error(kInvalidArgument) naming the option for an
// unknown option, a malformed value (tls=yes: tls is true, false, 1 or 0) and options that
// contradict each other (tls=false with a TLS file; cert_file without key_file).
bridge::SessionConfig session_config_from(const ClusterUri& uri);

}  // namespace eventstore::detail

// The session shared by a ScyllaStore, its cursors, its operations in flight and the generic CQL
// calls (cql.h), and the mapping of the bridge's errors to eventstore::Error.
#pragma once

#include <exception>
#include <memory>
#include <string>

#include "eventstore/error.h"
#include "eventstore/limits.h"
#include "eventstore/log.h"
#include "eventstore/metrics.h"
#include "eventstore_scylla_bridge/src/lib.rs.h"

namespace eventstore::detail {

// Held through a shared_ptr by everything that uses the session, so that it outlives every
// request in flight.
struct Connection {
  rust::Box<bridge::Session> session;
  Limits limits;
  std::string keyspace;
  std::shared_ptr<MetricsSink> metrics;  // StoreOptions::metrics: what the backend measures inside; may be null
};

// Connects a session with `config` (blocking; defined in scylla_store.cc). Throws the bridge's
// error as an Error "cannot connect to <redacted_uri>: ..." (kUnavailable, kUnauthorized,
// kInvalidArgument).
std::shared_ptr<Connection> connect_session(bridge::SessionConfig config, const std::string& redacted_uri,
                                            const Limits& limits, std::shared_ptr<MetricsSink> metrics);

inline std::string to_std(const rust::String& s) { return std::string(s.data(), s.size()); }

// A bridge error as the store reports it: "<what>: <the bridge's message>".
inline Error to_error(const bridge::BridgeError& e, const std::string& what) {
  std::string message = what + ": " + to_std(e.message);
  switch (e.kind) {
    case bridge::ErrorKind::Unavailable:
    case bridge::ErrorKind::Closed: return Error(ErrorCode::kUnavailable, message);
    case bridge::ErrorKind::OutcomeUnknown: return Error(ErrorCode::kOutcomeUnknown, message);
    case bridge::ErrorKind::Unauthorized: return Error(ErrorCode::kUnauthorized, message);
    case bridge::ErrorKind::InvalidArgument:
      // The store's statements are fixed and their values validated: what the server refuses
      // as invalid is a table, keyspace or column that is not there.
      if (e.server_error == bridge::ServerError::Invalid)
        message += " (create the schema with: eventstore schema apply)";
      return Error(ErrorCode::kInvalidArgument, message);
    default: return Error(ErrorCode::kInternal, message);
  }
}

// Runs `fn`, never letting an exception escape into Rust (it would abort the process).
template <class Fn>
void guarded(Fn&& fn) noexcept {
  try {
    fn();
  } catch (const std::exception& e) {
    log(LogLevel::kError, std::string("a completion callback threw: ") + e.what());
  } catch (...) {
    log(LogLevel::kError, "a completion callback threw a non-standard exception");
  }
}

}  // namespace eventstore::detail

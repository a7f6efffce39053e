// Completion interfaces of the scylla-eventstore Rust bridge.
//
// Every asynchronous bridge call takes ownership of one completion object
// (std::unique_ptr on the C++ side, UniquePtr in Rust) and invokes EXACTLY ONE
// of its methods, exactly once, then destroys it:
//   - normally on a tokio worker thread of the session's runtime;
//   - on the calling thread when the call fails before anything is scheduled
//     (e.g. connect() cannot even start its runtime);
//   - on whichever thread drops the Session when pending requests are
//     cancelled by the shutdown (kind Closed, or OutcomeUnknown for a write
//     that may already have been sent).
// A Rust panic inside the bridge completes the request with kind Internal.
//
// Implementations MUST NOT block (hand the result off / notify and return),
// MUST NOT throw (an exception escaping into Rust aborts the process), and
// must be safe to call from any thread. Destroying the Session from inside a
// completion is allowed (the runtime is then shut down in the background).
//
// The argument types are defined by the generated header
// "eventstore_scylla_bridge/src/lib.rs.h", which includes this file first;
// include that generated header, not this one.
#pragma once

#include "rust/cxx.h"

namespace eventstore::bridge {

struct BridgeError;
struct AppendOutcome;
struct StreamSlice;
struct EventRow;
struct SnapshotLoad;
struct SnapshotSaveOutcome;
struct CqlResult;
struct Session;

class ConnectCompletion {
 public:
  virtual ~ConnectCompletion() = default;
  virtual void on_ok(rust::Box<Session> session) noexcept = 0;
  virtual void on_error(const BridgeError &error) noexcept = 0;
};

// Completion of a request whose success carries no value (schema DDL, prepare).
class VoidCompletion {
 public:
  virtual ~VoidCompletion() = default;
  virtual void on_ok() noexcept = 0;
  virtual void on_error(const BridgeError &error) noexcept = 0;
};

class AppendCompletion {
 public:
  virtual ~AppendCompletion() = default;
  virtual void on_ok(AppendOutcome outcome) noexcept = 0;
  virtual void on_error(const BridgeError &error) noexcept = 0;
};

// Head read and serial range read.
class SliceCompletion {
 public:
  virtual ~SliceCompletion() = default;
  virtual void on_ok(StreamSlice slice) noexcept = 0;
  virtual void on_error(const BridgeError &error) noexcept = 0;
};

// One page of a ReadCursor. `more` is false once the read is exhausted; a page
// may be empty while `more` is still true (just ask for the next one).
class PageCompletion {
 public:
  virtual ~PageCompletion() = default;
  virtual void on_ok(rust::Vec<EventRow> rows, bool more) noexcept = 0;
  virtual void on_error(const BridgeError &error) noexcept = 0;
};

class SnapshotLoadCompletion {
 public:
  virtual ~SnapshotLoadCompletion() = default;
  virtual void on_ok(SnapshotLoad result) noexcept = 0;
  virtual void on_error(const BridgeError &error) noexcept = 0;
};

class SnapshotSaveCompletion {
 public:
  virtual ~SnapshotSaveCompletion() = default;
  virtual void on_ok(SnapshotSaveOutcome outcome) noexcept = 0;
  virtual void on_error(const BridgeError &error) noexcept = 0;
};

// Session::execute_cql: the rows of one statement or batch.
class CqlCompletion {
 public:
  virtual ~CqlCompletion() = default;
  virtual void on_ok(CqlResult result) noexcept = 0;
  virtual void on_error(const BridgeError &error) noexcept = 0;
};

}  // namespace eventstore::bridge

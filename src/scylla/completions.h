// The bridge's completions as C++ callbacks: a request's answer arrives on one of the bridge's
// tokio worker threads through a completion object (rust/scylla-bridge/include/completion.h);
// Done turns its on_ok / on_error into two std::functions.
//
// Invariants: exactly one of the two callbacks runs, once; no exception escapes into Rust (one
// thrown by a callback is logged, see guarded in connection.h).
//
// Thread safety: the callbacks run on a bridge worker thread and must not block it.
#pragma once

#include <functional>
#include <memory>
#include <utility>

#include "eventstore_scylla_bridge/src/lib.rs.h"
#include "scylla/connection.h"

namespace eventstore::detail {

using OnError = std::function<void(const bridge::BridgeError&)>;

// A bridge completion that calls `on_value` with the success values of Base's on_ok, or
// `on_error`; never lets an exception escape into Rust.
template <class Base, class... Values>
class Done final : public Base {
 public:
  using OnValue = std::function<void(Values...)>;
  Done(OnValue on_value, OnError on_error) : on_value_(std::move(on_value)), on_error_(std::move(on_error)) {}
  void on_ok(Values... values) noexcept override {
    guarded([&] { on_value_(std::move(values)...); });
  }
  void on_error(const bridge::BridgeError& error) noexcept override {
    guarded([&] { on_error_(error); });
  }

 private:
  OnValue on_value_;
  OnError on_error_;
};

using ConnectDone = Done<bridge::ConnectCompletion, rust::Box<bridge::Session>>;
using VoidDone = Done<bridge::VoidCompletion>;
using SliceDone = Done<bridge::SliceCompletion, bridge::StreamSlice>;
using PageDone = Done<bridge::PageCompletion, rust::Vec<bridge::EventRow>, bool>;
using SnapshotLoadDone = Done<bridge::SnapshotLoadCompletion, bridge::SnapshotLoad>;
using SnapshotSaveDone = Done<bridge::SnapshotSaveCompletion, bridge::SnapshotSaveOutcome>;

template <class Completion, class OnValue>
std::unique_ptr<Completion> done(OnValue&& on_value, OnError on_error) {
  return std::make_unique<Completion>(std::forward<OnValue>(on_value), std::move(on_error));
}

}  // namespace eventstore::detail

// scylla_append_cpu: client CPU per append through the store (C++ layer + bridge + driver)
// against the same conditional batches sent through the bridge alone (bridge + driver), one
// append at a time, on the cluster named by the seed's variables (SCYLLA_HOSTS, SCYLLA_KEYSPACE,
// SCYLLA_USERNAME, SCYLLA_PASSWORD). Not a test: it prints figures for docs/scylla.md.
//
//   scylla_append_cpu [APPENDS=2000] [EVENTS_PER_APPEND=1] [DATA_BYTES=100] [ROUNDS=3] [both|store|bridge]
//
// One path only (store or bridge) is for instruction counts, which the CPU time of a loaded
// machine is too noisy for: under valgrind --tool=callgrind, (I(N2) - I(N1)) / (N2 - N1) is the
// user-space cost of one append (client thread + driver threads).
//
// CPU is getrusage(RUSAGE_SELF) user+system over the loop: every thread of the process, so the
// driver's tokio workers are counted too. Both paths run in one process against the same code:
// the bridge's C++ API is the one libeventstore uses (it exports it). Rounds alternate the two
// paths; the median round is reported.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "core/store_uri.h"
#include "eventstore/eventstore.h"
#include "eventstore_scylla_bridge/src/lib.rs.h"
#include "scylla/session_config.h"

namespace bridge = eventstore::bridge;
using Clock = std::chrono::steady_clock;

namespace {

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return s(usage.ru_utime) + s(usage.ru_stime);
}

std::string env(const char* name, const char* fallback = "") {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

struct Figures {
  double cpu_us = 0;   // client CPU per append
  double wall_us = 0;  // latency per append
};

class ConnectDone final : public bridge::ConnectCompletion {
 public:
  std::promise<rust::Box<bridge::Session>> promise;
  std::string error;
  void on_ok(rust::Box<bridge::Session> session) noexcept override { promise.set_value(std::move(session)); }
  void on_error(const bridge::BridgeError& e) noexcept override {
    promise.set_exception(std::make_exception_ptr(std::runtime_error(std::string(e.message))));
  }
};

class AppendDone final : public bridge::AppendCompletion {
 public:
  explicit AppendDone(std::promise<bool>* p) : promise_(p) {}
  void on_ok(bridge::AppendOutcome outcome) noexcept override { promise_->set_value(outcome.applied); }
  void on_error(const bridge::BridgeError& e) noexcept override {
    promise_->set_exception(std::make_exception_ptr(std::runtime_error(std::string(e.message))));
  }

 private:
  std::promise<bool>* promise_;
};

std::vector<eventstore::EventData> make_events(int count, const std::string& data) {
  std::vector<eventstore::EventData> events;
  for (int i = 0; i < count; ++i) {
    eventstore::EventData e;
    e.event_id = eventstore::Uuid::random();
    e.event_type = "ItemAdded";
    e.data = data;
    e.metadata = "{\"user\":\"bench\"}";
    e.timestamp = eventstore::now_ms();
    events.push_back(std::move(e));
  }
  return events;
}

Figures run_store(eventstore::Store& store, int appends, int per_append, const std::string& data) {
  const eventstore::StreamId stream{"append_cpu", "order", eventstore::Uuid::random()};
  std::int64_t version = 0;
  const double cpu0 = cpu_seconds();
  const auto wall0 = Clock::now();
  for (int i = 0; i < appends; ++i) {
    version = store.append(stream, eventstore::ExpectedVersion::exact(version), make_events(per_append, data))
                  .next_expected_version;
  }
  const double cpu = cpu_seconds() - cpu0;
  const double wall = std::chrono::duration<double>(Clock::now() - wall0).count();
  return {cpu / appends * 1e6, wall / appends * 1e6};
}

Figures run_bridge(const bridge::Session& session, int appends, int per_append, const std::string& data) {
  bridge::StreamKey key;
  key.bounded_context = "append_cpu";
  key.aggregate_type = "order";
  const eventstore::Uuid id = eventstore::Uuid::random();
  std::copy(id.bytes().begin(), id.bytes().end(), key.aggregate_id.begin());
  std::int32_t version = 0;
  const double cpu0 = cpu_seconds();
  const auto wall0 = Clock::now();
  for (int i = 0; i < appends; ++i) {
    // The same input as the store gets, turned into rows the way the store does, minus its
    // validation, bookkeeping and result handling.
    std::vector<eventstore::EventData> events = make_events(per_append, data);
    rust::Vec<bridge::EventRow> rows;
    rows.reserve(events.size());
    for (std::size_t k = 0; k < events.size(); ++k) {
      bridge::EventRow row{};
      row.version = version + 1 + static_cast<std::int32_t>(k);
      std::copy(events[k].event_id->bytes().begin(), events[k].event_id->bytes().end(), row.event_id.begin());
      row.event_type = events[k].event_type;
      row.has_data = true;
      row.data = *events[k].data;
      row.has_metadata = true;
      row.metadata = *events[k].metadata;
      row.timestamp_ms = events[k].timestamp->time_since_epoch().count();
      rows.push_back(std::move(row));
    }
    std::promise<bool> applied;
    auto result = applied.get_future();
    session.append_batch(key, eventstore::bridge::AppendShape::Store, version > 0, version, version + per_append,
                         std::move(rows), std::make_unique<AppendDone>(&applied));
    if (!result.get()) throw std::runtime_error("bridge append not applied");
    version += per_append;
  }
  const double cpu = cpu_seconds() - cpu0;
  const double wall = std::chrono::duration<double>(Clock::now() - wall0).count();
  return {cpu / appends * 1e6, wall / appends * 1e6};
}

Figures median(std::vector<Figures> v) {
  std::sort(v.begin(), v.end(), [](const Figures& a, const Figures& b) { return a.cpu_us < b.cpu_us; });
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int appends = argc > 1 ? std::atoi(argv[1]) : 2000;
  const int per_append = argc > 2 ? std::atoi(argv[2]) : 1;
  const int data_bytes = argc > 3 ? std::atoi(argv[3]) : 100;
  const int rounds = argc > 4 ? std::atoi(argv[4]) : 3;
  const std::string mode = argc > 5 ? argv[5] : "both";
  const bool with_store = mode != "bridge", with_bridge = mode != "store";
  if (env("SCYLLA_HOSTS").empty()) {
    std::fprintf(stderr, "scylla_append_cpu: set SCYLLA_HOSTS (and SCYLLA_KEYSPACE) first\n");
    return 2;
  }
  if (appends < 1 || per_append < 1 || per_append > 1000 || data_bytes < 2 || rounds < 1 ||
      (mode != "both" && mode != "store" && mode != "bridge")) {
    std::fprintf(stderr,
                 "usage: scylla_append_cpu [APPENDS] [EVENTS_PER_APPEND<=1000] [DATA_BYTES>=2] [ROUNDS] "
                 "[both|store|bridge]\n");
    return 2;
  }
  const std::string data = "\"" + std::string(static_cast<std::size_t>(data_bytes - 2), 'x') + "\"";
  try {
    ::unsetenv("EVENTSTORE_STORE");
    const std::string uri = eventstore::default_store_uri();
    auto store = eventstore::open_store(uri);

    // The bridge's session reads the same URI the store does, with the store's parser.
    bridge::SessionConfig config =
        eventstore::detail::session_config_from(eventstore::detail::parse_store_uri(uri).cluster);
    auto connect = std::make_unique<ConnectDone>();
    auto session_future = connect->promise.get_future();
    bridge::connect(std::move(config), std::move(connect));
    rust::Box<bridge::Session> session = session_future.get();

    // Warm up (statement preparation, connections, JIT on the server).
    if (with_store) run_store(*store, 50, per_append, data);
    if (with_bridge) run_bridge(*session, 50, per_append, data);

    std::vector<Figures> store_rounds, bridge_rounds;
    for (int r = 0; r < rounds; ++r) {
      if (with_store) store_rounds.push_back(run_store(*store, appends, per_append, data));
      if (with_bridge) bridge_rounds.push_back(run_bridge(*session, appends, per_append, data));
      std::printf("round %d:", r + 1);
      if (with_store)
        std::printf(" store %.1f us CPU %.0f us wall", store_rounds.back().cpu_us, store_rounds.back().wall_us);
      if (with_bridge)
        std::printf(" bridge %.1f us CPU %.0f us wall", bridge_rounds.back().cpu_us, bridge_rounds.back().wall_us);
      std::printf("\n");
    }
    std::printf("%d sequential appends x %d event(s) of %d data bytes, %d rounds, median round:\n", appends, per_append,
                data_bytes, rounds);
    if (with_store) {
      const Figures s = median(store_rounds);
      std::printf("  through the store : %7.1f us client CPU per append, %7.0f us wall\n", s.cpu_us, s.wall_us);
    }
    if (with_bridge) {
      const Figures b = median(bridge_rounds);
      std::printf("  bridge + driver   : %7.1f us client CPU per append, %7.0f us wall\n", b.cpu_us, b.wall_us);
    }
    if (with_store && with_bridge) {
      const Figures s = median(store_rounds), b = median(bridge_rounds);
      std::printf("  C++ layer         : %7.1f us per append (store / bridge = %.2f)\n", s.cpu_us - b.cpu_us,
                  s.cpu_us / b.cpu_us);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "scylla_append_cpu: %s\n", e.what());
    return 1;
  }
  return 0;
}

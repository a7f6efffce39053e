// libFuzzer harness: the validation of appends (detail::prepare_append) with fuzzed streams,
// expected versions, events and limits.
// Contract (src/core/validation.h, docs/semantics.md): it accepts or throws
// eventstore::Error(kInvalidArgument); what it accepts obeys every rule and limit, has unique
// non-nil ids and millisecond timestamps; and an accepted append, written to a fresh stream of
// the memory and SQLite stores, reads back byte for byte (nothing accepted at append time may
// read back as corrupt).
#include <fuzzer/FuzzedDataProvider.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/validation.h"
#include "eventstore/eventstore.h"

namespace {

using namespace eventstore;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz_prepare_append: %s\n", what.c_str());
  std::abort();
}

Uuid uuid_from(FuzzedDataProvider& in) {
  std::array<std::uint8_t, 16> bytes{};
  for (auto& b : bytes) b = in.ConsumeIntegral<std::uint8_t>();
  return Uuid(bytes);
}

// A scratch directory: /dev/shm when there is one (fsync is free on tmpfs), else $TMPDIR or /tmp.
std::string scratch_dir() {
  if (access("/dev/shm", W_OK) == 0) return "/dev/shm";
  const char* tmp = std::getenv("TMPDIR");
  return tmp && *tmp ? tmp : "/tmp";
}

std::string sqlite_path() { return scratch_dir() + "/fuzz-prepare-append-" + std::to_string(getpid()) + ".db"; }

void round_trip(Store& store, const Limits& store_limits, const StreamId& stream, ExpectedVersion expected,
                const std::vector<EventData>& events, const char* which) {
  AppendResult result;
  try {
    result = store.append(stream, expected, events);
  } catch (const Error& e) {
    // A fresh stream is at version 0: only an exact version above 0 may conflict, and only
    // any() (which validation cannot place) may find the append past the maximum version.
    if (e.code() == ErrorCode::kVersionConflict && !expected.is_any() && expected.version() > 0) return;
    if (e.code() == ErrorCode::kInvalidArgument && expected.is_any() &&
        static_cast<std::int64_t>(events.size()) > store_limits.max_version)
      return;
    fail(std::string(which) + ": an append prepare_append accepted failed: " + e.what());
  }
  std::vector<RecordedEvent> read;
  try {
    read = store.read_all(stream);
  } catch (const Error& e) {
    fail(std::string(which) + ": an append prepare_append accepted reads back as an error: " + e.what());
  }
  if (read.size() != events.size()) fail(std::string(which) + ": read back a different number of events");
  for (std::size_t i = 0; i < events.size(); ++i) {
    const RecordedEvent& r = read[i];
    const EventData& e = events[i];
    if (r.version != static_cast<std::int64_t>(i) + 1 || r.event_id != *e.event_id || r.event_type != e.event_type ||
        r.data != e.data || r.metadata != e.metadata || r.timestamp != *e.timestamp)
      fail(std::string(which) + ": event " + std::to_string(i + 1) + " reads back different");
    if (result.event_ids.at(i) != *e.event_id) fail(std::string(which) + ": the result names other ids");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static std::shared_ptr<Store> sqlite = [] {
    set_log_sink({});
    std::remove(sqlite_path().c_str());
    std::remove((sqlite_path() + "-wal").c_str());
    std::remove((sqlite_path() + "-shm").c_str());
    return open_store("sqlite:" + sqlite_path());
  }();
  FuzzedDataProvider in(data, size);
  Limits limits;
  const bool small_limits = in.ConsumeBool();
  if (small_limits) {
    limits.max_event_bytes = in.ConsumeIntegralInRange<std::size_t>(0, 600);
    limits.max_events_per_append = in.ConsumeIntegralInRange<std::size_t>(0, 12);
    limits.max_append_bytes = in.ConsumeIntegralInRange<std::size_t>(0, 2000);
    limits.max_identifier_bytes = in.ConsumeIntegralInRange<std::size_t>(0, 40);
    limits.max_version = in.ConsumeIntegralInRange<std::int64_t>(0, 2147483647);
  }
  StreamId stream;
  stream.bounded_context = in.ConsumeBool() ? "ctx" : in.ConsumeRandomLengthString(64);
  stream.aggregate_type = in.ConsumeBool() ? "Type" : in.ConsumeRandomLengthString(64);
  stream.aggregate_id = in.ConsumeBool() ? Uuid::random() : uuid_from(in);
  ExpectedVersion expected = ExpectedVersion::any();
  switch (in.ConsumeIntegralInRange<int>(0, 3)) {
    case 0: expected = ExpectedVersion::any(); break;
    case 1: expected = ExpectedVersion::no_stream(); break;
    case 2: expected = ExpectedVersion::exact(in.ConsumeIntegralInRange<std::int64_t>(0, 3)); break;
    default: expected = ExpectedVersion::exact(in.ConsumeIntegral<std::int64_t>()); break;
  }
  std::vector<EventData> events(in.ConsumeIntegralInRange<std::size_t>(0, 10));
  for (std::size_t i = 0; i < events.size(); ++i) {
    EventData& e = events[i];
    switch (in.ConsumeIntegralInRange<int>(0, 3)) {
      case 0: break;  // generated
      case 1: e.event_id = uuid_from(in); break;
      case 2: e.event_id = i > 0 && events[i - 1].event_id ? events[i - 1].event_id : Uuid(); break;
      default: e.event_id = Uuid::random(); break;
    }
    e.event_type = in.ConsumeBool() ? "Happened" : in.ConsumeRandomLengthString(64);
    if (in.ConsumeBool()) e.data = in.ConsumeRandomLengthString(4096);
    if (in.ConsumeBool()) e.metadata = in.ConsumeRandomLengthString(512);
    if (in.ConsumeBool())
      e.timestamp = Timestamp(
          std::chrono::milliseconds(in.ConsumeIntegralInRange<std::int64_t>(-62135596800000, 253402300799999)));
  }

  std::vector<EventData> prepared = events;
  try {
    detail::prepare_append(stream, expected, prepared, limits);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kInvalidArgument) fail(std::string("an error other than invalid_argument: ") + e.what());
    return 0;
  }

  // What was accepted obeys the rules.
  if (prepared.empty() || prepared.size() > limits.max_events_per_append) fail("accepted a bad number of events");
  if (!detail::is_valid_utf8(stream.bounded_context) || stream.bounded_context.empty() ||
      stream.bounded_context.size() > limits.max_identifier_bytes || stream.aggregate_id.is_nil())
    fail("accepted a bad stream");
  std::set<Uuid> ids;
  std::size_t total = 0;
  for (std::size_t i = 0; i < prepared.size(); ++i) {
    const EventData& e = prepared[i];
    if (!e.event_id || e.event_id->is_nil() || !ids.insert(*e.event_id).second)
      fail("accepted a missing, nil or repeated id");
    if (events[i].event_id && *events[i].event_id != *e.event_id) fail("changed a given event id");
    if (!e.timestamp) fail("left a timestamp unset");
    if (e.event_type.empty() || e.event_type.size() > limits.max_identifier_bytes ||
        !detail::is_valid_utf8(e.event_type))
      fail("accepted a bad event type");
    if (e.data && !nlohmann::json::accept(*e.data)) fail("accepted data that is not JSON");
    if (e.metadata) {
      const nlohmann::json m = nlohmann::json::parse(*e.metadata, nullptr, false);
      if (!m.is_object()) fail("accepted metadata that is not a JSON object");
    }
    const std::size_t bytes =
        e.event_type.size() + (e.data ? e.data->size() : 0) + (e.metadata ? e.metadata->size() : 0);
    if (bytes > limits.max_event_bytes) fail("accepted an event over the size limit");
    total += bytes;
  }
  if (total > limits.max_append_bytes) fail("accepted an append over the size limit");
  if (!expected.is_any() && (expected.version() < 0 || expected.version() > limits.max_version ||
                             static_cast<std::int64_t>(prepared.size()) > limits.max_version - expected.version()))
    fail("accepted an expected version outside the limits");

  // What was accepted is stored and reads back unchanged, in every embedded store.
  StoreOptions options;
  options.limits = limits;
  std::shared_ptr<Store> memory = open_store("memory:", options);
  round_trip(*memory, limits, stream, expected, prepared, "memory");
  if (!small_limits) {
    StreamId fresh = stream;  // the file outlives the input: a new stream each time
    fresh.aggregate_id = Uuid::random();
    round_trip(*sqlite, Limits{}, fresh, expected, prepared, "sqlite");
  }
  return 0;
}

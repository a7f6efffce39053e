// Small helpers shared by the test binaries.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "eventstore/eventstore.h"

namespace eventstore {

// Readable gtest output for the library's types.
inline void PrintTo(ErrorCode code, std::ostream* os) { *os << to_string(code); }
inline void PrintTo(const Uuid& id, std::ostream* os) { *os << id.to_string(); }
inline void PrintTo(const StreamId& stream, std::ostream* os) { *os << to_string(stream); }
inline void PrintTo(const Timestamp& t, std::ostream* os) { *os << format_rfc3339(t); }

}  // namespace eventstore

// Expects `statement` to throw eventstore::Error with `expected_code`; other exceptions fail.
#define EXPECT_ES_ERROR(statement, expected_code)                                                                    \
  do {                                                                                                               \
    try {                                                                                                            \
      statement;                                                                                                     \
      ADD_FAILURE() << "expected " << ::eventstore::to_string(expected_code)                                         \
                    << " but no error was thrown by: " #statement;                                                   \
    } catch (const ::eventstore::Error& es_error_) {                                                                 \
      EXPECT_EQ(es_error_.code(), expected_code) << "message: " << es_error_.what() << "\n  statement: " #statement; \
    }                                                                                                                \
  } while (0)

namespace eventstore::testing {

// Runs `f`, returns the eventstore::Error it threw, or nullopt (after a failure) if none.
template <class F>
std::optional<Error> error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "expected an eventstore::Error, none was thrown";
  return std::nullopt;
}

inline std::vector<std::int64_t> versions_of(const std::vector<RecordedEvent>& events) {
  std::vector<std::int64_t> versions;
  for (const RecordedEvent& e : events) versions.push_back(e.version);
  return versions;
}

inline std::vector<Uuid> ids_of(const std::vector<RecordedEvent>& events) {
  std::vector<Uuid> ids;
  for (const RecordedEvent& e : events) ids.push_back(e.event_id);
  return ids;
}

inline std::vector<Uuid> ids_of(const std::vector<EventData>& events) {
  std::vector<Uuid> ids;
  for (const EventData& e : events) ids.push_back(e.event_id.value_or(Uuid{}));
  return ids;
}

// first, first+1, ..., last (descending when first > last).
inline std::vector<std::int64_t> range(std::int64_t first, std::int64_t last) {
  std::vector<std::int64_t> out;
  if (first <= last)
    for (std::int64_t v = first; v <= last; ++v) out.push_back(v);
  else
    for (std::int64_t v = first; v >= last; --v) out.push_back(v);
  return out;
}

}  // namespace eventstore::testing

// Small value types of the public API: stream ids, expected versions, timestamps.
#include <cstdio>
#include <ctime>

#include "eventstore/event.h"
#include "eventstore/expected_version.h"
#include "eventstore/stream_id.h"

namespace eventstore {

std::string to_string(const StreamId& stream) {
  return stream.bounded_context + "/" + stream.aggregate_type + "/" + stream.aggregate_id.to_string();
}

std::string ExpectedVersion::to_string() const {
  if (is_any()) return "any";
  if (value_ == 0) return "no-stream";  // exact(0)
  return std::to_string(value_);
}

Timestamp now_ms() { return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()); }

std::string format_rfc3339(Timestamp t) {
  const auto ms = t.time_since_epoch().count();
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  long long millis = ms % 1000;
  if (millis < 0) {
    millis += 1000;
    --seconds;
  }
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03lldZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, millis);
  return buffer;
}

}  // namespace eventstore

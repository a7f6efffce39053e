// Where the library reports what it does not fail on (a snapshot that could not be written or
// decoded, a retry). By default warnings and errors go to stderr as one line each.
//
// Thread safety: set_log_sink may be called at any time; the sink is called from any thread and
// must be thread-safe itself.
#pragma once

#include <functional>
#include <string_view>

#include "eventstore/export.h"

namespace eventstore {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

using LogSink = std::function<void(LogLevel, std::string_view message)>;

// Replaces the sink; an empty function silences the library.
EVENTSTORE_EXPORT void set_log_sink(LogSink sink);
// Only messages at or above `level` reach the sink (default kWarning).
EVENTSTORE_EXPORT void set_log_level(LogLevel level);

EVENTSTORE_EXPORT void log(LogLevel level, std::string_view message);

}  // namespace eventstore

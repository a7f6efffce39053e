#include "eventstore/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>

namespace eventstore {
namespace {

std::mutex sink_mutex;
std::atomic<LogLevel> min_level{LogLevel::kWarning};

void stderr_sink(LogLevel level, std::string_view message) {
  static constexpr const char* kNames[] = {"debug", "info", "warning", "error"};
  std::fprintf(stderr, "eventstore %s: %.*s\n", kNames[static_cast<int>(level)], static_cast<int>(message.size()),
               message.data());
}

LogSink& sink() {
  static LogSink current = stderr_sink;
  return current;
}

}  // namespace

void set_log_sink(LogSink new_sink) {
  std::lock_guard lock(sink_mutex);
  sink() = std::move(new_sink);
}

void set_log_level(LogLevel level) { min_level = level; }

void log(LogLevel level, std::string_view message) {
  if (level < min_level.load()) return;
  LogSink current;
  {
    std::lock_guard lock(sink_mutex);
    current = sink();
  }
  if (current) current(level, message);
}

}  // namespace eventstore

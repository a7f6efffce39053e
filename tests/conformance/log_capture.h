// LogCapture: collects the library's log lines while alive, so a test can check its warnings.
#pragma once

#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "eventstore/log.h"

namespace eventstore::testing {

// Captures the library's log lines while alive; afterwards they go to stderr again.
class LogCapture {
 public:
  LogCapture() {
    set_log_sink([this](LogLevel level, std::string_view message) {
      std::lock_guard lock(mutex_);
      lines_.emplace_back(level, std::string(message));
    });
  }
  ~LogCapture() {
    set_log_sink([](LogLevel, std::string_view message) {
      std::fprintf(stderr, "eventstore: %.*s\n", static_cast<int>(message.size()), message.data());
    });
  }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  // Warnings (or worse) whose text contains `needle`.
  int warnings_containing(std::string_view needle) const {
    std::lock_guard lock(mutex_);
    int n = 0;
    for (const auto& [level, text] : lines_)
      if (level >= LogLevel::kWarning && text.find(needle) != std::string::npos) ++n;
    return n;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::pair<LogLevel, std::string>> lines_;
};

}  // namespace eventstore::testing

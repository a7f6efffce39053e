#include "eventstore/error.h"

namespace eventstore {

std::string_view to_string(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::kVersionConflict: return "version_conflict";
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kOutcomeUnknown: return "outcome_unknown";
    case ErrorCode::kUnauthorized: return "unauthorized";
    case ErrorCode::kCorruption: return "corruption";
    case ErrorCode::kInternal: return "internal";
    case ErrorCode::kStreamDeleted: return "stream_deleted";
  }
  return "internal";
}

Error::Error(ErrorCode code, const std::string& message, std::optional<std::int64_t> current_version)
    : std::runtime_error(message), code_(code), current_version_(current_version) {}

Error Error::invalid(const std::string& message) { return Error(ErrorCode::kInvalidArgument, message); }

Error Error::conflict(std::int64_t current_version, const std::string& message) {
  return Error(ErrorCode::kVersionConflict, message, current_version);
}

Error Error::stream_deleted(std::int64_t version, const std::string& stream_text) {
  return Error(ErrorCode::kStreamDeleted,
               "stream " + stream_text + " was hard-deleted at version " + std::to_string(version) +
                   "; it can never be written again",
               version);
}

}  // namespace eventstore

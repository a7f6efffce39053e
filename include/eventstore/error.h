// Typed errors: every failure of the library is an eventstore::Error whose code() a caller can
// branch on. The blocking API throws them; the asynchronous API delivers them in a Result.
//
// Thread safety: immutable values, safe to share.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "eventstore/export.h"

namespace eventstore {

enum class ErrorCode {
  // The stream's version was not the expected one. Nothing was written.
  // Error::current_version() holds the stream's version as observed by the store.
  kVersionConflict,
  // The request is malformed or exceeds a limit. Nothing was written. Do not retry unchanged.
  kInvalidArgument,
  // The store could not be reached, or did not answer in time before anything was written.
  // Nothing was written: retrying is safe.
  kUnavailable,
  // The write may or may not have been applied, and the store could not find out which.
  // Retrying the same append with the same event ids is safe (it is idempotent).
  kOutcomeUnknown,
  // Authentication failed or the user lacks a permission.
  kUnauthorized,
  // Stored data could not be decoded (for example a corrupt row or an unknown event type).
  kCorruption,
  // A bug or an unexpected state in the library or a backend.
  kInternal,
  // The stream was hard-deleted (docs/lifecycle.md): it can never be written again. Nothing
  // was written. Error::current_version() holds the version of its "$hard-deleted" event.
  kStreamDeleted,
};

// A short stable name for a code: "version_conflict", "invalid_argument", ...
EVENTSTORE_EXPORT std::string_view to_string(ErrorCode code) noexcept;

class EVENTSTORE_EXPORT Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message, std::optional<std::int64_t> current_version = std::nullopt);

  ErrorCode code() const noexcept { return code_; }
  // Set for kVersionConflict and kStreamDeleted: the stream's version seen by the store (0 = no
  // stream).
  std::optional<std::int64_t> current_version() const noexcept { return current_version_; }

  // Shorthands for the most common codes.
  static Error invalid(const std::string& message);
  static Error conflict(std::int64_t current_version, const std::string& message);
  // kStreamDeleted for `stream_text` (to_string of its StreamId), hard-deleted at `version`.
  static Error stream_deleted(std::int64_t version, const std::string& stream_text);

 private:
  ErrorCode code_;
  std::optional<std::int64_t> current_version_;
};

}  // namespace eventstore

#include <set>

#include "conformance/test_support.h"

namespace eventstore {
namespace {

TEST(ErrorCode, StableNames) {
  EXPECT_EQ(to_string(ErrorCode::kVersionConflict), "version_conflict");
  EXPECT_EQ(to_string(ErrorCode::kInvalidArgument), "invalid_argument");
  EXPECT_EQ(to_string(ErrorCode::kUnavailable), "unavailable");
  EXPECT_EQ(to_string(ErrorCode::kOutcomeUnknown), "outcome_unknown");
  EXPECT_EQ(to_string(ErrorCode::kUnauthorized), "unauthorized");
  EXPECT_EQ(to_string(ErrorCode::kCorruption), "corruption");
  EXPECT_EQ(to_string(ErrorCode::kInternal), "internal");
}

TEST(Error, CarriesCodeMessageAndVersion) {
  const Error conflict = Error::conflict(7, "stream moved");
  EXPECT_EQ(conflict.code(), ErrorCode::kVersionConflict);
  EXPECT_EQ(conflict.current_version(), std::optional<std::int64_t>(7));
  EXPECT_STREQ(conflict.what(), "stream moved");

  const Error zero = Error::conflict(0, "no stream");
  EXPECT_EQ(zero.current_version(), std::optional<std::int64_t>(0));

  const Error invalid = Error::invalid("bad");
  EXPECT_EQ(invalid.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(invalid.current_version(), std::nullopt);

  const Error other(ErrorCode::kUnavailable, "down");
  EXPECT_EQ(other.code(), ErrorCode::kUnavailable);
  EXPECT_EQ(other.current_version(), std::nullopt);
  // An Error is a std::runtime_error for callers that catch those.
  try {
    throw Error::invalid("as runtime_error");
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "as runtime_error");
  }
}

TEST(Result, HoldsAValueOrAnError) {
  Result<int> ok(5);
  EXPECT_TRUE(ok.ok());
  EXPECT_TRUE(static_cast<bool>(ok));
  EXPECT_EQ(ok.value(), 5);
  EXPECT_EQ(std::move(ok).get(), 5);

  Result<int> failed(Error::conflict(3, "x"));
  EXPECT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code(), ErrorCode::kVersionConflict);
  EXPECT_ES_ERROR(std::move(failed).get(), ErrorCode::kVersionConflict);
}

}  // namespace
}  // namespace eventstore

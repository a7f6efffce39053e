// Small value types: timestamps, expected versions, stream ids.
#include <cstdio>
#include <limits>
#include <thread>

#include "conformance/test_support.h"

namespace eventstore {
namespace {

using std::chrono::milliseconds;

TEST(FormatRfc3339, UtcWithMilliseconds) {
  EXPECT_EQ(format_rfc3339(Timestamp(milliseconds(0))), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339(Timestamp(milliseconds(1'700'000'000'123))), "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(format_rfc3339(Timestamp(milliseconds(951'782'400'007))), "2000-02-29T00:00:00.007Z");  // leap day
  EXPECT_EQ(format_rfc3339(Timestamp(milliseconds(4'102'444'799'999))), "2099-12-31T23:59:59.999Z");
  EXPECT_EQ(format_rfc3339(Timestamp(milliseconds(253'402'300'799'999))), "9999-12-31T23:59:59.999Z");
}

TEST(FormatRfc3339, BeforeTheEpoch) {
  EXPECT_EQ(format_rfc3339(Timestamp(milliseconds(-1))), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(format_rfc3339(Timestamp(milliseconds(-1000))), "1969-12-31T23:59:59.000Z");
  EXPECT_EQ(format_rfc3339(Timestamp(milliseconds(-1500))), "1969-12-31T23:59:58.500Z");
}

TEST(NowMs, IsTheSystemClockInMilliseconds) {
  const auto before = std::chrono::floor<milliseconds>(std::chrono::system_clock::now());
  const Timestamp now = now_ms();
  const auto after = std::chrono::system_clock::now();
  EXPECT_GE(now, before);
  EXPECT_LE(now, after);
  EXPECT_EQ(format_rfc3339(now).size(), 24u);
}

TEST(ExpectedVersion, Kinds) {
  EXPECT_TRUE(ExpectedVersion::any().is_any());
  EXPECT_FALSE(ExpectedVersion::no_stream().is_any());
  EXPECT_EQ(ExpectedVersion::no_stream().version(), 0);
  EXPECT_EQ(ExpectedVersion::exact(0), ExpectedVersion::no_stream());
  EXPECT_EQ(ExpectedVersion::exact(7).version(), 7);
  EXPECT_NE(ExpectedVersion::exact(7), ExpectedVersion::exact(8));
  EXPECT_NE(ExpectedVersion::exact(7), ExpectedVersion::any());
  EXPECT_EQ(ExpectedVersion::any().to_string(), "any");
  EXPECT_EQ(ExpectedVersion::no_stream().to_string(), "no-stream");
  EXPECT_EQ(ExpectedVersion::exact(42).to_string(), "42");
}

// A negative exact version is a caller's mistake that the store must reject; it must never be
// taken for "any" (which has no precondition at all).
TEST(ExpectedVersion, NegativeExactIsNeverAny) {
  for (std::int64_t v : {std::int64_t{-1}, std::int64_t{-2}, std::numeric_limits<std::int64_t>::min()}) {
    EXPECT_FALSE(ExpectedVersion::exact(v).is_any()) << v;
    EXPECT_NE(ExpectedVersion::exact(v), ExpectedVersion::any()) << v;
  }
}

TEST(StreamId, ToStringAndOrdering) {
  const Uuid id = *Uuid::parse("123e4567-e89b-12d3-a456-426614174000");
  const StreamId s{"sales", "Order", id};
  EXPECT_EQ(to_string(s), "sales/Order/123e4567-e89b-12d3-a456-426614174000");
  EXPECT_EQ(s, (StreamId{"sales", "Order", id}));
  EXPECT_NE(s, (StreamId{"sales", "Invoice", id}));
  EXPECT_NE(s, (StreamId{"billing", "Order", id}));
  EXPECT_LT((StreamId{"a", "Order", id}), (StreamId{"b", "Order", id}));
}

TEST(Log, SinkAndLevel) {
  std::vector<std::pair<LogLevel, std::string>> lines;
  set_log_sink([&](LogLevel level, std::string_view m) { lines.emplace_back(level, std::string(m)); });
  log(LogLevel::kInfo, "hidden at the default level");
  log(LogLevel::kWarning, "shown");
  set_log_level(LogLevel::kDebug);
  log(LogLevel::kDebug, "now shown");
  set_log_level(LogLevel::kError);
  log(LogLevel::kWarning, "hidden again");
  log(LogLevel::kError, "error");
  set_log_level(LogLevel::kWarning);
  set_log_sink(nullptr);
  log(LogLevel::kError, "silenced");
  set_log_sink(
      [](LogLevel, std::string_view m) { std::fprintf(stderr, "%.*s\n", static_cast<int>(m.size()), m.data()); });
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].second, "shown");
  EXPECT_EQ(lines[1].second, "now shown");
  EXPECT_EQ(lines[1].first, LogLevel::kDebug);
  EXPECT_EQ(lines[2].second, "error");
}

}  // namespace
}  // namespace eventstore

// The retry command `append` prints after an unknown outcome (issue 10, item 1).
#include "retry_hint.h"

#include <gtest/gtest.h>

namespace eventstore_cli {
namespace {

RetryCommand one_event() {
  RetryCommand command;
  command.stream = {"shop", "order", "0de30000-0000-8000-8000-000000000001"};
  command.expected_version = "no-stream";
  command.events = {
      AppendEvent{"OrderCreated", R"({"customer":"ada"})", std::nullopt, "11111111-2222-4333-8444-555555555555"}};
  return command;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  for (std::size_t start = 0; start < text.size();) {
    const std::size_t end = text.find('\n', start);
    if (end == std::string::npos) {
      ADD_FAILURE() << "the hint does not end in a newline: " << text;
      break;
    }
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

TEST(ShellQuote, QuotesOnlyWhatAShellWouldChange) {
  EXPECT_EQ(shell_quote("sqlite:/tmp/a.db"), "sqlite:/tmp/a.db");
  EXPECT_EQ(shell_quote("0de30000-0000-8000-8000-000000000001"), "0de30000-0000-8000-8000-000000000001");
  EXPECT_EQ(shell_quote(R"({"a":1})"), R"('{"a":1}')");
  EXPECT_EQ(shell_quote("it's"), R"('it'\''s')");
  EXPECT_EQ(shell_quote("a b"), "'a b'");
  EXPECT_EQ(shell_quote("$HOME"), "'$HOME'");
  EXPECT_EQ(shell_quote("scylla://h1?dc=a&x=1"), "'scylla://h1?dc=a&x=1'");
  EXPECT_EQ(shell_quote(""), "''");
}

TEST(RetryHint, EventGroupsWithTheirIds) {
  RetryCommand command = one_event();
  command.store = "sqlite:/tmp/shop.db";
  command.events.push_back(
      AppendEvent{"Noted", std::nullopt, R"({"by":"o'hara"})", "11111111-2222-4333-8444-555555555556"});
  const std::vector<std::string> lines = lines_of(format_retry_hint(command));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(lines[0].starts_with("eventstore: hint: ")) << lines[0];
  EXPECT_EQ(lines[1],
            "  eventstore --store sqlite:/tmp/shop.db append --context shop --type order --id "
            "0de30000-0000-8000-8000-000000000001 --expected-version no-stream --event OrderCreated --data "
            "'{\"customer\":\"ada\"}' --event-id 11111111-2222-4333-8444-555555555555 --event Noted --metadata "
            "'{\"by\":\"o'\\''hara\"}' --event-id 11111111-2222-4333-8444-555555555556");
}

TEST(RetryHint, StoreFromTheEnvironmentIsLeftOut) {
  const std::vector<std::string> lines = lines_of(format_retry_hint(one_event()));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(lines[1].starts_with("  eventstore append --context shop ")) << lines[1];
}

TEST(RetryHint, NeverHoldsThePassword) {
  RetryCommand command = one_event();
  command.store = "scylla://app:s3cr%40t@db1,db2/ks?dc=dc1";
  const std::string hint = format_retry_hint(command);
  EXPECT_EQ(hint.find("s3cr"), std::string::npos) << hint;
  const std::vector<std::string> lines = lines_of(hint);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_TRUE(lines[1].starts_with("  eventstore --store 'scylla://app@db1,db2/ks?dc=dc1' append ")) << lines[1];
  EXPECT_NE(lines[2].find("SCYLLA_PASSWORD"), std::string::npos) << lines[2];
  EXPECT_NE(lines[2].find("--password-file"), std::string::npos) << lines[2];

  command.store = "scylla://app@db1";
  command.password_file = "/run/secrets/scylla password";
  const std::vector<std::string> with_file = lines_of(format_retry_hint(command));
  ASSERT_EQ(with_file.size(), 2u);
  EXPECT_TRUE(with_file[1].starts_with(
      "  eventstore --store scylla://app@db1 --password-file '/run/secrets/scylla password' append "))
      << with_file[1];
}

TEST(RetryHint, EventsFileGetsTheIdsOfItsEvents) {
  RetryCommand command = one_event();
  command.events.clear();
  command.events_file = "events.jsonl";
  command.event_ids = {"11111111-2222-4333-8444-555555555555", "11111111-2222-4333-8444-555555555556"};
  const std::vector<std::string> lines = lines_of(format_retry_hint(command));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(
      lines[1].ends_with(" --expected-version no-stream --events-file events.jsonl --event-ids "
                         "11111111-2222-4333-8444-555555555555,11111111-2222-4333-8444-555555555556"))
      << lines[1];

  command.events_file = "-";
  const std::vector<std::string> from_stdin = lines_of(format_retry_hint(command));
  ASSERT_EQ(from_stdin.size(), 3u);
  EXPECT_NE(from_stdin[2].find("same events on stdin"), std::string::npos) << from_stdin[2];

  command.event_ids.clear();  // every line had its own event_id: the same command retries
  EXPECT_TRUE(lines_of(format_retry_hint(command))[1].ends_with(" --events-file -"));
}

}  // namespace
}  // namespace eventstore_cli

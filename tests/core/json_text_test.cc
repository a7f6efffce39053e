#include "core/json_text.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/hex_digit.h"

namespace eventstore::detail {
namespace {

using std::string_literals::operator""s;

std::string nested(std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(ClassifyJsonText, TellsObjectsFromOtherValues) {
  EXPECT_EQ(classify_json_text(R"( {"a":[1,2,{"b":null}]} )"), JsonText::kObject);
  EXPECT_EQ(classify_json_text("{}"), JsonText::kObject);
  for (const std::string& other :
       {"[]"s, "1"s, "-0.5e-3"s, "\"s\""s, "true"s, "false"s, "null"s, "\t[1]\r\n"s, "1e-400"s, "\"\\ud83d\\ude00\""s})
    EXPECT_EQ(classify_json_text(other), JsonText::kOtherValue) << other;
}

TEST(ClassifyJsonText, RefusesWhatTheStoreRefuses) {
  for (const std::string& bad : {""s, " "s, "{"s, "[1,]"s, "{\"a\":1,}"s, "01"s, "1 2"s, "1e400"s, "nul"s, "'a'"s,
                                 "\xEF\xBB\xBF{}"s,      // a BOM: SQLite's json_valid refuses it
                                 "{}\0{}"s, "\"a\0\""s,  // a NUL byte, outside or inside a string
                                 "\"\\ud800\""s,         // a lone high surrogate
                                 "\"\\udc00\""s,         // a lone low surrogate
                                 "\"\xC3\""s,            // truncated UTF-8
                                 "\"a\nb\""s})           // a raw control character
    EXPECT_EQ(classify_json_text(bad), JsonText::kInvalid) << ::testing::PrintToString(bad);
}

TEST(ClassifyJsonText, NestsAtMostMaxDepth) {
  EXPECT_EQ(classify_json_text(nested(kMaxJsonDepth)), JsonText::kOtherValue);
  EXPECT_EQ(classify_json_text(nested(kMaxJsonDepth + 1)), JsonText::kInvalid);
  EXPECT_EQ(classify_json_text(nested(kMaxJsonDepth + 1), kMaxJsonDepth + 1), JsonText::kOtherValue);
  EXPECT_EQ(classify_json_text("[[1]]", 1), JsonText::kInvalid);
  EXPECT_TRUE(is_json_text("[1]"));
  EXPECT_FALSE(is_json_object_text("[1]"));
  EXPECT_TRUE(is_json_object_text(" {} "));
}

TEST(JsonScanning, FindsTheEndsOfStringsAndValues) {
  const std::string text = R"(  "a\"b" , [1,"]",{"c":"}"}] 12.5e3, true})";
  EXPECT_EQ(skip_json_whitespace(text, 0), 2u);
  EXPECT_EQ(json_string_end(text, 2), 8u);
  EXPECT_EQ(json_value_end(text, 2), 8u);
  const std::size_t array = text.find('[');
  EXPECT_EQ(text.substr(array, json_value_end(text, array) - array), R"([1,"]",{"c":"}"}])");
  const std::size_t number = text.find("12.5");
  EXPECT_EQ(text.substr(number, json_value_end(text, number) - number), "12.5e3");
  // Never past the end, even on text that is not JSON.
  EXPECT_EQ(json_string_end("\"abc\\", 0), 5u);
  EXPECT_EQ(json_value_end("[[", 0), 2u);
  EXPECT_EQ(json_value_end("", 3), 0u);
  EXPECT_EQ(skip_json_whitespace(" ", 5), 5u);
}

TEST(JsonScanning, BoundsNestingOutsideStrings) {
  EXPECT_FALSE(json_nests_deeper_than(nested(3), 3));
  EXPECT_TRUE(json_nests_deeper_than(nested(4), 3));
  EXPECT_FALSE(json_nests_deeper_than(R"(["[[[[[[", {"{{{{": 1}])", 2));
  EXPECT_TRUE(json_nests_deeper_than("[[[[ not json", 3));
}

TEST(JsonObjectMembers, ListsMembersAsWritten) {
  const std::vector<JsonMember> members =
      json_object_members(" {\"a\" : 1.10 ,\"event\\u005fdata\":{\"x\":[1, 2]},\"a\":\"s\" , \"n\":null}\n");
  ASSERT_EQ(members.size(), 4u);
  EXPECT_EQ(members[0].quoted_key, "\"a\"");
  EXPECT_EQ(members[0].value, "1.10");
  EXPECT_EQ(members[1].quoted_key, "\"event\\u005fdata\"");
  EXPECT_EQ(members[1].value, "{\"x\":[1, 2]}");
  EXPECT_EQ(members[2].value, "\"s\"");
  EXPECT_EQ(members[3].value, "null");
  EXPECT_TRUE(json_object_members("{}").empty());
  EXPECT_TRUE(json_object_members("{ \"a\"").empty());  // not accepted text: nothing, and no overrun
}

TEST(WithoutJsonWhitespace, DropsOnlyWhitespaceOutsideStrings) {
  EXPECT_EQ(without_json_whitespace(" {\n\t\"a b\" : [ 1 , \"\\\" x\" ] }\r\n"), "{\"a b\":[1,\"\\\" x\"]}");
  EXPECT_EQ(without_json_whitespace("1"), "1");
}

TEST(HexDigitValue, ReadsEitherCase) {
  EXPECT_EQ(hex_digit_value('0'), 0);
  EXPECT_EQ(hex_digit_value('9'), 9);
  EXPECT_EQ(hex_digit_value('a'), 10);
  EXPECT_EQ(hex_digit_value('F'), 15);
  for (const char c : {'g', 'G', '/', ':', '@', '`', ' ', '\0'}) EXPECT_EQ(hex_digit_value(c), -1) << c;
}

}  // namespace
}  // namespace eventstore::detail

// detail::parse_json against nlohmann::json::parse: the same value (type for type, bit for bit)
// or the same error, on the corners of JSON and on many mutations of ordinary documents.
#include <random>
#include <string>
#include <vector>

#include "conformance/test_support.h"
#include "core/json_agreement.h"

namespace eventstore::detail {
namespace {

using std::string_literals::operator""s;

void expect_same(const std::string& text) {
  EXPECT_EQ(testing::parse_json_disagreement(text), "") << ::testing::PrintToString(text);
}

TEST(ParseJson, AgreesWithNlohmannOnTheCorners) {
  const std::vector<std::string> corners = {"null",
                                            "true",
                                            "false",
                                            "0",
                                            "-0",
                                            "-0.0",
                                            "0.0",
                                            "[-0]",
                                            "{\"a\":-0}",
                                            "[-0,0]",
                                            "-0e1",
                                            "-01",
                                            "\"2026-01-03\"",
                                            "1",
                                            "-1",
                                            "1.5",
                                            "1e2",
                                            "1E+2",
                                            "1e-2",
                                            "1e400",
                                            "-1e400",
                                            "1e-400",
                                            "4.9e-324",
                                            "2.2250738585072011e-308",
                                            "1.7976931348623157e308",
                                            "9223372036854775807",
                                            "9223372036854775808",
                                            "-9223372036854775808",
                                            "-9223372036854775809",
                                            "18446744073709551615",
                                            "18446744073709551616",
                                            "123456789012345678901234567890",
                                            "01",
                                            "1.",
                                            ".5",
                                            "+1",
                                            "-",
                                            "\"\"",
                                            "\"plain\"",
                                            "\"Zoë 🍕 日本語\"",
                                            "\"\\u00e9\\n\\t\\\"\\\\\\/\"",
                                            "\"\\ud83d\\ude00\"",
                                            "\"\\ud800\"",
                                            "\"\\udc00\"",
                                            "\"\\ud800x\"",
                                            "\"\\u0000\"",
                                            "\"a\\u0000b\"",
                                            "\"\x01\"",
                                            "\"\xff\"",
                                            "\"\xc0\x80\"",
                                            "\"\xed\xa0\x80\"",
                                            "\xef\xbb\xbf{}",
                                            "\xef\xbb\xbf",
                                            "{}",
                                            "[]",
                                            " [1, [2, {\"x\": null}]] ",
                                            "{\"a\":1,\"a\":2}",
                                            "{\"a\":{\"b\":[]},\"a\":3}",
                                            "{\"a\":1,}",
                                            "[1,]",
                                            "[1 2]",
                                            "{\"a\" 1}",
                                            "{a:1}",
                                            "tru",
                                            "nul",
                                            "",
                                            " ",
                                            "1 2",
                                            "1\0"s + "x",
                                            "[1]\0"s,
                                            "/* c */ 1",
                                            "1 // c",
                                            "NaN",
                                            "Infinity",
                                            "'a'",
                                            std::string(2000, '[') + std::string(2000, ']'),
                                            std::string(600, '[') + std::string(600, ']')};
  for (const std::string& text : corners) expect_same(text);
}

TEST(ParseJson, AgreesWithNlohmannOnMutatedDocuments) {
  const std::vector<std::string> seeds = {
      R"({"by":1,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"})",
      R"({"owner":"Zoë","limit":-500,"tags":["a","b"],"ratio":0.25,"ok":true,"none":null})",
      R"([1,-2,3.5e3,-0.0,"\u00e9\ud83d\ude00",{"k":[{},[]]},18446744073709551615])",
      R"({"order":{"id":"7d2f","lines":[{"sku":"A-1","qty":2,"price":1999},{"sku":"B\"2","qty":1}]}})"};
  const std::string alphabet = "{}[]\",:.-+eE0123456789 \\/untrfalse\xc3\xa9\xff\x01";
  std::mt19937 random(20261203);  // fixed: the same inputs on every run
  for (int i = 0; i < 20000; ++i) {
    std::string text = seeds[random() % seeds.size()];
    const int edits = 1 + static_cast<int>(random() % 3);
    for (int e = 0; e < edits && !text.empty(); ++e) {
      const std::size_t at = random() % text.size();
      const char c = alphabet[random() % alphabet.size()];
      switch (random() % 3) {
        case 0: text[at] = c; break;
        case 1: text.insert(at, 1, c); break;
        default: text.erase(at, 1); break;
      }
    }
    expect_same(text);
    if (HasFailure()) return;
  }
}

TEST(ParseJson, ReadsTextsLargerThanTheReusedParserAndThenSmallOnes) {
  const std::string large = "{\"pad\":\"" + std::string(200 * 1024, 'y') + "\",\"n\":-3}";
  expect_same(large);
  expect_same("{\"n\":4}");
  expect_same(large);
}

}  // namespace
}  // namespace eventstore::detail

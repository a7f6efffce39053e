#include <set>
#include <thread>

#include "conformance/test_support.h"

namespace eventstore {
namespace {

TEST(Uuid, DefaultIsNil) {
  const Uuid nil;
  EXPECT_TRUE(nil.is_nil());
  EXPECT_EQ(nil.to_string(), "00000000-0000-0000-0000-000000000000");
  EXPECT_EQ(Uuid::parse("00000000-0000-0000-0000-000000000000"), nil);
}

TEST(Uuid, ParsesAndFormatsTheCanonicalForm) {
  const std::optional<Uuid> id = Uuid::parse("123e4567-e89b-12d3-a456-426614174000");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->to_string(), "123e4567-e89b-12d3-a456-426614174000");
  EXPECT_FALSE(id->is_nil());
  const std::array<std::uint8_t, 16> bytes{0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3,
                                           0xa4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0x00};
  EXPECT_EQ(id->bytes(), bytes);
  EXPECT_EQ(Uuid(bytes), *id);
}

TEST(Uuid, ParsesUpperCaseAndFormatsLowerCase) {
  const std::optional<Uuid> id = Uuid::parse("ABCDEF01-2345-6789-ABCD-EF0123456789");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->to_string(), "abcdef01-2345-6789-abcd-ef0123456789");
  EXPECT_EQ(Uuid::parse("abcdef01-2345-6789-abcd-ef0123456789"), id);
}

TEST(Uuid, RejectsEverythingButTheCanonicalForm) {
  for (const char* bad : {"", "123e4567-e89b-12d3-a456-42661417400",  // 35 characters
                          "123e4567-e89b-12d3-a456-4266141740000",    // 37
                          "123e4567e89b12d3a456426614174000",         // no dashes
                          "{123e4567-e89b-12d3-a456-426614174000}",   // braces
                          "123e4567-e89b-12d3-a456_426614174000",     // wrong separator
                          "123e4567-e89b-12d3-a4567426614174000-",    // dash moved
                          "123e4567-e89b-12d3-a456-42661417400g",     // not hex
                          "123e4567-e89b-12d3-a456-42661417400 ",     // space
                          " 23e4567-e89b-12d3-a456-426614174000", "+23e4567-e89b-12d3-a456-426614174000",
                          "123e4567-+89b-12d3-a456-426614174000", "123e4567-e89b-12d3-a456-4266141740\xc3\xa9"}) {
    EXPECT_EQ(Uuid::parse(bad), std::nullopt) << "'" << bad << "'";
  }
}

TEST(Uuid, RandomIsVersion4WithTheRfc4122Variant) {
  std::set<Uuid> seen;
  for (int i = 0; i < 2000; ++i) {
    const Uuid id = Uuid::random();
    EXPECT_EQ(id.bytes()[6] >> 4, 4) << id.to_string();
    EXPECT_EQ(id.bytes()[8] & 0xC0, 0x80) << id.to_string();
    const std::string text = id.to_string();
    EXPECT_EQ(text[14], '4');
    EXPECT_NE(std::string("89ab").find(text[19]), std::string::npos) << text;
    EXPECT_EQ(Uuid::parse(text), id);
    EXPECT_FALSE(id.is_nil());
    EXPECT_TRUE(seen.insert(id).second) << "duplicate random UUID " << text;
  }
}

TEST(Uuid, RandomDiffersAcrossThreads) {
  std::vector<Uuid> ids(8);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < ids.size(); ++i) threads.emplace_back([&ids, i] { ids[i] = Uuid::random(); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::set<Uuid>(ids.begin(), ids.end()).size(), ids.size());
}

TEST(Uuid, OrderingAndHashFollowTheBytes) {
  const Uuid a = *Uuid::parse("00000000-0000-0000-0000-000000000001");
  const Uuid b = *Uuid::parse("00000000-0000-0000-0000-000000000002");
  const Uuid c = *Uuid::parse("10000000-0000-0000-0000-000000000000");
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_EQ(std::hash<Uuid>{}(a), std::hash<Uuid>{}(*Uuid::parse("00000000-0000-0000-0000-000000000001")));
  EXPECT_NE(std::hash<Uuid>{}(a), std::hash<Uuid>{}(b));
}

}  // namespace
}  // namespace eventstore

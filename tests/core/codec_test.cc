#include "conformance/test_support.h"

namespace eventstore {
namespace {

struct Opened {
  static constexpr std::string_view event_type = "AccountOpened";
  std::string owner;
  std::int64_t limit = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Opened, owner, limit)

struct Deposited {
  static constexpr std::string_view event_type = "Deposited";
  std::int64_t cents = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Deposited, cents)

struct Closed {
  static constexpr std::string_view event_type = "Closed";
};
void to_json(nlohmann::json& j, const Closed&) { j = nullptr; }
void from_json(const nlohmann::json& j, Closed&) {
  if (!j.is_null()) throw nlohmann::json::type_error::create(302, "Closed has no data", &j);
}

using AccountEvent = std::variant<Opened, Deposited, Closed>;

TEST(EventCodec, RoundTrips) {
  const EventCodec<AccountEvent> codec;
  const AccountEvent opened = Opened{"Zoë", 500};
  EXPECT_EQ(codec.type_name(opened), "AccountOpened");
  const std::string text = codec.encode(opened);
  EXPECT_EQ(nlohmann::json::parse(text), nlohmann::json({{"owner", "Zoë"}, {"limit", 500}}));
  const AccountEvent back = codec.decode("AccountOpened", text);
  ASSERT_TRUE(std::holds_alternative<Opened>(back));
  EXPECT_EQ(std::get<Opened>(back).owner, "Zoë");
  EXPECT_EQ(std::get<Opened>(back).limit, 500);

  const AccountEvent deposited = Deposited{1234};
  EXPECT_EQ(codec.type_name(deposited), "Deposited");
  const AccountEvent d = codec.decode("Deposited", codec.encode(deposited));
  ASSERT_TRUE(std::holds_alternative<Deposited>(d));
  EXPECT_EQ(std::get<Deposited>(d).cents, 1234);
}

TEST(EventCodec, EventsWithoutDataDecodeFromNullOrEmptyText) {
  const EventCodec<AccountEvent> codec;
  EXPECT_EQ(codec.encode(Closed{}), "null");
  EXPECT_TRUE(std::holds_alternative<Closed>(codec.decode("Closed", "null")));
  EXPECT_TRUE(std::holds_alternative<Closed>(codec.decode("Closed", "")));
}

TEST(EventCodec, UnknownTypeIsCorruption) {
  const EventCodec<AccountEvent> codec;
  std::optional<Error> e = testing::error_of([&] { (void)codec.decode("AccountDeleted", "{}"); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code(), ErrorCode::kCorruption);
  EXPECT_NE(std::string(e->what()).find("AccountDeleted"), std::string::npos) << e->what();
  // Names are matched exactly.
  EXPECT_ES_ERROR((void)codec.decode("deposited", "{\"cents\":1}"), ErrorCode::kCorruption);
  EXPECT_ES_ERROR((void)codec.decode("", "{}"), ErrorCode::kCorruption);
}

TEST(EventCodec, DataThatDoesNotDecodeIsCorruption) {
  const EventCodec<AccountEvent> codec;
  EXPECT_ES_ERROR((void)codec.decode("Deposited", "{\"cents\":\"many\"}"), ErrorCode::kCorruption);
  EXPECT_ES_ERROR((void)codec.decode("Deposited", "{}"), ErrorCode::kCorruption);
  EXPECT_ES_ERROR((void)codec.decode("Deposited", "not json"), ErrorCode::kCorruption);
  EXPECT_ES_ERROR((void)codec.decode("Deposited", "[1]"), ErrorCode::kCorruption);
  EXPECT_ES_ERROR((void)codec.decode("Closed", "{\"x\":1}"), ErrorCode::kCorruption);
}

struct DepositedAgain {
  static constexpr std::string_view event_type = "Deposited";
  int x = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(DepositedAgain, x)

struct Nameless {
  static constexpr std::string_view event_type = "";
  int x = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Nameless, x)

TEST(EventCodec, DuplicateOrEmptyNamesAreInvalid) {
  using Duplicate = EventCodec<std::variant<Opened, Deposited, DepositedAgain>>;
  std::optional<Error> e = testing::error_of([] { Duplicate codec; });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(std::string(e->what()).find("Deposited"), std::string::npos) << e->what();
  using Empty = EventCodec<std::variant<Opened, Nameless>>;
  EXPECT_ES_ERROR(Empty codec, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace eventstore

// The store-level URI options (max_in_flight, max_in_flight_bytes): taken out of every scheme's
// query before the backend sees it, and checked.
#include <string>

#include "conformance/test_support.h"
#include "core/store_uri.h"

namespace eventstore::detail {
namespace {

std::string invalid_message(std::string_view uri) {
  try {
    take_store_level_options(uri);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "accepted '" << uri << "'";
  return "";
}

TEST(StoreLevelOptions, AbsentLeavesTheUriAlone) {
  for (const char* uri : {"memory:", "sqlite:a.db", "sqlite:a.db?synchronous=full", "scylla://u:p@h1,h2/ks?dc=x"}) {
    const BackendUri split = take_store_level_options(uri);
    EXPECT_EQ(split.uri, uri);
    EXPECT_FALSE(split.options.max_in_flight);
    EXPECT_FALSE(split.options.max_in_flight_bytes);
  }
}

TEST(StoreLevelOptions, TakenOutOfEveryScheme) {
  BackendUri split = take_store_level_options("memory:?max_in_flight=4&max_in_flight_bytes=1000");
  EXPECT_EQ(split.uri, "memory:");
  EXPECT_EQ(split.options.max_in_flight, 4u);
  EXPECT_EQ(split.options.max_in_flight_bytes, 1000u);

  split = take_store_level_options("sqlite:/tmp/a.db?synchronous=full&max_in_flight=8&busy_timeout=50");
  EXPECT_EQ(split.uri, "sqlite:/tmp/a.db?synchronous=full&busy_timeout=50");
  EXPECT_EQ(split.options.max_in_flight, 8u);
  EXPECT_FALSE(split.options.max_in_flight_bytes);

  split = take_store_level_options("sqlite:a.db?max_in_flight_bytes=123");
  EXPECT_EQ(split.uri, "sqlite:a.db");
  EXPECT_EQ(split.options.max_in_flight_bytes, 123u);

  split = take_store_level_options("scylla://u:p%3F@h1:9042,h2/ks?max_in_flight=16&dc=dc1");
  EXPECT_EQ(split.uri, "scylla://u:p%3F@h1:9042,h2/ks?dc=dc1");
  EXPECT_EQ(split.options.max_in_flight, 16u);
  EXPECT_EQ(parse_store_uri(split.uri).cluster.options, (std::map<std::string, std::string>{{"dc", "dc1"}}));
}

TEST(StoreLevelOptions, TheLastOfRepeatedOptionsWins) {
  EXPECT_EQ(take_store_level_options("memory:?max_in_flight=4&max_in_flight=9").options.max_in_flight, 9u);
}

TEST(StoreLevelOptions, BadValuesAreInvalidAndNameTheOption) {
  for (const char* value : {"", "0", "-1", "+3", "x", "1.5", "4k", " 4", "99999999999999999999999"}) {
    SCOPED_TRACE(value);
    EXPECT_NE(invalid_message(std::string("memory:?max_in_flight=") + value).find("max_in_flight "), std::string::npos);
    EXPECT_NE(invalid_message(std::string("sqlite:a.db?max_in_flight_bytes=") + value).find("max_in_flight_bytes"),
              std::string::npos);
    EXPECT_NE(invalid_message(std::string("scylla://h?dc=x&max_in_flight_bytes=") + value).find("max_in_flight_bytes"),
              std::string::npos);
  }
  EXPECT_NE(invalid_message("memory:?max_in_flight").find("max_in_flight"), std::string::npos);
}

TEST(StoreLevelOptions, MemoryTakesNoOtherOption) {
  EXPECT_NE(invalid_message("memory:?max_in_flight=4&synchronous=full").find("synchronous"), std::string::npos);
}

TEST(StoreLevelOptions, OpenStoreAppliesThemAndTheBackendNeverSeesThem) {
  // memory: and sqlite: reject options they do not know: they would fail if they saw these.
  EXPECT_EQ(open_store("memory:?max_in_flight=2&max_in_flight_bytes=4096")->describe(), "memory:");
  EXPECT_ES_ERROR(open_store("memory:?max_in_flight=0"), ErrorCode::kInvalidArgument);
  StoreOptions zero;
  zero.max_in_flight = 0;
  EXPECT_ES_ERROR(open_store("memory:", zero), ErrorCode::kInvalidArgument);
  zero = StoreOptions{};
  zero.max_in_flight_bytes = 0;
  EXPECT_ES_ERROR(open_store("memory:", zero), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(schema_statements("memory:?max_in_flight=2", SchemaOptions{}).empty());
  EXPECT_ES_ERROR(schema_statements("memory:?max_in_flight=x", SchemaOptions{}), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace eventstore::detail

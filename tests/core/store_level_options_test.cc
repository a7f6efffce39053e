// The store-level URI options (max_in_flight, max_in_flight_bytes, max_stream_version): taken out
// of every scheme's query before the backend sees it, and checked.
#include <unistd.h>

#include <filesystem>
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
    EXPECT_FALSE(split.options.max_stream_version);
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

TEST(StoreLevelOptions, MaxStreamVersionIsTakenOutOfEveryScheme) {
  BackendUri split = take_store_level_options("memory:?max_stream_version=1000");
  EXPECT_EQ(split.uri, "memory:");
  EXPECT_EQ(split.options.max_stream_version, 1000);

  split = take_store_level_options("sqlite:a.db?synchronous=full&max_stream_version=2147483647");
  EXPECT_EQ(split.uri, "sqlite:a.db?synchronous=full");
  EXPECT_EQ(split.options.max_stream_version, 2147483647);

  split = take_store_level_options("scylla://u:p@h1/ks?max_stream_version=1&dc=dc1&max_in_flight=3");
  EXPECT_EQ(split.uri, "scylla://u:p@h1/ks?dc=dc1");
  EXPECT_EQ(split.options.max_stream_version, 1);
  EXPECT_EQ(split.options.max_in_flight, 3u);
}

TEST(StoreLevelOptions, MaxStreamVersionOutsideItsRangeIsInvalidAndNamesTheOption) {
  // 2147483648: past what a cluster stores (versions are CQL ints), on every scheme alike.
  for (const char* value : {"", "0", "-1", "+3", "x", "1.5", "1e6", " 4", "2147483648", "99999999999999999999999"}) {
    SCOPED_TRACE(value);
    for (const std::string prefix : {"memory:?", "sqlite:a.db?", "scylla://h?dc=x&"}) {
      const std::string message = invalid_message(prefix + "max_stream_version=" + value);
      EXPECT_NE(message.find("max_stream_version must be a whole number 1..2147483647"), std::string::npos) << message;
    }
  }
  EXPECT_NE(invalid_message("memory:?max_stream_version").find("max_stream_version"), std::string::npos);
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

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "store_level_options_XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::vector<EventData> one_event() { return {EventData{std::nullopt, "E", "{}", std::nullopt, std::nullopt}}; }

// An append past max_stream_version fails with kInvalidArgument that says what to do, and writes
// nothing; up to it, appends work.
void expect_stream_capped_at_3(const std::string& uri) {
  SCOPED_TRACE(uri);
  const std::shared_ptr<Store> store = open_store(uri);
  const StreamId stream{"ctx", "T", Uuid::random()};
  store->append(stream, ExpectedVersion::no_stream(), {one_event()[0], one_event()[0]});
  EXPECT_EQ(store->append(stream, ExpectedVersion::exact(2), one_event()).first_version, 3);
  for (ExpectedVersion expected : {ExpectedVersion::exact(3), ExpectedVersion::any(), ExpectedVersion::exact(7)}) {
    SCOPED_TRACE(expected.to_string());
    try {
      store->append(stream, expected, one_event());
      ADD_FAILURE() << "an append past max_stream_version=3 was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      const std::string message = e.what();
      for (const char* part : {"past the maximum version 3", "max_stream_version", "close the books",
                               "continuation stream", "docs/long-streams.md"})
        EXPECT_NE(message.find(part), std::string::npos) << part << " not in: " << message;
    }
  }
  EXPECT_EQ(store->head(stream), 3);
  EXPECT_EQ(store->read_all(stream).size(), 3u);
  // Other streams are not affected by this one reaching its end.
  EXPECT_EQ(store->append(StreamId{"ctx", "T", Uuid::random()}, ExpectedVersion::any(), one_event()).first_version, 1);
}

TEST(StoreLevelOptions, AnAppendPastMaxStreamVersionFailsSayingWhatToDo) {
  expect_stream_capped_at_3("memory:?max_stream_version=3");
  TempDir dir;
  expect_stream_capped_at_3("sqlite:" + (dir.path() / "capped.db").string() + "?max_stream_version=3");
}

TEST(StoreLevelOptions, TheUriMaxStreamVersionWinsOverStoreOptions) {
  StoreOptions options;
  options.limits.max_version = 1;
  const std::shared_ptr<Store> store = open_store("memory:?max_stream_version=2", options);
  const StreamId stream{"ctx", "T", Uuid::random()};
  store->append(stream, ExpectedVersion::any(), {one_event()[0], one_event()[0]});
  EXPECT_ES_ERROR(store->append(stream, ExpectedVersion::any(), one_event()), ErrorCode::kInvalidArgument);
  // Without the option, StoreOptions::limits stands.
  const std::shared_ptr<Store> plain = open_store("memory:", options);
  EXPECT_ES_ERROR(plain->append(stream, ExpectedVersion::any(), {one_event()[0], one_event()[0]}),
                  ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace eventstore::detail

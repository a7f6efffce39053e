#include "core/store_uri.h"

#include <cstdlib>
#include <map>

#include "conformance/test_support.h"

namespace eventstore::detail {
namespace {

std::string invalid_message(std::string_view uri) {
  try {
    parse_store_uri(uri);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "accepted '" << uri << "'";
  return "";
}

TEST(StoreUri, Memory) {
  EXPECT_EQ(parse_store_uri("memory:").scheme, StoreUri::Scheme::kMemory);
  invalid_message("memory");
  invalid_message("memory:x");
}

TEST(StoreUri, SqlitePaths) {
  StoreUri u = parse_store_uri("sqlite:events.db");
  EXPECT_EQ(u.scheme, StoreUri::Scheme::kSqlite);
  EXPECT_EQ(u.sqlite_path, "events.db");
  EXPECT_EQ(parse_store_uri("sqlite:/var/lib/app/events.db").sqlite_path, "/var/lib/app/events.db");
  EXPECT_EQ(parse_store_uri("sqlite:///var/lib/app/events.db").sqlite_path, "/var/lib/app/events.db");
  EXPECT_EQ(parse_store_uri("sqlite:dir/with space/é.db").sqlite_path, "dir/with space/é.db");
  EXPECT_NE(invalid_message("sqlite:").find("path"), std::string::npos);
  invalid_message("sqlite://");
}

TEST(StoreUri, ScyllaWithEverything) {
  const StoreUri u = parse_store_uri("scylla://user:pa%40ss@h1:9042,h2/ks?dc=dc1");
  ASSERT_EQ(u.scheme, StoreUri::Scheme::kScylla);
  EXPECT_EQ(u.cluster.hosts, (std::vector<std::string>{"h1:9042", "h2"}));
  EXPECT_EQ(u.cluster.username, "user");
  EXPECT_EQ(u.cluster.password, "pa@ss");
  EXPECT_EQ(u.cluster.keyspace, "ks");
  EXPECT_EQ(u.cluster.options, (std::map<std::string, std::string>{{"dc", "dc1"}}));
}

TEST(StoreUri, ScyllaMinimalAndPartial) {
  StoreUri u = parse_store_uri("scylla://127.0.0.1");
  EXPECT_EQ(u.cluster.hosts, (std::vector<std::string>{"127.0.0.1"}));
  EXPECT_EQ(u.cluster.username, "");
  EXPECT_EQ(u.cluster.password, "");
  EXPECT_EQ(u.cluster.keyspace, "");
  EXPECT_TRUE(u.cluster.options.empty());

  u = parse_store_uri("scylla://cassandra@a:1,b:65535,c?dc=eu%20west&timeout_ms=5000");
  EXPECT_EQ(u.cluster.username, "cassandra");
  EXPECT_EQ(u.cluster.password, "");
  EXPECT_EQ(u.cluster.hosts, (std::vector<std::string>{"a:1", "b:65535", "c"}));
  EXPECT_EQ(u.cluster.options.at("dc"), "eu west");
  EXPECT_EQ(u.cluster.options.at("timeout_ms"), "5000");

  u = parse_store_uri("scylla://u:p%3Aw%2Fd%3F%26@[::1]:9042/event_sourcing");
  EXPECT_EQ(u.cluster.password, "p:w/d?&");
  EXPECT_EQ(u.cluster.hosts, (std::vector<std::string>{"[::1]:9042"}));
  EXPECT_EQ(u.cluster.keyspace, "event_sourcing");
}

TEST(StoreUri, BadPortsAndHostsAreRejected) {
  for (const char* bad : {"scylla://h1:0", "scylla://h1:65536", "scylla://h1:99999", "scylla://h1:", "scylla://h1:abc",
                          "scylla://h1:-1", "scylla://h1:90 42", "scylla://:9042", "scylla://h1:9042,",
                          "scylla://h1,,h2", "scylla://", "scylla:///ks", "scylla://h1:123456"}) {
    SCOPED_TRACE(bad);
    invalid_message(bad);
  }
  EXPECT_NE(invalid_message("scylla://h1:70000").find("port"), std::string::npos);
}

TEST(StoreUri, BadUserinfoAndOptionsAreRejected) {
  invalid_message("scylla://:secret@h1");          // a password without a user
  invalid_message("scylla://u:bad%zzpct@h1");      // bad escape in the password
  invalid_message("scylla://u:bad%4@h1");          // truncated escape
  invalid_message("scylla://h1?dc");               // option without a value
  invalid_message("scylla://h1?=x");               // option without a name
}

TEST(StoreUri, ErrorMessagesNeverHoldThePassword) {
  const std::string secret = "S3cr3tPw";
  for (const std::string& uri : std::vector<std::string>{"scylla://user:" + secret + "@h1:0", "scylla://user:" + secret + "@h1:99999/ks",
                                "scylla://user:" + secret + "@", "scylla://:" + secret + "@h1",
                                "scylla://user:" + secret + "%zz@h1", "scylla://user:" + secret + "@h1?dc",
                                "cassandra://user:" + secret + "@h1:9042", "scylladb://user:" + secret + "@h1",
                                "Scylla://user:" + secret + "@h1", "scylla:/user:" + secret + "@h1",
                                "postgres://user:" + secret + "@localhost/db",
                                // A '?' that should have been percent-encoded ends the host list early.
                                "scylla://user:" + secret + "?x@h1"}) {
    SCOPED_TRACE(uri);
    const std::string message = invalid_message(uri);
    EXPECT_EQ(message.find(secret), std::string::npos) << "the error message shows the password: " << message;
  }
}

TEST(StoreUri, UnknownSchemeSaysWhatIsKnown) {
  const std::string message = invalid_message("mysql:whatever");
  EXPECT_NE(message.find("unknown scheme"), std::string::npos) << message;
  EXPECT_NE(message.find("memory:"), std::string::npos) << message;
  EXPECT_NE(message.find("sqlite:"), std::string::npos) << message;
  EXPECT_NE(message.find("scylla://"), std::string::npos) << message;
  invalid_message("");
}

TEST(RedactUri, ReplacesThePasswordOnly) {
  EXPECT_EQ(redact_uri("scylla://user:pa%40ss@h1:9042,h2/ks?dc=dc1"), "scylla://user:***@h1:9042,h2/ks?dc=dc1");
  EXPECT_EQ(redact_uri("scylla://user@h1"), "scylla://user@h1");
  EXPECT_EQ(redact_uri("scylla://h1:9042/ks"), "scylla://h1:9042/ks");
  EXPECT_EQ(redact_uri("scylla://u:p@h1?dc=a@b"), "scylla://u:***@h1?dc=a@b");
  EXPECT_EQ(redact_uri("memory:"), "memory:");
  EXPECT_EQ(redact_uri("sqlite:/tmp/a:b@c.db"), "sqlite:/tmp/a:b@c.db");
}

// The parser accepts these URIs and takes the password from them: redaction must hide it.
TEST(RedactUri, HidesEveryPasswordTheParserAccepts) {
  for (const std::string& uri : std::vector<std::string>{"scylla://u:pass/word@h1", "scylla://u:p@ss@h1",
                                "scylla://u:secret@h1/ks", "scylla://u:s:e:c@h1"}) {
    SCOPED_TRACE(uri);
    const StoreUri parsed = parse_store_uri(uri);
    ASSERT_FALSE(parsed.cluster.password.empty());
    const std::string redacted = redact_uri(uri);
    EXPECT_EQ(redacted.find(parsed.cluster.password), std::string::npos)
        << "redact_uri leaves the password '" << parsed.cluster.password << "' in: " << redacted;
  }
}

TEST(PercentEncode, KeepsUnreservedEncodesTheRest) {
  EXPECT_EQ(percent_encode("abcXYZ019-_.~"), "abcXYZ019-_.~");
  EXPECT_EQ(percent_encode("pa@ss:/?&= %"), "pa%40ss%3A%2F%3F%26%3D%20%25");
  EXPECT_EQ(percent_encode("é"), "%C3%A9");
  EXPECT_EQ(percent_encode(""), "");
}

// Sets or unsets environment variables for one test, restoring them afterwards.
class EnvGuard {
 public:
  EnvGuard() {
    for (const char* name : kNames) {
      const char* value = std::getenv(name);
      saved_.emplace_back(name, value ? std::optional<std::string>(value) : std::nullopt);
      ::unsetenv(name);
    }
  }
  ~EnvGuard() {
    for (const auto& [name, value] : saved_) {
      if (value)
        ::setenv(name.c_str(), value->c_str(), 1);
      else
        ::unsetenv(name.c_str());
    }
  }
  static void set(const char* name, const char* value) { ::setenv(name, value, 1); }
  static void unset_for_test(const char* name) { ::unsetenv(name); }

 private:
  static constexpr const char* kNames[] = {"EVENTSTORE_STORE",  "SCYLLA_HOSTS",    "SCYLLA_USERNAME",
                                           "SCYLLA_PASSWORD",   "SCYLLA_KEYSPACE", "SCYLLA_HOSTSELECTIONPOLICY",
                                           "SCYLLA_CA_FILE"};
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

TEST(DefaultStoreUri, SqliteWhenNothingIsSet) {
  EnvGuard env;
  EXPECT_EQ(default_store_uri(), "sqlite:eventstore.db");
  EnvGuard::set("SCYLLA_HOSTS", "");
  EXPECT_EQ(default_store_uri(), "sqlite:eventstore.db");
}

TEST(DefaultStoreUri, EventstoreStoreWins) {
  EnvGuard env;
  EnvGuard::set("EVENTSTORE_STORE", "memory:");
  EnvGuard::set("SCYLLA_HOSTS", "h1");
  EXPECT_EQ(default_store_uri(), "memory:");
}

TEST(DefaultStoreUri, ClusterFromTheSeedVariables) {
  EnvGuard env;
  EnvGuard::set("SCYLLA_HOSTS", "h1:9042, h2");
  EXPECT_EQ(default_store_uri(), "scylla://h1:9042,h2");
  EnvGuard::set("SCYLLA_USERNAME", "app user");
  EnvGuard::set("SCYLLA_PASSWORD", "pa@ss:w/rd");
  EnvGuard::set("SCYLLA_HOSTSELECTIONPOLICY", "dc 1");
  EnvGuard::set("SCYLLA_KEYSPACE", "my_ks");
  const std::string uri = default_store_uri();
  EXPECT_EQ(uri, "scylla://app%20user:pa%40ss%3Aw%2Frd@h1:9042,h2/my_ks?dc=dc%201");
  // It parses back to the same values.
  const StoreUri parsed = parse_store_uri(uri);
  EXPECT_EQ(parsed.cluster.username, "app user");
  EXPECT_EQ(parsed.cluster.password, "pa@ss:w/rd");
  EXPECT_EQ(parsed.cluster.hosts, (std::vector<std::string>{"h1:9042", "h2"}));
  EXPECT_EQ(parsed.cluster.keyspace, "my_ks");
  EXPECT_EQ(parsed.cluster.options.at("dc"), "dc 1");
  EXPECT_EQ(redact_uri(uri).find("pa%40ss"), std::string::npos);
}

TEST(DefaultStoreUri, PasswordWithoutUserIsNotUsed) {
  EnvGuard env;
  EnvGuard::set("SCYLLA_HOSTS", "h1");
  EnvGuard::set("SCYLLA_PASSWORD", "secret");
  EXPECT_EQ(default_store_uri(), "scylla://h1");
  EnvGuard::set("SCYLLA_USERNAME", "u");
  EnvGuard::unset_for_test("SCYLLA_PASSWORD");
  EXPECT_EQ(default_store_uri(), "scylla://u@h1");
}

}  // namespace
}  // namespace eventstore::detail

// The session settings of a scylla:// URI: one parser (src/scylla/session_config.h) for the store,
// the raw benchmark and the tools, so a URI means the same to each. No cluster needed: every URI
// here is refused, or read, before anything connects.
#include <gtest/gtest.h>

#include <string>

#include "bench_scylla_raw.h"
#include "core/store_uri.h"
#include "eventstore/eventstore.h"
#include "scylla/session_config.h"

namespace {

using eventstore::detail::parse_store_uri;
using eventstore::detail::session_config_from;

eventstore::bridge::SessionConfig config_of(const std::string& uri) {
  return session_config_from(parse_store_uri(uri).cluster);
}

std::string std_of(const rust::String& s) { return std::string(s); }

// What opening `uri` throws: the store's message, or the raw benchmark's.
std::string store_refusal(const std::string& uri) {
  try {
    eventstore::open_store(uri);
  } catch (const eventstore::Error& e) {
    EXPECT_EQ(e.code(), eventstore::ErrorCode::kInvalidArgument) << e.what();
    return e.what();
  }
  return "(opened)";
}

std::string raw_bench_refusal(const std::string& uri) {
  try {
    eventstore_cli::bench::RawScylla::connect(uri, eventstore_cli::bench::RawShape::kStore);
  } catch (const eventstore::Error& e) {
    EXPECT_EQ(e.code(), eventstore::ErrorCode::kInvalidArgument) << e.what();
    return e.what();
  }
  return "(connected)";
}

TEST(SessionConfig, TheStoreAndTheRawBenchRefuseTheSameUris) {
  // tls=yes once meant "no TLS" to the raw benchmark, which had a parser of its own.
  for (const std::string uri :
       {"scylla://127.0.0.1:1/ks?tls=yes", "scylla://127.0.0.1:1/ks?tls=true",
        "scylla://127.0.0.1:1/ks?tls=false&ca_file=/ca.pem", "scylla://127.0.0.1:1/ks?cert_file=/c.pem&ca_file=/ca.pem",
        "scylla://127.0.0.1:1/ks?timeout_ms=0", "scylla://127.0.0.1:1/ks?consistency=one",
        "scylla://127.0.0.1:1/ks?no_such_option=1"}) {
    const std::string refusal = store_refusal(uri);
    EXPECT_NE(refusal, "(opened)") << uri;
    EXPECT_EQ(raw_bench_refusal(uri), refusal) << uri;
  }
  EXPECT_NE(store_refusal("scylla://127.0.0.1:1/ks?tls=yes").find("tls must be true or false"), std::string::npos);
}

TEST(SessionConfig, ReadsEveryOption) {
  const auto config = config_of(
      "scylla://user:pw@h1,h2:9043/ks?dc=dc2&consistency=local_quorum&timeout_ms=7000&resolve_timeout_ms=9000"
      "&connect_timeout_ms=3000&workers=4&ca_file=/ca.pem&cert_file=/c.pem&key_file=/k.pem&feed=false");
  ASSERT_EQ(config.hosts.size(), 2u);
  EXPECT_EQ(std_of(config.hosts[0]), "h1");
  EXPECT_EQ(std_of(config.hosts[1]), "h2:9043");
  EXPECT_EQ(std_of(config.username), "user");
  EXPECT_EQ(std_of(config.password), "pw");
  EXPECT_EQ(std_of(config.keyspace), "ks");
  EXPECT_EQ(std_of(config.local_dc), "dc2");
  EXPECT_TRUE(config.local_consistency);
  EXPECT_EQ(config.request_timeout_ms, 7000u);
  EXPECT_EQ(config.resolve_timeout_ms, 9000u);
  EXPECT_EQ(config.connect_timeout_ms, 3000u);
  EXPECT_EQ(config.worker_threads, 4u);
  EXPECT_TRUE(config.tls_enabled);  // a CA file alone turns TLS on
  EXPECT_EQ(std_of(config.tls_ca_file), "/ca.pem");
  EXPECT_EQ(std_of(config.tls_cert_file), "/c.pem");
  EXPECT_EQ(std_of(config.tls_key_file), "/k.pem");
}

TEST(SessionConfig, DefaultsAndTlsSwitches) {
  const auto plain = config_of("scylla://h");
  EXPECT_EQ(std_of(plain.keyspace), "event_sourcing");
  EXPECT_FALSE(plain.tls_enabled);
  EXPECT_FALSE(plain.local_consistency);
  EXPECT_EQ(plain.request_timeout_ms, 0u);  // the bridge's default
  EXPECT_TRUE(config_of("scylla://h/ks?tls=1&ca_file=/ca.pem").tls_enabled);
  EXPECT_FALSE(config_of("scylla://h/ks?tls=0").tls_enabled);
  EXPECT_THROW(config_of("scylla://h/ks?tls=yes"), eventstore::Error);
  EXPECT_THROW(config_of("scylla://h/ks?tls=true"), eventstore::Error);  // no CA
  EXPECT_THROW(config_of("scylla://h/ks?workers=65"), eventstore::Error);
}

}  // namespace

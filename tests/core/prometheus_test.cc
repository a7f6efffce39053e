// eventstore::PrometheusMetrics: the store's metrics scraped over real HTTP from /metrics.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

#include "eventstore/eventstore.h"
#include "eventstore/prometheus.h"

namespace eventstore {
namespace {

// The body of GET http://127.0.0.1:PORT/metrics ("" when the server does not answer).
std::string scrape(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return "";
  }
  const std::string request = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  EXPECT_EQ(::send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
  std::string response;
  char buffer[4096];
  for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) response.append(buffer, static_cast<std::size_t>(n));
  ::close(fd);
  const std::size_t body = response.find("\r\n\r\n");
  EXPECT_NE(response.find("200 OK"), std::string::npos) << response;
  return body == std::string::npos ? "" : response.substr(body + 4);
}

TEST(PrometheusMetrics, AScrapeShowsWhatTheStoreDid) {
  auto metrics = std::make_shared<PrometheusMetrics>();
  metrics->listen("127.0.0.1:0");
  ASSERT_EQ(metrics->listening_ports().size(), 1u);
  StoreOptions options;
  options.metrics = metrics;
  auto store = open_store("memory:", options);
  const StreamId stream{"sales", "Order", Uuid::random()};
  store->append(stream, ExpectedVersion::no_stream(), {EventData{std::nullopt, "Placed", R"({"n":1})", {}, {}}});
  EXPECT_THROW(store->append(stream, ExpectedVersion::no_stream(), {EventData{std::nullopt, "Placed", "{}", {}, {}}}),
               Error);

  const std::string body = scrape(metrics->listening_ports().front());
  EXPECT_NE(body.find("# TYPE eventstore_appends_total counter"), std::string::npos) << body;
  EXPECT_NE(body.find(R"(eventstore_appends_total{aggregate_type="Order",context="sales",outcome="ok"} 1)"),
            std::string::npos)
      << body;
  EXPECT_NE(
      body.find(R"(eventstore_appends_total{aggregate_type="Order",context="sales",outcome="version_conflict"} 1)"),
      std::string::npos)
      << body;
  EXPECT_NE(body.find(R"(eventstore_appended_events_total{aggregate_type="Order",context="sales"} 1)"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find(R"(eventstore_append_seconds_count{aggregate_type="Order",context="sales",outcome="ok"} 1)"),
            std::string::npos)
      << body;
  EXPECT_NE(
      body.find(R"(eventstore_append_seconds_bucket{aggregate_type="Order",context="sales",outcome="ok",le="5"} 1)"),
      std::string::npos)
      << body;
  EXPECT_NE(body.find("eventstore_appends_in_flight 0"), std::string::npos) << body;
}

TEST(PrometheusMetrics, BadAddressesAreRefused) {
  PrometheusMetrics metrics;
  EXPECT_THROW(metrics.listen("127.0.0.1"), Error);
  metrics.listen("127.0.0.1:0");
  EXPECT_THROW(metrics.listen("127.0.0.1:0"), Error);
  PrometheusMetrics other;
  try {
    other.listen("127.0.0.1:" + std::to_string(metrics.listening_ports().front()));
    ADD_FAILURE() << "a second server on the same port";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnavailable);
  }
}

}  // namespace
}  // namespace eventstore

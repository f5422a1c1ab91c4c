// wsm-exporter under HTTP abuse, as a process on a loopback port (issue 15): hundreds of idle and
// slow connections must not stop /healthz and /metrics from answering; oversized and malformed
// requests get a 4xx and the server goes on; a kept-alive connection serves requests spaced beyond
// civetweb's old 500 ms idle limit; OPTIONS, absolute-form targets and HTTP/0.9 get an answer.
// Only behaviour is asserted (answers arrive, statuses, the connection stays open), never timings.
#include <gtest/gtest.h>

#include <memory>
#include <poll.h>
#include <string_view>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include "exporter_test_support.hpp"

namespace {

using namespace wsm::test;

// A header of a response; empty when absent.
std::string header(const HttpResponse& r, const std::string& name) {
  const auto it = r.headers.find(name);
  return it == r.headers.end() ? "" : it->second;
}

// One hand-driven connection, closed at the end of its scope.
class Connection {
 public:
  explicit Connection(int port) : fd_(connect_loopback(port)) {}
  ~Connection() {
    if (fd_ >= 0) ::close(fd_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  [[nodiscard]] bool connected() const { return fd_ >= 0; }
  bool send(std::string_view bytes) const {
    return fd_ >= 0 && ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  }
  [[nodiscard]] std::optional<HttpResponse> response(bool answers_head = false) {
    return read_response(fd_, pending_, answers_head);
  }
  // Whether the server has closed this connection (EOF or reset) within `wait`.
  [[nodiscard]] bool closed_by_server(std::chrono::milliseconds wait) const {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return false;
    char c;
    return ::recv(fd_, &c, 1, MSG_DONTWAIT) <= 0;
  }

 private:
  int fd_;
  std::string pending_;
};

std::string get_request(const std::string& target, const std::string& method = "GET") {
  return method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
}

// An exporter serving a segment that a writer filled with one known counter.
class ProbeTest : public ::testing::Test {
 protected:
  ProbeTest() { run_writer(guard_.name(), {"counter", "t_probe_total", "-", "7"}); }
  SegmentGuard guard_{unique_segment_name("probe")};
};

// What the bar asks of the exporter while it is being abused: both endpoints answer at all.
void expect_serving(const Exporter& exporter) {
  const auto healthz = exporter.get("/healthz");
  ASSERT_TRUE(healthz) << "/healthz gave no answer within 10 s";
  EXPECT_EQ(healthz->status, 200) << healthz->body;
  const auto metrics = exporter.get("/metrics");
  ASSERT_TRUE(metrics) << "/metrics gave no answer within 10 s";
  EXPECT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->body.find("t_probe_total 7"), std::string::npos);
}

TEST_F(ProbeTest, FiveHundredIdleConnectionsLeaveHealthzAndMetricsAnswering) {
  Exporter exporter(guard_.name());
  // Half say nothing at all, half stop in the middle of a request line: under civetweb's eight
  // threads the first few held every thread until the 10 s header timeout, the rest queued.
  std::vector<std::unique_ptr<Connection>> idle;
  for (int i = 0; i < 500; ++i) {
    idle.push_back(std::make_unique<Connection>(exporter.port()));
    ASSERT_TRUE(idle.back()->connected()) << "connection " << i << " was not accepted";
    if (i % 2 == 1) {
      ASSERT_TRUE(idle.back()->send("GET /metr"));
    }
  }
  expect_serving(exporter);
  expect_serving(exporter);
  EXPECT_EQ(exporter.stop(), 0);
}

TEST_F(ProbeTest, SlowlorisClientsLeaveHealthzAndMetricsAnswering) {
  Exporter exporter(guard_.name());
  // 100 clients each sending a request one byte every 300 ms (3 s in all, well inside the 10 s
  // request timeout, so none of them is cut off while this runs).
  const std::string request = get_request("/metrics");
  std::vector<std::unique_ptr<Connection>> slow;
  for (int i = 0; i < 100; ++i) {
    slow.push_back(std::make_unique<Connection>(exporter.port()));
    ASSERT_TRUE(slow.back()->connected());
  }
  for (std::size_t sent = 0; sent < 10; ++sent) {
    for (auto& c : slow) EXPECT_TRUE(c->send(request.substr(sent, 1)));
    expect_serving(exporter);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  EXPECT_EQ(exporter.stop(), 0);
}

TEST_F(ProbeTest, OversizedAndMalformedRequestsGetA4xxAndTheServerGoesOn) {
  Exporter exporter(guard_.name());
  struct Case {
    std::string name, bytes;
    int status;
  };
  const std::vector<Case> cases = {
      {"headers over 8 KiB", "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(20000, 'a') + "\r\n\r\n", 400},
      {"URI over 2 KiB", get_request("/api/v1/percentiles?metric=" + std::string(3000, 'm')), 414},
      {"URI over 8 KiB", get_request("/" + std::string(9000, 'u')), 400},
      {"no request line", "GARBAGE\r\n\r\n", 400},
      {"header without colon", "GET /healthz HTTP/1.1\r\nHost x\r\n\r\n", 400},
      {"unknown HTTP version", "GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n", 400},
      {"body over the limit", "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n", 413},
      {"binary", std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 16), 400},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Connection conn(exporter.port());
    ASSERT_TRUE(conn.send(c.bytes));
    const auto r = conn.response();
    ASSERT_TRUE(r) << "no answer";
    EXPECT_EQ(r->status, c.status) << r->body;
  }
  expect_serving(exporter);
  EXPECT_EQ(exporter.stop(), 0);
}

TEST_F(ProbeTest, AKeptAliveConnectionServesRequestsSpacedBeyondHalfASecond) {
  Exporter exporter(guard_.name());
  Connection conn(exporter.port());
  ASSERT_TRUE(conn.connected());
  // civetweb closed a kept-alive connection after 500 ms idle; a collector scraping every second
  // then met a closed connection at every other scrape.
  for (int i = 0; i < 4; ++i) {
    SCOPED_TRACE("request " + std::to_string(i));
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(800));
    ASSERT_FALSE(conn.closed_by_server(std::chrono::milliseconds(0))) << "the server closed the connection";
    ASSERT_TRUE(conn.send(get_request(i % 2 == 0 ? "/metrics" : "/healthz")));
    const auto r = conn.response();
    ASSERT_TRUE(r) << "no answer on the reused connection";
    EXPECT_EQ(r->status, 200);
    EXPECT_NE(header(*r, "connection"), "close");
  }
  // HEAD: the length GET would send and no body, so the next answer on the connection parses.
  ASSERT_TRUE(conn.send(get_request("/metrics", "HEAD") + get_request("/metrics")));
  const auto head = conn.response(/*answers_head=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  const std::string length = header(*head, "content-length");
  EXPECT_FALSE(length.empty() || length == "0") << "Content-Length: " << length;
  const auto after_head = conn.response();
  ASSERT_TRUE(after_head);
  EXPECT_EQ(after_head->status, 200);
  EXPECT_NE(after_head->body.find("t_probe_total 7"), std::string::npos);
  EXPECT_FALSE(conn.closed_by_server(std::chrono::milliseconds(800)));
  EXPECT_EQ(exporter.stop(), 0);
}

TEST_F(ProbeTest, OptionsAbsoluteFormAndHttp09AreAnswered) {
  Exporter exporter(guard_.name());
  for (const std::string target : {"/metrics", "*"}) {
    Connection conn(exporter.port());
    ASSERT_TRUE(conn.send(get_request(target, "OPTIONS")));
    const auto r = conn.response();
    ASSERT_TRUE(r) << "no answer to OPTIONS " << target;
    EXPECT_EQ(r->status, 405);
    EXPECT_EQ(header(*r, "allow"), "GET, HEAD");
  }
  {
    Connection conn(exporter.port());
    ASSERT_TRUE(conn.send(get_request("http://127.0.0.1:" + std::to_string(exporter.port()) + "/metrics")));
    const auto r = conn.response();
    ASSERT_TRUE(r) << "no answer to an absolute-form target";
    EXPECT_EQ(r->status, 200);
    EXPECT_NE(r->body.find("t_probe_total 7"), std::string::npos);
  }
  {
    Connection conn(exporter.port());
    ASSERT_TRUE(conn.send("GET /metrics\r\n"));
    const auto r = conn.response();
    ASSERT_TRUE(r) << "no answer to an HTTP/0.9 request";
    EXPECT_EQ(r->status, 400);
    EXPECT_TRUE(conn.closed_by_server(std::chrono::seconds(5)));
  }
  expect_serving(exporter);
  EXPECT_EQ(exporter.stop(), 0);
}

}  // namespace

// `wsm inspect --connections`: the connection table of a real demo server, while a real load
// generator holds its connections open, lists exactly those connections.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <csignal>
#include <regex>
#include <set>
#include <thread>

#include "test_support.hpp"

namespace {

using namespace wsm::test;

TEST(InspectConnections, ListsTheLoadGeneratorsOpenConnections) {
  SegmentGuard segment(unique_segment_name("inspect-conn"));
  const int port = free_port();
  Child server = Child::spawn({bin("wsm-demo-server"), "--port", std::to_string(port), "--workers", "1",
                               "--segment", segment.name()});
  ASSERT_TRUE(wait_for_http(port, "/", 404) || wait_for_http(port, "/", 400) || wait_for_http(port, "/", 426));
  Child load = Child::spawn({bin("wsm-loadgen"), "--url", "ws://127.0.0.1:" + std::to_string(port) + "/ws",
                             "--clients", "3", "--mix", "patient_monitor=1,doctor=1,nurse=1",
                             "--duration", "4"});
  // Poll until all three connections are open (the load generator connects in its first moments).
  nlohmann::json list;
  for (int i = 0; i < 100 && list.size() != 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const auto r = run({bin("wsm"), "inspect", "--connections", "--json", segment.name()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    list = nlohmann::json::parse(r.out)["connections"];
  }
  ASSERT_EQ(list.size(), 3u);
  std::multiset<std::string> roles;
  std::set<std::string> record_ids;
  for (const auto& c : list) {
    roles.insert(c["role"].get<std::string>());
    EXPECT_EQ(c["pid"].get<int>() > 0, true);
    EXPECT_NE(c["id"].get<std::string>().find('-'), std::string::npos);
    // The id wsm-exporter lists under --id-labels drop: <record>.<tenant>.<segment generation>.
    const std::string record_id = c["record_id"].get<std::string>();
    EXPECT_TRUE(std::regex_match(record_id, std::regex("(0|[1-9][0-9]*)\\.[1-9][0-9]*\\.[0-9a-f]{8}"))) << record_id;
    record_ids.insert(record_id);
  }
  EXPECT_EQ(record_ids.size(), 3u);
  EXPECT_EQ(roles, (std::multiset<std::string>{"doctor", "nurse", "patient_monitor"}));
  ASSERT_TRUE(load.wait(std::chrono::seconds(30)).has_value());
  server.signal(SIGTERM);
  ASSERT_TRUE(server.wait(std::chrono::seconds(15)).has_value());
  // Closed connections leave the table.
  const auto after = run({bin("wsm"), "inspect", "--connections", "--json", segment.name()});
  EXPECT_TRUE(nlohmann::json::parse(after.out)["connections"].empty());
}

}  // namespace

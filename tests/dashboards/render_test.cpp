// wsm-alerts: the committed rules are the default rendering, thresholds from the environment reach
// the rules (and the result still passes promtool), bad values are refused with one line and exit 2.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.hpp"
#include "wsm/alerts/render.hpp"

namespace {

using wsm::test::bin;
using wsm::test::run;

const std::vector<std::string> kVariables = {
    "WEBSOCKET_LATENCY_THRESHOLD", "WEBSOCKET_CPU_THRESHOLD", "WEBSOCKET_MEMORY_THRESHOLD",
    "WEBSOCKET_FAILURE_RATE_THRESHOLD", "WEBSOCKET_HEALTH_SCORE_THRESHOLD"};

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string committed_rules() {
  return read_file(std::filesystem::path(WSM_SOURCE_DIR) / "dashboards/prometheus/prometheus-websocket-alerts.yml");
}

// A private temp dir, removed at the end of the test.
class RenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The runner's own environment must not change what "default" means.
    for (const auto& v : kVariables) ::unsetenv(v.c_str());
    dir_ = std::filesystem::temp_directory_path() / wsm::test::unique_segment_name("wsm-alerts");
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(RenderTest, CommittedFileIsTheDefaultRendering) {
  const std::string committed = committed_rules();
  ASSERT_FALSE(committed.empty());
  EXPECT_EQ(committed, wsm::alerts::render_alert_rules(wsm::ws::Thresholds{}))
      << "re-render: build/bin/wsm-alerts render --out dashboards/prometheus/prometheus-websocket-alerts.yml";
  const auto r = run({bin("wsm-alerts"), "render"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, committed);
}

TEST_F(RenderTest, OutWritesTheFileAndNothingElse) {
  const auto out = dir_ / "rules.yml";
  const auto r = run({bin("wsm-alerts"), "render", "--out", out.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(read_file(out), committed_rules());
  EXPECT_FALSE(std::filesystem::exists(out.string() + ".tmp"));
}

TEST_F(RenderTest, EnvironmentThresholdsReachEveryAlertAndPassPromtool) {
  const std::vector<std::string> env = {
      "WEBSOCKET_LATENCY_THRESHOLD=0.25", "WEBSOCKET_CPU_THRESHOLD=92.5",
      "WEBSOCKET_MEMORY_THRESHOLD=2147483648", "WEBSOCKET_FAILURE_RATE_THRESHOLD=0.125",
      "WEBSOCKET_HEALTH_SCORE_THRESHOLD=55"};
  const auto out = dir_ / "rules.yml";
  const auto r = run({bin("wsm-alerts"), "render", "--out", out.string(), "--runbook-base",
                      "https://runbooks.example.invalid/ws.md"},
                     env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string text = read_file(out);
  for (const char* expected :
       {"p95_rate5m > 0.25\n", "(wsm_writer_cpu_percent) > 92.5\n",
        "{memory_type=\"rss\"}) > 2147483648\n", "ratio_rate5m > 0.125\n",
        "(websocket_health_score) < 55\n", "above 2 GiB", "More than 12.5% of messages",
        "\"https://runbooks.example.invalid/ws.md#highcpu\""}) {
    EXPECT_NE(text.find(expected), std::string::npos) << "missing: " << expected;
  }
  EXPECT_FALSE(std::regex_search(text, std::regex("@[A-Z_]+@"))) << "a placeholder was left";
  // Nothing of the defaults that the environment replaced survives.
  for (const char* stale : {"> 0.5\n", "(wsm_writer_cpu_percent) > 80\n", "> 1073741824\n",
                            "> 0.05\n", "< 70\n"}) {
    EXPECT_EQ(text.find(stale), std::string::npos) << "default left: " << stale;
  }
  const auto check = run({WSM_PROMTOOL, "check", "rules", out.string()});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;

  const auto shown = run({bin("wsm-alerts"), "thresholds"}, env);
  EXPECT_EQ(shown.exit_code, 0);
  EXPECT_NE(shown.out.find("\"cpu_percent\": 92.5"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("\"memory_bytes\": 2147483648"), std::string::npos) << shown.out;
}

// The end-to-end test's copy of the rules: alerts fire within seconds.
TEST_F(RenderTest, ForOverrideReplacesEveryAlertsFor) {
  const auto out = dir_ / "rules.yml";
  const auto r = run({bin("wsm-alerts"), "render", "--for", "1s", "--out", out.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string text = read_file(out);
  const std::regex any_for("\n +for: ([0-9a-z]+)\n");
  int fors = 0;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), any_for); it != std::sregex_iterator(); ++it) {
    EXPECT_EQ((*it)[1].str(), "1s");
    ++fors;
  }
  EXPECT_EQ(fors, 9);
  const auto check = run({WSM_PROMTOOL, "check", "rules", out.string()});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;

  for (const char* bad : {"5 minutes", "1", "s", "-1s", "1x"}) {
    const auto refused = run({bin("wsm-alerts"), "render", "--for", bad});
    EXPECT_EQ(refused.exit_code, 2) << bad;
    EXPECT_EQ(std::count(refused.err.begin(), refused.err.end(), '\n'), 1) << refused.err;
    EXPECT_NE(refused.err.find("--for"), std::string::npos) << refused.err;
  }
}

TEST_F(RenderTest, RangeEdgesAreAccepted) {
  for (const char* kv :
       {"WEBSOCKET_LATENCY_THRESHOLD=60", "WEBSOCKET_CPU_THRESHOLD=10000", "WEBSOCKET_MEMORY_THRESHOLD=1048576",
        "WEBSOCKET_MEMORY_THRESHOLD=1099511627776", "WEBSOCKET_FAILURE_RATE_THRESHOLD=0.999",
        "WEBSOCKET_HEALTH_SCORE_THRESHOLD=100", "WEBSOCKET_LATENCY_THRESHOLD=1e-3",
        "WEBSOCKET_CPU_THRESHOLD="}) {
    const auto r = run({bin("wsm-alerts"), "render"}, {kv});
    EXPECT_EQ(r.exit_code, 0) << kv << ": " << r.err;
  }
}

TEST_F(RenderTest, BadValuesGiveOneLineNamingTheVariableAndRangeAndExitTwo) {
  struct Case {
    std::string variable;
    std::string range;
    std::vector<std::string> values;
  };
  const std::vector<Case> cases = {
      {"WEBSOCKET_LATENCY_THRESHOLD", "(0, 60] seconds", {"abc", "0", "-1", "61", "0.5s", " 0.5", "nan", "inf"}},
      {"WEBSOCKET_CPU_THRESHOLD", "(0, 10000] percent", {"0", "10000.5", "80%", "1e400"}},
      {"WEBSOCKET_MEMORY_THRESHOLD", "[1048576, 1099511627776]", {"1.5", "1048575", "1GiB", "-1", "1099511627777"}},
      {"WEBSOCKET_FAILURE_RATE_THRESHOLD", "(0, 1)", {"0", "1", "5", "5%"}},
      {"WEBSOCKET_HEALTH_SCORE_THRESHOLD", "(0, 100]", {"0", "101", "seventy"}},
  };
  for (const Case& c : cases) {
    for (const std::string& value : c.values) {
      const std::string kv = c.variable + "=" + value;
      for (const char* command : {"render", "thresholds"}) {
        const auto r = run({bin("wsm-alerts"), command}, {kv});
        EXPECT_EQ(r.exit_code, 2) << kv;
        EXPECT_EQ(r.out, "") << kv;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << kv << ": " << r.err;
        EXPECT_NE(r.err.find(c.variable), std::string::npos) << r.err;
        EXPECT_NE(r.err.find(c.range), std::string::npos) << r.err;
        EXPECT_NE(r.err.find("\"" + value + "\""), std::string::npos) << r.err;
      }
    }
  }
}

TEST(Thresholds, FromEnvReadsEachVariableIntoItsField) {
  const auto t = wsm::ws::thresholds_from_env([](const char* name) -> const char* {
    const std::string n = name;
    if (n == "WEBSOCKET_LATENCY_THRESHOLD") return "0.75";
    if (n == "WEBSOCKET_CPU_THRESHOLD") return "90";
    if (n == "WEBSOCKET_MEMORY_THRESHOLD") return "536870912";
    if (n == "WEBSOCKET_FAILURE_RATE_THRESHOLD") return "0.01";
    if (n == "WEBSOCKET_HEALTH_SCORE_THRESHOLD") return "40";
    return nullptr;
  });
  ASSERT_TRUE(t.has_value()) << t.error().message();
  EXPECT_EQ(t->latency_seconds, 0.75);
  EXPECT_EQ(t->cpu_percent, 90);
  EXPECT_EQ(t->memory_bytes, 536870912u);
  EXPECT_EQ(t->failure_ratio, 0.01);
  EXPECT_EQ(t->health_score, 40);
  const wsm::ws::Thresholds defaults;
  EXPECT_EQ(t->compression_ratio_percent, defaults.compression_ratio_percent);
}

}  // namespace

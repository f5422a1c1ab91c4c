// Probes of the segment side against real processes: a segment file truncated while the exporter
// scrapes it (the exporter stays up, /healthz answers and says the segment is damaged, /metrics
// answers without duplicates, and the exporter follows the segment once it is re-created), and a
// segment another user created first (a writer refuses to record into it unless told to trust
// its group).
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <map>
#include <sstream>
#include <thread>

#include "exporter_test_support.hpp"

namespace {

using namespace wsm::test;

// How often each sample (name{labels}) occurs in a text exposition: Prometheus rejects a scrape
// with any sample twice.
std::vector<std::string> repeated_samples(const std::string& text) {
  std::map<std::string, int> seen;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.front() != '#') ++seen[line.substr(0, line.rfind(' '))];
  }
  std::vector<std::string> repeated;
  for (const auto& [series, n] : seen) {
    if (n > 1) repeated.push_back(series);
  }
  return repeated;
}

bool alive(pid_t pid) { return ::kill(pid, 0) == 0; }

TEST(SegmentProbe, ASegmentTruncatedDuringScrapesLeavesTheExporterUpAndIsFollowedWhenRecreated) {
  const std::string seg = unique_segment_name("probe-shrink");
  SegmentGuard guard(seg);
  run_writer(seg, {"counter", "t_probe_total", "role=a", "3", "hist", "t_probe_seconds", "-", "2000000", "4"});
  Exporter exporter(seg);
  ASSERT_TRUE(wait_for_http(exporter.port(), "/healthz", 200));

  // Scrapes all along, from another thread, as a Prometheus would.
  std::atomic<bool> stop{false};
  std::atomic<int> answered{0}, unanswered{0}, with_duplicates{0};
  std::thread scraper([&] {
    while (!stop) {
      const auto r = exporter.get("/metrics");
      if (!r || r->status != 200) {
        ++unanswered;
        continue;
      }
      ++answered;
      if (!repeated_samples(r->body).empty()) ++with_duplicates;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a busy scraper, not a flood
    }
  });
  ASSERT_TRUE(wait_until([&] { return answered > 3; }));

  // What the issue did to a 27 MiB segment: `truncate -s 4M` while scrapes run.
  ASSERT_EQ(run({"/usr/bin/truncate", "-s", "4M", "/dev/shm/wsm." + seg}).exit_code, 0);
  std::optional<HttpResponse> health;
  EXPECT_TRUE(wait_until([&] {
    health = exporter.get("/healthz");
    return health && health->status == 503 && health->body.find("damaged") != std::string::npos;
  })) << (health ? health->body : "no answer from /healthz");
  EXPECT_TRUE(alive(exporter.pid())) << "the exporter died";
  const int before = answered;
  EXPECT_TRUE(wait_until([&] { return answered > before + 3; })) << "scrapes stopped being answered";
  const auto metrics = exporter.get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->body.find("wsm_segment_attached 0"), std::string::npos) << metrics->body;

  // Re-created by its writers: the exporter attaches to the new file and serves it.
  ASSERT_EQ(run({"/bin/rm", "/dev/shm/wsm." + seg}).exit_code, 0);
  run_writer(seg, {"counter", "t_probe_total", "role=a", "5"});
  EXPECT_TRUE(wait_until([&] {
    const auto r = exporter.get("/metrics");
    return r && r->body.find("t_probe_total{role=\"a\"} 5") != std::string::npos;
  }));
  EXPECT_TRUE(wait_for_http(exporter.port(), "/healthz", 200));
  stop = true;
  scraper.join();
  EXPECT_EQ(with_duplicates, 0);
  EXPECT_EQ(unanswered, 0) << "scrapes that got no 200";
  EXPECT_EQ(exporter.stop(), 0);
}

// A local user who creates the segment's file first must not receive a root worker's counts (nor
// be able to kill it by truncating the file): the worker refuses the segment, with a message
// that says how to trust a group instead.
TEST(SegmentProbe, AWriterRefusesASegmentAnotherUserCreatedFirst) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run a writer as nobody";
  const std::string seg = unique_segment_name("probe-foreign");
  SegmentGuard guard(seg);
  const std::vector<std::string> as_nobody = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
  std::vector<std::string> squatter = as_nobody;
  squatter.insert(squatter.end(), {bin("exporter_test_writer"), "--segment", seg, "counter", "t_squat_total", "-", "1"});
  ASSERT_EQ(run(squatter).exit_code, 0);

  const std::vector<std::string> worker = {bin("exporter_test_writer"), "--segment", seg, "counter", "t_secret_total", "-", "42"};
  const auto refused = run(worker);
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("is owned by uid 65534"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("WSM_TRUSTED_GROUP"), std::string::npos) << refused.err;
  // Nothing of the worker's reached the segment.
  const auto dump = run({bin("wsm"), "dump", "--json", seg});
  EXPECT_EQ(dump.out.find("t_secret_total"), std::string::npos) << dump.out;

  // The explicit opt-in: the segment's group is trusted.
  const auto trusted = run(worker, {"WSM_TRUSTED_GROUP=nogroup"});
  EXPECT_EQ(trusted.exit_code, 0) << trusted.err;
}

}  // namespace

// Writers and the exporter in different pid and mount namespaces, as a Kubernetes sidecar or a
// Docker container sharing /dev/shm runs them: the exporter cannot see the writers' /proc, every
// writer is pid 1 of its own namespace, and liveness must still come out right (liveness.hpp).
//
// Six chaos writers (tests/chaos/chaos_writer) each in its own `unshare --pid --fork --mount-proc`,
// the exporter in another, reaping every second for the writers' whole life. Three run to their
// end: their counters are exact. Three are SIGKILLed mid-run: each within its last report plus
// whole ops of the batch it was cut in. Root and a kernel that allows namespaces are needed; the
// test says so and skips elsewhere.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <fcntl.h>
#include <thread>
#include <unistd.h>

#include "chaos_plan.hpp"
#include "exporter_test_support.hpp"
#include "scrape_watch.hpp"
#include "test_support.hpp"
#include "wsm/shm/segment.hpp"

namespace {

using namespace std::chrono_literals;
using wsm::test::Child;

constexpr int kFinishing = 3, kKilled = 3;
constexpr std::uint64_t kFinishBatches = 1500;   // ~2-4 s of recording
constexpr std::uint64_t kEndlessBatches = 1'000'000;

// A program run in new pid and mount namespaces, killed with it (--kill-child) when we SIGKILL the
// unshare process.
std::vector<std::string> in_namespaces(std::vector<std::string> argv) {
  argv.insert(argv.begin(), {"/usr/bin/unshare", "--pid", "--fork", "--mount-proc", "--kill-child"});
  return argv;
}

std::optional<std::string> namespaces_refused() {
  if (::geteuid() != 0) return "needs root to create pid and mount namespaces (unshare)";
  const auto r = wsm::test::run(in_namespaces({"/bin/sh", "-c", "test $$ = 1"}));
  if (r.exit_code != 0) return "the kernel or sandbox refuses `unshare --pid --fork --mount-proc`: " + r.err;
  return std::nullopt;
}

struct Writer {
  std::string id;
  std::uint64_t seed = 0;
  std::optional<Child> child;
  std::string out;  // everything it reported
  // Running totals of its last whole batch: "R <batch> <counter> <count> <sum>".
  std::uint64_t batches = 0, counted = 0;
  void read_reports() {
    char buf[4096];
    for (ssize_t n; (n = ::read(child->stdout_fd(), buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
    for (std::size_t at = 0, nl; (nl = out.find('\n', at)) != std::string::npos; at = nl + 1) {
      unsigned long long b = 0, c = 0, r = 0, s = 0;
      if (std::sscanf(out.c_str() + at, "R %llu %llu %llu %llu", &b, &c, &r, &s) == 4) {
        batches = b;
        counted = c;
      }
    }
  }
};

TEST(Namespaces, SidecarExporterLosesNoCountOfWritersItCannotSee) {
  if (const auto why = namespaces_refused()) GTEST_SKIP() << *why;
  wsm::test::SegmentGuard guard(wsm::test::unique_segment_name("ns"));
  ASSERT_TRUE(wsm::shm::Segment::create(guard.name(), {}));

  const int port = wsm::test::free_port();
  Child exporter = Child::spawn(in_namespaces({wsm::test::bin("wsm-exporter"), "--segment", guard.name(),
                                               "--listen", "127.0.0.1:" + std::to_string(port),
                                               "--interval", "1"}));
  ASSERT_TRUE(wsm::test::wait_for_http(port, "/healthz")) << "wsm-exporter did not start in its namespace";
  wsm::chaos::ScrapeWatch watch("chaos_");
  watch.set_port(port);

  std::vector<Writer> writers(kFinishing + kKilled);
  for (std::size_t i = 0; i < writers.size(); ++i) {
    Writer& w = writers[i];
    w.id = "ns" + std::to_string(i);
    w.seed = 1000 + i;
    const bool finishes = i < kFinishing;
    w.child.emplace(Child::spawn(
        in_namespaces({wsm::test::bin("chaos_writer"), "count", guard.name(), std::to_string(i), w.id,
                       std::to_string(w.seed), std::to_string(finishes ? kFinishBatches : kEndlessBatches)}),
        {}, true));
    ::fcntl(w.child->stdout_fd(), F_SETFL, ::fcntl(w.child->stdout_fd(), F_GETFL) | O_NONBLOCK);
  }
  // The exporter reaps every second all along: a live writer it wrongly judged dead would lose its
  // counts to the fold and then write into a slot the next writer claims.
  for (int i = 0; i < kFinishing; ++i) {
    const auto code = writers[i].child->wait(120s);
    ASSERT_TRUE(code.has_value()) << writers[i].id << " did not finish";
    EXPECT_EQ(*code, 0) << writers[i].id;
    writers[i].read_reports();
    EXPECT_EQ(writers[i].batches, kFinishBatches) << writers[i].id << " reported " << writers[i].out;
  }
  for (int i = kFinishing; i < kFinishing + kKilled; ++i) {
    Writer& w = writers[i];
    ASSERT_TRUE(wsm::test::wait_until([&] { w.read_reports(); return w.batches >= 200; }, 60s))
        << w.id << " never got going: " << w.out;
    w.child->signal(SIGKILL);  // unshare --kill-child passes it on to the writer
    (void)w.child->wait(30s);
    w.read_reports();
  }

  // The resource figures of writers the exporter cannot see come from what they published.
  const auto summary = wsm::test::http_get(port, "/api/v1/summary");
  ASSERT_TRUE(summary && summary->status == 200);
  // Reaped (two more intervals), then every total is final.
  const std::uint64_t seen = watch.scrapes_ok();
  std::this_thread::sleep_for(2500ms);
  ASSERT_TRUE(wsm::test::wait_until([&] { return watch.scrapes_ok() > seen + 2; }, 30s));
  watch.stop();
  for (const std::string& v : watch.violations()) ADD_FAILURE() << "scrape: " << v;
  const auto last = watch.last();
  for (std::size_t i = 0; i < writers.size(); ++i) {
    const Writer& w = writers[i];
    const std::string series = "chaos_ops_total{writer=\"" + w.id + "\"}";
    const auto it = last.find(series);
    ASSERT_NE(it, last.end()) << series << " missing from /metrics";
    const auto got = static_cast<std::uint64_t>(it->second);
    if (i < kFinishing) {
      EXPECT_EQ(got, w.counted) << series << " ran to its end";
      continue;
    }
    const wsm::chaos::Batch cut = wsm::chaos::batch(w.seed, w.batches + 1);
    EXPECT_GE(got, w.counted) << series << " (killed): counts were lost";
    EXPECT_LE(got, w.counted + cut.amount * cut.ops()) << series << " (killed): counts were invented";
    EXPECT_EQ((got - w.counted) % cut.amount, 0u) << series << " (killed): not whole ops";
  }
  // The writers published their own figures: the exporter names the source.
  const auto processes = nlohmann::json::parse(summary->body).at("resources").at("processes");
  bool published = false;
  for (const auto& p : processes) published = published || p.value("source", "") == "published";
  EXPECT_TRUE(published) << "no writer's figures came from its process record: " << summary->body;

  exporter.signal(SIGKILL);
  (void)exporter.wait(10s);
}

}  // namespace

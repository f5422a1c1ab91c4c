// The load run: W writer processes record flat out into one segment for S seconds, twice: first
// with nobody scraping, then while a client scrapes wsm-exporter's /metrics every 100 ms (on
// 127.0.0.1). Prints the writers' throughput both times and the scrapes' latency (p50, p99, max);
// exits 1 when a scrape failed or a writer did not report.
//   load_run [--writers W] [--seconds S] [--scrape-ms MS]     (defaults 32, 60, 100)
#include <algorithm>
#include <atomic>
#include <csignal>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"
#include "wsm/shm/segment.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using wsm::test::Child;

struct Options {
  int writers = 32;
  int seconds = 60;
  int scrape_ms = 100;
};

struct Scrapes {
  std::vector<double> ms;  // latency of each successful scrape
  int failed = 0;
  std::size_t bytes = 0;
};

// Runs the writers for the given time; returns the ops they recorded in total (0 if one failed).
std::uint64_t run_writers(const std::string& segment, const Options& o, int round) {
  std::vector<Child> writers;
  for (int w = 0; w < o.writers; ++w) {
    writers.push_back(Child::spawn({wsm::test::bin("chaos_writer"), "flat", segment,
                                    std::to_string(round * 1000 + w), std::to_string(o.seconds)},
                                   {}, true));
  }
  std::uint64_t total = 0;
  bool ok = true;
  for (Child& c : writers) {
    const auto code = c.wait(std::chrono::seconds(o.seconds + 60));
    const std::string out = c.read_stdout();
    if (code != 0 || !out.starts_with("ops ")) {
      std::fprintf(stderr, "load_run: a writer ended with %d and wrote '%s'\n", code.value_or(-1), out.c_str());
      ok = false;
      continue;
    }
    total += std::strtoull(out.c_str() + 4, nullptr, 10);
  }
  return ok ? total : 0;
}

Scrapes scrape_until(int port, const Options& o, const std::atomic<bool>& done) {
  Scrapes s;
  auto next = Clock::now();
  while (!done.load()) {
    std::this_thread::sleep_until(next);
    next += std::chrono::milliseconds(o.scrape_ms);
    const auto start = Clock::now();
    const auto r = wsm::test::http_get(port, "/metrics", {}, std::chrono::seconds(10));
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    if (r && r->status == 200) {
      s.ms.push_back(ms);
      s.bytes = r->body.size();
    } else {
      ++s.failed;
    }
    if (next < Clock::now()) next = Clock::now();  // a slow scrape delays the next, never bunches them
  }
  return s;
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(q * static_cast<double>(v.size()) + 0.999999);
  return v[std::min(v.size(), std::max<std::size_t>(rank, 1)) - 1];
}

int usage() {
  std::fprintf(stderr, "usage: load_run [--writers W (1-512)] [--seconds S (1-3600)] [--scrape-ms MS (10-10000)]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; i += 2) {
    if (i + 1 >= argc) return usage();
    const int v = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--writers") == 0 && v >= 1 && v <= 512) {
      o.writers = v;
    } else if (std::strcmp(argv[i], "--seconds") == 0 && v >= 1 && v <= 3600) {
      o.seconds = v;
    } else if (std::strcmp(argv[i], "--scrape-ms") == 0 && v >= 10 && v <= 10000) {
      o.scrape_ms = v;
    } else {
      return usage();
    }
  }
  wsm::test::SegmentGuard guard(wsm::test::unique_segment_name("load"));
  wsm::shm::Limits limits;
  limits.max_writers = static_cast<std::uint32_t>(2 * o.writers + 8);
  if (auto s = wsm::shm::Segment::create(guard.name(), {limits}); !s) {
    std::fprintf(stderr, "load_run: %s\n", s.error().message().c_str());
    return 1;
  }
  const int port = wsm::test::free_port();
  Child exporter = Child::spawn({wsm::test::bin("wsm-exporter"), "--segment", guard.name(), "--listen",
                                 "127.0.0.1:" + std::to_string(port), "--interval", "1"});
  if (!wsm::test::wait_for_http(port, "/healthz")) {
    std::fprintf(stderr, "load_run: wsm-exporter did not start\n");
    return 1;
  }
  std::printf("load_run: %d writer processes, %d s per round, %u cores; an op is a counter inc and a "
              "histogram record\n", o.writers, o.seconds, std::thread::hardware_concurrency());
  std::fflush(stdout);

  const std::uint64_t quiet = run_writers(guard.name(), o, 1);
  std::atomic<bool> done{false};
  Scrapes scrapes;
  std::thread client([&] { scrapes = scrape_until(port, o, done); });
  const std::uint64_t scraped = run_writers(guard.name(), o, 2);
  done.store(true);
  client.join();
  exporter.signal(SIGTERM);
  const auto exporter_code = exporter.wait(std::chrono::seconds(10));

  const double per_s = static_cast<double>(o.seconds);
  std::printf("load_run: writers without scraping: %.3g ops/s (%.3g per writer)\n",
              static_cast<double>(quiet) / per_s, static_cast<double>(quiet) / per_s / o.writers);
  std::printf("load_run: writers while scraped every %d ms: %.3g ops/s (%.3g per writer), %.1f%% of the above\n",
              o.scrape_ms, static_cast<double>(scraped) / per_s, static_cast<double>(scraped) / per_s / o.writers,
              quiet == 0 ? 0.0 : 100.0 * static_cast<double>(scraped) / static_cast<double>(quiet));
  std::printf("load_run: %zu scrapes answered 200, %d failed; latency p50 %.2f ms, p99 %.2f ms, max %.2f ms; "
              "%zu bytes each\n",
              scrapes.ms.size(), scrapes.failed, percentile(scrapes.ms, 0.5), percentile(scrapes.ms, 0.99),
              percentile(scrapes.ms, 1.0), scrapes.bytes);
  const bool ok = quiet > 0 && scraped > 0 && scrapes.failed == 0 && !scrapes.ms.empty() && exporter_code == 0;
  std::printf("load_run: %s\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}

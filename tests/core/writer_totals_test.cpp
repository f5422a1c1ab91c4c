// K processes x T threads record known amounts through the writer API; after they exit, the
// totals read back (Snapshot + Aggregation, and `wsm dump --json`) are exact, before and after
// the dead writers are folded into the retired arena.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <thread>

#include "forked.hpp"
#include "segment_totals.hpp"
#include "test_support.hpp"
#include "wsm/shm/reaper.hpp"
#include "wsm/writer.hpp"
#ifdef WSM_TEST_WITH_CLI
#include "dump_json.hpp"
#endif

namespace {

using namespace wsm;
using wsm::test::SegmentGuard;

constexpr int kProcesses = 4;
constexpr int kThreads = 4;
constexpr std::uint64_t kIterations = 20000;

// What thread t of process p records at iteration i: a spread of sizes, now and then one above
// 2^max_octave (the top bucket), and latencies from 0 ns to hours.
std::uint64_t size_of(int p, int t, std::uint64_t i) {
  if (i % 4999 == 0) return (std::uint64_t{1} << 41) + i;
  return (i * 2654435761u + static_cast<std::uint64_t>(p * 7 + t)) % (std::uint64_t{1} << 24);
}
std::uint64_t latency_ns(int p, int t, std::uint64_t i) {
  if (i % 7919 == 0) return (std::uint64_t{1} << 45) + i;
  return ((i * 40503u) << (i % 13)) % (std::uint64_t{1} << 36) + static_cast<std::uint64_t>(p + t);
}

std::string role_of(int p) { return p % 2 == 0 ? "doctor" : "nurse"; }

struct Expected {
  std::map<std::string, std::uint64_t> counters;  // by series key
  std::vector<std::uint64_t> sizes;               // every recorded value, sorted
  std::vector<std::uint64_t> latencies;
};

Expected expected() {
  Expected e;
  for (int p = 0; p < kProcesses; ++p) {
    for (int t = 0; t < kThreads; ++t) {
      e.counters[wsm::test::series_key("jobs_total", {{"role", role_of(p)}})] += kIterations * (t + 1);
      e.counters[wsm::test::series_key("ticks_total")] += kIterations;
      for (std::uint64_t i = 0; i < kIterations; ++i) {
        e.sizes.push_back(size_of(p, t, i));
        e.latencies.push_back(latency_ns(p, t, i));
      }
    }
  }
  std::sort(e.sizes.begin(), e.sizes.end());
  std::sort(e.latencies.begin(), e.latencies.end());
  return e;
}

std::uint64_t sum_of(const std::vector<std::uint64_t>& v) {
  std::uint64_t s = 0;
  for (std::uint64_t x : v) s += x;
  return s;
}

// How many recorded values are <= le: what a cumulative `le` bucket must hold, since every
// exposed edge is an exact bucket boundary.
std::uint64_t at_most(const std::vector<std::uint64_t>& sorted, std::uint64_t le) {
  return static_cast<std::uint64_t>(std::upper_bound(sorted.begin(), sorted.end(), le) - sorted.begin());
}

// The forked workers: handles registered once per process, shared by its threads.
void run_workload(const std::string& segment) {
  std::vector<wsm::test::Forked> workers;
  for (int p = 0; p < kProcesses; ++p) {
    workers.push_back(wsm::test::Forked::run([&segment, p] {
      auto reg = Registry::open(segment, {.role = "worker-" + std::to_string(p)});
      if (!reg) return 1;
      const Counter jobs = reg->counter("jobs_total", {{"role", role_of(p)}});
      const Counter ticks = reg->counter("ticks_total");
      const Histogram sizes = reg->histogram("job_size_bytes");
      const Histogram latency = reg->histogram("job_latency_seconds");
      if (reg->last_error()) return 2;
      std::vector<std::thread> threads;
      for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([=] {
          for (std::uint64_t i = 0; i < kIterations; ++i) {
            jobs.inc(static_cast<std::uint64_t>(t + 1));
            ticks.inc();
            sizes.record(size_of(p, t, i));
            latency.record(std::chrono::nanoseconds(latency_ns(p, t, i)));
          }
        });
      }
      for (auto& th : threads) th.join();
      return 0;
    }));
  }
  for (auto& w : workers) ASSERT_EQ(w.wait(), 0);
}

void expect_histogram(const wsm::test::SeriesTotal& h, const std::vector<std::uint64_t>& values,
                      std::uint8_t max_octave, const std::string& what) {
  EXPECT_EQ(h.max_octave, max_octave) << what;
  EXPECT_EQ(h.count, values.size()) << what;
  EXPECT_EQ(h.sum, sum_of(values)) << what;
  const shm::HistogramScheme scheme{max_octave};
  ASSERT_EQ(h.buckets.size(), scheme.bucket_count()) << what;
  std::uint64_t cumulative = 0;
  for (std::uint32_t i = 0; i < scheme.top_index(); ++i) {
    cumulative += h.buckets[i];
    ASSERT_EQ(cumulative, at_most(values, scheme.upper_edge(i))) << what << " le=" << scheme.upper_edge(i);
  }
  EXPECT_EQ(cumulative + h.buckets[scheme.top_index()], values.size()) << what;
  EXPECT_GT(h.buckets[scheme.top_index()], 0u) << what << ": the workload records above 2^max_octave";
}

void expect_exact(const wsm::test::Totals& totals, const Expected& e, const std::string& when) {
  for (const auto& [key, value] : e.counters) {
    ASSERT_EQ(totals.count(key), 1u) << key << " " << when;
    EXPECT_EQ(totals.at(key).counter, value) << key << " " << when;
  }
  expect_histogram(totals.at("job_size_bytes{}"), e.sizes, shm::kMaxOctaveBytes, "sizes " + when);
  expect_histogram(totals.at("job_latency_seconds{}"), e.latencies, shm::kMaxOctaveNanoseconds,
                   "latencies " + when);
}

TEST(WriterTotals, ProcessesTimesThreadsAreExactBeforeAndAfterReaping) {
  SegmentGuard g(wsm::test::unique_segment_name("totals"));
  run_workload(g.name());
  if (HasFatalFailure()) return;
  const Expected e = expected();
  auto segment = shm::Segment::open(g.name());
  ASSERT_TRUE(segment) << segment.error().message();
  auto before = wsm::test::totals_of(*segment);
  ASSERT_TRUE(before) << before.error().message();
  expect_exact(*before, e, "before reaping");

  auto report = shm::Reaper(*segment).reap();
  ASSERT_TRUE(report) << report.error().message();
  // Every thread's slot plus nothing else: the workers recorded no gauges.
  EXPECT_EQ(report->slots_freed, std::uint32_t{kProcesses * kThreads});
  EXPECT_EQ(report->slots_kept, 0u);
  auto after = wsm::test::totals_of(*segment);
  ASSERT_TRUE(after) << after.error().message();
  expect_exact(*after, e, "after reaping");
  auto again = shm::Reaper(*segment).reap();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->words_moved, 0u) << "a second reap must find nothing left to fold";
  EXPECT_EQ(segment->header().cells_dropped.load(), 0u);
  EXPECT_EQ(segment->header().writers_dropped.load(), 0u);
}

#ifdef WSM_TEST_WITH_CLI
void expect_dump_histogram(const nlohmann::json& s, const std::vector<std::uint64_t>& values,
                           double unit, const std::string& what) {
  ASSERT_EQ(s["type"], "histogram") << what;
  EXPECT_EQ(s["count"].get<std::uint64_t>(), values.size()) << what;
  const double sum = static_cast<double>(sum_of(values)) / unit;
  EXPECT_NEAR(s["sum"].get<double>(), sum, sum * 1e-12) << what;
  const auto& buckets = s["buckets"];
  ASSERT_GE(buckets.size(), 2u) << what;
  double previous = -1;
  for (std::size_t k = 0; k + 1 < buckets.size(); ++k) {
    const double le = buckets[k][0].get<double>();
    EXPECT_GT(le, previous) << what;
    previous = le;
    const auto le_integer = static_cast<std::uint64_t>(std::llround(le * unit));
    EXPECT_EQ(buckets[k][1].get<std::uint64_t>(), at_most(values, le_integer)) << what << " le=" << le;
  }
  EXPECT_EQ(buckets.back()[0], "+Inf") << what;
  EXPECT_EQ(buckets.back()[1].get<std::uint64_t>(), values.size()) << what;
}

void expect_dump_exact(const std::string& segment, const Expected& e, const std::string& when) {
  auto dump = wsm::test::dump_json(segment);
  ASSERT_TRUE(dump) << dump.error().message();
  EXPECT_EQ(dump->document["segment"], segment);
  for (const auto& [key, value] : e.counters) {
    ASSERT_EQ(dump->series.count(key), 1u) << key << " " << when;
    EXPECT_EQ(dump->series[key]["type"], "counter");
    EXPECT_EQ(dump->series[key]["value"].get<std::uint64_t>(), value) << key << " " << when;
  }
  expect_dump_histogram(dump->series["job_size_bytes{}"], e.sizes, 1, "sizes " + when);
  expect_dump_histogram(dump->series["job_latency_seconds{}"], e.latencies, 1e9, "latencies " + when);
}

TEST(WriterTotals, WsmDumpShowsTheSameExactTotals) {
  SegmentGuard g(wsm::test::unique_segment_name("dump"));
  run_workload(g.name());
  if (HasFatalFailure()) return;
  const Expected e = expected();
  expect_dump_exact(g.name(), e, "before reaping");
  const auto reaped = wsm::test::run({wsm::test::bin("wsm"), "reap", g.name()});
  ASSERT_EQ(reaped.exit_code, 0) << reaped.err;
  expect_dump_exact(g.name(), e, "after `wsm reap`");
}
#endif

}  // namespace

// Writers killed with SIGKILL mid-run lose nothing they had recorded. Each writer counts in
// batches and, after each batch, reports its running count through a pipe; the parent kills
// writers at random moments, reaps, and checks every writer's count lies between its last report
// and that plus one batch (and is exact for the writer that ran to the end).
#include <gtest/gtest.h>

#include <poll.h>
#include <random>
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

constexpr int kWriters = 6;
constexpr std::uint64_t kBatch = 1000;
// The survivor's whole run; its reports (8 bytes each, 40 KB) fit in a pipe's 64 KiB, so it never
// blocks while the parent waits for it without reading.
constexpr std::uint64_t kMaxBatches = 5000;
constexpr std::uint64_t kValue = 3;  // every histogram record, so its sum is 3 x its count

struct Outcome {
  pid_t pid = 0;
  std::uint64_t last_report = 0;
  bool killed = false;
};

// Runs the writers, kills all but the last one at random moments, returns what each reported.
// The victims record until they are killed (however fast recording gets, none finishes before its
// kill); the last writer, the survivor, stops after kMaxBatches.
std::vector<Outcome> run_and_kill(const std::string& segment, unsigned seed) {
  std::vector<std::unique_ptr<wsm::test::Pipe>> reports;
  std::vector<wsm::test::Forked> writers;
  for (int w = 0; w < kWriters; ++w) {
    reports.push_back(std::make_unique<wsm::test::Pipe>());
    auto& report = *reports.back();
    writers.push_back(wsm::test::Forked::run([&segment, &report, w] {
      auto reg = Registry::open(segment);
      if (!reg) return 1;
      const Counter sent = reg->counter("messages_sent_total", {{"writer", std::to_string(w)}});
      const Counter all = reg->counter("messages_all_total");
      const Histogram size = reg->histogram("message_size_bytes");
      const bool survivor = w + 1 == kWriters;
      for (std::uint64_t b = 1; !survivor || b <= kMaxBatches; ++b) {
        for (std::uint64_t i = 0; i < kBatch; ++i) {
          sent.inc();
          all.inc();
          size.record(kValue);
        }
        report.send(b * kBatch);  // everything up to here is recorded
      }
      return 0;
    }));
    reports.back()->close_write();
  }
  std::mt19937 rng(seed);
  std::vector<Outcome> out(kWriters);
  for (int w = 0; w < kWriters; ++w) out[w].pid = writers[w].pid();
  // Kill the first kWriters-1 in random order, each once it has reported a random number of
  // batches (in the first half of its run: the kill lands mid-run), reading every pipe meanwhile
  // so no writer ever blocks on a full one.
  std::vector<int> victims;
  for (int w = 0; w + 1 < kWriters; ++w) victims.push_back(w);
  std::shuffle(victims.begin(), victims.end(), rng);
  for (int victim : victims) {
    const std::uint64_t threshold = (1 + rng() % (kMaxBatches / 2)) * kBatch;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);  // a writer that died early
    while (out[victim].last_report < threshold && std::chrono::steady_clock::now() < give_up) {
      for (int w = 0; w < kWriters; ++w) {
        for (std::uint64_t v : reports[w]->receive_available()) out[w].last_report = v;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    writers[victim].kill(SIGKILL);
  }
  for (int w = 0; w < kWriters; ++w) {
    const auto code = writers[w].wait();
    EXPECT_TRUE(code.has_value()) << "writer " << w << " did not end";
    out[w].killed = code == 128 + SIGKILL;
    EXPECT_EQ(code, w + 1 == kWriters ? 0 : 128 + SIGKILL) << "writer " << w;
    for (std::uint64_t v : reports[w]->receive_all()) out[w].last_report = v;
  }
  return out;
}

void expect_within_reports(const wsm::test::Totals& totals, const std::vector<Outcome>& outcomes,
                           const std::string& when) {
  std::uint64_t reported = 0, slack = 0;
  for (int w = 0; w < kWriters; ++w) {
    const Outcome& o = outcomes[w];
    const std::string key = wsm::test::series_key("messages_sent_total", {{"writer", std::to_string(w)}});
    const std::uint64_t got = totals.count(key) ? totals.at(key).counter : 0;
    if (o.killed) {
      EXPECT_GE(got, o.last_report) << key << " lost counts " << when;
      EXPECT_LE(got, o.last_report + kBatch) << key << " " << when;
      slack += kBatch;
    } else {
      EXPECT_EQ(got, kMaxBatches * kBatch) << key << " " << when;
      EXPECT_EQ(o.last_report, kMaxBatches * kBatch) << key;
    }
    reported += o.last_report;
  }
  const std::uint64_t all = totals.at("messages_all_total{}").counter;
  EXPECT_GE(all, reported) << when;
  EXPECT_LE(all, reported + slack) << when;
  const auto& size = totals.at("message_size_bytes{}");
  EXPECT_GE(size.count, reported) << when;
  EXPECT_LE(size.count, reported + slack) << when;
  // A kill between the sum and the bucket update may leave one value in the sum only.
  EXPECT_GE(size.sum, kValue * size.count) << when;
  EXPECT_LE(size.sum, kValue * (size.count + kWriters)) << when;
}

TEST(KilledWriters, LoseNothingTheyHadRecorded) {
  for (unsigned round = 0; round < 3; ++round) {
    SegmentGuard g(wsm::test::unique_segment_name("kill"));
    const auto outcomes = run_and_kill(g.name(), round + 1);
    if (HasFailure()) return;
    auto segment = shm::Segment::open(g.name());
    ASSERT_TRUE(segment) << segment.error().message();
    // Per writer, in its own (dead) slot, before any reaping.
    for (int w = 0; w < kWriters; ++w) {
      const std::string key = wsm::test::series_key("messages_sent_total", {{"writer", std::to_string(w)}});
      auto cells = wsm::test::counter_by_pid(*segment, key);
      ASSERT_TRUE(cells);
      for (const auto& [pid, count] : *cells) EXPECT_EQ(pid, outcomes[w].pid) << key;
    }
    auto before = wsm::test::totals_of(*segment);
    ASSERT_TRUE(before) << before.error().message();
    expect_within_reports(*before, outcomes, "before reaping");

    auto report = shm::Reaper(*segment).reap();
    ASSERT_TRUE(report) << report.error().message();
    EXPECT_EQ(report->slots_kept, 0u);
    auto after = wsm::test::totals_of(*segment);
    ASSERT_TRUE(after) << after.error().message();
    expect_within_reports(*after, outcomes, "after reaping");
    for (const auto& [key, t] : *before) {
      EXPECT_EQ(after->at(key).counter, t.counter) << key << ": reaping changed a total";
      EXPECT_EQ(after->at(key).count, t.count) << key;
      EXPECT_EQ(after->at(key).sum, t.sum) << key;
      EXPECT_EQ(after->at(key).buckets, t.buckets) << key;
    }
#ifdef WSM_TEST_WITH_CLI
    auto dump = wsm::test::dump_json(g.name());
    ASSERT_TRUE(dump) << dump.error().message();
    for (const auto& [key, t] : *after) {
      ASSERT_EQ(dump->series.count(key), 1u) << key;
      if (t.type == shm::MetricType::counter) {
        EXPECT_EQ(dump->series[key]["value"].get<std::uint64_t>(), t.counter) << key;
      } else {
        EXPECT_EQ(dump->series[key]["count"].get<std::uint64_t>(), t.count) << key;
      }
    }
#endif
  }
}

}  // namespace

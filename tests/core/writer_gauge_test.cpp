// Gauges: per-process cells combined by the family's mode over live processes only.
#include <gtest/gtest.h>

#include <thread>

#include "forked.hpp"
#include "segment_totals.hpp"
#include "test_support.hpp"
#include "wsm/writer.hpp"

namespace {

using namespace wsm;
using wsm::test::SegmentGuard;

struct Mode {
  const char* name;
  GaugeMode mode;
};
constexpr Mode kModes[] = {{"level_sum", GaugeMode::sum},   {"level_max", GaugeMode::max},
                           {"level_min", GaugeMode::min},   {"level_last", GaugeMode::last},
                           {"level_each", GaugeMode::per_writer}};

// One gauge process: sets every mode's gauge to `value` when `set` opens, reports, then stays
// alive (its gauges count) until `leave` opens.
int gauge_process(const std::string& segment, double value, wsm::test::StartGate& set,
                  wsm::test::StartGate& leave, wsm::test::Pipe& done) {
  auto reg = Registry::open(segment);
  if (!reg) return 1;
  std::vector<Gauge> gauges;
  for (const Mode& m : kModes) gauges.push_back(reg->gauge(m.name, {}, "", m.mode));
  if (reg->last_error()) return 2;
  set.wait();
  for (const Gauge& g : gauges) g.set(value);
  done.send(static_cast<std::uint64_t>(::getpid()));
  leave.wait();
  return 0;
}

TEST(WriterGauges, ModesCombineLiveProcessesAndForgetDeadOnes) {
  SegmentGuard g(wsm::test::unique_segment_name("gauges"));
  ASSERT_TRUE(shm::Segment::open_or_create(g.name(), {}));
  const double values[] = {5, -2, 11};
  std::vector<std::unique_ptr<wsm::test::StartGate>> set, leave;
  wsm::test::Pipe done;
  std::vector<wsm::test::Forked> procs;
  for (double v : values) {
    set.push_back(std::make_unique<wsm::test::StartGate>());
    leave.push_back(std::make_unique<wsm::test::StartGate>());
    auto& s = *set.back();
    auto& l = *leave.back();
    procs.push_back(wsm::test::Forked::run([&, v] { return gauge_process(g.name(), v, s, l, done); }));
  }
  // Sets happen in process order, each after the previous one reported: "last" is process 2.
  for (auto& s : set) {
    s->open();
    ASSERT_TRUE(done.receive());
  }
  auto level = [&](const char* name, pid_t worker = -1) -> std::optional<double> {
    auto t = wsm::test::totals_of(g.name());
    if (!t) return std::nullopt;
    auto it = t->find(wsm::test::series_key(name, {}, worker));
    if (it == t->end()) return std::nullopt;
    return it->second.gauge;
  };
  EXPECT_EQ(level("level_sum"), 14);
  EXPECT_EQ(level("level_max"), 11);
  EXPECT_EQ(level("level_min"), -2);
  EXPECT_EQ(level("level_last"), 11);
  for (std::size_t k = 0; k < procs.size(); ++k) EXPECT_EQ(level("level_each", procs[k].pid()), values[k]);

  // Process 2 exits normally: its levels go with it.
  leave[2]->open();
  ASSERT_EQ(procs[2].wait(), 0);
  EXPECT_EQ(level("level_sum"), 3);
  EXPECT_EQ(level("level_max"), 5);
  EXPECT_EQ(level("level_min"), -2);
  EXPECT_EQ(level("level_last"), -2);
  EXPECT_EQ(level("level_each", procs[2].pid()), std::nullopt);
  EXPECT_EQ(level("level_each", procs[0].pid()), 5);

  // Process 1 is killed: the same.
  procs[1].kill();
  ASSERT_EQ(procs[1].wait(), 128 + SIGKILL);
  EXPECT_EQ(level("level_sum"), 5);
  EXPECT_EQ(level("level_min"), 5);
  EXPECT_EQ(level("level_last"), 5);
  EXPECT_EQ(level("level_each", procs[1].pid()), std::nullopt);

  leave[0]->open();
  ASSERT_EQ(procs[0].wait(), 0);
  EXPECT_EQ(level("level_sum"), 0) << "no live process: the series shows no level";
  EXPECT_EQ(level("level_each", procs[0].pid()), std::nullopt);
}

// Threads of one process share its gauge cell: concurrent adds and subs are all kept.
TEST(WriterGauges, ConcurrentAddsFromThreadsAreAllKept) {
  SegmentGuard g(wsm::test::unique_segment_name("gadd"));
  auto reg = Registry::open(g.name());
  ASSERT_TRUE(reg);
  const Gauge active = reg->gauge("connections_active");
  constexpr int kThreads = 4;
  constexpr int kAdds = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kAdds; ++i) {
        active.inc();
        if (i % 2 == 0) active.dec();
      }
      active.add(0.5);
    });
  }
  for (auto& t : threads) t.join();
  auto totals = wsm::test::totals_of(g.name());
  ASSERT_TRUE(totals);
  EXPECT_EQ(totals->at("connections_active{}").gauge, kThreads * (kAdds / 2 + 0.5));
  active.set(-3);
  totals = wsm::test::totals_of(g.name());
  ASSERT_TRUE(totals);
  EXPECT_EQ(totals->at("connections_active{}").gauge, -3);
}

}  // namespace

// The writer API around its record path: fork, thread exit, disabled monitoring, bad names, and
// running out of writer slots or arena room.
#include <gtest/gtest.h>

#include <cstdlib>
#include <latch>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include "forked.hpp"
#include "segment_totals.hpp"
#include "test_limits.hpp"
#include "test_support.hpp"
#include "wsm/shm/reaper.hpp"
#include "wsm/shm/snapshot.hpp"
#include "wsm/writer.hpp"

namespace {

using namespace wsm;
using wsm::test::SegmentGuard;

bool segment_file_exists(const std::string& name) {
  struct stat st{};
  return ::stat(("/dev/shm/wsm." + name).c_str(), &st) == 0;
}

std::map<pid_t, std::uint64_t> by_pid(const std::string& segment, const std::string& key) {
  auto s = shm::Segment::open(segment, {shm::Access::read_only});
  if (!s) return {};
  auto r = wsm::test::counter_by_pid(*s, key);
  return r ? *r : std::map<pid_t, std::uint64_t>{};
}

// Pre-fork servers register in the parent and record in the children: a child must never write
// into the parent's writer slot or gauge cells.
TEST(WriterFork, HandlesFromBeforeForkRecordIntoTheChildsOwnSlot) {
  SegmentGuard g(wsm::test::unique_segment_name("fork"));
  auto reg = Registry::open(g.name());
  ASSERT_TRUE(reg);
  const Counter used = reg->counter("requests_total", {{"kind", "used_before_fork"}});
  const Counter fresh = reg->counter("requests_total", {{"kind", "unused_before_fork"}});
  const Gauge level = reg->gauge("workers_busy", {}, "", GaugeMode::per_writer);
  used.inc(5);
  level.set(5);
  const pid_t parent = ::getpid();

  wsm::test::StartGate leave;
  wsm::test::Pipe ready;
  auto child = wsm::test::Forked::run([&] {
    used.inc(7);
    fresh.inc(3);
    level.add(1);
    ready.send(1);
    leave.wait();
    return 0;
  });
  ASSERT_TRUE(ready.receive());
  used.inc(1);  // the parent goes on recording into its own cell

  const std::string used_key = wsm::test::series_key("requests_total", {{"kind", "used_before_fork"}});
  const std::string fresh_key = wsm::test::series_key("requests_total", {{"kind", "unused_before_fork"}});
  auto used_cells = by_pid(g.name(), used_key);
  EXPECT_EQ(used_cells[parent], 6u);
  EXPECT_EQ(used_cells[child.pid()], 7u);
  auto fresh_cells = by_pid(g.name(), fresh_key);
  EXPECT_EQ(fresh_cells.count(parent), 0u);
  EXPECT_EQ(fresh_cells[child.pid()], 3u);
  auto totals = wsm::test::totals_of(g.name());
  ASSERT_TRUE(totals);
  EXPECT_EQ(totals->at(wsm::test::series_key("workers_busy", {}, parent)).gauge, 5);
  EXPECT_EQ(totals->at(wsm::test::series_key("workers_busy", {}, child.pid())).gauge, 1);

  leave.open();
  ASSERT_EQ(child.wait(), 0);
  totals = wsm::test::totals_of(g.name());
  ASSERT_TRUE(totals);
  EXPECT_EQ(totals->at(used_key).counter, 13u);
  EXPECT_EQ(totals->at(fresh_key).counter, 3u);
  EXPECT_EQ(totals->count(wsm::test::series_key("workers_busy", {}, child.pid())), 0u);
}

// fork() while another thread registers (and so holds the process's registration lock) must not
// hand the child a lock nobody will release, even if no thread has recorded anything yet.
TEST(WriterFork, ForkWhileAnotherThreadRegistersNeverDeadlocksTheChild) {
  SegmentGuard g(wsm::test::unique_segment_name("forklock"));
  auto reg = Registry::open(g.name());
  ASSERT_TRUE(reg);
  std::atomic<bool> stop{false};
  std::thread registrar([&] {
    for (int k = 0; !stop.load(); ++k) (void)reg->counter("churn_total", {{"k", std::to_string(k % 64)}});
  });
  int stuck = 0;
  for (int i = 0; i < 200 && stuck == 0; ++i) {
    auto child = wsm::test::Forked::run([&] {
      reg->counter("child_total").inc();
      return 0;
    });
    // A deadlocked child never ends; a slow one (a loaded machine, a sanitizer build) does.
    const auto code = child.wait(std::chrono::seconds(60));
    if (!code) {
      ++stuck;
    } else {
      EXPECT_EQ(code, 0);
    }
  }
  stop.store(true);
  registrar.join();
  EXPECT_EQ(stuck, 0) << "a child forked during a registration never got the registration lock";
}

// A thread that exits detaches its slot; the reaper folds it into the retired arena, nothing lost,
// and the slot serves the next thread.
TEST(WriterThreads, ThreadExitDetachesAndTheReaperFoldsWithoutLoss) {
  SegmentGuard g(wsm::test::unique_segment_name("thread"));
  auto reg = Registry::open(g.name());
  ASSERT_TRUE(reg);
  const Counter jobs = reg->counter("jobs_total");
  const Histogram sizes = reg->histogram("job_size_bytes");
  pid_t tid = 0;
  std::thread([&] {
    tid = ::gettid();
    jobs.inc(1000);
    sizes.record(4096);
  }).join();

  auto segment = shm::Segment::open(g.name());
  ASSERT_TRUE(segment);
  shm::CatalogView catalog;
  auto snap = shm::Snapshot::take(*segment, catalog);
  ASSERT_TRUE(snap);
  ASSERT_EQ(snap->writers.size(), 1u);
  EXPECT_EQ(snap->writers[0].state, shm::SlotState::detached);
  EXPECT_EQ(snap->writers[0].tid, static_cast<std::uint32_t>(tid));
  EXPECT_EQ(snap->writers[0].pid, ::getpid());
  const std::uint64_t tenant = snap->writers[0].tenant;

  auto report = shm::Reaper(*segment).reap();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->slots_freed, 1u);
  auto totals = wsm::test::totals_of(*segment);
  ASSERT_TRUE(totals);
  EXPECT_EQ(totals->at("jobs_total{}").counter, 1000u);
  EXPECT_EQ(totals->at("job_size_bytes{}").count, 1u);
  EXPECT_EQ(totals->at("job_size_bytes{}").sum, 4096u);
  EXPECT_EQ(by_pid(g.name(), "jobs_total{}"), (std::map<pid_t, std::uint64_t>{{0, 1000}}));

  std::thread([&] { jobs.inc(500); }).join();
  totals = wsm::test::totals_of(*segment);
  ASSERT_TRUE(totals);
  EXPECT_EQ(totals->at("jobs_total{}").counter, 1500u);
  auto later = shm::Snapshot::take(*segment, catalog);
  ASSERT_TRUE(later);
  ASSERT_EQ(later->writers.size(), 1u);
  EXPECT_EQ(later->writers[0].slot, snap->writers[0].slot) << "the freed slot is reused";
  EXPECT_GT(later->writers[0].tenant, tenant) << "a new tenant, as readers must tell";
}

// heartbeat() stamps the calling thread's slot (and its process's gauge slot), not another
// thread's, and is safe while other threads of the process claim and give up slots.
TEST(WriterThreads, HeartbeatMarksTheCallersSlotWhileThreadsComeAndGo) {
  SegmentGuard g(wsm::test::unique_segment_name("beat"));
  auto reg = Registry::open(g.name());
  ASSERT_TRUE(reg);
  const Counter jobs = reg->counter("jobs_total");
  jobs.inc();  // this thread's slot
  auto segment = shm::Segment::open(g.name(), {shm::Access::read_only});
  ASSERT_TRUE(segment);
  auto beat_of = [&](pid_t tid) -> std::uint64_t {
    shm::CatalogView catalog;
    auto snap = shm::Snapshot::take(*segment, catalog);
    if (!snap) return 0;
    for (const auto& w : snap->writers) {
      if (w.tid == static_cast<std::uint32_t>(tid) && w.state == shm::SlotState::active) return w.heartbeat_ns;
    }
    return 0;
  };
  const pid_t me = ::gettid();
  const std::uint64_t first = beat_of(me);
  ASSERT_NE(first, 0u);

  std::atomic<bool> stop{false};
  std::thread beater([&] {
    while (!stop.load()) reg->heartbeat();
  });
  for (int k = 0; k < 50; ++k) std::thread([&] { jobs.inc(); }).join();
  stop.store(true);
  beater.join();
  EXPECT_EQ(beat_of(me), first) << "another thread's heartbeat stamped this thread's slot";
  reg->heartbeat();
  EXPECT_GT(beat_of(me), first);
  auto totals = wsm::test::totals_of(*segment);
  ASSERT_TRUE(totals);
  EXPECT_EQ(totals->at("jobs_total{}").counter, 51u);
}

class WriterEnvironment : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* v = std::getenv("WEBSOCKET_MONITORING_ENABLED")) saved_ = v;
  }
  void TearDown() override {
    if (saved_) {
      ::setenv("WEBSOCKET_MONITORING_ENABLED", saved_->c_str(), 1);
    } else {
      ::unsetenv("WEBSOCKET_MONITORING_ENABLED");
    }
  }
  std::optional<std::string> saved_;
};

TEST_F(WriterEnvironment, MonitoringDisabledMakesSinksAndNoSegment) {
  for (const char* off : {"false", "0", "off", "no", "FALSE", "Off"}) {
    ::setenv("WEBSOCKET_MONITORING_ENABLED", off, 1);
    SegmentGuard g(wsm::test::unique_segment_name("off"));
    auto reg = Registry::open(g.name());
    ASSERT_TRUE(reg) << off;
    EXPECT_FALSE(reg->enabled()) << off;
    reg->counter("jobs_total").inc(3);
    reg->gauge("level").set(2);
    reg->histogram("job_latency_seconds").record(std::chrono::milliseconds(5));
    reg->heartbeat();
    auto c = reg->try_counter("bad name");
    EXPECT_TRUE(c) << "a disabled registry validates nothing and fails nothing";
    EXPECT_FALSE(reg->last_error().has_value());
    EXPECT_FALSE(segment_file_exists(g.name())) << off;
  }
  // The option beats the environment, both ways.
  SegmentGuard on(wsm::test::unique_segment_name("on"));
  auto forced = Registry::open(on.name(), {.enabled = true});
  ASSERT_TRUE(forced);
  EXPECT_TRUE(forced->enabled());
  EXPECT_TRUE(segment_file_exists(on.name()));
  ::setenv("WEBSOCKET_MONITORING_ENABLED", "true", 1);
  SegmentGuard off(wsm::test::unique_segment_name("off"));
  auto disabled = Registry::open(off.name(), {.enabled = false});
  ASSERT_TRUE(disabled);
  EXPECT_FALSE(disabled->enabled());
  EXPECT_FALSE(segment_file_exists(off.name()));
}

TEST_F(WriterEnvironment, AnythingButAnOffWordKeepsMonitoringOn) {
  for (const char* on : {"true", "1", "yes", "on", ""}) {
    ::setenv("WEBSOCKET_MONITORING_ENABLED", on, 1);
    SegmentGuard g(wsm::test::unique_segment_name("on"));
    auto reg = Registry::open(g.name());
    ASSERT_TRUE(reg);
    EXPECT_TRUE(reg->enabled()) << "'" << on << "'";
    EXPECT_TRUE(segment_file_exists(g.name()));
  }
}

TEST(WriterErrors, BadNamesGiveSinksAndSayWhy) {
  SegmentGuard g(wsm::test::unique_segment_name("bad"));
  auto reg = Registry::open(g.name());
  ASSERT_TRUE(reg);
  EXPECT_FALSE(reg->last_error().has_value());

  reg->counter("bad-name").inc();
  ASSERT_TRUE(reg->last_error().has_value());
  EXPECT_EQ(reg->last_error()->code(), Errc::invalid_argument);
  EXPECT_NE(reg->last_error()->message().find("bad-name"), std::string::npos);

  auto expect_refused = [&](auto result, Errc code, const std::string& says) {
    ASSERT_FALSE(result) << says;
    EXPECT_EQ(result.error().code(), code) << result.error().message();
    EXPECT_NE(result.error().message().find(says), std::string::npos) << result.error().message();
  };
  expect_refused(reg->try_counter("bad-name"), Errc::invalid_argument, "bad-name");
  expect_refused(reg->try_counter("ok_total", {{"__x", "1"}}), Errc::invalid_argument, "__x");
  expect_refused(reg->try_counter("ok_total", {{"a", "1"}, {"a", "2"}}), Errc::invalid_argument, "'a'");
  expect_refused(reg->try_gauge("ok", {{"bad-label", "1"}}), Errc::invalid_argument, "bad-label");
  expect_refused(reg->try_histogram("ok_seconds", {{"le", "1"}}), Errc::invalid_argument, "'le'");
  expect_refused(reg->try_counter("le_total", {{"le", "1"}}), Errc::invalid_argument, "'le'");

  ASSERT_TRUE(reg->try_counter("clash_total"));
  expect_refused(reg->try_gauge("clash_total"), Errc::type_mismatch, "clash_total");
  const Gauge sink = reg->gauge("clash_total");
  sink.set(5);
  EXPECT_EQ(reg->last_error()->code(), Errc::type_mismatch);

  // Sinks and default handles record nowhere and never fail.
  Counter{}.inc();
  Gauge{}.add(1);
  Histogram{}.record(5);
  auto totals = wsm::test::totals_of(g.name());
  ASSERT_TRUE(totals);
  for (const auto& [key, t] : *totals) {
    EXPECT_EQ(key.find("bad"), std::string::npos) << key;
    if (key.starts_with("clash_total")) {
      EXPECT_EQ(t.counter, 0u);
    }
  }
}

TEST(WriterRegistry, OpeningTwiceGivesTheSameSegment) {
  SegmentGuard g(wsm::test::unique_segment_name("twice"));
  auto a = Registry::open(g.name());
  auto b = Registry::open(g.name(), {.limits = {.max_writers = 1}});  // limits of a later open: ignored
  ASSERT_TRUE(a && b);
  a->counter("jobs_total").inc(2);
  b->counter("jobs_total").inc(3);
  auto totals = wsm::test::totals_of(g.name());
  ASSERT_TRUE(totals);
  EXPECT_EQ(totals->at("jobs_total{}").counter, 5u);
}

// No free writer slot: the thread records into its sink, the drop is counted, others go on.
TEST(WriterLimits, ThreadsBeyondTheWriterSlotsAreDroppedAndCounted) {
  SegmentGuard g(wsm::test::unique_segment_name("slots"));
  shm::Limits limits = wsm::test::small_limits();
  limits.max_writers = 2;
  auto reg = Registry::open(g.name(), {.limits = limits});
  ASSERT_TRUE(reg);
  const Counter jobs = reg->counter("jobs_total");
  std::latch recorded(3), finish(1);
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] {
      jobs.inc(10);
      recorded.count_down();
      finish.wait();  // hold the slot until all three have tried
    });
  }
  recorded.wait();
  auto segment = shm::Segment::open(g.name());
  ASSERT_TRUE(segment);
  EXPECT_EQ(segment->header().writers_dropped.load(), 1u);
  auto totals = wsm::test::totals_of(*segment);
  ASSERT_TRUE(totals);
  EXPECT_EQ(totals->at("jobs_total{}").counter, 20u);
  finish.count_down();
  for (auto& t : threads) t.join();
  EXPECT_TRUE(reg->last_error().has_value());
  EXPECT_EQ(reg->last_error()->code(), Errc::full);
}

// No room in a writer's arena: new cells go to the sink, the drop is counted, old cells go on.
TEST(WriterLimits, CellsBeyondTheArenaAreDroppedAndCounted) {
  SegmentGuard g(wsm::test::unique_segment_name("arena"));
  shm::Limits limits = wsm::test::small_limits();
  limits.arena_bytes = 4096;
  auto reg = Registry::open(g.name(), {.limits = limits});
  ASSERT_TRUE(reg);
  // A bytes histogram cell is about 2.5 KiB: the second one does not fit a 4 KiB arena.
  const Histogram first = reg->histogram("a_bytes");
  const Histogram second = reg->histogram("b_bytes");
  const Counter small = reg->counter("c_total");
  std::thread([&] {
    first.record(10);
    second.record(20);
    second.record(30);
    small.inc();
    first.record(10);
  }).join();
  auto segment = shm::Segment::open(g.name());
  ASSERT_TRUE(segment);
  EXPECT_EQ(segment->header().cells_dropped.load(), 1u);
  auto totals = wsm::test::totals_of(*segment);
  ASSERT_TRUE(totals);
  EXPECT_EQ(totals->at("a_bytes{}").count, 2u);
  EXPECT_EQ(totals->at("b_bytes{}").count, 0u);
  EXPECT_EQ(totals->at("c_total{}").counter, 1u);
}

}  // namespace

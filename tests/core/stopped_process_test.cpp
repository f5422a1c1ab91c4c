// A stopped process is alive, and nobody waits for it (issue: "nothing waits on a stopped
// process"). A reaper stopped (SIGSTOP) in the middle of a word move, holding the reap lock, and a
// registrant stopped between claiming a catalog entry and publishing it: the other writers go on
// without waiting or losing a count, readers read exact totals, and the lock's holder is named.
// The stops land at the exact points through test points (test_points.hpp: test builds only).
#include <gtest/gtest.h>

#include <csignal>
#include <sys/wait.h>

#include "forked.hpp"
#include "segment_totals.hpp"
#include "test_support.hpp"
#include "wsm/shm/aggregation.hpp"
#include "wsm/shm/catalog_view.hpp"
#include "wsm/shm/reaper.hpp"
#include "wsm/shm/snapshot.hpp"
#include "wsm/shm/test_points.hpp"
#include "wsm/writer.hpp"

namespace {

using namespace wsm;
using wsm::test::Forked;
using wsm::test::SegmentGuard;
namespace tp = shm::test_points;

#define SKIP_WITHOUT_TEST_POINTS() \
  if (!tp::compiled()) GTEST_SKIP() << "needs test points: configure with -DWSM_TEST_POINTS=ON (scripts/test does)"

constexpr std::uint64_t kCounts = 20'001;

// Blocks until the child has stopped itself (SIGSTOP at its test point); false if it ended instead.
bool wait_stopped(const Forked& child) {
  int status = 0;
  return ::waitpid(child.pid(), &status, WUNTRACED) == child.pid() && WIFSTOPPED(status);
}

// A writer process that registers `name{writer=id}` and adds kCounts to it, then exits normally.
Forked counting_writer(const std::string& segment, const std::string& id) {
  return Forked::run([segment, id] {
    auto reg = Registry::open(segment);
    if (!reg) return 1;
    auto c = reg->try_counter("jobs_total", {{"writer", id}});
    if (!c) return 2;
    for (std::uint64_t i = 0; i < kCounts; ++i) c->inc();
    return 0;
  });
}

// Every entry of `name{labels}` summed: a registrant that stepped over a stopped one's entry
// registered the same key beside it, and both entries count.
std::uint64_t counter_total(const shm::Segment& segment, std::string_view name, std::string_view labels) {
  shm::CatalogView catalog;
  auto snap = shm::Snapshot::take(segment, catalog);
  EXPECT_TRUE(snap) << snap.error().message();
  if (!snap) return 0;
  std::uint64_t total = 0;
  for (const shm::Point& p : shm::Aggregation::of(catalog, *snap).points) {
    if (p.family->name == name && p.series->labels == labels) total += p.counter;
  }
  return total;
}

TEST(StoppedReaper, MidMoveCostsWritersAndReadersNothing) {
  SKIP_WITHOUT_TEST_POINTS();
  SegmentGuard g(wsm::test::unique_segment_name("stopped-reaper"));
  shm::Limits limits;
  limits.max_writers = 4;  // the old writers below take every slot
  auto segment = shm::Segment::create(g.name(), {limits});
  ASSERT_TRUE(segment);
  // Writers that ran and died: every slot waits to be folded.
  for (int w = 0; w < 4; ++w) ASSERT_EQ(counting_writer(g.name(), "old" + std::to_string(w)).wait(), 0);

  // A reaper stops in its third word move, holding the reap lock with the move half done.
  Forked reaper = Forked::run([&] {
    auto s = shm::Segment::open(g.name());
    if (!s) return 1;
    tp::arm(tp::Point::reaper_mid_move, tp::Action::stop, 3);
    return shm::Reaper(*s).reap() ? 0 : 2;
  });
  ASSERT_TRUE(wait_stopped(reaper)) << "the reaper did not stop at its test point";
  ASSERT_EQ(shm::reap_lock_holder(*segment), shm::Liveness::alive);
  ASSERT_EQ(segment->header().fold_moves.load() % 2, 1u) << "stopped outside a move";

  // New writers: no slot is free and the reap lock is taken, so their first records take over dead
  // writers' slots as they are; nothing waits for the stopped reaper and nothing goes to a sink.
  for (int w = 0; w < 4; ++w) ASSERT_EQ(counting_writer(g.name(), "new" + std::to_string(w)).wait(), 0);
  EXPECT_EQ(segment->header().writers_dropped.load(), 0u) << "a writer recorded into a sink";
  // Readers read exact totals across the half-done move (the journal repairs it).
  for (int w = 0; w < 4; ++w) {
    EXPECT_EQ(counter_total(*segment, "jobs_total", "writer=\"old" + std::to_string(w) + "\""), kCounts) << w;
    EXPECT_EQ(counter_total(*segment, "jobs_total", "writer=\"new" + std::to_string(w) + "\""), kCounts) << w;
  }
  // Another reaper gives up at once and says who holds the lock: a live process, by its pid.
  auto busy = shm::Reaper(*segment, std::chrono::milliseconds(0)).reap();
  ASSERT_FALSE(busy);
  EXPECT_EQ(busy.error().code(), Errc::busy);
  EXPECT_NE(busy.error().message().find("pid " + std::to_string(reaper.pid())), std::string::npos)
      << busy.error().message();

  reaper.kill(SIGCONT);
  EXPECT_EQ(reaper.wait(), 0);
  auto folded = shm::Reaper(*segment).reap();  // the new writers' slots too
  ASSERT_TRUE(folded) << folded.error().message();
  for (int w = 0; w < 4; ++w) {
    EXPECT_EQ(counter_total(*segment, "jobs_total", "writer=\"old" + std::to_string(w) + "\""), kCounts) << w;
    EXPECT_EQ(counter_total(*segment, "jobs_total", "writer=\"new" + std::to_string(w) + "\""), kCounts) << w;
  }
}

TEST(StoppedRegistrant, HalfFinishedEntryCostsOthersNothing) {
  SKIP_WITHOUT_TEST_POINTS();
  SegmentGuard g(wsm::test::unique_segment_name("stopped-registrant"));
  // Stops between claiming the series entry BUSY and publishing it; records 1 once resumed.
  Forked stuck = Forked::run([&] {
    auto reg = Registry::open(g.name());
    if (!reg) return 1;
    tp::arm(tp::Point::catalog_after_claim, tp::Action::stop, 2);  // the 1st claim is the overflow series
    auto c = reg->try_counter("jobs_total", {{"writer", "shared"}});
    if (!c) return 2;
    c->inc();
    return 0;
  });
  ASSERT_TRUE(wait_stopped(stuck)) << "the registrant did not stop at its test point";
  // The same label set from another process: a real series at once, not a sink after a wait.
  ASSERT_EQ(counting_writer(g.name(), "shared").wait(), 0);
  auto segment = shm::Segment::open(g.name());
  ASSERT_TRUE(segment);
  EXPECT_EQ(counter_total(*segment, "jobs_total", "writer=\"shared\""), kCounts);

  stuck.kill(SIGCONT);
  EXPECT_EQ(stuck.wait(), 0);
  // Two entries for one key now; readers count them as one series.
  EXPECT_EQ(counter_total(*segment, "jobs_total", "writer=\"shared\""), kCounts + 1);
}

// A process that exits normally leaves nothing that looks like a crash: every slot it had (its
// threads', its gauge slot) is DETACHED or EXITED, and once it is gone a reap frees them all.
TEST(NormalExit, LeavesNoActiveSlotBehind) {
  SegmentGuard g(wsm::test::unique_segment_name("normal-exit"));
  Forked writer = Forked::run([&] {
    auto reg = Registry::open(g.name());
    if (!reg) return 1;
    reg->counter("jobs_total").inc();
    reg->gauge("queue_depth").set(3);
    std::thread([&] { reg->counter("jobs_total").inc(); }).join();
    std::exit(0);  // a normal exit: atexit handlers run (Forked's own return path skips them)
  });
  ASSERT_EQ(writer.wait(), 0);
  auto segment = shm::Segment::open(g.name());
  ASSERT_TRUE(segment);
  for (std::uint32_t i = 0; i < segment->max_writers(); ++i) {
    const auto state = shm::slot_state(segment->slot(i).state_word.load());
    EXPECT_NE(state, shm::SlotState::active) << "slot " << i << " still ACTIVE after a normal exit";
  }
  auto folded = shm::Reaper(*segment).reap();
  ASSERT_TRUE(folded);
  EXPECT_EQ(folded->slots_freed, 3u);  // main thread, the other thread, the gauge slot
  EXPECT_EQ(counter_total(*segment, "jobs_total", ""), 2u);
}

}  // namespace

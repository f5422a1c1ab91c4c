// Folding dead writers: a reaper killed in the middle of a journalled move is finished by the
// next one (nothing lost, nothing counted twice), and snapshots taken while reapers fold never
// see a count twice or miss one.
#include <gtest/gtest.h>

#include <sys/mman.h>
#include <thread>

#include "forked.hpp"
#include "segment_totals.hpp"
#include "test_limits.hpp"
#include "test_support.hpp"
#include "wsm/shm/reaper.hpp"
#include "wsm/shm/test_points.hpp"
#include "wsm/shm/snapshot.hpp"
#include "wsm/writer.hpp"

namespace {

using namespace wsm;
using wsm::test::SegmentGuard;

constexpr int kWriters = 3;
constexpr std::uint64_t kSizes[] = {1, 100, 5000, 1u << 20, 1u << 30};

// Writers that die without detaching (their main thread) and threads that detach on exit.
void record_and_die(const std::string& segment) {
  std::vector<wsm::test::Forked> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.push_back(wsm::test::Forked::run([&segment, w] {
      auto reg = Registry::open(segment);
      if (!reg) return 1;
      const Counter mine = reg->counter("jobs_total", {{"writer", std::to_string(w)}});
      const Counter all = reg->counter("jobs_all_total");
      const Histogram sizes = reg->histogram("job_size_bytes");
      std::thread([&] {
        mine.inc(1000);
        for (std::uint64_t v : kSizes) sizes.record(v);
      }).join();
      mine.inc(10 + static_cast<std::uint64_t>(w));
      all.inc(7);
      for (std::uint64_t v : kSizes) sizes.record(v * 3);
      return 0;  // _exit: this thread's slot stays ACTIVE under a dead pid
    }));
  }
  for (auto& w : writers) ASSERT_EQ(w.wait(), 0);
}

void expect_known_totals(const wsm::test::Totals& t, const std::string& when) {
  std::uint64_t size_sum = 0;
  for (std::uint64_t v : kSizes) size_sum += 4 * v * kWriters;
  for (int w = 0; w < kWriters; ++w) {
    EXPECT_EQ(t.at(wsm::test::series_key("jobs_total", {{"writer", std::to_string(w)}})).counter,
              1010u + static_cast<std::uint64_t>(w)) << when;
  }
  EXPECT_EQ(t.at("jobs_all_total{}").counter, 7u * kWriters) << when;
  EXPECT_EQ(t.at("job_size_bytes{}").count, 2 * std::size(kSizes) * kWriters) << when;
  EXPECT_EQ(t.at("job_size_bytes{}").sum, size_sum) << when;
}

// Runs a reaper in a child that dies (exit 77) in the middle of its n-th word move.
int crashing_reap(const std::string& segment, std::uint64_t n) {
  auto child = wsm::test::Forked::run([&] {
    auto s = shm::Segment::open(segment);
    if (!s) return 1;
    shm::test_points::arm(shm::test_points::Point::reaper_mid_move, shm::test_points::Action::exit, n);
    return shm::Reaper(*s).reap() ? 0 : 2;
  });
  return child.wait().value_or(-1);
}

class ReaperCrash : public ::testing::TestWithParam<std::uint64_t> {};

#define SKIP_WITHOUT_TEST_POINTS()                                                               \
  if (!shm::test_points::compiled()) GTEST_SKIP() << "needs test points: configure with -DWSM_TEST_POINTS=ON"

TEST_P(ReaperCrash, NextReapFinishesTheFoldExactly) {
  SKIP_WITHOUT_TEST_POINTS();
  SegmentGuard g(wsm::test::unique_segment_name("crash"));
  record_and_die(g.name());
  if (HasFatalFailure()) return;
  auto segment = shm::Segment::open(g.name());
  ASSERT_TRUE(segment);
  auto before = wsm::test::totals_of(*segment);
  ASSERT_TRUE(before) << before.error().message();
  expect_known_totals(*before, "before reaping");

  ASSERT_EQ(crashing_reap(g.name(), GetParam()), 77) << "the reaper should have died at move " << GetParam();
  EXPECT_EQ(segment->header().journal_state.load(), 1u) << "a move was left half done";
  EXPECT_EQ(segment->header().reap_seq.load() % 2, 1u) << "the fold is still under way";
  // Readers do not wait for the dead reaper: they repair the half-done move from the journal and
  // read the exact totals (the target already holds the moved value, the source still holds it).
  // Both readers: the exporter's scrape path (Tally) and the copy (Snapshot, `wsm dump`).
  for (const auto reader : {wsm::test::Reader::tally, wsm::test::Reader::snapshot}) {
    auto during = wsm::test::totals_of(*segment, std::chrono::milliseconds(20), reader);
    ASSERT_TRUE(during) << during.error().message();
    expect_known_totals(*during, reader == wsm::test::Reader::tally ? "tally, with the fold half done"
                                                                    : "snapshot, with the fold half done");
  }

  auto report = shm::Reaper(*segment).reap();
  ASSERT_TRUE(report) << report.error().message();
  EXPECT_TRUE(report->journal_replayed);
  EXPECT_EQ(report->slots_kept, 0u);
  EXPECT_EQ(segment->header().journal_state.load(), 0u);
  auto after = wsm::test::totals_of(*segment);
  ASSERT_TRUE(after) << after.error().message();
  expect_known_totals(*after, "after the crash and the replay");
  for (const auto& [key, t] : *before) EXPECT_EQ(after->at(key).buckets, t.buckets) << key;
  auto again = shm::Reaper(*segment).reap();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->words_moved, 0u);
  EXPECT_EQ(again->slots_freed, 0u);
}

INSTANTIATE_TEST_SUITE_P(AtMove, ReaperCrash, ::testing::Values(1, 2, 3, 5, 8, 13, 21, 34));

TEST(ReaperCrash, TwoCrashesInARowThenOneReapIsExact) {
  SKIP_WITHOUT_TEST_POINTS();
  SegmentGuard g(wsm::test::unique_segment_name("crash2"));
  record_and_die(g.name());
  if (HasFatalFailure()) return;
  ASSERT_EQ(crashing_reap(g.name(), 4), 77);
  ASSERT_EQ(crashing_reap(g.name(), 3), 77);  // takes over the dead reaper's lock, dies again
  ASSERT_EQ(crashing_reap(g.name(), 100000), 0) << "the third one finishes";
  auto totals = wsm::test::totals_of(g.name());
  ASSERT_TRUE(totals) << totals.error().message();
  expect_known_totals(*totals, "after three reapers");
}

// ---------------------------------------------------------------------------------------------

constexpr std::uint64_t kPerWriter = 1000;

struct SnapshotWatch {
  std::uint64_t previous = 0;
  int taken = 0;

  // Checks one snapshot against what is known to be in (writers that exited) and what could be
  // (writers started).
  void check(const shm::Segment& segment, std::uint64_t finished, std::uint64_t started) {
    // Every other reading by each reader: the exporter's scrape path and the copy.
    const auto reader = taken % 2 == 0 ? wsm::test::Reader::tally : wsm::test::Reader::snapshot;
    auto t = wsm::test::totals_of(segment, std::chrono::seconds(5), reader, taken % 4 == 0 ? 2 : 1);
    ASSERT_TRUE(t) << t.error().message();
    auto it = t->find("jobs_total{}");
    const std::uint64_t total = it == t->end() ? 0 : it->second.counter;
    ASSERT_GE(total, previous) << "a snapshot went back: a count was missed";
    ASSERT_GE(total, finished * kPerWriter) << "counts of exited writers are missing";
    ASSERT_LE(total, started * kPerWriter) << "a count was seen twice";
    previous = total;
    ++taken;
  }
};

TEST(ReaperConcurrency, SnapshotsWhileWritersDieAndAReaperFoldsAreMonotonicAndExact) {
  SegmentGuard g(wsm::test::unique_segment_name("fold"));
  ASSERT_TRUE(shm::Segment::open_or_create(g.name(), {}));
  auto segment = shm::Segment::open(g.name(), {shm::Access::read_only});
  ASSERT_TRUE(segment);
  auto* stop = static_cast<std::atomic<bool>*>(
      ::mmap(nullptr, sizeof(std::atomic<bool>), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(stop, MAP_FAILED);
  new (stop) std::atomic<bool>(false);
  wsm::test::Pipe freed;
  auto reaper = wsm::test::Forked::run([&] {
    auto s = shm::Segment::open(g.name());
    if (!s) return 1;
    std::uint64_t slots = 0;
    while (!stop->load()) {
      if (auto r = shm::Reaper(*s).reap()) slots += r->slots_freed;
      std::this_thread::sleep_for(std::chrono::microseconds(300));
    }
    freed.send(slots);
    return 0;
  });

  constexpr int kTotalWriters = 24;
  std::vector<wsm::test::Forked> running;
  std::uint64_t started = 0, finished = 0;
  SnapshotWatch watch;
  auto collect = [&](std::chrono::milliseconds timeout) {
    for (auto it = running.begin(); it != running.end();) {
      if (auto code = it->wait(timeout)) {
        EXPECT_EQ(code, 0);
        ++finished;
        it = running.erase(it);
      } else {
        ++it;
      }
    }
  };
  for (int w = 0; w < kTotalWriters; ++w) {
    // Counted as started before it can record anything.
    ++started;
    running.push_back(wsm::test::Forked::run([&, w] {
      auto reg = Registry::open(g.name());
      if (!reg) return 1;
      const Counter jobs = reg->counter("jobs_total");
      if (w % 2 == 0) {
        std::thread([&] { for (std::uint64_t i = 0; i < kPerWriter; ++i) jobs.inc(); }).join();  // detaches
      } else {
        for (std::uint64_t i = 0; i < kPerWriter; ++i) jobs.inc();  // dies ACTIVE
      }
      return 0;
    }));
    for (int k = 0; k < 5; ++k) {
      const std::uint64_t known = finished;
      watch.check(*segment, known, started);
      if (HasFatalFailure()) return;
    }
    collect(std::chrono::milliseconds(0));
    while (running.size() >= 3) {
      collect(std::chrono::milliseconds(1));
      watch.check(*segment, finished, started);
      if (HasFatalFailure()) return;
    }
  }
  while (!running.empty()) {
    collect(std::chrono::milliseconds(1));
    watch.check(*segment, finished, started);
    if (HasFatalFailure()) return;
  }
  watch.check(*segment, finished, started);
  stop->store(true);
  ASSERT_EQ(reaper.wait(), 0);
  const auto slots = freed.receive_all();
  ASSERT_EQ(slots.size(), 1u);
  EXPECT_GT(slots[0], 0u) << "the reaper never folded anything while snapshots ran";
  auto writable = shm::Segment::open(g.name());
  ASSERT_TRUE(writable);
  ASSERT_TRUE(shm::Reaper(*writable).reap());
  auto totals = wsm::test::totals_of(*segment);
  ASSERT_TRUE(totals);
  EXPECT_EQ(totals->at("jobs_total{}").counter, kTotalWriters * kPerWriter);
  ::munmap(stop, sizeof(std::atomic<bool>));
}

// The same race inside one process, where ThreadSanitizer sees every access: writer threads come
// and go (detaching), a reaper thread folds them, the main thread takes snapshots.
TEST(ReaperConcurrency, ThreadsComingAndGoingWhileAReaperThreadFolds) {
  SegmentGuard g(wsm::test::unique_segment_name("tfold"));
  auto reg = Registry::open(g.name(), {.limits = wsm::test::small_limits()});
  ASSERT_TRUE(reg);
  const Counter jobs = reg->counter("jobs_total");
  auto segment = shm::Segment::open(g.name());
  ASSERT_TRUE(segment);
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> slots{0};
  std::thread reaper([&] {
    while (!stop.load()) {
      if (auto r = shm::Reaper(*segment).reap()) slots += r->slots_freed;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  constexpr int kTotalWriters = 40;
  std::atomic<std::uint64_t> finished{0};
  SnapshotWatch watch;
  std::vector<std::thread> writers;
  for (int w = 0; w < kTotalWriters; ++w) {
    writers.emplace_back([&] {
      for (std::uint64_t i = 0; i < kPerWriter; ++i) jobs.inc();
      finished.fetch_add(1);
    });
    if (writers.size() >= 4) {
      writers.front().join();
      writers.erase(writers.begin());
    }
    const std::uint64_t known = finished.load();
    watch.check(*segment, known, static_cast<std::uint64_t>(w + 1));
    if (HasFatalFailure()) break;
  }
  for (auto& t : writers) t.join();
  // The readings can all end before the reaper thread's first fold on a fast path: give it the
  // detached slots it is there to fold (bounded; the EXPECT below says if it never did).
  for (int i = 0; i < 2000 && slots.load() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  stop.store(true);
  reaper.join();
  if (HasFatalFailure()) return;
  ASSERT_TRUE(shm::Reaper(*segment).reap());
  watch.check(*segment, kTotalWriters, kTotalWriters);
  EXPECT_EQ(watch.previous, kTotalWriters * kPerWriter);
  EXPECT_GT(slots.load(), 0u);
}

}  // namespace

// Bugs the fuzzers found, each pinned as a test named after it (the sanitizer builds run these
// under ASan+UBSan, where the original failure was a UBSan report).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <wsm/writer.hpp>

#include "segment_exercise.hpp"
#include "test_support.hpp"
#include "wsm/shm/aggregation.hpp"
#include "wsm/shm/reaper.hpp"
#include "wsm/shm/writer_arena.hpp"

namespace {

using namespace wsm;

// A child records 7 into a counter and dies without detaching its slot.
void dead_writer(const std::string& name) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    RegistryOptions options;
    options.limits = fuzz::tiny_limits();
    auto reg = Registry::open(name, options);
    reg->counter("events_total").inc(7);
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
}

std::uint64_t events_total(const shm::Segment& segment) {
  shm::CatalogView catalog;
  auto snap = shm::Snapshot::take(segment, catalog);
  EXPECT_TRUE(snap.has_value());
  for (const auto& p : shm::Aggregation::of(catalog, *snap).points) {
    if (p.family->name == "events_total") return p.counter;
  }
  return 0;
}

// fuzz_segment found it: the reaper allocated retired cells at the header's retired_used without
// checking its alignment, so a corrupt value made it store through a misaligned atomic.
TEST(FuzzRegression, MisalignedRetiredUsed) {
  test::SegmentGuard guard(test::unique_segment_name("misaligned-retired"));
  dead_writer(guard.name());
  auto segment = shm::Segment::open(guard.name());
  ASSERT_TRUE(segment.has_value());
  segment->header().retired_used.store(8 + 3);
  auto report = shm::Reaper(*segment).reap();
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->slots_kept, 1u);  // nothing folded into a misaligned cell, nothing lost
  EXPECT_EQ(events_total(*segment), 7u);
}

// The same flaw on the writer's side: a slot's cells_bytes is where the next cell goes.
TEST(FuzzRegression, MisalignedCellsBytes) {
  test::SegmentGuard guard(test::unique_segment_name("misaligned-cells"));
  auto segment = shm::Segment::create(guard.name(), {fuzz::tiny_limits()});
  ASSERT_TRUE(segment.has_value());
  auto arena = shm::WriterArena::claim(*segment, 1, "test");
  ASSERT_TRUE(arena.has_value());
  segment->slot(arena->slot_index()).cells_bytes.store(5);
  EXPECT_EQ(arena->append(0, shm::MetricType::counter, shm::kCounterWords), nullptr);
  EXPECT_EQ(segment->header().cells_dropped.load(), 1u);
}

}  // namespace

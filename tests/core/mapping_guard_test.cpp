// A segment file truncated while a reader has it mapped: reads under a MappingGuard turn the
// SIGBUS into "segment damaged" and the reader lives on; a fault outside any guard still kills
// as before. Each case runs in a forked child, so a SIGBUS fails the test instead of ending it.
#include <gtest/gtest.h>

#include <csignal>
#include <unistd.h>

#include "forked.hpp"
#include "test_limits.hpp"
#include "test_support.hpp"
#include "wsm/shm/catalog.hpp"
#include "wsm/shm/mapping_guard.hpp"
#include "wsm/shm/writer_arena.hpp"

namespace {

using namespace wsm;
using namespace wsm::shm;
using wsm::test::Forked;
using wsm::test::SegmentGuard;

// Exit codes of the children: what went wrong where.
enum Outcome : int { ok = 0, no_segment = 10, no_series = 11, first_read = 12, not_refused = 13, wrong_error = 14, not_marked = 15 };

// A segment with one series and a cell in the last writer slot's arena (the far end of the file).
Result<Segment> populated(const std::string& name) {
  auto s = Segment::create(name, {wsm::test::small_limits()});
  if (!s) return s;
  auto family = Catalog(*s).family({.name = "g_requests_total", .type = MetricType::counter});
  if (!family) return std::unexpected(family.error());
  auto series = Catalog(*s).series(*family, "k=\"v\"");
  if (!series) return std::unexpected(series.error());
  for (std::uint32_t i = 0; i + 1 < s->max_writers(); ++i) (void)WriterArena::claim(*s, 100 + i, "filler");
  auto last = WriterArena::claim(*s, 1, "test");
  if (!last) return std::unexpected(last.error());
  last->append(*series, MetricType::counter, kCounterWords)->store(5);
  return s;
}

void shrink(const std::string& name) {
  (void)::truncate(("/dev/shm/wsm." + name).c_str(), ::sysconf(_SC_PAGESIZE));
}

TEST(MappingGuard, ASegmentTruncatedUnderAReaderIsDamagedNotFatal) {
  SegmentGuard g(wsm::test::unique_segment_name("shrink"));
  auto child = Forked::run([&] {
    auto s = populated(g.name());
    if (!s) return int{no_segment};
    MappingDamage damage;
    CatalogView catalog;
    auto before = guarded_snapshot(*s, catalog, damage);
    if (!before || before->cells.empty() || damage.damaged()) return int{first_read};
    shrink(g.name());
    CatalogView fresh;
    auto after = guarded_snapshot(*s, fresh, damage);
    if (after) return int{not_refused};
    if (after.error().code() != Errc::corrupt ||
        after.error().message().find("is damaged") == std::string::npos ||
        after.error().message().find(g.name()) == std::string::npos) {
      return int{wrong_error};
    }
    return damage.damaged() ? int{ok} : int{not_marked};
  });
  EXPECT_EQ(child.wait(), ok) << "128 + " << SIGBUS << " is death by SIGBUS";
}

// The handler takes only faults inside a guarded mapping of the faulting thread: any other SIGBUS
// gets the disposition from before (here the default, death), not a silent zero page.
TEST(MappingGuard, AFaultOutsideAGuardStillKills) {
  SegmentGuard g(wsm::test::unique_segment_name("shrink"));
  auto child = Forked::run([&] {
    auto s = populated(g.name());
    if (!s) return int{no_segment};
    MappingDamage damage;
    CatalogView catalog;
    if (!guarded_snapshot(*s, catalog, damage)) return int{first_read};  // the handler is installed
    shrink(g.name());
    const volatile std::byte* far = s->strings().data();
    return static_cast<int>(*far);  // past the end of the file now
  });
  EXPECT_EQ(child.wait(), 128 + SIGBUS);
}

}  // namespace

// A segment file truncated while a reader has it mapped: reads under a MappingGuard turn the
// SIGBUS into "segment damaged" and the reader lives on; a fault outside any guard still kills
// as before. Each case runs in a forked child, so a SIGBUS fails the test instead of ending it.
#include <gtest/gtest.h>

#include <csignal>
#include <functional>
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
enum Outcome : int {
  ok = 0, no_segment = 10, first_read = 12, not_refused = 13, wrong_error = 14, not_marked = 15, survived = 16
};

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

// In a child: a populated segment read once under a guard (which installs the handler), then its
// file cut to one page; `then` runs next and its result is the exit code.
Forked read_then_shrink(const std::string& name, const std::function<int(const Segment&, MappingDamage&)>& then) {
  return Forked::run([&] {
    auto s = populated(name);
    if (!s) return int{no_segment};
    MappingDamage damage;
    CatalogView catalog;
    auto before = guarded_snapshot(*s, catalog, damage);
    if (!before || before->cells.empty() || damage.damaged()) return int{first_read};
    (void)::truncate(("/dev/shm/wsm." + name).c_str(), ::sysconf(_SC_PAGESIZE));
    return then(*s, damage);
  });
}

TEST(MappingGuard, ASegmentTruncatedUnderAReaderIsDamagedNotFatal) {
  SegmentGuard g(wsm::test::unique_segment_name("shrink"));
  auto child = read_then_shrink(g.name(), [&](const Segment& s, MappingDamage& damage) {
    CatalogView fresh;
    auto after = guarded_snapshot(s, fresh, damage);
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
  auto child = read_then_shrink(g.name(), [](const Segment& s, MappingDamage&) {
    const volatile std::byte* far = s.strings().data();  // past the end of the file now
    return int{survived} + static_cast<int>(*far);  // a zero page read on: `survived`
  });
  const auto code = child.wait();
  ASSERT_TRUE(code);
  // Death by SIGBUS (128 + 7), or in the sanitizer builds by the sanitizer's report of it (its
  // own exit code): anything but having read on.
  EXPECT_NE(*code, survived);
  EXPECT_NE(*code, no_segment);
  EXPECT_NE(*code, first_read);
  EXPECT_NE(*code, ok);
}

}  // namespace

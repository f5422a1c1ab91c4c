// Tally (the exporter's scrape path: cells summed straight from the mapping) against
// Snapshot::take + Aggregation::of (a copy, then the sum): the same points, field for field, on
// random segments written by real processes: threads that detach, processes that die with ACTIVE
// slots, processes still running, gauges of every mode, histograms, a fold done and a fold left
// half done by a reaper killed between its two stores; with one reading thread and with two.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <random>
#include <thread>

#include "forked.hpp"
#include "segment_totals.hpp"
#include "test_support.hpp"
#include "wsm/shm/aggregation.hpp"
#include "wsm/shm/reaper.hpp"
#include "wsm/shm/snapshot.hpp"
#include "wsm/shm/tally.hpp"
#include "wsm/shm/test_points.hpp"
#include "wsm/writer.hpp"

namespace {

using namespace wsm;
using wsm::test::SegmentGuard;

shm::Limits limits() {
  shm::Limits l;
  l.max_writers = 24;
  l.max_families = 32;
  l.max_series = 512;
  l.series_cap_per_family = 40;  // some label sets land in overflow series
  l.arena_bytes = 64 * 1024;
  l.string_bytes = 64 * 1024;
  l.retired_bytes = 256 * 1024;
  return l;
}

constexpr GaugeMode kModes[] = {GaugeMode::sum, GaugeMode::max, GaugeMode::min, GaugeMode::last,
                                GaugeMode::per_writer};

Exemplar random_exemplar(std::mt19937_64& rng) {
  Exemplar e;
  for (auto& b : e.trace_id) b = static_cast<std::uint8_t>(rng());
  for (auto& b : e.span_id) b = static_cast<std::uint8_t>(rng());
  e.trace_id[0] |= 1;
  return e;
}

// Random records of one thread: every family, some with exemplars, label sets drawn from 48 (past
// the cap of 40).
void record_random(Registry& reg, std::uint64_t seed, int ops) {
  // Names from tables: GCC 12 warns (-Wrestrict, a false positive) on "c" + std::to_string(...).
  static const std::string counters[] = {"c0_total", "c1_total", "c2_total"};
  static const std::string gauges[] = {"g_0", "g_1", "g_2", "g_3", "g_4"};
  std::mt19937_64 rng(seed);
  for (int i = 0; i < ops; ++i) {
    const std::string k = std::to_string(rng() % 48);
    const Labels labels = {{"k", k}};
    switch (rng() % 7) {
      case 0:
      case 1: reg.counter(counters[rng() % 3], labels).inc(rng() % 1000); break;
      case 2: {
        const std::size_t m = rng() % std::size(kModes);
        auto g = reg.gauge(gauges[m], labels, "", kModes[m]);
        if (rng() % 2 == 0) {
          g.set(static_cast<double>(rng() % 10000) / 8);
        } else {
          g.add(static_cast<double>(rng() % 100) / 4);
        }
        break;
      }
      case 3: reg.histogram("h_seconds", labels).record(std::chrono::nanoseconds(rng() % 10'000'000'000ull)); break;
      case 4: reg.histogram("h_bytes", labels).record(rng() % (1u << 24)); break;
      case 5: reg.counter(counters[rng() % 3], labels).inc(rng() % 1000, random_exemplar(rng)); break;
      case 6: reg.histogram("h_seconds", labels).record(rng() % 10'000'000'000ull, random_exemplar(rng)); break;
    }
  }
}

// How a writer process ends: returns (its main thread's slot stays ACTIVE under a dead process),
// its threads detach first, or it stays alive until the test ends.
enum class Fate { dies, detaches, lives };

// Writer processes with random records; those that live are killed when this goes out of scope.
struct Writers {
  std::vector<wsm::test::Forked> alive;

  Writers(const std::string& segment, std::uint64_t seed, int processes) {
    wsm::test::Pipe ready;
    for (int p = 0; p < processes; ++p) {
      const auto fate = static_cast<Fate>((seed + static_cast<std::uint64_t>(p)) % 3);
      auto child = wsm::test::Forked::run([&, p, fate] {
        auto reg = Registry::open(segment, {.limits = limits(), .enabled = true});
        if (!reg) return 1;
        const std::uint64_t s = seed * 1000 + static_cast<std::uint64_t>(p) * 10;
        std::thread([&] { record_random(*reg, s + 1, 400); }).join();  // this slot detaches
        if (fate != Fate::detaches) record_random(*reg, s + 2, 400);   // the main thread's stays ACTIVE
        if (fate == Fate::lives) {
          ready.send(1);
          for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
        }
        return 0;
      });
      if (fate == Fate::lives) {
        alive.push_back(std::move(child));
      } else {
        EXPECT_EQ(child.wait(), 0);
      }
    }
    // The living ones have recorded everything once they said so.
    for (std::size_t n = 0; n < alive.size(); ++n) EXPECT_TRUE(ready.receive());
  }
};

std::string keys_of(const shm::Aggregation& a) {
  std::string out;
  for (const shm::Point& p : a.points) {
    out += p.family->name;
    out += '{';
    out += p.series->labels;
    out += '}';
    if (p.worker >= 0) (out += '@') += std::to_string(p.worker);
    out += ' ';
  }
  return out;
}

void expect_same_points(const shm::AggregationView& tally, const shm::AggregationView& copied, const std::string& what) {
  for (std::size_t i = 0; i < tally.points.size(); ++i) {
    const shm::Point& a = tally.points[i];
    const shm::Point& b = copied.points[i];
    const std::string at = what + ": point " + std::to_string(i) + " " + b.family->name + "{" + std::string(b.series->labels) + "}";
    ASSERT_EQ(a.family->name, b.family->name) << at;
    ASSERT_EQ(a.series->labels, b.series->labels) << at;
    EXPECT_EQ(a.worker, b.worker) << at;
    EXPECT_EQ(a.counter, b.counter) << at;
    EXPECT_EQ(std::bit_cast<std::uint64_t>(a.gauge), std::bit_cast<std::uint64_t>(b.gauge)) << at;
    EXPECT_EQ(a.sum, b.sum) << at;
    EXPECT_EQ(a.count, b.count) << at;
    EXPECT_EQ(a.recorded, b.recorded) << at;
    ASSERT_EQ(a.exemplar == shm::Point::kNoExemplar, b.exemplar == shm::Point::kNoExemplar) << at;
    if (a.exemplar != shm::Point::kNoExemplar) {
      EXPECT_TRUE(tally.exemplars[a.exemplar] == copied.exemplars[b.exemplar]) << at;
    }
    if (a.family->type == shm::MetricType::histogram) {
      const auto x = tally.buckets_of(a);
      const auto y = copied.buckets_of(b);
      EXPECT_TRUE(std::equal(x.begin(), x.end(), y.begin(), y.end())) << at;
    }
  }
}

void expect_same(const shm::Aggregation& tally, const shm::Aggregation& copied, const std::string& what) {
  ASSERT_EQ(tally.points.size(), copied.points.size()) << what << "\ntally: " << keys_of(tally)
                                                       << "\ncopy:  " << keys_of(copied);
  EXPECT_EQ(tally.merged_entries, copied.merged_entries) << what;
  EXPECT_EQ(tally.left_out, copied.left_out) << what;
  expect_same_points(tally.view(), copied.view(), what);
}

// `copied` with only the points for which keep(point) holds (indices into its buckets and
// exemplars stay valid: both are copied whole).
template <class Keep>
shm::Aggregation only(const shm::Aggregation& copied, Keep keep) {
  shm::Aggregation out;
  for (const shm::Point& p : copied.points) {
    if (keep(p)) out.points.push_back(p);
  }
  out.buckets = copied.buckets;
  out.exemplars = copied.exemplars;
  out.merged_entries = copied.merged_entries;
  out.left_out = copied.left_out;
  return out;
}

// The points handed out in parts (TallyOptions::part_points): together the same as `copied`, in
// the same order, each part whole families and at least part_points points unless it is the last.
void expect_parts_match(shm::Tally& tally, const shm::Segment& segment, const shm::Aggregation& copied,
                        std::size_t part_points, const std::string& what) {
  shm::CatalogView own;
  auto taken = tally.take(segment, own, {.wait = std::chrono::milliseconds(50), .part_points = part_points});
  ASSERT_TRUE(taken) << taken.error().message();
  EXPECT_TRUE(tally.aggregation().points.empty()) << what << ": the points wait for next_part()";
  std::size_t at = 0;
  int parts = 0;
  // The part handed out before stays readable through its view while the next is emitted (the
  // scrape writes it out on another thread meanwhile), also after the last call.
  shm::AggregationView held;
  shm::Aggregation held_expected;
  const auto expect_held = [&](const std::string& which) {
    ASSERT_EQ(held.points.size(), held_expected.points.size()) << which;
    expect_same_points(held, held_expected.view(), which + ", the part before, after the next was emitted");
  };
  while (tally.next_part()) {
    const shm::Aggregation& part = tally.aggregation();
    const std::size_t n = part.points.size();
    const std::string which = what + ", part " + std::to_string(++parts) + " of " + std::to_string(part_points);
    expect_held(which);
    ASSERT_LE(at + n, copied.points.size()) << which;
    std::size_t i = 0;
    shm::Aggregation expected = only(copied, [&](const shm::Point&) {
      const std::size_t k = i++;
      return k >= at && k < at + n;
    });
    expect_same(part, expected, which);
    held = part.view();
    held_expected = std::move(expected);
    if (at + n < copied.points.size()) {
      EXPECT_GE(n, part_points) << which;
      ASSERT_GT(n, 0u) << which;
      EXPECT_NE(copied.points[at + n].family->name, part.points.back().family->name) << which << ": a family split";
    }
    at += n;
  }
  EXPECT_EQ(at, copied.points.size()) << what;
  EXPECT_GT(parts, 1) << what;
  expect_held(what + ", the last part");
  EXPECT_FALSE(tally.next_part()) << what;
  EXPECT_TRUE(tally.aggregation().points.empty()) << what;
}

// Tally with one and two threads, the second time on the same Tally (accumulators reused), the third
// after giving its pages back as the exporter does between reads, against the copy-then-sum reading
// of the same moment (nothing writes meanwhile).
void expect_tally_matches_snapshot(const shm::Segment& segment, const std::string& what) {
  shm::CatalogView catalog;
  auto snapshot = shm::Snapshot::take(segment, catalog, {std::chrono::milliseconds(50)});
  ASSERT_TRUE(snapshot) << snapshot.error().message();
  ASSERT_TRUE(snapshot->problems.empty()) << snapshot->problems.front();
  const auto copied = shm::Aggregation::of(catalog, *snapshot);
  ASSERT_FALSE(copied.points.empty()) << what;
  shm::Tally tally;
  for (unsigned threads : {1u, 2u, 1u}) {
    shm::CatalogView own;
    auto taken = tally.take(segment, own, {std::chrono::milliseconds(50), threads, 0});
    ASSERT_TRUE(taken) << taken.error().message();
    EXPECT_TRUE(tally.meta().problems.empty()) << what;
    EXPECT_EQ(tally.meta().writers.size(), snapshot->writers.size()) << what;
    expect_same(tally.aggregation(), copied, what + " (" + std::to_string(threads) + " threads)");
    if (threads == 2) {
      tally.release_pages();
      EXPECT_TRUE(tally.aggregation().points.empty()) << what;
    }
  }
  for (std::size_t part_points : {1, 7, 40}) expect_parts_match(tally, segment, copied, part_points, what);
  // Only some families' points: the others' cells are read, their points not laid out.
  const std::vector<std::string> some = {"c1_total", "h_seconds", "g_4"};
  shm::CatalogView own;
  ASSERT_TRUE(tally.take(segment, own, {.wait = std::chrono::milliseconds(50), .only_families = some}));
  const auto wanted = only(copied, [&](const shm::Point& p) {
    return std::find(some.begin(), some.end(), p.family->name) != some.end();
  });
  ASSERT_FALSE(wanted.points.empty()) << what;
  expect_same(tally.aggregation(), wanted, what + " (some families)");
}

class TallyRandom : public ::testing::TestWithParam<std::uint64_t> {};

TEST_P(TallyRandom, EqualsTheSnapshotAggregationBeforeAndAfterFolding) {
  SegmentGuard g(wsm::test::unique_segment_name("tally"));
  ASSERT_TRUE(shm::Segment::open_or_create(g.name(), {.limits = limits()}));
  Writers writers(g.name(), GetParam(), 6);
  if (HasFailure()) return;
  auto segment = shm::Segment::open(g.name());
  ASSERT_TRUE(segment);
  expect_tally_matches_snapshot(*segment, "dead writers not yet folded");
  auto reaped = shm::Reaper(*segment).reap();
  ASSERT_TRUE(reaped) << reaped.error().message();
  EXPECT_GT(reaped->slots_freed, 0u) << "the workload should leave dead writers to fold";
  expect_tally_matches_snapshot(*segment, "after the fold");
  // More series and records after a first take: the accumulators are laid out again.
  Writers more(g.name(), GetParam() + 7, 3);
  if (HasFailure()) return;
  expect_tally_matches_snapshot(*segment, "after more writers");
}

INSTANTIATE_TEST_SUITE_P(Seeds, TallyRandom, ::testing::Values(1, 2, 3, 4, 5, 6));

// A reaper killed between the two stores of a word move leaves that word counted in the dead
// writer's cell and in the retired arena. A Tally does not wait for it: it repairs the move from
// the journal, like the snapshot, and both give the totals of before the fold.
class TallyHalfDoneFold : public ::testing::TestWithParam<std::uint64_t> {};

TEST_P(TallyHalfDoneFold, IsRepairedFromTheJournal) {
  if (!shm::test_points::compiled()) GTEST_SKIP() << "needs test points: configure with -DWSM_TEST_POINTS=ON";
  SegmentGuard g(wsm::test::unique_segment_name("tallyfold"));
  ASSERT_TRUE(shm::Segment::open_or_create(g.name(), {.limits = limits()}));
  { Writers writers(g.name(), 11, 4); }
  if (HasFailure()) return;
  auto segment = shm::Segment::open(g.name());
  ASSERT_TRUE(segment);
  auto before = wsm::test::totals_of(*segment);
  ASSERT_TRUE(before) << before.error().message();
  auto reaper = wsm::test::Forked::run([&] {
    auto s = shm::Segment::open(g.name());
    if (!s) return 1;
    shm::test_points::arm(shm::test_points::Point::reaper_mid_move, shm::test_points::Action::exit, GetParam());
    return shm::Reaper(*s).reap() ? 0 : 2;
  });
  ASSERT_EQ(reaper.wait(), 77) << "the reaper should have died at move " << GetParam();
  ASSERT_EQ(segment->header().journal_state.load(), 1u) << "a move was left half done";
  expect_tally_matches_snapshot(*segment, "fold half done");
  for (unsigned threads : {1u, 2u}) {
    auto during = wsm::test::totals_of(*segment, std::chrono::milliseconds(20), wsm::test::Reader::tally, threads);
    ASSERT_TRUE(during) << during.error().message();
    EXPECT_EQ(*during, *before) << threads << " threads: a half-done move counted twice or lost";
  }
}

INSTANTIATE_TEST_SUITE_P(AtMove, TallyHalfDoneFold, ::testing::Values(1, 2, 7, 40));

// A Tally that meets a cell of a series registered after its catalog refresh reads again, as the
// snapshot does, and never reports a problem for it; one reused across many registrations keeps
// matching (its accumulators are laid out again whenever the catalog grows). With either catalog
// scan: CatalogScan::when_counted skips the series table while series_used says nothing is new,
// and a registrant between publishing and counting makes it meet such cells all the time.
class TallyGrowing : public ::testing::TestWithParam<shm::CatalogScan> {};

TEST_P(TallyGrowing, FollowsACatalogThatGrowsWhileItReads) {
  const shm::TallyOptions options{.catalog_scan = GetParam()};
  SegmentGuard g(wsm::test::unique_segment_name("tallygrow"));
  auto reg = Registry::open(g.name(), {.limits = limits(), .enabled = true});
  ASSERT_TRUE(reg);
  auto segment = shm::Segment::open(g.name(), {shm::Access::read_only});
  ASSERT_TRUE(segment);
  std::atomic<bool> stop{false};
  std::thread registrant([&] {
    for (int i = 0; i < 300 && !stop.load(); ++i) {
      reg->counter("grow_total", {{"k", std::to_string(i)}}).inc(static_cast<std::uint64_t>(i) + 1);
    }
    stop.store(true);
  });
  shm::Tally tally;
  shm::CatalogView catalog;
  std::uint64_t previous = 0;
  int takes = 0;
  while (!stop.load() || takes == 0) {
    auto taken = tally.take(*segment, catalog, options);
    ASSERT_TRUE(taken) << taken.error().message();
    EXPECT_TRUE(tally.meta().problems.empty()) << tally.meta().problems.front();
    std::uint64_t total = 0;
    for (const shm::Point& p : tally.aggregation().points) total += p.counter;
    EXPECT_GE(total, previous) << "a counter went back";
    previous = total;
    ++takes;
  }
  registrant.join();
  ASSERT_TRUE(tally.take(*segment, catalog, options));
  std::uint64_t total = 0;
  for (const shm::Point& p : tally.aggregation().points) total += p.counter;
  std::uint64_t expected = 0;
  auto totals = wsm::test::totals_of(*segment, std::chrono::seconds(5), wsm::test::Reader::snapshot);
  ASSERT_TRUE(totals);
  for (const auto& [key, t] : *totals) expected += t.counter;
  EXPECT_EQ(total, expected);
  EXPECT_GT(total, 0u);
}

INSTANTIATE_TEST_SUITE_P(Scan, TallyGrowing,
                         ::testing::Values(shm::CatalogScan::every_entry, shm::CatalogScan::when_counted));

// The exporter gives back the Tally's pages after every read (Tally::release_pages). Here the
// accumulators and the points are big enough to have mappings of their own (scratch.hpp), whose
// pages really go: the next take sums the same as the copy-then-sum reading, with either number of
// reading threads.
TEST(TallyScratch, ATakeAfterThePagesWereGivenBackSumsTheSame) {
  shm::Limits l = limits();
  l.max_series = 40'000;  // the per-series accumulators: 320 KB of counts
  l.series_cap_per_family = 8'000;
  l.arena_bytes = 1 << 20;
  l.string_bytes = 1 << 20;
  SegmentGuard g(wsm::test::unique_segment_name("tallyscratch"));
  auto reg = Registry::open(g.name(), {.limits = l, .enabled = true});
  ASSERT_TRUE(reg) << reg.error().message();
  const auto record = [&](std::uint64_t round) {
    for (std::uint64_t i = 0; i < 5'000; ++i) reg->counter("big_total", {{"k", std::to_string(i)}}).inc(i + round);
    for (std::uint64_t i = 0; i < 20; ++i) {
      reg->histogram("big_seconds", {{"k", std::to_string(i)}}).record(std::chrono::microseconds(i * round + 1));
    }
  };
  record(1);
  auto segment = shm::Segment::open(g.name());
  ASSERT_TRUE(segment);
  shm::Tally tally;
  shm::CatalogView catalog;
  for (unsigned threads : {1u, 2u, 1u}) {
    auto taken = tally.take(*segment, catalog, {std::chrono::milliseconds(50), threads, 0});
    ASSERT_TRUE(taken) << taken.error().message();
    ASSERT_GE(tally.aggregation().points.capacity() * sizeof(shm::Point), shm::kScratchMapBytes)
        << "too few series to reach the mapped path";
    shm::CatalogView own;
    auto snapshot = shm::Snapshot::take(*segment, own, {std::chrono::milliseconds(50)});
    ASSERT_TRUE(snapshot) << snapshot.error().message();
    const auto copied = shm::Aggregation::of(own, *snapshot);
    expect_same(tally.aggregation(), copied, std::to_string(threads) + " threads");
    // In parts, each giving back the bucket totals of the part before (the histograms come
    // first: big_seconds < big_total), while the counters' values after them are still read.
    expect_parts_match(tally, *segment, copied, 10, std::to_string(threads) + " threads, in parts");
    tally.release_pages();
    EXPECT_TRUE(tally.aggregation().points.empty());
    record(threads + 1);  // new counts land in accumulators whose pages were given back
  }
}

}  // namespace

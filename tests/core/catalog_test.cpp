// The lock-free catalog: one series per name + label set however many processes and threads race,
// type clashes refused, full catalogs and capped families overflow visibly, and entries left BUSY
// by a dead registrant are taken back.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <thread>

#include "forked.hpp"
#include "segment_totals.hpp"
#include "test_limits.hpp"
#include "test_support.hpp"
#include "wsm/shm/catalog.hpp"
#include "wsm/shm/liveness.hpp"
#include "wsm/shm/reaper.hpp"
#include "wsm/writer.hpp"

namespace {

using namespace wsm;
using namespace wsm::shm;
using wsm::test::SegmentGuard;

constexpr int kLabelSets = 40;

Limits catalog_limits(std::uint32_t max_series, std::uint32_t cap) {
  Limits l = wsm::test::small_limits();
  l.max_series = max_series;
  l.series_cap_per_family = cap;
  l.string_bytes = 64 * 1024;
  return l;
}

std::string labels_for(int k) { return "shard=\"" + std::to_string(k) + "\""; }

// Registers every label set in a random order; returns (label set << 32 | series id) per set.
std::vector<std::uint64_t> register_all(const Segment& s, unsigned seed) {
  Catalog catalog(s);
  std::vector<int> order(kLabelSets);
  for (int k = 0; k < kLabelSets; ++k) order[k] = k;
  std::shuffle(order.begin(), order.end(), std::mt19937(seed));
  std::vector<std::uint64_t> out;
  auto family = catalog.family({.name = "requests_total", .type = MetricType::counter});
  if (!family) return out;
  for (int k : order) {
    auto id = catalog.series(*family, labels_for(k));
    if (!id) return out;
    out.push_back(std::uint64_t(k) << 32 | *id);
  }
  return out;
}

void expect_one_id_per_label_set(const std::vector<std::uint64_t>& seen, std::size_t registrants,
                                 const Segment& s) {
  ASSERT_EQ(seen.size(), registrants * kLabelSets) << "a registrant failed";
  // A registrant preempted while its entry is BUSY (likely on a loaded machine) makes the others
  // register that key beside it: a label set may get more than one id, each a READY entry of that
  // very label set, and readers merge them. Two label sets never share an id.
  std::map<std::uint32_t, std::set<std::uint32_t>> ids;  // label set -> ids handed out
  for (std::uint64_t v : seen) ids[static_cast<std::uint32_t>(v >> 32)].insert(static_cast<std::uint32_t>(v));
  std::map<std::uint32_t, std::uint32_t> owner_of;  // id -> label set
  std::uint64_t handed_out = 0;
  for (const auto& [k, set] : ids) {
    for (std::uint32_t id : set) {
      EXPECT_TRUE(owner_of.emplace(id, k).second) << "label sets " << k << " and " << owner_of[id] << " share id " << id;
      EXPECT_EQ(entry_state(s.series(id).state_word.load()), EntryState::ready) << id;
      std::string_view labels;
      ASSERT_TRUE(s.string_at(s.series(id).labels_off, s.series(id).labels_len, labels));
      EXPECT_EQ(labels, labels_for(static_cast<int>(k))) << "id " << id;
      ++handed_out;
    }
  }
  EXPECT_EQ(ids.size(), std::size_t{kLabelSets});
  // Every entry handed out, plus the family's overflow series (one, or a copy); one family.
  EXPECT_GE(s.header().series_used.load(), handed_out + 1);
  EXPECT_GE(s.header().families_used.load(), 1u);
  EXPECT_EQ(s.header().series_dropped.load(), 0u);
}

TEST(Catalog, SameLabelSetsFromManyProcessesGetOneIdEach) {
  SegmentGuard g(wsm::test::unique_segment_name("cat"));
  for (int round = 0; round < 3; ++round) {
    (void)Segment::remove(g.name());
    auto s = Segment::create(g.name(), {catalog_limits(256, 256)});
    ASSERT_TRUE(s);
    wsm::test::StartGate gate;
    wsm::test::Pipe ids;
    std::vector<wsm::test::Forked> children;
    for (unsigned k = 0; k < 8; ++k) {
      children.push_back(wsm::test::Forked::run([&, k] {
        auto mine = Segment::open(g.name());
        if (!mine) return 1;
        gate.wait();
        for (std::uint64_t v : register_all(*mine, k * 31 + static_cast<unsigned>(round))) ids.send(v);
        return 0;
      }));
    }
    gate.open();
    for (auto& c : children) EXPECT_EQ(c.wait(), 0);
    expect_one_id_per_label_set(ids.receive_all(), children.size(), *s);
  }
}

TEST(Catalog, SameLabelSetsFromManyThreadsGetOneIdEach) {
  SegmentGuard g(wsm::test::unique_segment_name("cat"));
  auto s = Segment::create(g.name(), {catalog_limits(256, 256)});
  ASSERT_TRUE(s);
  std::vector<std::vector<std::uint64_t>> seen(8);
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (unsigned k = 0; k < seen.size(); ++k) {
    threads.emplace_back([&, k] {
      while (!go.load()) std::this_thread::yield();
      seen[k] = register_all(*s, k);
    });
  }
  go.store(true);
  for (auto& t : threads) t.join();
  std::vector<std::uint64_t> all;
  for (const auto& v : seen) all.insert(all.end(), v.begin(), v.end());
  expect_one_id_per_label_set(all, seen.size(), *s);
}

TEST(Catalog, FamilyOfAnotherTypeIsRefused) {
  SegmentGuard g(wsm::test::unique_segment_name("cat"));
  auto s = Segment::create(g.name(), {catalog_limits(64, 64)});
  ASSERT_TRUE(s);
  Catalog catalog(*s);
  auto first = catalog.family({.name = "x_total", .type = MetricType::counter});
  ASSERT_TRUE(first);
  for (MetricType other : {MetricType::gauge, MetricType::histogram}) {
    auto clash = catalog.family({.name = "x_total", .type = other});
    ASSERT_FALSE(clash);
    EXPECT_EQ(clash.error().code(), Errc::type_mismatch);
    EXPECT_NE(clash.error().message().find("x_total"), std::string::npos) << clash.error().message();
  }
  auto same = catalog.family({.name = "x_total", .type = MetricType::counter, .help = "other help"});
  ASSERT_TRUE(same);
  EXPECT_EQ(*same, *first);
  auto found = catalog.find_family("x_total");
  ASSERT_TRUE(found);
  EXPECT_EQ(*found, *first);
  EXPECT_EQ(catalog.find_family("y_total").error().code(), Errc::not_found);
}

// A full catalog: new label sets land in the family's overflow series and count as dropped;
// label sets registered before still get their own series.
TEST(Catalog, FullCatalogSendsNewLabelSetsToTheOverflowSeries) {
  SegmentGuard g(wsm::test::unique_segment_name("full"));
  constexpr std::uint32_t kSeries = 8;
  auto reg = Registry::open(g.name(), {.limits = catalog_limits(kSeries, kSeries)});
  ASSERT_TRUE(reg) << reg.error().message();
  auto seg = Segment::open(g.name());
  ASSERT_TRUE(seg);
  constexpr int kRegistered = 12;
  for (int k = 0; k < kRegistered; ++k) {
    const std::string v = std::to_string(k);
    reg->counter("jobs_total", {{"shard", v}}).inc(100 + static_cast<std::uint64_t>(k));
  }
  // The family's overflow series takes one entry, so kSeries - 1 label sets fit.
  const int fitted = kSeries - 1;
  EXPECT_EQ(seg->header().series_used.load(), kSeries);
  EXPECT_EQ(seg->header().series_dropped.load(), std::uint64_t(kRegistered - fitted));
  auto totals = wsm::test::totals_of(*seg);
  ASSERT_TRUE(totals) << totals.error().message();
  std::uint64_t overflowed = 0;
  for (int k = 0; k < kRegistered; ++k) {
    const std::string key = wsm::test::series_key("jobs_total", {{"shard", std::to_string(k)}});
    if (k < fitted) {
      EXPECT_EQ(totals->at(key).counter, 100u + static_cast<std::uint64_t>(k)) << key;
    } else {
      EXPECT_EQ(totals->count(key), 0u) << key << " should have overflowed";
      overflowed += 100 + static_cast<std::uint64_t>(k);
    }
  }
  EXPECT_EQ(totals->at(wsm::test::series_key("jobs_total", {{"wsm_overflow", "true"}})).counter, overflowed);
  // Known label sets still find their own series; a brand-new family has no room at all.
  reg->counter("jobs_total", {{"shard", "0"}}).inc();
  EXPECT_EQ(seg->header().series_dropped.load(), std::uint64_t(kRegistered - fitted));
  auto late = reg->try_counter("late_total");
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code(), Errc::full);
  EXPECT_FALSE(reg->last_error().has_value()) << "try_ forms must not set last_error";
  reg->counter("late_total").inc();  // a sink: records nowhere, never fails
  ASSERT_TRUE(reg->last_error().has_value());
  EXPECT_EQ(reg->last_error()->code(), Errc::full);
}

TEST(Catalog, FamilySeriesCapOverflowsThatFamilyOnly) {
  SegmentGuard g(wsm::test::unique_segment_name("cap"));
  auto s = Segment::create(g.name(), {catalog_limits(128, 3)});
  ASSERT_TRUE(s);
  Catalog catalog(*s);
  auto capped = catalog.family({.name = "capped_total", .type = MetricType::counter});
  auto narrow = catalog.family({.name = "narrow_total", .type = MetricType::counter, .series_cap = 1});
  auto other = catalog.family({.name = "other_total", .type = MetricType::counter});
  ASSERT_TRUE(capped && narrow && other);
  auto overflow_of = [&](std::uint32_t f) { return catalog.series(f, kOverflowLabels); };
  std::set<std::uint32_t> own;
  for (int k = 0; k < 5; ++k) {
    auto id = catalog.series(*capped, labels_for(k));
    ASSERT_TRUE(id);
    if (k < 3) {
      EXPECT_NE(*id, *overflow_of(*capped)) << k;
      own.insert(*id);
    } else {
      EXPECT_EQ(*id, *overflow_of(*capped)) << k;
    }
  }
  EXPECT_EQ(own.size(), 3u);
  EXPECT_EQ(s->header().series_dropped.load(), 2u);
  // FamilySpec::series_cap beats the segment default.
  EXPECT_NE(*catalog.series(*narrow, labels_for(0)), *overflow_of(*narrow));
  EXPECT_EQ(*catalog.series(*narrow, labels_for(1)), *overflow_of(*narrow));
  // Other families keep growing to the default cap.
  for (int k = 0; k < 3; ++k) EXPECT_NE(*catalog.series(*other, labels_for(k)), *overflow_of(*other));
  EXPECT_EQ(s->header().series_dropped.load(), 3u);
  // A capped family still finds the label sets it has.
  EXPECT_EQ(own.count(*catalog.series(*capped, labels_for(1))), 1u);
}

// Registrants killed between claiming an entry and publishing it leave it BUSY under their owner.
TEST(Catalog, EntriesLeftBusyByADeadRegistrantAreTakenBack) {
  SegmentGuard g(wsm::test::unique_segment_name("busy"));
  constexpr std::uint32_t kSeries = 16;
  auto s = Segment::create(g.name(), {catalog_limits(kSeries, kSeries)});
  ASSERT_TRUE(s);
  // Record 0 never had this tenant: the registrant that named it is dead (liveness.hpp).
  const Owner dead{1, 0x7ffffff0};
  ASSERT_EQ(liveness(*s, dead), Liveness::dead);
  const std::uint64_t abandoned = entry_word(EntryState::busy, dead);
  // Every entry abandoned: any registrant must meet one first.
  for (std::uint32_t i = 0; i < s->max_families(); ++i) s->family(i).state_word.store(abandoned);
  for (std::uint32_t i = 0; i < kSeries; ++i) s->series(i).state_word.store(abandoned);

  Catalog catalog(*s);
  auto f = catalog.family({.name = "jobs_total", .type = MetricType::counter});
  ASSERT_TRUE(f) << f.error().message();
  auto id = catalog.series(*f, labels_for(1));
  ASSERT_TRUE(id) << id.error().message();
  auto found = catalog.find_series(*f, labels_for(1));
  ASSERT_TRUE(found);
  EXPECT_EQ(*found, *id);
  EXPECT_EQ(s->header().series_used.load(), 2u);  // the label set and its overflow series

  // What is still BUSY is reset by recover_abandoned (and by a Reaper, which calls it).
  std::uint32_t busy = 0;
  for (std::uint32_t i = 0; i < kSeries; ++i) busy += entry_state(s->series(i).state_word.load()) == EntryState::busy;
  for (std::uint32_t i = 0; i < s->max_families(); ++i) busy += entry_state(s->family(i).state_word.load()) == EntryState::busy;
  EXPECT_EQ(busy, kSeries - 2 + s->max_families() - 1);
  EXPECT_EQ(catalog.recover_abandoned(), busy);
  EXPECT_EQ(catalog.recover_abandoned(), 0u);
  for (std::uint32_t i = 0; i < kSeries; ++i) EXPECT_NE(entry_state(s->series(i).state_word.load()), EntryState::busy);
  // Registration goes on normally after the reset, and old ids stay.
  for (int k = 2; k < 10; ++k) ASSERT_TRUE(catalog.series(*f, labels_for(k)));
  EXPECT_EQ(*catalog.series(*f, labels_for(1)), *id);

  // A reaper run recovers abandoned entries too.
  std::uint32_t empty = 0;
  for (std::uint32_t i = 0; i < kSeries; ++i) {
    if (entry_state(s->series(i).state_word.load()) == EntryState::empty) {
      s->series(i).state_word.store(abandoned);
      ++empty;
    }
  }
  EXPECT_EQ(empty, kSeries - 10);  // overflow + label sets 1..9 are READY
  auto report = Reaper(*s).reap();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->entries_recovered, empty);
}

// A BUSY entry whose registrant lives (stopped, say) is never waited for: the registration steps
// over it and lands beside it, and the entry is not taken from its live owner.
TEST(Catalog, BusyEntryOfALiveRegistrantIsSteppedOver) {
  SegmentGuard g(wsm::test::unique_segment_name("stuck"));
  auto s = Segment::create(g.name(), {catalog_limits(8, 8)});
  ASSERT_TRUE(s);
  Catalog catalog(*s);
  auto f = catalog.family({.name = "jobs_total", .type = MetricType::counter});
  ASSERT_TRUE(f);
  const auto me = s->owner();
  ASSERT_TRUE(me);
  ASSERT_EQ(liveness(*s, *me), Liveness::alive);
  // The key's home entry (and the next) held BUSY by a live registrant: us, as if stopped there.
  const std::string labels = labels_for(1);
  const std::uint32_t home = static_cast<std::uint32_t>(series_hash(*f, labels) % s->max_series());
  const std::uint64_t stuck = entry_word(EntryState::busy, *me);
  for (std::uint32_t k = 0; k < 2; ++k) {
    std::uint64_t empty = entry_word(EntryState::empty, {});
    ASSERT_TRUE(s->series((home + k) % s->max_series()).state_word.compare_exchange_strong(empty, stuck));
  }
  auto id = catalog.series(*f, labels);
  ASSERT_TRUE(id) << id.error().message();
  EXPECT_NE(*id, home);
  EXPECT_NE(*id, (home + 1) % s->max_series());
  EXPECT_EQ(entry_state(s->series(*id).state_word.load()), EntryState::ready);
  EXPECT_EQ(catalog.recover_abandoned(), 0u) << "a live registrant's entry must not be reset";
  EXPECT_EQ(s->series(home).state_word.load(), stuck);
}

}  // namespace

// CatalogScan::when_counted (catalog_view.hpp): a refresh skips the series table while the
// header's series_used matches the entries the view has met, and a Tally that skipped it still
// places every cell: a series published but not counted (its registrant died between the two, or
// is between them) makes the pass meet an unknown cell, and the next pass scans every entry.
#include <gtest/gtest.h>

#include "test_support.hpp"
#include "wsm/shm/catalog_view.hpp"
#include "wsm/shm/segment.hpp"
#include "wsm/shm/tally.hpp"
#include "wsm/writer.hpp"

namespace {

using namespace wsm;
using wsm::test::SegmentGuard;

shm::Limits limits() {
  shm::Limits l;
  l.max_writers = 8;
  l.max_families = 16;
  l.max_series = 256;
  l.series_cap_per_family = 256;
  l.arena_bytes = 64 * 1024;
  l.string_bytes = 64 * 1024;
  return l;
}

const shm::Point* point_of(const shm::Aggregation& a, std::string_view family, std::string_view labels) {
  for (const shm::Point& p : a.points) {
    if (p.family->name == family && p.labels == labels) return &p;
  }
  return nullptr;
}

// What a registrant that died between publishing an entry and counting it leaves: the entry
// READY, series_used one short.
void lose_one_count(const shm::Segment& segment) {
  segment.header().series_used.fetch_sub(1, std::memory_order_relaxed);
}

TEST(CatalogScan, SkipsTheSeriesTableOnlyWhileNothingNewIsCounted) {
  SegmentGuard g(wsm::test::unique_segment_name("scan"));
  auto reg = Registry::open(g.name(), {.limits = limits(), .enabled = true});
  ASSERT_TRUE(reg) << reg.error().message();
  reg->counter("a_total", {{"k", "1"}}).inc();
  auto segment = shm::Segment::open(g.name(), {shm::Access::read_only});
  ASSERT_TRUE(segment);
  shm::CatalogView view;
  EXPECT_TRUE(view.refresh(*segment, shm::CatalogScan::when_counted)) << "a new view has met nothing";
  const std::size_t known = view.series_count();
  EXPECT_GT(known, 0u);
  EXPECT_FALSE(view.refresh(*segment, shm::CatalogScan::when_counted)) << "nothing was registered since";
  EXPECT_TRUE(view.refresh(*segment, shm::CatalogScan::every_entry));
  reg->counter("a_total", {{"k", "2"}}).inc();
  EXPECT_TRUE(view.refresh(*segment, shm::CatalogScan::when_counted)) << "series_used grew";
  EXPECT_EQ(view.series_count(), known + 1);
  EXPECT_FALSE(view.refresh(*segment, shm::CatalogScan::when_counted));
}

TEST(CatalogScan, ATallyThatSkippedTheScanStillPlacesEveryCell) {
  SegmentGuard g(wsm::test::unique_segment_name("scantally"));
  auto reg = Registry::open(g.name(), {.limits = limits(), .enabled = true});
  ASSERT_TRUE(reg) << reg.error().message();
  reg->counter("a_total", {{"k", "1"}}).inc(5);
  auto segment = shm::Segment::open(g.name());
  ASSERT_TRUE(segment);
  shm::Tally tally;
  shm::CatalogView view;
  const shm::TallyOptions skip{.catalog_scan = shm::CatalogScan::when_counted};
  ASSERT_TRUE(tally.take(*segment, view, skip));

  // A series with a cell, and a series without one, each published but one count short: the
  // counts match the view again, so the next refresh skips the table.
  reg->counter("a_total", {{"k", "2"}}).inc(7);
  lose_one_count(*segment);
  (void)reg->counter("a_total", {{"k", "3"}});
  lose_one_count(*segment);
  auto taken = tally.take(*segment, view, skip);
  ASSERT_TRUE(taken) << taken.error().message();
  EXPECT_TRUE(tally.meta().problems.empty()) << tally.meta().problems.front();
  const shm::Point* recorded = point_of(tally.aggregation(), "a_total", "k=\"2\"");
  ASSERT_NE(recorded, nullptr) << "the cell of a series the skipped scan missed was not placed";
  EXPECT_EQ(recorded->counter, 7u);
  ASSERT_NE(point_of(tally.aggregation(), "a_total", "k=\"1\""), nullptr);
  EXPECT_EQ(point_of(tally.aggregation(), "a_total", "k=\"1\"")->counter, 5u);
  // The rescan the unknown cell caused met the series without a cell too.
  EXPECT_NE(point_of(tally.aggregation(), "a_total", "k=\"3\""), nullptr);
}

// A series with no cell is found by the next scan of every entry (the exporter's interval read)
// even when no cell ever makes a pass look.
TEST(CatalogScan, AnUncountedSeriesWithoutCellsWaitsForAScanOfEveryEntry) {
  SegmentGuard g(wsm::test::unique_segment_name("scanquiet"));
  auto reg = Registry::open(g.name(), {.limits = limits(), .enabled = true});
  ASSERT_TRUE(reg) << reg.error().message();
  reg->counter("a_total", {{"k", "1"}}).inc();
  auto segment = shm::Segment::open(g.name());
  ASSERT_TRUE(segment);
  shm::Tally tally;
  shm::CatalogView view;
  ASSERT_TRUE(tally.take(*segment, view, {.catalog_scan = shm::CatalogScan::when_counted}));
  (void)reg->counter("a_total", {{"k", "quiet"}});
  lose_one_count(*segment);
  ASSERT_TRUE(tally.take(*segment, view, {.catalog_scan = shm::CatalogScan::when_counted}));
  EXPECT_EQ(point_of(tally.aggregation(), "a_total", "k=\"quiet\""), nullptr) << "the scan was not skipped";
  ASSERT_TRUE(tally.take(*segment, view, {.catalog_scan = shm::CatalogScan::every_entry}));
  EXPECT_NE(point_of(tally.aggregation(), "a_total", "k=\"quiet\""), nullptr);
}

// A registrant racing the reads: tally_test.cpp's TallyGrowing runs with both scans.

}  // namespace

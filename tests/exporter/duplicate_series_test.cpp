// A family name and label set is one sample in /metrics, however many catalog entries carry it:
// Prometheus rejects a whole scrape with a sample twice. Entries of one key (a damaged catalog, or
// a registrant that registered beside another's unfinished entry) are merged: counters and
// histogram buckets add up, gauges combine by the family's mode; a family of the same name and
// another type is left out. Checked on the exporter's path, on `wsm dump` and with promtool.
#include <gtest/gtest.h>
#include <wsm/writer.hpp>

#include <bit>
#include <cstring>
#include <map>
#include <sstream>

#include "exporter_test_support.hpp"
#include "wsm/exposition/format.hpp"
#include "wsm/shm/aggregation.hpp"
#include "wsm/shm/histogram_scheme.hpp"
#include "wsm/shm/snapshot.hpp"
#include "wsm/shm/writer_arena.hpp"

namespace {

using namespace wsm;

// Lines of a text exposition that are samples, and how often each series (name{labels}) occurs.
std::map<std::string, int> sample_counts(const std::string& text) {
  std::map<std::string, int> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line.front() == '#') continue;
    ++out[line.substr(0, line.rfind(' '))];
  }
  return out;
}

int occurrences(const std::string& text, const std::string& what) {
  int n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::uint32_t empty_series(const shm::Segment& s) {
  for (std::uint32_t i = 0; i < s.max_series(); ++i) {
    if (s.series(i).state_word.load() == 0) return i;
  }
  ADD_FAILURE() << "no empty series entry";
  return 0;
}

std::uint32_t empty_family(const shm::Segment& s) {
  for (std::uint32_t i = 0; i < s.max_families(); ++i) {
    if (s.family(i).state_word.load() == 0) return i;
  }
  ADD_FAILURE() << "no empty family entry";
  return 0;
}

// A second READY series entry with the same family (or `family`) and labels as entry `of`.
std::uint32_t copy_series(const shm::Segment& s, std::uint32_t of, std::optional<std::uint32_t> family = {}) {
  const std::uint32_t id = empty_series(s);
  const shm::SeriesEntry& from = s.series(of);
  shm::SeriesEntry& to = s.series(id);
  to.hash = from.hash;
  to.family_id = family.value_or(from.family_id);
  to.labels_off = from.labels_off;
  to.labels_len = from.labels_len;
  to.state_word.store(from.state_word.load());
  return id;
}

std::uint32_t copy_family(const shm::Segment& s, std::uint32_t of, shm::MetricType type) {
  const std::uint32_t id = empty_family(s);
  // Byte for byte, READY state word included (no reader runs meanwhile), then another type.
  std::memcpy(static_cast<void*>(&s.family(id)), static_cast<const void*>(&s.family(of)), sizeof(shm::FamilyEntry));
  s.family(id).type = type;
  return id;
}

std::uint32_t series_id(const shm::Segment& s, const std::string& family) {
  shm::CatalogView view;
  view.refresh(s);
  for (std::uint32_t id : view.ordered_series()) {
    if (view.family(view.series(id)->family_id)->name == family) return id;
  }
  ADD_FAILURE() << "no series of " << family;
  return 0;
}

TEST(DuplicateSeries, EntriesOfOneKeyAreOneSampleWithTheirCountsMerged) {
  const std::string name = test::unique_segment_name("dup");
  test::SegmentGuard guard(name);
  auto reg = Registry::open(name, {.role = "unit", .enabled = true});
  ASSERT_TRUE(reg) << reg.error().message();
  reg->counter("dup_requests_total", {{"k", "v"}}, "requests").inc(3);
  reg->gauge("dup_level", {{"k", "v"}}, "level").set(2);
  reg->histogram("dup_wait_seconds", {{"k", "v"}}, "wait").record(std::chrono::milliseconds(1));

  auto segment = shm::Segment::open(name);
  ASSERT_TRUE(segment) << segment.error().message();
  const shm::Segment& s = *segment;
  const std::uint32_t counter = series_id(s, "dup_requests_total");
  const std::uint32_t gauge = series_id(s, "dup_level");
  const std::uint32_t hist = series_id(s, "dup_wait_seconds");
  const std::uint32_t counter2 = copy_series(s, counter);
  const std::uint32_t gauge2 = copy_series(s, gauge);
  const std::uint32_t hist2 = copy_series(s, hist);
  // A family of the same name and another type, with a series of the same labels: left out.
  const std::uint32_t clash = copy_family(s, s.series(counter).family_id, shm::MetricType::gauge);
  const std::uint32_t clash_series = copy_series(s, counter, clash);

  // Cells of this process's own arena for the copies (and for the left-out series).
  auto arena = shm::WriterArena::claim(s, 1, "dup");
  ASSERT_TRUE(arena) << arena.error().message();
  arena->append(counter2, shm::MetricType::counter, shm::kCounterWords)[0].store(4);
  auto* g = arena->append(gauge2, shm::MetricType::gauge, shm::kGaugeWords);
  g[0].store(std::bit_cast<std::uint64_t>(5.0));
  g[1].store(shm::monotonic_ns());
  const shm::HistogramScheme scheme{s.family(s.series(hist).family_id).max_octave};
  auto* h = arena->append(hist2, shm::MetricType::histogram, shm::histogram_words(scheme.bucket_count()));
  h[0].store(1'000'000);
  h[1 + scheme.index_of(1'000'000)].store(1);
  arena->append(clash_series, shm::MetricType::gauge, shm::kGaugeWords)[0].store(std::bit_cast<std::uint64_t>(100.0));

  shm::CatalogView catalog;
  auto snapshot = shm::Snapshot::take(s, catalog);
  ASSERT_TRUE(snapshot) << snapshot.error().message();
  const auto aggregation = shm::Aggregation::of(catalog, *snapshot);
  EXPECT_EQ(aggregation.merged_entries, 3u);
  ASSERT_EQ(aggregation.left_out.size(), 1u);
  EXPECT_NE(aggregation.left_out[0].find("dup_requests_total"), std::string::npos) << aggregation.left_out[0];
  std::string text;
  exposition::Writer().write(exposition::Format::prometheus_text, &aggregation, {}, 0, text);

  for (const std::string& exposed : {text, test::run({test::bin("wsm"), "dump", "--prom", name}).out}) {
    for (const auto& [series, n] : sample_counts(exposed)) EXPECT_EQ(n, 1) << series << " in\n" << exposed;
    EXPECT_EQ(occurrences(exposed, "# TYPE dup_requests_total "), 1) << exposed;
    const auto e = test::parse_exposition(exposed);
    EXPECT_EQ(test::sample(e, "dup_requests_total{k=\"v\"}"), 7) << exposed;
    EXPECT_EQ(test::sample(e, "dup_level{k=\"v\"}"), 7) << exposed;
    EXPECT_EQ(test::sample(e, "dup_wait_seconds_count{k=\"v\"}"), 2) << exposed;
    EXPECT_DOUBLE_EQ(test::sample(e, "dup_wait_seconds_sum{k=\"v\"}"), 0.002) << exposed;
    EXPECT_EQ(test::promtool_problems(exposed), std::vector<std::string>{}) << exposed;
  }
}

}  // namespace

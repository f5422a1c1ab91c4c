#include "segment_totals.hpp"

#include "wsm/shm/catalog.hpp"
#include "wsm/shm/catalog_view.hpp"
#include "wsm/shm/snapshot.hpp"
#include "wsm/shm/tally.hpp"

namespace wsm::test {

namespace {

std::string key_of(const shm::FamilyInfo& family, const shm::SeriesInfo& series, std::int64_t worker) {
  // Appended piece by piece: GCC 12 warns (-Wrestrict, a false positive) on "x" + std::string&&.
  std::string key = family.name;
  key += '{';
  key += series.labels;
  key += '}';
  if (worker >= 0) (key += '@') += std::to_string(worker);
  return key;
}

Totals totals_from(const shm::Aggregation& aggregation) {
  Totals out;
  for (const shm::Point& p : aggregation.points) {
    SeriesTotal t;
    t.type = p.family->type;
    t.unit = p.family->unit;
    t.max_octave = p.family->max_octave;
    t.counter = p.counter;
    t.gauge = p.gauge;
    t.sum = p.sum;
    t.count = p.count;
    t.recorded = p.recorded;
    if (p.family->type == shm::MetricType::histogram) {
      const auto b = aggregation.buckets_of(p);
      t.buckets.assign(b.begin(), b.end());
    }
    out[key_of(*p.family, *p.series, p.worker)] = std::move(t);
  }
  return out;
}

}  // namespace

std::string series_key(std::string_view name, std::span<const Label> labels, pid_t worker) {
  // The overflow series' label is the catalog's own, which registrants may not use.
  const bool overflow = labels.size() == 1 && labels[0] == Label{"wsm_overflow", "true"};
  auto canonical = overflow ? Result<std::string>(shm::kOverflowLabels) : shm::canonical_labels(labels);
  std::string key(name);
  key += '{';
  key += canonical ? *canonical : "<invalid labels>";
  key += '}';
  if (worker >= 0) (key += '@') += std::to_string(worker);
  return key;
}

Result<Totals> totals_of(const shm::Segment& segment, std::chrono::milliseconds wait, Reader reader,
                         unsigned threads) {
  shm::CatalogView catalog;
  if (reader == Reader::tally) {
    shm::Tally tally;
    auto taken = tally.take(segment, catalog, {wait, threads, 0});
    if (!taken) return std::unexpected(taken.error());
    if (!tally.meta().problems.empty()) return fail(Errc::corrupt, "tally problem: " + tally.meta().problems.front());
    return totals_from(tally.aggregation());
  }
  auto snap = shm::Snapshot::take(segment, catalog, {wait});
  if (!snap) return std::unexpected(snap.error());
  if (!snap->problems.empty()) return fail(Errc::corrupt, "snapshot problem: " + snap->problems.front());
  return totals_from(shm::Aggregation::of(catalog, *snap));
}

Result<Totals> totals_of(const std::string& segment_name) {
  auto segment = shm::Segment::open(segment_name, {shm::Access::read_only});
  if (!segment) return std::unexpected(segment.error());
  return totals_of(*segment);
}

Result<std::map<pid_t, std::uint64_t>> counter_by_pid(const shm::Segment& segment,
                                                      const std::string& key) {
  shm::CatalogView catalog;
  auto snap = shm::Snapshot::take(segment, catalog);
  if (!snap) return std::unexpected(snap.error());
  std::map<pid_t, std::uint64_t> out;
  for (const shm::CellView& cell : snap->cells) {
    const shm::SeriesInfo* series = catalog.series(cell.series_id);
    if (series == nullptr || key_of(*catalog.family(series->family_id), *series, -1) != key) continue;
    const pid_t pid = cell.writer == shm::kRetiredWriter
                          ? 0
                          : snap->writers[static_cast<std::size_t>(cell.writer)].pid;
    out[pid] += snap->words[cell.first_word];
  }
  return out;
}

}  // namespace wsm::test

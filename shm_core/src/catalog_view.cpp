#include "wsm/shm/catalog_view.hpp"

#include <algorithm>

#include "wsm/shm/catalog.hpp"
#include "wsm/shm/histogram_scheme.hpp"
#include "wsm/shm/labels.hpp"

namespace wsm::shm {

std::uint32_t FamilyInfo::cell_words() const noexcept {
  switch (type) {
    case MetricType::counter: return kCounterWords;
    case MetricType::gauge: return kGaugeWords;
    case MetricType::histogram: return histogram_words(bucket_count);
  }
  return 0;
}

bool CatalogView::refresh(const Segment& segment, CatalogScan scan) {
  const std::uint64_t generation = segment.header().generation;
  if (generation != generation_ || families_.size() != segment.max_families() ||
      series_.size() != segment.max_series()) {
    *this = CatalogView{};
    generation_ = generation;
    families_.resize(segment.max_families());
    series_.resize(segment.max_series());
    shapes_.assign(segment.max_series(), 0);
    reported_.assign(segment.max_series() + segment.max_families(), false);
  }
  for (std::uint32_t i = 0; i < segment.max_families(); ++i) {
    if (!families_[i]) read_family(segment, i);
  }
  if (scan == CatalogScan::when_counted) {
    // Relaxed: the count only decides whether to look (refresh()'s comment); READY is acquired
    // per entry when the table is scanned.
    const std::uint64_t used = segment.header().series_used.load(std::memory_order_relaxed);
    if (used == known_series_ + malformed_series_) return false;
  }
  for (std::uint32_t i = 0; i < segment.max_series(); ++i) {
    if (shapes_[i] == 0) read_series(segment, i);
  }
  return true;
}

void CatalogView::read_family(const Segment& segment, std::uint32_t id) {
  const FamilyEntry& e = segment.family(id);
  // Acquire: pairs with the registrant's release of READY; the fields below are complete.
  if (entry_state(e.state_word.load(std::memory_order_acquire)) != EntryState::ready) return;
  FamilyInfo f;
  f.id = id;
  std::string_view name, help;
  const bool strings_ok = segment.string_at(e.name_off, e.name_len, name) &&
                          segment.string_at(e.help_off, e.help_len, help);
  const bool type_ok = e.type == MetricType::counter || e.type == MetricType::gauge ||
                       e.type == MetricType::histogram;
  const bool shape_ok = e.max_octave >= kSubBits && e.max_octave <= kMaxOctaveLimit &&
                        static_cast<std::uint8_t>(e.unit) <= static_cast<std::uint8_t>(Unit::percent) &&
                        static_cast<std::uint8_t>(e.gauge_mode) <= static_cast<std::uint8_t>(GaugeMode::per_writer) &&
                        (e.type != MetricType::histogram ||
                         e.bucket_count == HistogramScheme{e.max_octave}.bucket_count());
  if (!strings_ok || !type_ok || !shape_ok || !validate_metric_name(name)) {
    if (!reported_[segment.max_series() + id]) {
      reported_[segment.max_series() + id] = true;
      problems_.push_back("family entry " + std::to_string(id) + " is READY but malformed");
    }
    return;
  }
  f.name = name;
  f.help = help;
  f.type = e.type;
  f.gauge_mode = e.gauge_mode;
  f.unit = e.unit;
  f.max_octave = e.max_octave;
  f.bucket_count = e.bucket_count;
  f.series_cap = e.series_cap;
  families_[id] = std::move(f);
  family_ids_.push_back(id);
  std::sort(family_ids_.begin(), family_ids_.end(), [&](std::uint32_t a, std::uint32_t b) {
    return families_[a]->name < families_[b]->name;
  });
}

void CatalogView::read_series(const Segment& segment, std::uint32_t id) {
  const SeriesEntry& e = segment.series(id);
  if (entry_state(e.state_word.load(std::memory_order_acquire)) != EntryState::ready) return;
  std::string_view labels;
  std::vector<std::pair<std::string, std::string>> parsed;
  const std::uint32_t family_id = e.family_id;
  if (family_id < families_.size() && !families_[family_id]) read_family(segment, family_id);
  if (family(family_id) == nullptr || !segment.string_at(e.labels_off, e.labels_len, labels) ||
      !parse_canonical_labels(labels, parsed)) {
    if (!reported_[id]) {
      reported_[id] = true;
      ++malformed_series_;
      problems_.push_back("series entry " + std::to_string(id) + " is READY but malformed");
    }
    return;
  }
  series_[id] = SeriesInfo{id, family_id, labels == kOverflowLabels, keep_labels(labels)};
  const FamilyInfo& f = *family(family_id);
  shapes_[id] = (static_cast<std::uint32_t>(f.type) << 16) | f.cell_words();
  ++known_series_;
  ordered_stale_ = true;
}

std::string_view CatalogView::keep_labels(std::string_view labels) {
  constexpr std::size_t kBlock = 64 * 1024;  // below malloc's mmap threshold: from the heap
  if (labels.size() > block_left_) {
    const std::size_t size = std::max(kBlock, labels.size());
    label_blocks_.push_back(std::make_unique_for_overwrite<char[]>(size));
    block_next_ = label_blocks_.back().get();
    block_left_ = size;
  }
  char* at = block_next_;
  std::copy(labels.begin(), labels.end(), at);
  block_next_ += labels.size();
  block_left_ -= labels.size();
  return {at, labels.size()};
}

const std::vector<std::uint32_t>& CatalogView::ordered_series() const {
  if (ordered_stale_) {
    ordered_.clear();
    for (std::uint32_t i = 0; i < series_.size(); ++i) {
      if (shapes_[i] != 0) ordered_.push_back(i);
    }
    std::sort(ordered_.begin(), ordered_.end(), [&](std::uint32_t a, std::uint32_t b) {
      const SeriesInfo& x = series_[a];
      const SeriesInfo& y = series_[b];
      // Name, labels, then id: families of one name interleave by labels, so entries of one key
      // are neighbours (series_merge.cpp relies on it), and the order is a strict weak order.
      if (x.family_id != y.family_id) {
        const std::string& xn = families_[x.family_id]->name;
        const std::string& yn = families_[y.family_id]->name;
        if (xn != yn) return xn < yn;
      }
      if (x.labels != y.labels) return x.labels < y.labels;
      return a < b;
    });
    ordered_stale_ = false;
  }
  return ordered_;
}

}  // namespace wsm::shm

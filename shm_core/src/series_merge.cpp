#include "wsm/shm/series_merge.hpp"

#include "wsm/shm/labels.hpp"

namespace wsm::shm {

namespace {

// Series of both families can be summed cell by cell into one point.
bool same_shape(const FamilyInfo& a, const FamilyInfo& b) {
  return a.type == b.type && a.unit == b.unit &&
         (a.type != MetricType::histogram || a.bucket_count == b.bucket_count);
}

// How far from its name's home entry a family sits in the catalog's probe order: the family a
// registrant of that name finds first has the smallest distance.
std::uint64_t probe_distance(const CatalogView& catalog, const FamilyInfo& f) {
  const std::uint64_t n = catalog.family_capacity();
  return n == 0 ? 0 : (f.id + n - stable_hash(f.name) % n) % n;
}

const char* type_name(MetricType type) {
  switch (type) {
    case MetricType::counter: return "counter";
    case MetricType::gauge: return "gauge";
    case MetricType::histogram: return "histogram";
  }
  return "unknown";
}

}  // namespace

SeriesMerge merge_series(const CatalogView& catalog) {
  SeriesMerge m;
  // family_ids() is sorted by name: families of one name are neighbours.
  const auto& families = catalog.family_ids();
  std::uint32_t max_family = 0;
  for (std::uint32_t id : families) max_family = std::max(max_family, id + 1);
  m.family_into.assign(max_family, SeriesMerge::kLeftOut);
  for (std::size_t begin = 0; begin < families.size();) {
    const std::string& name = catalog.family(families[begin])->name;
    std::size_t end = begin;
    std::uint32_t first = families[begin];
    while (end < families.size() && catalog.family(families[end])->name == name) {
      if (probe_distance(catalog, *catalog.family(families[end])) <
          probe_distance(catalog, *catalog.family(first))) {
        first = families[end];
      }
      ++end;
    }
    const FamilyInfo& exposed = *catalog.family(first);
    for (std::size_t i = begin; i < end; ++i) {
      const FamilyInfo& f = *catalog.family(families[i]);
      if (same_shape(f, exposed)) {
        m.family_into[f.id] = first;
      } else {
        m.left_out.push_back("family entry " + std::to_string(f.id) + " '" + name + "' is a " +
                             type_name(f.type) + " (or another bucket scheme) beside family entry " +
                             std::to_string(first) + ", a " + type_name(exposed.type) +
                             " of the same name; its series are left out");
      }
    }
    begin = end;
  }

  const auto& order = catalog.ordered_series();
  std::uint32_t max_series = 0;
  for (std::uint32_t id : order) max_series = std::max(max_series, id + 1);
  m.series_into.assign(max_series, SeriesMerge::kLeftOut);
  m.order.reserve(order.size());
  // ordered_series() sorts by family name, then labels: entries of one key are neighbours.
  std::uint32_t last_family = SeriesMerge::kLeftOut;
  const std::string_view* last_labels = nullptr;
  for (std::uint32_t id : order) {
    const SeriesInfo& s = *catalog.series(id);
    const std::uint32_t family = s.family_id < m.family_into.size() ? m.family_into[s.family_id]
                                                                    : SeriesMerge::kLeftOut;
    if (family == SeriesMerge::kLeftOut) continue;
    if (family == last_family && last_labels != nullptr && *last_labels == s.labels) {
      m.series_into[id] = static_cast<std::uint32_t>(m.order.size() - 1);
      ++m.merged;
      continue;
    }
    m.series_into[id] = static_cast<std::uint32_t>(m.order.size());
    m.order.push_back(id);
    m.order_overflow.push_back(s.overflow);
    last_family = family;
    last_labels = &s.labels;
  }
  return m;
}

}  // namespace wsm::shm

#include "series_key.hpp"

#include "wsm/shm/label_hash.hpp"

namespace wsm::detail {

SeriesKey series_key(std::string_view name, shm::MetricType type, std::span<const Label> labels) noexcept {
  return {name, type, labels, shm::label_set_hash(labels), shm::name_hash(name)};
}

std::uint64_t index_hash(const SeriesKey& key) noexcept {
  // Both hashes are already avalanched; the multiply keeps (name a, labels b) apart from (b, a).
  return key.name_hash * 0x9e3779b97f4a7c15ull + key.labels_hash;
}

std::optional<std::uint32_t> family_holding(const shm::Segment& segment, std::uint32_t id,
                                            const SeriesKey& key) noexcept {
  if (id >= segment.max_series()) return std::nullopt;
  const shm::SeriesEntry& s = segment.series(id);
  // Acquire: the entry's fields and strings, written before its READY release, are visible.
  if (shm::entry_state(s.state_word.load(std::memory_order_acquire)) != shm::EntryState::ready) {
    return std::nullopt;
  }
  const std::uint32_t family_id = s.family_id;
  if (family_id >= segment.max_families()) return std::nullopt;
  const shm::FamilyEntry& f = segment.family(family_id);
  if (shm::entry_state(f.state_word.load(std::memory_order_acquire)) != shm::EntryState::ready ||
      f.type != key.type) {
    return std::nullopt;
  }
  std::string_view name;
  std::string_view labels;
  if (!segment.string_at(f.name_off, f.name_len, name) || name != key.name ||
      !segment.string_at(s.labels_off, s.labels_len, labels) ||
      !shm::canonical_labels_equal(labels, key.labels)) {
    return std::nullopt;
  }
  return family_id;
}

}  // namespace wsm::detail

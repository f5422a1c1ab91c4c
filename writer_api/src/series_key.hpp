// A registration's key (metric name, type, labels as the caller gave them), its hashes, and the
// check that a catalog entry holds exactly that key: what the process's SeriesIndex needs to find
// a series again without building its canonical label set.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "wsm/shm/labels.hpp"
#include "wsm/shm/layout.hpp"
#include "wsm/shm/segment.hpp"

namespace wsm::detail {

struct SeriesKey {
  std::string_view name;
  shm::MetricType type;
  std::span<const Label> labels;
  std::uint64_t labels_hash;  // shm::label_set_hash(labels): the catalog probes with it too
  std::uint64_t name_hash;    // shm::name_hash(name)
};

// The key with its hashes, computed once over the caller's views.
[[nodiscard]] SeriesKey series_key(std::string_view name, shm::MetricType type,
                                   std::span<const Label> labels) noexcept;

// The index's hash of a key. A function pointer, so that tests can force collisions.
using KeyHash = std::uint64_t (*)(const SeriesKey&) noexcept;
[[nodiscard]] std::uint64_t index_hash(const SeriesKey& key) noexcept;

// The family id of series `id` when its READY catalog entry holds exactly this key (family name
// and type, and the canonical form of the labels), else nullopt. Reads the segment only, bounds-
// checked; allocates nothing.
[[nodiscard]] std::optional<std::uint32_t> family_holding(const shm::Segment& segment, std::uint32_t id,
                                                          const SeriesKey& key) noexcept;

}  // namespace wsm::detail

// How full a segment is, region by region and family by family: what `wsm inspect` shows and what
// the exporter warns about in its log. One list, so both name the same things the same way.
//
// Every region has a fixed capacity set at creation (Limits). What happens at each cap (README,
// "Guarantees"): a family at its series cap or a full catalog or string arena sends new label sets
// to the family's overflow series; a full writer arena or slot table records into a process-local
// sink; a full connection table leaves new connections out of the table. Recording never fails.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "wsm/shm/catalog_view.hpp"
#include "wsm/shm/segment.hpp"
#include "wsm/shm/snapshot.hpp"

namespace wsm::shm {

inline constexpr double kNearFullPercent = 80;  // a cap this full gets a warning

struct Fill {
  std::string name;  // a region (see region_remedy) or, in SegmentFill::families, a family name
  std::uint64_t used = 0;
  std::uint64_t capacity = 0;
  [[nodiscard]] double percent() const noexcept {
    return capacity == 0 ? 0 : 100.0 * static_cast<double>(used) / static_cast<double>(capacity);
  }
  [[nodiscard]] bool near_full() const noexcept { return percent() >= kNearFullPercent; }
  [[nodiscard]] bool full() const noexcept { return capacity != 0 && used >= capacity; }
};

struct SegmentFill {
  // In this order: writers (slots not FREE), families, series (catalog entries), string_bytes,
  // retired_bytes, fullest_writer_arena_bytes, connections (records in use).
  std::vector<Fill> regions;
  // Per family, in catalog order: its series (the overflow series not counted) of its series cap.
  std::vector<Fill> families;
};

// The arena of the writer that has used most of its own: what the cap acts on (each thread has an
// arena of Limits::arena_bytes, and the thread whose arena is full drops its new cells while the
// others still have room), so a sum over all arenas would hide it. /api/v1/segment and `wsm
// inspect` both show this, under this name.
[[nodiscard]] Fill fullest_writer_arena(const Segment& segment, const Snapshot& snapshot);

// From a snapshot taken with `catalog` (any SnapshotOptions: only header, writers and catalog are
// read) and the segment's connection table.
[[nodiscard]] SegmentFill segment_fill(const Segment& segment, const CatalogView& catalog,
                                       const Snapshot& snapshot);

// What happens when a region is full and which Limits field makes it larger.
[[nodiscard]] std::string_view region_remedy(std::string_view region) noexcept;

}  // namespace wsm::shm

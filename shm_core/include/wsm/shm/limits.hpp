// Sizes of a segment, fixed when it is created. The creator's Limits win; later openers read them
// from the header. Defaults suit a few worker processes with a few dozen threads each.
#pragma once

#include <cstdint>

#include "wsm/shm/error.hpp"

namespace wsm::shm {

struct Limits {
  // The whole segment is reserved with posix_fallocate at creation (about 28 MiB with these
  // defaults), so a full /dev/shm fails creation with a clear error instead of a SIGBUS later.
  std::uint32_t max_writers = 64;               // writer slots (one per recording thread), and
                                                // as many process records
  std::uint32_t max_families = 256;             // metric names
  std::uint32_t max_series = 16384;             // name + label set combinations
  std::uint32_t series_cap_per_family = 4000;   // then a family's new label sets overflow
  std::uint64_t arena_bytes = 256 * 1024;       // cells per writer (a histogram cell is ~2.8 KiB)
  std::uint64_t string_bytes = 2 * 1024 * 1024; // names, help texts and label sets
  std::uint64_t retired_bytes = 8 * 1024 * 1024;  // cells folded from dead writers
  std::uint32_t max_connections = 4096;         // connection table records (192 B each)

  // Checks every field against its allowed range; the message names the field and the range.
  [[nodiscard]] Result<void> validate() const;
};

// Byte offsets of every region for a given set of limits; the header stores them and readers
// recompute and compare, so one function is the single source of truth for the layout.
struct RegionLayout {
  std::uint64_t processes_offset, slots_offset, families_offset, series_offset, retired_index_offset;
  std::uint64_t strings_offset, retired_offset, connections_offset, arenas_offset, total_bytes;
};
[[nodiscard]] RegionLayout compute_layout(const Limits& limits) noexcept;

}  // namespace wsm::shm

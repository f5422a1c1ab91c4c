#include "wsm/shm/limits.hpp"

#include <string>

#include "wsm/shm/layout.hpp"

namespace wsm::shm {

namespace {

Result<void> check(const char* field, std::uint64_t value, std::uint64_t lo, std::uint64_t hi) {
  if (value < lo || value > hi) {
    return fail(Errc::invalid_argument, std::string("limit ") + field + " = " +
                                            std::to_string(value) + " is out of range [" +
                                            std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return {};
}

constexpr std::uint64_t align64(std::uint64_t v) { return (v + 63) & ~std::uint64_t{63}; }

}  // namespace

Result<void> Limits::validate() const {
  constexpr std::uint64_t kU32 = 0xffff'ffffull;
  for (auto r : {check("max_writers", max_writers, 1, 4096),
                 check("max_families", max_families, 1, 65536),
                 check("max_series", max_series, 1, 1u << 24),
                 check("series_cap_per_family", series_cap_per_family, 1, max_series),
                 check("arena_bytes", arena_bytes, 4096, 1ull << 30),
                 check("string_bytes", string_bytes, 4096, kU32),
                 check("retired_bytes", retired_bytes, 4096, kU32 - 1),
                 check("max_connections", max_connections, 0, 1u << 22)}) {
    if (!r) return r;
  }
  if (arena_bytes % 64 != 0 || retired_bytes % 8 != 0) {
    return fail(Errc::invalid_argument, "limits arena_bytes must be a multiple of 64 and "
                                        "retired_bytes a multiple of 8");
  }
  if (compute_layout(*this).total_bytes > (64ull << 30)) {
    return fail(Errc::invalid_argument, "limits describe a segment over 64 GiB");
  }
  return {};
}

RegionLayout compute_layout(const Limits& l) noexcept {
  RegionLayout r{};
  r.processes_offset = align64(sizeof(SegmentHeader));
  r.slots_offset = align64(r.processes_offset + std::uint64_t{l.max_writers} * sizeof(ProcessRecord));
  r.families_offset = align64(r.slots_offset + std::uint64_t{l.max_writers} * sizeof(WriterSlot));
  r.series_offset = align64(r.families_offset + std::uint64_t{l.max_families} * sizeof(FamilyEntry));
  r.retired_index_offset =
      align64(r.series_offset + std::uint64_t{l.max_series} * sizeof(SeriesEntry));
  r.strings_offset = align64(r.retired_index_offset + std::uint64_t{l.max_series} * 4);
  r.retired_offset = align64(r.strings_offset + l.string_bytes);
  r.connections_offset = align64(r.retired_offset + l.retired_bytes);
  r.arenas_offset =
      align64(r.connections_offset + std::uint64_t{l.max_connections} * sizeof(ConnectionRecord));
  r.total_bytes = r.arenas_offset + std::uint64_t{l.max_writers} * l.arena_bytes;
  return r;
}

}  // namespace wsm::shm

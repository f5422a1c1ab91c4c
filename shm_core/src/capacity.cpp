#include "wsm/shm/capacity.hpp"

#include <algorithm>

#include "wsm/shm/connection_table.hpp"

namespace wsm::shm {

Fill fullest_writer_arena(const Segment& segment, const Snapshot& snapshot) {
  std::uint64_t fullest = 0;
  for (const WriterInfo& w : snapshot.writers) fullest = std::max(fullest, w.cells_bytes);
  return {"fullest_writer_arena_bytes", fullest, segment.limits().arena_bytes};
}

SegmentFill segment_fill(const Segment& segment, const CatalogView& catalog, const Snapshot& snapshot) {
  const Limits& l = segment.limits();
  const HeaderStats& st = snapshot.stats;
  SegmentFill fill;
  // strings_used may pass the arena's end: a registration that did not fit still reserved.
  fill.regions = {
      {"writers", snapshot.writers.size(), l.max_writers},
      {"families", st.families_used, l.max_families},
      {"series", st.series_used, l.max_series},
      {"string_bytes", std::min(st.strings_used, st.string_bytes), st.string_bytes},
      {"retired_bytes", st.retired_used, st.retired_bytes},
      fullest_writer_arena(segment, snapshot),
      {"connections", connections_in_use(segment), l.max_connections},
  };
  // By family id, overflow series not counted. Every interval of the exporter runs this over the
  // whole catalog: a flat array, not a map.
  std::vector<std::uint64_t> series(l.max_families, 0);
  for (std::uint32_t id : catalog.ordered_series()) {
    const SeriesInfo& s = *catalog.series(id);
    if (!s.overflow && s.family_id < series.size()) ++series[s.family_id];
  }
  for (std::uint32_t id : catalog.family_ids()) {
    const FamilyInfo& f = *catalog.family(id);
    fill.families.push_back({f.name, id < series.size() ? series[id] : 0, f.series_cap});
  }
  return fill;
}

std::string_view region_remedy(std::string_view region) noexcept {
  if (region == "writers") {
    return "when full, new recording threads record into a private sink (wsm_writers_dropped_total); "
           "raise Limits::max_writers";
  }
  if (region == "families") return "when full, new metric names are refused; raise Limits::max_families";
  if (region == "series" || region == "string_bytes") {
    return "when full, new label sets go to their family's overflow series {wsm_overflow=\"true\"} "
           "(wsm_series_dropped_total); raise Limits::max_series and Limits::string_bytes";
  }
  if (region == "retired_bytes") {
    return "when full, dead writers stay unfolded (their counts stay visible); raise Limits::retired_bytes";
  }
  if (region == "fullest_writer_arena_bytes") {
    return "when full, that thread's new series record into a private sink (wsm_cells_dropped_total); "
           "raise Limits::arena_bytes";
  }
  if (region == "connections") {
    return "when full, new connections are left out of the connection table (connections_dropped in the "
           "header); raise Limits::max_connections";
  }
  return "raise its Limits field";
}

}  // namespace wsm::shm

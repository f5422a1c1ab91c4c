// GET /api/v1/writers and GET /api/v1/segment: the segment's writer slots and how full it is,
// from a fresh snapshot of its header and slots (no cells are copied).

#include "wsm/exporter/api.hpp"
#include "wsm/shm/capacity.hpp"

namespace wsm::exporter {

namespace {

using nlohmann::json;

json usage(std::uint64_t used, std::uint64_t capacity) {
  return {{"used", used},
          {"capacity", capacity},
          {"percent", capacity == 0 ? 0.0 : 100.0 * static_cast<double>(used) / static_cast<double>(capacity)}};
}

}  // namespace

ApiResult api_writers(Monitor& monitor) {
  json writers = json::array();
  const bool ran = monitor.with_fresh_snapshot([&](const shm::Segment&, const shm::Snapshot& snap) {
    for (const shm::WriterInfo& w : snap.writers) {
      // A beat after the snapshot's clock reading (a writer racing it) counts as age 0.
      const bool beat = w.heartbeat_ns != 0;
      const std::uint64_t age_ns = beat && w.heartbeat_ns < snap.taken_mono_ns ? snap.taken_mono_ns - w.heartbeat_ns : 0;
      writers.push_back({{"slot", w.slot},
                         {"pid", w.pid},
                         {"tid", w.tid},
                         {"role", w.role},
                         {"state", shm::slot_state_name(w.state)},
                         {"alive", w.alive},
                         {"liveness", shm::liveness_name(w.liveness)},  // from the kernel, see liveness.hpp
                         {"process_record", w.owner.process},
                         {"heartbeat_age_seconds", beat ? json(static_cast<double>(age_ns) / 1e9) : json(nullptr)},
                         {"cells_bytes", w.cells_bytes}});
    }
  });
  if (!ran) return api_error(503, monitor.status().reason);
  return {200, {{"writers", writers}}};
}

ApiResult api_segment(Monitor& monitor) {
  json body;
  const bool ran = monitor.with_fresh_snapshot([&](const shm::Segment& segment, const shm::Snapshot& snap) {
    const shm::HeaderStats& h = snap.stats;
    const shm::Limits& limits = segment.limits();
    const shm::Fill arena = shm::fullest_writer_arena(segment, snap);
    body = {{"segment", segment.name()},
            {"size_bytes", h.total_bytes},
            {"usage",
             {{"series", usage(h.series_used, limits.max_series)},
              {"families", usage(h.families_used, limits.max_families)},
              {"writers", usage(snap.writers.size(), limits.max_writers)},
              {"string_bytes", usage(h.strings_used, h.string_bytes)},
              {"retired_bytes", usage(h.retired_used, h.retired_bytes)},
              {arena.name, usage(arena.used, arena.capacity)}}},
            {"dropped",
             {{"series", h.series_dropped},
              {"cells", h.cells_dropped},
              {"writers", h.writers_dropped},
              {"retired_cells", h.retired_dropped}}},
            {"writers_reaped", h.writers_reaped}};
  });
  if (!ran) return api_error(503, monitor.status().reason);
  return {200, body};
}

}  // namespace wsm::exporter

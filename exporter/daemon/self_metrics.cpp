#include "wsm/exporter/self_metrics.hpp"

#include <array>

#include "wsm/shm/labels.hpp"

#ifndef WSM_VERSION
#define WSM_VERSION "unknown"
#endif

namespace wsm::exporter {

namespace {

using exposition::ComputedFamily;

ComputedFamily& add(std::vector<ComputedFamily>& out, std::string_view name, shm::MetricType type,
                    std::string_view help) {
  return out.emplace_back(ComputedFamily{std::string(name), std::string(help), type, {}});
}

void one(std::vector<ComputedFamily>& out, std::string_view name, shm::MetricType type,
         std::string_view help, double value) {
  add(out, name, type, help).samples.push_back({"", value});
}

std::string label(std::string_view name, std::string_view value) {
  std::string s(name);
  s += "=\"";
  shm::escape_label_value(value, s);
  s += '"';
  return s;
}

}  // namespace

void append_self_metrics(const SelfFigures& f, std::vector<ComputedFamily>& out) {
  using shm::MetricType;
  add(out, "wsm_build_info", MetricType::gauge, "wsmetrics exporter build (value 1)")
      .samples.push_back({label("version", WSM_VERSION), 1});
  one(out, "wsm_segment_attached", MetricType::gauge,
      "1 while the exporter reads a segment, 0 while it waits for one", f.segment != nullptr ? 1 : 0);
  one(out, "wsm_scrape_duration_seconds", MetricType::gauge,
      "Time the previous /metrics scrape took (snapshot, aggregate, serialise)", f.last_scrape_seconds);
  if (f.segment == nullptr || f.snapshot == nullptr) return;
  one(out, "wsm_snapshot_duration_seconds", MetricType::gauge,
      "Time the last interval's snapshot and aggregation took", f.last_snapshot_seconds);

  const shm::HeaderStats& h = f.snapshot->stats;
  const shm::Limits& limits = f.segment->limits();
  one(out, "wsm_series_used", MetricType::gauge, "Series registered in the segment",
      static_cast<double>(h.series_used));
  one(out, "wsm_series_capacity", MetricType::gauge, "Series the segment can hold",
      static_cast<double>(limits.max_series));
  one(out, "wsm_segment_size_bytes", MetricType::gauge, "Size of the shared-memory segment",
      static_cast<double>(h.total_bytes));

  std::uint64_t arena_used = 0;
  std::array<double, 4> writers{};  // live, dead, detached, retiring
  for (const shm::WriterInfo& w : f.snapshot->writers) {
    arena_used += w.cells_bytes;
    if (w.state == shm::SlotState::detached) {
      ++writers[2];
    } else if (w.state == shm::SlotState::retiring) {
      ++writers[3];
    } else {
      ++writers[w.alive ? 0 : 1];
    }
  }
  // Filled side by side, then appended: a reference into `out` would not survive the next add.
  ComputedFamily used{"wsm_segment_used_bytes", "Bytes in use per region of the segment", MetricType::gauge, {}};
  ComputedFamily cap{"wsm_segment_capacity_bytes", "Bytes per region of the segment", MetricType::gauge, {}};
  const std::array<std::pair<std::string_view, std::array<double, 2>>, 3> regions = {{
      {"retired", {static_cast<double>(h.retired_used), static_cast<double>(h.retired_bytes)}},
      {"strings", {static_cast<double>(h.strings_used), static_cast<double>(h.string_bytes)}},
      {"writer_arenas", {static_cast<double>(arena_used),
                         static_cast<double>(limits.arena_bytes) * limits.max_writers}},
  }};
  for (const auto& [region, v] : regions) {
    used.samples.push_back({label("region", region), v[0]});
    cap.samples.push_back({label("region", region), v[1]});
  }
  out.push_back(std::move(used));
  out.push_back(std::move(cap));
  auto& by_state = add(out, "wsm_writers", MetricType::gauge,
                       "Writer slots in use by state (live, dead: process gone and not yet reaped, "
                       "detached: thread exited, retiring: being folded)");
  const std::array<std::string_view, 4> states = {"live", "dead", "detached", "retiring"};
  for (std::size_t i = 0; i < states.size(); ++i) by_state.samples.push_back({label("state", states[i]), writers[i]});
  one(out, "wsm_writers_capacity", MetricType::gauge, "Writer slots of the segment",
      static_cast<double>(limits.max_writers));

  one(out, "wsm_series_dropped_total", MetricType::counter,
      "Label sets sent to their family's overflow series (wsm_overflow=\"true\") or lost",
      static_cast<double>(h.series_dropped));
  one(out, "wsm_cells_dropped_total", MetricType::counter,
      "Cells that did not fit a writer arena (their recordings were lost)", static_cast<double>(h.cells_dropped));
  one(out, "wsm_writers_dropped_total", MetricType::counter,
      "Threads that found no free writer slot (their recordings were lost)",
      static_cast<double>(h.writers_dropped));
  one(out, "wsm_retired_cells_dropped_total", MetricType::counter,
      "Cells of dead writers that did not fit the retired arena", static_cast<double>(h.retired_dropped));
  one(out, "wsm_writers_reaped_total", MetricType::counter,
      "Dead writers whose counts were folded into the retired arena", static_cast<double>(h.writers_reaped));
  one(out, "wsm_snapshot_problems", MetricType::gauge,
      "Cells this scrape left out as malformed", static_cast<double>(f.snapshot->problems.size()));
}

}  // namespace wsm::exporter

// wsm ls: the segments on this host with their size, writers and series usage.
#include <cstdio>

#include "commands.hpp"
#include "wsm/shm/snapshot.hpp"

namespace wsm::cli {

void add_ls(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("ls", "List segments: name, size, live and dead writers, series used");
  cmd->callback([&exit_code] {
    std::printf("%-24s %10s %6s %6s %15s\n", "NAME", "SIZE", "LIVE", "DEAD", "SERIES");
    for (const std::string& name : shm::Segment::list()) {
      auto segment = shm::Segment::open(name, {shm::Access::read_only, std::chrono::milliseconds(100)});
      if (!segment) {
        std::printf("%-24s error: %s\n", name.c_str(), segment.error().message().c_str());
        exit_code = kProblem;
        continue;
      }
      shm::CatalogView catalog;
      auto snap = shm::Snapshot::take(*segment, catalog);
      if (!snap) {
        std::printf("%-24s error: %s\n", name.c_str(), snap.error().message().c_str());
        exit_code = kProblem;
        continue;
      }
      int live = 0, dead = 0;
      for (const auto& w : snap->writers) (w.alive && w.state == shm::SlotState::active ? live : dead)++;
      char series[32];
      std::snprintf(series, sizeof series, "%zu/%u", catalog.series_count(), segment->max_series());
      std::printf("%-24s %9.1fM %6d %6d %15s\n", name.c_str(), segment->size() / 1048576.0, live,
                  dead, series);
    }
  });
}

}  // namespace wsm::cli

// wsm ls: the segments on this host with their size, writers and series usage.
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "segment_reader.hpp"

namespace wsm::cli {

namespace {

// One segment's line; `error` set when it could not be read.
struct Row {
  std::string name;
  std::uint64_t bytes = 0;
  int live = 0, dead = 0;
  std::size_t series = 0;
  std::uint32_t max_series = 0;
  std::string error;
};

Row row(const std::string& name) {
  Row r;
  r.name = name;
  SegmentReader reader(name);
  auto snap = reader.snapshot();
  if (!snap) {
    r.error = snap.error().message();
    return r;
  }
  r.bytes = reader.segment().size();
  for (const auto& w : snap->writers) (w.alive && w.state == shm::SlotState::active ? r.live : r.dead)++;
  r.series = reader.catalog().series_count();
  r.max_series = reader.segment().max_series();
  return r;
}

struct Options {
  bool json = false;
};

}  // namespace

void add_ls(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("ls", "List segments: name, size, live and dead writers, series used");
  cmd->footer("exit codes: 0 ok, 1 some segment could not be read (it is listed with its error), 2 usage");
  auto opts = std::make_shared<Options>();
  cmd->add_flag("--json", opts->json,
                "print [{\"name\",\"bytes\",\"live_writers\",\"dead_writers\",\"series\","
                "\"max_series\"} or {\"name\",\"error\"}, ...]");
  cmd->callback([opts, &exit_code] {
    std::vector<Row> rows;
    for (const std::string& name : shm::Segment::list()) rows.push_back(row(name));
    for (const Row& r : rows) {
      if (!r.error.empty()) exit_code = kProblem;
    }
    if (opts->json) {
      nlohmann::json out = nlohmann::json::array();
      for (const Row& r : rows) {
        if (!r.error.empty()) {
          out.push_back({{"name", r.name}, {"error", r.error}});
        } else {
          out.push_back({{"name", r.name}, {"bytes", r.bytes}, {"live_writers", r.live},
                         {"dead_writers", r.dead}, {"series", r.series}, {"max_series", r.max_series}});
        }
      }
      std::cout << out.dump(2) << '\n';
      return;
    }
    std::printf("%-24s %10s %6s %6s %15s\n", "NAME", "SIZE", "LIVE", "DEAD", "SERIES");
    for (const Row& r : rows) {
      if (!r.error.empty()) {
        std::printf("%-24s error: %s\n", r.name.c_str(), r.error.c_str());
        continue;
      }
      char series[32];
      std::snprintf(series, sizeof series, "%zu/%u", r.series, r.max_series);
      std::printf("%-24s %9.1fM %6d %6d %15s\n", r.name.c_str(), static_cast<double>(r.bytes) / 1048576.0,
                  r.live, r.dead, series);
    }
  });
}

}  // namespace wsm::cli

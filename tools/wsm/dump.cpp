// wsm dump: the aggregated view of a segment (the same sums the exporter serves).
#include <cstdio>
#include <iostream>

#include "commands.hpp"
#include "segment_json.hpp"
#include "wsm/shm/aggregation.hpp"

namespace wsm::cli {

namespace {

void print_text(const shm::Aggregation& a) {
  for (const shm::Point& p : a.points) {
    std::string labels = p.series->labels;
    if (p.worker >= 0) labels += (labels.empty() ? "" : ",") + ("worker=\"" + std::to_string(p.worker) + "\"");
    const std::string id = p.family->name + (labels.empty() ? "" : "{" + labels + "}");
    switch (p.family->type) {
      case shm::MetricType::counter: std::printf("%s %llu\n", id.c_str(), static_cast<unsigned long long>(p.counter)); break;
      case shm::MetricType::gauge: std::printf("%s %g\n", id.c_str(), p.gauge); break;
      case shm::MetricType::histogram:
        std::printf("%s count=%llu sum=%g\n", id.c_str(), static_cast<unsigned long long>(p.count),
                    shm::to_base_unit(p.family->unit, p.sum));
        break;
    }
  }
}

}  // namespace

void add_dump(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("dump", "Print the aggregated series of a segment");
  static std::string name;
  static bool json = false;
  cmd->add_option("name", name, "segment name (as in /dev/shm/wsm.<name>)")->required();
  cmd->add_flag("--json", json, "the stable JSON form other tools read");
  cmd->callback([&exit_code] {
    auto segment = shm::Segment::open(name, {shm::Access::read_only, std::chrono::milliseconds(500)});
    if (!segment) {
      std::fprintf(stderr, "wsm dump: %s\n", segment.error().message().c_str());
      exit_code = kProblem;
      return;
    }
    shm::CatalogView catalog;
    auto snap = shm::Snapshot::take(*segment, catalog);
    if (!snap) {
      std::fprintf(stderr, "wsm dump: %s\n", snap.error().message().c_str());
      exit_code = kProblem;
      return;
    }
    const auto aggregation = shm::Aggregation::of(catalog, *snap);
    if (json) {
      std::cout << segment_json(name, *snap, aggregation).dump() << '\n';
    } else {
      print_text(aggregation);
    }
  });
}

}  // namespace wsm::cli

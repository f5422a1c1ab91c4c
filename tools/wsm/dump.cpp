// wsm dump: the aggregated view of a segment, exactly as the exporter aggregates it (same sums,
// same identifier-label policy, same exposition library), so `wsm dump --prom` equals the
// exporter's /metrics apart from the exporter-only families (wsm_* and derived ones).
#include <cstdio>
#include <iostream>
#include <regex>
#include <unordered_map>

#include "commands.hpp"
#include "segment_json.hpp"
#include "wsm/exposition/format.hpp"
#include "wsm/exposition/id_labels.hpp"
#include "wsm/shm/aggregation.hpp"
#include "wsm/shm/mapping_guard.hpp"

namespace wsm::cli {

namespace {

// ` # {trace_id="..",span_id=".."} <value in base unit>` after a sample with an exemplar, as in OpenMetrics.
std::string exemplar_text(const shm::Aggregation& a, const shm::Point& p) {
  if (p.exemplar == shm::Point::kNoExemplar) return {};
  const shm::ExemplarData& e = a.exemplars[p.exemplar];
  char value[32];
  std::snprintf(value, sizeof value, "%g", shm::to_base_unit(p.family->unit, e.value));
  return " # {trace_id=\"" + shm::to_hex(e.trace_id) + "\",span_id=\"" + shm::to_hex(e.span_id) + "\"} " + value;
}

void print_text(const shm::Aggregation& a) {
  for (const shm::Point& p : a.points) {
    std::string labels(p.series->labels);
    if (p.worker >= 0) labels += (labels.empty() ? "" : ",") + ("worker=\"" + std::to_string(p.worker) + "\"");
    const std::string id = p.family->name + (labels.empty() ? "" : "{" + labels + "}");
    switch (p.family->type) {
      case shm::MetricType::counter:
        std::printf("%s %llu%s\n", id.c_str(), static_cast<unsigned long long>(p.counter), exemplar_text(a, p).c_str());
        break;
      case shm::MetricType::gauge: std::printf("%s %g\n", id.c_str(), p.gauge); break;
      case shm::MetricType::histogram:
        std::printf("%s count=%llu sum=%g%s\n", id.c_str(), static_cast<unsigned long long>(p.count),
                    shm::to_base_unit(p.family->unit, p.sum), exemplar_text(a, p).c_str());
        break;
    }
  }
}

// The points of families whose whole name matches `re` (bucket and exemplar indexes stay valid).
shm::Aggregation matching(const shm::Aggregation& a, const std::regex& re) {
  shm::Aggregation out;
  out.buckets = a.buckets;
  out.exemplars = a.exemplars;
  std::unordered_map<const shm::FamilyInfo*, bool> verdict;
  for (const shm::Point& p : a.points) {
    auto [it, fresh] = verdict.try_emplace(p.family, false);
    if (fresh) it->second = std::regex_match(p.family->name, re);
    if (it->second) out.points.push_back(p);
  }
  return out;
}

struct DumpOptions {
  std::string name;
  bool json = false, prom = false, openmetrics = false;
  std::string match;
  std::string id_labels = "drop";
  std::string id_hash_key;
};

int dump(const DumpOptions& o) {
  std::regex re;
  if (!o.match.empty()) {
    try {
      re = std::regex(o.match, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      std::fprintf(stderr, "wsm dump: --match '%s' is not a valid regular expression (%s)\n", o.match.c_str(), e.what());
      return kUsage;
    }
  }
  const auto mode = exposition::parse_id_label_mode(o.id_labels);
  exposition::IdLabelPolicy policy(mode.value_or(exposition::IdLabelMode::drop));
  if (mode == exposition::IdLabelMode::hash) {
    auto key = exposition::load_or_create_hash_key(o.id_hash_key.empty() ? exposition::default_hash_key_path()
                                                                          : o.id_hash_key);
    if (!key) {
      std::fprintf(stderr, "wsm dump: --id-hash-key: %s\n", key.error().message().c_str());
      return kUsage;
    }
    policy = exposition::IdLabelPolicy(*mode, *key);
  }
  auto segment = shm::Segment::open(o.name, {shm::Access::read_only, std::chrono::milliseconds(500)});
  if (!segment) {
    std::fprintf(stderr, "wsm dump: %s\n", segment.error().message().c_str());
    return kProblem;
  }
  shm::CatalogView catalog;
  shm::MappingDamage damage;
  auto snap = shm::guarded_snapshot(*segment, catalog, damage);
  if (!snap) {
    std::fprintf(stderr, "wsm dump: %s\n", snap.error().message().c_str());
    return kProblem;
  }
  const auto aggregation = shm::Aggregation::of(catalog, *snap);
  const shm::Aggregation& exposed = policy.apply(aggregation, snap->generation);
  const shm::Aggregation selected = o.match.empty() ? shm::Aggregation{} : matching(exposed, re);
  const shm::Aggregation& shown = o.match.empty() ? exposed : selected;
  if (o.json) {
    std::cout << segment_json(o.name, *snap, shown).dump() << '\n';
  } else if (o.prom || o.openmetrics) {
    std::string out;
    exposition::Writer writer;
    writer.write(o.openmetrics ? exposition::Format::openmetrics : exposition::Format::prometheus_text, &shown,
                 {}, static_cast<double>(snap->stats.created_unix_ns) / 1e9, out);
    std::fwrite(out.data(), 1, out.size(), stdout);
  } else {
    print_text(shown);
  }
  return kOk;
}

}  // namespace

void add_dump(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("dump", "Print the aggregated series of a segment (as the exporter aggregates them)");
  static DumpOptions o;
  cmd->add_option("name", o.name, "segment name (as in /dev/shm/wsm.<name>)")->required();
  auto* json = cmd->add_flag("--json", o.json, "the stable JSON form other tools read");
  auto* prom = cmd->add_flag("--prom", o.prom, "Prometheus text format 0.0.4 (what /metrics serves)");
  auto* om = cmd->add_flag("--openmetrics", o.openmetrics, "OpenMetrics 1.0.0 text");
  json->excludes(prom)->excludes(om);
  prom->excludes(om);
  cmd->add_option("--match", o.match, "only families whose whole name matches this ECMAScript regex");
  cmd->add_option("--id-labels", o.id_labels, "user_id, patient_id, connection_id: drop (sum away), hash or raw, "
                                              "as the exporter's flag (default drop)")
      ->check(CLI::IsMember({"drop", "hash", "raw"}));
  cmd->add_option("--id-hash-key", o.id_hash_key, "key file for --id-labels hash (default: the exporter's)");
  cmd->callback([&exit_code] { exit_code = dump(o); });
}

}  // namespace wsm::cli

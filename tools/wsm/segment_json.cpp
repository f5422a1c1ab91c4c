#include "segment_json.hpp"

#include <cstdio>

#include "wsm/shm/histogram_scheme.hpp"
#include "wsm/shm/labels.hpp"

namespace wsm::cli {

nlohmann::json segment_json(const std::string& segment, const shm::Snapshot& snapshot,
                            const shm::Aggregation& aggregation) {
  char generation[17];
  std::snprintf(generation, sizeof generation, "%016llx",
                static_cast<unsigned long long>(snapshot.generation));
  nlohmann::json series = nlohmann::json::array();
  std::vector<std::pair<std::string, std::string>> labels;
  for (const shm::Point& p : aggregation.points) {
    nlohmann::json s;
    s["name"] = p.family->name;
    s["type"] = shm::metric_type_name(p.family->type);
    nlohmann::json l = nlohmann::json::object();
    if (shm::parse_canonical_labels(p.series->labels, labels)) {
      for (auto& [k, v] : labels) l[k] = v;
    }
    if (p.worker >= 0) l["worker"] = std::to_string(p.worker);
    s["labels"] = std::move(l);
    switch (p.family->type) {
      case shm::MetricType::counter: s["value"] = p.counter; break;
      case shm::MetricType::gauge: s["value"] = p.gauge; break;
      case shm::MetricType::histogram: {
        const shm::HistogramScheme scheme{p.family->max_octave};
        nlohmann::json buckets = nlohmann::json::array();
        std::uint64_t cumulative = 0;
        const auto counts = aggregation.buckets_of(p);
        for (std::uint32_t i = 0; i < counts.size(); ++i) {
          cumulative += counts[i];
          if (counts[i] == 0 || scheme.is_top(i)) continue;
          buckets.push_back({shm::to_base_unit(p.family->unit, scheme.upper_edge(i)), cumulative});
        }
        buckets.push_back({"+Inf", p.count});
        s["count"] = p.count;
        s["sum"] = shm::to_base_unit(p.family->unit, p.sum);
        s["buckets"] = std::move(buckets);
        break;
      }
    }
    if (p.exemplar != shm::Point::kNoExemplar) {
      const shm::ExemplarData& e = aggregation.exemplars[p.exemplar];
      s["exemplar"] = {{"trace_id", shm::to_hex(e.trace_id)},
                       {"span_id", shm::to_hex(e.span_id)},
                       {"value", shm::to_base_unit(p.family->unit, e.value)},
                       {"time", static_cast<double>(e.unix_ns) / 1e9}};
    }
    series.push_back(std::move(s));
  }
  return {{"segment", segment}, {"generation", generation}, {"series", std::move(series)}};
}

}  // namespace wsm::cli

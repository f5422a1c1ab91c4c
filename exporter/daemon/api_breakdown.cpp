// GET /api/v1/breakdown: what the live page shows per label value, read fresh from the segment
// (as exposed: identifier-label policy applied): latency quantiles per message type, compression
// ratio quantiles per compression type (both over everything recorded since the segment was
// created, as /api/v1/percentiles), and the buffer, queue and subscription gauges per label set.
#include <map>

#include "wsm/exporter/api.hpp"
#include "wsm/shm/labels.hpp"

namespace wsm::exporter {

namespace {

using nlohmann::json;

// Every recorded series of gauge family `name`: {"labels": {...}, "value": v}.
json gauge_series(const shm::Aggregation& a, std::string_view name) {
  json out = json::array();
  std::vector<std::pair<std::string, std::string>> labels;
  for (const shm::Point& p : a.points) {
    if (p.family->name != name || p.family->type != shm::MetricType::gauge || !p.recorded) continue;
    if (!shm::parse_canonical_labels(p.series->labels, labels)) continue;
    json l = json::object();
    for (const auto& [k, v] : labels) l[k] = v;
    out.push_back({{"labels", l}, {"value", p.gauge}});
  }
  return out;
}

// Histogram family `name` summed by the value of label `by`: {value: {"count", "quantiles"}} with
// the quantiles 0.5, 0.95 and 0.99, as /api/v1/percentiles?metric=name&by=value computes them.
json quantiles_by(const shm::Aggregation& a, std::string_view name, std::string_view by) {
  struct Sum {
    std::vector<std::uint64_t> buckets;
    const shm::FamilyInfo* family = nullptr;
  };
  std::map<std::string, Sum> sums;
  std::vector<std::pair<std::string, std::string>> labels;
  for (const shm::Point& p : a.points) {
    if (p.family->name != name || p.family->type != shm::MetricType::histogram) continue;
    if (!shm::parse_canonical_labels(p.series->labels, labels)) continue;
    std::string value;
    for (const auto& [k, v] : labels) {
      if (k == by) value = v;
    }
    Sum& s = sums[value];
    s.family = p.family;
    const auto b = a.buckets_of(p);
    s.buckets.resize(b.size(), 0);
    for (std::size_t k = 0; k < b.size(); ++k) s.buckets[k] += b[k];
  }
  json out = json::object();
  for (const auto& [value, s] : sums) {
    std::uint64_t count = 0;
    for (std::uint64_t c : s.buckets) count += c;
    if (count == 0) continue;
    json quantiles = json::array();
    for (double q : {0.5, 0.95, 0.99}) {
      if (auto r = hdr_quantile(s.buckets, s.family->max_octave, s.family->unit, q)) {
        quantiles.push_back(quantile_json(*r));
      }
    }
    out[value] = {{"count", count}, {"quantiles", quantiles}};
  }
  return out;
}

}  // namespace

ApiResult api_breakdown(Monitor& monitor) {
  const BreakdownInputs& in = derived_rules().breakdown;
  json body;
  const bool ran = monitor.with_fresh_aggregation([&](const shm::Aggregation& a) {
    body = {{"latency_seconds_by_message_type", quantiles_by(a, in.message_latency, "message_type")},
            {"compression_ratio_percent_by_type", quantiles_by(a, in.compression_ratio, "compression_type")},
            {"buffer_utilization_percent", gauge_series(a, in.buffer_utilization)},
            {"queue_size", gauge_series(a, in.queue_size)},
            {"subscriptions_active", gauge_series(a, in.subscriptions)}};
  });
  if (!ran) return api_error(503, monitor.status().reason);
  return {200, body};
}

}  // namespace wsm::exporter

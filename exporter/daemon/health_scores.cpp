#include "wsm/exporter/health_scores.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "wsm/shm/labels.hpp"

namespace wsm::exporter {

namespace {

// NaN has no order: it sorts as +infinity, after every real score.
double sort_key(double score) { return std::isnan(score) ? std::numeric_limits<double>::infinity() : score; }

}  // namespace

void order_worst_first(std::vector<shm::ConnectionInfo>& connections) {
  std::sort(connections.begin(), connections.end(), [](const shm::ConnectionInfo& a, const shm::ConnectionInfo& b) {
    const double ka = sort_key(a.health_score), kb = sort_key(b.health_score);
    return ka != kb ? ka < kb : a.id < b.id;
  });
}

std::optional<double> lowest_health_score(std::span<const shm::ConnectionInfo> connections) {
  std::optional<double> lowest;
  for (const shm::ConnectionInfo& c : connections) {
    if (!std::isnan(c.health_score)) lowest = std::min(lowest.value_or(c.health_score), c.health_score);
  }
  return lowest;
}

std::string shown_connection_id(const shm::ConnectionInfo& connection, const exposition::IdLabelPolicy& policy) {
  switch (policy.mode()) {
    case exposition::IdLabelMode::drop: return shm::format_record_id(shm::record_id(connection));
    case exposition::IdLabelMode::hash: return policy.pseudonym(shm::format_connection_id(connection.id));
    case exposition::IdLabelMode::raw: return shm::format_connection_id(connection.id);
  }
  return {};
}

exposition::ComputedFamily health_score_family(std::vector<shm::ConnectionInfo> connections,
                                               const exposition::IdLabelPolicy& policy,
                                               const HealthRule& rule) {
  exposition::ComputedFamily family{std::string(rule.output), std::string(rule.help), shm::MetricType::gauge, {}};
  if (policy.mode() == exposition::IdLabelMode::drop) {
    std::map<std::string, double> lowest_by_role;
    for (const shm::ConnectionInfo& c : connections) {
      if (std::isnan(c.health_score)) continue;
      auto [it, fresh] = lowest_by_role.try_emplace(c.role, c.health_score);
      if (!fresh) it->second = std::min(it->second, c.health_score);
    }
    for (const auto& [role, score] : lowest_by_role) {
      const Label labels[] = {{"role", role}};
      if (auto canonical = shm::canonical_labels(labels)) family.samples.push_back({std::move(*canonical), score});
    }
    return family;
  }
  order_worst_first(connections);
  if (connections.size() > rule.worst_connections) connections.resize(rule.worst_connections);
  for (const shm::ConnectionInfo& c : connections) {
    const std::string id = shown_connection_id(c, policy);
    const Label labels[] = {{"connection_id", id}, {"role", c.role}};
    if (auto canonical = shm::canonical_labels(labels)) family.samples.push_back({std::move(*canonical), c.health_score});
  }
  return family;
}

}  // namespace wsm::exporter

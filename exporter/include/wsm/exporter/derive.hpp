// Derived metrics of one interval from two consecutive aggregations (as recorded, before the
// identifier-label policy): the rates and ratios of derived_rules(), and the figures the summary
// and the interval snapshots report. Rates need two intervals of one segment generation: the
// first interval after start or re-attach yields none. The lowest health score comes from the
// connection tables (health_scores.hpp), as websocket_health_score in /metrics does.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "wsm/exporter/derived_rules.hpp"
#include "wsm/exporter/quantile.hpp"
#include "wsm/exposition/format.hpp"
#include "wsm/shm/aggregation.hpp"
#include "wsm/shm/connection_table.hpp"

namespace wsm::exporter {

struct IntervalFigures {
  std::uint64_t unix_ns = 0;
  double seconds = 0;  // since the previous interval; 0 on the first
  std::map<std::string, double> connections_by_role;
  double connections_total = 0;
  std::uint64_t sent = 0, received = 0, failed = 0, disconnections = 0;
  // Rates over the interval; absent on the first.
  std::optional<double> messages_in_per_second, messages_out_per_second;
  std::optional<double> bytes_in_per_second, bytes_out_per_second;
  std::optional<double> failed_per_second, disconnections_per_second;
  // Failed messages over sent messages in the interval; absent while none were sent.
  std::optional<double> failure_ratio;
  std::map<std::string, double> heartbeat_success_by_role;  // percent; a role whose pings moved
  std::optional<Quantile> latency_p95;  // of the messages recorded in the interval
  std::optional<double> min_health_score;  // of the live connections (connection tables)
};

class Deriver {
 public:
  explicit Deriver(const DerivedRules& rules = derived_rules()) : rules_(rules) {}

  // `connections`: the live connections of the interval (shm::list_connections).
  void update(const shm::Aggregation& aggregation, std::uint64_t generation, std::uint64_t mono_ns,
              std::uint64_t unix_ns, std::span<const shm::ConnectionInfo> connections = {});

  [[nodiscard]] const std::vector<exposition::ComputedFamily>& families() const noexcept { return families_; }
  // Every family update() reads: the interval's snapshot copies only these.
  [[nodiscard]] std::vector<std::string> input_families() const;
  [[nodiscard]] const IntervalFigures& figures() const noexcept { return figures_; }

 private:
  using Totals = std::map<std::string, double>;  // canonical labels -> sum
  struct Range {
    std::size_t begin = 0, end = 0;
  };
  [[nodiscard]] Range family(std::string_view name) const;
  void sum_by(std::string_view counter, std::span<const std::string_view> by, std::string_view label,
              std::string_view value, const shm::Aggregation& a, Totals& into) const;
  void figures_of(const shm::Aggregation& a, double dt);

  const DerivedRules& rules_;
  std::unordered_map<std::string_view, Range> ranges_;  // family name -> points, this update
  std::uint64_t generation_ = 0;
  std::uint64_t last_mono_ns_ = 0;
  std::vector<Totals> previous_;  // per rate rule, then numerator and denominator per ratio rule
  std::vector<std::uint64_t> previous_latency_;  // summed HDR buckets of the latency family
  std::uint64_t previous_sent_ = 0, previous_failed_ = 0, previous_disconnections_ = 0;
  std::vector<exposition::ComputedFamily> families_;
  IntervalFigures figures_;
};

}  // namespace wsm::exporter

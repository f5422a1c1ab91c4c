#include "summary.hpp"

#include <algorithm>
#include <cmath>

namespace wsm::loadgen {

void Samples::add(double ms) {
  ++seen_;
  max_ = std::max(max_, ms);
  if (kept_.size() < kKeep) {
    kept_.push_back(ms);
    return;
  }
  std::uniform_int_distribution<std::uint64_t> pick(0, seen_ - 1);
  if (const auto i = pick(rng_); i < kKeep) kept_[i] = ms;
}

nlohmann::json Samples::percentiles() const {
  nlohmann::json j = {{"count", seen_}};
  if (kept_.empty()) return j;
  std::vector<double> sorted = kept_;
  std::sort(sorted.begin(), sorted.end());
  const auto rank = [&](double q) {
    const auto n = static_cast<double>(sorted.size());
    const auto i = static_cast<std::size_t>(std::max(1.0, std::ceil(q * n))) - 1;
    return sorted[std::min(i, sorted.size() - 1)];
  };
  j["p50"] = rank(0.50);
  j["p95"] = rank(0.95);
  j["p99"] = rank(0.99);
  j["max"] = max_;
  return j;
}

nlohmann::json Summary::to_json() const {
  return {
      {"clients", clients},
      {"connected", connected},
      {"disconnected", disconnected},
      {"connect_failures", connect_failures},
      {"dropped", dropped},
      {"reconnects", reconnects},
      {"churned", churned},
      {"stalled", stalled},
      {"stall_closes", stall_closes},
      {"deflate_negotiated", deflate_negotiated},
      {"sent", sent},
      {"received", received},
      {"published", published},
      {"malformed_sent", malformed_sent},
      {"acked", acked},
      {"errors_received", errors_received},
      {"unanswered", unanswered},
      {"write_errors", write_errors},
      {"errors", errors()},
      {"sent_by_type", sent_by_type},
      {"received_by_type", received_by_type},
      {"latency_ms", {{"ack", ack_latency.percentiles()}, {"delivery", delivery_latency.percentiles()}}},
      {"duration_s", duration_s},
      {"timed_out", timed_out},
      {"interrupted", interrupted},
  };
}

}  // namespace wsm::loadgen

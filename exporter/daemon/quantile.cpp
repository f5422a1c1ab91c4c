#include "quantile.hpp"

#include <cmath>
#include <limits>

#include "wsm/shm/aggregation.hpp"
#include "wsm/shm/histogram_scheme.hpp"

namespace wsm::exporter {

std::optional<Quantile> hdr_quantile(std::span<const std::uint64_t> buckets, std::uint8_t max_octave,
                                     shm::Unit unit, double q) {
  std::uint64_t count = 0;
  for (std::uint64_t c : buckets) count += c;
  if (count == 0) return std::nullopt;
  const shm::HistogramScheme scheme{max_octave};
  const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count))));
  std::uint64_t seen = 0;
  for (std::uint32_t i = 0; i < buckets.size(); ++i) {
    seen += buckets[i];
    if (seen < rank) continue;
    Quantile r;
    r.q = q;
    r.lower = i == 0 ? 0 : shm::to_base_unit(unit, scheme.upper_edge(i - 1));
    r.upper = scheme.is_top(i) ? std::numeric_limits<double>::infinity()
                               : shm::to_base_unit(unit, scheme.upper_edge(i));
    r.value = scheme.is_top(i) ? r.lower : r.upper;
    return r;
  }
  return std::nullopt;
}

}  // namespace wsm::exporter

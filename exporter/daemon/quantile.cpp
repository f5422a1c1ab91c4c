#include "wsm/exporter/quantile.hpp"

#include <limits>

#include "wsm/shm/aggregation.hpp"
#include "wsm/shm/quantile.hpp"

namespace wsm::exporter {

std::optional<Quantile> hdr_quantile(std::span<const std::uint64_t> buckets, std::uint8_t max_octave,
                                     shm::Unit unit, double q) {
  const auto e = shm::quantile(shm::HistogramScheme{max_octave}, buckets, q);
  if (!e) return std::nullopt;
  Quantile r;
  r.q = q;
  r.value = shm::to_base_unit(unit, e->value);
  // shm's range is inclusive, [lower, upper]; the API states it the way `le` edges do, (lower, upper].
  r.lower = shm::to_base_unit(unit, e->lower == 0 ? 0 : e->lower - 1);
  r.upper = e->saturated ? std::numeric_limits<double>::infinity() : shm::to_base_unit(unit, e->upper);
  return r;
}

}  // namespace wsm::exporter

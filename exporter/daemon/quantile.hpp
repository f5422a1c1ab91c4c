// Quantiles read from HDR buckets, with the bucket that bounds them.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "wsm/shm/layout.hpp"

namespace wsm::exporter {

struct Quantile {
  double q = 0;
  double value = 0;  // the upper edge of the bucket holding the rank (never an underestimate)
  double lower = 0;  // the true quantile lies in (lower, upper]
  double upper = 0;  // +Inf for the top bucket
};

// Quantile q (0 < q <= 1) of non-cumulative HDR `buckets` of a family with `max_octave`, in base
// units; nullopt when the buckets are empty. The rank is ceil(q * count), as in HdrHistogram.
[[nodiscard]] std::optional<Quantile> hdr_quantile(std::span<const std::uint64_t> buckets,
                                                   std::uint8_t max_octave, shm::Unit unit, double q);

}  // namespace wsm::exporter

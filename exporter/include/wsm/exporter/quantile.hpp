// Quantiles of HDR buckets in a family's base unit, for the JSON API and the derivations: the
// project's one quantile, shm::quantile (wsm/shm/quantile.hpp, which `wsm top` uses too), with its
// bounds stated as the exposition's `le` edges.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "wsm/shm/layout.hpp"

namespace wsm::exporter {

struct Quantile {
  double q = 0;
  double value = 0;  // shm::quantile's estimate, interpolated by rank inside the bucket
  double lower = 0;  // the true quantile lies in (lower, upper]
  double upper = 0;  // +Inf for the top bucket
};

// Quantile q (0 < q <= 1) of non-cumulative HDR `buckets` of a family with `max_octave`, in base
// units; nullopt when the buckets are empty.
[[nodiscard]] std::optional<Quantile> hdr_quantile(std::span<const std::uint64_t> buckets,
                                                   std::uint8_t max_octave, shm::Unit unit, double q);

}  // namespace wsm::exporter

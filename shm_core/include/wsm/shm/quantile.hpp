// Quantiles from the HDR buckets of a histogram, with the bound on their error.
//
// The q-quantile is the value of rank r = max(1, ceil(q * n)) among the n recorded values (nearest
// rank). It lies in the bucket where the cumulative count first reaches r, so it is known to be in
// that bucket's inclusive range [lower, upper]; the estimate interpolates linearly by rank inside
// it, as Prometheus' histogram_quantile does between `le` edges.
//
// This is the project's one quantile: the exporter's JSON API and derivations (the live page's p95
// and its breach) and `wsm top` all use it. Interpolation rather than the bucket's upper edge:
//  - it is what histogram_quantile computes from the same `le` edges in /metrics, so the API, the
//    live page and `wsm top` print what the Grafana panels and alert rules see;
//  - on real latency shapes it is far closer (BENCHMARKS.md "Quantile accuracy", lognormal:
//    0.0-0.5% off, against 0.8-12.3% for the upper edge). The upper edge's one merit, never being
//    below the truth, is kept as `upper`, returned beside the estimate.
//
// Error bound: every bucket below the top one is at most 1/S of its lower edge wide (S = 8; values
// up to 2S are exact), so |estimate - exact| <= kQuantileRelativeError * exact. In the top bucket
// (values above 2^max_octave) only the lower edge is known: `saturated` says so and `upper` is
// UINT64_MAX.
//
//   const auto counts = aggregation.buckets_of(point);      // non-cumulative counts
//   if (auto p99 = wsm::shm::quantile(HistogramScheme{point.family->max_octave}, counts, 0.99))
//     print(to_base_unit(point.family->unit, p99->value));  // ns -> s
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "wsm/shm/histogram_scheme.hpp"

namespace wsm::shm {

inline constexpr double kQuantileRelativeError = 1.0 / static_cast<double>(kSubBuckets);

struct QuantileEstimate {
  std::uint64_t value = 0;   // estimate in the family's integer unit (ns, bytes, percent)
  std::uint64_t lower = 0;   // the exact quantile is >= lower ...
  std::uint64_t upper = 0;   // ... and <= upper (UINT64_MAX when saturated)
  bool saturated = false;    // it fell into the top (+Inf) bucket: only `lower` is a real bound
};

// Inclusive range of the values bucket i of `scheme` holds.
struct BucketRange {
  std::uint64_t lower = 0;
  std::uint64_t upper = 0;
};
[[nodiscard]] BucketRange bucket_range(HistogramScheme scheme, std::uint32_t i) noexcept;

// The q-quantile (q in [0, 1], clamped) of the values counted in `counts` (non-cumulative, one per
// bucket of `scheme`; extra entries are ignored, missing ones count as 0). nullopt when empty.
[[nodiscard]] std::optional<QuantileEstimate> quantile(HistogramScheme scheme,
                                                       std::span<const std::uint64_t> counts,
                                                       double q) noexcept;

}  // namespace wsm::shm

#include "wsm/shm/quantile.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace wsm::shm {

BucketRange bucket_range(HistogramScheme scheme, std::uint32_t i) noexcept {
  const std::uint32_t top = scheme.top_index();
  if (i >= top) {
    return {scheme.upper_edge(top - 1) + 1, std::numeric_limits<std::uint64_t>::max()};
  }
  // Buckets are (upper_edge(i - 1), upper_edge(i)]; bucket 0 also holds the value 0.
  return {i == 0 ? 0 : scheme.upper_edge(i - 1) + 1, scheme.upper_edge(i)};
}

std::optional<QuantileEstimate> quantile(HistogramScheme scheme,
                                         std::span<const std::uint64_t> counts, double q) noexcept {
  const std::size_t n = std::min<std::size_t>(counts.size(), scheme.bucket_count());
  // Sum in long double: a u64 total of many buckets could wrap, the rank only needs precision.
  long double total = 0;
  for (std::size_t i = 0; i < n; ++i) total += static_cast<long double>(counts[i]);
  if (total == 0) return std::nullopt;
  if (!(q >= 0)) q = 0;  // also catches NaN
  q = std::min(q, 1.0);
  const long double rank = std::max<long double>(1, std::ceil(static_cast<long double>(q) * total));

  long double below = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (counts[i] == 0) continue;
    const long double in_bucket = static_cast<long double>(counts[i]);
    if (below + in_bucket < rank) {
      below += in_bucket;
      continue;
    }
    const BucketRange r = bucket_range(scheme, static_cast<std::uint32_t>(i));
    QuantileEstimate e{r.lower, r.lower, r.upper, scheme.is_top(static_cast<std::uint32_t>(i))};
    if (!e.saturated) {
      // Rank position inside the bucket, in (0, 1]: the r-th value is that far from its lower end.
      const long double at = std::clamp((rank - below) / in_bucket, 0.0L, 1.0L);
      e.value = r.lower + static_cast<std::uint64_t>(std::llround(at * static_cast<long double>(r.upper - r.lower)));
    }
    return e;
  }
  return std::nullopt;  // unreachable: rank <= total, so some bucket reaches it
}

}  // namespace wsm::shm

// The classic Prometheus `le` buckets of a histogram family, chosen among its HDR bucket edges.
//
// A family's HDR scheme has up to ~345 buckets; exposing every one would make each histogram
// series hundreds of lines. Each family instead exposes a fixed set of edges that depends only on
// its unit and scheme, never on the data, so the set is identical in every scrape, across exporter
// restarts and between `wsm dump --prom` and /metrics: rate() and histogram_quantile() work.
// Every edge is an exact HDR upper edge, so the cumulative count at it is a sum of whole HDR
// buckets (exact, no interpolation):
//
//   unit     edges (integer units)                                       count   as `le`
//   seconds  every power of two 2^10 .. 2^max_octave ns (2^45: 9.8 h)       36   1.024e-06 .. 35184.372088832
//   bytes    every power of two 2^3 .. 2^32 (8 B .. 4 GiB)                   30   8 .. 4294967296
//   percent  1, 2, 3, 4, 6, 8, 12, ... 192, 256 (2^k and 1.5 * 2^k)         16   1 .. 256
//   none     every power of two 1 .. 2^max_octave                         <= 41
//
// Powers of two keep a bucket at most twice as wide as its lower edge, which bounds the error of
// histogram_quantile() over these buckets to the bucket holding the quantile; the JSON API reads
// quantiles from the full HDR buckets instead (12.5% bound). Edges above 2^max_octave do not
// exist in the scheme and are left out.
#pragma once

#include <cstdint>
#include <vector>

#include "wsm/shm/layout.hpp"

namespace wsm::exposition {

struct ClassicEdge {
  std::uint64_t edge = 0;        // inclusive upper bound in integer units (ns, bytes, percent)
  std::uint32_t last_bucket = 0; // the HDR bucket whose upper edge this is: count = sum 0..last
};

[[nodiscard]] std::vector<ClassicEdge> classic_edges(shm::Unit unit, std::uint8_t max_octave);

}  // namespace wsm::exposition

#include "wsm/exposition/classic_buckets.hpp"

#include <algorithm>

#include "wsm/shm/histogram_scheme.hpp"

namespace wsm::exposition {

namespace {

// Octave range [lo, hi] of power-of-two edges per unit, and whether 1.5 * 2^k edges join them.
struct EdgeRange {
  unsigned lo;
  unsigned hi;
  bool half_octaves;
};

EdgeRange range_of(shm::Unit unit, std::uint8_t max_octave) {
  switch (unit) {
    case shm::Unit::seconds: return {10, max_octave, false};
    case shm::Unit::bytes: return {3, std::min<unsigned>(32, max_octave), false};
    case shm::Unit::percent: return {0, std::min<unsigned>(8, max_octave), true};
    case shm::Unit::none: break;
  }
  return {0, max_octave, false};
}

}  // namespace

std::vector<ClassicEdge> classic_edges(shm::Unit unit, std::uint8_t max_octave) {
  const shm::HistogramScheme scheme{max_octave};
  const EdgeRange r = range_of(unit, max_octave);
  std::vector<ClassicEdge> edges;
  auto add = [&](std::uint64_t edge) {
    // index_of(edge) is the bucket (lower, upper] holding edge; it is an edge when upper == edge.
    const std::uint32_t i = scheme.index_of(edge);
    if (!scheme.is_top(i) && scheme.upper_edge(i) == edge &&
        (edges.empty() || edges.back().edge < edge)) {
      edges.push_back({edge, i});
    }
  };
  for (unsigned k = r.lo; k <= r.hi && k < 64; ++k) {
    const std::uint64_t p = std::uint64_t{1} << k;
    add(p);
    if (r.half_octaves && k >= 1 && k < r.hi) add(p + p / 2);
  }
  return edges;
}

}  // namespace wsm::exposition

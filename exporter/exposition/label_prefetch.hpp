// Points view their labels in the catalog view's text, which lies in registration order, not in
// the exposition order the points are walked in: each point's labels would be a cache miss. The
// serialiser fetches them this far ahead (emitting the points fetched them into the shared cache
// once already, SeriesTotals::emit_part; the identifier-label policy reads them once per series).
#pragma once

#include <cstddef>
#include <span>

#include "wsm/shm/aggregation.hpp"

namespace wsm::exposition {

inline void prefetch_labels_ahead(std::span<const shm::Point> points, std::size_t i) noexcept {
  constexpr std::size_t kAhead = 8;
  if (i + kAhead < points.size()) __builtin_prefetch(points[i + kAhead].labels.data());
}

}  // namespace wsm::exposition

// What the two halves of wsmetrics._core share: errors as Python exceptions, seconds as the ns
// the segment stores, and the default segment name (module.cpp: the writer API; collector.cpp:
// the WebSocket collector).
#pragma once

#include <pybind11/pybind11.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "wsm/shm/error.hpp"

namespace wsm::python {

namespace py = pybind11;

// Bad names, labels and type clashes are the caller's to fix (ValueError); anything about the
// segment itself (permission, full, corrupt, incompatible layout) is a RuntimeError.
[[noreturn]] inline void raise(const wsm::Error& e) {
  switch (e.code()) {
    case wsm::Errc::invalid_argument:
    case wsm::Errc::type_mismatch: throw py::value_error(e.message());
    default: throw std::runtime_error(e.message());
  }
}

template <class T>
T value_or_raise(wsm::Result<T> r) {
  if (!r) raise(r.error());
  return std::move(*r);
}

// Seconds to the integer ns the segment stores: rounded to nearest (0.3 is 0.29999999999999998890
// as a double, which truncation, as std::chrono::duration_cast does, would make 299999999 ns);
// negative values record 0 as in C++; NaN is refused.
inline std::uint64_t seconds_to_ns(double s) {
  if (std::isnan(s)) throw py::value_error("histogram record: NaN is not a duration");
  if (!(s > 0)) return 0;
  const double ns = std::nearbyint(s * 1e9);
  constexpr double kMax = 9.2e18;  // past 2^45 ns (9.8 h) everything is the +Inf bucket anyway
  return ns >= kMax ? static_cast<std::uint64_t>(kMax) : static_cast<std::uint64_t>(ns);
}

inline std::string default_segment() {
  const char* v = std::getenv("WSM_SEGMENT");
  return v != nullptr && *v != '\0' ? v : "wsm";  // the exporter's default (exporter/include/wsm/exporter/settings.hpp)
}


// Registers wsmetrics._core.WebSocketCollector (collector.cpp).
void bind_collector(py::module_& m);

}  // namespace wsm::python

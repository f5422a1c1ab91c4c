// An exemplar: the trace a recorded value came from, kept beside a counter or histogram series
// and exposed in OpenMetrics so a latency panel can jump to that trace.
//
//   hist.record(elapsed, wsm::Exemplar::from_traceparent(header).value_or(wsm::Exemplar{}));
//   auto ex = wsm::Exemplar::from_hex("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
//   if (ex) sent.inc(1, *ex);
//
// Each thread keeps the latest exemplar of each series it recorded one for (the exporter shows
// the most recent across threads); ids are W3C trace context ids: 16 and 8 bytes, not all zero.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace wsm {

struct Exemplar {
  std::array<std::uint8_t, 16> trace_id{};
  std::array<std::uint8_t, 8> span_id{};

  // From 32 and 16 lower- or upper-case hex digits; nullopt when malformed or all zero (W3C
  // trace context calls all-zero ids invalid).
  [[nodiscard]] static constexpr std::optional<Exemplar> from_hex(std::string_view trace_id,
                                                                  std::string_view span_id) noexcept {
    Exemplar e;
    if (!parse(trace_id, e.trace_id) || !parse(span_id, e.span_id)) return std::nullopt;
    return e;
  }
  // From a W3C `traceparent` header: "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>".
  [[nodiscard]] static constexpr std::optional<Exemplar> from_traceparent(std::string_view h) noexcept {
    if (h.size() < 55 || h[2] != '-' || h[35] != '-' || h[52] != '-') return std::nullopt;
    return from_hex(h.substr(3, 32), h.substr(36, 16));
  }

 private:
  static constexpr int nibble(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  template <std::size_t N>
  static constexpr bool parse(std::string_view hex, std::array<std::uint8_t, N>& out) noexcept {
    if (hex.size() != 2 * N) return false;
    bool nonzero = false;
    for (std::size_t i = 0; i < N; ++i) {
      const int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
      if (hi < 0 || lo < 0) return false;
      out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
      nonzero |= out[i] != 0;
    }
    return nonzero;
  }
};

}  // namespace wsm

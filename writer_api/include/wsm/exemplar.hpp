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
#include <bit>
#include <cstdint>
#include <cstring>
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
    if !consteval {
      if constexpr (std::endian::native == std::endian::little && N % 4 == 0) return parse_words(hex.data(), out);
    }
    bool nonzero = false;
    for (std::size_t i = 0; i < N; ++i) {
      const int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
      if (hi < 0 || lo < 0) return false;
      out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
      nonzero |= out[i] != 0;
    }
    return nonzero;
  }
  // The same, 8 digits at a time (a traceparent is 48 digits: ~150 instructions instead of ~700
  // byte by byte). Little-endian only: the first digit is the word's low byte.
  template <std::size_t N>
  static bool parse_words(const char* hex, std::array<std::uint8_t, N>& out) noexcept {
    std::uint32_t any = 0;
    for (std::size_t i = 0; i < N / 4; ++i) {
      std::uint64_t digits;
      std::memcpy(&digits, hex + 8 * i, sizeof digits);
      std::uint32_t bytes;
      if (!decode8(digits, bytes)) return false;
      std::memcpy(out.data() + 4 * i, &bytes, sizeof bytes);
      any |= bytes;
    }
    return any != 0;
  }
  // 8 hex digits (one per byte of `v`, first digit lowest) -> their 4 bytes, in memory order.
  // Every byte is checked at once: ASCII (high bit clear), then '0'-'9' or, lower-cased, 'a'-'f';
  // adding (0x80 - bound) to a byte below 0x80 sets its high bit exactly when it is >= bound, and
  // never carries into the next byte.
  static bool decode8(std::uint64_t v, std::uint32_t& out) noexcept {
    constexpr std::uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    if ((v & high) != 0) return false;
    const std::uint64_t digit = (v + (0x80 - '0') * ones) & ~(v + (0x80 - '9' - 1) * ones);
    const std::uint64_t lower = v | 0x20 * ones;  // 'A'-'F' -> 'a'-'f'
    const std::uint64_t letter = (lower + (0x80 - 'a') * ones) & ~(lower + (0x80 - 'f' - 1) * ones);
    if (((digit | letter) & high) != high) return false;
    // Each byte's value: its low four bits, plus 9 for a letter ('a' & 0xf == 1).
    const std::uint64_t nibbles = (v & 0x0f * ones) + ((letter & high) >> 7) * 9;
    // Pairs (high digit first) -> one byte per 16-bit lane, then the four lanes packed.
    std::uint64_t b = ((nibbles & 0x00ff00ff00ff00ffu) << 4) | ((nibbles >> 8) & 0x00ff00ff00ff00ffu);
    b = (b | (b >> 8)) & 0x0000ffff0000ffffu;
    b = (b | (b >> 16)) & 0xffffffffu;
    out = static_cast<std::uint32_t>(b);
    return true;
  }
};

}  // namespace wsm

// The key hash of a series: computed once, over the caller's labels as given, in any order.
//
// A label set hashes to the sum of the hashes of its canonical `name="escaped value"` fragments
// (labels.hpp), each through StreamHash. The sum does not depend on the order of the labels, and
// StreamHash does not depend on how the bytes are cut into pieces, so the hash of the caller's
// (name, value) views, with each value escaped on the fly, equals the hash of the stored canonical
// form: a registrant hashes its labels once, for its process's index and for the catalog's probe,
// and a reader recomputes the same value from the stored bytes (segment_check). The hash is part of
// the segment's layout (kLayoutVersion): every process that probes the catalog must agree on it.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "wsm/shm/labels.hpp"

namespace wsm::shm {

// A 64-bit hash of a byte stream, 8 bytes at a time, the same however the stream is cut into
// update() calls. Stable across processes and builds of one byte order (words are read
// little-endian, the order of every platform this builds for).
class StreamHash {
 public:
  // Inline: registration feeds it many short pieces (a name, `="`, a value, `"`).
  void update(std::string_view bytes) noexcept {
    const char* p = bytes.data();
    std::size_t n = bytes.size();
    length_ += n;
    if (pending_bytes_ != 0) {  // complete the pending word first
      const std::size_t take = n < 8 - pending_bytes_ ? n : 8 - pending_bytes_;
      pending_ |= load_short(p, take) << (8 * pending_bytes_);
      pending_bytes_ += static_cast<std::uint32_t>(take);
      p += take;
      n -= take;
      if (pending_bytes_ < 8) return;
      absorb(pending_);
      pending_ = 0;
      pending_bytes_ = 0;
    }
    for (; n >= 8; p += 8, n -= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      absorb(w);
    }
    pending_ = load_short(p, n);  // pending_ was empty here
    pending_bytes_ = static_cast<std::uint32_t>(n);
  }
  [[nodiscard]] std::uint64_t finish() const noexcept;

 private:
  void absorb(std::uint64_t word) noexcept {
    state_ = std::rotl((state_ ^ word) * kMultiplier, 29) * kMultiplier;
  }
  // n < 8 bytes at p as a little-endian word, without a variable-length memcpy call: two
  // overlapping 4-byte loads, or the first, middle and last byte (overlaps OR the same bytes).
  static std::uint64_t load_short(const char* p, std::size_t n) noexcept {
    if (n >= 4) {
      std::uint32_t lo, hi;
      std::memcpy(&lo, p, 4);
      std::memcpy(&hi, p + n - 4, 4);
      return std::uint64_t{lo} | std::uint64_t{hi} << (8 * (n - 4));
    }
    if (n == 0) return 0;
    const auto byte = [&](std::size_t i) { return std::uint64_t{static_cast<unsigned char>(p[i])} << (8 * i); };
    return byte(0) | byte(n / 2) | byte(n - 1);
  }
  static constexpr std::uint64_t kMultiplier = 0x9fb21c651e98df25ull;
  std::uint64_t state_ = 0x9e3779b97f4a7c15ull;
  std::uint64_t pending_ = 0;      // the last < 8 bytes, low byte first
  std::uint32_t pending_bytes_ = 0;
  std::uint64_t length_ = 0;
};
static_assert(std::endian::native == std::endian::little, "StreamHash reads words little-endian");

// The hash of one name (StreamHash of its bytes).
[[nodiscard]] std::uint64_t name_hash(std::string_view name) noexcept;
// The hash of a label set given as (name, raw value) pairs, in any order; no allocation.
[[nodiscard]] std::uint64_t label_set_hash(std::span<const Label> labels) noexcept;
// The same hash, from a canonical label set (canonical_labels, or the bytes stored in the catalog).
[[nodiscard]] std::uint64_t canonical_label_set_hash(std::string_view canonical) noexcept;

}  // namespace wsm::shm

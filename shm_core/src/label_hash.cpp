#include "wsm/shm/label_hash.hpp"


namespace wsm::shm {

namespace {

// The final avalanche of MurmurHash3 (fmix64): every input bit flips each output bit with
// probability ~1/2, so the sum of fragment hashes and `hash % capacity` stay well spread.
std::uint64_t avalanche(std::uint64_t h) noexcept {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

}  // namespace

std::uint64_t StreamHash::finish() const noexcept {
  // The length tells "ab" from "ab\0": both leave the same pending word.
  return avalanche((state_ ^ pending_) * kMultiplier + length_);
}

std::uint64_t name_hash(std::string_view name) noexcept {
  StreamHash h;
  h.update(name);
  return h.finish();
}

std::uint64_t label_set_hash(std::span<const Label> labels) noexcept {
  std::uint64_t sum = 0;
  for (const auto& [name, value] : labels) {
    StreamHash h;  // the bytes of the fragment name="escaped value", in pieces
    h.update(name);
    h.update("=\"");
    for_each_escaped_piece(value, [&](std::string_view piece) { h.update(piece); });
    h.update("\"");
    sum += h.finish();
  }
  return sum;
}

std::uint64_t canonical_label_set_hash(std::string_view canonical) noexcept {
  std::uint64_t sum = 0;
  for (std::size_t start = 0; start < canonical.size();) {
    const std::string_view fragment = canonical_fragment(canonical, start);
    StreamHash h;
    h.update(fragment);
    sum += h.finish();
    start += fragment.size() + 1;  // and the comma
  }
  return sum;
}

}  // namespace wsm::shm

// What a chaos writer records, batch by batch, as a pure function of its seed: the writer follows
// it and the test recomputes it, so the test knows the size of the batch a killed writer was in
// the middle of without the writer telling it.
#pragma once

#include <cstdint>

namespace wsm::chaos {

inline constexpr std::uint64_t kChunks = 10;         // a batch is kChunks chunks with a pause between
inline constexpr std::uint64_t kOpsPerChunk = 500;   // each op: counter += amount, histogram << value
inline constexpr std::uint64_t kRegisterReport = 16; // a registrant reports after this many series

struct Batch {
  std::uint64_t amount;  // added to the counters by every op
  std::uint64_t value;   // recorded into the histogram by every op
  [[nodiscard]] static constexpr std::uint64_t ops() { return kChunks * kOpsPerChunk; }
};

// splitmix64: a fixed, portable sequence (std:: distributions differ between libraries).
[[nodiscard]] constexpr std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Batch b (1-based) of the writer started with `seed`.
[[nodiscard]] constexpr Batch batch(std::uint64_t seed, std::uint64_t b) {
  const std::uint64_t r = mix(seed ^ mix(b));
  return {1 + r % 7, 1 + (r >> 8) % 100000};
}

}  // namespace wsm::chaos

// Inputs shared by the benchmarks: deterministic lognormal samples (latencies in ns, sizes in
// bytes), so every case of a run - and every run - records the same values.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace wsm::bench {

// Latencies: median 200 us, sigma 1 (p99 ~ 2 ms); sizes: median 512 B, sigma 1.5.
inline constexpr double kLatencyMedianNs = 200'000;
inline constexpr double kSizeMedianBytes = 512;

[[nodiscard]] inline std::vector<std::uint64_t> lognormal_samples(std::size_t n, double median,
                                                                  double sigma,
                                                                  std::uint64_t seed = 42) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> dist(std::log(median), sigma);
  std::vector<std::uint64_t> out(n);
  for (auto& v : out) v = static_cast<std::uint64_t>(dist(rng));
  return out;
}

// A power-of-two ring of samples the record loops walk with `i & mask`: the bucket index changes
// every call, as it does in a server, and the ring stays in L1 (1024 x 8 B = 8 KiB).
struct SampleRing {
  static constexpr std::size_t kSize = 1024;
  static constexpr std::size_t kMask = kSize - 1;
  std::vector<std::uint64_t> values;
  [[nodiscard]] std::uint64_t operator[](std::size_t i) const noexcept { return values[i & kMask]; }
};

[[nodiscard]] inline const SampleRing& latency_ring() {
  static const SampleRing ring{lognormal_samples(SampleRing::kSize, kLatencyMedianNs, 1.0)};
  return ring;
}
[[nodiscard]] inline const SampleRing& size_ring() {
  static const SampleRing ring{lognormal_samples(SampleRing::kSize, kSizeMedianBytes, 1.5, 7)};
  return ring;
}

}  // namespace wsm::bench

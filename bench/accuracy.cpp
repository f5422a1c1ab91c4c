// Quantile error of histogram buckets against exact quantiles of lognormal samples, for the shipped
// HDR log-linear scheme (bound 1/S = 12.5%) and the bench-local exponential schema-3 scheme (bound
// 2^(1/8) - 1 = 9.05%). Not a timing: each case runs once and reports its errors as counters
// (relative errors, fractions), which keeps scripts/bench's handling of every bench_* uniform.
//
// Exact quantile: nearest rank, the sample at rank ceil(q N). From the buckets: find the bucket
// holding that rank, then either its upper edge (what an exact `le` bucket promises: never below
// the truth, at most one bucket width above) or linear interpolation inside it (what PromQL's
// histogram_quantile does with classic buckets).
#include <algorithm>
#include <benchmark/benchmark.h>
#include <cmath>
#include <string>
#include <vector>

#include "exponential_scheme.hpp"
#include "samples.hpp"
#include "wsm/shm/histogram_scheme.hpp"

namespace {

constexpr std::size_t kSamples = 1'000'000;
constexpr double kQuantiles[] = {0.5, 0.9, 0.95, 0.99, 0.999};
const char* const kQuantileNames[] = {"p50", "p90", "p95", "p99", "p999"};

struct Distribution {
  const char* name;
  double median;
  double sigma;
  std::uint8_t max_octave;
};

template <class Scheme>
void measure(benchmark::State& state, Scheme scheme, double bound, Distribution d) {
  for (auto _ : state) {
    auto samples = wsm::bench::lognormal_samples(kSamples, d.median, d.sigma);
    std::vector<std::uint64_t> counts(scheme.bucket_count());
    for (const std::uint64_t v : samples) ++counts[scheme.index_of(v)];
    std::sort(samples.begin(), samples.end());

    double max_upper = 0, max_interp = 0;
    for (std::size_t q = 0; q < std::size(kQuantiles); ++q) {
      const auto rank = static_cast<std::uint64_t>(std::ceil(kQuantiles[q] * kSamples));
      const double exact = static_cast<double>(samples[rank - 1]);
      std::uint64_t below = 0;
      std::uint32_t i = 0;
      while (below + counts[i] < rank) below += counts[i++];
      const double upper = static_cast<double>(scheme.upper_edge(i));
      const double lower = i == 0 ? 0.0 : static_cast<double>(scheme.upper_edge(i - 1));
      const double interp = lower + (upper - lower) * static_cast<double>(rank - below) /
                                        static_cast<double>(counts[i]);
      const double err_upper = std::abs(upper - exact) / exact;
      const double err_interp = std::abs(interp - exact) / exact;
      state.counters[std::string("err_upper_") + kQuantileNames[q]] = err_upper;
      state.counters[std::string("err_interp_") + kQuantileNames[q]] = err_interp;
      max_upper = std::max(max_upper, err_upper);
      max_interp = std::max(max_interp, err_interp);
    }
    state.counters["max_err_upper"] = max_upper;
    state.counters["max_err_interp"] = max_interp;
    state.counters["bound"] = bound;
    state.counters["within_bound"] = max_upper <= bound && max_interp <= bound;
  }
}

void register_all() {
  const Distribution distributions[] = {
      {"latency_ns_sigma_0.5", wsm::bench::kLatencyMedianNs, 0.5, wsm::shm::kMaxOctaveNanoseconds},
      {"latency_ns_sigma_1.0", wsm::bench::kLatencyMedianNs, 1.0, wsm::shm::kMaxOctaveNanoseconds},
      {"latency_ns_sigma_2.0", wsm::bench::kLatencyMedianNs, 2.0, wsm::shm::kMaxOctaveNanoseconds},
      {"size_bytes_sigma_1.5", wsm::bench::kSizeMedianBytes, 1.5, wsm::shm::kMaxOctaveBytes},
  };
  for (const Distribution& d : distributions) {
    benchmark::RegisterBenchmark((std::string("accuracy/hdr_log_linear/") + d.name).c_str(),
                                 [d](benchmark::State& s) {
                                   measure(s, wsm::shm::HistogramScheme{d.max_octave},
                                           1.0 / wsm::shm::kSubBuckets, d);
                                 })
        ->Iterations(1);
    benchmark::RegisterBenchmark((std::string("accuracy/exponential_aligned/") + d.name).c_str(),
                                 [d](benchmark::State& s) {
                                   measure(s, wsm::bench::ExponentialScheme{d.max_octave},
                                           std::exp2(1.0 / 8) - 1, d);
                                 })
        ->Iterations(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

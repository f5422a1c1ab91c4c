// Registration cost with 3 labels: a new series (name + labels -> catalog entry -> handle) and the
// lookup of an existing one, beside prometheus-cpp's Family::Add doing the same. Registration is
// the cold path (handles are cached), so microseconds are fine here; this shows how many.
#include <benchmark/benchmark.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>
#include <string>
#include <vector>

#include "bench_segment.hpp"

namespace {

// New series per run: kNewSeries label sets no earlier run used, in one segment shared by all runs
// (a process may open at most 8 segments, fewer than the runs of --benchmark_repetitions=5 plus the
// other cases), sized so that after kMaxRuns runs it is at most a quarter full and the catalog's
// probing stays at its normal load.
constexpr std::int64_t kNewSeries = 20'000;
constexpr std::int64_t kMaxRuns = 8;

wsm::shm::Limits roomy_limits() {
  wsm::shm::Limits l;
  l.max_writers = 4;
  l.max_series = 4 * kNewSeries * kMaxRuns;
  l.series_cap_per_family = l.max_series;
  l.string_bytes = 64 * kNewSeries * kMaxRuns + (1 << 20);
  l.arena_bytes = 64 * 1024;
  l.retired_bytes = 64 * 1024;
  return l;
}

std::vector<std::string> user_ids(std::int64_t n, const std::string& prefix = "user-") {
  std::vector<std::string> ids;
  ids.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) ids.push_back(prefix + std::to_string(i));
  return ids;
}

void wsm_new_series(benchmark::State& state) {
  static wsm::bench::BenchSegment segment("registration", roomy_limits());
  static std::int64_t runs = 0;
  if (runs == kMaxRuns) {
    state.SkipWithError("more runs than kMaxRuns: the shared segment would fill up");
    return;
  }
  const auto ids = user_ids(kNewSeries, "run" + std::to_string(runs++) + "-user-");
  std::size_t i = 0;
  for (auto _ : state) {
    auto c = segment.registry().counter("websocket_messages_sent_total",
                                        {{"role", "doctor"}, {"route", "/ws/telemetry"}, {"user", ids[i++]}});
    benchmark::DoNotOptimize(c);
  }
  if (segment.registry().last_error()) state.SkipWithError(segment.registry().last_error()->message().c_str());
}

void wsm_existing_series(benchmark::State& state) {
  static wsm::bench::BenchSegment segment("lookup");  // one for all runs, as above
  (void)segment.registry().counter("websocket_messages_sent_total",
                                   {{"role", "doctor"}, {"route", "/ws/telemetry"}, {"user", "user-1"}});
  for (auto _ : state) {
    auto c = segment.registry().counter("websocket_messages_sent_total",
                                        {{"role", "doctor"}, {"route", "/ws/telemetry"}, {"user", "user-1"}});
    benchmark::DoNotOptimize(c);
  }
  if (segment.registry().last_error()) state.SkipWithError(segment.registry().last_error()->message().c_str());
}

void prometheus_new_series(benchmark::State& state) {
  const auto ids = user_ids(kNewSeries);
  prometheus::Registry registry;
  auto& family = prometheus::BuildCounter().Name("websocket_messages_sent_total").Register(registry);
  std::size_t i = 0;
  for (auto _ : state) {
    auto& c = family.Add({{"role", "doctor"}, {"route", "/ws/telemetry"}, {"user", ids[i++]}});
    benchmark::DoNotOptimize(&c);
  }
}

void prometheus_existing_series(benchmark::State& state) {
  prometheus::Registry registry;
  auto& family = prometheus::BuildCounter().Name("websocket_messages_sent_total").Register(registry);
  for (auto _ : state) {
    auto& c = family.Add({{"role", "doctor"}, {"route", "/ws/telemetry"}, {"user", "user-1"}});
    benchmark::DoNotOptimize(&c);
  }
}

}  // namespace

// New series: a fixed count per run (each iteration consumes a label set).
BENCHMARK(wsm_new_series)->Name("registration/wsm_new_series_3_labels")->Iterations(kNewSeries);
BENCHMARK(wsm_existing_series)->Name("registration/wsm_existing_series_3_labels");
BENCHMARK(prometheus_new_series)->Name("registration/prometheus_cpp_new_series_3_labels")->Iterations(kNewSeries);
BENCHMARK(prometheus_existing_series)->Name("registration/prometheus_cpp_existing_series_3_labels");

BENCHMARK_MAIN();

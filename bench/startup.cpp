// What registering every enumerated catalogue series at start costs a worker (issue 16):
// constructing wsm::ws::Metrics on a new segment (every series new: the first worker) and on a
// segment another worker already filled (every series found: the others), each timed in a process
// of its own as a real worker's start is, beside the series and string bytes it adds.
#include <benchmark/benchmark.h>
#include <chrono>
#include <sys/wait.h>
#include <unistd.h>

#include "wsm/shm/capacity.hpp"
#include "wsm/shm/catalog_view.hpp"
#include "wsm/shm/snapshot.hpp"
#include "wsm/websocket_metrics.hpp"

namespace {

// Constructs wsm::ws::Metrics on `segment` in a forked child (after opening its Registry, not
// timed) and returns how long the construction took there, in seconds.
double seconds_in_child(const std::string& segment) {
  int fds[2];
  if (::pipe(fds) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    auto registry = wsm::Registry::open(segment, {});
    if (!registry) ::_exit(1);
    const auto start = std::chrono::steady_clock::now();
    wsm::ws::Metrics metrics(*registry, {.process_role = "worker"});
    benchmark::DoNotOptimize(metrics);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    (void)!::write(fds[1], &s, sizeof s);
    ::_exit(0);
  }
  ::close(fds[1]);
  double s = -1;
  (void)!::read(fds[0], &s, sizeof s);
  ::close(fds[0]);
  ::waitpid(pid, nullptr, 0);
  return s;
}

// Counters: the series and string bytes the construction left in the segment.
void report_fill(benchmark::State& state, const std::string& name) {
  auto segment = wsm::shm::Segment::open(name);
  if (!segment) return state.SkipWithError(segment.error().message().c_str());
  wsm::shm::CatalogView catalog;
  auto snapshot = wsm::shm::Snapshot::take(*segment, catalog);
  if (!snapshot) return state.SkipWithError(snapshot.error().message().c_str());
  for (const wsm::shm::Fill& f : wsm::shm::segment_fill(*segment, catalog, *snapshot).regions) {
    if (f.name == "series" || f.name == "string_bytes") {
      state.counters[f.name] = static_cast<double>(f.used);
      state.counters[f.name + "_capacity"] = static_cast<double>(f.capacity);
    }
  }
}

// The first worker: every series is new. One segment per iteration, made and timed in the child.
void first_worker(benchmark::State& state) {
  std::string last;
  int n = 0;
  for (auto _ : state) {
    if (!last.empty()) (void)wsm::shm::Segment::remove(last);
    last = "bench-startup-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
    state.SetIterationTime(seconds_in_child(last));
  }
  report_fill(state, last);
  (void)wsm::shm::Segment::remove(last);
}

// Every later worker: the series are there.
void next_worker(benchmark::State& state) {
  const std::string name = "bench-startup-" + std::to_string(::getpid()) + "-shared";
  (void)wsm::shm::Segment::remove(name);
  (void)seconds_in_child(name);
  for (auto _ : state) state.SetIterationTime(seconds_in_child(name));
  report_fill(state, name);
  (void)wsm::shm::Segment::remove(name);
}

}  // namespace

BENCHMARK(first_worker)->Name("startup/metrics_first_worker")->UseManualTime()->Iterations(5)->Unit(benchmark::kMillisecond);
BENCHMARK(next_worker)->Name("startup/metrics_next_worker")->UseManualTime()->Iterations(5)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();

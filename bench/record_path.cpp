// Record-path cost: wsm's handles (the default ones, their `local()` thread-bound forms and one
// wsm::ws::Metrics call) beside the floor and beside what users would pick instead, all in one run
// so the ratios compare like with like. Threads 1, 2 and 4: the reported CPU time is per
// operation per thread, so a per-writer cell shows no slowdown from 1 to 2 threads while a shared
// cell does.
//
// Keeping the record honest: every handle lives in a global (as it would in a server object) and
// every iteration ends with ClobberMemory(), so the compiler must reload the handle and the
// thread's cell table and must perform each store; nothing is hoisted out of the loop or merged.
// Histogram inputs walk a ring of lognormal samples so the bucket changes on every call.
#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <benchmark/benchmark.h>
#include <chrono>
#include <cstdio>
#include <netinet/in.h>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <string_view>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#include "bench_segment.hpp"
#include "exponential_scheme.hpp"
#include "hdr_via_bit_width.hpp"
#include "samples.hpp"
#include "wsm/shm/histogram_scheme.hpp"
#include "wsm/websocket_metrics.hpp"

namespace {

using wsm::bench::latency_ring;
using wsm::bench::size_ring;

constexpr int kMaxThreads = 4;

// ---- the floor: a private cache line per thread --------------------------------------------

struct alignas(64) PrivateLine {
  std::uint64_t plain = 0;
  std::atomic<std::uint64_t> relaxed{0};
};
PrivateLine g_lines[kMaxThreads];
alignas(64) std::atomic<std::uint64_t> g_shared{0};

void floor_plain_inc(benchmark::State& state) {
  PrivateLine& line = g_lines[state.thread_index()];
  for (auto _ : state) {
    ++line.plain;
    benchmark::ClobberMemory();
  }
}

void floor_relaxed_store(benchmark::State& state) {
  PrivateLine& line = g_lines[state.thread_index()];
  std::uint64_t i = 0;
  for (auto _ : state) {
    line.relaxed.store(++i, std::memory_order_relaxed);
    benchmark::ClobberMemory();
  }
}

void shared_fetch_add(benchmark::State& state) {
  for (auto _ : state) {
    g_shared.fetch_add(1, std::memory_order_relaxed);
    benchmark::ClobberMemory();
  }
}

// ---- wsm ---------------------------------------------------------------------------------------

struct WsmHandles {
  wsm::bench::BenchSegment segment{"record"};
  wsm::Counter counter = segment.registry().counter(
      "websocket_messages_sent_total", {{"role", "doctor"}, {"type", "vitals"}, {"priority", "high"}});
  wsm::Gauge gauge = segment.registry().gauge("websocket_connections_active", {{"role", "doctor"}});
  wsm::Histogram latency = segment.registry().histogram("websocket_message_latency_seconds",
                                                        {{"role", "doctor"}});
  wsm::Histogram size = segment.registry().histogram("websocket_message_size_bytes", {{"role", "doctor"}});
};

WsmHandles& wsm_handles() {
  static WsmHandles h;  // built before the threads start (main touches it)
  return h;
}

// Each benchmark thread is new: its first record claims a writer slot and appends a cell (the
// cold path). Done before the timed loop so the loop measures the steady state.
void wsm_counter_inc(benchmark::State& state) {
  const wsm::Counter& c = wsm_handles().counter;
  c.inc();
  for (auto _ : state) {
    c.inc();
    benchmark::ClobberMemory();
  }
}

// A sink handle: what every handle of a registry opened with WEBSOCKET_MONITORING_ENABLED=false is.
void wsm_counter_inc_disabled(benchmark::State& state) {
  const wsm::Counter c;
  c.inc();
  for (auto _ : state) {
    c.inc();
    benchmark::ClobberMemory();
  }
}

// The same counter bound to the benchmark thread's cell (Counter::local()).
void wsm_counter_inc_local(benchmark::State& state) {
  const wsm::LocalCounter c = wsm_handles().counter.local();
  for (auto _ : state) {
    c.inc();
    benchmark::ClobberMemory();
  }
}

void wsm_histogram_record_local(benchmark::State& state) {
  const wsm::LocalHistogram h = wsm_handles().latency.local();
  const auto& ring = latency_ring();
  std::size_t i = 0;
  for (auto _ : state) {
    h.record(std::chrono::nanoseconds(ring[i++]));
    benchmark::ClobberMemory();
  }
}

void wsm_histogram_record_size_local(benchmark::State& state) {
  const wsm::LocalHistogram h = wsm_handles().size.local();
  const auto& ring = size_ring();
  std::size_t i = 0;
  for (auto _ : state) {
    h.record(ring[i++]);
    benchmark::ClobberMemory();
  }
}

// One facade call per sent message (wsm::ws::Metrics::message_sent): messages_sent_total by
// (type, priority, role, target), message_size_bytes by (type, direction, compression) and the
// connection's messages_out in the connection table. Each thread sends on a connection of its own,
// as each connection belongs to one thread of a server.
wsm::ws::Metrics& facade() {
  static wsm::ws::Metrics m(wsm_handles().segment.registry(), {.process_role = "bench"});
  return m;
}

// The same call with the message category switched off (WEBSOCKET_METRICS_CATEGORIES): what a
// disabled category costs a server, i.e. sink handles plus the connection record.
wsm::ws::Metrics& facade_message_off() {
  static wsm::ws::Metrics m(wsm_handles().segment.registry(),
                            {.process_role = "bench",
                             .categories = wsm::ws::Categories::all().disable(wsm::ws::Category::message)});
  return m;
}

void facade_message_sent(benchmark::State& state, wsm::ws::Metrics& m) {
  using namespace wsm::ws;
  // The thread index as user id (GCC 12 warns falsely, -Wrestrict, on "u" + std::to_string(...)).
  const std::string user = std::to_string(state.thread_index());
  Connection c = m.connection_opened(Role::doctor, user, "p7", Compression::deflate);
  const auto& ring = size_ring();
  std::size_t i = 0;
  m.message_sent(c, MessageType::vitals, Priority::high, TargetType::subscribers, ring[i]);
  for (auto _ : state) {
    m.message_sent(c, MessageType::vitals, Priority::high, TargetType::subscribers, ring[i++]);
    benchmark::ClobberMemory();
  }
  m.connection_closed(c, DisconnectReason::client_close);
}
void wsm_facade_message_sent(benchmark::State& state) { facade_message_sent(state, facade()); }
void wsm_facade_message_sent_category_off(benchmark::State& state) {
  facade_message_sent(state, facade_message_off());
}

void wsm_gauge_set(benchmark::State& state) {
  const wsm::Gauge& g = wsm_handles().gauge;
  double v = 0;
  g.set(v);
  for (auto _ : state) {
    g.set(v += 1);
    benchmark::ClobberMemory();
  }
}

void wsm_gauge_add(benchmark::State& state) {
  const wsm::Gauge& g = wsm_handles().gauge;
  g.add(1);
  for (auto _ : state) {
    g.add(1);
    benchmark::ClobberMemory();
  }
}

void wsm_histogram_record_duration(benchmark::State& state) {
  const wsm::Histogram& h = wsm_handles().latency;
  const auto& ring = latency_ring();
  std::size_t i = 0;
  h.record(std::chrono::nanoseconds(ring[i]));
  for (auto _ : state) {
    h.record(std::chrono::nanoseconds(ring[i++]));
    benchmark::ClobberMemory();
  }
}

void wsm_histogram_record_size(benchmark::State& state) {
  const wsm::Histogram& h = wsm_handles().size;
  const auto& ring = size_ring();
  std::size_t i = 0;
  h.record(ring[i]);
  for (auto _ : state) {
    h.record(ring[i++]);
    benchmark::ClobberMemory();
  }
}

// With an exemplar (issue 20): the record above plus the thread's exemplar cell of the series (a
// table lookup, the realtime clock, six stores under the cell's sequence word). The exemplar
// changes every call, as a trace id per message would.
wsm::Exemplar bench_exemplar(std::size_t i) {
  wsm::Exemplar e;
  e.trace_id[0] = static_cast<std::uint8_t>(i | 1);
  e.trace_id[15] = static_cast<std::uint8_t>(i >> 8);
  e.span_id[7] = static_cast<std::uint8_t>(i);
  return e;
}

void wsm_histogram_record_duration_exemplar(benchmark::State& state) {
  const wsm::Histogram& h = wsm_handles().latency;
  const auto& ring = latency_ring();
  std::size_t i = 0;
  h.record(std::chrono::nanoseconds(ring[i]), bench_exemplar(i));
  for (auto _ : state) {
    h.record(std::chrono::nanoseconds(ring[i]), bench_exemplar(i));
    ++i;
    benchmark::ClobberMemory();
  }
}

void wsm_counter_inc_exemplar(benchmark::State& state) {
  const wsm::Counter& c = wsm_handles().counter;
  std::size_t i = 0;
  c.inc(1, bench_exemplar(i));
  for (auto _ : state) {
    c.inc(1, bench_exemplar(i++));
    benchmark::ClobberMemory();
  }
}

// ---- prometheus-cpp: one shared series, as its users record ------------------------------------

struct PrometheusHandles {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  prometheus::Counter& counter = prometheus::BuildCounter()
                                     .Name("websocket_messages_sent_total")
                                     .Register(*registry)
                                     .Add({{"role", "doctor"}, {"type", "vitals"}, {"priority", "high"}});
  // 12 classic buckets spanning the latency distribution (seconds).
  prometheus::Histogram& latency =
      prometheus::BuildHistogram()
          .Name("websocket_message_latency_seconds")
          .Register(*registry)
          .Add({{"role", "doctor"}},
               prometheus::Histogram::BucketBoundaries{0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
                                                       0.001, 0.0025, 0.005, 0.01, 0.025, 0.05});
};

PrometheusHandles& prometheus_handles() {
  static PrometheusHandles h;
  return h;
}

void prometheus_counter_increment(benchmark::State& state) {
  prometheus::Counter& c = prometheus_handles().counter;
  for (auto _ : state) {
    c.Increment();
    benchmark::ClobberMemory();
  }
}

void prometheus_histogram_observe(benchmark::State& state) {
  prometheus::Histogram& h = prometheus_handles().latency;
  const auto& ring = latency_ring();
  std::size_t i = 0;
  for (auto _ : state) {
    h.Observe(static_cast<double>(ring[i++]) * 1e-9);  // the user converts ns to seconds
    benchmark::ClobberMemory();
  }
}

// ---- StatsD style: one UDP datagram per event to a bound socket on 127.0.0.1 -------------------

// Nobody reads the receiver: once its buffer is full the kernel drops datagrams at the socket,
// after the sender has paid for the whole send path (which is what a StatsD client pays).
struct StatsdReceiver {
  int fd = -1;
  sockaddr_in addr{};
  StatsdReceiver() {
    fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      std::perror("statsd receiver");
      std::exit(1);
    }
  }
  ~StatsdReceiver() { ::close(fd); }
};

StatsdReceiver& statsd_receiver() {
  static StatsdReceiver r;
  return r;
}

void statsd_udp_counter(benchmark::State& state) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);  // one client socket per thread
  const sockaddr_in& to = statsd_receiver().addr;
  if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
    state.SkipWithError("cannot connect the StatsD socket");
    return;
  }
  constexpr std::string_view kEvent = "websocket.messages_sent:1|c|#role:doctor";
  std::int64_t failed = 0;
  for (auto _ : state) {
    failed += ::send(fd, kEvent.data(), kEvent.size(), 0) < 0;
  }
  state.counters["send_errors"] = static_cast<double>(failed);
  ::close(fd);
}

// ---- histogram schemes: shipped HDR log-linear vs exponential schema-3 aligned ------------------

// Each scheme as a handle would hold it: in memory, reloaded every call.
struct Schemes {
  wsm::shm::HistogramScheme hdr{wsm::shm::kMaxOctaveNanoseconds};
  wsm::bench::ExponentialScheme exponential{wsm::shm::kMaxOctaveNanoseconds};
};
Schemes g_schemes;

// The exponential index through the int->double conversion (see index_of_via_double).
struct ExponentialViaDouble {
  wsm::bench::ExponentialScheme scheme{wsm::shm::kMaxOctaveNanoseconds};
  [[nodiscard]] std::uint32_t index_of(std::uint64_t v) const noexcept { return scheme.index_of_via_double(v); }
};
ExponentialViaDouble g_via_double;
wsm::bench::HdrViaBitWidth g_hdr_bit_width;

template <class Scheme>
void index_of(benchmark::State& state, const Scheme& scheme) {
  const auto& ring = latency_ring();
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(scheme.index_of(ring[i++]));
    benchmark::ClobberMemory();
  }
}

// The whole record (sum + one bucket) into a thread-private cell with each scheme: the same work
// as Histogram::record minus the cell lookup, so the two differ only in the index computation.
struct alignas(64) PrivateCell {
  std::atomic<std::uint64_t> words[1 + 400]{};
};
PrivateCell g_cells[kMaxThreads];
static_assert(wsm::bench::ExponentialScheme{wsm::shm::kMaxOctaveNanoseconds}.bucket_count() <= 400);

template <class Scheme>
void record_with(benchmark::State& state, const Scheme& scheme) {
  auto* c = g_cells[state.thread_index()].words;
  const auto& ring = latency_ring();
  std::size_t i = 0;
  for (auto _ : state) {
    const std::uint64_t v = ring[i++];
    wsm::detail::add_own(c[0], v);
    wsm::detail::add_own(c[1 + scheme.index_of(v)], 1);
    benchmark::ClobberMemory();
  }
}

// bit_width compiles to bsr (+ xor) without -mlzcnt / -march; this is the same index with lzcnt.
[[gnu::target("lzcnt")]] void record_hdr_bit_width_lzcnt(benchmark::State& state) {
  record_with(state, g_hdr_bit_width);
}

void register_all() {
  using Fn = void (*)(benchmark::State&);
  struct Case {
    const char* name;
    Fn fn;
  };
  const Case threaded[] = {
      {"floor/plain_inc", floor_plain_inc},
      {"floor/relaxed_store", floor_relaxed_store},
      {"shared/fetch_add_relaxed", shared_fetch_add},
      {"wsm/counter_inc", wsm_counter_inc},
      {"wsm/counter_inc_local", wsm_counter_inc_local},
      {"wsm/counter_inc_disabled", wsm_counter_inc_disabled},
      {"wsm/gauge_set", wsm_gauge_set},
      {"wsm/gauge_add", wsm_gauge_add},
      {"wsm/histogram_record_duration", wsm_histogram_record_duration},
      {"wsm/histogram_record_duration_local", wsm_histogram_record_local},
      {"wsm/counter_inc_exemplar", wsm_counter_inc_exemplar},
      {"wsm/histogram_record_duration_exemplar", wsm_histogram_record_duration_exemplar},
      {"wsm/histogram_record_size", wsm_histogram_record_size},
      {"wsm/histogram_record_size_local", wsm_histogram_record_size_local},
      {"wsm/facade_message_sent", wsm_facade_message_sent},
      {"wsm/facade_message_sent_category_off", wsm_facade_message_sent_category_off},
      {"prometheus_cpp/counter_increment", prometheus_counter_increment},
      {"prometheus_cpp/histogram_observe_12_buckets", prometheus_histogram_observe},
      {"statsd/udp_datagram_per_event", statsd_udp_counter},
  };
  // The bucket index alone and the record minus the cell lookup, per scheme: the shipped HDR index
  // (int->double), the same buckets by their bit_width definition (bsr, and lzcnt), and the
  // exponential schema-3 alternative.
  const Case single[] = {
      {"scheme/index_hdr_log_linear", [](benchmark::State& s) { index_of(s, g_schemes.hdr); }},
      {"scheme/index_hdr_log_linear_bit_width", [](benchmark::State& s) { index_of(s, g_hdr_bit_width); }},
      {"scheme/index_exponential_aligned", [](benchmark::State& s) { index_of(s, g_schemes.exponential); }},
      {"scheme/index_exponential_aligned_via_double", [](benchmark::State& s) { index_of(s, g_via_double); }},
      {"scheme/record_hdr_log_linear", [](benchmark::State& s) { record_with(s, g_schemes.hdr); }},
      {"scheme/record_hdr_log_linear_bit_width", [](benchmark::State& s) { record_with(s, g_hdr_bit_width); }},
      {"scheme/record_hdr_log_linear_bit_width_lzcnt", record_hdr_bit_width_lzcnt},
      {"scheme/record_exponential_aligned", [](benchmark::State& s) { record_with(s, g_schemes.exponential); }},
      {"scheme/record_exponential_aligned_via_double", [](benchmark::State& s) { record_with(s, g_via_double); }},
  };
  // Besides the median, the fastest repetition: interference on a shared machine only adds time,
  // so the minimum is the steadiest estimate of what the code itself costs.
  const auto fastest = [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); };
  for (const Case& c : threaded) {
    benchmark::RegisterBenchmark(c.name, c.fn)->Threads(1)->Threads(2)->Threads(kMaxThreads)
        ->ComputeStatistics("min", fastest);
  }
  for (const Case& c : single) benchmark::RegisterBenchmark(c.name, c.fn)->ComputeStatistics("min", fastest);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_all();
  (void)wsm_handles();  // the segment exists before any benchmark thread starts
  (void)facade();
  (void)prometheus_handles();
  (void)statsd_receiver();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;  // the segment is unlinked by wsm_handles()'s static destructor
}

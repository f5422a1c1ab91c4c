// Scrape cost of the exporter (issue 4), Google Benchmark.
//
//  BM_Scrape/<series>/<writers>/<format>/<gzip>   the exporter's whole scrape path minus HTTP
//                                       (Monitor::scrape: snapshot + aggregate + identifier
//                                       policy + derived and self families + serialise [+ gzip])
//                                       1k/10k/100k series x 1/8/32 writers, text and OpenMetrics
//  BM_Snapshot, BM_Aggregate, BM_Serialise   its parts, 100k series, 8 writers (the copy + sum
//                                       that `wsm dump` and the API still use)
//  BM_Tally/<series>/<writers>/<readers>  the scrape path's read: cells summed from the mapping,
//                                       by one reading thread or two
//  BM_Compress/<codec>/<level>          gzip of the 100k-series text body: zlib vs libdeflate vs ours
//  BM_PrometheusCpp/<series>            the same aggregation through prometheus-cpp's
//                                       MetricFamily + TextSerializer, i.e. what a Collectable
//                                       behind prometheus-cpp's Exposer would cost per scrape
//  BM_ExporterFootprint/<series>/<scrape every s>   wsm-exporter as a process at --interval 5:
//                                       RSS after text scrapes, CPU % of one core over a minute
//                                       (WSM_BENCH_CPU_SECONDS, default 60), then RSS and peak
//                                       after scrapes as Prometheus asks (OpenMetrics, gzip)
//
// The segment: <series> series across <writers> writer threads of a child process (8 where not
// given; every thread records every series, as pre-forked workers of one server do), 90%
// counters, 9% gauges, 1% histograms (*_seconds, 345 HDR buckets each), labels role + id, 50/5/1
// families. Targets (issue 4): 10k series 20 ms, 100k 200 ms, RSS 50 MB at 100k, CPU under 1% at a
// 5 s interval; issue 17's (bench/report.py, "Scrape targets"): 100k x 8 text 15 ms, 100k x 32 text
// 50 ms, OpenMetrics + gzip 100k x 8 35 ms, exporter RSS at 100k anonymous 10 MB, total 50 MB,
// peak 60 MB.
#include <benchmark/benchmark.h>
#include <wsm/writer.hpp>
#include <zlib.h>

#include <arpa/inet.h>
#include <chrono>
#include <civetweb.h>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <libdeflate.h>
#include <map>
#include <memory>
#include <mutex>
#include <netinet/in.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "wsm/exporter/monitor.hpp"
#include "wsm/exposition/gzip.hpp"
#include "wsm/shm/proc_stats.hpp"
#include "wsm/exposition/classic_buckets.hpp"
#include "wsm/shm/labels.hpp"
#include "wsm/shm/tally.hpp"
#include "scrape_limits.hpp"

extern char** environ;

namespace {

using namespace wsm;
constexpr int kWriters = 8;  // where a case does not vary them

// Fills segment `name` with `series` series written by `writers` threads, which then stay alive
// (parked) so the snapshot sees that many live writers. Runs in a child process (BenchSegment).
class Writers {
 public:
  Writers(const std::string& name, std::size_t series, int writers) : writers_(writers) {
    const std::size_t hist = series / 100, gauges = series * 9 / 100, counters = series - hist - gauges;
    const shm::Limits limits = bench::scrape_limits(series, writers);
    auto reg = Registry::open(name, {.limits = limits, .role = "bench", .enabled = true});
    if (!reg) throw std::runtime_error(reg.error().message());
    static const char* roles[] = {"doctor", "nurse", "patient_monitor", "admin"};
    for (std::size_t i = 0; i < series; ++i) {
      const std::string id = std::to_string(i);
      const Labels labels = {{"role", roles[i % 4]}, {"id", id}};
      if (i < counters) {
        counters_.push_back(reg->counter("bench_c" + std::to_string(i % 50) + "_total", labels, "bench counter"));
      } else if (i < counters + gauges) {
        reg->gauge("bench_g" + std::to_string(i % 5), labels, "bench gauge").set(static_cast<double>(i));
      } else {
        histograms_.push_back(reg->histogram("bench_h" + std::to_string(i % 1) + "_seconds", labels, "bench histogram"));
      }
    }
    if (auto e = reg->last_error()) throw std::runtime_error(e->message());
    for (int t = 0; t < writers; ++t) {
      std::thread([this, t] {
        for (const Counter& c : counters_) c.inc(static_cast<std::uint64_t>(t + 1));
        std::uint64_t v = 1000 + static_cast<std::uint64_t>(t);
        for (const Histogram& h : histograms_) {
          for (int k = 0; k < 16; ++k) h.record(v = v * 6364136223846793005ull % 10'000'000'000ull);
        }
        std::unique_lock lock(mutex_);
        ++recorded_;
        changed_.notify_all();
        changed_.wait(lock, [] { return false; });  // parked: the writer stays alive
      }).detach();
    }
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return recorded_ == writers_; });
  }

 private:
  int writers_;
  std::vector<Counter> counters_;
  std::vector<Histogram> histograms_;
  std::mutex mutex_;
  std::condition_variable changed_;
  int recorded_ = 0;
};

// A segment written by a child process of its own, as pre-forked workers write a server's segment,
// and because one process may open at most 8 segments through the writer API (this benchmark uses
// 9). The child lives until this process exits (it waits for EOF on a pipe only this process holds,
// and PR_SET_PDEATHSIG covers a crash); the segment file is removed at exit (segment_of).
class BenchSegment {
 public:
  BenchSegment(std::size_t series, int writers)
      : name_("bench-scrape-" + std::to_string(::getpid()) + "-" + std::to_string(series) + "-" +
              std::to_string(writers)) {
    (void)shm::Segment::remove(name_);
    int ready[2], hold[2];  // CLOEXEC: the wsm-exporter this benchmark spawns must not hold them
    if (::pipe2(ready, O_CLOEXEC) != 0 || ::pipe2(hold, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    const pid_t pid = ::fork();  // no other thread runs here: the writers live in the children
    if (pid < 0) throw std::runtime_error("fork");
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::close(ready[0]);
      ::close(hold[1]);
      try {
        Writers w(name_, series, writers);
        char c = 'k';
        if (::write(ready[1], &c, 1) == 1) (void)!::read(hold[0], &c, 1);  // until the parent exits
      } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_scrape: cannot fill %s: %s\n", name_.c_str(), e.what());
      }
      ::_exit(0);
    }
    ::close(ready[1]);
    ::close(hold[0]);  // hold[1] stays open for the life of this process
    char c = 0;
    const bool filled = ::read(ready[0], &c, 1) == 1;
    ::close(ready[0]);
    if (!filled) throw std::runtime_error("the writer process of " + name_ + " failed");
  }
  [[nodiscard]] const std::string& name() const { return name_; }

 private:
  std::string name_;
};

std::vector<std::string>& segment_names() {
  static auto* names = new std::vector<std::string>;
  return *names;
}

BenchSegment& segment_of(std::size_t series, int writers = kWriters) {
  static auto* made = new std::map<std::pair<std::size_t, int>, BenchSegment*>;
  auto& s = (*made)[{series, writers}];
  if (s == nullptr) {
    s = new BenchSegment(series, writers);
    if (segment_names().empty()) {
      std::atexit([] {
        for (const std::string& n : segment_names()) (void)shm::Segment::remove(n);
      });
    }
    segment_names().push_back(s->name());
  }
  return *s;
}

double process_cpu_seconds() {
  timespec t{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

std::unique_ptr<exporter::Monitor> monitor_of(const BenchSegment& s) {
  exporter::Settings settings;
  settings.segment = s.name();
  auto m = std::make_unique<exporter::Monitor>(settings, exposition::IdLabelPolicy(exposition::IdLabelMode::drop));
  m->tick();
  m->tick();
  return m;
}

void BM_Scrape(benchmark::State& state) {
  auto& seg = segment_of(static_cast<std::size_t>(state.range(0)), static_cast<int>(state.range(1)));
  const auto format = state.range(2) == 0 ? exposition::Format::prometheus_text : exposition::Format::openmetrics;
  const bool gzip = state.range(3) != 0;
  auto monitor = monitor_of(seg);
  exporter::ScrapeBuffers buffers;
  // A collector scrapes one exporter again and again: the figure is that steady scrape. The
  // monitor's first one also fills the writer's per-family text cache and faults in the body's
  // buffer, once; it is timed apart (first_scrape_ms), so that it neither hides in nor weighs on
  // the few iterations a short --benchmark_min_time gives.
  const auto first_start = std::chrono::steady_clock::now();
  std::size_t bytes = monitor->scrape(format, gzip, buffers).bytes.size();
  state.counters["first_scrape_ms"] =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - first_start).count();
  // Google Benchmark's CPU time is the calling thread's; a gzipped scrape compresses on a second
  // thread (and a scrape of many writers reads on two), so the process's CPU is counted too.
  const double process_cpu_start = process_cpu_seconds();
  for (auto _ : state) {
    const auto body = monitor->scrape(format, gzip, buffers);
    bytes = body.bytes.size();
    benchmark::DoNotOptimize(body.bytes.data());
  }
  state.counters["process_cpu_ms"] =
      benchmark::Counter((process_cpu_seconds() - process_cpu_start) * 1e3, benchmark::Counter::kAvgIterations);
  state.counters["body_MB"] = static_cast<double>(bytes) / 1e6;
  state.counters["text_MB"] = static_cast<double>(buffers.text.size()) / 1e6;
  state.SetLabel(std::string(format == exposition::Format::openmetrics ? "openmetrics" : "text") + (gzip ? "+gzip" : ""));
}
BENCHMARK(BM_Scrape)
    ->ArgsProduct({{1'000, 10'000, 100'000}, {1, kWriters, 32}, {0, 1}, {0, 1}})
    ->ArgNames({"series", "writers", "om", "gzip"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The parts, at 100k series.
struct Read {
  explicit Read(const std::string& name) : segment(*shm::Segment::open(name, {shm::Access::read_only})) {}
  shm::Segment segment;
  shm::CatalogView catalog;
};

void BM_Snapshot(benchmark::State& state) {
  Read r(segment_of(static_cast<std::size_t>(state.range(0))).name());
  for (auto _ : state) benchmark::DoNotOptimize(shm::Snapshot::take(r.segment, r.catalog)->words.size());
}
BENCHMARK(BM_Snapshot)->Arg(100'000)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Aggregate(benchmark::State& state) {
  Read r(segment_of(static_cast<std::size_t>(state.range(0))).name());
  const auto snap = *shm::Snapshot::take(r.segment, r.catalog);
  for (auto _ : state) benchmark::DoNotOptimize(shm::Aggregation::of(r.catalog, snap).points.size());
}
BENCHMARK(BM_Aggregate)->Arg(100'000)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Serialise(benchmark::State& state) {
  Read r(segment_of(static_cast<std::size_t>(state.range(0))).name());
  const auto snap = *shm::Snapshot::take(r.segment, r.catalog);
  const auto agg = shm::Aggregation::of(r.catalog, snap);
  exposition::Writer writer;
  std::string out;
  for (auto _ : state) {
    out.clear();
    writer.write(exposition::Format::prometheus_text, &agg, {}, 0, out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_Serialise)->Arg(100'000)->Unit(benchmark::kMillisecond)->UseRealTime();

// The scrape path's read: every cell summed straight from the mapping (tally.hpp), with one
// thread or two, 8 and 32 writers: the speed-up of the second thread.
void BM_Tally(benchmark::State& state) {
  Read r(segment_of(static_cast<std::size_t>(state.range(0)), static_cast<int>(state.range(1))).name());
  shm::Tally tally;
  const shm::TallyOptions options{.threads = static_cast<unsigned>(state.range(2)), .split_bytes = 0};
  for (auto _ : state) {
    if (!tally.take(r.segment, r.catalog, options)) state.SkipWithError("tally failed");
    benchmark::DoNotOptimize(tally.aggregation().points.size());
  }
}
BENCHMARK(BM_Tally)
    ->ArgsProduct({{100'000}, {kWriters, 32}, {1, 2}})
    ->ArgNames({"series", "writers", "readers"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// gzip of the Prometheus text body of 100k series x 8 writers (7.3 MB): zlib and libdeflate at
// levels 1-6 in one call (codec 0: zlib, 1: libdeflate), and the exporter's GzipStream, igzip at
// levels 0-3 (codec 2), handed the body in pieces the size of a scrape's parts. The choice is
// argued from these figures in the exporter README, "Compression".
constexpr std::size_t kStreamPieceBytes = 300'000;
void BM_Compress(benchmark::State& state) {
  Read r(segment_of(100'000).name());
  shm::Tally tally;
  if (!tally.take(r.segment, r.catalog)) return state.SkipWithError("tally failed");
  exposition::Writer writer;
  std::string text;
  writer.write(exposition::Format::prometheus_text, &tally.aggregation(), {}, 0, text);
  const bool libdeflate = state.range(0) == 1;
  const bool stream = state.range(0) == 2;
  const int level = static_cast<int>(state.range(1));
  std::string out;
  libdeflate_compressor* c = libdeflate ? libdeflate_alloc_compressor(level) : nullptr;
  for (auto _ : state) {
    if (stream) {  // as a scrape hands it over: parts of kScrapePartPoints points, ~0.3 MB
      exposition::GzipStream gz(out, level);
      std::string piece;
      for (std::size_t at = 0; at < text.size(); at += kStreamPieceBytes) {
        piece.assign(text, at, kStreamPieceBytes);
        gz.add(piece);
      }
      if (!gz.finish()) return state.SkipWithError("GzipStream failed");
    } else if (libdeflate) {
      out.resize(libdeflate_gzip_compress_bound(c, text.size()));
      out.resize(libdeflate_gzip_compress(c, text.data(), text.size(), out.data(), out.size()));
    } else {
      uLongf n = compressBound(static_cast<uLong>(text.size())) + 32;
      out.resize(n);
      z_stream z{};
      deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
      z.next_in = reinterpret_cast<Bytef*>(text.data());
      z.avail_in = static_cast<uInt>(text.size());
      z.next_out = reinterpret_cast<Bytef*>(out.data());
      z.avail_out = static_cast<uInt>(out.size());
      deflate(&z, Z_FINISH);
      out.resize(z.total_out);
      deflateEnd(&z);
    }
    benchmark::DoNotOptimize(out.data());
  }
  if (c != nullptr) libdeflate_free_compressor(c);
  state.counters["text_MB"] = static_cast<double>(text.size()) / 1e6;
  state.counters["gzip_MB"] = static_cast<double>(out.size()) / 1e6;
  state.counters["ratio"] = static_cast<double>(text.size()) / static_cast<double>(out.size());
  state.SetLabel(stream ? "igzip, GzipStream in parts" : libdeflate ? "libdeflate" : "zlib");
}
BENCHMARK(BM_Compress)
    ->ArgsProduct({{0, 1}, {1, 2, 3, 4, 5, 6}})
    ->ArgsProduct({{2}, {0, 1, 2, 3}})
    ->ArgNames({"codec", "level"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// What a prometheus-cpp Collectable would do each scrape: build MetricFamily objects (labels
// unescaped into pairs, classic buckets), then the Exposer's TextSerializer writes them.
void BM_PrometheusCpp(benchmark::State& state) {
  Read r(segment_of(static_cast<std::size_t>(state.range(0))).name());
  std::size_t bytes = 0;
  for (auto _ : state) {
    const auto snap = *shm::Snapshot::take(r.segment, r.catalog);
    const auto agg = shm::Aggregation::of(r.catalog, snap);
    std::vector<prometheus::MetricFamily> families;
    std::vector<std::pair<std::string, std::string>> labels;
    std::vector<exposition::ClassicEdge> edges;
    for (const shm::Point& p : agg.points) {
      if (families.empty() || families.back().name != p.family->name) {
        prometheus::MetricFamily f;
        f.name = p.family->name;
        f.help = p.family->help;
        f.type = p.family->type == shm::MetricType::counter ? prometheus::MetricType::Counter
                 : p.family->type == shm::MetricType::gauge ? prometheus::MetricType::Gauge
                                                            : prometheus::MetricType::Histogram;
        families.push_back(std::move(f));
        edges = exposition::classic_edges(p.family->unit, p.family->max_octave);
      }
      prometheus::ClientMetric m;
      (void)shm::parse_canonical_labels(p.series->labels, labels);
      for (auto& [k, v] : labels) m.label.push_back({k, v});
      switch (p.family->type) {
        case shm::MetricType::counter: m.counter.value = static_cast<double>(p.counter); break;
        case shm::MetricType::gauge: m.gauge.value = p.gauge; break;
        case shm::MetricType::histogram: {
          const auto b = agg.buckets_of(p);
          std::uint64_t cumulative = 0;
          std::uint32_t next = 0;
          for (const auto& e : edges) {
            for (; next <= e.last_bucket; ++next) cumulative += b[next];
            m.histogram.bucket.push_back({cumulative, shm::to_base_unit(p.family->unit, e.edge)});
          }
          m.histogram.bucket.push_back({p.count, std::numeric_limits<double>::infinity()});
          m.histogram.sample_count = p.count;
          m.histogram.sample_sum = shm::to_base_unit(p.family->unit, p.sum);
          break;
        }
      }
      families.back().metric.push_back(std::move(m));
    }
    const std::string text = prometheus::TextSerializer().Serialize(families);
    bytes = text.size();
    benchmark::DoNotOptimize(text.data());
  }
  state.counters["body_MB"] = static_cast<double>(bytes) / 1e6;
}
BENCHMARK(BM_PrometheusCpp)->Arg(10'000)->Arg(100'000)->Unit(benchmark::kMillisecond)->UseRealTime();

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// What Prometheus asks a target for: OpenMetrics first, gzipped.
constexpr const char* kPrometheusAccept =
    "Accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\nAccept-Encoding: gzip\r\n";

// GET path on 127.0.0.1:port with civetweb's client, with `headers` (each ending in CRLF) added;
// the status, 0 when it failed.
int http_get(int port, const char* path, std::size_t* body_bytes = nullptr, const char* headers = "") {
  char err[256] = {};
  mg_connection* c = mg_download("127.0.0.1", port, 0, err, sizeof err,
                                 "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sConnection: close\r\n\r\n", path,
                                 headers);
  if (c == nullptr) return 0;
  const int status = mg_get_response_info(c)->status_code;
  std::size_t n = 0;
  char buf[65536];
  for (int got; (got = mg_read(c, buf, sizeof buf)) > 0;) n += static_cast<std::size_t>(got);
  mg_close_connection(c);
  if (body_bytes != nullptr) *body_bytes = n;
  return status;
}

std::uint64_t status_kb(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(key + ":")) return std::strtoull(line.c_str() + key.size() + 1, nullptr, 10);
  }
  return 0;
}

void BM_ExporterFootprint(benchmark::State& state) {
  auto& seg = segment_of(static_cast<std::size_t>(state.range(0)));
  const int scrape_every = static_cast<int>(state.range(1));
  const char* env_seconds = std::getenv("WSM_BENCH_CPU_SECONDS");
  const int seconds = env_seconds != nullptr ? std::atoi(env_seconds) : 60;
  for (auto _ : state) {
    const int port = free_port();
    const std::string exe = std::string(WSM_BIN_DIR) + "/wsm-exporter";
    const std::string listen = "127.0.0.1:" + std::to_string(port);
    std::vector<std::string> args = {exe, "--segment", seg.name(), "--listen", listen, "--interval", "5"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    if (::posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv.data(), environ) != 0) {
      state.SkipWithError("cannot start wsm-exporter");
      return;
    }
    bool up = false;
    for (int i = 0; i < 200 && !up; ++i) {
      up = http_get(port, "/healthz") == 200;
      if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::size_t body = 0;
    for (int i = 0; i < 3; ++i) http_get(port, "/metrics", &body);  // the scrape working set
    const auto start = shm::read_process(pid, false);
    const auto t0 = std::chrono::steady_clock::now();
    for (int s = 1; s <= seconds; ++s) {
      std::this_thread::sleep_until(t0 + std::chrono::seconds(s));
      if (scrape_every > 0 && s % scrape_every == 0) http_get(port, "/metrics");
    }
    const auto end = shm::read_process(pid, false);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.counters["rss_MB"] = static_cast<double>(status_kb(pid, "VmRSS")) / 1024;
    state.counters["rss_anon_MB"] = static_cast<double>(status_kb(pid, "RssAnon")) / 1024;
    state.counters["rss_shmem_MB"] = static_cast<double>(status_kb(pid, "RssShmem")) / 1024;
    state.counters["hwm_MB"] = static_cast<double>(status_kb(pid, "VmHWM")) / 1024;
    state.counters["metrics_MB"] = static_cast<double>(body) / 1e6;
    // Then scraped as Prometheus scrapes (OpenMetrics, gzip: a 13 MB text at 100k series): their
    // own peak (the kernel's high-water mark reset first, "5" to clear_refs) and what stays
    // resident after.
    std::ofstream clear_refs("/proc/" + std::to_string(pid) + "/clear_refs");
    const bool hwm_reset = static_cast<bool>(clear_refs << "5" << std::flush);
    std::size_t gzipped = 0;
    for (int i = 0; i < 3; ++i) http_get(port, "/metrics", &gzipped, kPrometheusAccept);
    // Between scrapes, as the text figures are: the last answer's body is freed once the exporter
    // has seen its write complete, a moment after the client has read it.
    std::this_thread::sleep_for(std::chrono::seconds(1));
    state.counters["prometheus_rss_MB"] = static_cast<double>(status_kb(pid, "VmRSS")) / 1024;
    state.counters["prometheus_rss_anon_MB"] = static_cast<double>(status_kb(pid, "RssAnon")) / 1024;
    state.counters["prometheus_rss_shmem_MB"] = static_cast<double>(status_kb(pid, "RssShmem")) / 1024;
    if (hwm_reset) state.counters["prometheus_hwm_MB"] = static_cast<double>(status_kb(pid, "VmHWM")) / 1024;
    state.counters["prometheus_body_MB"] = static_cast<double>(gzipped) / 1e6;
    if (start && end) {
      state.counters["cpu_pct"] = 100.0 * static_cast<double>(end->cpu_ticks - start->cpu_ticks) /
                                  static_cast<double>(shm::clock_ticks_per_second()) / wall;
    }
    state.counters["ok"] = up ? 1 : 0;
    ::kill(pid, SIGTERM);
    int status = 0;
    ::waitpid(pid, &status, 0);
  }
}
BENCHMARK(BM_ExporterFootprint)
    ->Args({10'000, 0})
    ->Args({100'000, 0})
    ->Args({100'000, 15})
    ->ArgNames({"series", "scrape_every_s"})
    ->Iterations(1)
    ->Repetitions(1)  // each case runs WSM_BENCH_CPU_SECONDS: once is all the budget allows
    ->Unit(benchmark::kSecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();

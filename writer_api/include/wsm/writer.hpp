// wsmetrics writer API: the one header a worker process includes.
//
//   auto reg = wsm::Registry::open("demo");            // creates /dev/shm/wsm.demo if absent
//   auto sent = reg->counter("websocket_messages_sent_total", {{"role", "doctor"}});
//   sent.inc();                                        // ~1 ns: one TLS load, one index, one add
//
// Registration (name + labels -> handle) takes microseconds; do it once and keep the handle.
// Handles are two words, cheap to copy, valid for the life of the process and safe to use from
// any thread: each thread records into cells of its own writer slot (found through a thread-local
// array indexed by series id), so a counter inc is a plain load+add+store with no lock prefix and
// no cache line shared between threads. Recording is noexcept, allocation-free after a thread's
// first use of a series, and never blocks. Gauges are per process (threads share one cell, updated
// atomically). After fork() a child gets writer slots of its own on first use.
//
// Units follow Prometheus naming: *_seconds histograms take std::chrono durations (stored in ns),
// *_bytes and *_percent histograms take integers. WEBSOCKET_MONITORING_ENABLED=false makes every
// handle a no-op sink.
#pragma once

#include <atomic>
#include <bit>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "wsm/shm/error.hpp"
#include "wsm/shm/histogram_scheme.hpp"
#include "wsm/shm/labels.hpp"
#include "wsm/shm/layout.hpp"
#include "wsm/shm/limits.hpp"

namespace wsm {

namespace shm {
class Segment;
}

using shm::GaugeMode;

namespace detail {

struct SegmentState;

// The calling thread's cells for one segment: cells[series id] -> payload, or nullptr if the
// thread has not touched that series yet.
struct ThreadCells {
  const SegmentState* owner = nullptr;
  std::atomic<std::uint64_t>* const* cells = nullptr;
  std::uint32_t size = 0;
};

// Trivially constructed so reading it is a plain TLS load, no guard call.
extern thread_local constinit ThreadCells* tls_cells;

// First use of a series by this thread (or a sink handle): claims a slot, appends a cell.
[[gnu::cold]] std::atomic<std::uint64_t>* cell_slow(const SegmentState* state,
                                                    std::uint32_t series) noexcept;
std::uint64_t monotonic_ns() noexcept;

[[gnu::always_inline]] inline std::atomic<std::uint64_t>* cell(const SegmentState* state,
                                                               std::uint32_t series) noexcept {
  const ThreadCells* t = tls_cells;
  if (t != nullptr && t->owner == state && series < t->size) [[likely]] {
    if (auto* c = t->cells[series]) [[likely]] return c;
  }
  return cell_slow(state, series);
}

// Single-writer add: only this thread writes the cell, so load+store (no lock prefix) is exact.
// Relaxed: readers need no ordering with other cells, and 64-bit aligned stores never tear.
[[gnu::always_inline]] inline void add_own(std::atomic<std::uint64_t>& c, std::uint64_t n) noexcept {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

}  // namespace detail

class Counter {
 public:
  Counter() = default;  // a sink until assigned from a Registry
  void inc(std::uint64_t n = 1) const noexcept { detail::add_own(*detail::cell(state_, id_), n); }

 private:
  friend class Registry;
  Counter(const detail::SegmentState* s, std::uint32_t id) : state_(s), id_(id) {}
  const detail::SegmentState* state_ = nullptr;
  std::uint32_t id_ = 0;
};

class Gauge {
 public:
  Gauge() = default;
  void set(double v) const noexcept {
    auto* c = detail::cell(state_, id_);
    // Relaxed: a level, not a synchronisation point; the stamp orders sets for mode `last`.
    c[0].store(std::bit_cast<std::uint64_t>(v), std::memory_order_relaxed);
    if (stamped_) c[1].store(detail::monotonic_ns(), std::memory_order_relaxed);
  }
  // Threads of a process share the gauge cell, so adds are a CAS loop (uncontended: one CAS).
  void add(double d) const noexcept {
    auto* c = detail::cell(state_, id_);
    std::uint64_t old = c[0].load(std::memory_order_relaxed);
    while (!c[0].compare_exchange_weak(old, std::bit_cast<std::uint64_t>(std::bit_cast<double>(old) + d),
                                       std::memory_order_relaxed)) {
    }
  }
  void sub(double d) const noexcept { add(-d); }
  void inc() const noexcept { add(1); }
  void dec() const noexcept { add(-1); }

 private:
  friend class Registry;
  Gauge(const detail::SegmentState* s, std::uint32_t id, bool stamped)
      : state_(s), id_(id), stamped_(stamped) {}
  const detail::SegmentState* state_ = nullptr;
  std::uint32_t id_ = 0;
  bool stamped_ = false;  // mode `last`: each set carries a CLOCK_MONOTONIC stamp
};

class Histogram {
 public:
  Histogram() = default;
  // An integer in the family's unit: ns for *_seconds, bytes, percent.
  void record(std::uint64_t v) const noexcept {
    auto* c = detail::cell(state_, id_);
    detail::add_own(c[0], v);                           // _sum
    detail::add_own(c[1 + scheme_.index_of(v)], 1);    // one bucket; _count is their sum
  }
  template <class Rep, class Period>
  void record(std::chrono::duration<Rep, Period> d) const noexcept {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
    record(static_cast<std::uint64_t>(ns < 0 ? 0 : ns));
  }

 private:
  friend class Registry;
  Histogram(const detail::SegmentState* s, std::uint32_t id, shm::HistogramScheme scheme)
      : state_(s), id_(id), scheme_(scheme) {}
  const detail::SegmentState* state_ = nullptr;
  std::uint32_t id_ = 0;
  shm::HistogramScheme scheme_{};
};

struct RegistryOptions {
  shm::Limits limits{};  // used only when this process creates the segment
  unsigned mode = 0600;  // file mode of a segment this process creates
  std::string role;      // tag shown for this process's writers (e.g. "worker-1")
  // Default: WEBSOCKET_MONITORING_ENABLED (false/0/off/no disables).
  std::optional<bool> enabled;
};

class Registry {
 public:
  // Opens /dev/shm/wsm.<name>, creating it if absent. Opening the same name twice in a process
  // returns the same segment. A disabled registry (see RegistryOptions::enabled) opens nothing.
  [[nodiscard]] static Result<Registry> open(std::string_view name, const RegistryOptions& options = {});

  // Handles; on a bad name or label, a type clash or a full catalog they return a sink and
  // last_error() says why. The try_ forms return the error instead.
  [[nodiscard]] Counter counter(std::string_view name, Labels labels = {}, std::string_view help = {});
  [[nodiscard]] Gauge gauge(std::string_view name, Labels labels = {}, std::string_view help = {},
                            GaugeMode mode = GaugeMode::sum);
  [[nodiscard]] Histogram histogram(std::string_view name, Labels labels = {}, std::string_view help = {});

  [[nodiscard]] Result<Counter> try_counter(std::string_view name, Labels labels = {},
                                            std::string_view help = {});
  [[nodiscard]] Result<Gauge> try_gauge(std::string_view name, Labels labels = {},
                                        std::string_view help = {}, GaugeMode mode = GaugeMode::sum);
  [[nodiscard]] Result<Histogram> try_histogram(std::string_view name, Labels labels = {},
                                                std::string_view help = {});

  [[nodiscard]] bool enabled() const noexcept { return state_ != nullptr; }
  [[nodiscard]] std::optional<Error> last_error() const;
  // Marks this thread's writer slot alive now (shown as heartbeat age by `wsm inspect`).
  void heartbeat() const noexcept;
  // The segment recorded into (nullptr when disabled), for layers that keep more than series in
  // it, such as the connection table of wsm::ws::Metrics.
  [[nodiscard]] const shm::Segment* segment() const noexcept;

 private:
  explicit Registry(detail::SegmentState* state) : state_(state) {}
  Result<std::uint32_t> series(std::string_view name, shm::MetricType type, Labels labels,
                               std::string_view help, GaugeMode mode, const shm::FamilyEntry*& entry);
  detail::SegmentState* state_ = nullptr;  // lives until the process exits
};

}  // namespace wsm

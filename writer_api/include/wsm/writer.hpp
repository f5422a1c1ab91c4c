// wsmetrics writer API: the one header a worker process includes.
//
//   auto reg = wsm::Registry::open("demo");            // creates /dev/shm/wsm.demo if absent
//   auto sent = reg->counter("websocket_messages_sent_total", {{"role", "doctor"}});
//   sent.inc();                                        // ~1 ns: one TLS load, one index, one add
//
// Registration (name + labels -> handle) takes microseconds; do it once and keep the handle.
// Handles are two words, cheap to copy, valid for the life of the process and safe to use from
// any thread: each thread records into cells of its own writer slot (found through a thread-local
// table indexed by series id), so a counter inc is a plain load+add+store with no lock prefix and
// no cache line shared between threads. For one thread's hot loop, `auto c = counter.local();`
// binds the handle to that thread's cell and skips even the table lookup. Recording is noexcept, allocation-free after a thread's
// first use of a series, and never blocks. Gauges are per process (threads share one cell, updated
// atomically). After fork() a child gets writer slots of its own on first use.
//
// Units follow Prometheus naming: *_seconds histograms take std::chrono durations (stored in ns),
// *_bytes and *_percent histograms take integers. WEBSOCKET_MONITORING_ENABLED=false makes every
// handle a no-op sink: the calls still run (about 0.7 ns each) but write a process-local sink.
//
// Compiling monitoring out: with WSM_COMPILED_OUT defined (link the CMake target
// wsm::writer_compiled_out instead of wsm::writer: the library and everything that links it are
// compiled with it) every record call below, and every call of wsm::ws::Metrics, is an empty
// inline body: no handle lookup, no clock read, no segment write, nothing left after inlining.
// Registration still runs (Registry::open, counter(), Metrics' constructor) since it is start-up
// work, not per event; the segment then holds the registered series, all zero and without cells.
// Define it for every translation unit of a program, never for some: the record functions are
// inline, and two bodies of one in a program would be an ODR violation.
#pragma once

#include <atomic>
#include <bit>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "wsm/exemplar.hpp"
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

// False under WSM_COMPILED_OUT: the one switch every record call tests (if constexpr), so a
// compiled-out build keeps the same API, types and registration code and loses only the records.
#ifdef WSM_COMPILED_OUT
inline constexpr bool kRecording = false;
#else
inline constexpr bool kRecording = true;
#endif

namespace detail {

inline constexpr std::uint32_t kMaxSegments = 8;           // segments one process may open
inline constexpr std::uint32_t kSinkSegment = kMaxSegments;  // default and disabled handles

using CellTable = std::atomic<std::uint64_t>* const*;

// tls_tables[k]: the calling thread's cells in the process's k-th segment, indexed by series id and
// sized to the segment's max_series; null until the thread first records there. The entry at
// kSinkSegment becomes a one-entry table (series 0 -> the thread's sink) at the thread's first sink
// record, so sink handles take the inline path too. Trivially constructed, so
// reading it is one %fs-relative load with no TLS guard call.
extern thread_local constinit CellTable tls_tables[kMaxSegments + 1];
// Bumped in the child of every fork(): local handles bound before it must not write the parent's cells.
extern constinit std::atomic<std::uint32_t> fork_epoch;

// A thread's first record of a series (or any record of a sink handle): claims this thread's
// writer slot, appends a cell, caches it in tls_tables.
[[gnu::cold]] std::atomic<std::uint64_t>* cell_slow(std::uint32_t segment, std::uint32_t series) noexcept;
std::uint64_t monotonic_ns() noexcept;
// The exemplar half of a record with one, out of line so that a record without one compiles to
// what it always did: writes the calling thread's exemplar cell of the series (appended on its
// first exemplar there). `value` is the recorded integer, or a counter's increment.
void record_exemplar(std::uint32_t segment, std::uint32_t series, std::uint64_t value,
                     const Exemplar& exemplar) noexcept;

[[gnu::always_inline]] inline std::atomic<std::uint64_t>* cell(std::uint32_t segment,
                                                               std::uint32_t series) noexcept {
  if (const CellTable table = tls_tables[segment]) [[likely]] {
    if (auto* c = table[series]) [[likely]] return c;
  }
  return cell_slow(segment, series);
}

// Single-writer add: only this thread writes the cell, so load+store (no lock prefix) is exact.
// Relaxed: readers need no ordering with other cells, and 64-bit aligned stores never tear.
[[gnu::always_inline]] inline void add_own(std::atomic<std::uint64_t>& c, std::uint64_t n) noexcept {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

[[nodiscard]] inline bool same_process_as(std::uint32_t epoch) noexcept {
  // Relaxed: only the forking thread, in the child, ever changes it.
  return epoch == fork_epoch.load(std::memory_order_relaxed);
}

struct Binder;

}  // namespace detail

class LocalCounter;
class LocalHistogram;

class Counter {
 public:
  Counter() = default;  // a sink until assigned from a Registry
  // Always inlined, like Histogram::record: out of line, the call and its frame cost as much as
  // the add (the demo server measured ~15 instructions a call).
  [[gnu::always_inline]] void inc(std::uint64_t n = 1) const noexcept {
    if constexpr (kRecording) detail::add_own(*detail::cell(segment_, id_), n);
  }
  // The same, keeping `exemplar` (with n) as this thread's latest exemplar of the series.
  void inc(std::uint64_t n, const Exemplar& exemplar) const noexcept {
    if constexpr (!kRecording) return;
    inc(n);
    detail::record_exemplar(segment_, id_, n, exemplar);
  }
  // This handle bound to the calling thread's cell, for the hot loop of one thread.
  [[nodiscard]] LocalCounter local() const noexcept;

 private:
  friend class Registry;
  friend struct detail::Binder;
  Counter(std::uint32_t segment, std::uint32_t id) : segment_(segment), id_(id) {}
  std::uint32_t segment_ = detail::kSinkSegment;
  std::uint32_t id_ = 0;
};

// A Counter bound to one thread's cell: inc() is a single load+add+store (as cheap as a plain
// `++` on a private line). Use it only on the thread that called local(), e.g. an event loop's own
// counters. In the child of a fork() it falls back to the Counter it came from.
class LocalCounter {
 public:
  void inc(std::uint64_t n = 1) const noexcept {
    if constexpr (!kRecording) return;  // cell_ is null: local() looked nothing up
    if (detail::same_process_as(epoch_)) [[likely]] {
      detail::add_own(*cell_, n);
    } else {
      origin_.inc(n);
    }
  }

 private:
  friend class Counter;
  LocalCounter(std::atomic<std::uint64_t>* cell, std::uint32_t epoch, Counter origin)
      : cell_(cell), epoch_(epoch), origin_(origin) {}
  std::atomic<std::uint64_t>* cell_;
  std::uint32_t epoch_;
  Counter origin_;
};

inline LocalCounter Counter::local() const noexcept {
  if constexpr (!kRecording) return LocalCounter(nullptr, 0, *this);
  const std::uint32_t epoch = detail::fork_epoch.load(std::memory_order_relaxed);
  return LocalCounter(detail::cell(segment_, id_), epoch, *this);
}

class Gauge {
 public:
  Gauge() = default;
  void set(double v) const noexcept {
    if constexpr (!kRecording) return;
    auto* c = detail::cell(segment_, id_);
    // Relaxed: a level, not a synchronisation point; the stamp orders sets for mode `last`.
    c[0].store(std::bit_cast<std::uint64_t>(v), std::memory_order_relaxed);
    if (stamped_) c[1].store(detail::monotonic_ns(), std::memory_order_relaxed);
  }
  // Threads of a process share the gauge cell, so adds are a CAS loop (uncontended: one CAS).
  void add(double d) const noexcept {  // sub, inc and dec come here
    if constexpr (!kRecording) return;
    auto* c = detail::cell(segment_, id_);
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
  Gauge(std::uint32_t segment, std::uint32_t id, bool stamped)
      : segment_(segment), id_(id), stamped_(stamped) {}
  std::uint32_t segment_ = detail::kSinkSegment;
  std::uint32_t id_ = 0;
  bool stamped_ = false;  // mode `last`: each set carries a CLOCK_MONOTONIC stamp
};

namespace detail {
// The histogram record: _sum, then one bucket (_count is the sum of the buckets).
[[gnu::always_inline]] inline void record_into(std::atomic<std::uint64_t>* c,
                                               const shm::HistogramScheme& scheme,
                                               std::uint64_t v) noexcept {
  add_own(c[0], v);
  add_own(c[scheme.word_of(v)], 1);
}
[[nodiscard, gnu::always_inline]] inline std::uint64_t to_ns(auto d) noexcept {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  return static_cast<std::uint64_t>(ns < 0 ? 0 : ns);
}
}  // namespace detail

class Histogram {
 public:
  Histogram() = default;
  // An integer in the family's unit: ns for *_seconds, bytes, percent. Always inlined: the
  // compiler left it out of line at most call sites of wsm::ws::Metrics, where the call, its frame
  // and reloading the handle were a third of its ~40 instructions.
  [[gnu::always_inline]] void record(std::uint64_t v) const noexcept {  // the duration form comes here
    if constexpr (kRecording) detail::record_into(detail::cell(segment_, id_), scheme_, v);
  }
  template <class Rep, class Period>
  [[gnu::always_inline]] void record(std::chrono::duration<Rep, Period> d) const noexcept {
    record(detail::to_ns(d));
  }
  // The same, keeping `exemplar` (with v) as this thread's latest exemplar of the series.
  void record(std::uint64_t v, const Exemplar& exemplar) const noexcept {
    if constexpr (!kRecording) return;
    record(v);
    detail::record_exemplar(segment_, id_, v, exemplar);
  }
  template <class Rep, class Period>
  void record(std::chrono::duration<Rep, Period> d, const Exemplar& exemplar) const noexcept {
    record(detail::to_ns(d), exemplar);
  }
  // This handle bound to the calling thread's cell (see LocalCounter).
  [[nodiscard]] LocalHistogram local() const noexcept;

 private:
  friend class Registry;
  friend class LocalHistogram;
  friend struct detail::Binder;
  Histogram(std::uint32_t segment, std::uint32_t id, shm::HistogramScheme scheme)
      : segment_(segment), id_(id), scheme_(scheme) {}
  std::uint32_t segment_ = detail::kSinkSegment;
  std::uint32_t id_ = 0;
  shm::HistogramScheme scheme_{};
};

class LocalHistogram {
 public:
  void record(std::uint64_t v) const noexcept {
    if constexpr (!kRecording) return;  // cell_ is null: local() looked nothing up
    if (detail::same_process_as(epoch_)) [[likely]] {
      detail::record_into(cell_, origin_.scheme_, v);
    } else {
      origin_.record(v);
    }
  }
  template <class Rep, class Period>
  void record(std::chrono::duration<Rep, Period> d) const noexcept {
    record(detail::to_ns(d));
  }

 private:
  friend class Histogram;
  LocalHistogram(std::atomic<std::uint64_t>* cell, std::uint32_t epoch, Histogram origin)
      : cell_(cell), epoch_(epoch), origin_(origin) {}
  std::atomic<std::uint64_t>* cell_;
  std::uint32_t epoch_;
  Histogram origin_;
};

inline LocalHistogram Histogram::local() const noexcept {
  if constexpr (!kRecording) return LocalHistogram(nullptr, 0, *this);
  const std::uint32_t epoch = detail::fork_epoch.load(std::memory_order_relaxed);
  return LocalHistogram(detail::cell(segment_, id_), epoch, *this);
}

namespace detail {
// What local() binds (the calling thread's cell of a handle's series, and a histogram's scheme),
// for layers that keep whole tables of bound cells: wsm::ws::LocalMetrics. The same rules as
// local(): the cell is the calling thread's, and the process's until the next fork().
struct Binder {
  [[nodiscard]] static std::atomic<std::uint64_t>* cell_of(const Counter& c) noexcept {
    return cell(c.segment_, c.id_);
  }
  [[nodiscard]] static std::atomic<std::uint64_t>* cell_of(const Histogram& h) noexcept {
    return cell(h.segment_, h.id_);
  }
  [[nodiscard]] static shm::HistogramScheme scheme_of(const Histogram& h) noexcept { return h.scheme_; }
};
}  // namespace detail

namespace detail {
struct SegmentState;
struct SeriesKey;
}

struct RegistryOptions {
  shm::Limits limits{};  // used only when this process creates the segment
  unsigned mode = 0600;  // file mode of a segment this process creates
  // Group (name or number) given to a segment this process creates, so that an exporter running
  // as another user of the group can read it; the mode 0600 then widens to 0640 (0660 lets that
  // exporter also fold dead writers). Default: WSM_SEGMENT_GROUP, else none.
  std::string group{};
  // A segment this process opens must be owned by its own user (effective uid): anyone can create
  // /dev/shm/wsm.<name> first, and the file's owner could then read this process's counts or
  // truncate the file under it (SIGBUS on the next record). Naming a group (name or number) here
  // also trusts a segment whose file belongs to that group, e.g. one created by a worker of
  // another user with RegistryOptions::group set to it. Default: WSM_TRUSTED_GROUP, else none.
  std::string trusted_group{};
  std::string role{};    // tag shown for this process's writers (e.g. "worker-1")
  // Default: WEBSOCKET_MONITORING_ENABLED (false/0/off/no disables).
  std::optional<bool> enabled{};
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
  // The same with a label set built at run time (bindings, configuration): a span of pairs of
  // views, read only during the call.
  [[nodiscard]] Result<Counter> try_counter(std::string_view name, std::span<const Label> labels,
                                            std::string_view help = {});
  [[nodiscard]] Result<Gauge> try_gauge(std::string_view name, std::span<const Label> labels,
                                        std::string_view help = {}, GaugeMode mode = GaugeMode::sum);
  [[nodiscard]] Result<Histogram> try_histogram(std::string_view name, std::span<const Label> labels,
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
  // The series id of (name, type, labels): from the process's index when registered before, else
  // registered in the catalog (register_series) and indexed.
  Result<std::uint32_t> series(std::string_view name, shm::MetricType type, std::span<const Label> labels,
                               std::string_view help, GaugeMode mode, const shm::FamilyEntry*& entry);
  // holds_key: the entry holds exactly this key, so the index may point to it (false for the
  // family's overflow series, which the catalog answers with at the family's cap).
  Result<std::uint32_t> register_series(const detail::SeriesKey& key, std::string_view help,
                                        GaugeMode mode, const shm::FamilyEntry*& entry, bool& holds_key);
  detail::SegmentState* state_ = nullptr;  // lives until the process exits
};

}  // namespace wsm

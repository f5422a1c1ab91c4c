// The slow half of the record path: a thread's first touch of a series, sinks, fork and exit.
#include <array>
#include <cstdlib>
#include <memory>
#include <pthread.h>
#include <unistd.h>

#include "segment_state.hpp"
#include "wsm/shm/exemplar_cell.hpp"
#include "wsm/shm/proc_stats.hpp"
#include "wsm/shm/process_lease.hpp"
#include "wsm/writer.hpp"

namespace wsm::detail {

thread_local constinit CellTable tls_tables[kMaxSegments + 1] = {};
constinit std::atomic<std::uint32_t> fork_epoch{0};

namespace {

// Where a sink handle, or one that found no room, records: private to the thread, never read.
// Large enough for the widest histogram cell.
constexpr std::size_t kSinkWords =
    shm::histogram_words(shm::HistogramScheme{shm::kMaxOctaveLimit}.bucket_count());
thread_local std::array<std::atomic<std::uint64_t>, kSinkWords> tls_sink{};
// Where a thread's exemplars of a series go when its arena had no room for their cell: marks the
// series so later exemplars neither retry the append nor count another drop. Never read.
thread_local std::array<std::atomic<std::uint64_t>, shm::kExemplarWords> tls_exemplar_sink{};

std::array<std::atomic<SegmentState*>, kMaxSegments> g_segments{};

struct FreeDeleter {
  void operator()(void* p) const noexcept { std::free(p); }
};

// A thread's writer slot in one segment and its cell table (max_series pointers, from calloc so
// the pages of series the thread never touches are never touched).
struct ThreadWriter {
  std::uint32_t index = 0;
  pid_t pid = 0;
  std::optional<shm::WriterArena> arena;  // empty: no slot was free; every cell is the sink
  std::unique_ptr<std::atomic<std::uint64_t>*[], FreeDeleter> table;
  // The thread's exemplar cells by series id, like `table`; allocated at its first exemplar, so a
  // thread that never records one pays nothing for them.
  std::unique_ptr<std::atomic<std::uint64_t>*[], FreeDeleter> exemplars;

  ~ThreadWriter() {
    if (tls_tables[index] == table.get()) tls_tables[index] = nullptr;
    // A forked child inherits this object but not the slot: only the claiming process detaches.
    if (arena && pid == ::getpid()) arena->detach();
  }
};

thread_local std::array<std::unique_ptr<ThreadWriter>, kMaxSegments> tls_writers;

ThreadWriter* writer_for(SegmentState& state) {
  auto& slot = tls_writers[state.index];
  if (slot) return slot.get();
  auto w = std::make_unique<ThreadWriter>();
  w->index = state.index;
  w->pid = ::getpid();
  w->table.reset(static_cast<std::atomic<std::uint64_t>**>(
      std::calloc(state.segment.max_series(), sizeof(std::atomic<std::uint64_t>*))));
  if (!w->table) return nullptr;
  auto claimed = shm::WriterArena::claim(state.segment, static_cast<std::uint32_t>(::gettid()),
                                         state.role);
  if (claimed) {
    w->arena.emplace(*claimed);
  } else {
    std::lock_guard lock(process_mutex());
    state.last_error = claimed.error();
  }
  slot = std::move(w);
  return slot.get();
}

// In the child of fork(): the inherited slots are the parent's. Drop them (the destructors see the
// pid differs and leave the slots alone) and start over on first use.
void forget_parent_writers() {
  for (auto& t : tls_tables) t = nullptr;
  for (auto& w : tls_writers) w.reset();
  fork_epoch.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

namespace {

// Both mutexes of the process, held across fork() so a child never inherits one locked. Taken in
// this order (registration, then process) wherever both are held, the fork handler included.
struct ProcessMutexes {
  std::mutex registration;
  std::mutex process;
};

ProcessMutexes& process_mutexes() {
  static auto* m = new ProcessMutexes;  // never destroyed: threads may record during exit
  // Installed with the mutexes, before anything can hold them, so every fork() sees the handlers.
  static const bool fork_handlers = [] {
    ::pthread_atfork(
        [] {
          m->registration.lock();
          m->process.lock();
        },
        [] {
          m->process.unlock();
          m->registration.unlock();
        },
        [] {
          m->process.unlock();
          m->registration.unlock();
          forget_parent_writers();
        });
    return true;
  }();
  (void)fork_handlers;
  return *m;
}

}  // namespace

std::mutex& process_mutex() { return process_mutexes().process; }
std::mutex& registration_mutex() { return process_mutexes().registration; }

SegmentState* segment_at(std::uint32_t index) noexcept {
  // Acquire: pairs with publish_segment's release; the state is fully built when seen.
  return index < kMaxSegments ? g_segments[index].load(std::memory_order_acquire) : nullptr;
}

void publish_segment(std::uint32_t index, SegmentState* state) noexcept {
  g_segments[index].store(state, std::memory_order_release);
}

std::uint64_t monotonic_ns() noexcept { return shm::monotonic_ns(); }

std::atomic<std::uint64_t>* gauge_cell(SegmentState& state, std::uint32_t series) {
  const pid_t pid = ::getpid();
  if (state.gauge_pid != pid) {  // first gauge of this process (or of a forked child)
    state.gauge_pid = pid;
    state.gauge_cells.clear();
    state.gauge_arena.reset();
    auto claimed = shm::WriterArena::claim(state.segment, 0, state.role);
    if (!claimed) {
      state.last_error = claimed.error();
      return nullptr;
    }
    state.gauge_arena.emplace(*claimed);
  }
  if (!state.gauge_arena) return nullptr;
  if (series >= state.gauge_cells.size()) state.gauge_cells.resize(series + 1, nullptr);
  auto*& cell = state.gauge_cells[series];
  if (cell == nullptr) cell = state.gauge_arena->append(series, shm::MetricType::gauge, shm::kGaugeWords);
  return cell;
}

namespace {

// What this process publishes for readers that cannot see its /proc (a sidecar exporter).
shm::PublishedFigures own_figures(std::uint64_t now_ns) {
  shm::PublishedFigures f;
  if (const auto stat = shm::read_own_process(true)) {
    f.cpu_ns = stat->cpu_ticks * (1'000'000'000ull / static_cast<std::uint64_t>(shm::clock_ticks_per_second()));
    f.rss_bytes = stat->rss_bytes;
    f.virtual_bytes = stat->virtual_bytes;
    if (stat->fds) {
      f.fd_sockets = stat->fds->socket;
      f.fd_pipes = stat->fds->pipe;
      f.fd_files = stat->fds->file;
      f.fd_other = stat->fds->other;
    }
    f.threads = stat->threads;
    f.sampled_ns = now_ns;
  }
  return f;
}

// exit(): the process's slots still ACTIVE (the gauge slot, threads that have not ended) become
// EXITED, so a normal exit leaves nothing that looks like a crash. Registered once per process; a
// forked child inherits it and marks its own slots (its own lease), never its parent's.
void mark_slots_exited() {
  for (std::uint32_t i = 0; i < kMaxSegments; ++i) {
    SegmentState* state = segment_at(i);
    if (state == nullptr) continue;
    if (const shm::ProcessLease* lease = state->segment.lease()) {
      shm::WriterArena::mark_exited(state->segment, lease->owner());
    }
  }
}

// Publishes the process's figures when the last ones are kFiguresEvery old (at once on the first
// call: figures_ns starts at 0). Reading /proc/self costs tens of microseconds, and a server calls
// heartbeat() from its event loop, often far more often than once a second. Caller holds the
// process mutex.
void publish_figures_when_due(SegmentState& state, const shm::ProcessLease& lease) {
  const std::uint64_t now = shm::monotonic_ns();
  if (state.figures_ns != 0 && now - state.figures_ns < kFiguresEvery) return;
  state.figures_ns = now;
  lease.publish(own_figures(now));
}

}  // namespace

void attach_process(SegmentState& state) {
  static const bool registered = std::atexit(mark_slots_exited) == 0;
  (void)registered;
  if (auto owner = state.segment.owner(state.role); !owner) state.last_error = owner.error();
  if (const shm::ProcessLease* lease = state.segment.lease()) publish_figures_when_due(state, *lease);
}

void heartbeat(SegmentState& state) noexcept {
  // This thread's slot, found through its own thread-local writer: reading the tid of every slot
  // instead would race with other threads of the process claiming theirs.
  if (const auto& w = tls_writers[state.index]; w && w->arena && w->pid == ::getpid()) {
    w->arena->heartbeat();
  }
  try {
    std::lock_guard lock(process_mutex());
    if (state.gauge_pid == ::getpid() && state.gauge_arena) state.gauge_arena->heartbeat();
    if (const shm::ProcessLease* lease = state.segment.lease()) {
      lease->heartbeat();
      publish_figures_when_due(state, *lease);
    }
  } catch (...) {  // a broken mutex or a failed allocation: skip the beat, never throw
  }
}

std::atomic<std::uint64_t>* cell_slow(std::uint32_t segment, std::uint32_t series) noexcept {
  if (segment == kSinkSegment && series == 0) {
    // Every sink handle (default, disabled registry, failed registration) is series 0 of
    // kSinkSegment: a one-entry table sends its later records down the inline path, so
    // WEBSOCKET_MONITORING_ENABLED=false costs a TLS load and a store, not a call.
    thread_local std::atomic<std::uint64_t>* sink_table[1] = {nullptr};
    sink_table[0] = tls_sink.data();
    tls_tables[kSinkSegment] = sink_table;
    return sink_table[0];
  }
  SegmentState* state = segment_at(segment);
  if (state == nullptr || series >= state->segment.max_series()) {
    return tls_sink.data();  // disabled registry or default handle
  }
  try {
    ThreadWriter* w = writer_for(*state);
    if (w == nullptr) return tls_sink.data();
    std::atomic<std::uint64_t>* cell = w->table[series];
    if (cell == nullptr) {
      const SeriesShape shape = state->shapes.at(series);
      if (shape.words != 0 && shape.kind == shm::MetricType::gauge) {
        std::lock_guard lock(process_mutex());
        cell = gauge_cell(*state, series);
      }
      if (shape.words == 0) return tls_sink.data();  // not registered by this process
      if (shape.kind != shm::MetricType::gauge && w->arena) {
        cell = w->arena->append(series, shape.kind, shape.words);
        w->arena->heartbeat();
      }
      if (cell == nullptr) cell = tls_sink.data();  // no slot or no room: counted as dropped
      w->table[series] = cell;
    }
    tls_tables[segment] = w->table.get();
    return cell;
  } catch (...) {  // allocation failure: record nowhere rather than throw into the caller
    return tls_sink.data();
  }
}

namespace {

// A thread's first exemplar of a series: appends its exemplar cell (or marks the series with the
// exemplar sink). nullptr for a sink handle, a series this process did not register or a gauge.
std::atomic<std::uint64_t>* exemplar_cell_slow(std::uint32_t segment, std::uint32_t series) noexcept {
  SegmentState* state = segment_at(segment);
  ThreadWriter* w = segment < kMaxSegments ? tls_writers[segment].get() : nullptr;
  if (state == nullptr || w == nullptr || !w->arena || series >= state->segment.max_series()) return nullptr;
  const SeriesShape shape = state->shapes.at(series);
  if (shape.words == 0 || shape.kind == shm::MetricType::gauge) return nullptr;
  if (!w->exemplars) {
    w->exemplars.reset(static_cast<std::atomic<std::uint64_t>**>(
        std::calloc(state->segment.max_series(), sizeof(std::atomic<std::uint64_t>*))));
    if (!w->exemplars) return nullptr;
  }
  auto* cell = w->arena->append(series, shm::CellKind::exemplar, shm::kExemplarWords);
  if (cell == nullptr) cell = tls_exemplar_sink.data();  // no room: counted as dropped, once
  w->exemplars[series] = cell;
  return cell;
}

}  // namespace

void record_exemplar(std::uint32_t segment, std::uint32_t series, std::uint64_t value,
                     const Exemplar& exemplar) noexcept {
  // The record before this one found (or made) the thread's writer, so its table lookup is all a
  // later exemplar of the series costs besides the clock and the six stores.
  const ThreadWriter* w = segment < kMaxSegments ? tls_writers[segment].get() : nullptr;
  std::atomic<std::uint64_t>* cell = w != nullptr && w->exemplars ? w->exemplars[series] : nullptr;
  if (cell == nullptr && (cell = exemplar_cell_slow(segment, series)) == nullptr) return;
  shm::ExemplarCell::at(cell).write({exemplar.trace_id, exemplar.span_id, value, shm::unix_ns()});
}

}  // namespace wsm::detail

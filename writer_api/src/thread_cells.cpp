// The slow half of the record path: a thread's first touch of a series, sinks, fork and exit.
#include <array>
#include <memory>
#include <pthread.h>
#include <unistd.h>

#include "segment_state.hpp"
#include "wsm/writer.hpp"

namespace wsm::detail {

thread_local constinit ThreadCells* tls_cells = nullptr;

namespace {

// Where a sink handle, or one that found no room, records: private to the thread, never read.
// Large enough for the widest histogram cell (max_octave 63).
constexpr std::size_t kSinkWords = shm::histogram_words(shm::HistogramScheme{63}.bucket_count());
thread_local std::array<std::atomic<std::uint64_t>, kSinkWords> tls_sink{};

// A thread's writer slot in one segment and its cells by series id.
struct ThreadWriter {
  SegmentState* state;
  pid_t pid;
  std::optional<shm::WriterArena> arena;  // empty: no slot was free; every cell is the sink
  std::vector<std::atomic<std::uint64_t>*> cells;
  ThreadCells fast;

  ~ThreadWriter() {
    if (tls_cells == &fast) tls_cells = nullptr;
    // A forked child inherits this object but not the slot: only the claiming process detaches.
    if (arena && pid == ::getpid()) arena->detach();
  }
};

thread_local std::vector<std::unique_ptr<ThreadWriter>> tls_writers;

ThreadWriter& writer_for(SegmentState* state) {
  for (auto& w : tls_writers) {
    if (w->state == state) return *w;
  }
  auto w = std::make_unique<ThreadWriter>();
  w->state = state;
  w->pid = ::getpid();
  auto claimed = shm::WriterArena::claim(state->segment, static_cast<std::uint32_t>(::gettid()),
                                         state->role);
  if (claimed) {
    w->arena.emplace(*claimed);
  } else {
    std::lock_guard lock(process_mutex());
    state->last_error = claimed.error();
  }
  w->fast.owner = state;
  tls_writers.push_back(std::move(w));
  return *tls_writers.back();
}

void forget_parent_writers() {
  // In the child of fork(): the inherited slots are the parent's. Drop them (the destructors see
  // the pid differs and leave the slots alone) and start over on first use.
  tls_cells = nullptr;
  tls_writers.clear();
}

}  // namespace

std::mutex& process_mutex() {
  static auto* mutex = new std::mutex;  // never destroyed: threads may record during exit
  // Installed with the mutex, before anything can hold it, so every fork() sees the handlers.
  static const bool fork_handlers = [] {
    ::pthread_atfork([] { mutex->lock(); }, [] { mutex->unlock(); },
                     [] {
                       mutex->unlock();
                       forget_parent_writers();
                     });
    return true;
  }();
  (void)fork_handlers;
  return *mutex;
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

std::atomic<std::uint64_t>* cell_slow(const SegmentState* const_state, std::uint32_t series) noexcept {
  if (const_state == nullptr) return tls_sink.data();  // disabled registry or default handle
  auto* state = const_cast<SegmentState*>(const_state);
  try {
    ThreadWriter& w = writer_for(state);
    std::atomic<std::uint64_t>* cell = nullptr;
    if (series >= w.cells.size() || w.cells[series] == nullptr) {
      SeriesShape shape;
      {
        std::lock_guard lock(process_mutex());
        if (series < state->shapes.size()) shape = state->shapes[series];
        if (shape.words != 0 && shape.kind == shm::MetricType::gauge) cell = gauge_cell(*state, series);
      }
      if (shape.words == 0) return tls_sink.data();  // not registered by this process
      if (shape.kind != shm::MetricType::gauge && w.arena) {
        cell = w.arena->append(series, shape.kind, shape.words);
        w.arena->heartbeat();
      }
      if (cell == nullptr) cell = tls_sink.data();  // no slot or no room: counted as dropped
      if (series >= w.cells.size()) w.cells.resize(series + 1, nullptr);
      w.cells[series] = cell;
      w.fast.cells = w.cells.data();
      w.fast.size = static_cast<std::uint32_t>(w.cells.size());
    }
    tls_cells = &w.fast;
    return w.cells[series];
  } catch (...) {  // allocation failure: record nowhere rather than throw into the caller
    return tls_sink.data();
  }
}

}  // namespace wsm::detail

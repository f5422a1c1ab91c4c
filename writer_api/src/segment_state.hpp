// Process-local state of one opened segment, shared by every Registry and handle of the process.
// Created once per segment name and never destroyed: handles may be used until the process exits.
#pragma once

#include <atomic>
#include <mutex>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

#include "wsm/shm/catalog.hpp"
#include "wsm/shm/error.hpp"
#include "wsm/shm/segment.hpp"
#include "wsm/shm/writer_arena.hpp"

namespace wsm::detail {

// What a thread needs to append a cell for a series id.
struct SeriesShape {
  shm::MetricType kind{};
  std::uint32_t words = 0;  // 0: unknown to this process
};

struct SegmentState {
  SegmentState(shm::Segment s, std::string r, std::uint32_t i)
      : segment(std::move(s)), catalog(segment), role(std::move(r)), index(i) {}

  shm::Segment segment;
  shm::Catalog catalog;
  std::string role;
  std::uint32_t index;  // into tls_tables (handles carry it)

  // Guarded by process_mutex(): shapes of registered series, the process's gauge slot.
  std::vector<SeriesShape> shapes;
  pid_t gauge_pid = 0;  // the process that claimed gauge_arena (a forked child claims anew)
  std::optional<shm::WriterArena> gauge_arena;
  std::vector<std::atomic<std::uint64_t>*> gauge_cells;
  std::optional<Error> last_error;
  std::uint64_t figures_ns = 0;  // when this process last published its resource figures
};

// The opened segment with this index, or nullptr (set once by Registry::open, read lock-free).
SegmentState* segment_at(std::uint32_t index) noexcept;
// Makes a newly opened segment reachable by its index (under the process mutex, once).
void publish_segment(std::uint32_t index, SegmentState* state) noexcept;

// One mutex for every cold-path structure of the process; held across fork() (pthread_atfork) so
// a child never inherits it locked.
std::mutex& process_mutex();

// Stamps the calling thread's writer slot, the process's gauge slot and its process record with the
// time now, and publishes the process's resource figures at most once a second (kFiguresEvery).
void heartbeat(SegmentState& state) noexcept;
inline constexpr std::uint64_t kFiguresEvery = 1'000'000'000;  // ns

// Called once per opened segment: claims the process record now (so the process shows at once) and
// arranges that exit() marks the process's slots EXITED.
void attach_process(SegmentState& state);

// The shared gauge cell of a series for this process, allocated on first use (caller holds the
// process mutex); nullptr when no slot or no arena room is left.
std::atomic<std::uint64_t>* gauge_cell(SegmentState& state, std::uint32_t series);

}  // namespace wsm::detail

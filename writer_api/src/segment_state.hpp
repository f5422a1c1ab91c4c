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
#include "series_index.hpp"
#include "series_key.hpp"
#include "series_shapes.hpp"

namespace wsm::detail {

// A family this process registered a series of: its id, found by name and type.
struct FamilyMemo {
  std::string name;
  shm::MetricType type = shm::MetricType::counter;
  std::optional<std::uint32_t> id;
};

struct SegmentState {
  SegmentState(shm::Segment s, std::string r, std::uint32_t i)
      : segment(std::move(s)), catalog(segment), role(std::move(r)), index(i),
        shapes(segment.max_series()) {}

  shm::Segment segment;
  shm::Catalog catalog;
  std::string role;
  std::uint32_t index;  // into tls_tables (handles carry it)

  SeriesShapes shapes;  // of the series this process registered (lock-free, see its header)
  // Key -> id of the series this process registered: found without a lock; inserted under
  // registration_mutex(), which also keeps this process's threads from registering one key twice.
  SeriesIndex series_index;
  KeyHash key_hash = index_hash;  // the index's hash; tests force collisions through it
  FamilyMemo last_family;  // GUARDED_BY(registration_mutex()): of the latest new series

  // Guarded by process_mutex(): the process's gauge slot.
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
// Serialises this process's registrations of new series (and SeriesIndex inserts), so its threads
// never race each other for one key in the catalog. Held across fork() like process_mutex(), and
// taken before it when both are held.
std::mutex& registration_mutex();

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

// The writer's side of a slot: claim a FREE slot, append cells to its arena, detach on exit.
//
// A slot's arena has exactly one appender (its thread; for a process's gauge slot, whoever holds
// that process's lock), so appending is plain: write the cell header and zeroed payload, then
// publish them with a release store of cells_bytes. A reader acquire-loads cells_bytes and may read
// every cell below it. Payload words are then updated with relaxed load+store by their owner.
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

#include "wsm/shm/error.hpp"
#include "wsm/shm/segment.hpp"

namespace wsm::shm {

class WriterArena {
 public:
  // Claims a FREE slot for this process (tid 0: the process's shared gauge cells), owned by the
  // process's record (Segment::owner(role)). When none is free, folds dead writers if the reap lock
  // is free this instant, else a thread takes over a finished thread's slot with its cells as they
  // are; with neither, it follows another reaper only while that one makes progress (not one
  // stopped for 5 ms). Fails with Errc::full when every slot belongs to a running thread.
  [[nodiscard]] static Result<WriterArena> claim(const Segment& segment, std::uint32_t tid,
                                                 std::string_view role);

  // Appends a zeroed cell of `words` payload words for series_id; nullptr (and a drop counted in
  // the header) when the arena is full.
  [[nodiscard]] std::atomic<std::uint64_t>* append(std::uint32_t series_id, CellKind kind,
                                                   std::uint32_t words) noexcept;
  [[nodiscard]] std::atomic<std::uint64_t>* append(std::uint32_t series_id, MetricType type,
                                                   std::uint32_t words) noexcept {
    return append(series_id, cell_kind(type), words);
  }
  // The owner is done (thread exit): a reaper folds the slot's counters and frees it.
  void detach() noexcept;
  // The calling process is exiting: its slots still ACTIVE become EXITED, so a normal exit leaves no
  // slot that looks like a crash; a reaper folds them once the process is gone.
  static void mark_exited(const Segment& segment, Owner owner) noexcept;
  void heartbeat() noexcept;

  [[nodiscard]] std::uint32_t slot_index() const noexcept { return index_; }

 private:
  WriterArena(const Segment& segment, std::uint32_t index) : segment_(&segment), index_(index) {}
  const Segment* segment_;
  std::uint32_t index_;
};

}  // namespace wsm::shm

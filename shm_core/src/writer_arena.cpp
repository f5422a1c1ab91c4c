#include "wsm/shm/writer_arena.hpp"

#include <algorithm>
#include <cstring>
#include <unistd.h>

#include "wsm/shm/reaper.hpp"

namespace wsm::shm {

namespace {

std::atomic<std::uint64_t>* word_at(std::byte* p) {
  return reinterpret_cast<std::atomic<std::uint64_t>*>(p);
}

}  // namespace

Result<WriterArena> WriterArena::claim(const Segment& segment, std::uint32_t tid,
                                       std::string_view role) {
  const auto pid = static_cast<std::uint32_t>(::getpid());
  const std::uint64_t start_ticks = process_start_ticks(static_cast<pid_t>(pid));
  for (int attempt = 0; attempt < 2; ++attempt) {
    for (std::uint32_t i = 0; i < segment.max_writers(); ++i) {
      WriterSlot& s = segment.slot(i);
      std::uint64_t w = s.state_word.load(std::memory_order_relaxed);
      if (slot_state(w) != SlotState::free) continue;
      // Acquire: pairs with the reaper's release of FREE, so its fold's stores into this arena
      // (`source = 0` of each moved word) happen before our appends write the same bytes. Nobody
      // zeroes the arena for us (gauge cells and cell headers stay as they were): cells_bytes = 0
      // below makes it empty, and append() zeroes each payload it hands out.
      if (!s.state_word.compare_exchange_strong(w, slot_word(SlotState::claiming, pid),
                                                std::memory_order_acquire)) {
        continue;
      }
      SlotIdentity id{start_ticks, tid};
      std::memcpy(id.role, role.data(), std::min(role.size(), sizeof id.role));
      store_identity(s, id);
      s.cells_bytes.store(0, std::memory_order_relaxed);
      s.heartbeat_ns.store(monotonic_ns(), std::memory_order_relaxed);
      s.tenant.fetch_add(1, std::memory_order_relaxed);
      // Release: readers that acquire ACTIVE see the fields above and an empty arena.
      s.state_word.store(slot_word(SlotState::active, pid), std::memory_order_release);
      return WriterArena(segment, i);
    }
    if (attempt == 0 && segment.writable()) {
      if (auto folded = Reaper(segment).reap(); !folded || folded->slots_freed == 0) break;
    }
  }
  segment.header().writers_dropped.fetch_add(1, std::memory_order_relaxed);
  return fail(Errc::full, "segment '" + segment.name() + "': all " +
                              std::to_string(segment.max_writers()) +
                              " writer slots are in use; raise Limits::max_writers");
}

std::atomic<std::uint64_t>* WriterArena::append(std::uint32_t series_id, MetricType kind,
                                                std::uint32_t words) noexcept {
  WriterSlot& s = segment_->slot(index_);
  const std::span<std::byte> arena = segment_->arena(index_);
  // Relaxed: only this slot's owner moves cells_bytes.
  const std::uint64_t used = s.cells_bytes.load(std::memory_order_relaxed);
  const std::uint64_t need = sizeof(CellHeader) + std::uint64_t{words} * 8;
  // `used` comes from shared memory: a value near 2^64 would wrap `used + need` below the size
  // and send the cell far past the arena. Compared by subtraction, after used is known in range.
  if (used % 8 != 0 || used > arena.size() || need > arena.size() - used) {  // full, or corrupt
    segment_->header().cells_dropped.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  std::byte* cell = arena.data() + used;
  word_at(cell)->store(pack_cell({series_id, static_cast<std::uint16_t>(kind),
                                  static_cast<std::uint16_t>(words)}),
                       std::memory_order_relaxed);
  auto* payload = word_at(cell + sizeof(CellHeader));
  for (std::uint32_t i = 0; i < words; ++i) payload[i].store(0, std::memory_order_relaxed);
  // Release: the header and zeroed payload are visible before a reader counts this cell.
  s.cells_bytes.store(used + need, std::memory_order_release);
  return payload;
}

void WriterArena::detach() noexcept {
  WriterSlot& s = segment_->slot(index_);
  std::uint64_t w = s.state_word.load(std::memory_order_relaxed);
  if (slot_state(w) != SlotState::active) return;
  // Release: every cell update of this thread happens-before the reaper folds it.
  s.state_word.compare_exchange_strong(w, slot_word(SlotState::detached, slot_pid(w)),
                                       std::memory_order_release, std::memory_order_relaxed);
}

void WriterArena::heartbeat() noexcept {
  segment_->slot(index_).heartbeat_ns.store(monotonic_ns(), std::memory_order_relaxed);
}

}  // namespace wsm::shm

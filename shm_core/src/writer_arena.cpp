#include "wsm/shm/writer_arena.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <optional>
#include <thread>
#include <unistd.h>

#include "test_point_pass.hpp"
#include "wsm/shm/liveness.hpp"
#include "wsm/shm/reaper.hpp"

namespace wsm::shm {

namespace {

std::atomic<std::uint64_t>* word_at(std::byte* p) {
  return reinterpret_cast<std::atomic<std::uint64_t>*>(p);
}

}  // namespace

namespace {

// How long a claimant follows a reaper that makes no progress before going on without it.
constexpr std::chrono::milliseconds kStalled{5};

// A thread slot whose writer will never write again: its thread detached, or its process is dead.
// Its cells may be taken over as they are (adopt) instead of being folded first.
bool finished_thread_slot(const Segment& segment, std::uint64_t w, const WriterSlot& slot) {
  if (load_identity(slot).tid == 0) return false;  // a process's gauge slot: its levels die with it
  switch (slot_state(w)) {
    case SlotState::detached: return true;
    case SlotState::active:
    case SlotState::exited: return liveness(segment, word_owner(w)) == Liveness::dead;
    default: return false;
  }
}

// CLAIMING (by CAS from `w`) -> identity -> ACTIVE. A FREE slot starts with an empty arena; an
// adopted one keeps the cells it has, which go on counting in every total as they did.
std::optional<WriterArena> take(const Segment& segment, std::uint32_t i, std::uint64_t w, Owner me,
                                std::uint32_t tid, std::string_view role, bool keep_cells,
                                WriterArena (*make)(const Segment&, std::uint32_t)) {
  WriterSlot& s = segment.slot(i);
  // Acquire: the reaper's release of FREE (or the dead writer's last release) made its stores to
  // this slot and arena visible to us.
  if (!s.state_word.compare_exchange_strong(w, slot_word(SlotState::claiming, me), std::memory_order_acquire)) {
    return std::nullopt;
  }
  SlotIdentity id{static_cast<std::uint32_t>(::getpid()), tid};
  std::memcpy(id.role, role.data(), std::min(role.size(), sizeof id.role));
  store_identity(s, id);
  if (!keep_cells) s.cells_bytes.store(0, std::memory_order_relaxed);
  s.heartbeat_ns.store(monotonic_ns(), std::memory_order_relaxed);
  s.tenant.fetch_add(1, std::memory_order_relaxed);
  test_points::pass(test_points::Point::slot_after_claim);
  // Release: readers that acquire ACTIVE see the fields above.
  s.state_word.store(slot_word(SlotState::active, me), std::memory_order_release);
  return make(segment, i);
}

}  // namespace

Result<WriterArena> WriterArena::claim(const Segment& segment, std::uint32_t tid,
                                       std::string_view role) {
  const auto me = segment.owner(role);
  if (!me) {
    segment.header().writers_dropped.fetch_add(1, std::memory_order_relaxed);
    return std::unexpected(me.error());
  }
  auto make = [](const Segment& s, std::uint32_t i) { return WriterArena(s, i); };
  auto take_free = [&]() -> std::optional<WriterArena> {
    for (std::uint32_t i = 0; i < segment.max_writers(); ++i) {
      const std::uint64_t w = segment.slot(i).state_word.load(std::memory_order_relaxed);
      if (slot_state(w) != SlotState::free) continue;
      if (auto a = take(segment, i, w, *me, tid, role, false, make)) return a;
    }
    return std::nullopt;
  };
  // A finished thread's slot, taken over with its cells: they count where they are, and a reaper
  // folds them with ours once we are done. Instant, and nothing goes to a sink.
  auto adopt = [&]() -> std::optional<WriterArena> {
    for (std::uint32_t i = 0; i < segment.max_writers() && tid != 0; ++i) {
      const std::uint64_t w = segment.slot(i).state_word.load(std::memory_order_acquire);
      if (!finished_thread_slot(segment, w, segment.slot(i))) continue;
      if (auto a = take(segment, i, w, *me, tid, role, true, make)) return a;
    }
    return std::nullopt;
  };
  if (auto a = take_free()) return *a;
  // No free slot: fold dead writers if no other process is folding this instant (never wait for
  // the reap lock), else take over a finished slot. If neither works while another reaper holds the
  // lock, follow it as long as it makes progress (it is about to free slots); one that makes none
  // for kStalled (stopped, say) is not waited for.
  const SegmentHeader& h = segment.header();
  auto progress = [&] { return h.reap_seq.load(std::memory_order_relaxed) ^ (h.fold_moves.load(std::memory_order_relaxed) << 1); };
  auto last = progress();
  auto moved_at = std::chrono::steady_clock::now();
  while (segment.writable()) {
    auto folded = Reaper(segment, std::chrono::milliseconds(0)).reap();
    if (auto a = take_free()) return *a;
    if (auto a = adopt()) return *a;
    if (folded || folded.error().code() != Errc::busy) break;
    const auto now = std::chrono::steady_clock::now();
    if (const auto p = progress(); p != last) {
      last = p;
      moved_at = now;
    } else if (now - moved_at > kStalled) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  if (auto a = adopt()) return *a;  // a read-only segment, or a reap that freed nothing
  segment.header().writers_dropped.fetch_add(1, std::memory_order_relaxed);
  return fail(Errc::full, "segment '" + segment.name() + "': all " +
                              std::to_string(segment.max_writers()) +
                              " writer slots are in use by running threads; raise Limits::max_writers");
}

std::atomic<std::uint64_t>* WriterArena::append(std::uint32_t series_id, CellKind kind,
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
  s.state_word.compare_exchange_strong(w, slot_word(SlotState::detached, word_owner(w)),
                                       std::memory_order_release, std::memory_order_relaxed);
}

void WriterArena::mark_exited(const Segment& segment, Owner owner) noexcept {
  for (std::uint32_t i = 0; i < segment.max_writers(); ++i) {
    std::atomic<std::uint64_t>& word = segment.slot(i).state_word;
    std::uint64_t w = word.load(std::memory_order_relaxed);
    if (slot_state(w) != SlotState::active || word_owner(w) != owner) continue;
    // Release: every count this process made so far happens-before the reaper's fold; later ones
    // (threads still running during exit) land before the process dies, which the fold waits for.
    word.compare_exchange_strong(w, slot_word(SlotState::exited, owner), std::memory_order_release,
                                 std::memory_order_relaxed);
  }
}

void WriterArena::heartbeat() noexcept {
  segment_->slot(index_).heartbeat_ns.store(monotonic_ns(), std::memory_order_relaxed);
}

}  // namespace wsm::shm

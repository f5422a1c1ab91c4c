#include "wsm/shm/reaper.hpp"

#include <cerrno>
#include <cstring>
#include <thread>
#include <unistd.h>

#include "byte_lock.hpp"
#include "test_point_pass.hpp"
#include "wsm/shm/catalog.hpp"
#include "wsm/shm/connection_table.hpp"
#include "wsm/shm/liveness.hpp"

namespace wsm::shm {

namespace {

using Word = std::atomic<std::uint64_t>;

// Holds the reap lock: an OFD write lock on the first byte of the header's `reaper` word, taken on
// a description of our own (so two threads of one process exclude each other too). The kernel
// releases it if we die, so a dead holder never blocks anyone; a stopped one does, and then we
// give up at the deadline rather than wait (writers pass no wait at all). While held, reap_seq is
// odd; `reaper` names the holder's pid for people. A view of bytes (no file) uses a CAS on
// `reaper` instead, with no recovery: views are single-process (fuzzers, copies).
class ReapLock {
 public:
  static Result<ReapLock> acquire(const Segment& segment, std::chrono::milliseconds wait) {
    SegmentHeader& h = segment.header();
    const auto me = static_cast<std::uint64_t>(::getpid());
    int fd = -1;
    if (segment.descriptor() >= 0) {
      auto own = segment.open_description();
      if (!own) return std::unexpected(own.error());
      fd = *own;
    }
    const auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
      if (fd >= 0 ? try_lock_byte(fd, offsetof(SegmentHeader, reaper)) : try_claim_word(h, me)) break;
      if (fd >= 0 && errno != EAGAIN && errno != EACCES) {
        const int err = errno;
        ::close(fd);
        return fail(Errc::system, "segment '" + segment.name() + "': reap lock: " + std::strerror(err));
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        if (fd >= 0) ::close(fd);
        return fail(Errc::busy, holder_message(segment));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    h.reaper.store(me, std::memory_order_relaxed);
    // acq_rel: our fold's stores cannot move above the odd sequence readers check. A sequence
    // already odd was left by a holder that died mid-fold: it stays odd until we finish.
    if (h.reap_seq.load(std::memory_order_relaxed) % 2 == 0) h.reap_seq.fetch_add(1, std::memory_order_acq_rel);
    return ReapLock(h, fd);
  }
  ReapLock(ReapLock&& o) noexcept : h_(o.h_), fd_(o.fd_) { o.h_ = nullptr; }
  ReapLock& operator=(ReapLock&&) = delete;
  ~ReapLock() {
    if (h_ == nullptr) return;
    // Release: readers that see the even sequence see every fold before it.
    h_->reap_seq.fetch_add(1, std::memory_order_release);
    h_->reaper.store(0, std::memory_order_release);
    if (fd_ >= 0) {
      ::close(fd_);  // releases the lock
    }
  }

  // Who holds the lock, for an error message: the kernel says the holder runs; only its pid is
  // ours to show (in its own namespace, which may not be ours).
  static std::string holder_message(const Segment& segment) {
    const std::uint64_t pid = segment.header().reaper.load(std::memory_order_relaxed);
    return "segment '" + segment.name() + "': another running process holds the reap lock (pid " +
           std::to_string(pid) + " as that process sees itself; it is alive, perhaps stopped or still "
           "folding): nothing waits for it; try again later";
  }

 private:
  ReapLock(SegmentHeader& h, int fd) : h_(&h), fd_(fd) {}
  static bool try_claim_word(SegmentHeader& h, std::uint64_t me) {
    std::uint64_t free = 0;
    // Acquire: a previous holder's folds (released when it let go) are visible to us.
    return h.reaper.compare_exchange_strong(free, me, std::memory_order_acq_rel);
  }
  SegmentHeader* h_;
  int fd_;
};

class Fold {
 public:
  explicit Fold(const Segment& s) : s_(s), h_(s.header()) {}

  // Finishes a move a dead reaper left half done. Stores are absolute, so replaying is idempotent.
  Result<bool> replay_journal() {
    if (h_.journal_state.load() == 0) {
      if (h_.fold_moves.load() % 2 != 0) h_.fold_moves.fetch_add(1);  // died before journalling
      return false;
    }
    Word* target = word(h_.journal_target.load());
    Word* source = word(h_.journal_source.load());
    if (target == nullptr || source == nullptr) {
      return fail(Errc::corrupt, "segment '" + s_.name() + "': fold journal points outside it");
    }
    target->store(h_.journal_value.load());
    source->store(0);
    h_.journal_state.store(0);
    if (h_.fold_moves.load() % 2 != 0) h_.fold_moves.fetch_add(1);
    return true;
  }

  // Moves every counter and histogram word of slot i into the retired arena; false if some
  // cell could not be moved (retired arena full or a cell that does not fit the catalog).
  bool slot(std::uint32_t i, ReapReport& report) {
    const std::span<std::byte> arena = s_.arena(i);
    const std::uint64_t used =
        std::min<std::uint64_t>(s_.slot(i).cells_bytes.load(std::memory_order_acquire), arena.size());
    bool complete = true;
    for (std::uint64_t pos = 0; pos + sizeof(CellHeader) <= used;) {
      const CellHeader c = unpack_cell(word_at(arena.data() + pos)->load(std::memory_order_relaxed));
      const std::uint64_t next = pos + cell_bytes(c);
      if (c.words == 0 || next > used) return false;  // corrupt arena: keep the slot for a human
      // Counts only: a gauge's level dies with its process, and an exemplar cell (the latest
      // exemplar of a thread) is dropped with its writer rather than kept in the retired arena.
      const auto kind = static_cast<CellKind>(c.kind);
      if (c.series_id < s_.max_series() && (kind == CellKind::counter || kind == CellKind::histogram)) {
        Word* from = word_at(arena.data() + pos + sizeof(CellHeader));
        Word* into = retired_cell(c);
        if (into == nullptr) {
          complete = false;
        } else {
          for (std::uint32_t k = 0; k < c.words; ++k) move(from[k], into[k], report);
        }
      }
      pos = next;
    }
    return complete;
  }

 private:
  static Word* word_at(std::byte* p) { return reinterpret_cast<Word*>(p); }

  // The word at a journal offset, or nullptr when it is not an aligned word inside the segment.
  // (Compared as off > size - 8: off + 8 would wrap for a damaged offset near 2^64.)
  Word* word(std::uint64_t off) const {
    if (off % 8 != 0 || off < sizeof(SegmentHeader) || off > s_.size() - 8) return nullptr;
    return word_at(s_.base() + off);
  }
  std::uint64_t offset_of(const Word& w) const {
    return static_cast<std::uint64_t>(reinterpret_cast<const std::byte*>(&w) - s_.base());
  }

  // One journalled move, bracketed by fold_moves (odd while under way). Every store is seq_cst:
  // they happen in program order for a reaper that takes over after our death and reads the
  // journal, and for a reader that overlaps a stopped move (snapshot.hpp explains its repair).
  void move(Word& from, Word& into, ReapReport& report) {
    const std::uint64_t v = from.load(std::memory_order_relaxed);
    if (v == 0) return;
    const std::uint64_t sum = into.load(std::memory_order_relaxed) + v;
    h_.fold_moves.fetch_add(1);
    h_.journal_target.store(offset_of(into));
    h_.journal_source.store(offset_of(from));
    h_.journal_value.store(sum);
    h_.journal_state.store(1);
    into.store(sum);
    test_points::pass(test_points::Point::reaper_mid_move);  // the worst moment to stop or die
    from.store(0);
    h_.journal_state.store(0);
    h_.fold_moves.fetch_add(1);
    ++report.words_moved;
  }

  // The retired cell of a series, allocated on first use; nullptr when the arena is full or the
  // existing cell has another shape (a corrupt segment).
  Word* retired_cell(const CellHeader& c) {
    auto& index = s_.retired_index(c.series_id);
    const std::span<std::byte> arena = s_.retired_arena();
    const std::uint64_t need = cell_bytes(c);
    if (const std::uint32_t at = index.load(std::memory_order_acquire); at != 0) {
      const std::uint64_t off = at - 1;
      if (off % 8 != 0 || off + need > arena.size()) return nullptr;
      const CellHeader have = unpack_cell(word_at(arena.data() + off)->load(std::memory_order_relaxed));
      if (have.series_id != c.series_id || have.kind != c.kind || have.words != c.words) return nullptr;
      return word_at(arena.data() + off + sizeof(CellHeader));
    }
    const std::uint64_t used = h_.retired_used.load(std::memory_order_relaxed);
    // retired_used is read from shared memory: a damaged value must not place a cell outside the
    // arena (used + need may wrap), off the 8-byte grid, or at offset 0, which index entries
    // cannot name and readers never look at. Such a cell is not moved; its slot is kept.
    if (used < 8 || used % 8 != 0 || used > arena.size() || need > arena.size() - used) {
      h_.retired_dropped.fetch_add(1, std::memory_order_relaxed);
      return nullptr;
    }
    word_at(arena.data() + used)->store(pack_cell(c), std::memory_order_relaxed);
    Word* payload = word_at(arena.data() + used + sizeof(CellHeader));
    for (std::uint32_t k = 0; k < c.words; ++k) payload[k].store(0, std::memory_order_relaxed);
    // Release: readers that walk up to retired_used see the header and the zeroed payload.
    h_.retired_used.store(used + need, std::memory_order_release);
    index.store(static_cast<std::uint32_t>(used + 1), std::memory_order_release);
    return payload;
  }

  const Segment& s_;
  SegmentHeader& h_;
};

// Marks the records of dead processes FREE (their tenant stays, so owners naming it stay dead).
std::uint32_t free_dead_processes(const Segment& segment, LivenessCache& alive) {
  std::uint32_t freed = 0;
  for (std::uint32_t i = 0; i < segment.max_writers(); ++i) {
    ProcessRecord& r = segment.process(i);
    std::uint64_t w = r.state_word.load(std::memory_order_acquire);
    if (process_state(w) != ProcessState::active) continue;
    if (alive(Owner{i + 1, process_tenant(w)}) != Liveness::dead) continue;
    // A claimant that took the lock meanwhile bumps the tenant: then this CAS fails, as it should.
    if (r.state_word.compare_exchange_strong(w, process_word(ProcessState::free, process_tenant(w)))) ++freed;
  }
  return freed;
}

}  // namespace

Liveness reap_lock_holder(const Segment& segment) {
  return byte_holder(segment.descriptor(), offsetof(SegmentHeader, reaper));
}

Result<ReapReport> Reaper::reap() const {
  if (!segment_.writable()) {
    return fail(Errc::permission, "segment '" + segment_.name() + "' is open read-only: cannot reap");
  }
  ReapReport report;
  auto lock = ReapLock::acquire(segment_, lock_wait_);
  if (!lock) return std::unexpected(lock.error());
  Fold fold(segment_);
  auto replayed = fold.replay_journal();
  if (!replayed) return std::unexpected(replayed.error());
  report.journal_replayed = *replayed;

  LivenessCache alive(segment_);
  for (std::uint32_t i = 0; i < segment_.max_writers(); ++i) {
    WriterSlot& slot = segment_.slot(i);
    // Acquire: pairs with the writer's release of DETACHED and with ACTIVE's publication.
    std::uint64_t w = slot.state_word.load(std::memory_order_acquire);
    const Liveness owner = alive(word_owner(w));
    switch (slot_state(w)) {
      case SlotState::free:
        continue;
      case SlotState::claiming:
        if (owner == Liveness::dead &&
            slot.state_word.compare_exchange_strong(w, slot_word(SlotState::free, {}))) {
          ++report.claims_reset;
        }
        continue;
      case SlotState::active:
        if (owner != Liveness::dead) continue;  // alive, stopped, or unknown: never folded
        break;
      case SlotState::detached:
        break;  // its thread exited: nobody writes it any more
      case SlotState::exited:
        if (owner != Liveness::dead) continue;  // other threads may write until the process is gone
        break;
      case SlotState::retiring:
        break;  // a previous reaper died while folding it: finish the job
      default:
        continue;  // a corrupt state word: leave it for `wsm check`
    }
    if (slot_state(w) != SlotState::retiring &&
        !slot.state_word.compare_exchange_strong(w, slot_word(SlotState::retiring, word_owner(w)))) {
      continue;
    }
    if (fold.slot(i, report)) {
      // Release: the claimant that acquires FREE sees the slot's last state.
      slot.state_word.store(slot_word(SlotState::free, {}), std::memory_order_release);
      segment_.header().writers_reaped.fetch_add(1, std::memory_order_relaxed);
      ++report.slots_freed;
    } else {
      ++report.slots_kept;
    }
  }
  report.processes_freed = free_dead_processes(segment_, alive);
  report.entries_recovered = Catalog(segment_).recover_abandoned();
  report.connections_freed = free_dead_connections(segment_);
  return report;
}

}  // namespace wsm::shm

#include "wsm/shm/reaper.hpp"

#include <thread>
#include <unistd.h>

#include "wsm/shm/catalog.hpp"
#include "wsm/shm/connection_table.hpp"

namespace wsm::shm {

namespace {

std::atomic<std::uint64_t> g_crash_after_moves{0};

using Word = std::atomic<std::uint64_t>;

// Holds the reap lock: `reaper` names the holder's pid, `reap_seq` is odd while held.
class ReapLock {
 public:
  static Result<ReapLock> acquire(const Segment& segment, std::chrono::milliseconds wait) {
    SegmentHeader& h = segment.header();
    const auto me = static_cast<std::uint64_t>(::getpid());
    const auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
      std::uint64_t holder = h.reaper.load(std::memory_order_acquire);
      const bool free_or_dead =
          holder == 0 || (holder != me && process_start_ticks(static_cast<pid_t>(holder)) == 0);
      // Acquire: a previous holder's folds (released when it let go) are visible to us.
      if (free_or_dead && h.reaper.compare_exchange_strong(holder, me, std::memory_order_acq_rel)) {
        // acq_rel: our fold's stores cannot move above the odd sequence readers check.
        if (h.reap_seq.load(std::memory_order_relaxed) % 2 == 0) {
          h.reap_seq.fetch_add(1, std::memory_order_acq_rel);
        }
        return ReapLock(h);
      }
      if (std::chrono::steady_clock::now() > deadline) {
        return fail(Errc::timeout, "segment '" + segment.name() + "': reaper pid " +
                                       std::to_string(holder) + " holds the reap lock");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  ReapLock(ReapLock&& o) noexcept : h_(o.h_) { o.h_ = nullptr; }
  ReapLock& operator=(ReapLock&&) = delete;
  ~ReapLock() {
    if (h_ == nullptr) return;
    // Release: readers that see the even sequence see every fold before it.
    h_->reap_seq.fetch_add(1, std::memory_order_release);
    h_->reaper.store(0, std::memory_order_release);
  }

 private:
  explicit ReapLock(SegmentHeader& h) : h_(&h) {}
  SegmentHeader* h_;
};

class Fold {
 public:
  explicit Fold(const Segment& s) : s_(s), h_(s.header()) {}

  // Finishes a move a dead reaper left half done. Stores are absolute, so replaying is idempotent.
  Result<bool> replay_journal() {
    if (h_.journal_state.load() == 0) return false;
    Word* target = word(h_.journal_target.load());
    Word* source = word(h_.journal_source.load());
    if (target == nullptr || source == nullptr) {
      return fail(Errc::corrupt, "segment '" + s_.name() + "': fold journal points outside it");
    }
    target->store(h_.journal_value.load());
    source->store(0);
    h_.journal_state.store(0);
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
      const std::uint64_t next = pos + sizeof(CellHeader) + std::uint64_t{c.words} * 8;
      if (c.words == 0 || next > used) return false;  // corrupt arena: keep the slot for a human
      const auto kind = static_cast<MetricType>(c.kind);
      if (c.series_id < s_.max_series() && kind != MetricType::gauge) {
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

  // One journalled move. seq_cst keeps the stores in program order, which is what a reaper that
  // takes over after our death relies on when it reads the journal.
  void move(Word& from, Word& into, ReapReport& report) {
    const std::uint64_t v = from.load(std::memory_order_relaxed);
    if (v == 0) return;
    const std::uint64_t sum = into.load(std::memory_order_relaxed) + v;
    h_.journal_target.store(offset_of(into));
    h_.journal_source.store(offset_of(from));
    h_.journal_value.store(sum);
    h_.journal_state.store(1);
    into.store(sum);
    if (const auto n = g_crash_after_moves.load(std::memory_order_relaxed); n != 0) {
      if (report.words_moved + 1 >= n) ::_exit(77);  // die between the two stores, as a crash would
    }
    from.store(0);
    h_.journal_state.store(0);
    ++report.words_moved;
  }

  // The retired cell of a series, allocated on first use; nullptr when the arena is full or the
  // existing cell has another shape (a corrupt segment).
  Word* retired_cell(const CellHeader& c) {
    auto& index = s_.retired_index(c.series_id);
    const std::span<std::byte> arena = s_.retired_arena();
    const std::uint64_t need = sizeof(CellHeader) + std::uint64_t{c.words} * 8;
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

}  // namespace

void Reaper::crash_after_moves_for_testing(std::uint64_t moves) noexcept {
  g_crash_after_moves.store(moves, std::memory_order_relaxed);
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

  for (std::uint32_t i = 0; i < segment_.max_writers(); ++i) {
    WriterSlot& slot = segment_.slot(i);
    // Acquire: pairs with the writer's release of DETACHED and with ACTIVE's publication.
    std::uint64_t w = slot.state_word.load(std::memory_order_acquire);
    const auto pid = static_cast<pid_t>(slot_pid(w));
    switch (slot_state(w)) {
      case SlotState::free:
        continue;
      case SlotState::claiming:
        if (process_start_ticks(pid) == 0 &&
            slot.state_word.compare_exchange_strong(w, slot_word(SlotState::free, 0))) {
          ++report.claims_reset;
        }
        continue;
      case SlotState::active:
        if (process_alive(pid, load_identity(slot).start_ticks)) continue;
        [[fallthrough]];
      case SlotState::detached:
        if (!slot.state_word.compare_exchange_strong(w, slot_word(SlotState::retiring, slot_pid(w)))) {
          continue;
        }
        break;
      case SlotState::retiring:
        break;  // a previous reaper died while folding it: finish the job
      default:
        continue;  // a corrupt state word: leave it for `wsm check`
    }
    if (fold.slot(i, report)) {
      // Release: the claimant that acquires FREE sees the zeroed arena.
      slot.state_word.store(slot_word(SlotState::free, 0), std::memory_order_release);
      segment_.header().writers_reaped.fetch_add(1, std::memory_order_relaxed);
      ++report.slots_freed;
    } else {
      ++report.slots_kept;
    }
  }
  report.entries_recovered = Catalog(segment_).recover_abandoned();
  report.connections_freed = free_dead_connections(segment_);
  return report;
}

}  // namespace wsm::shm

// Folds dead writers into the retired arena and frees their slots.
//
// A writer is dead when its pid is gone or runs with another start time (pid reuse), or when its
// thread detached. Its counter and histogram cells move into the retired arena word by word; gauge
// cells are dropped (a dead process's level means nothing). Every move goes through the header's
// fold journal ("target = value; source = 0", absolute stores), so a reaper killed at any point is
// finished by the next one without losing or double-counting a count.
//
// Readers and reapers coordinate through the header's reap sequence: odd while a fold runs. A
// snapshot that overlaps a fold sees the sequence change and retries, so no reader sees a count
// twice (in a slot and in the retired arena) or not at all. Reapers exclude each other with the
// `reaper` word (pid of the holder); a holder that died is taken over.
//
// It also frees the connection-table records of dead processes (connection_table.hpp).
#pragma once

#include <chrono>
#include <cstdint>

#include "wsm/shm/error.hpp"
#include "wsm/shm/segment.hpp"

namespace wsm::shm {

struct ReapReport {
  std::uint32_t slots_freed = 0;       // dead or detached writers folded and freed
  std::uint32_t slots_kept = 0;        // folded only in part: the retired arena is full
  std::uint32_t claims_reset = 0;      // slots left CLAIMING by a dead process
  std::uint32_t entries_recovered = 0; // catalog entries left BUSY by a dead registrant
  std::uint32_t connections_freed = 0; // connection records of dead processes
  std::uint64_t words_moved = 0;
  bool journal_replayed = false;       // a previous reaper died mid-move and we finished it
};

class Reaper {
 public:
  // lock_wait: how long to wait for another live reaper to finish before giving up.
  explicit Reaper(const Segment& segment,
                  std::chrono::milliseconds lock_wait = std::chrono::seconds(2)) noexcept
      : segment_(segment), lock_wait_(lock_wait) {}

  // Folds every dead writer once. Needs a read-write segment.
  [[nodiscard]] Result<ReapReport> reap() const;

  // Test hook: stop after this many word moves, leaving the journal as a crash would (0: off).
  static void crash_after_moves_for_testing(std::uint64_t moves) noexcept;

 private:
  const Segment& segment_;
  std::chrono::milliseconds lock_wait_;
};

}  // namespace wsm::shm

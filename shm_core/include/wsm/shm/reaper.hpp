// Folds dead writers into the retired arena and frees their slots.
//
// A writer is dead when its process is (liveness.hpp: from the kernel, never from pids), or when
// its thread detached. Alive, stopped or unknown writers are never folded. Its counter and histogram cells move into the retired arena word by word; gauge
// cells are dropped (a dead process's level means nothing). Every move goes through the header's
// fold journal ("target = value; source = 0", absolute stores), so a reaper killed at any point is
// finished by the next one without losing or double-counting a count.
//
// Readers and reapers coordinate through the header's reap sequence: odd while a fold runs. A
// snapshot that overlaps a fold sees the sequence change and retries, so no reader sees a count
// twice (in a slot and in the retired arena) or not at all; a reader that overlaps a stopped or dead
// reaper repairs the one move in flight from the journal (snapshot.hpp). Reapers exclude each other
// with an OFD lock the kernel releases at the holder's death; nobody waits for a stopped holder
// longer than its lock_wait (writers: not at all).
//
// It also frees the connection-table records and the process records of dead processes.
#pragma once

#include <chrono>
#include <cstdint>

#include "wsm/shm/error.hpp"
#include "wsm/shm/liveness.hpp"
#include "wsm/shm/segment.hpp"

namespace wsm::shm {

struct ReapReport {
  std::uint32_t slots_freed = 0;       // dead or detached writers folded and freed
  std::uint32_t slots_kept = 0;        // folded only in part: the retired arena is full
  std::uint32_t claims_reset = 0;      // slots left CLAIMING by a dead process
  std::uint32_t entries_recovered = 0; // catalog entries left BUSY by a dead registrant
  std::uint32_t connections_freed = 0; // connection records of dead processes
  std::uint32_t processes_freed = 0;   // process records of dead processes
  std::uint64_t words_moved = 0;
  bool journal_replayed = false;       // a previous reaper died mid-move and we finished it
};

class Reaper {
 public:
  // lock_wait: how long to wait for another live reaper to finish before giving up (Errc::busy).
  explicit Reaper(const Segment& segment,
                  std::chrono::milliseconds lock_wait = std::chrono::seconds(2)) noexcept
      : segment_(segment), lock_wait_(lock_wait) {}

  // Folds every dead writer once. Needs a read-write segment.
  [[nodiscard]] Result<ReapReport> reap() const;

 private:
  const Segment& segment_;
  std::chrono::milliseconds lock_wait_;
};

// Whether a running process holds the reap lock right now: alive (held), dead (free), unknown.
[[nodiscard]] Liveness reap_lock_holder(const Segment& segment);

}  // namespace wsm::shm

// Reading a segment whose file shrinks under the mapping, without dying of it.
//
// Anyone who may write the file behind a mapping can truncate it at any moment (`truncate -s`,
// ftruncate); a load from a page past the new end then raises SIGBUS, which kills the process. A
// size check before reading cannot prevent that: the file can shrink between the check and the
// load. So readers catch the fault itself:
//
//   While a MappingGuard lives in a thread, a SIGBUS of that thread (BUS_ADRERR) at an address
//   inside the guarded mapping is handled by mapping private zero pages over the mapping from the
//   faulting page to its end (MAP_FIXED, anonymous), marking the MappingDamage and returning. The
//   load is retried and reads zeros, which the reader's validation treats like any other bad
//   bytes; afterwards the caller sees damaged() and drops the mapping. The rest of the mapping
//   keeps its pages, but nothing read from it after the damage is trusted.
//
// No longjmp out of the handler: the reader's C++ code runs to its end (destructors, unlocks),
// which a jump would skip. A SIGBUS anywhere else (another address, a thread without a guard, a
// misaligned access) goes to the disposition that was there before the first guard (usually the
// default: the process dies as it would have).
//
// The damage is per mapping, not per thread: once one thread patched zeros in, every other thread
// reads them without a fault, so all readers of a mapping share one MappingDamage.
#pragma once

#include <atomic>
#include <cstdint>

#include "wsm/shm/error.hpp"
#include "wsm/shm/segment.hpp"
#include "wsm/shm/snapshot.hpp"

namespace wsm::shm {

class MappingDamage {
 public:
  // Acquire: pairs with the handler's release store, so the caller that sees the damage also sees
  // that the pages were replaced (nothing read after it is the file's).
  [[nodiscard]] bool damaged() const noexcept { return damaged_.load(std::memory_order_acquire); }

 private:
  friend class MappingGuard;
  std::atomic<bool> damaged_{false};
};

class MappingGuard {
 public:
  // Guards this thread's reads of `segment`'s bytes until destroyed (guards nest). Installs the
  // process's SIGBUS handler the first time.
  MappingGuard(const Segment& segment, MappingDamage& damage) noexcept;
  ~MappingGuard();
  MappingGuard(const MappingGuard&) = delete;
  MappingGuard& operator=(const MappingGuard&) = delete;

  // For the handler (mapping_guard.cpp): the innermost guard of this thread whose mapping holds
  // `address`, or nullptr.
  [[nodiscard]] static MappingGuard* covering(std::uintptr_t address) noexcept;
  // Replaces the mapping from the page of `address` to its end with zero pages and marks the
  // damage; false if that failed.
  bool patch(std::uintptr_t address) noexcept;

 private:
  std::uintptr_t begin_;
  std::uintptr_t end_;
  std::atomic<bool>* damaged_;
  MappingGuard* outer_;  // the guard this one nests in
};

// The error for a mapping whose file shrank under it: Errc::corrupt, naming the segment and the fix.
[[nodiscard]] Error damaged_segment_error(const Segment& segment);

// Snapshot::take under a guard: the snapshot, or damaged_segment_error() when the file shrank
// while it was read (then `damage` stays marked; drop the segment).
[[nodiscard]] Result<Snapshot> guarded_snapshot(const Segment& segment, CatalogView& catalog,
                                                MappingDamage& damage,
                                                const SnapshotOptions& options = {});

}  // namespace wsm::shm

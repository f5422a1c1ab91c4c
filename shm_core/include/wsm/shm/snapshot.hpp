// A consistent copy of every published cell of a segment, live writers, dead ones not yet reaped
// and the retired arena, taken without locks.
//
// Consistency: the reap sequence is read (acquire) before and after the copy; if it was odd or
// changed, a fold overlapped the copy and it is retried, so a count is never seen twice (in a dead
// writer's cell and in the retired arena) or not at all. Counter cells only grow, so a snapshot is
// never behind an earlier one. Each writer's cells are read up to its acquire-loaded cells_bytes;
// every cell is checked against the catalog (series known, kind and size match) before use.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <sys/types.h>
#include <vector>

#include "wsm/shm/catalog_view.hpp"
#include "wsm/shm/error.hpp"
#include "wsm/shm/segment.hpp"

namespace wsm::shm {

struct WriterInfo {
  std::uint32_t slot = 0;
  SlotState state = SlotState::free;
  pid_t pid = 0;
  std::uint32_t tid = 0;  // 0: the process's gauge cells
  std::uint64_t start_ticks = 0;
  std::uint64_t tenant = 0;
  std::uint64_t heartbeat_ns = 0;  // CLOCK_MONOTONIC
  std::uint64_t cells_bytes = 0;
  std::string role;
  bool alive = false;  // its process runs (with the same start time)
};

inline constexpr std::int32_t kRetiredWriter = -1;

struct CellView {
  std::uint32_t series_id;
  std::int32_t writer;  // index into Snapshot::writers, or kRetiredWriter
  std::uint32_t first_word;  // into Snapshot::words
  std::uint32_t words;
};

struct HeaderStats {
  std::uint64_t created_unix_ns = 0;
  std::uint64_t total_bytes = 0;
  std::uint64_t strings_used = 0, string_bytes = 0;
  std::uint64_t retired_used = 0, retired_bytes = 0;
  std::uint64_t series_used = 0, series_dropped = 0, cells_dropped = 0;
  std::uint64_t writers_dropped = 0, writers_reaped = 0, retired_dropped = 0;
  std::uint64_t families_used = 0;
};

struct SnapshotOptions {
  std::chrono::milliseconds wait{1000};  // for a fold under way to finish
  // Copy only the cells of these families (empty: every family). A reader that needs a few
  // families of a large segment (the exporter's interval work) skips the cost of the rest.
  std::vector<std::string> only_families{};
};

class Snapshot {
 public:
  // Refreshes `catalog` and copies every cell. Fails (Errc::timeout) if a fold keeps overlapping,
  // e.g. a reaper died mid-fold: run a Reaper (or `wsm reap`) to finish it.
  [[nodiscard]] static Result<Snapshot> take(const Segment& segment, CatalogView& catalog,
                                             const SnapshotOptions& options = {});

  std::uint64_t generation = 0;
  std::uint64_t taken_unix_ns = 0;
  std::uint64_t taken_mono_ns = 0;
  HeaderStats stats;
  std::vector<WriterInfo> writers;  // every slot that is not FREE
  std::vector<CellView> cells;
  std::vector<std::uint64_t> words;
  std::vector<std::string> problems;  // cells left out as malformed
  // By family id, the families whose cells were copied; empty when all were (Aggregation::of
  // leaves the others out).
  std::vector<bool> families_copied;
  [[nodiscard]] bool copied(std::uint32_t family_id) const noexcept {
    return families_copied.empty() || (family_id < families_copied.size() && families_copied[family_id]);
  }

 private:
  void copy(const Segment& segment, const CatalogView& catalog);
  void copy_cells(const Segment& segment, const CatalogView& catalog, std::span<std::byte> arena,
                  std::uint64_t used, std::int32_t writer, const std::string& where);
};

}  // namespace wsm::shm

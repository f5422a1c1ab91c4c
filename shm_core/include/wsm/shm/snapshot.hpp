// A consistent copy of every published cell of a segment, live writers, dead ones not yet reaped
// and the retired arena, taken without locks.
//
// Consistency: the reap sequence and the fold's move counter are read (acquire) before and after
// the copy; if either changed, a fold made progress during the copy and it is retried, so a count
// is never seen twice (in a dead writer's cell and in the retired arena) or not at all. If neither
// changed while a fold is under way, its reaper is stopped, dead or between moves: nothing waits
// for it, and the one word move it may be inside is repaired from the fold journal (repair_move).
// Counter cells only grow, so a snapshot is never behind an earlier one. Each writer's cells are read up to its acquire-loaded cells_bytes;
// every cell is checked against the catalog (series known, kind and size match) before use.
// Exemplar cells are not counts: they are read whole (exemplar_cell.hpp) into `exemplars`.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

#include "wsm/shm/catalog_view.hpp"
#include "wsm/shm/error.hpp"
#include "wsm/shm/exemplar_cell.hpp"
#include "wsm/shm/liveness.hpp"
#include "wsm/shm/segment.hpp"

namespace wsm::shm {

struct WriterInfo {
  std::uint32_t slot = 0;
  SlotState state = SlotState::free;
  Owner owner{};          // its process record (liveness.hpp)
  pid_t pid = 0;          // as the process sees itself: display only
  std::uint32_t tid = 0;  // 0: the process's gauge cells
  std::uint64_t tenant = 0;
  std::uint64_t heartbeat_ns = 0;  // CLOCK_MONOTONIC
  std::uint64_t cells_bytes = 0;
  std::string role;
  Liveness liveness = Liveness::unknown;
  bool alive = false;  // not known dead: alive, stopped, or unknown (never folded)
};

inline constexpr std::int32_t kRetiredWriter = -1;

struct CellView {
  std::uint32_t series_id;
  std::int32_t writer;  // index into Snapshot::writers, or kRetiredWriter
  std::uint32_t first_word;  // into Snapshot::words
  std::uint32_t words;
};

// The latest exemplar of one series in one writer's arena (exemplar_cell.hpp), as read whole.
struct ExemplarView {
  std::uint32_t series_id;
  std::int32_t writer;  // index into Snapshot::writers (exemplars are never retired)
  ExemplarData data;
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

// The header's usage and drop counters (relaxed: figures for people, not a consistent set).
[[nodiscard]] HeaderStats read_header_stats(const Segment& segment);
// Writer slot i as a reader sees it, or nullopt when it holds no cells (FREE, CLAIMING, corrupt).
// cells_bytes is acquire-loaded: every cell below it was written before the owner published it.
[[nodiscard]] std::optional<WriterInfo> read_writer(const Segment& segment, std::uint32_t i,
                                                    LivenessCache& liveness_of);

class Snapshot {
 public:
  // Refreshes `catalog` and copies every cell. Fails (Errc::timeout) only if a running reaper makes
  // progress during every copy for options.wait.
  [[nodiscard]] static Result<Snapshot> take(const Segment& segment, CatalogView& catalog,
                                             const SnapshotOptions& options = {});

  std::uint64_t generation = 0;
  std::uint64_t taken_unix_ns = 0;
  std::uint64_t taken_mono_ns = 0;
  HeaderStats stats;
  std::vector<WriterInfo> writers;  // every slot that is not FREE
  std::vector<CellView> cells;
  std::vector<std::uint64_t> words;
  // Exemplar cells read whole; one being written, or never written, is left out.
  std::vector<ExemplarView> exemplars;
  std::vector<std::string> problems;  // cells left out as malformed
  // By family id, the families whose cells were copied; empty when all were (Aggregation::of
  // leaves the others out).
  std::vector<bool> families_copied;
  [[nodiscard]] bool copied(std::uint32_t family_id) const noexcept {
    return families_copied.empty() || (family_id < families_copied.size() && families_copied[family_id]);
  }

 private:
  static constexpr std::uint64_t kNoWord = ~std::uint64_t{0};
  struct MoveSeen {  // the journal's move under way, if any (fold_bracket.hpp)
    std::uint64_t target = 0, source = 0, value = 0;  // the journal: byte offsets in the segment
    std::uint64_t target_word = kNoWord, source_word = kNoWord;  // where they landed in `words`
  };
  void copy(const Segment& segment, const CatalogView& catalog);
  void note_in_flight(std::uint64_t payload_offset, std::uint32_t count);
  void repair_move();
  void copy_cells(const Segment& segment, const CatalogView& catalog, std::span<std::byte> arena,
                  std::uint64_t used, std::int32_t writer, const std::string& where);
  std::optional<MoveSeen> in_flight_;
};

}  // namespace wsm::shm

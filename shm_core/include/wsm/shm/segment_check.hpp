// Whole-segment validation (`wsm check`, and the fuzzer's target): the header (magic, version,
// layout hash, limits, every region offset and the size), the usage counters, the reap lock and
// fold journal, every family and series entry (state, strings inside the used string arena, names,
// types, hashes that lookups can reach, duplicate keys, BUSY entries of dead registrants), every
// connection record's state,
// writer slot (state, dead unreaped writers, cells_bytes) and every arena cell (overruns, unknown
// series, a shape the catalog disagrees with), and the retired arena's index.
//
// It reads bytes, never the live mapping, and never writes them: check a private copy (a live
// segment changes under a reader, see `wsm check`). Whatever the bytes hold, it reads nothing outside
// them, does not crash and ends in time linear in their size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace wsm::shm {

enum class Severity : std::uint8_t {
  warning,  // recoverable by the tools (`wsm reap`) or harmless, but not how a healthy segment looks
  error,    // corrupt: readers skip or refuse the part it names
};

// What is wrong; the names (finding_name) are stable: scripts and tests match on them.
enum class FindingKind : std::uint8_t {
  truncated,            // fewer bytes than a header, or than the header says
  bad_magic,            // not a wsmetrics segment
  bad_version,          // another layout version
  layout_mismatch,      // another layout hash or header size: another build's struct layout
  bad_limits,           // limits in the header out of range
  bad_offsets,          // region offsets that disagree with the limits
  usage_out_of_range,   // a usage counter past its capacity or misaligned
  reap_stuck,           // reap sequence odd (or lock held) while no live reaper holds it
  journal_not_idle,     // a fold move was recorded and no live reaper is finishing it
  journal_bad,          // the fold journal's state or word offsets cannot be right
  entry_bad_state,      // a family or series state word that is none of EMPTY/BUSY/READY
  entry_stuck_busy,     // a family or series entry left BUSY by a registrant that died
  string_out_of_range,  // a name, help or label set outside the used string arena
  family_malformed,     // bad name, type, unit, mode, histogram shape or series cap
  family_duplicate,     // two READY families with one name
  family_unreachable,   // a READY family whose lookup (by name hash) can never find it
  family_overflow_bad,  // the cached overflow series is not this family's overflow series
  family_count_mismatch,  // more READY series than the family's series_count says
  series_bad_family,    // a READY series of a family that is not a valid READY family
  series_bad_labels,    // a label set that is not canonical `k="v",...`
  series_duplicate,     // two READY series with one family and label set
  series_unreachable,   // a READY series whose lookup can never find it
  slot_bad_state,       // a writer slot state word that is no known state (or ACTIVE with no owner)
  slot_dead_writer,     // an ACTIVE slot whose process is gone: not reaped yet
  slot_abandoned,       // a slot left CLAIMING or RETIRING by a process that is gone
  slot_cells_overrun,   // a slot's cells_bytes past its arena or misaligned
  cell_overrun,         // a cell of zero words or running past the published end of its arena
  cell_unknown_series,  // a cell for a series id that is not a valid READY series
  cell_shape_mismatch,  // a cell whose kind or size differs from its family's
  retired_index_bad,    // a retired index entry that does not point at that series' cell
  retired_cell_unindexed,  // a retired cell that its series' index entry does not point at
};

[[nodiscard]] std::string_view finding_name(FindingKind kind) noexcept;
[[nodiscard]] std::string_view severity_name(Severity severity) noexcept;

struct Finding {
  Severity severity = Severity::error;
  FindingKind kind = FindingKind::truncated;
  std::string message;  // names the place (entry, slot, byte offset) and, where there is one, the fix
};

class Segment;

struct CheckOptions {
  // The live segment the bytes were copied from: whether the owners named in them (registrants,
  // writers) and the reap lock's holder run is asked of it (liveness.hpp). Null: every owner counts
  // as alive, so the verdict depends on the bytes alone (fuzzing, `wsm check --no-probe`).
  const Segment* live = nullptr;
  // Findings kept per kind; the rest are summed up in one more finding of that kind.
  std::size_t max_per_kind = 10;
  // Named in the fixes the messages suggest (`wsm reap <name>`).
  std::string segment_name = "NAME";
};

// Checks a copy of a segment's bytes (any alignment, any content). Empty: no findings.
[[nodiscard]] std::vector<Finding> check_segment(std::span<const std::byte> bytes,
                                                 const CheckOptions& options = {});

}  // namespace wsm::shm

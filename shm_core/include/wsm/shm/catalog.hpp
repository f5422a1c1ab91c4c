// The family table and the series catalog: lock-free registration shared by every process.
//
// Both tables are open-addressed arrays of entries whose state word goes EMPTY -> BUSY(owner) ->
// READY. A registrant claims an EMPTY entry by CAS in the name of its process record (Owner),
// writes the fields and the strings, then publishes READY with a release store; a reader that
// acquire-loads READY sees every field. Entries never go back to EMPTY once READY.
//
// Nobody waits for anybody: a registrant that meets another's BUSY entry steps over it, so a
// registrant stopped half-way (SIGSTOP, a debugger) costs the others nothing. If that entry was
// for the same key, the key ends up registered twice; both entries are valid series ids, and every
// reader merges entries of one family name and label set into one series (aggregation.hpp). A BUSY
// entry whose owner is dead (liveness.hpp) is re-claimed by the next registrant that meets it, or
// reset to EMPTY by recover_abandoned(); no id was ever handed out for it, so nothing refers to it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include "wsm/shm/error.hpp"
#include "wsm/shm/layout.hpp"
#include "wsm/shm/segment.hpp"

namespace wsm::shm {

struct FamilySpec {
  std::string_view name{};
  MetricType type = MetricType::counter;
  std::string_view help{};
  GaugeMode gauge_mode = GaugeMode::sum;
  std::uint32_t series_cap = 0;  // 0: the segment's default
};

inline constexpr std::string_view kOverflowLabels = "wsm_overflow=\"true\"";

class Catalog {
 public:
  // Registering claims entries in the name of this process's record (Segment::owner()).
  explicit Catalog(const Segment& segment) noexcept : segment_(segment) {}

  // Id of the family, creating it if absent. Fails on a bad name, on a name registered with
  // another type, or when the family table or string arena is full.
  [[nodiscard]] Result<std::uint32_t> family(const FamilySpec& spec) const;
  // Id of the series (family + canonical labels). Past the family's cap, or when the catalog or
  // string arena is full, returns the family's overflow series and counts the drop.
  [[nodiscard]] Result<std::uint32_t> series(std::uint32_t family_id,
                                             std::string_view canonical_labels) const;
  // The same, with the label set's hash already computed (label_set_hash of the caller's labels,
  // equal to canonical_label_set_hash(canonical_labels)), so it is not computed twice.
  [[nodiscard]] Result<std::uint32_t> series(std::uint32_t family_id, std::string_view canonical_labels,
                                             std::uint64_t labels_hash) const;
  // Id of an existing series, without creating one.
  [[nodiscard]] Result<std::uint32_t> find_series(std::uint32_t family_id,
                                                  std::string_view canonical_labels) const;
  [[nodiscard]] Result<std::uint32_t> find_family(std::string_view name) const;
  // Starts loading the entry where series() first probes for (family_id, labels_hash): in a big
  // catalog that entry is a cache and TLB miss, which a registrant overlaps with other work.
  void prefetch_series(std::uint32_t family_id, std::uint64_t labels_hash) const noexcept;
  // The catalog's key test: entry `e` is of family `family_id` with exactly these canonical labels
  // (its stored bytes, bounds-checked). Also what tells a registrant whether the id series() gave
  // holds its key or is the family's overflow series.
  [[nodiscard]] bool holds(const SeriesEntry& e, std::uint32_t family_id, std::string_view canonical_labels) const;

  // Resets BUSY entries whose registrant died; returns how many it recovered.
  std::uint32_t recover_abandoned() const;

 private:
  [[nodiscard]] Result<std::uint32_t> overflow_series(std::uint32_t family_id) const;
  [[nodiscard]] Result<std::uint32_t> store_string(std::string_view s) const;
  // The family table's key test: entry `e` has this name (bounds-checked).
  [[nodiscard]] bool named(const FamilyEntry& e, std::string_view name) const;

  const Segment& segment_;
};

// The key hash of a series entry, from its family and its label set's hash (label_hash.hpp); its
// probe sequence starts at series_hash % max_series. (A family entry's is stable_hash(name).)
[[nodiscard]] std::uint64_t series_hash(std::uint32_t family_id, std::uint64_t labels_hash) noexcept;
[[nodiscard]] std::uint64_t series_hash(std::uint32_t family_id,
                                        std::string_view canonical_labels) noexcept;

}  // namespace wsm::shm

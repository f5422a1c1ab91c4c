// The family table and the series catalog: lock-free registration shared by every process.
//
// Both tables are open-addressed arrays of entries whose state word goes EMPTY -> BUSY(pid) ->
// READY. A registrant claims an EMPTY entry by CAS, writes the fields and the strings, then
// publishes READY with a release store; a reader that acquire-loads READY sees every field. Entries
// never go back to EMPTY once READY, so the same name + label set registered concurrently from many
// processes yields exactly one entry: racing registrants wait on a BUSY entry until it is READY and
// compare. A BUSY entry whose pid died (killed mid-registration) is re-claimed by the next
// registrant that meets it, or reset to EMPTY by recover_abandoned(); no id was ever handed out for
// it, so nothing refers to it.
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
  // busy_wait: how long to wait for a live registrant's BUSY entry before giving up.
  explicit Catalog(const Segment& segment,
                   std::chrono::milliseconds busy_wait = std::chrono::seconds(2)) noexcept
      : segment_(segment), busy_wait_(busy_wait) {}

  // Id of the family, creating it if absent. Fails on a bad name, on a name registered with
  // another type, or when the family table or string arena is full.
  [[nodiscard]] Result<std::uint32_t> family(const FamilySpec& spec) const;
  // Id of the series (family + canonical labels). Past the family's cap, or when the catalog or
  // string arena is full, returns the family's overflow series and counts the drop.
  [[nodiscard]] Result<std::uint32_t> series(std::uint32_t family_id,
                                             std::string_view canonical_labels) const;
  // Id of an existing series, without creating one.
  [[nodiscard]] Result<std::uint32_t> find_series(std::uint32_t family_id,
                                                  std::string_view canonical_labels) const;
  [[nodiscard]] Result<std::uint32_t> find_family(std::string_view name) const;

  // Resets BUSY entries whose registrant died; returns how many it recovered.
  std::uint32_t recover_abandoned() const;

  // Test hook: hold every claimed series entry BUSY this long before filling and publishing it,
  // so that a SIGKILL at a random moment lands in the claim (the chaos test). 0: off.
  static void pause_after_claim_for_testing(std::chrono::microseconds pause) noexcept;

 private:
  [[nodiscard]] Result<std::uint32_t> overflow_series(std::uint32_t family_id) const;
  [[nodiscard]] Result<std::uint32_t> store_string(std::string_view s) const;

  const Segment& segment_;
  std::chrono::milliseconds busy_wait_;
};

// The key hash of a series entry; its probe sequence starts at series_hash % max_series. (A family
// entry's is stable_hash(name).)
[[nodiscard]] std::uint64_t series_hash(std::uint32_t family_id,
                                        std::string_view canonical_labels) noexcept;

// True when the registrant that left this state word BUSY is gone.
[[nodiscard]] bool busy_owner_dead(std::uint64_t state_word);

}  // namespace wsm::shm

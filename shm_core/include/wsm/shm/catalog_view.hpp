// A reader's validated copy of the family table and series catalog.
//
// READY entries never change, so the copy is kept between snapshots and refresh() reads only the
// entries it has not seen READY yet: a scrape costs a scan of state words plus the new entries,
// not a copy of every name. With CatalogScan::when_counted it skips even that scan while the
// header's series_used says no series was published since (see refresh()), so a reader that
// releases the series table's pages after a scan (Monitor) does not fault them back every read. Every entry is validated before it is believed (string offsets inside
// the string arena, names well-formed, type and bucket count consistent); bad ones are reported
// in problems() and left out.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wsm/shm/error.hpp"
#include "wsm/shm/layout.hpp"
#include "wsm/shm/segment.hpp"

namespace wsm::shm {

struct FamilyInfo {
  std::uint32_t id = 0;
  std::string name;
  std::string help;
  MetricType type = MetricType::counter;
  GaugeMode gauge_mode = GaugeMode::sum;
  Unit unit = Unit::none;
  std::uint8_t max_octave = 0;
  std::uint16_t bucket_count = 0;
  std::uint32_t series_cap = 0;
  [[nodiscard]] std::uint32_t cell_words() const noexcept;
};

// A reader keeps one per catalog entry (~126k at 100k series): 24 bytes, the overflow mark in the
// family id's top bit (family ids are far below 2^31).
struct SeriesInfo {
  std::uint32_t id = 0;
  std::uint32_t family_id : 31 = 0;
  std::uint32_t overflow : 1 = 0;  // the family's overflow series (wsm_overflow="true")
  // Canonical: k="v",... (escaped, sorted). Held by the CatalogView (end to end in blocks it never
  // moves), valid as long as the view is and not cleared by a refresh of another generation.
  std::string_view labels;
};
static_assert(sizeof(SeriesInfo) == 24, "kept per catalog entry: keep it small");

enum class CatalogScan { every_entry, when_counted };

class CatalogView {
 public:
  CatalogView() = default;
  // Moves keep every SeriesInfo::labels valid (the blocks they view move along); a copy would view
  // the original's blocks, so there is none.
  CatalogView(CatalogView&&) noexcept = default;
  CatalogView& operator=(CatalogView&&) noexcept = default;
  CatalogView(const CatalogView&) = delete;
  CatalogView& operator=(const CatalogView&) = delete;

  // Reads new READY entries. A view of another generation is cleared first. With
  // CatalogScan::when_counted the series table is scanned only when the header's series_used
  // differs from the entries this view has met (known or malformed). A registrant counts an entry
  // after publishing it (catalog.cpp), so the count can lag: one that died between the two never
  // counts its entry, and one between them hides the next entry for a refresh. So the skip can
  // miss a series for a while, never misread one: a cell of a series the view does not know is a
  // problem to the reader (snapshot.cpp, tally.cpp), which then refreshes with every_entry.
  // Families are always scanned (their table is small). True when the series table was scanned.
  bool refresh(const Segment& segment, CatalogScan scan = CatalogScan::every_entry);

  [[nodiscard]] const FamilyInfo* family(std::uint32_t id) const noexcept {
    return id < families_.size() && families_[id] ? &*families_[id] : nullptr;
  }
  [[nodiscard]] const SeriesInfo* series(std::uint32_t id) const noexcept {
    return cell_shape(id) != 0 ? &series_[id] : nullptr;
  }
  // series(id) for an id known to be known (one of ordered_series()): the address only, so a
  // caller that visits series at random waits for no miss until it reads the entry.
  [[nodiscard]] const SeriesInfo& known_series(std::uint32_t id) const noexcept { return series_[id]; }
  // (kind << 16) | payload words of the cells of series `id`, 0 when the series is unknown. A
  // compact array (4 bytes per series, cache-resident) that the snapshot checks every cell
  // against and the aggregation dispatches on, instead of touching each SeriesInfo.
  [[nodiscard]] std::uint32_t cell_shape(std::uint32_t id) const noexcept {
    return id < shapes_.size() ? shapes_[id] : 0;
  }
  // Where cell_shape(id) looks, for a prefetch (an unknown id gives the first entry).
  [[nodiscard]] const void* cell_shape_address(std::uint32_t id) const noexcept {
    return shapes_.data() + (id < shapes_.size() ? id : 0);
  }
  // Family id of a known series; only meaningful when cell_shape(id) != 0. From its entry: a
  // compact array of its own cost 4 bytes per catalog slot (0.5 MB of a 100k-series exporter's
  // resident memory) to spare readers that are not the scrape's a line per cell.
  [[nodiscard]] std::uint32_t family_of(std::uint32_t id) const noexcept {
    return id < series_.size() ? series_[id].family_id : 0;
  }
  // Known series ids ordered by family name, then labels: the exposition order.
  [[nodiscard]] const std::vector<std::uint32_t>& ordered_series() const;
  [[nodiscard]] const std::vector<std::uint32_t>& family_ids() const noexcept { return family_ids_; }
  [[nodiscard]] std::size_t series_count() const noexcept { return known_series_; }
  // Entries of the family table (the segment's max_families once refreshed).
  [[nodiscard]] std::uint32_t family_capacity() const noexcept {
    return static_cast<std::uint32_t>(families_.size());
  }
  [[nodiscard]] std::uint64_t generation() const noexcept { return generation_; }
  [[nodiscard]] const std::vector<std::string>& problems() const noexcept { return problems_; }

 private:
  void read_family(const Segment& segment, std::uint32_t id);
  void read_series(const Segment& segment, std::uint32_t id);

  std::uint64_t generation_ = 0;
  std::vector<std::optional<FamilyInfo>> families_;
  // The labels text of known series, end to end in blocks (SeriesInfo::labels views them): one
  // std::string per series cost a heap block and 32 bytes of string object each, ~3 MB at 100k
  // series.
  [[nodiscard]] std::string_view keep_labels(std::string_view labels);

  std::vector<SeriesInfo> series_;  // by id; known where shapes_[id] != 0
  std::vector<std::unique_ptr<char[]>> label_blocks_;
  char* block_next_ = nullptr;   // where the next labels go in label_blocks_.back()
  std::size_t block_left_ = 0;   // room left there
  std::vector<std::uint32_t> shapes_;
  std::vector<std::uint32_t> family_ids_;
  std::size_t known_series_ = 0;
  std::size_t malformed_series_ = 0;  // READY entries reported as malformed (reported_ set)
  mutable std::vector<std::uint32_t> ordered_;
  mutable bool ordered_stale_ = true;
  std::vector<std::string> problems_;
  std::vector<bool> reported_;  // entries already reported as problems (by series id)
};

}  // namespace wsm::shm

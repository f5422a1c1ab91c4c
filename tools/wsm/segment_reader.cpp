#include "segment_reader.hpp"

#include <algorithm>
#include <cstring>

#include "wsm/shm/labels.hpp"
#include "wsm/shm/process_table.hpp"

namespace wsm::cli {

Result<shm::Segment> open_read_only(std::string_view name) {
  // Short wait: a segment still being created is rare, and a CLI should answer promptly.
  return shm::Segment::open(name, {shm::Access::read_only, std::chrono::milliseconds(300)});
}

Result<shm::Snapshot> SegmentReader::snapshot() {
  auto opened = open_read_only(name_);
  if (!opened) return std::unexpected(opened.error());
  segment_.reset();  // unmap the old one first: never two mappings of a large segment at once
  segment_.emplace(std::move(*opened));
  damage_ = std::make_unique<shm::MappingDamage>();
  return shm::guarded_snapshot(*segment_, catalog_, *damage_);
}

std::optional<Error> SegmentReader::damaged() const {
  if (!damage_ || !damage_->damaged()) return std::nullopt;
  return shm::damaged_segment_error(*segment_);
}

std::vector<AttachedWriter> attached_writers(const shm::Segment& segment) {
  std::vector<AttachedWriter> out;
  for (const shm::ProcessInfo& p : shm::list_processes(segment)) {
    AttachedWriter a{p.pid, p.role, 0, p.liveness};
    for (std::uint32_t i = 0; i < segment.max_writers(); ++i) {
      // Acquire: pairs with the claimant's release of its state word.
      const std::uint64_t w = segment.slot(i).state_word.load(std::memory_order_acquire);
      if (shm::slot_state(w) != shm::SlotState::free && shm::word_owner(w) == p.owner) ++a.slots;
    }
    out.push_back(std::move(a));
  }
  return out;
}

const char* gauge_mode_name(shm::GaugeMode mode) noexcept {
  switch (mode) {
    case shm::GaugeMode::sum: return "sum";
    case shm::GaugeMode::max: return "max";
    case shm::GaugeMode::min: return "min";
    case shm::GaugeMode::last: return "last";
    case shm::GaugeMode::per_writer: return "per_writer";
  }
  return "invalid";
}

}  // namespace wsm::cli

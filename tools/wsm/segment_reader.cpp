#include "segment_reader.hpp"

#include <algorithm>
#include <cstring>

#include "wsm/shm/labels.hpp"

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
  for (std::uint32_t i = 0; i < segment.max_writers(); ++i) {
    const shm::WriterSlot& slot = segment.slot(i);
    // Acquire: pairs with the claimant's release of ACTIVE, so pid_start_ticks is its own.
    const std::uint64_t w = slot.state_word.load(std::memory_order_acquire);
    const auto pid = static_cast<pid_t>(shm::slot_pid(w));
    bool alive = false;
    switch (shm::slot_state(w)) {
      case shm::SlotState::active:
      case shm::SlotState::detached: alive = shm::process_alive(pid, shm::load_identity(slot).start_ticks); break;
      case shm::SlotState::claiming: alive = shm::process_start_ticks(pid) != 0; break;
      default: break;
    }
    if (!alive) continue;
    auto it = std::find_if(out.begin(), out.end(), [&](const AttachedWriter& a) { return a.pid == pid; });
    if (it == out.end()) {
      out.push_back({pid, std::string(slot.role, ::strnlen(slot.role, sizeof slot.role)), 0});
      it = out.end() - 1;
    }
    ++it->slots;
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
